"""The registry of activations and losses: everything bptrace knows about each one, in one entry.

Every other module asks this registry (`activation(name)`, `loss(name)`, `ACTIVATIONS`, `LOSSES`) instead of
writing its own if-chain. An activation entry holds:

  forward(z, p)               out = f(net), elementwise on float64 arrays (softmax: along each sample's row),
                              numerically stable in both tails
  prime(z, p)                 f′(net) computed from net, stable: right to 1e-12 relative also where the unit
                              saturates (σ′(35.2) = 5.16219299e-16, tanh′(20) = 1.70e-17), never 1 − out² of a
                              rounded out (softmax: the diagonal of its Jacobian)
  kinks / at_kink(z, p)       where f is not differentiable, and the value f′ takes there by convention
  kink_note(p) -> str         that convention in words with the function, point and value, e.g.
                              "leaky_relu′(0) = α = 0.01 by convention"; "" where f is differentiable everywhere
  sympy(net, p, others)       f as a SymPy expression (the independent verification differentiates it itself)
  sympy_textbook_prime(...)   f′ as the textbook writes it (σ′ = out·(1 − out)), for `explain`'s forms
  symbol, definition,         the printed formulas, each written once as a formula tree (`Formula`, a
  derivative, pieces          bptrace.formula.Template) with holes net, out, a (the parameter) and times;
                              formula.py's printers print it in Unicode, ASCII, LaTeX, Markdown and MathML
  kernel_forward/_prime       scalar Python source templates for the generated kernel (engine/kernel.py)
  forward_inplace/            in-place numpy routines for the training runner (engine/train.py)
  prime_inplace
  param                       its parameter, if any (leaky_relu's `leaky_slope`, elu's `elu_alpha`): the
                              scenario key, symbol and default; a Layer keeps its value as `Layer.param`

`p` is always the layer's parameter value (`Layer.param`); None means the entry's default. A loss entry
holds its per-output term and ∂E_s/∂out (numpy, in place, scalar kernel source), its SymPy term, its printed
formulas (trees with holes t, o and n), and the activation whose f′ it cancels (δ = out − t). Adding an
activation or a loss is adding one entry to ACTIVATION_ENTRIES or LOSS_ENTRIES (docs/architecture.md,
"Adding an activation").

numpy and SymPy are imported inside the functions that use them, never when bptrace starts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from string import Template
from typing import TYPE_CHECKING, Literal, Protocol

from bptrace.errors import NumericalError
from bptrace.formula import (
    DOT,
    IMPLIED,
    MINUS,
    PLUS,
    Apply,
    Cases,
    Const,
    Fn,
    Frac,
    Hole,
    Node,
    Op,
    Paren,
    Pow,
    Row,
    SumOver,
    Sym,
)
from bptrace.formula import Template as _Template
from bptrace.i18n import N_, _
from bptrace.message import Message

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np
    from numpy.typing import NDArray
    from sympy import Expr  # SymPy ships no types: Expr names what flows, mypy sees Any

Script = Literal["unicode", "ascii", "latex"]
SCORE_LOSSES = ("max_margin",)  # J = max(0, Δ + s(x_c) − s(x)): a score per window, no targets (the CS224n-style notes)
DEFAULT_LEAKY_SLOPE = 0.01
DEFAULT_ELU_ALPHA = 1.0
# Where the textbook form of f′ (σ·(1 − σ), 1 − tanh²) is as accurate as any (measured: better than 1e-13
# relative) it is used, so every number of an unsaturated unit is the same to the last bit as before; beyond,
# 1 − out cancels and the exponential form is used (σ′ = e^(−z)/(1 + e^(−z))², tanh′ = 4e^(−2|z|)/(1 + e^(−2|z|))²).
SIGMOID_TEXTBOOK_BELOW = 6.0
TANH_TEXTBOOK_BELOW = 3.0
# The scalar kernel's math functions (engine/kernel.py puts them in the generated code's namespace).
KERNEL_MATH = {"_exp": math.exp, "_tanh": math.tanh, "_log": math.log, "_log1p": math.log1p, "_expm1": math.expm1}

# A printed formula of the registry: one tree with holes, printed by bptrace/formula.py in every script.
Formula = _Template

# The holes: net, out (an activation's), a (its parameter), times (the product sign of f′, · unless a caller
# asks for ×), and a loss's t (the target), o (the output) and n (the number of outputs).
NET = Hole("net")
OUT = Hole("out")
ALPHA = Sym("alpha")
A = Hole("a", ALPHA)
TIMES = Hole("times", DOT)
T = Hole("t")
O = Hole("o", Sym("out"))
N = Hole("n")
ONE = Const("1")
NEG = Op("-")  # a sign: −(t − out)


def _exp(x: Node) -> Node:
    return Pow(Const("e"), x)


def _ln(x: Node) -> Node:
    return Apply("ln", (x,))


def _piecewise(positive: Node, otherwise: Node) -> Node:
    """positive if net > 0, else otherwise."""
    return Cases(positive, Row.of(NET, Op(">"), Const("0")), otherwise)


@dataclass(frozen=True)
class Param:
    """An activation's parameter: the scenario key (top level and per layer), its symbol and default."""

    key: str  # leaky_slope, elu_alpha
    symbol: Formula  # α
    default: float
    meaning: str
    expects: str  # how an error names a wrong value: "a slope"


_ALPHA = Formula(ALPHA)


# ---------------------------------------------------------------------------------------------------
# Activations


