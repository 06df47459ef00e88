"""Activations and losses: each one's forward rule, its derivative and its SymPy form side by side.

The numeric rules work on float64 arrays of shape (samples, neurons). The SymPy forms take SymPy
expressions and are used by the independent verification (symbolic.py), which differentiates them
itself; the closed-form derivatives here are what the engine uses and what the verification checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bptrace.errors import NumericalError

if TYPE_CHECKING:
    import numpy as np

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "linear", "softmax")
LOSSES = ("half_sse", "sse", "mse", "bce", "cross_entropy")  # losses of outputs against targets
SCORE_LOSSES = ("max_margin",)  # J = max(0, Δ + s(x_c) − s(x)): a score per window, no targets (the CS224n-style notes)
DEFAULT_LEAKY_SLOPE = 0.01


@dataclass(frozen=True)
class ActivationInfo:
    """How an activation is written: its definition and the closed form of its derivative."""

    name: str
    symbol: str  # f as shown in formulas
    definition: str  # out = f(net)
    derivative: str  # the closed form the engine uses, in terms of out or net
    derivative_ascii: str


ACTIVATION_INFO = {
    "sigmoid": ActivationInfo("sigmoid", "σ", "σ(net) = 1/(1 + e^(−net))", "out·(1 − out)", "out*(1 - out)"),
    "tanh": ActivationInfo("tanh", "tanh", "tanh(net)", "1 − out²", "1 - out^2"),
    "relu": ActivationInfo("relu", "relu", "max(0, net)", "1 if net > 0 else 0 (relu′(0) = 0)", "1 if net > 0 else 0"),
    "leaky_relu": ActivationInfo(
        "leaky_relu", "lrelu", "net if net > 0 else α·net", "1 if net > 0 else α (at 0: α)", "1 if net > 0 else alpha"
    ),
    "linear": ActivationInfo("linear", "id", "net", "1", "1"),
    "softmax": ActivationInfo(
        "softmax", "softmax", "e^(net_i) / Σ_k e^(net_k)", "out_i·([i = j] − out_j)", "out_i*([i=j] - out_j)"
    ),
}

# One output's term of the per-sample loss and its derivative ∂E/∂out, as templates: {t} the target,
# {o} the output, {n} the number of outputs. Renderers fill them with names or with numbers.
LOSS_FORMULA = {
    "half_sse": ("½({t} − {o})²", "−({t} − {o})"),
    "sse": ("({t} − {o})²", "−2({t} − {o})"),
    "mse": ("({t} − {o})²/{n}", "−2({t} − {o})/{n}"),
    "bce": ("−[{t}·ln({o}) + (1 − {t})·ln(1 − {o})]", "−{t}/{o} + (1 − {t})/(1 − {o})"),
    "cross_entropy": ("−{t}·ln({o})", "−{t}/{o}"),
}
LOSS_TERM = {
    name: (term.format(t="t", o="out", n="n"), grad.format(t="t", o="out", n="n"))
    for name, (term, grad) in LOSS_FORMULA.items()
}


def activate(name: str, z: np.ndarray, slope: float = DEFAULT_LEAKY_SLOPE) -> np.ndarray:
    """out = f(net), elementwise (softmax: along each sample's row), numerically stable."""
    import numpy as np

    if name == "sigmoid":
        # Stable in both tails: 1/(1+e^-z) for z >= 0, e^z/(1+e^z) for z < 0; never overflows.
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "linear":
        return z.copy()
    if name == "softmax":
        shifted = z - z.max(axis=-1, keepdims=True)  # e^(z - max) cannot overflow
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)
    raise ValueError(f"unknown activation {name!r}")


def activation_derivative(name: str, z: np.ndarray, a: np.ndarray, slope: float = DEFAULT_LEAKY_SLOPE) -> np.ndarray:
    """∂out/∂net for each neuron (for softmax the diagonal of its Jacobian, out·(1 − out))."""
    import numpy as np

    if name in ("sigmoid", "softmax"):
        return a * (1.0 - a)  # σ′ = σ(1 − σ), written in out
    if name == "tanh":
        return 1.0 - a * a  # tanh′ = 1 − tanh²
    if name == "relu":
        return np.where(z > 0, 1.0, 0.0)  # relu′(0) = 0 by convention
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, slope)  # leaky′(0) = slope by convention
    if name == "linear":
        return np.ones_like(z)
    raise ValueError(f"unknown activation {name!r}")


