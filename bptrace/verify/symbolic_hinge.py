"""SymPy's own derivative of the max-margin loss (the CS224n window notes), independent of the engine's backward pass.

For a parameter θ the loss of sample s is written as one SymPy expression in θ over both of its forward
passes, the true window x and the corrupt window x_c, built like symbolic.py's templates:

    J_s = Δ + s(x_c) − s(x)      the hinge's active piece, while the margin is violated (else J_s = 0)
    s(x) = the output score of the pass through x, written from θ's layer on with symbolic constants
           (net_r = c + a·θ in θ's neuron, every layer above in symbols: symbolic._above)

SymPy differentiates J_s with respect to θ once per layer and network shape ("template"); each parameter
and sample is then an evaluation of that derivative at its own numbers in 30 digits (symbolic.Program),
and E = (1/m)·Σ_s J_s (or Σ_s with reduction "sum"); the L2 penalty's derivative is added by
symbolic.with_penalty. No chain rule of ours or of the engine's is used.

Which piece: max(0, a) is the piece a where a > 0 and the constant 0 elsewhere, also at a = 0 (the
corner: h′(0) = 0, the engine's convention, kinks.HINGE_NOTE). a is the 30-digit hinge argument,
except that where the engine's float64 argument is exactly 0 the corner is taken, and where float64
rounding put it on the other side of 0 the engine's side is used (as symbolic.py does for relu kinks).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Parameter, Scenario
    from bptrace.verify.symbolic import HighPrecisionForward, SymbolicGradient, _LayerSpec, _Template

DIGITS = 30  # working precision (decimal digits)
WINDOWS = ("x", "xc")  # the prefixes of each window's symbols


@functools.lru_cache(maxsize=32)
def _template(kind: str, layers: tuple[_LayerSpec, ...]) -> _Template:
    """J = Δ + s(x_c) − s(x) for a parameter of layers[0], both windows' passes in symbols, and SymPy's dJ/dθ."""
    import sympy as sp

    from bptrace.verify import programs, symbolic

    theta = sp.Symbol("theta", real=True)
    groups: list[tuple[str, tuple[Any, ...]]] = [("theta", (theta,))]
    scores = []
    for window in WINDOWS:

        def group(name: str, count: int, window: str = window) -> list[Any]:
            symbols = tuple(sp.Symbol(f"{window}_{name}_{k}", real=True) for k in range(count))
            groups.append((f"{window}:{name}", symbols))
            return list(symbols)

        first = layers[0]
        if kind == "neuron":
            a = group("a", 1)[0]
            c = group("c", 1)[0]
            nets = [c + a * theta]  # θ's neuron only: the others are constants (they stay in d above)
        else:
            nets = [ck + theta for ck in group("c", first.size)]  # a shared bias: every neuron of the layer
        outs = [programs._sympy_activation(first.activation, z, first.param) for z in nets]
        if len(layers) > 1:
            outs = symbolic._above(outs, layers, group)
        scores.append(outs[0])  # the one output: the score
    margin = sp.Symbol("Delta", real=True)
    groups.append(("Delta", (margin,)))
    loss = margin + scores[1] - scores[0]
    derivative = sp.diff(loss, theta)
    inputs = [s for _, symbols in groups for s in symbols]
    return symbolic._Template(kind, tuple(groups), loss, derivative, programs.Program([derivative], inputs))


def supported(scenario: Scenario) -> bool:
    """The templates cover a max-margin network whose output layer is one score (not softmax)."""
    return scenario.output_layer.size == 1 and scenario.output_layer.activation != "softmax"


def gradients(
    scenario: Scenario, parameters: list[Parameter], hp: HighPrecisionForward, engine_scores: Any = None
) -> dict[str, SymbolicGradient]:
    """SymPy's ∂E/∂θ of the max-margin data loss for each parameter (L2 not included).

    hp: symbolic.high_precision_forward over every pass (2m rows); engine_scores: the engine's float64
    scores per pass (Trace.layers[-1].out[:, 0]), only to take the engine's side of each corner.
    """
    import mpmath

    from bptrace.verify import symbolic

    m = scenario.samples
    active = []
    with mpmath.workdps(DIGITS):
        margin = mpmath.mpf(float(scenario.margin))
        for k in range(m):
            arg = margin + hp.outs[-1][m + k][0] - hp.outs[-1][k][0]
            if engine_scores is not None:
                engine_arg = float(scenario.margin) + float(engine_scores[m + k]) - float(engine_scores[k])
                arg = symbolic._same_side(arg, engine_arg)
            active.append(arg > 0)
    out: dict[str, SymbolicGradient] = {}
    for p in parameters:
        specs = symbolic._specs(scenario, p.layer - 1)
        shared = p.kind == "bias" and p.row is None
        method = symbolic.PER_NEURON if shared else symbolic.SINGLE_SYMBOL  # as symbolic.gradients
        kind = "shared" if shared and method == symbolic.SINGLE_SYMBOL else "neuron"
        template = _template(kind, specs)
        rows: list[int | None] = list(range(specs[0].size)) if method == symbolic.PER_NEURON else [None]
        per_sample = []
        with mpmath.workdps(DIGITS):
            for k in range(m):
                if not active[k]:
                    per_sample.append(mpmath.mpf(0))  # J_k = 0: the margin is met (or at the corner)
                    continue
                total = mpmath.mpf(0)
                for row in rows:
                    values = {
                        window: symbolic.pass_values(template.kind, scenario, hp, p, index, row, targets=False)
                        for window, index in zip(WINDOWS, (k, m + k))
                    }
                    inputs = [
                        x
                        for name, _ in template.groups
                        for x in (
                            values["x"]["theta"]
                            if name == "theta"
                            else [margin]
                            if name == "Delta"
                            else values[name.split(":")[0]][name.split(":")[1]]
                        )
                    ]
                    total += template.program(inputs)[0]
                per_sample.append(total)
            batch = mpmath.fsum(per_sample)
            if scenario.reduction == "mean":
                batch = batch / m
            out[p.name] = symbolic.SymbolicGradient(
                p.name, float(batch), mpmath.nstr(batch, 20), tuple(float(g) for g in per_sample), method
            )
    return out


def gradient(scenario: Scenario, p: Parameter, trace: Trace | None = None) -> float:
    """∂E/∂θ of the max-margin batch loss, derived by SymPy (L2 included)."""
    from bptrace.verify import symbolic

    nets = None if trace is None else [lt.net for lt in trace.layers]
    hp = symbolic.high_precision_forward(scenario, nets)
    scores = None if trace is None else trace.layers[-1].out[:, 0]
    g = gradients(scenario, [p], hp, scores)[p.name]
    return float(symbolic.with_penalty(scenario, g).value if scenario.l2 else g.value)
