"""Trace -> rich tables, in the order of a textbook derivation. Displays only; computes no mathematics.

Every formula is written twice: in names (w5·out_h1) and with the numbers substituted, so that a
learner can follow each step by hand. Numbers are never cut or wrapped (numeric columns do not wrap).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from ..fmt import DEFAULT_DIGITS, num, to_ascii
from ..network import ACTIVATION_INFO, LOSS_FORMULA, LOSS_TERM, cancels_derivative

if TYPE_CHECKING:
    from ..scenario import Layer, Parameter
    from ..trace import Trace

MAX_TERMS = 6   # terms of a sum written out before the rest is summarised
DEFAULT_ROWS = 60


class TraceView:
    """A rich renderable of a whole trace: print it with a Console, or show it in Jupyter."""

    def __init__(self, trace: Trace, digits: int = DEFAULT_DIGITS, ascii: bool = False,
                 layer: int | None = None, rows: int | None = DEFAULT_ROWS, verification: Any = None,
                 sections: Iterable[str] | None = None) -> None:
        self.trace = trace
        self.digits = digits
        self.ascii = ascii
        self.layer = layer
        self.rows = rows
        self.verification = verification
        self.sections = list(sections) if sections else None
        self.s = trace.scenario
        self.m = trace.scenario.samples

    # ---- helpers ----
    def t(self, text: str) -> str:
        return to_ascii(text) if self.ascii else text

    def n(self, x: float) -> str:
        return num(x, self.digits)

    def p(self, x: float) -> str:
        """A number inside a formula: negative numbers in parentheses."""
        text = self.n(x)
        return f"({text})" if text.startswith("-") else text

    def table(self, title: str, columns: list[tuple[str, str]]) -> Table:
        """A table whose 'num' columns never wrap and whose 'text' columns fold when space is short."""
        table = Table(title=Text(self.t(title), style="bold"), title_justify="left",
                      box=box.ASCII if self.ascii else box.SIMPLE_HEAVY, pad_edge=False)
        for header, kind in columns:
            if kind == "num":
                table.add_column(self.t(header), justify="right", no_wrap=True, overflow="ignore")
            elif kind == "name":
                table.add_column(self.t(header), no_wrap=True, style="cyan")
            else:
                table.add_column(self.t(header), overflow="fold")
        return table

    def add(self, table: Table, *cells: str) -> None:
        """Add a row of plain text (never read as rich markup: formulas contain brackets)."""
        table.add_row(*(Text(self.t(c)) for c in cells))

    def limited(self, items: list[Any]) -> tuple[list[Any], int]:
        if self.rows is None or len(items) <= self.rows:
            return items, 0
        return items[: self.rows], len(items) - self.rows

    def cut_note(self, table: Table, cut: int, what: str) -> None:
        if cut:
            table.caption = Text(self.t(f"… {cut} more {what} not shown (use --rows N, --layer N or --format json)"))

    def samples(self) -> list[int]:
        return list(range(self.m))

    def sample_label(self, s: int) -> list[str]:
        return [str(s + 1)] if self.m > 1 else []

    def sample_col(self) -> list[tuple[str, str]]:
        return [("sample", "num")] if self.m > 1 else []

    def layers_shown(self) -> list[int]:
        if self.layer is not None:
            return [self.layer]
        return [layer.index for layer in self.s.layers]

    def source_name(self, layer_index: int, col: int) -> str:
        names = self.s.layer_names(layer_index - 1)
        return names[col] if layer_index == 1 else "out_" + names[col]

    def bias_name_for(self, layer: Layer, row: int) -> str | None:
        if layer.bias_mode == "shared":
            return layer.bias_names[0]
        if layer.bias_mode == "neuron":
            return layer.bias_names[row]
        return None

    def suffix(self, s: int) -> str:
        return f":{s + 1}" if self.m > 1 else ""

    # ---- rendering ----
    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wanted = self.sections or ["header", "forward", "loss", "backward", "gradients", "updates", "after",
                                   "verification"]
        for name in wanted:
            yield from getattr(self, f"render_{name}")()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter: rich's own display of the tables."""
        console = Console(record=True, width=140, force_jupyter=False, file=_Null())
        console.print(self)
        return {"text/plain": console.export_text(), "text/html": console.export_html(inline_styles=True)}

    def render_header(self) -> Iterator[Any]:
        s = self.s
        parts = [f"{len(s.input_names)} inputs"]
        parts += [f"{layer.size} {layer.activation}" for layer in s.layers]
        lines = [Text(self.t(s.title), style="bold")]
        if s.source_note:
            lines.append(Text(self.t(s.source_note), style="dim"))
        lines.append(Text(self.t(
            f"network {' → '.join(parts)}; loss {s.loss}; η = {self.n(s.learning_rate)}; "
            f"{self.m} sample{'s' if self.m > 1 else ''}")))
        biases = []
        for layer in s.layers:
            if layer.bias_mode == "shared":
                biases.append(f"{layer.bias_names[0]} shared by layer {layer.index}")
            elif layer.bias_mode == "neuron":
                biases.append(f"one per neuron in layer {layer.index}")
        bias_text = "; ".join(biases) if biases else "none"
        state = "updated" if s.update_biases else "not updated (update_biases: false)"
        lines.append(Text(self.t(f"biases: {bias_text}" + (f"; {state}" if biases else ""))))
        if self.m > 1:
            how = "(1/m)·Σ_s E_s, the mean" if s.reduction == "mean" else "Σ_s E_s, the sum"
            lines.append(Text(self.t(
                f"E_total = {how} over the m = {self.m} samples; per-sample quantities carry the suffix :s; "
                f"gradients are of E_total, so they are the {s.reduction} of the per-sample gradients")))
        if self.trace.through_updated_weights:
            lines.append(Text(self.t("NOTE: hidden gradients use the already-updated weights of the layer "
                                     "above; this is a mistake, shown for comparison"), style="bold red"))
        yield Group(*lines)
        yield Text("")

    def render_forward(self) -> Iterator[Any]:
        for index in self.layers_shown():
            layer = self.s.layers[index - 1]
            lt = self.trace.layers[index - 1]
            info = ACTIVATION_INFO[layer.activation]
            table = self.table(f"Forward pass, layer {index} ({layer.activation})",
                               self.sample_col() + [("neuron", "name"), ("net = Σ w·out + b", "text"),
                                                    ("net", "num"), ("out = f(net)", "text"), ("out", "num")])
            cells = [(s, r) for s in self.samples() for r in range(layer.size)]
            shown, cut = self.limited(cells)
            prev = self.trace.activations(index - 1)
            for s, r in shown:
                x = layer.neurons[r]
                names = [f"{layer.weight_name(r, c)}·{self.source_name(index, c)}" for c in range(layer.weights.shape[1])]
                values = [f"{self.p(layer.weights[r, c])}×{self.p(prev[s, c])}" for c in range(layer.weights.shape[1])]
                b = self.bias_name_for(layer, r)
                if b is not None:
                    names.append(b)
                    values.append(self.p(layer.bias_vector()[r]))
                formula = f"{_sum(names)}\n= {_sum(values)}"
                out_formula = f"{info.symbol}({self.n(lt.net[s, r])})" if layer.activation != "softmax" else \
                    f"e^net_{x} / Σ e^net"
                self.add(table, *self.sample_label(s), x, formula, self.n(lt.net[s, r]), out_formula,
                         self.n(lt.out[s, r]))
            self.cut_note(table, cut, "neurons")
            yield table

    def render_loss(self) -> Iterator[Any]:
        s = self.s
        out_layer = s.output_layer
        term, _ = LOSS_TERM[s.loss]
        table = self.table(f"Loss ({s.loss}: E_s = Σ {term})",
                           self.sample_col() + [("term", "name"), ("formula", "text"), ("value", "num")])
        cells = [(i, j) for i in self.samples() for j in range(out_layer.size)]
        shown, cut = self.limited(cells)
        lt = self.trace.layers[-1]
        n_out = out_layer.size
        for i, j in shown:
            o = out_layer.neurons[j]
            tv, ov = s.targets[i, j], lt.out[i, j]
            template = LOSS_FORMULA[s.loss][0]
            formula = (template.format(t=f"t_{o}", o=f"out_{o}", n=n_out) + "\n= "
                       + template.format(t=self.p(tv), o=self.p(ov), n=n_out))
            self.add(table, *self.sample_label(i), f"E_{o}", formula, self.n(self.trace.loss_terms[i, j]))
        self.cut_note(table, cut, "terms")
        for i in self.samples():
            names = [f"E_{o}" for o in out_layer.neurons]
            label = "E_total" if self.m == 1 else f"E_total:{i + 1}"
            self.add(table, *self.sample_label(i), label,
                     f"{_sum(names)}", self.n(self.trace.sample_losses[i]))
        if self.m > 1:
            how = "(1/m)·Σ_s E_total:s" if s.reduction == "mean" else "Σ_s E_total:s"
            self.add(table, "", "E_total", how, self.n(self.trace.loss))
        yield table

    def render_backward(self) -> Iterator[Any]:
        s = self.s
        L = len(s.layers)
        for index in reversed(self.layers_shown()):
            layer = s.layers[index - 1]
            lt = self.trace.layers[index - 1]
            info = ACTIVATION_INFO[layer.activation]
            output = index == L
            title = "Backward pass, output layer" if output else f"Backward pass, hidden layer {index}"
            table = self.table(f"{title} ({layer.activation})",
                               self.sample_col() + [("neuron", "name"), ("∂E/∂out", "text"), ("value", "num"),
                                                    ("∂out/∂net", "text"), ("value", "num"),
                                                    ("δ = ∂E/∂net", "text"), ("δ", "num")])
            cells = [(i, r) for i in self.samples() for r in range(layer.size)]
            shown, cut = self.limited(cells)
            for i, r in shown:
                x = layer.neurons[r]
                if output:
                    template = LOSS_FORMULA[s.loss][1]
                    de = (template.format(t=f"t_{x}", o=f"out_{x}", n=layer.size) + "\n= "
                          + template.format(t=self.p(s.targets[i, r]), o=self.p(lt.out[i, r]), n=layer.size))
                else:
                    above = s.layers[index]
                    terms = self.trace.path_terms(index, r)[i]
                    w_used = (self.trace.layers[index].new_weights if self.trace.through_updated_weights
                              else above.weights)
                    names = [f"δ_{k}·{above.weight_name(q, r)}" for q, k in enumerate(above.neurons)]
                    nums = [f"{self.p(self.trace.layers[index].delta[i, q])}×{self.p(w_used[q, r])}"
                            for q in range(above.size)]
                    vals = [self.p(v) for v in terms]
                    de = f"{_sum(names)}\n= {_sum(nums)}\n= {_sum(vals)}"
                if layer.activation == "softmax":
                    dd = "softmax Jacobian\n(diagonal shown)"
                else:
                    dd = info.derivative + "\n= " + _derivative_numbers(layer.activation, lt.out[i, r], lt.net[i, r],
                                                                       self.p, layer.slope)
                if output and cancels_derivative(layer.activation, s.loss):
                    delta = ("out − t (the loss cancels f′"
                             + ("; targets sum to 1" if layer.activation == "softmax" else "") + ")"
                             + f"\n= {self.p(lt.out[i, r])} − {self.p(s.targets[i, r])}")
                else:
                    delta = f"∂E/∂out × ∂out/∂net\n= {self.p(lt.dE_dout[i, r])} × {self.p(lt.dout_dnet[i, r])}"
                if lt.kink[i, r]:
                    dd += f"\n(net = 0: not differentiable; {layer.activation}′(0) = {self.n(lt.dout_dnet[i, r])} by convention)"
                self.add(table, *self.sample_label(i), x, de, self.n(lt.dE_dout[i, r]), dd,
                         self.n(lt.dout_dnet[i, r]), delta, self.n(lt.delta[i, r]))
            self.cut_note(table, cut, "neurons")
            yield table

    def factor_names(self, p: Parameter) -> tuple[list[str], str]:
        """The chain-rule factors of ∂E/∂θ in names, and the last factor ∂net/∂θ."""
        layer = self.s.layers[p.layer - 1]
        if p.kind == "bias" and p.row is None:
            return [f"δ_{x}" for x in layer.neurons], "1"
        x = layer.neurons[p.row or 0]
        last = f"∂net_{x}/∂{p.name}"
        if layer.activation == "softmax" or (p.layer == len(self.s.layers)
                                              and cancels_derivative(layer.activation, self.s.loss)):
            return [f"δ_{x}", last], last
        return [f"∂E/∂out_{x}", f"∂out_{x}/∂net_{x}", last], last

    def render_gradients(self) -> Iterator[Any]:
        params = [p for p in self.s.parameters() if self.layer is None or p.layer == self.layer]
        shown, cut = self.limited(params)
        table = self.table("Gradients (chain rule)", [("parameter", "name"), ("∂E/∂θ", "text"), ("∂E/∂θ", "num")])
        for p in shown:
            self.add(table, *self.gradient_cells(p))
        self.cut_note(table, cut, "parameters")
        yield table

    def gradient_cells(self, p: Parameter) -> list[str]:
        layer = self.s.layers[p.layer - 1]
        lt = self.trace.layers[p.layer - 1]
        factors, _ = self.factor_names(p)
        per_sample = []
        for i in self.samples():
            if p.kind == "bias" and p.row is None:
                per_sample.append(_sum([self.p(v) for v in lt.delta[i]]))
                continue
            r = p.row or 0
            last = 1.0 if p.kind == "bias" else self.trace.activations(p.layer - 1)[i, p.col]
            if len(factors) == 2:
                values = [lt.delta[i, r], last]
            else:
                values = [lt.dE_dout[i, r], lt.dout_dnet[i, r], last]
            per_sample.append(" × ".join(self.p(v) for v in values))
        head = f"∂E/∂{p.name} = " + (" + ".join(factors) if p.kind == "bias" and p.row is None
                                     else " × ".join(factors))
        if self.m == 1:
            body = f"{head}\n= {per_sample[0]}"
        else:
            how = f"(1/{self.m})·Σ_s" if self.s.reduction == "mean" else "Σ_s"
            lines = [f"  s{i + 1}: {v} = {self.p(self.trace.sample_grad(p)[i])}" for i, v in enumerate(per_sample)]
            body = f"{head}, {how} over the samples\n" + "\n".join(lines)
        del layer
        return [p.name, body, self.n(self.trace.grad(p))]

    def render_updates(self) -> Iterator[Any]:
        params = [p for p in self.s.parameters() if self.layer is None or p.layer == self.layer]
        shown, cut = self.limited(params)
        eta = self.s.learning_rate
        table = self.table(f"Updates (θ⁺ = θ − η·∂E/∂θ, η = {self.n(eta)}; all from the weights before the step)",
                           [("parameter", "name"), ("θ", "num"), ("−η·∂E/∂θ", "num"), ("θ⁺", "num"), ("", "text")])
        for p in shown:
            frozen = self.trace.frozen(p)
            step = 0.0 if frozen else -eta * self.trace.grad(p)
            note = "frozen (update_biases: false)" if frozen else ""
            self.add(table, f"{p.name}⁺", self.n(self.trace.value(p)), self.n(step), self.n(self.trace.new_value(p)), note)
        self.cut_note(table, cut, "parameters")
        yield table

    def render_after(self) -> Iterator[Any]:
        change = self.trace.loss_after - self.trace.loss
        yield Text(self.t(f"Loss after the update: E_total@1 = {self.n(self.trace.loss_after)} "
                          f"(before: {self.n(self.trace.loss)}; change {self.n(change)})"), style="bold")
        yield Text("")

    def render_verification(self) -> Iterator[Any]:
        if self.verification is None:
            return
        from .verification import verification_table

        yield from verification_table(self.verification, self)


class _Null:
    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def _sum(terms: list[str]) -> str:
    """a + b + c, with long sums summarised (the first terms, then how many more)."""
    if len(terms) > MAX_TERMS:
        return " + ".join(terms[: MAX_TERMS - 2]) + f" + … ({len(terms) - MAX_TERMS + 1} more) + " + terms[-1]
    return " + ".join(terms)


def _derivative_numbers(activation: str, out: float, net: float, p: Any, slope: float) -> str:
    if activation in ("sigmoid", "softmax"):
        return f"{p(out)} × (1 − {p(out)})"
    if activation == "tanh":
        return f"1 − {p(out)}²"
    if activation == "relu":
        return f"net = {p(net)} {'>' if net > 0 else '≤'} 0"
    if activation == "leaky_relu":
        return f"net = {p(net)} {'>' if net > 0 else '≤'} 0 (α = {p(slope)})"
    return "1"
