"""The one finite difference and the one set of tolerances every check of bptrace uses (run, explain, local factors).

SymPy (30-digit arithmetic) against a float64 value g:

    agrees  ⇔  |g − sympy| ≤ SYMPY_RTOL·|sympy| + floor          (1e-9 relative)

    floor = FLOOR = 1e-300 for a local factor (f′(net), ∂E/∂out), and for a gradient the larger of FLOOR
    and its float64 resolution (2L + 4)·ε·Ĝ (verification.resolution: Ĝ is the gradient recomputed with
    the absolute value of every term; without cancellation Ĝ = |g|, so the floor is ~1e-15 of the value
    itself). Both are far below the value shown, so a tiny value is judged relatively like any other:
    σ′(35.2) = 5.16e-16 beside 4.44e-16 disagrees. Only where terms cancel (Σ_k δ_k of a softmax layer's
    shared bias, exactly 0) does the floor reach the float64 resolution of the terms.

A finite difference fd of the float64 loss E against the chain rule's g:

    agrees  ⇔  |fd − g| ≤ FD_RTOL·|g| + noise,   noise = 1.5·max(δE, 4ε·|E|)/h      (FD_RTOL = 1e-6)

    The finite difference cannot be more accurate than the loss it differences: each of its four loss
    values is off by up to δE (the engine's loss error, measured against the 30-digit loss when SymPy
    runs; at least 4ε·|E|, ε = 2⁻⁵²), and the stencil weights (8 + 8 + 1 + 1)/12 turn that into 1.5·δE/h.
    That bound is the finite difference's floor: computed per parameter, never a fixed absolute tolerance.

The finite difference (FD_STEP = 1e-4; h = FD_STEP·max(1, |θ|)):

    D(h) = [8(E(θ+h) − E(θ−h)) − (E(θ+2h) − E(θ−2h))] / 12h        (five points, error O(h⁴))
"""

from __future__ import annotations

from collections.abc import Callable

FD_STEP = 1e-4
FD_RTOL = 1e-6
SYMPY_RTOL = 1e-9
FLOOR = 1e-300  # SymPy's floor: far below any value shown; only two zeros (or denormals) agree through it
EPSILON = 2.0**-52
FD_WEIGHT = 1.5  # (8 + 8 + 1 + 1)/12: how the stencil magnifies an error in each loss value (over h)


def step(theta: float, base: float = FD_STEP) -> float:
    """The finite difference's step at θ: base·max(1, |θ|)."""
    return base * max(1.0, abs(theta))


def five_point(f: Callable[[float], float], x: float, h: float) -> float:
    """[8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h))] / 12h."""
    return (8.0 * (f(x + h) - f(x - h)) - (f(x + 2 * h) - f(x - 2 * h))) / (12.0 * h)


def combine(values: tuple[float, float, float, float], h: float) -> float:
    """The five-point formula from E(θ+h), E(θ−h), E(θ+2h), E(θ−2h)."""
    return (8.0 * (values[0] - values[1]) - (values[2] - values[3])) / (12.0 * h)


def fd_noise(loss: float, h: float, loss_error: float | None = None) -> float:
    """The bound 1.5·max(δE, 4ε·|E|)/h on a finite difference's rounding error."""
    delta = 4 * EPSILON * abs(loss)
    if loss_error is not None:
        delta = max(delta, loss_error)
    return FD_WEIGHT * delta / h


def sympy_agrees(value: float, exact: float, rtol: float = SYMPY_RTOL, floor: float = FLOOR) -> bool:
    """|value − exact| ≤ rtol·|exact| + floor (False for nan/inf)."""
    return bool(abs(value - exact) <= rtol * abs(exact) + floor)


def fd_agrees(fd: float, g: float, noise: float, rtol: float = FD_RTOL) -> bool:
    """|fd − g| ≤ rtol·|g| + noise (False for nan/inf)."""
    return bool(abs(fd - g) <= rtol * abs(g) + noise)
