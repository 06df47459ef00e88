"""The RNN's and the layer stack's formula cells are formula trees (bptrace/formula.py), printed per format.

Every formula column of `run`'s tables for a recurrent network (render/rnn_out.py) and a layer stack
(render/layers_out.py) holds a tree: the registry's loss terms and gradients as `Filled` templates, the sums
of products with `Name`s and `Num`s; --ascii prints them with the ASCII printer, and the ASCII output of
every bundled rnn and layers scenario is ASCII, with no '?' where a character could not be spelled.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace import formula
from bptrace.cli.main import main
from bptrace.graph import engine as graph_engine
from bptrace.graph import model as graph_model
from bptrace.layers import engine as layers_engine
from bptrace.layers import model as layers_model
from bptrace.render.blocks import Grid
from bptrace.render.graph_out import run_blocks as graph_blocks
from bptrace.render.layers_out import run_blocks as layers_blocks
from bptrace.render.rnn_out import run_blocks as rnn_blocks
from bptrace.rnn import engine as rnn_engine
from bptrace.rnn import model as rnn_model
from tests.tools import has_math

SCENARIOS = Path(__file__).parent.parent / "scenarios"
ALL = sorted(p.stem for p in SCENARIOS.glob("*.yaml"))
RNN = [name for name in ALL if rnn_model.load_document(name) is not None]
LAYERS = [name for name in ALL if layers_model.load_document(name) is not None]
GRAPHS = [name for name in ALL if graph_model.graph_or_none(name) is not None]


def test_the_kinds_have_bundled_scenarios() -> None:
    assert len(RNN) >= 2 and len(LAYERS) >= 2 and len(GRAPHS) >= 2


def _formula_cells(blocks: list[object]) -> list[tuple[object, str, object]]:
    """(table title, column header, cell) of every non-empty cell of a formula column (kind 'text', headed,
    not prose), and of the verification's last column, which is words (✓, a note)."""
    out = []
    for block in blocks:
        if isinstance(block, Grid):
            for k, column in enumerate(block.columns):
                if column.kind == "text" and column.header and not column.prose:
                    out += [(block.title, column.header, row[k]) for row in block.rows if row[k] != ""]
    return out


def _walk(node: formula.Node) -> list[formula.Node]:
    return list(formula._walk(node))


@pytest.mark.parametrize("name", RNN)
def test_every_formula_cell_of_an_rnn_is_a_tree(name: str) -> None:
    t = rnn_engine.trace(rnn_model.load(name))
    cells = _formula_cells(list(rnn_blocks(t, None)))
    assert len(cells) > 10
    for title, header, cell in cells:
        assert isinstance(cell, formula.Node), (title, header, cell)
        if "Jacobian" not in formula.unicode(cell):  # softmax's δ_y: words
            assert has_math(cell), (title, header, formula.unicode(cell))
    # the loss's terms and gradients are the registry's formulas, filled (never strings written per script)
    filled = [n for _t, _h, cell in cells if isinstance(cell, formula.Node) for n in _walk(cell)]
    assert any(isinstance(n, formula.Filled) for n in filled)


@pytest.mark.parametrize("name", LAYERS)
def test_every_formula_cell_of_a_layer_stack_is_a_tree(name: str) -> None:
    t = layers_engine.trace(layers_model.load(name))
    cells = _formula_cells(list(layers_blocks(t, None)))
    assert len(cells) > 10
    for title, header, cell in cells:
        if header in ("note", "check"):  # words: which input the max chose, a kink's convention, agrees
            continue
        assert isinstance(cell, formula.Node), (title, header, cell)
        assert has_math(cell), (title, header, formula.unicode(cell))


@pytest.mark.parametrize("name", GRAPHS)
def test_every_formula_cell_of_a_graph_is_a_tree(name: str) -> None:
    t = graph_engine.trace(graph_model.load(name))
    cells = _formula_cells(list(graph_blocks(t, None)))
    assert len(cells) > 5
    for title, header, cell in cells:
        if header in ("gate", "uses"):  # words: the gate's kind, the gates that read a node
            continue
        assert isinstance(cell, formula.Node), (title, header, cell)
        if "only constants" not in formula.unicode(cell):
            assert has_math(cell), (title, header, formula.unicode(cell))


