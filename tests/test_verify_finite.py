"""One finite difference and one tolerance model for every kind (bptrace/verify/finite.py): a finite
difference the float64 loss cannot support is "not judged" with its reason, never a MISMATCH, and a wrong
gradient is still a MISMATCH for every kind. Each scenario below was reported as a false MISMATCH; the
oracles are autograd and mpmath, never bptrace's own numbers."""

from __future__ import annotations

import math
from pathlib import Path

import mpmath
import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.layers import engine as layers_engine
from bptrace.layers import model as layers_model
from bptrace.layers import verify as layers_verify
from bptrace.rnn import engine as rnn_engine
from bptrace.rnn import model as rnn_model
from bptrace.rnn import verify as rnn_verify
from bptrace.verify import finite
from tests.rnn_oracle import oracle_for

# hypothesis's draw, written out: a saturated sigmoid under bce (z = 27.5 for the first sample: 1 − a ≈ 1e-12)
SATURATED = """
kind: layers
samples:
  - {inputs: [1.0, 2.0], targets: [0.0]}
  - {inputs: [-1.0, 0.5], targets: [1.0]}
layers:
  - {type: dense, weights: [[9.0, 9.0]], biases: [0.5], activation: sigmoid}
loss: bce
learning_rate: 0.1
"""

RNN_HUGE_STATE = (
    (Path(__file__).parent.parent / "scenarios" / "rnn_tiny.yaml").read_text().replace("h0: [0, 0]", "h0: [1.0e308, 0]")
)


def _exact_saturated() -> dict[str, float]:
    """dE/dθ of the mean bce of one sigmoid neuron in 60-digit arithmetic: dE/dz = (σ(z) − t)/m exactly."""
    mpmath.mp.dps = 60
    samples = [([1.0, 2.0], 0.0), ([-1.0, 0.5], 1.0)]
    w, b = [mpmath.mpf(9), mpmath.mpf(9)], mpmath.mpf(0.5)
    out = {"W1_1_1": mpmath.mpf(0), "W1_1_2": mpmath.mpf(0), "b1_1": mpmath.mpf(0)}
    for x, t in samples:
        z = w[0] * x[0] + w[1] * x[1] + b
        # E = −t ln a − (1 − t) ln(1 − a), a = σ(z), differentiated by mpmath itself
        e = mpmath.diff(
            lambda zz, t=t: (
                -t * mpmath.log(1 / (1 + mpmath.exp(-zz))) - (1 - t) * mpmath.log(1 - 1 / (1 + mpmath.exp(-zz)))
            ),
            z,
        )
        out["W1_1_1"] += e * x[0] / 2
        out["W1_1_2"] += e * x[1] / 2
        out["b1_1"] += e / 2
    return {k: float(v) for k, v in out.items()}


def test_saturated_sigmoid_under_bce_the_engine_is_exact_and_the_noisy_difference_not_judged(tmp_path: Path) -> None:
    # the layer engine computed dE/dz = ∂E/∂a·σ′(z) with ∂E/∂a from the rounded output, off by 1e-5 relative
    # (SymPy disagreed, rightly); the five-point difference of a loss whose ln(1 − a) has 5 digits left is
    # noise (the steps h and 10h disagree): not judged, with the reason, never a MISMATCH
    s = layers_model.loads(SATURATED)
    t = layers_engine.trace(s)
    exact = _exact_saturated()
    for name, want in exact.items():
        assert math.isclose(t.gradients[name], want, rel_tol=1e-13), (name, t.gradients[name], want)
    v = layers_verify.verify(t)
    assert v.ok
    noisy = [c for c in v.checks if "finite difference not judged" in str(c.reason)]
    assert noisy and all("too noisy" in str(c.reason) or "too coarse" in str(c.reason) for c in noisy)
    path = tmp_path / "saturated.yaml"
    path.write_text(SATURATED)
    result = CliRunner().invoke(main, ["run", str(path)])
    assert result.exit_code == 0, result.output
    assert "MISMATCH" not in result.output


