"""Trace -> format-neutral blocks (paragraphs and tables), in the order of a textbook derivation.

Every formula is written twice: in names (w5·out_h1) and with the numbers substituted, so that a
learner can follow each step by hand. Each formula cell is built here once, as a tree of bptrace/formula.py
(a registry formula as `Filled` with its holes filled), and each printer prints it in its format: Unicode or
ASCII in the terminal, LaTeX, $…$ in Markdown, MathML in HTML. The blocks are plain data; terminal.py,
markdown.py, html.py and latex.py only display them. Nothing here computes mathematics: every number comes
from the Trace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from bptrace import functions
from bptrace.engine import factors
from bptrace.fmt import DEFAULT_DIGITS, num
from bptrace.formula import (
    DOT,
    EQ,
    MINUS,
    NUMBER_TIMES,
    PLUS,
    SUM,
    SUM_S,
    THEN,
    TIMES,
    Apply,
    Const,
    Deriv,
    Dots,
    Filled,
    Frac,
    Lines,
    Node,
    Num,
    Op,
    Paren,
    Pow,
    Row,
    Space,
    Sym,
    Text,
    eq,
    join,
    sentence,
)
from bptrace.functions import cancels_derivative
from bptrace.i18n import N_, _, ngettext
from bptrace.message import tr
from bptrace.render.blocks import DEFAULT_ROWS, Block, Cell, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.functions import Activation
    from bptrace.model.scenario import Parameter

MAX_TERMS = 6  # terms of a sum written out before the rest is summarised


SECTIONS = ("header", "forward", "loss", "backward", "gradients", "updates", "after", "verification")


class TraceLayout:
    """Lays a whole trace out as blocks (see SECTIONS), with a row limit per table."""

    def __init__(
        self,
        trace: Trace,
        digits: int = DEFAULT_DIGITS,
        layer: int | None = None,
        rows: int | None = DEFAULT_ROWS,
        verification: Any = None,
        sections: Iterable[str] | None = None,
    ) -> None:
        self.trace = trace
        self.digits = digits
        self.layer = layer
        self.rows = rows
        self.verification = verification
        self.sections = list(sections) if sections else None
        self.s = trace.scenario
        self.m = trace.scenario.samples

    # ---- helpers ----
    def n(self, x: float) -> str:
        return num(x, self.digits)

    def p(self, x: float) -> str:
        """A number inside a formula: negative numbers in parentheses."""
        text = self.n(x)
        return f"({text})" if text.startswith("-") else text

    def q(self, x: float) -> Num:
        """A number inside a formula tree: negative numbers in parentheses."""
        return Num(float(x), self.digits)

    def table(self, title: str, columns: list[tuple[str, str]]) -> Grid:
        return Grid(title, [Column(header, kind) for header, kind in columns])

    def add(self, table: Grid, *cells: Cell, style: str = "") -> None:
        table.rows.append(list(cells))
        table.styles.append(style)

    def limited(self, items: list[Any]) -> tuple[list[Any], int]:
        if self.rows is None or len(items) <= self.rows:
            return items, 0
        return items[: self.rows], len(items) - self.rows

    def cut_note(self, table: Grid, cut: int, what: str) -> None:
        """A caption saying what was cut; `what` is a marked plural noun (N_("neurons"))."""
        if cut:
            table.caption = _("… {n} more {what} not shown (use --rows N, --layer N or --format json)").format(
                n=cut, what=_(what)
            )

    def samples(self) -> list[int]:
        """The rows of the trace's arrays in reading order: one per sample, or (max_margin) x then x_c of each."""
        return self.s.objective.reading_order()

    def sample_label(self, row: int) -> list[str]:
        """The sample column's text for a row: '2', or for max_margin '2 x' / '2 x_c' (nothing for one row)."""
        objective = self.s.objective
        return [objective.label(row)] if objective.several else []

    def sample_col(self) -> list[tuple[str, str]]:
        column = self.s.objective.column()
        return [column] if column else []

    def layers_shown(self) -> list[int]:
        if self.layer is not None:
            return [self.layer]
        return [layer.index for layer in self.s.layers]

    # ---- the blocks ----
    def blocks(self) -> list[Block]:
        """Every block of the wanted sections, in order."""
        out: list[Block] = []
        for name in self.sections or SECTIONS:
            out.extend(getattr(self, f"section_{name}")())
        return out

    def section_header(self) -> Iterator[Any]:
        s = self.s
        parts = [_("{n} inputs").format(n=len(s.input_names))]
        parts += [f"{layer.size} {layer.activation}" for layer in s.layers]
        lines = [Para(s.display_title(), "title")]
        if s.display_source():
            lines.append(Para(s.display_source(), "dim"))
        lines.append(
            Para(
                ngettext(
                    "network {layers}; loss {loss}; η = {eta}; {m} sample",
                    "network {layers}; loss {loss}; η = {eta}; {m} samples",
                    self.m,
                ).format(layers=" → ".join(parts), loss=s.loss, eta=self.n(s.learning_rate), m=self.m)
            )
        )
        biases = []
        for layer in s.layers:
            if layer.bias_mode == "shared":
                biases.append(_("{name} shared by layer {layer}").format(name=layer.bias_names[0], layer=layer.index))
            elif layer.bias_mode == "neuron":
                biases.append(_("one per neuron in layer {layer}").format(layer=layer.index))
        # TRANSLATORS: the separator between the clauses of a list ("b1 shared by layer 1; b2 shared by layer 2")
        bias_text = _("; ").join(biases)
        if not biases:
            lines.append(Para(_("biases: none")))
        elif s.update_biases:
            lines.append(Para(_("biases: {biases}; updated").format(biases=bias_text)))
        else:
            lines.append(Para(_("biases: {biases}; not updated (update_biases: false)").format(biases=bias_text)))
        note = s.objective.run_note()
        if note:
            lines.append(Para(note))
        if self.m > 1:
            how = (
                _(
                    "E_total = (1/m)·Σ_s E_s, the mean over the m = {m} samples; per-sample quantities carry the "
                    "suffix :s; gradients are of E_total, so they are the mean of the per-sample gradients"
                )
                if s.reduction == "mean"
                else _(
                    "E_total = Σ_s E_s, the sum over the m = {m} samples; per-sample quantities carry the suffix "
                    ":s; gradients are of E_total, so they are the sum of the per-sample gradients"
                )
            )
            lines.append(Para(how.format(m=self.m)))
        if self.trace.through_updated_weights:
            lines.append(
                Para(
                    _(
                        "NOTE: hidden gradients use the already-updated weights of the layer "
                        "above; this is a mistake, shown for comparison"
                    ),
                    "bad",
                )
            )
        yield from lines

    def section_forward(self) -> Iterator[Any]:
        for index in self.layers_shown():
            layer = self.s.layers[index - 1]
            lt = self.trace.layers[index - 1]
            info = layer.function
            table = self.table(
                _("Forward pass, layer {layer} ({activation})").format(layer=index, activation=layer.activation),
                self.sample_col()
                + [
                    (_("neuron"), "name"),
                    ("net = Σ w·out + b", "text"),
                    ("net", "num"),
                    ("out = f(net)", "text"),
                    ("out", "num"),
                ],
            )
            cells = [(s, r) for s in self.samples() for r in range(layer.size)]
            shown, cut = self.limited(cells)
            prev = self.trace.activations(index - 1)
            for s, r in shown:
                x = layer.neurons[r]
                cols = _shown_terms(layer.weights.shape[1])
                # net = Σ w·out + b, in names and in numbers
                names: list[Node] = [
                    Row.of(Sym(layer.weight_name(r, c)), DOT, Sym(self.s.source_name(index, c))) for c in cols
                ]
                values: list[Node] = [
                    Row.of(self.q(layer.weights[r, c]), NUMBER_TIMES, self.q(prev[s, c])) for c in cols
                ]
                if len(cols) < layer.weights.shape[1]:
                    names.insert(-1, Dots())
                    values.insert(-1, Text(_("… ({n} more terms)").format(n=layer.weights.shape[1] - len(cols))))
                b = layer.bias_name(r)
                if b is not None:
                    names.append(Sym(b))
                    values.append(self.q(layer.bias_vector()[r]))
                formula = Lines((_sum(names), Row.of(THEN, _sum(values))))
                # out = f(net): σ(0.3775), or softmax's e^net_x / Σ e^net
                out_formula: Node = (
                    Row.of(Filled(info.symbol, ()), Paren(Num(float(lt.net[s, r]), self.digits, paren=False)))
                    if info.elementwise
                    else Row.of(Pow(Const("e"), Sym(f"net_{x}")), Op(" / "), SUM, Pow(Const("e"), Sym("net")))
                )
                self.add(
                    table, *self.sample_label(s), x, formula, self.n(lt.net[s, r]), out_formula, self.n(lt.out[s, r])
                )
            self.cut_note(table, cut, N_("neurons"))
            yield table

    def section_loss(self) -> Iterator[Any]:
        """The objective's table (Objective.table): its terms against the targets, or each window's score."""
        sections = {"loss terms": self.section_terms, "scores": self.section_hinge}
        yield from sections[self.s.objective.table]()

    def section_terms(self) -> Iterator[Any]:
        """A loss of the outputs: each output's term E_o per sample, E_total and the L2 penalty."""
        s = self.s
        out_layer = s.output_layer
        term = functions.loss(s.loss).term.fill(t="t", o="out", n="n")
        table = self.table(
            _("Loss ({loss}: E_s = Σ {term})").format(loss=s.loss, term=term),
            self.sample_col() + [(_("term"), "name"), (_("formula"), "text"), (_("value"), "num")],
        )
        cells = [(i, j) for i in self.samples() for j in range(out_layer.size)]
        shown, cut = self.limited(cells)
        lt = self.trace.layers[-1]
        n_out = out_layer.size
        for i, j in shown:
            o = out_layer.neurons[j]
            tv, ov = s.targets[i, j], lt.out[i, j]
            loss_term = functions.loss(s.loss).term
            n_const = Const(str(n_out))
            formula = Lines(
                (
                    Filled(loss_term, (("t", Sym(f"t_{o}")), ("o", Sym(f"out_{o}")), ("n", n_const))),
                    Row.of(THEN, Filled(loss_term, (("t", self.q(tv)), ("o", self.q(ov)), ("n", n_const)))),
                )
            )
            self.add(table, *self.sample_label(i), f"E_{o}", formula, self.n(self.trace.loss_terms[i, j]))
        self.cut_note(table, cut, N_("terms"))
        for i in self.samples():
            terms: list[Node] = [Sym(f"E_{o}") for o in out_layer.neurons]
            label = "E_total" if self.m == 1 else f"E_total:{i + 1}"
            self.add(table, *self.sample_label(i), label, _sum(terms), self.n(self.trace.sample_losses[i]))
        how = _over_samples(s.reduction, Sym("E_total:s"))
        if s.l2:
            data_term = self.trace.data_loss
            squares = Row.of(SUM, Pow(Sym("W"), Const("2")))  # Σ W²
            penalty = eq(
                Row.of(Frac(Sym("lambda"), Row.of(Const("2"), Const("m"))), DOT, squares),
                Row.of(
                    self.q(s.l2), Op("/"), Paren(Row.of(Const("2"), NUMBER_TIMES, Const(str(self.m)))), DOT, squares
                ),
            )
            self.add(
                table,
                *([""] if self.m > 1 else []),
                _("L2 penalty"),
                sentence(_("{formula} (every weight, no bias)"), formula=penalty),
                self.n(self.trace.penalty),
            )
            self.add(
                table,
                *([""] if self.m > 1 else []),
                "E_total",
                sentence(
                    _("{data} + L2 penalty = {loss} + {penalty}"),
                    data=how if self.m > 1 else Sym("E_total:1"),
                    loss=self.q(data_term),
                    penalty=self.q(self.trace.penalty),
                ),
                self.n(self.trace.loss),
            )
        elif self.m > 1:
            self.add(table, "", "E_total", how, self.n(self.trace.loss))
        yield table

    def section_hinge(self) -> Iterator[Any]:
        """max_margin: J_s = max(0, Δ + s_c − s) per sample, and whether the margin is already met."""
        s = self.s
        out = self.trace.layers[-1].out
        table = self.table(
            _("Loss (max_margin: J_s = max(0, Δ + s_c − s), Δ = {margin})").format(margin=self.n(s.margin)),
            [
                (_("sample"), "num"),
                ("s = score(x)", "num"),
                ("s_c = score(x_c)", "num"),
                ("J", "text"),
                (_("value"), "num"),
                ("", "text"),
            ],
        )
        shown, cut = self.limited(list(range(self.m)))
        for i in shown:
            score, corrupt = (out[row, 0] for row in s.objective.rows_of(i))
            j = self.trace.loss_terms[i, 0]
            met = j == 0
            note = s.objective.zero_note(met)
            self.add(
                table,
                str(i + 1),
                self.n(score),
                self.n(corrupt),
                Apply("max", (Const("0"), Row.of(self.q(s.margin), PLUS, self.q(corrupt), MINUS, self.q(score)))),
                self.n(j),
                note,
                style="dim" if met else "",
            )
        self.cut_note(table, cut, N_("samples"))
        if self.m > 1 or s.l2:
            how: Node = _over_samples(s.reduction, Sym("J_s"))
            if s.l2:
                how = sentence(_("{sum} + L2 penalty {penalty}"), sum=how, penalty=self.q(self.trace.penalty))
            self.add(table, "", "", "", how, self.n(self.trace.loss), "E_total")
        yield table

    def section_backward(self) -> Iterator[Any]:
        s = self.s
        L = len(s.layers)
        for index in reversed(self.layers_shown()):
            layer = s.layers[index - 1]
            lt = self.trace.layers[index - 1]
            info = layer.function
            output = index == L
            objective = s.objective
            title = (
                _("Backward pass, output layer ({activation})")
                if output
                else _("Backward pass, hidden layer {layer} ({activation})")
            )
            table = self.table(
                title.format(layer=index, activation=layer.activation),
                self.sample_col()
                + [
                    (_("neuron"), "name"),
                    ("∂E/∂out", "text"),
                    (_("value"), "num"),
                    ("∂out/∂net", "text"),
                    (_("value"), "num"),
                    ("δ = ∂E/∂net", "text"),
                    ("δ", "num"),
                ],
            )
            cells = [(i, r) for i in self.samples() for r in range(layer.size)]
            shown, cut = self.limited(cells)
            for i, r in shown:
                x = layer.neurons[r]
                de: list[Node]  # ∂E/∂out: the loss's gradient (output), or the paths from the layer above
                if output and objective.scores:
                    de = [Text(objective.output_gradient_note(i, float(lt.dE_dout[i, r]), bool(lt.kink[i, r])))]
                elif output:
                    gradient = functions.loss(s.loss).gradient
                    n_out = Const(str(layer.size))
                    de = [
                        Filled(gradient, (("t", Sym(f"t_{x}")), ("o", Sym(f"out_{x}")), ("n", n_out))),
                        Row.of(
                            THEN,
                            Filled(
                                gradient, (("t", self.q(s.targets[i, r])), ("o", self.q(lt.out[i, r])), ("n", n_out))
                            ),
                        ),
                    ]
                else:  # Σ_k ∂E_k/∂out_x = Σ_k δ_k·w_kx
                    chains = factors.paths(self.trace, index, r)
                    names = [join([factor_node(f.symbol) for f in c.factors], DOT) for c in chains]
                    nums = [join([self.q(v) for v in c.at(i)], NUMBER_TIMES) for c in chains]
                    vals: list[Node] = [self.q(c.values[i]) for c in chains]
                    de = [_sum(names), Row.of(THEN, _sum(nums)), Row.of(THEN, _sum(vals))]
                dd: list[Node]  # ∂out/∂net: the registry's f′ in names, then with the numbers
                if not info.elementwise:
                    words = _("{activation} Jacobian\n(diagonal shown)").format(activation=layer.activation)
                    dd = [Text(line) for line in words.split("\n")]
                else:
                    slope = () if info.param is None else (("a", Filled(info.param.symbol, ())),)
                    dd = [
                        Filled(info.derivative, (("out", Sym("out")), ("net", Sym("net")), *slope)),
                        Row.of(THEN, _derivative_numbers(info, lt.out[i, r], lt.net[i, r], self.q, layer.param)),
                    ]
                delta: list[Node]  # δ = ∂E/∂net
                if output and cancels_derivative(layer.activation, s.loss):
                    rule = Row.of(Sym("out"), MINUS, Sym("t"))
                    words = (
                        _("{rule} (the loss cancels f′; targets sum to 1)")
                        if layer.activation == "softmax"
                        else _("{rule} (the loss cancels f′)")
                    )
                    delta = [
                        sentence(words, rule=rule),
                        Row.of(THEN, self.q(lt.out[i, r]), MINUS, self.q(s.targets[i, r])),
                    ]
                else:
                    delta = [
                        Row.of(Deriv("E", "out"), TIMES, Deriv("out", "net")),
                        Row.of(THEN, self.q(lt.dE_dout[i, r]), TIMES, self.q(lt.dout_dnet[i, r])),
                    ]
                if lt.kink[i, r] and output and objective.corner_note():
                    de.append(Text(objective.corner_note()))
                elif lt.kink[i, r]:
                    note = _("(net = 0: not differentiable; {note})").format(note=tr(info.kink_note(layer.param)))
                    dd.append(Text(note))
                self.add(
                    table,
                    *self.sample_label(i),
                    x,
                    Lines(tuple(de)),
                    self.n(lt.dE_dout[i, r]),
                    Lines(tuple(dd)),
                    self.n(lt.dout_dnet[i, r]),
                    Lines(tuple(delta)),
                    self.n(lt.delta[i, r]),
                )
            self.cut_note(table, cut, N_("neurons"))
            yield table

    def section_gradients(self) -> Iterator[Any]:
        params = [p for p in self.s.parameters() if self.layer is None or p.layer == self.layer]
        shown, cut = self.limited(params)
        columns = [(_("parameter"), "name"), (_("chain rule"), "text"), ("∂E/∂θ", "num")]
        if self.s.l2:
            columns[2:2] = [(_("loss term"), "num"), (_("L2 term λ/m·θ"), "num")]
            title = _("Gradients (chain rule, plus the L2 term λ/m·θ for weights, λ = {l2})").format(
                l2=self.n(self.s.l2)
            )
        else:
            title = _("Gradients (chain rule)")
        table = self.table(title, columns)
        for p in shown:
            cells = self.gradient_cells(p)
            if self.s.l2:
                l2 = self.trace.l2_grad(p)
                cells[2:2] = [self.n(self.trace.data_grad(p)), self.n(l2)]
            self.add(table, *cells)
        self.cut_note(table, cut, N_("parameters"))
        yield table

    def gradient_cells(self, p: Parameter) -> list[Cell]:
        # ∂E/∂w5 = ∂E/∂out_o1 × ∂out_o1/∂net_o1 × ∂net_o1/∂w5 (a shared bias: a sum, ∂E/∂b1 = δ_h1 + δ_h2)
        chain = factors.parameter(self.trace, p)
        sep = TIMES if chain.combine == "product" else PLUS
        per_sample = [join([self.q(v) for v in chain.at(i)], sep) for i in self.samples()]
        head = eq(factor_node(chain.target), join([factor_node(f.symbol) for f in chain.factors], sep))
        # (1/m)·Σ_s with the count written (1/2)·Σ_s, or Σ_s
        how: Node = (
            Row.of(Frac(Const("1"), Const(str(self.m)), grouped=True), DOT, SUM_S)
            if self.s.reduction == "mean"
            else SUM_S
        )
        lines: list[Node]
        if self.s.objective.windows > 1:  # each sample's passes add up first
            per = self.trace.sample_grad(p)
            lines = [sentence(_("{head}, through both windows, {sum} over the samples"), head=head, sum=how)]
            lines += [
                Row.of(Space(2), Text(f"{self.sample_label(i)[0]}: "), v) for i, v in zip(self.samples(), per_sample)
            ]
            lines += [
                sentence(_("  sample {k}: x + x_c = {value}"), k=str(k + 1), value=self.q(per[k]))
                for k in range(self.m)
            ]
        elif self.m == 1:
            lines = [head, Row.of(THEN, per_sample[0])]
        else:
            grads = self.trace.sample_grad(p)
            lines = [sentence(_("{head}, {sum} over the samples"), head=head, sum=how)]
            lines += [Row.of(Space(2), Text(f"s{i + 1}: "), v, EQ, self.q(grads[i])) for i, v in enumerate(per_sample)]
        return [p.name, Lines(tuple(lines)), self.n(self.trace.grad(p))]

    def section_updates(self) -> Iterator[Any]:
        params = [p for p in self.s.parameters() if self.layer is None or p.layer == self.layer]
        shown, cut = self.limited(params)
        eta = self.s.learning_rate
        table = self.table(
            _("Updates (θ⁺ = θ − η·∂E/∂θ, η = {eta}; all from the weights before the step)").format(eta=self.n(eta)),
            [(_("parameter"), "name"), ("θ", "num"), ("θ⁺ − θ = −η·∂E/∂θ", "num"), ("θ⁺", "num"), ("", "text")],
        )
        for p in shown:
            frozen = self.trace.frozen(p)
            step = self.trace.change(p)
            note = _("frozen (update_biases: false)") if frozen else ""
            self.add(
                table, f"{p.name}⁺", self.n(self.trace.value(p)), self.n(step), self.n(self.trace.new_value(p)), note
            )
        self.cut_note(table, cut, N_("parameters"))
        yield table

    def section_after(self) -> Iterator[Any]:
        change = self.trace.loss_after - self.trace.loss
        yield Para(
            _("Loss after the update: E_total@1 = {after} (before: {before}; change {change})").format(
                after=self.n(self.trace.loss_after), before=self.n(self.trace.loss), change=self.n(change)
            ),
            "bold",
        )

    def section_verification(self) -> Iterator[Any]:
        if self.verification is None:
            return
        from bptrace.render.verification import verification_blocks

        yield from verification_blocks(self.verification, self)


