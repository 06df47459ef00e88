"""The arithmetic of a computational graph: a gate's value at its operands, an expression tree's value, and
the numerical errors they raise (division by 0, a log of a negative number, an overflow). Below both the
graph's model (which folds constants with it) and its engine (bptrace/graph/engine.py)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from bptrace.errors import NumericalError
from bptrace.graph import expression as ex
from bptrace.i18n import N_, _


class GraphNumericalError(NumericalError):
    """A NumericalError of a graph: its message in the language bptrace speaks, and in English (`english`),
    which is what the JSON writes (a finite difference that could not be computed says why)."""

    def __init__(
        self,
        message: str,
        english: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, file=file, line=line, column=column, hint=hint)
        self.english = english


def _numerical(message: str, hint: str | None = None, **fields: object) -> GraphNumericalError:
    """The error `message` (an English msgid, with named fields) in the language bptrace speaks."""
    return GraphNumericalError(
        _(message).format(**fields), message.format(**fields), hint=_(hint).format(**fields) if hint else None
    )


def english(exc: NumericalError) -> str:
    """The English text of a numerical error (for the JSON)."""
    return exc.english if isinstance(exc, GraphNumericalError) else exc.message


# ---- the activation registry, behind one adapter ----


def activation(name: str, z: float) -> tuple[float, float]:
    """(f(z), f′(z)) of a registry activation: the one place the graph engine calls bptrace.functions."""
    import numpy as np

    from bptrace.functions import activate, activation_derivative

    zz = np.array([[z]], dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        a = activate(name, zz)
        d = activation_derivative(name, zz)  # f′ from net, stable
    return float(a[0, 0]), float(d[0, 0])


def sympy_activation(name: str, z: object) -> object:
    """f(z) as a SymPy expression, from the registry (the verification differentiates it itself)."""
    from bptrace.functions import sympy_activation as registry_form

    return registry_form(name, z)


# ---- numbers ----


def _finite(x: float, what: Callable[[], str]) -> float:
    """x, or an error saying that `what()` (an N_-marked noun: "the value") is not a finite float64."""
    if isinstance(x, complex) or not math.isfinite(x):
        name = what()
        if isinstance(x, complex):
            message = N_("{what} is not a real number in float64")
        else:
            message = N_("{what} is {value} in float64")
        raise GraphNumericalError(_(message).format(what=_(name), value=x), message.format(what=name, value=x))
    return x


# what _finite says is not finite (nouns of its message)
_A_VALUE = N_("a value")
_THE_VALUE = N_("the value")
_THE_GRADIENT = N_("the gradient")
_A_GRADIENT = N_("a gradient")
_THE_LOCAL_GRADIENT = N_("the local gradient")
_AN_UPDATED_VALUE = N_("an updated value")


def apply(op: str, args: list[float]) -> float:
    """The value of gate `op` at `args` (a NumericalError where it is undefined or overflows)."""
    try:
        if op == "add":
            return args[0] + args[1]
        if op == "sub":
            return args[0] - args[1]
        if op == "mul":
            return args[0] * args[1]
        if op == "div":
            if args[1] == 0:
                raise _numerical(N_("division by 0"), N_("choose values that keep every divisor away from 0"))
            return args[0] / args[1]
        if op == "pow":
            a, b = args
            if a == 0 and b < 0:
                raise _numerical(N_("0 to a negative power"), N_("choose values that keep the base away from 0"))
            if a < 0 and b != int(b):
                raise _numerical(
                    N_("a negative base ({base}) to a non-integer power ({exponent}) is not a real number"),
                    N_("keep the base positive"),
                    base=f"{a:g}",
                    exponent=f"{b:g}",
                )
            return float(a**b)
        if op == "neg":
            return -args[0]
        if op == "id":
            return args[0]
        if op == "exp":
            return math.exp(args[0])
        if op == "log":
            if args[0] <= 0:
                raise _numerical(N_("log of {x} is undefined"), N_("log needs a positive argument"), x=f"{args[0]:g}")
            return math.log(args[0])
        if op == "sqrt":
            if args[0] < 0:
                raise _numerical(N_("sqrt of {x} is not a real number"), N_("sqrt needs x ≥ 0"), x=f"{args[0]:g}")
            return math.sqrt(args[0])
        if op == "abs":
            return abs(args[0])
        if op == "sign":
            return float((args[0] > 0) - (args[0] < 0))
        if op == "max":
            return max(args[0], args[1])
        if op == "min":
            return min(args[0], args[1])
        if op in ("sigmoid", "tanh", "relu"):
            return activation(op, args[0])[0]
    except OverflowError:
        raise _numerical(N_("the value overflows float64"), N_("choose smaller values")) from None
    raise ValueError(f"unknown op {op!r}")


def evaluate(e: ex.Expr, env: Mapping[str, float]) -> float:
    """The value of an expression tree (a gate's local-derivative formula, or a constant) at `env`."""
    if isinstance(e, ex.Num):
        return e.value
    if isinstance(e, ex.Name):
        return env[e.name]
    if isinstance(e, ex.Neg):
        return -evaluate(e.operand, env)
    if isinstance(e, ex.Binary):
        op = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow"}[e.op]
        value = apply(op, [evaluate(e.left, env), evaluate(e.right, env)])
    elif isinstance(e, ex.Call):
        value = apply(e.func, [evaluate(a, env) for a in e.args])
    else:
        left, right = evaluate(e.left, env), evaluate(e.right, env)
        value = float(left > right if e.rel == ">" else left < right)
    return _finite(value, lambda: _A_VALUE)
