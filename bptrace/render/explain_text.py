"""Explanation -> the document model (render/blocks.py): the layout of a derivation, which every printer
displays (terminal, Markdown, LaTeX, HTML). Displays only: every number and formula comes from
explain/derivation.py.

`explanation_blocks` lays it out: a heading per section, its lines of words and formula trees
(`MathPara`), SymPy's derivatives (`Preformatted`), the checks (`Checks`). render/terminal.py styles
them for the terminal, render/markdown.py writes Markdown, render/html.py a page with MathML.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bptrace.fmt import num
from bptrace.formula import EQ, Const, Num, Op, Sym, Text, eq, join
from bptrace.i18n import N_, _
from bptrace.render.blocks import Block, CheckRow, Checks, Column, Grid, MathPara, Preformatted
from bptrace.render.terminal import DerivationView

if TYPE_CHECKING:
    from bptrace.explain.derivation import Check, Derivation, Explanation, Math, Row, Step

ARROW_OP = Op("──►")  # between the quantities of a path to E_total

# TRANSLATORS: a formula with the numbers substituted, e.g. "∂E_total/∂w5 = 0.74 × 0.19 = 0.14". The English
# shows it bare; a translation may lead it in as a textbook does (Chinese: 代入数值得 {substituted}).
SUBSTITUTED = N_("{substituted}")
# TRANSLATORS: a further line of the chain rule, e.g. the sum over the paths a hidden factor is (Chinese: 其中 …).
FURTHER = N_("{further_formula}")


@dataclass
class Line:
    """One line of a section as text (`sections`): `role` is text, math, pretty (a SymPy block) or note."""

    text: str
    role: str = "math"


@dataclass
class Section:
    title: str
    lines: list[Line] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


def explanation_blocks(ex: Explanation, summary: bool = False) -> list[Block]:
    """The explanation in the document model (render/blocks.py), in reading order: a heading per section,
    its lines of words and formula trees, SymPy's derivatives, the checks. `summary` adds the table of the
    factors at the end (the documents: Markdown, HTML)."""
    blocks = list(_Writer(ex).all())
    factors = [(s.symbol, s.rows[0].value) for s in ex.steps if len(s.rows) == 1]
    if summary and len(factors) > 1:
        grid = Grid("", [Column(_("factor"), "name"), Column(_("value"), "num")])
        grid.rows = [[_unicode(name), num(value, ex.digits)] for name, value in factors]
        blocks += [MathPara([_("Factors")], "heading"), grid]
    return blocks


def _unicode(node: Math) -> str:
    from bptrace.formula import unicode

    return unicode(node)


def sections(ex: Explanation, ascii: bool = False) -> list[Section]:
    """The explanation as titled sections of lines of text, in reading order (each formula printed in
    Unicode, or ASCII with `ascii`)."""
    from bptrace.render.terminal import math_text

    out: list[Section] = []
    for block in explanation_blocks(ex):
        if isinstance(block, MathPara) and block.role in ("title", "heading"):
            out.append(Section(math_text(block.parts, ascii)))
        elif isinstance(block, MathPara):
            out[-1].lines.append(Line(math_text(block.parts, ascii), block.role))
        elif isinstance(block, Preformatted):
            out[-1].lines.append(Line(block.ascii if ascii else block.text, "pretty"))
        elif isinstance(block, Checks):
            out[-1].checks = list(ex.checks)
    return out


if TYPE_CHECKING:
    from typing import TypeAlias

    Part: TypeAlias = "Math | str"


class _Writer:
    def __init__(self, ex: Explanation) -> None:
        self.ex = ex

    def n(self, x: float) -> Math:
        return Num(float(x), self.ex.digits, paren=False)

    def row(self, symbol: Math | None, row: Row, substituted: bool = False) -> list[Part]:
        """symbol = stage = stage = value, with the sample first when there are several; `substituted`: a
        formula's numbers (a translation may lead it in: 代入数值得 …)."""
        parts = ([symbol] if symbol is not None else []) + list(row.stages) + [self.n(row.value)]
        texts = [_unicode(p) for p in parts]
        formula = eq(*(p for k, p in enumerate(parts) if k == 0 or texts[k] != texts[k - 1]))  # no "1 = 1"
        if row.sample is None:
            return _parts(_(SUBSTITUTED), substituted=formula) if substituted else [formula]
        if row.corrupt:  # a sample's row: its numbers (Chinese: 对样本 2，代入数值得 …)
            return _parts(_("sample {k}, x_c: {substituted}"), k=str(row.sample), substituted=formula)
        return _parts(_("sample {k}: {substituted}"), k=str(row.sample), substituted=formula)

    def all(self) -> Iterator[Block]:
        ex = self.ex
        yield MathPara([ex.title], "title")
        yield MathPara([eq(ex.symbol, self.n(ex.value))], "result")
        if ex.paths:
            yield from self.where()
        if ex.chain:
            yield MathPara([ex.chain_title], "heading")
            for k, c in enumerate(ex.chain):
                yield MathPara([c] if k == 0 else _parts(_(FURTHER), further_formula=c))
        for k, step in enumerate(ex.steps, start=1):
            yield from self.step(k, step)
        if ex.product_formula is not None or (ex.batch is not None and len(ex.steps) > 1):
            yield from self.product()
        elif ex.batch is not None:
            yield MathPara([ex.batch_title], "heading")
            yield MathPara(self.row(ex.batch_symbol, ex.batch, substituted=True))
        if ex.penalty is not None:
            yield MathPara([_("With the L2 penalty")], "heading")
            yield MathPara(self.row(ex.batch_symbol, ex.penalty))
        if ex.update is not None:
            u = ex.update
            equation = eq(Sym("eta"), self.n(u.learning_rate))
            yield MathPara(_parts(_("Update ({equation})"), equation=equation), "heading")
            yield MathPara([u.formula])
        if ex.history:
            yield from self.history()
        if ex.checks:
            yield MathPara([_("Checks")], "heading")
            rows = [CheckRow(c.method, c.value, c.ok, c.detail) for c in ex.checks]
            yield Checks(rows, max(ex.digits + 3, 12))
        if ex.notes:
            yield MathPara([_("Notes")], "heading")
            for note in ex.notes:
                yield MathPara([note], "note")

    def where(self) -> Iterator[Block]:
        ex = self.ex
        yield MathPara(_parts(_("Where {name} sits"), name=Sym(ex.paths[0][0])), "heading")
        for path in ex.paths:
            yield MathPara([join([Sym(node) for node in path], ARROW_OP)])
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
        yield MathPara([_("({note})").format(note=note)], "note")

    def step(self, k: int, step: Step) -> Iterator[Block]:
        title = _parts(_("{k}. {symbol}  ({title})"), k=str(k), symbol=step.symbol, title=step.title)
        yield MathPara(title, "heading")
        for line in step.definition:
            yield MathPara([line])
        d = step.derivative
        if d is not None:
            yield MathPara([_("derived by SymPy:")], "text")
            mathml = functools.partial(_sympy_mathml, d)  # made only for an HTML page
            yield Preformatted(d.pretty, d.pretty_ascii, d.of.latex + " = " + d.latex, mathml)
            if step.closed_form is not None:
                verdict = {
                    True: _(" ✓ equals SymPy's at these numbers"),
                    False: _(" ✗ differs from SymPy's"),
                    None: "",
                }[d.agrees]
                equation = eq(step.symbol, step.closed_form)
                yield MathPara(_parts(_("closed form: {equation}{verdict}"), equation=equation, verdict=verdict))
        elif step.closed_form is not None:
            yield MathPara([eq(step.symbol, step.closed_form)])
        for k, term in enumerate(step.terms):
            if step.omitted_terms and k == len(step.terms) - 1:
                yield MathPara([_("… {n} more, each the same way").format(n=step.omitted_terms)], "note")
            for row in term.rows:
                yield MathPara(self.row(eq(term.symbol, term.formula), row, substituted=True))
            if term.derivative is not None:
                derivative = eq(term.derivative.of, Text(term.derivative.sympy))
                yield MathPara(["    ", *_parts(_("({derivative}, derived by SymPy)"), derivative=derivative)], "note")
        for row in step.rows:
            yield MathPara(self.row(step.symbol, row, substituted=True))
        for note in step.notes:
            yield MathPara([note], "note")

    def product(self) -> Iterator[Block]:
        ex = self.ex
        yield MathPara([_("Product") if ex.kind not in ("E_total", "after") else _("Sum")], "heading")
        if ex.product_formula is not None:
            yield MathPara([eq(ex.product_symbol, ex.product_formula)])
        for row in ex.product:
            yield MathPara(self.row(ex.product_symbol, row, substituted=True))
        if ex.batch is not None:
            yield MathPara([_("{title}:").format(title=ex.batch_title)], "text")
            yield MathPara(self.row(ex.batch_symbol, ex.batch, substituted=True))

    def history(self) -> Iterator[Block]:
        ex = self.ex
        yield MathPara([_("Step by step")], "heading")
        name = ex.target.split("@")[0]
        for k, row in enumerate(ex.history):
            if ex.history_omitted and k == len(ex.history) - 2:
                yield MathPara([_("… {n} steps not shown").format(n=ex.history_omitted)], "note")
            label = Sym(name) + Op("@") + Const(str(row.step))
            yield MathPara([eq(label, *row.stages, self.n(row.value))])


