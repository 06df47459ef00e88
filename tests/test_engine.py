"""The engine's numbers against Mazur's published example and against two independent oracles.

Oracles, for every bundled scenario and for hypothesis-generated matrix-form networks (tests/strategies.py):
  (a) central finite differences of engine.loss_with (4th-order, 5-point stencil);
  (b) an autograd implementation of the loss written from scratch below (it does not use bptrace.network or
      bptrace.engine; it reads only the parsed structure and parameter values from the Scenario).
Gradients must agree to 1e-8 relative, with an absolute floor for gradients that are (nearly) zero.
"""

from __future__ import annotations

import math
from typing import Any

import autograd.numpy as anp
import mazur_reference
import numpy as np
import pytest
from autograd import grad
from hypothesis import given, settings
from strategies import random_scenario_yaml, scenario_dicts, scenarios, to_yaml

import bptrace
from bptrace.engine import step as engine
from bptrace.model.scenario import Parameter, Scenario, bundled_names

RTOL = 1e-8  # every gradient, relative
ATOL = 1e-10  # floor for tiny gradients, relative to the largest gradient of the same network (below)
EPS = np.finfo(float).eps
FD_STEPS = (1e-3, 1e-4, 1e-5)  # tried in order; a smaller step only when a bigger one crosses a relu kink
FD_ROUNDING = 100  # generous bound on the loss evaluation's rounding, in units of eps·|E| (see fd_gradient)

HYPOTHESIS = settings(max_examples=60, deadline=None, database=None)


# ---------------------------------------------------------------------------------------------------
# The independent implementation (autograd)


def _activation(name: str, z: Any, alpha: float) -> Any:
    """out = f(net), written from the textbook definitions."""
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-z))
    if name == "tanh":
        return anp.tanh(z)
    if name == "relu":
        return anp.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return anp.where(z > 0, z, alpha * z)
    if name == "softplus":
        return anp.log(1.0 + anp.exp(z))
    if name == "elu":
        return anp.where(z > 0, z, alpha * (anp.exp(anp.minimum(z, 0.0)) - 1.0))
    if name == "linear":
        return z
    if name == "softmax":
        e = anp.exp(z)  # nets are moderate here: no shift needed
        return e / anp.sum(e, axis=1, keepdims=True)
    raise ValueError(name)


def reference_forward(params: list[Any], scenario: Scenario, inputs: Any) -> tuple[list[Any], Any]:
    """(nets of every layer, output activations); params = [W1, b1, W2, b2, ...], W row = neuron.

    net = out_prev·Wᵀ + b, where b has one entry per neuron, one entry shared by the layer (broadcast), or none.
    """
    a = inputs
    nets = []
    for k, layer in enumerate(scenario.layers):
        z = anp.dot(a, params[2 * k].T)
        if layer.bias_mode != "none":
            z = z + params[2 * k + 1]
        nets.append(z)
        a = _activation(layer.activation, z, layer.function.value(layer.param))
    return nets, a


def reference_sample_losses(params: list[Any], scenario: Scenario) -> Any:
    """E_s for each sample: the sum over outputs of the loss's per-output term.

    max_margin (the CS224n-style notes): J_s = max(0, Δ + s(x_c) − s(x)), the score s being the single output.
    """
    _, out = reference_forward(params, scenario, scenario.inputs)
    if scenario.loss == "max_margin":
        _, corrupt = reference_forward(params, scenario, scenario.corrupt)
        return anp.maximum(0.0, scenario.margin + corrupt[:, 0] - out[:, 0])
    t = scenario.targets
    n = t.shape[1]
    if scenario.loss == "half_sse":
        terms = 0.5 * (t - out) ** 2  # ½(t − out)²
    elif scenario.loss == "sse":
        terms = (t - out) ** 2
    elif scenario.loss == "mse":
        terms = (t - out) ** 2 / n  # mean over the n outputs
    elif scenario.loss == "bce":
        terms = -(t * anp.log(out) + (1 - t) * anp.log(1 - out))
    elif scenario.loss == "cross_entropy":
        terms = -t * anp.log(out)
    else:
        raise ValueError(scenario.loss)
    return anp.sum(terms, axis=1)


