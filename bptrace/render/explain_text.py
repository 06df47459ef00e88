"""Explanation -> terminal (rich) and Markdown. Displays only: every number and formula comes from explain.py.

Both forms share one layout (`sections`): a list of sections, each a list of lines with a role
(text, math, pretty SymPy block, note, check). The terminal styles the roles; Markdown puts the
mathematics in fenced blocks and the checks in a table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bptrace.fmt import num, to_ascii
from bptrace.i18n import N_, _

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from bptrace.explain.derivation import Check, Explanation, Math, Row, Step

ARROW = " ──► "
INDENT = "  "

# TRANSLATORS: a formula with the numbers substituted, e.g. "∂E_total/∂w5 = 0.74 × 0.19 = 0.14". The English
# shows it bare; a translation may lead it in as a textbook does (Chinese: 代入数值得 {substituted}).
SUBSTITUTED = N_("{substituted}")
# TRANSLATORS: a further line of the chain rule, e.g. the sum over the paths a hidden factor is (Chinese: 其中 …).
FURTHER = N_("{further_formula}")


@dataclass
class Line:
    """One line of a section: `role` is text, math, pretty (a SymPy block), note, ok or bad."""

    text: str
    role: str = "math"


@dataclass
class Section:
    title: str
    lines: list[Line] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def sections(ex: Explanation, ascii: bool = False) -> list[Section]:
    """The explanation as titled sections of lines, in reading order."""
    v = _Writer(ex, ascii)
    return list(v.all())


class _Writer:
    def __init__(self, ex: Explanation, ascii: bool) -> None:
        self.ex = ex
        self.ascii = ascii

    def t(self, text: str) -> str:
        return to_ascii(text) if self.ascii else text

    def n(self, x: float) -> str:
        return num(x, self.ex.digits)

    def m(self, math: Math) -> str:
        return self.t(math.text)

    def row(self, symbol: Math | None, row: Row, substituted: bool = False) -> str:
        """symbol = stage = stage = value, with the sample first when there are several; `substituted`: a
        formula's numbers (a translation may lead it in: 代入数值得 …)."""
        parts = ([self.m(symbol)] if symbol is not None else []) + [self.m(s) for s in row.stages] + [self.n(row.value)]
        text = " = ".join(p for k, p in enumerate(parts) if k == 0 or p != parts[k - 1])  # no "1 = 1"
        if row.sample is None:
            return _(SUBSTITUTED).format(substituted=text) if substituted else text
        if row.corrupt:  # a sample's row: its numbers (Chinese: 对样本 2，代入数值得 …)
            return _("sample {k}, x_c: {substituted}").format(k=row.sample, substituted=text)
        return _("sample {k}: {substituted}").format(k=row.sample, substituted=text)

    def all(self) -> Iterator[Section]:
        ex = self.ex
        yield Section(self.t(ex.title), [Line(self.m(ex.symbol) + " = " + self.n(ex.value), "result")])
        if ex.paths:
            yield self.where()
        if ex.chain:
            chain = [self.m(c) for c in ex.chain]
            yield Section(
                ex.chain_title,
                [Line(c if k == 0 else _(FURTHER).format(further_formula=c)) for k, c in enumerate(chain)],
            )
        for k, step in enumerate(ex.steps, start=1):
            yield self.step(k, step)
        if ex.product_formula is not None or (ex.batch is not None and len(ex.steps) > 1):
            yield self.product()
        elif ex.batch is not None:
            yield Section(self.batch_title(), [Line(self.row(ex.batch_symbol, ex.batch, substituted=True))])
        if ex.penalty is not None:
            yield Section(_("With the L2 penalty"), [Line(self.row(ex.batch_symbol, ex.penalty))])
        if ex.update is not None:
            u = ex.update
            eta = "eta" if self.ascii else "η"
            yield Section(
                _("Update ({equation})").format(equation=f"{eta} = {self.n(u.learning_rate)}"),
                [Line(self.m(u.formula))],
            )
        if ex.history:
            yield self.history()
        if ex.checks:
            yield Section(_("Checks"), checks=ex.checks)
        if ex.notes:
            yield Section(_("Notes"), [Line(self.m(n), "note") for n in ex.notes])

    def where(self) -> Section:
        ex = self.ex
        arrow = self.t(ARROW)
        lines = [Line(arrow.join(self.t(node) for node in path)) for path in ex.paths]
        count = ex.path_count
        if count > len(ex.paths):
            note = _("{shown} of {count} paths shown").format(shown=len(ex.paths), count=count)
        elif count == 1:
            note = _("one path")
        else:
            note = _("{count} paths").format(count=count)
        if ex.windows > 1 and ex.sample is None:
            note += _("; taken by both windows, x and x_c, of each sample")
        elif ex.windows > 1:
            note += _("; taken by both windows, x and x_c, of the sample")
        elif ex.samples > 1 and ex.sample is None:
            note += _("; the same for each of the {m} samples").format(m=ex.samples)
        lines.append(Line(_("({note})").format(note=note), "note"))
        return Section(_("Where {name} sits").format(name=self.t(ex.paths[0][0])), lines)

    def step(self, k: int, step: Step) -> Section:
        sec = Section(_("{k}. {symbol}  ({title})").format(k=k, symbol=self.m(step.symbol), title=self.t(step.title)))
        sec.lines += [Line(self.m(d)) for d in step.definition]
        d = step.derivative
        if d is not None:
            sec.lines.append(Line(_("derived by SymPy:"), "text"))
            sec.lines.append(Line(d.pretty_ascii if self.ascii else d.pretty, "pretty"))
            if step.closed_form is not None:
                verdict = {
                    True: _(" ✓ equals SymPy's at these numbers"),
                    False: _(" ✗ differs from SymPy's"),
                    None: "",
                }[d.agrees]
                equation = f"{step.symbol.text} = {step.closed_form.text}"
                sec.lines.append(
                    Line(self.t(_("closed form: {equation}{verdict}").format(equation=equation, verdict=verdict)))
                )
        elif step.closed_form is not None:
            sec.lines.append(Line(self.t(f"{step.symbol.text} = {step.closed_form.text}")))
        for k, term in enumerate(step.terms):
            if step.omitted_terms and k == len(step.terms) - 1:
                sec.lines.append(Line(_("… {n} more, each the same way").format(n=step.omitted_terms), "note"))
            for row in term.rows:
                sec.lines.append(Line(self.row(term.symbol + " = " + term.formula, row, substituted=True)))
            if term.derivative is not None:
                derivative = f"{term.derivative.of.text} = {term.derivative.sympy}"
                sec.lines.append(
                    Line(self.t("    " + _("({derivative}, derived by SymPy)").format(derivative=derivative)), "note")
                )
        for row in step.rows:
            sec.lines.append(Line(self.row(step.symbol, row, substituted=True)))
        sec.lines += [Line(self.t(note), "note") for note in step.notes]
        return sec

    def batch_title(self) -> str:
        return self.ex.batch_title

    def product(self) -> Section:
        ex = self.ex
        sec = Section(_("Product") if ex.kind not in ("E_total", "after") else _("Sum"))
        if ex.product_formula is not None:
            sec.lines.append(Line(self.m(ex.product_symbol) + " = " + self.m(ex.product_formula)))
        for row in ex.product:
            sec.lines.append(Line(self.row(ex.product_symbol, row, substituted=True)))
        if ex.batch is not None:
            sec.lines.append(Line(_("{title}:").format(title=self.batch_title()), "text"))
            sec.lines.append(Line(self.row(ex.batch_symbol, ex.batch, substituted=True)))
        return sec

    def history(self) -> Section:
        ex = self.ex
        sec = Section(_("Step by step"))
        name = ex.target.split("@")[0]
        for k, row in enumerate(ex.history):
            if ex.history_omitted and k == len(ex.history) - 2:
                sec.lines.append(Line(_("… {n} steps not shown").format(n=ex.history_omitted), "note"))
            label = f"{name}@{row.step}"
            sec.lines.append(Line(self.t(" = ".join([label] + [s.text for s in row.stages] + [self.n(row.value)]))))
        return sec


