"""The verification never says more than it checked (issue 21, "Never overstate").

A finite difference whose stencil crosses a kink (relu, leaky_relu, the max-margin hinge) measures neither
one-sided derivative: it is shown as not judged with the reason, in the table, in JSON and in `explain`,
and the closing line counts what was judged. Tiny values are judged relatively.
"""

from __future__ import annotations

import json
from pathlib import Path

import mpmath
import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.engine import step as engine
from bptrace.engine.quantities import value as quantity_value
from bptrace.model.scenario import loads
from bptrace.verify import kinks, tolerances
from bptrace.verify.verification import finite_differences, verify

# the audit's scenario: net_h1_1 = 1e-9, just above relu's kink; every stencil h ≥ 1e-6 crosses it
AUDIT = {
    "title": "A relu net just past its kink",
    "inputs": [1.0],
    "targets": [1.0],
    "loss": "half_sse",
    "layers": [
        {"activation": "relu", "weights": [[0.0]], "biases": [1.0e-9]},
        {"activation": "linear", "weights": [[1.0]]},
    ],
}


def _write(tmp_path: Path, data: dict, name: str = "s.yaml") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))  # JSON is YAML
    return str(path)


def _hinge(weight: float) -> dict:
    # s = w·1, s_c = w·0, Δ = 1: the hinge argument Δ + s_c − s = 1 − w
    return {
        "title": "A hinge near its corner",
        "loss": "max_margin",
        "margin": 1.0,
        "samples": [{"inputs": [1.0], "corrupt": [0.0]}],
        "layers": [{"activation": "linear", "weights": [[weight]]}],
    }


def test_the_audit_scenario_shows_the_finite_difference_as_not_judged(tmp_path: Path) -> None:
    path = _write(tmp_path, AUDIT)
    result = CliRunner().invoke(main, ["run", path])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    text = " ".join(result.stdout.split())  # table cells wrap
    assert "(not judged)" in text
    assert (
        "finite difference not judged: the stencil θ ± 2h (h = 1e-06) crosses relu's kink at net_h1_1 = 0 in sample 1"
        in text
    )
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(
        "4 of 6 gradient checks judged, all agree; 2 not judged: the finite difference of W1_1_1, b1_1"
    )
    assert "All checks agree" not in result.stdout