def _parts(template: str, **values: Part) -> list[Part]:
    """A translated template's words and, for each placeholder, its value (a formula or words)."""
    import string

    parts: list[Part] = []
    for literal, name, _spec, _conversion in string.Formatter().parse(template):
        if literal:
            parts.append(literal)
        if name is not None:
            parts.append(values[name])
    return parts


def _sympy_mathml(d: Derivation) -> str:
    """SymPy's derivative as presentation MathML (for HTML): ∂…/∂… = the expression."""
    from sympy.printing.mathml import MathMLPresentationPrinter

    from bptrace.formula import mathml_body

    try:
        rhs = MathMLPresentationPrinter({"mul_symbol": "dot"}).doprint(d.expr)
    except Exception:  # noqa: BLE001 - a form SymPy cannot print as MathML: its text instead
        return ""
    import html
    import re

    # HTML's named entities (&ExponentialE;) as the characters themselves: the MathML is also well-formed XML
    keep = {"lt", "gt", "amp", "quot", "apos"}
    rhs = re.sub(r"&([A-Za-z]+);", lambda m: m.group(0) if m.group(1) in keep else html.unescape(m.group(0)), rhs)
    return mathml_body(d.of + EQ, rhs, alttext=_unicode(d.of) + " = " + d.sympy, display=False)


# ---------------------------------------------------------------------------------------------------
# Terminal


class ExplanationView(DerivationView):
    """A rich renderable of an Explanation (render/terminal.py prints its blocks); `ascii` writes d, delta,
    sigma instead of ∂, δ, σ."""

    def __init__(self, explanation: Explanation, ascii: bool = False) -> None:
        self.explanation = explanation
        super().__init__(explanation_blocks(explanation), ascii)


# ---------------------------------------------------------------------------------------------------
# Markdown and HTML


def explanation_html(ex: Explanation, standalone: bool = True) -> str:
    """A self-contained page (standalone; inline CSS, MathML, no script, nothing fetched) or a fragment."""
    from bptrace.render import html

    return html.render(explanation_blocks(ex, summary=True), title=ex.title, standalone=standalone)
