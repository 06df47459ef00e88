"""One forward and one backward pass through a computational graph, gate by gate, recorded as data.

Forward: each gate's value from its operands' values. Backward, from the output (∂f/∂f = 1) to the values:
at each gate, for each input, upstream gradient × local gradient = that use's gradient. A node used more than
once (a reused variable, or x·x) gets the sum of its uses' gradients, kept term by term:

    ∂f/∂x = Σ over the uses (gate g, operand i) of ∂f/∂g · ∂g/∂x_i

The local gradient is kept as a formula (an expression tree in the gate's names) and as its number, so a
renderer can show "∂q/∂x = 1", "∂f/∂q = z = −4". Nothing here prints.

Conventions at the kinks (where the gate has no derivative): relu′(0) = 0 and abs′(0) = 0 (the subgradient 0,
as bptrace's networks and autograd); at a tie of max or min the gradient is split evenly between the two
inputs (½ each, as autograd and PyTorch do). The finite differences are not judged where they cross a kink.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bptrace.errors import NumericalError
from bptrace.graph import expression as ex
from bptrace.graph.arithmetic import (  # noqa: F401  (re-exported: engine.evaluate, engine.english, ...)
    _A_GRADIENT,
    _AN_UPDATED_VALUE,
    _THE_GRADIENT,
    _THE_LOCAL_GRADIENT,
    _THE_VALUE,
    GraphNumericalError,
    _finite,
    _numerical,
    activation,
    apply,
    english,
    evaluate,
    sympy_activation,
)
from bptrace.graph.model import Gate, GraphScenario
from bptrace.i18n import N_

# in English in the trace and the JSON; shown with _(convention)
CONVENTIONS = (
    N_("relu′(0) = 0 and abs′(0) = 0 (the subgradient 0)"),
    N_("at a tie of max or min the gradient is split evenly: ½ to each input"),
)


# ---- local gradients: the formula of ∂gate/∂operand_i, in the names of the gate and its operands ----


def _term(o: str | float) -> ex.Expr:
    return ex.Name(o) if isinstance(o, str) else ex.Num(o, repr(o))


# The mistakes a learner makes walking a graph by hand (grading/diagnosis re-runs the walk with one of them);
# the codes are the JSON's, the descriptions are shown with _(MISTAKES[code])
MISTAKES = {
    "reuse-overwritten": N_(
        "a reused node's gradient overwritten by each use instead of summed (only the use "
        "reached last in the backward walk kept)"
    ),
    "reuse-first-only": N_("a reused node's gradient taken from the first use reached in the backward walk only"),
    "multiply-not-swapped": N_("a multiply gate's local gradient taken as the input itself, not the other input"),
    "max-to-smaller": N_("a max gate's gradient routed to the smaller input (a min gate's to the larger)"),
    "subtract-sign": N_("a subtract gate's −1 for its second input taken as +1"),
}


def local_formulas(gate: Gate, values: Mapping[str, float], mistake: str | None = None) -> list[ex.Expr]:
    """∂gate/∂operand for each operand, as formulas (max and min look at the values to say who is larger);
    `mistake` (one of MISTAKES) gives the formula a learner with that misconception writes."""
    if mistake is not None:
        right = local_formulas(gate, values)
        if mistake == "multiply-not-swapped" and gate.op == "mul":
            return [right[1], right[0]]
        if mistake == "max-to-smaller" and gate.op in ("max", "min"):
            return [right[1], right[0]]
        if mistake == "subtract-sign" and gate.op == "sub":
            return [right[0], ex.Num(1.0, "1")]
        return right
    n = ex.Num
    ops = [_term(o) for o in gate.operands]
    out = ex.Name(gate.name)
    op = gate.op
    if op == "add":
        return [n(1.0, "1"), n(1.0, "1")]
    if op == "sub":
        return [n(1.0, "1"), n(-1.0, "-1")]
    if op == "mul":
        return [ops[1], ops[0]]  # a multiply gate swaps its inputs
    if op == "div":
        a, b = ops
        minus_a = n(-a.value, repr(-a.value)) if isinstance(a, ex.Num) else ex.Neg(a)
        return [ex.Binary("/", n(1.0, "1"), b), ex.Binary("/", minus_a, ex.Binary("^", b, n(2.0, "2")))]
    if op == "pow":
        a, b = ops
        da = ex.Binary("*", b, ex.Binary("^", a, ex.Binary("-", b, n(1.0, "1"))))
        if isinstance(b, ex.Num):
            da = ex.Binary("*", b, ex.Binary("^", a, n(b.value - 1, repr(b.value - 1))))
        return [da, ex.Binary("*", out, ex.Call("log", (a,)))]
    if op == "neg":
        return [n(-1.0, "-1")]
    if op == "id":
        return [n(1.0, "1")]
    if op == "exp":
        return [ex.Call("exp", (ops[0],))]
    if op == "log":
        return [ex.Binary("/", n(1.0, "1"), ops[0])]
    if op == "sqrt":
        return [ex.Binary("/", n(1.0, "1"), ex.Binary("*", n(2.0, "2"), out))]
    if op == "abs":
        return [ex.Call("sign", (ops[0],))]
    if op in ("max", "min"):
        first, second = (evaluate(t, values) for t in ops)
        if first == second:
            return [n(0.5, "0.5"), n(0.5, "0.5")]  # a tie: split evenly
        rel = ">" if op == "max" else "<"
        return [ex.Indicator(ops[0], rel, ops[1]), ex.Indicator(ops[1], rel, ops[0])]  # type: ignore[arg-type]
    if op == "sigmoid":
        return [ex.Binary("*", out, ex.Binary("-", n(1.0, "1"), out))]  # σ′ = σ(1 − σ)
    if op == "tanh":
        return [ex.Binary("-", n(1.0, "1"), ex.Binary("^", out, n(2.0, "2")))]  # tanh′ = 1 − tanh²
    if op == "relu":
        return [ex.Indicator(ops[0], ">", n(0.0, "0"))]  # relu′(0) = 0
    raise ValueError(f"unknown op {op!r}")


KINKS = {  # in English in the trace and the JSON; shown with _(node.kink)
    "max": N_("max at a tie: the gradient is split evenly, ½ to each input"),
    "min": N_("min at a tie: the gradient is split evenly, ½ to each input"),
    "relu": N_("relu at 0: relu′(0) = 0 by convention"),
    "abs": N_("abs at 0: abs′(0) = 0 by convention"),
}


def kink(gate: Gate, values: Mapping[str, float]) -> str | None:
    """Why the gate has no derivative at these values (and the convention used), or None (English: KINKS)."""
    args = [values[o] if isinstance(o, str) else o for o in gate.operands]
    if gate.op in ("max", "min") and args[0] == args[1]:
        return KINKS[gate.op]
    if gate.op in ("relu", "abs") and args[0] == 0:
        return KINKS[gate.op]
    return None


def branch(gate: Gate, values: Mapping[str, float]) -> int:
    """Which smooth piece of a gate the values are on (−1, 0 or 1; always 0 for smooth gates)."""
    args = [values[o] if isinstance(o, str) else o for o in gate.operands]
    if gate.op in ("max", "min"):
        return (args[0] > args[1]) - (args[0] < args[1])
    if gate.op in ("relu", "abs"):
        return (args[0] > 0) - (args[0] < 0)
    return 0


# ---- the trace ----


@dataclass(frozen=True)
class Use:
    """One use of a node by a gate's operand, and the gradient that flows back along it."""

    gate: str  # the gate that reads the node
    operand: int  # which of its operands (0-based)
    upstream: float  # ∂f/∂gate
    local: ex.Expr  # ∂gate/∂operand as a formula
    local_value: float
    product: float  # upstream · local: this use's share of ∂f/∂node


