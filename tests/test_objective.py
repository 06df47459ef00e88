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


def _asks_max_margin(path: Path, *, strict: bool = False) -> list[int]:
    """Lines that test for the hinge: `.max_margin`, a comparison with 'max_margin', and (strict) any use of
    the loss's name or of the Hinge class besides docstrings (`x if mm else y`, `in ("max_margin",)`, ...)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "max_margin"]
    found += [
        n.lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Compare)
        and any(isinstance(c, ast.Constant) and c.value in SCORE_LOSSES for c in [n.left, *n.comparators])
    ]
    if strict:
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        found += [
            n.lineno
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and id(n) not in docstrings
            and any(loss in n.value for loss in SCORE_LOSSES)
        ]
        found += [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in ("Hinge", "SCORE_LOSSES")]
        found += [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == "scores"]
    return sorted(set(found))


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
    # the test can fail: the scenario reader still reads it (it validates the hinge's own keys)
    assert _asks_max_margin(PACKAGE / "model" / "scenario.py")


# the engine and the verification compute the objective and check it: they call its methods (terms,
# output_gradient, corner, the in-place and kernel forms, its SymPy form) and never ask which one it is.
# verify/kinks.py names the hinge's corner for the reports (kinks.HINGE), from the objective's constants.
BELOW = ("engine", "verify")
NAMES_THE_CORNER = {Path("verify/kinks.py")}


def test_neither_the_engine_nor_the_verification_branches_on_the_hinge() -> None:
    offenders = [
        f"{path.relative_to(PACKAGE)}:{line}"
        for package in BELOW
        for path in sorted((PACKAGE / package).rglob("*.py"))
        if path.relative_to(PACKAGE) not in NAMES_THE_CORNER
        for line in _asks_max_margin(path, strict=True)
    ]
    assert offenders == []
    kinks = _asks_max_margin(PACKAGE / "verify" / "kinks.py")  # the plain check holds there too
    assert kinks == []
    # the test can fail: the scenario reader still tests it (it validates the hinge's own keys), and the
    # strict check sees the Hinge class where the corner's constants are read
    assert _asks_max_margin(PACKAGE / "model" / "scenario.py")
    assert _asks_max_margin(PACKAGE / "verify" / "kinks.py", strict=True)


@given(st.sampled_from(["half_sse", "mse", "bce", "max_margin"]), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_terms_of_stacked_passes_are_each_points_terms(loss: str, m: int, seed: int) -> None:
    """Objective.terms with a leading axis (verify's stacked finite-difference points) is each point's."""
    o = objective(loss, m, 0.7)
    rng = np.random.default_rng(seed)
    n = 1 if o.scores else 3
    out = rng.uniform(0.05, 0.95, size=(4, o.passes, n))
    t = rng.uniform(0.05, 0.95, size=(m, n)) if o.targets else np.zeros((m, 0))
    stacked = o.terms(out, t)
    for k in range(4):
        np.testing.assert_array_equal(stacked[k], o.terms(out[k], t))
    assert stacked.shape[:2] == (4, m)


def test_the_hinges_arithmetic_against_its_definition() -> None:
    """J_s = max(0, Δ + s_c − s), ∂J/∂s = −1 and ∂J/∂s_c = +1 while violated, 0 at and past the corner:
    numpy, the in-place runner's form and the SymPy form (evaluated by SymPy itself) agree with it."""
    import sympy as sp

    o = objective("max_margin", 3, 1.0)
    s, sc = np.array([0.2, 2.0, 0.5]), np.array([0.1, 0.5, -0.5])  # violated, met, at the corner
    out = np.concatenate([s, sc])[:, None]
    J = [max(0.0, 1.0 + c - x) for x, c in zip(s, sc)]
    np.testing.assert_array_equal(o.terms(out, np.zeros((3, 0)))[:, 0], J)
    np.testing.assert_array_equal(o.output_gradient(out, np.zeros((3, 0)))[:, 0], [-1, 0, 0, 1, 0, 0])
    np.testing.assert_array_equal(o.corner(out)[:, 0], [False, False, True] * 2)
    assert o.cancels("linear") is False and o.corner_derivative == 0.0

    class Buf:
        H, H2 = np.empty(3), np.empty(3)

    g = np.empty((6, 1))
    o.gradient_inplace(out, np.zeros((3, 0)), g, Buf(), 3)  # type: ignore[arg-type]
    np.testing.assert_array_equal(g[:, 0], [-1, 0, 0, 1, 0, 0])
    assert o.total_inplace(out, np.zeros((3, 0)), Buf(), 3) == pytest.approx(sum(J), abs=1e-15)  # type: ignore[arg-type]
    outs, symbols = o.sympy_symbols(["o1"])
    (term,) = o.sympy_terms(outs, symbols, 1)
    for x, c, j in zip(s, sc, J):
        value = term.subs({outs[0][0]: x, outs[1][0]: c, sp.Symbol("Delta"): 1.0})
        assert float(value) == pytest.approx(j, abs=1e-15)
    assert (
        sp.diff(term, outs[0][0])
        .subs({outs[0][0]: 0.2, outs[1][0]: 0.1, sp.Symbol("Delta"): 1.0})
        .replace(sp.DiracDelta, lambda *a: 0)
        == -1
    )


def test_a_per_output_loss_takes_its_registry_entrys_arithmetic() -> None:
    from bptrace import functions

    o = objective("half_sse", 2)
    out, t = np.array([[0.2, 0.7], [0.4, 0.1]]), np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(o.terms(out, t), 0.5 * (t - out) ** 2)
    np.testing.assert_array_equal(o.output_gradient(out, t), out - t)
    assert o.corner(out) is None and o.argument(out) is None
    assert o.cancels("sigmoid") is False and objective("bce", 2).cancels("sigmoid") is True
    assert o.kernel_windows() == ("",) and o.kernel_guard() is None
    assert functions.loss("half_sse").kernel_term_expr("t_0", "a2_0", 2) in o.kernel_sample_terms(2, 2)[0]