def reference_loss(params: list[Any], scenario: Scenario) -> Any:
    """The batch loss: (1/m)·Σ_s E_s (reduction mean) or Σ_s E_s (reduction sum), + λ/(2m)·Σ W² with L2."""
    per_sample = reference_sample_losses(params, scenario)
    data = anp.mean(per_sample) if scenario.reduction == "mean" else anp.sum(per_sample)
    squares = sum(anp.sum(params[2 * k] ** 2) for k in range(len(scenario.layers)))
    return data + scenario.l2 / (2 * scenario.samples) * squares


def params_of(scenario: Scenario) -> list[np.ndarray]:
    """[W1, b1, W2, b2, ...] as fresh float arrays (b: (n,), (1,) for a shared bias, (0,) for none)."""
    out: list[np.ndarray] = []
    for layer in scenario.layers:
        out += [np.array(layer.weights, dtype=float), np.array(layer.biases, dtype=float)]
    return out


def entry(arrays: list[np.ndarray], p: Parameter) -> tuple[np.ndarray, tuple[int, ...]]:
    """The array holding parameter p in a params_of-style list, and p's index in it."""
    k = 2 * (p.layer - 1)
    if p.kind == "weight":
        return arrays[k], (p.row, p.col)
    return arrays[k + 1], (0 if p.row is None else p.row,)


def flat(arrays: list[np.ndarray], scenario: Scenario) -> np.ndarray:
    """The entries of a params_of-style list in scenario.parameters() order."""
    return np.array([arr[idx] for arr, idx in (entry(arrays, p) for p in scenario.parameters())])


def assert_gradients(
    actual: np.ndarray, expected: np.ndarray, names: list[str], atol: float, rtol: float = RTOL, what: str = ""
) -> None:
    """|actual − expected| ≤ rtol·|expected| + atol for every parameter, naming the ones that fail."""
    bad = np.abs(actual - expected) > rtol * np.abs(expected) + atol
    detail = ", ".join(f"{n}: {a!r} vs {e!r}" for n, a, e, b in zip(names, actual, expected, bad) if b)
    assert not bad.any(), f"{what} gradients differ: {detail}"


def floor_for(values: np.ndarray) -> float:
    """Absolute floor: rounding in a sum of terms is relative to its largest terms, not to a result near 0."""
    return ATOL * max(1.0, float(np.abs(values).max(initial=0.0)))


# ---------------------------------------------------------------------------------------------------
# Finite differences of engine.loss_with