@dataclass(frozen=True)
class Node:
    """A variable or a gate: its value, ∂f/∂(it), and the uses its gradient is summed over."""

    name: str
    op: str  # "input" for a variable, else the gate's op
    operands: tuple[str | float, ...]
    value: float
    grad: float
    uses: tuple[Use, ...]  # empty for the output
    kink: str | None = None

    @property
    def inputs(self) -> list[str]:
        return [o for o in self.operands if isinstance(o, str)]


@dataclass(frozen=True)
class GraphTrace:
    """Everything one pass through the graph computed (the Trace of a graph scenario)."""

    scenario: GraphScenario
    nodes: dict[str, Node]  # variables, then gates in evaluation order
    new_values: dict[str, float] = field(default_factory=dict)

    @property
    def output(self) -> Node:
        return self.nodes[self.scenario.output]

    @property
    def variables(self) -> list[Node]:
        return [self.nodes[v] for v in self.scenario.values]

    @property
    def gates(self) -> list[Node]:
        return [self.nodes[g.name] for g in self.scenario.gates]

    def values(self) -> dict[str, float]:
        return {name: node.value for name, node in self.nodes.items()}

    def local(self, gate: str, operand: int) -> tuple[ex.Expr, float]:
        """∂gate/∂operand as a formula and its value."""
        g = self.scenario.gate(gate)
        formula = local_formulas(g, self.values())[operand]
        use = next(
            (u for node in self.nodes.values() for u in node.uses if u.gate == gate and u.operand == operand),
            None,
        )
        return formula, use.local_value if use is not None else evaluate(formula, self.values())


