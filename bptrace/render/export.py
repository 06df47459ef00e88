"""Blocks -> a document as text: Markdown (GitHub), LaTeX (pdflatex) or HTML (one self-contained page).

These are siblings of terminal.py: they display the format-neutral blocks of layout.py (or of
notation.py) and compute nothing. `bptrace run --format markdown|latex|html [--fragment]` calls `export`.
"""

from __future__ import annotations

from collections.abc import Iterable

from bptrace.render.blocks import Block

EXPORT_FORMATS = ("markdown", "latex", "html")


def export(
    blocks: Iterable[Block],
    fmt: str,
    title: str | None = None,
    standalone: bool = True,
    math: str = "latex",
    scan: bool = False,
) -> str:
    """The blocks as a document in `fmt` ("markdown", "latex" or "html").

    standalone=True gives a whole document (a title heading; for LaTeX an article with its preamble, for
    HTML a page with <head> and inline CSS); standalone=False a fragment to paste or \\input elsewhere.
    math: Markdown's formulas as $…$ mathematics ("latex") or as Unicode text ("unicode").
    scan: LaTeX is written for xelatex (ctex) when any text of the blocks is Chinese (a student's name in a
    class report), not only the title or the language (check, train, scenarios; run keeps CJKutf8 for a note).
    """
    if fmt == "markdown":
        from bptrace.render.markdown import render as markdown

        return markdown(blocks, title=title, standalone=standalone, math=math)
    if fmt == "latex":
        from bptrace.render.blocks import texts
        from bptrace.render.latex import render as latex

        listed = list(blocks)
        return latex(listed, title=title, standalone=standalone, also=texts(listed) if scan else ())
    if fmt == "html":
        from bptrace.render.html import render as html

        return html(blocks, title=title, standalone=standalone)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(EXPORT_FORMATS)}")
