"""SymPy's independent derivation: values, independence from the engine, local factors and textbook forms."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import sympy as sp

import bptrace
from bptrace import functions as network
from bptrace.engine import step as engine
from bptrace.model.scenario import loads
from bptrace.verify import symbolic


def matrix_scenario(sizes, activations, loss="half_sse", samples=1, seed=0, bias="biases", reduction="mean"):
    """A matrix-form scenario with random weights (seeded), as bptrace.scenario.loads reads it."""
    rng = np.random.default_rng(seed)
    layers = []
    for i in range(1, len(sizes)):
        layer = {
            "activation": activations[i - 1],
            "weights": rng.uniform(-1, 1, (sizes[i], sizes[i - 1])).round(3).tolist(),
        }
        if bias == "biases":
            layer["biases"] = rng.uniform(-0.5, 0.5, sizes[i]).round(3).tolist()
        elif bias == "bias":
            layer["bias"] = 0.1
        layers.append(layer)
    rows = []
    for s in range(samples):
        if loss == "cross_entropy":
            targets = [0.0] * sizes[-1]
            targets[s % sizes[-1]] = 1.0
        else:
            targets = rng.uniform(0.05, 0.95, sizes[-1]).round(3).tolist()
        rows.append({"inputs": rng.uniform(-1, 1, sizes[0]).round(3).tolist(), "targets": targets})
    return loads(json.dumps({"samples": rows, "layers": layers, "loss": loss, "reduction": reduction}))


@pytest.fixture(scope="module")
def mazur():
    return bptrace.load("mazur")


def test_mazur_values_from_sympy(mazur):
    g = symbolic.gradients(mazur)
    assert abs(g["w5"].value - 0.0821670405642) < 1e-10
    assert abs(g["w1"].value - 0.000438567734474) < 1e-10
    assert g["w5"].digits.startswith("0.08216704056423")
    t = engine.trace(mazur)
    for p in mazur.parameters():
        assert g[p.name].value == pytest.approx(t.grad(p), rel=1e-12, abs=1e-15)
        # a shared bias comes from its layer's one-neuron template (no template of its own)
        assert g[p.name].method == (symbolic.PER_NEURON if p.kind == "bias" else symbolic.SINGLE_SYMBOL)


def test_sympy_route_never_touches_the_engines_derivatives(mazur, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the SymPy route used the engine")

    for name in ("activation_derivative", "loss_gradient", "activate", "loss_terms"):
        monkeypatch.setattr(network, name, refuse)
    monkeypatch.setattr(engine, "trace", refuse)
    monkeypatch.setattr(engine, "forward", refuse)
    assert symbolic.gradient(mazur, "w5") == pytest.approx(0.0821670405642, abs=1e-12)


def test_program_is_evalf_with_subs():
    x, y = sp.symbols("x y")
    expr = sp.exp(-x) / (1 + sp.exp(-x)) ** 2 * y + sp.tanh(x * y) - sp.log(y) / 3 + x * sp.Heaviside(x, 0)
    values = {x: sp.Float("0.37", 40), y: sp.Float("1.9", 40)}
    got = symbolic.Program([expr], [x, y])([values[x], values[y]])[0]
    assert float(got) == pytest.approx(float(expr.evalf(30, subs=values)), rel=1e-25)
    # SymPy's rules at a kink: Heaviside(0, 0) = 0 and 0·DiracDelta(0) = 0
    relu_prime = sp.diff(x * sp.Heaviside(x, 0), x)
    assert symbolic.Program([relu_prime], [x])([0])[0] == 0


@pytest.mark.parametrize(
    "case",
    [
        (["tanh", "relu", "softmax"], "cross_entropy", 3, "biases"),
        (["leaky_relu", "sigmoid"], "bce", 2, "bias"),
        (["sigmoid", "linear"], "mse", 2, "none"),
        (["relu", "tanh"], "sse", 1, "biases"),
    ],
)
def test_random_networks_match_the_engine(case):
    activations, loss, samples, bias = case
    sizes = [3] + [4] * (len(activations) - 1) + [3]
    sc = matrix_scenario(
        sizes,
        activations,
        loss,
        samples,
        seed=len(activations) + samples,
        bias=bias,
        reduction="sum" if samples == 2 else "mean",
    )
    t = engine.trace(sc)
    g = symbolic.gradients(sc, engine_nets=[lt.net for lt in t.layers])
    for p in sc.parameters():
        assert g[p.name].value == pytest.approx(t.grad(p), rel=1e-10, abs=1e-13), p.name
        assert len(g[p.name].per_sample) == samples


def test_shared_bias_single_symbol_equals_per_neuron(monkeypatch):
    sc = matrix_scenario([2, 3, 3, 2], ["tanh", "sigmoid", "sigmoid"], bias="bias", samples=2)
    shared = [p for p in sc.parameters() if p.kind == "bias"]
    whole = symbolic.gradients(sc, shared, shared_method=symbolic.SINGLE_SYMBOL)
    split = symbolic.gradients(sc, shared)  # the default
    monkeypatch.setattr(symbolic, "SHARED_PATH_LIMIT", 0)
    assert all(
        g.method == symbolic.PER_NEURON
        for g in symbolic.gradients(sc, shared, shared_method=symbolic.SINGLE_SYMBOL).values()
    )
    t = engine.trace(sc)
    for p in shared:
        assert whole[p.name].method == symbolic.SINGLE_SYMBOL
        assert split[p.name].method == symbolic.PER_NEURON
        assert whole[p.name].value == pytest.approx(split[p.name].value, rel=1e-20, abs=1e-25)
        assert whole[p.name].value == pytest.approx(t.grad(p), rel=1e-10)


def test_local_factors_of_mazur(mazur):
    lf = symbolic.local_factors(engine.trace(mazur))
    assert lf.ok and len(lf.checks) == 6  # f′ at 4 neurons, ∂E/∂out at 2 outputs
    (sigmoid,) = lf.activations
    assert sigmoid.name == "sigmoid" and sigmoid.layers == (1, 2)
    assert sigmoid.expr_str == "1/(1 + exp(-net))"
    assert sigmoid.derivative == sp.diff(sigmoid.expr, sigmoid.variable)
    assert "ℯ" in sigmoid.derivative_pretty and "net" in sigmoid.expr_pretty
    assert lf.loss.derivative_str == "out - t"
    out_o1 = sp.Symbol("out_o1")
    assert dict(lf.loss_gradient)[out_o1] == out_o1 - sp.Symbol("t_o1")


def test_local_factors_catch_a_wrong_closed_form(mazur, monkeypatch):
    real = network.activation_derivative
    monkeypatch.setattr(network, "activation_derivative", lambda *a, **k: real(*a, **k) * 1.001)
    lf = symbolic.local_factors(engine.trace(mazur))
    assert not lf.ok
    assert {c.quantity for c in lf.failures()} == {"dout_dnet"}


def test_local_factors_catch_a_wrong_loss_gradient(mazur, monkeypatch):
    real = network.loss_gradient
    monkeypatch.setattr(network, "loss_gradient", lambda *a, **k: real(*a, **k) * 1.001)
    lf = symbolic.local_factors(engine.trace(mazur))
    assert {(c.quantity, c.neuron) for c in lf.failures()} == {("dE_dout", "o1"), ("dE_dout", "o2")}


def test_local_factors_at_a_relu_kink_and_softmax():
    sc = loads(
        json.dumps(
            {
                "inputs": [1.0, 1.0],
                "targets": [0.0, 1.0, 0.0],
                "loss": "cross_entropy",
                "layers": [
                    {"activation": "relu", "weights": [[0.5, -0.5], [0.25, 0.5]]},
                    {"activation": "leaky_relu", "leaky_slope": 0.2, "weights": [[1.0, 0.0], [0.3, 0.1]]},
                    {"activation": "softmax", "weights": [[0.2, 0.4], [0.1, -0.3], [0.5, 0.5]]},
                ],
            }
        )
    )
    t = engine.trace(sc)
    lf = symbolic.local_factors(t)
    assert lf.ok
    kinks = [c for c in lf.checks if c.at_kink]
    # h1_1's net is exactly 0 (relu′(0) = 0); so is h2_1's (leaky_relu′(0) = slope)
    assert [(c.neuron, c.sympy) for c in kinks] == [("h1_1", 0.0), ("h2_1", 0.2)]
    names = {d.name for d in lf.activations}
    assert names == {"relu", "leaky_relu", "softmax"}
    softmax = next(d for d in lf.activations if d.name == "softmax")
    assert len(softmax.expr.free_symbols) == 3


def test_gradient_form_of_mazur(mazur):
    out_h1, out_o1, t_o1, i1, w5, w7, d1, d2 = sp.symbols("out_h1 out_o1 t_o1 i1 w5 w7 delta_o1 delta_o2")
    w5_form = symbolic.gradient_form(mazur, "w5")
    assert w5_form.compact == (out_o1 - t_o1) * out_o1 * (1 - out_o1) * out_h1
    w1_form = symbolic.gradient_form(mazur, "w1")
    assert w1_form.compact == (d1 * w5 + d2 * w7) * out_h1 * (1 - out_h1) * i1
    assert dict(w1_form.deltas)[d1] == (out_o1 - t_o1) * out_o1 * (1 - out_o1)
    assert "δ" in w1_form.compact_pretty and "delta_o1" in w1_form.compact_str
    # the expanded form is SymPy's own derivative in every parameter, input and target
    assert w1_form.expanded is not None and sp.Symbol("w1") in w1_form.expanded.free_symbols
    t = engine.trace(mazur)
    values = {sp.Symbol(k): v for k, v in symbolic.form_values(t).items()}
    for p in mazur.parameters():
        form = symbolic.gradient_form(mazur, p)
        assert float(form.compact.subs(values)) == pytest.approx(t.grad(p), rel=1e-12)
        assert float(form.expanded.subs(values)) == pytest.approx(t.grad(p), rel=1e-12)


@pytest.mark.parametrize("path_limit", [symbolic.FORM_PATH_LIMIT, 1])
def test_gradient_forms_of_deeper_networks(path_limit, monkeypatch):
    monkeypatch.setattr(symbolic, "FORM_PATH_LIMIT", path_limit)
    sc = matrix_scenario([2, 3, 2, 3], ["tanh", "leaky_relu", "softmax"], "cross_entropy", seed=3, bias="bias")
    t = engine.trace(sc)
    values = {sp.Symbol(k): v for k, v in symbolic.form_values(t).items()}
    for p in sc.parameters():
        form = symbolic.gradient_form(sc, p)
        assert form.expanded is None  # 27 parameters > EXPANDED_LIMIT
        assert float(form.compact.subs(values)) == pytest.approx(t.grad(p), rel=1e-9, abs=1e-14), p.name
    first = symbolic.gradient_form(sc, "W1_1_1")
    assert ("summed over layer 2" in first.note) == (path_limit == 1)


def test_importing_the_modules_loads_neither_sympy_nor_numpy():
    code = (
        "import sys, bptrace.verify.symbolic, bptrace.verify.verification; "
        "print('sympy' in sys.modules, 'numpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---- the loss written layer by layer (symbolic_layers): deep and wide networks ----


def _routes(sc, monkeypatch, engine_nets=None):
    """Every parameter's SymPy gradient by the layered route and by the whole expression, forced."""
    from bptrace.verify import symbolic_layers

    hp = symbolic.high_precision_forward(sc, engine_nets)
    monkeypatch.setattr(symbolic_layers, "LAYERED_ABOVE", 0)
    monkeypatch.setattr(symbolic_layers, "WHOLE_DEPTH", 0)
    layered = symbolic.gradients(sc, forward=hp)
    monkeypatch.setattr(symbolic_layers, "LAYERED_ABOVE", 10**9)
    monkeypatch.setattr(symbolic_layers, "WHOLE_DEPTH", 10**9)
    whole = symbolic.gradients(sc, forward=hp)
    return layered, whole


