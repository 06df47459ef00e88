"""Mistake diagnosis: re-derive the step under each known misconception and see which reproduce an answer.

Nothing here matches stored numbers. A misconception is a setting of the one training step's hooks
(engine/step.py `Mistakes`: δ = out − t where the loss is squared error, f′ left out, net used for out, the
learning rate left out, a weight matrix read the other way round, ...); a *variant* is one such setting
applied to a scenario, with a sentence saying what exactly differs. `Lab.value(quantity, knobs)` gives any
quantity of the vocabulary (names.py) under the knobs, for any scenario (any depth, activation, loss, batch,
bias mode), by running engine.trace with those hooks; `variants(scenario)` lists the misconceptions that
apply to a scenario, and `find` which of them reproduce a written answer. Several may (with η = 0.5,
dropping the ½ of the loss and dropping η give the same w5⁺), and all of them are reported.

θ@N and E_total@N: up to HOOKED_MAX_STEPS updates, the hooked step is repeated; beyond that the correct
training and every misconception that is the correct training of another exercise (Mistakes.
equivalent_scenario: another η, the update's sign, the ½ of the loss, the reduction, biases moved or not, a
matrix read transposed) run on the fast training path (engine/train.py), and the others are not tried.

Each code, its correct rule and the misconception in one sentence are in CODES (and docs/answer-sheets.md).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bptrace.engine.step import NO_MISTAKES, FPrimeRule, Mistakes, Params, rounder
from bptrace.errors import BptraceError
from bptrace.i18n import N_, _, ngettext

if TYPE_CHECKING:
    import numpy as np

    from bptrace.engine.trace import Trace
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
        N_(
            "Back-propagate with the weights as they were before the step: ∂E/∂out_h = Σ_k δ_k·w_kh with the old "
            "w_kh; all updates are applied together at the end."
        ),
        N_("The error was sent back into a hidden layer through weights already updated in this step."),
    ),
    CodeInfo(
        "missing-path",
        N_("A hidden neuron's ∂E/∂out_h sums one term δ_k·w_kh for every neuron k of the layer above."),
        N_("One of the paths from a hidden neuron through the layer above was left out of ∂E/∂out_h."),
    ),
    CodeInfo(
        "zero-path",
        N_(
            "The path terms δ_k·w_kh through the layer above are not 0: ∂E/∂out_h = Σ_k δ_k·w_kh carries the error "
            "back into the hidden layer, which is updated too."
        ),
        N_(
            "The path terms through the layer above were written as 0 or left out altogether, so the hidden layer "
            "got no error (δ = 0, no gradient, no update)."
        ),
    ),
    CodeInfo(
        "missing-activation-derivative",
        N_(
            "δ = ∂E/∂net = ∂E/∂out · f′(net): at the output (e.g. (out − t)·out(1 − out) for ½(t − out)² after a "
            "sigmoid) and at a hidden neuron (∂E/∂out_h · out_h(1 − out_h))."
        ),
        N_("The factor f′(net) was left out of δ, which was taken as ∂E/∂out alone."),
    ),
    CodeInfo(
        "wrong-activation-derivative",
        N_(
            "Each activation has its own derivative: σ′ = out(1 − out), tanh′ = 1 − out², relu′ = 1 for net > 0 "
            "and 0 otherwise."
        ),
        N_("The derivative of another activation was used (tanh′ as out(1 − out), σ′ as 1 − out², relu′ as out)."),
    ),
    CodeInfo(
        "sigmoid-prime-of-output",
        N_("σ′(net) = σ(net)·(1 − σ(net)) = out·(1 − out): written in out, without applying σ again."),
        N_("σ′ was applied to out, σ(out)·(1 − σ(out)), instead of out·(1 − out)."),
    ),
    CodeInfo(
        "net-for-out",
        N_(
            "A neuron's out = f(net) is what the next layer receives and what ∂net/∂w of the weights out of it is; "
            "f′ written in out takes out, not net."
        ),
        N_("A neuron's net was used where its out belongs (as the next layer's input, in ∂net/∂w, or in f′)."),
    ),
    CodeInfo(
        "cross-entropy-delta",
        N_(
            "With squared error δ_o = ∂E/∂out_o · f′(net_o), e.g. (out − t)·out(1 − out) for ½(t − out)² after a "
            "sigmoid."
        ),
        N_("δ = out − target was used, which holds for cross-entropy losses, not for squared error."),
    ),
    CodeInfo(
        "extra-activation-derivative",
        N_("With bce after a sigmoid, or cross_entropy after a softmax, δ_o = out − t: the loss cancels f′."),
        N_("δ was multiplied by f′ although the loss already cancels it."),
    ),
    CodeInfo(
        "missing-half",
        N_(
            "½(t − out)² has the derivative −(t − out), (t − out)² has −2(t − out): keep the loss's constant "
            "factor, in E and in its derivative."
        ),
        N_("A factor of 2 came in or went out with the ½ of the loss."),
    ),
    CodeInfo(
        "sign-error",
        N_("Descend against the gradient, θ⁺ = θ − η·∂E/∂θ, with ∂E/∂out = −(t − out) for ½(t − out)²."),
        N_("A gradient or the update has the wrong sign."),
    ),
    CodeInfo(
        "missing-learning-rate",
        N_("θ⁺ = θ − η·∂E/∂θ with the exercise's learning rate η."),
        N_("The update was made without η (η = 1) or with another η than the exercise's."),
    ),
    CodeInfo(
        "batch-averaging",
        N_(
            "With reduction mean, E = (1/m)·Σ_s E_s and each batch gradient is the mean over the m samples; with "
            "reduction sum there is no 1/m."
        ),
        N_("The 1/m of the batch mean is missing, or was applied where it does not belong."),
    ),
    CodeInfo(
        "bias-update",
        N_(
            "Biases are updated exactly when the exercise says so; a shared bias moves by η·Σ δ of the neurons it "
            "feeds, a per-neuron bias by η·δ of its own neuron."
        ),
        N_(
            "A bias was updated that should not be (or the reverse), or a shared bias was treated as one per "
            "neuron (or the reverse)."
        ),
    ),
    CodeInfo(
        "transposed-weights",
        N_(
            "w_kj connects neuron j of the layer before to neuron k: net_k = Σ_j w_kj·out_j, and back-propagation "
            "uses the same w_kj."
        ),
        N_("A weight matrix was read the other way round (e.g. w2 and w3 swapped)."),
    ),
    CodeInfo(
        "off-by-one-step",
        N_(
            "θ@N and E_total@N are the values after exactly N updates (E_total@N: the loss of the parameters "
            "after the N-th update)."
        ),
        N_("The value is the one after N − 1 or N + 1 updates."),
    ),
    CodeInfo(
        "delta-sign-convention",
        N_("bptrace's δ_X is +∂E/∂net_X (Mazur's sign); Mitchell writes δ = −∂E/∂net and updates with +η·δ·x."),
        N_("δ was written with Mitchell's sign, −∂E/∂net, consistently: a convention, not an error of arithmetic."),
    ),
    CodeInfo(
        "early-rounding",
        N_(
            "Carry full precision through the intermediate results; an answer written to k digits needs "
            "intermediates to more than k digits."
        ),
        N_(
            "Intermediate results were rounded to fewer significant digits than the answer shows, so its last "
            "digits are not right."
        ),
    ),
    CodeInfo(
        "rounding",
        N_("Carry full precision through the intermediate results and round only the answer."),
        N_(
            "The value differs only because intermediate results were rounded early to the digits given "
            "(counted correct)."
        ),
    ),
]
CODES: dict[str, CodeInfo] = {c.code: c for c in _CODE_LIST}
CODE_ORDER = [c.code for c in _CODE_LIST]

# The learning rates a student plausibly uses by mistake: none at all, or a common textbook value.
# Never solved for from the answer (that would "explain" any update).
LIKELY_LEARNING_RATES = (1.0, 0.5, 0.1, 0.05, 0.01, 0.001)
MAX_PATH_VARIANTS = 12  # per layer boundary: "without the path through k" for at most this many k
SQUARED_LOSSES = ("half_sse", "sse", "mse")
DEFAULT_MIN_DIGITS = 3  # an answer needs this many significant digits to be diagnosed (a key may set another)
TOO_FEW_DIGITS = N_("too few digits to diagnose")  # translated where it is said: _(TOO_FEW_DIGITS)
MAX_ROUNDING_DIGITS = 15  # rounding to 16+ digits is float64 itself: nothing premature to find
MIN_ROUNDING_DIGITS = 2  # early-rounding searches intermediates rounded to this many digits and more
HOOKED_MAX_STEPS = 50  # θ@N, E_total@N up to this N: the hooked step repeated; beyond: the fast path


@dataclass(frozen=True)
class Knobs(Mistakes):
    """A misconception as the step's hooks (Mistakes), plus how the student reports the result. Defaults: correct."""

    delta_sign: int = 0  # delta-sign-convention: 1 δ negated; 2 also ∂E/∂out and the path terms
    steps_shift: int = 0  # off-by-one-step: θ@N read after N + shift updates

    def dynamics(self) -> Mistakes:
        """The hooks of the step (without how the values are reported or which step is read)."""
        return Mistakes(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Mistakes)})


