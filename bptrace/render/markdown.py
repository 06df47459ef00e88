"""Blocks -> GitHub-flavoured Markdown: headings, paragraphs and pipe tables. Displays only; computes nothing.

Tables are GFM pipe tables (number columns right-aligned with `---:`); a cell's line breaks become `<br>`,
and every character Markdown would read as syntax (`|`, `*`, `$`, `<`, ...) is escaped, so a formula such as
`δ_o1·w5 + δ_o2·w7` shows as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bptrace import formula
from bptrace.i18n import _
from bptrace.render.blocks import Cell, cell_text
from bptrace.render.layout import Block, Grid, Para

# ASCII punctuation that Markdown (or GitHub's extensions: ~strike~, $math$) may read as syntax.
_ALWAYS = set("\\`*[]|~$")
_LINE_START = re.compile(r"^(\s*)([-+>#]|\d+[.)])(?=\s|$)|^(\s*)([=-])(?=[=-]*\s*$)")


def escape(text: str, line_start: bool = True) -> str:
    """Escape one line of text for Markdown inline content (a paragraph line, or a table cell's line with
    line_start=False: inside a cell a leading '-' or '#' means nothing)."""
    out: list[str] = []
    for k, ch in enumerate(text):
        if ch in _ALWAYS:
            out.append("\\" + ch)
        elif ch == "_":
            # An underscore inside a word (out_h1, δ_o1) is never emphasis in GFM; escape it elsewhere only,
            # so that the source stays readable.
            before = text[k - 1] if k else " "
            after = text[k + 1] if k + 1 < len(text) else " "
            out.append("_" if before.isalnum() and (after.isalnum() or after == "_") else "\\_")
        elif ch == "<":
            out.append("&lt;")  # would start an HTML tag
        elif ch == "&":
            out.append("&amp;")  # would start an entity such as &lt;
        else:
            out.append(ch)
    line = "".join(out)
    if not line_start:
        return line
    # A paragraph line starting with '-', '#', '>' or '1.' would become a list, heading or quote; a line of
    # '=' or '-' alone would underline the line before as a heading.
    return _LINE_START.sub(_escape_marker, line)


def _escape_marker(m: re.Match[str]) -> str:
    indent, marker = (m.group(1) or m.group(3) or ""), (m.group(2) or m.group(4))
    if marker[0].isdigit():
        return indent + marker[:-1] + "\\" + marker[-1]  # 1\. (a backslash escapes punctuation only)
    return indent + "\\" + marker


def cell(text: str, style: str = "") -> str:
    """One table cell: escaped, line breaks as <br>, leading spaces kept as no-break spaces."""
    lines = [_keep_indent(escape(line, line_start=False)) for line in text.split("\n")]
    body = "<br>".join(lines)
    if style == "bad" and body.strip():
        body = f"**{body}**"
    return body


def _keep_indent(line: str) -> str:
    stripped = line.lstrip(" ")
    return "&nbsp;" * (len(line) - len(stripped)) + stripped


MATH_STYLES = ("latex", "unicode")


def math_cell(text: str, style: str = "") -> str:
    """A formula cell as $…$ mathematics (GitHub, Jupyter, Typora and Zhihu render it), one $…$ per line."""
    from bptrace.render.latex import math_line

    lines = []
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped:
            lines.append("")
            continue
        body = math_line(stripped).replace("|", r"\vert ").replace("$", r"\$")
        lines.append(_keep_indent(" " * (len(line) - len(line.lstrip(" "))) + f"${body}$"))
    out = "<br>".join(lines)
    return f"**{out}**" if style == "bad" and out.strip() else out


def formula_cell(node: formula.Node, style: str = "", math: str = "latex") -> str:
    """A formula tree as a cell: each line as $…$ in formula.latex's LaTeX (math="latex"), or its Unicode text."""
    if math != "latex":
        return cell(formula.unicode(node), style)
    out = "<br>".join(_formula_line(line) for line in formula.lines_of(node))
    return f"**{out}**" if style == "bad" else out


def _formula_line(line: formula.Node) -> str:
    """One line of a formula cell: its mathematics as $…$, its words (a Text node) as Markdown text between."""
    items = list(line.items) if isinstance(line, formula.Row) else [line]
    out: list[str] = []
    run: list[formula.Node] = []
    for item in [*items, None]:
        if item is None or isinstance(item, formula.Text):
            if run:
                math = formula.latex(formula.Row(tuple(run))).replace("|", r"\vert ").replace("$", r"\$")
                out.append("$" + math.strip() + "$")
                run = []
            if item is not None:
                out.append(_keep_indent(escape(item.words, line_start=False)))
        else:
            run.append(item)
    return "".join(out)


def quantity_math(text: str) -> str | None:
    from bptrace.render.latex import quantity_math as math

    return math(text)


def quantity_cell(text: str, style: str = "") -> str:
    """A quantity as a sheet spells it (dE/dw5, delta_o1:2, w5+) as $…$ mathematics."""
    body = "$" + (quantity_math(text) or "").replace("|", r"\vert ") + "$"
    return f"**{body}**" if style == "bad" else body


def _is_name(text: str) -> bool:
    from bptrace.render.latex import _NAME

    return bool(_NAME.fullmatch(text.strip())) or bool(re.fullmatch(r"δ_[A-Za-z]\w*", text.strip()))


