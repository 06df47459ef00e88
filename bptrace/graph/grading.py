"""Answer sheets for graph scenarios: the quantities, blank sheets, marking, and the misconception behind
a wrong answer (the backward walk re-run with each mistake of engine.MISTAKES, plus a sign slip).

A sheet is read by grading/answers.py (the same format as for networks, docs/answer-sheets.md); its
quantities are a node's value (`q`), a gradient of the output (`df/dq`, also `∂f/∂q`) and an updated
value (`x+`). Numbers are marked by grading/marking.py's digits rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bptrace.errors import UnknownNameError
from bptrace.grading.answers import RawAnswer, Sheet
from bptrace.grading.marking import DEFAULT_MIN_DIGITS, Written, equals_exactly, judge, reproduces
from bptrace.graph import engine
from bptrace.graph.engine import GraphTrace
from bptrace.graph.model import GraphScenario, shown
from bptrace.i18n import N_, _
from bptrace.model.source import did_you_mean

SIGN_SLIP = "sign-slip"
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
    out = [
        "# " + _("Answer sheet for {title}").format(title=shown(s.title)),
        "# " + _("Fill in each value and mark it with: {command}").format(command="bptrace check THIS_FILE"),
        f"scenario: {scenario_ref}",
        "student:",
        "answers:",
        "  # " + _("forward: each gate's value, in evaluation order"),
    ]
    section = "value"
    for q in quantities(s):
        if q.kind != section:
            section = q.kind
            out.append(
                "  # "
                + (
                    _("backward: {gradient}, from the output back to the values").format(gradient=f"d{s.output}/dNODE")
                    if section == "grad"
                    else _("the updates: NAME+ = NAME − η·gradient")
                )
            )
        out.append(f"  {q.name(s.output)}:")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class GraphMark:
    """One answer marked: the quantity, what was written, the exact value, right or not, and why not."""

    key: str
    quantity: GraphQuantity
    given: str | None
    expected: float | None
    correct: bool
    reason: str  # exact | digits | tolerance | few-digits | wrong | unanswered
    points: float
    diagnoses: tuple[str, ...]
    line: int | None


@dataclass(frozen=True)
class GraphSheetResult:
    """A marked sheet."""

    file: str
    student: str
    scenario: GraphScenario
    marks: tuple[GraphMark, ...]

    @property
    def score(self) -> float:
        return sum(m.points for m in self.marks if m.correct)

    @property
    def total(self) -> float:
        return sum(m.points for m in self.marks)

    @property
    def all_correct(self) -> bool:
        return all(m.correct for m in self.marks)


def mark(
    sheet: Sheet, s: GraphScenario, min_digits: int = DEFAULT_MIN_DIGITS, diagnose: bool = True
) -> GraphSheetResult:
    """Mark every answer of the sheet; a wrong one gets the misconceptions that reproduce it."""
    t = engine.trace(s)
    variants: dict[str, GraphTrace] = {}
    marks: list[GraphMark] = []
    seen: dict[GraphQuantity, RawAnswer] = {}
    for raw in sheet.raw:
        try:
            q = parse_quantity(raw.key, s)
        except UnknownNameError as exc:
            raise sheet.doc.error(("answers", raw.key), exc.message, hint=exc.hint) from None
        if q in seen:
            raise sheet.doc.error(
                ("answers", raw.key),
                _("{key!r} is the same quantity as {other!r} (line {line})").format(
                    key=raw.key, other=seen[q].key, line=seen[q].line
                ),
                hint=_("keep one of them"),
            )
        seen[q] = raw
        expected = q.of(t)
        if raw.written is None or expected is None:
            marks.append(GraphMark(raw.key, q, None, expected, False, "unanswered", raw.points, (), raw.line))
            continue
        j = judge(raw.written, expected, min_digits, raw.rtol, raw.tolerance)
        reason = j.reason
        if reason == "few-digits" and not _rounds_to(raw.written, expected):
            reason = "wrong"  # 4 for 3 is not "3 to one digit": graphs' numbers are often short and exact
        found: list[str] = []
        if not j.ok and diagnose:
            for code in engine.MISTAKES:
                if code not in variants:
                    variants[code] = engine.trace(s, code)
                value = q.of(variants[code])
                if value is not None and value != expected and _explains(raw, value):
                    found.append(code)
            slip = _sign_slip(q, t)
            if slip is not None and slip != expected and _explains(raw, slip):
                found.append(SIGN_SLIP)
        marks.append(
            GraphMark(raw.key, q, raw.written.text, expected, j.ok, reason, raw.points, tuple(found), raw.line)
        )
    return GraphSheetResult(sheet.file, sheet.student, s, tuple(marks))


def _rounds_to(w: Written, x: float) -> bool:
    """x rounded to the last place w writes is exactly w (no one-unit slack)."""
    from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext

    try:
        with localcontext() as ctx:
            ctx.prec = 1100
            return Decimal(x).quantize(Decimal(1).scaleb(w.place), rounding=ROUND_HALF_EVEN) == w.value
    except InvalidOperation:
        return False


def _explains(raw: RawAnswer, value: float) -> bool:
    """Does a mistaken walk's value explain the answer? Short answers (fewer than 3 digits) must round to it
    exactly; longer ones by the marking's rule (one unit in the last place, the answer's tolerances)."""
    w = raw.written
    if w is None:
        return False
    if _rounds_to(w, value) or equals_exactly(w, value):
        return True
    return w.digits >= DEFAULT_MIN_DIGITS and reproduces(w, value, raw.rtol, raw.tolerance)


def _sign_slip(q: GraphQuantity, t: GraphTrace) -> float | None:
    if q.kind == "updated":
        lr = t.scenario.learning_rate or 0.0
        return t.nodes[q.node].value + lr * t.nodes[q.node].grad  # x + η·g instead of x − η·g
    value = q.of(t)
    return None if value is None else -value
