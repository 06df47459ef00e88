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
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING, Any

from bptrace.display import Displayable
from bptrace.grading.diagnose import (
    CODE_ORDER,
    DEFAULT_MIN_DIGITS,
    STEP_KINDS,
    Knobs,
    Lab,
    Variant,
    accepted,
    describe,
    find,
    steps_of,
)
from bptrace.grading.written import NUMBER as NUMBER  # re-exported: marking.read_number, marking.Written
from bptrace.grading.written import Written as Written
from bptrace.grading.written import read_number as read_number
from bptrace.i18n import _, ngettext

if TYPE_CHECKING:
    from bptrace.grading.answers import Answer, Sheet
    from bptrace.grading.roster import NeighbourMatch
    from bptrace.model.names import Quantity
    from bptrace.model.scenario import Scenario

ZERO = 1e-12  # a written 0 is right when |exact| is at most this (sums that cancel leave noise)
CONTRADICTION_MAX_STEPS = 100  # multi-step answers beyond this are not re-run only to rank explanations


def agrees(w: Written, x: float) -> bool:
    """x rounded to w's last place is w ± one unit in that place (the digits rule, without min-digits)."""
    if not math.isfinite(x):
        return False
    # the clear cases in float: |x − w| < 0.4 unit agrees, > 1.6 units does not (rounding moves x by at
    # most half a unit); in between, and where a unit is below float64's resolution, exactly in Decimal
    u = 10.0**w.place if -300 < w.place < 300 else 0.0
    if u > 1e-14 * abs(x):
        diff = abs(w.number - x)
        if diff < 0.4 * u:
            return True
        if diff > 1.6 * u:
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
    """How strictly to mark, and which diagnoses count as correct (rounding always does).

    follow_through is None for a student's self-check; marking with a key sets it to the share of a
    step's points given for a step right from the student's own wrong earlier answers, and `credit` to
    the share given for an answer a named misconception explains.
    """

    min_digits: int = DEFAULT_MIN_DIGITS
    rtol: float | None = None
    accept: frozenset[str] = frozenset({"rounding"})
    diagnose: bool = True
    follow_through: float | None = None
    credit: tuple[tuple[str, float], ...] = ()


def diagnosis_codes() -> list[str]:
    """Every diagnosis code, in the order reports list them."""
    return list(CODE_ORDER)


VERDICTS = ("correct", "wrong", "follow-through", "unanswered", "invalid", "too-few-digits")


@dataclass
class Result:
    """One answer, marked."""

    answer: Answer
    expected: float
    status: str  # correct | wrong | few-digits | unanswered | follow-through | invalid
    codes: list[str] = field(default_factory=list)
    explanation: str = ""
    earned: float = 0.0
    variants: list[Variant] = field(default_factory=list, repr=False)
    rests_on: list[str] = field(default_factory=list)  # follow-through: the student's wrong answers it rests on

    @property
    def correct(self) -> bool:
        return self.status == "correct"

    @property
    def verdict(self) -> str:
        """One of VERDICTS (the JSON's word for the status)."""
        return "too-few-digits" if self.status == "few-digits" else self.status

    @property
    def given(self) -> str | None:
        """The answer's literal text (an invalid one's too), or None when unanswered."""
        if self.answer.written is not None:
            return self.answer.written.text
        return self.answer.text

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


@dataclass(repr=False)
class SheetResult(Displayable):
    """A marked sheet (sheet None: a sheet that could not be read, marked 0 with its error)."""

    sheet: Sheet | None
    scenario: Scenario
    results: list[Result]
    summary: Summary
    file: str = ""
    student: str = ""
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    graded: bool = False  # marked with a teacher's key
    student_id: str | None = None  # a per-student key: the roster's id of the student
    neighbours: list[NeighbourMatch] = field(default_factory=list)  # wrong answers that are another's right ones

    def __post_init__(self) -> None:
        if self.sheet is not None:
            self.file = self.file or self.sheet.file
            self.student = self.student or self.sheet.student
            self.warnings = self.warnings or list(self.sheet.warnings)

    @property
    def score(self) -> float:
        return self.summary.points

    @property
    def max_score(self) -> float:
        return self.summary.max_points

    def _view(self) -> Any:  # bptrace/display.py: the sheet's table and summary, as `bptrace check` prints it
        from bptrace.render.check_out import CheckView

        return CheckView([self])

    def _summary(self) -> str:
        who = self.student or self.file or "sheet"
        return f"{who!r}: {self.score:g}/{self.max_score:g} points, {len(self.results)} answers"


