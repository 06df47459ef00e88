"""Check every gradient of a trace three ways: the engine's chain rule, SymPy, and finite differences.

For each parameter θ the Verification holds
  * chain_rule         Trace.grad(θ), the engine's backward pass (the value being checked);
  * sympy              ∂E/∂θ derived by SymPy from the loss written out in θ (symbolic.gradients), evaluated
                       in 30 digits; None where SymPy did not derive θ (mode "sample" or "off");
  * finite_difference  the five-point central difference of the batch loss computed by the engine's forward
                       pass:  [8(E(θ+h) − E(θ−h)) − (E(θ+2h) − E(θ−2h))] / 12h,   h = FD_STEP·max(1, |θ|)
                       (error O(h⁴) ≈ 1e-17 from truncation, ≈ 1e-16·|E|/h ≈ 1e-12·|E| from rounding).
                       If it disagrees, 10h and 100h are tried and the first that agrees is kept: the loss
                       can be much noisier than 1e-16·|E| (bce of a saturated sigmoid cancels in 1 − out).
                       The other parameters are held at their values; a shared bias is perturbed as one value.

Tolerances (a row is ok when every check that ran passes):
  * finite differences:  |fd − g| ≤ FD_RTOL·|g| + FD_ATOL       = 1e-6·|g| + 1e-9
  * SymPy:               |g − sympy| ≤ SYMPY_RTOL·|sympy| + SYMPY_ATOL = 1e-9·|sympy| + 1e-12
  * local factors (f′(net) at every neuron, ∂E_s/∂out at every output; symbolic.local_factors): as SymPy.

Kinks. relu and leaky_relu are not differentiable at net = 0. The engine's convention is relu′(0) = 0 and
leaky_relu′(0) = slope; SymPy uses the same (Heaviside(x, 0)). A row is `nondifferentiable` when some
net exactly 0 (Trace.layers[i].kink) lies on θ's way to the loss — θ's own neuron, or any neuron of a
layer above. Such rows are reported but are never failures: the derivative there is a convention.
When the finite-difference stencil crosses a kink (a relu/leaky_relu net changes sign between the
stencil points) the step is shrunk by 100 once; if it still crosses, `fd_crosses_kink` is set and the
finite difference is not judged (SymPy, if it ran, still is).

Noisy losses. A finite difference can judge a gradient only as well as the float64 loss is accurate.
Where the loss cancels (bce's ln(1 − out) with out within a few ulp of 1) it can be wrong in its first
digit. So verify() measures δE, the engine's loss error: Σ over outputs of |float64 term − 30-digit
term| (the 30-digit terms from symbolic.high_precision_forward and the SymPy forms; modes full and
sample), reduced over samples like E, and bounds the finite difference's rounding error by
fd_noise = 1.5·δE/h. When no step agrees
and fd_noise is not below the tolerance — or, without δE, the steps h, 10h, 100h disagree with each
other, or the loss did not change at all — `fd_inconclusive` is set: no verdict from finite differences
(SymPy, if it ran, still gives one).

Modes: "full" derives every parameter with SymPy; "sample" a deterministic sample per layer
(SAMPLE_PER_LAYER evenly spaced positions in the layer's parameter list — weights row by row, then the
biases — always the first and the last); "off" no SymPy at all (finite differences only, no local
factors). The default (mode=None) is "full" up to FULL_LIMIT parameters and "sample" above.
Finite differences cover every parameter up to FD_FULL_LIMIT parameters (4 forward passes each);
above, FD_SAMPLE_PER_LAYER evenly spaced per layer plus SymPy's sample (`fd_sampled` is then True),
except in mode "full", which differentiates everything.
In mode "sample", a layer whose SymPy expression would have more than SAMPLE_PATH_LIMIT paths from θ
to the loss is not derived (its cost grows with the paths); `notes` says so.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Parameter, Scenario
    from bptrace.verify.symbolic import LocalFactors

FD_STEP = 1e-4
FD_RTOL = 1e-6
FD_ATOL = 1e-9
SYMPY_RTOL = 1e-9
SYMPY_ATOL = 1e-12
FULL_LIMIT = 300  # default mode: "full" up to this many parameters, "sample" above
FULL_LIMIT_HARD = 5000  # mode "full" is refused above this many (SymPy would not finish; see the CLI)
SAMPLE_PER_LAYER = 5  # SymPy's sample in mode "sample": first, last and 3 evenly spaced per layer
FD_FULL_LIMIT = 20_000  # finite differences for every parameter up to this many parameters
FD_SAMPLE_PER_LAYER = 256
SAMPLE_PATH_LIMIT = 4096  # mode "sample": skip SymPy for layers with more paths to the loss (≈ 10 s each)
MODES = ("full", "sample", "off")


@dataclass(frozen=True)
class Tolerances:
    """The tolerances and step a Verification used."""

    fd_rtol: float = FD_RTOL
    fd_atol: float = FD_ATOL
    sympy_rtol: float = SYMPY_RTOL
    sympy_atol: float = SYMPY_ATOL
    fd_step: float = FD_STEP


@dataclass(frozen=True)
class ParameterCheck:
    """One parameter's gradient, three ways, and the verdict."""

    name: str
    layer: int  # 1-based
    kind: str  # "weight" | "bias"
    chain_rule: float  # Trace.grad
    sympy: float | None  # None: not derived by SymPy
    finite_difference: float | None  # None: not finite-differenced (huge networks, sampled)
    fd_step: float | None  # the h used
    difference: float  # the largest |sympy − chain_rule|, |fd − chain_rule| (0.0 if none ran)
    sympy_ok: bool | None
    fd_ok: bool | None  # None when not run, crossing a kink, or inconclusive
    ok: bool  # every check that ran passes, or the row is nondifferentiable
    nondifferentiable: bool  # a relu/leaky_relu net on θ's way to the loss is exactly 0
    fd_crosses_kink: bool = False  # the stencil crosses a relu kink even at h/100: fd not judged
    fd_inconclusive: bool = False  # the float64 loss is too noisy here to judge (see finite_differences)
    fd_noise: float | None = None  # bound on the finite difference's rounding error (None in mode "off")
    sympy_method: str | None = None  # symbolic.SINGLE_SYMBOL or symbolic.PER_NEURON


