"""Answer sheets for recurrent scenarios: the quantities, blank sheets, marking, and the misconception behind
a wrong answer (BPTT re-run with each mistake of engine.MISTAKES, plus a sign slip).

A sheet is read by grading/answers.py (the format of docs/answer-sheets.md); its keys are the names of
docs/quantities.md, 'Recurrent scenarios' (h1@t2, delta_h1@t3, dE/dW_hh_1_2@t3, dE/dW_hh_1_2, W_hh_1_2+).
"""

from __future__ import annotations

from dataclasses import dataclass

from bptrace.errors import UnknownNameError
from bptrace.grading.answers import RawAnswer, Sheet
from bptrace.grading.marking import DEFAULT_MIN_DIGITS, equals_exactly, judge, reproduces
from bptrace.graph.grading import _rounds_to
from bptrace.i18n import N_, _
from bptrace.rnn import engine, names
from bptrace.rnn.engine import RnnTrace
from bptrace.rnn.model import RnnScenario, shown

SIGN_SLIP = "sign-slip"
DIAGNOSES = {**engine.MISTAKES, SIGN_SLIP: N_("the right number with the wrong sign (for an update: θ + η·∂E/∂θ)")}


def template_text(s: RnnScenario, scenario_ref: str) -> str:
    """A blank answer sheet: forward per step, BPTT from the last step back, each step's terms, the sums, the
    updates."""
    sections = [
        (_("forward: each step's nets, states, outputs and loss"), names.forward_names(s)),
        (_("backward through time, from the last step back (delta = dE/dnet)"), names.backward_names(s)),
        (_("each parameter's term at each step (dE/dPARAM@tN)"), names.contribution_names(s)),
        (_("the gradients: the sums of the terms over the steps"), names.gradient_names(s)),
        (_("the updates: NAME+ = NAME − η·gradient"), names.update_names(s)),
    ]
    out = [
        "# " + _("Answer sheet for {title}").format(title=shown(s.title)),
        "# " + _("Fill in each value and mark it with: {command}").format(command="bptrace check THIS_FILE"),
        f"scenario: {scenario_ref}",
        "student:",
        "answers:",
    ]
    for title, keys in sections:
        out.append("  # " + title)
        out += [f"  {key}:" for key in keys]
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class RnnMark:
    key: str
    quantity: str
    given: str | None
    expected: float | None
    correct: bool
    reason: str
    points: float
    diagnoses: tuple[str, ...]
    line: int | None


@dataclass(frozen=True)
class RnnSheetResult:
    file: str
    student: str
    scenario: RnnScenario
    marks: tuple[RnnMark, ...]

    @property
    def score(self) -> float:
        return sum(m.points for m in self.marks if m.correct)

    @property
    def total(self) -> float:
        return sum(m.points for m in self.marks)

    @property
    def all_correct(self) -> bool:
        return all(m.correct for m in self.marks)


def _explains(raw: RawAnswer, value: float) -> bool:
    w = raw.written
    if w is None:
        return False
    if _rounds_to(w, value) or equals_exactly(w, value):
        return True
    return w.digits >= DEFAULT_MIN_DIGITS and reproduces(w, value, raw.rtol, raw.tolerance)


def _sign_slip(name: str, t: RnnTrace, values: dict[str, float]) -> float:
    if name.endswith("+"):
        p = name[:-1]
        return t.values[p] + t.scenario.learning_rate * t.grads[p]
    return -values[name]


def mark(sheet: Sheet, s: RnnScenario, min_digits: int = DEFAULT_MIN_DIGITS, diagnose: bool = True) -> RnnSheetResult:
    t = engine.trace(s)
    values = t.quantities()
    variants: dict[str, dict[str, float]] = {}
    marks: list[RnnMark] = []
    seen: dict[str, RawAnswer] = {}
    for raw in sheet.raw:
        try:
            q = names.parse(raw.key, s)
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
        expected = values.get(q)
        if raw.written is None or expected is None:
            marks.append(RnnMark(raw.key, q, None, expected, False, "unanswered", raw.points, (), raw.line))
            continue
        j = judge(raw.written, expected, min_digits, raw.rtol, raw.tolerance)
        reason = j.reason
        if reason == "few-digits" and not _rounds_to(raw.written, expected):
            reason = "wrong"
        found: list[str] = []
        if not j.ok and diagnose:
            for code in engine.MISTAKES:
                if code not in variants:
                    variants[code] = engine.trace(s, code).quantities()
                value = variants[code].get(q)
                if value is not None and value != expected and _explains(raw, value):
                    found.append(code)
            slip = _sign_slip(q, t, values)
            if slip != expected and _explains(raw, slip):
                found.append(SIGN_SLIP)
        marks.append(RnnMark(raw.key, q, raw.written.text, expected, j.ok, reason, raw.points, tuple(found), raw.line))
    return RnnSheetResult(sheet.file, sheet.student, s, tuple(marks))