@dataclass(frozen=True)
class Variant:
    """One misconception applied to one scenario: its code, what exactly differs, and the knobs."""

    code: str
    detail: str = field(compare=False)  # how it is said; a variant is its code and its knobs
    knobs: Knobs = field(default_factory=lambda: Knobs())
    # early-rounding: every count of digits that gives the same value for this answer (said by describe)
    also: tuple[int, ...] = field(default=(), compare=False)
    shows: int = field(default=0, compare=False)  # early-rounding: the significant digits the answer shows


# ---------------------------------------------------------------------------------------------------
# Which misconceptions apply to a scenario


def variants(s: Scenario) -> list[Variant]:
    """Every variant that applies to the scenario (e.g. sigmoid-prime-of-output only with sigmoid layers)."""
    import numpy as np

    from bptrace import functions as network
    from bptrace.engine.step import forward

    out: list[Variant] = []

    def add(code: str, detail: str, **knobs: Any) -> None:
        out.append(Variant(code, detail, Knobs(**knobs)))

    L = len(s.layers)
    last = s.output_layer
    nets, outs = forward(s)
    fprimes = [
        network.activation_derivative(layer.activation, z, layer.param) for layer, z, a in zip(s.layers, nets, outs)
    ]

    def where(i: int) -> str:
        layer = s.layers[i]
        names = ", ".join(layer.neurons[:4]) + (", ..." if layer.size > 4 else "")
        if i == L - 1:
            return _("at {names}").format(names=names)
        return _("in layer {layer} ({names})").format(layer=i + 1, names=names)

    if L > 1:
        add("updated-weights", _("back-propagated through weights already updated in this step"), through_updated=True)
    for i in range(1, L):
        above, below = s.layers[i], s.layers[i - 1]
        if above.size >= 2:
            for k, name in enumerate(above.neurons[:MAX_PATH_VARIANTS]):
                said = _("∂E/∂out of layer {layer} without the path through {name}").format(layer=i, name=name)
                add("missing-path", said, path_filter=(i, "drop", k))
            if above.size > 2:
                for k, name in enumerate(above.neurons[:MAX_PATH_VARIANTS]):
                    said = _("∂E/∂out of layer {layer} only through {name}").format(layer=i, name=name)
                    add("missing-path", said, path_filter=(i, "only", k))
            if below.size > 1:
                add(
                    "missing-path",
                    _(
                        "each neuron of layer {layer} only through the neuron above in its position "
                        "({below} through {above}, ...)"
                    ).format(layer=i, below=below.neurons[0], above=above.neurons[0]),
                    path_filter=(i, "same", 0),
                )
        add(
            "zero-path",
            _(
                "every path term through {names} written as 0: "
                "∂E/∂out of layer {layer} is 0, so layer {layer} gets no error and is not updated"
            ).format(names=", ".join(above.neurons[:3]) + (", ..." if above.size > 3 else ""), layer=i),
            path_filter=(i, "none", 0),
        )
    # f′ left out of δ: wherever f′ is not 1 everywhere (not linear; relu only where some net ≤ 0)
    omit = [i for i, layer in enumerate(s.layers) if layer.activation == "softmax" or np.any(fprimes[i] != 1.0)]
    for i in omit:
        same_as_ce = i == L - 1 and s.loss == "half_sse"
        if same_as_ce:
            said = _(
                "δ = ∂E/∂out without the factor f′(net) {where} "
                "(for ½(t − out)² that is out − t, the number the cross-entropy δ also gives)"
            ).format(where=where(i))
        else:
            said = _("δ = ∂E/∂out without the factor f′(net) {where}").format(where=where(i))
        add("missing-activation-derivative", said, fprime=((i, "omitted"),))
    if len(omit) > 1:
        add(
            "missing-activation-derivative",
            _("δ = ∂E/∂out without the factor f′(net) in every layer"),
            fprime=tuple((i, "omitted") for i in omit),
        )
    other_rule: dict[str, tuple[FPrimeRule, str]] = {
        "sigmoid": ("one_minus_out_squared", N_("σ′ taken as 1 − out², the rule of tanh {where}")),
        "tanh": ("out_one_minus_out", N_("tanh′ taken as out(1 − out), the rule of the sigmoid {where}")),
        "relu": ("out", N_("relu′ taken as out {where}")),
        "leaky_relu": ("out", N_("leaky_relu′ taken as out {where}")),
    }
    by_activation: dict[str, list[int]] = {}
    for i, layer in enumerate(s.layers):
        if layer.activation in other_rule and np.any(fprimes[i] != _wrong(other_rule[layer.activation][0], outs[i])):
            by_activation.setdefault(layer.activation, []).append(i)
    for act, layers in by_activation.items():
        rule, what = other_rule[act]
        for i in layers:
            add("wrong-activation-derivative", _(what).format(where=where(i)), fprime=((i, rule),))
        if len(layers) > 1:
            every = _("in every {activation} layer").format(activation=act)
            add("wrong-activation-derivative", _(what).format(where=every), fprime=tuple((i, rule) for i in layers))
    sigmoid = [i for i, layer in enumerate(s.layers) if layer.activation == "sigmoid"]
    if sigmoid:
        add(
            "sigmoid-prime-of-output",
            _("σ(out)·(1 − σ(out)) in every sigmoid layer"),
            fprime=tuple((i, "sigma_of_out") for i in sigmoid),
        )
        if len(sigmoid) > 1:
            for i in sigmoid:
                said = _("σ(out)·(1 − σ(out)) in layer {layer}").format(layer=i + 1)
                add("sigmoid-prime-of-output", said, fprime=((i, "sigma_of_out"),))
    for i in range(L - 1):
        if np.any(nets[i] != outs[i]):
            names = s.layers[i].neurons
            add(
                "net-for-out",
                _("net of layer {layer} passed on as the next layer's input instead of out ({net} for {out})").format(
                    layer=i + 1, net=f"net_{names[0]}", out=f"out_{names[0]}"
                ),
                net_for_out=((i, "forward"),),
            )
            add(
                "net-for-out",
                _("∂net/∂w of the weights out of layer {layer} taken as net instead of out ({net} for {out})").format(
                    layer=i + 1, net=f"net_{names[0]}", out=f"out_{names[0]}"
                ),
                net_for_out=((i, "gradient"),),
            )
    for i, layer in enumerate(s.layers):
        if layer.activation in ("sigmoid", "tanh"):
            rule_text = "net(1 − net)" if layer.activation == "sigmoid" else "1 − net²"
            said = _("f′ written with net for out, {rule}, {where}").format(rule=rule_text, where=where(i))
            add("net-for-out", said, fprime=((i, "of_net"),))
    if s.loss in SQUARED_LOSSES and last.activation != "linear":
        add(
            "cross-entropy-delta",
            _("δ = out − target, the cross-entropy δ, but the loss is {loss}").format(loss=s.loss),
            output_delta="out_minus_t",
        )
    if network.cancels_derivative(last.activation, s.loss):
        add(
            "extra-activation-derivative",
            _("δ = (out − target)·out(1 − out), but {loss} after {activation} cancels f′").format(
                loss=s.loss, activation=last.activation
            ),
            output_delta="times_fprime",
        )
    if s.loss == "half_sse":
        add("missing-half", _("the ½ of ½(t − out)² dropped: E and ∂E/∂out twice as large"), loss_scale=2.0)
        add("missing-half", _("∂E/∂out = −2(t − out) although E keeps its ½"), grad_scale=2.0)
    elif s.loss in ("sse", "mse"):
        said = _("a ½ added to the {loss} loss: E and ∂E/∂out half as large").format(loss=s.loss)
        add("missing-half", said, loss_scale=0.5)
        add("missing-half", _("the 2 of the square's derivative dropped: ∂E/∂out half as large"), grad_scale=0.5)
    add("sign-error", _("θ⁺ = θ + η·∂E/∂θ (the update goes uphill)"), update_sign=-1.0)
    add("sign-error", _("∂E/∂out with the wrong sign, carried through every gradient"), grad_scale=-1.0)
    eta = s.learning_rate
    for rate in LIKELY_LEARNING_RATES:
        if not math.isclose(rate, eta, rel_tol=1e-12):
            if rate == 1.0:
                said = _("updated without η (η = 1) instead of η = {eta}").format(eta=f"{eta:g}")
            else:
                said = _("updated with η = {rate} instead of η = {eta}").format(rate=f"{rate:g}", eta=f"{eta:g}")
            add("missing-learning-rate", said, learning_rate=rate)
    if s.samples > 1:
        if s.reduction == "mean":
            add("batch-averaging", _("summed over the batch without the 1/m"), reduction="sum")
            add("batch-averaging", _("divided by m twice"), reduction="mean2")
        else:
            said = _("averaged with 1/m although the loss is summed over the batch")
            add("batch-averaging", said, reduction="mean")
    modes = {layer.bias_mode for layer in s.layers}
    if modes != {"none"}:
        if not s.update_biases:
            add("bias-update", _("biases updated, but this exercise keeps them fixed"), update_biases=True)
            if "shared" in modes:
                add(
                    "bias-update",
                    _("biases updated, a shared bias as one bias per neuron"),
                    update_biases=True,
                    bias_per_neuron=True,
                )
        else:
            add("bias-update", _("biases left unchanged, but this exercise updates them"), update_biases=False)
            if "shared" in modes:
                add("bias-update", _("a shared bias treated as one bias per neuron"), bias_per_neuron=True)
            if any(layer.bias_mode == "neuron" and layer.size > 1 for layer in s.layers):
                said = _("each neuron's bias moved by the layer's Σδ, as if shared")
                add("bias-update", said, bias_as_shared=True)
    square = [i for i, layer in enumerate(s.layers) if layer.weights.shape[0] == layer.weights.shape[1] > 1]
    for i in square:
        add(
            "transposed-weights",
            _("layer {layer}'s weights read the other way round ({swapped})").format(
                layer=i + 1, swapped=_swapped(s, i)
            ),
            transpose_forward=frozenset([i]),
        )
    if len(square) > 1:
        add(
            "transposed-weights",
            _("every square weight matrix read the other way round"),
            transpose_forward=frozenset(square),
        )
    for i in square:
        if i > 0:
            add(
                "transposed-weights",
                _("back-propagated through layer {layer}'s weights the other way round ({swapped})").format(
                    layer=i + 1, swapped=_swapped(s, i)
                ),
                transpose_backward=frozenset([i]),
            )
    add("off-by-one-step", _("one update fewer"), steps_shift=-1)
    add("off-by-one-step", _("one update more"), steps_shift=1)
    add("delta-sign-convention", _("δ = −∂E/∂net (Mitchell's sign)"), delta_sign=1)
    said = _("δ = −∂E/∂net, and ∂E/∂out with the same sign (Mitchell's δ summed back)")
    add("delta-sign-convention", said, delta_sign=2)
    return out