# ---------------------------------------------------------------------------------------------------
# Terminal

STYLES = {"result": "bold", "text": "", "math": "", "pretty": "cyan", "note": "dim"}


class ExplanationView:
    """A rich renderable of an Explanation; `ascii` writes d, delta, sigma instead of ∂, δ, σ."""

    def __init__(self, explanation: Explanation, ascii: bool = False) -> None:
        self.explanation = explanation
        self.ascii = ascii

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.cells import cell_len
        from rich.text import Text

        for k, sec in enumerate(sections(self.explanation, self.ascii)):
            title_style = "bold underline" if k == 0 else "bold"
            if _wide(sec.title) and cell_len(sec.title) > options.max_width:
                yield from _wrapped(sec.title, options.max_width, title_style, "", "")
            else:
                yield Text(sec.title, style=title_style)
            for line in sec.lines:
                style = STYLES.get(line.role, "")
                for part in line.text.split("\n"):
                    if line.role == "pretty":
                        yield Text(INDENT + part, style=style, no_wrap=True, overflow="ignore")
                    else:
                        yield from _hanging(part, options.max_width, style)
            if sec.checks:
                yield from self.checks(sec.checks, options.max_width)
            yield Text("")

    def checks(self, checks: list[Check], max_width: int | None = None) -> Iterator[Any]:
        from rich.cells import cell_len
        from rich.text import Text

        width = max(cell_len(c.method) for c in checks)
        digits = max(self.explanation.digits + 3, 12)
        for c in checks:
            mark = {True: "✓", False: "✗", None: " "}[c.ok]
            style = {True: "green", False: "bold red", None: ""}[c.ok]
            method = c.method + " " * (width - cell_len(c.method))  # a Chinese character is two cells wide
            line = Text(INDENT + method + "  " + num(c.value, digits).rjust(digits + 6) + "  ")
            line.append(to_ascii(mark) if self.ascii else mark, style=style)
            detail = to_ascii(c.detail) if self.ascii else c.detail
            if max_width is not None and _wide(detail) and cell_len(line.plain) + 2 + cell_len(detail) > max_width:
                # Chinese: the detail wraps between characters (never inside a number or a name), indented
                first, *rest = _breaks(detail, max_width - cell_len(line.plain) - 2, max_width - len(INDENT * 3))
                line.append("  " + first, style="dim")
                yield line
                for more in rest:
                    yield Text(INDENT * 3 + more, style="dim")
                continue
            line.append("  " + detail, style="dim")
            yield line


