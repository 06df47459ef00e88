"""BPTT against an independent oracle: HIPS autograd on the unrolled network (tests/rnn_oracle.py), and
finite differences; for the bundled scenarios, hand-written new ones and hypothesis-generated RNNs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bptrace.model.scenario import BUNDLED_DIR
from bptrace.rnn import engine, model
from tests.rnn_oracle import finite_differences, oracle_for

HERE = Path(__file__).parent
BUNDLED = sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml") if model.is_rnn_text(p.read_text(encoding="utf-8")))
NEW = sorted((HERE / "data" / "rnn").glob("*.yaml"))
RTOL = 1e-8


def agree(actual: dict[str, float], expected: dict[str, float], rtol: float = RTOL, floor: float = 1e-15) -> None:
    """|got − want| ≤ rtol·|want| + floor·(the largest |gradient|, at least 1)."""
    assert set(actual) == set(expected), (sorted(actual), sorted(expected))
    scale = max([1.0, *(abs(v) for v in expected.values())])
    for name, want in expected.items():
        got = actual[name]
        assert abs(got - want) <= rtol * abs(want) + floor * scale, (name, got, want)


def engine_gradients(s: model.RnnScenario) -> dict[str, float]:
    return {f"dE/d{p}": g for p, g in engine.trace(s).grads.items()}


def check_text(text: str, fd: bool = True) -> None:
    s = model.loads(text, "r.yaml")
    t = engine.trace(s)
    o = oracle_for(text)
    assert abs(t.total - o.total_loss()) <= 1e-12 * max(1.0, abs(o.total_loss()))
    agree(engine_gradients(s), o.named())
    if fd:
        # a five-point difference is exact to ~1e-11 absolute (rounding ε·E/h and the h⁴ term), whatever the size
        # of the gradient: a tiny gradient (2.5e-6 beside gradients of order 1) is judged by that absolute bound
        agree(engine_gradients(s), finite_differences(text), rtol=1e-6, floor=1e-9)
    # the update: θ − η·∂E/∂θ
    for p, v in t.values.items():
        assert t.new_values[p] == v - s.learning_rate * t.grads[p]


def test_bundled_exist() -> None:
    assert len(BUNDLED) >= 2 and len(NEW) >= 3


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_against_autograd_and_fd(name: str) -> None:
    check_text((BUNDLED_DIR / f"{name}.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", NEW, ids=lambda p: p.stem)
def test_new_scenarios_against_autograd_and_fd(path: Path) -> None:
    check_text(path.read_text(encoding="utf-8"))


def test_the_gradient_is_the_sum_over_the_steps_and_the_recursion_holds() -> None:
    s = model.load("rnn_tiny")
    t = engine.trace(s)
    for p, c in t.contributions.items():
        assert t.grads[p] == pytest.approx(sum(c[1:]), rel=1e-15)
    W_hh, W_hy = np.array(s.W_hh), np.array(s.W_hy)
    for step in range(1, s.steps + 1):
        later = t.delta_h[step + 1] if step < s.steps else np.zeros(s.n_h)
        want = t.f_prime[step] * (W_hy.T @ t.delta_y[step] + W_hh.T @ later)
        assert np.allclose(t.delta_h[step], want, rtol=1e-14, atol=0)
    # W_hh's term at step 3 is delta_h(3)·h(2)ᵀ
    assert t.contributions["W_hh_1_2"][3] == t.delta_h[3][0] * t.h[2][1]


def test_truncation_changes_the_gradient_and_k_ge_T_is_full() -> None:
    text = (BUNDLED_DIR / "rnn_tiny.yaml").read_text(encoding="utf-8")
    full = engine_gradients(model.loads(text))
    for k in (1, 2):
        cut = engine_gradients(model.loads(text + f"truncate: {k}\n"))
        assert cut["dE/dW_xh_1_1"] != full["dE/dW_xh_1_1"]  # x(1) = 1 meets the dropped path
        assert cut["dE/dW_hy_1_1"] == full["dE/dW_hy_1_1"]  # not recurrent: never truncated
        check_text(text + f"truncate: {k}\n")
    assert engine_gradients(model.loads(text + "truncate: 3\n")) == full
    assert engine_gradients(model.loads(text + "truncate: 9\n")) == full


# ---- hypothesis-generated RNNs ----

ACTS = ("tanh", "sigmoid", "relu", "leaky_relu", "linear", "softplus", "elu")


@st.composite
def rnn_texts(draw: st.DrawFn) -> str:
    n_in, n_h, n_y = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    T = draw(st.integers(1, 6))
    num = st.floats(-1, 1, allow_nan=False, allow_subnormal=False).map(lambda v: round(v, 3))

    def mat(r: int, c: int) -> list[list[float]]:
        return [[draw(num) for _ in range(c)] for _ in range(r)]

    f = draw(st.sampled_from(ACTS))
    loss = draw(st.sampled_from(("half_sse", "sse", "mse", "bce", "cross_entropy")))
    if loss == "bce":
        g = "sigmoid"
    elif loss == "cross_entropy":
        g, n_y = "softmax", max(2, n_y)
    else:
        g = draw(st.sampled_from(ACTS))
    loss_at = draw(st.sampled_from(("every", "last")))

    def target() -> list[float]:
        if loss == "cross_entropy":
            k = draw(st.integers(0, n_y - 1))
            return [1.0 if i == k else 0.0 for i in range(n_y)]
        if loss == "bce":
            return [draw(st.sampled_from((0.0, 0.25, 0.5, 1.0))) for _ in range(n_y)]
        return [draw(num) for _ in range(n_y)]

    data: dict = {
        "kind": "rnn",
        "inputs": [[draw(num) for _ in range(n_in)] for _ in range(T)],
        "targets": [target() for _ in range(T if loss_at == "every" else 1)],
        "hidden": {"activation": f, "W_xh": mat(n_h, n_in), "W_hh": mat(n_h, n_h)},
        "output": {"activation": g, "W_hy": mat(n_y, n_h)},
        "loss": loss,
        "loss_at": loss_at,
        "learning_rate": 0.1,
    }
    if draw(st.booleans()):
        data["hidden"]["b_h"] = [draw(num) for _ in range(n_h)]
    if draw(st.booleans()):
        data["output"]["b_y"] = [draw(num) for _ in range(n_y)]
    if draw(st.booleans()):
        data["h0"] = [draw(num) for _ in range(n_h)]
    if draw(st.booleans()):
        data["truncate"] = draw(st.integers(1, T + 1))
    return yaml.safe_dump(data)


def far_from_kinks(text: str) -> bool:
    s = model.loads(text)
    t = engine.trace(s)
    kinked = {"relu", "leaky_relu", "elu"}
    ok = True
    if s.hidden_activation in kinked:
        ok = ok and bool(np.all(np.abs(t.net_h[1:]) > 1e-3))
    if s.output_activation in kinked:
        ok = ok and bool(np.all(np.abs(t.net_y[1:]) > 1e-3))
    return ok


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rnn_texts())
def test_random_rnns_against_autograd_and_finite_differences(text: str) -> None:
    assume(far_from_kinks(text))
    check_text(text)


@pytest.mark.parametrize("mistake", ["last-step-only", "no-recurrent-path"])
def test_the_oracle_catches_a_wrong_bptt(mistake: str) -> None:
    """The oracle is not vacuous: BPTT without the sum over the steps, or without the recurrent path,
    disagrees with it."""
    text = (BUNDLED_DIR / "rnn_tiny.yaml").read_text(encoding="utf-8")
    wrong = {f"dE/d{p}": g for p, g in engine.trace(model.loads(text), mistake).grads.items()}
    with pytest.raises(AssertionError):
        agree(wrong, oracle_for(text).named())


def test_truncation_mistakes_change_the_numbers() -> None:
    s = model.load("rnn_last_truncated")
    right = engine.trace(s).grads
    for mistake in ("truncate-short", "truncate-long", "no-truncation"):
        assert engine.trace(s, mistake).grads["W_xh_1_1"] != right["W_xh_1_1"], mistake
