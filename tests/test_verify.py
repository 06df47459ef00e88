"""verify(): SymPy, finite differences and the chain rule agree, and disagree when the engine is broken."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bptrace
from bptrace import functions as network
from bptrace.engine import step as engine
from bptrace.model.scenario import loads
from bptrace.verify import verification as verify_module
from bptrace.verify.verification import verify

HIDDEN = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")


def matrix_scenario(sizes, activations, loss="half_sse", samples=1, seed=0):
    """A matrix-form scenario with seeded random weights and one bias per neuron."""
    rng = np.random.default_rng(seed)
    layers = [
        {
            "activation": activations[i - 1],
            "weights": rng.uniform(-1, 1, (sizes[i], sizes[i - 1])).round(3).tolist(),
            "biases": rng.uniform(-0.5, 0.5, sizes[i]).round(3).tolist(),
        }
        for i in range(1, len(sizes))
    ]
    rows = [
        {
            "inputs": rng.uniform(-1, 1, sizes[0]).round(3).tolist(),
            "targets": rng.uniform(0.05, 0.95, sizes[-1]).round(3).tolist(),
        }
        for _ in range(samples)
    ]
    return loads(json.dumps({"samples": rows, "layers": layers, "loss": loss}))


@pytest.fixture(scope="module")
def mazur_verification():
    return verify(engine.trace(bptrace.load("mazur")))


def test_mazur_all_ok(mazur_verification):
    v = mazur_verification
    assert v.ok and v.mode == "full" and not v.fd_sampled and v.local is not None and v.local.ok
    assert len(v.parameters) == 10 and v.sympy_derived == tuple(p.name for p in v.parameters)
    w5 = v.check("w5")
    assert abs(w5.sympy - 0.0821670405642) < 1e-10
    assert abs(v.check("w1").sympy - 0.000438567734474) < 1e-10
    for row in v.parameters:
        assert row.sympy_ok and row.fd_ok and not row.nondifferentiable and not row.fd_crosses_kink
        assert row.difference < 1e-11
        assert row.fd_step == pytest.approx(verify_module.FD_STEP)
        assert row.fd_noise < 1e-10  # 1.5·δE/h: the float64 loss is accurate to ~1e-16 here


def test_a_wrong_derivative_fails_exactly_the_affected_parameters(monkeypatch):
    # tanh′ is wrong: every parameter of the tanh layer (below the output) is affected, the output layer not
    sc = matrix_scenario([2, 3, 2], ["tanh", "sigmoid"], seed=1)
    real = network.activation_derivative

    def broken(name, z, p=None):
        value = real(name, z, p)
        return value * 1.01 if name == "tanh" else value

    monkeypatch.setattr(network, "activation_derivative", broken)
    v = verify(engine.trace(sc))
    assert not v.ok
    failed = {row.name for row in v.failures()}
    assert failed == {p.name for p in sc.parameters() if p.layer == 1}
    for row in v.failures():
        assert row.sympy_ok is False and row.fd_ok is False
    assert not v.local.ok and {c.layer for c in v.local.failures()} == {1}


def test_a_perturbed_gradient_fails_only_that_parameter():
    sc = matrix_scenario([3, 4, 2], ["sigmoid", "sigmoid"], seed=2)
    good = engine.trace(sc)
    grads = good.layers[0].grad_weights.copy()
    grads[1, 2] += 1e-7
    bad = dataclasses.replace(good, layers=[dataclasses.replace(good.layers[0], grad_weights=grads), *good.layers[1:]])
    v = verify(bad)
    assert not v.ok
    assert [row.name for row in v.failures()] == ["W1_2_3"]
    assert v.local.ok  # the local factors are still right


def test_backpropagating_through_updated_weights_is_caught():
    mazur = bptrace.load("mazur")
    v = verify(engine.trace(mazur, through_updated_weights=True))
    assert {row.name for row in v.failures()} == {"w1", "w2", "w3", "w4", "b1"}


def test_a_relu_net_exactly_zero_is_nondifferentiable_not_a_failure():
    sc = loads(
        json.dumps(
            {
                "inputs": [1.0, 1.0],
                "targets": [0.3],
                "layers": [
                    {"activation": "relu", "weights": [[0.5, -0.5], [0.25, 0.5]], "biases": [0.0, 0.1]},
                    {"activation": "sigmoid", "weights": [[0.4, 0.6]], "biases": [0.2]},
                ],
            }
        )
    )
    t = engine.trace(sc)
    assert t.layers[0].kink[0, 0]
    v = verify(t)
    assert v.ok
    kinked = {row.name for row in v.nondifferentiable}
    assert kinked == {"W1_1_1", "W1_1_2", "b1_1"}
    for name in kinked:
        row = v.check(name)
        assert row.ok and row.fd_crosses_kink and row.fd_ok is None
        # SymPy uses the engine's convention relu′(0) = 0, so it agrees with the chain rule even here
        assert row.chain_rule == 0.0 and row.sympy == 0.0 and row.sympy_ok
        # the finite difference straddles the kink: half the right-hand slope
        assert row.finite_difference != pytest.approx(0.0, abs=1e-6) or name == "W1_1_2"
    assert all(row.fd_ok for row in v.parameters if row.name not in kinked)


def test_a_loss_flat_in_float64_makes_finite_differences_inconclusive_not_failed():
    # out_o1 = σ(34.5) is within a few ulp of 1, so bce's ln(1 − out) is quantized: E does not move in
    # float64 for any step tried, although ∂E/∂W2_1_1 = out − t ≈ 1 (SymPy, in 30 digits, confirms it)
    sc = loads(
        json.dumps(
            {
                "inputs": [2.5, 0.0],
                "targets": [0.0],
                "loss": "bce",
                "layers": [
                    {"activation": "relu", "weights": [[0.0, 0.0], [3.0, 0.0]], "biases": [1.0, 3.0]},
                    {"activation": "sigmoid", "weights": [[0.0, 3.0]], "biases": [3.0]},
                ],
            }
        )
    )
    v = verify(engine.trace(sc))
    row = v.check("W2_1_1")
    assert row.fd_inconclusive and row.fd_ok is None and row.finite_difference == 0.0
    assert row.sympy_ok and row.chain_rule == pytest.approx(1.0) and row.ok
    assert row.fd_noise > 1e-6  # δE: the float64 loss is off in its leading digits
    assert all(r.ok for r in v.parameters)
    # σ′(34.5) ≈ 1.04e-15: a local factor fails exactly when the engine's σ′ is not σ′ to 1e-9 (mpmath's)
    import mpmath

    exact = float(mpmath.exp(-34.5) / (1 + mpmath.exp(-34.5)) ** 2)
    sigma_prime = float(engine.trace(sc).layers[1].dout_dnet[0, 0])
    assert [c.neuron for c in v.local.failures()] == ([] if abs(sigma_prime - exact) <= 1e-9 * exact else ["o1"])
    # without SymPy (no δE) the same verdict comes from the steps: every difference exactly 0
    assert verify(engine.trace(sc), "off").check("W2_1_1").fd_inconclusive


def test_sample_mode_on_a_bigger_network():
    sc = matrix_scenario([16, 32, 32, 10], ["sigmoid", "tanh", "sigmoid"], seed=4)
    assert verify_module.default_mode(sc) == "sample"
    v = verify(engine.trace(sc))
    assert v.mode == "sample" and v.ok and not v.fd_sampled
    chosen = set(v.sympy_derived)
    assert chosen == {p.name for p in verify_module.sample(sc)}
    assert len(chosen) == 3 * verify_module.SAMPLE_PER_LAYER
    for layer in (1, 2, 3):
        names = [p.name for p in sc.parameters() if p.layer == layer]
        assert names[0] in chosen and names[-1] in chosen  # first weight, last bias
    for row in v.parameters:
        assert (row.sympy is None) == (row.name not in chosen)
        assert row.finite_difference is not None and row.fd_ok
    assert v.local.ok


def test_off_mode_and_bad_mode():
    t = engine.trace(bptrace.load("mazur"))
    v = verify(t, "off")
    assert v.ok and v.local is None and v.sympy_derived == ()
    assert all(row.sympy is None and row.fd_ok for row in v.parameters)
    with pytest.raises(ValueError, match="unknown verification mode"):
        verify(t, "everything")


def test_huge_networks_sample_finite_differences_and_skip_wide_templates(monkeypatch):
    monkeypatch.setattr(verify_module, "FD_FULL_LIMIT", 50)
    monkeypatch.setattr(verify_module, "FD_SAMPLE_PER_LAYER", 4)
    monkeypatch.setattr(verify_module, "SAMPLE_PATH_LIMIT", 5)
    sc = matrix_scenario([4, 8, 8, 3], ["relu", "sigmoid", "linear"], "mse", samples=2, seed=5)
    v = verify(engine.trace(sc), "sample")
    assert v.ok and v.fd_sampled
    checked = [row for row in v.parameters if row.finite_difference is not None]
    assert 0 < len(checked) < len(v.parameters)
    assert any("layer 1: not derived" in note for note in v.notes)  # 8·3 = 24 paths > 5
    assert not any(row.layer == 1 and row.sympy is not None for row in v.parameters)
    assert any(row.layer == 3 and row.sympy is not None for row in v.parameters)


# ---- random networks: every activation, every loss, 1–3 samples ----

NUMBER = st.floats(-1.0, 1.0, allow_nan=False).map(lambda x: round(x, 2))


@st.composite
def scenario_texts(draw):
    depth = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 3)) for _ in range(depth + 1)]
    loss = draw(st.sampled_from(network.LOSSES))
    if loss == "cross_entropy":
        output = "softmax"
    elif loss == "bce":
        output = "sigmoid"
    else:
        output = draw(st.sampled_from(HIDDEN))
    activations = [draw(st.sampled_from(HIDDEN)) for _ in range(depth - 1)] + [output]
    layers = []
    for i, activation in enumerate(activations):
        layer = {
            "activation": activation,
            "weights": [[draw(NUMBER) for _ in range(sizes[i])] for _ in range(sizes[i + 1])],
        }
        bias = draw(st.sampled_from(["none", "neuron", "shared"]))
        if bias == "neuron":
            layer["biases"] = [draw(NUMBER) for _ in range(sizes[i + 1])]
        elif bias == "shared":
            layer["bias"] = draw(NUMBER)
        if activation == "leaky_relu":
            layer["leaky_slope"] = draw(st.sampled_from([0.01, 0.2]))
        layers.append(layer)
    samples = []
    for _ in range(draw(st.integers(1, 3))):
        n = sizes[-1]
        if loss == "cross_entropy":
            targets = [0.0] * n
            targets[draw(st.integers(0, n - 1))] = 1.0
        elif loss == "bce":
            targets = [draw(st.floats(0.0, 1.0).map(lambda x: round(x, 2))) for _ in range(n)]
        else:
            targets = [draw(NUMBER) for _ in range(n)]
        samples.append({"inputs": [draw(NUMBER) for _ in range(sizes[0])], "targets": targets})
    return json.dumps(
        {"samples": samples, "layers": layers, "loss": loss, "reduction": draw(st.sampled_from(["mean", "sum"]))}
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_texts())
def test_random_networks_verify(text):
    sc = loads(text)
    v = verify(engine.trace(sc))
    assert v.mode == "full"
    assert v.ok, [row for row in v.failures()] or v.local.failures()
    for row in v.parameters:
        assert row.sympy is not None
        if not row.nondifferentiable:
            assert row.sympy_ok, row
            assert row.fd_ok or row.fd_crosses_kink or row.fd_inconclusive, row


def _stacked_against_exact(sc, monkeypatch):
    """The finite differences of the stacked evaluation (large networks) against the engine's whole forward
    pass per point (small networks): the same verdict, steps and reasons, and values equal within the bound
    on their rounding."""
    params = sc.parameters()
    t = engine.trace(sc)
    reference = {p.name: t.grad(p) for p in params}
    exact = verify_module.finite_differences(sc, params, reference=reference)
    monkeypatch.setattr(verify_module, "EXACT_LIMIT", 0)
    stacked = verify_module.finite_differences(sc, params, reference=reference)
    monkeypatch.undo()
    for p in params:
        a, b = exact[p.name], stacked[p.name]
        assert (a.step, a.crosses_kink, a.inconclusive, a.reason) == (b.step, b.crosses_kink, b.inconclusive, b.reason)
        if a.value == a.value:
            assert abs(a.value - b.value) <= 2 * (a.noise or 0.0) + 1e-9 * abs(a.value), (p.name, a, b)


@pytest.mark.parametrize(
    "name", ["mazur", "ng_shallow", "cs224n_window", "learner_004_l2", "softmax_classifier", "deep_general_delta"]
)
def test_stacked_finite_differences_match_the_forward_pass_per_point_bundled(name, monkeypatch):
    _stacked_against_exact(bptrace.load(name), monkeypatch)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(scenario_texts())
def test_stacked_finite_differences_match_the_forward_pass_per_point(monkeypatch, text):
    _stacked_against_exact(loads(text), monkeypatch)


def test_stacked_finite_differences_see_a_kink_crossed_like_the_forward_pass(monkeypatch):
    """relu nets a hair from 0: the stencil crosses them, and both evaluations name the same kink."""
    sc = matrix_scenario([3, 4, 2], ["relu", "sigmoid"], samples=2, seed=5)
    w = sc.layers[0].weights.copy()
    x = sc.all_inputs()
    w[1, 0] -= (x[0] @ w[1] + sc.layers[0].biases[1] - 1e-6) / x[0, 0]  # net_h1_2 of sample 1 = 1e-6
    sc = sc.with_changes(layers=(dataclasses.replace(sc.layers[0], weights=w), sc.layers[1]))
    _stacked_against_exact(sc, monkeypatch)
    monkeypatch.setattr(verify_module, "EXACT_LIMIT", 0)
    fd = verify_module.finite_differences(sc, sc.parameters())
    assert any(r.reason and "net_h1_2" in r.reason for r in fd.values())


# ---- SymPy's work bounded over the whole run (issue 15, "Unbounded work") ----


def test_a_100_layer_network_is_verified_in_bounded_sympy_work_and_says_what_it_sampled():
    # 100 sigmoid layers of width 2 (603 parameters, 2¹⁰⁰ paths from the first layer): once minutes of SymPy
    from bptrace.verify import symbolic, symbolic_layers

    sc = matrix_scenario([2] + [2] * 100 + [1], ["sigmoid"] * 100 + ["linear"], seed=8)
    assert sc.parameter_count() == 603
    symbolic.clear_cache()
    before = symbolic_layers.DERIVATIONS[0]
    v = verify(engine.trace(sc))
    assert v.mode == "sample" and v.ok
    assert symbolic_layers.DERIVATIONS[0] - before <= 6  # a few templates, however deep
    sampled = verify_module.sample(sc)
    work = sum(verify_module.sympy_work(sc, p) for p in sampled)
    assert work <= verify_module.SAMPLE_WORK_LIMIT
    assert set(v.sympy_derived) == {p.name for p in sampled}  # every layer's sample, the first layer's too
    assert {sc.parameter(name).layer for name in v.sympy_derived} == set(range(1, 102))
    assert not any("not derived" in note for note in v.notes)


def test_sympy_work_past_the_bound_is_sampled_round_by_round_and_named(monkeypatch):
    sc = matrix_scenario([3, 4, 4, 4, 2], ["sigmoid", "tanh", "sigmoid", "linear"], samples=2, seed=9)
    sampled = verify_module.sample(sc, 3)
    cost = {p.name: verify_module.sympy_work(sc, p) for p in sampled}
    first_of_each = [next(p for p in sampled if p.layer == layer) for layer in range(1, 5)]
    limit = sum(cost[p.name] for p in first_of_each)  # room for one parameter of every layer, no more
    monkeypatch.setattr(verify_module, "SAMPLE_WORK_LIMIT", limit)
    v = verify(engine.trace(sc), "sample", sample_per_layer=3)
    derived = set(v.sympy_derived)
    assert sum(cost[name] for name in derived) <= limit
    assert {p.name for p in first_of_each} <= derived < {p.name for p in sampled}
    (note,) = [n for n in v.notes if "sampled parameters" in n]
    left = [p.name for p in sampled if p.name not in derived]
    assert f"SymPy derived {len(derived)} of the {len(sampled)} sampled parameters" in note
    assert f"past {limit:,}" in note and left[0] in note
    for row in v.parameters:
        assert (row.sympy is None) == (row.name not in derived)
    assert v.ok


def test_a_broken_engine_fails_on_the_layered_route(monkeypatch):
    # the layered SymPy route (4 layers deep) still catches a wrong closed-form derivative of the engine's
    from bptrace.verify import symbolic

    sc = matrix_scenario([2, 3, 3, 3, 2], ["tanh", "sigmoid", "tanh", "sigmoid"], seed=1)
    assert symbolic.layered_route(sc, sc.parameters()[0])
    real = network.activation_derivative

    def broken(name, z, p=None):
        value = real(name, z, p)
        return value * 1.001 if name == "sigmoid" else value

    monkeypatch.setattr(network, "activation_derivative", broken)
    v = verify(engine.trace(sc), "full")
    assert not v.ok
    layer_one = [row for row in v.parameters if row.layer == 1]
    assert all(row.sympy_ok is False for row in layer_one)