@pytest.mark.parametrize(
    "case",
    [
        (["tanh", "relu", "softmax"], "cross_entropy", 3, "biases", "mean"),
        (["leaky_relu", "elu", "sigmoid"], "bce", 2, "bias", "sum"),
        (["sigmoid", "tanh", "linear"], "mse", 2, "none", "mean"),
        (["relu", "sigmoid", "tanh", "sigmoid"], "half_sse", 2, "biases", "mean"),
        (["elu", "softmax"], "cross_entropy", 2, "bias", "mean"),
    ],
)
def test_the_layered_route_is_the_whole_expressions_derivative(case, monkeypatch):
    # the same SymPy derivative two ways, on networks nobody has seen: equal to 20 digits, and to the engine
    activations, loss, samples, bias, reduction = case
    sizes = [3] + [3 + i % 2 for i in range(len(activations) - 1)] + [3]
    sc = matrix_scenario(sizes, activations, loss, samples, seed=7 * len(activations), bias=bias, reduction=reduction)
    t = engine.trace(sc)
    nets = [lt.net for lt in t.layers]
    layered, whole = _routes(sc, monkeypatch, nets)
    below_output = [p for p in sc.parameters() if p.layer < len(sc.layers)]
    assert below_output
    for p in sc.parameters():
        a, b = layered[p.name], whole[p.name]
        assert a.digits[:-1] == b.digits[:-1] or float(a.digits) == pytest.approx(float(b.digits), rel=1e-18), p.name
        assert a.value == pytest.approx(t.grad(p), rel=1e-10, abs=1e-13), p.name
        assert a.per_sample == pytest.approx(b.per_sample, rel=1e-15, abs=1e-300)