def _kink_signs(scenario: Scenario, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """net > 0 for every relu/leaky_relu neuron and sample: a stencil must not change it."""
    nets, _ = reference_forward(arrays, scenario, scenario.inputs)
    return [np.asarray(z) > 0 for z, layer in zip(nets, scenario.layers) if layer.activation in ("relu", "leaky_relu")]


def fd_gradient(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
    """(∂E/∂θ by finite differences, the absolute error each estimate may carry), in parameters() order.

    g ≈ [−E(θ+2h) + 8E(θ+h) − 8E(θ−h) + E(θ−2h)] / (12h): truncation error h⁴·E⁽⁵⁾/30. Rounding: each E carries
    up to ~FD_ROUNDING·eps·|E|, and the stencil's weights (1+8+8+1)/12h turn that into 1.5·FD_ROUNDING·eps·|E|/h.
    """
    arrays = params_of(scenario)
    base_signs = _kink_signs(scenario, arrays)
    layers = len(scenario.layers)

    def loss_at() -> float:
        return engine.loss_with(
            scenario, [arrays[2 * k] for k in range(layers)], [arrays[2 * k + 1] for k in range(layers)]
        )

    scale = max(1.0, abs(loss_at()))
    estimates, errors = [], []
    for p in scenario.parameters():
        arr, idx = entry(arrays, p)
        original = arr[idx]
        for h in FD_STEPS:
            values, crossed = [], False
            for step in (2, 1, -1, -2):
                arr[idx] = original + step * h
                values.append(loss_at())
                signs = _kink_signs(scenario, arrays)
                crossed = crossed or any((a != b).any() for a, b in zip(signs, base_signs))
            arr[idx] = original
            if not crossed:
                break
        assert not crossed, f"every finite-difference step for {p.name} crosses a relu kink"
        estimates.append((-values[0] + 8 * values[1] - 8 * values[2] + values[3]) / (12 * h))
        errors.append(1.5 * FD_ROUNDING * EPS * scale / h)
    return np.array(estimates), np.array(errors)


# ---------------------------------------------------------------------------------------------------
# The checks, shared by bundled and generated scenarios


def check_against_autograd(scenario: Scenario) -> None:
    """Loss, per-sample losses and every gradient against the autograd implementation."""
    t = engine.trace(scenario)
    params = params_of(scenario)
    names = [p.name for p in scenario.parameters()]
    per_sample = np.asarray(reference_sample_losses(params, scenario))
    np.testing.assert_allclose(t.sample_losses, per_sample, rtol=1e-12, atol=1e-14)
    assert t.loss == pytest.approx(float(reference_loss(params, scenario)), rel=1e-12, abs=1e-14)
    expected = flat(grad(reference_loss)(params, scenario), scenario)
    actual = np.array([t.grad(p) for p in scenario.parameters()])
    assert_gradients(actual, expected, names, floor_for(expected), what="engine vs autograd")


def check_against_finite_differences(scenario: Scenario) -> None:
    """Every gradient against 5-point central differences of engine.loss_with."""
    t = engine.trace(scenario)
    params = scenario.parameters()
    estimate, error = fd_gradient(scenario)
    actual = np.array([t.grad(p) for p in params])
    # the estimate's own error (rounding, growing as 1/h) is added to the floor
    atol = np.maximum(floor_for(actual), error)
    bad = np.abs(actual - estimate) > RTOL * np.abs(actual) + atol
    assert not bad.any(), "engine vs finite differences: " + ", ".join(
        f"{p.name}: {a!r} vs {e!r}" for p, a, e, b in zip(params, actual, estimate, bad) if b
    )


def check_update(scenario: Scenario) -> None:
    """θ⁺ = θ − η·∂E/∂θ (biases kept when update_biases is false), and the loss after it recomputed."""
    t = engine.trace(scenario)
    params = params_of(scenario)
    g = grad(reference_loss)(params, scenario)
    eta = scenario.learning_rate
    expected = []
    for k, (theta, g_theta) in enumerate(zip(params, g)):
        frozen = k % 2 == 1 and not scenario.update_biases
        expected.append(theta.copy() if frozen else theta - eta * g_theta)
    for p in scenario.parameters():
        arr, idx = entry(expected, p)
        old, new = t.value(p), t.new_value(p)
        if p.kind == "bias" and not scenario.update_biases:
            assert t.frozen(p)
            assert new == old, f"{p.name} is frozen but changed from {old!r} to {new!r}"
            continue
        assert not t.frozen(p)
        # the engine's own rule, to rounding of one multiply-subtract
        assert new == pytest.approx(old - eta * t.grad(p), rel=4 * EPS, abs=4 * EPS * abs(old))
        # and the same step taken with the independent gradient
        assert abs(new - arr[idx]) <= RTOL * abs(eta * t.grad(p)) + eta * floor_for(flat(g, scenario)), p.name
    after = float(reference_loss(expected, scenario))
    assert t.loss_after == pytest.approx(after, rel=RTOL, abs=ATOL)


def check_per_sample(scenario: Scenario) -> None:
    """sample_grad(p)[s] is ∂E_s/∂θ (checked with autograd); the batch gradient is their mean or sum
    (plus λ/m·θ for a weight under an L2 penalty, checked against autograd of the penalty alone)."""
    t = engine.trace(scenario)
    params = params_of(scenario)
    m = scenario.samples
    per_sample_grads = [
        flat(grad(lambda ps, s=s: reference_sample_losses(ps, scenario)[s])(params), scenario) for s in range(m)
    ]
    names = [p.name for p in scenario.parameters()]
    for s in range(m):
        actual = np.array([t.sample_grad(p)[s] for p in scenario.parameters()])
        assert_gradients(actual, per_sample_grads[s], names, floor_for(per_sample_grads[s]), what=f"sample {s + 1}")
    for p in scenario.parameters():
        per = t.sample_grad(p)
        combined = per.mean() if scenario.reduction == "mean" else per.sum()
        assert t.grad(p) == pytest.approx(combined + t.l2_grad(p), rel=1e-12, abs=1e-15), p.name
        assert t.reduce(per) == pytest.approx(combined, rel=1e-15, abs=0), p.name
    penalty_grad = flat(
        grad(lambda ps: scenario.l2 / (2 * m) * sum(anp.sum(ps[2 * k] ** 2) for k in range(len(scenario.layers))))(
            params
        ),
        scenario,
    )
    np.testing.assert_allclose([t.l2_grad(p) for p in scenario.parameters()], penalty_grad, rtol=1e-12, atol=0)
    # ∂E_s/∂out_j of a hidden neuron is the sum of its path terms δ_k·w_kj over the layer above
    for index in range(1, len(scenario.layers)):
        for row in range(scenario.layers[index - 1].size):
            np.testing.assert_allclose(
                t.path_terms(index, row).sum(axis=1), t.layers[index - 1].dE_dout[:, row], rtol=1e-12, atol=1e-15
            )


CHECKS = (check_against_autograd, check_against_finite_differences, check_update, check_per_sample)


# ---------------------------------------------------------------------------------------------------
# Mazur's published example (every expected number is in tests/data/mazur_reference.yaml)


def _published(t: Any) -> list[tuple[str, float, str, str]]:
    """(quantity, traced value, published, exact float64) for Mazur's example."""
    s = t.scenario
    h, o = t.layers

    def p(name: str) -> Parameter:
        return s.parameter(name)

    paths = t.path_terms(1, 0)  # δ_o1·w5 and δ_o2·w7: h1's two paths to the loss
    traced = {
        "net_h1": h.net[0, 0],
        "out_h1": h.out[0, 0],
        "out_h2": h.out[0, 1],
        "net_o1": o.net[0, 0],
        "out_o1": o.out[0, 0],
        "out_o2": o.out[0, 1],
        "E_o1": t.loss_terms[0, 0],
        "E_o2": t.loss_terms[0, 1],
        "E_total": t.loss,
        "dE/dout_o1": o.dE_dout[0, 0],
        "dout_o1/dnet_o1": o.dout_dnet[0, 0],
        "dE/dw5": t.grad(p("w5")),
        "delta_o1": o.delta[0, 0],
        "dE_o1/dout_h1": paths[0, 0],  # δ_o1·w5
        "dE_o2/dout_h1": paths[0, 1],  # δ_o2·w7
        "dE/dout_h1": h.dE_dout[0, 0],
        "dout_h1/dnet_h1": h.dout_dnet[0, 0],
        "dE/dw1": t.grad(p("w1")),
        **{f"w{k}+": t.new_value(p(f"w{k}")) for k in range(1, 9)},
    }
    assert set(traced) == set(mazur_reference.QUANTITIES)  # every published number is checked
    rows = [(name, traced[name], mazur_reference.published(name), mazur_reference.exact(name)) for name in traced]
    # the post's own rule (original weights into the hidden layer); its printed 0.291027924 is the erratum
    after = mazur_reference.ERRATA["E_total@1"]
    rows.append(("E_total@1", t.loss_after, after["original_weights"], after["exact"]))
    return [(label, float(value), pub, exact) for label, value, pub, exact in rows]


_unit = mazur_reference.unit


@pytest.fixture(scope="module")
def mazur_rows() -> list[tuple[str, float, str, str]]:
    return _published(engine.trace(bptrace.load("mazur")))


def test_mazur_published_digits(mazur_rows: list[tuple[str, float, str, str]]) -> None:
    """Each published number, to the digits Mazur printed, ± one unit in the last place (he rounded
    intermediates, e.g. −0.019049119 for −0.0190491183)."""
    wrong = [
        f"{label}: {value!r} vs published {pub}"
        for label, value, pub, _ in mazur_rows
        if abs(value - float(pub)) > _unit(pub) * (1 + 1e-9)
    ]
    assert not wrong, "; ".join(wrong)


def test_mazur_exact_values(mazur_rows: list[tuple[str, float, str, str]]) -> None:
    """The float64 values to 1e-11 (or to half a unit of the last digit, where the reference gives fewer)."""
    wrong = [
        f"{label}: {value!r} vs {exact}"
        for label, value, _, exact in mazur_rows
        if abs(value - float(exact)) > max(1e-11, _unit(exact) / 2)
    ]
    assert not wrong, "; ".join(wrong)


def test_mazur_erratum_through_updated_weights() -> None:
    """Back-propagating through the already-updated w5..w8 gives the post's printed 0.291027924 (exact
    0.2910279239), and only the hidden layer's numbers change."""
    scenario = bptrace.load("mazur")
    right = engine.trace(scenario)
    wrong = engine.trace(scenario, through_updated_weights=True)
    erratum = mazur_reference.ERRATA["E_total@1"]
    assert mazur_reference.agrees(wrong.loss_after, erratum["published"])
    assert abs(wrong.loss_after - float(erratum["updated_weights"])) <= _unit(erratum["updated_weights"]) / 2
    assert wrong.loss == right.loss
    np.testing.assert_array_equal(wrong.layers[1].new_weights, right.layers[1].new_weights)
    assert not np.allclose(wrong.layers[0].new_weights, right.layers[0].new_weights, rtol=1e-12, atol=0)
    # the mistaken path terms are δ·w⁺: their sum is the mistaken ∂E/∂out_h
    np.testing.assert_allclose(wrong.path_terms(1, 0).sum(axis=1), wrong.layers[0].dE_dout[:, 0], rtol=1e-12)


# ---------------------------------------------------------------------------------------------------
# Bundled scenarios

BUNDLED = bundled_names()


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_scenario_loads_and_traces(name: str) -> None:
    """Each bundled scenario has a title and a source, and one step runs with finite numbers."""
    scenario = bptrace.load(name)
    assert scenario.title.strip() and scenario.source_note.strip()
    t = engine.trace(scenario)
    assert math.isfinite(t.loss) and math.isfinite(t.loss_after)
    assert not any(layer.kink.any() for layer in t.layers), "a relu net sits exactly on its kink"


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_scenario_oracles(name: str, check: Any) -> None:
    """The oracles, on each bundled scenario as written and with update_biases flipped."""
    scenario = bptrace.load(name)
    check(scenario)
    check(scenario.with_changes(update_biases=not scenario.update_biases))


# ---------------------------------------------------------------------------------------------------
# Generated scenarios


@HYPOTHESIS
@given(scenarios(l2=True))
def test_random_gradients_match_autograd(scenario: Scenario) -> None:
    """Every gradient of a random network equals the autograd implementation's."""
    check_against_autograd(scenario)


@HYPOTHESIS
@given(scenarios(l2=True))
def test_random_gradients_match_finite_differences(scenario: Scenario) -> None:
    """Every gradient of a random network equals central finite differences of engine.loss_with."""
    check_against_finite_differences(scenario)


@HYPOTHESIS
@given(scenarios(l2=True))
def test_random_update_rule(scenario: Scenario) -> None:
    """θ⁺ = θ − η·g, frozen biases unchanged, and the loss after the step recomputed independently."""
    check_update(scenario)


@HYPOTHESIS
@given(scenarios(l2=True))
def test_random_per_sample_gradients(scenario: Scenario) -> None:
    """Per-sample gradients are ∂E_s/∂θ and reduce (mean or sum) to the batch gradient."""
    check_per_sample(scenario)


@HYPOTHESIS
@given(scenario_dicts())
def test_random_scenario_parses_to_its_matrices(data: dict[str, Any]) -> None:
    """The matrix form loads into exactly the numbers written (rows = neurons, bias modes, samples)."""
    s = bptrace.loads(to_yaml(data))
    np.testing.assert_array_equal(s.inputs, [sample["inputs"] for sample in data["samples"]])
    np.testing.assert_array_equal(s.targets, [sample["targets"] for sample in data["samples"]])
    assert (s.loss, s.reduction, s.update_biases) == (data["loss"], data["reduction"], data["update_biases"])
    for layer, raw in zip(s.layers, data["layers"]):
        np.testing.assert_array_equal(layer.weights, raw["weights"])
        assert layer.activation == raw["activation"]
        if "biases" in raw:
            assert layer.bias_mode == "neuron"
            np.testing.assert_array_equal(layer.biases, raw["biases"])
        elif "bias" in raw:
            assert layer.bias_mode == "shared"
            np.testing.assert_array_equal(layer.bias_vector(), [raw["bias"]] * layer.size)
        else:
            assert layer.bias_mode == "none" and layer.biases.size == 0


@pytest.mark.parametrize("seed", range(8))
def test_random_scenario_yaml_helper(seed: int) -> None:
    """The plain-rng helper is reproducible from its seed and its scenarios pass every oracle."""
    text = random_scenario_yaml(np.random.default_rng(seed))
    assert text == random_scenario_yaml(seed)
    scenario = bptrace.loads(text)
    for check in CHECKS:
        check(scenario)
