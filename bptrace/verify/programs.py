"""SymPy expressions compiled to straight-line 30-digit mpmath code, and the registry's SymPy forms.

The piece both SymPy routes share: symbolic.py (the loss as one expression in θ) and symbolic_layers.py
(layer by layer) evaluate their derivatives with Program and write activations and losses with
_sympy_activation/_sympy_loss_term (from the registry, functions.py). Its own module so that neither route
imports the other's (tests/test_imports.py: no cycles).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from bptrace.model.scenario import Layer

DIGITS = 30  # working precision of every SymPy evaluation (decimal digits)


# ---------------------------------------------------------------------------------------------------
# Evaluating SymPy expressions in 30-digit arithmetic


class Program:
    """SymPy expressions compiled to straight-line mpmath code: each distinct subexpression once.

    Equivalent to `expr.evalf(DIGITS, subs=dict(zip(inputs, values)))`, but linear in the size of the
    expression's DAG. Rules are SymPy's own: 0·x = 0 (so 0·DiracDelta(0) = 0), Heaviside(0, h0) = h0,
    DiracDelta(x ≠ 0) = 0; DiracDelta(0) alone is infinite, and so is 1/0.
    """

    def __init__(self, exprs: Sequence[Any], inputs: Sequence[Any], *, dot: bool = False) -> None:
        """dot: a sum of two-factor products is one mpmath.fdot (the exact sum, rounded once; symbolic_layers)."""
        import mpmath

        self.inputs = tuple(inputs)
        slots: dict[Any, int] = {s: i for i, s in enumerate(self.inputs)}
        code: list[tuple[Callable[..., Any], Callable[[list[Any]], Any], int]] = []
        size = len(self.inputs)
        pending: list[tuple[Any, Any]] = []

        def slot(e: Any) -> int:
            nonlocal size
            found = slots.get(e)
            if found is not None:
                return found
            if e.is_Number or e.is_NumberSymbol:
                with mpmath.workdps(DIGITS + 10):
                    pending.append((size, mpmath.mpf(e.evalf(DIGITS + 10)) if e.is_NumberSymbol else mpmath.mpf(e)))
            elif e.is_Symbol:
                raise ValueError(f"the symbol {e} has no value (inputs: {', '.join(map(str, self.inputs))})")
            elif dot and e.is_Add and len(e.args) > 2 and all(x.is_Mul and len(x.args) == 2 for x in e.args):
                args = [slot(f) for x in e.args for f in x.args]
                code.append((_dot, operator.itemgetter(*args), size))
            else:
                args = [slot(a) for a in e.args]
                # itemgetter(i, j, ...)(regs) is the tuple of the arguments' values (a 1-tuple for one)
                get = operator.itemgetter(*args) if len(args) > 1 else _single(args[0])
                code.append((_operation(e), get, size))
            slots[e] = size
            size += 1
            return slots[e]

        self.outputs = tuple(slot(e) for e in exprs)
        self._code = code
        self._size = size
        self._consts = pending
        self.operations = len(code)

    def __call__(self, values: Sequence[Any]) -> list[Any]:
        """The expressions' values (mpmath numbers) for the inputs' values, in DIGITS-digit arithmetic."""
        import mpmath

        with mpmath.workdps(DIGITS):
            regs: list[Any] = [None] * self._size
            regs[: len(values)] = [mpmath.mpf(v) for v in values]
            for i, c in self._consts:
                regs[i] = c
            for fn, get, out in self._code:
                regs[out] = fn(*get(regs))
            return [regs[i] for i in self.outputs]

    def run(self, values: Sequence[Any]) -> list[Any]:
        """The same for values that are mpmath numbers already, inside mpmath.workdps(DIGITS) (no conversion)."""
        regs: list[Any] = [*values, *([None] * (self._size - len(values)))]
        for i, c in self._consts:
            regs[i] = c
        for fn, get, out in self._code:
            regs[out] = fn(*get(regs))
        return [regs[i] for i in self.outputs]


def _single(i: int) -> Callable[[list[Any]], tuple[Any]]:
    return lambda regs: (regs[i],)


def _operation(e: Any) -> Callable[..., Any]:
    """The mpmath function computing node e from its arguments' values."""
    import mpmath
    import sympy as sp

    if isinstance(e, sp.Add):
        return _add
    if isinstance(e, sp.Mul):
        return _mul
    if isinstance(e, sp.Pow):
        return _pow
    if isinstance(e, sp.exp):
        return cast("Callable[..., Any]", mpmath.exp)
    if isinstance(e, sp.log):
        return _log
    if isinstance(e, sp.tanh):
        return cast("Callable[..., Any]", mpmath.tanh)
    if isinstance(e, sp.Heaviside):
        return _heaviside
    if isinstance(e, sp.DiracDelta) and len(e.args) == 1:
        return _dirac
    raise TypeError(f"cannot evaluate {type(e).__name__} in {e}")


