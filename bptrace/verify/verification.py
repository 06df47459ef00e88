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

Judged or not. Every check is either judged — it agrees or disagrees with the chain rule, by the one
set of tolerances in tolerances.py (SymPy: 1e-9 relative above a floor of 1e-300; finite differences:
1e-6 relative above their own rounding bound) — or not judged, with the reason (`fd_reason`). A row is
ok when no judged check disagrees; the table, the JSON and `explain` say which checks were not judged.

Kinks (kinks.py). relu and leaky_relu are not differentiable at net = 0, the max-margin hinge at its
corner Δ + s_c − s = 0. The engine's convention is relu′(0) = 0, leaky_relu′(0) = α and 0 at the
hinge's corner; SymPy uses the same (Heaviside(x, 0)), so SymPy is judged there as everywhere. A row is
`nondifferentiable` when some net exactly at a kink lies on θ's way to the loss — θ's own neuron, any
neuron of a layer above, or the hinge — and `kink` names the function, the point and the convention.
When the finite-difference stencil θ ± 2h crosses a kink (a net changes side of a kink, or a hinge
argument changes sign, between θ and a stencil point) the step is shrunk by 100 once; if it still
crosses, `fd_crosses_kink` is set and the finite difference is not judged: across a kink it measures
neither one-sided derivative (a relu just above 0 gives about half the slope).