def _wrong(rule: FPrimeRule, a: np.ndarray) -> np.ndarray:
    """The value of a student's f′ rule written in out (for telling whether it differs from the right f′)."""
    if rule == "one_minus_out_squared":
        return 1.0 - a * a
    if rule == "out_one_minus_out":
        return a * (1.0 - a)
    return a


def _swapped(s: Scenario, i: int) -> str:
    """'w2 ↔ w3' for the first off-diagonal pair of layer i (0-based), and '...' when there are more."""
    layer = s.layers[i]
    n = layer.size
    pairs = [(r, c) for r in range(n) for c in range(r + 1, n)]
    r, c = pairs[0]
    more = ", ..." if len(pairs) > 1 else ""
    return f"{layer.weight_name(r, c)} ↔ {layer.weight_name(c, r)}{more}"


def rounding_variant(digits: int) -> Variant:
    """Premature rounding to the answer's own digits: every intermediate rounded to `digits` significant digits."""
    said = _("intermediate results rounded to {digits} significant digits").format(digits=digits)
    return Variant("rounding", said, Knobs(round_digits=digits))


def early_rounding_variant(digits: int, written: int, also: tuple[int, ...] = ()) -> Variant:
    """Intermediates rounded to `digits` significant digits, fewer than the `written` digits of the answer
    (`also`: the other counts of digits that give the same value, named in the detail)."""
    return Variant(
        "early-rounding",
        _early_rounding(str(digits), written),
        Knobs(round_digits=digits),
        tuple(sorted({digits, *also})),
        written,
    )


