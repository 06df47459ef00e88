"""The objective (bptrace/objective.py): one definition of what a forward pass is, its names and how a
sample's passes combine; the renderers, explain, grading and the CLI ask it instead of testing the loss."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bptrace.functions import LOSSES, SCORE_LOSSES
from bptrace.model import names
from bptrace.model.scenario import load as load_scenario
from bptrace.objective import Hinge, Objective, objective

PACKAGE = Path(__file__).resolve().parent.parent / "bptrace"
# below the objective: the engine computes it and the verification checks it independently; the
# scenario reader validates its keys. Everything that only shows or marks a step asks the objective.
ASKERS = ("render", "explain", "grading", "cli", "quiz", "graph")


@given(st.sampled_from(LOSSES + SCORE_LOSSES), st.integers(1, 9))
def test_passes_rows_and_samples_agree(loss: str, m: int) -> None:
    o = objective(loss, m)
    assert isinstance(o, Hinge) == (loss in SCORE_LOSSES)
    assert o.passes == o.windows * m
    # every pass belongs to exactly one sample, and rows_of lists them
    owners = {row: k for k in range(m) for row in o.rows_of(k)}
    assert sorted(owners) == list(range(o.passes))
    assert all(o.sample(row) == k for row, k in owners.items())
    assert sorted(o.reading_order()) == list(range(o.passes))
    # the suffix names the pass; corrupt rows end in c, only with two windows
    suffixes = o.suffixes()
    assert len(set(suffixes)) == o.passes
    assert all(x.endswith("c") == o.corrupt(row) for row, x in enumerate(suffixes))
    assert (o.passes == 1) == (suffixes == [""])
    for row in range(o.passes):
        assert o.row(o.sample(row) + 1, o.corrupt(row)) == row
        assert o.label(row).startswith(str(o.sample(row) + 1))
        assert o.pass_label(row).startswith(f"s{o.sample(row) + 1}")
        assert (o.window(row) is None) == (o.windows == 1)


@given(st.sampled_from(LOSSES + SCORE_LOSSES), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_per_sample_adds_each_samples_passes(loss: str, m: int, seed: int) -> None:
    o = objective(loss, m)
    values = np.random.default_rng(seed).normal(size=(o.passes, 3))
    expected = np.array([sum(values[row] for row in o.rows_of(k)) for k in range(m)])
    np.testing.assert_array_equal(o.per_sample(values), expected)


@pytest.mark.parametrize("bundled", ["cs224n_window", "mazur", "ng_shallow", "learner_004"])
def test_suffixes_are_the_vocabularys(bundled: str) -> None:
    """Every suffix the objective gives parses to its own row, and the vocabulary accepts no other."""
    s = load_scenario(bundled)
    o = s.objective
    x = s.output_layer.neurons[0]
    for row, suffix in enumerate(o.suffixes()):
        q = names.parse(f"out_{x}{suffix}", s)
        assert o.row(q.sample, q.corrupt) == row
    if o.windows == 1:
        with pytest.raises(Exception, match="corrupt window"):
            names.parse(f"out_{x}:1c", s)


def test_the_hinge_explains_a_zero_gradient_and_a_per_output_loss_prints_its_formula() -> None:
    hinge, loss = objective("max_margin", 2, 1.0), objective("half_sse", 2)
    assert "J = 0" in hinge.zero_note(True) and "−1" in hinge.zero_note(False)
    assert hinge.output_gradient_note(0, -1.0, False) == "∂J/∂s = −1"
    assert hinge.output_gradient_note(2, 1.0, False) == "∂J/∂s_c = +1"
    assert "corner" in hinge.output_gradient_note(2, 0.0, True)
    assert not hinge.targets and hinge.scores and loss.targets and not loss.scores
    assert loss.run_note() is None and hinge.run_note()
    assert type(loss) is Objective


def _asks_max_margin(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "max_margin"]
    found += [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Compare)
        and any(isinstance(c, ast.Constant) and c.value in SCORE_LOSSES for c in [n.left, *n.comparators])
    ]
    return found


def test_no_module_above_the_engine_branches_on_the_hinge() -> None:
    """render/, explain/, grading/, cli/, quiz/ ask the objective; none tests `scenario.max_margin` or
    compares the loss with 'max_margin' (a new objective would otherwise need every one of them edited)."""
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for package in ASKERS
        for path in sorted((PACKAGE / package).rglob("*.py"))
        for line in _asks_max_margin(path)
    ]
    assert offenders == []
    # the test can fail: the engine still reads it
    assert _asks_max_margin(PACKAGE / "engine" / "step.py")
