"""Where the loss is not differentiable, and the convention bptrace takes there (one place for verify and explain).

An activation's kinks are the nets where it is not differentiable; the max-margin hinge max(0, Δ + s_c − s)
has its corner where its argument is 0. At a kink the engine (and SymPy, through Heaviside(x, 0)) uses a
one-sided derivative by convention; a finite difference whose stencil reaches across a kink measures
neither side and is not judged (verification.finite_differences).

Each activation's kinks and its convention come from its registry entry (bptrace.functions: `has_kink`,
`kink_note`); the objective's own kink (the hinge's corner) from the objective (bptrace.objective:
`kink_name`, `KINK_NOTE`, `KINK_PLACE`).
"""

from __future__ import annotations

from bptrace.i18n import N_
from bptrace.message import Message
from bptrace.objective import Hinge

HINGE = Hinge.kink_name  # the name under which the hinge's corner is reported
HINGE_NOTE = Hinge.KINK_NOTE


def activation_kinks(activation: str, param: float | None = None) -> tuple[float, ...]:
    """The nets where `activation` (with its parameter) is not differentiable."""
    from bptrace import functions

    return (0.0,) if functions.activation(activation).has_kink(param) else ()


def kink_note(activation: str, param: float | None = None) -> str:
    """The function, the point and the convention, e.g. "leaky_relu′(0) = α = 0.01 by convention"."""
    from bptrace import functions

    if activation == HINGE:
        return HINGE_NOTE
    return functions.activation(activation).kink_note(param) or Message(N_("{name} has no kink"), name=activation)


def kink_place(activation: str, net: str = "net") -> str:
    """What crossing the kink means, for a reason: "relu's kink at net = 0", "the max-margin hinge's corner";
    `net` names the net ("net_h1")."""
    if activation == HINGE:
        return Hinge.KINK_PLACE
    from bptrace import functions

    points = "0" if functions.activation(activation).kinked else ""
    return Message(N_("{name}'s kink at {net} = {point}"), name=activation, net=net, point=points)
