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

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from bptrace.explain.derivation import Check, Explanation, Math, Row, Step

ARROW = " ──► "
INDENT = "  "


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

    def row(self, symbol: Math | None, row: Row) -> str:
        """symbol = stage = stage = value, with the sample first when there are several."""
        parts = ([self.m(symbol)] if symbol is not None else []) + [self.m(s) for s in row.stages] + [self.n(row.value)]
        text = " = ".join(p for k, p in enumerate(parts) if k == 0 or p != parts[k - 1])  # no "1 = 1"
        label = f"sample {row.sample}{', x_c' if row.corrupt else ''}: " if row.sample is not None else ""
        return label + text

    def all(self) -> Iterator[Section]:
        ex = self.ex
        yield Section(self.t(ex.title), [Line(self.m(ex.symbol) + " = " + self.n(ex.value), "result")])
        if ex.paths:
            yield self.where()
        if ex.chain:
            yield Section(ex.chain_title, [Line(self.m(c)) for c in ex.chain])
        for k, step in enumerate(ex.steps, start=1):
            yield self.step(k, step)
        if ex.product_formula is not None or (ex.batch is not None and len(ex.steps) > 1):
            yield self.product()
        elif ex.batch is not None:
            yield Section(self.batch_title(), [Line(self.row(ex.batch_symbol, ex.batch))])
        if ex.penalty is not None:
            yield Section("With the L2 penalty", [Line(self.row(ex.batch_symbol, ex.penalty))])
        if ex.update is not None:
            u = ex.update
            yield Section(
                f"Update (η = {self.n(u.learning_rate)})"
                if not self.ascii
                else f"Update (eta = {self.n(u.learning_rate)})",
                [Line(self.m(u.formula))],
            )
        if ex.history:
            yield self.history()
        if ex.checks:
            yield Section("Checks", checks=ex.checks)
        if ex.notes:
            yield Section("Notes", [Line(self.m(n), "note") for n in ex.notes])

    def where(self) -> Section:
        ex = self.ex
        arrow = self.t(ARROW)
        lines = [Line(arrow.join(self.t(node) for node in path)) for path in ex.paths]
        count = ex.path_count
        note = "one path" if count == 1 else f"{count} paths"
        if count > len(ex.paths):
            note = f"{len(ex.paths)} of {count} paths shown"
        if ex.windows > 1:
            note += "; taken by both windows, x and x_c, of " + ("each sample" if ex.sample is None else "the sample")
        elif ex.samples > 1 and ex.sample is None:
            note += f"; the same for each of the {ex.samples} samples"
        lines.append(Line(f"({note})", "note"))
        return Section(f"Where {self.t(ex.paths[0][0])} sits", lines)

    def step(self, k: int, step: Step) -> Section:
        sec = Section(f"{k}. {self.m(step.symbol)}  ({self.t(step.title)})")
        sec.lines += [Line(self.m(d)) for d in step.definition]
        d = step.derivative
        if d is not None:
            sec.lines.append(Line("derived by SymPy:", "text"))
            sec.lines.append(Line(d.pretty_ascii if self.ascii else d.pretty, "pretty"))
            if step.closed_form is not None:
                verdict = {True: " ✓ equals SymPy's at these numbers", False: " ✗ differs from SymPy's", None: ""}[
                    d.agrees
                ]
                sec.lines.append(Line(self.t(f"closed form: {step.symbol.text} = {step.closed_form.text}{verdict}")))
        elif step.closed_form is not None:
            sec.lines.append(Line(self.t(f"{step.symbol.text} = {step.closed_form.text}")))
        for k, term in enumerate(step.terms):
            if step.omitted_terms and k == len(step.terms) - 1:
                sec.lines.append(Line(f"… {step.omitted_terms} more, each the same way", "note"))
            for row in term.rows:
                sec.lines.append(Line(self.row(term.symbol + " = " + term.formula, row)))
            if term.derivative is not None:
                sec.lines.append(
                    Line(self.t(f"    ({term.derivative.of.text} = {term.derivative.sympy}, derived by SymPy)"), "note")
                )
        for row in step.rows:
            sec.lines.append(Line(self.row(step.symbol, row)))
        sec.lines += [Line(self.t(note), "note") for note in step.notes]
        return sec

    def batch_title(self) -> str:
        return self.ex.batch_title

    def product(self) -> Section:
        ex = self.ex
        sec = Section("Product" if ex.kind not in ("E_total", "after") else "Sum")
        if ex.product_formula is not None:
            sec.lines.append(Line(self.m(ex.product_symbol) + " = " + self.m(ex.product_formula)))
        for row in ex.product:
            sec.lines.append(Line(self.row(ex.product_symbol, row)))
        if ex.batch is not None:
            sec.lines.append(Line(self.batch_title() + ":", "text"))
            sec.lines.append(Line(self.row(ex.batch_symbol, ex.batch)))
        return sec

    def history(self) -> Section:
        ex = self.ex
        sec = Section("Step by step")
        name = ex.target.split("@")[0]
        for k, row in enumerate(ex.history):
            if ex.history_omitted and k == len(ex.history) - 2:
                sec.lines.append(Line(f"… {ex.history_omitted} steps not shown", "note"))
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
        from rich.text import Text

        for k, sec in enumerate(sections(self.explanation, self.ascii)):
            yield Text(sec.title, style="bold underline" if k == 0 else "bold")
            for line in sec.lines:
                style = STYLES.get(line.role, "")
                for part in line.text.split("\n"):
                    if line.role == "pretty":
                        yield Text(INDENT + part, style=style, no_wrap=True, overflow="ignore")
                    else:
                        yield from _hanging(part, options.max_width, style)
            if sec.checks:
                yield from self.checks(sec.checks)
            yield Text("")

    def checks(self, checks: list[Check]) -> Iterator[Any]:
        from rich.text import Text

        width = max(len(c.method) for c in checks)
        digits = max(self.explanation.digits + 3, 12)
        for c in checks:
            mark = {True: "✓", False: "✗", None: " "}[c.ok]
            style = {True: "green", False: "bold red", None: ""}[c.ok]
            line = Text(INDENT + c.method.ljust(width) + "  " + num(c.value, digits).rjust(digits + 6) + "  ")
            line.append(to_ascii(mark) if self.ascii else mark, style=style)
            line.append("  " + (to_ascii(c.detail) if self.ascii else c.detail), style="dim")
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
        grid = Table.grid()
        grid.add_column(width=len(indent))
        grid.add_column(overflow="fold")  # folds only a piece wider than the whole terminal
        grid.add_row("", Text(line, style=style))
        yield grid


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
            out += ["| check | value | agrees | how |", "|---|---:|:---:|---|"]
            for c in sec.checks:
                mark = {True: "✓", False: "✗", None: ""}[c.ok]
                out.append(
                    f"| {c.method} | {num(c.value, digits)} | {to_ascii(mark) if ascii else mark} | "
                    f"{_md_escape(to_ascii(c.detail) if ascii else c.detail)} |"
                )
            out.append("")
    factors = [(s.symbol.text, s.rows[0].value) for s in ex.steps if len(s.rows) == 1]
    if len(factors) > 1:
        out += ["## Factors", "", "| factor | value |", "|---|---:|"]
        out += [
            f"| {_md_escape(to_ascii(name) if ascii else name)} | {num(value, ex.digits)} |" for name, value in factors
        ]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _md_escape(text: str) -> str:
    return text.replace("|", "\\|").replace("*", "\\*").replace("_", "\\_")
