"""A sheet of named values marked against a trace: the one marking of the kinds with their own quantities
(graph/grading.py, rnn/grading.py, layers/grading.py).

A kind knows its quantities: how a sheet's key names one, its exact value, its value under each mistake of
its engine, and its sign slip. This module knows the rest, once: each answer judged by marking.py's digits
rule and the answer's own tolerances (`rtol:`, `tolerance:`), the verdict (exact | digits | tolerance |
few-digits | wrong | unanswered), a key given twice refused, a wrong answer's mistakes named (those whose value
explains it), the score, and the text of a blank sheet. The MLP's sheets are marked by marking.py.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation, localcontext
from typing import Generic, TypeVar

from bptrace.errors import UnknownNameError
from bptrace.grading.answers import RawAnswer, Sheet
from bptrace.grading.marking import DEFAULT_MIN_DIGITS, equals_exactly, judge, reproduces
from bptrace.grading.written import Written
from bptrace.i18n import N_, _

SIGN_SLIP = "sign-slip"  # the diagnosis code (the JSON's) of the right number with the wrong sign
SIGN_SLIP_WORDS = N_("the right number with the wrong sign (for an update: θ + η·∂E/∂θ)")  # parameters θ, loss E

Q = TypeVar("Q", bound=Hashable)  # a kind's quantity: a name (rnn, layers) or a GraphQuantity
S = TypeVar("S")  # a kind's scenario


@dataclass(frozen=True)
class NamedMark(Generic[Q]):
    """One answer marked: the quantity, what was written, the exact value, right or not, and why not."""

    key: str
    quantity: Q
    given: str | None
    expected: float | None
    correct: bool
    reason: str  # exact | digits | tolerance | few-digits | wrong | unanswered
    points: float
    diagnoses: tuple[str, ...]
    line: int | None


@dataclass(frozen=True)
class NamedSheetResult(Generic[S, Q]):
    """A marked sheet."""

    file: str
    student: str
    scenario: S
    marks: tuple[NamedMark[Q], ...]

    @property
    def score(self) -> float:
        return sum(m.points for m in self.marks if m.correct)

    @property
    def total(self) -> float:
        return sum(m.points for m in self.marks)

    @property
    def all_correct(self) -> bool:
        return all(m.correct for m in self.marks)


def sheet_text(title: str, scenario_ref: str, sections: Iterable[tuple[str, Iterable[str]]]) -> str:
    """A blank answer sheet: its head, then each section's title as a comment and its keys with empty values."""
    out = [
        "# " + _("Answer sheet for {title}").format(title=title),
        "# " + _("Fill in each value and mark it with: {command}").format(command="bptrace check THIS_FILE"),
        f"scenario: {scenario_ref}",
        "student:",
        "answers:",
    ]
    for heading, keys in sections:
        out.append("  # " + heading)
        out += [f"  {key}:" for key in keys]
    return "\n".join(out) + "\n"


def rounds_to(w: Written, x: float) -> bool:
    """x rounded to the last place w writes is exactly w (no one-unit slack)."""
    try:
        with localcontext() as ctx:
            ctx.prec = 1100
            return Decimal(x).quantize(Decimal(1).scaleb(w.place), rounding=ROUND_HALF_EVEN) == w.value
    except InvalidOperation:
        return False


def explains(raw: RawAnswer, value: float, short_rounds: bool = True) -> bool:
    """Does a mistaken walk's value explain the answer? By the marking's rule (one unit in the last place, the
    answer's tolerances) when the answer has DEFAULT_MIN_DIGITS digits or more; a shorter one only when it is
    the value exactly, or (short_rounds) the value rounded to its last place."""
    w = raw.written
    if w is None:
        return False
    if (short_rounds and rounds_to(w, value)) or equals_exactly(w, value):
        return True
    return w.digits >= DEFAULT_MIN_DIGITS and reproduces(w, value, raw.rtol, raw.tolerance)


def mark_named(
    sheet: Sheet,
    scenario: S,
    *,
    parse: Callable[[str], Q],
    exact: Callable[[Q], float | None],
    mistakes: Iterable[str],
    mistaken: Callable[[str], Callable[[Q], float | None]],
    sign_slip: Callable[[Q], float | None],
    min_digits: int = DEFAULT_MIN_DIGITS,
    diagnose: bool = True,
    short_rounds: bool = True,
) -> NamedSheetResult[S, Q]:
    """Mark every answer of the sheet; a wrong one gets the mistakes that reproduce it.

    parse: a key -> the quantity (UnknownNameError for a name the kind does not have, shown at the key's line);
    exact: a quantity's right value (None: not a number of this trace, marked unanswered);
    mistakes, mistaken: the engine's mistake codes, and a code -> that mistake's values (asked once per code,
    when a wrong answer first needs it); sign_slip: the quantity's value with the sign slipped (None: none);
    short_rounds: an answer with fewer than min_digits digits is 'right as far as it goes' (few-digits) only
    when the value rounds to it exactly, else wrong (graphs' numbers are often short and exact: 4 for 3 is not
    "3 to one digit"), and explains a mistake's value likewise."""
    variants: dict[str, Callable[[Q], float | None]] = {}
    marks: list[NamedMark[Q]] = []
    seen: dict[Q, RawAnswer] = {}
    for raw in sheet.raw:
        try:
            q = parse(raw.key)
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
        expected = exact(q)
        if raw.written is None or expected is None:
            marks.append(NamedMark(raw.key, q, None, expected, False, "unanswered", raw.points, (), raw.line))
            continue
        j = judge(raw.written, expected, min_digits, raw.rtol, raw.tolerance)
        reason = j.reason
        if short_rounds and reason == "few-digits" and not rounds_to(raw.written, expected):
            reason = "wrong"
        found: list[str] = []
        if not j.ok and diagnose:
            for code in mistakes:
                if code not in variants:
                    variants[code] = mistaken(code)
                value = variants[code](q)
                if value is not None and value != expected and explains(raw, value, short_rounds):
                    found.append(code)
            slip = sign_slip(q)
            if slip is not None and slip != expected and explains(raw, slip, short_rounds):
                found.append(SIGN_SLIP)
        marks.append(
            NamedMark(raw.key, q, raw.written.text, expected, j.ok, reason, raw.points, tuple(found), raw.line)
        )
    return NamedSheetResult(sheet.file, sheet.student, scenario, tuple(marks))
