"""One training step of a layer stack (kind: layers), written out: every value as a sum of named products.

The forward pass runs the layers in order over the whole batch (numpy, explicit loops: the sizes are
small enough to trace by hand); the backward pass runs them in reverse. Every quantity is a `Line`: its
canonical name (docs/quantities.md, "Layer stacks"), its value, and the terms it is the sum of, each a
product of named factors with their values. The renderers print those; they compute nothing.

Convolution is cross-correlation, as in every deep-learning library:
    a[o, i, j] = Σ_c Σ_r Σ_q x_pad[c, i·S + r, j·S + q] · K[o, c, r, q] + b[o]
so ∂E/∂K[o, c, r, q] = Σ_samples Σ_(i,j) ∂E/∂a[o, i, j] · x_pad[c, i·S + r, j·S + q] (the input correlated with
the upstream gradient), and ∂E/∂x is the full convolution of the upstream gradient with the kernel flipped
by 180°. Every gradient is of the batch loss E_total (the mean of the samples' losses, or their sum with
`reduction: sum`); the `:k` suffix says which sample's value a gradient is taken at.

`mistake` computes the same step the way a misconception does (bptrace.layers.grading names them):
"convolve" slides the flipped kernel in the forward pass, "unflipped" leaves the kernel unflipped in the
input gradient, "no_variance_path" leaves out batch norm's path through σ², "avg_like_max" routes average
pooling's gradient like max pooling's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bptrace import functions
from bptrace.formula import (
    DOT,
    MINUS,
    PLUS,
    Apply,
    Const,
    Deriv,
    Filled,
    Fn,
    Frac,
    Name,
    Node,
    Op,
    Paren,
    Row,
    SumOver,
    Sym,
    Text,
    ascii,
    eq,
)
from bptrace.i18n import N_
from bptrace.message import Message

if TYPE_CHECKING:
    from bptrace.layers.model import Layer, LayersScenario

MISTAKES = ("convolve", "unflipped", "no_variance_path", "avg_like_max")


@dataclass(frozen=True)
class Term:
    """coef · Π factors; a factor is (name, value). `label` names a path (batch norm's 'through x̂')."""

    factors: tuple[tuple[str, float], ...]
    coef: float = 1.0
    label: str = ""

    @property
    def value(self) -> float:
        v = self.coef
        for _name, x in self.factors:
            v *= x
        return v


@dataclass(frozen=True)
class Line:
    """One quantity: name = Σ terms (+ const), or = function(arg) when `apply` is set; its value."""

    name: str
    value: float
    terms: tuple[Term, ...] = ()
    const: tuple[str, float] | None = None  # an added bias or β
    apply: tuple[str, str, float] | None = None  # (function, argument name, argument value): a = relu(z)
    note: str = ""  # a Message: which input the max chose, a kink's convention, padding left out
    compact: tuple[str, float] | None = None  # the textbook's closed form and its value, shown beside
    compact_formula: Node | None = None  # that closed form as a tree (its text is the tree's ASCII)


@dataclass
class Section:
    """The lines of one layer in one pass, with the rule they follow (a Message)."""

    layer: int  # 0: the loss
    type: str
    direction: str  # "forward", "backward", "update"
    title: str  # a Message
    rule: str | Node  # the formula: ASCII text as in docs/layers.md, or a tree (the loss's, from the registry)
    lines: list[Line] = field(default_factory=list)
    # a convolution's kernels rotated by 180° (the input gradient's kernels): (label, rows of (name, value))
    flipped: list[tuple[str, list[list[tuple[str, float]]]]] = field(default_factory=list)


@dataclass(frozen=True)
class Kink:
    """A point where the loss is not differentiable: a relu at 0, a tie in a max-pooling window."""

    layer: int
    name: str
    reason: str  # a Message


def _compact_formula(upstream: str, xhat: str) -> Node:
    """Batch norm's closed form of dE/dx: gamma/(m*sqrt(var + eps)) * (m*dE/da - sum dE/da - xhat * sum
    dE/da*xhat), `upstream` the gradient arriving at this output and `xhat` its normalized input."""
    star, spaced = Op("*"), Op(" * ")
    root = Apply("sqrt", (Row.of(Name("var"), PLUS, Name("eps")),))
    total = Row.of(Fn("sum"), Text(" "), Name("dE/da"))
    inner = Row.of(Name("m"), star, Name(upstream), MINUS, total, MINUS, Name(xhat), spaced, total, star, Name("xhat"))
    return Row.of(Frac(Name("gamma"), Row.of(Name("m"), star, root)), spaced, Paren(inner))


def _loss_rule(entry: functions.Loss, n: int, mean: bool) -> Node:
    """E_s = Σ_j term(t_j, a_j); E_total = (1/m) Σ_s E_s (mean) or Σ_s E_s, as a formula tree."""
    term = Filled(entry.term, (("t", Sym("t_j")), ("o", Sym("a_j")), ("n", Const(str(n)))))
    total = SumOver("s", Sym("E_s"))
    reduced = Row.of(Frac(Const("1"), Sym("m"), grouped=True), Text(" "), total) if mean else total
    return Row.of(eq(Sym("E_s"), SumOver("j", term)), Text("; "), eq(Sym("E_total"), reduced))


def _loss_gradient_rule(entry: functions.Loss, n: int, mean: bool) -> Node:
    """dE/da_j:s = ((1/m)·) ∂term/∂a_j, as a formula tree."""
    gradient = Filled(entry.gradient, (("t", Sym("t_j")), ("o", Sym("a_j")), ("n", Const(str(n)))))
    scale = Row.of(Frac(Const("1"), Sym("m"), grouped=True), DOT) if mean else Row()
    return eq(Deriv("E", "a_j:s"), Row.of(scale, gradient))


@dataclass
class LayersTrace:
    scenario: LayersScenario
    forward: list[Section]
    backward: list[Section]
    update: Section
    values: dict[str, float]  # every quantity by canonical name
    params: dict[str, float]  # every parameter by name, in layer order
    gradients: dict[str, float]  # dE/dθ for every parameter θ
    param_layer: dict[str, int]
    losses: list[float]  # E_s per sample
    loss: float
    kinks: list[Kink]
    outputs: Any
    # (layer, quantity, distance): how far each relu-like input is from its kink and each max-pooling window's
    # largest input from the runner-up; 0 is a kink, a small one a kink a finite difference may straddle
    margins: list[tuple[int, str, float]] = field(default_factory=list)  # the last layer's output, (samples, outputs)
    mistake: str | None = None

    def line(self, name: str) -> Line | None:
        for sec in (*self.forward, *self.backward, self.update):
            for ln in sec.lines:
                if ln.name == name:
                    return ln
        return None

    def section_of(self, name: str) -> Section | None:
        for sec in (*self.forward, *self.backward, self.update):
            if any(ln.name == name for ln in sec.lines):
                return sec
        return None


# ---- names ----


def pos(shape: tuple[int, ...], idx: tuple[int, ...]) -> str:
    """The index part of a name, 1-based: (C, H, W) with C = 1 -> 'r_q', else 'c_r_q'; a vector -> 'j'."""
    if len(shape) == 3 and shape[0] == 1:
        idx = idx[1:]
    return "_".join(str(i + 1) for i in idx)


def out_name(layer: int, shape: tuple[int, ...], idx: tuple[int, ...], s: int) -> str:
    """The output of layer `layer` (0: the input x) at idx, sample s (0-based)."""
    stem = "x" if layer == 0 else f"a{layer}"
    return f"{stem}_{pos(shape, idx)}:{s + 1}"


def kernel_name(layer: Layer, o: int, c: int, r: int, q: int) -> str:
    k = layer.kernels
    if k.shape[0] == 1 and k.shape[1] == 1:
        return f"K{layer.index}_{r + 1}_{q + 1}"
    return f"K{layer.index}_{o + 1}_{c + 1}_{r + 1}_{q + 1}"


def grad(name: str) -> str:
    return f"dE/d{name}"


def param_names(layer: Layer) -> list[tuple[str, tuple[str, tuple[int, ...]]]]:
    """(name, (role, index)) of every parameter of a layer, in order."""
    import numpy as np

    out: list[tuple[str, tuple[str, tuple[int, ...]]]] = []
    n = layer.index
    if layer.type == "conv2d":
        for idx in np.ndindex(*layer.kernels.shape):
            out.append((kernel_name(layer, *idx), ("K", idx)))
        for o in range(len(layer.biases)):
            out.append((f"b{n}_{o + 1}", ("b", (o,))))
    elif layer.type == "dense":
        for i, j in np.ndindex(*layer.weights.shape):
            out.append((f"W{n}_{i + 1}_{j + 1}", ("W", (i, j))))
        for i in range(len(layer.biases)):
            out.append((f"b{n}_{i + 1}", ("b", (i,))))
    elif layer.type == "batchnorm":
        for c in range(len(layer.gamma)):
            out.append((f"gamma{n}_{c + 1}", ("gamma", (c,))))
        for c in range(len(layer.beta)):
            out.append((f"beta{n}_{c + 1}", ("beta", (c,))))
    return out


def _kink_note(function: str, p: float | None) -> str:
    return functions.activation(function).kink_note(p)


# ---- the step ----


def trace(scenario: LayersScenario, mistake: str | None = None) -> LayersTrace:
    """The forward pass, the backward pass and the update of every parameter."""
    import numpy as np

    from bptrace.errors import NumericalError
    from bptrace.i18n import _

    try:
        with np.errstate(all="ignore"):
            t = _Tracer(scenario, mistake).run()
    except NumericalError as exc:  # name the file the numbers came from
        exc.file = exc.file or scenario.file
        raise
    for name, value in t.values.items():
        if not math.isfinite(value):
            raise NumericalError(
                _("{name} is {value} in float64: the numbers overflow").format(name=name, value=f"{value:g}"),
                file=scenario.file,
                hint=_("use smaller weights, inputs or learning rate, or a larger epsilon in batch normalization")
                if any(layer.type == "batchnorm" for layer in scenario.layers)
                else _("use smaller weights, inputs or learning rate"),
            )
    return t


class _Tracer:
    def __init__(self, scenario: LayersScenario, mistake: str | None) -> None:
        self.s = scenario
        self.mistake = mistake
        self.values: dict[str, float] = {}
        self.kinks: list[Kink] = []
        self.margins: list[tuple[int, str, float]] = []
        self.cache: dict[int, dict[str, Any]] = {}

    def put(self, sec: Section, line: Line) -> None:
        sec.lines.append(line)
        self.values[line.name] = line.value

    # the name of the input of layer l (= output of layer l - 1)
    def in_name(self, layer: Layer, idx: tuple[int, ...], s: int) -> str:
        return out_name(layer.index - 1, layer.in_shape, idx, s)

    def run(self) -> LayersTrace:
        import numpy as np

        s = self.s
        A = s.inputs
        for idx in np.ndindex(*A.shape):
            self.values[out_name(0, s.layers[0].in_shape, idx[1:], idx[0])] = float(A[idx])
        forward: list[Section] = []
        for layer in s.layers:
            sec, A = getattr(self, f"fwd_{layer.type}")(layer, A)
            forward.append(sec)
        outputs = A
        # the loss
        entry = functions.loss(s.loss)
        T = s.targets
        last_index, last_shape = len(s.layers), s.layers[-1].out_shape
        terms = functions.loss_terms(s.loss, A, T, quantity=lambda k, j: out_name(last_index, last_shape, (j,), k))
        per_sample = terms.sum(axis=1)
        m = s.samples
        scale = 1.0 / m if s.reduction == "mean" else 1.0
        total = float(per_sample.mean() if s.reduction == "mean" else per_sample.sum())
        last = s.layers[-1]
        loss_sec = Section(
            0,
            "loss",
            "forward",
            Message(
                N_("The loss: {loss} per output, E_total the {reduction} over the samples"),
                loss=s.loss,
                reduction=s.reduction,
            ),
            _loss_rule(entry, A.shape[1], s.reduction == "mean"),
        )
        for k in range(m):
            row = tuple(
                Term(((f"E({out_name(last.index, last.out_shape, (j,), k)})", float(terms[k, j])),))
                for j in range(A.shape[1])
            )
            self.put(loss_sec, Line(f"E_total:{k + 1}", float(per_sample[k]), row))
        self.put(
            loss_sec,
            Line("E_total", total, tuple(Term(((f"E_total:{k + 1}", float(per_sample[k])),), scale) for k in range(m))),
        )
        forward.append(loss_sec)

        # backward
        G = scale * functions.loss_gradient(s.loss, A, T)
        start = Section(
            0,
            "loss",
            "backward",
            Message(N_("The loss's gradient by each output")),
            _loss_gradient_rule(entry, A.shape[1], s.reduction == "mean"),
        )
        for k, j in np.ndindex(*A.shape):
            name = out_name(last.index, last.out_shape, (j,), k)
            g = float(G[k, j]) / scale
            self.put(start, Line(grad(name), float(G[k, j]), (Term(((f"dE_{k + 1}/d{name}", g),), scale),)))
        backward = [start]
        self.grads: dict[str, float] = {}
        for layer in reversed(s.layers):
            sec, G = getattr(self, f"bwd_{layer.type}")(layer, G)
            backward.append(sec)

        # update
        params: dict[str, float] = {}
        player: dict[str, int] = {}
        eta = s.learning_rate
        upd = Section(
            0,
            "update",
            "update",
            Message(N_("The update: each parameter minus η times its gradient")),
            "theta+ = theta - eta * dE/dtheta",
        )
        for layer in s.layers:
            for name, (role, idx) in param_names(layer):
                v = float(layer.params()[role][idx])
                params[name] = v
                player[name] = layer.index
                self.values[name] = v
                g = self.grads[name]
                self.put(upd, Line(f"{name}+", v - eta * g, (Term(((grad(name), g),), -eta),), const=(name, v)))
        return LayersTrace(
            scenario=s,
            forward=forward,
            backward=backward,
            update=upd,
            values=self.values,
            params=params,
            gradients={n: self.grads[n] for n in params},
            param_layer=player,
            losses=[float(v) for v in per_sample],
            loss=total,
            kinks=self.kinks,
            outputs=outputs,
            margins=self.margins,
            mistake=self.mistake,
        )

    # ---- conv2d ----

    def _kernel(self, layer: Layer) -> Any:
        K = layer.kernels
        return K[:, :, ::-1, ::-1] if self.mistake == "convolve" else K

    def fwd_conv2d(self, layer: Layer, X: Any) -> tuple[Section, Any]:
        import numpy as np

        K = self._kernel(layer)
        b = layer.biases
        P, S, k = layer.padding, layer.stride, layer.kernel_size
        m = X.shape[0]
        Xp = np.pad(X, ((0, 0), (0, 0), (P, P), (P, P)))
        C_out, H, W = layer.out_shape
        Y = np.zeros((m, *layer.out_shape))
        sec = Section(
            layer.index,
            "conv2d",
            "forward",
            Message(
                N_("{label}: each output is the sum of the kernel times the input window under it (cross-correlation)"),
                label=layer.label,
            ),
            "a[o,i,j] = sum_c sum_r sum_q x_pad[c, i*S + r, j*S + q] * K[o,c,r,q] + b[o]",
        )
        C_in = layer.in_shape[0]
        for s_ in range(m):
            for o, i, j in np.ndindex(C_out, H, W):
                terms = []
                skipped = 0
                for c, r, q in np.ndindex(C_in, k, k):
                    y, x = i * S + r - P, j * S + q - P
                    total_term = Xp[s_, c, i * S + r, j * S + q] * K[o, c, r, q]
                    Y[s_, o, i, j] += total_term
                    if 0 <= y < layer.in_shape[1] and 0 <= x < layer.in_shape[2]:
                        # the kernel element the product used (the flipped one under "convolve")
                        rr, qq = (k - 1 - r, k - 1 - q) if self.mistake == "convolve" else (r, q)
                        terms.append(
                            Term(
                                (
                                    (self.in_name(layer, (c, y, x), s_), float(X[s_, c, y, x])),
                                    (kernel_name(layer, o, c, rr, qq), float(K[o, c, r, q])),
                                )
                            )
                        )
                    else:
                        skipped += 1
                Y[s_, o, i, j] += b[o]
                note = Message(N_("{n} padding zeros left out"), n=skipped) if skipped else ""
                self.put(
                    sec,
                    Line(
                        out_name(layer.index, layer.out_shape, (o, i, j), s_),
                        float(Y[s_, o, i, j]),
                        tuple(terms),
                        const=(f"b{layer.index}_{o + 1}", float(b[o])),
                        note=note,
                    ),
                )
        self.cache[layer.index] = {"X": X, "Xp": Xp}
        return sec, Y

    def bwd_conv2d(self, layer: Layer, G: Any) -> tuple[Section, Any]:
        import numpy as np

        X, Xp = self.cache[layer.index]["X"], self.cache[layer.index]["Xp"]
        K = self._kernel(layer)
        P, S, k = layer.padding, layer.stride, layer.kernel_size
        m = X.shape[0]
        C_out, H, W = layer.out_shape
        C_in, Hin, Win = layer.in_shape
        sec = Section(
            layer.index,
            "conv2d",
            "backward",
            Message(
                N_(
                    "{label}: each kernel element's gradient is the sum over the output positions it touched; "
                    "the input's gradient is the full convolution of the upstream gradient with the flipped kernel"
                ),
                label=layer.label,
            ),
            "dE/dK[o,c,r,q] = sum_s sum_(i,j) dE/da[o,i,j] * x_pad[c, i*S + r, j*S + q]; "
            "dE/db[o] = sum_s sum_(i,j) dE/da[o,i,j]; "
            "dE/dx = full_conv(dE/da, rot180(K))",
        )
        up = lambda o, i, j, s_: grad(out_name(layer.index, layer.out_shape, (o, i, j), s_))  # noqa: E731
        dK = np.zeros(K.shape)
        for o, c, r, q in np.ndindex(*K.shape):
            terms = []
            for s_ in range(m):
                for i, j in np.ndindex(H, W):
                    v = Xp[s_, c, i * S + r, j * S + q]
                    dK[o, c, r, q] += G[s_, o, i, j] * v
                    y, x = i * S + r - P, j * S + q - P
                    if 0 <= y < Hin and 0 <= x < Win:
                        terms.append(
                            Term(
                                (
                                    (up(o, i, j, s_), float(G[s_, o, i, j])),
                                    (self.in_name(layer, (c, y, x), s_), float(v)),
                                )
                            )
                        )
            if self.mistake != "convolve":
                name = kernel_name(layer, o, c, r, q)
                self.put(sec, Line(grad(name), float(dK[o, c, r, q]), tuple(terms)))
                self.grads[name] = float(dK[o, c, r, q])
        if self.mistake == "convolve":  # the gradient of the flipped kernel, put back in the file's order
            for o, c, r, q in np.ndindex(*K.shape):
                name = kernel_name(layer, o, c, r, q)
                g = float(dK[o, c, k - 1 - r, k - 1 - q])
                self.put(sec, Line(grad(name), g))
                self.grads[name] = g
        for o in range(C_out):
            terms = [Term(((up(o, i, j, s_), float(G[s_, o, i, j])),)) for s_ in range(m) for i, j in np.ndindex(H, W)]
            name = f"b{layer.index}_{o + 1}"
            v = float(G[:, o].sum())
            self.put(sec, Line(grad(name), v, tuple(terms)))
            self.grads[name] = v
        for o, c in np.ndindex(C_out, C_in):
            label = f"rot180(K{layer.index})" if K.shape[:2] == (1, 1) else f"rot180(K{layer.index}_{o + 1}_{c + 1})"
            rows = [
                [
                    (kernel_name(layer, o, c, k - 1 - r, k - 1 - q), float(layer.kernels[o, c, k - 1 - r, k - 1 - q]))
                    for q in range(k)
                ]
                for r in range(k)
            ]
            sec.flipped.append((label, rows))
        # the input's gradient: the upstream gradient (zero-padded by k - 1 - P, dilated by S) under the kernel
        # flipped by 180°; the terms in the order the flipped kernel slides
        Kx = K[:, :, ::-1, ::-1] if self.mistake == "unflipped" else K
        dX = np.zeros(X.shape)
        for s_ in range(m):
            for c, y, x in np.ndindex(C_in, Hin, Win):
                terms = []
                for o in range(C_out):
                    for rf, qf in np.ndindex(k, k):  # the flipped kernel's element (rf, qf) is K[k-1-rf, k-1-qf]
                        r, q = k - 1 - rf, k - 1 - qf
                        ii, jj = y + P - r, x + P - q
                        if ii % S or jj % S:
                            continue
                        i, j = ii // S, jj // S
                        if 0 <= i < H and 0 <= j < W:
                            kv = float(Kx[o, c, r, q])
                            dX[s_, c, y, x] += G[s_, o, i, j] * kv
                            rr, qq = (k - 1 - r, k - 1 - q) if self.mistake in ("unflipped", "convolve") else (r, q)
                            terms.append(
                                Term(((up(o, i, j, s_), float(G[s_, o, i, j])), (kernel_name(layer, o, c, rr, qq), kv)))
                            )
                name = grad(self.in_name(layer, (c, y, x), s_))
                note = "" if terms else Message(N_("no output position read this input (the stride skipped it)"))
                self.put(sec, Line(name, float(dX[s_, c, y, x]), tuple(terms), note=note))
        return sec, dX

    # ---- pooling ----

    def _windows(self, layer: Layer) -> list[tuple[tuple[int, int, int], list[tuple[int, int, int]]]]:
        import numpy as np

        C, H, W = layer.out_shape
        out = []
        for c, i, j in np.ndindex(C, H, W):
            cells = [(c, i * layer.stride + r, j * layer.stride + q) for r, q in np.ndindex(layer.size, layer.size)]
            out.append(((c, i, j), cells))
        return out

    def fwd_maxpool(self, layer: Layer, X: Any) -> tuple[Section, Any]:
        import numpy as np

        m = X.shape[0]
        Y = np.zeros((m, *layer.out_shape))
        chosen: dict[tuple[int, ...], tuple[int, int, int]] = {}
        sec = Section(
            layer.index,
            "maxpool",
            "forward",
            Message(N_("{label}: each output is the largest input of its window"), label=layer.label),
            "a[c,i,j] = max_(r,q) x[c, i*S + r, j*S + q]",
        )
        for s_ in range(m):
            for (c, i, j), cells in self._windows(layer):
                vals = [float(X[(s_, *cc)]) for cc in cells]
                best = int(np.argmax(vals))
                chosen[(s_, c, i, j)] = cells[best]
                Y[s_, c, i, j] = vals[best]
                name = out_name(layer.index, layer.out_shape, (c, i, j), s_)
                cands = ", ".join(f"{self.in_name(layer, cc, s_)}" for cc in cells)
                ranked = sorted(vals, reverse=True)
                self.margins.append((layer.index, name, ranked[0] - ranked[1] if len(ranked) > 1 else math.inf))
                ties = [self.in_name(layer, cc, s_) for cc, v in zip(cells, vals) if v == vals[best]]
                if len(ties) > 1:
                    note: str = Message(
                        N_("a tie: {names} are all the largest; the first one takes the gradient"),
                        names=", ".join(ties),
                    )
                    self.kinks.append(
                        Kink(
                            layer.index,
                            name,
                            Message(N_("max pooling ties at {name} ({names})"), name=name, names=", ".join(ties)),
                        )
                    )
                else:
                    note = Message(N_("the largest of {names}"), names=cands)
                self.put(
                    sec,
                    Line(name, vals[best], (Term(((self.in_name(layer, cells[best], s_), vals[best]),)),), note=note),
                )
        self.cache[layer.index] = {"X": X, "chosen": chosen}
        return sec, Y

    def bwd_maxpool(self, layer: Layer, G: Any) -> tuple[Section, Any]:
        return self._route(layer, G, "max")

    def _route(self, layer: Layer, G: Any, how: str) -> tuple[Section, Any]:
        import numpy as np

        X = self.cache[layer.index]["X"]
        chosen = self.cache[layer.index].get("chosen", {})
        m = X.shape[0]
        n = layer.size * layer.size
        if how == "max":
            title = N_("{label}: each window's gradient goes to the input that was the largest; the others get 0")
            rule = "dE/dx[c,y,x] = sum of dE/da[c,i,j] over the windows whose max x[c,y,x] was"
        else:
            title = N_("{label}: each window's gradient is shared equally, 1/{n} to each of its inputs")
            rule = f"dE/dx[c,y,x] = sum over the windows holding x[c,y,x] of (1/{n}) * dE/da[c,i,j]"
        sec = Section(layer.index, layer.type, "backward", Message(title, label=layer.label, n=n), rule)
        dX = np.zeros(X.shape)
        terms: dict[tuple[int, ...], list[Term]] = {}
        for s_ in range(m):
            for (c, i, j), cells in self._windows(layer):
                up = grad(out_name(layer.index, layer.out_shape, (c, i, j), s_))
                g = float(G[s_, c, i, j])
                if how == "max":
                    cc = chosen[(s_, c, i, j)]
                    dX[(s_, *cc)] += g
                    terms.setdefault((s_, *cc), []).append(Term(((up, g),)))
                else:
                    for cc in cells:
                        dX[(s_, *cc)] += g / n
                        terms.setdefault((s_, *cc), []).append(Term(((up, g),), 1.0 / n))
        for idx in np.ndindex(*X.shape):
            ts = terms.get(idx, [])
            note = "" if ts else Message(N_("not the largest of any window: 0"))
            self.put(sec, Line(grad(self.in_name(layer, idx[1:], idx[0])), float(dX[idx]), tuple(ts), note=note))
        return sec, dX

    def fwd_avgpool(self, layer: Layer, X: Any) -> tuple[Section, Any]:
        import numpy as np

        m = X.shape[0]
        n = layer.size * layer.size
        Y = np.zeros((m, *layer.out_shape))
        chosen: dict[tuple[int, ...], tuple[int, int, int]] = {}
        sec = Section(
            layer.index,
            "avgpool",
            "forward",
            Message(N_("{label}: each output is the mean of its window"), label=layer.label),
            f"a[c,i,j] = (1/{n}) sum_(r,q) x[c, i*S + r, j*S + q]",
        )
        for s_ in range(m):
            for (c, i, j), cells in self._windows(layer):
                vals = [float(X[(s_, *cc)]) for cc in cells]
                chosen[(s_, c, i, j)] = cells[int(np.argmax(vals))]  # for the misconception only
                Y[s_, c, i, j] = sum(vals) / n
                terms = tuple(Term(((self.in_name(layer, cc, s_), v),), 1.0 / n) for cc, v in zip(cells, vals))
                self.put(sec, Line(out_name(layer.index, layer.out_shape, (c, i, j), s_), float(Y[s_, c, i, j]), terms))
        self.cache[layer.index] = {"X": X, "chosen": chosen}
        return sec, Y

    def bwd_avgpool(self, layer: Layer, G: Any) -> tuple[Section, Any]:
        return self._route(layer, G, "max" if self.mistake == "avg_like_max" else "mean")

    # ---- flatten ----

    def fwd_flatten(self, layer: Layer, X: Any) -> tuple[Section, Any]:
        import numpy as np

        m = X.shape[0]
        Y = X.reshape(m, -1)
        sec = Section(
            layer.index,
            "flatten",
            "forward",
            Message(N_("{label}: the values in a row, channel by channel, row by row"), label=layer.label),
            "a[c*H*W + y*W + x] = x[c,y,x]",
        )
        for s_ in range(m):
            for f, idx in enumerate(np.ndindex(*layer.in_shape)):
                v = float(X[(s_, *idx)])
                self.put(
                    sec,
                    Line(
                        out_name(layer.index, layer.out_shape, (f,), s_),
                        v,
                        (Term(((self.in_name(layer, idx, s_), v),)),),
                    ),
                )
        return sec, Y

    def bwd_flatten(self, layer: Layer, G: Any) -> tuple[Section, Any]:
        import numpy as np

        m = G.shape[0]
        sec = Section(
            layer.index,
            "flatten",
            "backward",
            Message(N_("{label}: each gradient goes back to its place"), label=layer.label),
            "dE/dx[c,y,x] = dE/da[c*H*W + y*W + x]",
        )
        for s_ in range(m):
            for f, idx in enumerate(np.ndindex(*layer.in_shape)):
                up = grad(out_name(layer.index, layer.out_shape, (f,), s_))
                g = float(G[s_, f])
                self.put(sec, Line(grad(self.in_name(layer, idx, s_)), g, (Term(((up, g),)),)))
        return sec, G.reshape(m, *layer.in_shape)

    # ---- activation (a layer of its own, or dense's) ----

    def _activate(self, sec: Section, layer: Layer, Z: Any, znames: Any, anames: Any) -> Any:
        import numpy as np

        f = functions.activation(layer.function)
        A = f.forward(Z.reshape(Z.shape[0], -1), layer.param).reshape(Z.shape)
        kink = f.at_kink(Z, layer.param)
        for idx in np.ndindex(*Z.shape):
            note = ""
            if f.has_kink(layer.param):
                self.margins.append((layer.index, znames(idx), abs(float(Z[idx]))))
            if kink[idx]:
                note = _kink_note(layer.function, layer.param)
                self.kinks.append(
                    Kink(
                        layer.index,
                        anames(idx),
                        Message(
                            N_("{function} at its kink: {name} = {value}"),
                            function=layer.function,
                            name=znames(idx),
                            value=f"{float(Z[idx]):g}",
                        ),
                    )
                )
            self.put(
                sec, Line(anames(idx), float(A[idx]), apply=(layer.function, znames(idx), float(Z[idx])), note=note)
            )
        return A

    def _activate_back(self, sec: Section, layer: Layer, Z: Any, A: Any, G: Any, znames: Any, anames: Any) -> Any:
        import numpy as np

        f = functions.activation(layer.function)
        if layer.function == "softmax":
            dZ = np.zeros(Z.shape)
            for s_, j in np.ndindex(*Z.shape):
                terms = []
                for kk in range(Z.shape[1]):
                    d = float(A[s_, kk] * ((1.0 if kk == j else 0.0) - A[s_, j]))
                    dZ[s_, j] += G[s_, kk] * d
                    terms.append(
                        Term(
                            ((grad(anames((s_, kk))), float(G[s_, kk])), (f"d{anames((s_, kk))}/d{znames((s_, j))}", d))
                        )
                    )
                self.put(sec, Line(grad(znames((s_, j))), float(dZ[s_, j]), tuple(terms)))
            return dZ
        fp = f.prime(Z.reshape(Z.shape[0], -1), layer.param).reshape(Z.shape)
        if layer is self.s.layers[-1] and functions.cancels_derivative(layer.function, self.s.loss):
            # sigmoid under bce: ∂E/∂a = (a − t)/(a(1 − a)) is computed from the float64 output, whose
            # 1 − a has lost digits when the output saturates (1 − a ≈ 1e-11 keeps 5 of them); f′ = a(1 − a)
            # from the same output cancels that loss, so dE/dz = ∂E/∂a·f′ is (a − t) to a few ulps, as
            # exact arithmetic gives it (σ(z)σ(−z) from z beside it left dE/dz off by 1e-5 relative)
            fp = A * (1.0 - A)
        dZ = G * fp
        for idx in np.ndindex(*Z.shape):
            self.put(
                sec,
                Line(
                    grad(znames(idx)),
                    float(dZ[idx]),
                    (
                        Term(
                            ((grad(anames(idx)), float(G[idx])), (f"{layer.function}'({znames(idx)})", float(fp[idx])))
                        ),
                    ),
                    note=_kink_note(layer.function, layer.param) if f.at_kink(Z[idx], layer.param) else "",
                ),
            )
        return dZ

    def fwd_activation(self, layer: Layer, X: Any) -> tuple[Section, Any]:
        sec = Section(
            layer.index,
            "activation",
            "forward",
            Message(N_("{label}: {function} of each input"), label=layer.label, function=layer.function),
            f"a = {layer.function}(x)",
        )
        A = self._activate(
            sec,
            layer,
            X,
            lambda idx: self.in_name(layer, idx[1:], idx[0]),
            lambda idx: out_name(layer.index, layer.out_shape, idx[1:], idx[0]),
        )
        self.cache[layer.index] = {"X": X, "A": A}
        return sec, A

    def bwd_activation(self, layer: Layer, G: Any) -> tuple[Section, Any]:
        c = self.cache[layer.index]
        sec = Section(
            layer.index,
            "activation",
            "backward",
            Message(
                N_("{label}: the upstream gradient times the slope {function}′"),
                label=layer.label,
                function=layer.function,
            ),
            f"dE/dx = dE/da * {layer.function}'(x)",
        )
        dX = self._activate_back(
            sec,
            layer,
            c["X"],
            c["A"],
            G,
            lambda idx: self.in_name(layer, idx[1:], idx[0]),
            lambda idx: out_name(layer.index, layer.out_shape, idx[1:], idx[0]),
        )
        return sec, dX

    # ---- dense ----

    def fwd_dense(self, layer: Layer, X: Any) -> tuple[Section, Any]:
        import numpy as np

        Wt, b = layer.weights, layer.biases
        n = layer.index
        m = X.shape[0]
        Z = X @ Wt.T + b
        sec = Section(
            n,
            "dense",
            "forward",
            Message(N_("{label}: z = W·x + b, then a = {function}(z)"), label=layer.label, function=layer.function),
            f"z[i] = sum_j W[i,j] * x[j] + b[i]; a[i] = {layer.function}(z[i])",
        )
        for s_, i in np.ndindex(m, Wt.shape[0]):
            terms = tuple(
                Term(((f"W{n}_{i + 1}_{j + 1}", float(Wt[i, j])), (self.in_name(layer, (j,), s_), float(X[s_, j]))))
                for j in range(Wt.shape[1])
            )
            self.put(sec, Line(f"z{n}_{i + 1}:{s_ + 1}", float(Z[s_, i]), terms, const=(f"b{n}_{i + 1}", float(b[i]))))
        A = self._activate(
            sec,
            layer,
            Z,
            lambda idx: f"z{n}_{idx[1] + 1}:{idx[0] + 1}",
            lambda idx: out_name(n, layer.out_shape, idx[1:], idx[0]),
        )
        self.cache[n] = {"X": X, "Z": Z, "A": A}
        return sec, A

    def bwd_dense(self, layer: Layer, G: Any) -> tuple[Section, Any]:
        import numpy as np

        n = layer.index
        c = self.cache[n]
        X, Z, A = c["X"], c["Z"], c["A"]
        Wt = layer.weights
        m = X.shape[0]
        sec = Section(
            n,
            "dense",
            "backward",
            Message(
                N_("{label}: through the activation to z, then to the weights, biases and inputs"), label=layer.label
            ),
            "dE/dz[i] = dE/da[i] * f'(z[i]); dE/dW[i,j] = sum_s dE/dz[i] * x[j]; dE/db[i] = sum_s dE/dz[i]; "
            "dE/dx[j] = sum_i W[i,j] * dE/dz[i]",
        )
        dZ = self._activate_back(
            sec,
            layer,
            Z,
            A,
            G,
            lambda idx: f"z{n}_{idx[1] + 1}:{idx[0] + 1}",
            lambda idx: out_name(n, layer.out_shape, idx[1:], idx[0]),
        )
        for i, j in np.ndindex(*Wt.shape):
            name = f"W{n}_{i + 1}_{j + 1}"
            terms = tuple(
                Term(
                    (
                        (grad(f"z{n}_{i + 1}:{s_ + 1}"), float(dZ[s_, i])),
                        (self.in_name(layer, (j,), s_), float(X[s_, j])),
                    )
                )
                for s_ in range(m)
            )
            v = float((dZ[:, i] * X[:, j]).sum())
            self.put(sec, Line(grad(name), v, terms))
            self.grads[name] = v
        for i in range(Wt.shape[0]):
            name = f"b{n}_{i + 1}"
            terms = tuple(Term(((grad(f"z{n}_{i + 1}:{s_ + 1}"), float(dZ[s_, i])),)) for s_ in range(m))
            v = float(dZ[:, i].sum())
            self.put(sec, Line(grad(name), v, terms))
            self.grads[name] = v
        dX = dZ @ Wt
        for s_, j in np.ndindex(*X.shape):
            terms = tuple(
                Term(((f"W{n}_{i + 1}_{j + 1}", float(Wt[i, j])), (grad(f"z{n}_{i + 1}:{s_ + 1}"), float(dZ[s_, i]))))
                for i in range(Wt.shape[0])
            )
            self.put(sec, Line(grad(self.in_name(layer, (j,), s_)), float(dX[s_, j]), terms))
        return sec, dX

    # ---- batch normalization ----

    def _bn_groups(self, layer: Layer, m: int) -> list[list[tuple[int, ...]]]:
        """For each feature (a vector) or channel (an image), the (sample, *index) entries it normalizes over."""
        import numpy as np

        shape = layer.in_shape
        groups: list[list[tuple[int, ...]]] = [[] for _ in range(shape[0])]
        for s_ in range(m):
            for idx in np.ndindex(*shape):
                groups[idx[0]].append((s_, *idx))
        return groups

    def fwd_batchnorm(self, layer: Layer, X: Any) -> tuple[Section, Any]:
        import numpy as np

        n = layer.index
        m = X.shape[0]
        eps = layer.epsilon
        sec = Section(
            n,
            "batchnorm",
            "forward",
            Message(
                N_("{label}: the mean μ and variance σ² over the batch, x̂ = (x − μ)/√(σ² + ε), a = γ·x̂ + β"),
                label=layer.label,
            ),
            "mu = (1/m) sum x; var = (1/m) sum (x - mu)^2; xhat = (x - mu)/sqrt(var + eps); a = gamma*xhat + beta",
        )
        Y = np.zeros(X.shape)
        XH = np.zeros(X.shape)
        stats = []
        iname = lambda e: self.in_name(layer, e[1:], e[0])  # noqa: E731
        for c, group in enumerate(self._bn_groups(layer, m)):
            size = len(group)
            vals = [float(X[e]) for e in group]
            mu = sum(vals) / size
            self.put(
                sec, Line(f"mu{n}_{c + 1}", mu, tuple(Term(((iname(e), v),), 1.0 / size) for e, v in zip(group, vals)))
            )
            dev = [v - mu for v in vals]
            var = sum(d * d for d in dev) / size
            self.put(
                sec,
                Line(
                    f"var{n}_{c + 1}",
                    var,
                    tuple(
                        Term(((f"({iname(e)} - mu{n}_{c + 1})", d), (f"({iname(e)} - mu{n}_{c + 1})", d)), 1.0 / size)
                        for e, d in zip(group, dev)
                    ),
                ),
            )
            inv = 1.0 / math.sqrt(var + eps)
            stats.append((mu, var, inv, group, dev))
            for e, d in zip(group, dev):
                xh = d * inv
                XH[e] = xh
                hname = f"xhat{n}_{pos(layer.in_shape, e[1:])}:{e[0] + 1}"
                self.put(
                    sec,
                    Line(
                        hname,
                        xh,
                        (Term(((f"({iname(e)} - mu{n}_{c + 1})", d), (f"1/sqrt(var{n}_{c + 1} + eps)", inv))),),
                    ),
                )
            for e in group:
                Y[e] = layer.gamma[c] * XH[e] + layer.beta[c]
                hname = f"xhat{n}_{pos(layer.in_shape, e[1:])}:{e[0] + 1}"
                self.put(
                    sec,
                    Line(
                        out_name(n, layer.out_shape, e[1:], e[0]),
                        float(Y[e]),
                        (Term(((f"gamma{n}_{c + 1}", float(layer.gamma[c])), (hname, float(XH[e])))),),
                        const=(f"beta{n}_{c + 1}", float(layer.beta[c])),
                    ),
                )
        self.cache[n] = {"X": X, "XH": XH, "stats": stats}
        return sec, Y

    def bwd_batchnorm(self, layer: Layer, G: Any) -> tuple[Section, Any]:
        import numpy as np

        n = layer.index
        c_ = self.cache[n]
        X, XH, stats = c_["X"], c_["XH"], c_["stats"]
        sec = Section(
            n,
            "batchnorm",
            "backward",
            Message(
                N_(
                    "{label}: x reaches the loss through x̂, through σ² and through μ; the three paths "
                    "add up to the textbook's compact formula"
                ),
                label=layer.label,
            ),
            "dE/dxhat = dE/da * gamma; dE/dvar = sum dE/dxhat * (x - mu) * (-1/2)(var + eps)^(-3/2); "
            "dE/dmu = sum dE/dxhat * (-1/sqrt(var + eps)) + dE/dvar * sum(-2(x - mu))/m; "
            "dE/dx = dE/dxhat/sqrt(var + eps) + dE/dvar * 2(x - mu)/m + dE/dmu/m "
            "= gamma/(m sqrt(var + eps)) * (m dE/da - sum dE/da - xhat * sum dE/da*xhat)",
        )
        dX = np.zeros(X.shape)
        iname = lambda e: self.in_name(layer, e[1:], e[0])  # noqa: E731
        hname = lambda e: f"xhat{n}_{pos(layer.in_shape, e[1:])}:{e[0] + 1}"  # noqa: E731
        aname = lambda e: grad(out_name(n, layer.out_shape, e[1:], e[0]))  # noqa: E731
        skip_var = self.mistake == "no_variance_path"
        for c, (_mu, _var, inv, group, dev) in enumerate(stats):
            size = len(group)
            g = [float(G[e]) for e in group]
            gamma = float(layer.gamma[c])
            dxh = [gv * gamma for gv in g]
            for e, gv, d in zip(group, g, dxh):
                self.put(sec, Line(grad(hname(e)), d, (Term(((aname(e), gv), (f"gamma{n}_{c + 1}", gamma))),)))
            vname, mname = f"var{n}_{c + 1}", f"mu{n}_{c + 1}"
            k3 = -0.5 * inv * inv * inv  # (σ² + ε)^(−3/2); a float's ** raises OverflowError, a product gives inf
            dvar = sum(d * x * k3 for d, x in zip(dxh, dev))
            self.put(
                sec,
                Line(
                    grad(vname),
                    dvar,
                    tuple(
                        Term(
                            (
                                (grad(hname(e)), d),
                                (f"({iname(e)} - {mname})", x),
                                (f"(-1/2)(var{n}_{c + 1} + eps)^(-3/2)", k3),
                            )
                        )
                        for e, d, x in zip(group, dxh, dev)
                    ),
                ),
            )
            sdev = sum(-2.0 * x for x in dev) / size
            mu_terms = [Term(((grad(hname(e)), d), (f"-1/sqrt({vname} + eps)", -inv))) for e, d in zip(group, dxh)]
            if not skip_var:
                mu_terms.append(Term(((grad(vname), dvar), (f"sum(-2(x - {mname}))/m", sdev)), label="var"))
            dmu = sum(t.value for t in mu_terms)
            self.put(sec, Line(grad(mname), dmu, tuple(mu_terms)))
            sg = sum(g)
            sgx = sum(gv * float(XH[e]) for gv, e in zip(g, group))
            for e, gv, d, x in zip(group, g, dxh, dev):
                terms = [Term(((grad(hname(e)), d), (f"1/sqrt({vname} + eps)", inv)), label="xhat")]
                if not skip_var:
                    terms.append(
                        Term(((grad(vname), dvar), (f"2({iname(e)} - {mname})/m", 2.0 * x / size)), label="var")
                    )
                terms.append(Term(((grad(mname), dmu), ("1/m", 1.0 / size)), label="mu"))
                v = sum(t.value for t in terms)
                dX[e] = v
                compact = gamma * inv / size * (size * gv - sg - float(XH[e]) * sgx)
                closed = _compact_formula(aname(e), hname(e))
                self.put(
                    sec,
                    Line(grad(iname(e)), v, tuple(terms), compact=(ascii(closed), compact), compact_formula=closed),
                )
            gname, bname = f"gamma{n}_{c + 1}", f"beta{n}_{c + 1}"
            gg = sum(gv * float(XH[e]) for gv, e in zip(g, group))
            self.put(
                sec,
                Line(
                    grad(gname), gg, tuple(Term(((aname(e), gv), (hname(e), float(XH[e])))) for e, gv in zip(group, g))
                ),
            )
            self.put(sec, Line(grad(bname), sg, tuple(Term(((aname(e), gv),)) for e, gv in zip(group, g))))
            self.grads[gname] = gg
            self.grads[bname] = sg
        return sec, dX