@dataclass(frozen=True)
class FiniteDifference:
    """A finite-difference derivative of the batch loss."""

    value: float
    step: float
    crosses_kink: bool
    inconclusive: bool = False  # no verdict possible: see finite_differences
    noise: float | None = None  # the bound 1.5·δE/h on its rounding error, when δE (loss_error) is known


@dataclass(frozen=True)
class Verification:
    """The result of verify(): plain data, never printed here."""

    mode: str  # the mode that ran: "full", "sample" or "off"
    parameters: tuple[ParameterCheck, ...]  # every parameter, in Scenario.parameters() order
    local: LocalFactors | None  # SymPy's f′ and ∂E_s/∂out against the trace (None in mode "off")
    sympy_derived: tuple[str, ...]  # the parameters SymPy derived
    fd_sampled: bool  # True when finite differences covered only a sample
    tolerances: Tolerances
    notes: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)  # time spent in each part

    @property
    def ok(self) -> bool:
        """Every row ok and every local factor ok."""
        return all(p.ok for p in self.parameters) and (self.local is None or self.local.ok)

    def failures(self) -> list[ParameterCheck]:
        """The rows that are not ok."""
        return [p for p in self.parameters if not p.ok]

    def check(self, name: str) -> ParameterCheck:
        """The row of the parameter called `name`."""
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def nondifferentiable(self) -> list[ParameterCheck]:
        """The rows at a kink (reported, not failures)."""
        return [p for p in self.parameters if p.nondifferentiable]


def default_mode(scenario: Scenario) -> str:
    """ "full" up to FULL_LIMIT parameters, else "sample"."""
    return "full" if scenario.parameter_count() <= FULL_LIMIT else "sample"


