"""The document model every format renders: paragraphs and tables of text (terminal, Markdown, LaTeX, HTML),
and a derivation's lines of words and formula trees (bptrace/formula.py).

Layouts (render/layout.py for a trace, render/notation.py, the class view, the verification, explain's
render/explain_text.py) build these; printers (render/terminal.py, markdown.py, latex.py, html.py) only
display them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bptrace.formula import Node


@dataclass
class Column:
    """A table column: 'num' columns hold one number and never wrap; 'name' a quantity; 'text' formulas."""

    header: str
    kind: str = "text"
    styles: dict[str, str] = field(default_factory=dict)  # a cell's text -> its style (✓ green, ✗ red)


@dataclass
class Grid:
    """A table: a title, columns, rows of text cells, and a caption (e.g. what was cut)."""

    title: str
    columns: list[Column]
    rows: list[list[str]] = field(default_factory=list)
    caption: str = ""
    styles: list[str] = field(default_factory=list)  # per row: "" or "bad"/"good"/"dim"


@dataclass
class Para:
    """A line of text; style is '', 'bold', 'dim', 'good', 'bad' or 'title'."""

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
    mathml: str = ""


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
