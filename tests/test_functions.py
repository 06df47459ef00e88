"""The registry of activations and losses (bptrace/functions.py) against independent oracles.

Every entry's derivative is compared with autograd (of a forward pass written here from the textbook
definitions), with finite differences of the entry's own forward rule, with SymPy's derivative of the
entry's SymPy form, and, at saturated points, with mpmath in 50 digits (to 1e-12 relative). The fast paths'
forms (the in-place numpy routines of the training runner, the scalar source of the generated kernel) must
give the same numbers. Then the engine and `bptrace check` at saturated units, and the fast training paths
for softplus and elu.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import autograd.numpy as anp
import mpmath
import numpy as np
import pytest
import sympy as sp
import yaml
from autograd import elementwise_grad
from click.testing import CliRunner

import bptrace
from bptrace import functions
from bptrace.cli.main import main
from bptrace.engine import step as engine

REL = 1e-12
ELEMENTWISE = [a for a in functions.ACTIVATION_ENTRIES if a.elementwise]
# parameter values tried for each activation (None: its default)
PARAMS: dict[str, list[float | None]] = {"leaky_relu": [None, 0.2, 1.0], "elu": [None, 0.5, 2.0]}
# moderate points away from the kink at 0, both signs
POINTS = np.array([[-7.5, -3.2, -1.1, -0.4, -1e-3, 2e-3, 0.3, 0.9, 2.5, 3.1, 5.9, 6.1, 8.0]])


def _cases() -> list[tuple[functions.Activation, float | None]]:
    return [(a, p) for a in ELEMENTWISE for p in PARAMS.get(a.name, [None])]


CASES = _cases()
IDS = [f"{a.name}-{p}" for a, p in CASES]


def _textbook(name: str, z: Any, alpha: float) -> Any:
    """f(net) from the textbook definitions (autograd numpy; no bptrace code)."""
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-z))
    if name == "tanh":
        return anp.tanh(z)
    if name == "relu":
        return anp.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return anp.where(z > 0, z, alpha * z)
    if name == "linear":
        return z * 1.0
    if name == "softplus":
        return anp.log(1.0 + anp.exp(z))
    if name == "elu":
        return anp.where(z > 0, z, alpha * (anp.exp(anp.minimum(z, 0.0)) - 1.0))
    raise AssertionError(f"no textbook form for {name}: add one here with the new entry")


def _mp(name: str, x: float, alpha: float) -> tuple[Any, Any]:
    """(f(x), f′(x)) in 50-digit mpmath, from the definitions (x > 0 or x < 0)."""
    with mpmath.workdps(50):
        z = mpmath.mpf(x)
        if name == "sigmoid":
            s = 1 / (1 + mpmath.exp(-z))
            return s, s / (1 + mpmath.exp(z))  # σ(z)·(1 − σ(z)), 1 − σ(z) = σ(−z) without cancelling
        if name == "tanh":
            return mpmath.tanh(z), mpmath.sech(z) ** 2
        if name == "softplus":
            return mpmath.log1p(mpmath.exp(z)), 1 / (1 + mpmath.exp(-z))
        if name == "elu":
            return (z, mpmath.mpf(1)) if z > 0 else (alpha * (mpmath.exp(z) - 1), alpha * mpmath.exp(z))
    raise AssertionError(name)


def _close(got: Any, want: Any, rel: float = REL) -> None:
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    bad = np.abs(got - want) > rel * np.abs(want)
    assert not bad.any(), f"{got[bad]} != {want[bad]} (relative tolerance {rel:g})"


# ---------------------------------------------------------------------------------------------------
# Derivatives: autograd, finite differences, SymPy, mpmath


@pytest.mark.parametrize(("f", "p"), CASES, ids=IDS)
def test_forward_and_derivative_match_autograd(f: functions.Activation, p: float | None) -> None:
    alpha = f.value(p)
    want_out = _textbook(f.name, POINTS, alpha)
    want_prime = elementwise_grad(lambda z: _textbook(f.name, z, alpha))(POINTS)
    _close(f.forward(POINTS, p), want_out)  # the naive ln(1 + e^net) itself loses digits for net ≪ 0
    _close(f.prime(POINTS, p), want_prime)


@pytest.mark.parametrize(("f", "p"), CASES, ids=IDS)
def test_derivative_matches_finite_differences_of_the_forward_rule(f: functions.Activation, p: float | None) -> None:
    z, h = POINTS[:, np.abs(POINTS[0]) > 0.01], 1e-4
    fd = (-f.forward(z + 2 * h, p) + 8 * f.forward(z + h, p) - 8 * f.forward(z - h, p) + f.forward(z - 2 * h, p)) / (
        12 * h
    )
    assert np.allclose(f.prime(z, p), fd, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("f", "p"), CASES, ids=IDS)
def test_derivative_matches_sympys_derivative_of_the_sympy_form(f: functions.Activation, p: float | None) -> None:
    net = sp.Symbol("net", real=True)
    d = sp.diff(f.sympy(net, p), net)
    textbook = f.sympy_textbook_prime(sp.Symbol("out"), net, p)
    for x in POINTS[0]:
        at = {net: sp.Float(float(x), 40)}
        out = sp.Float(float(f.forward(np.array([[x]]), p)[0, 0]), 40)
        want = float(d.subs(at).evalf(30))
        _close(f.prime(np.array([[x]]), p)[0, 0], want)
        _close(float(textbook.subs({**at, sp.Symbol("out"): out}).evalf(30)), want, 1e-9)
        _close(f.forward(np.array([[x]]), p)[0, 0], float(f.sympy(net, p).subs(at).evalf(30)), 1e-14)


SATURATED = [
    ("sigmoid", 35.2),  # σ′(35.2) = 5.16219299e-16 (1 − out rounds to 4.4408921e-16)
    ("sigmoid", -35.2),
    ("sigmoid", 700.0),
    ("sigmoid", 6.5),
    ("tanh", 20.0),  # 1 − tanh² rounds to 0; exact 1.70e-17
    ("tanh", -13.0),  # 1 − tanh² is wrong in the 7th digit
    ("tanh", 3.5),
    ("tanh", 300.0),
    ("softplus", 40.0),
    ("softplus", -40.0),
    ("softplus", -700.0),
    ("elu", -30.0),
    ("elu", -1e-9),
]


@pytest.mark.parametrize(("name", "x"), SATURATED)
def test_saturated_derivatives_are_right_to_1e_12_relative(name: str, x: float) -> None:
    f = functions.activation(name)
    out, prime = _mp(name, x, 1.0 if name != "elu" else 0.5)
    p = 0.5 if name == "elu" else None
    z = np.array([[x]])
    _close(f.prime(z, p), float(prime))
    _close(f.forward(z, p), float(out), 1e-14)


def test_the_issues_three_defects_by_value() -> None:
    # the numbers named in the issue: σ′(35.2), tanh′(20), tanh′(−13)
    sig, tanh = functions.activation("sigmoid"), functions.activation("tanh")
    assert f"{sig.prime(np.array([[35.2]]))[0, 0]:.8e}" == "5.16219299e-16"
    assert f"{tanh.prime(np.array([[20.0]]))[0, 0]:.2e}" == "1.70e-17"
    _close(tanh.prime(np.array([[-13.0]])), float(_mp("tanh", -13.0, 1.0)[1]))


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "softplus"])
def test_derivative_on_a_dense_grid_against_mpmath(name: str) -> None:
    # across the switch between the textbook form and the exponential form (6 for σ′, 3 for tanh′)
    f = functions.activation(name)
    xs = np.linspace(-40.0, 40.0, 2001)
    got = f.prime(xs[None, :])[0]
    for x, g in zip(xs, got):
        _close(g, float(_mp(name, float(x), 1.0)[1]))


# ---------------------------------------------------------------------------------------------------
# The fast paths draw the same numbers from the same entry


SAT_GRID = np.array([[-700.0, -40.0, -13.0, -6.5, -3.5, -0.7, 0.0, 0.4, 2.9, 3.5, 6.0, 6.5, 20.0, 35.2, 700.0]])


@pytest.mark.parametrize(("f", "p"), CASES, ids=IDS)
def test_in_place_routines_equal_the_array_rules(f: functions.Activation, p: float | None) -> None:
    z = SAT_GRID.copy()
    a, tmp, f2 = np.empty_like(z), np.empty_like(z), np.empty_like(z)
    mask, col = np.empty(z.shape, dtype=bool), np.empty((1, 1))
    with np.errstate(all="ignore"):
        f.forward_inplace(z, a, tmp, mask, col, p)
        assert np.array_equal(a, f.forward(z, p))
        fp = np.empty_like(z)
        f.prime_inplace(z, a, fp, f2, mask, p)
    assert np.array_equal(fp, f.prime(z, p))


@pytest.mark.parametrize(("f", "p"), CASES, ids=IDS)
def test_kernel_source_equals_the_array_rules(f: functions.Activation, p: float | None) -> None:
    space: dict[str, Any] = dict(functions.KERNEL_MATH)
    for x in SAT_GRID[0]:
        space["n"] = float(x)
        exec("\n".join(f.kernel_forward_lines("n", "a", p)), space)  # noqa: S102 - the registry's templates
        prime = f.kernel_prime_expr("n", "a", p) or "1.0"
        fp = eval(prime, space)  # noqa: S307
        _close(space["a"], f.forward(np.array([[x]]), p)[0, 0], 1e-15)
        _close(fp, f.prime(np.array([[x]]), p)[0, 0])  # math.tanh and np.tanh may differ in the last bit


# ---------------------------------------------------------------------------------------------------
# Kinks and printed formulas


@pytest.mark.parametrize(
    ("name", "p", "note"),
    [
        ("relu", None, "relu′(0) = 0 by convention"),
        ("leaky_relu", None, "leaky_relu′(0) = α = 0.01 by convention"),
        ("leaky_relu", 0.2, "leaky_relu′(0) = α = 0.2 by convention"),
        ("leaky_relu", 1.0, ""),
        ("elu", None, ""),
        ("elu", 0.5, "elu′(0) = α = 0.5 by convention"),
        ("sigmoid", None, ""),
        ("softplus", None, ""),
        ("softmax", None, ""),
    ],
)
def test_kink_notes(name: str, p: float | None, note: str) -> None:
    f = functions.activation(name)
    assert f.kink_note(p) == note
    at_zero = f.at_kink(np.array([[0.0, 1e-300, -1e-300]]), p)[0]
    assert at_zero.tolist() == [bool(note), False, False]
    if note and f.elementwise:  # the value at the kink is the one the note states
        assert f.prime(np.array([[0.0]]), p)[0, 0] == f.kink_value(p)
        left = f.prime(np.array([[-1e-12]]), p)[0, 0]
        assert f.kink_value(p) == pytest.approx(left, rel=1e-9)  # the left-hand piece


FILLED = {"net": "net", "out": "out", "a": "α", "t": "t", "o": "out", "n": "n"}


@pytest.mark.parametrize("f", functions.ACTIVATION_ENTRIES, ids=functions.ACTIVATIONS)
def test_printed_formulas_fill_in_every_script(f: functions.Activation) -> None:
    for formula in (f.symbol, f.definition, f.derivative, *(f.pieces or ())):
        for script in ("unicode", "ascii", "latex"):
            text = formula.fill(script, **FILLED)
            assert "$" not in text and text
        assert formula.fill("ascii", **{**FILLED, "a": "alpha"}).isascii()


@pytest.mark.parametrize("loss", functions.LOSS_ENTRIES, ids=functions.LOSSES)
def test_loss_formulas_fill_in_every_script(loss: functions.Loss) -> None:
    for formula in (loss.term, loss.gradient):
        for script in ("unicode", "ascii", "latex"):
            assert "$" not in formula.fill(script, **FILLED)
        assert formula.fill("ascii", **FILLED).isascii()


def test_formulas_print_the_textbook_forms() -> None:
    assert functions.activation("sigmoid").derivative.fill(out="out") == "out·(1 − out)"
    assert functions.activation("elu").derivative.fill(net="net", a="α") == "1 if net > 0, else α·e^net"
    assert functions.activation("softplus").definition.fill("latex", net="x") == r"\ln\left(1 + e^{x}\right)"
    assert functions.loss("half_sse").term.fill(t="t", o="out") == "½(t − out)²"


# ---------------------------------------------------------------------------------------------------
# Losses


def _loss_textbook(name: str, a: Any, t: Any) -> Any:
    n = a.shape[-1]
    return {
        "half_sse": lambda: 0.5 * (t - a) ** 2,
        "sse": lambda: (t - a) ** 2,
        "mse": lambda: (t - a) ** 2 / n,
        "bce": lambda: -(t * anp.log(a) + (1 - t) * anp.log(1 - a)),
        "cross_entropy": lambda: -t * anp.log(a),
    }[name]()


@pytest.mark.parametrize("loss", functions.LOSS_ENTRIES, ids=functions.LOSSES)
def test_loss_terms_and_gradients_against_autograd_sympy_and_the_fast_paths(loss: functions.Loss) -> None:
    a = np.array([[0.2, 0.7, 0.05], [0.9, 0.3, 0.6]])
    t = np.array([[0.3, 0.6, 0.1], [0.2, 0.5, 0.3]])
    _close(loss.terms(a, t), _loss_textbook(loss.name, a, t), 1e-14)
    _close(loss.grad(a, t), elementwise_grad(lambda x: _loss_textbook(loss.name, x, t))(a))
    o, s = sp.symbols("out t")
    d = sp.diff(loss.sympy(o, s, 3), o)
    for i, j in np.ndindex(a.shape):
        _close(loss.grad(a, t)[i, j], float(d.subs({o: a[i, j], s: t[i, j]})))

    class Scratch:
        R, R2, Q = np.empty_like(a), np.empty_like(a), np.empty_like(a)
        tmask = np.empty(a.shape, dtype=bool)

    _close(loss.total_inplace(a, t, Scratch()), loss.terms(a, t).sum(), 1e-14)
    g = np.empty_like(a)
    loss.grad_inplace(a, t, g, Scratch())
    _close(g, loss.grad(a, t), 1e-15)
    space = dict(functions.KERNEL_MATH)
    for i, j in np.ndindex(a.shape):
        space.update(x=float(a[i, j]), y=float(t[i, j]))
        _close(eval(loss.kernel_term_expr("y", "x", 3), space), loss.terms(a, t)[i, j], 1e-15)  # noqa: S307
        _close(eval(loss.kernel_gradient_expr("y", "x", 3), space), loss.grad(a, t)[i, j], 1e-15)  # noqa: S307


def test_cancellation_is_declared_by_the_loss() -> None:
    pairs = {(a, x) for a in functions.ACTIVATIONS for x in functions.LOSSES if functions.cancels_derivative(a, x)}
    assert pairs == {("sigmoid", "bce"), ("softmax", "cross_entropy")}


# ---------------------------------------------------------------------------------------------------
# The registry is the only list


def _network_properties(schema: dict[str, Any]) -> dict[str, Any]:
    """The top-level keys of a network scenario: the branch of the schema's if/then/else (kind: graph, rnn and
    layers each have their own) whose properties include layers and learning_rate."""
    branches = [schema]
    while branches:
        branch = branches.pop()
        props = branch.get("properties", {})
        if "layers" in props and "learning_rate" in props:
            return dict(props)
        branches += [branch[k] for k in ("then", "else") if isinstance(branch.get(k), dict)]
    raise AssertionError("the schema has no network branch")


def test_the_schema_and_the_docs_list_every_activation() -> None:
    root = Path(bptrace.__file__).parent
    schema = json.loads((root / "scenario.schema.json").read_text(encoding="utf-8"))
    for layer in ("matrixLayer", "namedLayer"):
        props = schema["$defs" if "$defs" in schema else "definitions"][layer]["properties"]
        assert props["activation"]["enum"] == list(functions.ACTIVATIONS)
        assert {p.key for p in functions.ACTIVATION_PARAMS} <= set(props)
    assert {p.key for p in functions.ACTIVATION_PARAMS} <= set(_network_properties(schema))
    docs = (root.parent / "docs" / "scenarios.md").read_text(encoding="utf-8")
    for name in functions.ACTIVATIONS:
        assert f"| `{name}` |" in docs


def test_importing_the_registry_loads_neither_numpy_nor_sympy() -> None:
    code = (
        "import sys, bptrace, bptrace.functions, bptrace.model.scenario;"
        "print('numpy' in sys.modules, 'sympy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------------------------------------------
# The engine and `bptrace check` at saturated units


SATURATED_YAML = """
title: saturated units
samples:
  - {inputs: [1.0], targets: [0.5]}
