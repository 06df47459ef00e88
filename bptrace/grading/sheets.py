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
    """One sheet marked with the teacher's key (a class shares one `marker`: each diagnosis is made once)."""
    sheet = answers.read(path, graded=True)
    return mark(sheet, answers.bind_to_key(sheet, key), marker or marker_for(key.scenario), key_options(key))


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