def _shown_terms(count: int) -> list[int]:
    """Which terms of a long sum are written out: the first few and the last."""
    if count <= MAX_TERMS:
        return list(range(count))
    return list(range(MAX_TERMS - 2)) + [count - 1]


def _sum(terms: Sequence[Node]) -> Row:
    """a + b + c, with long sums summarised (the first terms, then how many more, then the last)."""
    if len(terms) > MAX_TERMS:
        more = Text(_("… ({n} more)").format(n=len(terms) - MAX_TERMS + 1))
        return join([*terms[: MAX_TERMS - 2], more, terms[-1]], PLUS)
    return join(terms, PLUS)


def _over_samples(reduction: str, each: Node) -> Row:
    """E_total from the samples' terms: (1/m)·Σ_s each (the mean) or Σ_s each (the sum)."""
    if reduction == "mean":
        return Row.of(Frac(Const("1"), Const("m"), grouped=True), DOT, SUM_S, Text(" "), each)
    return Row.of(SUM_S, Text(" "), each)


def factor_node(symbol: str) -> Node:
    """A chain-rule factor of engine/factors.py (a vocabulary name, δ_o1 or ∂a/∂b) as a formula tree."""
    top, slash, bottom = symbol.partition("/")
    if slash and top.startswith("∂") and bottom.startswith("∂"):
        return Deriv(top[1:], bottom[1:])
    if symbol.startswith("δ_"):
        return Sym("delta_" + symbol[2:])
    return Sym(symbol)


def _derivative_numbers(f: Activation, out: float, net: float, q: Callable[[float], Num], param: float | None) -> Node:
    """f′ with the numbers in (functions.Activation.derivative); a piecewise f′: which piece applies."""
    if f.pieces is not None:
        alpha: Node = (
            Row.of(Text(" "), Paren(eq(Filled(f.param.symbol, ()), q(f.value(param)))))
            if f.param is not None
            else Row()
        )
        return Row.of(Sym("net"), EQ, q(net), Op(">" if net > 0 else "≤"), Const("0"), alpha)
    holes = (("out", q(out)), ("net", q(net)), ("a", q(f.value(param))), ("times", TIMES))
    return Filled(f.derivative, holes)
