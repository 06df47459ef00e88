"""SymPy's own derivative of the max-margin loss (seed 003), independent of the engine's backward pass.

For a parameter θ, every other parameter and every input is a number; the forward pass is written in
SymPy from θ's layer on, for the true window x and the corrupt window x_c, and

    J_s = max(0, Δ + s(x_c) − s(x))   (the active piece chosen at θ's value; at the corner h′(0) = 0, like relu′(0))
    E   = (1/m)·Σ_s J_s  (or Σ_s J_s with reduction "sum"),  + λ/(2m)·Σ W² with L2

is differentiated by SymPy with respect to θ and evaluated at θ's value. Only the neuron θ feeds is
symbolic in θ's own layer (the others are numbers), so each derivative stays small.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bptrace import functions as network

if TYPE_CHECKING:
    from bptrace.model.scenario import Parameter, Scenario

DIGITS = 30  # numbers enter SymPy as Floats of this precision


def gradient(scenario: Scenario, p: Parameter) -> float:
    """∂E/∂θ of the max-margin batch loss, derived by SymPy (L2 included)."""
    import sympy as sp

    theta = sp.Symbol("theta", real=True)
    m = scenario.samples
    total: Any = 0
    for k in range(m):
        score, score0 = _score(scenario, p, theta, scenario.inputs[k])
        corrupt, corrupt0 = _score(scenario, p, theta, scenario.corrupt[k])  # type: ignore[index]
        arg = sp.Float(scenario.margin, DIGITS) + corrupt - score
        # max(0, a) is the piece a where a > 0 at θ's value and the constant 0 elsewhere (also at a = 0:
        # h′(0) = 0, the engine's convention); choosing the piece numerically spares SymPy a Heaviside
        # of a long expression, and SymPy still differentiates the piece itself.
        if scenario.margin + corrupt0 - score0 > 0:
            total += arg
    if scenario.reduction == "mean":
        total = total / m
    if scenario.l2 and p.kind == "weight":
        total += sp.Float(scenario.l2, DIGITS) / (2 * m) * theta**2
    derivative = sp.diff(total, theta).subs(theta, sp.Float(_value(scenario, p), DIGITS))
    return float(derivative.evalf(DIGITS))


def _value(scenario: Scenario, p: Parameter) -> float:
    layer = scenario.layers[p.layer - 1]
    if p.kind == "weight":
        return float(layer.weights[p.row, p.col])  # type: ignore[index]
    return float(layer.biases[0 if p.row is None else p.row])


def _score(scenario: Scenario, p: Parameter, theta: Any, x: Any) -> tuple[Any, float]:
    """(s(x) as a SymPy expression in θ, everything else a number; s(x) at θ's value, as a float).

    Each layer's activations are numbers (float64, at the current parameters) plus SymPy expressions for
    the neurons that depend on θ; a net is its number plus, written in SymPy, the change each symbolic
    input brings: net_r = net_r(θ₀) + Σ_i w_ri·(a_i(θ) − a_i(θ₀)), and in θ's own layer + (θ − θ₀)·x_j.
    """
    import numpy as np
    import sympy as sp

    a = np.asarray(x, dtype=float)
    symbolic: dict[int, Any] = {}
    for layer in scenario.layers:
        nets = a @ layer.weights.T + layer.bias_vector()
        exprs: dict[int, Any] = {}
        for r in range(layer.size):
            change = [
                sp.Float(float(layer.weights[r, i]), DIGITS) * (e - sp.Float(float(a[i]), DIGITS))
                for i, e in symbolic.items()
            ]
            if layer.index == p.layer:
                if p.kind == "weight" and p.row == r:
                    theta0 = float(layer.weights[r, p.col])  # type: ignore[index]
                    change.append((theta - sp.Float(theta0, DIGITS)) * sp.Float(float(a[p.col]), DIGITS))
                elif p.kind == "bias" and p.row in (None, r):
                    theta0 = float(layer.biases[0 if p.row is None else p.row])
                    change.append(theta - sp.Float(theta0, DIGITS))
            if change:
                exprs[r] = sp.Float(float(nets[r]), DIGITS) + sp.Add(*change)
        outs = network.activate(layer.activation, nets[None, :], layer.slope)[0]
        if layer.activation == "softmax" and exprs:
            every = [exprs.get(r, sp.Float(float(nets[r]), DIGITS)) for r in range(layer.size)]
            symbolic = {r: network.sympy_activation("softmax", every[r], layer.slope, every) for r in range(layer.size)}
        else:
            symbolic = {r: network.sympy_activation(layer.activation, e, layer.slope) for r, e in exprs.items()}
        a = outs
    return symbolic.get(0, sp.Float(float(a[0]), DIGITS)), float(a[0])
