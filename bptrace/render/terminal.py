"""Blocks -> rich renderables for the terminal (and Jupyter). Displays only; computes nothing.

A table is laid out for the console's width (docs/terminal.md), and never breaks a number or a word:

1. a table of every column, when each formula column can have at least its longest unbreakable piece
   (formulas wrap only at their spaces; numbers, names and header words never wrap);
2. else the numbers and names stay a table row and each formula is written on its own lines under its row,
   labelled with its column's header;
3. else, when even the numbers do not fit side by side, one block per row: every column a labelled line.

A formula cell (a tree of bptrace/formula.py) is printed by formula.unicode, or with ascii=True by
formula.ascii (never transliterated from its Unicode); words and names are spelled by fmt.to_ascii. With
ascii=True tables use ASCII borders. Where the terminal's encoding cannot carry a character (the automatic
fallback, not --ascii), only those characters are spelled.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rich import box
from rich.cells import cell_len, chop_cells
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from bptrace import formula, i18n
from bptrace.fmt import DEFAULT_DIGITS, spells_every_symbol, to_ascii
from bptrace.i18n import _
from bptrace.render.blocks import DEFAULT_ROWS, Block, Cell, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace

STYLES = {
    "": "",
    "bold": "bold",
    "dim": "dim",
    "good": "green",
    "bad": "bold red",
    "warn": "yellow",
    "title": "bold underline",
}
FORMULA_FLOOR = 24  # a formula column narrower than this (and than its longest line) makes the layout change
SHORT = 12  # a text column no wider than this stays in the row when the formulas move under it
INDENT = 3  # of the lines under a row (the label starts after it)


def printed(cell: Cell | formula.Node, ascii: bool = False) -> str:
    """A cell or a derivation's part as terminal text: words as they are (spelled by fmt.to_ascii with `ascii`),
    a formula tree by formula.unicode, or with `ascii` by formula.ascii (the encoding's fallback: its Unicode
    with only what the encoding cannot carry spelled)."""
    if isinstance(cell, str):
        return to_ascii(cell) if ascii else cell
    if not ascii:
        return formula.unicode(cell)
    return formula.ascii(cell) if spells_every_symbol() else to_ascii(formula.unicode(cell))


def to_rich(blocks: Iterable[Block], ascii: bool = False, spaced: bool = True) -> list[Any]:
    """Rich renderables for blocks (text is never read as markup: formulas contain brackets).

    spaced: a blank line after each bold paragraph (run's headings); check's reports put their own."""
    t = to_ascii if ascii else (lambda x: x)
    out: list[Any] = []
    for block in blocks:
        if isinstance(block, Grid):
            out.append(GridView(block, ascii))
        elif not isinstance(block, Para):
            out.append(DerivationView([block], ascii))
        else:
            out.append(prose(t(block.text), STYLES.get(block.style, "")))
            if block.style == "bold" and spaced:
                out.append(Text(""))
    return out


# ---- Chinese text: where a line may break ----
# Chinese has no spaces between words: a line may break between any two Chinese characters, and between a
# Chinese character and a word of Latin letters or digits, but never inside a number, a name or a formula
# piece (they are runs of narrow characters), never before closing punctuation and never after opening.
_NO_BREAK_BEFORE = set("，。；：、！？）】」』》〉”’,.;:!?)]}%…·")
_NO_BREAK_AFTER = set("（【「『《〈“‘([{")
_SPACES = re.compile(r"(\s+)")


def _wide(ch: str) -> bool:
    return unicodedata.east_asian_width(ch) in "WF"


def _cjk(text: str) -> bool:
    """Whether text has wide (Chinese, Japanese, Korean, full-width) characters."""
    return any(_wide(ch) for ch in text)


def pieces(line: str) -> list[str]:
    """A line cut at every place it may break (spaces stay at the end of the piece before them)."""
    out: list[str] = []
    for part in _SPACES.split(line):
        if not part:
            continue
        if part.isspace():
            if out:
                out[-1] += part
            else:
                out.append(part)
            continue
        start = 0
        for k in range(1, len(part)):
            a, b = part[k - 1], part[k]
            if (_wide(a) or _wide(b)) and b not in _NO_BREAK_BEFORE and a not in _NO_BREAK_AFTER:
                out.append(part[start:k])
                start = k
        out.append(part[start:])
    return out


# where a formula piece wider than its line breaks (after a product's dot), rather than inside a number
_PRODUCT = re.compile(r"(?<=[·×*])(?=.)")


def wrap(text: str, width: int) -> list[str]:
    """Text wrapped to `width` cells, breaking only where `pieces` allows; a piece wider than the line breaks
    after a product's dot (`(-0.0506)·(-0.0533)·` / `(-3.80)`), and only one still wider is cut."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for whole in pieces(paragraph):
            parts = _PRODUCT.split(whole) if cell_len(whole.rstrip()) > width else [whole]
            for piece in parts:
                if line and cell_len((line + piece).rstrip()) > width:
                    lines.append(line.rstrip())
                    line = ""
                if not line and cell_len(piece.rstrip()) > width:
                    chopped = chop_cells(piece.rstrip(), width)
                    lines += chopped[:-1]
                    line = chopped[-1] + piece[len(piece.rstrip()) :]
                    continue
                line += piece
        lines.append(line.rstrip())
    return lines


class Prose:
    """Text that wraps as Chinese does (see `pieces`): a paragraph, a title or a cell holding Chinese."""

    def __init__(self, text: str, style: str = "") -> None:
        self.text = text
        self.style = style

    @property
    def plain(self) -> str:
        return self.text

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        least = max((cell_len(p.rstrip()) for line in self.text.split("\n") for p in pieces(line)), default=0)
        most = max((cell_len(line) for line in self.text.split("\n")), default=0)
        return Measurement(min(least, options.max_width), min(most, options.max_width))

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("\n".join(wrap(self.text, options.max_width)), style=self.style)


def prose(text: str, style: str = "") -> Any:
    """A paragraph for the terminal: rich's Text, or where bptrace speaks Chinese and the text holds Chinese, Prose."""
    if i18n.language() != "en" and _cjk(text):
        return Prose(text, style)
    return Text(text, style=style)


def _words(text: str) -> list[str]:
    if i18n.language() != "en" and _cjk(text):
        return [p.strip() for line in text.split("\n") for p in pieces(line) if p.strip()]
    return [word for line in text.split("\n") for word in line.split(" ") if word]


def _header_words(text: str) -> list[str]:
    """A header's words: it wraps at its spaces only (a Chinese header word stays whole)."""
    return [word for line in text.split("\n") for word in line.split(" ") if word]


def _widest(texts: Iterable[str]) -> int:
    return max((cell_len(x) for x in texts), default=0)


class _Measured:
    """A column with its widths: `least` (its longest unbreakable piece) and `most` (its longest line)."""

    def __init__(self, column: Column, cells: list[str]) -> None:
        self.column = column
        self.header = column.header
        lines = [line for cell in cells for line in cell.split("\n")]
        self.widest_cell = _widest(lines)
        head_least = _widest(_header_words(column.header))
        if column.kind == "num":  # a number never wraps (its header wraps between its words)
            self.least = max(self.widest_cell, head_least)
        else:  # formulas and names wrap between their words ("z⁽¹⁾₁ = net_h1_1:1"), never inside one
            self.least = max(_widest(w for cell in cells for w in _words(cell)), head_least)
        self.most = max(self.widest_cell, cell_len(column.header), self.least)

    @property
    def wraps(self) -> bool:
        """A formula (or prose) column: it moves under its row when the table does not fit."""
        return self.column.kind == "text"

    @property
    def floor(self) -> int:
        """The narrowest this column may be in a table of every column."""
        return max(self.least, min(self.most, FORMULA_FLOOR)) if self.wraps else self.least


class GridView:
    """A Grid laid out for the console's width: a table, formulas under their rows, or one block per row."""

    def __init__(self, grid: Grid, ascii: bool = False) -> None:
        self.grid = grid
        self.ascii = ascii

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        t: Callable[[str], str] = to_ascii if self.ascii else (lambda x: x)
        g = self.grid
        columns = [Column(t(c.header), c.kind, {t(k): v for k, v in c.styles.items()}) for c in g.columns]
        rows = [[printed(cell, self.ascii) for cell in row] for row in g.rows]
        styles = g.styles or [""] * len(rows)
        measured = [_Measured(c, [row[k] for row in rows]) for k, c in enumerate(columns)]
        width = options.max_width
        widths = _table_widths(measured, width)
        if widths is not None:
            yield self.table(t, measured, widths, rows, styles)
            return
        yield prose(printed(g.title, self.ascii), "bold")
        yield Text("")
        inline = [m for m in measured if not m.wraps or m.most <= SHORT]
        below = [m for m in measured if m not in inline]
        label = min(_widest(m.header for m in below), width // 3) if below else 0
        headers = [_inline_header(measured, m) for m in inline]
        widths = [max(m.widest_cell, _widest(_header_words(h))) for m, h in zip(inline, headers)]
        fits = sum(widths) + 3 * len(inline) - 1 <= width
        if fits and _widest_word(below) <= width - INDENT - label - 2:
            yield from self.under_rows(console, measured, inline, headers, widths, rows, styles, width)
        else:
            yield from self.blocks(measured, rows, styles, width)
        if g.caption:
            yield prose(t(g.caption), "dim")
        yield Text("")

    # ---- 1. one table ----
    def table(
        self,
        t: Callable[[str], str],
        measured: list[_Measured],
        widths: list[int],
        rows: list[list[str]],
        styles: list[str],
    ) -> Table:
        g = self.grid
        table = Table(
            title=prose(printed(g.title, self.ascii), "bold"),
            title_justify="left",
            box=box.ASCII if self.ascii else box.SIMPLE_HEAVY,
            pad_edge=False,
            caption=prose(t(g.caption), "dim") if g.caption else None,
            caption_justify="left",
        )
        for m, w in zip(measured, widths):
            kind = m.column.kind
            table.add_column(
                Text(m.header, no_wrap=False, overflow="fold"),  # between its words: the column is at least that wide
                justify="right" if kind == "num" else "left",
                no_wrap=kind == "num",
                overflow="fold",  # never needed: every column is at least as wide as its longest unbreakable piece
                style="cyan" if kind == "name" else None,
                width=w,
                min_width=m.least,
            )
        for row, style in zip(rows, styles):
            table.add_row(*(self.cell(m, cell) for m, cell in zip(measured, row)), style=STYLES.get(style, ""))
        return table

    def cell(self, m: _Measured, text: str) -> Any:
        # Prose, not rich's Text: a formula piece wider than the column breaks after a product's dot, never
        # inside a number (rich folds it anywhere: `(-3.8001727` / `7)`)
        return Prose(text, m.column.styles.get(text, ""))

    # ---- 2. the numbers in a row, the formulas under it ----
    def under_rows(
        self,
        console: Console,
        measured: list[_Measured],
        inline: list[_Measured],
        headers: list[str],
        widths: list[int],
        rows: list[list[str]],
        styles: list[str],
        width: int,
    ) -> Iterator[Any]:
        yield from self.header_lines(console, inline, headers, widths)
        rule = "-" if self.ascii else "━"
        yield Text(" " + rule * (sum(widths) + 3 * (len(widths) - 1)))
        for row, style in zip(rows, styles):
            cells = [row[measured.index(m)] for m in inline]
            yield self.row_line(inline, cells, widths, STYLES.get(style, ""))
            below = [(m, row[k]) for k, m in enumerate(measured) if m not in inline and row[k]]
            if below:
                yield self.labelled(below, width, STYLES.get(style, ""))

    def header_lines(
        self, console: Console, inline: list[_Measured], headers: list[str], widths: list[int]
    ) -> Iterator[Text]:
        wrapped = [
            [line.plain.rstrip() for line in Text(h).wrap(console, w)] if h else [""] for h, w in zip(headers, widths)
        ]
        height = max(len(lines) for lines in wrapped)
        for k in range(height):
            parts = []
            for m, lines, w in zip(inline, wrapped, widths):
                line = lines[k - (height - len(lines))] if k >= height - len(lines) else ""
                parts.append(_pad(line, w, m.column.kind == "num"))
            yield Text(" " + "   ".join(parts).rstrip(), style="bold")

    def row_line(self, inline: list[_Measured], cells: list[str], widths: list[int], style: str) -> Text:
        line = Text(" ", style=style)
        for k, (m, cell, w) in enumerate(zip(inline, cells, widths)):
            if k:
                line.append("   ")
            extra = m.column.styles.get(cell, "") or ("cyan" if m.column.kind == "name" else "")
            line.append(_pad(cell, w, m.column.kind == "num"), style=extra)
        line.rstrip()
        return line

    # ---- 3. one block per row ----
    def blocks(self, measured: list[_Measured], rows: list[list[str]], styles: list[str], width: int) -> Iterator[Any]:
        names = [k for k, m in enumerate(measured) if m.column.kind == "name"][:1] or [0]
        for row, style in zip(rows, styles):
            head = Text(" ")
            for k in names:
                head.append(f"{measured[k].header} " if measured[k].header else "", style="bold")
                head.append(row[k], style=f"cyan {STYLES.get(style, '')}".strip())
            yield head
            rest = [(m, row[k]) for k, m in enumerate(measured) if k not in names and row[k]]
            yield self.labelled(rest, width, STYLES.get(style, ""))

    def labelled(self, items: list[tuple[_Measured, str]], width: int, style: str) -> Table:
        """Lines `header  cell` under a row, the cell wrapped at its spaces beside its label."""
        label = min(_widest(m.header for m, _ in items), width // 3)
        grid = Table.grid(padding=(0, 2))  # two spaces between a label and its cell
        grid.add_column(width=INDENT - 2)
        grid.add_column(width=label, style="dim")
        grid.add_column(overflow="fold")  # folds only where a single piece is wider than the terminal
        for m, cell in items:
            grid.add_row("", Prose(m.header), self.cell(m, cell))  # a Chinese label wraps, never cut with '…'
        grid.style = style
        return grid


def _inline_header(measured: list[_Measured], m: _Measured) -> str:
    """A 'value' column right after a formula column is headed by that formula's header when the formulas move."""
    k = measured.index(m)
    if m.header == _("value") and k and measured[k - 1].wraps and measured[k - 1].most > SHORT:
        return measured[k - 1].header
    return m.header


def _widest_word(measured: list[_Measured]) -> int:
    return max((m.least for m in measured), default=0)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - cell_len(text))
    return gap + text if right else text + gap


def _table_widths(measured: list[_Measured], width: int) -> list[int] | None:
    """Each column's width in a table of every column that fits `width`, or None when none does."""
    extra = 3 * len(measured) - 1  # rich: one space of padding each side, a border between and at the edges
    if sum(m.most for m in measured) + extra <= width:
        return [m.most for m in measured]
    floors = [m.floor for m in measured]
    spare = width - extra - sum(floors)
    if spare < 0:
        return None
    wants = [m.most - f for m, f in zip(measured, floors)]
    total = sum(wants)
    widths = [f + (w * spare // total if total else 0) for f, w in zip(floors, wants)]
    left = width - extra - sum(widths)  # what the rounding down left: a column each, those that want more first
    for k in sorted(range(len(widths)), key=lambda k: widths[k] - measured[k].most):
        if left and widths[k] < measured[k].most:
            widths[k] += 1
            left -= 1
    return widths


class BlocksView:
    """A rich renderable for any list of blocks; shows in Jupyter too."""

    def __init__(self, blocks: Iterable[Block], ascii: bool = False, spaced: bool = True) -> None:
        self._blocks = list(blocks)
        self.ascii = ascii
        self.spaced = spaced  # run's spacing (a blank line after its header and its bold headings); else none added

    def blocks(self) -> list[Block]:
        return self._blocks

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        header_done = not self.spaced
        for renderable in to_rich(self.blocks(), self.ascii, self.spaced):
            if isinstance(renderable, GridView) and not header_done:
                yield Text("")
                header_done = True
            yield renderable

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter: rich's own HTML of the tables, and plain text."""
        from bptrace.display import mimebundle

        return mimebundle(self)


class TraceView(BlocksView):
    """The whole trace of `bptrace run` as rich tables."""

    def __init__(
        self,
        trace: Trace,
        digits: int = DEFAULT_DIGITS,
        ascii: bool = False,
        layer: int | None = None,
        rows: int | None = DEFAULT_ROWS,
        verification: Any = None,
        sections: Iterable[str] | None = None,
    ) -> None:
        from bptrace.render.layout import TraceLayout  # a trace's layout: not needed by train's report

        self.layout = TraceLayout(
            trace, digits=digits, layer=layer, rows=rows, verification=verification, sections=sections
        )
        super().__init__([], ascii)

    def blocks(self) -> list[Block]:
        return self.layout.blocks()


# ---------------------------------------------------------------------------------------------------
# A derivation (explain): lines of words and formula trees (render/blocks.py MathPara), SymPy's 2-D blocks
# and the checks. A line that does not fit breaks before its ' = ', never inside a number.

_DINDENT = "  "
DERIVATION_STYLES = {"result": "bold", "text": "", "math": "", "pretty": "cyan", "note": "dim"}


def math_text(parts: Iterable[Any], ascii: bool = False) -> str:
    """A MathPara's parts as one line: words as they are (ASCII-spelled with `ascii`), each formula printed
    in Unicode or, with `ascii`, by the ASCII printer (bptrace/formula.py)."""
    return "".join(printed(part, ascii) for part in parts)


class DerivationView(BlocksView):
    """A derivation's blocks for the terminal: each section's heading bold (the first underlined), its lines
    indented, a blank line after each section."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from bptrace.render.blocks import Checks, MathPara, Preformatted

        width = options.max_width
        started = False
        for block in self.blocks():
            if isinstance(block, MathPara) and block.role in ("title", "heading"):
                if started:
                    yield Text("")
                started = True
                title = math_text(block.parts, self.ascii)
                style = "bold underline" if block.role == "title" else "bold"
                if _has_wide(title) and cell_len(title) > width:
                    yield from _wrapped_lines(title, width, style, "", "")
                else:
                    yield Text(title, style=style)
            elif isinstance(block, MathPara):
                style = DERIVATION_STYLES.get(block.role, "")
                for part in math_text(block.parts, self.ascii).split("\n"):
                    yield from _hanging_line(part, width, style)
            elif isinstance(block, Preformatted):
                for part in (block.ascii if self.ascii else block.text).split("\n"):
                    yield Text(_DINDENT + part, style="cyan", no_wrap=True, overflow="ignore")
            elif isinstance(block, Checks):
                yield from _check_lines(block, width, self.ascii)
            else:
                yield from to_rich([block], self.ascii)
        if started:
            yield Text("")


def _check_lines(checks: Any, max_width: int | None, ascii: bool) -> Iterator[Any]:
    """method  value  ✓  how, one line per check (a Chinese detail wraps between its characters)."""
    from bptrace.fmt import num

    width = max(cell_len(c.method) for c in checks.rows)
    digits = checks.digits
    for c in checks.rows:
        mark = {True: "✓", False: "✗", None: " "}[c.ok]
        style = {True: "green", False: "bold red", None: ""}[c.ok]
        method = c.method + " " * (width - cell_len(c.method))  # a Chinese character is two cells wide
        line = Text(_DINDENT + method + "  " + num(c.value, digits).rjust(digits + 6) + "  ")
        line.append(to_ascii(mark) if ascii else mark, style=style)
        detail = to_ascii(c.detail) if ascii else c.detail
        if max_width is not None and _has_wide(detail) and cell_len(line.plain) + 2 + cell_len(detail) > max_width:
            # Chinese: the detail wraps between characters (never inside a number or a name), indented
            first, *rest = _line_breaks(detail, max_width - cell_len(line.plain) - 2, max_width - len(_DINDENT * 3))
            line.append("  " + first, style="dim")
            yield line
            for more in rest:
                yield Text(_DINDENT * 3 + more, style="dim")
            continue
        line.append("  " + detail, style="dim")
        yield line


def _hanging_line(text: str, width: int, style: str) -> Iterator[Any]:
    """A line that does not fit is broken before its ' = ' (a new line '= …', indented) rather than anywhere;
    a piece still too wide wraps at its spaces, indented under itself (a number is never broken)."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    pieces = text.split(" = ")
    lines = [pieces[0]]
    for piece in pieces[1:]:
        indent = _DINDENT if len(lines) == 1 else _DINDENT * 2
        if cell_len(indent + lines[-1] + " = " + piece) <= width:
            lines[-1] += " = " + piece
        else:
            lines.append("= " + piece)
    for k, line in enumerate(lines):
        indent = _DINDENT * (1 if k == 0 else 2)
        if cell_len(indent + line) <= width:
            yield Text(indent + line, style=style)
            continue
        if _has_wide(line):  # Chinese wraps between its characters, not only at spaces
            yield from _wrapped_lines(line, width, style, indent, _DINDENT * 2)
            continue
        grid = Table.grid()
        grid.add_column(width=len(indent))
        grid.add_column(overflow="fold")  # folds only a piece wider than the whole terminal
        grid.add_row("", Text(line, style=style))
        yield grid


def _has_wide(text: str) -> bool:
    """Whether `text` has wide (Chinese) characters: then it wraps by _line_breaks."""
    import unicodedata

    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def _wrapped_lines(text: str, width: int, style: str, first: str, then: str) -> Iterator[Any]:
    """`text` in lines of at most `width` cells: the first indented by `first`, the others by `then`."""
    from rich.text import Text

    parts = _line_breaks(text, width - len(first), width - len(then))
    for k, part in enumerate(parts):
        yield Text((first if k == 0 else then) + part, style=style)


_LINE_NO_BREAK_BEFORE = set("，。、；：？！）》」』”’…,.;:?!)]}")
_LINE_NO_BREAK_AFTER = set("（《「『“‘([{")


def _line_breaks(text: str, first: int, then: int) -> list[str]:
    """`text` cut into lines of at most `first` cells (the first line) and `then` (the others).

    A line breaks at a space or next to a wide (Chinese) character, but never inside a run of other
    characters (a number, a name, a formula without spaces), never before a closing punctuation mark or
    after an opening one. A run wider than a whole line (none in bptrace's output) is cut where it must be.
    """
    import unicodedata

    from rich.cells import cell_len

    atoms: list[str] = []  # a wide character, a run of spaces, or a run of other characters
    for ch in text:
        kind = "space" if ch == " " else "wide" if unicodedata.east_asian_width(ch) in "WF" else "other"
        if atoms and kind != "wide" and _atom_kind(atoms[-1]) == kind:
            atoms[-1] += ch
        else:
            atoms.append(ch)

    def may_break(before: str, after: str) -> bool:
        if _atom_kind(before) == "space" or _atom_kind(after) == "space":
            return True
        return after[0] not in _LINE_NO_BREAK_BEFORE and before[-1] not in _LINE_NO_BREAK_AFTER

    lines: list[str] = []
    line: list[str] = []
    for atom in atoms:
        limit = first if not lines else then
        if line and cell_len("".join(line) + atom.rstrip()) > limit:
            cut = len(line)
            while cut > 0 and not may_break(line[cut - 1], line[cut] if cut < len(line) else atom):
                cut -= 1
            if cut == 0:
                cut = len(line)  # nowhere to break: the line as it is (it is full)
            lines.append("".join(line[:cut]).rstrip())
            line = line[cut:]
            while line and _atom_kind(line[0]) == "space":
                line.pop(0)
            if _atom_kind(atom) == "space" and not line:
                continue
        line.append(atom)
        while len(line) == 1 and cell_len(line[0]) > (first if not lines else then):  # a run wider than a line
            limit = first if not lines else then
            head, tail = _cut_at_cells(line[0], limit)
            lines.append(head)
            line = [tail] if tail else []
    if line:
        lines.append("".join(line).rstrip())
    return [x for x in lines if x] or [""]


def _atom_kind(atom: str) -> str:
    import unicodedata

    if atom[0] == " ":
        return "space"
    return "wide" if unicodedata.east_asian_width(atom[0]) in "WF" else "other"


def _cut_at_cells(text: str, cells: int) -> tuple[str, str]:
    from rich.cells import cell_len

    k = 0
    while k < len(text) and cell_len(text[: k + 1]) <= cells:
        k += 1
    return text[: max(k, 1)], text[max(k, 1) :]