def unreadable(file: str, student: str, error: str, s: Scenario, max_points: float) -> SheetResult:
    """A sheet that cannot be read, as a row of the class: 0 points, its error as the feedback."""
    summary = Summary(0, 0, 0, 0.0, max_points, None, _("The sheet cannot be read: {error}").format(error=error), [])
    return SheetResult(None, s, [], summary, file=file, student=student, error=error, graded=True)


class Marker:
    """The one place marking calls into diagnose's Lab, with the memos a class needs.

    Every value a variant gives, every exact value, the derivation's order, the parsed names and the
    diagnosis of each (quantity, written text) are computed once per scenario and shared by every sheet
    of a `check` run: thirty students with the same misconception cost one diagnosis.
    """

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.scenario = lab.scenario
        self._values: dict[tuple[Quantity, Knobs], float | None] = {}
        self._variant_values: dict[Quantity, list[float | None]] = {}
        self._rounded: dict[int, list[Knobs]] = {}
        self._rounded_values: dict[tuple[Quantity, int], list[float | None]] = {}
        self._expected: dict[Quantity, float] = {}
        self._diagnoses: dict[tuple[str, str, float | None, float | None, bool, int], list[Variant]] = {}
        self._names: dict[str, Quantity] = {}
        self._index: dict[str, int] | None = None

    @property
    def trace(self) -> Any:
        return self.lab.trace

    def variants(self) -> list[Variant]:
        return self.lab.variants()

    def want_steps(self, steps: set[int]) -> None:
        self.lab.want_steps(steps)

    def prefetch(self, knobs: list[Knobs], n: int) -> None:
        self.lab.prefetch(knobs, n)

    def value(self, q: Quantity, k: Knobs) -> float | None:
        key = (q, k)
        if key not in self._values:
            self._values[key] = self.lab.value(q, k)
        return self._values[key]

    def variant_values(self, q: Quantity) -> list[float | None]:
        """q under every variant (one list per quantity for the class: each wrong answer is compared with it)."""
        if q not in self._variant_values:
            self._variant_values[q] = [self.value(q, v.knobs) for v in self.variants()]
        return self._variant_values[q]

    def rounded_variants(self, digits: int) -> list[Knobs]:
        if digits not in self._rounded:
            self._rounded[digits] = self.lab.rounded_variants(digits)
        return self._rounded[digits]

    def rounded_values(self, q: Quantity, digits: int) -> list[float | None]:
        key = (q, digits)
        if key not in self._rounded_values:
            self._rounded_values[key] = [self.value(q, k) for k in self.rounded_variants(digits)]
        return self._rounded_values[key]

    def expected(self, q: Quantity) -> float:
        if q not in self._expected:
            self._expected[q] = self.lab.expected(q)
        return self._expected[q]

    def order_index(self) -> dict[str, int]:
        from bptrace.grading.answers import order_index

        if self._index is None:
            self._index = order_index(self.scenario)
        return self._index

    def parse(self, name: str) -> Quantity:
        from bptrace.model.names import parse

        if name not in self._names:
            self._names[name] = parse(name, self.scenario)
        return self._names[name]

    def diagnose(
        self,
        q: Quantity,
        w: Written,
        rtol: float | None,
        atol: float | None,
        misconceptions: bool,
        min_digits: int = DEFAULT_MIN_DIGITS,
    ) -> list[Variant]:
        key = (q.name, w.text, rtol, atol, misconceptions, min_digits)
        if key not in self._diagnoses:
            self._diagnoses[key] = diagnose_answer(q, w, self, rtol, atol, misconceptions, min_digits)
        return self._diagnoses[key]


def marker_for(s: Scenario) -> Marker:
    """A fresh Marker (and Lab) for a scenario."""
    return Marker(Lab(s))


def marker(lab: Lab | Marker) -> Marker:
    """A Marker for a Lab (a class shares one; a single sheet gets its own)."""
    return lab if isinstance(lab, Marker) else Marker(lab)


def mark(sheet: Sheet, answers: list[Answer], lab: Lab | Marker, options: Options = Options()) -> SheetResult:
    """Mark every answer of a sheet against the lab's scenario, diagnose the wrong ones, and summarise."""
    lab = marker(lab)
    s = lab.scenario
    lab.want_steps({a.quantity.steps for a in answers if a.quantity.kind in STEP_KINDS and a.quantity.steps})
    index = lab.order_index()
    # in the derivation's order, so that each follow-through knows the verdicts of the answers before it
    ordered_answers = sorted(answers, key=lambda a: order_key(a.quantity, index))
    follow = _FollowThrough(lab, options) if options.follow_through is not None else None
    ordered = []
    for a in ordered_answers:
        r = _mark_one(a, lab, options, follow)
        if follow is not None:
            follow.record(r)
        ordered.append(r)
    ordered = _accept_conventions(ordered, lab, options)
    summary = _summarise(ordered, lab, options)
    return SheetResult(sheet, s, ordered, summary, graded=options.follow_through is not None)


