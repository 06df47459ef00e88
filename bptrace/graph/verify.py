"""Independent checks of a graph's gradients: SymPy differentiates the whole output, and finite differences.

SymPy's expression is built from the parsed gates, one SymPy object per node (never from text), and SymPy
differentiates the output itself; the engine's local-gradient formulas play no part. For an intermediate
node n, SymPy differentiates the output with n replaced by a fresh symbol (its other inputs' paths kept).

Finite differences are five-point central differences of the output, moving one variable (or pinning one
node's value) at a time. Where a step crosses a kink (a max/min tie, relu or abs at 0, or close to one) the
function has no derivative there: the difference is shown but not judged, and the convention is named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from bptrace.errors import NumericalError
from bptrace.graph import engine
from bptrace.graph.engine import GraphTrace
from bptrace.graph.model import GraphScenario
from bptrace.i18n import N_, _
from bptrace.message import tr
from bptrace.verify import finite
from bptrace.verify.checks import GradientCheck, judged_by
from bptrace.verify.tolerances import (
    EPSILON,
    FLOOR,
    fd_agrees,
    sympy_agrees,
)

NODE_LIMIT = 80  # gates up to which SymPy also derives every intermediate node (one derivation each)
# parts of the output written out as one expression (reused nodes copied at every use) up to which SymPy
# differentiates it: the written-out size grows exponentially with nested reuse, and SymPy's time with it
SYMPY_SIZE_LIMIT = 1000
NODE_SIZE_LIMIT = 150  # ... and up to which it derives every intermediate node too (one derivation each)


@dataclass(frozen=True)
class Check(GradientCheck):
    """One gradient three ways (verify/checks.py), of a value of the graph or of one of its nodes."""

    kind: Literal["variable", "node"] = "variable"


@dataclass(frozen=True)
class GraphVerification:
    """Every variable's (and, up to NODE_LIMIT gates, every node's) gradient checked independently."""

    checks: tuple[Check, ...]
    output_sympy: float | None  # SymPy's value of the output, against the engine's
    output_ok: bool
    nodes_checked: bool
    conventions: tuple[str, ...]
    written_size: int = 0  # parts of the output written out as one expression
    sympy_used: bool = True  # False above SYMPY_SIZE_LIMIT: only the finite differences check

    @property
    def ok(self) -> bool:
        return self.output_ok and all(c.ok for c in self.checks)

    def tolerances(self) -> dict[str, float]:
        return judged_by()


# ---- SymPy, node by node ----


def _number(x: float) -> Any:
    import sympy as sp

    if x == int(x) and abs(x) < 2**53:
        return sp.Integer(int(x))
    return sp.Float(x)


def sympy_graph(scenario: GraphScenario, cut: str | None = None) -> tuple[Any, dict[str, Any]]:
    """(the output as a SymPy expression, name -> symbol); node `cut` becomes a free symbol of its own."""
    env, symbols = sympy_nodes(scenario, cut)
    return env[scenario.output], symbols


def sympy_nodes(scenario: GraphScenario, cut: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(node name -> its SymPy expression in the variables, name -> symbol), built gate by gate."""
    import sympy as sp

    symbols = {name: sp.Symbol(name, real=True) for name in scenario.values}
    env: dict[str, Any] = dict(symbols)
    for gate in scenario.gates:
        if gate.name == cut:
            symbols[cut] = sp.Symbol(f"node_{cut}", real=True)
            env[cut] = symbols[cut]
            continue
        a = [env[o] if isinstance(o, str) else _number(o) for o in gate.operands]
        env[gate.name] = _sympy_op(gate.op, a)
    return env, symbols


