"""Where the loss is not differentiable, and the convention bptrace takes there (one place for verify and explain).

An activation's kinks are the nets where it is not differentiable; the max-margin hinge max(0, Δ + s_c − s)
has its corner where its argument is 0. At a kink the engine (and SymPy, through Heaviside(x, 0)) uses a
one-sided derivative by convention; a finite difference whose stencil reaches across a kink measures
neither side and is not judged (verification.finite_differences).

This is the local stand-in for the activation registry's `kinks` / `kink_note`: when the registry lands,
`activation_kinks` and `kink_note` read its entry instead.
"""

from __future__ import annotations

from bptrace.fmt import num

HINGE = "max_margin"  # the name under which the hinge's corner is reported
HINGE_NOTE = "the max-margin hinge at its corner (Δ + s_c − s = 0): taken as 0"


def activation_kinks(activation: str) -> tuple[float, ...]:
    """The nets where `activation` is not differentiable."""
    return (0.0,) if activation in ("relu", "leaky_relu") else ()


def kink_note(activation: str, slope: float = 0.0) -> str:
    """The function, the point and the convention, e.g. "leaky_relu′(0) = α = 0.01 by convention"."""
    if activation == HINGE:
        return HINGE_NOTE
    if activation == "leaky_relu":
        return f"leaky_relu′(0) = α = {num(slope)} by convention"
    if activation == "relu":
        return "relu′(0) = 0 by convention"
    return f"{activation} has no kink"


def kink_place(activation: str) -> str:
    """What crossing the kink means, for a reason: "relu's kink at net = 0", "the max-margin hinge's corner"."""
    if activation == HINGE:
        return "the max-margin hinge's corner (Δ + s_c − s = 0)"
    points = ", ".join(num(k) for k in activation_kinks(activation))
    return f"{activation}'s kink at net = {points}"