def _hanging(text: str, width: int, style: str) -> Iterator[Any]:
    """A line that does not fit is broken before its ' = ' (a new line '= …', indented) rather than anywhere;
    a piece still too wide wraps at its spaces, indented under itself (a number is never broken)."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    pieces = text.split(" = ")
    lines = [pieces[0]]
    for piece in pieces[1:]:
        indent = INDENT if len(lines) == 1 else INDENT * 2
        if cell_len(indent + lines[-1] + " = " + piece) <= width:
            lines[-1] += " = " + piece
        else:
            lines.append("= " + piece)
    for k, line in enumerate(lines):
        indent = INDENT * (1 if k == 0 else 2)
        if cell_len(indent + line) <= width:
            yield Text(indent + line, style=style)
            continue
        if _wide(line):  # Chinese wraps between its characters, not only at spaces
            yield from _wrapped(line, width, style, indent, INDENT * 2)
            continue
        grid = Table.grid()
        grid.add_column(width=len(indent))
        grid.add_column(overflow="fold")  # folds only a piece wider than the whole terminal
        grid.add_row("", Text(line, style=style))
        yield grid


def _wide(text: str) -> bool:
    """Whether `text` has wide (Chinese) characters: then it wraps by _breaks."""
    import unicodedata

    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def _wrapped(text: str, width: int, style: str, first: str, then: str) -> Iterator[Any]:
    """`text` in lines of at most `width` cells: the first indented by `first`, the others by `then`."""
    from rich.text import Text

    parts = _breaks(text, width - len(first), width - len(then))
    for k, part in enumerate(parts):
        yield Text((first if k == 0 else then) + part, style=style)


_NO_BREAK_BEFORE = set("，。、；：？！）》」』”’…,.;:?!)]}")
_NO_BREAK_AFTER = set("（《「『“‘([{")


def _breaks(text: str, first: int, then: int) -> list[str]:
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
        if atoms and kind != "wide" and _kind(atoms[-1]) == kind:
            atoms[-1] += ch
        else:
            atoms.append(ch)

    def may_break(before: str, after: str) -> bool:
        if _kind(before) == "space" or _kind(after) == "space":
            return True
        return after[0] not in _NO_BREAK_BEFORE and before[-1] not in _NO_BREAK_AFTER

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
            while line and _kind(line[0]) == "space":
                line.pop(0)
            if _kind(atom) == "space" and not line:
                continue
        line.append(atom)
        while len(line) == 1 and cell_len(line[0]) > (first if not lines else then):  # a run wider than a line
            limit = first if not lines else then
            head, tail = _cut_cells(line[0], limit)
            lines.append(head)
            line = [tail] if tail else []
    if line:
        lines.append("".join(line).rstrip())
    return [x for x in lines if x] or [""]


def _kind(atom: str) -> str:
    import unicodedata

    if atom[0] == " ":
        return "space"
    return "wide" if unicodedata.east_asian_width(atom[0]) in "WF" else "other"


def _cut_cells(text: str, cells: int) -> tuple[str, str]:
    from rich.cells import cell_len

    k = 0
    while k < len(text) and cell_len(text[: k + 1]) <= cells:
        k += 1
    return text[: max(k, 1)], text[max(k, 1) :]


# ---------------------------------------------------------------------------------------------------
# Markdown


def explanation_markdown(ex: Explanation, ascii: bool = False, math: str = "latex") -> str:
    """Markdown: headings, the mathematics as $$…$$ (math="latex", the LaTeX printer's own formulas) or in
    fenced text blocks ("unicode"), a table of factors and one of checks."""
    if math == "latex" and not ascii:
        from bptrace.render.explain_latex import explanation_markdown_math

        return explanation_markdown_math(ex)
    out: list[str] = []
    secs = sections(ex, ascii)
    for k, sec in enumerate(secs):
        out.append(("# " if k == 0 else "## ") + _md_escape(sec.title))
        out.append("")
        if k == 0:
            out += [f"**{_md_escape(line.text)}**" for line in sec.lines] + [""]
            continue
        if sec.lines:
            out.append("```text")
            out += [line.text for line in sec.lines]
            out.append("```")
            out.append("")
        if sec.checks:
            digits = max(ex.digits + 3, 12)
            out += [_("| check | value | agrees | how |"), "|---|---:|:---:|---|"]
            for c in sec.checks:
                mark = {True: "✓", False: "✗", None: ""}[c.ok]
                out.append(
                    f"| {c.method} | {num(c.value, digits)} | {to_ascii(mark) if ascii else mark} | "
                    f"{_md_escape(to_ascii(c.detail) if ascii else c.detail)} |"
                )
            out.append("")
    factors = [(s.symbol.text, s.rows[0].value) for s in ex.steps if len(s.rows) == 1]
    if len(factors) > 1:
        out += ["## " + _("Factors"), "", _("| factor | value |"), "|---|---:|"]
        out += [
            f"| {_md_escape(to_ascii(name) if ascii else name)} | {num(value, ex.digits)} |" for name, value in factors
        ]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
