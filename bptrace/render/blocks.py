"""The document model every format renders: paragraphs and tables (terminal, Markdown, LaTeX, HTML), and a
derivation's lines of words and formula trees (bptrace/formula.py).

A table's cell is text (a name, a number, words) or a formula tree (`Cell`): run's formulas (net = Σ w·out + b,
the loss terms, ∂E/∂out, f′, δ, the chain rule of each gradient) are trees, built once by the layout, and
each printer prints them in its own format (formula.unicode or .ascii in the terminal, .latex in LaTeX,
$…$ in Markdown, .mathml in HTML); none of them reads mathematics back out of text.

Layouts (render/layout.py for a trace, render/notation.py, the class view, the verification, explain's
render/explain_text.py) build these; printers (render/terminal.py, markdown.py, latex.py, html.py) only
display them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bptrace.formula import Node, unicode

Cell = str | Node  # a table cell: text, or a formula tree (a multi-line formula is a formula.Lines)

DEFAULT_ROWS = 60  # at most this many rows per table unless --rows says otherwise


@dataclass
class Column:
    """A table column: 'num' columns hold one number and never wrap; 'name' a quantity; 'text' formulas."""

    header: str
    kind: str = "text"
    styles: dict[str, str] = field(default_factory=dict)  # a cell's text -> its style (✓ green, ✗ red)
    prose: bool = False  # a 'text' column of words (a diagnosis), not formulas: Markdown writes no $…$ in it


@dataclass
class Grid:
    """A table: a title (text, or a formula tree of words and formulas: the matrix notation's "Z[1] =
    W[1]·X + b[1], shape (n[1], m) = (2, 1)"), columns, rows of cells (text or formula trees), and a caption."""

    title: str | Node
    columns: list[Column]
    rows: list[Sequence[Cell]] = field(default_factory=list)  # a row of str (most tables) is one too
    caption: str = ""
    styles: list[str] = field(default_factory=list)  # per row: "" or "bad"/"good"/"dim"


@dataclass
class Para:
    """A line of text; style is '', 'bold', 'dim', 'good', 'bad', 'warn' (a warning) or 'title'."""

    text: str
    style: str = ""


@dataclass
class MathPara:
    """A line of a derivation: words (str, already translated) and formulas (formula trees) side by side.

    role: 'title' (the document's heading), 'heading' (a section's), 'result' (the value derived),
    'math' (a formula line), 'text' (words) or 'note'. Each printer prints every formula in its own form:
    Unicode or ASCII text, LaTeX, $…$ in Markdown, MathML in HTML."""

    parts: list[str | Node]
    role: str = "math"


@dataclass
class Preformatted:
    """A block laid out in fixed-width characters (SymPy's 2-D derivative), in Unicode and in ASCII; the same
    mathematics as LaTeX (documents) and MathML (HTML)."""

    text: str
    ascii: str
    latex: str = ""
    # MathML, or what makes it when the HTML printer asks (SymPy's MathML printer: ≈ 4 ms on a cold start,
    # for a page no terminal needs); read it with mathml_text()
    mathml: str | Callable[[], str] = ""

    def mathml_text(self) -> str:
        """The MathML ("" where there is none)."""
        return self.mathml() if callable(self.mathml) else self.mathml


@dataclass
class CheckRow:
    """One independent value beside the derivation's: how it was found, the value, whether it agrees."""

    method: str
    value: float
    ok: bool | None  # None: the value being checked
    detail: str


@dataclass
class Checks:
    """A derivation's checks, the values at `digits` significant digits."""

    rows: list[CheckRow]
    digits: int


Block = Grid | Para | MathPara | Preformatted | Checks


def cell_text(cell: Cell) -> str:
    """A cell as Unicode text (a formula printed by formula.unicode): for what reads a cell's words, the
    lesson's slides, LaTeX's choice of engine and its column widths."""
    return cell if isinstance(cell, str) else unicode(cell)


def texts(blocks: list[Block]) -> list[str]:
    """Every text of the blocks (titles, headers, cells, captions, paragraphs, a derivation's words): what a
    printer must be able to typeset (render/latex.py chooses xelatex when one of them is Chinese)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Grid):
            out += [cell_text(block.title), block.caption, *(c.header for c in block.columns)]
            out += [cell_text(cell) for row in block.rows for cell in row]
        elif isinstance(block, Para | Preformatted):
            out.append(block.text)
        elif isinstance(block, MathPara):
            out += [part for part in block.parts if isinstance(part, str)]
        else:
            out += [text for row in block.rows for text in (row.method, row.detail)]
    return out