def table(grid: Grid, math: str = "latex") -> list[str]:
    """A Grid as Markdown lines: a heading, the pipe table, and the caption in italics.

    math="latex" writes formula cells and quantity names as $…$ mathematics; "unicode" as plain text."""
    if isinstance(grid.title, str):
        heading = escape(grid.title)
    else:  # the matrix notation's: words and formulas
        heading = _formula_line(grid.title) if math == "latex" else escape(formula.unicode(grid.title))
    lines = [f"### {heading}", ""] if grid.title else []
    width = len(grid.columns)
    header = [cell(c.header) or " " for c in grid.columns]
    rule = ["---:" if c.kind == "num" else "---" for c in grid.columns]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("| " + " | ".join(rule) + " |")
    styles = grid.styles or [""] * len(grid.rows)
    for row, style in zip(grid.rows, styles):
        cells: list[Cell] = (list(row) + [""] * width)[:width]
        shown = [
            formula_cell(c, style, math)
            if not isinstance(c, str)
            else quantity_cell(c, style)
            if math == "latex" and col.kind == "name" and quantity_math(c)
            else math_cell(c, style)
            if math == "latex"
            and ((col.kind == "text" and not col.prose) or (col.kind == "name" and _is_name(c)))
            and c.strip()
            else cell(c, style)
            for c, col in zip(cells, grid.columns)
        ]
        lines.append("| " + " | ".join(shown) + " |")
    if grid.caption:
        lines += ["", f"*{cell(grid.caption)}*"]
    return lines


def paragraph(para: Para) -> list[str]:
    """A Para as Markdown lines; its line breaks are hard breaks (a backslash at the end of the line)."""
    if para.style == "title":
        return [f"## {escape(' '.join(para.text.split()))}"]
    lines = [_keep_indent(escape(line)) for line in para.text.split("\n")]
    text = "\\\n".join(lines)
    if not text.strip():
        return []
    if para.style in ("bold", "bad"):
        text = f"**{text}**"
    elif para.style == "dim":
        text = f"*{text}*"
    return [text]


def render(blocks: Iterable[Block], title: str | None = None, standalone: bool = True, math: str = "latex") -> str:
    """Markdown text of the blocks; standalone adds the title as a top-level heading; math as for table()."""
    out: list[list[str]] = []
    heading = " ".join(title.split()) if title and standalone else None
    if heading:
        out.append([f"# {escape(heading)}"])
    for block in blocks:
        if isinstance(block, Grid):
            out.append(table(block, math))
        elif not isinstance(block, Para):
            out.append(derivation([block], math=math).rstrip("\n").split("\n"))
        elif block.style == "title" and heading is not None and " ".join(block.text.split()) == heading:
            continue  # the document heading already says it
        else:
            lines = paragraph(block)
            if lines:
                out.append(lines)
    return "\n\n".join("\n".join(lines) for lines in out) + "\n"


def derivation(blocks: Iterable[Block], ascii: bool = False, math: str = "unicode") -> str:
    """A derivation's blocks (explain) as Markdown: a heading per section (the first '#'), the result in bold,
    each section's lines in a fenced text block (math="unicode": every formula in Unicode, or ASCII with
    `ascii`) or as $…$ LaTeX lines (math="latex"), the checks and the factors as tables."""
    from bptrace.fmt import num, to_ascii
    from bptrace.render.blocks import Checks, MathPara, Preformatted
    from bptrace.render.terminal import math_text

    out: list[str] = []
    fence: list[str] = []

    def close() -> None:
        if fence:
            out.extend(["```text", *fence, "```", ""])
            fence.clear()

    def words(block: MathPara) -> str:
        if math == "latex" and not ascii:
            from bptrace import formula

            return "".join(_md_escape(p) if isinstance(p, str) else formula.markdown(p) for p in block.parts)
        return math_text(block.parts, ascii)

    first = True
    for block in blocks:
        if isinstance(block, MathPara) and block.role in ("title", "heading"):
            close()
            out += [("# " if block.role == "title" else "## ") + _md_escape(math_text(block.parts, ascii)), ""]
            first = block.role == "title"
        elif isinstance(block, MathPara) and first:
            out += [f"**{_md_escape(math_text(block.parts, ascii))}**", ""]
        elif isinstance(block, MathPara):
            if math == "latex" and not ascii:
                out += [words(block), ""]
            else:
                fence.append(words(block))
        elif isinstance(block, Preformatted):
            fence.append(block.ascii if ascii else block.text)
        elif isinstance(block, Checks):
            close()
            out += [_("| check | value | agrees | how |"), "|---|---:|:---:|---|"]
            for c in block.rows:
                mark = {True: "✓", False: "✗", None: ""}[c.ok]
                detail = to_ascii(c.detail) if ascii else c.detail
                shown = to_ascii(mark) if ascii else mark
                out.append(f"| {c.method} | {num(c.value, block.digits)} | {shown} | {_md_escape(detail)} |")
            out.append("")
        elif isinstance(block, Grid):
            close()
            out.append("| " + " | ".join(c.header for c in block.columns) + " |")
            out.append("|" + "|".join("---:" if c.kind == "num" else "---" for c in block.columns) + "|")
            for row in block.rows:
                texts = [cell_text(v) for v in row]
                cells = [_md_escape(to_ascii(v) if ascii else v) for v in texts]
                out.append("| " + " | ".join(cells) + " |")
            out.append("")
    close()
    return "\n".join(out).rstrip() + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