class _FollowThrough:
    """The student's own world (followthrough.World) over the answers marked so far."""

    def __init__(self, lab: Marker, options: Options) -> None:
        from bptrace.grading.followthrough import World

        self.lab = lab
        self.options = options
        self.results: dict[str, Result] = {}
        self.given: dict[str, float] = {}
        self.world = World(lab.trace, self.given, self._faulty, parse=lab.parse)

    def _faulty(self, name: str) -> frozenset[str]:
        r = self.results.get(name)
        if r is None or r.correct:
            return frozenset()
        if r.status == "follow-through":
            return frozenset(r.rests_on)
        return frozenset([name])

    def record(self, r: Result) -> None:
        if r.answer.written is not None and r.status != "invalid" and r.answer.quantity.kind != "invalid":
            self.results[r.quantity] = r
            self.given[r.quantity] = r.answer.written.number

    def check(self, a: Answer, x: float, rtol: float | None) -> Result | None:
        """follow-through when the answer is the value recomputed from the student's not-correct inputs."""
        w = a.written
        assert w is not None and self.options.follow_through is not None
        if all(r.correct for r in self.results.values()):
            return None  # nothing wrong before it to carry forward
        again = self.world.recompute(a.quantity.name)
        if again is None or not again.rests_on or (w.digits < self.options.min_digits and w.value != 0):
            return None
        if not reproduces(w, again.value, rtol, a.tolerance):
            return None
        index = self.lab.order_index()
        rests = sorted(again.rests_on, key=lambda n: index.get(n, index.get(n.split(":")[0], len(index))))
        return Result(
            a,
            x,
            "follow-through",
            explanation=_("right, given your {names}").format(names=listing(rests)),
            earned=a.points * self.options.follow_through,
            rests_on=rests,
        )


def _mark_one(a: Answer, lab: Marker, options: Options, follow: _FollowThrough | None = None) -> Result:
    import math as _math

    q = a.quantity
    if a.invalid is not None:
        x = _math.nan if q.kind == "invalid" else lab.expected(q)
        return Result(a, x, "invalid", explanation=a.invalid)
    x = lab.expected(q)
    w = a.written
    if w is None:
        return Result(a, x, "unanswered", explanation=_("no answer"))
    rtol = a.rtol if a.rtol is not None else options.rtol
    verdict = judge(w, x, options.min_digits, rtol, a.tolerance)
    if verdict.ok:
        return Result(a, x, "correct", earned=a.points)
    if follow is not None and verdict.reason == "wrong":
        carried = follow.check(a, x, rtol)
        if carried is not None:
            return carried
    if verdict.reason == "few-digits":
        if agrees(w, x):
            said = ngettext(
                "{text} has {digits} significant digit (right as far as it goes); give at least {least}",
                "{text} has {digits} significant digits (right as far as it goes); give at least {least}",
                w.digits,
            )
        else:
            said = ngettext(
                "{text} has {digits} significant digit; give at least {least}",
                "{text} has {digits} significant digits; give at least {least}",
                w.digits,
            )
        return Result(
            a, x, "few-digits", explanation=said.format(text=w.text, digits=w.digits, least=options.min_digits)
        )
    if 0 < w.digits < options.min_digits:  # a wrong guess of one or two digits is not diagnosed
        said = ngettext(
            "{text} has {digits} significant digit: too few digits to diagnose (give at least {least})",
            "{text} has {digits} significant digits: too few digits to diagnose (give at least {least})",
            w.digits,
        )
        return Result(
            a, x, "few-digits", explanation=said.format(text=w.text, digits=w.digits, least=options.min_digits)
        )
    variants = lab.diagnose(q, w, rtol, a.tolerance, options.diagnose, options.min_digits)
    codes = _codes(variants)
    if not variants:
        why = (
            _("not a known misconception: no known mistake reproduces this value")
            if options.diagnose
            else _("wrong (diagnosis was off)")
        )
        return Result(a, x, "wrong", explanation=why)
    explanation = _said(_first_per_code(variants), q)
    # accepted only when every explanation is an accepted one (a δ with Mitchell's sign that a sign error
    # also explains is not accepted as the convention); a named misconception may earn the key's share
    ok = accepted(codes, options.accept)
    earned = a.points if ok else a.points * max((share for c, share in options.credit if c in codes), default=0.0)
    return Result(a, x, "correct" if ok else "wrong", codes, explanation, earned, variants)


