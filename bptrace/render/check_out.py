"""Marked answer sheets -> a rich table, JSON, Gradescope's results.json, or a CSV grade report.

Displays only: the marks, diagnoses and summaries are computed by check.py.
"""

from __future__ import annotations

import csv
import io
import json
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.text import Text

from bptrace.fmt import DEFAULT_DIGITS, csv_cell, num, to_ascii
from bptrace.grading.marking import to_data

if TYPE_CHECKING:
    from bptrace.grading.marking import Result, SheetResult

MARKS = {"correct": ("✓", "green"), "wrong": ("✗", "red"), "few-digits": ("✗", "red"), "unanswered": ("–", "yellow")}


class CheckView:
    """A rich renderable of one or more marked sheets: a table each, then the summary."""

    def __init__(
        self, results: list[SheetResult], digits: int = DEFAULT_DIGITS, hide_expected: bool = False, ascii: bool = False
    ) -> None:
        self.results = results
        self.digits = digits
        self.hide_expected = hide_expected
        self.ascii = ascii

    def t(self, text: str) -> str:
        return _ascii(text) if self.ascii else text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        parts: list[Any] = []
        for i, result in enumerate(self.results):
            if i:
                parts.append(Text(""))
            parts += self.sheet(result)
        if len(self.results) > 1:
            perfect = sum(r.summary.all_correct for r in self.results)
            parts += [
                Text(""),
                Text(self.t(f"{len(self.results)} sheets: {perfect} with every answer right"), style="bold"),
            ]
        yield Group(*parts)

    def sheet(self, result: SheetResult) -> list[Any]:
        from bptrace.render.layout import Column, Grid
        from bptrace.render.terminal import GridView

        title = f"{result.student} — {result.sheet.file} — {result.scenario.title}"
        marks = {mark: style for mark, style in MARKS.values()}
        columns = [Column("quantity", "name"), Column("given", "num")]
        if not self.hide_expected:
            columns.append(Column("expected", "num"))
        columns += [Column("✓/✗", "text", marks), Column("diagnosis", "text")]
        grid = Grid(title, columns)
        for r in result.results:
            grid.rows.append(self.row(r))
        s = result.summary
        score = f"Score: {s.correct}/{s.total} correct, {_points(s.points)}/{_points(s.max_points)} points"
        return [GridView(grid, self.ascii), Text(self.t(score), style="bold"), Text(self.t(s.narrative))]

    def row(self, r: Result) -> list[str]:
        mark, _ = MARKS[r.status]
        given = r.answer.written.text if r.answer.written else "—"
        cells = [r.quantity, given]
        if not self.hide_expected:
            cells.append(num(r.expected, self.digits))
        diagnosis = r.explanation if (not r.correct or r.codes) else ""
        return cells + [mark, diagnosis]


def _ascii(text: str) -> str:
    """fmt.to_ascii (δ_o1 -> delta_o1, ↔ -> <->, ...), pure ASCII."""
    return to_ascii(text)


def _points(x: float) -> str:
    return f"{x:g}"


def json_text(results: list[SheetResult], hide_expected: bool = False) -> str:
    """One sheet: {"results": [...], "summary": {...}}; several: {"sheets": [...], "summary": {...}}."""
    if len(results) == 1:
        data: dict[str, Any] = to_data(results[0], hide_expected)
    else:
        data = {
            "sheets": [to_data(r, hide_expected) for r in results],
            "summary": {"sheets": len(results), "all_correct": all(r.summary.all_correct for r in results)},
        }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def gradescope_text(result: SheetResult, hide_expected: bool = False, digits: int = DEFAULT_DIGITS) -> str:
    """Gradescope's autograder results.json: one test per quantity, scored with its points."""
    tests = []
    for r in result.results:
        given = r.answer.written.text if r.answer.written else "no answer"
        lines = [f"given: {given}"]
        if not hide_expected:
            lines.append(f"expected: {num(r.expected, digits)}")
        lines.append("correct" if r.correct else "wrong")
        if r.explanation and (not r.correct or r.codes):
            lines.append(f"diagnosis: {r.explanation}")
        tests.append(
            {
                "name": r.quantity,
                "score": r.earned,
                "max_score": r.answer.points,
                "status": "passed" if r.correct else "failed",
                "output": "\n".join(lines),
                "visibility": "visible",
            }
        )
    s = result.summary
    data = {
        "score": s.points,
        "max_score": s.max_points,
        "output": s.narrative,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


CSV_COLUMNS = [
    "student",
    "sheet",
    "quantity",
    "given",
    "expected",
    "correct",
    "status",
    "points",
    "max_points",
    "diagnosis",
    "explanation",
]


def csv_text(results: list[SheetResult], hide_expected: bool = False) -> str:
    """A grade report: one row per student and quantity."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in results:
        for r in result.results:
            writer.writerow(  # every cell through fmt.csv_cell: a name such as =HYPERLINK(...) stays text
                csv_cell(cell)
                for cell in [
                    result.student,
                    result.sheet.file,
                    r.quantity,
                    r.answer.written.text if r.answer.written else "",
                    "" if hide_expected else repr(r.expected),
                    "yes" if r.correct else "no",
                    r.status,
                    _points(r.earned),
                    _points(r.answer.points),
                    " ".join(r.codes),
                    r.explanation,
                ]
            )
    return buffer.getvalue()
