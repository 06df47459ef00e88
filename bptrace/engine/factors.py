"""The chain-rule factors of every gradient and path term, decided once; renderers only format them.

For a parameter θ feeding neuron x (its source activation a, or 1 for a bias):

    ∂E_s/∂θ = ∂E_s/∂out_x × ∂out_x/∂net_x × ∂net_x/∂θ       (every activation but softmax)
    ∂E_s/∂θ = δ_x × ∂net_x/∂θ                                (softmax: ∂out/∂net is a Jacobian, not a factor)
    ∂E_s/∂b = δ_x1 + δ_x2 + …                                (a bias shared by a layer: a sum, ∂net_x/∂b = 1)

Where the loss cancels f′ (sigmoid with bce) the three factors are still written: each is finite and a learner
computes each by hand; that δ = out − t there is said in the backward pass, not hidden in the gradient.

A path term of a hidden neuron j through neuron k above is ∂E_k/∂out_j = δ_k × w_kj (∂E/∂out_j is their sum).
Symbols are Unicode (∂, δ); `key` spells one in ASCII, as the JSON does (dE/dout_o1, delta_o1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Parameter

Combine = Literal["product", "sum"]


@dataclass(frozen=True)
class Factor:
    """One factor (or, in a sum, one term): its symbol and its value in each forward pass."""

    symbol: str  # ∂E/∂out_o1, ∂out_o1/∂net_o1, ∂net_o1/∂w5, δ_o1, w5
    values: NDArray[np.float64]  # shape (passes,)

    @property
    def key(self) -> str:
        """The ASCII spelling of the JSON: dE/dout_o1, delta_o1."""
        return key(self.symbol)


@dataclass(frozen=True)
class Chain:
    """∂E_s/∂θ (or a path term) as factors combined by a product or (a shared bias) a sum."""

    target: str  # ∂E/∂w5, ∂E_o1/∂out_h1
    combine: Combine
    factors: tuple[Factor, ...]
    values: NDArray[np.float64]  # the combined value in each forward pass (the trace's own, not recomputed here)

    @property
    def key(self) -> str:
        """The target in the JSON's ASCII spelling: dE/dw5, dE_o1/dout_h1."""
        return key(self.target)

    @property
    def operator(self) -> str:
        return " × " if self.combine == "product" else " + "

    def formula(self) -> str:
        """∂E/∂out_o1 × ∂out_o1/∂net_o1 × ∂net_o1/∂w5, or δ_h1 + δ_h2."""
        return self.operator.join(f.symbol for f in self.factors)

    def at(self, i: int) -> list[float]:
        """The factors' values in forward pass i."""
        return [float(f.values[i]) for f in self.factors]

    @property
    def delta_form(self) -> bool:
        """True where the factors are δ × ∂net/∂θ (softmax), not ∂E/∂out × ∂out/∂net × ∂net/∂θ."""
        return self.combine == "product" and self.factors[0].symbol.startswith("δ_")


def key(symbol: str) -> str:
    """A factor's symbol in the JSON's ASCII spelling."""
    return symbol.replace("δ_", "delta_").replace("∂", "d")


def parameter(trace: Trace, p: Parameter) -> Chain:
    """The factors of ∂E_s/∂θ, one value per forward pass (their batch combination is Trace.grad)."""
    import numpy as np

    s = trace.scenario
    layer = s.layers[p.layer - 1]
    lt = trace.layers[p.layer - 1]
    target = f"∂E/∂{p.name}"
    products = trace.pass_grad(p)
    if p.kind == "bias" and p.row is None:
        # a shared bias feeds every neuron x of its layer with ∂net_x/∂b = 1: Σ_x δ_x
        terms = tuple(Factor(f"δ_{x}", lt.delta[:, r]) for r, x in enumerate(layer.neurons))
        return Chain(target, "sum", terms, products)
    r = p.row or 0
    x = layer.neurons[r]
    passes = lt.delta.shape[0]
    last_values = np.ones(passes) if p.kind == "bias" else trace.activations(p.layer - 1)[:, p.col]
    last = Factor(f"∂net_{x}/∂{p.name}", last_values)
    if layer.activation == "softmax":
        first: tuple[Factor, ...] = (Factor(f"δ_{x}", lt.delta[:, r]),)
    else:
        first = (Factor(f"∂E/∂out_{x}", lt.dE_dout[:, r]), Factor(f"∂out_{x}/∂net_{x}", lt.dout_dnet[:, r]))
    return Chain(target, "product", (*first, last), products)


def paths(trace: Trace, index: int, row: int) -> list[Chain]:
    """The path terms of hidden neuron `row` of layer `index`: ∂E_k/∂out_j = δ_k × w_kj for each k above.

    With through_updated_weights the (mistaken) updated weights are the ones used, as in the engine.
    """
    import numpy as np

    s = trace.scenario
    above = s.layers[index]
    j = s.layers[index - 1].neurons[row]
    values = trace.path_terms(index, row)
    w = trace.layers[index].new_weights if trace.through_updated_weights else above.weights
    delta = trace.layers[index].delta
    passes = delta.shape[0]
    return [
        Chain(
            f"∂E_{k}/∂out_{j}",
            "product",
            (Factor(f"δ_{k}", delta[:, q]), Factor(above.weight_name(q, row), np.full(passes, w[q, row]))),
            values[:, q],
        )
        for q, k in enumerate(above.neurons)
    ]