def diagnose_answer(
    q: Quantity,
    w: Written,
    lab: Lab | Marker,
    rtol: float | None = None,
    atol: float | None = None,
    misconceptions: bool = True,
    min_digits: int = DEFAULT_MIN_DIGITS,
) -> list[Variant]:
    """The variants that reproduce the written value (diagnose.find, with this module's rule of agreement)."""

    u = 10.0**w.place if -300 < w.place < 300 else 0.0
    number, least = w.number, max(1.6 * u, atol or 0.0, ZERO)

    def matches(x: float | None) -> bool:
        # _near inlined (the float test of every variant's value for every wrong answer of a class)
        if x is None:
            return False
        scale = abs(x)
        near = u <= 1e-14 * scale or abs(number - x) <= max(least, (rtol or 0.0) * scale, 1e-12 * scale)
        return near and reproduces(w, x, rtol, atol)

    return find(q, marker(lab), matches, w.digits, misconceptions=misconceptions, min_digits=min_digits)


def _near(w: Written, x: float | None, rtol: float | None, atol: float | None) -> bool:
    """A quick float test that x may reproduce w (reproduces() decides): within 1.6 units of the last
    place written, or the tolerances (and anything where a unit is below float64's resolution)."""
    if x is None:
        return False
    u = 10.0**w.place if -300 < w.place < 300 else 0.0
    bound = max(1.6 * u, (rtol or 0.0) * abs(x), atol or 0.0, ZERO, 1e-12 * abs(x))
    return u <= 1e-14 * abs(x) or abs(w.number - x) <= bound


def _said(variants: list[Variant], q: Quantity) -> str:
    """'code: what differs; code: what differs' for the variants that explain an answer (codes and names keep
    ASCII punctuation around them in every language, docs/glossary.zh.md)."""
    return "; ".join(f"{v.code}: {describe(v, q)}" for v in variants)


def _one_text(sentences: list[str]) -> str:
    """Sentences one after the other, as the language writes them (English: a space between them)."""
    if not sentences:
        return ""
    text = sentences[0]
    for sentence in sentences[1:]:
        # TRANSLATORS: two sentences of a sheet's summary, one after the other (Chinese needs no space)
        text = _("{sentence} {next_sentence}").format(sentence=text, next_sentence=sentence)
    return text


def listing(names: list[str]) -> str:
    """Quantity names as a list in a sentence: 'net_h1, out_h1' (ASCII around names in every language)."""
    return ", ".join(names)


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
    if q.kind == "out" and q.base not in index:
        return (0, -1, sample)  # an input (out_i1): before everything computed from it
    pos = index.get(q.name, index.get(q.base, len(index)))
    return (0, pos, sample)


# ---------------------------------------------------------------------------------------------------
# The sheet as a whole


def _summarise(results: list[Result], lab: Marker, options: Options) -> Summary:
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
    sentences = _narrative(results, first, wrong, explanations, diagnosed=options.diagnose)
    if few:
        sentences.append(_("Too few significant digits: {names}.").format(names=_listed([r.quantity for r in few])))
    carried = [r for r in results if r.status == "follow-through"]
    if carried:
        sentences.append(
            _("Right given your own earlier answers (follow-through): {names}.").format(
                names=_listed([r.quantity for r in carried])
            )
        )
    invalid = [r for r in results if r.status == "invalid"]
    if invalid:
        sentences.append(_("Could not be read: {names}.").format(names=_listed([r.answer.key for r in invalid])))
    narrative = _one_text(sentences)
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


def _listed(names: list[str], most: int = 6) -> str:
    if len(names) > most:
        return _("{names} and {n} more").format(names=listing(names[:most]), n=len(names) - most)
    return listing(names)


def _explanations(wrong: list[Result], right: list[Result], lab: Marker) -> list[Explanation]:
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


def _spoils(v: Variant, r: Result, lab: Lab | Marker) -> bool:
    """Would the variant have got the right answer r wrong?"""
    q = r.answer.quantity
    w = r.answer.written
    if w is None or (q.kind in STEP_KINDS and steps_of(q) > CONTRADICTION_MAX_STEPS):
        return False
    value = lab.value(q, v.knobs)
    if value is None:
        value = lab.expected(q)  # the variant does not touch this quantity
    return not reproduces(w, value, r.answer.rtol, r.answer.tolerance)