def test_the_audit_scenario_in_json(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["run", _write(tmp_path, AUDIT), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["verification"]["checks"] == 6
    assert data["verification"]["judged"] == 4 and data["verification"]["not_judged"] == 2
    by_name = {p["name"]: p["verification"] for p in data["parameters"]}
    for name in ("W1_1_1", "b1_1"):
        fd = by_name[name]["finite_difference"]
        # what the stencil measures: about half relu's slope (−0.5006), against the chain rule's −1
        assert fd["judged"] is False and fd["agrees"] is None
        assert fd["value"] == pytest.approx(-0.5, abs=0.01)
        assert "relu's kink" in fd["reason"]
    w2 = by_name["W2_1_1"]["finite_difference"]
    assert w2["judged"] is True and w2["agrees"] is True and "reason" not in w2


def test_a_kink_within_two_steps_is_detected_for_every_kinked_function() -> None:
    # net = 1e-9 (relu, leaky_relu) and hinge argument ≈ 1e-9: not at the kink, but within ±2h of it
    leaky = json.loads(json.dumps(AUDIT))
    leaky["layers"][0]["activation"] = "leaky_relu"
    for data, place in (
        (AUDIT, "relu's kink at net_h1_1 = 0"),
        (leaky, "leaky_relu's kink at net_h1_1 = 0"),
        (_hinge(1 - 1e-9), "the max-margin hinge's corner"),
    ):
        s = loads(json.dumps(data))
        trace = engine.trace(s)
        first = s.parameters()[0]
        fd = finite_differences(s, [first], reference={first.name: trace.grad(first)})[first.name]
        assert fd.crosses_kink and fd.reason is not None and place in fd.reason, (place, fd)
        row = verify(trace).check(first.name)
        assert row.fd_ok is None and row.fd_reason == fd.reason and row.ok
        assert not row.nondifferentiable  # within ±2h, not at the kink itself


def test_away_from_a_kink_the_finite_difference_is_judged() -> None:
    far = json.loads(json.dumps(AUDIT))
    far["layers"][0]["biases"] = [0.5]
    v = verify(engine.trace(loads(json.dumps(far))))
    assert all(r.fd_ok is True and r.fd_reason is None for r in v.parameters)
    assert v.judged == v.checks == 6


def test_the_kink_note_names_the_function_the_point_and_the_convention() -> None:
    assert kinks.kink_note("relu") == "relu′(0) = 0 by convention"
    assert kinks.kink_note("leaky_relu", 0.01) == "leaky_relu′(0) = α = 0.01 by convention"
    assert kinks.kink_note(kinks.HINGE) == "the max-margin hinge at its corner (Δ + s_c − s = 0): taken as 0"
    at_zero = json.loads(json.dumps(AUDIT))
    at_zero["layers"][0].update(activation="leaky_relu", biases=[0.0], leaky_slope=0.01)
    v = verify(engine.trace(loads(json.dumps(at_zero))))
    row = v.check("b1_1")
    assert row.nondifferentiable and row.kink == "net_h1_1 = 0 in sample 1: leaky_relu′(0) = α = 0.01 by convention"
    # SymPy takes the same convention (Heaviside(x, 0)), so it is judged, and agrees, at the kink
    assert row.sympy_ok is True and row.fd_ok is None
    hinge = verify(engine.trace(loads(json.dumps(_hinge(1.0)))))
    assert hinge.check("W1_1_1").kink == f"sample 1: {kinks.HINGE_NOTE}"


def test_the_hinge_corner_in_run_and_explain(tmp_path: Path) -> None:
    path = _write(tmp_path, _hinge(1.0))
    run = CliRunner().invoke(main, ["run", path])
    assert run.exit_code == 0, run.output
    text = " ".join(run.stdout.split())
    assert "relu′(0)" not in text and kinks.HINGE_NOTE.replace("−", "-") in text  # the terminal writes ASCII minus
    assert "1 of 2 gradient checks judged, all agree; 1 not judged" in text
    for target in ("W1_1_1", "dE/dout_o1:1", "delta_o1:1c"):
        result = CliRunner().invoke(main, ["explain", target, "-s", path])
        assert result.exit_code == 0, result.output
        checks = " ".join(result.stdout[result.stdout.index("Checks") :].split())
        assert "✗" not in checks, checks
        assert "finite difference (not judged)" in checks and "the max-margin hinge's corner" in checks


def test_explain_reads_the_verification_own_numbers(tmp_path: Path) -> None:
    path = _write(tmp_path, AUDIT)
    result = CliRunner().invoke(main, ["explain", "W1_1_1", "-s", path, "--format", "json"])
    assert result.exit_code == 0, result.output
    checks = {c["method"]: c for c in json.loads(result.stdout)["checks"]}
    row = verify(engine.trace(loads(json.dumps(AUDIT)))).check("W1_1_1")
    fd = checks["finite difference (not judged)"]
    assert fd["value"] == row.finite_difference and fd["ok"] is None and row.fd_reason in fd["detail"]
    assert checks["SymPy"]["value"] == row.sympy and checks["SymPy"]["ok"] is True


def test_a_judged_mismatch_still_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bptrace.engine.trace import Trace

    real = Trace.grad
    monkeypatch.setattr(Trace, "grad", lambda self, p: real(self, p) * (1.001 if p.name == "W2_1_1" else 1.0))
    far = json.loads(json.dumps(AUDIT))
    far["layers"][0]["biases"] = [0.5]
    result = CliRunner().invoke(main, ["run", _write(tmp_path, far)])
    assert result.exit_code == 1
    assert "✗ MISMATCH (SymPy, finite difference)" in " ".join(result.stdout.split())
    assert result.stdout.strip().splitlines()[-1].startswith("MISMATCH: all 6 gradient checks judged")


def test_tiny_values_are_judged_relatively() -> None:
    # σ′(35.2): the exact value (mpmath, 30 digits) against 4.44e-16, σ(35.2)·(1 − σ(35.2)) in float64
    with mpmath.workdps(30):
        exact = float(mpmath.exp(-35.2) / (1 + mpmath.exp(-35.2)) ** 2)
    assert exact == pytest.approx(5.16219299e-16, rel=1e-8)
    assert not tolerances.sympy_agrees(4.440892098500626e-16, exact)
    assert tolerances.sympy_agrees(exact * (1 + 1e-10), exact)
    assert tolerances.sympy_agrees(0.0, 0.0)
    assert tolerances.FLOOR < 1e-300 * 1.0000001  # far below anything shown (9 significant digits of a float64)
    # a finite difference's floor is its own rounding bound 1.5·max(δE, 4ε|E|)/h, not a fixed 1e-9
    assert tolerances.fd_noise(0.5, 1e-4) == pytest.approx(1.5 * 4 * 2**-52 * 0.5 / 1e-4)
    assert not tolerances.fd_agrees(1.0e-9, 1.2e-9, tolerances.fd_noise(0.5, 1e-4))


def test_max_margin_per_window_quantities_need_a_window() -> None:
    import bptrace
    from bptrace.errors import UnknownNameError
    from bptrace.model import names

    t = bptrace.run("cs224n_window")
    s = t.scenario
    arg = engine.hinge_argument(s, t.layers[-1].out)  # Δ + s_c − s per sample
    assert arg[0] > 0  # sample 1 violates the margin
    for name in ("delta_o1", "dE/dout_o1", "dE_o1/dout_h1_1", "delta_h1_1"):
        with pytest.raises(UnknownNameError, match="one value per window"):
            names.parse(name, s)
    value = lambda text: quantity_value(names.parse(text, s), t)  # noqa: E731
    assert value("dE/dout_o1:1") == -1.0 and value("dE/dout_o1:1c") == 1.0  # ∂E_1/∂s, ∂E_1/∂s_c
    assert value("delta_o1:2") == value("delta_o1:2c") == (0.0 if arg[1] <= 0 else None)
    result = CliRunner().invoke(main, ["run", "cs224n_window", "--format", "json", "--verify", "off"])
    flat = json.loads(result.stdout)["quantities"]
    assert "delta_o1" not in flat and flat["delta_o1:1"] == -1.0 and flat["delta_o1:1c"] == 1.0
    explained = CliRunner().invoke(main, ["explain", "W2_1_1", "-s", "cs224n_window", "--no-checks"])
    assert explained.exit_code == 0 and "∂E_s/∂W2_1_1 (one window's share)" in explained.stdout
    one = CliRunner().invoke(main, ["explain", "dE/dW2_1_1:1", "-s", "cs224n_window", "--no-checks"])
    assert "∂E_total/∂W2_1_1 =" not in one.stdout and "∂E_s/∂W2_1_1 = (" in one.stdout


def test_matrix_db_rule_says_the_1_over_m_its_values_carry() -> None:
    for name in ("ng_shallow", "learner_004_l2"):
        result = CliRunner().invoke(main, ["run", name, "--format", "json", "--notation", "matrix", "--verify", "off"])
        data = json.loads(result.stdout)["notation"]
        m = data["m"]
        for layer in data["layers"]:
            if layer["bias_mode"] != "neuron":
                continue
            assert layer["db_rule"] == "sum(dZ, axis=1, keepdims=True)" + ("/m" if data["reduction"] == "mean" else "")
            for row, db in zip(layer["dZ"]["values"], layer["db"]["values"]):
                assert db[0] == pytest.approx(sum(row) / (m if data["reduction"] == "mean" else 1), rel=1e-12)


def test_learner_004_weights_are_numpys_exactly() -> None:
    import numpy as np

    import bptrace

    rng = np.random.RandomState(1)  # the learner's np.random.seed(1); np.random.random((3, 5)), then ((6, 1))
    w1, w2 = rng.random_sample((3, 5)), rng.random_sample((6, 1))
    s = bptrace.load("learner_004")
    assert np.array_equal(s.layers[0].weights, w1.T)  # bit for bit: every value its float64's shortest repr
    assert np.array_equal(s.layers[1].weights[0], w2[1:, 0]) and s.layers[1].biases[0] == w2[0, 0]
    l2 = bptrace.load("learner_004_l2")
    assert np.array_equal(l2.layers[0].weights, w1.T[:, 1:]) and np.array_equal(l2.layers[0].biases, w1[0])


def test_learner_004_l2_penalises_the_weights_only() -> None:
    import bptrace

    plain, l2 = bptrace.run("learner_004"), bptrace.run("learner_004_l2")
    lam, m = l2.scenario.l2, l2.scenario.samples
    for p in l2.scenario.parameters():
        if p.kind == "bias":
            assert l2.l2_grad(p) == 0.0
        else:
            assert l2.l2_grad(p) == pytest.approx(lam / m * l2.value(p), rel=1e-15)
    # the hidden biases are learner_004's bias column: the same data gradient, and no penalty on it
    for k in range(5):
        hidden_bias = l2.grad(l2.scenario.parameter(f"b1_{k + 1}"))
        column = plain.grad(plain.scenario.parameter(f"W1_{k + 1}_1"))
        assert hidden_bias == pytest.approx(column, rel=1e-12)


def test_explain_never_shows_a_cross_while_exiting_0(tmp_path: Path) -> None:
    # σ(35.2): σ′ = 5.16e-16 exactly; an engine that takes σ′ from the rounded out gets 4.44e-16 (a ✗),
    # one that takes it from net gets it right (no ✗): either way the exit status says what is shown
    saturated = {
        "inputs": [1.0],
        "targets": [1.0],
        "loss": "half_sse",
        "layers": [{"activation": "sigmoid", "weights": [[35.0]], "biases": [0.2]}],
    }
    path = _write(tmp_path, saturated)
    for target in ("dout_o1/dnet_o1", "W1_1_1", "delta_o1"):
        result = CliRunner().invoke(main, ["explain", target, "-s", path])
        assert result.exit_code in (0, 1), result.output
        assert ("✗" in result.stdout) == (result.exit_code == 1), (target, result.stdout)
    with mpmath.workdps(30):
        exact = float(mpmath.exp(-35.2) / (1 + mpmath.exp(-35.2)) ** 2)
    engine_value = float(engine.trace(loads(json.dumps(saturated))).layers[0].dout_dnet[0, 0])
    result = CliRunner().invoke(main, ["explain", "dout_o1/dnet_o1", "-s", path])
    assert (result.exit_code == 1) == (not tolerances.sympy_agrees(engine_value, exact))
