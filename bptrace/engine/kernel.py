"""The scalar training kernel: straight-line Python generated for one scenario, for small networks.

A numpy call costs about a microsecond however small its arrays are, and one step of a 2-2-2 network needs
dozens of them; plain Python floats do the same step in about as much time as two numpy calls. So for small
networks `build` writes the step out as Python source, one line per neuron and per parameter (the shape,
activations, loss, reduction, bias modes, L2 and margin are fixed when the source is generated), compiles it
once with compile()/exec, and runs every epoch inside the generated function. Parameters live in local
variables; no numpy, no lists, no loops over neurons.

The arithmetic mirrors the engine's, operation for operation (engine.trace, network.activate,
network.loss_gradient), so the kernel agrees with engine.step repeated to rounding:

    forward:   net_r = Σ_c w_rc·out_c + b_r,   out_r = f(net_r)   (σ in its stable two-branch form)
    output:    δ_r = ∂E_s/∂out_r · f′(net_r);  softmax: δ_r = out_r·(∂E_s/∂out_r − Σ_i ∂E_s/∂out_i·out_i)
    hidden:    ∂E_s/∂out_c = Σ_r δ_r·w_rc (the weights before the update),   δ_c = ∂E_s/∂out_c · f′(net_c)
    update:    θ⁺ = θ − η·(scale·Σ_s ∂E_s/∂θ + λ/b·θ),   scale = 1/b (reduction mean) or 1 (sum), b the batch
               size; the L2 term λ/b·θ for weights only
    objective: its passes, loss and ∂E_s/∂out are its own source (Objective.kernel_*): the hinge runs two
               passes per sample (x, then x_c); J_s = max(0, h), h = Δ + s(x_c) − s(x); while h > 0,
               ∂J/∂s = −1 and ∂J/∂s_c = +1 and both passes back-propagate; else nothing does.

Parameters travel as one flat list in the order of Scenario.parameters() (layer by layer: weights row by row,
then the biases). `Kernel.source` is the generated text, for reading and debugging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bptrace import functions as network

if TYPE_CHECKING:
    from bptrace.model.scenario import Layer, Scenario

# The generated source grows with the number of parameters (a few lines each), and compile() time with it;
# train.py uses the kernel only for networks well below this size.
MAX_PARAMETERS = 4000
CHUNK = 32  # long sums are written as sums of parenthesised chunks (shallow syntax trees for compile())


# minibatch(params, epochs, history, shuffle, order, batch_size) -> params
_MiniBatch = Callable[[list[float], int, list[float], Callable[[list[int]], None], list[int], int], list[float]]


@dataclass
class Kernel:
    """The compiled functions for one scenario (see `build`)."""

    source: str
    # full(params, epochs, history) -> params: `epochs` full-batch updates; appends E_k before each update
    full: Callable[[list[float], int, list[float]], list[float]]
    # minibatch(params, epochs, history, shuffle, order, batch_size) -> params: per epoch, shuffle(order),
    # update once per consecutive slice of `batch_size` indices, then append the loss over all samples
    # (None when built with minibatch=False: a full-batch run does not compile it)
    minibatch: _MiniBatch | None
    # loss(params) -> E over all samples, as engine.loss_with computes it (batch loss + L2 penalty)
    loss: Callable[[list[float]], float]
    # outputs(params) -> the output layer's out for every forward pass, one row each, in the rows of
    # engine.forward's last layer (the samples; with max_margin then their corrupt windows)
    outputs: Callable[[list[float]], list[list[float]]]


def build(scenario: Scenario, minibatch: bool = True) -> Kernel:
    """Generate, compile and return the scalar kernel for `scenario` (its shape, rules and samples);
    minibatch=False leaves out the mini-batch function (the longest one: a full-batch run never calls it)."""
    source = generate(scenario, minibatch)
    second = scenario.objective.second_rows(scenario.targets, scenario.corrupt)  # targets, or x_c
    data = tuple(
        (tuple(float(v) for v in x), tuple(float(v) for v in t))
        for x, t in zip(scenario.inputs.tolist(), second.tolist())
    )
    namespace: dict[str, Any] = {**network.KERNEL_MATH, "DATA": data}  # what exec defines is untyped
    code = compile(source, f"<bptrace kernel for {scenario.file}>", "exec")
    exec(code, namespace)  # noqa: S102 - our own generated source, built from validated numbers only
    return Kernel(
        source=source,
        full=namespace["full"],
        minibatch=namespace.get("minibatch"),
        loss=namespace["loss"],
        outputs=namespace["outputs"],
    )


# ---------------------------------------------------------------------------------------------------
# Code generation. Variable names: a0_c inputs, t_j targets, wL_r_c / bL_r / bL (shared) parameters,
# nL_r nets, aL_r outs, gL_r = ∂E_s/∂out, dL_r = δ, GwL_r_c / GbL_r / GbL gradient sums over a batch.
# A second pass per sample (the hinge's corrupt window) uses the same names with the suffix c (a0_0c, n1_0c, d2_0c).


class _Writer:
    """Lines of Python with indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def __call__(self, *lines: str) -> None:
        self.lines.extend("    " * self.depth + line for line in lines)

    def indent(self, header: str) -> None:
        self(header)
        self.depth += 1

    def dedent(self, levels: int = 1) -> None:
        self.depth -= levels

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _r(x: float) -> str:
    """A float literal that reads back exactly (repr is the shortest round-tripping form)."""
    return repr(float(x))


