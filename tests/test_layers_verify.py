"""The verification of layer stacks: it passes the right gradients, catches a wrong one (exit 1), samples SymPy
beyond SYMPY_ALL parameters and says so, and leaves the gradients behind a kink not judged, with the reason."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.layers import engine, model, verify

KINKED = """
kind: layers
samples: [{inputs: [[1, 1], [0.5, 0.25]], targets: [1]}]
layers:
  - {type: conv2d, channels_in: 1, channels_out: 1, kernel_size: 1, kernels: [[[0.5]]], biases: [0.1]}
  - {type: maxpool, size: 2}
  - {type: flatten}
  - {type: dense, weights: [[0.8]], biases: [0.2], activation: sigmoid}
loss: half_sse
learning_rate: 0.1
"""


@pytest.mark.parametrize("name", model.bundled_layers_names())
def test_bundled_verify_by_both_methods(name: str) -> None:
    v = verify.verify(engine.trace(model.load(name)))
    assert v.ok and v.judged == v.total == v.sympy_count == v.fd_count


def test_a_wrong_gradient_is_caught_by_both_methods() -> None:
    t = engine.trace(model.load("layers_conv_pool"))
    t.gradients["K1_2_1"] *= 1.0001
    v = verify.verify(t)
    assert not v.ok
    bad = [c for c in v.checks if c.status == "mismatch"]
    assert [c.name for c in bad] == ["K1_2_1"]
    assert bad[0].sympy is not None and bad[0].fd is not None


def test_run_exits_1_on_a_mismatch(monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine.trace

    def broken(s: model.LayersScenario, mistake: str | None = None) -> engine.LayersTrace:
        t = real(s, mistake)
        t.gradients["gamma2_1"] += 1e-3
        return t

    monkeypatch.setattr(engine, "trace", broken)
    result = CliRunner(env={"COLUMNS": "120"}).invoke(main, ["run", "layers_batchnorm"])
    assert result.exit_code == 1
    assert "do not agree: gamma2_1" in result.stdout


def test_a_tie_in_max_pooling_is_not_judged_with_its_reason() -> None:
    t = engine.trace(model.loads(KINKED))
    assert [k.layer for k in t.kinks] == [2]
    v = verify.verify(t)
    by = {c.name: c for c in v.checks}
    for name in ("K1_1_1", "b1_1"):
        assert by[name].status == "not judged"
        assert "max pooling ties at a2_1_1:1" in by[name].reason
    for name in ("W4_1_1", "b4_1"):
        assert by[name].status == "ok"
    assert v.judged == 2 and v.ok


def test_sympy_is_sampled_beyond_the_limit_and_the_report_says_so() -> None:
    weights = [[round(0.01 * (i + 3 * j) - 0.2, 3) for j in range(9)] for i in range(5)]
    text = (
        "kind: layers\n"
        "samples: [{inputs: [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9], targets: [0, 1, 0, 1, 0]}]\n"
        f"layers: [{{type: dense, weights: {weights}, biases: [0, 0, 0, 0, 0], activation: tanh}}]\n"
        "loss: mse\nlearning_rate: 0.1\n"
    )
    t = engine.trace(model.loads(text))
    v = verify.verify(t)
    assert v.total == 50 > verify.SYMPY_ALL
    assert v.sympy_count == verify.SYMPY_SAMPLE and v.fd_count == 50 and v.ok
    from bptrace.render.layers_out import summary

    assert f"SymPy checked {verify.SYMPY_SAMPLE}, finite differences 50" in summary(v)


def test_the_parameters_are_listed_once_not_searched_per_parameter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each parameter's place was found by listing every layer's parameters again (quadratic: a 60×60 dense
    layer's 3,660 parameters spent 100 of 144 s of the verification there). Counted, not timed."""
    weights = [[round(0.01 * (i - j), 3) for j in range(12)] for i in range(10)]
    text = (
        "kind: layers\n"
        f"samples: [{{inputs: {[0.1 * k for k in range(12)]}, targets: {[0.5] * 10}}}]\n"
        f"layers: [{{type: dense, weights: {weights}, biases: {[0] * 10}, activation: tanh}}]\n"
        "loss: half_sse\nlearning_rate: 0.1\n"
    )
    t = engine.trace(model.loads(text))
    calls = []
    listed = engine.param_names
    monkeypatch.setattr(engine, "param_names", lambda layer: calls.append(layer) or listed(layer))
    v = verify.verify(t)
    assert v.total == 130 and v.fd_count == 130 and v.ok
    assert len(calls) <= len(t.scenario.layers)