def _early_rounding(digits: str, written: int) -> str:
    """'intermediate results rounded to 4 (or: 4 or 5) significant digits, but the answer shows 9'."""
    if not written:  # a written 0 shows no digits
        return _("intermediate results rounded to {digits} significant digits").format(digits=digits)
    return _("intermediate results rounded to {digits} significant digits, but the answer shows {written}").format(
        digits=digits, written=written
    )


# ---------------------------------------------------------------------------------------------------
# Finding the misconceptions behind an answer


class Deriver(Protocol):
    """What find() asks of a Lab: the variants and each one's value of a quantity (a Marker memoises them)."""

    def variants(self) -> list[Variant]: ...

    def value(self, q: Quantity, k: Knobs) -> float | None: ...

    def want_steps(self, steps: set[int]) -> None: ...

    def variant_values(self, q: Quantity) -> list[float | None]:
        """q under each of variants(), in their order."""
        ...

    def rounded_variants(self, digits: int) -> list[Knobs]:
        """Each variant's knobs with every intermediate rounded to `digits` significant digits."""
        ...

    def rounded_values(self, q: Quantity, digits: int) -> list[float | None]:
        """q under each of rounded_variants(digits), in their order."""
        ...


def find(
    q: Quantity,
    lab: Deriver,
    matches: Callable[[float | None], bool],
    digits: int,
    *,
    misconceptions: bool = True,
    min_digits: int = DEFAULT_MIN_DIGITS,
) -> list[Variant]:
    """The variants whose value of q `matches` the answer (written with `digits` significant digits).

    Premature rounding to the answer's digits alone if it reproduces it; else every misconception (and, for
    one-step values none reproduces, each with rounding to the answer's digits); and early rounding to
    fewer digits (each count of digits that reproduces it: w1⁺ rounded to 3 digits is w1, which zero-path
    also gives). An answer of fewer than `min_digits` significant
    digits (a written 0 excepted: it is exact) is not diagnosed: [] (TOO_FEW_DIGITS).
    """
    if 0 < digits < min_digits:
        return []
    steps = steps_of(q) if q.kind in STEP_KINDS else 1
    one_step = steps <= 1
    roundable = 0 < digits <= MAX_ROUNDING_DIGITS and steps <= HOOKED_MAX_STEPS
    if roundable:
        rounding = rounding_variant(digits)
        if matches(lab.value(q, rounding.knobs)):
            return [rounding]
    if not misconceptions:
        return []
    lab.want_steps({steps})
    found = [v for v, x in zip(lab.variants(), lab.variant_values(q)) if matches(x)]
    if not found and one_step and roundable:
        rounded = zip(lab.variants(), lab.rounded_variants(digits), lab.rounded_values(q, digits))
        for v, knobs, x in rounded:
            if matches(x):
                said = _("{detail}, with intermediates rounded to {digits} digits").format(
                    detail=v.detail, digits=digits
                )
                found.append(Variant(v.code, said, knobs))
    if roundable or (digits == 0 and steps <= HOOKED_MAX_STEPS):
        # every count of digits that reproduces it (0.1385 is δ_o1 rounded to 4 or to 5 digits): one variant
        # each, for the sheet to tell which count explains the most answers
        counts = [
            k
            for k in range(MIN_ROUNDING_DIGITS, min(digits or MAX_ROUNDING_DIGITS + 1, MAX_ROUNDING_DIGITS + 1))
            if matches(lab.value(q, Knobs(round_digits=k)))
        ]
        found += [early_rounding_variant(k, digits, tuple(counts)) for k in counts]
    return found


