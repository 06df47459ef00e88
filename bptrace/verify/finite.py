"""The one finite difference every kind judges its gradients with (networks, layer stacks, RNNs, graphs).

A kind supplies its float64 loss at a point θ′ (and the kink, if any, that θ′ is on the other side of);
this module takes the steps, forms the five-point difference (tolerances.combine), bounds its rounding
(tolerances.fd_noise) and decides (`decide`): agrees, disagrees, or not judged with the reason — the
stencil crosses a kink even at h/100, the float64 loss is too coarse (its rounding bound not below half of
what it measures), too noisy (the steps h and 10h disagree beyond h's tolerance), flat, or not computable
at a stencil point. A wrong gradient gives steps that agree with each other and not with it: a mismatch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

from bptrace.i18n import N_
from bptrace.message import Message
from bptrace.verify import tolerances as tol


@dataclass(frozen=True)
class FiniteDifference:
    """A finite-difference derivative of the batch loss."""

    value: float
    step: float
    crosses_kink: bool
    inconclusive: bool = False  # no verdict possible: see finite_differences
    noise: float | None = None  # the bound 1.5·max(δE, 4ε|E|)/h on its rounding error (tolerances.fd_noise)
    reason: str | None = None  # why it cannot be judged (crosses_kink or inconclusive), for the reader


def decide(
    h: float, g: float | None, rtol: float = tol.FD_RTOL
) -> Generator[float, FiniteDifference, FiniteDifference]:
    """One parameter's finite difference, judged: yields each step it needs, receives that step's difference
    (the rules are verification.finite_differences's docstring and docs/verification.md)."""
    result = yield h
    if result.crosses_kink:
        result = yield h / 100
    elif g is not None:

        def miss(r: FiniteDifference, g: float = g) -> float:
            return abs(r.value - g) if r.value == r.value else float("inf")  # nan: the worst

        def agrees(r: FiniteDifference, g: float = g) -> bool:
            return tol.fd_agrees(r.value, g, r.noise or 0.0, rtol)

        tried = [result]
        for larger in (10 * h, 100 * h):
            if agrees(result):
                break
            attempt = yield larger
            if not attempt.crosses_kink and attempt.value == attempt.value:  # nan: E undefined there
                tried.append(attempt)
                result = min(tried, key=miss)
        values = [r.value for r in tried]
        # noisy: the two smallest steps disagree by more than the smaller's tolerance. Rounding noise falls
        # as 1/h, the five-point truncation error grows as h⁴, so D(h) against D(10h) tells noise apart:
        # D(100h) may differ from both by truncation alone (tanh's f⁽⁵⁾ at h = 1e-2), and counting it let
        # a gradient 1e-5 off pass as "too noisy" (rnn_tiny's b_h_2)
        first = tried[:2]
        tolerance = rtol * abs(g) + (first[0].noise or 0.0)
        noisy = len(first) > 1 and not abs(first[0].value - first[1].value) <= tolerance
        flat = all(v == 0.0 for v in values)  # the float64 loss never changed at all
        # too coarse: its rounding bound is not below half of what it measures, so it can neither
        # confirm nor refute g (unless it matches g without the bound's help)
        coarse = not (result.noise or 0.0) < max(abs(g), abs(result.value)) / 2
        why = None
        if miss(result) > rtol * abs(g) and coarse:
            why = Message(
                N_(
                    "the float64 loss is too coarse here to judge (the rounding error bound {bound} is not "
                    "below half of |g|)"
                ),
                bound=f"{result.noise:.1e}",
            )
        elif not agrees(result) and len(tried) > 1 and (noisy or flat):
            why = Message(
                N_("the float64 loss did not change at any step (it is flat to rounding here)")
                if flat
                else N_(
                    "the float64 loss is too noisy here to judge "
                    "(the steps h and 10h disagree beyond the rounding bound)"
                )
            )
        if why is not None:
            result = dataclasses.replace(result, inconclusive=True, reason=why)
    if result.value != result.value:
        # the engine refuses the loss at a stencil point (e.g. ln 0 of a saturated output): no verdict
        why = Message(N_("the engine cannot evaluate the loss at a stencil point (e.g. ln 0 of a saturated output)"))
        result = dataclasses.replace(result, inconclusive=True, reason=why)
    return result


def stencil(four: Sequence[tuple[float, str | None]], h: float, noise: float) -> FiniteDifference:
    """The difference at step h from (E, crossed kink or None) at θ+h, θ−h, θ+2h, θ−2h."""
    value = tol.combine((four[0][0], four[1][0], four[2][0], four[3][0]), h)
    crossed = next((c for _, c in four if c), None)
    if crossed:
        reason = Message(N_("the stencil θ ± 2h (h = {h}) crosses {crossed}"), h=f"{h:.0e}", crossed=crossed)
        return FiniteDifference(value, h, True, noise=noise, reason=reason)
    return FiniteDifference(value, h, False, noise=noise)


def difference(
    loss: Callable[[float], tuple[float, str | None]],
    theta: float,
    g: float | None,
    base_loss: float,
    loss_error: float | None = None,
    base_step: float = tol.FD_STEP,
    rtol: float = tol.FD_RTOL,
) -> FiniteDifference:
    """One parameter's finite difference, judged against the chain rule's g (`decide`), one point at a time:
    loss(θ′) is the kind's float64 loss with θ′ in place (nan where it cannot be evaluated) and the kink
    θ′ is across from θ, if any; base_loss is E(θ), δE = loss_error bounds its error (None: 4ε·|E|)."""
    steps = decide(tol.step(theta, base_step), g, rtol)
    h = next(steps)
    while True:
        four = [loss(theta + k * h) for k in (1, -1, 2, -2)]
        result = stencil(four, h, tol.fd_noise(base_loss, h, loss_error))
        try:
            h = steps.send(result)
        except StopIteration as done:
            value: FiniteDifference = done.value
            return value


def judged(fd: FiniteDifference) -> bool:
    """A verdict is possible: the stencil crosses no kink and the float64 loss can tell."""
    return not (fd.crosses_kink or fd.inconclusive)


def agrees(fd: FiniteDifference, g: float, rtol: float = tol.FD_RTOL) -> bool:
    """|fd − g| ≤ rtol·|g| + its rounding bound (tolerances.fd_agrees)."""
    return tol.fd_agrees(fd.value, g, fd.noise or 0.0, rtol)
