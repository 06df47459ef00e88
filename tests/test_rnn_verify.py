"""The verification of recurrent scenarios: SymPy on the unrolled network and finite differences of the
(truncated) objective agree with the oracle, say which checks ran, and catch a wrong gradient."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.model.scenario import BUNDLED_DIR, bundled_rnn_names
from bptrace.rnn import engine, model, verify
from tests.rnn_oracle import oracle_for

HERE = BUNDLED_DIR.parent.parent / "tests" / "data" / "rnn"


@pytest.mark.parametrize("name", bundled_rnn_names())
def test_sympy_and_fd_of_every_bundled_gradient_are_the_oracle(name: str) -> None:
    t = engine.trace(model.load(name))
    v = verify.verify(t)
    assert v.ok and v.sympy_mode == "all" and v.loss_ok
    oracle = oracle_for((BUNDLED_DIR / f"{name}.yaml").read_text(encoding="utf-8")).named()
    for c in v.checks:
        want = oracle[f"dE/d{c.name}"]
        assert c.sympy is not None and abs(c.sympy - want) <= 1e-9 * abs(want) + 1e-15
        assert c.fd_judged and c.finite_difference is not None
        assert abs(c.finite_difference - want) <= 1e-6 * abs(want) + 1e-9


def test_a_larger_rnn_says_sympy_was_not_used_and_fd_checks_all() -> None:
    s = model.load(str(HERE / "t5_tanh_sigmoid_bce.yaml"))
    t = engine.trace(s)
    assert verify.sympy_cost(t) == 45
    v = verify.verify(t)
    assert v.sympy_mode == "none" and v.ok
    assert all(c.sympy is None and c.fd_judged for c in v.checks)
    assert len(v.checks) == len(s.parameters())


def test_a_sample_for_a_middling_rnn() -> None:
    text = (
        (BUNDLED_DIR / "rnn_tiny.yaml")
        .read_text(encoding="utf-8")
        .replace("inputs: [1.0, 0.5, -1.0]", "inputs: [1.0, 0.5, -1.0, 0.5]")
    )
    text = text.replace("targets: [0.5, -0.5, 0.25]", "targets: [0.5, -0.5, 0.25, 0.1]")
    t = engine.trace(model.loads(text))
    assert verify.sympy_cost(t) == 16
    v = verify.verify(t)
    assert v.sympy_mode == "sample" and v.ok
    checked = [c.name for c in v.checks if c.sympy is not None]
    assert checked == ["W_xh_1_1", "W_hh_1_1", "b_h_1", "W_hy_1_1", "b_y_1"]


def test_a_wrong_gradient_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine.trace

    def wrong(s: model.RnnScenario, mistake: str | None = None) -> engine.RnnTrace:
        t = real(s, mistake)
        t.grads["W_hh_1_2"] += 1e-6
        return t

    t = wrong(model.load("rnn_tiny"))
    v = verify.verify(t)
    assert not v.ok and [c.name for c in v.checks if not c.ok] == ["W_hh_1_2"]
    monkeypatch.setattr(engine, "trace", wrong)
    result = CliRunner().invoke(main, ["run", "rnn_tiny"])
    assert result.exit_code == 1 and "MISMATCH" in result.stdout


def test_truncation_is_checked_by_its_definition() -> None:
    t = engine.trace(model.load("rnn_last_truncated"))
    full = engine.trace(model.loads((BUNDLED_DIR / "rnn_last_truncated.yaml").read_text().replace("truncate: 2\n", "")))
    v = verify.verify(t)
    assert v.truncated and v.window == 2 and v.ok
    differs = [c.name for c in v.checks if abs(full.grads[c.name] - c.chain_rule) > 1e-6]
    assert "W_xh_1_1" in differs  # the truncated gradient is not the full one, and both checks know it


def test_a_kink_is_shown_not_judged() -> None:
    text = (
        "kind: rnn\ninputs: [1, 1]\ntargets: [0.5, 0.2]\nhidden:\n  activation: relu\n  W_xh: [[0.5]]\n"
        "  W_hh: [[0.5]]\n  b_h: [-0.5]\noutput:\n  activation: linear\n  W_hy: [[1]]\nloss: half_sse\n"
    )
    t = engine.trace(model.loads(text))
    assert t.kinks == ["net_h1@t1", "net_h1@t2"]
    v = verify.verify(t)
    assert v.ok
    crossed = {c.name for c in v.checks if not c.fd_judged}
    assert "W_xh_1_1" in crossed and all("kink" in c.note for c in v.checks if c.name in crossed)


def test_verify_full_on_a_large_rnn_is_refused_with_the_way_out() -> None:
    path = str(HERE / "t5_tanh_sigmoid_bce.yaml")
    result = CliRunner().invoke(main, ["run", path, "--verify", "full"])
    assert result.exit_code == 2 and "--verify auto" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
