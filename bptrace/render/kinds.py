"""What the renderers of the kinds with their own traces share (render/graph_out.py, rnn_out.py, layers_out.py):
the spelling of numbers and symbols (as text, and as formula trees for the tables' formula cells), a table
from (header, kind) pairs, the three-way verification table and
its verdict, a title with its source, and the JSON text. Computes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bptrace import formula
from bptrace.fmt import num
from bptrace.formula import DOT, MINUS, PLUS, Node, Num, Row, join
from bptrace.i18n import _
from bptrace.render.blocks import Block, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.verify.checks import GradientCheck


class Spelling:
    """Numbers at the chosen significant digits, and the symbols in Unicode or (ascii) ASCII."""

    def __init__(self, digits: int, ascii: bool) -> None:
        self.digits = digits
        self.ascii = ascii
        self.d = "d" if ascii else "∂"
        self.times = "*" if ascii else "·"
        self.minus = "-" if ascii else "−"
        self.eta = "eta" if ascii else "η"
        self.sigma = "sum" if ascii else "Σ"
        self.plus = "+" if ascii else "⁺"
        self.prime = "'" if ascii else "′"
        self.odot = "*" if ascii else "⊙"

    def n(self, x: float) -> str:
        return num(x, self.digits)

    def p(self, x: float) -> str:
        """A number inside a formula: a negative one in parentheses."""
        text = self.n(x)
        return f"({text})" if x < 0 else text

    def text(self, tree: Node) -> str:
        """A formula printed for a line of text (explain's): in ASCII by the ASCII printer with --ascii."""
        return formula.ascii(tree) if self.ascii else formula.unicode(tree)

    def num(self, x: float) -> Num:
        """A number inside a formula tree: a negative one in parentheses (p's, as a tree)."""
        return Num(float(x), self.digits)

    def terms_node(self, values: Sequence[float]) -> Row:
        """A sum written out as a tree: a + (−b) + c (the first term bare)."""
        return join((Num(float(v), self.digits, paren=bool(i)) for i, v in enumerate(values)), PLUS)

    def update_node(self, value: float, rate: float, gradient: float) -> Row:
        """The update with its numbers as a tree: value − η·gradient."""
        return Row.of(
            Num(float(value), self.digits, paren=False), MINUS, Num(float(rate), self.digits), DOT, self.num(gradient)
        )

    def grad(self, of: str, by: str) -> str:
        return f"{self.d}{of}/{self.d}{by}"

    def terms(self, values: Sequence[float]) -> str:
        """A sum written out: a + (−b) + c (the first term bare)."""
        return " + ".join(self.p(v) if i else self.n(v) for i, v in enumerate(values))

    def update_numbers(self, value: float, rate: float, gradient: float) -> str:
        """The update with its numbers: value − η·gradient."""
        return f"{self.n(value)} {self.minus} {self.n(rate)}{self.times}{self.p(gradient)}"

    def update_line(self, name: str, gradient_name: str, value: float, rate: float, gradient: float, new: float) -> str:
        """name⁺ = name − η·∂E/∂name = value − η·gradient = new."""
        symbols = f"{name} {self.minus} {self.eta}{self.times}{gradient_name}"
        return f"{name}{self.plus} = {symbols} = {self.update_numbers(value, rate, gradient)} = {self.n(new)}"


def grid(title: str, columns: list[tuple[str, str]], caption: str = "") -> Grid:
    """A table from (header, kind) pairs (kind: name, num or text, as blocks.Column)."""
    return Grid(title, [Column(h, k) for h, k in columns], caption=caption)


def titled(title: str, source: str | None) -> list[Block]:
    """The title, and 'Source: …' under it when there is one."""
    blocks: list[Block] = [Para(title, "title")]
    if source:
        blocks.append(Para(_("Source: {source}").format(source=source), "dim"))
    return blocks


def three_way_grid(
    title: str, first: str, method: str, checks: Sequence[GradientCheck], w: Spelling, name: Callable[[str], str] = str
) -> Grid:
    """A table of verify/checks.py's checks: first | method (the chain rule, BPTT) | SymPy | finite difference |
    largest difference | ✓/✗ (note)."""
    ok, bad = ("ok", "X " + _("MISMATCH")) if w.ascii else ("✓", "✗ " + _("MISMATCH"))
    table = grid(
        title,
        [
            (first, "name"),
            (method, "num"),
            ("SymPy", "num"),
            (_("finite difference"), "num"),
            (_("largest difference"), "num"),
            ("", "text"),
        ],
    )
    for c in checks:
        mark = ok if c.ok else bad
        if c.shown_note:
            mark = _("{mark} ({note})").format(mark=mark, note=c.shown_note)
        table.rows.append(
            [
                name(c.name),
                w.n(c.chain_rule),
                "—" if c.sympy is None else w.n(c.sympy),
                "—" if c.finite_difference is None else w.n(c.finite_difference),
                f"{c.difference:.1e}",
                mark,
            ]
        )
        table.styles.append("" if c.ok else "bad")
    return table


def verdict(ok: bool, mismatch: str) -> Para:
    """The verification's last line: all agree, or `mismatch` (what disagrees, and the exit status)."""
    return Para(_("All checks agree."), "good") if ok else Para(mismatch, "bad")


def json_text(data: object) -> str:
    """JSON-ready data (a dict, or a list of them) as text: exact floats, no NaN, byte-identical for the same
    input."""
    return json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
