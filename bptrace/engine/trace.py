"""The Trace: every quantity of one training step as data (numbers in arrays, names computed on demand).

Conventions (docs/quantities.md):
  * E_s is sample s's loss, the sum of its per-output terms; the batch loss E is (1/m)·Σ_s E_s
    (reduction "mean", the 1/m of Andrew Ng's deep learning course) or Σ_s E_s (reduction "sum"). With one
    sample both are E_s.
  * Per-sample derivatives (dE/dout, dout/dnet, delta, path terms) are derivatives of E_s.
  * Gradients dE/dθ are of the batch loss E: the mean (or sum) over samples of dE_s/dθ, plus λ/m·θ
    for a weight when the scenario has an L2 penalty (E += λ/(2m)·Σ W²).
  * δ_X = ∂E_s/∂net_X (Mazur's sign: δ_o1 = +0.138498562).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bptrace.display import Displayable
from bptrace.model.scenario import Parameter, Scenario

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


@dataclass
class LayerTrace:
    """The forward and backward quantities of one layer; arrays have one row per sample."""

    net: NDArray[np.float64]  # (m, n)   net_X = Σ_j w_Xj·out_j + b_X
    out: NDArray[np.float64]  # (m, n)   out_X = f(net_X)
    dE_dout: NDArray[np.float64]  # (m, n)   ∂E_s/∂out_X (for hidden layers Σ over the layer above of δ·w)
    dout_dnet: NDArray[np.float64]  # (m, n)   f′(net_X) (softmax: the diagonal of its Jacobian)
    delta: NDArray[np.float64]  # (m, n)   δ_X = ∂E_s/∂net_X
    grad_weights: NDArray[np.float64]  # (n, n_prev) ∂E/∂W over the batch
    grad_biases: NDArray[np.float64]  # (n,), (1,) for a shared bias, or (0,)
    new_weights: NDArray[np.float64]
    new_biases: NDArray[np.float64]
    kink: NDArray[np.bool_]  # (m, n) bool: net exactly at a point where f is not differentiable
    # hidden layers of a step with Mistakes: the path terms P[s, j, k] = δ_k·w_kj through the layer above as
    # the step summed them into dE_dout (it may drop or zero some); else None (see Trace.path_terms)
    paths: NDArray[np.float64] | None = None


@dataclass(repr=False)
class Trace(Displayable):
    """One training step of a scenario, as data. Renderers display it; nothing here prints."""

    scenario: Scenario
    layers: list[LayerTrace]
    loss_terms: NDArray[np.float64]  # (m, outputs) each output's term of E_s
    sample_losses: NDArray[np.float64]  # (m,) E_s
    loss: float  # E over the batch, before the update (with the L2 penalty, if any)
    loss_after: float  # E over the batch with the updated parameters (with the L2 penalty)
    penalty: float = 0.0  # λ/(2m)·Σ W² before the update (0 without l2)
    penalty_after: float = 0.0  # the same after the update
    through_updated_weights: bool = False  # a deliberate mistake, for compare/check (never the default)
    notes: list[str] = field(default_factory=list)

    # ---- how it shows (bptrace/display.py): the tables of `bptrace run`, without the verification ----

    def _view(self) -> object:
        from bptrace.render.terminal import TraceView

        return TraceView(self)

    def _summary(self) -> str:
        m = self.sample_losses.shape[0]
        return (
            f"{self.scenario.title!r}: {len(self.layers)} layers, {m} sample{'s' if m != 1 else ''}, "
            f"E {self.loss:.9g} -> {self.loss_after:.9g} after the update"
        )

    # ---- lookups shared by every renderer and by the vocabulary ----

    def activations(self, index: int) -> NDArray[np.float64]:
        """out of layer `index` for every forward pass (index 0: the inputs)."""
        return self.scenario.all_inputs() if index == 0 else self.layers[index - 1].out

    def value(self, p: Parameter) -> float:
        layer = self.scenario.layers[p.layer - 1]
        if p.kind == "weight":
            return float(layer.weights[p.row, p.col])
        return float(layer.biases[0 if p.row is None else p.row])

    def grad(self, p: Parameter) -> float:
        t = self.layers[p.layer - 1]
        if p.kind == "weight":
            return float(t.grad_weights[p.row, p.col])
        return float(t.grad_biases[0 if p.row is None else p.row])

    def new_value(self, p: Parameter) -> float:
        t = self.layers[p.layer - 1]
        if p.kind == "weight":
            return float(t.new_weights[p.row, p.col])
        return float(t.new_biases[0 if p.row is None else p.row])

    def change(self, p: Parameter) -> float:
        """θ⁺ − θ: −η·∂E/∂θ for a parameter that is updated, 0 for a frozen one."""
        t = self.layers[p.layer - 1]
        if p.kind == "weight":
            return float(t.new_weights[p.row, p.col] - self.scenario.layers[p.layer - 1].weights[p.row, p.col])
        i = 0 if p.row is None else p.row
        return float(t.new_biases[i] - self.scenario.layers[p.layer - 1].biases[i])

    def frozen(self, p: Parameter) -> bool:
        """True for a parameter this step does not update (biases with update_biases: false)."""
        return p.kind == "bias" and not self.scenario.update_biases

    @property
    def data_loss(self) -> float:
        """E without the L2 penalty: the mean (or sum) of the samples' losses."""
        return self.reduce(self.sample_losses)

    def data_grad(self, p: Parameter) -> float:
        """∂E/∂θ without the L2 term: the mean (or sum) of the per-sample gradients."""
        return self.reduce(self.sample_grad(p))

    def l2_grad(self, p: Parameter) -> float:
        """The L2 penalty's part of ∂E/∂θ: λ/m·θ for a weight, 0 for a bias."""
        s = self.scenario
        return s.l2 / s.samples * self.value(p) if p.kind == "weight" and s.l2 else 0.0

    def pass_grad(self, p: Parameter) -> NDArray[np.float64]:
        """Each forward pass's part of ∂E_s/∂θ: δ·(θ's source activation), one row per pass."""
        t = self.layers[p.layer - 1]
        if p.kind == "weight":
            # ∂E_s/∂w_ij = δ_i · out_j   (the weight's source activation)
            return t.delta[:, p.row] * self.activations(p.layer - 1)[:, p.col]
        if p.row is None:
            shared: NDArray[np.float64] = t.delta.sum(axis=1)  # a shared bias feeds every neuron: Σ_i δ_i
            return shared
        return t.delta[:, p.row].copy()

    def sample_grad(self, p: Parameter) -> NDArray[np.float64]:
        """∂E_s/∂θ for each sample s (the batch gradient is their mean, or sum, plus l2_grad)."""
        return self.per_sample(self.pass_grad(p))

    def per_sample(self, per_pass: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per-pass values -> per-sample values (the objective adds a sample's passes: the hinge's two windows)."""
        return self.scenario.objective.per_sample(per_pass)

    def path_terms(self, index: int, row: int) -> NDArray[np.float64]:
        """For hidden neuron `row` of layer `index`: δ_k·w_kj for each neuron k above, shape (m, n_above).

        Their sum over k is ∂E_s/∂out_j. With through_updated_weights the (mistaken) updated w are used.
        """
        above = self.layers[index]  # LayerTrace of layer index + 1
        w = above.new_weights if self.through_updated_weights else self.scenario.layers[index].weights
        return above.delta * w[:, row][None, :]

    def reduce(self, per_sample: NDArray[np.float64]) -> float:
        """Combine per-sample values as the batch loss does: mean (1/m Σ) or sum."""
        return float(per_sample.mean() if self.scenario.reduction == "mean" else per_sample.sum())
