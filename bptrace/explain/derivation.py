"""The worked derivation of one quantity (a weight, a bias or an intermediate value) as data.

    explain(trace, "w5") -> Explanation

An Explanation reads like Mazur's post, for any scenario: where the target sits (every path from it
to E_total), the chain rule in symbols, each factor derived (its defining formula, its derivative as
SymPy derives it, the numbers substituted, its value), the product, the update θ⁺ = θ − η·∂E/∂θ and
independent checks (SymPy's direct derivative of the loss, a central finite difference).

All the mathematics is done here; render/explain_text.py and render/explain_latex.py only display.
Every formula is a Math: the same formula in Unicode text and in LaTeX. Targets are parsed only by
names.parse (docs/quantities.md). SymPy and numpy are imported inside functions, never at import.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from bptrace import functions
from bptrace.display import Displayable
from bptrace.engine import factors as chain_factors
from bptrace.fmt import DEFAULT_DIGITS, num
from bptrace.formula import (
    CHAIN,
    DOT,
    EQ,
    MINUS,
    PLUS,
    TIMES,
    Apply,
    Const,
    Deriv,
    Dots,
    Filled,
    Frac,
    Node,
    Num,
    Op,
    Paren,
    Pow,
    Space,
    SumOver,
    Sym,
    Text,
    join,
    latex_name,
    node,
    tex_words,
)
from bptrace.formula import Row as FRow
from bptrace.functions import Formula, cancels_derivative
from bptrace.i18n import N_, _, ngettext
from bptrace.message import tr
from bptrace.model import names

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bptrace.engine.trace import Trace
    from bptrace.model.names import Quantity
    from bptrace.model.scenario import Parameter, Scenario, ScenarioChanges

MAX_TERMS = 6  # terms of a sum written out before the rest is summarised
MAX_PATHS = 8  # paths to E_total drawn before the rest is counted
MAX_HISTORY = 6  # steps of θ@N and E_total@N listed before the middle is summarised

# What a quantity is (the heading's middle part), by kind; {x} is the neuron, {other} a path's neuron above
DESCRIPTIONS = {
    "net": N_("net input of {x}"),
    "out": N_("output of {x}"),
    "E": N_("loss term of output {x}"),
    "E_total": N_("the total loss"),
    "dE_dout": N_("how the loss changes with out_{x}"),
    "dout_dnet": N_("slope of {x}'s activation"),
    "delta": N_("error signal of {x} (∂E/∂net_{x})"),
    "path": N_("the part of ∂E/∂out_{x} that flows through {other}"),
}
# The checks' methods (Check.method; the JSON keeps them in English)
CHAIN_RULE = N_("chain rule")
FINITE_DIFFERENCE = N_("finite difference")
NOT_JUDGED = N_("finite difference (not judged)")


def frozen_words() -> str:
    """What a frozen bias's update says."""
    return _("(not updated: update_biases is false)")


# ---------------------------------------------------------------------------------------------------
# Formulas: trees (bptrace/formula.py), written once and printed per format


Math = Node  # a formula of the derivation: `.text` (Unicode) and `.latex` print it


def _m(x: Math | str) -> Math:
    """Words given as a str become Text."""
    return node(x)


def summed(items: list[Math], count: int | None = None) -> Math:
    """a + b + c, with long sums summarised: the first terms, how many more, the last term."""
    count = len(items) if count is None else count
    if count > MAX_TERMS and len(items) >= MAX_TERMS - 1:
        more = count - (MAX_TERMS - 1)
        words = _("{more} more").format(more=more)  # TRANSLATORS: the terms of a long sum not written out
        return join(items[: MAX_TERMS - 2] + [Dots(words), items[-1]], PLUS)
    return join(items, PLUS)


def _shown(items: list[Any]) -> list[Any]:
    """The items a summarised sum writes out (see summed)."""
    if len(items) > MAX_TERMS:
        return items[: MAX_TERMS - 2] + items[-1:]
    return items


def words_around(template: str, name: str, latex: str) -> str:
    """LaTeX of a translated `template` holding one placeholder {name}: its words as \\text{…}, the placeholder
    as the formula `latex` (so "the last factor of {name}" and "{name} 的最后一个因子" both read in order)."""
    before, _sep, after = template.partition("{" + name + "}")
    return (
        (r"\text{" + tex_words(before) + "} " if before else "")
        + latex
        + (r" \text{" + tex_words(after) + "}" if after else "")
    )


def words_formula(template: str, **formulas: Math) -> Math:
    """A translated `template` with placeholders as a formula: its words as Text, each placeholder the formula."""
    import string

    parts: list[Math | str] = []
    for literal, field_name, _spec, _conversion in string.Formatter().parse(template):
        if literal:
            parts.append(literal)
        if field_name is not None:
            parts.append(formulas[field_name])
    return FRow.of(*parts)


def listed(items: list[str]) -> str:
    """h1, h2, h3 (Chinese: h1、h2、h3)."""
    return _(", ").join(items)  # TRANSLATORS: between the items of a list of names (h1, h2, h3)


def var(name: str) -> Math:
    """A quantity by name: w5, out_h1, t_o1, E_total."""
    return Sym(name)


def partial(top: str, bottom: str) -> Math:
    """∂top/∂bottom."""
    return Deriv(top, bottom)


def delta(x: str) -> Math:
    """δ_x = ∂E/∂net_x."""
    return Sym(f"delta_{x}")


def number(x: float, digits: int, paren: bool = True) -> Math:
    """A number inside a formula (negative numbers in parentheses); LaTeX writes 1e-05 as 1 \\cdot 10^{-5}."""
    return Num(float(x), digits, paren)


def _paren(x: Math) -> Math:
    return Paren(x)


def _frac(top: Math, bottom: Math) -> Math:
    return Frac(top, bottom)


def _sq(x: Math) -> Math:
    return Pow(x, Const("2"))


# ---------------------------------------------------------------------------------------------------
# The Explanation: plain data


@dataclass
class Derivation:
    """What SymPy derives: ∂(expression)/∂(variable), pretty-printed and in LaTeX, evaluated at the numbers."""

    of: Math  # the derivative in symbols, e.g. ∂out_o1/∂net_o1
    expr: Any  # the SymPy expression (not serialised)
    sympy: str  # str(expr)
    pretty: str  # multi-line Unicode (sympy.pretty), "∂…/∂… = " included
    pretty_ascii: str
    latex: str  # the right-hand side in LaTeX
    value: float | None  # SymPy's derivative at the numbers of the first sample shown
    agrees: bool | None  # that value equals the engine's factor


@dataclass
class Row:
    """One sample's numbers: the formula with the numbers substituted (stage by stage) and the value."""

    sample: int | None  # 1-based; None when the scenario has a single sample
    stages: list[Math]
    value: float
    corrupt: bool = False  # max_margin: the pass through the corrupt window x_c
    step: int | None = None  # θ@n and E_total@n: after n updates


@dataclass
class Term:
    """One term of a sum over paths or neurons, e.g. ∂E_o1/∂out_h1 = δ_o1·w5."""

    name: str  # vocabulary name (dE_o1/dout_h1, delta_h1)
    symbol: Math
    formula: Math  # in symbols: δ_o1·w5
    rows: list[Row]
    derivative: Derivation | None = None


@dataclass
class Step:
    """One factor of the chain rule (or one computation), derived."""

    name: str  # vocabulary name (dE/dout_o1)
    symbol: Math  # ∂E_total/∂out_o1
    title: str  # a few words on what it measures
    definition: list[Math]  # the formula the factor is taken of
    derivative: Derivation | None  # SymPy's derivative of the definition
    closed_form: Math | None  # the engine's closed form, e.g. out_o1·(1 − out_o1)
    rows: list[Row]  # the numbers, per sample
    terms: list[Term] = field(default_factory=list)
    omitted_terms: int = 0  # terms of a long sum not listed
    notes: list[str] = field(default_factory=list)


@dataclass
class Update:
    """θ⁺ = θ − η·∂E/∂θ (or θ⁺ = θ for a frozen bias)."""

    param: str
    value: float
    learning_rate: float
    grad: float
    new_value: float
    frozen: bool
    formula: Math


@dataclass
class Check:
    """One independent value of the target beside the chain rule's."""

    method: str  # "chain rule", "SymPy", "finite difference"
    value: float
    ok: bool | None  # None for the value being checked
    detail: str


@dataclass(repr=False)
class Explanation(Displayable):
    """The worked derivation of one quantity. Renderers display it; nothing here prints."""

    target: str  # canonical vocabulary name
    kind: str  # names.Quantity.kind
    what: str  # "weight from h1 to o1"
    scenario: str  # the scenario's title
    digits: int
    symbol: Math  # the target in symbols
    value: float  # the value the derivation arrives at
    sample: int | None  # the sample asked for (:k), None for the batch
    samples: int  # m
    windows: int  # forward passes per sample: 1, or 2 with max_margin (x and x_c)
    reduction: str
    paths: list[list[str]]  # paths from the target to E_total (at most MAX_PATHS)
    path_count: int
    chain: list[Math]  # the chain rule in symbols (or the defining formula)
    chain_title: str  # "Chain rule", or "Formula" for one local factor or a forward quantity
    steps: list[Step]
    product: list[Row]  # the factors multiplied (or summed), per sample
    product_symbol: Math  # what the product is: ∂E_total/∂w5 (∂E_s/∂w5 per sample in a batch)
    product_formula: Math | None
    batch: Row | None  # (1/m)·Σ_s over the samples (max_margin: each sample's two windows added first)
    batch_symbol: Math  # what the batch row is: ∂E_total/∂w5, δ_h1, E_total
    batch_title: str
    penalty: Row | None  # with an L2 penalty: the data part + the penalty's part
    update: Update | None
    history: list[Row]  # θ@n or E_total@n for n = 1..N
    history_omitted: int
    checks: list[Check]
    notes: list[Math]

    @property
    def title(self) -> str:
        """The heading line: target · what it is · scenario."""
        return f"{self.target} · {self.what} · {self.scenario}"

    @property
    def ok(self) -> bool:
        """False when an independent check disagrees with the chain rule, or a factor's closed form with
        SymPy's derivative at the numbers (each shown as ✗, and then `explain` exits with status 1)."""
        factors_agree = all(s.derivative is None or s.derivative.agrees is not False for s in self.steps)
        return factors_agree and all(c.ok is not False for c in self.checks)

    def to_data(self) -> dict[str, Any]:
        """The derivation as JSON-ready data (formulas as {text, latex}; SymPy expressions as text)."""
        data = _data(self)
        data["title"] = self.title
        data["ok"] = self.ok
        return data

    def _view(self) -> Any:  # bptrace/display.py: the derivation as `bptrace explain` prints it
        from bptrace.render.explain_text import ExplanationView

        return ExplanationView(self)

    def _summary(self) -> str:
        return f"{self.target} = {self.value:.9g} ({len(self.steps)} steps, {len(self.checks)} checks)"