def sample(
    scenario: Scenario, per_layer: int = SAMPLE_PER_LAYER, parameters: list[Parameter] | None = None
) -> list[Parameter]:
    """A deterministic sample: per layer, `per_layer` evenly spaced positions in its parameter list.

    The layer's list is its weights row by row, then its biases (Scenario.parameters order); positions
    round(i·(n − 1)/(per_layer − 1)) for i = 0 … per_layer − 1, so the first weight and the last parameter
    (the last bias, when the layer has biases) are always included. Layers with ≤ per_layer parameters
    are taken whole. `parameters`: scenario.parameters(), if already at hand.
    """
    by_layer: dict[int, list[Parameter]] = {}
    for p in scenario.parameters() if parameters is None else parameters:
        by_layer.setdefault(p.layer, []).append(p)
    chosen: list[Parameter] = []
    for params in by_layer.values():
        n = len(params)
        if n <= per_layer:
            chosen.extend(params)
            continue
        positions = sorted({round(i * (n - 1) / (per_layer - 1)) for i in range(per_layer)})
        chosen.extend(params[i] for i in positions)
    return chosen


def finite_differences(
    scenario: Scenario,
    parameters: list[Parameter],
    step: float = FD_STEP,
    reference: Mapping[str, float] | None = None,
    rtol: float = FD_RTOL,
    atol: float = FD_ATOL,
    loss_error: float | None = None,
) -> dict[str, FiniteDifference]:
    """Five-point finite differences of the batch loss (engine.forward + engine.batch_loss, as loss_with).

    h = step·max(1, |θ|) first. If the stencil crosses a relu/leaky_relu kink, h/100 once (then, if it
    still crosses, crosses_kink). Given `reference` values (the chain rule's), a difference that does not
    agree within rtol/atol is retried with 10h and 100h, and the first step that agrees is kept (else the
    closest): rounding in the loss can be far above 1 ulp — bce of a saturated sigmoid computes ln(1 − out)
    with 1 − out cancelling — and only a larger step beats that noise. When no step agrees and the steps
    also disagree with each other by more than the tolerance, or the loss did not change in float64 at
    any step (every difference exactly 0: E quantized flat, e.g. ln(1 − out) with out within a few ulp of
    1), the result is `inconclusive` (noise, not a verdict); a wrong gradient gives steps that agree with
    each other and not with it. So is a difference whose stencil the engine cannot evaluate (it refuses
    ln 0 of a saturated output): steps that meet such a point are not used. And so, given `loss_error`
    δE (how far the engine's float64 loss is from the exact one at θ), is a difference that misses while
    its rounding bound 1.5·δE/h — the stencil's weights (8 + 8 + 1 + 1)/12 times δE, over h — is not
    below the tolerance: the float64 loss is not accurate enough there to judge. One copy of the
    weight and bias arrays is made; each parameter is perturbed in place and restored.
    """
    import numpy as np

    from bptrace.engine import step as engine
    from bptrace.errors import BptraceError

    weights = [layer.weights.copy() for layer in scenario.layers]
    biases = [layer.biases.copy() for layer in scenario.layers]
    kinked = [i for i, layer in enumerate(scenario.layers) if layer.activation in ("relu", "leaky_relu")]
    base_nets, _ = engine.forward(scenario, weights, biases)
    base_signs = {i: np.sign(base_nets[i]) for i in kinked}

    def loss_at() -> tuple[float, bool]:
        # E at the current arrays, and whether some relu/leaky_relu net changed sign (a kink was crossed)
        try:
            nets, outs = engine.forward(scenario, weights, biases)
            loss = engine.batch_loss(scenario, outs[-1])[1] + engine.penalty(scenario, weights)  # E, L2 included
        except BptraceError:
            return float("nan"), False
        return loss, any(not np.array_equal(np.sign(nets[i]), base_signs[i]) for i in kinked)

    def stencil(array: Any, index: Any, theta: float, h: float) -> FiniteDifference:
        values, crossed = [], False
        for k in (1, -1, 2, -2):
            array[index] = theta + k * h
            loss, crossing = loss_at()
            values.append(loss)
            crossed = crossed or crossing
        array[index] = theta
        # D = [8(E(θ+h) − E(θ−h)) − (E(θ+2h) − E(θ−2h))] / 12h
        return FiniteDifference((8.0 * (values[0] - values[1]) - (values[2] - values[3])) / (12.0 * h), h, crossed)

    out: dict[str, FiniteDifference] = {}
    for p in parameters:
        array = weights[p.layer - 1] if p.kind == "weight" else biases[p.layer - 1]
        index = (p.row, p.col) if p.kind == "weight" else (0 if p.row is None else p.row)
        theta = float(array[index])
        h = step * max(1.0, abs(theta))
        result = stencil(array, index, theta, h)
        if result.crosses_kink:
            result = stencil(array, index, theta, h / 100)
        elif reference is not None:
            g = reference[p.name]
            tolerance = rtol * abs(g) + atol

            def miss(r: FiniteDifference, g: float = g) -> float:
                return abs(r.value - g) if r.value == r.value else float("inf")  # nan: the worst

            tried = [result]
            for larger in (10 * h, 100 * h):
                if miss(result) <= tolerance:
                    break
                attempt = stencil(array, index, theta, larger)
                if not attempt.crosses_kink and attempt.value == attempt.value:  # nan: E undefined there
                    tried.append(attempt)
                    result = min(tried, key=miss)
            values = [r.value for r in tried]
            noisy = not max(values) - min(values) <= tolerance  # the steps disagree with each other
            flat = all(v == 0.0 for v in values)  # the float64 loss never changed at all
            inaccurate = loss_error is not None and not 1.5 * loss_error / result.step < tolerance
            if miss(result) > tolerance and ((len(tried) > 1 and (noisy or flat)) or inaccurate):
                result = dataclasses.replace(result, inconclusive=True)
        if loss_error is not None:
            result = dataclasses.replace(result, noise=1.5 * loss_error / result.step)
        if result.value != result.value:
            # the engine refuses the loss at a stencil point (e.g. ln 0 of a saturated output): no verdict
            result = dataclasses.replace(result, inconclusive=True)
        out[p.name] = result
    return out


