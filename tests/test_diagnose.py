"""Diagnosis: each misconception is made for real, by a student step written here, and must be found.

`Student` below works one training step the way a student does by hand: loops over samples, neurons
and weights with plain Python floats, each layer from the output down (its δ, its gradients, its
updates, then ∂E/∂out for the layer below). It is written from the textbook rules and shares no code
with bptrace's step (nor with the hooks of it that diagnose.py sets). Each `mistake` makes one
misconception the way a student makes it. The test writes the sheet of every value the student gets, marks it with
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
from mazur_reference import ERRATA

import bptrace
from bptrace.engine import step as engine
from bptrace.engine.quantities import value as quantity_value
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
        at: int | None = None,
        how: str = "forward",
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
        self.at = at  # the layer (0-based) a mistake happens in; None: every layer it applies to
        self.how = how  # net-for-out: "forward" (the next layer's input) or "gradient" (∂net/∂w only)

    def hit(self, mistake: str, l: int) -> bool:
        """Does this student make `mistake` in layer l?"""
        return self.mistake == mistake and (self.at is None or self.at == l)

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
            if self.hit("net-for-out", l) and self.how == "forward":
                a = list(z)  # the next layer reads net where out belongs
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
                elif self.hit("missing-activation-derivative", l):
                    d = [R(dout[k][i]) for i in range(n)]  # δ = ∂E/∂out, f′ forgotten
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
            if l > 0 and self.hit("net-for-out", l - 1):
                below = [fw[k][0][l - 1] for k in range(m)]  # ∂net/∂w = net of the layer below
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
                        if self.hit("zero-path", l):
                            paths = [0.0] * n  # "the hidden layer has no target, so no error"
                        row.append(R(sum(paths[i] for i in kept)))
                    new_dout.append(row)
                for j, jname in enumerate(below_names):
                    for i, iname in enumerate(layer.neurons):
                        zero = self.hit("zero-path", l)
                        terms = [0.0 if zero else R(delta[k][i] * Wb[i][j]) for k in range(m)]
                        v[f"dE_{iname}/dout_{jname}"] = self.reduce(terms)
                dout = new_dout
        self.W, self.B = new_W, new_B
        v["E_total@1"] = self.total(X)
        return v

    def _f_prime(self, l: int, z: float, out: float) -> float:
        if self.mistake == "sigmoid-prime-of-output" and self.acts[l] == "sigmoid":
            so = 1.0 / (1.0 + math.exp(-out))  # σ applied to out once more
            return so * (1.0 - so)
        if self.hit("wrong-activation-derivative", l):
            # another activation's rule: σ′ as 1 − out², tanh′ as out(1 − out), relu′ as out
            return {"sigmoid": 1.0 - out * out, "tanh": out * (1.0 - out)}.get(self.acts[l], out)
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
NEW_MISTAKES = [  # the codes of the redesign: named (Mazur) and matrix form, one sample and batches
    ("missing-activation-derivative", "mazur", {"at": 1}),  # at the output, under squared error
    ("missing-activation-derivative", "mazur", {"at": 0}),  # at a hidden neuron
    ("missing-activation-derivative", "deep_general_delta", {"at": 0}),
    ("missing-activation-derivative", "ng_shallow", {"at": 0}),
    ("wrong-activation-derivative", "mazur", {}),  # σ′ as 1 − out² in both layers
    ("wrong-activation-derivative", "ng_shallow", {"at": 0}),  # tanh′ as out(1 − out)
    ("wrong-activation-derivative", "deep_general_delta", {"at": 1}),  # relu′ as out
    ("net-for-out", "mazur", {"at": 0, "how": "forward"}),
    ("net-for-out", "mazur", {"at": 0, "how": "gradient"}),
    ("net-for-out", "softmax_classifier", {"at": 0, "how": "forward"}),
    ("net-for-out", "deep_general_delta", {"at": 1, "how": "gradient"}),
    ("zero-path", "mazur", {"at": 1}),
    ("zero-path", "learner_004", {"at": 1}),  # one output neuron: no missing-path to confuse it with
    ("zero-path", "deep_general_delta", {"at": 2}),
]
MISTAKES += NEW_MISTAKES


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
    # under ½(t − out)² the cross-entropy δ out − t is also ∂E/∂out without f′: the likelier reading first
    assert narrative.startswith(
        "Your dout_o1/dnet_o1 is right; your delta_o1 is the first wrong answer: missing-activation-derivative"
    )
    assert "cross-entropy-delta: δ = out − target" in narrative
    assert "One misconception, missing-activation-derivative" in narrative
    codes = [e.code for e in result.summary.explanations]
    assert codes[:2] == ["missing-activation-derivative", "cross-entropy-delta"]
    assert all(e.explains == ["delta_o1", "dE/dw5", "w5+"] for e in result.summary.explanations[:2])


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
# The step with every hook at rest is the step; the fast path agrees with the hooked step repeated


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
        assert lab.value(q, diagnose.Knobs()) == quantity_value(q, t), q.name
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
        assert lab.value(q, diagnose.Knobs()) == quantity_value(q, t), q.name
    for q in (names.parse("E_total@3", s), names.parse(f"{s.parameters()[-1].name}@3", s)):
        assert lab.value(q, diagnose.Knobs()) == pytest.approx(quantity_value(q, t), rel=1e-12, abs=1e-15)


def test_the_fast_loop_agrees_with_engine_step_and_mazur_after_10000_rounds() -> None:
    s = bptrace.load("mazur")
    lab = diagnose.Lab(s)
    lab.want_steps({10_000})
    after = lab.value(names.parse("E_total@10000", s), diagnose.Knobs())
    before = lab.value(names.parse("E_total@9999", s), diagnose.Knobs())
    # tests/data/mazur_reference.yaml: 3.5101877830e-05 after 10,000 updates, 3.5108548e-05 after 9,999
    last = ERRATA["E_total@10000"]
    assert after == pytest.approx(float(last["after_10000"]), rel=1e-10)
    assert before == pytest.approx(float(last["after_9999"]), rel=1e-7)
    t = engine.trace(s)
    for n in (2, 7, 40):
        for q in (names.parse(f"E_total@{n}", s), names.parse(f"w1@{n}", s), names.parse(f"w8@{n}", s)):
            assert lab.value(q, diagnose.Knobs()) == pytest.approx(quantity_value(q, t), rel=1e-13)


@pytest.mark.parametrize("name", bundled_names())
def test_the_fast_path_of_a_variant_is_its_hooked_step_repeated(name: str) -> None:
    # beyond HOOKED_MAX_STEPS a variant's θ@N runs as the correct training of its equivalent exercise on
    # the fast path; here the same N steps are made one by one through the step's hooks
    s = bptrace.load(name)
    n = diagnose.HOOKED_MAX_STEPS + 5
    lab = diagnose.Lab(s)
    tried = 0
    for v in [diagnose.Variant("none", "", diagnose.Knobs())] + diagnose.variants(s):
        if v.knobs.delta_sign or v.knobs.steps_shift:
            continue  # how a value is read, not a different training
        mk = v.knobs.dynamics()
        if mk.equivalent_scenario(s) is None:
            assert lab.state(mk, n) is None  # not tried beyond HOOKED_MAX_STEPS
            continue
        fast = lab.state(mk, n)
        params = mk.initial_params(s)
        try:
            for _ in range(n):
                t = engine.trace(s, mistakes=mk, params=params)
                params = tuple(lt.new_weights for lt in t.layers), tuple(lt.new_biases for lt in t.layers)
        except bptrace.BptraceError:
            assert fast is None, v  # diverges both ways
            continue
        assert fast is not None, v
        tried += 1
        for x, y in zip(fast[0] + fast[1], params[0] + params[1]):
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, err_msg=v.detail)
        q = names.parse(f"E_total@{n}", s)
        assert lab.value(q, v.knobs) == pytest.approx(engine.loss_of(s, params, mk), rel=1e-9, abs=1e-14)
    assert tried >= 3


def test_no_hooks_is_the_step_itself() -> None:
    for name in bundled_names():
        s = bptrace.load(name)
        a, b = engine.trace(s), engine.trace(s, mistakes=engine.Mistakes(), params=engine.NO_MISTAKES.initial_params(s))
        assert (a.loss, a.loss_after) == (b.loss, b.loss_after)
        for x, y in zip(a.layers, b.layers):
            for field in ("net", "out", "dE_dout", "dout_dnet", "delta", "grad_weights", "grad_biases", "new_weights"):
                assert np.array_equal(getattr(x, field), getattr(y, field)), (name, field)


def test_updated_weights_reproduces_mazurs_first_round_error() -> None:
    s = bptrace.load("mazur")
    lab = diagnose.Lab(s)
    k = diagnose.Knobs(through_updated=True)
    assert lab.value(names.parse("E_total@1", s), k) == pytest.approx(
        float(ERRATA["E_total@1"]["updated_weights"]), abs=1e-10
    )


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
            (x := lab.value(q, v.knobs)) is not None and not np.isclose(x, quantity_value(q, t), rtol=1e-12, atol=1e-15)
            for q in qs
        )
        assert changed, v


def test_every_code_is_documented_with_its_rule() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "answer-sheets.md").read_text(encoding="utf-8")
    for code, info in diagnose.CODES.items():
        assert f"| `{code}` | {info.rule} |" in doc, code
        assert info.explanation.endswith(".") and info.rule


# ---------------------------------------------------------------------------------------------------
# The codes of the redesign: where each is found, and where not


@pytest.mark.parametrize(("code", "name", "options"), NEW_MISTAKES, ids=[f"{c}-{n}" for c, n, _ in NEW_MISTAKES])
def test_a_new_mistake_is_the_best_explanation_of_the_sheet(
    tmp_path: Path, code: str, name: str, options: dict[str, Any]
) -> None:
    # the whole sheet of the mistaken student: the code that explains most wrong answers and spoils the
    # fewest right ones is the mistake made (other codes appear only on values they also reproduce)
    lab = lab_for(name)
    values = Student(lab.scenario, mistake=code, **options).step()
    result = _mark_sheet(tmp_path, name, values)
    best = result.summary.explanations[0]
    assert best.code == code, [(e.code, len(e.explains), len(e.contradicts)) for e in result.summary.explanations]
    assert best.contradicts == []


def _mark_sheet(tmp_path: Path, name: str, values: dict[str, float], digits: int = 9, **options: Any) -> Any:
    lab = lab_for(name)
    path = tmp_path / "sheet.yaml"
    path.write_text(
        yaml.safe_dump({"scenario": "unused", "answers": {k: text_of(x, digits) for k, x in values.items()}})
    )
    sheet = answers.read(path)
    return mark(sheet, answers.bind(sheet, lab.scenario), lab, Options(**options))


@pytest.mark.parametrize(("code", "name"), [("missing-activation-derivative", "mazur"), ("zero-path", "mazur")])
def test_codes_that_are_not_the_mistake_stay_away(tmp_path: Path, code: str, name: str) -> None:
    # zero-path and missing-path are told apart; no new code is found on a correct or an unrelated sheet
    s = scenario(name)
    for other, options in [("missing-path", {"dropped": 1}), ("updated-weights", {}), ("sigmoid-prime-of-output", {})]:
        found = {
            c
            for r in check_values(tmp_path, name, Student(s, mistake=other, **options).step()).values()
            for c in r.codes
        }
        assert other in found and code not in found, (other, found)
    values = Student(s, mistake="zero-path", at=1).step()
    found = {c for r in check_values(tmp_path, name, values).values() for c in r.codes}
    assert "zero-path" in found and "missing-path" not in found


def test_mazur_delta_without_f_prime_at_the_output_and_at_a_hidden_neuron(tmp_path: Path) -> None:
    # δ_o1 = ∂E/∂out_o1 = 0.74136507 and δ_h1 = ∂E/∂out_h1 = 0.0363503064 (the values of Mazur's post)
    results = check_values(tmp_path, "mazur", {"delta_o1": 0.74136507, "delta_h1": 0.0363503064})
    o1, h1 = results["delta_o1"], results["delta_h1"]
    assert not o1.correct and o1.codes == ["missing-activation-derivative", "cross-entropy-delta"]
    first, second = o1.explanation.split("; ")
    assert first.startswith("missing-activation-derivative: δ = ∂E/∂out without the factor f′(net) at o1, o2")
    assert "cross-entropy δ" in first and second.startswith("cross-entropy-delta:")
    assert not h1.correct and h1.codes == ["missing-activation-derivative"]
    assert "in layer 1 (h1, h2)" in h1.explanation


def test_each_wrong_derivative_is_named() -> None:
    # tanh′ as out(1 − out), σ′ as 1 − out², relu′ as out: each by re-derivation, in the layer it is made
    cases = {"ng_shallow": "tanh′ taken as out(1 − out)", "mazur": "σ′ taken as 1 − out²"}
    cases["deep_general_delta"] = "relu′ taken as out"
    for name, text in cases.items():
        details = [v.detail for v in diagnose.variants(scenario(name)) if v.code == "wrong-activation-derivative"]
        assert any(d.startswith(text) for d in details), (name, details)
    # a linear or softmax layer has no such slip; relu's where it would change nothing is not offered
    assert not [v for v in diagnose.variants(scenario("single_neuron_mse")) if v.code == "wrong-activation-derivative"]


def test_net_for_out_as_input_in_the_gradient_and_in_f_prime(tmp_path: Path) -> None:
    s = scenario("mazur")
    t = engine.trace(s)
    net_h1 = float(t.layers[0].net[0, 0])
    delta_o1 = float(t.layers[1].delta[0, 0])
    out_o1 = float(t.layers[1].out[0, 0])
    # ∂E/∂w5 = δ_o1·net_h1 instead of δ_o1·out_h1; σ′(net_o1) written as net(1 − net)
    net_o1 = float(t.layers[1].net[0, 0])
    results = check_values(tmp_path, "mazur", {"dE/dw5": delta_o1 * net_h1, "dout_o1/dnet_o1": net_o1 * (1 - net_o1)})
    assert results["dE/dw5"].codes == ["net-for-out"] and "∂net/∂w" in results["dE/dw5"].explanation
    assert results["dout_o1/dnet_o1"].codes == ["net-for-out"]
    assert "net(1 − net)" in results["dout_o1/dnet_o1"].explanation
    assert out_o1 != net_o1


@pytest.mark.parametrize(
    ("name", "digits"), [("mazur", 4), ("mazur", 3), ("ng_shallow", 4), ("learner_004", 5), ("new:7", 4)]
)
def test_early_rounding_to_fewer_digits_than_written_says_how_many(tmp_path: Path, name: str, digits: int) -> None:
    s = scenario(name)
    exact = Student(s).step()
    values = Student(s, digits=digits).step()  # intermediates rounded to `digits`, the answers written to 9
    results = check_values(tmp_path, name, values, 9)
    drifted = [k for k in values if not reproduces(read_number(text_of(values[k], 9)), exact[k])]
    assert len(drifted) > 5
    for key in drifted:
        r = results[key]
        assert not r.correct and "early-rounding" in r.codes, (key, r.codes, r.explanation)
        assert digits in [v.knobs.round_digits for v in r.variants if v.code == "early-rounding"]
        assert "significant digits" in r.explanation
    # one answer may fit several counts of digits (0.1385 is δ_o1 rounded to 4 or to 5); the sheet tells
    summary = _mark_sheet(tmp_path, name, values).summary
    best = summary.explanations[0]
    assert best.code == "early-rounding" and set(best.explains) == set(drifted)
    assert best.detail == f"intermediate results rounded to {digits} significant digits, but the answer shows 9"
    # written to the digits it was rounded to, the same value is only rounding: accepted
    # (a 0 is exact whatever its digits: it stays early rounding)
    again = check_values(tmp_path, name, {k: values[k] for k in drifted if values[k] != 0}, digits)
    assert all(r.correct and r.codes in (["rounding"], []) for r in again.values()), [
        (k, r.codes) for k, r in again.items() if not r.correct
    ]


def test_a_one_digit_guess_is_too_few_digits_to_diagnose(tmp_path: Path) -> None:
    results = check_values(tmp_path, "mazur", {"w5+": 0.1}, digits=1)
    r = results["w5+"]
    assert not r.correct and r.codes == [] and r.status == "few-digits"
    assert r.explanation == "1e-01 has 1 significant digit: too few digits to diagnose (give at least 3)"
    # the minimum is a parameter: find() and the marking options
    lab = lab_for("mazur")
    q = names.parse("w5+", lab.scenario)
    w = read_number("0.1")
    assert w is not None
    agree = lambda x: reproduces(w, x)  # noqa: E731
    assert diagnose.find(q, lab, agree, w.digits) == []
    assert diagnose.find(q, lab, agree, w.digits, min_digits=1) != []  # some mistake lands within 0.1 ± 0.1
    # a written 0 is exact, whatever its digits: it is diagnosed (here: every path term written as 0)
    zero = check_values(tmp_path, "mazur", {"dE_o2/dout_h1": 0.0}, digits=1)["dE_o2/dout_h1"]
    assert zero.codes == ["zero-path"]


def _sheet(tmp_path: Path, name: str, given: dict[str, str], accept: set[str]) -> dict[str, Any]:
    lab = lab_for(name)
    path = tmp_path / "sheet.yaml"
    path.write_text(yaml.safe_dump({"scenario": "unused", "answers": given}))
    sheet = answers.read(path)
    options = Options(accept=frozenset(accept) | {"rounding"})
    return {r.answer.key: r for r in mark(sheet, answers.bind(sheet, lab.scenario), lab, options).results}


@pytest.mark.parametrize("name", ["mazur", "deep_general_delta"])
def test_an_accepted_sign_convention_accepts_only_what_it_alone_explains(tmp_path: Path, name: str) -> None:
    s = scenario(name)
    right = Student(s).step()
    mitchell = Student(s, mistake="delta-sign-convention").step()
    keys = [k for k in right if k.startswith(("delta_", "dE/dout_", "dE/dw", "dE/dW"))][:12]
    given = {k: text_of(mitchell[k], 9) for k in keys}
    # δ with Mitchell's sign, gradients right: a sign error would have spoilt the gradients, so the convention
    results = _sheet(tmp_path, name, given, {"delta-sign-convention"})
    deltas = [k for k in keys if k.startswith("delta_")]
    assert deltas and all(results[k].correct and results[k].codes == ["delta-sign-convention"] for k in deltas)
    # a sheet whose gradients carry the same sign slip: δ is as much a sign error, so it is not accepted
    flipped = {k: text_of(-right[k], 9) for k in keys}
    results = _sheet(tmp_path, name, flipped, {"delta-sign-convention"})
    for k in deltas:
        assert not results[k].correct and {"sign-error", "delta-sign-convention"} <= set(results[k].codes), k
    # without the key's acceptance the Mitchell δ is wrong, with both readings named
    results = _sheet(tmp_path, name, given, set())
    assert all(not results[k].correct and "delta-sign-convention" in results[k].codes for k in deltas)


def test_an_at_10000_answer_is_diagnosed_on_the_fast_path() -> None:
    # the off-by-one of Mazur's published E_total@10000 (3.5108548e-05 is the loss after 9,999 updates), found
    # by running the correct training and each variant that is another exercise's training on the fast path
    import time

    s = bptrace.load("mazur")
    lab = diagnose.Lab(s)
    q = names.parse("E_total@10000", s)
    w = read_number("0.0000351085")
    assert w is not None
    started = time.perf_counter()
    found = diagnose.find(q, lab, lambda x: reproduces(w, x), w.digits)
    assert [v.code for v in found] == ["off-by-one-step"]
    assert lab.value(q, diagnose.Knobs()) == pytest.approx(3.5101877830e-05, rel=1e-10)
    # a variant with no equivalent exercise is not run 10,000 times through the hooked step
    assert lab.value(q, diagnose.Knobs(through_updated=True)) is None
    assert time.perf_counter() - started < 10  # seconds, on a loaded machine; about 0.5 s alone
