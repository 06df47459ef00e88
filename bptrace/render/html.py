"""Blocks -> one self-contained HTML page (inline CSS, no scripts, no external resources), or a fragment.

Numbers sit in right-aligned cells that never wrap. A whole page styles its elements by class from one
inline stylesheet; a fragment carries the essential layout (alignment, no wrapping, rules) as style
attributes on the elements themselves, so that pasted into a course page or an LMS that strips <style>
elements it still reads correctly.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from bptrace import i18n
from bptrace.i18n import _
from bptrace.render.blocks import Cell, Checks, MathPara, Preformatted
from bptrace.render.layout import Block, Grid, Para

CSS = """\
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; line-height: 1.45;
       margin: 2rem auto; max-width: 80rem; padding: 0 1rem; color: #1b1b1b; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: .4rem; }
h2 { font-size: 1.25rem; margin-top: 1.6rem; }
p.dim, .bptrace-caption { color: #5a5a5a; }
p.good, tr.good td { color: #1d6b2c; }
p.bad, tr.bad td { color: #a4161a; font-weight: bold; }
p.bold { font-weight: bold; }
p.warn { color: #8a5a00; }
.bptrace-scroll { overflow-x: auto; margin: .6rem 0 1.4rem; }
table.bptrace { border-collapse: collapse; font-size: .92rem; }
table.bptrace caption { caption-side: top; text-align: left; font-weight: bold; padding: .3rem 0; }
table.bptrace th, table.bptrace td { padding: .25rem .6rem; border-bottom: 1px solid #d0d0d0;
                                     vertical-align: top; text-align: left; }
table.bptrace th { border-bottom: 2px solid #444; background: #f4f4f4; }
table.bptrace td.num, table.bptrace th.num { text-align: right; white-space: nowrap;
                                             font-variant-numeric: tabular-nums; }
table.bptrace td.name { white-space: nowrap; color: #0b5394; }
table.bptrace tr.dim td { color: #6a6a6a; }
p.math, div.math { margin: .25rem 0 .25rem 1.2rem; }
p.note { color: #5a5a5a; margin: .2rem 0 .2rem 1.2rem; }
p.result { font-weight: bold; font-size: 1.1rem; }
math { font-size: 1.08em; }
math[display="block"] { margin: .3rem 0; }
pre.sympy { margin: .3rem 0 .3rem 1.2rem; }
td.ok { color: #1d6b2c; } td.bad { color: #a4161a; font-weight: bold; }
@media print { body { margin: 0; max-width: none; } .bptrace-scroll { overflow: visible; } }
"""

# Inline styles: what must survive when the page's stylesheet does not (a pasted fragment).
_TABLE = "border-collapse:collapse"
_CELL = "padding:0.25em 0.6em;border-bottom:1px solid #ccc;vertical-align:top"
_LEFT = _CELL + ";text-align:left"
_NUM = _CELL + ";text-align:right;white-space:nowrap"
_NAME = _LEFT + ";white-space:nowrap"
_CAPTION = "caption-side:top;text-align:left;font-weight:bold;padding:0.3em 0"
_CELL_COLORS = {"green": "#1d6b2c", "red": "#a4161a", "yellow": "#8a5a00", "cyan": "#0b5394", "magenta": "#8e1e74"}
_ROW_STYLE = {"bad": "color:#a4161a;font-weight:bold", "good": "color:#1d6b2c", "dim": "color:#6a6a6a"}


def html_lang() -> str:
    """A page's language attribute for the language bptrace speaks: "en" or "zh-CN"."""
    return {"zh": "zh-CN"}.get(i18n.language(), "en")


def text(value: str) -> str:
    """Escape text for HTML; line breaks become <br>, leading spaces no-break spaces."""
    lines = []
    for line in value.split("\n"):
        stripped = line.lstrip(" ")
        lines.append("&nbsp;" * (len(line) - len(stripped)) + html.escape(stripped, quote=True))
    return "<br>".join(lines)


def cell_html(value: Cell) -> str:
    """A cell's content: text escaped, or a formula tree as MathML (formula.mathml), a <math> per line."""
    if isinstance(value, str):
        return text(value)
    from bptrace import formula

    return "<br>".join(formula.mathml(line) for line in formula.lines_of(value))


def words_and_math(value: Cell) -> str:
    """A title: text escaped, or a tree of words and formulas, its words as text and each formula as MathML."""
    if isinstance(value, str):
        return text(value)
    from bptrace import formula

    items = list(value.items) if isinstance(value, formula.Row) else [value]
    out: list[str] = []
    run: list[formula.Node] = []
    for item in [*items, None]:
        if item is None or isinstance(item, formula.Text):
            if run:
                out.append(formula.mathml(formula.Row(tuple(run))))
                run = []
            if item is not None:
                out.append(text(item.words))
        else:
            run.append(item)
    return "".join(out)


def _style(css: str, inline: bool) -> str:
    return f' style="{css}"' if inline else ""


def table(grid: Grid, inline: bool = False) -> str:
    """A Grid as an HTML table inside a horizontally scrolling div (wide tables never squeeze numbers).

    inline=True writes the essential styles as attributes (for a fragment without the stylesheet).
    """
    out = [
        f'<div class="bptrace-scroll"{_style("overflow-x:auto", inline)}>',
        f'<table class="bptrace"{_style(_TABLE, inline)}>',
    ]
    if grid.title:
        out.append(f"<caption{_style(_CAPTION, inline)}>{words_and_math(grid.title)}</caption>")
    out.append("<thead><tr>")
    for column in grid.columns:
        style = _NUM if column.kind == "num" else _LEFT
        out.append(
            f'<th scope="col" class="{html.escape(column.kind)}"{_style(style, inline)}>{text(column.header)}</th>'
        )
    out.append("</tr></thead>")
    out.append("<tbody>")
    width = len(grid.columns)
    styles = grid.styles or [""] * len(grid.rows)
    for row, row_style in zip(grid.rows, styles):
        attributes = ""
        if row_style:
            attributes = f' class="{html.escape(row_style)}"'
            if row_style in _ROW_STYLE:
                attributes += _style(_ROW_STYLE[row_style], inline)
        cells = []
        for column, value in zip(grid.columns, (list(row) + [""] * width)[:width]):
            style = {"num": _NUM, "name": _NAME}.get(column.kind, _LEFT)
            color = _CELL_COLORS.get(column.styles.get(value, "")) if isinstance(value, str) else None  # ✓ green
            attributes = _style(style + (f";color:{color}" if color else ""), inline)
            if color and not inline:
                attributes = f' style="color:{color}"'

            cells.append(f'<td class="{html.escape(column.kind)}"{attributes}>{cell_html(value)}</td>')
        out.append(f"<tr{attributes}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if grid.caption:
        out.append(
            f'<p class="bptrace-caption"{_style("color:#5a5a5a;margin:0.2em 0", inline)}>{text(grid.caption)}</p>'
        )
    out.append("</div>")
    return "\n".join(out)


def paragraph(para: Para, inline: bool = False) -> str:
    """A Para as <p class=style> (a 'title' paragraph as <h2>)."""
    if para.style == "title":
        return f"<h2>{text(para.text)}</h2>"
    if not para.text.strip():
        return ""  # a blank line between a terminal's parts: the page's margins already separate them
    style = {
        "warn": "color:#8a5a00",
        "bold": "font-weight:bold",
        "bad": _ROW_STYLE["bad"],
        "good": _ROW_STYLE["good"],
        "dim": _ROW_STYLE["dim"],
    }.get(para.style)
    attributes = f' class="{html.escape(para.style)}"' if para.style else ""
    if style and inline:
        attributes += f' style="{style}"'
    return f"<p{attributes}>{text(para.text)}</p>"


def math_para(block: MathPara, inline: bool = False) -> str:
    """A derivation's line: its words as text, each formula as MathML (rendered by the browser, no script)."""
    from bptrace import formula

    content = "".join(text(p) if isinstance(p, str) else formula.mathml(p) for p in block.parts)
    if block.role == "heading":
        return f"<h2>{content}</h2>"
    if block.role == "title":
        return f"<h1>{content}</h1>"
    css = {"note": _ROW_STYLE["dim"], "result": "font-weight:bold"}.get(block.role, "")
    return f'<p class="{html.escape(block.role)}"{_style(css, inline and bool(css))}>{content}</p>'


def preformatted(block: Preformatted) -> str:
    """SymPy's derivative: MathML where SymPy printed it, else its 2-D text."""
    mathml = block.mathml_text()
    if mathml:
        return f'<div class="math">{mathml}</div>'
    return f'<pre class="sympy">{html.escape(block.text)}</pre>'


def checks(block: Checks, inline: bool = False) -> str:
    """A derivation's checks as a table: how, the value, whether it agrees, the detail."""
    from bptrace.fmt import num

    headers = [_("check"), _("value"), _("agrees"), _("how")]
    out = [
        f'<div class="bptrace-scroll"{_style("overflow-x:auto", inline)}>',
        f'<table class="bptrace checks"{_style(_TABLE, inline)}>',
    ]
    out.append(
        "<thead><tr>"
        + "".join(f'<th scope="col"{_style(_LEFT, inline)}>{text(h)}</th>' for h in headers)
        + "</tr></thead><tbody>"
    )
    for c in block.rows:
        mark, kind = {True: ("✓", "ok"), False: ("✗", "bad"), None: ("", "")}[c.ok]
        out.append(
            f"<tr><td{_style(_LEFT, inline)}>{text(c.method)}</td>"
            f'<td class="num"{_style(_NUM, inline)}>{text(num(c.value, block.digits))}</td>'
            f'<td class="{kind}"{_style(_LEFT, inline)}>{mark}</td>'
            f"<td{_style(_LEFT, inline)}>{text(c.detail)}</td></tr>"
        )
    out.append("</tbody></table></div>")
    return "\n".join(out)


def body(blocks: Iterable[Block], heading: str | None = None, inline: bool = False) -> str:
    """The body content: an optional <h1>, then every block (a title paragraph equal to it is left out)."""
    out = []
    if heading:
        out.append(f"<h1>{text(heading)}</h1>")
    for block in blocks:
        if isinstance(block, MathPara):
            if block.role != "title" or heading is None:
                out.append(math_para(block, inline))
        elif isinstance(block, Preformatted):
            out.append(preformatted(block))
        elif isinstance(block, Checks):
            out.append(checks(block, inline))
        elif isinstance(block, Grid):
            out.append(table(block, inline))
        elif block.style == "title" and heading is not None and block.text.strip() == heading.strip():
            continue
        else:
            p = paragraph(block, inline)
            if p:
                out.append(p)
    return "\n".join(out)


def render(blocks: Iterable[Block], title: str | None = None, standalone: bool = True, lang: str | None = None) -> str:
    """A whole page (standalone) or only the body content wrapped in <div class="bptrace">; `lang` is the page's
    language attribute (default: the language bptrace speaks, "en" or "zh-CN")."""
    if lang is None:
        lang = html_lang()
    if not standalone:
        return f'<div class="bptrace">\n{body(blocks, inline=True)}\n</div>\n'
    page_title = title or "bptrace"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="bptrace">\n'
        f"<title>{html.escape(page_title)}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body(blocks, title)}\n</main>\n</body>\n</html>\n"
    )
