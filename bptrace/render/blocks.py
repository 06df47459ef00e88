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
    prose: bool = False  # a 'text' column of words (a diagnosis), not formulas: Markdown writes no $…$ in it


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
    """A line of text; style is '', 'bold', 'dim', 'good', 'bad', 'warn' (a warning) or 'title'."""

    text: str
    style: str = ""


Block = Grid | Para


def texts(blocks: list[Block]) -> list[str]:
    """Every text of the blocks (titles, headers, cells, captions, paragraphs): what a printer must be able
    to typeset (render/latex.py chooses xelatex when one of them is Chinese)."""
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Grid):
            out += [block.title, block.caption, *(c.header for c in block.columns)]
            out += [cell for row in block.rows for cell in row]
        else:
            out.append(block.text)
    return out