def _sympy_op(op: str, a: list[Any]) -> Any:
    import sympy as sp

    if op == "add":
        return a[0] + a[1]
    if op == "sub":
        return a[0] - a[1]
    if op == "mul":
        return a[0] * a[1]
    if op == "div":
        return a[0] / a[1]
    if op == "pow":
        return a[0] ** a[1]
    if op == "neg":
        return -a[0]
    if op == "id":
        return a[0]
    if op == "exp":
        return sp.exp(a[0])
    if op == "log":
        return sp.log(a[0])
    if op == "sqrt":
        return sp.sqrt(a[0])
    if op == "abs":
        return sp.Abs(a[0])  # d/dx = sign(x), sign(0) = 0
    # unevaluated, so that each gate stays the gate it is: SymPy would rewrite max(x, max(x, y)) as max(x, y),
    # which at the tie x = y splits the gradient ½/½ where the gates, each split ½/½, give ¾/¼
    if op == "max":
        return sp.Max(a[0], a[1], evaluate=False)  # d/dx = Heaviside(x − y), Heaviside(0) = ½
    if op == "min":
        return sp.Min(a[0], a[1], evaluate=False)
    if op in ("sigmoid", "tanh", "relu"):
        return engine.sympy_activation(op, a[0])
    raise ValueError(f"unknown op {op!r}")


def _sympy_value(e: Any, at: dict[Any, Any]) -> float | None:
    try:
        exact = {s: _number(v) if isinstance(v, float) else v for s, v in at.items()}
        value = complex(e.subs(exact).evalf(30))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if value.imag != 0:
        return None
    return value.real


def written_size(scenario: GraphScenario) -> int:
    """How many parts the output has when written out as one expression (each use of a node a copy)."""
    size: dict[str, int] = dict.fromkeys(scenario.values, 1)
    for g in scenario.gates:
        size[g.name] = 1 + sum(size[o] if isinstance(o, str) else 1 for o in g.operands)
    return size[scenario.output]


def sympy_gradients(trace: GraphTrace, nodes: bool = True) -> tuple[float | None, dict[str, float | None]]:
    """SymPy's value of the output and its ∂f/∂(each variable) (and each gate but the output, if `nodes`)."""
    s = trace.scenario
    values = trace.values()
    f, symbols = sympy_graph(s)
    at = {symbols[v]: values[v] for v in s.values}
    out: dict[str, float | None] = {v: _sympy_value(f.diff(symbols[v]), at) for v in s.values}
    if nodes:
        env, _ = sympy_nodes(s)
        exact_values = {symbols[v]: _number(values[v]) for v in s.values}
        for gate in s.gates[:-1]:
            g, syms = sympy_graph(s, cut=gate.name)
            here: dict[Any, Any] = {syms[v]: values[v] for v in s.values}
            # the cut node at SymPy's own value of it (not the float64 one), so a tie stays a tie
            here[syms[gate.name]] = env[gate.name].subs(exact_values)
            out[gate.name] = _sympy_value(g.diff(syms[gate.name]), here)
    out[s.output] = 1.0
    return _sympy_value(f, at), out


# ---- finite differences ----


def finite_difference(
    trace: GraphTrace, name: str, output_error: float | None = None
) -> tuple[float | None, bool, str, float, str]:
    """(the one judged finite difference of every kind (verify/finite.py) of ∂f/∂name, judged, why not
    judged, its rounding bound, the error that stopped it): a variable is moved, a gate's value pinned; the
    bound is tolerances.fd_noise of |f| (δE = `output_error`, f's distance from SymPy's, when known). The
    note is English (the JSON's); the last item is in the language bptrace speaks."""
    s = trace.scenario
    x = trace.nodes[name].value

    def at(v: float) -> tuple[float, tuple[Any, ...]]:
        if name in s.values:
            env = engine.forward(s, values={**s.values, name: v})
        else:
            env = engine.forward(s, override={name: v})
        return env[s.output], tuple(engine.branch(g, env) for g in s.gates)

    try:
        f0, pattern = at(x)
    except NumericalError as exc:
        return None, False, f"not computed: {engine.english(exc)}", 0.0, exc.message
    stopped: list[NumericalError] = []

    def loss(v: float) -> tuple[float, str | None]:
        try:
            value, branches = at(v)
        except NumericalError as exc:
            stopped.append(exc)
            return float("nan"), None
        return value, ("a kink" if branches != pattern else None)

    fd = finite.difference(loss, x, trace.nodes[name].grad, f0, output_error)
    if fd.value != fd.value and stopped:
        return None, False, f"not computed: {engine.english(stopped[0])}", 0.0, stopped[0].message
    if fd.crosses_kink:
        return fd.value, False, "crosses a kink: not judged", fd.noise or 0.0, ""
    if fd.inconclusive:
        return fd.value, False, f"finite difference not judged: {fd.reason}", fd.noise or 0.0, tr(fd.reason or "")
    return fd.value, True, "", fd.noise or 0.0, ""


