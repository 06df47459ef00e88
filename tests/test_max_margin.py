"""The max-margin loss of the CS224n-style notes: J = max(0, Δ + s(x_c) − s(x)), checked against autograd."""

from __future__ import annotations

import numpy as np
import pytest
from autograd import grad
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from test_engine import flat, params_of, reference_loss

import bptrace
from bptrace.cli.main import main
from bptrace.engine import step as engine
from bptrace.engine.quantities import value as quantity_value
from bptrace.engine.step import hinge_argument
from bptrace.errors import ScenarioError
from bptrace.model import names


def window_scenario(rng: np.random.Generator, depth: int, samples: int, margin: float) -> str:
    """A random max-margin scenario: hidden layers of mixed activations, one linear score neuron."""
    n_in = int(rng.integers(2, 6))
    lines = ["loss: max_margin", f"margin: {margin!r}", "samples:"]
    for _ in range(samples):
        lines.append(f"  - inputs: {rng.uniform(-1, 1, n_in).round(3).tolist()}")
        lines.append(f"    corrupt: {rng.uniform(-1, 1, n_in).round(3).tolist()}")
    lines.append("layers:")
    previous = n_in
    for k in range(depth):
        last = k == depth - 1
        n = 1 if last else int(rng.integers(1, 5))
        activation = "linear" if last else rng.choice(["sigmoid", "tanh", "leaky_relu"])
        lines.append(f"  - activation: {activation}")
        lines.append(f"    weights: {rng.uniform(-1.5, 1.5, (n, previous)).round(3).tolist()}")
        if not last:
            lines.append(f"    biases: {rng.uniform(-0.5, 0.5, n).round(3).tolist()}")
        previous = n
    lines.append(f"learning_rate: {rng.uniform(0.05, 1):.3f}")
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10**6),
    depth=st.integers(1, 3),
    samples=st.integers(1, 3),
    margin=st.sampled_from([1.0, 0.5, 0.1]),
)
def test_random_max_margin_matches_autograd(seed: int, depth: int, samples: int, margin: float) -> None:
    s = bptrace.loads(window_scenario(np.random.default_rng(seed), depth, samples, margin))
    t = engine.trace(s)
    arg = hinge_argument(s, t.layers[-1].out)
    if np.any(np.abs(arg) < 1e-6):  # too close to the hinge's corner for a derivative to exist
        return
    expected = flat(grad(lambda ps: reference_loss(ps, s))(params_of(s)), s)
    actual = np.array([t.grad(p) for p in s.parameters()])
    np.testing.assert_allclose(actual, expected, rtol=1e-8, atol=1e-12)
    assert t.loss == pytest.approx(float(reference_loss(params_of(s), s)), rel=1e-12)


def test_bundled_window_one_sample_violates_one_meets_the_margin() -> None:
    t = bptrace.run("cs224n_window")
    s = t.scenario
    assert s.inputs.shape == (2, 20) and s.corrupt.shape == (2, 20)  # 5 words × 4 dimensions
    assert s.layers[0].weights.shape == (8, 20) and s.layers[1].weights.shape == (1, 8)
    arg = hinge_argument(s, t.layers[-1].out)
    assert arg[0] > 0 and arg[1] < 0
    # the sample that meets the margin contributes exactly nothing to any gradient
    for p in s.parameters():
        assert t.sample_grad(p)[1] == 0.0
    # ∂J/∂s = −1 through x, +1 through x_c, while the margin is violated
    assert quantity_value(names.parse("dE/dout_o1:1", s), t) == -1.0
    assert quantity_value(names.parse("dE/dout_o1:1c", s), t) == 1.0


def test_margin_met_everywhere_means_no_update() -> None:
    text = window_scenario(np.random.default_rng(3), 2, 1, 1.0).replace("margin: 1.0", "margin: -100.0")
    t = engine.trace(bptrace.loads(text))
    assert t.loss == 0.0
    assert all(t.grad(p) == 0.0 for p in t.scenario.parameters())


def test_hinge_corner_is_flagged_not_differentiable() -> None:
    # s = w·x with x = [1], x_c = [0]: Δ + s_c − s = 1 + 0 − w = 0 exactly at w = 1
    text = "loss: max_margin\ninputs: [1]\ncorrupt: [0]\nlayers:\n  - activation: linear\n    weights: [[1.0]]\n"
    t = engine.trace(bptrace.loads(text))
    assert t.layers[-1].kink.all()
    assert t.grad(t.scenario.parameter("W1_1_1")) == 0.0  # the engine's convention at the corner


def test_run_shows_both_windows_and_explains_a_met_margin() -> None:
    result = CliRunner().invoke(main, ["run", "cs224n_window", "--verify", "off"])
    assert result.exit_code == 0, result.stderr
    assert "margin met" in result.stdout and "1 x_c" in result.stdout and "∂J/∂s_c = +1" in result.stdout


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "loss: max_margin\ninputs: [1]\ntargets: [1]\ncorrupt: [0]\nlayers: [{weights: [[1]]}]\n",
            "max_margin has no targets",
        ),
        ("loss: max_margin\ninputs: [1]\nlayers: [{weights: [[1]]}]\n", "missing required key 'corrupt'"),
        (
            "loss: max_margin\ninputs: [1]\ncorrupt: [0]\nlayers: [{weights: [[1], [2]]}]\n",
            "max_margin scores each window with one output neuron",
        ),
        (
            "loss: max_margin\ninputs: [1, 2]\ncorrupt: [0]\nlayers: [{weights: [[1, 1]]}]\n",
            "this window has 1 inputs but the first has 2",
        ),
        (
            "inputs: [1]\ntargets: [1]\ncorrupt: [0]\nlayers: [{weights: [[1]]}]\n",
            "corrupt belongs to the max_margin loss",
        ),
    ],
)
def test_bad_max_margin_scenarios(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        bptrace.loads(text, "m.yaml")
    assert message in str(info.value)