def _hinge_gradients(scenario: Scenario, parameters: list[Parameter]) -> dict[str, Any]:
    """max_margin: SymPy's own derivative of the hinge loss for each parameter (symbolic_hinge)."""
    from bptrace.verify import symbolic, symbolic_hinge

    out = {}
    for p in parameters:
        value = symbolic_hinge.gradient(scenario, p)
        out[p.name] = symbolic.SymbolicGradient(p.name, value, f"{value:.17g}", (), "hinge")
    return out


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


def _loss_error(trace: Trace, exact_terms: list[list[Any]]) -> float:
    """δE: Σ over outputs of |float64 term − 30-digit term|, combined over samples like E (an error bound)."""
    per_sample = [
        sum(abs(float(exact) - float(engine)) for exact, engine in zip(row, engine_row))
        for row, engine_row in zip(exact_terms, trace.loss_terms)
    ]
    total = sum(per_sample)
    return total / len(per_sample) if trace.scenario.reduction == "mean" else total


def _nondifferentiable(trace: Trace, params: list[Parameter]) -> dict[str, bool]:
    """Per parameter: is some net on θ's way to the loss exactly at a kink (in any sample)?"""
    neuron_kink: list[Any] = [lt.kink.any(axis=0) for lt in trace.layers]  # per layer, per neuron
    above = [False] * (len(trace.layers) + 1)  # any kink in layers after index
    for i in reversed(range(len(trace.layers))):
        above[i] = above[i + 1] or bool(trace.layers[i].kink.any())
    out = {}
    for p in params:
        own = neuron_kink[p.layer - 1]
        here = bool(own.any()) if p.row is None else bool(own[p.row])
        out[p.name] = here or above[p.layer]  # above[p.layer] = the layers after θ's (0-based p.layer)
    return out


