"""Mistake diagnosis: re-derive the step under each known misconception and see which reproduce an answer.

Nothing here matches stored numbers. A *variant* is the whole training step recomputed with one knob
turned (a `Knobs`): δ = out − t where the loss is squared error, the learning rate left out, a weight
matrix read the other way round, ... `Lab.value(quantity, knobs)` gives any quantity of the vocabulary
(names.py) under those knobs, for any scenario (any depth, activation, loss, batch, bias mode), and
`variants(scenario)` lists the misconceptions that apply to a scenario. `check.py` marks an answer and
asks which variants reproduce a wrong one; several may (with η = 0.5, dropping the ½ of the loss and
dropping η give the same w5⁺), and all of them are reported.

With every knob at its default the variant engine is the engine: `tests/test_diagnose.py` compares it
with engine.trace and names.value for every quantity of every bundled scenario. It is also the fast
loop for θ@N and E_total@N (many steps without building a Trace each time).

Each code, its correct rule and the misconception in one sentence are in CODES (and docs/answer-sheets.md).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bptrace import functions as network
from bptrace.errors import BptraceError

if TYPE_CHECKING:
    from bptrace.model.names import Quantity
    from bptrace.model.scenario import Parameter, Scenario


@dataclass(frozen=True)
class CodeInfo:
    """A diagnosis code: the correct rule, and what the misconception does, in one sentence each."""

    code: str
    rule: str
    explanation: str


_CODE_LIST = [
    CodeInfo(
        "updated-weights",
        "Back-propagate with the weights as they were before the step: ∂E/∂out_h = Σ_k δ_k·w_kh with the old "
        "w_kh; all updates are applied together at the end.",
        "The error was sent back into a hidden layer through weights already updated in this step.",
    ),
    CodeInfo(
        "missing-path",
        "A hidden neuron's ∂E/∂out_h sums one term δ_k·w_kh for every neuron k of the layer above.",
        "One of the paths from a hidden neuron through the layer above was left out of ∂E/∂out_h.",
    ),
    CodeInfo(
        "sigmoid-prime-of-output",
        "σ′(net) = σ(net)·(1 − σ(net)) = out·(1 − out): written in out, without applying σ again.",
        "σ′ was applied to out, σ(out)·(1 − σ(out)), instead of out·(1 − out).",
    ),
    CodeInfo(
        "cross-entropy-delta",
        "With squared error δ_o = ∂E/∂out_o · f′(net_o), e.g. (out − t)·out(1 − out) for ½(t − out)² after a sigmoid.",
        "δ = out − target was used, which holds for cross-entropy losses, not for squared error.",
    ),
    CodeInfo(
        "extra-activation-derivative",
        "With bce after a sigmoid, or cross_entropy after a softmax, δ_o = out − t: the loss cancels f′.",
        "δ was multiplied by f′ although the loss already cancels it.",
    ),
    CodeInfo(
        "missing-half",
        "½(t − out)² has the derivative −(t − out), (t − out)² has −2(t − out): keep the loss's constant "
        "factor, in E and in its derivative.",
        "A factor of 2 came in or went out with the ½ of the loss.",
    ),
    CodeInfo(
        "sign-error",
        "Descend against the gradient, θ⁺ = θ − η·∂E/∂θ, with ∂E/∂out = −(t − out) for ½(t − out)².",
        "A gradient or the update has the wrong sign.",
    ),
    CodeInfo(
        "missing-learning-rate",
        "θ⁺ = θ − η·∂E/∂θ with the exercise's learning rate η.",
        "The update was made without η (η = 1) or with another η than the exercise's.",
    ),
    CodeInfo(
        "batch-averaging",
        "With reduction mean, E = (1/m)·Σ_s E_s and each batch gradient is the mean over the m samples; with "
        "reduction sum there is no 1/m.",
        "The 1/m of the batch mean is missing, or was applied where it does not belong.",
    ),
    CodeInfo(
        "bias-update",
        "Biases are updated exactly when the exercise says so; a shared bias moves by η·Σ δ of the neurons it "
        "feeds, a per-neuron bias by η·δ of its own neuron.",
        "A bias was updated that should not be (or the reverse), or a shared bias was treated as one per "
        "neuron (or the reverse).",
    ),
    CodeInfo(
        "transposed-weights",
        "w_kj connects neuron j of the layer before to neuron k: net_k = Σ_j w_kj·out_j, and back-propagation "
        "uses the same w_kj.",
        "A weight matrix was read the other way round (e.g. w2 and w3 swapped).",
    ),
    CodeInfo(
        "off-by-one-step",
        "θ@N and E_total@N are the values after exactly N updates (E_total@N: the loss of the parameters "
        "after the N-th update).",
        "The value is the one after N − 1 or N + 1 updates.",
    ),
    CodeInfo(
        "delta-sign-convention",
        "bptrace's δ_X is +∂E/∂net_X (Mazur's sign); Mitchell writes δ = −∂E/∂net and updates with +η·δ·x.",
        "δ was written with Mitchell's sign, −∂E/∂net, consistently: a convention, not an error of arithmetic.",
    ),
    CodeInfo(
        "rounding",
        "Carry full precision through the intermediate results and round only the answer.",
        "The value differs only because intermediate results were rounded early to the digits given (counted correct).",
    ),
]
CODES: dict[str, CodeInfo] = {c.code: c for c in _CODE_LIST}
CODE_ORDER = [c.code for c in _CODE_LIST]

# The learning rates a student plausibly uses by mistake: none at all, or a common textbook value.
# Never solved for from the answer (that would "explain" any update).
LIKELY_LEARNING_RATES = (1.0, 0.5, 0.1, 0.05, 0.01, 0.001)
MAX_PATH_VARIANTS = 12  # per layer boundary: "without the path through k" for at most this many k
SQUARED_LOSSES = ("half_sse", "sse", "mse")


@dataclass(frozen=True)
class Knobs:
    """How a variant step departs from the correct one. The defaults are the correct step."""

    through_updated: bool = False  # updated-weights
    path_filter: tuple[int, str, int] | None = None  # missing-path: (layer above, 0-based; drop|only|same; k)
    sigma_of_out: frozenset[int] = frozenset()  # sigmoid-prime-of-output: layers (0-based) using σ(out)
    output_delta: str = "exact"  # exact | out_minus_t (cross-entropy-delta) | times_fprime
    loss_scale: float = 1.0  # missing-half: scales E and ∂E/∂out
    grad_scale: float = 1.0  # scales ∂E/∂out only (missing-half, sign-error)
    update_sign: float = 1.0  # sign-error: θ⁺ = θ − sign·η·g
    learning_rate: float | None = None  # missing-learning-rate
    reduction: str | None = None  # batch-averaging: mean | sum | mean2 (1/m twice)
    update_biases: bool | None = None  # bias-update
    bias_per_neuron: bool = False  # bias-update: a shared bias treated as one per neuron
    bias_as_shared: bool = False  # bias-update: per-neuron biases moved by the layer's Σδ
    transpose_forward: frozenset[int] = frozenset()  # transposed-weights: W read as Wᵀ everywhere
    transpose_backward: frozenset[int] = frozenset()  # transposed-weights: Wᵀ only when back-propagating
    delta_sign: int = 0  # delta-sign-convention: 1 δ negated; 2 also ∂E/∂out, paths
    steps_shift: int = 0  # off-by-one-step: θ@N read after N + shift updates
    round_digits: int | None = None  # rounding: every intermediate to this many digits

    def dynamics(self) -> Knobs:
        """The knobs that change the computation (not only how values are reported or which step is read)."""
        return dataclasses.replace(self, delta_sign=0, steps_shift=0)


@dataclass(frozen=True)
class Variant:
    """One misconception applied to one scenario: its code, what exactly differs, and the knobs."""

    code: str
    detail: str
    knobs: Knobs


# ---------------------------------------------------------------------------------------------------
# Which misconceptions apply to a scenario


def variants(s: Scenario) -> list[Variant]:
    """Every variant that applies to the scenario (e.g. sigmoid-prime-of-output only with sigmoid layers)."""
    out: list[Variant] = []

    def add(code: str, detail: str, **knobs: Any) -> None:
        out.append(Variant(code, detail, Knobs(**knobs)))

    L = len(s.layers)
    last = s.output_layer
    if L > 1:
        add("updated-weights", "back-propagated through weights already updated in this step", through_updated=True)
    for i in range(1, L):
        above, below = s.layers[i], s.layers[i - 1]
        if above.size < 2:
            continue
        for k, name in enumerate(above.neurons[:MAX_PATH_VARIANTS]):
            add("missing-path", f"∂E/∂out of layer {i} without the path through {name}", path_filter=(i, "drop", k))
        if above.size > 2:
            for k, name in enumerate(above.neurons[:MAX_PATH_VARIANTS]):
                add("missing-path", f"∂E/∂out of layer {i} only through {name}", path_filter=(i, "only", k))
        if below.size > 1:
            add(
                "missing-path",
                f"each neuron of layer {i} only through the neuron above in its position "
                f"({below.neurons[0]} through {above.neurons[0]}, ...)",
                path_filter=(i, "same", 0),
            )
    sigmoid = [i for i, layer in enumerate(s.layers) if layer.activation == "sigmoid"]
    if sigmoid:
        add("sigmoid-prime-of-output", "σ(out)·(1 − σ(out)) in every sigmoid layer", sigma_of_out=frozenset(sigmoid))
        if len(sigmoid) > 1:
            for i in sigmoid:
                add("sigmoid-prime-of-output", f"σ(out)·(1 − σ(out)) in layer {i + 1}", sigma_of_out=frozenset([i]))
    if s.loss in SQUARED_LOSSES and last.activation != "linear":
        add(
            "cross-entropy-delta",
            f"δ = out − target, the cross-entropy δ, but the loss is {s.loss}",
            output_delta="out_minus_t",
        )
    if network.cancels_derivative(last.activation, s.loss):
        add(
            "extra-activation-derivative",
            f"δ = (out − target)·out(1 − out), but {s.loss} after {last.activation} cancels f′",
            output_delta="times_fprime",
        )
    if s.loss == "half_sse":
        add("missing-half", "the ½ of ½(t − out)² dropped: E and ∂E/∂out twice as large", loss_scale=2.0)
        add("missing-half", "∂E/∂out = −2(t − out) although E keeps its ½", grad_scale=2.0)
    elif s.loss in ("sse", "mse"):
        add("missing-half", f"a ½ added to the {s.loss} loss: E and ∂E/∂out half as large", loss_scale=0.5)
        add("missing-half", "the 2 of the square's derivative dropped: ∂E/∂out half as large", grad_scale=0.5)
    add("sign-error", "θ⁺ = θ + η·∂E/∂θ (the update goes uphill)", update_sign=-1.0)
    add("sign-error", "∂E/∂out with the wrong sign, carried through every gradient", grad_scale=-1.0)
    eta = s.learning_rate
    for rate in LIKELY_LEARNING_RATES:
        if not math.isclose(rate, eta, rel_tol=1e-12):
            what = "without η (η = 1)" if rate == 1.0 else f"η = {rate:g}"
            add("missing-learning-rate", f"updated {what} instead of η = {eta:g}", learning_rate=rate)
    if s.samples > 1:
        if s.reduction == "mean":
            add("batch-averaging", "summed over the batch without the 1/m", reduction="sum")
            add("batch-averaging", "divided by m twice", reduction="mean2")
        else:
            add("batch-averaging", "averaged with 1/m although the loss is summed over the batch", reduction="mean")
    modes = {layer.bias_mode for layer in s.layers}
    if modes != {"none"}:
        if not s.update_biases:
            add("bias-update", "biases updated, but this exercise keeps them fixed", update_biases=True)
            if "shared" in modes:
                add(
                    "bias-update",
                    "biases updated, a shared bias as one bias per neuron",
                    update_biases=True,
                    bias_per_neuron=True,
                )
        else:
            add("bias-update", "biases left unchanged, but this exercise updates them", update_biases=False)
            if "shared" in modes:
                add("bias-update", "a shared bias treated as one bias per neuron", bias_per_neuron=True)
            if any(layer.bias_mode == "neuron" and layer.size > 1 for layer in s.layers):
                add("bias-update", "each neuron's bias moved by the layer's Σδ, as if shared", bias_as_shared=True)
    square = [i for i, layer in enumerate(s.layers) if layer.weights.shape[0] == layer.weights.shape[1] > 1]
    for i in square:
        add(
            "transposed-weights",
            f"layer {i + 1}'s weights read the other way round ({_swapped(s, i)})",
            transpose_forward=frozenset([i]),
        )
    if len(square) > 1:
        add(
            "transposed-weights",
            "every square weight matrix read the other way round",
            transpose_forward=frozenset(square),
        )
    for i in square:
        if i > 0:
            add(
                "transposed-weights",
                f"back-propagated through layer {i + 1}'s weights the other way round ({_swapped(s, i)})",
                transpose_backward=frozenset([i]),
            )
    add("off-by-one-step", "one update fewer", steps_shift=-1)
    add("off-by-one-step", "one update more", steps_shift=1)
    add("delta-sign-convention", "δ = −∂E/∂net (Mitchell's sign)", delta_sign=1)
    add(
        "delta-sign-convention", "δ = −∂E/∂net, and ∂E/∂out with the same sign (Mitchell's δ summed back)", delta_sign=2
    )
    return out


def _swapped(s: Scenario, i: int) -> str:
    """'w2 ↔ w3' for the first off-diagonal pair of layer i (0-based), and '...' when there are more."""
    layer = s.layers[i]
    n = layer.size
    pairs = [(r, c) for r in range(n) for c in range(r + 1, n)]
    r, c = pairs[0]
    more = ", ..." if len(pairs) > 1 else ""
    return f"{layer.weight_name(r, c)} ↔ {layer.weight_name(c, r)}{more}"


def rounding_variant(digits: int) -> Variant:
    """Premature rounding: every intermediate result rounded to `digits` significant digits."""
    return Variant(
        "rounding", f"intermediate results rounded to {digits} significant digits", Knobs(round_digits=digits)
    )


# ---------------------------------------------------------------------------------------------------
# The variant engine


@dataclass
class Step:
    """Every quantity of one (possibly mistaken) step, one row per sample, as the engine's Trace has them."""

    nets: list[Any]
    outs: list[Any]
    terms: Any  # (m, outputs) loss terms
    sample_losses: Any  # (m,)
    loss: float
    dE_dout: list[Any]  # per layer (m, n)
    fprime: list[Any]
    delta: list[Any]
    paths: list[Any]  # per hidden layer (m, n, n_above): δ_k·w_kj, the terms of ∂E/∂out_j; None for the last
    grad_w: list[Any]
    grad_b: list[Any]
    new_w: list[Any]
    new_b: list[Any]