def accepted(codes: list[str], accept: frozenset[str] | set[str]) -> bool:
    """An answer is accepted when the codes that explain it are all accepted ones (rounding always is)."""
    return bool(codes) and all(c in accept or c == "rounding" for c in codes)


# ---------------------------------------------------------------------------------------------------
# Quantities under a variant

STEP_KINDS = ("updated", "after")
MAX_STEPS = 100_000  # θ@N, E_total@N: more updates than any exercise asks for
SIGNED_KINDS = ("delta", "dE_dout", "path")


def steps_of(q: Quantity) -> int:
    """N of θ@N or E_total@N (θ+ and E_total@1: 1; θ@0: 0)."""
    return q.steps if q.steps is not None else 1


@dataclass
class Lab:
    """A scenario with its correct trace and cached variant steps and trajectories.

    lab.value(q, knobs) is quantity q computed under knobs (None when the variant cannot be computed, e.g.
    it overflows, or is not tried for that many updates); lab.expected(q) the exact value (names.value on
    engine.trace for one step; θ@N and E_total@N by the hooked step repeated, beyond HOOKED_MAX_STEPS by
    the fast training path, which tests compare with engine.step).
    """

    scenario: Scenario
    _steps: dict[Mistakes, Trace | None] = field(default_factory=dict)
    _trajectories: dict[Mistakes, dict[int, Params | None]] = field(default_factory=dict)
    _trace: Trace | None = None
    _variants: list[Variant] | None = None
    _wanted: set[int] = field(default_factory=set)

    def want_steps(self, steps: set[int]) -> None:
        """Announce the N of θ@N and E_total@N to come: trajectories keep N − 1, N and N + 1 on the way."""
        for n in steps:
            self._wanted.update((n - 1, n, n + 1))

    @property
    def trace(self) -> Trace:
        """The correct trace (engine.trace)."""
        if self._trace is None:
            from bptrace.engine.step import trace

            self._trace = trace(self.scenario)
        return self._trace

    def variants(self) -> list[Variant]:
        if self._variants is None:
            self._variants = variants(self.scenario)
        return self._variants

    def variant_values(self, q: Quantity) -> list[float | None]:
        return [self.value(q, v.knobs) for v in self.variants()]

    def rounded_variants(self, digits: int) -> list[Knobs]:
        return [dataclasses.replace(v.knobs, round_digits=digits) for v in self.variants()]

    def rounded_values(self, q: Quantity, digits: int) -> list[float | None]:
        return [self.value(q, k) for k in self.rounded_variants(digits)]

    def expected(self, q: Quantity) -> float:
        """The exact float64 value of q."""
        from bptrace.engine.quantities import value

        if q.kind in STEP_KINDS and steps_of(q) != 1:
            # N > 1 by the trajectories (tested against engine.step); also N = 0, which names.value
            # currently reads as 1 (θ@0 and E_total@0 are the values before any update)
            v = self.value(q, Knobs())
            if v is None:
                from bptrace.errors import NumericalError

                raise NumericalError(
                    _("{name} cannot be computed in float64 (the training diverges)").format(name=q.name)
                )
            return v
        return value(q, self.trace)

    def step(self, k: Mistakes) -> Trace | None:
        """The hooked step from the scenario's parameters (None where it overflows), cached."""
        mk = k.dynamics() if isinstance(k, Knobs) else k
        if mk not in self._steps:
            from bptrace.engine.step import trace

            try:
                self._steps[mk] = self.trace if mk == NO_MISTAKES else trace(self.scenario, mistakes=mk)
            except (BptraceError, FloatingPointError, ZeroDivisionError, OverflowError, ValueError):
                self._steps[mk] = None
        return self._steps[mk]

    def state(self, k: Mistakes, n: int) -> Params | None:
        """The variant's parameters after n updates, or None (diverged, or not tried beyond HOOKED_MAX_STEPS)."""
        mk = k.dynamics() if isinstance(k, Knobs) else k
        states = self._trajectories.setdefault(mk, {0: mk.initial_params(self.scenario)})
        if n in states:
            return states[n]
        start = max(i for i in states if i <= n)
        fast = None
        if n > HOOKED_MAX_STEPS:
            fast = self.scenario if mk == NO_MISTAKES else mk.equivalent_scenario(self.scenario)
            if fast is None:
                return None
        stops = sorted({w for w in self._wanted if start < w < n} | {n})
        for stop in stops:
            current = states[start]
            if current is not None:
                current = self._advance(mk, fast, current, stop - start)
            states[stop] = current
            start = stop
        return states[n]

    def _advance(self, mk: Mistakes, fast: Scenario | None, params: Params, steps: int) -> Params | None:
        """params after `steps` more updates: the hooked step repeated, or the fast path for many."""
        import dataclasses as dc

        from bptrace.engine.step import trace

        try:
            if fast is not None and steps > HOOKED_MAX_STEPS:
                from bptrace.engine.train import train

                layers = tuple(dc.replace(layer, weights=w, biases=b) for layer, w, b in zip(fast.layers, *params))
                final = train(fast.with_changes(layers=layers), steps).final
                return tuple(layer.weights for layer in final.layers), tuple(layer.biases for layer in final.layers)
            for _step in range(steps):
                t = trace(self.scenario, mistakes=mk, params=params)
                params = tuple(lt.new_weights for lt in t.layers), tuple(lt.new_biases for lt in t.layers)
            return params
        except (BptraceError, FloatingPointError, ZeroDivisionError, OverflowError, ValueError):
            return None

    def prefetch(self, knobs: list[Knobs], n: int) -> None:
        """Run the trajectories of many variants to n updates ahead of the values asked for."""
        for k in knobs:
            self.state(k, n)

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
        import numpy as np

        from bptrace.engine.step import loss_of

        s = self.scenario
        kind = q.kind
        if k.steps_shift and kind not in STEP_KINDS:
            return None  # off-by-one only concerns values after N updates
        if k.delta_sign and kind not in SIGNED_KINDS:
            return None  # a sign convention for δ only
        if k.delta_sign == 1 and kind != "delta":
            return None
        r = rounder(k.round_digits)
        mk = k.dynamics()
        if kind in STEP_KINDS:
            n = steps_of(q) + k.steps_shift
            if n < 0:
                return None
            if n == 1 and kind == "after":
                st1 = self.step(mk)
                return None if st1 is None else st1.loss_after
            state = self.state(mk, n)
            if state is None:
                return None
            if kind == "after":
                return loss_of(s, state, mk)
            return _read_param(state, s.parameter(q.param or ""), k)
        if kind == "param":
            return _read_param(mk.initial_params(s), s.parameter(q.param or ""), k)
        st = self.step(mk)
        if st is None:
            return None
        m = s.samples
        sample = None if q.sample is None else q.sample - 1
        row_of_pass = s.objective.row(q.sample, q.corrupt)  # the row of a per-pass array
        reduction = k.reduction or s.reduction

        def scalar(x: Any) -> float:
            return float(r(np.asarray(x, dtype=float)))

        def reduce(per_sample: np.ndarray) -> float:
            if reduction == "mean":
                return scalar(per_sample.mean())
            if reduction == "sum":
                return scalar(per_sample.sum())
            return scalar(per_sample.mean() / m)

        def per_pass(column: np.ndarray) -> float:
            """One pass's value, or the batch value: reduce over samples, each the sum of its passes."""
            if sample is not None:
                return float(column[row_of_pass])
            return reduce(_per_sample(s, column))

        if kind == "grad":
            p = s.parameter(q.param or "")
            lt = st.layers[p.layer - 1]
            if sample is None:
                if p.kind == "weight":
                    row, col = _position(p, k)
                    return float(lt.grad_weights[row, col])
                return float(lt.grad_biases[0 if p.row is None else p.row])
            return scalar(_per_sample(s, _sample_grad(s, st, p, k))[sample])
        if kind == "E_total":
            return st.loss if sample is None else float(st.sample_losses[sample])
        if kind == "E":
            j = s.output_layer.neurons.index(q.neuron or "")
            column = st.loss_terms[:, j]  # one row per sample
            return float(column[sample]) if sample is not None else reduce(column)
        if kind == "factor":
            p = s.parameter(q.param or "")
            if p.kind == "bias":
                return 1.0  # ∂net/∂b = 1
            _row, col = _position(p, k)
            return float(_source(s, st, p.layer - 1, k)[row_of_pass, col])
        layer, row = s.neuron(q.neuron or "")
        if kind == "out" and layer == 0:
            return float(s.all_inputs()[row_of_pass, row])
        lt = st.layers[layer - 1]
        sign = -1.0 if k.delta_sign else 1.0
        if kind == "net":
            return float(lt.net[row_of_pass, row])
        if kind == "out":
            return float(lt.out[row_of_pass, row])
        if kind == "dout_dnet":
            return float(lt.dout_dnet[row_of_pass, row])
        if kind == "dE_dout":
            return sign * per_pass(lt.dE_dout[:, row])
        if kind == "delta":
            return sign * per_pass(lt.delta[:, row])
        if kind == "path":
            _layer, kk = s.neuron(q.other or "")
            # the hooked step keeps its path terms; the correct one leaves them to Trace.path_terms
            terms = st.path_terms(layer, row) if lt.paths is None else lt.paths[:, row, :]
            return sign * per_pass(terms[:, kk])
        return None


