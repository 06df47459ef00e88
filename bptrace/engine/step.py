"""Forward pass, loss, backward pass and update of one training step -> Trace. Pure numpy; never prints.

forward:   net⁽ˡ⁾ = out⁽ˡ⁻¹⁾ · W⁽ˡ⁾ᵀ + b⁽ˡ⁾,   out⁽ˡ⁾ = f(net⁽ˡ⁾)
output:    δ⁽ᴸ⁾ = ∂E_s/∂out ⊙ f′(net⁽ᴸ⁾)        (softmax: the full Jacobian; with cross_entropy δ = out − t)
hidden:    ∂E_s/∂out⁽ˡ⁾ = δ⁽ˡ⁺¹⁾ · W⁽ˡ⁺¹⁾,     δ⁽ˡ⁾ = ∂E_s/∂out⁽ˡ⁾ ⊙ f′(net⁽ˡ⁾)
gradients: ∂E/∂W⁽ˡ⁾ = reduce_s(δ⁽ˡ⁾ₛ ⊗ out⁽ˡ⁻¹⁾ₛ),  ∂E/∂b = reduce_s(δ) (shared bias: Σ over the layer)
L2:        E += λ/(2m)·Σ W² over every weight (not the biases), so ∂E/∂W gains λ/m·W
update:    θ⁺ = θ − η·∂E/∂θ, every update computed from the weights before the step (Mazur's rule).

The step has a hook at each place a student can go wrong (`Mistakes`): the loss gradient used, the
activation derivative used, net used for out, the weights back-propagated through, the path terms kept,
the bias handling, the learning rate and the 1/m, the update's sign, and rounding of every intermediate.
The misconceptions `check` diagnoses (grading/diagnose.py) are settings of these hooks; with no
Mistakes (the default) the step is the correct one, operation for operation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bptrace import functions as network
from bptrace.engine.trace import LayerTrace, Trace
from bptrace.errors import NumericalError
from bptrace.i18n import _

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from bptrace.model.scenario import Scenario, ScenarioChanges

# How a student's f′ departs from the right one, per layer (all written in out, as by hand):
#   omitted                δ = ∂E/∂out, the factor f′(net) left out (f′ itself is still known)
#   sigma_of_out           σ′ applied to out: σ(out)·(1 − σ(out))
#   out_one_minus_out      the sigmoid's rule out(1 − out) (for tanh)
#   one_minus_out_squared  the tanh's rule 1 − out² (for a sigmoid)
#   out                    out itself (for relu)
#   of_net                 the right rule in out, but evaluated at net: net(1 − net), 1 − net²
FPrimeRule = Literal["omitted", "sigma_of_out", "out_one_minus_out", "one_minus_out_squared", "out", "of_net"]
# Which paths through the layer above make up ∂E/∂out_j: all but k (drop), only k (only), only the one in
# j's own position (same), none (every path term written as 0)
PathHow = Literal["drop", "only", "same", "none"]
Reduction = Literal["mean", "sum", "mean2"]  # mean2: the 1/m applied twice
Params = tuple[
    tuple["NDArray[np.float64]", ...], tuple["NDArray[np.float64]", ...]
]  # (weights per layer, biases per layer)


@dataclass(frozen=True)
class Mistakes:
    """Where a step departs from the correct one; every default is the correct step. Layers are 0-based."""

    # the loss and its gradient
    loss_scale: float = 1.0  # E and ∂E/∂out scaled (the ½ of ½(t − out)² dropped: 2)
    grad_scale: float = 1.0  # ∂E/∂out only (−2(t − out) with E keeping its ½: 2; the wrong sign: −1)
    output_delta: Literal["exact", "out_minus_t", "times_fprime"] = "exact"  # the output δ's formula
    # the activation's derivative and out
    fprime: tuple[tuple[int, FPrimeRule], ...] = ()  # (layer, rule): the f′ a layer uses
    net_for_out: tuple[tuple[int, Literal["forward", "gradient"]], ...] = ()
    # (layer, where): its net used for its out as the next layer's input (and so in ∂net/∂w), or in ∂net/∂w only
    # back-propagation
    through_updated: bool = False  # ∂E/∂out = Σ δ·w with the w already updated in this step
    transpose_backward: frozenset[int] = frozenset()  # Wᵀ used only when back-propagating through a layer
    path_filter: tuple[int, PathHow, int] | None = None  # (layer above, how, k)
    # the parameters as read, and the update
    transpose_forward: frozenset[int] = frozenset()  # a weight matrix read the other way round throughout
    learning_rate: float | None = None  # another η than the exercise's
    update_sign: float = 1.0  # θ⁺ = θ − sign·η·g
    reduction: Reduction | None = None  # another reduction than the exercise's
    update_biases: bool | None = None  # biases moved (or kept) against the exercise
    bias_per_neuron: bool = False  # a shared bias treated as one per neuron
    bias_as_shared: bool = False  # per-neuron biases each moved by the layer's Σδ
    # arithmetic
    round_digits: int | None = None  # every intermediate rounded to this many significant digits

    def rule(self, layer: int) -> FPrimeRule | None:
        return dict(self.fprime).get(layer)

    def net_used_for_out(self, layer: int) -> str | None:
        return dict(self.net_for_out).get(layer)

    def bias_modes(self, s: Scenario) -> list[str]:
        """Each layer's bias mode as the student holds it (a shared bias spread over its neurons)."""
        return [
            "neuron" if (layer.bias_mode == "shared" and self.bias_per_neuron) else layer.bias_mode
            for layer in s.layers
        ]

    def initial_params(self, s: Scenario) -> Params:
        """The scenario's parameters as the student holds them (a matrix read transposed, a shared bias spread)."""
        import numpy as np

        weights = tuple(
            layer.weights.T.copy() if i in self.transpose_forward else layer.weights.copy()
            for i, layer in enumerate(s.layers)
        )
        biases = tuple(
            np.full(layer.size, layer.biases[0])
            if mode == "neuron" and layer.bias_mode == "shared"
            else layer.biases.copy()
            for layer, mode in zip(s.layers, self.bias_modes(s))
        )
        return weights, biases

    def equivalent_scenario(self, s: Scenario) -> Scenario | None:
        """The exercise whose correct training is this mistaken training, when one exists (else None).

        Mistakes that change only the exercise's numbers (η, the update's sign, a scale of ∂E/∂out, the
        reduction, whether biases move, a matrix read transposed, the ½ of half_sse) are the correct step of
        another exercise, so θ@N and E_total@N under them run on the fast training path (engine/train.py).
        Read a weight of a transposed matrix at its swapped position.
        """
        import numpy as np

        rest = dataclasses.replace(
            self,
            loss_scale=1.0,
            grad_scale=1.0,
            learning_rate=None,
            update_sign=1.0,
            reduction=None,
            update_biases=None,
            transpose_forward=frozenset(),
        )
        if rest != NO_MISTAKES or self.reduction == "mean2":
            return None
        changes: ScenarioChanges = {}
        eta = s.learning_rate if self.learning_rate is None else self.learning_rate
        gscale = self.grad_scale
        if self.loss_scale == 2.0 and s.loss == "half_sse":
            changes["loss"] = "sse"  # 2·½(t − out)² = (t − out)², in E and in ∂E/∂out
        elif self.loss_scale != 1.0:
            return None
        if gscale != 1.0 or self.update_sign != 1.0:
            if s.l2:
                return None  # scaling η would scale the L2 term too
            eta = eta * gscale * self.update_sign
        changes["learning_rate"] = eta
        if self.reduction is not None:
            changes["reduction"] = self.reduction
        if self.update_biases is not None:
            changes["update_biases"] = self.update_biases
        if self.transpose_forward:
            changes["layers"] = tuple(
                dataclasses.replace(layer, weights=np.ascontiguousarray(layer.weights.T))
                if i in self.transpose_forward
                else layer
                for i, layer in enumerate(s.layers)
            )
        return s.with_changes(**changes)


