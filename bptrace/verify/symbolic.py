"""An independent SymPy derivation of every gradient, of the local factors, and of the textbook forms.

How ∂E/∂θ is derived here (nothing is taken from the engine's backward pass, no closed-form derivative
from network.py is used, and `simplify` is never called):

  For a parameter θ of layer l that feeds neuron r, the loss of one sample is written as a SymPy
  expression with θ as a symbol, built from the SymPy forms network.sympy_activation / sympy_loss_term:

      net_r = c + a·θ        (a = the activation θ multiplies, 1 for a bias; c = the rest of the net)
      out_r = f(net_r)
      net_k = d_k + v_k·out_r,  out_k = f(net_k)               (layer l+1: v_k = the weight from r to k)
      net_m = Σ_k w_mk·out_k + b_m, ...                        (every layer above written out in full)
      E_s   = Σ_o loss_term(out_o, t_o)

  E_s is the objective's SymPy form (Objective.sympy_terms) of the outputs of each of its passes, each
  pass written out from θ's layer up in symbols of its own (Objective.sympy_windows: one pass, or the
  max-margin hinge's true window x and corrupt window x_c, θ one symbol in both). For the hinge's
  J_s = max(0, Δ + s_c − s) the template is its piece Δ + s_c − s (Objective.sympy_terms, piece=True):
  which piece a sample is on is decided by its 30-digit argument, on the engine's side of the corner
  (Objective.sympy_values), and a sample whose margin is met (or at the corner, h′(0) = 0) is 0 without
  evaluation (Objective.inactive).

  SymPy differentiates E_s with respect to θ (sp.diff; SymPy applies its own differentiation rules to
  the whole expression, so no chain rule of ours or of the engine's is involved). The derivative is then
  evaluated at the scenario's numbers in DIGITS-digit arithmetic (mpmath), and the batch gradient is
  ∂E/∂θ = (1/m)·Σ_s ∂E_s/∂θ (reduction "mean") or Σ_s ∂E_s/∂θ ("sum").

  A shared bias feeds every neuron of its layer. Its derivative is taken per neuron, as
  ∂E/∂θ = Σ_k ∂E/∂θ_k where θ_k is θ's copy in neuron k (E(θ, …, θ) differentiated along the
  diagonal), from the same one-neuron template the layer's weights use (a = 1), so it costs no
  template of its own. On request (shared_method=SINGLE_SYMBOL) net_k = c_k + θ for every k and the
  whole layer is symbolic, up to SHARED_PATH_LIMIT paths from θ to the loss; the result records which
  method was used.

Why it is fast. The constants c, a, d_k, v_k, w, b and t are SymPy *symbols* while SymPy differentiates,
and numbers only when the derivative is evaluated. The expression therefore depends only on the layer
of θ and the shape of the network above it, not on which weight θ is: SymPy differentiates one
expression per layer ("template"), and each parameter and sample is an evaluation of that derivative
with its own numbers. Differentiating with the numbers in place is correct too but far slower (measured:
12.7 s against 0.15 s for the 139 parameters of a 4-8-8-3 network), because SymPy differentiates again for
every parameter and its automatic evaluation queries the assumption system on every Float subexpression.
Evaluation walks the derivative's expression DAG once per distinct subexpression (`Program`), which is
what `expr.evalf(subs=...)` computes, without re-walking shared subtrees.

Conventions: Heaviside(x, 0) makes relu′(0) = 0, leaky_relu′(0) = α and elu′(0) = α, as in the engine (each
registry entry's kink_note, bptrace.functions). The only
thing ever taken from the engine is, optionally, its float64 nets (`engine_nets`), and only to pick the
same side of each kink (relu, leaky_relu, elu): where the engine's net is exactly 0 the 30-digit net is set to
exactly 0 (so SymPy applies the convention at the kink; 0·DiracDelta(0) = 0 as in SymPy), and where
float64 rounding put the engine's net on the other side of 0 than the 30-digit one, the engine's value
is used. Without `engine_nets` the 30-digit forward pass decides the branches alone.

Cost: one template per layer (and per kind of bias); its size grows with the number of paths from θ's
neuron to the loss, Π of the widths of the layers above (320 for the first layer of 16-32-32-10).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bptrace.verify.programs import (  # shared with symbolic_layers.py
    DIGITS,
    Program,
    _activation_program,
    _elementwise,
    _loss_program,
    _param,
    _sympy_activation,
    _sympy_loss_term,
)
from bptrace.verify.tolerances import FLOOR, SYMPY_RTOL, sympy_agrees

if TYPE_CHECKING:
    import numpy as np

    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Parameter, Scenario
    from bptrace.objective import Objective

RTOL = SYMPY_RTOL  # SymPy vs float64: |engine − sympy| ≤ RTOL·|sympy| + FLOOR (tolerances.py)
ATOL = FLOOR
SHARED_PATH_LIMIT = 2000  # above this, a shared bias is differentiated neuron by neuron (see above)
EXPANDED_LIMIT = 20  # the fully expanded form in the parameters only for networks this small
FORM_PATH_LIMIT = 64  # compact forms list the paths to the outputs up to this many paths

SINGLE_SYMBOL = "single symbol"
PER_NEURON = "sum over the neurons the shared bias feeds"


@dataclass
class HighPrecisionForward:
    """nets and outs of every layer in DIGITS-digit arithmetic: [layer][sample][neuron], layer 0 = inputs."""

    nets: list[list[list[Any]]]
    outs: list[list[list[Any]]]
    targets: list[list[Any]]
    weights: list[list[list[Any]]]  # [layer][row][col], layer 0 unused
    biases: list[list[Any]]  # [layer][neuron] (the bias added to each neuron's net)


def high_precision_forward(scenario: Scenario, engine_nets: Sequence[np.ndarray] | None = None) -> HighPrecisionForward:
    """The forward pass with the SymPy forms, in DIGITS digits (independent of the engine's forward).

    engine_nets[i] (shape (m, n), e.g. Trace.layers[i].net): only used for kinked layers (relu, leaky_relu, elu), to
    stay on the engine's side of each kink (see the module docstring).
    """
    import mpmath

    with mpmath.workdps(DIGITS):
        # every forward pass: the samples, then (max_margin) their corrupt windows
        outs: list[list[list[Any]]] = [[[mpmath.mpf(float(v)) for v in row] for row in scenario.all_inputs()]]
        nets: list[list[list[Any]]] = [[]]
        weights: list[list[list[Any]]] = [[]]
        biases: list[list[Any]] = [[]]
        for i, layer in enumerate(scenario.layers):
            w = [[mpmath.mpf(float(v)) for v in row] for row in layer.weights]
            b = [mpmath.mpf(float(v)) for v in layer.bias_vector()]
            weights.append(w)
            biases.append(b)
            program = _activation_program(layer.activation, _param(layer), layer.size)
            layer_nets, layer_outs = [], []
            for s, a in enumerate(outs[-1]):
                z = [mpmath.fdot(w[k], a) + b[k] for k in range(layer.size)]
                if engine_nets is not None and layer.function.kinked:
                    z = [_same_side(zk, float(engine_nets[i][s, k])) for k, zk in enumerate(z)]
                # z holds mpmath numbers already, and this runs inside workdps(DIGITS): Program.run
                o = program.run(z) if not layer.function.elementwise else [program.run([zk])[0] for zk in z]
                layer_nets.append(z)
                layer_outs.append(o)
            nets.append(layer_nets)
            outs.append(layer_outs)
        targets = [[mpmath.mpf(float(v)) for v in row] for row in scenario.targets]
    return HighPrecisionForward(nets, outs, targets, weights, biases)


def _same_side(z: Any, engine: float) -> Any:
    """The 30-digit net z, moved onto the engine's side of the kink at 0 when float64 rounding differs."""
    import mpmath

    if engine == 0:
        return mpmath.mpf(0)
    if (engine > 0) != (z > 0):
        return mpmath.mpf(engine)
    return z


# ---------------------------------------------------------------------------------------------------
# Templates: E_s as a SymPy expression in θ, differentiated once per layer


@dataclass(frozen=True)
class _LayerSpec:
    activation: str
    size: int
    param: float


@dataclass
class _Template:
    """E_s(θ) with symbolic constants, SymPy's dE_s/dθ, and that derivative compiled for evaluation."""

    kind: str  # "neuron" (θ feeds one neuron) or "shared" (θ feeds the whole layer)
    groups: tuple[tuple[str, tuple[Any, ...]], ...]  # the symbols, in the program's input order
    loss: Any  # E_s
    derivative: Any  # sp.diff(E_s, θ)
    program: Program


def paths(sizes: Sequence[int], kind: str = "neuron") -> int:
    """Paths from θ to the loss: Π of the widths above θ's layer (× its width for a shared bias)."""
    count = sizes[0] if kind == "shared" else 1
    for n in sizes[1:]:
        count *= n
    return count


@functools.lru_cache(maxsize=64)
def _template(kind: str, layers: tuple[_LayerSpec, ...], objective: Objective) -> _Template:
    """Build E_s(θ) for a parameter of layers[0] (the layers up to the output) and differentiate it.

    Each of the objective's passes per sample (sympy_windows: one, or the hinge's x and x_c) is written
    from θ's layer up with symbols of its own (prefixed by the window); θ is one symbol for all of them.
    E_s is the objective's SymPy form of those passes' outputs (Objective.sympy_terms)."""
    import sympy as sp

    real = {"real": True}  # every number is real: SymPy's assumption queries answer at once (measured: ~25% faster)
    theta = sp.Symbol("theta", **real)
    groups: list[tuple[str, tuple[Any, ...]]] = [("theta", (theta,))]

    def named(prefix: str) -> Callable[[str, int], list[Any]]:
        def group(name: str, count: int) -> list[Any]:
            symbols = tuple(sp.Symbol(f"{prefix.replace(':', '_')}{name}_{k}", **real) for k in range(count))
            groups.append((prefix + name, symbols))
            return list(symbols)

        return group

    first = layers[0]
    n_out = layers[-1].size
    window_outs = []
    for prefix in objective.sympy_windows():
        group = named(prefix)
        if kind == "neuron":
            a = group("a", 1)[0]
            c = group("c", 1)[0]
            u = [c + a * theta]  # net_r = c + a·θ
        else:
            u = [ck + theta for ck in group("c", first.size)]  # net_k = c_k + θ for every neuron k
        if len(layers) > 1:
            outs = _above([_sympy_activation(first.activation, z, first.param) for z in u], layers, group)
        elif not _elementwise(first.activation):
            # θ's neuron is slot 0; the other nets are constants
            nets = u + (group("e", n_out - 1) if kind == "neuron" else [])
            outs = [_sympy_activation(first.activation, z, first.param, nets) for z in nets]
        else:
            # one elementwise output layer: only θ's own output depends on θ (or, shared, every one)
            outs = [_sympy_activation(first.activation, z, first.param) for z in u]
        window_outs.append(outs)
    loss_expr = sp.Add(*objective.sympy_terms(window_outs, named(""), n_out, piece=True))
    derivative = sp.diff(loss_expr, theta)
    inputs = [s for _, symbols in groups for s in symbols]
    return _Template(kind, tuple(groups), loss_expr, derivative, Program([derivative], inputs))


def _above(outs: list[Any], layers: tuple[_LayerSpec, ...], group: Callable[[str, int], list[Any]]) -> list[Any]:
    """The outputs of the network from the outs of θ's layer (layers[0]) on, every layer above in symbols.

    net_k = d_k + Σ_j v_kj·out_j in the layer above θ's (d: the part of the net that does not depend on θ),
    net_k = Σ_j w_kj·out_j + b_k in the layers after it."""
    import sympy as sp

    above = layers[1]
    v = group("v", above.size * len(outs))
    d = group("d", above.size)
    nets = [d[k] + sp.Add(*[v[k * len(outs) + j] * outs[j] for j in range(len(outs))]) for k in range(above.size)]
    outs = [_sympy_activation(above.activation, z, above.param, nets) for z in nets]
    for i, spec in enumerate(layers[2:], start=2):
        w = group(f"w{i}", spec.size * len(outs))
        b = group(f"b{i}", spec.size)
        nets = [sp.Add(*[w[k * len(outs) + j] * outs[j] for j in range(len(outs))], b[k]) for k in range(spec.size)]
        outs = [_sympy_activation(spec.activation, z, spec.param, nets) for z in nets]
    return outs


def clear_cache() -> None:
    """Forget the differentiated templates (for benchmarks that time a cold start)."""
    import sys

    _template.cache_clear()
    _terms_program.cache_clear()
    layers = sys.modules.get("bptrace.verify.symbolic_layers")
    if layers is not None:
        layers.clear_cache()
    _activation_program.cache_clear()
    _loss_program.cache_clear()


def _specs(scenario: Scenario, index: int) -> tuple[_LayerSpec, ...]:
    """The layers from `index` (0-based) up to the output, as the template needs them."""
    return tuple(_LayerSpec(layer.activation, layer.size, _param(layer)) for layer in scenario.layers[index:])


def _values(
    template: _Template,
    scenario: Scenario,
    hp: HighPrecisionForward,
    p: Parameter,
    s: int,
    row: int | None,
    own: dict[str, list[Any]],
) -> list[Any]:
    """The numbers for the template's symbols: parameter p (or its copy in neuron `row`), sample s (each of
    its passes, Objective.rows_of), and `own`, the objective's own symbols (Objective.sympy_values)."""
    objective = scenario.objective
    values = dict(own)
    for prefix, pass_row in zip(objective.sympy_windows(), objective.rows_of(s)):
        found = pass_values(template.kind, scenario, hp, p, pass_row, row, targets=objective.targets)
        values.update({name if name == "theta" else prefix + name: x for name, x in found.items()})
    return [x for name, _ in template.groups for x in values[name]]


def pass_values(
    kind: str, scenario: Scenario, hp: HighPrecisionForward, p: Parameter, s: int, row: int | None, *, targets: bool
) -> dict[str, list[Any]]:
    """The numbers for each symbol group of a template of `kind`, in forward pass s (a row of hp).

    targets=False: only the network's groups (theta, a, c, v, d, w…, b…), not the loss's (t, K, e)."""
    import mpmath

    l = p.layer  # 1-based; hp lists are indexed by layer (0 = inputs)
    layer = scenario.layers[l - 1]
    theta = mpmath.mpf(
        float(layer.weights[p.row, p.col]) if p.kind == "weight" else float(layer.biases[0 if p.row is None else p.row])
    )
    net, out, t = hp.nets[l][s], hp.outs[l][s], (hp.targets[s] if targets else [])
    r = row if row is not None else (-1 if p.row is None else p.row)  # -1: the whole layer (shared bias)
    values: dict[str, list[Any]] = {"theta": [theta]}
    if kind == "neuron":
        a = hp.outs[l - 1][s][p.col] if p.col is not None else mpmath.mpf(1)
        values["a"] = [a]
        values["c"] = [net[r] - a * theta]
        sym_rows = [r]
    else:
        values["c"] = [z - theta for z in net]
        sym_rows = list(range(layer.size))
    last = l == len(scenario.layers)
    if last and not targets:
        pass
    elif last:
        if not layer.function.elementwise and kind == "neuron":
            others = [k for k in range(layer.size) if k != r]
            values["e"] = [net[k] for k in others]
            values["t"] = [t[r]] + [t[k] for k in others]
        elif kind == "neuron":
            term = _loss_program(scenario.loss, layer.size)
            values["t"] = [t[r]]
            values["K"] = [mpmath.fsum(term([out[k], t[k]])[0] for k in range(layer.size) if k != r)]
        else:
            values["t"] = list(t)
    else:
        w_above = hp.weights[l + 1]
        values["v"] = [w_above[k][j] for k in range(len(w_above)) for j in sym_rows]
        if kind == "neuron":
            # d_k = net_k − v_k·out_r: the part of the net above that does not depend on θ
            values["d"] = [hp.nets[l + 1][s][k] - w_above[k][r] * out[r] for k in range(len(w_above))]
        else:
            values["d"] = list(hp.biases[l + 1])
        for i in range(2, len(scenario.layers) - l + 1):
            values[f"w{i}"] = [x for row_ in hp.weights[l + i] for x in row_]
            values[f"b{i}"] = list(hp.biases[l + i])
        if targets:
            values["t"] = list(t)
    return values


@dataclass(frozen=True)
class SymbolicGradient:
    """∂E/∂θ as derived by SymPy, evaluated in DIGITS digits."""

    name: str
    value: float  # ∂E/∂θ over the batch, rounded to float64
    digits: str  # the same to 20 significant digits
    per_sample: tuple[float, ...]  # ∂E_s/∂θ
    method: str  # SINGLE_SYMBOL or PER_NEURON (a shared bias, neuron by neuron)


def gradients(
    scenario: Scenario,
    parameters: Sequence[Parameter] | None = None,
    *,
    engine_nets: Sequence[np.ndarray] | None = None,
    forward: HighPrecisionForward | None = None,
    shared_method: str = PER_NEURON,
    engine_outs: np.ndarray | None = None,
) -> dict[str, SymbolicGradient]:
    """SymPy's ∂E/∂θ for each parameter (default: all), independently of the engine's backward pass.

    engine_nets: see high_precision_forward (pass [lt.net for lt in trace.layers] to check a trace);
    engine_outs (Trace.layers[-1].out): only to take the engine's side of the objective's own kink.
    shared_method: how a shared bias is derived. PER_NEURON (the default) reuses the layer's one-neuron
    template, which its weights need anyway (one template fewer per layer: measured 40% of Mazur's SymPy
    time); SINGLE_SYMBOL makes the whole layer symbolic in θ, up to SHARED_PATH_LIMIT paths.
    Returns {parameter name: SymbolicGradient}.
    """
    import mpmath

    from bptrace.verify import symbolic_layers

    params = list(scenario.parameters() if parameters is None else parameters)
    hp = forward or high_precision_forward(scenario, engine_nets)
    m = scenario.samples
    objective = scenario.objective
    out: dict[str, SymbolicGradient] = {}
    coefficients = symbolic_layers.Coefficients(scenario, hp)  # evaluated once per layer and sample
    with mpmath.workdps(DIGITS):  # the objective's own numbers per sample (the hinge's Δ and side)
        own = [objective.sympy_values(s, hp.outs[-1], engine_outs, _same_side) for s in range(m)]
    for p in params:
        specs = _specs(scenario, p.layer - 1)
        shared = p.kind == "bias" and p.row is None
        method = shared_method if shared else SINGLE_SYMBOL
        if shared and paths([s.size for s in specs], "shared") > SHARED_PATH_LIMIT:
            method = PER_NEURON
        kind = "shared" if shared and method == SINGLE_SYMBOL else "neuron"
        layered = kind == "neuron" and layered_route(scenario, p)
        per_sample = []
        with mpmath.workdps(DIGITS):
            if layered:  # the loss written layer by layer (symbolic_layers): work linear in the network's size
                per_sample = [symbolic_layers.derivative(scenario, hp, p, s, coefficients) for s in range(m)]
            else:
                template = _template(kind, specs, objective.form)
                rows: list[int | None] = list(range(specs[0].size)) if method == PER_NEURON else [None]
                for s in range(m):
                    if objective.inactive(own[s]):
                        per_sample.append(mpmath.mpf(0))  # a constant piece (the hinge's met margin): 0
                        continue
                    # PER_NEURON: ∂E_s/∂θ = Σ_k ∂E_s/∂θ_k, each from the one-neuron template with a = 1
                    # every value is a DIGITS-digit mpmath number already, and this runs inside
                    # workdps(DIGITS): Program.run, without converting them again
                    per_sample.append(
                        mpmath.fsum(
                            template.program.run(_values(template, scenario, hp, p, s, row, own[s]))[0] for row in rows
                        )
                    )
            total = mpmath.fsum(per_sample)
            if scenario.reduction == "mean":
                total = total / m
            out[p.name] = SymbolicGradient(
                p.name, float(total), mpmath.nstr(total, 20), tuple(float(g) for g in per_sample), method
            )
    return out


def layered_route(scenario: Scenario, p: Parameter) -> bool:
    """θ is derived layer by layer (symbolic_layers) rather than as one expression: over LAYERED_ABOVE paths
    from θ to the loss, or more than WHOLE_DEPTH layers from θ's up (the expression nests one level per layer)."""
    from bptrace.verify import symbolic_layers

    sizes = [layer.size for layer in scenario.layers[p.layer - 1 :]]
    big = paths(sizes) > symbolic_layers.LAYERED_ABOVE or len(sizes) > symbolic_layers.WHOLE_DEPTH
    return big and symbolic_layers.supported(scenario, p)


def loss_terms(scenario: Scenario, forward: HighPrecisionForward) -> list[list[Any]]:
    """Each sample's terms of E_s (a loss's per output, the hinge's one), from the objective's SymPy form,
    in DIGITS digits (the rows of Trace.loss_terms)."""
    import mpmath

    objective = scenario.objective
    n = scenario.output_layer.size
    program, names = _terms_program(objective.form, n)
    out = []
    with mpmath.workdps(DIGITS):
        for s in range(scenario.samples):
            own = objective.sympy_values(s, forward.outs[-1], None, _same_side)
            outs = [x for row in objective.rows_of(s) for x in forward.outs[-1][row]]
            out.append(program.run(outs + list(forward.targets[s]) + [x for name in names for x in own[name]]))
    return out


@functools.lru_cache(maxsize=16)
def _terms_program(objective: Objective, n: int) -> tuple[Program, tuple[str, ...]]:
    """E_s's terms in each pass's outputs, the targets and the objective's own symbols (their groups' names
    returned, in the program's order)."""
    import sympy as sp

    windows = objective.sympy_windows()
    outs = [[sp.Symbol(f"{w.replace(':', '_')}out_{k}") for k in range(n)] for w in windows]
    own: dict[str, list[Any]] = {}

    def symbols(name: str, count: int) -> list[Any]:
        own[name] = [sp.Symbol(f"{name}_{k}") for k in range(count)]
        return own[name]

    terms = objective.sympy_terms(outs, symbols, n)
    targets = own.pop("t", [])
    names = tuple(sorted(own))
    return Program(terms, [x for row in outs for x in row] + targets + [x for name in names for x in own[name]]), names


def gradient(scenario: Scenario, name: str) -> float:
    """SymPy's ∂E/∂θ for the parameter called `name` (a float)."""
    return gradients(scenario, [scenario.parameter(name)])[name].value


# ---------------------------------------------------------------------------------------------------
# Local factors: f′(net) and ∂E_s/∂out, derived by SymPy and checked against the engine


@dataclass(frozen=True)
class Derivation:
    """A SymPy form and SymPy's derivative of it, with their printed forms (for `explain`)."""

    name: str  # the activation or loss
    expr: Any  # f(net), or one output's loss term ℓ(out, t)
    variable: Any  # the symbol differentiated by (net, net_1 for softmax, out)
    derivative: Any  # sp.diff(expr, variable)
    layers: tuple[int, ...] = ()  # the layers that use this activation (1-based); () for the loss
    slope: float | None = None  # the activation's parameter (leaky_relu's α, elu's α); None without one

    # The printed forms, made only when read (explain shows them; run's verification does not need them,
    # and SymPy's pretty printer is slow on a cold start).
    @property
    def expr_pretty(self) -> str:
        """sp.pretty(expr, use_unicode=True)."""
        return _pretty(self.expr)

    @property
    def expr_str(self) -> str:
        """str(expr)."""
        return str(self.expr)

    @property
    def derivative_pretty(self) -> str:
        """sp.pretty(derivative, use_unicode=True)."""
        return _pretty(self.derivative)

    @property
    def derivative_str(self) -> str:
        """str(derivative)."""
        return str(self.derivative)


@dataclass(frozen=True)
class FactorCheck:
    """One local factor at one neuron and sample: the engine's closed form against SymPy's derivative."""

    quantity: str  # "dout_dnet" (f′(net)) or "dE_dout" (∂E_s/∂out of an output)
    layer: int  # 1-based
    neuron: str
    sample: int  # 0-based
    engine: float
    sympy: float
    ok: bool  # |engine − sympy| ≤ rtol·|sympy| + floor (tolerances.sympy_agrees)
    at_kink: bool = False  # net exactly 0 at a kink (relu, leaky_relu, elu) (the convention f′(0) is checked)


@dataclass(frozen=True)
class LocalFactors:
    """SymPy's derivations of each activation and of the loss, and their checks against the trace."""

    activations: tuple[Derivation, ...]
    loss: Derivation  # one output's term and its derivative in (out, t)
    loss_total: Any  # E_s = Σ_o ℓ(out_o, t_o) in named symbols
    loss_gradient: tuple[tuple[Any, Any], ...]  # (out_o symbol, ∂E_s/∂out_o)
    checks: tuple[FactorCheck, ...]
    rtol: float
    atol: float

    @property
    def ok(self) -> bool:
        """Every local factor agrees with SymPy."""
        return all(c.ok for c in self.checks)

    def failures(self) -> list[FactorCheck]:
        """The checks that disagree."""
        return [c for c in self.checks if not c.ok]


def _pretty(expr: Any) -> str:
    import sympy as sp

    with spared_imports():
        return str(sp.pretty(expr, use_unicode=True))


_UNITS = "sympy.physics.units"
_TENSOR = "sympy.tensor.tensor"


@contextlib.contextmanager
def spared_imports() -> Iterator[None]:
    """SymPy without the two imports it makes on first use that bptrace's expressions never need.

    sympy.physics.units (≈ 0.1–0.2 s on a cold start): PrettyPrinter._print_Mul imports it only to sort unit
    Quantities to the end of a product; bptrace's expressions never hold a Quantity, so the sort keeps the
    order and the output is the same. sympy.tensor.tensor (≈ 20 ms on a cold start, most of it
    sympy.combinatorics building its polyhedra): Add.flatten imports it on the first sum, only for
    `isinstance(term, TensExpr)` (then TensAdd); no bptrace expression holds a tensor, so that test is
    False with the stand-in's TensExpr as with the real one, and every sum is built the same. Any other
    name asked of a stand-in imports the real module and answers from it."""
    with _stand_in(_UNITS, ("Quantity",)), _stand_in(_TENSOR, ("TensExpr", "TensAdd")):
        yield


@contextlib.contextmanager
def _stand_in(module: str, classes: tuple[str, ...]) -> Iterator[None]:
    """While active (and `module` is not imported already), importing `module` finds a stand-in whose
    `classes` are classes nothing is an instance of; afterwards the stand-in is removed. Any other
    attribute imports the real module (the stand-in leaves sys.modules) and is read from it."""
    import importlib
    import sys
    import types

    if module in sys.modules:
        yield
        return
    stand_in = types.ModuleType(module, f"bptrace's stand-in (verify.symbolic._stand_in) for {module}")
    for name in classes:
        # never instantiated: isinstance(x, cls) is False for every expression
        setattr(stand_in, name, type(name, (), {"__module__": module}))

    def real(name: str) -> Any:
        if name.startswith("__"):  # the import system's questions (__path__: not a package)
            raise AttributeError(name)
        if sys.modules.get(module) is stand_in:
            del sys.modules[module]
        return getattr(importlib.import_module(module), name)

    stand_in.__dict__["__getattr__"] = real  # PEP 562: the names the stand-in lacks
    sys.modules[module] = stand_in
    try:
        yield
    finally:
        if sys.modules.get(module) is stand_in:
            del sys.modules[module]


def activation_derivation(
    name: str, param: float | None = None, size: int = 2, layers: tuple[int, ...] = ()
) -> Derivation:
    """f(net) and SymPy's f′(net); softmax is out_1 of a layer of `size` nets and f′ = ∂out_1/∂net_1."""
    import sympy as sp

    from bptrace import functions as network

    entry = network.activation(name)
    if not entry.elementwise:
        nets = sp.symbols(f"net_1:{size + 1}")
        expr = _sympy_activation(name, nets[0], param, nets)
        variable = nets[0]
    else:
        variable = sp.Symbol("net")
        expr = _sympy_activation(name, variable, param)
    return Derivation(
        name, expr, variable, sp.diff(expr, variable), layers, entry.value(param) if entry.param else None
    )


def local_factors(trace: Trace, rtol: float = RTOL, atol: float = ATOL) -> LocalFactors:
    """Check each layer's f′(net) and the loss's ∂E_s/∂out against SymPy, at the engine's own values.

    f′ is SymPy's diff of network.sympy_activation evaluated at every neuron's float64 net (for softmax
    the diagonal ∂out_j/∂net_j at the layer's nets), compared with Trace.layers[i].dout_dnet; ∂E_s/∂out_o
    is SymPy's diff of Σ_o ℓ(out_o, t_o) at the float64 outputs, compared with layers[-1].dE_dout (the
    objective's E_s: the hinge's J = max(0, Δ + s_c − s) by s and s_c).
    """
    import mpmath
    import sympy as sp

    scenario = trace.scenario
    derivations: dict[tuple[str, float, int], Derivation] = {}
    programs: dict[tuple[str, float, int], Program] = {}
    checks: list[FactorCheck] = []
    for i, layer in enumerate(scenario.layers):
        size = layer.size if not layer.function.elementwise else 0
        key = (layer.activation, _param(layer), size)
        if key in derivations:
            derivations[key] = dataclasses.replace(derivations[key], layers=derivations[key].layers + (layer.index,))
        else:
            derivations[key] = activation_derivation(layer.activation, layer.param, size or 2, (layer.index,))
        lt = trace.layers[i]
        if not layer.function.elementwise:
            if key not in programs:
                nets = sp.symbols(f"net_1:{layer.size + 1}")
                diagonal = [sp.diff(_sympy_activation(layer.activation, z, layer.param, nets), z) for z in nets]
                programs[key] = Program(diagonal, nets)
            values = [programs[key]([float(v) for v in row]) for row in lt.net]
        else:
            # f′ as the derivation above has it (SymPy's diff of f in `net`), compiled once per activation
            if key not in programs:
                d = derivations[key]
                programs[key] = Program([d.derivative], [d.variable])
            program = programs[key]
            values = [[program([float(v)])[0] for v in row] for row in lt.net]
        for s, row in enumerate(values):
            for k, sym_value in enumerate(row):
                checks.append(
                    _check(
                        "dout_dnet",
                        layer.index,
                        layer.neurons[k],
                        s,
                        float(lt.dout_dnet[s, k]),
                        sym_value,
                        rtol,
                        atol,
                        bool(lt.kink[s, k]),
                    )
                )
    # the objective: E_s in named symbols of each pass's outputs (Objective.sympy_symbols), differentiated
    # by each of them, evaluated at the engine's float64 outputs (and targets, and the hinge's Δ)
    objective = scenario.objective
    out_layer = scenario.output_layer
    n = out_layer.size
    window_outs, symbols = objective.sympy_symbols(out_layer.neurons)
    own: dict[str, list[Any]] = {}

    def named(name: str, count: int) -> list[Any]:
        own[name] = symbols(name, count)
        return own[name]

    total = sp.Add(*objective.sympy_terms(window_outs, named, n))
    variables = [o for row in window_outs for o in row]
    grad = tuple((o, sp.diff(total, o)) for o in variables)
    ts = own.pop("t", [])
    names = sorted(own)
    program = Program([g for _, g in grad], variables + ts + [x for name in names for x in own[name]])
    last = trace.layers[-1]
    corner = objective.corner(last.out)
    with mpmath.workdps(DIGITS):
        values_own = [objective.sympy_values(s, last.out.tolist(), None, _same_side) for s in range(scenario.samples)]
    for s in range(scenario.samples):
        passes = objective.rows_of(s)
        values_s = program(
            [float(v) for r in passes for v in last.out[r]]
            + [float(v) for v in scenario.targets[s]][: len(ts)]
            + [x for name in names for x in values_own[s][name]]
        )
        for (r, k), sym_value in zip([(r, k) for r in passes for k in range(n)], values_s):
            at_corner = corner is not None and bool(corner[r, k])
            checks.append(
                _check(
                    "dE_dout",
                    out_layer.index,
                    out_layer.neurons[k],
                    r,
                    float(last.dE_dout[r, k]),
                    # at the objective's own corner, the convention (0) is what is checked
                    objective.corner_derivative if at_corner else sym_value,
                    rtol,
                    atol,
                    at_corner,
                )
            )
    term, variable = objective.sympy_term_derivation(n)
    derivation = Derivation(scenario.loss, term, variable, sp.diff(term, variable))
    return LocalFactors(tuple(derivations.values()), derivation, total, grad, tuple(checks), rtol, atol)


def _check(
    quantity: str,
    layer: int,
    neuron: str,
    sample: int,
    engine: float,
    sym_value: Any,
    rtol: float,
    atol: float,
    at_kink: bool,
) -> FactorCheck:
    sym = float(sym_value)
    ok = sympy_agrees(engine, sym, rtol, atol)  # False for nan/inf as well
    return FactorCheck(quantity, layer, neuron, sample, engine, sym, bool(ok), at_kink)


# ---------------------------------------------------------------------------------------------------
# Textbook forms of a gradient, in named symbols (for `explain`)


@dataclass(frozen=True)
class GradientForm:
    """∂E_s/∂θ of one sample written in named symbols (out_h1, net_o1, t_o1, w5, delta_o1, i1 ...).

    compact: the chain-rule form, e.g. for Mazur's w5 (out_o1 − t_o1)·out_o1·(1 − out_o1)·out_h1 and
    for w1 (delta_o1·w5 + delta_o2·w7)·out_h1·(1 − out_h1)·i1 — a sum over the paths to the outputs,
    with delta_o = ∂E_s/∂net_o defined in `deltas`. Activation derivatives are written in out where
    the textbook does (σ′ = out·(1 − out), tanh′ = 1 − out²; relu′ = Heaviside(net, 0)).
    When there are more than FORM_PATH_LIMIT paths, the sum runs over the layer above instead, with
    delta_k = ∂E_s/∂net_k of that layer (see `note`).
    expanded: SymPy's own ∂E_s/∂θ with every parameter, input and target a symbol (networks with at most
    EXPANDED_LIMIT parameters, else None). The batch gradient is the mean (or sum) over samples.
    """

    parameter: str
    compact: Any
    deltas: tuple[tuple[Any, Any], ...]
    expanded: Any | None
    note: str
    compact_pretty: str = field(init=False)  # sp.pretty(compact, use_unicode=True)
    compact_str: str = field(init=False)
    expanded_pretty: str | None = field(init=False)
    expanded_str: str | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compact_pretty", _pretty(self.compact))
        object.__setattr__(self, "compact_str", str(self.compact))
        object.__setattr__(self, "expanded_pretty", None if self.expanded is None else _pretty(self.expanded))
        object.__setattr__(self, "expanded_str", None if self.expanded is None else str(self.expanded))


def _sym(prefix: str, name: str) -> Any:
    import sympy as sp

    return sp.Symbol(f"{prefix}_{name}")


def _out_symbol(scenario: Scenario, layer_index: int, k: int) -> Any:
    """out of neuron k of layer `layer_index` (0 = the inputs, written by their names: i1, x1)."""
    import sympy as sp

    if layer_index == 0:
        return sp.Symbol(scenario.input_names[k])
    return _sym("out", scenario.layers[layer_index - 1].neurons[k])


def _fprime(scenario: Scenario, layer_index: int, k: int) -> Any:
    """f′ of neuron k (1-based layer), written as the textbook does (in out where it can be)."""

    layer = scenario.layers[layer_index - 1]
    out = _sym("out", layer.neurons[k])
    net = _sym("net", layer.neurons[k])
    # softmax: the diagonal; off-diagonal in _output_delta
    return layer.function.sympy_textbook_prime(out, net, layer.param)


def _output_delta(scenario: Scenario, k: int) -> Any:
    """δ_o = ∂E_s/∂net_o of output k in (out, t): Σ_i ∂E_s/∂out_i · ∂out_i/∂net_o (SymPy's ∂E_s/∂out)."""
    import sympy as sp

    layer = scenario.output_layer
    n = layer.size
    outs = [_sym("out", name) for name in layer.neurons]
    ts = [_sym("t", name) for name in layer.neurons]
    total = sp.Add(*[_sympy_loss_term(scenario.loss, o, t, n) for o, t in zip(outs, ts)])
    if not layer.function.elementwise:
        # ∂out_i/∂net_k = out_i·([i = k] − out_k)
        return sp.Add(*[sp.diff(total, outs[i]) * (outs[i] * ((1 if i == k else 0) - outs[k])) for i in range(n)])
    return sp.diff(total, outs[k]) * _fprime(scenario, layer.index, k)


def _upstream(scenario: Scenario, layer_index: int, k: int) -> tuple[Any, str]:
    """∂E_s/∂out_k for neuron k of hidden layer `layer_index` (1-based): the sum over paths, or one level."""
    import sympy as sp

    L = len(scenario.layers)
    count = 1
    for layer in scenario.layers[layer_index:]:
        count *= layer.size

    def weight(index: int, row: int, col: int) -> Any:
        return sp.Symbol(scenario.layers[index - 1].weight_name(row, col))

    if count > FORM_PATH_LIMIT:
        above = scenario.layers[layer_index]
        terms = [_sym("delta", above.neurons[m]) * weight(layer_index + 1, m, k) for m in range(above.size)]
        return sp.Add(*terms), (
            f"{count} paths to the outputs: summed over layer {layer_index + 1} with delta = ∂E_s/∂net of that layer"
        )

    def paths_from(index: int, j: int) -> list[Any]:
        # every path from neuron j of layer `index` to an output: δ_o · Π w · Π f′ along the way
        above = scenario.layers[index]
        if index + 1 == L:
            return [_sym("delta", above.neurons[o]) * weight(L, o, j) for o in range(above.size)]
        return [
            p * _fprime(scenario, index + 1, m) * weight(index + 1, m, j)
            for m in range(above.size)
            for p in paths_from(index + 1, m)
        ]

    return sp.Add(*paths_from(layer_index, k)), f"sum over the {count} paths to the outputs"


def gradient_form(scenario: Scenario, parameter: Parameter | str, *, expanded: bool | None = None) -> GradientForm:
    """The textbook form of ∂E_s/∂θ in named symbols, and (small networks) SymPy's expanded form.

    expanded: None = only when the network has at most EXPANDED_LIMIT parameters; True/False to force.
    """
    import sympy as sp

    p = scenario.parameter(parameter) if isinstance(parameter, str) else parameter
    L = len(scenario.layers)
    layer = scenario.layers[p.layer - 1]
    rows = range(layer.size) if p.row is None else [p.row]
    factor = _out_symbol(scenario, p.layer - 1, p.col) if p.col is not None else sp.Integer(1)
    out_layer = scenario.output_layer
    deltas = tuple((_sym("delta", out_layer.neurons[o]), _output_delta(scenario, o)) for o in range(out_layer.size))
    if p.layer == L:
        compact = sp.Add(*[_output_delta(scenario, r) for r in rows]) * factor
        note = "output layer: ∂E_s/∂out · f′(net) · (what θ multiplies)"
        deltas = ()
    else:
        pieces = [_upstream(scenario, p.layer, r) for r in rows]
        compact = sp.Add(*[g * _fprime(scenario, p.layer, r) for (g, _), r in zip(pieces, rows)]) * factor
        note = pieces[0][1]
        if "summed over layer" in note and p.layer + 1 < L:
            deltas = ()  # the deltas of a hidden layer: ∂E_s/∂net, given by the trace, not written out
    if expanded is None:
        expanded = scenario.parameter_count() <= EXPANDED_LIMIT
    return GradientForm(p.name, compact, deltas, _expanded(scenario, p) if expanded else None, note)


def _expanded(scenario: Scenario, p: Parameter) -> Any:
    """SymPy's ∂E_s/∂θ with every parameter, input and target a symbol (the naive, exponential route)."""
    import sympy as sp

    outs: list[Any] = [sp.Symbol(name) for name in scenario.input_names]
    for layer in scenario.layers:
        if layer.bias_mode == "shared":
            bias = [sp.Symbol(layer.bias_names[0])] * layer.size
        elif layer.bias_mode == "neuron":
            bias = [sp.Symbol(name) for name in layer.bias_names]
        else:
            bias = [sp.Integer(0)] * layer.size
        nets = [
            sp.Add(*[sp.Symbol(layer.weight_name(k, j)) * outs[j] for j in range(len(outs))], bias[k])
            for k in range(layer.size)
        ]
        outs = [_sympy_activation(layer.activation, z, layer.param, nets) for z in nets]
    n = scenario.output_layer.size
    ts = [_sym("t", name) for name in scenario.output_layer.neurons]
    loss = sp.Add(*[_sympy_loss_term(scenario.loss, o, t, n) for o, t in zip(outs, ts)])
    return sp.diff(loss, sp.Symbol(p.name))


def form_values(trace: Trace, sample: int = 0) -> dict[str, float]:
    """The value of every symbol used by GradientForm for one sample (from the trace), by symbol name."""
    scenario = trace.scenario
    values: dict[str, float] = {name: float(v) for name, v in zip(scenario.input_names, scenario.inputs[sample])}
    for layer, lt in zip(scenario.layers, trace.layers):
        for k, name in enumerate(layer.neurons):
            values[f"out_{name}"] = float(lt.out[sample, k])
            values[f"net_{name}"] = float(lt.net[sample, k])
            values[f"delta_{name}"] = float(lt.delta[sample, k])
    for k, name in enumerate(scenario.output_layer.neurons):
        values[f"t_{name}"] = float(scenario.targets[sample, k])
    for p in scenario.parameters():
        values[p.name] = trace.value(p)
    return values


def with_penalty(scenario: Scenario, g: Any) -> Any:
    """Add SymPy's derivative of the L2 penalty λ/(2m)·θ² (weights only) to SymPy's derivative of the data loss."""
    import dataclasses

    import sympy as sp

    p = scenario.parameter(g.name)
    if p.kind != "weight":
        return g
    theta = sp.Symbol("theta")
    penalty = sp.Float(scenario.l2, 30) / (2 * scenario.samples) * theta**2
    value = float(
        sp.diff(penalty, theta).subs(theta, sp.Float(float(scenario.layers[p.layer - 1].weights[p.row, p.col]), 30))
    )
    total = g.value + value
    return dataclasses.replace(g, value=total, digits=f"{total:.17g}")
