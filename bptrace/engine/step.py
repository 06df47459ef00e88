"""Forward pass, loss, backward pass and update of one training step -> Trace. Pure numpy; never prints.

forward:   net⁽ˡ⁾ = out⁽ˡ⁻¹⁾ · W⁽ˡ⁾ᵀ + b⁽ˡ⁾,   out⁽ˡ⁾ = f(net⁽ˡ⁾)
output:    δ⁽ᴸ⁾ = ∂E_s/∂out ⊙ f′(net⁽ᴸ⁾)        (softmax: the full Jacobian; with cross_entropy δ = out − t)
hidden:    ∂E_s/∂out⁽ˡ⁾ = δ⁽ˡ⁺¹⁾ · W⁽ˡ⁺¹⁾,     δ⁽ˡ⁾ = ∂E_s/∂out⁽ˡ⁾ ⊙ f′(net⁽ˡ⁾)
gradients: ∂E/∂W⁽ˡ⁾ = reduce_s(δ⁽ˡ⁾ₛ ⊗ out⁽ˡ⁻¹⁾ₛ),  ∂E/∂b = reduce_s(δ) (shared bias: Σ over the layer)
L2:        E += λ/(2m)·Σ W² over every weight (not the biases), so ∂E/∂W gains λ/m·W
update:    θ⁺ = θ − η·∂E/∂θ, every update computed from the weights before the step (Mazur's rule).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bptrace import functions as network
from bptrace.engine.trace import LayerTrace, Trace
from bptrace.errors import NumericalError

if TYPE_CHECKING:
    import numpy as np

    from bptrace.model.scenario import Scenario


def forward(
    scenario: Scenario,
    weights: list[np.ndarray] | None = None,
    biases: list[np.ndarray] | None = None,
    inputs: np.ndarray | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(nets, outs) for every layer, with the scenario's parameters or the ones given."""
    import numpy as np

    a = scenario.all_inputs() if inputs is None else inputs
    nets, outs = [], []
    for i, layer in enumerate(scenario.layers):
        w = layer.weights if weights is None else weights[i]
        b = layer.bias_vector() if biases is None else _bias_vector(layer.bias_mode, biases[i], layer.size)
        with np.errstate(all="ignore"):  # overflow is reported below as one clear error, not a warning
            z = a @ w.T + b
            a = network.activate(layer.activation, z, layer.slope)
        if not (np.all(np.isfinite(z)) and np.all(np.isfinite(a))):
            raise NumericalError(
                f"net of layer {layer.index} overflows float64",
                file=scenario.file,
                hint="use smaller weights, inputs or learning rate",
            )
        nets.append(z)
        outs.append(a)
    return nets, outs


