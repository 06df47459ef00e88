"""Diagnosis: each misconception is made for real, by a student step written here, and must be found.

`Student` below works one training step the way a student does by hand: loops over samples, neurons
and weights with plain Python floats, each layer from the output down (its δ, its gradients, its
updates, then ∂E/∂out for the layer below). It is written from the textbook rules and shares no code
with bptrace's engine or with diagnose.py's variant engine. Each `mistake` makes one misconception the
way a student makes it. The test writes the sheet of every value the student gets, marks it with
`bptrace check`'s code, and requires every wrong answer to carry the mistake's code (and every value
the mistake does not touch to be marked right). A mistaken student that bptrace failed to recognise,
or a correct one it marked wrong, fails the test.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import bptrace
from bptrace.engine import step as engine
from bptrace.grading import answers, diagnose
from bptrace.grading.marking import Options, mark, read_number, reproduces
from bptrace.model import names
from bptrace.model.scenario import Scenario, bundled_names

# ---------------------------------------------------------------------------------------------------
# A student working the step by hand


def _f(name: str, z: float, slope: float) -> float:
    if name == "sigmoid":
        return 1.0 / (1.0 + math.exp(-z))
    if name == "tanh":
        return math.tanh(z)
    if name == "relu":
        return z if z > 0 else 0.0
    if name == "leaky_relu":
        return z if z > 0 else slope * z
    if name == "linear":
        return z
    raise ValueError(name)


def _f_prime(name: str, z: float, out: float, slope: float) -> float:
    if name in ("sigmoid", "softmax"):
        return out * (1.0 - out)
    if name == "tanh":
        return 1.0 - out * out
    if name == "relu":
        return 1.0 if z > 0 else 0.0
    if name == "leaky_relu":
        return 1.0 if z > 0 else slope
    return 1.0


class Student:
    """One training step by hand. mistake: a diagnosis code made for real; digits: round every intermediate."""

    def __init__(
        self,
        s: Scenario,
        mistake: str | None = None,
        digits: int | None = None,
        transposed_layer: int = 0,
        dropped: int = -1,
    ) -> None:
        self.s = s
        self.mistake = mistake
        self.R = (lambda x: float(f"{x:.{digits - 1}e}")) if digits else (lambda x: x)
        self.L = len(s.layers)
        self.m = s.samples
        self.acts = [layer.activation for layer in s.layers]
        self.slopes = [layer.slope for layer in s.layers]
        # W[l][k][j]: into neuron k of layer l from neuron j below; wname[l][k][j]: what the student calls it
        self.W = [[[float(v) for v in row] for row in layer.weights] for layer in s.layers]
        self.wname = [
            [[layer.weight_name(k, j) for j in range(layer.weights.shape[1])] for k in range(layer.size)]
            for layer in s.layers
        ]
        if mistake == "transposed-weights":
            # the student reads layer T the other way round: the weight he puts on j -> k is the one named
            # for k -> j (Mazur's text: net_h1 = w1·i1 + w3·i2 + b1)
            t = transposed_layer
            self.W[t] = [list(col) for col in zip(*self.W[t])]
            self.wname[t] = [list(col) for col in zip(*self.wname[t])]
        # biases per neuron; a shared bias is one value (and one name) for the whole layer
        self.B = []
        self.bname: list[list[str | None]] = []
        for layer in s.layers:
            if layer.bias_mode == "shared":
                self.B.append([float(layer.biases[0])] * layer.size)
                self.bname.append([layer.bias_names[0]] * layer.size)
            elif layer.bias_mode == "neuron":
                self.B.append([float(b) for b in layer.biases])
                self.bname.append(list(layer.bias_names))
            else:
                self.B.append([0.0] * layer.size)
                self.bname.append([None] * layer.size)
        self.eta = 1.0 if mistake == "missing-learning-rate" else s.learning_rate
        self.update_biases = (not s.update_biases) if mistake == "bias-update" else s.update_biases
        # with reduction mean a batch value is (1/m)·Σ; the batch-averaging student forgets the 1/m
        self.mean = s.reduction == "mean" and mistake != "batch-averaging"
        self.dropped = dropped

    # -- pieces --
    def reduce(self, values: list[float]) -> float:
        return self.R(sum(values) / self.m if self.mean else sum(values))

    def forward(self, x: list[float]) -> tuple[list[list[float]], list[list[float]]]:
        R = self.R
        nets, outs, a = [], [], list(x)
        for l in range(self.L):
            z = [R(sum(w * ai for w, ai in zip(self.W[l][k], a)) + self.B[l][k]) for k in range(len(self.W[l]))]
            if self.acts[l] == "softmax":
                e = [math.exp(v) for v in z]
                a = [R(v / sum(e)) for v in e]
            else:
                a = [R(_f(self.acts[l], v, self.slopes[l])) for v in z]
            nets.append(z)
            outs.append(a)
        return nets, outs

    def loss_terms(self, out: list[float], t: list[float]) -> list[float]:
        loss, n = self.s.loss, len(out)
        half = self.mistake == "missing-half"
        terms = []
        for o, y in zip(out, t):
            if loss == "half_sse":
                e = (y - o) ** 2 if half else 0.5 * (y - o) ** 2  # the ½ dropped
            elif loss in ("sse", "mse"):
                e = (y - o) ** 2 * (0.5 if half else 1.0) / (n if loss == "mse" else 1)  # a ½ added
            elif loss == "bce":
                e = -(y * math.log(o) if y > 0 else 0.0) - ((1 - y) * math.log(1 - o) if y < 1 else 0.0)
            else:
                e = -y * math.log(o) if y > 0 else 0.0
            terms.append(self.R(e))
        return terms

    def d_loss(self, o: float, y: float, n: int) -> float:
        loss = self.s.loss
        half = self.mistake == "missing-half"
        if loss == "half_sse":
            return -2 * (y - o) if half else -(y - o)
        if loss == "sse":
            return -(y - o) if half else -2 * (y - o)
        if loss == "mse":
            return (-(y - o) if half else -2 * (y - o)) / n
        if loss == "bce":
            return -y / o + (1 - y) / (1 - o)
        return -y / o

    def total(self, samples: list[list[float]]) -> float:
        """E over the batch with the current parameters."""
        losses = []
        for x, t in zip(self.s.inputs.tolist(), self.s.targets.tolist()):
            losses.append(self.R(sum(self.loss_terms(self.forward(x)[1][-1], t))))
        return self.reduce(losses)

    # -- the step --
    def step(self) -> dict[str, float]:
        """Every value of one step, keyed by the names the student answers with; then the update is made."""
        R, m, L, s = self.R, self.m, self.L, self.s
        X, T = s.inputs.tolist(), s.targets.tolist()
        sfx = (lambda k: f":{k + 1}") if m > 1 else (lambda k: "")
        v: dict[str, float] = {}
        fw = [self.forward(x) for x in X]
        for k, (nets, outs) in enumerate(fw):
            for l, layer in enumerate(s.layers):
                for i, name in enumerate(layer.neurons):
                    v[f"net_{name}{sfx(k)}"] = nets[l][i]
                    v[f"out_{name}{sfx(k)}"] = outs[l][i]
        terms = [self.loss_terms(outs[-1], t) for (_, outs), t in zip(fw, T)]
        for i, o in enumerate(s.output_layer.neurons):
            v[f"E_{o}"] = self.reduce([row[i] for row in terms])
        v["E_total"] = self.reduce([R(sum(row)) for row in terms])
        n_out = s.output_layer.size
        last = self.acts[-1]
        cancels = (last, s.loss) in (("sigmoid", "bce"), ("softmax", "cross_entropy"))
        # ∂E_s/∂out of the output layer, per sample
        dout = [[R(self.d_loss(o, y, n_out)) for o, y in zip(outs[-1], t)] for (_, outs), t in zip(fw, T)]
        new_W: list[Any] = [None] * L
        new_B: list[Any] = [None] * L
        for l in reversed(range(L)):
            layer = s.layers[l]
            n = layer.size
            fp = [[R(self._f_prime(l, nets[l][i], outs[l][i])) for i in range(n)] for nets, outs in fw]
            delta = []
            for k in range(m):
                out = fw[k][1][l]
                if l == L - 1 and cancels:
                    if self.mistake == "extra-activation-derivative":
                        d = [R((out[i] - T[k][i]) * out[i] * (1 - out[i])) for i in range(n)]
                    else:
                        d = [R(out[i] - T[k][i]) for i in range(n)]  # the loss cancels f′
                elif l == L - 1 and self.mistake == "cross-entropy-delta":
                    d = [R(out[i] - T[k][i]) for i in range(n)]
                else:
                    d = [R(dout[k][i] * fp[k][i]) for i in range(n)]
                delta.append(d)
            for i, name in enumerate(layer.neurons):
                v[f"dE/dout_{name}"] = self.reduce([dout[k][i] for k in range(m)])
                sign = -1.0 if self.mistake == "delta-sign-convention" else 1.0  # Mitchell's δ = −∂E/∂net
                v[f"delta_{name}"] = sign * self.reduce([delta[k][i] for k in range(m)])
                for k in range(m):
                    v[f"dout_{name}/dnet_{name}{sfx(k)}"] = fp[k][i]
            below = X if l == 0 else [fw[k][1][l - 1] for k in range(m)]
            # gradients and updates of this layer (Mazur's order: the output layer's updates come first)
            W, B = self.W[l], self.B[l]
            new_W[l] = [row[:] for row in W]
            for i in range(n):
                for j in range(len(W[i])):
                    g = self.reduce([delta[k][i] * below[k][j] for k in range(m)])
                    name = self.wname[l][i][j]
                    v[f"dE/d{name}"] = g
                    new_W[l][i][j] = self._update(W[i][j], g)
                    v[f"{name}+"] = new_W[l][i][j]
            new_B[l] = B[:]
            mode = layer.bias_mode
            if mode == "shared":
                g = self.reduce([R(sum(delta[k])) for k in range(m)])  # a shared bias feeds every neuron
                v[f"dE/d{layer.bias_names[0]}"] = g
                b = self._update(B[0], g) if self.update_biases else B[0]
                new_B[l] = [b] * n
                v[f"{layer.bias_names[0]}+"] = b
            elif mode == "neuron":
                for i in range(n):
                    g = self.reduce([delta[k][i] for k in range(m)])
                    v[f"dE/d{layer.bias_names[i]}"] = g
                    new_B[l][i] = self._update(B[i], g) if self.update_biases else B[i]
                    v[f"{layer.bias_names[i]}+"] = new_B[l][i]
            if l > 0:
                # ∂E_s/∂out_j = Σ_k δ_k·w_kj, each path through the layer above
                Wb = new_W[l] if self.mistake == "updated-weights" else W
                below_names = s.layers[l - 1].neurons
                kept = [i for i in range(n) if not (self.mistake == "missing-path" and i == self.dropped % n)]
                new_dout = []
                for k in range(m):
                    row = []
                    for j in range(len(below_names)):
                        paths = [R(delta[k][i] * Wb[i][j]) for i in range(n)]
                        row.append(R(sum(paths[i] for i in kept)))
                    new_dout.append(row)
                for j, jname in enumerate(below_names):
                    for i, iname in enumerate(layer.neurons):
                        v[f"dE_{iname}/dout_{jname}"] = self.reduce([R(delta[k][i] * Wb[i][j]) for k in range(m)])
                dout = new_dout
        self.W, self.B = new_W, new_B
        v["E_total@1"] = self.total(X)
        return v

    def _f_prime(self, l: int, z: float, out: float) -> float:
        if self.mistake == "sigmoid-prime-of-output" and self.acts[l] == "sigmoid":
            so = 1.0 / (1.0 + math.exp(-out))  # σ applied to out once more
            return so * (1.0 - so)
        return _f_prime(self.acts[l], z, out, self.slopes[l])

    def _update(self, theta: float, g: float) -> float:
        step = self.R(self.eta * g)
        return self.R(theta + step if self.mistake == "sign-error" else theta - step)


def train(s: Scenario, steps: int) -> tuple[float, dict[str, float]]:
    """A correct student after `steps` updates: (the loss then, the parameters by name)."""
    st = Student(s)
    for _ in range(steps):
        st.step()
    params = {}
    for l, layer in enumerate(s.layers):
        for i in range(layer.size):
            for j in range(layer.weights.shape[1]):
                params[st.wname[l][i][j]] = st.W[l][i][j]
            if st.bname[l][i]:
                params[st.bname[l][i]] = st.B[l][i]
    return st.total(s.inputs.tolist()), params


# ---------------------------------------------------------------------------------------------------
# Marking a student's sheet

LABS: dict[str, diagnose.Lab] = {}


def scenario(name: str) -> Scenario:
    return lab_for(name).scenario


def lab_for(name: str) -> diagnose.Lab:
    if name not in LABS:
        if name.startswith("new:"):  # new:SEED or new:SEED:SHAPE, as `bptrace new` makes them
            _, seed, *shape = name.split(":")
            sizes = [int(n) for n in (shape[0] if shape else "2-3-2").split("-")]
            text = answers.random_exercise(int(seed), sizes)
            LABS[name] = diagnose.Lab(bptrace.loads(text, f"{name}.yaml"))
        else:
            LABS[name] = diagnose.Lab(bptrace.load(name))
    return LABS[name]


def text_of(x: float, digits: int) -> str:
    """x to `digits` significant digits, trailing zeros kept (e-notation: 7.5136507e-01)."""
    return f"{x:.{digits - 1}e}"


def check_values(tmp_path: Path, name: str, values: dict[str, float], digits: int = 9) -> dict[str, Any]:
    """Write the values as a sheet, mark it; {quantity: Result}."""
    lab = lab_for(name)
    sheet_path = tmp_path / "sheet.yaml"
    sheet_path.write_text(
        yaml.safe_dump(
            {"scenario": "unused", "answers": {k: text_of(x, digits) for k, x in values.items()}}, sort_keys=False
        ),
        encoding="utf-8",
    )
    sheet = answers.read(sheet_path)
    marked = mark(sheet, answers.bind(sheet, lab.scenario), lab, Options())
    return {r.answer.key: r for r in marked.results}


MISTAKES = [  # (code, scenario, options for the student); each code on two scenarios, one not Mazur's
    ("updated-weights", "mazur", {}),
    ("updated-weights", "deep_general_delta", {}),
    ("missing-path", "mazur", {"dropped": 1}),
    ("missing-path", "softmax_classifier", {"dropped": 2}),
    ("sigmoid-prime-of-output", "mazur", {}),
    ("sigmoid-prime-of-output", "learner_004", {}),
    ("cross-entropy-delta", "mazur", {}),
    ("cross-entropy-delta", "deep_general_delta", {}),
    ("extra-activation-derivative", "ng_shallow", {}),
    ("extra-activation-derivative", "softmax_classifier", {}),
    ("missing-half", "mazur", {}),
    ("missing-half", "single_neuron_mse", {}),
    ("sign-error", "mazur", {}),
    ("sign-error", "single_neuron_mse", {}),
    ("missing-learning-rate", "mazur", {}),
    ("missing-learning-rate", "learner_004", {}),
    ("batch-averaging", "ng_shallow", {}),
    ("batch-averaging", "single_neuron_mse", {}),
    ("bias-update", "mazur", {}),
    ("bias-update", "ng_shallow", {}),
    ("transposed-weights", "mazur", {"transposed_layer": 0}),
    ("transposed-weights", "softmax_classifier", {"transposed_layer": 1}),
    ("transposed-weights", "new:7:2-2-2", {"transposed_layer": 1}),
    ("delta-sign-convention", "mazur", {}),
    ("delta-sign-convention", "deep_general_delta", {}),
]


@pytest.mark.parametrize(
    "name",
    ["mazur", "deep_general_delta", "learner_004", "ng_shallow", "single_neuron_mse", "softmax_classifier", "new:7"],
)
def test_the_correct_student_is_marked_right(tmp_path: Path, name: str) -> None:
    # the student written here is itself an oracle: done right, bptrace marks every value right
    values = Student(scenario(name)).step()
    results = check_values(tmp_path, name, values)
    wrong = {k: (r.answer.written.text, r.expected) for k, r in results.items() if not r.correct}
    assert not wrong
    assert len(results) == len(values) > 10


@pytest.mark.parametrize(("code", "name", "options"), MISTAKES, ids=[f"{c}-{n}" for c, n, _ in MISTAKES])
def test_a_real_mistake_is_diagnosed(tmp_path: Path, code: str, name: str, options: dict[str, Any]) -> None:
    s = scenario(name)
    right = Student(s).step()
    values = Student(s, mistake=code, **options).step()
    results = check_values(tmp_path, name, values)
    changed = [k for k in values if not results[k].correct]
    assert changed, "the mistake changed nothing: the test would prove nothing"
    for key, r in results.items():
        if key in changed:
            assert code in r.codes, (key, values[key], right[key], r.codes, r.explanation)
        if reproduces(read_number(text_of(values[key], 9)), right[key]):
            assert r.correct, key  # what the mistake does not touch is marked right


@pytest.mark.parametrize(("name", "n"), [("mazur", 3), ("deep_general_delta", 5)])
def test_off_by_one_step_is_diagnosed(tmp_path: Path, name: str, n: int) -> None:
    s = scenario(name)
    loss_before, params_before = train(s, n - 1)  # one update short
    loss_after, params_after = train(s, n + 1)  # one too many
    first = s.parameters()[0].name
    values = {f"E_total@{n}": loss_before, f"{first}@{n}": params_before[first]}
    results = check_values(tmp_path, name, values)
    for r in results.values():
        assert not r.correct and "off-by-one-step" in r.codes, r.explanation
    assert "after " + str(n - 1) + " updates" in results[f"E_total@{n}"].explanation
    results = check_values(tmp_path, name, {f"E_total@{n}": loss_after})
    assert "off-by-one-step" in results[f"E_total@{n}"].codes


@pytest.mark.parametrize("name", ["mazur", "new:7"])
def test_early_rounding_is_accepted_with_a_note(tmp_path: Path, name: str) -> None:
    s = scenario(name)
    exact = Student(s).step()
    for digits in (3, 4, 5):
        values = Student(s, digits=digits).step()
        # the values where early rounding made a difference the digits rule alone would not forgive
        drifted = [k for k in values if not reproduces(read_number(text_of(values[k], digits)), exact[k])]
        if drifted:
            break
    assert drifted, "no rounding drift found: the test would prove nothing"
    results = check_values(tmp_path, name, values, digits)
    assert all(r.correct for r in results.values()), [(k, r.explanation) for k, r in results.items() if not r.correct]
    for key in drifted:
        assert results[key].codes == ["rounding"]


def test_a_slip_no_misconception_explains_gets_no_code(tmp_path: Path) -> None:
    values = Student(scenario("mazur")).step()
    values["w5+"] += 0.0123
    r = check_values(tmp_path, "mazur", {"w5+": values["w5+"]})["w5+"]
    assert not r.correct and r.codes == []
    assert "not a known misconception" in r.explanation


def test_one_value_can_have_two_explanations(tmp_path: Path) -> None:
    # with η = 0.5, w⁺ = w − 2·η·g/2: dropping the ½ of the loss and dropping η give the same number
    s = scenario("mazur")
    assert s.learning_rate == 0.5
    values = Student(s, mistake="missing-learning-rate").step()
    r = check_values(tmp_path, "mazur", {"w5+": values["w5+"]})["w5+"]
    assert {"missing-half", "missing-learning-rate"} <= set(r.codes)


def test_the_sheet_says_where_it_first_goes_wrong(tmp_path: Path) -> None:
    s = scenario("mazur")
    values = Student(s, mistake="cross-entropy-delta").step()
    keep = ["out_o1", "dE/dout_o1", "dout_o1/dnet_o1", "delta_o1", "dE/dw5", "w5+"]
    lab = lab_for("mazur")
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"scenario": "mazur", "answers": {k: text_of(values[k], 9) for k in keep}}))
    sheet = answers.read(path)
    result = mark(sheet, answers.bind(sheet, lab.scenario), lab)
    assert result.summary.first_wrong == "delta_o1"
    narrative = result.summary.narrative
    assert narrative.startswith(
        "Your dout_o1/dnet_o1 is right; your delta_o1 is the first wrong answer: cross-entropy-delta"
    )
    assert "One misconception, cross-entropy-delta" in narrative
    assert result.summary.explanations[0].code == "cross-entropy-delta"
    assert result.summary.explanations[0].explains == ["delta_o1", "dE/dw5", "w5+"]


def test_missing_half_and_missing_eta_are_told_apart_by_the_rest_of_the_sheet(tmp_path: Path) -> None:
    s = scenario("mazur")
    values = Student(s, mistake="missing-learning-rate").step()
    lab = lab_for("mazur")
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump(
            {"scenario": "mazur", "answers": {k: text_of(values[k], 9) for k in ["dE/dw5", "w5+", "w6+", "E_total"]}}
        )
    )
    sheet = answers.read(path)
    result = mark(sheet, answers.bind(sheet, lab.scenario), lab)
    by_code = {e.code: e for e in result.summary.explanations}
    assert by_code["missing-learning-rate"].contradicts == []
    # its best variant (∂E/∂out doubled, E kept) still doubles dE/dw5, which the student has right
    assert by_code["missing-half"].contradicts == ["dE/dw5"]
    assert result.summary.explanations[0].code == "missing-learning-rate"


# ---------------------------------------------------------------------------------------------------
# The variant engine with every knob at rest is the engine


def _every_quantity(s: Scenario) -> list[names.Quantity]:
    out = []
    for name in names.all_names(s):
        q = names.parse_or_none(name, s)
        if q is not None:
            out.append(q)
        if s.samples > 1:
            out += [q for k in range(1, s.samples + 1) if (q := names.parse_or_none(f"{name}:{k}", s))]
    return out


@pytest.mark.parametrize("name", bundled_names())
def test_default_knobs_reproduce_the_engine_exactly(name: str) -> None:
    s = bptrace.load(name)
    lab = diagnose.Lab(s)
    t = engine.trace(s)
    for q in _every_quantity(s):
        assert lab.value(q, diagnose.Knobs()) == names.value(q, t), q.name
    assert (
        lab.value(names.parse("E_total@1", s), diagnose.Knobs(through_updated=True))
        == engine.trace(s, through_updated_weights=True).loss_after
    )


@pytest.mark.parametrize("seed", range(20))
def test_default_knobs_reproduce_the_engine_on_random_networks(seed: int) -> None:
    from strategies import random_scenario_yaml

    s = bptrace.loads(random_scenario_yaml(seed), "<random>")
    lab = diagnose.Lab(s)
    t = engine.trace(s)
    for q in _every_quantity(s):
        assert lab.value(q, diagnose.Knobs()) == names.value(q, t), q.name
    for q in (names.parse("E_total@3", s), names.parse(f"{s.parameters()[-1].name}@3", s)):
        assert lab.value(q, diagnose.Knobs()) == pytest.approx(names.value(q, t), rel=1e-12, abs=1e-15)


def test_the_fast_loop_agrees_with_engine_step_and_mazur_after_10000_rounds() -> None:
    s = bptrace.load("mazur")
    lab = diagnose.Lab(s)
    lab.want_steps({10_000})
    after = lab.value(names.parse("E_total@10000", s), diagnose.Knobs())
    before = lab.value(names.parse("E_total@9999", s), diagnose.Knobs())
    # reference/mazur.md: 3.5101877830e-05 after 10,000 updates, 3.5108548e-05 after 9,999
    assert after == pytest.approx(3.5101877830e-05, rel=1e-10)
    assert before == pytest.approx(3.5108548e-05, rel=1e-7)
    t = engine.trace(s)
    for n in (2, 7, 40):
        for q in (names.parse(f"E_total@{n}", s), names.parse(f"w1@{n}", s), names.parse(f"w8@{n}", s)):
            assert lab.value(q, diagnose.Knobs()) == pytest.approx(names.value(q, t), rel=1e-13)


@pytest.mark.parametrize("name", bundled_names())
def test_batched_trajectories_agree_with_one_variant_at_a_time(name: str) -> None:
    s = bptrace.load(name)
    batched, single = diagnose.Lab(s), diagnose.Lab(s)
    ks = [v.knobs for v in diagnose.variants(s)]
    batched.prefetch(ks, 4)
    for k in ks:
        b, w = batched.state(k, 4), single.state(k, 4)
        for x, y in zip(b[0] + b[1], w[0] + w[1]):
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-15, err_msg=str(k))


def test_updated_weights_reproduces_mazurs_first_round_error() -> None:
    s = bptrace.load("mazur")
    lab = diagnose.Lab(s)
    k = diagnose.Knobs(through_updated=True)
    assert lab.value(names.parse("E_total@1", s), k) == pytest.approx(0.2910279239, abs=1e-10)


@pytest.mark.parametrize("name", bundled_names())
def test_variants_apply_only_where_they_make_sense(name: str) -> None:
    s = bptrace.load(name)
    codes = {v.code for v in diagnose.variants(s)}
    acts = {layer.activation for layer in s.layers}
    assert ("sigmoid-prime-of-output" in codes) == ("sigmoid" in acts)
    assert ("batch-averaging" in codes) == (s.samples > 1)
    assert ("extra-activation-derivative" in codes) == (s.loss in ("bce", "cross_entropy"))
    assert ("cross-entropy-delta" in codes) == (
        s.loss in ("half_sse", "sse", "mse") and s.output_layer.activation != "linear"
    )
    assert ("updated-weights" in codes) == (len(s.layers) > 1)
    assert "rounding" not in codes
    # every variant is a real change somewhere in the step (or, for off-by-one, in a later step)
    lab = diagnose.Lab(s)
    t = engine.trace(s)
    qs = _every_quantity(s) + [names.parse("E_total@2", s)]
    for v in diagnose.variants(s):
        changed = any(
            (x := lab.value(q, v.knobs)) is not None and not np.isclose(x, names.value(q, t), rtol=1e-12, atol=1e-15)
            for q in qs
        )
        assert changed, v


def test_every_code_is_documented_with_its_rule() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "answer-sheets.md").read_text(encoding="utf-8")
    for code, info in diagnose.CODES.items():
        assert f"| `{code}` | {info.rule} |" in doc, code
        assert info.explanation.endswith(".") and info.rule
