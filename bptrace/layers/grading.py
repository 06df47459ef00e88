"""Answer sheets for layer stacks: blank sheets, marking, and the misconception behind a wrong answer (the
step re-run with each mistake of engine.MISTAKES, plus a sign slip).

A sheet is read by grading/answers.py (the format of docs/answer-sheets.md); its keys are the quantity names
of docs/quantities.md ("Layer stacks"): `a1_2_3:1`, `mu2_1`, `dE/dK1_1_2`, `dE/dx_2_2:1`, `K1_1_2+`.
Numbers are marked by grading/marking.py's digits rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bptrace.errors import UnknownNameError
from bptrace.fmt import DEFAULT_DIGITS
from bptrace.grading.answers import RawAnswer, Sheet
from bptrace.grading.marking import DEFAULT_MIN_DIGITS, equals_exactly, judge, reproduces
from bptrace.i18n import N_, _
from bptrace.layers import engine
from bptrace.layers.engine import LayersTrace
from bptrace.layers.model import LayersScenario
from bptrace.render.layout import Block

SIGN_SLIP = "sign-slip"
# code (the JSON's) -> what the misconception is, shown with _(DIAGNOSES[code])
DIAGNOSES = {
    "convolve": N_("convolving instead of correlating: the kernel flipped in the forward pass"),
    "unflipped": N_("the kernel not flipped in the input gradient (a correlation where a full convolution belongs)"),
    "no_variance_path": N_("batch normalization's path through σ² forgotten"),
    "avg_like_max": N_("average pooling's gradient routed like max pooling's, all to the largest input"),
    SIGN_SLIP: N_("the right number with the wrong sign (for an update: θ + η·∂E/∂θ)"),
}


def quantities(t: LayersTrace) -> list[str]:
    """The quantities a student computes, in the derivation's order: the forward values (not the inputs or the
    parameters), the loss, the gradients backward, the updates."""
    return [ln.name for sec in (*t.forward, *t.backward, t.update) for ln in sec.lines]


def parse_quantity(key: str, t: LayersTrace) -> str:
    from bptrace.layers.explain import canonical
    from bptrace.model.source import did_you_mean

    text = key.strip().replace("∂", "d").replace("⁺", "+")
    name = canonical(text, t)
    if name is not None and text not in t.params:
        return name
    names = quantities(t)
    raise UnknownNameError(
        _("unknown quantity {key!r} for this stack").format(key=key),
        hint=did_you_mean(text, names)
        or _("e.g. {names} ('bptrace template' lists them)").format(names=", ".join(names[:4])),
    )


def template_text(s: LayersScenario, scenario_ref: str) -> str:
    """A blank answer sheet: every quantity with an empty value, grouped by layer and pass."""
    from bptrace.message import tr

    t = engine.trace(s)
    out = [
        "# " + _("Answer sheet for {title}").format(title=s.display_title()),
        "# " + _("Fill in each value and mark it with: {command}").format(command="bptrace check THIS_FILE"),
        f"scenario: {scenario_ref}",
        "student:",
        "answers:",
    ]
    for sec in (*t.forward, *t.backward, t.update):
        out.append("  # " + " ".join(str(tr(sec.title)).split()))
        for ln in sec.lines:
            out.append(f"  {ln.name}:")
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class LayersMark:
    key: str
    quantity: str
    given: str | None
    expected: float | None
    correct: bool
    reason: str  # exact | digits | tolerance | few-digits | wrong | unanswered
    points: float
    diagnoses: tuple[str, ...]
    line: int | None


@dataclass(frozen=True)
class LayersSheetResult:
    file: str
    student: str
    scenario: LayersScenario
    marks: tuple[LayersMark, ...]

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
    sheet: Sheet, s: LayersScenario, min_digits: int = DEFAULT_MIN_DIGITS, diagnose: bool = True
) -> LayersSheetResult:
    """Mark every answer of the sheet; a wrong one gets the misconceptions that reproduce it."""
    t = engine.trace(s)
    variants: dict[str, LayersTrace] = {}
    marks: list[LayersMark] = []
    seen: dict[str, RawAnswer] = {}
    for raw in sheet.raw:
        try:
            q = parse_quantity(raw.key, t)
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
        expected = t.values[q]
        if raw.written is None:
            marks.append(LayersMark(raw.key, q, None, expected, False, "unanswered", raw.points, (), raw.line))
            continue
        j = judge(raw.written, expected, min_digits, raw.rtol, raw.tolerance)
        found: list[str] = []
        if not j.ok and diagnose:
            for code in engine.MISTAKES:
                if code not in variants:
                    variants[code] = engine.trace(s, code)
                value = variants[code].values.get(q)
                if value is not None and value != expected and _explains(raw, value):
                    found.append(code)
            slip = _sign_slip(q, t)
            if slip != expected and _explains(raw, slip):
                found.append(SIGN_SLIP)
        marks.append(
            LayersMark(raw.key, q, raw.written.text, expected, j.ok, j.reason, raw.points, tuple(found), raw.line)
        )
    return LayersSheetResult(sheet.file, sheet.student, s, tuple(marks))


def _explains(raw: RawAnswer, value: float) -> bool:
    w = raw.written
    if w is None:
        return False
    if equals_exactly(w, value):
        return True
    return w.digits >= DEFAULT_MIN_DIGITS and reproduces(w, value, raw.rtol, raw.tolerance)


def _sign_slip(q: str, t: LayersTrace) -> float:
    if q.endswith("+") and q[:-1] in t.params:
        p = q[:-1]
        return t.params[p] + t.scenario.learning_rate * t.gradients[p]
    return -t.values[q]


def check_blocks(
    r: LayersSheetResult, digits: int = DEFAULT_DIGITS, ascii: bool = False, hide_expected: bool = False
) -> list[Block]:
    """A marked sheet: quantity | given | expected | ✓/✗ | the misconception that reproduces it."""
    from bptrace.render.marks import marks_blocks

    title = f"{r.student}: {r.scenario.display_title()}"
    return marks_blocks(title, r.marks, r.score, r.total, r.all_correct, DIAGNOSES, digits, ascii, hide_expected)


def check_data(r: LayersSheetResult, hide_expected: bool = False) -> dict[str, Any]:
    return {
        "kind": "layers",
        "file": r.file,
        "student": r.student,
        "scenario": r.scenario.title,
        "score": r.score,
        "total": r.total,
        "all_correct": r.all_correct,
        "answers": [
            {
                "key": m.key,
                "quantity": m.quantity,
                "given": m.given,
                **({} if hide_expected else {"expected": m.expected}),
                "correct": m.correct,
                "reason": m.reason,
                "points": m.points,
                "diagnoses": list(m.diagnoses),
                "line": m.line,
            }
            for m in r.marks
        ],
    }