def is_kink(name: str, z: np.ndarray) -> np.ndarray:
    """Where f is not differentiable (relu and leaky_relu exactly at net = 0)."""
    import numpy as np

    if name in ("relu", "leaky_relu"):
        return z == 0
    return np.zeros(z.shape, dtype=bool)


def loss_terms(name: str, a: np.ndarray, t: np.ndarray, names: list[str] | None = None) -> np.ndarray:
    """Each output's term of the per-sample loss; a sample's loss E_s is the sum of its row."""
    import numpy as np

    n = a.shape[-1]
    if name == "half_sse":
        return 0.5 * (t - a) ** 2
    if name == "sse":
        return (t - a) ** 2
    if name == "mse":
        return (t - a) ** 2 / n
    if name in ("bce", "cross_entropy"):
        _refuse_log_of_zero(name, a, t, names)
        with np.errstate(divide="ignore", invalid="ignore"):
            if name == "bce":
                # t·ln(o) is taken as 0 where t = 0 (and likewise (1−t)·ln(1−o) where t = 1)
                first = np.where(t > 0, t * np.log(np.where(t > 0, a, 1.0)), 0.0)
                second = np.where(t < 1, (1 - t) * np.log(np.where(t < 1, 1 - a, 1.0)), 0.0)
                return -(first + second)
            return -np.where(t > 0, t * np.log(np.where(t > 0, a, 1.0)), 0.0)
    raise ValueError(f"unknown loss {name!r}")


def loss_gradient(name: str, a: np.ndarray, t: np.ndarray) -> np.ndarray:
    """∂E_s/∂out for each output of each sample."""
    import numpy as np

    n = a.shape[-1]
    if name == "half_sse":
        return -(t - a)
    if name == "sse":
        return -2.0 * (t - a)
    if name == "mse":
        return -2.0 * (t - a) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "bce":
            return np.where(t > 0, -t / a, 0.0) + np.where(t < 1, (1 - t) / (1 - a), 0.0)
        if name == "cross_entropy":
            return np.where(t > 0, -t / a, 0.0)
    raise ValueError(f"unknown loss {name!r}")


def _refuse_log_of_zero(name: str, a: np.ndarray, t: np.ndarray, names: list[str] | None) -> None:
    import numpy as np

    bad = ((t > 0) & (a <= 0)) | ((name == "bce") & (t < 1) & (a >= 1))
    if bad.any():
        s, j = (int(v) for v in np.argwhere(bad)[0])
        who = names[j] if names else f"output {j + 1}"
        raise NumericalError(
            f"out_{who} of sample {s + 1} is exactly {a[s, j]:g} in float64, so {name} needs the log of 0",
            hint="the output has saturated: use smaller weights or inputs",
        )


def cancels_derivative(activation: str, loss: str) -> bool:
    """True where δ = out − target because the loss cancels f′ (sigmoid+bce, softmax+cross_entropy)."""
    return (activation, loss) in (("sigmoid", "bce"), ("softmax", "cross_entropy"))


# ---- SymPy forms: used by the independent verification, which differentiates them itself ----


def sympy_activation(name: str, net: Any, slope: float = DEFAULT_LEAKY_SLOPE, others: Any = None) -> Any:
    """f(net) as a SymPy expression (softmax needs `others`, the layer's nets, net included)."""
    import sympy as sp

    if name == "sigmoid":
        return 1 / (1 + sp.exp(-net))
    if name == "tanh":
        return sp.tanh(net)
    if name == "relu":
        # Heaviside(x, 0): the same convention as the engine, relu′(0) = 0
        return net * sp.Heaviside(net, 0)
    if name == "leaky_relu":
        h = sp.Heaviside(net, 0)
        return net * h + sp.Float(slope) * net * (1 - h)
    if name == "linear":
        return net
    if name == "softmax":
        return sp.exp(net) / sum(sp.exp(o) for o in others)
    raise ValueError(name)


def sympy_loss_term(name: str, out: Any, t: Any, n: int) -> Any:
    """One output's term of the per-sample loss as a SymPy expression."""
    import sympy as sp

    if name == "half_sse":
        return sp.Rational(1, 2) * (t - out) ** 2
    if name == "sse":
        return (t - out) ** 2
    if name == "mse":
        return (t - out) ** 2 / n
    if name == "bce":
        return -(t * sp.log(out) + (1 - t) * sp.log(1 - out))
    if name == "cross_entropy":
        return -t * sp.log(out)
    raise ValueError(name)