def forward(
    scenario: GraphScenario, values: Mapping[str, float] | None = None, override: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Every node's value (variables from `values`, default the scenario's); `override` pins nodes' values."""
    env: dict[str, float] = dict(scenario.values if values is None else values)
    pinned = override or {}
    env.update({k: v for k, v in pinned.items() if k in env})
    for gate in scenario.gates:
        if gate.name in pinned:
            env[gate.name] = pinned[gate.name]
            continue
        args = [env[o] if isinstance(o, str) else o for o in gate.operands]
        try:
            value = apply(gate.op, args)
            env[gate.name] = _finite(value, lambda: _THE_VALUE)
        except NumericalError as exc:
            raise _at(scenario, gate, exc, f"{gate.name} = {ex.show(gate.formula())}") from None
    return env


def _at(scenario: GraphScenario, gate: Gate, exc: NumericalError, what: str) -> NumericalError:
    return GraphNumericalError(
        f"{what}: {exc.message}",
        f"{what}: {english(exc)}",
        file=scenario.file,
        line=gate.line,
        column=gate.column,
        hint=exc.hint,
    )


def trace(scenario: GraphScenario, mistake: str | None = None) -> GraphTrace:
    """The forward values and the backward walk, gate by gate, with each node's uses summed term by term.

    `mistake` (one of MISTAKES) walks the graph the way a learner with that misconception does."""
    env = forward(scenario)
    uses: dict[str, list[Use]] = {name: [] for name in env}
    grads: dict[str, float] = {}
    order = {g.name: i for i, g in enumerate(scenario.gates)}
    for gate in reversed(scenario.gates):
        if gate.name == scenario.output:
            g = 1.0  # ∂f/∂f
        else:
            g = _sum(uses[gate.name], order, mistake)
        grads[gate.name] = g
        formulas = local_formulas(gate, env, mistake)
        for i, operand in enumerate(gate.operands):
            if not isinstance(operand, str):
                continue  # a constant has no gradient
            formula = formulas[i]
            try:
                local = _local_value(gate, i, formula, env) if mistake is None else evaluate(formula, env)
                product = _finite(g * local, lambda: _THE_GRADIENT)
            except NumericalError as exc:
                raise _at(scenario, gate, exc, f"∂{gate.name}/∂{operand}") from None
            uses[operand].append(Use(gate.name, i, g, formula, local, product))
    for name in scenario.values:
        grads[name] = _sum(uses[name], order, mistake)
    nodes: dict[str, Node] = {}
    for name in scenario.values:
        nodes[name] = Node(name, "input", (), env[name], grads[name], _sorted(uses[name], order))
    for gate in scenario.gates:
        nodes[gate.name] = Node(
            gate.name,
            gate.op,
            gate.operands,
            env[gate.name],
            grads[gate.name],
            _sorted(uses[gate.name], order),
            kink(gate, env),
        )
    new_values = {}
    if scenario.learning_rate is not None:
        for name in scenario.update:
            # x⁺ = x − η·∂f/∂x
            new_values[name] = _finite(env[name] - scenario.learning_rate * grads[name], lambda: _AN_UPDATED_VALUE)
    return GraphTrace(scenario, nodes, new_values)


def _local_value(gate: Gate, i: int, formula: ex.Expr, env: Mapping[str, float]) -> float:
    """The number of ∂gate/∂operand_i: the registry's derivative for an activation, else the formula's value."""
    if gate.op in ("sigmoid", "tanh", "relu"):
        z = env[gate.operands[0]] if isinstance(gate.operands[0], str) else float(gate.operands[0])
        return _finite(activation(gate.op, z)[1], lambda: _THE_LOCAL_GRADIENT)
    if gate.op == "pow" and i == 1:
        base = env[gate.operands[0]] if isinstance(gate.operands[0], str) else float(gate.operands[0])
        if base <= 0:
            raise _numerical(
                N_("the derivative of a power by its exponent needs log of the base, and the base is {base}"),
                N_("keep the base of a power with a variable exponent positive"),
                base=f"{base:g}",
            )
    if gate.op == "sqrt" and env[gate.name] == 0:
        raise _numerical(N_("sqrt′(0) is infinite"), N_("keep the argument of sqrt positive"))
    return evaluate(formula, env)


def _sorted(uses: list[Use], order: Mapping[str, int]) -> tuple[Use, ...]:
    """A node's uses in evaluation order of the gates that read it (the order the sum is written and added)."""
    return tuple(sorted(uses, key=lambda u: (order[u.gate], u.operand)))


def _sum(uses: list[Use], order: Mapping[str, int], mistake: str | None = None) -> float:
    # ∂f/∂node = Σ_uses ∂f/∂gate · ∂gate/∂node, added in evaluation order
    ordered = _sorted(uses, order)
    if mistake == "reuse-overwritten" and ordered:
        ordered = ordered[:1]  # the backward walk reaches the earliest gate last: its assignment wins
    elif mistake == "reuse-first-only" and ordered:
        ordered = ordered[-1:]
    total = 0.0
    for u in ordered:
        total += u.product
    return _finite(total, lambda: _A_GRADIENT)