def test_the_layered_route_never_touches_the_engines_derivatives(monkeypatch):
    from bptrace.verify import symbolic_layers

    sc = matrix_scenario([2, 3, 3, 3, 2], ["tanh", "sigmoid", "relu", "sigmoid"], samples=2, seed=4)
    expected = engine.trace(sc).grad(sc.parameters()[0])

    def refuse(*args, **kwargs):
        raise AssertionError("the SymPy route used the engine")

    for name in ("activation_derivative", "loss_gradient", "activate", "loss_terms"):
        monkeypatch.setattr(network, name, refuse)
    monkeypatch.setattr(engine, "trace", refuse)
    monkeypatch.setattr(engine, "forward", refuse)
    p = sc.parameters()[0]
    assert symbolic.layered_route(sc, p) and symbolic_layers.supported(sc, p)  # 4 layers: deeper than WHOLE_DEPTH
    assert symbolic.gradient(sc, p.name) == pytest.approx(expected, rel=1e-10)


def test_sympy_work_of_a_deep_network_is_a_few_templates_not_its_paths():
    # 2¹⁰⁰ paths from the first layer to the loss: a handful of SymPy derivatives, evaluated layer by layer
    from bptrace.verify import symbolic_layers

    sc = matrix_scenario([2] + [2] * 100 + [1], ["sigmoid"] * 100 + ["linear"], seed=3)
    assert sc.parameter_count() == 603
    symbolic.clear_cache()
    before = symbolic_layers.DERIVATIONS[0]
    first = [p for p in sc.parameters() if p.layer in (1, 50)][:3]
    g = symbolic.gradients(sc, first)
    # f(c + aθ), Σ w·Z(θ) for widths 1 and 2, f(N(θ)) for sigmoid and linear, the loss
    assert symbolic_layers.DERIVATIONS[0] - before <= 6
    t = engine.trace(sc)
    for p in first:
        assert g[p.name].value == pytest.approx(t.grad(p), rel=1e-9, abs=1e-300)


