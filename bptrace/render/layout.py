"""Trace -> format-neutral blocks (paragraphs and tables of text), in the order of a textbook derivation.

Every formula is written twice: in names (w5·out_h1) and with the numbers substituted, so that a
learner can follow each step by hand. The blocks are plain data; terminal.py, markdown.py, html.py and
latex.py only display them. Nothing here computes mathematics: every number comes from the Trace.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from bptrace import functions
from bptrace.engine import factors
from bptrace.fmt import DEFAULT_DIGITS, num
from bptrace.functions import cancels_derivative
from bptrace.i18n import N_, _, ngettext
from bptrace.message import tr
from bptrace.render.blocks import DEFAULT_ROWS, Block, Column, Grid, Para

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

    def table(self, title: str, columns: list[tuple[str, str]]) -> Grid:
        return Grid(title, [Column(header, kind) for header, kind in columns])

    def add(self, table: Grid, *cells: str, style: str = "") -> None:
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
                names = [f"{layer.weight_name(r, c)}·{self.s.source_name(index, c)}" for c in cols]
                values = [f"{self.p(layer.weights[r, c])}×{self.p(prev[s, c])}" for c in cols]
                if len(cols) < layer.weights.shape[1]:
                    names.insert(-1, "…")
                    values.insert(-1, _("… ({n} more terms)").format(n=layer.weights.shape[1] - len(cols)))
                b = layer.bias_name(r)
                if b is not None:
                    names.append(b)
                    values.append(self.p(layer.bias_vector()[r]))
                formula = f"{_sum(names)}\n= {_sum(values)}"
                out_formula = (
                    f"{info.symbol.unicode}({self.n(lt.net[s, r])})" if info.elementwise else f"e^net_{x} / Σ e^net"
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
            template = functions.loss(s.loss).term
            formula = (
                template.fill(t=f"t_{o}", o=f"out_{o}", n=str(n_out))
                + "\n= "
                + template.fill(t=self.p(tv), o=self.p(ov), n=str(n_out))
            )
            self.add(table, *self.sample_label(i), f"E_{o}", formula, self.n(self.trace.loss_terms[i, j]))
        self.cut_note(table, cut, N_("terms"))
        for i in self.samples():
            names = [f"E_{o}" for o in out_layer.neurons]
            label = "E_total" if self.m == 1 else f"E_total:{i + 1}"
            self.add(table, *self.sample_label(i), label, f"{_sum(names)}", self.n(self.trace.sample_losses[i]))
        how = "(1/m)·Σ_s E_total:s" if s.reduction == "mean" else "Σ_s E_total:s"
        if s.l2:
            data_term = self.trace.data_loss
            self.add(
                table,
                *([""] if self.m > 1 else []),
                _("L2 penalty"),
                _("λ/(2m)·Σ W² = {l2}/(2×{m})·Σ W² (every weight, no bias)").format(l2=self.p(s.l2), m=self.m),
                self.n(self.trace.penalty),
            )
            self.add(
                table,
                *([""] if self.m > 1 else []),
                "E_total",
                _("{data} + L2 penalty = {loss} + {penalty}").format(
                    data=how if self.m > 1 else "E_total:1",
                    loss=self.p(data_term),
                    penalty=self.p(self.trace.penalty),
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
                f"max(0, {self.p(s.margin)} + {self.p(corrupt)} − {self.p(score)})",
                self.n(j),
                note,
                style="dim" if met else "",
            )
        self.cut_note(table, cut, N_("samples"))
        if self.m > 1 or s.l2:
            how = "(1/m)·Σ_s J_s" if s.reduction == "mean" else "Σ_s J_s"
            if s.l2:
                how = _("{sum} + L2 penalty {penalty}").format(sum=how, penalty=self.p(self.trace.penalty))
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
                if output and objective.scores:
                    de = objective.output_gradient_note(i, float(lt.dE_dout[i, r]), bool(lt.kink[i, r]))
                elif output:
                    template = functions.loss(s.loss).gradient
                    de = (
                        template.fill(t=f"t_{x}", o=f"out_{x}", n=str(layer.size))
                        + "\n= "
                        + template.fill(t=self.p(s.targets[i, r]), o=self.p(lt.out[i, r]), n=str(layer.size))
                    )
                else:
                    chains = factors.paths(self.trace, index, r)
                    names = ["·".join(f.symbol for f in c.factors) for c in chains]
                    nums = ["×".join(self.p(v) for v in c.at(i)) for c in chains]
                    vals = [self.p(c.values[i]) for c in chains]
                    de = f"{_sum(names)}\n= {_sum(nums)}\n= {_sum(vals)}"
                if not info.elementwise:
                    dd = _("{activation} Jacobian\n(diagonal shown)").format(activation=layer.activation)
                else:
                    dd = (
                        info.derivative.fill(out="out", net="net", a=info.param_symbol())
                        + "\n= "
                        + _derivative_numbers(info, lt.out[i, r], lt.net[i, r], self.p, layer.param)
                    )
                if output and cancels_derivative(layer.activation, s.loss):
                    delta = (
                        _("out − t (the loss cancels f′; targets sum to 1)")
                        if layer.activation == "softmax"
                        else _("out − t (the loss cancels f′)")
                    ) + f"\n= {self.p(lt.out[i, r])} − {self.p(s.targets[i, r])}"
                else:
                    delta = f"∂E/∂out × ∂out/∂net\n= {self.p(lt.dE_dout[i, r])} × {self.p(lt.dout_dnet[i, r])}"
                if lt.kink[i, r] and output and objective.corner_note():
                    de += "\n" + objective.corner_note()
                elif lt.kink[i, r]:
                    dd += "\n" + _("(net = 0: not differentiable; {note})").format(note=tr(info.kink_note(layer.param)))
                self.add(
                    table,
                    *self.sample_label(i),
                    x,
                    de,
                    self.n(lt.dE_dout[i, r]),
                    dd,
                    self.n(lt.dout_dnet[i, r]),
                    delta,
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

    def gradient_cells(self, p: Parameter) -> list[str]:
        chain = factors.parameter(self.trace, p)
        sep = chain.operator
        per_sample = [sep.join(self.p(v) for v in chain.at(i)) for i in self.samples()]
        head = f"{chain.target} = {chain.formula()}"
        if self.s.objective.windows > 1:  # each sample's passes add up first
            how = f"(1/{self.m})·Σ_s" if self.s.reduction == "mean" else "Σ_s"
            per = self.trace.sample_grad(p)
            lines = [f"  {self.sample_label(i)[0]}: {v}" for i, v in zip(self.samples(), per_sample)]
            lines += [_("  sample {k}: x + x_c = {value}").format(k=k + 1, value=self.p(per[k])) for k in range(self.m)]
            body = _("{head}, through both windows, {sum} over the samples").format(head=head, sum=how) + "\n"
            body += "\n".join(lines)
        elif self.m == 1:
            body = f"{head}\n= {per_sample[0]}"
        else:
            how = f"(1/{self.m})·Σ_s" if self.s.reduction == "mean" else "Σ_s"
            lines = [f"  s{i + 1}: {v} = {self.p(self.trace.sample_grad(p)[i])}" for i, v in enumerate(per_sample)]
            body = _("{head}, {sum} over the samples").format(head=head, sum=how) + "\n" + "\n".join(lines)
        return [p.name, body, self.n(self.trace.grad(p))]

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


def _sum(terms: list[str]) -> str:
    """a + b + c, with long sums summarised (the first terms, then how many more)."""
    if len(terms) > MAX_TERMS:
        more = _("… ({n} more)").format(n=len(terms) - MAX_TERMS + 1)
        return " + ".join(terms[: MAX_TERMS - 2]) + f" + {more} + " + terms[-1]
    return " + ".join(terms)


def _derivative_numbers(f: Activation, out: float, net: float, p: Any, param: float | None) -> str:
    """f′ with the numbers in (functions.Activation.derivative); a piecewise f′: which piece applies."""
    if f.pieces is not None:
        alpha = f" ({f.param.symbol.unicode} = {p(f.value(param))})" if f.param is not None else ""
        return f"net = {p(net)} {'>' if net > 0 else '≤'} 0{alpha}"
    return f.derivative.fill(out=p(out), net=p(net), a=p(f.value(param)), times=" × ")