NO_MISTAKES = Mistakes()


def rounder(digits: int | None) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """x -> x rounded to `digits` significant digits, elementwise, as a decimal would be written (the identity
    when digits is None)."""
    import numpy as np

    if digits is None:
        return lambda x: x
    import math

    spec = f".{digits - 1}e"

    def r(x: NDArray[np.float64]) -> NDArray[np.float64]:
        # each element through its decimal text (a loop: the arrays of one step are small, and
        # np.vectorize costs more than the formatting)
        a = np.asarray(x, dtype=float)
        out = [float(format(v, spec)) if math.isfinite(v) else v for v in a.ravel().tolist()]
        return np.array(out, dtype=float).reshape(a.shape)

    return r


def forward(
    scenario: Scenario,
    weights: list[NDArray[np.float64]] | tuple[NDArray[np.float64], ...] | None = None,
    biases: list[NDArray[np.float64]] | tuple[NDArray[np.float64], ...] | None = None,
    inputs: NDArray[np.float64] | None = None,
    mistakes: Mistakes = NO_MISTAKES,
) -> tuple[list[NDArray[np.float64]], list[NDArray[np.float64]]]:
    """(nets, outs) for every layer, with the scenario's parameters or the ones given."""
    import numpy as np

    r = rounder(mistakes.round_digits)
    modes = mistakes.bias_modes(scenario)
    a = scenario.all_inputs() if inputs is None else inputs
    nets, outs = [], []
    for i, layer in enumerate(scenario.layers):
        w = layer.weights if weights is None else weights[i]
        b = layer.bias_vector() if biases is None else _bias_vector(modes[i], biases[i], layer.size)
        with np.errstate(all="ignore"):  # overflow is reported below as one clear error, not a warning
            z = r(a @ w.T + b)
            out = r(network.activate(layer.activation, z, layer.param))
        if not (np.all(np.isfinite(z)) and np.all(np.isfinite(out))):
            raise NumericalError(
                _("net of layer {layer} overflows float64").format(layer=layer.index),
                file=scenario.file,
                hint=_("use smaller weights, inputs or learning rate"),
            )
        nets.append(z)
        outs.append(out)
        # hook net-for-out: the next layer reads this layer's net where its out belongs
        a = z if mistakes.net_used_for_out(i) == "forward" else out
    return nets, outs


