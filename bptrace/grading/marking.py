"""Marking answer sheets: precision read from the text the student wrote, tolerances, diagnosis, a summary.

An answer is correct when it equals the exact value rounded to the significant digits the student wrote,
± one unit in that last place, and has at least `min_digits` significant digits (0.4 is not "w5⁺ to one
digit"); or when it is within a relative (--rtol, rtol:) or absolute (tolerance:) tolerance; or when it
equals the exact value outright (b1⁺ = 0.35 when biases are not updated). The digits come from the
literal text (0.511301270 has nine, 3.51e-5 three), never from a parsed float.

A wrong answer is re-derived under premature rounding first (every intermediate rounded to the
student's k digits; reproduced → counted correct, note `rounding`), then under every misconception of
diagnose.py; all that reproduce it are reported.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any

from bptrace.grading.diagnose import (
    CODE_ORDER,
    DEFAULT_MIN_DIGITS,
    STEP_KINDS,
    TOO_FEW_DIGITS,
    Lab,
    Variant,
    accepted,
    describe,
    find,
    steps_of,
)

if TYPE_CHECKING:
    from bptrace.grading.answers import Answer, Sheet
    from bptrace.model.names import Quantity
    from bptrace.model.scenario import Scenario

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
ZERO = 1e-12  # a written 0 is right when |exact| is at most this (sums that cancel leave noise)
CONTRADICTION_MAX_STEPS = 100  # multi-step answers beyond this are not re-run only to rank explanations


# ---------------------------------------------------------------------------------------------------
# Numbers as written


@dataclass(frozen=True)
class Written:
    """A number as the student wrote it: its text, exact decimal value, significant digits, last place."""

    text: str
    value: Decimal
    digits: int  # significant digits: 0.511301270 -> 9, 3.51e-5 -> 3, 0.00 -> 0
    place: int  # exponent of the last digit written: 0.0123 -> -4, 3.51e-5 -> -7, 100 -> 0

    @property
    def number(self) -> float:
        return float(self.value)


def read_number(text: str) -> Written | None:
    """The number in `text` (plain decimal or e-notation; '−' accepted for '-'), or None if it is not one."""
    t = str(text).strip().replace("\u2212", "-")
    if not NUMBER.fullmatch(t):
        return None
    d = Decimal(t)
    _, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    # Decimal keeps trailing zeros (0.750 -> digits 750) and drops leading ones (0.0351 -> 351)
    significant = 0 if d == 0 else len(digits)
    return Written(t, d, significant, exponent)


def agrees(w: Written, x: float) -> bool:
    """x rounded to w's last place is w ± one unit in that place (the digits rule, without min-digits)."""
    if not math.isfinite(x):
        return False
    unit = Decimal(1).scaleb(w.place)
    try:
        with localcontext() as ctx:
            ctx.prec = 1100  # Decimal(float) is exact; quantize must not round it first
            rounded = Decimal(x).quantize(unit, rounding=ROUND_HALF_EVEN)
            return abs(w.value - rounded) <= unit
    except InvalidOperation:  # x and w differ by hundreds of orders of magnitude
        return False


def equals_exactly(w: Written, x: float) -> bool:
    """w is x itself (0.35 for a bias that is not updated; 0 for a gradient that is 0 up to float noise)."""
    if w.value == 0:
        return abs(x) <= ZERO
    return math.isclose(w.number, x, rel_tol=1e-13, abs_tol=0.0)


@dataclass(frozen=True)
class Judgement:
    ok: bool
    reason: str  # exact | digits | tolerance | few-digits | wrong


def judge(
    w: Written, x: float, min_digits: int = DEFAULT_MIN_DIGITS, rtol: float | None = None, atol: float | None = None
) -> Judgement:
    """Is the written answer w correct for the exact value x?"""
    if equals_exactly(w, x):
        return Judgement(True, "exact")
    if w.value == 0 and rtol is None and atol is None:
        return Judgement(False, "wrong")  # 0 is a definite claim, whatever its digits
    digits_ok = agrees(w, x)
    if digits_ok and w.digits >= min_digits:
        return Judgement(True, "digits")
    if math.isfinite(x):
        diff = abs(w.number - x)
        if rtol is not None and diff <= rtol * abs(x):
            return Judgement(True, "tolerance")
        if atol is not None and diff <= atol:
            return Judgement(True, "tolerance")
    if w.digits < min_digits and digits_ok:  # right as far as it goes, but not precise enough to mark
        return Judgement(False, "few-digits")
    return Judgement(False, "wrong")