def _add(*xs: Any) -> Any:
    total = xs[0]
    for x in xs[1:]:
        total = total + x
    return total


def _dot(*xs: Any) -> Any:
    """Σ x_2i·x_2i+1 by mpmath.fdot; products of SymPy's 0·∞ = 0 (as _mul) when a factor is not finite."""
    import mpmath

    total = mpmath.fdot(xs[0::2], xs[1::2])
    if mpmath.isfinite(total):
        return total
    return _add(*[_mul(x, y) for x, y in zip(xs[0::2], xs[1::2])])


def _mul(*xs: Any) -> Any:
    import mpmath

    if not all(xs):
        return mpmath.mpf(0)  # SymPy's 0·x = 0, also when x is DiracDelta(0)
    product = xs[0]
    for x in xs[1:]:
        product = product * x
    return product


def _pow(base: Any, exponent: Any) -> Any:
    import mpmath

    if base == 0 and exponent < 0:
        return mpmath.inf
    if exponent == int(exponent):
        return base ** int(exponent)
    return mpmath.power(base, exponent)


def _log(x: Any) -> Any:
    import mpmath

    return mpmath.log(x) if x > 0 else (mpmath.ninf if x == 0 else mpmath.nan)


def _heaviside(x: Any, h0: Any = None) -> Any:
    import mpmath

    if x > 0:
        return mpmath.mpf(1)
    if x < 0:
        return mpmath.mpf(0)
    return mpmath.mpf(0.5) if h0 is None else h0


def _dirac(x: Any) -> Any:
    import mpmath

    return mpmath.inf if x == 0 else mpmath.mpf(0)


# ---------------------------------------------------------------------------------------------------
# The forward pass in 30-digit arithmetic, from the SymPy forms


@functools.lru_cache(maxsize=64)
def _activation_program(name: str, param: float, size: int) -> Program:
    """out = f(net) for a whole layer (softmax needs the layer's nets; the others are elementwise)."""
    import sympy as sp

    # the symbols of symbolic.activation_derivation (net, net_1…): SymPy builds f(net) once for both
    if not _elementwise(name):
        nets = sp.symbols(f"net_1:{size + 1}")
        return Program([_sympy_activation(name, z, param, nets) for z in nets], nets)
    net = sp.Symbol("net")
    return Program([_sympy_activation(name, net, param)], [net])


@functools.lru_cache(maxsize=16)
def _loss_program(loss: str, n: int) -> Program:
    """One output's loss term ℓ(out, t) (n = number of outputs, for mse)."""
    import sympy as sp

    out, t = sp.symbols("out t")
    return Program([_sympy_loss_term(loss, out, t, n)], [out, t])


def _sympy_activation(name: str, net: Any, param: float | None, others: Any = None) -> Any:
    from bptrace import functions as network

    return network.sympy_activation(name, net, param, others)


def _elementwise(name: str) -> bool:
    from bptrace import functions as network

    return network.activation(name).elementwise


def _param(layer: Layer) -> float:
    """The layer's activation parameter as a number (its default when unset; 0.0 where there is none)."""
    return layer.function.value(layer.param)


def _sympy_loss_term(name: str, out: Any, t: Any, n: int) -> Any:
    from bptrace import functions as network

    return network.sympy_loss_term(name, out, t, n)