def _sum(terms: list[str]) -> str:
    """t1 + t2 + ...; long sums as (chunk) + (chunk) + ... so that compile() never recurses deeply."""
    if not terms:
        return "0.0"
    if len(terms) <= CHUNK:
        return " + ".join(terms)
    return " + ".join(f"({' + '.join(terms[k : k + CHUNK])})" for k in range(0, len(terms), CHUNK))


class _Net:
    """The names and formulas of one scenario's network."""

    def __init__(self, scenario: Scenario) -> None:
        self.s = scenario
        self.layers = scenario.layers
        self.sizes = [len(scenario.input_names)] + [layer.size for layer in scenario.layers]
        self.L = len(scenario.layers)
        self.n_out = scenario.output_layer.size
        self.m = scenario.samples
        self.eta = _r(scenario.learning_rate)
        self.mean = scenario.reduction == "mean"
        self.update_biases = scenario.update_biases
        self.l2 = float(scenario.l2)
        self.objective = scenario.objective
        self.passes = self.objective.kernel_windows()  # each pass's name suffix

    # ---- names ----
    def params(self) -> list[str]:
        """Local names of all parameters, in Scenario.parameters() order."""
        out: list[str] = []
        for layer in self.layers:
            out += self.weight_params(layer) + self.bias_params(layer)
        return out

    @staticmethod
    def weight_params(layer: Layer) -> list[str]:
        rows, cols = layer.weights.shape
        return [f"w{layer.index}_{r}_{c}" for r in range(rows) for c in range(cols)]

    @staticmethod
    def bias_params(layer: Layer) -> list[str]:
        if layer.bias_mode == "shared":
            return [f"b{layer.index}"]
        if layer.bias_mode == "neuron":
            return [f"b{layer.index}_{r}" for r in range(layer.size)]
        return []

    def sample_pattern(self) -> str:
        """The unpacking target for one item of DATA: ((a0_0, a0_1), (t_0, t_1)), or the hinge's (x, x_c)."""

        def tup(names: list[str]) -> str:
            return "(" + ", ".join(names) + ("," if len(names) == 1 else "") + ")"

        xs = [f"a0_{c}" for c in range(self.sizes[0])]
        second = self.objective.kernel_second(self.sizes[0], self.n_out)
        return f"{tup(xs)}, {tup(second)}"

    # ---- forward and loss ----
    def forward(self, x: str = "") -> list[str]:
        """net and out of every layer for one pass (x = '' the sample, 'c' its corrupt window)."""
        lines: list[str] = []
        for layer in self.layers:
            L = layer.index
            lines.append(f"# layer {L} ({layer.activation}): net = Σ w·out + b, out = f(net)")
            for r in range(layer.size):
                net = _sum([f"w{L}_{r}_{c} * a{L - 1}_{c}{x}" for c in range(self.sizes[L - 1])])
                if layer.bias_mode == "shared":
                    net = f"{net} + b{L}"
                elif layer.bias_mode == "neuron":
                    net = f"{net} + b{L}_{r}"
                lines.append(f"n{L}_{r}{x} = {net}")
                if not isinstance(layer.function, network.SoftmaxActivation):
                    lines += layer.function.kernel_forward_lines(f"n{L}_{r}{x}", f"a{L}_{r}{x}", layer.param)
            if isinstance(layer.function, network.SoftmaxActivation):
                nets = [f"n{L}_{r}{x}" for r in range(layer.size)]
                lines += layer.function.kernel_layer_forward(nets, [f"a{L}_{r}{x}" for r in range(layer.size)])
        return lines

    def sample_loss(self) -> str:
        """E_s: the sum of the objective's terms (network.loss_terms' per output; the hinge's max(0, h))."""
        return _sum(self.objective.kernel_sample_terms(self.L, self.n_out))

    def prelude(self) -> list[str]:
        """The objective's lines between the forward passes and the loss (the hinge's h = Δ + s(x_c) − s(x))."""
        return self.objective.kernel_prelude(self.L)

    def penalty(self) -> str:
        """The L2 penalty λ/(2m)·Σ w² over all weights ('' without L2)."""
        if not self.l2:
            return ""
        squares = [f"{w} * {w}" for layer in self.layers for w in self.weight_params(layer)]
        return f" + {_r(self.l2 / (2 * self.m))} * ({_sum(squares)})"

    # ---- backward ----
    def backward(self, x: str = "") -> list[str]:
        """δ of every layer for one pass; ∂E_s/∂out of the outputs first."""
        L = self.L
        lines = ["# ∂E_s/∂out of each output", *self.objective.kernel_output_gradient(L, x, self.n_out)]
        for layer in reversed(self.layers):
            k = layer.index
            if k < L:
                above = self.layers[k]
                lines.append(f"# layer {k}: ∂E_s/∂out_c = Σ_r δ_r·w_rc through layer {k + 1}'s old weights")
                for c in range(layer.size):
                    lines.append(
                        f"g{k}_{c}{x} = " + _sum([f"d{k + 1}_{r}{x} * w{k + 1}_{r}_{c}" for r in range(above.size)])
                    )
            if isinstance(layer.function, network.SoftmaxActivation):
                # δ_r = Σ_i ∂E/∂out_i · out_i([i = r] − out_r) = out_r(∂E/∂out_r − Σ_i ∂E/∂out_i·out_i)
                lines.append("sg = " + _sum([f"g{k}_{i}{x} * a{k}_{i}{x}" for i in range(layer.size)]))
                lines += [f"d{k}_{r}{x} = a{k}_{r}{x} * (g{k}_{r}{x} - sg)" for r in range(layer.size)]
            else:
                for r in range(layer.size):
                    fp = layer.function.kernel_prime_expr(f"n{k}_{r}{x}", f"a{k}_{r}{x}", layer.param)
                    d = f"g{k}_{r}{x}" + (f" * {fp}" if fp else "")
                    if k == L and self.objective.cancels(layer.activation):
                        # as engine.step: δ = out − t where f′ is saturated (∂E/∂out no longer cancels it)
                        sat = layer.function.kernel_saturated_expr(f"n{k}_{r}{x}")
                        d = f"(a{k}_{r} - t_{r}) if {sat} else {d}"
                    lines.append(f"d{k}_{r}{x} = {d}")
        return lines

    def sample_gradients(self) -> list[tuple[str, str, bool]]:
        """(parameter, ∂E_s/∂parameter, is a weight) for the trained parameters; a pass's δ_r·out_c, δ_r,
        or Σ_r δ_r for a shared bias, summed over the passes (the hinge's two)."""
        out: list[tuple[str, str, bool]] = []
        for layer in self.layers:
            L = layer.index
            rows, cols = layer.weights.shape
            out += [
                (f"w{L}_{r}_{c}", _sum([f"d{L}_{r}{x} * a{L - 1}_{c}{x}" for x in self.passes]), True)
                for r in range(rows)
                for c in range(cols)
            ]
            if self.update_biases:
                if layer.bias_mode == "shared":
                    out.append((f"b{L}", _sum([f"d{L}_{r}{x}" for x in self.passes for r in range(layer.size)]), False))
                elif layer.bias_mode == "neuron":
                    out += [
                        (f"b{L}_{r}", _sum([f"d{L}_{r}{x}" for x in self.passes]), False) for r in range(layer.size)
                    ]
        return out

    # ---- one sample ----
    def sample(self, w: _Writer, *, loss: str | None, consume: str) -> None:
        """Forward, the loss (appended to `loss`: 'E += ' or 'append(', or none), backward and `consume`
        ('direct': θ −= η·(∂E_s/∂θ + λθ), one sample is the whole batch; 'accumulate': G += ∂E_s/∂θ)."""
        for x in self.passes:
            w(*self.forward(x))
        w(*self.prelude())
        if loss == "E += ":
            w(f"E += {self.sample_loss()}")
        elif loss == "append(":
            w(f"append({self.sample_loss()}{self.penalty()})")
        guard = self.objective.kernel_guard()
        if guard is not None:
            w.indent(f"if {guard}:   # the sample back-propagates (the hinge: its margin is violated)")
        for x in self.passes:
            w(*self.backward(x))
        grads = self.sample_gradients()
        if consume == "direct":
            w("# θ⁺ = θ − η·∂E/∂θ, after every gradient is known (hidden δ used the old weights)")
            for p, g, is_weight in grads:
                l2 = f" + {_r(self.l2)} * {p}" if self.l2 and is_weight else ""
                w(f"{p} = {p} - {self.eta} * (({g}){l2})")
        else:
            w(*[f"G{p} += {g}" for p, g, _ in grads])
        if guard is not None:
            w.dedent()
        if guard is not None and consume == "direct" and self.l2:
            # the L2 part of the gradient does not depend on the objective: λ·θ also when it sends none
            w.indent("else:")
            w(*[f"{p} = {p} - {self.eta} * ({_r(self.l2)} * {p})" for p, _, is_weight in grads if is_weight])
            w.dedent()

    def update(self, w: _Writer, scale: str, l2: str) -> None:
        """θ⁺ = θ − η·(scale·G + λ/b·θ), from the accumulated sums G (scale and λ/b as expressions)."""
        w(f"# θ⁺ = θ − η·(scale·Σ_s ∂E_s/∂θ{' + λ/b·θ' if self.l2 else ''})")
        for p, _, is_weight in self.sample_gradients():
            if self.l2 and is_weight:
                w(f"{p} = {p} - {self.eta} * ({scale} * G{p} + {l2} * {p})")
            else:
                w(f"{p} = {p} - lr * G{p}")