layers:
  - activation: tanh
    weights: [[20.0], [-13.0]]
  - activation: sigmoid
    weights: [[0.0, 0.0]]
    bias: 35.2
"""


def test_engine_and_check_at_saturated_units(tmp_path: Path) -> None:
    (tmp_path / "sat.yaml").write_text(SATURATED_YAML, encoding="utf-8")
    t = engine.trace(bptrace.load(str(tmp_path / "sat.yaml")))
    exact = {
        "dout_h1_1/dnet_h1_1": _mp("tanh", 20.0, 1.0)[1],
        "dout_h1_2/dnet_h1_2": _mp("tanh", -13.0, 1.0)[1],
        "dout_o1/dnet_o1": _mp("sigmoid", 35.2, 1.0)[1],
    }
    _close(t.layers[0].dout_dnet[0], [float(exact["dout_h1_1/dnet_h1_1"]), float(exact["dout_h1_2/dnet_h1_2"])])
    _close(t.layers[1].dout_dnet[0, 0], float(exact["dout_o1/dnet_o1"]))
    written = {k: mpmath.nstr(v, 9, min_fixed=1, max_fixed=0) for k, v in exact.items()}  # 9 digits, e-notation
    sheet = {"scenario": "sat.yaml", "answers": written}
    (tmp_path / "sheet.yaml").write_text(yaml.safe_dump(sheet), encoding="utf-8")
    result = CliRunner().invoke(main, ["check", str(tmp_path / "sheet.yaml")])
    assert result.exit_code == 0, result.output
    assert "5.16219299e-16" in result.stdout


def test_sigmoid_bce_delta_stays_out_minus_t_at_saturation() -> None:
    # σ(34.5) is within a few ulp of 1: ∂E/∂out = 1/(1 − out) of the rounded out no longer cancels the exact σ′
    s = bptrace.loads(
        "samples: [{inputs: [1.0], targets: [0.0]}]\nloss: bce\nlayers: [{activation: sigmoid, weights: [[34.5]]}]\n"
    )
    t = engine.trace(s)
    assert t.layers[0].delta[0, 0] == t.layers[0].out[0, 0] - 0.0
    assert math.isclose(t.layers[0].dout_dnet[0, 0], float(_mp("sigmoid", 34.5, 1.0)[1]), rel_tol=REL)


# ---------------------------------------------------------------------------------------------------
# softplus and elu through both scenario forms and both fast training paths


NAMED = """
title: named softplus and elu
inputs: {i1: 0.05, i2: 0.10}
targets: {o1: 0.01, o2: 0.6}
elu_alpha: 0.5
layers:
  - activation: elu
    neurons: [h1, h2]
    weights:
      w1: {from: i1, to: h1, value: -2.15}
      w2: {from: i2, to: h1, value: 0.20}
      w3: {from: i1, to: h2, value: 0.25}
      w4: {from: i2, to: h2, value: -0.30}
    biases: {b1: {to: [h1, h2], value: 0.05}}
  - activation: softplus
    neurons: [o1, o2]
    weights:
      w5: {from: h1, to: o1, value: 0.40}
      w6: {from: h2, to: o1, value: 0.45}
      w7: {from: h1, to: o2, value: -0.50}
      w8: {from: h2, to: o2, value: 0.55}
    biases: {b2: {to: [o1, o2], value: -0.6}}