def batch_loss(
    scenario: Scenario, out: NDArray[np.float64], targets: NDArray[np.float64] | None = None
) -> tuple[NDArray[np.float64], float]:
    """(per-output terms, batch loss) for the output activations `out` (every forward pass's row)."""
    import numpy as np

    t = scenario.targets if targets is None else targets
    with np.errstate(all="ignore"):
        try:
            terms = scenario.objective.terms(out, t, list(scenario.output_layer.neurons))
        except NumericalError as exc:  # name the file the numbers came from
            exc.file = exc.file or scenario.file
            raise
        per_sample = terms.sum(axis=1)
        total = per_sample.mean() if scenario.reduction == "mean" else per_sample.sum()
    if not np.isfinite(total):
        raise NumericalError(
            _("the loss overflows float64"),
            file=scenario.file,
            hint=_("use smaller weights, inputs or learning rate"),
        )
    return terms, float(total)


def hinge_argument(scenario: Scenario, out: NDArray[np.float64]) -> NDArray[np.float64]:
    """The argument of the objective's own kink per sample (the hinge's Δ + s(x_c) − s(x)), from the output
    rows; `out` may carry leading axes. Objective.argument, for an objective that has one."""
    arg = scenario.objective.argument(out)
    assert arg is not None, "the objective has no kink of its own"
    return arg


def penalty(
    scenario: Scenario, weights: list[NDArray[np.float64]] | tuple[NDArray[np.float64], ...] | None = None
) -> float:
    """The L2 penalty λ/(2m)·Σ W² over every entry of every weight matrix (biases are never penalised)."""
    if not scenario.l2:
        return 0.0
    import numpy as np

    ws = weights if weights is not None else [layer.weights for layer in scenario.layers]
    with np.errstate(all="ignore"):  # an overflow is reported by the caller as one clear error
        return float(scenario.l2 / (2 * scenario.samples) * sum(float((w * w).sum()) for w in ws))


