"""`bptrace compare`: a Coursera learner's questions and Mazur's errata, side by side, checked by their algebra."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from mazur_reference import ERRATA

import bptrace
from bptrace.cli.main import main
from bptrace.explain.conventions import compare


def rows(c) -> dict[str, list[float | None]]:
    return dict(c.rows)


def test_hidden_updated_is_mazurs_published_error() -> None:
    """Mazur's printed 0.291027924 is what back-propagating through the updated w5..w8 gives."""
    c = compare(bptrace.load("mazur"), "hidden", ["original", "updated"])
    right, wrong = rows(c)["E_total@1"]
    erratum = ERRATA["E_total@1"]
    assert f"{right:.9f}" == erratum["original_weights"] and f"{wrong:.9f}" == erratum["published"]
    assert c.variants[1].mistake and "MISTAKE" in c.variants[1].meaning
    assert "w5+" not in rows(c)  # the output layer's updates do not change


def test_sse_doubles_every_gradient_of_half_sse() -> None:
    c = compare(bptrace.load("ng_shallow").with_changes(loss="half_sse"), "loss", ["half_sse", "sse"])
    a, b = (v.trace for v in c.variants)
    for p in a.scenario.parameters():
        assert b.grad(p) == pytest.approx(2 * a.grad(p), rel=1e-12, abs=1e-18)


def test_sum_reduction_is_m_times_mean() -> None:
    s = bptrace.load("ng_shallow")
    c = compare(s, "reduction", ["mean", "sum"])
    mean, total = (v.trace for v in c.variants)
    for p in s.parameters():
        assert total.grad(p) == pytest.approx(s.samples * mean.grad(p), rel=1e-12, abs=1e-18)
    assert any(name.startswith("dE/d") for name in rows(c))


def test_bias_conventions_on_mazur() -> None:
    """Updating the biases gives 0.285750887 (shared) or 0.280471447 (per neuron) after one step."""
    c = compare(bptrace.load("mazur"), "biases", ["frozen", "shared", "neuron"])
    after = rows(c)["E_total@1"]
    biases = ERRATA["biases_updated"]
    expected = [ERRATA["E_total@1"]["original_weights"], biases["shared_after_1"], biases["per_neuron_after_1"]]
    assert [f"{x:.9f}" for x in after] == expected
    assert rows(c)["b1_h1+"][:2] == [None, None]  # only the per-neuron variant has b1_h1


def test_learning_rate_scales_only_the_update() -> None:
    c = compare(bptrace.load("mazur"), "learning_rate", ["0.5", "0.1"])
    r = rows(c)
    assert "dE/dw5" not in r
    w5 = 0.4
    big, small = r["w5+"]
    assert (w5 - big) == pytest.approx(5 * (w5 - small), rel=1e-12)


def test_l2_adds_lambda_over_m_times_w() -> None:
    c = compare(bptrace.load("mazur"), "l2", ["0", "0.5"])
    plain, reg = (v.trace for v in c.variants)
    p = plain.scenario.parameter("w5")
    assert reg.grad(p) - plain.grad(p) == pytest.approx(0.5 * 0.4, rel=1e-12)


@pytest.mark.parametrize(
    "question,vary,differs",
    [
        # the Coursera learner's three questions (Stack Overflow), answered on the learner's own network
        ("is the output δ (a − y) or (a − y)·σ′?", "loss=half_sse,bce", "delta_o1"),
        ("are biases updated?", "biases=frozen,neuron", "b2_1+"),
        ("is 1/m optional?", "reduction=mean,sum", "dE/dW1_1_1"),
    ],
)
def test_coursera_learners_questions(question: str, vary: str, differs: str) -> None:
    result = CliRunner().invoke(main, ["compare", "learner_004", "--vary", vary, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert differs in {d["quantity"] for d in data["differences"]}, question


def test_terminal_output_explains_each_convention() -> None:
    result = CliRunner().invoke(main, ["compare", "mazur", "--vary", "hidden=original,updated"])
    assert result.exit_code == 0
    assert ERRATA["E_total@1"]["published"] in result.stdout and "MISTAKE" in result.stdout


@pytest.mark.parametrize(
    "args,message",
    [
        (["--vary", "los=half_sse,bce"], "did you mean loss?"),
        (["--vary", "loss=half_sse"], "give at least two values"),
        (["--vary", "loss=half_sse,cross_entropy"], "cross_entropy needs a softmax output layer"),
        (["--vary", "learning_rate=0.5,-1"], "must be a positive number"),
        (["--vary", "biases=frozen,sometimes"], "is not frozen, neuron or shared"),
        (["--vary", "loss"], "write KEY=A,B"),
    ],
)
def test_bad_vary_exits_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["compare", "mazur", *args])
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_max_margin_compares_conventions_and_refuses_losses() -> None:
    result = CliRunner().invoke(main, ["compare", "cs224n_window", "--vary", "loss=half_sse,sse"])
    assert result.exit_code == 2 and "max_margin" in result.stderr
    c = compare(bptrace.load("cs224n_window"), "learning_rate", ["0.1", "0.5"])
    r = rows(c)
    # only the updates and what follows them change; per-window forward values exist in both variants
    assert "out_o1:1" not in r and "out_o1:1c" not in r
    assert all(None not in values for values in r.values())
    assert "E_total@1" in r