def verify(
    trace: Trace,
    mode: str | None = None,
    *,
    fd_rtol: float = FD_RTOL,
    fd_atol: float = FD_ATOL,
    sympy_rtol: float = SYMPY_RTOL,
    sympy_atol: float = SYMPY_ATOL,
    fd_step: float = FD_STEP,
    sample_per_layer: int = SAMPLE_PER_LAYER,
) -> Verification:
    """Check every gradient of `trace` against SymPy and finite differences (see the module docstring).

    mode: "full", "sample", "off", or None for default_mode(scenario). Never prints.
    """
    from bptrace.verify import symbolic

    scenario = trace.scenario
    mode = default_mode(scenario) if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"unknown verification mode {mode!r}; choose one of {', '.join(MODES)}")
    params = scenario.parameters()
    notes: list[str] = []
    seconds: dict[str, float] = {}

    if mode == "full":
        to_derive = params
    elif mode == "sample":
        to_derive = []
        for p in sample(scenario, sample_per_layer, params):
            sizes = [layer.size for layer in scenario.layers[p.layer - 1 :]]
            if symbolic.paths(sizes) > SAMPLE_PATH_LIMIT:
                note = (
                    f"layer {p.layer}: not derived by SymPy in mode sample "
                    f"({symbolic.paths(sizes)} paths to the loss > {SAMPLE_PATH_LIMIT})"
                )
                if note not in notes:
                    notes.append(note)
                continue
            to_derive.append(p)
    else:
        to_derive = []

    fd_sampled = mode != "full" and len(params) > FD_FULL_LIMIT
    if fd_sampled:
        names = {p.name for p in sample(scenario, FD_SAMPLE_PER_LAYER, params)} | {p.name for p in to_derive}
        fd_params = [p for p in params if p.name in names]
        notes.append(
            f"finite differences for {len(fd_params)} of {len(params)} parameters "
            f"({FD_SAMPLE_PER_LAYER} evenly spaced per layer, and SymPy's sample)"
        )
    else:
        fd_params = params
    loss_error = None
    hp = None
    if mode != "off" and not scenario.max_margin:
        start = time.perf_counter()
        # the engine's nets only pick the side of each relu kink SymPy evaluates on (symbolic's docstring)
        hp = symbolic.high_precision_forward(scenario, [lt.net for lt in trace.layers])
        loss_error = _loss_error(trace, symbolic.loss_terms(scenario, hp))
        seconds["high_precision_forward"] = time.perf_counter() - start

    start = time.perf_counter()
    fds = finite_differences(
        scenario, fd_params, fd_step, {p.name: trace.grad(p) for p in fd_params}, fd_rtol, fd_atol, loss_error
    )
    seconds["finite_differences"] = time.perf_counter() - start

    start = time.perf_counter()
    if scenario.max_margin:
        derived = _hinge_gradients(scenario, to_derive)
    else:
        derived = symbolic.gradients(scenario, to_derive, forward=hp) if to_derive else {}
        if scenario.l2:
            derived = {name: with_penalty(scenario, g) for name, g in derived.items()}
    seconds["sympy"] = time.perf_counter() - start
    local = None
    if mode != "off":
        start = time.perf_counter()
        local = symbolic.local_factors(trace, sympy_rtol, sympy_atol)
        seconds["local_factors"] = time.perf_counter() - start

    nondiff = _nondifferentiable(trace, params)
    rows = []
    for p in params:
        g = trace.grad(p)
        sym = derived.get(p.name)
        fd = fds.get(p.name)
        diffs = []
        sympy_ok = fd_ok = None
        if sym is not None:
            diffs.append(abs(sym.value - g))
            sympy_ok = bool(abs(g - sym.value) <= sympy_rtol * abs(sym.value) + sympy_atol)
        if fd is not None:
            diffs.append(abs(fd.value - g))
            if not (fd.crosses_kink or fd.inconclusive):
                fd_ok = bool(abs(fd.value - g) <= fd_rtol * abs(g) + fd_atol)
        ok = nondiff[p.name] or (sympy_ok is not False and fd_ok is not False)
        rows.append(
            ParameterCheck(
                name=p.name,
                layer=p.layer,
                kind=p.kind,
                chain_rule=g,
                sympy=None if sym is None else sym.value,
                finite_difference=None if fd is None else fd.value,
                fd_step=None if fd is None else fd.step,
                difference=max(diffs, default=0.0),
                sympy_ok=sympy_ok,
                fd_ok=fd_ok,
                ok=ok,
                nondifferentiable=nondiff[p.name],
                fd_crosses_kink=fd is not None and fd.crosses_kink,
                fd_inconclusive=fd is not None and fd.inconclusive,
                fd_noise=None if fd is None else fd.noise,
                sympy_method=None if sym is None else sym.method,
            )
        )
    return Verification(
        mode=mode,
        parameters=tuple(rows),
        local=local,
        sympy_derived=tuple(p.name for p in to_derive),
        fd_sampled=fd_sampled,
        tolerances=Tolerances(fd_rtol, fd_atol, sympy_rtol, sympy_atol, fd_step),
        notes=tuple(notes),
        seconds=seconds,
    )
