"""Answer sheets for graph scenarios: the quantities, blank sheets, marking, and the misconception behind
a wrong answer (the backward walk re-run with each mistake of engine.MISTAKES, plus a sign slip).

A sheet is read by grading/answers.py (the same format as for networks, docs/answer-sheets.md); its
quantities are a node's value (`q`), a gradient of the output (`df/dq`, also `∂f/∂q`) and an updated
value (`x+`). Numbers are marked by grading/marking.py's digits rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bptrace.errors import UnknownNameError
from bptrace.grading.answers import Sheet
from bptrace.grading.marking import DEFAULT_MIN_DIGITS
from bptrace.grading.named import SIGN_SLIP, NamedMark, NamedSheetResult, mark_named, sheet_text
from bptrace.graph import engine
from bptrace.graph.engine import GraphTrace
from bptrace.graph.model import GraphScenario, shown
from bptrace.i18n import N_, _
from bptrace.model.source import did_you_mean

# code (the JSON's) -> what the misconception is, shown with _(DIAGNOSES[code])
DIAGNOSES = {**engine.MISTAKES, SIGN_SLIP: N_("the right number with the wrong sign (for an update: x + η·∂f/∂x)")}


@dataclass(frozen=True)
class GraphQuantity:
    """A value, gradient or updated value of one node."""

    kind: Literal["value", "grad", "updated"]
    node: str

    def name(self, output: str) -> str:
        return {"value": self.node, "grad": f"d{output}/d{self.node}", "updated": f"{self.node}+"}[self.kind]

    def of(self, t: GraphTrace) -> float | None:
        node = t.nodes[self.node]
        if self.kind == "value":
            return node.value
        if self.kind == "grad":
            return node.grad
        return t.new_values.get(self.node)


def quantities(s: GraphScenario) -> list[GraphQuantity]:
    """Every quantity of the derivation, in its order: values forward, gradients backward, then the updates."""
    forward = [GraphQuantity("value", g.name) for g in s.gates]
    backward = [GraphQuantity("grad", g.name) for g in reversed(s.gates[:-1])]
    backward += [GraphQuantity("grad", v) for v in s.values]
    updates = [GraphQuantity("updated", v) for v in s.update]
    return forward + backward + updates


def parse_quantity(key: str, s: GraphScenario) -> GraphQuantity:
    """'q', 'df/dq' (or '∂f/∂q'), 'x+' -> the quantity; an unknown name suggests the closest."""
    text = key.strip().replace("∂", "d").replace("⁺", "+")
    names = [q.name(s.output) for q in quantities(s)] + list(s.values)
    m = re.fullmatch(r"d([A-Za-z][A-Za-z0-9_]*)/d([A-Za-z][A-Za-z0-9_]*)", text)
    nodes = s.node_names()
    if m and m.group(1) == s.output and m.group(2) in nodes:
        return GraphQuantity("grad", m.group(2))
    if text.endswith("+") and text[:-1] in s.update:
        return GraphQuantity("updated", text[:-1])
    if text in nodes:
        return GraphQuantity("value", text)
    raise UnknownNameError(
        _("unknown quantity {key!r} for this graph").format(key=key),
        hint=did_you_mean(text, names)
        or _("e.g. {names} ('bptrace template' lists them)").format(names=", ".join(names[:4])),
    )


def template_text(s: GraphScenario, scenario_ref: str) -> str:
    """A blank answer sheet: every quantity with an empty value, grouped by forward, backward and updates."""
    names = {kind: [q.name(s.output) for q in quantities(s) if q.kind == kind] for kind in ("value", "grad", "updated")}
    backward = _("backward: {gradient}, from the output back to the values").format(gradient=f"d{s.output}/dNODE")
    sections = [
        (_("forward: each gate's value, in evaluation order"), names["value"]),
        (backward, names["grad"]),
        (_("the updates: NAME+ = NAME − η·gradient"), names["updated"]),
    ]
    return sheet_text(shown(s.title), scenario_ref, [(title, keys) for title, keys in sections if keys])


# a marked answer and a marked sheet of a graph (grading/named.py: the one marking of named values)
GraphMark = NamedMark[GraphQuantity]
GraphSheetResult = NamedSheetResult[GraphScenario, GraphQuantity]


def mark(
    sheet: Sheet, s: GraphScenario, min_digits: int = DEFAULT_MIN_DIGITS, diagnose: bool = True
) -> GraphSheetResult:
    """Mark every answer of the sheet; a wrong one gets the misconceptions that reproduce it."""
    t = engine.trace(s)

    def mistaken(code: str) -> Callable[[GraphQuantity], float | None]:
        variant = engine.trace(s, code)
        return lambda q: q.of(variant)

    return mark_named(
        sheet,
        s,
        parse=lambda key: parse_quantity(key, s),
        exact=lambda q: q.of(t),
        mistakes=engine.MISTAKES,
        mistaken=mistaken,
        sign_slip=lambda q: _sign_slip(q, t),
        min_digits=min_digits,
        diagnose=diagnose,
    )


def _sign_slip(q: GraphQuantity, t: GraphTrace) -> float | None:
    if q.kind == "updated":
        lr = t.scenario.learning_rate or 0.0
        return t.nodes[q.node].value + lr * t.nodes[q.node].grad  # x + η·g instead of x − η·g
    value = q.of(t)
    return None if value is None else -value
