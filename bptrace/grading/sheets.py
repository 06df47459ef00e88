"""Marking sheets given as files: the one path from a sheet (and a key or a scenario) to a SheetResult.

`bptrace check` and the API's `bptrace.check()` both come here, so that a sheet is marked the same way
from the command line and from Python: with a teacher's key, the key's rules decide (never the sheet's
own points or tolerances); without one, the student's self-check rules (docs/answer-sheets.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from bptrace.grading import answers
from bptrace.grading.marking import DEFAULT_MIN_DIGITS, Marker, Options, SheetResult, mark, marker_for

if TYPE_CHECKING:
    from bptrace.grading.key import Key
    from bptrace.grading.roster import Student


def key_options(key: Key) -> Options:
    """The marking options a teacher's key sets (its rules, and the rounding every mark accepts)."""
    rules = key.rules
    return Options(
        min_digits=rules.min_digits,
        rtol=rules.rtol,
        accept=rules.accept | {"rounding"},
        diagnose=rules.diagnose,
        follow_through=rules.follow_through,
        credit=tuple(rules.misconceptions.items()),
    )


def self_check_options(
    min_digits: int = DEFAULT_MIN_DIGITS, rtol: float | None = None, accept: Iterable[str] = (), diagnose: bool = True
) -> Options:
    """The options of a student's own check (`bptrace check SHEET` without --key)."""
    return Options(min_digits=min_digits, rtol=rtol, accept=frozenset(accept) | {"rounding"}, diagnose=diagnose)


def mark_with_key(path: str | Path, key: Key, marker: Marker | None = None) -> SheetResult:
    """One sheet marked with the teacher's key (a class shares the key's markers: each diagnosis is made
    once per exercise). With a per-student key, against the exercise of the id on the sheet."""
    sheet = answers.read(path, graded=True)
    return mark_sheet(sheet, key, marker)


def mark_sheet(sheet: answers.Sheet, key: Key, marker: Marker | None = None) -> SheetResult:
    """A read sheet marked with the key (per-student: the exercise of its id; AnswerSheetError when the
    sheet has no id or one that is not on the roster)."""
    student = student_of(sheet, key)
    if student is not None:
        marker = key.marker(student.id)
    result = mark(sheet, answers.bind_to_key(sheet, key), marker or key.marker(), key_options(key))
    if student is not None:
        result.student_id = student.id
        if sheet.student != sheet.path.stem and _name(sheet.student) != _name(student.name):
            from bptrace.i18n import _

            said = _("student: {given} is not the roster's name for {id}, {name} (the roster's is used)").format(
                given=repr(sheet.student), id=student.id, name=student.name
            )
            result.warnings.append(f"{sheet.file}: {said}")
        result.student = student.name
    return result


def _name(name: str) -> str:
    return " ".join(name.casefold().split())


def student_of(sheet: answers.Sheet, key: Key) -> Student | None:
    """The roster's student a sheet's id: names (None for a key of one exercise)."""
    from bptrace.errors import AnswerSheetError
    from bptrace.i18n import _
    from bptrace.model import source

    roster = key.roster
    if roster is None:
        return None
    if sheet.student_id is None:
        raise AnswerSheetError(
            _("the sheet has no id: each student has their own exercise, found by the id on the sheet"),
            file=sheet.file,
            line=1,
            hint=_("add id: YOUR_ID (as on the roster {roster})").format(roster=roster.file),
        )
    student = roster.find(sheet.student_id)
    if student is None:
        line, column = sheet.doc.where(("id",))
        raise AnswerSheetError(
            _("the id {id} is not on the roster {roster}").format(
                id=source.brief(sheet.student_id), roster=roster.file
            ),
            file=sheet.file,
            line=line,
            column=column,
            hint=roster.suggest(sheet.student_id) or _("check the id, or add the student to the roster"),
        )
    return student


def self_check(
    path: str | Path,
    scenario: str | None = None,
    options: Options | None = None,
    markers: dict[str, Marker] | None = None,
) -> SheetResult:
    """One sheet checked by its student: against its own scenario (or `scenario`), with its own points."""
    sheet = answers.read(path)
    s, name = answers.resolve_scenario(sheet, scenario)
    cache = {} if markers is None else markers
    marker = cache.get(name) or cache.setdefault(name, marker_for(s))
    return mark(sheet, answers.bind(sheet, marker.scenario), marker, options or self_check_options())