def batch_loss(scenario: Scenario, out: np.ndarray, targets: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """(per-output terms, batch loss) for the output activations `out` (every forward pass's row)."""
    import numpy as np

    t = scenario.targets if targets is None else targets
    with np.errstate(all="ignore"):
        if scenario.max_margin:
            terms = np.maximum(0.0, hinge_argument(scenario, out))[:, None]
        else:
            try:
                terms = network.loss_terms(scenario.loss, out, t, list(scenario.output_layer.neurons))
            except NumericalError as exc:  # name the file the numbers came from
                exc.file = exc.file or scenario.file
                raise
        per_sample = terms.sum(axis=1)
        total = per_sample.mean() if scenario.reduction == "mean" else per_sample.sum()
    if not np.isfinite(total):
        raise NumericalError(
            "the loss overflows float64", file=scenario.file, hint="use smaller weights, inputs or learning rate"
        )
    return terms, float(total)


def hinge_argument(scenario: Scenario, out: np.ndarray) -> np.ndarray:
    """max_margin: Δ + s(x_c) − s(x) per sample, from the output rows (true windows first, then corrupt)."""
    m = scenario.samples
    return scenario.margin + out[m:, 0] - out[:m, 0]


def penalty(scenario: Scenario, weights: list[np.ndarray] | None = None) -> float:
    """The L2 penalty λ/(2m)·Σ W² over every entry of every weight matrix (biases are never penalised)."""
    if not scenario.l2:
        return 0.0
    import numpy as np

    ws = weights if weights is not None else [layer.weights for layer in scenario.layers]
    with np.errstate(all="ignore"):  # an overflow is reported by the caller as one clear error
        return float(scenario.l2 / (2 * scenario.samples) * sum(float((w * w).sum()) for w in ws))


def trace(scenario: Scenario, *, through_updated_weights: bool = False) -> Trace:
    """Run one training step and record every quantity.

    through_updated_weights=True reproduces a common mistake (and the error in Mazur's published
    "error after the first round"): back-propagating into a hidden layer through weights of the layer
    above that were already updated in this step. It exists for `compare` and `check`, never as a default.
    """
    import numpy as np

    nets, outs = forward(scenario)
    terms, data_loss = batch_loss(scenario, outs[-1])
    with np.errstate(all="ignore"):  # non-finite values are reported after the step as one clear error
        traces = _backward(scenario, nets, outs, through_updated_weights)
    done = [t for t in traces if t is not None]
    for t in done:
        for arr in (t.dE_dout, t.delta, t.grad_weights, t.grad_biases, t.new_weights, t.new_biases):
            if not np.all(np.isfinite(arr)):
                raise NumericalError(
                    "a gradient or update of the step overflows float64",
                    file=scenario.file,
                    hint="use smaller weights, inputs or learning rate",
                )
    new_weights = [t.new_weights for t in done]
    _, data_after = batch_loss(scenario, forward(scenario, new_weights, [t.new_biases for t in done])[1][-1])
    before, after = penalty(scenario), penalty(scenario, new_weights)
    if not (np.isfinite(before) and np.isfinite(after)):
        raise NumericalError("the L2 penalty overflows float64", file=scenario.file, hint="use smaller weights or λ")
    return Trace(
        scenario=scenario,
        layers=done,
        loss_terms=terms,
        sample_losses=terms.sum(axis=1),
        loss=data_loss + before,
        loss_after=data_after + after,
        penalty=before,
        penalty_after=after,
        through_updated_weights=through_updated_weights,
    )


def _backward(
    scenario: Scenario, nets: list[np.ndarray], outs: list[np.ndarray], through_updated_weights: bool
) -> list[LayerTrace | None]:
    """The backward pass and the updates, layer by layer from the output."""
    import numpy as np

    m = scenario.samples
    scale = 1.0 / m if scenario.reduction == "mean" else 1.0
    L = len(scenario.layers)
    traces: list[LayerTrace | None] = [None] * L
    hinge_kink = None
    if scenario.max_margin:
        # J_s = max(0, Δ + s_c − s): ∂J/∂s = −1 and ∂J/∂s_c = +1 while the margin is violated, else 0
        # (at the corner, argument exactly 0, the engine takes 0, like relu′(0) = 0)
        arg = hinge_argument(scenario, outs[-1])
        active = (arg > 0).astype(float)
        dE_dout = np.concatenate([-active, active])[:, None]
        hinge_kink = np.concatenate([arg == 0, arg == 0])[:, None]
    else:
        dE_dout = network.loss_gradient(scenario.loss, outs[-1], scenario.targets)
    inputs = scenario.all_inputs()
    for i in reversed(range(L)):
        layer = scenario.layers[i]
        z, a = nets[i], outs[i]
        dout_dnet = network.activation_derivative(layer.activation, z, a, layer.slope)
        if layer.activation == "softmax":
            # δ_j = Σ_i ∂E/∂out_i · out_i([i = j] − out_j) = out_j(∂E/∂out_j − Σ_i ∂E/∂out_i·out_i)
            delta = a * (dE_dout - (dE_dout * a).sum(axis=1, keepdims=True))
        else:
            delta = dE_dout * dout_dnet
        a_prev = inputs if i == 0 else outs[i - 1]
        # ∂E/∂W = (1/m) Σ_s δ_s ⊗ out_prev_s  (= dZ·A_prevᵀ/m in Ng's notation), + λ/m·W with L2
        grad_w = scale * (delta.T @ a_prev)
        if scenario.l2:
            grad_w = grad_w + scenario.l2 / m * layer.weights
        if layer.bias_mode == "neuron":
            grad_b = scale * delta.sum(axis=0)
        elif layer.bias_mode == "shared":
            grad_b = np.array([scale * delta.sum()])
        else:
            grad_b = np.zeros(0)
        eta = scenario.learning_rate
        new_w = layer.weights - eta * grad_w
        new_b = layer.biases - eta * grad_b if scenario.update_biases else layer.biases.copy()
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
            kink=network.is_kink(layer.activation, z)
            | (hinge_kink if hinge_kink is not None and i == L - 1 else False),
        )
        if i > 0:
            # ∂E_s/∂out_j = Σ_k δ_k · w_kj  (every path through the layer above)
            w_used = new_w if through_updated_weights else layer.weights
            dE_dout = delta @ w_used
    return traces


def _bias_vector(mode: str, b: np.ndarray, size: int) -> np.ndarray:
    import numpy as np

    if mode == "neuron":
        return b
    if mode == "shared":
        return np.full(size, b[0])
    return np.zeros(size)


def loss_with(scenario: Scenario, weights: list[np.ndarray], biases: list[np.ndarray]) -> float:
    """The batch loss E (with the L2 penalty, if any) for the given parameters (finite differences, training)."""
    return batch_loss(scenario, forward(scenario, weights, biases)[1][-1])[1] + penalty(scenario, weights)


def step(scenario: Scenario, *, through_updated_weights: bool = False) -> Scenario:
    """The scenario after one update (for θ@N and training)."""
    import dataclasses

    t = trace(scenario, through_updated_weights=through_updated_weights)
    layers = tuple(
        dataclasses.replace(layer, weights=lt.new_weights, biases=lt.new_biases)
        for layer, lt in zip(scenario.layers, t.layers)
    )
    return scenario.with_changes(layers=layers)