def _loss(
    scenario: Scenario, out: NDArray[np.float64], weights: tuple[NDArray[np.float64], ...] | None, mistakes: Mistakes
) -> tuple[NDArray[np.float64], NDArray[np.float64], float, float]:
    """(terms, per-sample losses, E with the L2 penalty, the penalty) of the outputs, through the loss hooks."""
    import numpy as np

    terms, data = batch_loss(scenario, out)
    per_sample = terms.sum(axis=1)
    mk = mistakes
    if mk.loss_scale != 1.0 or mk.round_digits is not None or mk.reduction is not None:
        r = rounder(mk.round_digits)
        m = scenario.samples
        terms = r(terms * mk.loss_scale)
        per_sample = r(terms.sum(axis=1))
        reduction = mk.reduction or scenario.reduction
        if reduction == "mean":
            total = per_sample.mean()
        elif reduction == "sum":
            total = per_sample.sum()
        else:  # mean2: the 1/m applied twice
            total = per_sample.mean() / m
        data = float(r(np.asarray(total)))
    pen = penalty(scenario, weights)
    if not np.isfinite(pen):
        raise NumericalError(
            _("the L2 penalty overflows float64"), file=scenario.file, hint=_("use smaller weights or λ")
        )
    loss = data + pen
    if mk.round_digits is not None and scenario.l2:
        loss = float(rounder(mk.round_digits)(np.asarray(loss)))
    return terms, per_sample, loss, pen


def loss_of(scenario: Scenario, params: Params, mistakes: Mistakes = NO_MISTAKES) -> float:
    """E (with the L2 penalty) for the parameters `params`, through the forward and loss hooks."""
    outs = forward(scenario, params[0], params[1], mistakes=mistakes)[1]
    return _loss(scenario, outs[-1], params[0], mistakes)[2]


def trace(
    scenario: Scenario,
    *,
    through_updated_weights: bool = False,
    mistakes: Mistakes | None = None,
    params: Params | None = None,
) -> Trace:
    """Run one training step and record every quantity.

    through_updated_weights=True reproduces a common mistake (and the error in Mazur's published
    "error after the first round"): back-propagating into a hidden layer through weights of the layer
    above that were already updated in this step. It exists for `compare` and `check`, never as a default.
    `mistakes` sets the step's other hooks (check's misconceptions); `params` starts the step from other
    parameters than the scenario's (as mistakes.initial_params lays them out).
    """
    import numpy as np

    mk = mistakes or NO_MISTAKES
    if through_updated_weights:
        mk = dataclasses.replace(mk, through_updated=True)
    if params is None and mk != NO_MISTAKES:
        params = mk.initial_params(scenario)
    weights = None if params is None else params[0]
    nets, outs = forward(scenario, weights, None if params is None else params[1], mistakes=mk)
    terms, per_sample, loss, before = _loss(scenario, outs[-1], weights, mk)
    with np.errstate(all="ignore"):  # non-finite values are reported after the step as one clear error
        traces = _backward(scenario, nets, outs, mk, params)
    done = [t for t in traces if t is not None]
    for t in done:
        for arr in (t.dE_dout, t.delta, t.grad_weights, t.grad_biases, t.new_weights, t.new_biases):
            if not np.all(np.isfinite(arr)):
                raise NumericalError(
                    _("a gradient or update of the step overflows float64"),
                    file=scenario.file,
                    hint=_("use smaller weights, inputs or learning rate"),
                )
    new_weights = tuple(t.new_weights for t in done)
    after_outs = forward(scenario, new_weights, [t.new_biases for t in done], mistakes=mk)[1][-1]
    loss_after, after = _loss(scenario, after_outs, new_weights, mk)[2:]
    return Trace(
        scenario=scenario,
        layers=done,
        loss_terms=terms,
        sample_losses=per_sample,
        loss=loss,
        loss_after=loss_after,
        penalty=before,
        penalty_after=after,
        through_updated_weights=mk.through_updated,
    )


def _fprime(
    rule: FPrimeRule | None,
    activation: str,
    z: NDArray[np.float64],
    a: NDArray[np.float64],
    p: float | None,
    by_hand: bool = False,
) -> NDArray[np.float64]:
    """f′ as the step uses it: the activation's own derivative (stable, from net; by_hand: from the rounded
    out, as a student rounding by hand computes it, Activation.prime_by_hand), or a student's rule."""
    if rule is None or rule == "omitted":
        if by_hand:
            return network.activation(activation).prime_by_hand(z, a, p)
        return network.activation_derivative(activation, z, p)
    if rule == "sigma_of_out":
        so = network.activate("sigmoid", a)  # σ applied to out once more
        return so * (1.0 - so)
    if rule == "out_one_minus_out":
        return a * (1.0 - a)
    if rule == "one_minus_out_squared":
        return 1.0 - a * a
    if rule == "out":
        return a.copy()
    # of_net: the rule written in out, evaluated at net
    return z * (1.0 - z) if activation == "sigmoid" else 1.0 - z * z