Noisy losses. A finite difference can judge a gradient only as well as the float64 loss is accurate.
Where the loss cancels (bce's ln(1 − out) with out within a few ulp of 1) it can be wrong in its first
digit. So verify() measures δE, the engine's loss error: Σ over outputs of |float64 term − 30-digit
term| (the 30-digit terms from symbolic.high_precision_forward and the SymPy forms; modes full and
sample), reduced over samples like E, and bounds the finite difference's rounding error by
fd_noise = 1.5·max(δE, 4ε·|E|)/h (tolerances.fd_noise; without δE, 4ε·|E| alone). That bound is the
finite difference's floor, and it is not judged (`fd_inconclusive`, with the reason) when the bound is not
below half of what it measures, or when no step agrees and the steps h and 10h disagree with each
other, or the loss did not change at all (SymPy, if it ran, still gives a verdict).

Modes: "full" derives every parameter with SymPy; "sample" a deterministic sample per layer
(SAMPLE_PER_LAYER evenly spaced positions in the layer's parameter list — weights row by row, then the
biases — always the first and the last); "off" no SymPy at all (finite differences only, no local
factors). The default (mode=None) is "full" up to FULL_LIMIT parameters and "sample" above.
Finite differences cover every parameter up to FD_FULL_LIMIT parameters (4 forward passes each);
above, FD_SAMPLE_PER_LAYER evenly spaced per layer plus SymPy's sample (`fd_sampled` is then True),
except in mode "full", which differentiates everything.
In mode "sample", SymPy's work over the whole run is bounded by SAMPLE_WORK_LIMIT evaluations
(sympy_work: per sample, the weights above θ's layer when the loss is written layer by layer,
symbolic_layers; the paths of the whole expression otherwise); the sampled parameters that would take
it past the bound are not derived, and `notes` names them. A whole-expression template (max-margin, or
θ in a non-elementwise layer) with more than SAMPLE_PATH_LIMIT paths from θ to the loss is not derived
either (its cost grows with the paths); `notes` says so.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bptrace.display import Displayable
from bptrace.i18n import N_
from bptrace.message import Message
from bptrace.verify import tolerances as tol
from bptrace.verify.finite import FiniteDifference, decide, stencil
from bptrace.verify.tolerances import FD_RTOL, FD_STEP, FLOOR, SYMPY_RTOL

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Parameter, Scenario
    from bptrace.verify.symbolic import LocalFactors

FULL_LIMIT = 300  # default mode: "full" up to this many parameters, "sample" above
FULL_LIMIT_HARD = 5000  # mode "full" is refused above this many (SymPy would not finish; see the CLI)
SAMPLE_PER_LAYER = 5  # SymPy's sample in mode "sample": first, last and 3 evenly spaced per layer
FD_FULL_LIMIT = 20_000  # finite differences for every parameter up to this many parameters
FD_SAMPLE_PER_LAYER = 256
SAMPLE_PATH_LIMIT = 4096  # mode "sample": skip SymPy's whole-expression templates with more paths (≈ 10 s each)
SAMPLE_WORK_LIMIT = 400_000  # mode "sample": SymPy's evaluations over the whole run (sympy_work; ≈ 1–2 s here)
MODES = ("full", "sample", "off")


@dataclass(frozen=True)
class Tolerances:
    """The tolerances and step a Verification used (tolerances.py defines them)."""

    fd_rtol: float = FD_RTOL
    sympy_rtol: float = SYMPY_RTOL
    sympy_floor: float = FLOOR
    fd_step: float = FD_STEP


@dataclass(frozen=True)
class ParameterCheck:
    """One parameter's gradient, three ways, and the verdict.

    Each independent value is a check that is either judged (sympy_ok / fd_ok True or False) or not:
    not run (the value is None) or, for the finite difference, run but not judged (fd_reason says why:
    the stencil crosses a kink, or the float64 loss is too noisy there). `ok` is False only when a
    judged check disagrees.
    """

    name: str
    layer: int  # 1-based
    kind: str  # "weight" | "bias"
    chain_rule: float  # Trace.grad
    sympy: float | None  # None: not derived by SymPy
    finite_difference: float | None  # None: not finite-differenced (huge networks, sampled)
    fd_step: float | None  # the h used
    difference: float  # the largest |sympy − chain_rule|, |fd − chain_rule| (0.0 if none ran)
    sympy_ok: bool | None
    fd_ok: bool | None  # None when not run or not judged (fd_reason)
    ok: bool  # no judged check disagrees
    nondifferentiable: bool  # some net (or the hinge) on θ's way to the loss is exactly at a kink
    fd_crosses_kink: bool = False  # the stencil crosses a kink even at h/100: fd not judged
    fd_inconclusive: bool = False  # the float64 loss is too noisy here to judge (see finite_differences)
    fd_noise: float | None = None  # the bound on the finite difference's rounding error (its floor)
    sympy_method: str | None = None  # symbolic.SINGLE_SYMBOL or symbolic.PER_NEURON
    fd_reason: str | None = None  # why the finite difference was not judged (None: judged, or not run)
    kink: str | None = None  # nondifferentiable: the function, the point and the convention taken

    @property
    def fd_judged(self) -> bool:
        """The finite difference ran and was judged."""
        return self.fd_ok is not None

    @property
    def judged(self) -> int:
        """How many of this row's checks were judged."""
        return (self.sympy_ok is not None) + (self.fd_ok is not None)

    @property
    def not_judged(self) -> int:
        """How many of this row's checks ran but were not judged."""
        return int(self.finite_difference is not None and self.fd_ok is None)


@dataclass(frozen=True, repr=False)
class Verification(Displayable):
    """The result of verify(): plain data, never printed here."""

    mode: str  # the mode that ran: "full", "sample" or "off"
    parameters: tuple[ParameterCheck, ...]  # every parameter, in Scenario.parameters() order
    local: LocalFactors | None  # SymPy's f′ and ∂E_s/∂out against the trace (None in mode "off")
    sympy_derived: tuple[str, ...]  # the parameters SymPy derived
    fd_sampled: bool  # True when finite differences covered only a sample
    tolerances: Tolerances
    notes: tuple[str, ...] = ()
    seconds: dict[str, float] = field(default_factory=dict)  # time spent in each part
    trace: Any = field(default=None, compare=False)  # the Trace verified (for its display)

    def _view(self) -> Any:
        from bptrace.render.terminal import TraceView

        return TraceView(self.trace, verification=self, sections=("verification",))

    def _summary(self) -> str:
        failed = len(self.failures())
        verdict = "all agree" if self.ok else f"{failed} disagree"
        judged = f"{self.judged} of {self.checks} checks judged"
        return f"{self.mode}: {len(self.parameters)} parameters, {judged}, {verdict}"

    @property
    def ok(self) -> bool:
        """No judged check disagrees: every row ok and every local factor ok."""
        return all(p.ok for p in self.parameters) and (self.local is None or self.local.ok)

    @property
    def judged(self) -> int:
        """The gradient checks (SymPy and finite differences) that were judged."""
        return sum(p.judged for p in self.parameters)

    @property
    def checks(self) -> int:
        """The gradient checks that ran (judged or not)."""
        return sum(p.judged + p.not_judged for p in self.parameters)

    def not_judged(self) -> list[ParameterCheck]:
        """The rows with a check that ran but was not judged."""
        return [p for p in self.parameters if p.not_judged]

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
        """The rows at a kink (their derivative is a convention; see ParameterCheck.kink)."""
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


def sympy_work(scenario: Scenario, p: Parameter) -> int:
    """SymPy's work for θ over the batch, in evaluations: per sample, the weights above θ's layer on the
    layered route (symbolic_layers.work), else the paths of its whole-expression template."""
    from bptrace.verify import symbolic, symbolic_layers

    if symbolic.layered_route(scenario, p):
        return scenario.samples * symbolic_layers.work(scenario, p)
    sizes = [layer.size for layer in scenario.layers[p.layer - 1 :]]
    return scenario.samples * (symbolic.paths(sizes, "shared" if p.row is None and p.kind == "bias" else "neuron") + 1)


def _within_budget(scenario: Scenario, chosen: list[Parameter], notes: list[str]) -> list[Parameter]:
    """The sampled parameters SymPy derives: all of them while their work (sympy_work) fits SAMPLE_WORK_LIMIT.

    Above it the parameters are taken round by round (every layer's first sampled parameter, then every
    layer's second, …; within a round, the cheapest first), each while it still fits; the ones left out
    are named in a note. The bound is on the whole run, not per layer: a deep network's work grows with
    its depth, however narrow its layers."""
    cost = {p.name: sympy_work(scenario, p) for p in chosen}
    if sum(cost.values()) <= SAMPLE_WORK_LIMIT:
        return chosen
    by_layer: dict[int, list[Parameter]] = {}
    for p in chosen:
        by_layer.setdefault(p.layer, []).append(p)
    rounds: dict[int, list[Parameter]] = {}
    for params in by_layer.values():
        for i, p in enumerate(params):
            rounds.setdefault(i, []).append(p)
    taken: set[str] = set()
    total = 0
    for i in sorted(rounds):
        for p in sorted(rounds[i], key=lambda q: (cost[q.name], q.layer)):
            if total + cost[p.name] <= SAMPLE_WORK_LIMIT:
                taken.add(p.name)
                total += cost[p.name]
    left = [p for p in chosen if p.name not in taken]
    names = ", ".join(p.name for p in left[:5])
    shown = Message(N_("{names} and {n} more"), names=names, n=len(left) - 5) if len(left) > 5 else names
    notes.append(
        Message(
            N_(
                "SymPy derived {derived} of the {sampled} sampled parameters, {work:,} evaluations: the others "
                "would take its work past {limit:,} (not derived: {names})"
            ),
            derived=len(chosen) - len(left),
            sampled=len(chosen),
            work=total,
            limit=SAMPLE_WORK_LIMIT,
            names=shown,
        )
    )
    return [p for p in chosen if p.name in taken]


def _kink_sides(scenario: Scenario, nets: list[Any], outs: list[Any]) -> list[tuple[str, int, Any]]:
    """(activation or kinks.HINGE, layer index 0-based, side of each kink per sample and neuron) for a forward pass.

    The side is sign(net − kink) for every kink of every layer's activation (kinks.activation_kinks), and
    sign of the objective's own kink argument (Objective.argument: the hinge's Δ + s_c − s); a kink lies
    between two points where a side differs.
    """
    import numpy as np

    from bptrace.verify import kinks

    sides = []
    for i, layer in enumerate(scenario.layers):
        for k in kinks.activation_kinks(layer.activation, layer.param):
            sides.append((layer.activation, i, np.sign(nets[i] - k)))
    objective = scenario.objective
    arg = objective.argument(outs[-1])
    if arg is not None and objective.kink_name is not None:
        sides.append((objective.kink_name, len(scenario.layers) - 1, np.sign(arg)))
    return sides


def _crossing(scenario: Scenario, base: list[tuple[str, int, Any]], now: list[tuple[str, int, Any]]) -> str | None:
    """Which kink lies between two forward passes (the first one found), in words; None if none."""
    import numpy as np

    from bptrace.verify import kinks

    m = scenario.samples
    objective = scenario.objective
    for (name, i, before), (_name, _i, after) in zip(base, now):
        changed = np.argwhere(before != after)
        if len(changed):
            row = int(changed[0][0])
            if name == objective.kink_name:  # the objective's own kink: one side per sample
                return Message(N_("{place} of sample {sample}"), place=kinks.kink_place(name), sample=row + 1)
            col = int(changed[0][1])
            neuron = scenario.layers[i].neurons[col]
            place = kinks.kink_place(name, f"net_{neuron}")
            if objective.corrupt(row):
                return Message(N_("{place} in sample {sample} (corrupt window)"), place=place, sample=row % m + 1)
            return Message(N_("{place} in sample {sample}"), place=place, sample=row % m + 1)
    return None


def finite_differences(
    scenario: Scenario,
    parameters: list[Parameter],
    step: float = FD_STEP,
    reference: Mapping[str, float] | None = None,
    rtol: float = FD_RTOL,
    loss_error: float | None = None,
) -> dict[str, FiniteDifference]:
    """Five-point finite differences of the batch loss (engine.forward + engine.batch_loss, as loss_with).

    h = step·max(1, |θ|) first. If the stencil θ ± 2h crosses a kink — some net changes side of one of its
    activation's kinks (kinks.activation_kinks: the registry's, e.g. relu's 0) or a max-margin hinge argument
    changes sign, at any stencil point against θ itself — h/100 once; if it still crosses, crosses_kink:
    a difference across a kink measures neither one-sided derivative and is not judged (`reason` names the
    kink). Given `reference` values (the chain rule's), a difference that does not agree (tolerances.
    fd_agrees, with its rounding bound fd_noise as floor) is retried with 10h and 100h, and the first step
    that agrees is kept (else the closest): rounding in the loss can be far above 1 ulp — bce of a
    saturated sigmoid computes ln(1 − out) with 1 − out cancelling — and only a larger step beats that
    noise. When no step agrees and the steps also disagree with each other by more than the tolerance, or
    the loss did not change in float64 at any step (every difference exactly 0: E quantized flat), the
    result is `inconclusive` (noise, not a verdict); a wrong gradient gives steps that agree with each
    other and not with it. So is a difference whose stencil the engine cannot evaluate (it refuses ln 0 of
    a saturated output): steps that meet such a point are not used. And so is a difference that does not
    match g within rtol·|g| while its rounding bound (tolerances.fd_noise, from `loss_error` δE, how far
    the engine's float64 loss is from the exact one at θ) is not below half of |g| and |fd|: too coarse
    to confirm or refute g.

    How the loss is evaluated (_Perturbed): θ changes one net of its layer (every net of the layer for a
    shared bias) by exactly (θ' − θ)·a, where a is the activation θ multiplies (1 for a bias); the layers
    below are the engine's forward pass unchanged, the changed column goes through the activation, the
    layer above adds its change (out' − out)·w, and every layer after it is computed again in full. Many
    stencil points are evaluated at once, stacked along a leading axis. Each value is the loss at θ' in
    float64 (no derivative is used), accurate like the engine's own forward pass: the noise bound holds.
    Up to EXACT_LIMIT parameters each point is instead the engine's whole forward pass with θ' in place
    (as bptrace always computed it, so a small network's figures stay bit for bit what they were).
    """
    out: dict[str, FiniteDifference] = {}
    if not parameters:
        return out
    perturbed = _Perturbed(scenario)
    base_loss = perturbed.base_loss

    def stencils(jobs: list[tuple[Parameter, float, float]]) -> list[FiniteDifference]:
        # (θ, its value, h) -> the five-point difference at step h, all jobs' 4 points evaluated at once
        points = [(p, theta + k * h) for p, theta, h in jobs for k in (1, -1, 2, -2)]
        losses = perturbed.losses(points)
        results = []
        for n, (_, _, h) in enumerate(jobs):
            four = losses[4 * n : 4 * n + 4]
            results.append(stencil(four, h, tol.fd_noise(base_loss, h, loss_error)))
        return results

    # every parameter's steps advance together: each round evaluates all the stencils asked for
    thetas = {p.name: perturbed.value(p) for p in parameters}
    deciders = {
        p.name: decide(tol.step(thetas[p.name], step), None if reference is None else reference[p.name], rtol)
        for p in parameters
    }
    pending = {p.name: (p, next(deciders[p.name])) for p in parameters}
    while pending:
        names = list(pending)
        results = stencils([(p, thetas[name], h) for name, (p, h) in pending.items()])
        following: dict[str, tuple[Parameter, float]] = {}
        for name, result in zip(names, results):
            try:
                following[name] = (pending[name][0], deciders[name].send(result))
            except StopIteration as done:
                out[name] = done.value
        pending = following
    return {p.name: out[p.name] for p in parameters}


_STACK = 1 << 18  # values per stacked array (2 MB): how many stencil points are evaluated at once
EXACT_LIMIT = FULL_LIMIT  # up to this many parameters each point is the engine's whole forward pass


class _Perturbed:
    """The batch loss (L2 included) at many points that each differ from the scenario in one parameter.

    losses([(θ, θ'), …]) gives, per point, E with θ set to θ' (nan where the engine cannot evaluate it: an
    overflow, or the log of an exactly-0 output) and the kink crossed between the scenario's forward pass
    and this one, in words (None: none). See finite_differences for how each point is computed.
    """

    def __init__(self, scenario: Scenario) -> None:
        from bptrace.engine import step as engine

        self.s = scenario
        self.weights = [layer.weights for layer in scenario.layers]
        self.biases = [layer.biases for layer in scenario.layers]
        self.nets, self.outs = engine.forward(scenario, self.weights, self.biases)
        self.inputs = scenario.all_inputs()
        self.sides = _kink_sides(scenario, self.nets, self.outs)
        self.base_loss = engine.batch_loss(scenario, self.outs[-1])[1] + engine.penalty(scenario, self.weights)
        self.squares = sum(float((w * w).sum()) for w in self.weights) if scenario.l2 else 0.0

    def value(self, p: Parameter) -> float:
        if p.kind == "weight":
            return float(self.weights[p.layer - 1][p.row, p.col])
        return float(self.biases[p.layer - 1][0 if p.row is None else p.row])

    def losses(self, points: list[tuple[Parameter, float]]) -> list[tuple[float, str | None]]:
        if self.s.parameter_count() <= EXACT_LIMIT:
            return [self._exact(p, value) for p, value in points]
        results: list[tuple[float, str | None]] = [(float("nan"), None)] * len(points)
        by_layer: dict[int, list[int]] = {}
        for n, (p, _) in enumerate(points):
            by_layer.setdefault(p.layer - 1, []).append(n)
        passes = self.inputs.shape[0]
        for i, where in by_layer.items():
            width = max(max(layer.size for layer in self.s.layers[i:]), 1)
            size = max(1, _STACK // (passes * width))
            for start in range(0, len(where), size):
                chunk = where[start : start + size]
                for n, result in zip(chunk, self._chunk(i, [points[n] for n in chunk])):
                    results[n] = result
        return results

    def _chunk(self, i: int, points: list[tuple[Parameter, float]]) -> list[tuple[float, str | None]]:
        """The points of parameters of layer i (0-based), stacked: arrays of shape (points, passes, neurons)."""
        import numpy as np

        from bptrace import functions as network
        from bptrace.errors import BptraceError

        s = self.s
        layers = s.layers
        K = len(points)
        rows = np.array([-1 if p.row is None else p.row for p, _ in points])
        thetas = np.array([self.value(p) for p, _ in points])
        delta = np.array([v for _, v in points]) - thetas  # θ' − θ, exactly as stored
        is_weight = np.array([p.kind == "weight" for p, _ in points])
        cols = np.array([p.col if p.kind == "weight" else 0 for p, _ in points])
        a_in = self.inputs if i == 0 else self.outs[i - 1]
        layer = layers[i]
        column = layer.function.elementwise and not (rows < 0).any()  # one net per point changes
        bad = np.zeros(K, dtype=bool)
        crossed = np.zeros(K, dtype=bool)
        kinks_of = self._kinks
        with np.errstate(all="ignore"):
            # the nets of θ's layer: z' = z + (θ' − θ)·a (a = 1 for a bias)
            change = delta[:, None] * np.where(is_weight[:, None], a_in[:, cols].T, 1.0)  # (K, passes)
            stack: list[Any] = [None] * len(layers)  # full (K, passes, n) nets of the layers recomputed
            if column:
                z_col = self.nets[i][:, rows].T + change
                o_col = network.activate(layer.activation, z_col, layer.param)
                bad |= ~(np.isfinite(z_col).all(axis=1) & np.isfinite(o_col).all(axis=1))
                for k in kinks_of(i):
                    crossed |= (np.sign(z_col - k) != np.sign(self.nets[i][:, rows].T - k)).any(axis=1)
                if i + 1 < len(layers):
                    step_out = o_col - self.outs[i][:, rows].T  # (K, passes): out' − out of θ's neuron
                    z = self.nets[i + 1][None] + step_out[:, :, None] * layers[i + 1].weights[:, rows].T[:, None, :]
                    first = i + 1
                else:
                    out = np.repeat(self.outs[i][None], K, axis=0)
                    out[np.arange(K), :, rows] = o_col
                    first = len(layers)
            else:
                z = np.repeat(self.nets[i][None], K, axis=0)
                shared = rows < 0
                z[shared] += change[shared][:, :, None]
                single = np.flatnonzero(~shared)
                z[single, :, rows[single]] += change[single]
                first = i
            for j in range(first, len(layers)):
                stack[j] = z
                out = network.activate(layers[j].activation, z, layers[j].param)
                bad |= ~(np.isfinite(z).all(axis=(1, 2)) & np.isfinite(out).all(axis=(1, 2)))
                for k in kinks_of(j):
                    crossed |= (np.sign(z - k) != np.sign(self.nets[j] - k)[None]).any(axis=(1, 2))
                if j + 1 < len(layers):
                    z = out @ layers[j + 1].weights.T + layers[j + 1].bias_vector()
            # the loss of each point, as engine.batch_loss computes it, and the L2 penalty
            m = s.samples
            objective = s.objective
            arg = objective.argument(out)  # (K, m): the objective's own kink (the hinge's Δ + s_c − s)
            base = objective.argument(self.outs[-1])
            if arg is not None and base is not None:
                crossed |= (np.sign(arg) != np.sign(base)[None]).any(axis=1)
            names = list(s.output_layer.neurons)
            try:
                terms = objective.terms(out, s.targets, names)  # (K, m, terms)
            except BptraceError:  # some point needs the log of 0: each point on its own
                terms = np.empty((K, m, objective.terms(self.outs[-1], s.targets, names).shape[-1]))
                for n in range(K):
                    try:
                        terms[n] = objective.terms(out[n], s.targets, names)
                    except BptraceError:
                        terms[n] = 0.0
                        bad[n] = True
            per_sample = terms.sum(axis=-1)
            total = per_sample.mean(axis=-1) if s.reduction == "mean" else per_sample.sum(axis=-1)
            if s.l2:
                squares = self.squares + np.where(is_weight, (thetas + delta) ** 2 - thetas**2, 0.0)
                total = total + s.l2 / (2 * m) * squares
        bad |= ~np.isfinite(total)
        results: list[tuple[float, str | None]] = []
        for n in range(K):
            if bad[n]:
                results.append((float("nan"), None))
                continue
            crossing = None
            if crossed[n]:
                nets = list(self.nets)
                if column:
                    nets[i] = self.nets[i].copy()
                    nets[i][:, rows[n]] = z_col[n]
                for j in range(first, len(layers)):
                    nets[j] = stack[j][n]
                outs = list(self.outs[:-1]) + [out[n]]
                crossing = _crossing(s, self.sides, _kink_sides(s, nets, outs))
            results.append((float(total[n]), crossing))
        return results

    def _exact(self, p: Parameter, value: float) -> tuple[float, str | None]:
        """One point by the engine's whole forward pass (small networks: the values bptrace always printed)."""
        from bptrace.engine import step as engine
        from bptrace.errors import BptraceError

        weights = [w.copy() for w in self.weights] if p.kind == "weight" else self.weights
        biases = [b.copy() for b in self.biases] if p.kind == "bias" else self.biases
        if p.kind == "weight":
            weights[p.layer - 1][p.row, p.col] = value
        else:
            biases[p.layer - 1][0 if p.row is None else p.row] = value
        try:
            nets, outs = engine.forward(self.s, weights, biases, inputs=self.inputs)  # the rows, stacked once
            loss = engine.batch_loss(self.s, outs[-1])[1] + engine.penalty(self.s, weights)
        except BptraceError:
            return float("nan"), None
        return loss, _crossing(self.s, self.sides, _kink_sides(self.s, nets, outs)) if self.sides else None

    def _kinks(self, i: int) -> tuple[float, ...]:
        from bptrace.verify import kinks

        layer = self.s.layers[i]
        return tuple(kinks.activation_kinks(layer.activation, layer.param))


def _loss_error(trace: Trace, exact_terms: list[list[Any]]) -> float:
    """δE: Σ over outputs of |float64 term − 30-digit term|, combined over samples like E (an error bound)."""
    per_sample = [
        sum(abs(float(exact) - float(engine)) for exact, engine in zip(row, engine_row))
        for row, engine_row in zip(exact_terms, trace.loss_terms)
    ]
    total = sum(per_sample)
    return total / len(per_sample) if trace.scenario.reduction == "mean" else total


def _kink_notes(trace: Trace, params: list[Parameter]) -> dict[str, str | None]:
    """Per parameter: the kink exactly on θ's way to the loss (in any sample), named with its convention.

    θ's way: θ's own neuron (every neuron of the layer for a shared bias) and every neuron of the layers
    above; the objective's own kink (the hinge's corner) is on every parameter's way. None where no net is
    at a kink.
    """
    from bptrace.verify import kinks

    s = trace.scenario
    L = len(trace.layers)
    m = s.samples
    # the output layer's kinks that are not its activation's: the objective's corner (none for a loss)
    corner = trace.layers[-1].kink & ~_activation_kink(trace, L - 1)

    found: dict[tuple[int, int | None], str | None] = {}
    kinked: dict[int, Any] = {}

    def where(i: int, row: int | None) -> str | None:
        # the first kink of layer i (0-based) at neuron `row` (None: any neuron), in (pass, neuron) order
        if (i, row) in found:
            return found[i, row]
        import numpy as np

        layer = s.layers[i]
        at = kinked.get(i)
        if at is None:
            at = kinked[i] = _activation_kink(trace, i)
        hits = np.argwhere(at if row is None else at[:, row : row + 1])
        note: str | None = None
        if len(hits):
            sample, k = int(hits[0][0]), int(hits[0][1]) + (0 if row is None else row)
            template = (
                N_("{net} = 0 in sample {sample} (corrupt window): {note}")
                if s.objective.corrupt(sample)
                else N_("{net} = 0 in sample {sample}: {note}")
            )
            note = Message(
                template,
                net=f"net_{layer.neurons[k]}",
                sample=sample % m + 1,
                note=kinks.kink_note(layer.activation, layer.param),
            )
        found[i, row] = note
        return note

    above: list[str | None] = [None] * (L + 1)  # the first kink in the layers from index on
    if corner.any():
        sample = int(corner.nonzero()[0][0]) % m
        above[L] = Message(N_("sample {sample}: {note}"), sample=sample + 1, note=s.objective.kink_note())
    for i in reversed(range(L)):
        above[i] = where(i, None) or above[i + 1]
    out: dict[str, str | None] = {}
    for p in params:
        out[p.name] = where(p.layer - 1, p.row) or above[p.layer]
    return out


def _activation_kink(trace: Trace, i: int) -> Any:
    """Where layer i's nets (0-based) sit exactly at one of its activation's kinks, per pass and neuron."""
    import numpy as np

    from bptrace.verify import kinks

    net = trace.layers[i].net
    at = np.zeros(net.shape, dtype=bool)
    for k in kinks.activation_kinks(trace.scenario.layers[i].activation, trace.scenario.layers[i].param):
        at |= net == k
    return at


def resolution(trace: Trace) -> dict[str, float]:
    """Per parameter: the float64 resolution of its chain-rule gradient, (2L + 4)·ε·Ĝ (SymPy's judging floor).

    Ĝ is the gradient computed again with the absolute value of every term (|∂E/∂out|, |f′|, |w|, |out|;
    for softmax out_j·(|∂E/∂out_j| + Σ_i |∂E/∂out_i|·out_i)), the classic bound on the rounding of a
    backward pass through L layers. Without cancellation Ĝ = |g| and the floor is ~1e-15 of the value
    itself (so a tiny value is judged relatively); where terms cancel (a shared bias of a softmax layer:
    Σ_k δ_k = 0 exactly) it is the float64 resolution of those terms, below which no float64 sum is exact.
    """
    import numpy as np

    s = trace.scenario
    L = len(s.layers)
    m = s.samples
    scale = 1.0 / m if s.reduction == "mean" else 1.0
    inputs = s.all_inputs()
    bound = (2 * L + 4) * tol.EPSILON
    grads_w: list[Any] = [None] * L
    grads_b: list[Any] = [None] * L
    upstream = np.abs(trace.layers[-1].dE_dout)
    for i in reversed(range(L)):
        lt, layer = trace.layers[i], s.layers[i]
        if layer.activation == "softmax":
            a = np.abs(lt.out)
            delta = a * (upstream + (upstream * a).sum(axis=1, keepdims=True))
        else:
            delta = upstream * np.abs(lt.dout_dnet)
        prev = np.abs(inputs if i == 0 else trace.layers[i - 1].out)
        grads_w[i] = scale * (delta.T @ prev) + (s.l2 / m * np.abs(layer.weights) if s.l2 else 0.0)
        grads_b[i] = scale * delta.sum(axis=0) if layer.bias_mode == "neuron" else np.array([scale * delta.sum()])
        upstream = delta @ np.abs(layer.weights)
    out = {}
    for p in s.parameters():
        if p.kind == "weight":
            value = grads_w[p.layer - 1][p.row, p.col]
        else:
            value = grads_b[p.layer - 1][0 if p.row is None else p.row]
        out[p.name] = bound * float(value)
    return out


def _row(
    p: Parameter,
    g: float,
    sym: Any,
    fd: FiniteDifference | None,
    kink: str | None,
    rtol: float,
    floor: float,
    fd_rtol: float,
) -> ParameterCheck:
    """One parameter's row: each check judged by tolerances.py, or not judged with its reason."""
    diffs = []
    sympy_ok = fd_ok = None
    if sym is not None:
        diffs.append(abs(sym.value - g))
        sympy_ok = tol.sympy_agrees(g, sym.value, rtol, floor)
    if fd is not None:
        diffs.append(abs(fd.value - g))
        if fd.reason is None:
            fd_ok = tol.fd_agrees(fd.value, g, fd.noise or 0.0, fd_rtol)
    return ParameterCheck(
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
        ok=sympy_ok is not False and fd_ok is not False,
        nondifferentiable=kink is not None,
        fd_crosses_kink=fd is not None and fd.crosses_kink,
        fd_inconclusive=fd is not None and fd.inconclusive,
        fd_noise=None if fd is None else fd.noise,
        sympy_method=None if sym is None else sym.method,
        fd_reason=None if fd is None else fd.reason,
        kink=kink,
    )


def verify(
    trace: Trace,
    mode: str | None = None,
    *,
    fd_rtol: float = FD_RTOL,
    sympy_rtol: float = SYMPY_RTOL,
    sympy_floor: float = FLOOR,
    fd_step: float = FD_STEP,
    sample_per_layer: int = SAMPLE_PER_LAYER,
    only: Sequence[str] | None = None,
) -> Verification:
    """Check every gradient of `trace` against SymPy and finite differences (see the module docstring).

    mode: "full", "sample", "off", or None for default_mode(scenario). `only`: check just these
    parameters (by name), with no local factors (explain's checks of one gradient). Never prints.
    SymPy's import of sympy.tensor.tensor, which no expression here needs, is spared
    (symbolic.spared_imports).
    """
    from bptrace.verify import symbolic

    with symbolic.spared_imports():
        return _verify(trace, mode, fd_rtol, sympy_rtol, sympy_floor, fd_step, sample_per_layer, only)


def _verify(
    trace: Trace,
    mode: str | None,
    fd_rtol: float,
    sympy_rtol: float,
    sympy_floor: float,
    fd_step: float,
    sample_per_layer: int,
    only: Sequence[str] | None,
) -> Verification:
    """verify(), inside its stand-ins."""
    from bptrace.verify import symbolic

    scenario = trace.scenario
    mode = default_mode(scenario) if mode is None else mode
    if mode not in MODES:
        raise ValueError(f"unknown verification mode {mode!r}; choose one of {', '.join(MODES)}")
    params = scenario.parameters()
    if only is not None:
        params = [p for p in params if p.name in set(only)]
    notes: list[str] = []
    seconds: dict[str, float] = {}

    if mode == "full":
        to_derive = params
    elif mode == "sample":
        to_derive = []
        for p in _within_budget(scenario, sample(scenario, sample_per_layer, params), notes):
            sizes = [layer.size for layer in scenario.layers[p.layer - 1 :]]
            if not symbolic.layered_route(scenario, p) and symbolic.paths(sizes) > SAMPLE_PATH_LIMIT:
                note = Message(
                    N_("layer {layer}: not derived by SymPy in mode sample ({paths} paths to the loss > {limit})"),
                    layer=p.layer,
                    paths=symbolic.paths(sizes),
                    limit=SAMPLE_PATH_LIMIT,
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
            Message(
                N_(
                    "finite differences for {n} of {total} parameters ({per_layer} evenly spaced per layer, "
                    "and SymPy's sample)"
                ),
                n=len(fd_params),
                total=len(params),
                per_layer=FD_SAMPLE_PER_LAYER,
            )
        )
    else:
        fd_params = params
    loss_error = None
    hp = None
    if mode != "off" and (to_derive or only is None):
        start = time.perf_counter()
        # the engine's nets only pick the side of each relu kink SymPy evaluates on (symbolic's docstring)
        hp = symbolic.high_precision_forward(scenario, [lt.net for lt in trace.layers])
        exact = symbolic.loss_terms(scenario, hp)  # E_s's terms in 30 digits, from the objective's SymPy form
        loss_error = _loss_error(trace, exact)
        seconds["high_precision_forward"] = time.perf_counter() - start

    start = time.perf_counter()
    fds = finite_differences(
        scenario, fd_params, fd_step, {p.name: trace.grad(p) for p in fd_params}, fd_rtol, loss_error
    )
    seconds["finite_differences"] = time.perf_counter() - start

    start = time.perf_counter()
    if not to_derive:
        derived = {}
    else:
        # the engine's outputs only pick the side of the objective's own kink (the hinge's corner)
        derived = symbolic.gradients(scenario, to_derive, forward=hp, engine_outs=trace.layers[-1].out)
    if scenario.l2:
        derived = {name: symbolic.with_penalty(scenario, g) for name, g in derived.items()}
    seconds["sympy"] = time.perf_counter() - start
    local = None
    if mode != "off" and only is None:
        start = time.perf_counter()
        local = symbolic.local_factors(trace, sympy_rtol, sympy_floor)
        seconds["local_factors"] = time.perf_counter() - start

    notes_at = _kink_notes(trace, params)
    floors = resolution(trace) if derived else {}
    rows = [
        _row(
            p,
            trace.grad(p),
            derived.get(p.name),
            fds.get(p.name),
            notes_at[p.name],
            sympy_rtol,
            max(sympy_floor, floors.get(p.name, 0.0)),
            fd_rtol,
        )
        for p in params
    ]
    return Verification(
        mode=mode,
        parameters=tuple(rows),
        local=local,
        sympy_derived=tuple(p.name for p in to_derive),
        fd_sampled=fd_sampled,
        tolerances=Tolerances(fd_rtol, sympy_rtol, sympy_floor, fd_step),
        notes=tuple(notes),
        seconds=seconds,
        trace=trace,
    )
