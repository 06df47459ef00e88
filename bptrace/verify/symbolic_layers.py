"""SymPy's derivative of the loss layer by layer: deep and wide networks without the expression's blow-up.

symbolic.py writes E_s as one SymPy expression in θ through every layer above θ's; its size grows with the
paths from θ to the loss (Π of the widths above: 640 for the first layer of 64-64-64-10, 2⁹⁹ for a
100-layer network of width 2), and so do SymPy's time to build and differentiate it and the time to
evaluate the derivative. Here the same loss is written layer by layer, each layer's outputs an undefined
SymPy function of θ, and SymPy's own differentiation rules do the rest:

    out_r(θ)  = f(c + a·θ)                          θ's neuron (a = the activation θ multiplies, 1 for a bias)
    net_k(θ)  = b_k + Σ_j w_kj·Z_j(θ)               every layer above (Z_j: the layer below's outputs)
    out_k(θ)  = f(N_1(θ), …, N_n(θ))                N_k: that layer's nets (f elementwise: f(N_k(θ)))
    E_s(θ)    = Σ_o ℓ(Z_o(θ), t_o)                  the output layer's outs Z_o

SymPy differentiates each of these with respect to θ (sp.diff: for an undefined function SymPy's chain rule
gives f′(N(θ))·Derivative(N(θ), θ)), once per layer shape (a template: the activation, its parameter and the
width below); the derivative of the loss is then these derivatives evaluated from θ's layer up, in
DIGITS-digit arithmetic, each Derivative(Z_j(θ), θ) being the number the layer below's template gave (forward
mode). SymPy's derivative of a layer is linear in the Derivatives of the layer below (the chain rule;
checked on every template), so its coefficients, which depend on the sample and not on θ, are
evaluated once per layer and sample and shared by every parameter below (`Coefficients`). No
derivative of the engine's (its backward pass, its closed-form f′ in functions.py) is used, and no
number of the engine's: the values of Z_j(θ) and N_k(θ) are the 30-digit forward pass's
(symbolic.high_precision_forward), as in symbolic.py.

Cost: a handful of SymPy derivatives per network (one per distinct layer shape), and per parameter and
sample one evaluation per weight above θ's layer (`work`): linear in the network's size, not in its paths.
symbolic.gradients uses this route when θ's whole-expression template would have more than LAYERED_ABOVE
paths or more than WHOLE_DEPTH layers; below that the whole expression is differentiated at once (small
networks print what they printed; both routes give the same value to 20 digits, tests/test_symbolic.py).
A shared bias is derived along the diagonal: its copies in every neuron of its layer are seeded together,
which is Σ_k ∂E/∂θ_k (symbolic.PER_NEURON).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bptrace.model.scenario import Parameter, Scenario
    from bptrace.verify.programs import Program
    from bptrace.verify.symbolic import HighPrecisionForward

LAYERED_ABOVE = 64  # symbolic.gradients: the layered route above this many paths from θ to the loss,
WHOLE_DEPTH = 3  # or for θ more than this many layers below the output, its layer included
DERIVATIONS = [0]  # SymPy differentiations done by this module's templates (cache misses), for tests


def supported(scenario: Scenario, p: Parameter) -> bool:
    """The layered route covers θ below the output layer, in an elementwise layer, for a loss of the outputs
    (Objective.layered: E_s a sum of one pass's per-output terms)."""
    layer = scenario.layers[p.layer - 1]
    return p.layer < len(scenario.layers) and layer.function.elementwise and scenario.objective.layered


def work(scenario: Scenario, p: Parameter) -> int:
    """Evaluations of one sample's derivative of θ: the weights above θ's layer it passes through (≥ 1)."""
    sizes = [layer.size for layer in scenario.layers[p.layer - 1 :]]
    below = 1 if not (p.kind == "bias" and p.row is None) else sizes[0]
    total = 0
    for n in sizes[1:]:
        total += below * n
        below = n
    return total + sizes[-1] + 1


def _real(name: str) -> Any:
    import sympy as sp

    return sp.Symbol(name, real=True)


def _function(name: str, theta: Any) -> Any:
    import sympy as sp

    return sp.Function(name, real=True)(theta)


@functools.lru_cache(maxsize=32)
def _base(activation: str, param: float) -> Program:
    """d out_r/dθ of out_r = f(c + a·θ): inputs θ, a, c."""
    import sympy as sp

    from bptrace.verify import programs

    theta, a, c = _real("theta"), _real("a"), _real("c")
    DERIVATIONS[0] += 1
    derivative = sp.diff(programs._sympy_activation(activation, c + a * theta, param), theta)
    return programs.Program([derivative], [theta, a, c])


@functools.lru_cache(maxsize=64)
def _net(n: int) -> Program:
    """d net/dθ of net = b + Σ_j w_j·Z_j(θ): inputs w_1 … w_n, then Derivative(Z_j(θ), θ)."""
    import sympy as sp

    from bptrace.verify import programs

    theta, b = _real("theta"), _real("b")
    w = [_real(f"w_{j}") for j in range(n)]
    z = [_function(f"Z_{j}", theta) for j in range(n)]
    DERIVATIONS[0] += 1
    derivative = sp.diff(b + sp.Add(*[wj * zj for wj, zj in zip(w, z)]), theta)
    return programs.Program([derivative], w + [sp.Derivative(zj, theta) for zj in z], dot=True)


def _linear(derivatives: list[Any], slopes: list[Any], values: list[Any]) -> Program:
    """The coefficients c_ij of SymPy's derivatives in the Derivatives D_j (Program over `values`).

    By SymPy's chain rule each derivative is Σ_j c_ij·D_j with c_ij free of every D (checked here: with
    every D set to 0 it is 0, and no c_ij holds a D), so c_ij = ∂(derivative_i)/∂D_j (SymPy's diff) gives
    it exactly; the coefficients depend on the sample only, not on θ, and are evaluated once per sample
    and layer for all the parameters below (`Coefficients`)."""
    import sympy as sp

    from bptrace.verify import programs

    zero = dict.fromkeys(slopes, sp.Integer(0))
    coefficients = [[sp.diff(d, slope) for slope in slopes] for d in derivatives]
    for d, row in zip(derivatives, coefficients):
        if d.xreplace(zero) != 0 or any(c.has(*slopes) for c in row):
            raise ValueError(f"not linear in the Derivatives: {d}")  # never for a chain rule
    return programs.Program([c for row in coefficients for c in row], values)


@functools.lru_cache(maxsize=64)
def _activation(activation: str, param: float, size: int) -> Program:
    """d out_k/dθ of out_k = f(N_1(θ), …, N_size(θ)) (elementwise: size 1) as Σ_j c_kj·Derivative(N_j(θ), θ):
    the program of the c_kj (row by row), inputs N_k(θ)."""
    import sympy as sp

    from bptrace.verify import programs

    theta = _real("theta")
    nets = [_function(f"N_{k}", theta) for k in range(size)]
    outs = [programs._sympy_activation(activation, z, param, nets) for z in nets]
    DERIVATIONS[0] += 1
    derivatives = [sp.diff(o, theta) for o in outs]
    return _linear(derivatives, [sp.Derivative(z, theta) for z in nets], nets)


@functools.lru_cache(maxsize=32)
def _loss(loss: str, n: int) -> Program:
    """dE_s/dθ of E_s = Σ_o ℓ(Z_o(θ), t_o) as Σ_o c_o·Derivative(Z_o(θ), θ): the program of the c_o,
    inputs Z_o(θ), then t_o."""
    import sympy as sp

    from bptrace.verify import programs

    theta = _real("theta")
    outs = [_function(f"Z_{o}", theta) for o in range(n)]
    targets = [_real(f"t_{o}") for o in range(n)]
    DERIVATIONS[0] += 1
    total = sp.Add(*[programs._sympy_loss_term(loss, z, t, n) for z, t in zip(outs, targets)])
    return _linear([sp.diff(total, theta)], [sp.Derivative(z, theta) for z in outs], outs + targets)


class Coefficients:
    """The templates' coefficients per (layer, sample), evaluated once for every parameter derived."""

    def __init__(self, scenario: Scenario, hp: HighPrecisionForward) -> None:
        self.scenario = scenario
        self.hp = hp
        self._layers: dict[tuple[int, int], list[Any]] = {}
        self._loss: dict[int, list[Any]] = {}

    def layer(self, j: int, s: int) -> list[Any]:
        """Layer j's (1-based) c_k (elementwise) or rows c_kj (softmax), in forward pass s."""
        key = (j, s)
        found = self._layers.get(key)
        if found is None:
            from bptrace.verify import programs

            spec = self.scenario.layers[j - 1]
            nets = self.hp.nets[j][s]
            if spec.function.elementwise:
                run = _activation(spec.activation, programs._param(spec), 1).run
                found = [run([z])[0] for z in nets]
            else:
                flat = _activation(spec.activation, programs._param(spec), spec.size).run(list(nets))
                found = [flat[k * spec.size : (k + 1) * spec.size] for k in range(spec.size)]
            self._layers[key] = found
        return found

    def loss(self, s: int) -> list[Any]:
        """The loss's c_o in forward pass s."""
        found = self._loss.get(s)
        if found is None:
            outs = self.hp.outs[-1][s]
            found = _loss(self.scenario.loss, len(outs)).run([*outs, *self.hp.targets[s]])
            self._loss[s] = found
        return found


def clear_cache() -> None:
    """Forget the templates (benchmarks of a cold start)."""
    for template in (_base, _net, _activation, _loss):
        template.cache_clear()


def derivative(
    scenario: Scenario, hp: HighPrecisionForward, p: Parameter, s: int, coefficients: Coefficients | None = None
) -> Any:
    """∂E_s/∂θ of sample s (an mpmath number, DIGITS digits), the layers' templates evaluated from θ's layer up.

    Inside mpmath.workdps(DIGITS); `coefficients`: shared by the parameters of one run (else made here)."""
    import mpmath

    from bptrace.verify import programs

    c = coefficients or Coefficients(scenario, hp)
    l = p.layer  # 1-based; hp is indexed by layer, 0 = the inputs
    layer = scenario.layers[l - 1]
    theta = mpmath.mpf(
        float(layer.weights[p.row, p.col]) if p.kind == "weight" else float(layer.biases[0 if p.row is None else p.row])
    )
    base = _base(layer.activation, programs._param(layer))
    net = hp.nets[l][s]
    a = hp.outs[l - 1][s][p.col] if p.col is not None else mpmath.mpf(1)
    rows = list(range(layer.size)) if p.row is None else [p.row]  # a shared bias: every neuron, seeded together
    below = [base.run([theta, a, net[r] - a * theta])[0] for r in rows]
    for j in range(l + 1, len(scenario.layers) + 1):
        spec = scenario.layers[j - 1]
        w = hp.weights[j]
        dnet = _net(len(rows)).run
        if len(rows) == len(w[0]):
            d_nets = [dnet([*w[k], *below])[0] for k in range(spec.size)]
        else:
            d_nets = [dnet([*(w[k][r] for r in rows), *below])[0] for k in range(spec.size)]
        slopes = c.layer(j, s)
        if spec.function.elementwise:  # d out_k/dθ = c_k·d net_k/dθ (SymPy's f′(N(θ))·Derivative(N(θ), θ))
            below = [ck * dk for ck, dk in zip(slopes, d_nets)]
        else:
            below = [mpmath.fdot(row, d_nets) for row in slopes]
        rows = list(range(spec.size))
    return mpmath.fdot(c.loss(s), below)
