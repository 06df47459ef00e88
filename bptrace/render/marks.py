"""A marked sheet of a kind with its own quantities (graph, rnn, layers) as blocks: one table, one line; and
as JSON-ready data.

Each kind marks its sheets through grading/named.py into marks of one shape: key, given (the text written, or
None), expected, correct, reason ('unanswered', 'few-digits' or another), diagnoses (codes). This is the one
table they are shown in, and the one shape of their JSON (docs/json.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bptrace.fmt import num
from bptrace.i18n import _
from bptrace.render.blocks import Block, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.grading.named import NamedSheetResult


class Mark(Protocol):
    """What each kind's marks have (read only)."""

    @property
    def key(self) -> str: ...
    @property
    def given(self) -> str | None: ...
    @property
    def expected(self) -> float | None: ...
    @property
    def correct(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def diagnoses(self) -> Sequence[str]: ...


def semicolons(parts: list[str]) -> str:
    """Clauses joined as a sentence joins them: "a; b; c" (in Chinese with its own semicolon)."""
    out = parts[0] if parts else ""
    for part in parts[1:]:
        out = _("{first}; {second}").format(first=out, second=part)
    return out


def marks_blocks(
    title: str,
    marks: Sequence[Mark],
    score: float,
    total: float,
    all_correct: bool,
    diagnoses: Mapping[str, str],
    digits: int,
    ascii: bool = False,
    hide_expected: bool = False,
) -> list[Block]:
    """quantity | given | expected | ✓/✗ | the misconception that reproduces it; then the count and points.

    diagnoses: each code's sentence (English, marked with N_; said here in the reader's language)."""
    ok, bad = ("ok", "X") if ascii else ("✓", "✗")
    columns = [Column(_("quantity"), "name"), Column(_("given"), "num")]
    columns += [] if hide_expected else [Column(_("expected"), "num")]
    columns += [Column("", "text"), Column(_("diagnosis"), "text")]
    grid = Grid(title, columns)
    for m in marks:
        row = [m.key, m.given if m.given is not None else "—"]
        if not hide_expected:
            row.append("—" if m.expected is None else num(m.expected, digits))
        if m.correct:
            row += [ok, ""]
        elif m.reason == "unanswered":
            row += [bad, _("unanswered")]
        elif m.reason == "few-digits":
            row += [bad, _("right as far as it goes, but too few significant digits")]
        else:
            words = semicolons([_(diagnoses[c]) for c in m.diagnoses])
            row += [bad, words or _("no known misconception gives this number")]
        grid.rows.append(row)
        grid.styles.append("" if m.correct else "bad")
    right = sum(1 for m in marks if m.correct)
    return [
        grid,
        Para(
            _("{right} of {count} correct; {score} of {total} points.").format(
                right=right, count=len(marks), score=f"{score:g}", total=f"{total:g}"
            ),
            "good" if all_correct else "bad",
        ),
    ]


def sheet_data(
    kind: str, r: NamedSheetResult[Any, Any], hide_expected: bool = False, quantity: Callable[[Any], str] = str
) -> dict[str, Any]:
    """A marked sheet as JSON-ready data (`quantity`: a mark's quantity as its name)."""
    return {
        "kind": kind,
        "file": r.file,
        "student": r.student,
        "scenario": r.scenario.title,
        "score": r.score,
        "total": r.total,
        "all_correct": r.all_correct,
        "answers": [
            {
                "key": m.key,
                "quantity": quantity(m.quantity),
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
