"""The document model every format renders: paragraphs and tables of text (terminal, Markdown, LaTeX, HTML).

Layouts (render/layout.py for a trace, render/notation.py, the class view, the verification) build these;
printers (render/terminal.py, markdown.py, latex.py, html.py) only display them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


Block = Grid | Para