"""

MATRIX = """
title: matrix softplus and elu
samples:
  - {inputs: [0.5, -1.0], targets: [0.2, 0.7]}
  - {inputs: [-0.3, 0.8], targets: [0.6, 0.1]}
  - {inputs: [0.9, 0.1], targets: [0.4, 0.3]}
layers:
  - activation: softplus
    weights: [[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]]
    biases: [0.1, -0.1, 0.05]
  - activation: elu
    elu_alpha: 2.0
    weights: [[0.2, -0.4, 0.3], [-0.6, 0.1, 0.2]]
    bias: -0.2
loss: mse
"""


@pytest.mark.parametrize("text", [NAMED, MATRIX], ids=["named", "matrix"])
def test_softplus_and_elu_in_both_forms_are_verified(text: str) -> None:
    from bptrace.verify.verification import verify

    s = bptrace.loads(text)
    assert [layer.activation for layer in s.layers] in (["elu", "softplus"], ["softplus", "elu"])
    elu = next(layer for layer in s.layers if layer.activation == "elu")
    assert elu.param == (0.5 if s.named else 2.0)
    v = verify(engine.trace(s), mode="full")
    assert v.ok, [r for r in v.parameters if not r.ok]
    assert all(r.sympy_ok and r.fd_ok for r in v.parameters)


@pytest.mark.parametrize("text", [NAMED, MATRIX], ids=["named", "matrix"])
def test_fast_training_paths_equal_engine_steps_for_softplus_and_elu(text: str) -> None:
    from test_train import check_against_engine

    s = bptrace.loads(text)
    check_against_engine(s, 15, sorted({s.samples, 1, 2}))


def test_elu_alpha_is_validated_like_leaky_slope() -> None:
    with pytest.raises(bptrace.errors.ScenarioError) as e:
        bptrace.loads(
            "samples: [{inputs: [1], targets: [0]}]\nelu_alpha: big\nlayers: [{activation: elu, weights: [[1]]}]\n"
        )
    assert "a scale α" in str(e.value)


def test_an_elu_kink_is_reported_with_its_convention(tmp_path: Path) -> None:
    # net_h1_1 = 1·1 − 1·1 = 0 exactly; with α = 0.5 elu has a kink there and takes elu′(0) = α
    (tmp_path / "k.yaml").write_text(
        "samples: [{inputs: [1.0, 1.0], targets: [0.3]}]\nelu_alpha: 0.5\nlayers:\n"
        "  - {activation: elu, weights: [[1.0, -1.0], [0.5, 0.2]]}\n"
        "  - {activation: softplus, weights: [[0.3, 0.4]]}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["run", str(tmp_path / "k.yaml"), "--verify", "full"])
    assert result.exit_code == 0, result.output
    assert "W1_1_1: net_h1_1 = 0 in sample 1: elu′(0) = α = 0.5 by convention" in result.stdout
    data = json.loads(CliRunner().invoke(main, ["run", str(tmp_path / "k.yaml"), "--format", "json"]).stdout)
    kinked = [n["name"] for n in data["neurons"] if not n["differentiable"]]
    assert kinked == ["h1_1"]