def reproduces(w: Written, x: float | None, rtol: float | None = None, atol: float | None = None) -> bool:
    """Does a variant's value x explain the written answer (the same rule as correctness, digits kept)?"""
    if x is None:
        return False
    if w.value == 0:
        return equals_exactly(w, x)
    if agrees(w, x) or equals_exactly(w, x):
        return True
    diff = abs(w.number - x)
    return (rtol is not None and diff <= rtol * abs(x)) or (atol is not None and diff <= atol)


# ---------------------------------------------------------------------------------------------------
# Marking


@dataclass(frozen=True)
class Options:
    """How strictly to mark, and which diagnoses count as correct (rounding always does)."""

    min_digits: int = DEFAULT_MIN_DIGITS
    rtol: float | None = None
    accept: frozenset[str] = frozenset({"rounding"})
    diagnose: bool = True


@dataclass
class Result:
    """One answer, marked."""

    answer: Answer
    expected: float
    status: str  # correct | wrong | few-digits | unanswered
    codes: list[str] = field(default_factory=list)
    explanation: str = ""
    earned: float = 0.0
    variants: list[Variant] = field(default_factory=list, repr=False)

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    @property
    def quantity(self) -> str:
        return self.answer.quantity.name


@dataclass
class Explanation:
    """A misconception seen over the whole sheet: which wrong answers it reproduces, which right ones it would spoil."""

    code: str
    detail: str
    explains: list[str]
    contradicts: list[str]


@dataclass
class Summary:
    total: int
    answered: int
    correct: int
    points: float
    max_points: float
    first_wrong: str | None
    narrative: str
    explanations: list[Explanation]

    @property
    def all_correct(self) -> bool:
        return self.correct == self.total


@dataclass
class SheetResult:
    """A marked sheet."""

    sheet: Sheet
    scenario: Scenario
    results: list[Result]
    summary: Summary

    @property
    def student(self) -> str:
        return self.sheet.student


def mark(sheet: Sheet, answers: list[Answer], lab: Lab, options: Options = Options()) -> SheetResult:
    """Mark every answer of a sheet against the lab's scenario, diagnose the wrong ones, and summarise."""
    from bptrace.grading.answers import order_index

    s = lab.scenario
    lab.want_steps({a.quantity.steps for a in answers if a.quantity.kind in STEP_KINDS and a.quantity.steps})
    results = _accept_conventions([_mark_one(a, lab, options) for a in answers], lab, options)
    index = order_index(s)
    ordered = sorted(results, key=lambda r: order_key(r.answer.quantity, index))
    summary = _summarise(ordered, lab, options)
    return SheetResult(sheet, s, ordered, summary)


def _mark_one(a: Answer, lab: Lab, options: Options) -> Result:
    q = a.quantity
    x = lab.expected(q)
    w = a.written
    if w is None:
        return Result(a, x, "unanswered", explanation="no answer")
    rtol = a.rtol if a.rtol is not None else options.rtol
    verdict = judge(w, x, options.min_digits, rtol, a.tolerance)
    if verdict.ok:
        return Result(a, x, "correct", earned=a.points)
    if verdict.reason == "few-digits":
        plural = "s" if w.digits != 1 else ""
        so_far = " (right as far as it goes)" if agrees(w, x) else ""
        return Result(
            a,
            x,
            "few-digits",
            explanation=f"{w.text} has {w.digits} significant digit{plural}{so_far}; "
            f"give at least {options.min_digits}",
        )
    if 0 < w.digits < options.min_digits:  # a wrong guess of one or two digits is not diagnosed
        plural = "s" if w.digits != 1 else ""
        return Result(
            a,
            x,
            "few-digits",
            explanation=f"{w.text} has {w.digits} significant digit{plural}: {TOO_FEW_DIGITS} "
            f"(give at least {options.min_digits})",
        )
    variants = diagnose_answer(q, w, lab, rtol, a.tolerance, options.diagnose, options.min_digits)
    codes = _codes(variants)
    if not variants:
        why = (
            "not a known misconception: no known mistake reproduces this value"
            if options.diagnose
            else "wrong (diagnosis was off)"
        )
        return Result(a, x, "wrong", explanation=why)
    explanation = "; ".join(f"{v.code}: {describe(v, q)}" for v in _first_per_code(variants))
    # accepted only when every explanation is an accepted one (a δ with Mitchell's sign that a sign error
    # also explains is not accepted as the convention)
    ok = accepted(codes, options.accept)
    return Result(a, x, "correct" if ok else "wrong", codes, explanation, a.points if ok else 0.0, variants)