def _backward(
    scenario: Scenario,
    nets: list[NDArray[np.float64]],
    outs: list[NDArray[np.float64]],
    mk: Mistakes,
    params: Params | None,
) -> list[LayerTrace | None]:
    """The backward pass and the updates, layer by layer from the output."""
    import numpy as np

    r = rounder(mk.round_digits)
    m = scenario.samples
    reduction = mk.reduction or scenario.reduction
    scale = 1.0 / m if reduction == "mean" else 1.0 if reduction == "sum" else 1.0 / (m * m)
    modes = mk.bias_modes(scenario)
    eta = scenario.learning_rate if mk.learning_rate is None else mk.learning_rate
    update_biases = scenario.update_biases if mk.update_biases is None else mk.update_biases
    L = len(scenario.layers)
    traces: list[LayerTrace | None] = [None] * L
    paths: list[NDArray[np.float64] | None] = [None] * L
    objective = scenario.objective
    # ∂E_s/∂out of every pass (the hinge: −1 through x and +1 through x_c while the margin is violated),
    # and where the objective itself has its corner (there it takes objective.corner_derivative)
    dE_dout = objective.output_gradient(outs[-1], scenario.targets)
    corner = objective.corner(outs[-1])
    if mk.loss_scale != 1.0 or mk.grad_scale != 1.0:
        dE_dout = dE_dout * (mk.loss_scale * mk.grad_scale)  # hook: the loss gradient used
    dE_dout = r(dE_dout)
    inputs = scenario.all_inputs()
    t = scenario.targets
    for i in reversed(range(L)):
        layer = scenario.layers[i]
        z, a = nets[i], outs[i]
        weights = layer.weights if params is None else params[0][i]
        biases = layer.biases if params is None else params[1][i]
        rule = mk.rule(i)
        dout_dnet = r(_fprime(rule, layer.activation, z, a, layer.param, mk.round_digits is not None))
        if i == L - 1 and mk.output_delta == "out_minus_t":
            delta = a - t  # the cross-entropy δ, used with a squared error
        elif i == L - 1 and mk.output_delta == "times_fprime":
            delta = (a - t) * dout_dnet  # f′ multiplied in although the loss cancels it
        elif i == L - 1 and mk.round_digits is not None and objective.cancels(layer.activation):
            delta = a - t  # by hand, with rounded numbers, δ = out − t where the loss cancels f′
        elif (
            i == L - 1
            and mk == NO_MISTAKES  # the correct step only: a student's ∂E/∂out is kept as it is
            and layer.function.elementwise
            and objective.cancels(layer.activation)
        ):
            # sigmoid + bce: ∂E/∂out·σ′ = out − t. Where σ′ takes its saturated form, ∂E/∂out (from the
            # rounded out) and σ′ (from net) no longer cancel in float64: there δ = out − t itself
            delta = np.where(layer.function.saturated(z), a - t, dE_dout * dout_dnet)
        elif rule == "omitted":
            delta = dE_dout  # hook: f′ left out of δ
        elif layer.activation == "softmax":
            # δ_j = Σ_i ∂E/∂out_i · out_i([i = j] − out_j) = out_j(∂E/∂out_j − Σ_i ∂E/∂out_i·out_i)
            delta = a * (dE_dout - (dE_dout * a).sum(axis=1, keepdims=True))
        else:
            delta = dE_dout * dout_dnet
        delta = r(delta)
        # hook net-for-out: ∂net/∂w read from the layer below's net instead of its out
        a_prev = inputs if i == 0 else nets[i - 1] if mk.net_used_for_out(i - 1) else outs[i - 1]
        # ∂E/∂W = (1/m) Σ_s δ_s ⊗ out_prev_s  (= dZ·A_prevᵀ/m in Ng's notation), + λ/m·W with L2
        grad_w = scale * (delta.T @ a_prev)
        if scenario.l2:
            grad_w = grad_w + scenario.l2 / m * weights
        grad_w = r(grad_w)
        if modes[i] == "neuron":
            grad_b = np.full(layer.size, scale * delta.sum()) if mk.bias_as_shared else scale * delta.sum(axis=0)
        elif modes[i] == "shared":
            grad_b = np.array([scale * delta.sum()])
        else:
            grad_b = np.zeros(0)
        grad_b = r(grad_b)
        # θ⁺ = θ − η·∂E/∂θ  (hooks: η, the update's sign, rounding of the step)
        if mk.round_digits is not None:
            new_w = r(weights - mk.update_sign * r(eta * grad_w))
        elif mk.update_sign == 1.0:
            new_w = weights - eta * grad_w
        else:
            new_w = weights + eta * grad_w
        if not update_biases:
            new_b = biases.copy()
        elif mk.round_digits is None and mk.update_sign == 1.0:
            new_b = biases - eta * grad_b
        else:
            new_b = r(biases - mk.update_sign * r(eta * grad_b))
        traces[i] = LayerTrace(
            net=z,
            out=a,
            dE_dout=dE_dout,
            dout_dnet=dout_dnet,
            delta=delta,
            grad_weights=grad_w,
            grad_biases=grad_b,
            new_weights=new_w,
            new_biases=new_b,
            kink=network.is_kink(layer.activation, z, layer.param)
            | (corner if corner is not None and i == L - 1 else False),
            paths=paths[i],
        )
        if i > 0:
            # ∂E_s/∂out_j = Σ_k δ_k · w_kj  (every path through the layer above)
            w_used = new_w if mk.through_updated else weights  # hook: the weights back-propagated through
            if i in mk.transpose_backward:
                w_used = w_used.T
            if mk == NO_MISTAKES:
                dE_dout = delta @ w_used  # the path terms are Trace.path_terms, not kept here
                continue
            terms = r(delta[:, None, :] * w_used.T[None, :, :])  # P[s, j, k] = δ_k·w_kj
            f = mk.path_filter
            if f is not None and f[0] == i:
                mask = path_mask(f[1], f[2], w_used.shape[1], w_used.shape[0])
                if f[1] == "none":
                    terms = terms * mask  # every path term written as 0
                dE_dout = r((terms * mask).sum(axis=2))
            elif mk.round_digits is not None:
                dE_dout = r(terms.sum(axis=2))
            else:
                dE_dout = delta @ w_used
            paths[i - 1] = terms
    for i in range(L - 1):
        layer_trace = traces[i]
        assert layer_trace is not None
        layer_trace.paths = paths[i]
    return traces


