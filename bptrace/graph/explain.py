"""The derivation of one node's gradient as data: every path from the node to the output, the chain rule
along each (a product of local gradients), and their sum, which is the backward pass's ∂f/∂node.

    ∂f/∂x = Σ over the paths x → g₁ → … → f of ∂g₁/∂x · ∂g₂/∂g₁ · … · ∂f/∂gₖ

A node read twice by the same gate (x·x) has two paths through it: they are told apart by the operand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bptrace.errors import UnknownNameError
from bptrace.graph import expression as ex
from bptrace.graph.engine import GraphTrace, Node
from bptrace.i18n import _
from bptrace.model.source import did_you_mean

MAX_PATHS = 24  # paths written out; the count and the sum always cover all of them


@dataclass(frozen=True)
class Step:
    """One edge of a path: ∂gate/∂(the node before it), as a formula and a number."""

    node: str  # the node the edge leaves
    gate: str  # the gate it enters
    operand: int
    local: ex.Expr
    local_value: float


@dataclass(frozen=True)
class PathTerm:
    """One path from the node to the output and the product of its local gradients."""

    steps: tuple[Step, ...]
    product: float

    @property
    def nodes(self) -> list[str]:
        return [self.steps[0].node, *(s.gate for s in self.steps)] if self.steps else []


@dataclass(frozen=True)
class GraphExplanation:
    """∂f/∂node, derived: the paths (at most MAX_PATHS written out), their sum, and the update."""

    node: Node
    output: str
    paths: tuple[PathTerm, ...]
    path_count: int
    path_sum: float  # the sum of every path's product, added in path order
    new_value: float | None
    learning_rate: float | None


def parse_target(target: str, trace: GraphTrace) -> str:
    """'df/dx', '∂f/∂x', 'dE/dx' with the output's name, or just 'x' -> the node's name."""
    s = trace.scenario
    text = target.strip().replace("∂", "d")
    m = re.fullmatch(r"d([A-Za-z][A-Za-z0-9_]*)/d([A-Za-z][A-Za-z0-9_]*)", text)
    name = text
    if m:
        if m.group(1) != s.output:
            raise UnknownNameError(
                _("{target}: the graph's output is {output}, so its gradients are {gradients}").format(
                    target=target, output=s.output, gradients=f"d{s.output}/d..."
                ),
                hint=_("e.g. {example}").format(example=f"d{s.output}/d{next(iter(s.values))}"),
            )
        name = m.group(2)
    if name not in trace.nodes:
        names = list(trace.nodes)
        raise UnknownNameError(
            _("no node named {target!r} in this graph").format(target=target),
            hint=did_you_mean(name, names) or _("the nodes are {names}").format(names=", ".join(names)),
        )
    return name


def explain(trace: GraphTrace, name: str) -> GraphExplanation:
    """Every path from node `name` to the output, with the chain rule along each."""
    s = trace.scenario
    counts = path_counts(trace)
    written: list[PathTerm] = []

    def walk(node: str, steps: tuple[Step, ...], product: float) -> None:
        if len(written) >= MAX_PATHS:
            return
        if node == s.output:
            written.append(PathTerm(steps, product))
            return
        for use in trace.nodes[node].uses:
            step = Step(node, use.gate, use.operand, use.local, use.local_value)
            walk(use.gate, (*steps, step), product * use.local_value)

    walk(name, (), 1.0)
    total = _sum_paths(trace, name)
    new_value = trace.new_values.get(name)
    return GraphExplanation(
        trace.nodes[name], s.output, tuple(written), counts[name], total, new_value, s.learning_rate
    )


def path_counts(trace: GraphTrace) -> dict[str, int]:
    """How many paths lead from each node to the output (one per operand edge)."""
    s = trace.scenario
    counts: dict[str, int] = {s.output: 1}
    for gate in reversed(s.gates[:-1]):
        counts[gate.name] = sum(counts[u.gate] for u in trace.nodes[gate.name].uses)
    for v in s.values:
        counts[v] = sum(counts[u.gate] for u in trace.nodes[v].uses)
    return counts


def _sum_paths(trace: GraphTrace, name: str) -> float:
    """Σ over every path of the product of its local gradients (by enumeration, capped for huge counts)."""
    s = trace.scenario
    if path_counts(trace)[name] > 100_000:
        return trace.nodes[name].grad  # too many to enumerate: the backward pass's sum is the same number
    total = 0.0
    stack: list[tuple[str, float]] = [(name, 1.0)]
    while stack:
        node, product = stack.pop()
        if node == s.output:
            total += product
            continue
        for use in reversed(trace.nodes[node].uses):
            stack.append((use.gate, product * use.local_value))
    return total
