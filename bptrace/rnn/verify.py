"""Independent checks of a recurrent scenario's gradients: SymPy on the unrolled network, and finite differences.

Both differentiate the objective itself, never the backward pass. The network is unrolled over the T steps with
one copy θ_s of every parameter per step (the same value in each copy). Truncated BPTT with window k is by its
definition Σ_t Σ_{s=t−k+1..t} ∂E_t/∂θ_s (without truncation k = T and this is ∂E/∂θ):

  * SymPy builds each E_t as one expression of the copies (the registry's SymPy form of each activation and
    loss, numbers as exact rationals) and differentiates it with respect to each copy in the window;
  * finite differences move the copies in each loss's window together (five-point central differences,
    h = 1e-4·max(1, |θ|)) and add the slopes over the losses.

SymPy runs for every parameter while the unrolled derivative stays quick (sympy_cost ≤ SYMPY_ALL_LIMIT), for
a sample of the parameters (the first of each matrix and bias) up to SYMPY_SAMPLE_LIMIT, and not beyond; the
finite differences always run for every parameter. A difference whose steps move a relu-like net across 0
crosses a kink: it is shown but not judged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bptrace.errors import NumericalError
from bptrace.i18n import N_, _
from bptrace.message import Message, tr
from bptrace.rnn import engine
from bptrace.rnn.engine import RnnTrace
from bptrace.verify import finite
from bptrace.verify.checks import GradientCheck, judged_by
from bptrace.verify.tolerances import (
    EPSILON,
    FLOOR,
    fd_agrees,
    sympy_agrees,
)

SYMPY_ALL_LIMIT = 12  # sympy_cost up to which SymPy derives every parameter (quick: under a second each) ...
SYMPY_SAMPLE_LIMIT = 18  # ... and up to which a sample (the first entry of each matrix and bias)

FD_CROSSES = N_("finite difference crosses a kink: not judged")
FD_NOT_COMPUTED = N_("finite difference not computed: {message}")
FD_NOT_JUDGED = N_("finite difference not judged: {reason}")


Check = GradientCheck  # one parameter's gradient three ways (verify/checks.py)


@dataclass(frozen=True)
class RnnVerification:
    checks: tuple[Check, ...]
    sympy_mode: str  # "all", "sample" or "none"
    loss_sympy: float | None
    loss_ok: bool
    truncated: bool
    window: int

    @property
    def ok(self) -> bool:
        return self.loss_ok and all(c.ok for c in self.checks)

    def tolerances(self) -> dict[str, float]:
        return judged_by()


def sympy_cost(trace: RnnTrace) -> int:
    """How deep SymPy's unrolled derivative goes: the window (steps each loss reaches back) × hidden units²
    (the paths between two steps' states). SymPy's time grows steeply with it (T = 5 and 3 hidden units,
    cost 45, takes a minute per parameter)."""
    s = trace.scenario
    return s.window * s.n_h * s.n_h


def sympy_mode(trace: RnnTrace, requested: str = "auto") -> str:
    """'all' (SymPy derives every parameter), 'sample' (one of each matrix and bias) or 'none'."""
    cost = sympy_cost(trace)
    if requested == "full":
        if cost > 2 * SYMPY_SAMPLE_LIMIT:
            from bptrace.errors import BptraceError

            raise BptraceError(
                _(
                    "--verify full: SymPy's unrolled derivative is too large here (window × hidden units² = {cost}, "
                    "more than {limit}; minutes per parameter)"
                ).format(cost=cost, limit=2 * SYMPY_SAMPLE_LIMIT),
                hint=_("use --verify auto: the finite differences check every gradient"),
            )
        return "all"
    if requested == "sample":
        return "sample" if cost <= SYMPY_SAMPLE_LIMIT else "none"
    if cost <= SYMPY_ALL_LIMIT and len(trace.scenario.parameters()) <= 24:
        return "all"
    return "sample" if cost <= SYMPY_SAMPLE_LIMIT else "none"


def _sampled(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        base, _idx = engine.split_name(name)
        if base not in seen:
            seen.add(base)
            out.append(name)
    return out


def digits(s: Any) -> int:
    """The working digits of SymPy's numbers: 30, plus the decades of the largest number in the scenario.
    With 30 digits alone a sum like 2.5e307 + 1.0 (the O(1) path beside the path through a state of 1e308,
    h0: [1e308, …], whose factor sech²(5e307) is exactly 0) rounds to 2.5e307 and loses the 1.0, so SymPy's
    derivative came out 0 where the engine and the finite difference agree on 0.48."""
    import math

    import numpy as np

    p = engine.parameter_arrays(s)
    numbers = [abs(float(v)) for a in p.values() for v in np.ravel(a)]
    numbers += [abs(float(v)) for v in s.h0] + [abs(float(v)) for v in np.ravel(s.inputs)]
    largest = max([1.0, *(v for v in numbers if math.isfinite(v))])
    return 30 + math.ceil(math.log10(largest))


def _float(x: float, n: int = 30) -> Any:
    import sympy as sp

    return sp.Float(x, n)  # the float64's exact binary value, carried with n digits (30 + the decades above 1)


def sympy_loss(trace: RnnTrace, t: int, name: str | None = None, symbol: Any = None, steps: range = range(0)) -> Any:
    """E_t as a SymPy expression: the unrolled network with parameter `name` replaced by `symbol` at the
    `steps` given (the copies in a loss's window) and everything else a 30-digit number (so SymPy evaluates the
    parts that do not depend on the symbol as it builds them)."""
    import sympy as sp

    from bptrace import functions

    s = trace.scenario
    p = engine.parameter_arrays(s)
    n = digits(s)
    base, idx = engine.split_name(name) if name is not None else ("", ())

    def matrix(key: str, step: int) -> list[list[Any]]:
        a = p[key]
        rows = [[_float(float(v), n) for v in row] for row in (a if a.ndim == 2 else a[:, None])]
        if key == base and step in steps:
            r, c = (idx[0], idx[1]) if len(idx) == 2 else (idx[0], 0)
            rows[r][c] = symbol
        return rows

    fa, ga = functions.activation(s.hidden_activation), functions.activation(s.output_activation)
    lossf = functions.loss(s.loss)
    zero = sp.Integer(0)
    h = [_float(v, n) for v in s.h0]
    for step in range(1, t + 1):
        W_xh, W_hh, b_h = matrix("W_xh", step), matrix("W_hh", step), matrix("b_h", step)
        x = [_float(v, n) for v in s.inputs[step - 1]]
        nets = [
            sum((W_xh[i][j] * x[j] for j in range(s.n_in)), zero)
            + sum((W_hh[i][j] * h[j] for j in range(s.n_h)), zero)
            + b_h[i][0]
            for i in range(s.n_h)
        ]
        h = [fa.sympy(n, s.hidden_param, nets) for n in nets]
    target = s.targets[t - 1]
    assert target is not None
    W_hy, b_y = matrix("W_hy", t), matrix("b_y", t)
    zs = [sum((W_hy[i][j] * h[j] for j in range(s.n_h)), zero) + b_y[i][0] for i in range(s.n_y)]
    ys = [ga.sympy(z, s.output_param, zs) for z in zs]
    return sum((lossf.sympy(ys[i], _float(target[i], n), s.n_y) for i in range(s.n_y)), zero)


def _number(e: Any) -> float | None:
    try:
        v = complex(e.evalf(30))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return v.real if v.imag == 0 else None


def sympy_gradient(trace: RnnTrace, name: str) -> float | None:
    """Σ_t Σ_{s in t's window} ∂E_t/∂θ_s by SymPy at the parameter's value: for each loss E_t, the copies of θ
    in its window are one symbol u, and SymPy's dE_t/du is that sum over the window."""
    import sympy as sp

    s = trace.scenario
    k = s.window
    u = sp.Symbol("u")
    value = _float(trace.values[name], digits(s))
    total = 0.0
    for t in s.loss_steps():
        e = sympy_loss(trace, t, name, u, range(max(1, t - k + 1), t + 1))
        v = _number(e.diff(u).subs(u, value))
        if v is None:
            return None
        total += v
    return total


def finite_difference(trace: RnnTrace, name: str) -> tuple[float | None, bool, float, str]:
    """(the one judged finite difference (verify/finite.py) of F(u) = Σ_t E_t(the copies of θ in t's window
    at u), whose slope at θ is Σ_t Σ_{s in t's window} ∂E_t/∂θ_s; judged; its rounding bound; why it is not
    judged or computed). Too coarse or noisy a float64 loss, or a stencil the engine refuses, is not judged."""
    import numpy as np

    s = trace.scenario
    p = engine.parameter_arrays(s)
    base, idx = engine.split_name(name)
    theta = trace.values[name]
    k = s.window
    kinked = _kinked(s)

    def at(value: float) -> tuple[tuple[tuple[tuple[bool, ...], ...], ...], float]:
        patterns: list[tuple[tuple[bool, ...], ...]] = []
        total = 0.0
        for t in s.loss_steps():
            window = range(max(1, t - k + 1), t + 1)
            per_step = []
            for step in range(1, s.steps + 1):
                q = {key: np.array(v) for key, v in p.items()}
                if step in window:
                    q[base][idx] = value
                per_step.append(q)
            branches: list[tuple[bool, ...]] = []
            total += float(engine.forward_losses(s, p, per_step, branches)[t])
            patterns.append(tuple(branches))
        return tuple(patterns), total

    try:
        pattern, e0 = at(theta)
    except NumericalError as exc:
        return None, False, 0.0, exc.message
    if not np.isfinite(e0):
        return None, False, 0.0, _("a loss on the stencil is not finite")

    def loss(value: float) -> tuple[float, str | None]:
        try:
            branches, e = at(value)
        except NumericalError:
            return float("nan"), None
        crossed = kinked and branches != pattern
        return (e if np.isfinite(e) else float("nan")), (Message(N_("a kink of an activation")) if crossed else None)

    fd = finite.difference(loss, theta, trace.grads[name], e0)
    return fd.value, finite.judged(fd), fd.noise or 0.0, "" if finite.judged(fd) else (fd.reason or "")


def _kinked(s: Any) -> bool:
    from bptrace import functions

    return any(
        functions.activation(a).has_kink(q)
        for a, q in ((s.hidden_activation, s.hidden_param), (s.output_activation, s.output_param))
    )


def resolution(trace: RnnTrace, name: str) -> float:
    """The float64 resolution of a gradient, the floor of its SymPy check: (2D + 4)·ε·Ĝ, Ĝ the sum of the
    absolute values of its terms over the steps and D the depth (T steps of two layers)."""
    import numpy as np

    terms = float(np.abs(trace.contributions[name][1:]).sum())
    scale = max(terms, abs(trace.grads[name]))
    return max(FLOOR, (4 * trace.scenario.steps + 8) * EPSILON * scale * 8)


def verify(trace: RnnTrace, mode: str = "auto", only: str | None = None) -> RnnVerification:
    """Check every parameter's gradient (or just `only`'s): finite differences always, SymPy as `mode` says."""
    s = trace.scenario
    names = s.parameters() if only is None else [only]
    chosen = sympy_mode(trace, mode)
    if chosen == "all" or (only is not None and chosen != "none"):
        with_sympy = set(names)
    elif chosen == "sample":
        with_sympy = set(_sampled(names))
    else:
        with_sympy = set()
    checks = []
    for name in names:
        g = trace.grads[name]
        sy = sympy_gradient(trace, name) if name in with_sympy else None
        fd, judged, noise, error = finite_difference(trace, name)
        sympy_ok = name not in with_sympy or (sy is not None and sympy_agrees(g, sy, floor=resolution(trace, name)))
        fd_ok = not judged or (fd is not None and fd_agrees(fd, g, noise))
        note, shown = "", ""
        if fd is None:
            note, shown = f"finite difference not computed: {error}", _(FD_NOT_COMPUTED).format(message=error)
        elif not judged:
            note = f"finite difference not judged: {error}" if error else "finite difference crosses a kink: not judged"
            shown = _(FD_NOT_JUDGED).format(reason=tr(error)) if error else _(FD_CROSSES)
        if name in with_sympy and sy is None:
            note = "; ".join(x for x in (note, "SymPy could not evaluate its derivative here") if x)
            shown = "; ".join(x for x in (shown, _("SymPy could not evaluate its derivative here")) if x)
        checks.append(Check(name, g, sy, fd, judged and fd is not None, note, sympy_ok and fd_ok, shown))
    loss_sympy: float | None = None
    loss_ok = True
    if chosen != "none" and only is None:
        values = [_number(sympy_loss(trace, t)) for t in s.loss_steps()]
        if all(v is not None for v in values):
            loss_sympy = float(sum(v for v in values if v is not None))
            loss_ok = sympy_agrees(
                trace.total, loss_sympy, floor=(8 * s.steps + 8) * EPSILON * max(1.0, abs(loss_sympy))
            )
        else:
            loss_ok = False
    return RnnVerification(tuple(checks), chosen, loss_sympy, loss_ok, s.truncate is not None, s.window)