def _data(obj: Any) -> Any:
    """Dataclasses -> dicts, recursively; a Derivation's SymPy object is left out (its text is kept)."""
    import dataclasses

    if isinstance(obj, Math):
        return {"text": obj.text, "latex": obj.latex}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _data(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.name != "expr"}
    if isinstance(obj, list):
        return [_data(x) for x in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


# ---------------------------------------------------------------------------------------------------
# Entry point


def explain(
    trace: Trace, target: str | Quantity, *, digits: int = DEFAULT_DIGITS, symbolic: bool = True, checks: bool = True
) -> Explanation:
    """The worked derivation of `target` (a vocabulary name, parsed by names.parse) in `trace`.

    symbolic=False skips SymPy's derivation of each factor; checks=False skips the independent checks
    (both cost SymPy time, the rest is arithmetic on the trace).
    """
    q = names.parse(target, trace.scenario) if isinstance(target, str) else target
    return _Builder(trace, digits, symbolic, checks).build(q)


# ---------------------------------------------------------------------------------------------------
# Formula forms of the losses and activations (each used with names and with numbers)


def _fill(formula: Formula, times: Math | None = None, **values: Math) -> Math:
    """A registry formula (bptrace.functions, a tree with holes) with its holes filled by formulas."""
    extra = {} if times is None else {"times": times}
    return Filled(formula, tuple({**values, **extra}.items()))


def loss_term_form(loss: str, t: Math, o: Math, n: int) -> Math:
    """One output's term of the per-sample loss, e.g. ½(t − out)² (functions.Loss.term)."""
    return _fill(functions.loss(loss).term, t=t, o=o, n=Const(str(n)))


def loss_grad_form(loss: str, t: Math, o: Math, n: int) -> Math:
    """∂(term)/∂out, the closed form the engine uses (functions.Loss.gradient)."""
    return _fill(functions.loss(loss).gradient, t=t, o=o, n=Const(str(n)))


def activation_definition(activation: str, out: Math, net: Math, slope: Math, others: list[Math] | None = None) -> Math:
    """out = f(net) = its formula (once, where the formula is the symbol itself: tanh, linear)."""
    symbol = activation_symbol(activation, net)
    form = activation_form(activation, net, slope, others)
    if form.text == symbol.text or activation == "linear":
        return out + EQ + symbol + (EQ + form if activation == "linear" else FRow())
    return out + EQ + symbol + EQ + form


def activation_form(activation: str, net: Math, slope: Math, others: list[Math] | None = None) -> Math:
    """f(net) written out: 1/(1 + e^(−net)), tanh(net), …; softmax written over the layer's nets `others`."""
    entry = functions.activation(activation)
    if not entry.elementwise and others is not None:
        exps: list[Math] = [Pow(Const("e"), o) for o in others]
        top = Pow(Const("e"), net)
        return _frac(top, _paren(summed(exps)))
    return _fill(entry.definition, net=net, a=slope)


def activation_symbol(activation: str, net: Math) -> Math:
    """f(net) in one symbol: σ(net_o1)."""
    symbol = functions.activation(activation).symbol
    return Filled(symbol, ()) + _paren(net)


def derivative_form(activation: str, out: Math, net: Math, slope: Math, times: Math = DOT) -> Math:
    """The closed form of ∂out/∂net as the textbook prints it (functions.Activation.derivative)."""
    return _fill(functions.activation(activation).derivative, times, out=out, net=net, a=slope)


def derivative_numbers(activation: str, out: Math, net_value: float, net: Math, slope: Math) -> Math:
    """The closed form with the numbers substituted (a piecewise f′: which piece applies)."""
    entry = functions.activation(activation)
    if entry.pieces is not None:
        piece = _fill(entry.branch(net_value), TIMES, out=out, net=net, a=slope)
        if net_value > 0:
            return piece + Text(" ") + Paren(Sym("net") + EQ + net + Op(">") + Const("0"))
        return piece + Text(" ") + Paren(Sym("net") + EQ + net + Op("≤") + Const("0"))
    return derivative_form(activation, out, net, slope, TIMES)


# ---------------------------------------------------------------------------------------------------
# SymPy


def _sym(name: str) -> Any:
    import sympy as sp

    return sp.Symbol(name, real=True)


def _sympy_activation(activation: str, net: Any, param: float | None, others: Any = None) -> Any:
    """functions.sympy_activation, with a kink's Heaviside rewritten as a Piecewise (readable, same values)."""
    import sympy as sp

    from bptrace.functions import sympy_activation

    f = sympy_activation(activation, net, param, others)
    if functions.activation(activation).kinked:
        f = sp.piecewise_fold(f.rewrite(sp.Piecewise))
    return f


def _sympy_loss(scenario: Scenario, outs: list[Any], ts: list[Any]) -> Any:
    """E_s = Σ_k term(out_k, t_k) as a SymPy expression."""
    from bptrace.functions import sympy_loss_term

    n = len(outs)
    return sum(sympy_loss_term(scenario.loss, o, t, n) for o, t in zip(outs, ts))


def _pretty_symbol(name: str, unicode: bool) -> str:
    import sympy as sp

    return str(sp.pretty(sp.Symbol(name), use_unicode=unicode))


def _pretty_equation(lhs: str, expr: Any, unicode: bool) -> str:
    """`lhs = expr` with SymPy's 2-D layout; lhs sits on the expression's baseline."""
    from sympy.printing.pretty.pretty import PrettyPrinter
    from sympy.printing.pretty.pretty_symbology import pretty_use_unicode

    previous = pretty_use_unicode(unicode)  # symbol names (subscripts) follow this global flag
    try:
        printer = PrettyPrinter({"use_unicode": unicode, "wrap_line": False})
        form = printer._print(expr)
        lines = printer.doprint(expr).split("\n")
    finally:
        pretty_use_unicode(previous)
    head = f"{lhs} = "
    pad = " " * len(head)
    return "\n".join(((head if k == form.baseline else pad) + line).rstrip() for k, line in enumerate(lines))


def derive(
    top: str,
    bottom: str,
    expr: Any,
    variable: Any,
    point: dict[Any, float] | None = None,
    expected: float | None = None,
    simplify: bool = False,
) -> Derivation:
    """SymPy's ∂expr/∂variable: pretty, LaTeX, its value at `point`, and whether it equals `expected`.

    `expected` is the engine's value of the factor (its closed form at the numbers): SymPy and the
    engine's closed form agree when SymPy's derivative, evaluated at the same numbers, equals it.
    """
    import sympy as sp

    d = sp.diff(expr, variable)
    if simplify:
        d = sp.simplify(d)
    value = agrees = None
    if point is not None:
        at = d.subs(point)
        if not at.free_symbols:
            value = float(sp.N(at, 30))
            if expected is not None:
                from bptrace.verify.tolerances import sympy_agrees

                agrees = math.isfinite(value) and sympy_agrees(expected, value)
    lhs_u = "∂" + _pretty_symbol(top, True) + "/∂" + _pretty_symbol(bottom, True)
    lhs_a = "d" + _pretty_symbol(top, False) + "/d" + _pretty_symbol(bottom, False)
    names_ = {s: latex_name(s.name) for s in d.free_symbols if isinstance(s, sp.Symbol)}
    return Derivation(
        of=partial(top, bottom),
        expr=d,
        sympy=str(d),
        pretty=_pretty_equation(lhs_u, d, True),
        pretty_ascii=_pretty_equation(lhs_a, d, False),
        latex=sp.latex(d, symbol_names=names_),
        value=value,
        agrees=agrees,
    )


# ---------------------------------------------------------------------------------------------------
# The builder: one method per kind of quantity


class _Builder:
    def __init__(self, trace: Trace, digits: int, symbolic: bool, checks: bool) -> None:
        self.trace = trace
        self.s = trace.scenario
        self.digits = digits
        self.symbolic = symbolic
        self.do_checks = checks
        self.m = self.s.samples
        self.objective = self.s.objective  # what a forward pass is; the hinge's two windows per sample
        self.mm = self.objective.windows > 1  # several passes per sample, which add up to the sample's
        self.many = self.objective.several  # a batch quantity combines several forward passes
        self.inputs = self.s.all_inputs() if hasattr(self.s, "all_inputs") else self.s.inputs
        self.l2 = float(getattr(self.s, "l2", 0.0) or 0.0)
        self.L = len(self.s.layers)
        # the loss the per-sample factors are derivatives of: E_total itself for one sample without a penalty
        self.E = "E_total" if self.m == 1 and not self.l2 else "E_s"

    # ---- small helpers ----
    def n(self, x: float, paren: bool = True) -> Math:
        return number(x, self.digits, paren)

    def prow(self, i: int, stages: list[Math], value: float) -> Row:
        """A Row for forward pass i (the sample i + 1; max_margin: passes m … 2m − 1 are the corrupt windows)."""
        corrupt = self.objective.corrupt(i)
        sample = self.objective.sample(i) + 1 if self.many else None
        return Row(sample, stages, float(value), corrupt)

    def w_used(self, index: int) -> Any:
        """Weights of layer `index` that backpropagation multiplies by (the updated ones only in the mistake)."""
        lt = self.trace.layers[index - 1]
        return lt.new_weights if self.trace.through_updated_weights else self.s.layers[index - 1].weights

    def batch_row(self, rows: list[Row], reduce: bool) -> Row:
        """Each sample's passes added (max_margin: x and x_c), then (1/m)·Σ or Σ over samples when `reduce`."""
        groups: dict[int | None, list[float]] = {}
        for r in rows:
            groups.setdefault(r.sample, []).append(r.value)
        parts = [self.n(v[0]) if len(v) == 1 else _paren(join([self.n(x) for x in v], PLUS)) for v in groups.values()]
        values = [math.fsum(v) for v in groups.values()]
        total = summed(_shown(parts), len(parts))
        if reduce and self.m > 1 and self.s.reduction == "mean":
            return Row(
                None,
                [Frac(Const("1"), Const(str(self.m)), grouped=True) + DOT + _paren(total)],
                math.fsum(values) / self.m,
            )
        return Row(None, [total], math.fsum(values))

    def batch_symbol(self, name: Math) -> Math:
        """(1/m)·Σ_s name, or Σ_s name, as the batch loss combines samples."""
        if self.s.reduction == "mean":
            return Frac(Const("1"), Sym("m"), grouped=True) + DOT + SumOver("s", name)
        return SumOver("s", name)

    def describe(self, q: Quantity) -> str:
        s = self.s
        if q.param is not None:
            p = s.parameter(q.param)
            what = self.describe_param(p)
            if q.kind == "grad":
                return _("gradient of the loss with respect to {name} ({what})").format(name=p.name, what=what)
            if q.kind == "updated":
                if q.steps == 1:
                    return _("{name} after one update ({what})").format(name=p.name, what=what)
                return _("{name} after {steps} updates ({what})").format(name=p.name, steps=q.steps, what=what)
            if q.kind == "factor":
                return _("the last chain-rule factor of {name} ({what})").format(name=p.name, what=what)
            return what
        x = q.neuron or ""
        if q.kind == "out" and s.neuron(x)[0] == 0:
            return _("input {x}").format(x=x)
        steps = q.steps or 1
        if q.kind == "after":
            return ngettext("the loss after {steps} update", "the loss after {steps} updates", steps).format(
                steps=steps
            )
        return _(DESCRIPTIONS[q.kind]).format(x=x, other=q.other)

    def describe_param(self, p: Parameter) -> str:
        layer = self.s.layers[p.layer - 1]
        if p.kind == "weight":
            src = self.s.layer_names(p.layer - 1)[p.col or 0]
            text = _("weight from {source} to {neuron}").format(source=src, neuron=layer.neurons[p.row or 0])
        elif p.row is None:
            text = _("bias shared by {neurons}").format(neurons=listed(list(layer.neurons)))
        else:
            text = _("bias of {neuron}").format(neuron=layer.neurons[p.row])
        if self.trace.frozen(p):
            text = _("{what}, not updated").format(what=text)
        return text

    # ---- the L2 penalty P = λ/(2m)·Σ W² (every weight, never a bias) ----
    def penalty_symbol(self) -> Math:
        return Frac(Sym("lambda"), Const("2") + Sym("m")) + DOT + SumOver("", _sq(Sym("W")))

    def penalty_step(self, weights: list[Any], value: float, title: str) -> Step:
        """P with its numbers: λ/(2m) × Σ W²."""
        total = math.fsum(float((w * w).sum()) for w in weights)
        row = Row(
            None,
            [self.n(self.l2, False) + Op("/") + Paren(Const("2") + DOT + Const(str(self.m))) + TIMES + self.n(total)],
            value,
        )
        return Step(
            "penalty",
            Sym("P"),
            title,
            [Sym("P") + EQ + self.penalty_symbol()],
            None,
            None,
            [row],
            notes=[
                _("λ = {value}: the L2 penalty, over every weight (no bias)").format(value=num(self.l2, self.digits))
            ],
        )

    def add_penalty(self, ex: Explanation, data: float, penalty: float) -> None:
        """E = data + P: the penalty row, and the value with it."""
        ex.penalty = Row(None, [self.n(data, False) + PLUS + self.n(penalty)], data + penalty)
        ex.value = data + penalty

    # ---- one output's loss term as a formula (max_margin: the hinge of the two windows' scores) ----
    def term_symbols(self, x: str) -> Math:
        """½(t_o1 − out_o1)², …; max_margin: max(0, Δ + s_c − s)."""
        if self.objective.scores:
            return Apply("max", (Const("0"), Sym("Delta") + PLUS + Sym("s_c") + MINUS + Sym("s")))
        return loss_term_form(self.s.loss, var(f"t_{x}"), var(f"out_{x}"), self.s.output_layer.size)

    def term_numbers(self, x: str, i: int, out: Any) -> Math:
        """The term of sample i with the numbers, from the output rows `out` (one row per forward pass)."""
        j = self.s.output_layer.neurons.index(x)
        if self.objective.scores:
            return Apply("max", (Const("0"), self.hinge_numbers(i, out)))
        return loss_term_form(self.s.loss, self.n(self.s.targets[i, j]), self.n(out[i, j]), self.s.output_layer.size)

    def hinge_numbers(self, i: int, out: Any) -> Math:
        """Δ + s_c − s for sample i: its corrupt window's score minus its window's score, plus the margin."""
        m = self.m
        return self.n(self.s.margin, False) + PLUS + self.n(out[i + m, 0]) + MINUS + self.n(out[i, 0])

    def hinge_where(self, x: str) -> Math:
        return Text(
            _(",  s = out_{x} of the window x, s_c = out_{x} of the corrupt window x_c, Δ = {margin}").format(
                x=x, margin=num(self.s.margin, self.digits)
            )
        )

    def step_dE_dout_hinge(self, x: str, samples: list[int]) -> Step:
        """∂E_s/∂s = −1 and ∂E_s/∂s_c = +1 while the margin is violated (Δ + s_c − s > 0), else 0."""
        E, m = self.E, self.m
        lt = self.trace.layers[-1]
        definition = [var(E) + EQ + self.term_symbols(x) + self.hinge_where(x)]
        when, otherwise = _(" if "), _("else ")  # TRANSLATORS: −1 if Δ + s_c − s > 0, else 0
        closed = Text(_("−1 (window x) or +1 (window x_c) if Δ + s_c − s > 0, else 0"))
        rows = []
        for i in samples:
            k = i % m
            sign = Op("-") + Const("1") if i < m else Const("1")
            rows.append(
                self.prow(
                    i,
                    [
                        sign
                        + Text(when)
                        + self.hinge_numbers(k, lt.out)
                        + Op(">")
                        + Const("0")
                        + Op(",")
                        + Text(otherwise)
                        + Const("0")
                    ],
                    float(lt.dE_dout[i, 0]),
                )
            )
        derivation = None
        if self.symbolic:
            import sympy as sp

            sv, sc, delta_ = _sym("s"), _sym("s_c"), _sym("Delta")
            J = sp.piecewise_fold(sp.Max(0, delta_ + sc - sv).rewrite(sp.Piecewise))
            i = samples[0]
            k = i % m
            point = {sv: float(lt.out[k, 0]), sc: float(lt.out[k + m, 0]), delta_: float(self.s.margin)}
            derivation = derive(
                E, "s" if i < m else "s_c", J, sv if i < m else sc, point=point, expected=float(lt.dE_dout[i, 0])
            )
        notes = self.objective.explain_notes()
        return Step(
            f"dE/dout_{x}",
            partial(E, f"out_{x}"),
            _("how {E} changes with the score out_{x}").format(E=E, x=x),
            definition,
            derivation,
            closed,
            rows,
            notes=notes,
        )

    # ---- paths from a node to E_total ----
    def paths_from(self, node: str) -> tuple[list[list[str]], int]:
        """Paths from a node ('w5', 'net_o1', 'out_h1', 'E_o1') to E_total: at most MAX_PATHS, and the count."""
        return list(islice(self._walk(node), MAX_PATHS)), self._count(node)

    def _walk(self, node: str) -> Iterator[list[str]]:
        s = self.s
        if node == "E_total":
            yield ["E_total"]
            return
        kind, _sep, x = node.partition("_")
        if kind == "E":
            yield [node, "E_total"]
            return
        if kind not in ("net", "out"):  # a parameter: every net it feeds
            p = s.parameter(node)
            for x in _fed_by(p, s):
                for rest in self._walk(f"net_{x}"):
                    yield [node] + rest
            return
        layer, row = s.neuron(x)
        if kind == "net":
            outs = s.layers[layer - 1].neurons if s.layers[layer - 1].activation == "softmax" else (x,)
            for o in outs:
                for rest in self._walk(f"out_{o}"):
                    yield [node] + rest
            return
        if layer == self.L:
            yield [node, f"E_{x}", "E_total"]
            return
        for k in s.layers[layer].neurons:
            for rest in self._walk(f"net_{k}"):
                yield [node] + rest

    def _count(self, node: str) -> int:
        s = self.s
        kind, _sep, x = node.partition("_")
        if node == "E_total" or kind == "E":
            return 1
        if kind not in ("net", "out"):
            return sum(self._count(f"net_{x}") for x in _fed_by(s.parameter(node), s))
        layer, _row = s.neuron(x)
        if kind == "net":
            fan = s.layers[layer - 1].size if s.layers[layer - 1].activation == "softmax" else 1
            return fan * self._count_out(layer)
        return self._count_out(layer)

    def _count_out(self, layer: int) -> int:
        if layer == self.L:
            return 1
        above = self.s.layers[layer]
        fan = above.size if above.activation == "softmax" else 1
        return above.size * fan * self._count_out(layer + 1)

    # ---- the net of a neuron, as SymPy and in symbols ----
    def net_parts(self, x: str) -> tuple[list[tuple[str, str]], str | None]:
        """[(weight name, source name)] and the bias name of net_x."""
        layer_index, row = self.s.neuron(x)
        layer = self.s.layers[layer_index - 1]
        pairs = [(layer.weight_name(row, c), self.s.source_name(layer_index, c)) for c in range(layer.weights.shape[1])]
        return pairs, layer.bias_name(row)

    def net_definition(self, x: str) -> Math:
        pairs, b = self.net_parts(x)
        terms = [var(w) + DOT + var(src) for w, src in pairs] + ([var(b)] if b else [])
        return var(f"net_{x}") + EQ + (summed(_shown(terms), len(terms)) if terms else Const("0"))

    def net_sympy(self, x: str) -> Any:
        pairs, b = self.net_parts(x)
        return sum((_sym(w) * _sym(src) for w, src in pairs), _sym(b) if b else 0)

    def source_value(self, layer_index: int, col: int, i: int) -> float:
        return float(self.trace.activations(layer_index - 1)[i, col])

    def net_point(self, x: str, i: int) -> dict[Any, float]:
        layer_index, row = self.s.neuron(x)
        layer = self.s.layers[layer_index - 1]
        pairs, b = self.net_parts(x)
        point = {}
        for c, (w, src) in enumerate(pairs):
            point[_sym(w)] = float(layer.weights[row, c])
            point[_sym(src)] = self.source_value(layer_index, c, i)
        if b:
            point[_sym(b)] = float(layer.bias_vector()[row])
        return point

    # ---- steps: one factor each ----
    def step_dE_dout(self, x: str, samples: list[int]) -> Step:
        """∂E/∂out_x: from the loss (output neuron) or the sum over the paths through the layer above."""
        layer_index, r = self.s.neuron(x)
        if layer_index == self.L:
            return self.step_dE_dout_output(x, samples)
        return self.step_dE_dout_hidden(x, samples)

    def step_dE_dout_output(self, x: str, samples: list[int]) -> Step:
        """∂E/∂out of an output, from the objective's table (Objective.table): a loss's term, or the scores."""
        steps = {"loss terms": self.step_dE_dout_terms, "scores": self.step_dE_dout_hinge}
        return steps[self.objective.table](x, samples)

    def step_dE_dout_terms(self, x: str, samples: list[int]) -> Step:
        """∂E/∂out_x of a loss of the outputs: its term's derivative at each sample's out and target."""
        s, E = self.s, self.E
        out_layer = s.output_layer
        r = out_layer.neurons.index(x)
        n = out_layer.size
        lt = self.trace.layers[-1]
        terms = [loss_term_form(s.loss, var(f"t_{o}"), var(f"out_{o}"), n) for o in out_layer.neurons]
        definition = [var(E) + EQ + summed(_shown(terms), len(terms))]
        closed = loss_grad_form(s.loss, var(f"t_{x}"), var(f"out_{x}"), n)
        rows = [
            self.prow(
                i, [loss_grad_form(s.loss, self.n(s.targets[i, r]), self.n(lt.out[i, r]), n)], float(lt.dE_dout[i, r])
            )
            for i in samples
        ]
        derivation = None
        if self.symbolic:
            outs = [_sym(f"out_{o}") for o in out_layer.neurons]
            ts = [_sym(f"t_{o}") for o in out_layer.neurons]
            i = samples[0]
            point = {
                **{o: float(lt.out[i, k]) for k, o in enumerate(outs)},
                **{t: float(s.targets[i, k]) for k, t in enumerate(ts)},
            }
            derivation = derive(
                E, f"out_{x}", _sympy_loss(s, outs, ts), outs[r], point=point, expected=float(lt.dE_dout[i, r])
            )
        notes = []
        if s.loss == "cross_entropy":
            notes.append(
                _(
                    "softmax ties every output to every net, so δ is not ∂E/∂out × ∂out/∂net here; "
                    "see 'bptrace explain delta_{x}'"
                ).format(x=x)
            )
        return Step(
            f"dE/dout_{x}",
            partial(E, f"out_{x}"),
            _("how {E} changes with out_{x}").format(E=E, x=x),
            definition,
            derivation,
            closed,
            rows,
            notes=notes,
        )

    def delta_stages(self, k: str, i: int) -> tuple[Math, Math]:
        """δ_k in symbols and with its numbers: ∂E/∂out_k·∂out_k/∂net_k, or out_k − t_k (softmax + cross-entropy)."""
        layer_index, r = self.s.neuron(k)
        layer = self.s.layers[layer_index - 1]
        lt = self.trace.layers[layer_index - 1]
        if layer.activation == "softmax":
            return (
                var(f"out_{k}") + MINUS + var(f"t_{k}"),
                self.n(lt.out[i, r]) + MINUS + self.n(self.s.targets[i, r]),
            )
        return (
            partial(self.E, f"out_{k}") + CHAIN + partial(f"out_{k}", f"net_{k}"),
            self.n(lt.dE_dout[i, r]) + TIMES + self.n(lt.dout_dnet[i, r]),
        )

    def step_dE_dout_hidden(self, x: str, samples: list[int]) -> Step:
        s, E = self.s, self.E
        layer_index, r = s.neuron(x)
        above = s.layers[layer_index]
        lt_above = self.trace.layers[layer_index]
        w = self.w_used(layer_index + 1)
        per_path = self.trace.path_terms(layer_index, r)
        ks = list(above.neurons)
        shown = _shown(list(range(len(ks))))
        terms: list[Term] = []
        for q in shown:
            k = ks[q]
            wname = above.weight_name(q, r)
            rows = []
            for i in samples:
                _symbols, delta_numbers = self.delta_stages(k, i)
                rows.append(
                    self.prow(
                        i,
                        [
                            _paren(delta_numbers) + TIMES + self.n(w[q, r]),
                            self.n(lt_above.delta[i, q]) + TIMES + self.n(w[q, r]),
                        ],
                        float(per_path[i, q]),
                    )
                )
            derivation = None
            if self.symbolic:
                i = samples[0]
                derivation = derive(
                    f"net_{k}",
                    f"out_{x}",
                    self.net_sympy(k),
                    _sym(f"out_{x}"),
                    point=self.net_point(k, i),
                    expected=float(w[q, r]),
                )
            terms.append(
                Term(f"dE_{k}/dout_{x}", partial(f"E_{k}", f"out_{x}"), delta(k) + DOT + var(wname), rows, derivation)
            )
        path_syms = [partial(f"E_{ks[q]}", f"out_{x}") for q in shown]
        product_syms = [delta(ks[q]) + DOT + var(above.weight_name(q, r)) for q in shown]
        definition = [
            partial(E, f"out_{x}") + EQ + summed(path_syms, len(ks)) + EQ + summed(product_syms, len(ks)),
            partial("E_k", f"out_{x}")
            + EQ
            + partial(E, "net_k")
            + CHAIN
            + partial("net_k", f"out_{x}")
            + EQ
            + Sym("delta_k")
            + DOT
            + Sym(f"w_k,{x}"),
        ]
        rows = []
        for i in samples:
            values = [float(per_path[i, q]) for q in shown]
            stages = [summed([self.n(v) for v in values], len(ks))] if len(ks) > 1 else []
            rows.append(self.prow(i, stages, float(self.trace.layers[layer_index - 1].dE_dout[i, r])))
        count = len(ks)
        above_names = listed(ks[:MAX_TERMS]) + (" …" if count > MAX_TERMS else "")
        if count == 1:
            how = _(
                "one path through the layer above ({neurons}); each δ_k has its own derivation: "
                "'bptrace explain delta_{first}'"
            )
        else:
            how = _(
                "a sum over the {count} paths through the layer above ({neurons}); each δ_k has its own "
                "derivation: 'bptrace explain delta_{first}'"
            )
        notes = [how.format(count=count, neurons=above_names, first=ks[0])]
        return Step(
            f"dE/dout_{x}",
            partial(E, f"out_{x}"),
            _("how {E} changes with out_{x}").format(E=E, x=x),
            definition,
            None,
            None,
            rows,
            terms,
            count - len(shown),
            notes,
        )

    def step_dout_dnet(self, x: str, samples: list[int]) -> Step:
        s = self.s
        layer_index, r = s.neuron(x)
        layer = s.layers[layer_index - 1]
        lt = self.trace.layers[layer_index - 1]
        slope = self.n(layer.function.value(layer.param))
        others = [var(f"net_{k}") for k in _shown(list(layer.neurons))] if not layer.function.elementwise else None
        definition = [activation_definition(layer.activation, var(f"out_{x}"), var(f"net_{x}"), slope, others)]
        closed = derivative_form(layer.activation, var(f"out_{x}"), var(f"net_{x}"), slope)
        rows = [
            self.prow(
                i,
                [
                    derivative_numbers(
                        layer.activation, self.n(lt.out[i, r]), float(lt.net[i, r]), self.n(lt.net[i, r], False), slope
                    )
                ],
                float(lt.dout_dnet[i, r]),
            )
            for i in samples
        ]
        derivation = None
        i = samples[0]
        if self.symbolic:
            nets = [_sym(f"net_{k}") for k in layer.neurons]
            f = _sympy_activation(layer.activation, nets[r], layer.param, nets)
            point = {net: float(lt.net[i, k]) for k, net in enumerate(nets)}
            derivation = derive(f"out_{x}", f"net_{x}", f, nets[r], point=point, expected=float(lt.dout_dnet[i, r]))
        notes = []
        if layer.activation == "softmax":
            notes.append(
                _(
                    "softmax: out_{x} depends on every net of the layer; this is the diagonal entry of its "
                    "Jacobian (∂out_k/∂net_{x} = −out_k·out_{x} for k ≠ {x})"
                ).format(x=x)
            )
        if any(bool(lt.kink[j, r]) for j in samples):
            from bptrace.verify.kinks import kink_note

            notes.append(
                _("net_{x} is exactly 0, where {activation} is not differentiable: {convention}").format(
                    x=x, activation=layer.activation, convention=kink_note(layer.activation, layer.param)
                )
            )
        return Step(
            f"dout_{x}/dnet_{x}",
            partial(f"out_{x}", f"net_{x}"),
            _("slope of {activation} at net_{x}").format(activation=layer.activation, x=x),
            definition,
            derivation,
            closed,
            rows,
            notes=notes,
        )

    def step_delta_softmax(self, x: str, samples: list[int]) -> Step:
        """δ_x = ∂E/∂net_x for softmax + cross-entropy: SymPy differentiates E(net) at once; it is out_x − t_x."""
        s, E = self.s, self.E
        layer = s.output_layer
        r = layer.neurons.index(x)
        lt = self.trace.layers[-1]
        nets = [var(f"net_{k}") for k in _shown(list(layer.neurons))]
        term = loss_term_form(s.loss, var("t_k"), var("out_k"), layer.size)
        definition = [
            var(E)
            + EQ
            + SumOver("k", term)
            + Op(",")
            + Space(1)
            + var("out_k")
            + EQ
            + activation_form("softmax", var("net_k"), self.n(0), nets)
        ]
        closed = var(f"out_{x}") + MINUS + var(f"t_{x}")
        rows = [
            self.prow(i, [self.n(lt.out[i, r]) + MINUS + self.n(s.targets[i, r])], float(lt.delta[i, r]))
            for i in samples
        ]
        derivation = None
        if self.symbolic:
            i = samples[0]
            nets_s = [_sym(f"net_{k}") for k in layer.neurons]
            ts = [_sym(f"t_{k}") for k in layer.neurons]
            outs = [_sympy_activation(layer.activation, z, layer.param, nets_s) for z in nets_s]
            point = {
                **{z: float(lt.net[i, k]) for k, z in enumerate(nets_s)},
                **{t: float(s.targets[i, k]) for k, t in enumerate(ts)},
            }
            derivation = derive(
                E,
                f"net_{x}",
                _sympy_loss(s, outs, ts),
                nets_s[r],
                point=point,
                expected=float(lt.delta[i, r]),
                simplify=True,
            )
        notes = [_("the targets sum to 1, so SymPy's result is out − t: softmax and cross-entropy cancel")]
        return Step(
            f"delta_{x}",
            partial(E, f"net_{x}"),
            _("error signal of {x}").format(x=x),
            definition,
            derivation,
            closed,
            rows,
            notes=notes,
        )

    def step_delta_compact(self, x: str, samples: list[int]) -> Step:
        """δ_x as a value with its two factors (its full derivation is 'bptrace explain delta_x')."""
        layer_index, r = self.s.neuron(x)
        lt = self.trace.layers[layer_index - 1]
        symbols, _numbers = self.delta_stages(x, samples[0])
        rows = [self.prow(i, [self.delta_stages(x, i)[1]], float(lt.delta[i, r])) for i in samples]
        return Step(
            f"delta_{x}",
            delta(x),
            _("error signal of {x}").format(x=x),
            [delta(x) + EQ + partial(self.E, f"net_{x}") + EQ + symbols],
            None,
            None,
            rows,
            notes=[_("derived step by step in 'bptrace explain delta_{x}'").format(x=x)],
        )

    def step_factor(self, x: str, p: Parameter, samples: list[int]) -> Step:
        """∂net_x/∂θ: the source activation for a weight, 1 for a bias."""
        layer_index, r = self.s.neuron(x)
        if p.kind == "weight":
            src = self.s.source_name(layer_index, p.col or 0)
            closed: Math = var(src)
            rows = [self.prow(i, [var(src)], self.source_value(layer_index, p.col or 0, i)) for i in samples]
        else:
            closed = Const("1")
            rows = [self.prow(i, [], 1.0) for i in samples]
        derivation = None
        if self.symbolic:
            i = samples[0]
            derivation = derive(
                f"net_{x}", p.name, self.net_sympy(x), _sym(p.name), point=self.net_point(x, i), expected=rows[0].value
            )
        notes = []
        if p.kind == "bias" and p.row is None:
            notes.append(_("the same for every neuron {name} feeds").format(name=p.name))
        return Step(
            f"dnet_{x}/d{p.name}",
            partial(f"net_{x}", p.name),
            _("how net_{x} changes with {name}").format(x=x, name=p.name),
            [self.net_definition(x)],
            derivation,
            closed,
            rows,
            notes=notes,
        )

    def step_dnet_dout(self, k: str, x: str, samples: list[int]) -> Step:
        """∂net_k/∂out_x = w_kx (a path term's second factor)."""
        layer_index, r = self.s.neuron(x)
        q = self.s.layers[layer_index].neurons.index(k)
        w = self.w_used(layer_index + 1)
        wname = self.s.layers[layer_index].weight_name(q, r)
        rows = [self.prow(i, [var(wname)], float(w[q, r])) for i in samples]
        derivation = None
        if self.symbolic:
            derivation = derive(
                f"net_{k}",
                f"out_{x}",
                self.net_sympy(k),
                _sym(f"out_{x}"),
                point=self.net_point(k, samples[0]),
                expected=float(w[q, r]),
            )
        return Step(
            f"dnet_{k}/dout_{x}",
            partial(f"net_{k}", f"out_{x}"),
            _("how net_{k} changes with out_{x}").format(k=k, x=x),
            [self.net_definition(k)],
            derivation,
            var(wname),
            rows,
        )

    # ---- explanations ----
    def build(self, q: Quantity) -> Explanation:
        if q.kind == "after" and q.sample is not None:
            # E_total@N is a batch quantity (names.value ignores a :k suffix on it)
            q = names.Quantity(q.kind, q.name.split(":")[0], steps=q.steps)
        m = self.m
        if q.kind in ("E", "E_total", "after"):  # one value per sample
            samples = [q.sample - 1] if q.sample is not None else list(range(m))
        elif q.sample is None:  # every forward pass
            samples = list(range(self.objective.passes))
        elif q.corrupt:  # :kc, the corrupt window's pass
            samples = [self.objective.row(q.sample, corrupt=True)]
        elif q.kind == "grad":  # dE/dθ:k: every pass of sample k (both windows)
            samples = list(self.objective.rows_of(q.sample - 1))
        else:
            samples = [q.sample - 1]
        batch = q.sample is None
        handler = {
            "param": self.ex_param,
            "grad": self.ex_param,
            "updated": self.ex_param,
            "after": self.ex_after,
            "net": self.ex_net,
            "out": self.ex_out,
            "E": self.ex_E,
            "E_total": self.ex_E_total,
            "dE_dout": self.ex_dE_dout,
            "dout_dnet": self.ex_dout_dnet,
            "delta": self.ex_delta,
            "path": self.ex_path,
            "factor": self.ex_factor,
        }[q.kind]
        ex = Explanation(
            target=q.name,
            kind=q.kind,
            what=self.describe(q),
            scenario=self.s.display_title(),
            digits=self.digits,
            symbol=var(q.name),
            value=math.nan,
            sample=q.sample,
            samples=self.m,
            windows=self.objective.windows,
            reduction=self.s.reduction,
            paths=[],
            path_count=0,
            chain=[],
            chain_title=_("Chain rule"),
            steps=[],
            product=[],
            product_symbol=var(q.name),
            product_formula=None,
            batch=None,
            batch_symbol=var(q.name),
            batch_title="",
            penalty=None,
            update=None,
            history=[],
            history_omitted=0,
            checks=[],
            notes=[],
        )
        handler(q, ex, samples, batch)
        output_dE_dout = q.kind == "dE_dout" and self.s.neuron(q.neuron or "")[0] == self.L
        if q.kind in ("net", "out", "E", "E_total", "after", "dout_dnet", "factor") or output_dE_dout:
            ex.chain_title = _("Formula")
        if ex.kind in ("E_total", "after"):  # rows per sample: E_s; the batch row: the target
            ex.product_symbol, ex.batch_symbol = var(self.E), ex.symbol
        elif ex.kind not in ("param", "grad", "updated"):
            ex.product_symbol = ex.batch_symbol = ex.symbol
        return ex

    def finish_product(self, ex: Explanation, rows: list[Row], batch: bool) -> None:
        """The product rows, and (several rows) their combination: the batch value, or a sample's two windows."""
        ex.product = rows
        if len(rows) == 1:
            ex.value = rows[0].value
            return
        ex.batch = self.batch_row(rows, batch)
        ex.value = ex.batch.value
        if self.mm and any(r.corrupt for r in rows) and ex.product_symbol.text.startswith("∂"):
            # a row is one window's share of ∂E_s/∂θ (the two windows' shares add up to ∂E_s/∂θ)
            share = _(" (one window's share)")
            ex.product_symbol = ex.product_symbol + Text(share)
        mean = self.s.reduction == "mean"
        if not batch:
            ex.batch_title = _("Both windows of the sample (x and x_c)")
        elif self.mm and mean:
            ex.batch_title = _(
                "Over the batch (each sample's two windows added, then the mean over the {m} samples)"
            ).format(m=self.m)
        elif self.mm:
            ex.batch_title = _(
                "Over the batch (each sample's two windows added, then the sum over the {m} samples)"
            ).format(m=self.m)
        elif mean:
            ex.batch_title = _("Over the batch (the mean over the {m} samples)").format(m=self.m)
        else:
            ex.batch_title = _("Over the batch (the sum over the {m} samples)").format(m=self.m)

    def ex_param(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        s, E = self.s, self.E
        p = s.parameter(q.param or "")
        layer = s.layers[p.layer - 1]
        lt = self.trace.layers[p.layer - 1]
        ex.paths, ex.path_count = self.paths_from(p.name)
        grad_sym = partial("E_total", p.name)
        per_sample = partial(E, p.name)
        if q.kind != "grad":
            ex.symbol = var(q.name) if q.kind == "param" else Sym(p.name, "+")
        parts = chain_factors.parameter(self.trace, p)  # the factors of ∂E/∂θ: decided in engine/factors.py
        if parts.combine == "sum":
            neurons = list(layer.neurons)
            shown = _shown(neurons)
            sum_syms = [partial(E, f"net_{x}") + CHAIN + partial(f"net_{x}", p.name) for x in shown]
            ex.chain = [
                per_sample
                + EQ
                + summed(sum_syms, len(neurons))
                + EQ
                + summed([delta(x) + DOT + Const("1") for x in shown], len(neurons))
            ]
            deltas = Step(
                "delta_X",
                Sym("delta_X"),
                _("error signal of each neuron {name} feeds").format(name=p.name),
                [Sym("delta_X") + EQ + partial(E, "net_X")],
                None,
                None,
                [],
                omitted_terms=len(neurons) - len(shown),
            )
            for x in shown:
                sub = self.step_delta_compact(x, samples)
                symbols, _numbers = self.delta_stages(x, samples[0])
                deltas.terms.append(Term(f"delta_{x}", delta(x), partial(E, f"net_{x}") + EQ + symbols, sub.rows))
            deltas.notes.append(
                _("each δ is derived step by step in 'bptrace explain delta_{x}'").format(x=layer.neurons[0])
            )
            ex.steps = [deltas, self.step_factor(layer.neurons[0], p, samples)]
            ex.product_formula = summed([delta(x) for x in shown], len(neurons))
            rows = []
            for i in samples:
                values = [float(lt.delta[i, layer.neurons.index(x)]) for x in shown]
                rows.append(
                    self.prow(
                        i, [summed([self.n(v) for v in values], len(neurons))], math.fsum(float(v) for v in lt.delta[i])
                    )
                )
        else:
            x = layer.neurons[p.row or 0]
            r = p.row or 0
            if parts.delta_form:
                factors = [partial(E, f"net_{x}"), partial(f"net_{x}", p.name)]
                ex.steps = [self.step_delta_softmax(x, samples), self.step_factor(x, p, samples)]
            else:
                factors = [partial(E, f"out_{x}"), partial(f"out_{x}", f"net_{x}"), partial(f"net_{x}", p.name)]
                ex.steps = [
                    self.step_dE_dout(x, samples),
                    self.step_dout_dnet(x, samples),
                    self.step_factor(x, p, samples),
                ]
            ex.chain = [per_sample + EQ + join(factors, CHAIN)]
            if p.layer < self.L:
                ex.chain += ex.steps[0].definition[:1]
            ex.product_formula = join(factors, CHAIN)
            rows = []
            for i in samples:
                values = [st.rows[samples.index(i)].value for st in ex.steps]
                rows.append(self.prow(i, [join([self.n(v) for v in values], TIMES)], math.prod(values)))
            if len(samples) == 1 and layer.activation != "softmax":
                i = samples[0]
                d = float(lt.delta[i, r])
                last = ex.steps[-1].rows[0]
                ex.notes.append(
                    Text("(")
                    + delta(x)
                    + EQ
                    + partial(E, f"net_{x}")
                    + EQ
                    + self.n(lt.dE_dout[i, r])
                    + TIMES
                    + self.n(lt.dout_dnet[i, r])
                    + EQ
                    + self.n(d)
                    + Text(_(", so "))
                    + per_sample
                    + EQ
                    + delta(x)
                    + (DOT + last.stages[0] if last.stages else FRow())
                    + Text(")")
                )
            if p.layer == self.L and cancels_derivative(layer.activation, s.loss) and layer.activation != "softmax":
                pair = _("{activation} with {loss}: ")
                cancels = _("the loss cancels {f}")  # TRANSLATORS: {f} is f′, the derivative of the activation
                ex.notes.append(
                    Text("(" + pair.format(activation=layer.activation, loss=s.loss))
                    + partial(E, f"out_{x}")
                    + CHAIN
                    + partial(f"out_{x}", f"net_{x}")
                    + EQ
                    + var(f"out_{x}")
                    + MINUS
                    + var(f"t_{x}")
                    + Text(", " + cancels.format(f="f′") + ")")
                )
        if batch and self.many:
            ex.chain.insert(0, grad_sym + EQ + self.batch_symbol(per_sample))
        ex.product_symbol = per_sample
        ex.batch_symbol = grad_sym if batch else per_sample  # dE/dθ:k: the sample's ∂E_s/∂θ, not the batch's
        self.finish_product(ex, rows, batch)
        if self.l2 and p.kind == "weight" and q.sample is None:
            # E_total = data loss + λ/(2m)·Σ W², so ∂E_total/∂w = (data part) + (λ/m)·w
            theta = self.trace.value(p)
            part = self.l2 / self.m * theta
            row = Row(None, [self.n(self.l2, False) + Op("/") + Const(str(self.m)) + TIMES + self.n(theta)], part)
            derivation = None
            if self.symbolic:
                w = _sym(p.name)
                derivation = derive(
                    "P",
                    p.name,
                    _sym("lambda") / (2 * self.m) * w**2,
                    w,
                    point={w: theta, _sym("lambda"): self.l2},
                    expected=part,
                )
            ex.steps.append(
                Step(
                    f"dP/d{p.name}",
                    partial("P", p.name),
                    _("the L2 penalty's part"),
                    [Sym("P") + EQ + self.penalty_symbol()],
                    derivation,
                    Frac(Sym("lambda"), Sym("m"), grouped=True) + DOT + var(p.name),
                    [row],
                )
            )
            if batch and self.many:  # ∂E_total/∂w = (1/m)·Σ_s ∂E_s/∂w + ∂P/∂w
                ex.chain[0] = ex.chain[0] + PLUS + partial("P", p.name)
            else:
                ex.chain.insert(0, grad_sym + EQ + per_sample + PLUS + partial("P", p.name))
            self.add_penalty(ex, ex.value, part)
        grad = ex.value  # ∂E/∂θ of the target: the batch's, or sample k's for dE/dθ:k
        batch_grad = grad if q.sample is None else self.trace.grad(p)  # the update always uses the batch's
        eta = s.learning_rate
        frozen = self.trace.frozen(p)
        theta = self.trace.value(p)
        new = theta if frozen else theta - eta * batch_grad  # θ⁺ = θ − η·∂E/∂θ
        if frozen:
            formula = Sym(p.name, "+") + EQ + var(p.name) + EQ + self.n(theta, False) + Space(3) + Text(frozen_words())
        else:
            formula = (
                Sym(p.name, "+")
                + EQ
                + var(p.name)
                + MINUS
                + Sym("eta")
                + DOT
                + grad_sym
                + EQ
                + self.n(theta, False)
                + MINUS
                + self.n(eta)
                + TIMES
                + self.n(batch_grad)
                + EQ
                + self.n(new, False)
            )
        if q.sample is None:  # sample k's gradient alone updates nothing
            ex.update = Update(p.name, theta, eta, batch_grad, new, frozen, formula)
        if q.kind == "updated" and (q.steps or 1) > 1:
            self.history_param(ex, p, q.steps or 1)
        elif q.kind == "updated":
            ex.value = new
        elif q.kind == "param":
            ex.value = theta
        if self.do_checks:
            ex.checks = self.checks_param(p, q.sample, grad)

    def history_param(self, ex: Explanation, p: Parameter, steps: int) -> None:
        """θ@n for n = 1..N: each update starts from the parameters the one before produced."""
        from bptrace.engine.step import step
        from bptrace.engine.step import trace as run_trace

        scenario = self.s
        rows: list[Row] = []
        through = self.trace.through_updated_weights
        current = self.trace
        for n in range(1, steps + 1):
            theta, grad = current.value(p), current.grad(p)
            new = current.new_value(p)
            if n <= MAX_HISTORY - 2 or n > steps - 2:
                if current.frozen(p):  # update_biases: false — the value is carried over, not updated
                    not_updated = _("(not updated)")
                    kept = Op("@") + Const(str(n - 1)) + Space(2) + Text(not_updated)
                    stages = [var(p.name) + kept]
                else:
                    stages = [
                        var(p.name)
                        + (Op("@") + Const(str(n - 1)))
                        + MINUS
                        + Sym("eta")
                        + DOT
                        + partial("E_total", p.name)
                        + (Op("@") + Const(str(n - 1))),
                        self.n(theta, False) + MINUS + self.n(self.s.learning_rate) + TIMES + self.n(grad),
                    ]
                rows.append(Row(None, stages, new, step=n))
            if n < steps:
                scenario = step(scenario, through_updated_weights=through)
                current = run_trace(scenario, through_updated_weights=through)
        ex.history = rows
        ex.history_omitted = steps - len(rows)
        ex.value = rows[-1].value

    def ex_after(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        """E_total@N: the loss with the parameters after N updates."""
        from bptrace.engine.step import batch_loss, forward, loss_with, step

        s = self.s
        steps = q.steps or 1
        ex.symbol = Sym("E_total") + Op("@") + Const(str(steps))
        lts = self.trace.layers
        params = s.parameters()
        shown = _shown(params)
        upd = Step(
            "θ+",
            Sym("theta", "+"),
            _("every parameter after the first update"),
            [Sym("theta", "+") + EQ + Sym("theta") + MINUS + Sym("eta") + DOT + Deriv("E_total", "theta")],
            None,
            None,
            [],
            omitted_terms=len(params) - len(shown),
        )
        for p in shown:
            new = self.trace.new_value(p)
            if self.trace.frozen(p):
                not_updated = _("(not updated)")
                formula = var(p.name) + Space(2) + Text(not_updated)
                stages: list[Math] = []
            else:
                formula = var(p.name) + MINUS + Sym("eta") + DOT + partial("E_total", p.name)
                stages = [
                    self.n(self.trace.value(p), False)
                    + MINUS
                    + self.n(s.learning_rate)
                    + TIMES
                    + self.n(self.trace.grad(p))
                ]
            upd.terms.append(Term(f"{p.name}+", Sym(p.name, "+"), formula, [Row(None, stages, new)]))
        _nets, outs = forward(s, [lt.new_weights for lt in lts], [lt.new_biases for lt in lts])
        terms_after, _total = batch_loss(s, outs[-1])
        out_layer = s.output_layer
        n = out_layer.size
        fwd = Step(
            "E_total+",
            var("E_s") if self.m > 1 else var("E_total"),
            _("the forward pass again, with the updated parameters"),
            [var(self.E) + EQ + summed(_shown([self.term_symbols(o) for o in out_layer.neurons]), n)],
            None,
            None,
            [],
        )
        rows = []
        for i in samples:
            values = [float(v) for v in terms_after[i]]
            stages = [
                summed(_shown([self.term_numbers(o, i, outs[-1]) for o in out_layer.neurons]), n),
                summed([self.n(v) for v in _shown(values)], n),
            ]
            rows.append(self.prow(i, stages, math.fsum(values)))
        fwd.rows = rows
        fwd.notes.append(
            _("out after the update: {values}").format(
                values=listed(
                    [
                        f"out_{o}{'' if self.m == 1 else ':' + str(i + 1)} = {num(outs[-1][i, j], self.digits)}"
                        for i in samples[:MAX_TERMS]
                        for j, o in enumerate(out_layer.neurons[:MAX_TERMS])
                    ]
                )
            )
        )
        ex.steps = [upd, fwd]
        ex.chain = [Sym("E_total") + Op("@") + Const("1") + EQ + Sym("E_total") + Paren(Sym("theta", "+"))]
        self.finish_product(ex, rows, batch)
        if self.l2:
            from bptrace.engine.step import penalty as l2_penalty

            new_weights = [lt.new_weights for lt in lts]
            after_penalty = l2_penalty(s, new_weights)
            ex.steps.append(
                self.penalty_step(new_weights, after_penalty, _("the L2 penalty, with the updated weights"))
            )
            data_loss = _("the data loss")
            ex.chain[0] = ex.chain[0] + Text(" ") + Paren(Text(data_loss) + PLUS + Sym("P"))
            self.add_penalty(ex, ex.value, after_penalty)
        # the trace's own loss after the update (with the L2 penalty, if any) against the loss before it
        ex.notes.append(
            Text(
                _("before the update E_total = {before}; change {change}").format(
                    before=num(self.trace.loss, self.digits),
                    change=num(self.trace.loss_after - self.trace.loss, self.digits),
                )
            )
        )
        if steps > 1:
            history: list[Row] = []
            scenario = s
            through = self.trace.through_updated_weights
            for k in range(1, steps + 1):
                scenario = step(scenario, through_updated_weights=through)
                if k <= MAX_HISTORY - 2 or k > steps - 2:
                    weights = [layer.weights for layer in scenario.layers]
                    biases = [layer.biases for layer in scenario.layers]
                    history.append(Row(None, [], loss_with(scenario, weights, biases), step=k))
            ex.history = history
            ex.history_omitted = steps - len(history)
            ex.value = history[-1].value

    def forward_note(self, ex: Explanation, x: str, samples: list[int]) -> None:
        """How the forward quantity reaches the loss: its δ."""
        layer_index, r = self.s.neuron(x)
        if layer_index == 0:
            return
        d = self.trace.layers[layer_index - 1].delta[samples[0], r]
        ex.notes.append(
            Text(
                _("its effect on the loss: ∂{E}/∂net_{x} = δ_{x} = {value} (bptrace explain delta_{x})").format(
                    E=self.E, x=x, value=num(d, self.digits)
                )
            )
        )

    def ex_net(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        x = q.neuron or ""
        layer_index, r = self.s.neuron(x)
        layer = self.s.layers[layer_index - 1]
        ex.paths, ex.path_count = self.paths_from(f"net_{x}")
        pairs, b = self.net_parts(x)
        rows = []
        for i in samples:
            ws = [float(layer.weights[r, c]) for c in range(len(pairs))]
            srcs = [self.source_value(layer_index, c, i) for c in range(len(pairs))]
            bias = float(layer.bias_vector()[r]) if b else 0.0
            # net_x = Σ_j w_xj·out_j + b_x
            parts = [self.n(w) + TIMES + self.n(a) for w, a in zip(ws, srcs)] + ([self.n(bias)] if b else [])
            rows.append(
                self.prow(i, [summed(_shown(parts), len(parts))], math.fsum([w * a for w, a in zip(ws, srcs)] + [bias]))
            )
        title = _(DESCRIPTIONS["net"]).format(x=x)
        ex.steps = [Step(f"net_{x}", var(f"net_{x}"), title, [self.net_definition(x)], None, None, rows)]
        ex.chain = [self.net_definition(x)]
        self.finish_product(ex, rows, batch)
        self.forward_note(ex, x, samples)

    def ex_out(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        x = q.neuron or ""
        layer_index, r = self.s.neuron(x)
        ex.paths, ex.path_count = self.paths_from(f"out_{x}")
        if layer_index == 0:
            rows = [self.prow(i, [], float(self.inputs[i, r])) for i in samples]
            ex.steps = [
                Step(
                    f"out_{x}",
                    var(f"out_{x}"),
                    _("input {x}").format(x=x),
                    [var(f"out_{x}") + EQ + var(x)],
                    None,
                    None,
                    rows,
                    notes=[_("an input: given by the scenario")],
                )
            ]
            self.finish_product(ex, rows, batch)
            return
        layer = self.s.layers[layer_index - 1]
        lt = self.trace.layers[layer_index - 1]
        slope = self.n(layer.function.value(layer.param))
        others = [var(f"net_{k}") for k in _shown(list(layer.neurons))] if not layer.function.elementwise else None
        definition = activation_definition(layer.activation, var(f"out_{x}"), var(f"net_{x}"), slope, others)
        rows = []
        for i in samples:
            nums = [self.n(lt.net[i, k]) for k in _shown(list(range(layer.size)))] if others else None
            rows.append(
                self.prow(
                    i, [activation_form(layer.activation, self.n(lt.net[i, r]), slope, nums)], float(lt.out[i, r])
                )
            )
        title = _(DESCRIPTIONS["out"]).format(x=x)
        ex.steps = [Step(f"out_{x}", var(f"out_{x}"), title, [definition], None, None, rows)]
        ex.chain = [definition]
        self.finish_product(ex, rows, batch)
        self.forward_note(ex, x, samples)

    def ex_E(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        s = self.s
        x = q.neuron or ""
        j = s.output_layer.neurons.index(x)
        lt = self.trace.layers[-1]
        ex.paths, ex.path_count = self.paths_from(f"E_{x}")
        definition = var(f"E_{x}") + EQ + self.term_symbols(x) + (self.hinge_where(x) if self.objective.scores else "")
        rows = [self.prow(i, [self.term_numbers(x, i, lt.out)], float(self.trace.loss_terms[i, j])) for i in samples]
        title = _("loss term of {x} ({loss})").format(x=x, loss=s.loss)
        ex.steps = [Step(f"E_{x}", var(f"E_{x}"), title, [definition], None, None, rows)]
        ex.chain = [definition]
        if batch and self.many:
            ex.chain.append(var(f"E_{x}") + EQ + self.batch_symbol(var(f"E_{x}") + ":s"))
        self.finish_product(ex, rows, batch)

    def ex_E_total(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        s = self.s
        outs = list(s.output_layer.neurons)
        ex.paths, ex.path_count = [], 0  # E_total is where every path ends
        definition = var(self.E) + EQ + summed([var(f"E_{o}") for o in _shown(outs)], len(outs))
        rows = []
        for i in samples:
            values = [float(v) for v in self.trace.loss_terms[i]]
            rows.append(self.prow(i, [summed([self.n(v) for v in _shown(values)], len(values))], math.fsum(values)))
        ex.steps = [
            Step(
                "E_total",
                var(self.E),
                _("the loss of a sample") if self.m > 1 else _("the loss of the sample"),
                [definition],
                None,
                None,
                rows,
            )
        ]
        ex.chain = [definition]
        if batch and self.many:
            ex.chain.insert(0, var("E_total") + EQ + self.batch_symbol(var("E_s")))
        self.finish_product(ex, rows, batch)
        if self.l2 and batch:
            if self.many:  # E_total = (1/m)·Σ_s E_s + P
                ex.chain[0] = ex.chain[0] + PLUS + self.penalty_symbol()
            else:
                ex.chain.insert(0, var("E_total") + EQ + var("E_s") + PLUS + self.penalty_symbol())
            penalty = float(getattr(self.trace, "penalty", 0.0))
            ex.steps.append(self.penalty_step([layer.weights for layer in s.layers], penalty, _("the L2 penalty")))
            self.add_penalty(ex, ex.value, penalty)

    def ex_dE_dout(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        x = q.neuron or ""
        ex.paths, ex.path_count = self.paths_from(f"out_{x}")
        ex.symbol = partial("E_total" if batch or self.m == 1 else self.E, f"out_{x}")
        step = self.step_dE_dout(x, samples)
        ex.steps = [step]
        ex.chain = (
            step.definition[:1]
            if self.s.neuron(x)[0] < self.L
            else [step.symbol + EQ + step.closed_form if step.closed_form else step.symbol]
        )
        self.finish_product(ex, step.rows, batch)
        if self.do_checks:
            ex.checks = self.checks_local(ex.value, x, "out", samples, batch)

    def ex_dout_dnet(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        x = q.neuron or ""
        ex.paths, ex.path_count = self.paths_from(f"net_{x}")
        step = self.step_dout_dnet(x, samples)
        ex.steps = [step]
        ex.chain = [step.symbol + EQ + (step.closed_form or FRow())]
        self.finish_product(ex, step.rows, batch)

    def ex_delta(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        x = q.neuron or ""
        layer_index, r = self.s.neuron(x)
        layer = self.s.layers[layer_index - 1]
        ex.paths, ex.path_count = self.paths_from(f"net_{x}")
        ex.symbol = delta(x)
        if layer.activation == "softmax":
            ex.steps = [self.step_delta_softmax(x, samples)]
            ex.chain = [delta(x) + EQ + partial(self.E, f"net_{x}") + EQ + var(f"out_{x}") + MINUS + var(f"t_{x}")]
            rows = ex.steps[0].rows
        else:
            factors = [partial(self.E, f"out_{x}"), partial(f"out_{x}", f"net_{x}")]
            ex.chain = [delta(x) + EQ + partial(self.E, f"net_{x}") + EQ + join(factors, CHAIN)]
            ex.steps = [self.step_dE_dout(x, samples), self.step_dout_dnet(x, samples)]
            if layer_index < self.L:
                ex.chain += ex.steps[0].definition[:1]
            ex.product_formula = join(factors, CHAIN)
            rows = []
            for k, i in enumerate(samples):
                values = [ex.steps[0].rows[k].value, ex.steps[1].rows[k].value]
                rows.append(self.prow(i, [join([self.n(v) for v in values], TIMES)], math.prod(values)))
        self.finish_product(ex, rows, batch)
        if self.do_checks:
            ex.checks = self.checks_local(ex.value, x, "net", samples, batch)

    def ex_path(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        j, k = q.neuron or "", q.other or ""
        ex.symbol = partial(f"E_{k}", f"out_{j}")
        ex.paths = [p for p in self._walk(f"out_{j}") if p[1] == f"net_{k}"][:MAX_PATHS]
        ex.path_count = self._count(f"net_{k}")
        layer_index, r = self.s.neuron(j)
        wname = self.s.layers[layer_index].weight_name(self.s.layers[layer_index].neurons.index(k), r)
        factors = [partial(self.E, f"net_{k}"), partial(f"net_{k}", f"out_{j}")]
        ex.chain = [partial(f"E_{k}", f"out_{j}") + EQ + join(factors, CHAIN) + EQ + delta(k) + DOT + var(wname)]
        ex.steps = [self.step_delta_compact(k, samples), self.step_dnet_dout(k, j, samples)]
        ex.product_formula = delta(k) + DOT + var(wname)
        rows = []
        for t, i in enumerate(samples):
            values = [ex.steps[0].rows[t].value, ex.steps[1].rows[t].value]
            rows.append(self.prow(i, [join([self.n(v) for v in values], TIMES)], math.prod(values)))
        self.finish_product(ex, rows, batch)
        ex.notes.append(
            Text(
                _(
                    "one of the terms of ∂E/∂out_{j}, the sum over the paths through the layer above "
                    "(bptrace explain dE/dout_{j})"
                ).format(j=j)
            )
        )

    def ex_factor(self, q: Quantity, ex: Explanation, samples: list[int], batch: bool) -> None:
        x = q.neuron or ""
        p = self.s.parameter(q.param or "")
        ex.paths = [[p.name, f"net_{x}"]]
        ex.path_count = 1
        step = self.step_factor(x, p, samples)
        ex.steps = [step]
        ex.chain = [step.symbol + EQ + (step.closed_form or FRow())]
        self.finish_product(ex, step.rows, batch)
        ex.notes.append(Text(_("the last factor of ∂E/∂{name} (bptrace explain {name})").format(name=p.name)))

    # ---- independent checks ----
    def checks_param(self, p: Parameter, sample: int | None, grad: float) -> list[Check]:
        """The chain rule's ∂E/∂θ beside the verification's own two checks, judged as `run` judges them
        (bptrace.verify.verification.verify on this one parameter: SymPy's derivative of the loss written
        out in θ, and the five-point finite difference; a check not judged says why).

        SymPy's cost grows with the paths from θ to the loss (4¹¹ of them ran past 600 s): above
        SAMPLE_PATH_LIMIT paths it is not run, as `run --verify sample` bounds it, and the checks say so."""
        from bptrace.engine.step import trace as make_trace
        from bptrace.verify import symbolic
        from bptrace.verify import verification as verify

        # sample k alone: its loss E_k (the L2 penalty belongs to the batch, not to a sample)
        t = self.trace if sample is None else make_trace(_one_sample(self.s, sample - 1))
        paths = symbolic.paths([layer.size for layer in self.s.layers[p.layer - 1 :]])
        skipped = paths > verify.SAMPLE_PATH_LIMIT
        row = verify.verify(t, "sample" if skipped else "full", only=[p.name]).check(p.name)
        checks = [Check(_(CHAIN_RULE), grad, None, _("the product above"))]
        if not skipped:
            checks.append(
                Check(
                    "SymPy",
                    row.sympy if row.sympy is not None else math.nan,
                    row.sympy_ok,
                    _("∂E/∂{name} of the loss written out in {name} (bptrace.verify.symbolic)").format(name=p.name)
                    + (_("; at a kink: {convention}").format(convention=row.kink) if row.kink else ""),
                )
            )
        not_run = (
            _(
                "; SymPy not run: {paths:,} paths from {name} to the loss, more than {limit:,} "
                "(its work grows with the paths)"
            ).format(paths=paths, name=p.name, limit=verify.SAMPLE_PATH_LIMIT)
            if skipped
            else ""
        )
        if row.finite_difference is not None:
            judged = row.fd_reason is None
            checks.append(
                Check(
                    _(FINITE_DIFFERENCE) if judged else _(NOT_JUDGED),
                    row.finite_difference,
                    row.fd_ok,
                    _("five-point, h = {h:g} (bptrace.verify.verification)").format(h=row.fd_step)
                    + ("" if judged else _("; not judged: {reason}").format(reason=row.fd_reason))
                    + not_run,
                )
            )
        elif skipped:
            checks[0] = Check(_(CHAIN_RULE), grad, None, _("the product above") + not_run)
        return checks

    def checks_local(self, value: float, x: str, which: str, samples: list[int], batch: bool) -> list[Check]:
        """∂E/∂out_x or ∂E/∂net_x by the five-point difference: nudge it, run the rest of the network again.

        Judged by the verification's tolerances (tolerances.fd_agrees); not judged, with the reason, where
        the stencil crosses a kink (a net above, or the max-margin hinge, changes side)."""
        from bptrace.verify import tolerances

        results = [local_difference(self.trace, x, which, i) for i in samples]
        per_pass = [r[0] for r in results]
        crossed = next((r[1] for r in results if r[1] is not None), None)
        noise = max(r[2] for r in results)
        if batch:  # the batch value: each sample's passes added, then reduced like the loss
            combine = getattr(self.trace, "per_sample", lambda column: column)
            fd = self.trace.reduce(combine(_array(per_pass)))
        else:
            fd = per_pass[0]
        h = tolerances.FD_STEP
        detail = _(
            "five-point, h = {h:g}·max(1, |{which}_{x}|), nudging {which}_{x} and running the layers above again"
        ).format(h=h, which=which, x=x)
        if crossed is not None:
            return [
                Check(_(CHAIN_RULE), value, None, _("the value above")),
                Check(_(NOT_JUDGED), fd, None, detail + _("; not judged: {reason}").format(reason=crossed)),
            ]
        return [
            Check(_(CHAIN_RULE), value, None, _("the value above")),
            Check(_(FINITE_DIFFERENCE), fd, tolerances.fd_agrees(fd, value, noise), detail),
        ]


def _fed_by(p: Parameter, s: Scenario) -> list[str]:
    """The neurons whose net a parameter enters: one, or every neuron of the layer for a shared bias."""
    neurons = s.layers[p.layer - 1].neurons
    return list(neurons if p.row is None else [neurons[p.row]])


def _array(values: list[float]) -> Any:
    import numpy as np

    return np.array(values)


def _one_sample(s: Scenario, i: int) -> Scenario:
    """The scenario restricted to sample i: its loss is E_s (no L2 penalty; max_margin: both windows of i)."""
    changes: ScenarioChanges = {"inputs": s.inputs[i : i + 1], "targets": s.targets[i : i + 1]}
    corrupt = getattr(s, "corrupt", None)
    if corrupt is not None:
        changes["corrupt"] = corrupt[i : i + 1]
    if getattr(s, "l2", 0.0):
        changes["l2"] = 0.0
    return s.with_changes(**changes)


def local_difference(trace: Trace, x: str, which: str, i: int) -> tuple[float, str | None, float]:
    """∂E_s/∂out_x (which="out") or ∂E_s/∂net_x (which="net") in forward pass i, by the five-point difference.

    The pass is run again from x's layer with the nudged value; E_s is its sample's loss (max_margin: with
    the other window's score unchanged). Returns (the difference, the kink its stencil crosses in words or
    None, the bound on its rounding error): the same stencil and step as the verification's
    (tolerances.five_point, tolerances.step).
    """
    import numpy as np

    from bptrace.engine.step import batch_loss
    from bptrace.functions import activate
    from bptrace.verify import kinks, tolerances

    s = trace.scenario
    layer_index, r = s.neuron(x)
    lt = trace.layers[layer_index - 1]
    sample = i % s.samples
    crossed: list[str] = []

    def sides(nets: list[Any], out: Any) -> list[Any]:
        found = []
        for layer, z in zip(s.layers[layer_index - 1 :], nets):
            found += [np.sign(z - k) for k in kinks.activation_kinks(layer.activation, layer.param)]
        corner = s.objective.argument(out)  # the objective's own kink (the hinge's corner), if it has one
        if corner is not None:
            found.append(np.sign(corner))
        return found

    def run(shift: float) -> tuple[float, list[Any]]:
        layer = s.layers[layer_index - 1]
        nets = []
        if which == "net":
            z = lt.net[i : i + 1].copy()
            z[0, r] += shift
            nets.append(z)
            a = activate(layer.activation, z, layer.param)
        else:
            nets.append(lt.net[i : i + 1])
            a = lt.out[i : i + 1].copy()
            a[0, r] += shift
        for above in s.layers[layer_index:]:
            z = a @ above.weights.T + above.bias_vector()
            nets.append(z)
            a = activate(above.activation, z, above.param)
        out = trace.layers[-1].out.copy()
        out[i] = a[0]
        terms, _total = batch_loss(s, out)
        return float(terms[sample].sum()), sides(nets, out)

    base, base_sides = run(0.0)

    def loss(shift: float) -> float:
        value, now = run(shift)
        if not crossed and any(not np.array_equal(b, n) for b, n in zip(base_sides, now)):
            where = tr(s.objective.kink_place()) or _("a kink")  # the objective's own kink, if it has one
            changed = [
                kinks.kink_place(layer.activation)
                for layer, b, n in zip(s.layers[layer_index - 1 :], base_sides, now)
                if kinks.activation_kinks(layer.activation, layer.param) and not np.array_equal(b, n)
            ]
            crossed.append(_("the stencil crosses {place}").format(place=changed[0] if changed else where))
        return value

    centre = float(lt.net[i, r] if which == "net" else lt.out[i, r])
    h = tolerances.step(centre)
    value = tolerances.five_point(lambda v: loss(v - centre), centre, h)
    return value, crossed[0] if crossed else None, tolerances.fd_noise(base, h)