def test_a_huge_initial_state_sympy_carries_enough_digits(tmp_path: Path) -> None:
    # h0: [1e308, 0]: SymPy at 30 digits added the O(1) path to 2.5e307·sech²(5e307) (exactly 0) and lost it
    # (2.5e307 + 1.0 = 2.5e307), so its dE/dW_hh_2_1 was 0 where autograd, the engine and the finite
    # difference give 0.48: the oracle was wrong; it now carries 30 digits plus the scenario's decades
    s = rnn_model.loads(RNN_HUGE_STATE)
    t = rnn_engine.trace(s)
    want = oracle_for(RNN_HUGE_STATE).named()
    for name in s.parameters():
        assert math.isclose(t.grads[name], want[f"dE/d{name}"], rel_tol=1e-9, abs_tol=1e-12), name
    assert rnn_verify.digits(s) == 30 + 308
    v = rnn_verify.verify(t, only="W_hh_2_1")
    (check,) = v.checks
    assert check.sympy is not None and math.isclose(check.sympy, want["dE/dW_hh_2_1"], rel_tol=1e-9)
    assert check.ok and check.fd_judged


# ---- a wrong gradient is still a MISMATCH, for every kind (the rounding bound hides no error) ----


def test_layers_a_wrong_gradient_is_caught_by_the_finite_difference_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    s = layers_model.load("layers_conv_pool")
    t = layers_engine.trace(s)
    name = next(iter(t.params))
    monkeypatch.setattr(layers_verify, "_sympy", lambda *_a: None)  # the finite difference alone judges
    t.gradients[name] *= 1 + 1e-5
    (check,) = layers_verify.verify(t, only=name).checks
    assert check.sympy is None and check.status == "mismatch"


def test_layers_saturated_a_wrong_gradient_is_still_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    # where the difference is noisy the SymPy check still judges; where it is clean (W1_1_1 of the second
    # sample's neuron) a 1e-5 error is caught by either
    t = layers_engine.trace(layers_model.loads(SATURATED))
    for name in t.params:
        t.gradients[name] *= 1 + 1e-5
    assert all(c.status == "mismatch" for c in layers_verify.verify(t).checks)


def test_rnn_a_wrong_gradient_is_caught_by_the_finite_difference_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    s = rnn_model.load("rnn_tiny")
    t = rnn_engine.trace(s)
    monkeypatch.setattr(rnn_verify, "sympy_mode", lambda *_a: "none")
    for name in s.parameters():
        t.grads[name] *= 1 + 1e-5
    v = rnn_verify.verify(t)
    assert all(c.sympy is None and c.fd_judged and not c.ok for c in v.checks if t.grads[c.name] != 0)
    assert not v.ok


def test_the_shared_difference_judges_noise_and_catches_an_error() -> None:
    # E(θ) = θ² + rounding noise far above 4ε|E|: a wrong g is a MISMATCH on a clean loss, noise is not judged
    clean = finite.difference(lambda x: (x * x, None), 3.0, 6.0, 9.0)
    assert finite.judged(clean) and finite.agrees(clean, 6.0)
    wrong = finite.difference(lambda x: (x * x, None), 3.0, 6.0 * (1 + 1e-5), 9.0)
    assert finite.judged(wrong) and not finite.agrees(wrong, 6.0 * (1 + 1e-5))
    import random

    rng = random.Random(1)
    noisy = finite.difference(lambda x: (x * x + rng.uniform(-1e-6, 1e-6), None), 3.0, 6.0 * (1 + 1e-3), 9.0)
    assert not finite.judged(noisy) and noisy.reason


def test_graph_a_wrong_gradient_is_caught_by_the_finite_difference_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    from bptrace.graph import engine as graph_engine
    from bptrace.graph import model as graph_model
    from bptrace.graph import verify as graph_verify

    t = graph_engine.trace(graph_model.load("graph_sigmoid_neuron"))
    monkeypatch.setattr(graph_verify, "SYMPY_SIZE_LIMIT", 0)  # the finite difference alone judges
    for name, node in list(t.nodes.items()):
        t.nodes[name] = dataclasses.replace(node, grad=node.grad * (1 + 1e-5))
    v = graph_verify.verify(t)
    assert not v.sympy_used
    wrong = [c for c in v.checks if c.chain_rule != 0]
    assert wrong and all(c.fd_judged and not c.ok for c in wrong)