State = tuple[tuple[Any, ...], tuple[Any, ...]]  # (weights per layer, biases per layer)


def _rounder(digits: int | None):
    """x -> x rounded to `digits` significant digits (identity when digits is None)."""
    import numpy as np

    if digits is None:
        return lambda x: x

    def r(x: Any) -> Any:
        a = np.asarray(x, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            exponent = np.floor(np.log10(np.where(a == 0, 1.0, np.abs(a))))
            scale = 10.0 ** (digits - 1 - exponent)
            rounded = np.where(a == 0, 0.0, np.round(a * scale) / scale)
        return float(rounded) if np.ndim(x) == 0 else rounded

    return r


def _bias_modes(s: Scenario, k: Knobs) -> list[str]:
    return ["neuron" if (layer.bias_mode == "shared" and k.bias_per_neuron) else layer.bias_mode for layer in s.layers]


def initial_state(s: Scenario, k: Knobs) -> State:
    """The parameters as the variant holds them (a transposed matrix, a shared bias spread over its neurons)."""
    import numpy as np

    weights = tuple(
        layer.weights.T.copy() if i in k.transpose_forward else layer.weights.copy() for i, layer in enumerate(s.layers)
    )
    biases = []
    for layer, mode in zip(s.layers, _bias_modes(s, k)):
        if mode == "neuron" and layer.bias_mode == "shared":
            biases.append(np.full(layer.size, layer.biases[0]))
        else:
            biases.append(layer.biases.copy())
    return weights, tuple(biases)


def simulate(s: Scenario, k: Knobs, state: State, backward: bool = True, lean: bool = False) -> Step:
    """One training step from `state` under the knobs: forward, loss, backward, update.

    With default knobs this is engine.trace written again (the same operations in the same order):
        net = out_prev·Wᵀ + b,  out = f(net),  δ_L = ∂E/∂out ⊙ f′ (softmax: its Jacobian),
        ∂E/∂out_prev = δ·W,  ∂E/∂W = scale·δᵀ·out_prev,  θ⁺ = θ − η·∂E/∂θ.
    lean=True (training loops) skips what only a report needs: the loss and the path terms.
    """
    import numpy as np

    r = _rounder(k.round_digits)
    modes = _bias_modes(s, k)
    reduction = k.reduction or s.reduction
    with np.errstate(all="ignore"):
        return _simulate(s, k, state, backward, lean, modes, reduction, r)


def _simulate(
    s: Scenario, k: Knobs, state: State, backward: bool, lean: bool, modes: list[str], reduction: str, r: Any
) -> Step:
    import numpy as np

    weights, biases = state
    m = s.samples
    inputs = s.all_inputs()  # one row per forward pass (max_margin: the windows, then the corrupt ones)
    a = inputs
    nets, outs = [], []
    for i, layer in enumerate(s.layers):
        b = _bias_vector(modes[i], biases[i], layer.size)
        z = r(a @ weights[i].T + b)
        a = r(network.activate(layer.activation, z, layer.slope))
        nets.append(z)
        outs.append(a)
    t = s.targets
    if lean:
        terms = per_sample = None
        loss = math.nan
    else:
        if s.max_margin:
            # J_s = max(0, Δ + s(x_c) − s(x)): one term per sample
            terms = np.maximum(0.0, s.margin + a[m:, 0] - a[:m, 0])[:, None] * k.loss_scale
        else:
            terms = network.loss_terms(s.loss, a, t, list(s.output_layer.neurons)) * k.loss_scale
        terms = r(terms)
        per_sample = r(terms.sum(axis=1))
        if reduction == "mean":
            loss = per_sample.mean()
        elif reduction == "sum":
            loss = per_sample.sum()
        else:  # "mean2": the 1/m applied twice
            loss = per_sample.mean() / m
        loss = float(r(loss))
        if s.l2:
            # + λ/(2m)·Σ W² over every weight (biases never), as engine.penalty
            loss = float(r(loss + float(s.l2 / (2 * m) * sum(float((w * w).sum()) for w in weights))))
    L = len(s.layers)
    empty: list[Any] = [None] * L
    step = Step(
        nets,
        outs,
        terms,
        per_sample,
        loss,
        list(empty),
        list(empty),
        list(empty),
        list(empty),
        list(empty),
        list(empty),
        list(empty),
        list(empty),
    )
    if not backward:
        return step
    scale = {"mean": 1.0 / m, "sum": 1.0, "mean2": 1.0 / (m * m)}[reduction]
    eta = s.learning_rate if k.learning_rate is None else k.learning_rate
    update_biases = s.update_biases if k.update_biases is None else k.update_biases
    if s.max_margin:
        # ∂J/∂s = −1, ∂J/∂s_c = +1 while the margin is violated, else 0
        active = (s.margin + a[m:, 0] - a[:m, 0] > 0).astype(float)
        g = np.concatenate([-active, active])[:, None]
    else:
        g = network.loss_gradient(s.loss, a, t)
    if k.loss_scale != 1.0 or k.grad_scale != 1.0:
        g = g * (k.loss_scale * k.grad_scale)
    g = r(g)
    for i in reversed(range(L)):
        layer = s.layers[i]
        z, a = nets[i], outs[i]
        if i in k.sigma_of_out and layer.activation == "sigmoid":
            # the slip: σ′ applied to out, σ(out)(1 − σ(out)), where σ′(net) = out(1 − out)
            so = network.activate("sigmoid", a)
            fp = so * (1.0 - so)
        else:
            fp = network.activation_derivative(layer.activation, z, a, layer.slope)
        fp = r(fp)
        if i == L - 1 and k.output_delta == "out_minus_t":
            delta = a - t  # the cross-entropy δ, used with a squared error
        elif i == L - 1 and k.output_delta == "times_fprime":
            delta = (a - t) * fp  # f′ multiplied in although the loss cancels it
        elif layer.activation == "softmax":
            delta = a * (g - (g * a).sum(axis=1, keepdims=True))
        else:
            delta = g * fp
        delta = r(delta)
        a_prev = inputs if i == 0 else outs[i - 1]
        gw = scale * (delta.T @ a_prev)
        if s.l2:
            gw = gw + s.l2 / m * weights[i]  # ∂/∂W of λ/(2m)·Σ W²
        gw = r(gw)
        if modes[i] == "neuron":
            if k.bias_as_shared:
                gb = np.full(layer.size, scale * delta.sum())
            else:
                gb = scale * delta.sum(axis=0)
        elif modes[i] == "shared":
            gb = np.array([scale * delta.sum()])
        else:
            gb = np.zeros(0)
        gb = r(gb)
        # θ⁺ = θ − η·g  (update_sign −1: the uphill slip)
        if k.round_digits is None:
            new_w = weights[i] - eta * gw if k.update_sign == 1.0 else weights[i] + eta * gw
        else:
            new_w = r(weights[i] - k.update_sign * r(eta * gw))
        if update_biases:
            new_b = r(biases[i] - k.update_sign * r(eta * gb))
        else:
            new_b = biases[i].copy()
        step.dE_dout[i], step.fprime[i], step.delta[i] = g, fp, delta
        step.grad_w[i], step.grad_b[i], step.new_w[i], step.new_b[i] = gw, gb, new_w, new_b
        if i > 0:
            w = new_w if k.through_updated else weights[i]
            if i in k.transpose_backward:
                w = w.T
            filtered = k.path_filter is not None and k.path_filter[0] == i
            if lean and not filtered and k.round_digits is None:
                g = delta @ w
                continue
            # path terms P[s, j, κ] = δ_κ·w_κj; ∂E/∂out_j = Σ_κ P[s, j, κ] (every path through the layer above)
            paths = r(delta[:, None, :] * w.T[None, :, :])
            step.paths[i - 1] = paths
            if filtered:
                assert k.path_filter is not None
                g = r((paths * _path_mask(k.path_filter, w.shape[1], w.shape[0])).sum(axis=2))
            elif k.round_digits is not None:
                g = r(paths.sum(axis=2))
            else:
                g = delta @ w  # as the engine computes it
    return step


def _path_mask(path_filter: tuple[int, str, int], below: int, above: int) -> Any:
    """mask[j, κ] = 1 for the paths kept: all but κ (drop), only κ (only), or κ = j (same)."""
    import numpy as np

    _, how, k = path_filter
    mask = np.ones((below, above))
    if how == "drop":
        mask[:, k] = 0.0
    elif how == "only":
        mask[:] = 0.0
        mask[:, k] = 1.0
    else:
        mask = np.eye(below, above)
    return mask


def _bias_vector(mode: str, b: Any, size: int) -> Any:
    import numpy as np

    if mode == "neuron":
        return b
    if mode == "shared":
        return np.full(size, b[0])
    return np.zeros(size)


# ---------------------------------------------------------------------------------------------------
# Quantities under a variant

STEP_KINDS = ("updated", "after")
MAX_STEPS = 100_000  # θ@N, E_total@N: more updates than any exercise asks for (and ~3 s a run)


def steps_of(q: Quantity) -> int:
    """N of θ@N or E_total@N (θ+ and E_total@1: 1; θ@0: 0)."""
    return q.steps if q.steps is not None else 1


SIGNED_KINDS = ("delta", "dE_dout", "path")


@dataclass
class Lab:
    """A scenario with its correct trace and cached variant steps and trajectories.

    lab.value(q, knobs) is quantity q computed under knobs (None when the variant cannot be computed, e.g.
    it overflows); lab.expected(q) the exact value (names.value on engine.trace for one step, the same
    loop as the variants for θ@N and E_total@N with N > 1, which tests compare with engine.step).
    """

    scenario: Scenario
    _steps: dict[Knobs, Step] = field(default_factory=dict)
    _trajectories: dict[Knobs, dict[int, State]] = field(default_factory=dict)
    _trace: Any = None
    _variants: list[Variant] | None = None
    _wanted: set[int] = field(default_factory=set)

    def want_steps(self, steps: set[int]) -> None:
        """Announce the N of θ@N and E_total@N to come: trajectories keep N − 1, N and N + 1 on the way."""
        for n in steps:
            self._wanted.update((n - 1, n, n + 1))

    @property
    def trace(self) -> Any:
        """The correct trace (engine.trace)."""
        if self._trace is None:
            from bptrace.engine.step import trace

            self._trace = trace(self.scenario)
        return self._trace

    def variants(self) -> list[Variant]:
        if self._variants is None:
            self._variants = variants(self.scenario)
        return self._variants

    def expected(self, q: Quantity) -> float:
        """The exact float64 value of q."""
        from bptrace.model.names import value

        if q.kind in STEP_KINDS and steps_of(q) != 1:
            # N > 1 by the fast loop (tested against engine.step); also N = 0, which names.value
            # currently reads as 1 (θ@0 and E_total@0 are the values before any update)
            v = self.value(q, Knobs())
            if v is None:
                from bptrace.errors import NumericalError

                raise NumericalError(f"{q.name} cannot be computed in float64 (the training diverges)")
            return v
        return value(q, self.trace)

    def step(self, k: Knobs) -> Step:
        """The variant's first step (from the scenario's parameters), cached."""
        k = k.dynamics()
        if k not in self._steps:
            self._steps[k] = simulate(self.scenario, k, initial_state(self.scenario, k))
        return self._steps[k]

    def state(self, k: Knobs, n: int) -> State:
        """The variant's parameters after n updates (checkpoints are kept, so N − 1, N, N + 1 cost one run)."""
        k = k.dynamics()
        states = self._trajectories.setdefault(k, {0: initial_state(self.scenario, k)})
        if n in states:
            return states[n]
        import numpy as np

        start = max(i for i in states if i <= n)
        current = states[start]
        s = self.scenario
        r = _rounder(k.round_digits)
        modes = _bias_modes(s, k)
        reduction = k.reduction or s.reduction
        with np.errstate(all="ignore"):
            for i in range(start + 1, n + 1):
                st = _simulate(s, k, current, True, True, modes, reduction, r)
                current = (tuple(st.new_w), tuple(st.new_b))
                if i >= n - 2 or i % 1000 == 0 or i in self._wanted:
                    states[i] = current
        return current

    def prefetch(self, knobs: list[Knobs], n: int) -> None:
        """Run the trajectories of many variants to n updates at once (one batched loop, a variant per
        row of stacked arrays), keeping the same checkpoints as state(). Variants with rounding run alone."""
        todo: list[Knobs] = []
        for k in knobs:
            k = k.dynamics()
            if k.round_digits is None and k not in todo and n not in self._trajectories.get(k, {}):
                todo.append(k)
        if len(todo) < 2:
            return
        import numpy as np

        with np.errstate(all="ignore"):
            states = _batched_trajectories(self.scenario, todo, n, self._wanted)
        for k, by_step in zip(todo, states):
            self._trajectories.setdefault(k, {0: initial_state(self.scenario, k)}).update(by_step)

    def value(self, q: Quantity, k: Knobs) -> float | None:
        """q under the knobs, or None where the variant has no value for it (or only a non-finite one)."""
        import numpy as np

        try:
            v = self._value(q, k)
        except (BptraceError, FloatingPointError, ZeroDivisionError, OverflowError, ValueError):
            return None
        if v is None or not np.isfinite(v):
            return None
        return float(v)

    def _value(self, q: Quantity, k: Knobs) -> float | None:
        s = self.scenario
        kind = q.kind
        if k.steps_shift and kind not in STEP_KINDS:
            return None  # off-by-one only concerns values after N updates
        if k.delta_sign and kind not in SIGNED_KINDS:
            return None  # a sign convention for δ only
        if k.delta_sign == 1 and kind != "delta":
            return None
        r = _rounder(k.round_digits)
        if kind in STEP_KINDS:
            n = steps_of(q) + k.steps_shift
            if n < 0:
                return None
            state = self.state(k, n)
            if kind == "after":
                return simulate(s, k.dynamics(), state, backward=False).loss
            return _read_param(s, state, s.parameter(q.param or ""), k)
        if kind == "param":
            return _read_param(s, initial_state(s, k), s.parameter(q.param or ""), k)
        st = self.step(k)
        m = s.samples
        sample = None if q.sample is None else q.sample - 1
        # the row of a per-pass array: the sample's pass (max_margin: + m for the corrupt window)
        row_of_pass = (sample or 0) + (m if q.corrupt else 0)
        reduction = k.reduction or s.reduction

        def reduce(per_sample: Any) -> float:
            if reduction == "mean":
                return float(r(per_sample.mean()))
            if reduction == "sum":
                return float(r(per_sample.sum()))
            return float(r(per_sample.mean() / m))

        def per_pass(column: Any) -> float:
            """One pass's value, or the batch value: reduce over samples, each the sum of its passes."""
            if sample is not None:
                return float(column[row_of_pass])
            return reduce(_per_sample(s, column))

        if kind == "grad":
            p = s.parameter(q.param or "")
            li = p.layer - 1
            if sample is None:
                if p.kind == "weight":
                    row, col = _position(p, k)
                    return float(st.grad_w[li][row, col])
                return float(st.grad_b[li][0 if p.row is None else p.row])
            return float(r(_per_sample(s, _sample_grad(s, st, p, k))[sample]))
        if kind == "E_total":
            return st.loss if sample is None else float(st.sample_losses[sample])
        if kind == "E":
            j = s.output_layer.neurons.index(q.neuron or "")
            column = st.terms[:, j]  # one row per sample
            return float(column[sample]) if sample is not None else reduce(column)
        if kind == "factor":
            p = s.parameter(q.param or "")
            if p.kind == "bias":
                return 1.0  # ∂net/∂b = 1
            _, col = _position(p, k)
            prev = s.all_inputs() if p.layer == 1 else st.outs[p.layer - 2]
            return float(prev[row_of_pass, col])
        layer, row = s.neuron(q.neuron or "")
        if kind == "out" and layer == 0:
            return float(s.all_inputs()[row_of_pass, row])
        li = layer - 1
        sign = -1.0 if k.delta_sign else 1.0
        if kind == "net":
            return float(st.nets[li][row_of_pass, row])
        if kind == "out":
            return float(st.outs[li][row_of_pass, row])
        if kind == "dout_dnet":
            return float(st.fprime[li][row_of_pass, row])
        if kind == "dE_dout":
            return sign * per_pass(st.dE_dout[li][:, row])
        if kind == "delta":
            return sign * per_pass(st.delta[li][:, row])
        if kind == "path":
            _, kk = s.neuron(q.other or "")
            return sign * per_pass(st.paths[li][:, row, kk])
        return None


def _batched_trajectories(s: Scenario, ks: list[Knobs], n: int, wanted: set[int]) -> list[dict[int, State]]:
    """simulate(lean) for every variant in ks at once, n steps: arrays carry a leading variant axis.

    Every knob that changes the dynamics becomes a per-variant number or flag: η, the update's sign, the
    loss-gradient scale, the reduction's scale, whether biases move, σ(out), the output δ's formula, the
    weights used when back-propagating (old or updated, as read or transposed) and the paths kept.
    Biases are held per neuron throughout (a shared one as equal entries, moved by the layer's Σδ).
    The results agree with one-variant-at-a-time runs to rounding (tests/test_diagnose.py).
    """
    import numpy as np

    V, L, m = len(ks), len(s.layers), s.samples
    inputs = np.broadcast_to(s.all_inputs(), (V,) + s.all_inputs().shape)
    t = s.targets
    starts = [initial_state(s, k) for k in ks]
    W = [np.stack([st[0][i] for st in starts]) for i in range(L)]
    B = []
    shared_grad = np.zeros((V, L), dtype=bool)  # the bias moves by the layer's Σδ (one value per layer)
    for i, layer in enumerate(s.layers):
        rows = []
        for v, (k, st) in enumerate(zip(ks, starts)):
            mode = _bias_modes(s, k)[i]
            b = st[1][i]
            rows.append(
                np.full(layer.size, b[0]) if mode == "shared" else b if mode == "neuron" else np.zeros(layer.size)
            )
            shared_grad[v, i] = mode == "shared" or (mode == "neuron" and k.bias_as_shared)
        B.append(np.stack(rows))

    def col(values: list[float]) -> Any:
        return np.array(values, dtype=float)

    eta = col([s.learning_rate if k.learning_rate is None else k.learning_rate for k in ks])
    step_size = col([k.update_sign for k in ks]) * eta  # θ⁺ = θ − sign·η·g
    gscale = col([k.loss_scale * k.grad_scale for k in ks])
    scale = col([{"mean": 1.0 / m, "sum": 1.0, "mean2": 1.0 / (m * m)}[k.reduction or s.reduction] for k in ks])
    moves = np.array([s.update_biases if k.update_biases is None else k.update_biases for k in ks])
    through = np.array([k.through_updated for k in ks])
    sig = np.array([[i in k.sigma_of_out and s.layers[i].activation == "sigmoid" for i in range(L)] for k in ks])
    back_t = np.array([[i in k.transpose_backward for i in range(L)] for k in ks])
    out_mode = np.array([("exact", "out_minus_t", "times_fprime").index(k.output_delta) for k in ks])
    masks: list[Any] = [None] * L
    for i in range(1, L):
        if any(k.path_filter is not None and k.path_filter[0] == i for k in ks):
            below, above = s.layers[i - 1].size, s.layers[i].size
            masks[i] = np.stack(
                [
                    _path_mask(k.path_filter, below, above)
                    if k.path_filter is not None and k.path_filter[0] == i
                    else np.ones((below, above))
                    for k in ks
                ]
            )
    kept: list[dict[int, State]] = [{} for _ in ks]
    for step in range(1, n + 1):
        a = inputs
        nets, outs = [], []
        for i, layer in enumerate(s.layers):
            z = a @ W[i].transpose(0, 2, 1) + B[i][:, None, :]
            a = network.activate(layer.activation, z, layer.slope)
            nets.append(z)
            outs.append(a)
        if s.max_margin:
            active = (s.margin + a[:, m:, 0] - a[:, :m, 0] > 0).astype(float)
            g = np.concatenate([-active, active], axis=1)[:, :, None]
        else:
            g = network.loss_gradient(s.loss, a, t)
        g = g * gscale[:, None, None]
        new_W, new_B = list(W), list(B)
        for i in reversed(range(L)):
            layer = s.layers[i]
            z, a = nets[i], outs[i]
            fp = network.activation_derivative(layer.activation, z, a, layer.slope)
            if sig[:, i].any():
                so = network.activate("sigmoid", a)
                fp = np.where(sig[:, i, None, None], so * (1.0 - so), fp)
            if layer.activation == "softmax":
                delta = a * (g - (g * a).sum(axis=2, keepdims=True))
            else:
                delta = g * fp
            if i == L - 1 and out_mode.any():
                formula = out_mode[:, None, None]
                delta = np.where(formula == 1, a - t, np.where(formula == 2, (a - t) * fp, delta))
            a_prev = inputs if i == 0 else outs[i - 1]
            gw = scale[:, None, None] * (delta.transpose(0, 2, 1) @ a_prev)
            if s.l2:
                gw = gw + s.l2 / m * W[i]
            new_W[i] = W[i] - step_size[:, None, None] * gw
            if layer.bias_mode != "none":
                per_neuron = scale[:, None] * delta.sum(axis=1)
                whole = np.broadcast_to(scale[:, None] * delta.sum(axis=(1, 2))[:, None], per_neuron.shape)
                gb = np.where(shared_grad[:, i, None], whole, per_neuron)
                new_B[i] = np.where(moves[:, None], B[i] - step_size[:, None] * gb, B[i])
            if i > 0:
                w = np.where(through[:, None, None], new_W[i], W[i])
                if back_t[:, i].any():
                    w = np.where(back_t[:, i, None, None], w.transpose(0, 2, 1), w)
                if masks[i] is not None:
                    # ∂E/∂out_j = Σ_κ δ_κ·w_κj over the paths each variant keeps
                    g = (delta[:, :, None, :] * w.transpose(0, 2, 1)[:, None, :, :] * masks[i][:, None, :, :]).sum(3)
                else:
                    g = delta @ w
        W, B = new_W, new_B
        if step >= n - 2 or step % 1000 == 0 or step in wanted:
            for v, k in enumerate(ks):
                modes = _bias_modes(s, k)
                biases = tuple(
                    B[i][v, :1].copy()
                    if modes[i] == "shared"
                    else B[i][v].copy()
                    if modes[i] == "neuron"
                    else np.zeros(0)
                    for i in range(L)
                )
                kept[v][step] = (tuple(W[i][v].copy() for i in range(L)), biases)
    return kept


def _position(p: Parameter, k: Knobs) -> tuple[int, int]:
    """Where the variant keeps weight p: a student who reads W the other way round has w_rc at (c, r)."""
    assert p.row is not None and p.col is not None
    if p.layer - 1 in k.transpose_forward:
        return p.col, p.row
    return p.row, p.col


def _read_param(s: Scenario, state: State, p: Parameter, k: Knobs) -> float:
    weights, biases = state
    li = p.layer - 1
    if p.kind == "weight":
        row, col = _position(p, k)
        return float(weights[li][row, col])
    # a shared bias spread over its neurons (bias_per_neuron) is read at its first neuron
    return float(biases[li][0 if p.row is None else p.row])


def _per_sample(s: Scenario, per_pass: Any) -> Any:
    """Per-pass values -> per-sample values (max_margin: the true and the corrupt window add up)."""
    m = s.samples
    return per_pass[:m] + per_pass[m:] if s.max_margin else per_pass


def _sample_grad(s: Scenario, st: Step, p: Parameter, k: Knobs) -> Any:
    """∂E_s/∂θ per pass under the variant: δ_row·out_col for a weight, δ (or Σδ when shared) for a bias
    (the L2 term is not part of a sample's gradient, as in Trace.sample_grad)."""
    li = p.layer - 1
    delta = st.delta[li]
    if p.kind == "weight":
        row, col = _position(p, k)
        prev = s.all_inputs() if li == 0 else st.outs[li - 1]
        return delta[:, row] * prev[:, col]
    shared_grad = (p.row is None and not k.bias_per_neuron) or k.bias_as_shared
    if shared_grad:
        return delta.sum(axis=1)
    return delta[:, 0 if p.row is None else p.row].copy()


def describe(variant: Variant, q: Quantity) -> str:
    """The variant's detail, made specific to the quantity where that helps (off-by-one: which step)."""
    if variant.code == "off-by-one-step" and q.steps is not None:
        n = q.steps + variant.knobs.steps_shift
        what = "the loss" if q.kind == "after" else f"{q.param}"
        if n == 0:
            return f"{what} before any update, given for after {q.steps}"
        return f"{what} after {n:,} update{'s' if n != 1 else ''}, given for after {q.steps:,}"
    return variant.detail