def _accept_conventions(results: list[Result], lab: Lab | Marker, options: Options) -> list[Result]:
    """An answer an accepted code explains, but also others, is accepted once the sheet's right answers rule
    every other explanation out (Mitchell's δ with right gradients: not a sign error)."""
    right = [r for r in results if r.correct]
    out = []
    for r in results:
        if r.status == "wrong" and any(c in options.accept for c in r.codes):
            kept = [v for v in r.variants if v.code in options.accept or not any(_spoils(v, ok, lab) for ok in right)]
            codes = _codes(kept)
            if accepted(codes, options.accept):
                why = _said(_first_per_code(kept), r.answer.quantity)
                r = Result(r.answer, r.expected, "correct", codes, why, r.answer.points, kept)
        out.append(r)
    return out


def _narrative(
    results: list[Result],
    first: Result | None,
    wrong: list[Result],
    explanations: list[Explanation],
    diagnosed: bool = True,
) -> list[str]:
    """The summary's sentences: where the sheet first goes wrong and why, whether one misconception explains
    every wrong answer, early rounding, what is left unanswered."""
    rounded = [r.quantity for r in results if r.correct and "rounding" in r.codes]
    tail: list[str] = []
    if rounded:
        tail.append(
            ngettext(
                "{n} answer differs only by early rounding (accepted).",
                "{n} answers differ only by early rounding (accepted).",
                len(rounded),
            ).format(n=len(rounded))
        )
    unanswered = [r for r in results if r.status == "unanswered"]
    if unanswered:
        tail.append(_("{n} left unanswered.").format(n=len(unanswered)))
    if first is None:
        if not any(r.status != "unanswered" for r in results):
            return [_("No answers given."), *tail]
        return [_("Every answer given is right."), *tail]
    before = [r for r in results if r.correct and results.index(r) < results.index(first)]
    parts = [_lead(before[-1].quantity if before else None, first, diagnosed)]
    if first.status == "few-digits":
        return parts + tail
    best = explanations[0] if explanations else None
    if best and len(wrong) > 1 and len(best.explains) == len(wrong):
        if best.contradicts:
            said = _(
                "One misconception, {code} ({detail}), reproduces all {n} wrong answers "
                "(though it would also change {names})."
            )
        else:
            said = _("One misconception, {code} ({detail}), reproduces all {n} wrong answers.")
        names = listing(best.contradicts[:3])
        parts.append(said.format(code=best.code, detail=best.detail, n=len(wrong), names=names))
    elif len(wrong) > 1:
        # different mistakes (or none known): say which explains what, in the order of the derivation
        others = "; ".join(f"{r.quantity} ({_short(r)})" for r in wrong[1:7])  # w5+ (missing-half); ...
        if len(wrong) > 7:
            parts.append(_("Further wrong: {answers} and {n} more.").format(answers=others, n=len(wrong) - 7))
        else:
            parts.append(_("Further wrong: {answers}.").format(answers=others))
    return parts + tail


def _lead(right: str | None, first: Result, diagnosed: bool) -> str:
    """The sentence that says where the sheet first goes wrong (right: the right answer just before it)."""
    if first.status == "few-digits":
        if right:
            said = _("Your {right} is right; your {first} is the first wrong answer (too few significant digits).")
        else:
            said = _("Your {first}, the first answer in the derivation, is wrong (too few significant digits).")
    elif first.codes:
        if right:
            said = _("Your {right} is right; your {first} is the first wrong answer: {explanation}.")
        else:
            said = _("Your {first}, the first answer in the derivation, is wrong: {explanation}.")
    elif not diagnosed:  # it did not look (--no-diagnose): say so, not that nothing was found
        if right:
            said = _(
                "Your {right} is right; your {first} is the first wrong answer "
                "(diagnosis was off, so no misconception was looked for)."
            )
        else:
            said = _(
                "Your {first}, the first answer in the derivation, is wrong "
                "(diagnosis was off, so no misconception was looked for)."
            )
    elif right:
        said = _("Your {right} is right; your {first} is the first wrong answer: no known misconception reproduces it.")
    else:
        said = _("Your {first}, the first answer in the derivation, is wrong: no known misconception reproduces it.")
    return said.format(right=right, first=first.quantity, explanation=first.explanation)


def _short(r: Result) -> str:
    if r.status == "few-digits":
        return _("too few digits")
    return listing(r.codes) or _("not a known misconception")