def _source(s: Scenario, st: Trace, li: int, k: Mistakes) -> np.ndarray:
    """What layer li's weights multiply in ∂net/∂w: the inputs, or the layer below's out (its net under net-for-out)."""
    if li == 0:
        return s.all_inputs()
    below = st.layers[li - 1]
    return below.net if k.net_used_for_out(li - 1) else below.out


def _position(p: Parameter, k: Mistakes) -> tuple[int, int]:
    """Where the variant keeps weight p: a student who reads W the other way round has w_rc at (c, r)."""
    assert p.row is not None and p.col is not None
    if p.layer - 1 in k.transpose_forward:
        return p.col, p.row
    return p.row, p.col


def _read_param(state: Params, p: Parameter, k: Mistakes) -> float:
    weights, biases = state
    li = p.layer - 1
    if p.kind == "weight":
        row, col = _position(p, k)
        return float(weights[li][row, col])
    # a shared bias spread over its neurons (bias_per_neuron) is read at its first neuron
    return float(biases[li][0 if p.row is None else p.row])


def _per_sample(s: Scenario, per_pass: np.ndarray) -> np.ndarray:
    """Per-pass values -> per-sample values (a sample's windows add up)."""
    return s.objective.per_sample(per_pass)


def _sample_grad(s: Scenario, st: Trace, p: Parameter, k: Mistakes) -> np.ndarray:
    """∂E_s/∂θ per pass under the variant: δ_row·out_col for a weight, δ (or Σδ when shared) for a bias
    (the L2 term is not part of a sample's gradient, as in Trace.sample_grad)."""
    li = p.layer - 1
    delta = st.layers[li].delta
    if p.kind == "weight":
        row, col = _position(p, k)
        return delta[:, row] * _source(s, st, li, k)[:, col]
    shared_grad = (p.row is None and not k.bias_per_neuron) or k.bias_as_shared
    if shared_grad:
        return delta.sum(axis=1)
    return delta[:, 0 if p.row is None else p.row].copy()