def test_rnn_cells_print_as_before() -> None:
    """The Unicode and ASCII of the trees are the text the tables always showed (the terminal's widths
    depend on it), and the LaTeX is mathematics, not escaped text."""
    t = rnn_engine.trace(rnn_model.load("rnn_last_truncated"))
    grids = [b for b in rnn_blocks(t, None) if isinstance(b, Grid)]
    forward = next(g for g in grids if g.rows and g.rows[0][0] == "net_h1@t1")
    row = forward.rows[0]
    assert isinstance(row[1], formula.Node) and isinstance(row[2], formula.Node)
    assert formula.unicode(row[1]) == "W_xh_1_1·x1@t1 + W_hh_1_1·h1@t0 + W_hh_1_2·h2@t0"
    assert formula.ascii(row[1]) == "W_xh_1_1*x1@t1 + W_hh_1_1*h1@t0 + W_hh_1_2*h2@t0"
    assert formula.unicode(row[2]) == "1·0.5 + 0.5·0 + 0.25·0"
    assert formula.latex(row[1]) == (
        r"W_{xh,1,1} \cdot {x_{1}}^{\langle 1\rangle} + W_{hh,1,1} \cdot {h_{1}}^{\langle 0\rangle}"
        r" + W_{hh,1,2} \cdot {h_{2}}^{\langle 0\rangle}"
    )
    loss = next(r for g in grids for r in g.rows if r[0] == "E@t4")
    assert isinstance(loss[1], formula.Node)
    assert formula.ascii(loss[1]) == "-[target1@t4*ln(y1@t4) + (1 - target1@t4)*ln(1 - y1@t4)]"


def test_layer_cells_print_as_before() -> None:
    t = layers_engine.trace(layers_model.load("layers_batchnorm"))
    grids = [b for b in layers_blocks(t, None) if isinstance(b, Grid)]
    rows = {r[0]: r for g in grids for r in g.rows}
    assert formula.unicode(rows["z1_1:1"][1]) == "W1_1_1·x_1:1 + W1_1_2·x_2:1 + b1_1"
    assert formula.unicode(rows["z1_1:1"][2]) == "0.4·0.5 + (-0.2)·1 + 0.1"
    assert formula.ascii(rows["xhat2_1:1"][1]) == "(a1_1:1 - mu2_1)*1/sqrt(var2_1 + eps)"
    assert formula.latex(rows["mu2_1"][1]).startswith(r"\frac{1}{3} \cdot {a_{1,1}}^{(1)}")
    # batch norm's compact formula: one tree, its ASCII the text the JSON keeps
    line = t.line("dE/da1_1:1")
    assert line is not None and line.compact is not None and line.compact_formula is not None
    assert formula.ascii(line.compact_formula) == line.compact[0]
    assert line.compact[0].startswith("gamma/(m*sqrt(var + eps)) * (m*dE/da2_1:1 - sum dE/da - xhat2_1:1 * ")


def _ascii_runs() -> list[list[str]]:
    runs = [["run", name, "--ascii"] for name in RNN + LAYERS]
    return runs + [["run", name, "--ascii", "--lang", "zh"] for name in RNN + LAYERS]


@pytest.mark.parametrize("args", _ascii_runs(), ids=lambda a: " ".join(a[1:2] + a[3:]))
def test_ascii_output_of_every_bundled_rnn_and_layer_stack_is_ascii(args: list[str]) -> None:
    """No mathematical symbol survives --ascii, and nothing is replaced by '?'. In Chinese the words stay
    Chinese (CJK characters and punctuation), every symbol is spelled."""
    result = CliRunner().invoke(main, args, terminal_width=80)
    assert result.exit_code == 0, result.output
    left = {ch for ch in result.stdout if not ch.isascii()}
    if "zh" in args:
        assert all(re.fullmatch(r"[\u3000-\u9fff\uff00-\uffef]", ch) for ch in left), sorted(left)
    else:
        own = (SCENARIOS / f"{args[1]}.yaml").read_text(encoding="utf-8")
        assert all(re.fullmatch(r"[\u3000-\u9fff\uff00-\uffef]", ch) and ch in own for ch in left), sorted(left)
    assert "?" not in result.stdout


@pytest.mark.parametrize("name", RNN + LAYERS + GRAPHS)
def test_html_formula_cells_are_mathml(name: str) -> None:
    """HTML prints each formula cell as MathML (which parses as XML), never as text read back."""
    import xml.dom.minidom

    out = CliRunner().invoke(main, ["run", name, "--format", "html", "--verify", "off"]).stdout
    maths = re.findall(r"<math.*?</math>", out, re.S)
    assert len(maths) > 10
    for m in maths:
        xml.dom.minidom.parseString(m)
