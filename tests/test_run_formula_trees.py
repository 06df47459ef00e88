"""run's formula cells are formula trees (bptrace/formula.py), printed per format, never text read back.

Each formula column of run's tables (scalar and index notation) holds a tree; --ascii prints it with the ASCII
printer (the registry's own ASCII, not a transliteration of the Unicode), and the ASCII output of every bundled
scenario is ASCII: no symbol left, no '?' where a character could not be spelled.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace import formula
from bptrace.cli.main import main
from bptrace.engine.step import trace as make_trace
from bptrace.model.scenario import bundled_names, load
from bptrace.render.blocks import Grid
from bptrace.render.layout import TraceLayout
from bptrace.render.notation import notation_blocks
from tests.tools import has_math

SCENARIOS = Path(__file__).parent.parent / "scenarios"
ALL = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))


def _formula_cells(blocks: list[object]) -> list[tuple[str, str, object]]:
    """(table title, column header, cell) of every non-empty cell of a formula column (kind 'text', headed)."""
    out = []
    for block in blocks:
        if isinstance(block, Grid):
            for k, column in enumerate(block.columns):
                if column.kind == "text" and column.header and not column.prose:
                    out += [(block.title, column.header, row[k]) for row in block.rows if row[k] != ""]
    return out


@pytest.mark.parametrize("name", bundled_names())
def test_every_formula_cell_of_run_is_a_tree(name: str) -> None:
    t = make_trace(load(name))
    cells = _formula_cells(list(TraceLayout(t, rows=None).blocks()))
    cells += _formula_cells(notation_blocks(t, "index", rows=None))
    assert len(cells) > 5
    words_only = ("Jacobian", "∂J/∂s", "0: ", "0 at the hinge")  # softmax's f′, the hinge's ∂J/∂s: words
    for title, header, cell in cells:
        assert isinstance(cell, formula.Node), (title, header, cell)
        if not any(w in formula.unicode(cell) for w in words_only):
            assert has_math(cell), (title, header, formula.unicode(cell))


def test_mazur_cells_print_as_before() -> None:
    """The Unicode of the trees is the text the tables always showed (the terminal's layout depends on it)."""
    blocks = TraceLayout(make_trace(load("mazur"))).blocks()
    grids = [b for b in blocks if isinstance(b, Grid)]
    forward, loss, backward = grids[1], grids[2], grids[4]  # layer 2, the loss, the hidden layer
    assert (
        formula.unicode(forward.rows[0][1]) == "w5·out_h1 + w6·out_h2 + b2\n= 0.4×0.593269992 + 0.45×0.596884378 + 0.6"
    )
    assert formula.unicode(forward.rows[0][3]) == "σ(1.10590597)"
    assert formula.unicode(loss.rows[0][1]) == "½(t_o1 − out_o1)²\n= ½(0.01 − 0.75136507)²"
    assert formula.unicode(backward.rows[0][1]).split("\n")[1] == "= 0.138498562×0.4 + (-0.0380982365)×0.5"
    gradients = grids[5]
    assert formula.unicode(gradients.rows[0][1]) == (
        "∂E/∂w1 = ∂E/∂out_h1 × ∂out_h1/∂net_h1 × ∂net_h1/∂w1\n= 0.0363503064 × 0.241300709 × 0.05"
    )


def test_ascii_prints_the_trees_with_the_ascii_printer() -> None:
    """--ascii: the loss term is the registry's ASCII (1/2*(t - out)^2), not the Unicode transliterated ((1/2)…)."""
    out = CliRunner().invoke(main, ["run", "mazur", "--ascii", "--verify", "off"]).stdout
    assert "1/2*(t_o1 - out_o1)^2" in out and "= 1/2*(0.01 - 0.75136507)^2" in out
    assert "dE/dw5 = dE/dout_o1 * dout_o1/dnet_o1 * dnet_o1/dw5" in out
    assert "(1/2)(t_o1" not in out


def _ascii_runs() -> list[list[str]]:
    runs = [["run", name, "--ascii", "--verify", "off"] for name in ALL]
    runs += [
        ["run", name, "--ascii", "--verify", "off", "--notation", n]
        for name in bundled_names()
        for n in ("index", "matrix")
    ]
    return runs + [["run", "mazur", "--ascii"]]  # with the verification's tables


@pytest.mark.parametrize("args", _ascii_runs(), ids=lambda a: " ".join(a[1:2] + a[5:]))
def test_ascii_output_of_every_bundled_scenario_is_ascii(args: list[str]) -> None:
    """No mathematical symbol survives --ascii, and nothing is replaced by '?' (a character it could not spell).
    The only non-ASCII characters left are the scenario's own words in Chinese (a source note), which --ascii
    keeps as text (fmt.to_ascii): each of them is in the scenario file."""
    result = CliRunner().invoke(main, args, terminal_width=80)
    assert result.exit_code == 0, result.output
    own = (SCENARIOS / f"{args[1]}.yaml").read_text(encoding="utf-8")
    left = {ch for ch in result.stdout if not ch.isascii()}
    assert all(re.fullmatch(r"[\u3000-\u9fff\uff00-\uffef]", ch) and ch in own for ch in left), sorted(left)
    assert "?" not in result.stdout


@pytest.mark.parametrize("name", bundled_names())
def test_the_matrix_notation_titles_its_matrices_with_trees(name: str) -> None:
    """Each matrix of Ng's notation is titled by a tree (Z[1] = W[1]·X + b[1], shape (n[1], m) = (2, 1)), which
    LaTeX prints with formula.latex (W^{[1]}), never by reading the Unicode."""
    t = make_trace(load(name))
    grids = [b for b in notation_blocks(t, "matrix", rows=None) if isinstance(b, Grid)]
    assert grids and all(isinstance(g.title, formula.Node) for g in grids)
    assert any("W[1]·" in formula.unicode(g.title) for g in grids)
    latex = CliRunner().invoke(main, ["run", name, "--notation", "matrix", "--format", "latex", "--verify", "off"])
    assert r"W^{[1]}" in latex.stdout and r"Z^{[1]} = W^{[1]} \cdot " in latex.stdout


def test_the_check_refuses_words_and_a_formula_smuggled_in_as_one_constant() -> None:
    assert not has_math(formula.Text("the sum over samples"))
    assert not has_math(formula.Const("w5·out_h1 + b1"))
    assert not has_math(formula.Row.of(formula.Text("see"), formula.Const("δ_o1 × out_h1")))
    assert has_math(formula.Const("0.5")) and has_math(formula.Sym("w5")) and has_math(formula.Num(0.5, 9))