@dataclass(frozen=True)
class Activation:
    """One activation: forward rule, stable derivative from net, kinks, SymPy form, printed formulas, fast paths."""

    name: str
    summary: str  # one line for docs and --help
    symbol: Formula  # f as shown before (net): σ, tanh, lrelu
    definition: Formula  # f(net) written out, in the holes net (and a)
    derivative: Formula  # f′ as the textbook prints it, in out / net (and a, times)
    kernel_forward: tuple[str, ...]  # scalar source lines setting $out from $net (and $a)
    kernel_prime: str  # a scalar expression for f′ ('' when f′ = 1)
    kernel_saturated: str = "False"  # a scalar condition: where saturated() is true
    pieces: tuple[Formula, Formula] | None = None  # f′ for net > 0 and otherwise, when f′ is piecewise
    param: Param | None = None
    elementwise: bool = True  # False: softmax, whose out_j depends on the whole layer
    kinked: bool = False  # f′ jumps at net = 0 (for some parameter values, see has_kink)
    hidden_ok: bool = True  # allowed in a hidden layer
    target_range: tuple[float, float] = (-1.0, 1.0)  # where `bptrace new` draws targets for this output

    # ---- the parameter ----
    def value(self, p: float | None) -> float:
        """The parameter's value: p, or the default when p is None (0.0 for an activation without one)."""
        if self.param is None:
            return 0.0
        return self.param.default if p is None else float(p)

    def param_symbol(self, script: Script = "unicode") -> str:
        """The parameter's symbol (α), '' for an activation without one: fills the hole a in a formula in names."""
        return "" if self.param is None else self.param.symbol.fill(script)

    # ---- numbers (numpy arrays of shape (samples, neurons)) ----
    def forward(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        """out = f(net)."""
        raise NotImplementedError

    def prime(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        """f′(net), computed from net in a stable form."""
        raise NotImplementedError

    def prime_by_hand(
        self, z: NDArray[np.float64], a: NDArray[np.float64], p: float | None = None
    ) -> NDArray[np.float64]:
        """f′ as a student computes it from the numbers on the page: in out where the textbook writes it so
        (σ′ = out(1 − out), tanh′ = 1 − out²), else from net. The misconception engine's rounding student uses
        it; the engine never does (it is not stable: it is exact only for an exact out)."""
        return self.prime(z, p)

    def forward_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        col: NDArray[np.float64],
        p: float | None,
    ) -> None:
        """a = f(z) in place, the same values as forward (tmp, mask, col: scratch of z's shape, bool, one column)."""
        raise NotImplementedError

    def prime_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        f: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        p: float | None,
    ) -> None:
        """f = f′(z) in place, the same values as prime (a = f(z), already computed)."""
        raise NotImplementedError

    def saturated(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """Where prime() takes its saturated form (1 − out has lost its digits): there a loss that cancels
        f′ must give δ = out − t itself, since ∂E/∂out of the rounded out no longer cancels f′ of net."""
        import numpy as np

        return np.zeros(np.shape(z), dtype=bool)

    # ---- kinks ----
    def has_kink(self, p: float | None = None) -> bool:
        """Whether f′ jumps at net = 0 for this parameter value (leaky_relu and elu not when α = 1)."""
        return self.kinked

    def kink_value(self, p: float | None = None) -> float:
        """f′(0), the value taken at the kink by convention (the left-hand piece: net > 0 is false at 0)."""
        return 0.0

    def at_kink(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.bool_]:
        """Where f is not differentiable: net exactly 0 for a kinked activation."""
        import numpy as np

        if self.has_kink(p):
            return np.asarray(z == 0)
        return np.zeros(np.shape(z), dtype=bool)

    def kink_note(self, p: float | None = None) -> str:
        """The convention at the kink, with the function, point and value; '' where f is differentiable."""
        if not self.has_kink(p):
            return ""
        if self.param is None:
            return Message(N_("{name}′(0) = {value} by convention"), name=self.name, value=_g(self.kink_value(p)))
        return Message(
            N_("{name}′(0) = {symbol} = {value} by convention"),
            name=self.name,
            symbol=self.param.symbol.unicode,
            value=_g(self.value(p)),
        )

    # ---- SymPy ----
    def sympy(self, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
        """f(net) as a SymPy expression (softmax needs `others`, the layer's nets, net included)."""
        raise NotImplementedError

    def sympy_textbook_prime(self, out: Expr, net: Expr, p: float | None = None) -> Expr:
        """f′ as the textbook writes it, in out where it can be (σ′ = out·(1 − out))."""
        import sympy as sp

        z = sp.Symbol("_z")
        return sp.diff(self.sympy(z, p), z).subs(z, net)

    # ---- printing ----
    def branch(self, net_value: float) -> Formula:
        """The piece of a piecewise f′ that applies at net_value (pieces must be set)."""
        assert self.pieces is not None
        return self.pieces[0] if net_value > 0 else self.pieces[1]

    def kernel_forward_lines(self, net: str, out: str, p: float | None) -> list[str]:
        """Scalar source for out = f(net) (engine/kernel.py)."""
        a = repr(self.value(p))
        return [Template(line).substitute(net=net, out=out, a=a) for line in self.kernel_forward]

    def kernel_saturated_expr(self, net: str) -> str:
        """A scalar condition for saturated() ('False' where prime() has no saturated form)."""
        return Template(self.kernel_saturated).substitute(net=net)

    def kernel_prime_expr(self, net: str, out: str, p: float | None) -> str:
        """A scalar expression for f′(net) ('' for f′ = 1)."""
        return Template(self.kernel_prime).substitute(net=net, out=out, a=repr(self.value(p)))


def _g(x: float) -> str:
    return f"{x:g}"


class _Sigmoid(Activation):
    def prime_by_hand(
        self, z: NDArray[np.float64], a: NDArray[np.float64], p: float | None = None
    ) -> NDArray[np.float64]:
        return a * (1.0 - a)

    def saturated(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        return np.asarray(z > SIGMOID_TEXTBOOK_BELOW)

    def forward(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        # Stable in both tails: 1/(1+e^-z) for z >= 0, e^z/(1+e^z) for z < 0; never overflows.
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def prime(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        # σ′ = σ(1 − σ) where 1 − σ keeps its digits; for z > SIGMOID_TEXTBOOK_BELOW e^(−z)/(1 + e^(−z))²
        a = self.forward(z)
        e = np.exp(-np.abs(z))
        return np.where(z > SIGMOID_TEXTBOOK_BELOW, e / ((1.0 + e) * (1.0 + e)), a * (1.0 - a))

    def forward_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        col: NDArray[np.float64],
        p: float | None,
    ) -> None:
        import numpy as np

        # e = e^(−|z|); out = 1/(1 + e) where z >= 0, e/(1 + e) where z < 0
        np.less(z, 0.0, out=mask)
        np.copysign(z, -1.0, out=tmp)  # −|z|
        np.exp(tmp, out=tmp)
        np.add(tmp, 1.0, out=a)
        np.divide(tmp, a, out=tmp)
        np.divide(1.0, a, out=a)
        np.copyto(a, tmp, where=mask)

    def prime_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        f: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        p: float | None,
    ) -> None:
        import numpy as np

        np.subtract(1.0, a, out=f)
        np.multiply(a, f, out=f)  # σ(1 − σ)
        np.greater(z, SIGMOID_TEXTBOOK_BELOW, out=mask)
        if mask.any():  # the saturated tail: e^(−z)/(1 + e^(−z))²
            np.negative(z, out=tmp, where=mask)
            np.exp(tmp, out=tmp, where=mask)
            np.add(tmp, 1.0, out=f, where=mask)
            np.multiply(f, f, out=f, where=mask)
            np.divide(tmp, f, out=f, where=mask)

    def sympy(self, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
        import sympy as sp

        return 1 / (1 + sp.exp(-net))

    def sympy_textbook_prime(self, out: Expr, net: Expr, p: float | None = None) -> Expr:
        return out * (1 - out)


class _Tanh(Activation):
    def prime_by_hand(
        self, z: NDArray[np.float64], a: NDArray[np.float64], p: float | None = None
    ) -> NDArray[np.float64]:
        return 1.0 - a * a

    def saturated(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        return np.asarray(np.abs(z) > TANH_TEXTBOOK_BELOW)

    def forward(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        return np.tanh(z)

    def prime(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        # 1 − tanh² where it keeps its digits; beyond, tanh′ = 4e^(−2|z|)/(1 + e^(−2|z|))²
        a = np.tanh(z)
        e = np.exp(-2.0 * np.abs(z))
        return np.where(np.abs(z) > TANH_TEXTBOOK_BELOW, 4.0 * e / ((1.0 + e) * (1.0 + e)), 1.0 - a * a)

    def forward_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        col: NDArray[np.float64],
        p: float | None,
    ) -> None:
        import numpy as np

        np.tanh(z, out=a)

    def prime_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        f: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        p: float | None,
    ) -> None:
        import numpy as np

        np.multiply(a, a, out=f)
        np.subtract(1.0, f, out=f)  # 1 − tanh²
        np.abs(z, out=tmp)
        np.greater(tmp, TANH_TEXTBOOK_BELOW, out=mask)
        if mask.any():  # the saturated tails: 4e/(1 + e)², e = e^(−2|z|)
            np.multiply(tmp, -2.0, out=tmp, where=mask)
            np.exp(tmp, out=tmp, where=mask)
            np.add(tmp, 1.0, out=f, where=mask)
            np.multiply(f, f, out=f, where=mask)
            np.divide(tmp, f, out=f, where=mask)
            np.multiply(f, 4.0, out=f, where=mask)

    def sympy(self, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
        import sympy as sp

        return sp.tanh(net)

    def sympy_textbook_prime(self, out: Expr, net: Expr, p: float | None = None) -> Expr:
        return 1 - out**2


class _Relu(Activation):
    def forward(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        return np.where(z > 0, z, 0.0)

    def prime(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        return np.where(z > 0, 1.0, 0.0)  # relu′(0) = 0 by convention

    def forward_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        col: NDArray[np.float64],
        p: float | None,
    ) -> None:
        import numpy as np

        np.greater(z, 0.0, out=mask)
        np.multiply(z, mask, out=a)  # z where z > 0, else 0

    def prime_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        f: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        p: float | None,
    ) -> None:
        import numpy as np

        np.greater(z, 0.0, out=mask)
        np.copyto(f, mask)

    def sympy(self, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
        import sympy as sp

        # Heaviside(x, 0): the same convention as the engine, relu′(0) = 0
        return net * sp.Heaviside(net, 0)

    def sympy_textbook_prime(self, out: Expr, net: Expr, p: float | None = None) -> Expr:
        import sympy as sp

        return sp.Heaviside(net, 0)


class _LeakyRelu(Activation):
    def has_kink(self, p: float | None = None) -> bool:
        return self.value(p) != 1.0

    def kink_value(self, p: float | None = None) -> float:
        return self.value(p)

    def forward(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        return np.where(z > 0, z, self.value(p) * z)

    def prime(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        return np.where(z > 0, 1.0, self.value(p))  # leaky_relu′(0) = α by convention

    def forward_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        col: NDArray[np.float64],
        p: float | None,
    ) -> None:
        import numpy as np

        np.greater(z, 0.0, out=mask)
        np.multiply(z, self.value(p), out=a)
        np.copyto(a, z, where=mask)

    def prime_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        f: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        p: float | None,
    ) -> None:
        import numpy as np

        np.greater(z, 0.0, out=mask)
        f.fill(self.value(p))
        np.copyto(f, 1.0, where=mask)

    def sympy(self, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
        import sympy as sp

        h = sp.Heaviside(net, 0)
        return net * h + sp.Float(self.value(p)) * net * (1 - h)

    def sympy_textbook_prime(self, out: Expr, net: Expr, p: float | None = None) -> Expr:
        import sympy as sp

        h = sp.Heaviside(net, 0)
        return h + sp.Float(self.value(p)) * (1 - h)


class _Linear(Activation):
    def forward(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        return z.copy()

    def prime(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        return np.ones_like(z)

    def forward_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        col: NDArray[np.float64],
        p: float | None,
    ) -> None:
        import numpy as np

        if a is not z:
            np.copyto(a, z)

    def prime_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        f: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        p: float | None,
    ) -> None:
        f.fill(1.0)

    def sympy(self, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
        return net

    def sympy_textbook_prime(self, out: Expr, net: Expr, p: float | None = None) -> Expr:
        import sympy as sp

        return sp.Integer(1)


class SoftmaxActivation(Activation):
    """An activation of the whole layer: δ needs its Jacobian (jacobian_delta), not f′ alone."""

    def prime_by_hand(
        self, z: NDArray[np.float64], a: NDArray[np.float64], p: float | None = None
    ) -> NDArray[np.float64]:
        return a * (1.0 - a)

    def forward(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        shifted = z - z.max(axis=-1, keepdims=True)  # e^(z - max) cannot overflow
        e: NDArray[np.float64] = np.exp(shifted)
        total: NDArray[np.float64] = e.sum(axis=-1, keepdims=True)
        return e / total

    def prime(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        # the diagonal of the Jacobian, ∂out_j/∂net_j = out_j(1 − out_j); δ uses the whole Jacobian (jacobian_delta)
        a = self.forward(z)
        return a * (1.0 - a)

    def jacobian_delta(self, a: NDArray[np.float64], dE_dout: NDArray[np.float64]) -> NDArray[np.float64]:
        """δ_j = Σ_i ∂E/∂out_i · out_i([i = j] − out_j) = out_j(∂E/∂out_j − Σ_i ∂E/∂out_i·out_i)."""
        weighted: NDArray[np.float64] = (dE_dout * a).sum(axis=1, keepdims=True)
        return a * (dE_dout - weighted)

    def forward_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        col: NDArray[np.float64],
        p: float | None,
    ) -> None:
        import numpy as np

        np.maximum.reduce(z, axis=1, keepdims=True, out=col)  # e^(z − max) cannot overflow
        np.subtract(z, col, out=a)
        np.exp(a, out=a)
        np.add.reduce(a, axis=1, keepdims=True, out=col)
        np.divide(a, col, out=a)

    def jacobian_delta_inplace(
        self, a: NDArray[np.float64], d: NDArray[np.float64], f: NDArray[np.float64], col: NDArray[np.float64]
    ) -> None:
        """d = δ in place from d = ∂E/∂out (jacobian_delta; f and col are scratch)."""
        import numpy as np

        np.multiply(d, a, out=f)
        np.add.reduce(f, axis=1, keepdims=True, out=col)
        np.subtract(d, col, out=d)
        np.multiply(d, a, out=d)

    def kernel_layer_forward(self, nets: list[str], outs: list[str]) -> list[str]:
        """The scalar source for a whole softmax layer; e^(net − max) cannot overflow (as forward)."""
        lines = [f"mx = max({', '.join(nets)})" if len(nets) > 1 else f"mx = {nets[0]}"]
        lines += [f"e{r} = _exp({n} - mx)" for r, n in enumerate(nets)]
        lines.append("se = " + " + ".join(f"e{r}" for r in range(len(nets))))
        lines += [f"{o} = e{r} / se" for r, o in enumerate(outs)]
        return lines

    def sympy(self, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
        import sympy as sp

        assert others is not None, "softmax needs the layer's other nets"
        return sp.exp(net) / sum(sp.exp(o) for o in others)

    def sympy_textbook_prime(self, out: Expr, net: Expr, p: float | None = None) -> Expr:
        return out * (1 - out)


class _Softplus(Activation):
    def forward(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        # ln(1 + e^z) = max(z, 0) + ln(1 + e^(−|z|)): never overflows, exact digits in both tails
        return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))

    def prime(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        return SIGMOID.forward(z)  # softplus′ = σ, in its stable form

    def forward_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        col: NDArray[np.float64],
        p: float | None,
    ) -> None:
        import numpy as np

        np.abs(z, out=tmp)
        np.negative(tmp, out=tmp)
        np.exp(tmp, out=tmp)
        np.log1p(tmp, out=tmp)
        np.maximum(z, 0.0, out=a)
        np.add(a, tmp, out=a)

    def prime_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        f: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        p: float | None,
    ) -> None:
        SIGMOID.forward_inplace(z, f, tmp, mask, tmp, None)

    def sympy(self, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
        import sympy as sp

        return sp.log(1 + sp.exp(net))

    def sympy_textbook_prime(self, out: Expr, net: Expr, p: float | None = None) -> Expr:
        import sympy as sp

        return 1 / (1 + sp.exp(-net))


class _Elu(Activation):
    def has_kink(self, p: float | None = None) -> bool:
        return self.value(p) != 1.0  # α = 1: both one-sided slopes are 1 at 0

    def kink_value(self, p: float | None = None) -> float:
        return self.value(p)

    def forward(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        # α(e^net − 1) as α·expm1(net): exact digits near 0; min(z, 0) so e^z never overflows
        return np.where(z > 0, z, self.value(p) * np.expm1(np.minimum(z, 0.0)))

    def prime(self, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
        import numpy as np

        return np.where(z > 0, 1.0, self.value(p) * np.exp(np.minimum(z, 0.0)))  # elu′(0) = α

    def forward_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        col: NDArray[np.float64],
        p: float | None,
    ) -> None:
        import numpy as np

        np.greater(z, 0.0, out=mask)
        np.minimum(z, 0.0, out=tmp)
        np.expm1(tmp, out=a)
        np.multiply(a, self.value(p), out=a)
        np.copyto(a, z, where=mask)

    def prime_inplace(
        self,
        z: NDArray[np.float64],
        a: NDArray[np.float64],
        f: NDArray[np.float64],
        tmp: NDArray[np.float64],
        mask: NDArray[np.bool_],
        p: float | None,
    ) -> None:
        import numpy as np

        np.greater(z, 0.0, out=mask)
        np.minimum(z, 0.0, out=tmp)
        np.exp(tmp, out=f)
        np.multiply(f, self.value(p), out=f)
        np.copyto(f, 1.0, where=mask)

    def sympy(self, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
        import sympy as sp

        # Heaviside(x, 0): at 0 the left piece, elu′(0) = α e⁰ = α, as in the engine
        h = sp.Heaviside(net, 0)
        return net * h + sp.Float(self.value(p)) * (sp.exp(net) - 1) * (1 - h)

    def sympy_textbook_prime(self, out: Expr, net: Expr, p: float | None = None) -> Expr:
        import sympy as sp

        h = sp.Heaviside(net, 0)
        return h + sp.Float(self.value(p)) * sp.exp(net) * (1 - h)


def _elu_slope(times: Node) -> Node:
    """elu′ for net ≤ 0: α·e^net (α × e^net with the numbers in)."""
    return Row.of(A, times, _exp(NET))


SIGMOID = _Sigmoid(
    name="sigmoid",
    summary="σ(net) = 1/(1 + e^(−net)), outputs in (0, 1)",
    symbol=Formula(Fn("σ")),
    definition=Formula(Frac(ONE, Row.of(ONE, PLUS, _exp(Row.of(NEG, NET))))),  # 1/(1 + e^(−net))
    derivative=Formula(Row.of(OUT, TIMES, Paren(Row.of(ONE, MINUS, OUT)))),  # out·(1 − out)
    kernel_forward=(
        # stable in both tails, as forward: 1/(1 + e^(−net)) or e^net/(1 + e^net)
        "if $net >= 0.0:",
        "    $out = 1.0 / (1.0 + _exp(-$net))",
        "else:",
        "    e = _exp($net)",
        "    $out = e / (1.0 + e)",
    ),
    kernel_prime=f"($out * (1.0 - $out) if $net <= {SIGMOID_TEXTBOOK_BELOW!r} else "
    "_exp(-$net) / ((1.0 + _exp(-$net)) * (1.0 + _exp(-$net))))",
    kernel_saturated=f"$net > {SIGMOID_TEXTBOOK_BELOW!r}",
    target_range=(0.01, 0.99),
)
TANH = _Tanh(
    name="tanh",
    summary="tanh(net), outputs in (−1, 1)",
    symbol=Formula(Fn("tanh")),
    definition=Formula(Apply("tanh", (NET,))),
    derivative=Formula(Row.of(ONE, MINUS, Pow(OUT, Const("2")))),  # 1 − out²
    kernel_forward=("$out = _tanh($net)",),
    kernel_prime=f"(1.0 - $out * $out if abs($net) <= {TANH_TEXTBOOK_BELOW!r} else "
    "4.0 * _exp(-2.0 * abs($net)) / ((1.0 + _exp(-2.0 * abs($net))) * (1.0 + _exp(-2.0 * abs($net)))))",
    kernel_saturated=f"abs($net) > {TANH_TEXTBOOK_BELOW!r}",
    target_range=(-0.99, 0.99),
)
RELU = _Relu(
    name="relu",
    summary="max(0, net); relu′(0) = 0 by convention",
    symbol=Formula(Fn("relu")),
    definition=Formula(Apply("max", (Const("0"), NET))),
    derivative=Formula(_piecewise(ONE, Const("0"))),
    pieces=(Formula(ONE), Formula(Const("0"))),
    kernel_forward=("$out = $net if $net > 0.0 else 0.0",),
    kernel_prime="(1.0 if $net > 0.0 else 0.0)",
    kinked=True,
    target_range=(0.0, 1.0),
)
LEAKY_RELU = _LeakyRelu(
    name="leaky_relu",
    summary="net if net > 0, else α·net (α = leaky_slope, default 0.01); leaky_relu′(0) = α by convention",
    symbol=Formula(Fn("lrelu")),
    definition=Formula(_piecewise(NET, Row.of(A, DOT, NET))),  # net if net > 0, else α·net
    derivative=Formula(_piecewise(ONE, A)),
    pieces=(Formula(ONE), Formula(A)),
    param=Param("leaky_slope", _ALPHA, DEFAULT_LEAKY_SLOPE, "leaky_relu's slope for net ≤ 0", "a slope"),
    kernel_forward=("$out = $net if $net > 0.0 else $a * $net",),
    kernel_prime="(1.0 if $net > 0.0 else $a)",
    kinked=True,
)
LINEAR = _Linear(
    name="linear",
    summary="net itself (the identity)",
    symbol=Formula(Fn("id")),
    definition=Formula(NET),
    derivative=Formula(ONE),
    kernel_forward=("$out = $net",),
    kernel_prime="",
)
SOFTMAX = SoftmaxActivation(
    name="softmax",
    summary="e^(net_i)/Σ_k e^(net_k) over the layer (output layer only, with cross_entropy)",
    symbol=Formula(Fn("softmax")),
    # e^net_i/(Σ_k e^net_k), over the layer
    definition=Formula(Frac(_exp(Hole("net", Sym("net_i"))), SumOver("k", _exp(Sym("net_k"))))),
    derivative=SIGMOID.derivative,  # the Jacobian's diagonal; its entries are out_i([i = j] − out_j)
    kernel_forward=(),
    kernel_prime="",
    elementwise=False,
    hidden_ok=False,
)
SOFTPLUS = _Softplus(
    name="softplus",
    summary="ln(1 + e^net), a smooth relu; softplus′ = σ",
    symbol=Formula(Fn("softplus")),
    definition=Formula(_ln(Row.of(ONE, PLUS, _exp(NET)))),  # ln(1 + e^net)
    derivative=SIGMOID.definition,
    # max(net, 0) + ln(1 + e^(−|net|)), as forward
    kernel_forward=("$out = ($net if $net > 0.0 else 0.0) + _log1p(_exp(-abs($net)))",),
    kernel_prime="(1.0 / (1.0 + _exp(-$net)) if $net >= 0.0 else _exp($net) / (1.0 + _exp($net)))",
    target_range=(0.1, 1.0),
)
ELU = _Elu(
    name="elu",
    summary="net if net > 0, else α·(e^net − 1) (α = elu_alpha, default 1); a kink at 0 only when α ≠ 1",
    symbol=Formula(Fn("elu")),
    definition=Formula(_piecewise(NET, Row.of(A, IMPLIED, Paren(Row.of(_exp(NET), MINUS, ONE))))),  # α·(e^net − 1)
    derivative=Formula(_piecewise(ONE, _elu_slope(IMPLIED))),
    pieces=(Formula(ONE), Formula(_elu_slope(TIMES))),
    param=Param("elu_alpha", _ALPHA, DEFAULT_ELU_ALPHA, "elu's scale α of e^net − 1 for net ≤ 0", "a scale α"),
    kernel_forward=("$out = $net if $net > 0.0 else $a * _expm1($net)",),
    kernel_prime="(1.0 if $net > 0.0 else $a * _exp($net))",
    kinked=True,
    target_range=(-0.5, 1.0),
)

ACTIVATION_ENTRIES: tuple[Activation, ...] = (SIGMOID, TANH, RELU, LEAKY_RELU, LINEAR, SOFTMAX, SOFTPLUS, ELU)
_ACTIVATIONS = {a.name: a for a in ACTIVATION_ENTRIES}
ACTIVATIONS = tuple(_ACTIVATIONS)
# every activation parameter's scenario key (leaky_slope, elu_alpha), top level and per layer
ACTIVATION_PARAMS: tuple[Param, ...] = tuple(a.param for a in ACTIVATION_ENTRIES if a.param is not None)


def activation(name: str) -> Activation:
    """The registry entry of an activation (ValueError for an unknown name; the scenario reader names them)."""
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}") from None


# ---------------------------------------------------------------------------------------------------
# Losses


class LossScratch(Protocol):
    """Scratch arrays of the outputs' shape the training runner lends the in-place loss routines."""

    R: NDArray[np.float64]
    R2: NDArray[np.float64]
    Q: NDArray[np.float64]
    tmask: NDArray[np.bool_]


@dataclass(frozen=True)
class Loss:
    """One loss of outputs against targets: its per-output term, ∂E_s/∂out, SymPy term, printed formulas."""

    name: str
    summary: str
    term: Formula  # one output's term of E_s, in the holes t, o and n (the number of outputs)
    gradient: Formula  # ∂term/∂out, the closed form the engine uses
    kernel_term: str  # scalar source templates in $t, $a, $n
    kernel_gradient: str
    cancels: str | None = None  # the output activation whose f′ it cancels: δ = out − t
    logs: bool = False  # takes ln(out) (and ln(1 − out)): refuses outputs exactly 0 (or 1)

    def terms(self, a: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        """Each output's term of the per-sample loss."""
        raise NotImplementedError

    def grad(self, a: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        """∂E_s/∂out for each output of each sample."""
        raise NotImplementedError

    def total_inplace(self, a: NDArray[np.float64], t: NDArray[np.float64], buf: LossScratch) -> float:
        """Σ of every term (all samples), with the runner's scratch arrays; the same values as terms()."""
        raise NotImplementedError

    def grad_inplace(
        self, a: NDArray[np.float64], t: NDArray[np.float64], g: NDArray[np.float64], buf: LossScratch
    ) -> None:
        """g = ∂E_s/∂out in place; the same values as grad()."""
        raise NotImplementedError

    def sympy(self, out: Expr, t: Expr, n: int) -> Expr:
        """One output's term as a SymPy expression."""
        raise NotImplementedError

    def kernel_term_expr(self, t: str, a: str, n: int) -> str:
        return Template(self.kernel_term).substitute(t=t, a=a, n=n)

    def kernel_gradient_expr(self, t: str, a: str, n: int) -> str:
        return Template(self.kernel_gradient).substitute(t=t, a=a, n=n)


@dataclass(frozen=True)
class _Squared(Loss):
    """half_sse, sse and mse: c·(t − out)² per output (divided by n, the number of outputs, for mse)."""

    c: float = 1.0
    per_output: bool = False  # divide by n

    def terms(self, a: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        e = self.c * (t - a) ** 2
        return e / a.shape[-1] if self.per_output else e

    def grad(self, a: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        g = (-2.0 * self.c) * (t - a)
        return g / a.shape[-1] if self.per_output else g

    def total_inplace(self, a: NDArray[np.float64], t: NDArray[np.float64], buf: LossScratch) -> float:
        import numpy as np

        r = buf.R
        np.subtract(t, a, out=r)
        np.multiply(r, r, out=r)
        total = float(r.sum()) * self.c
        return total / a.shape[1] if self.per_output else total

    def grad_inplace(
        self, a: NDArray[np.float64], t: NDArray[np.float64], g: NDArray[np.float64], buf: LossScratch
    ) -> None:
        import numpy as np

        if self.c == 0.5 and not self.per_output:
            np.subtract(a, t, out=g)  # −(t − out), exactly
            return
        np.subtract(t, a, out=g)
        np.multiply(g, -2.0 * self.c, out=g)
        if self.per_output:
            np.divide(g, a.shape[1], out=g)

    def sympy(self, out: Expr, t: Expr, n: int) -> Expr:
        import sympy as sp

        # c from its decimal text (0.5 → 1/2, as nsimplify gives, without nsimplify's parser: ≈ 3 ms cold)
        e = sp.Rational(str(self.c)) * (t - out) ** 2
        return e / n if self.per_output else e


class _Bce(Loss):
    def terms(self, a: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        with np.errstate(divide="ignore", invalid="ignore"):
            # t·ln(o) is taken as 0 where t = 0 (and likewise (1−t)·ln(1−o) where t = 1)
            first = np.where(t > 0, t * np.log(np.where(t > 0, a, 1.0)), 0.0)
            second = np.where(t < 1, (1 - t) * np.log(np.where(t < 1, 1 - a, 1.0)), 0.0)
            return np.asarray(-(first + second))

    def grad(self, a: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t > 0, -t / a, 0.0) + np.where(t < 1, (1 - t) / (1 - a), 0.0)

    def total_inplace(self, a: NDArray[np.float64], t: NDArray[np.float64], buf: LossScratch) -> float:
        import numpy as np

        total = CROSS_ENTROPY.total_inplace(a, t, buf)  # −Σ t·ln(out) over t > 0
        q = buf.Q
        q.fill(0.0)
        np.less(t, 1.0, out=buf.tmask)
        np.subtract(1.0, a, out=buf.R2)
        np.log(buf.R2, out=q, where=buf.tmask)
        np.subtract(1.0, t, out=buf.R2)
        np.multiply(q, buf.R2, out=q)
        return total - float(q.sum())  # − Σ (1 − t)·ln(1 − out) over t < 1

    def grad_inplace(
        self, a: NDArray[np.float64], t: NDArray[np.float64], g: NDArray[np.float64], buf: LossScratch
    ) -> None:
        import numpy as np

        CROSS_ENTROPY.grad_inplace(a, t, g, buf)  # −t/out where t > 0
        q = buf.Q  # + (1 − t)/(1 − out) where t < 1
        q.fill(0.0)
        np.less(t, 1.0, out=buf.tmask)
        np.subtract(1.0, t, out=buf.R)
        np.subtract(1.0, a, out=buf.R2)
        np.divide(buf.R, buf.R2, out=q, where=buf.tmask)
        np.add(g, q, out=g)

    def sympy(self, out: Expr, t: Expr, n: int) -> Expr:
        import sympy as sp

        return -(t * sp.log(out) + (1 - t) * sp.log(1 - out))


class _CrossEntropy(Loss):
    def terms(self, a: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(-np.where(t > 0, t * np.log(np.where(t > 0, a, 1.0)), 0.0))

    def grad(self, a: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
        import numpy as np

        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t > 0, -t / a, 0.0)

    def total_inplace(self, a: NDArray[np.float64], t: NDArray[np.float64], buf: LossScratch) -> float:
        import numpy as np

        r = buf.R
        r.fill(0.0)
        np.greater(t, 0.0, out=buf.tmask)
        np.log(a, out=r, where=buf.tmask)
        np.multiply(r, t, out=r)
        return -float(r.sum())

    def grad_inplace(
        self, a: NDArray[np.float64], t: NDArray[np.float64], g: NDArray[np.float64], buf: LossScratch
    ) -> None:
        import numpy as np

        g.fill(0.0)
        np.greater(t, 0.0, out=buf.tmask)
        np.divide(t, a, out=g, where=buf.tmask)  # −t/out where t > 0, else 0
        np.negative(g, out=g)

    def sympy(self, out: Expr, t: Expr, n: int) -> Expr:
        import sympy as sp

        return -t * sp.log(out)


_DIFF = Paren(Row.of(T, MINUS, O))  # (t − out)
_ONE_MINUS_T = Paren(Row.of(ONE, MINUS, T))
HALF_SSE = _Squared(
    name="half_sse",
    summary="½(t − out)² per output (Mazur)",
    term=Formula(Row.of(Frac(ONE, Const("2"), small=True), Pow(_DIFF, Const("2")))),  # ½(t − out)²
    gradient=Formula(Row.of(NEG, _DIFF)),  # −(t − out)
    kernel_term="0.5 * (($t - $a) * ($t - $a))",
    kernel_gradient="$a - $t",  # = −(t − out), exactly
    c=0.5,
)
SSE = _Squared(
    name="sse",
    summary="(t − out)² per output",
    term=Formula(Pow(_DIFF, Const("2"))),
    gradient=Formula(Row.of(NEG, Const("2"), _DIFF)),  # −2(t − out)
    kernel_term="($t - $a) * ($t - $a)",
    kernel_gradient="-2.0 * ($t - $a)",
)
MSE = _Squared(
    name="mse",
    summary="(t − out)²/n per output, n the number of outputs",
    term=Formula(Frac(Pow(_DIFF, Const("2")), N)),  # (t − out)²/n
    gradient=Formula(Row.of(NEG, Frac(Row.of(Const("2"), _DIFF), N))),  # −2(t − out)/n
    kernel_term="($t - $a) * ($t - $a) / $n",
    kernel_gradient="-2.0 * ($t - $a) / $n",
    per_output=True,
)
BCE = _Bce(
    name="bce",
    summary="binary cross-entropy −[t·ln(out) + (1 − t)·ln(1 − out)] (a sigmoid output)",
    # −[t·ln(out) + (1 − t)·ln(1 − out)]
    term=Formula(Row.of(NEG, Paren(Row.of(T, DOT, _ln(O), PLUS, _ONE_MINUS_T, DOT, _ln(Row.of(ONE, MINUS, O))), "[]"))),
    gradient=Formula(Row.of(NEG, Frac(T, O), PLUS, Frac(_ONE_MINUS_T, Paren(Row.of(ONE, MINUS, O))))),
    # t·ln(out) is 0 where t = 0, and (1 − t)·ln(1 − out) is 0 where t = 1
    kernel_term="-(($t * _log($a) if $t > 0.0 else 0.0) + ((1.0 - $t) * _log(1.0 - $a) if $t < 1.0 else 0.0))",
    kernel_gradient="(-$t / $a if $t > 0.0 else 0.0) + ((1.0 - $t) / (1.0 - $a) if $t < 1.0 else 0.0)",
    cancels="sigmoid",
    logs=True,
)
CROSS_ENTROPY = _CrossEntropy(
    name="cross_entropy",
    summary="−t·ln(out) per output (a softmax output; targets sum to 1)",
    term=Formula(Row.of(NEG, T, DOT, _ln(O))),  # −t·ln(out)
    gradient=Formula(Row.of(NEG, Frac(T, O))),  # −t/out
    kernel_term="-($t * _log($a) if $t > 0.0 else 0.0)",
    kernel_gradient="(-$t / $a if $t > 0.0 else 0.0)",
    cancels="softmax",
    logs=True,
)

LOSS_ENTRIES: tuple[Loss, ...] = (HALF_SSE, SSE, MSE, BCE, CROSS_ENTROPY)
_LOSSES = {entry.name: entry for entry in LOSS_ENTRIES}
LOSSES = tuple(_LOSSES)  # losses of outputs against targets


def loss(name: str) -> Loss:
    """The registry entry of a loss (ValueError for an unknown name)."""
    try:
        return _LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}") from None


# ---------------------------------------------------------------------------------------------------
# The engine's entry points (module functions, so a test can replace one and see every check fail)


def activate(name: str, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
    """out = f(net), elementwise (softmax: along each sample's row), numerically stable."""
    return activation(name).forward(z, p)


def activation_derivative(name: str, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.float64]:
    """∂out/∂net for each neuron, from net (for softmax the diagonal of its Jacobian, out·(1 − out))."""
    return activation(name).prime(z, p)


def is_kink(name: str, z: NDArray[np.float64], p: float | None = None) -> NDArray[np.bool_]:
    """Where f is not differentiable (net exactly 0 for relu, and for leaky_relu and elu when α ≠ 1)."""
    return activation(name).at_kink(z, p)


def loss_terms(
    name: str,
    a: NDArray[np.float64],
    t: NDArray[np.float64],
    names: list[str] | None = None,
    quantity: Callable[[int, int], str] | None = None,
) -> NDArray[np.float64]:
    """Each output's term of the per-sample loss; a sample's loss E_s is the sum of its row. A log of 0 is an
    error naming the output: `out_{names[j]}` of a network, or `quantity(sample, j)` (0-based; `a5_1:1`)."""
    entry = loss(name)
    if entry.logs:
        _refuse_log_of_zero(name, a, t, names, quantity)
    return entry.terms(a, t)


def loss_gradient(name: str, a: NDArray[np.float64], t: NDArray[np.float64]) -> NDArray[np.float64]:
    """∂E_s/∂out for each output of each sample."""
    return loss(name).grad(a, t)


def _refuse_log_of_zero(
    name: str,
    a: NDArray[np.float64],
    t: NDArray[np.float64],
    names: list[str] | None,
    quantity: Callable[[int, int], str] | None = None,
) -> None:
    import numpy as np

    bad = ((t > 0) & (a <= 0)) | ((name == "bce") & (t < 1) & (a >= 1))
    if bad.any():
        s, j = (int(v) for v in np.argwhere(bad)[0])
        if quantity is not None:
            raise NumericalError(
                _("{name} is exactly {value} in float64, so {loss} needs the log of 0").format(
                    name=quantity(s, j), value=f"{a[s, j]:g}", loss=name
                ),
                hint=_("the output has saturated: use smaller weights or inputs"),
            )
        who = names[j] if names else _("output {n}").format(n=j + 1)
        raise NumericalError(
            _("out_{who} of sample {sample} is exactly {value} in float64, so {loss} needs the log of 0").format(
                who=who, sample=s + 1, value=f"{a[s, j]:g}", loss=name
            ),
            hint=_("the output has saturated: use smaller weights or inputs"),
        )


def cancels_derivative(activation_name: str, loss_name: str) -> bool:
    """True where δ = out − target because the loss cancels f′ (sigmoid+bce, softmax+cross_entropy)."""
    return loss_name in _LOSSES and _LOSSES[loss_name].cancels == activation_name


# ---- SymPy forms: used by the independent verification, which differentiates them itself ----


def sympy_activation(name: str, net: Expr, p: float | None = None, others: Sequence[Expr] | None = None) -> Expr:
    """f(net) as a SymPy expression (softmax needs `others`, the layer's nets, net included)."""
    return activation(name).sympy(net, p, others)


def sympy_loss_term(name: str, out: Expr, t: Expr, n: int) -> Expr:
    """One output's term of the per-sample loss as a SymPy expression."""
    return loss(name).sympy(out, t, n)