def describe(variant: Variant, q: Quantity) -> str:
    """The variant's detail, made specific to the quantity where that helps (off-by-one: which step;
    early-rounding: every count of digits that gives this answer)."""
    if variant.code == "early-rounding" and len(variant.also) > 1:
        counts = [str(k) for k in variant.also]
        if len(counts) < 5:
            said = _("{some} or {last}").format(some=", ".join(counts[:-1]), last=counts[-1])
        else:
            said = _("{first} to {last}").format(first=counts[0], last=counts[-1])
        return _early_rounding(said, variant.shows)
    if variant.code == "off-by-one-step" and q.steps is not None:
        n = q.steps + variant.knobs.steps_shift
        given = f"{q.steps:,}"
        if q.kind == "after":
            if n == 0:
                return _("the loss before any update, given for after {given}").format(given=q.steps)
            return ngettext(
                "the loss after {n} update, given for after {given}",
                "the loss after {n} updates, given for after {given}",
                n,
            ).format(n=f"{n:,}", given=given)
        if n == 0:
            return _("{param} before any update, given for after {given}").format(param=q.param, given=q.steps)
        return ngettext(
            "{param} after {n} update, given for after {given}", "{param} after {n} updates, given for after {given}", n
        ).format(param=q.param, n=f"{n:,}", given=given)
    return variant.detail