def path_mask(how: PathHow, k: int, below: int, above: int) -> NDArray[np.float64]:
    """mask[j, κ] = 1 for the paths kept: all but κ (drop), only κ (only), κ = j (same), none."""
    import numpy as np

    if how == "drop":
        mask = np.ones((below, above))
        mask[:, k] = 0.0
    elif how == "only":
        mask = np.zeros((below, above))
        mask[:, k] = 1.0
    elif how == "same":
        mask = np.eye(below, above)
    else:
        mask = np.zeros((below, above))
    return mask


def _bias_vector(mode: str, b: NDArray[np.float64], size: int) -> NDArray[np.float64]:
    import numpy as np

    if mode == "neuron":
        return b
    if mode == "shared":
        return np.full(size, b[0])
    return np.zeros(size)


def loss_with(scenario: Scenario, weights: list[NDArray[np.float64]], biases: list[NDArray[np.float64]]) -> float:
    """The batch loss E (with the L2 penalty, if any) for the given parameters (finite differences, training)."""
    return batch_loss(scenario, forward(scenario, weights, biases)[1][-1])[1] + penalty(scenario, weights)


def step(scenario: Scenario, *, through_updated_weights: bool = False) -> Scenario:
    """The scenario after one update (for θ@N and training)."""
    t = trace(scenario, through_updated_weights=through_updated_weights)
    layers = tuple(
        dataclasses.replace(layer, weights=lt.new_weights, biases=lt.new_biases)
        for layer, lt in zip(scenario.layers, t.layers)
    )
    return scenario.with_changes(layers=layers)