def test_pretty_printing_without_the_units_import_prints_the_same():
    # a fresh process: SymPy's pretty printer under the stand-in, then with sympy.physics.units really imported
    code = (
        "import sys, sympy as sp\n"
        "from bptrace.verify import symbolic\n"
        "x, y, w5 = sp.symbols('out_h1 t_o1 w5')\n"
        "exprs = [sp.diff(1 / (1 + sp.exp(-w5 * x)) - y, w5), -2 * x * y**-2 * sp.Heaviside(x, 0)]\n"
        "exprs.append((x - y) * x * (1 - x))\n"
        "with symbolic.spared_imports():\n"
        "    inside = [sp.pretty(e, use_unicode=True) for e in exprs]\n"
        "    assert 'sympy.physics' not in sys.modules  # SymPy's physics package was never loaded\n"
        "assert 'sympy.physics.units' not in sys.modules  # the stand-in is gone\n"
        "import sympy.physics.units\n"
        "assert [sp.pretty(e, use_unicode=True) for e in exprs] == inside\n"
        "print('same')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "same"


@pytest.mark.parametrize(("name", "counts"), [("mazur", "10 6"), ("cs224n_window", "176 40")])
def test_verification_without_the_tensor_import_derives_the_same(name, counts):
    # a fresh process: the verification under spared_imports (Add.flatten's sympy.tensor.tensor a stand-in),
    # then again, every cache cleared, with sympy.tensor.tensor really imported: the same templates, the same
    # digits, the same local factors (Mazur's per-output loss, and the hinge's two windows)
    code = (
        "import sys, sympy as sp\n"
        "import bptrace\n"
        "from sympy.core.cache import clear_cache\n"
        "from bptrace.verify import symbolic, verification\n"
        f"t = bptrace.run(bptrace.load({name!r}))\n"
        "def derive():\n"
        "    symbolic.clear_cache(); clear_cache()\n"
        "    v = verification.verify(t)\n"
        "    specs = [symbolic._specs(t.scenario, i) for i in range(len(t.scenario.layers))]\n"
        "    templates = [sp.srepr(symbolic._template('neuron', s, t.scenario.objective).derivative) for s in specs]\n"
        "    rows = [(p.name, p.sympy, p.ok) for p in v.parameters]\n"
        "    return templates, rows, [(c.quantity, c.neuron, c.sympy, c.ok) for c in v.local.checks]\n"
        "with symbolic.spared_imports():\n"
        "    inside = derive()\n"
        "    assert 'sympy.combinatorics' not in sys.modules and 'sympy.tensor.tensor' in sys.modules\n"
        "assert 'sympy.tensor.tensor' not in sys.modules  # the stand-in is gone\n"
        "import sympy.tensor.tensor\n"
        "assert derive() == inside\n"
        "print('same', len(inside[1]), len(inside[2]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"same {counts}"


def test_a_name_the_stand_in_lacks_imports_the_real_module():
    # anything but Add.flatten's TensExpr and TensAdd is read from the real sympy.tensor.tensor, which stays
    code = (
        "import sys, sympy\n"
        "from bptrace.verify import symbolic\n"
        "with symbolic.spared_imports():\n"
        "    from sympy.tensor.tensor import TensorIndexType\n"
        "    real = sys.modules['sympy.tensor.tensor']\n"
        "    assert TensorIndexType.__module__ == 'sympy.tensor.tensor' and hasattr(real, 'TensMul')\n"
        "assert sys.modules['sympy.tensor.tensor'] is real\n"
        "from sympy.tensor.tensor import TensExpr\n"
        "assert TensExpr is real.TensExpr\n"
        "print('real')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "real"