def generate(scenario: Scenario, minibatch: bool = True) -> str:
    """The kernel's Python source for `scenario`: four functions, full, minibatch (unless minibatch=False),
    loss and outputs."""
    net = _Net(scenario)
    params = net.params()
    unpack = f"{', '.join(params)}{',' if len(params) == 1 else ''} = p"
    pack = f"return [{', '.join(params)}]"
    accumulators = [f"G{p} = 0.0" for p, _, _ in net.sample_gradients()]
    m = net.m
    # engine.batch_loss: per_sample.mean() or .sum(); engine.penalty: λ/(2m)·Σ W²
    reduce_all = (f"E / {m}" if net.mean else "E") + net.penalty()
    # math functions as default arguments: local variables, faster to reach than globals
    fast = ", ".join(f"{name}={name}" for name in network.KERNEL_MATH)

    w = _Writer()
    w(f'"""Generated by bptrace.engine.kernel for {scenario.file!r}: do not edit."""', "")

    # ---- full batch: one update per epoch over all samples ----
    w.indent(f"def full(p, epochs, history, {fast}):")
    w(unpack, "append = history.append")
    if m == 1:
        # one sample: its values are loop constants, and ∂E/∂θ is the sample's own (scale 1, mean or sum)
        w(f"{net.sample_pattern()} = DATA[0]")
        w.indent("for _ in range(epochs):")
        net.sample(w, loss="append(", consume="direct")
        w.dedent()
    else:
        scale = 1.0 / m if net.mean else 1.0
        w(f"lr = {_r(scenario.learning_rate * scale)}")  # η·scale
        w.indent("for _ in range(epochs):")
        w(*accumulators, "E = 0.0")
        w.indent(f"for {net.sample_pattern()} in DATA:")
        net.sample(w, loss="E += ", consume="accumulate")
        w.dedent()
        w(f"append({reduce_all})")
        net.update(w, _r(scale), _r(net.l2 / m))
        w.dedent()
    w(pack, "")
    w.dedent()

    # ---- mini-batches: shuffle, then one update per slice of the shuffled order ----
    if minibatch:
        w.indent(f"def minibatch(p, epochs, history, shuffle, order, batch_size, {fast}):")
        w(unpack, "append = history.append")
        w.indent("for _ in range(epochs):")
        w("shuffle(order)")
        w.indent("if batch_size == 1:")
        w.indent("for s in order:")
        w(f"{net.sample_pattern()} = DATA[s]")
        net.sample(w, loss=None, consume="direct")
        w.dedent(2)
        w.indent("else:")
        w.indent(f"for start in range(0, {m}, batch_size):")
        w("batch = order[start:start + batch_size]", *accumulators)
        w.indent("for s in batch:")
        w(f"{net.sample_pattern()} = DATA[s]")
        net.sample(w, loss=None, consume="accumulate")
        w.dedent()
        w("size = len(batch)")
        w("scale = 1.0 / size" if net.mean else "scale = 1.0", f"lr = {net.eta} * scale")
        net.update(w, "scale", f"({_r(net.l2)} / size)")
        w.dedent(2)
        w("# the loss over all samples after this epoch")
        _total_loss(w, net)
        w(f"append({reduce_all})")
        w.dedent()
        w(pack, "")
        w.dedent()

    # ---- the loss alone ----
    w.indent(f"def loss(p, {fast}):")
    w(unpack)
    _total_loss(w, net)
    w(f"return {reduce_all}")
    w.dedent()

    # ---- the outputs alone: one row per forward pass, each pass's rows in turn (the samples', then the hinge's
    # corrupt windows'), as engine.forward stacks them ----
    w.indent(f"def outputs(p, {fast}):")
    w(unpack, *(f"rows{i} = []" for i in range(len(net.passes))))
    w.indent(f"for {net.sample_pattern()} in DATA:")
    for i, x in enumerate(net.passes):
        w(*net.forward(x))
        w(f"rows{i}.append([" + ", ".join(f"a{net.L}_{j}{x}" for j in range(net.n_out)) + "])")
    w.dedent()
    w("return " + " + ".join(f"rows{i}" for i in range(len(net.passes))))
    w.dedent()
    return w.text()


def _total_loss(w: _Writer, net: _Net) -> None:
    """E = Σ over DATA of each sample's loss: a forward pass per window, the hinge if any, the loss."""
    w("E = 0.0")
    w.indent(f"for {net.sample_pattern()} in DATA:")
    for x in net.passes:
        w(*net.forward(x))
    w(*net.prelude(), f"E += {net.sample_loss()}")
    w.dedent()