def diagnose_answer(
    q: Quantity,
    w: Written,
    lab: Lab,
    rtol: float | None = None,
    atol: float | None = None,
    misconceptions: bool = True,
    min_digits: int = DEFAULT_MIN_DIGITS,
) -> list[Variant]:
    """The variants that reproduce the written value (diagnose.find, with this module's rule of agreement)."""
    return find(
        q, lab, lambda x: reproduces(w, x, rtol, atol), w.digits, misconceptions=misconceptions, min_digits=min_digits
    )


def _codes(variants: list[Variant]) -> list[str]:
    present = {v.code for v in variants}
    return [c for c in CODE_ORDER if c in present]


def _first_per_code(variants: list[Variant]) -> list[Variant]:
    seen: dict[str, Variant] = {}
    for v in variants:
        seen.setdefault(v.code, v)
    return [seen[c] for c in CODE_ORDER if c in seen]


def order_key(q: Quantity, index: dict[str, int]) -> tuple[int, int, int]:
    """Where q comes in the derivation: forward, loss, backward from the output down, updates, later steps."""
    sample = q.sample or 0
    if q.kind in STEP_KINDS and steps_of(q) != 1:
        base = "E_total@1" if q.kind == "after" else f"{q.param}+"
        return (1_000_000 + steps_of(q), index.get(base, 0), sample)
    pos = index.get(q.name, index.get(q.base, len(index)))
    return (0, pos, sample)


# ---------------------------------------------------------------------------------------------------
# The sheet as a whole


def _summarise(results: list[Result], lab: Lab, options: Options) -> Summary:
    answered = [r for r in results if r.status != "unanswered"]
    # answers with too few digits are reported apart: the sheet "goes wrong" where a value is wrong
    wrong = [r for r in answered if r.status == "wrong"]
    few = [r for r in answered if r.status == "few-digits"]
    right = [r for r in answered if r.correct]
    explanations = _explanations(wrong, right, lab)
    correct = sum(r.correct for r in results)
    points = sum(r.earned for r in results)
    max_points = sum(r.answer.points for r in results)
    first = wrong[0] if wrong else (few[0] if few else None)
    narrative = _narrative(results, first, wrong, explanations, diagnosed=options.diagnose)
    if few:
        narrative += (
            f" Too few significant digits: {', '.join(r.quantity for r in few[:6])}"
            + (" ..." if len(few) > 6 else "")
            + "."
        )
    return Summary(
        len(results),
        len(answered),
        correct,
        points,
        max_points,
        first.quantity if first else None,
        narrative,
        explanations,
    )


def _explanations(wrong: list[Result], right: list[Result], lab: Lab) -> list[Explanation]:
    """For each misconception that reproduces a wrong answer: all the wrong answers it reproduces, and the
    right answers it would have got wrong (a consistent explanation spoils none)."""
    by_variant: dict[Variant, list[str]] = {}
    for r in wrong:
        for v in r.variants:
            if v.code != "rounding":
                by_variant.setdefault(v, []).append(r.quantity)
    out = []
    for v, explains in by_variant.items():
        contradicts = [r.quantity for r in right if _spoils(v, r, lab)]
        out.append(Explanation(v.code, v.detail, explains, contradicts))
    out.sort(key=lambda e: (-len(e.explains), len(e.contradicts), CODE_ORDER.index(e.code)))
    # one line per code: its best variant
    best: dict[str, Explanation] = {}
    for e in out:
        best.setdefault(e.code, e)
    return [e for e in out if best[e.code] is e]


def _spoils(v: Variant, r: Result, lab: Lab) -> bool:
    """Would the variant have got the right answer r wrong?"""
    q = r.answer.quantity
    w = r.answer.written
    if w is None or (q.kind in STEP_KINDS and steps_of(q) > CONTRADICTION_MAX_STEPS):
        return False
    value = lab.value(q, v.knobs)
    if value is None:
        value = lab.expected(q)  # the variant does not touch this quantity
    return not reproduces(w, value, r.answer.rtol, r.answer.tolerance)