# the notes of a check, as a table shows them (Check.note keeps them in English for the JSON)
FD_CROSSES = N_("finite difference crosses a kink: not judged")
FD_NOT_COMPUTED = N_("finite difference not computed: {message}")
FD_NOT_JUDGED = N_("finite difference not judged: {reason}")
SYMPY_FAILED = N_("SymPy could not evaluate its derivative here")


def shown_note(judged: bool, fd: float | None, error: str, sympy_failed: bool) -> str:
    """What a check's note says in a table, in the language bptrace speaks: why the finite difference is not
    judged (it crosses a kink, or could not be computed: `error`, already translated) and SymPy's failure."""
    parts = []
    if fd is None:
        parts.append(_(FD_NOT_COMPUTED).format(message=error))
    elif not judged:
        parts.append(_(FD_NOT_JUDGED).format(reason=error) if error else _(FD_CROSSES))
    if sympy_failed:
        parts.append(_(SYMPY_FAILED))
    return _("{first}; {second}").format(first=parts[0], second=parts[1]) if len(parts) == 2 else "".join(parts)


def resolution(trace: GraphTrace) -> dict[str, float]:
    """Each gradient's float64 resolution (2D + 4)·ε·Ĝ, the floor of its SymPy check (as for networks):
    Ĝ is the gradient recomputed with the absolute value of every term, D the graph's depth in gates."""
    s = trace.scenario
    ghat: dict[str, float] = {s.output: 1.0}
    for name in [g.name for g in reversed(s.gates[:-1])] + list(s.values):
        ghat[name] = sum(ghat[u.gate] * abs(u.local_value) for u in trace.nodes[name].uses)
    depth: dict[str, int] = dict.fromkeys(s.values, 0)
    for g in s.gates:
        depth[g.name] = 1 + max((depth[o] for o in g.inputs), default=0)
    d = depth[s.output]
    return {name: max(FLOOR, (2 * d + 4) * EPSILON * value) for name, value in ghat.items()}


def verify(trace: GraphTrace, nodes: bool | None = None, only: str | None = None) -> GraphVerification:
    """Check every variable's gradient (and every node's, for graphs up to NODE_LIMIT gates), or just `only`'s."""
    s = trace.scenario
    size = written_size(s)
    if nodes is None:
        nodes = (len(s.gates) <= NODE_LIMIT and size <= NODE_SIZE_LIMIT) or (only is not None and only not in s.values)
    use_sympy = size <= SYMPY_SIZE_LIMIT
    floors = resolution(trace)
    if use_sympy:
        f_sympy, sympy = sympy_gradients(trace, nodes=nodes)
        # the output's own floor: the same resolution, on the largest value the forward pass went through
        biggest = max(abs(n.value) for n in trace.nodes.values())
        f_floor = max(FLOOR, (2 * len(s.gates) + 4) * EPSILON * biggest)
        output_ok = f_sympy is not None and sympy_agrees(trace.output.value, f_sympy, floor=f_floor)
    else:
        f_sympy, sympy, output_ok = None, {}, True
    output_error = None if f_sympy is None else abs(trace.output.value - f_sympy)
    names = list(s.values) + ([g.name for g in s.gates[:-1]] if nodes else [])
    if only is not None:
        names = [n for n in names if n == only]
    checks = []
    for name in names:
        node = trace.nodes[name]
        g = node.grad
        sy = sympy.get(name)
        fd, judged, note, noise, error = finite_difference(trace, name, output_error)
        sympy_ok = not use_sympy or (sy is not None and sympy_agrees(g, sy, floor=floors[name]))
        fd_ok = not judged or (fd is not None and fd_agrees(fd, g, noise))
        sympy_failed = sy is None and use_sympy
        if sympy_failed:
            note = "; ".join(x for x in (note, SYMPY_FAILED) if x)  # English: the JSON's
        checks.append(
            Check(
                name,
                g,
                sy,
                fd,
                judged,
                note,
                sympy_ok and fd_ok,
                shown_note(judged, fd, error, sympy_failed),
                kind="variable" if name in s.values else "node",
            )
        )
    return GraphVerification(tuple(checks), f_sympy, output_ok, nodes, engine.CONVENTIONS, size, use_sympy)