def _accept_conventions(results: list[Result], lab: Lab, options: Options) -> list[Result]:
    """An answer an accepted code explains, but also others, is accepted once the sheet's right answers rule
    every other explanation out (Mitchell's δ with right gradients: not a sign error)."""
    right = [r for r in results if r.correct]
    out = []
    for r in results:
        if r.status == "wrong" and any(c in options.accept for c in r.codes):
            kept = [v for v in r.variants if v.code in options.accept or not any(_spoils(v, ok, lab) for ok in right)]
            codes = _codes(kept)
            if accepted(codes, options.accept):
                q = r.answer.quantity
                why = "; ".join(f"{v.code}: {describe(v, q)}" for v in _first_per_code(kept))
                r = Result(r.answer, r.expected, "correct", codes, why, r.answer.points, kept)
        out.append(r)
    return out


def _narrative(
    results: list[Result],
    first: Result | None,
    wrong: list[Result],
    explanations: list[Explanation],
    diagnosed: bool = True,
) -> str:
    rounded = [r.quantity for r in results if r.correct and "rounding" in r.codes]
    note = (
        (
            f" {len(rounded)} answer{'s' if len(rounded) != 1 else ''} differ{'s' if len(rounded) == 1 else ''} "
            "only by early rounding (accepted)."
        )
        if rounded
        else ""
    )
    unanswered = [r for r in results if r.status == "unanswered"]
    missing = f" {len(unanswered)} left unanswered." if unanswered else ""
    if first is None:
        if not any(r.status != "unanswered" for r in results):
            return "No answers given." + missing
        return "Every answer given is right." + note + missing
    before = [r for r in results if r.correct and results.index(r) < results.index(first)]
    if before:
        lead = f"Your {before[-1].quantity} is right; your {first.quantity} is the first wrong answer"
    else:
        lead = f"Your {first.quantity}, the first answer in the derivation, is wrong"
    if first.status == "few-digits":
        lead += " (too few significant digits)."
        return lead + note + missing
    if first.codes:
        lead += f": {first.explanation}."
    elif not diagnosed:  # it did not look (--no-diagnose): say so, not that nothing was found
        lead += " (diagnosis was off, so no misconception was looked for)."
    else:
        lead += ": no known misconception reproduces it."
    parts = [lead]
    best = explanations[0] if explanations else None
    if best and len(wrong) > 1 and len(best.explains) == len(wrong):
        tail = f" (though it would also change {', '.join(best.contradicts[:3])})" if best.contradicts else ""
        parts.append(
            f"One misconception, {best.code} ({best.detail}), reproduces all {len(wrong)} wrong answers{tail}."
        )
    elif len(wrong) > 1:
        # different mistakes (or none known): say which explains what, in the order of the derivation
        others = [f"{r.quantity} ({_short(r)})" for r in wrong[1:7]]
        more = f" and {len(wrong) - 7} more" if len(wrong) > 7 else ""
        parts.append(f"Further wrong: {'; '.join(others)}{more}.")
    return " ".join(parts) + note + missing


def _short(r: Result) -> str:
    if r.status == "few-digits":
        return "too few digits"
    return ", ".join(r.codes) or "not a known misconception"


def to_data(result: SheetResult, hide_expected: bool = False) -> dict[str, Any]:
    """A marked sheet as plain data (the JSON of `check --format json`)."""
    s = result.summary
    return {
        "sheet": result.sheet.file,
        "student": result.student,
        "scenario": result.scenario.title,
        "results": [
            {
                "quantity": r.quantity,
                "key": r.answer.key,
                "line": r.answer.line,
                "given": r.answer.written.text if r.answer.written else None,
                "digits": r.answer.written.digits if r.answer.written else None,
                "expected": None if hide_expected else r.expected,
                "correct": r.correct,
                "status": r.status,
                "diagnosis": list(r.codes),
                "explanation": r.explanation,
                "points": r.earned,
                "max_points": r.answer.points,
            }
            for r in result.results
        ],
        "summary": {
            "total": s.total,
            "answered": s.answered,
            "correct": s.correct,
            "score": f"{s.correct}/{s.total}",
            "points": s.points,
            "max_points": s.max_points,
            "all_correct": s.all_correct,
            "first_wrong": s.first_wrong,
            "narrative": s.narrative,
            "explanations": [
                {"code": e.code, "detail": e.detail, "explains": e.explains, "contradicts": e.contradicts}
                for e in s.explanations
            ],
        },
    }
