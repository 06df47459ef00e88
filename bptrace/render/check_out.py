"""Marked answer sheets -> a rich table, JSON, Gradescope's results.json, or a CSV grade report.

Displays only: the marks, diagnoses and summaries are computed by check.py.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.table import Table
from rich.text import Text

from bptrace.fmt import DEFAULT_DIGITS, num, to_ascii
from bptrace.grading.marking import to_data

if TYPE_CHECKING:
    from bptrace.grading.classview import ClassView
    from bptrace.grading.key import Key
    from bptrace.grading.marking import Result, SheetResult

MARKS = {
    "correct": ("✓", "green"),
    "wrong": ("✗", "red"),
    "few-digits": ("✗", "red"),
    "unanswered": ("–", "yellow"),
    "follow-through": ("↪", "cyan"),
    "invalid": ("!", "magenta"),
}
SELF_CHECK = (
    "Self-check: marked with the sheet's own points and tolerances, not a grade (a teacher marks with --key KEY)."
)


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
        if len(self.results) > 1 and not any(r.graded for r in self.results):
            perfect = sum(r.summary.all_correct for r in self.results)
            parts += [
                Text(""),
                Text(self.t(f"{len(self.results)} sheets: {perfect} with every answer right"), style="bold"),
            ]
        yield Group(*parts)

    def sheet(self, result: SheetResult) -> list[Any]:
        title = f"{result.student} — {result.file} — {result.scenario.title}"
        if result.error is not None:
            score = f"Score: 0/{_points(result.max_score)} points: the sheet cannot be read"
            return [Text(self.t(title), style="bold"), Text(self.t(score), style="bold"), Text(self.t(result.error))]
        table = Table(
            title=Text(self.t(title), style="bold"),
            title_justify="left",
            box=box.ASCII if self.ascii else box.SIMPLE_HEAVY,
            pad_edge=False,
        )
        table.add_column("quantity", no_wrap=True, style="cyan")
        table.add_column("given", justify="right", no_wrap=True)
        if not self.hide_expected:
            table.add_column("expected", justify="right", no_wrap=True)
        table.add_column(self.t("✓/✗"), justify="center", no_wrap=True)
        if result.graded:
            table.add_column("points", justify="right", no_wrap=True)
        table.add_column("diagnosis", overflow="fold")
        for r in result.results:
            table.add_row(*self.row(r, result.graded))
        s = result.summary
        score = f"Score: {s.correct}/{s.total} correct, {_points(s.points)}/{_points(s.max_points)} points"
        lines = [table, Text(self.t(score), style="bold"), Text(self.t(s.narrative))]
        lines += [Text(self.t(f"warning: {w}"), style="yellow") for w in result.warnings]
        if not result.graded:
            lines.append(Text(self.t(SELF_CHECK), style="dim"))
        return lines

    def row(self, r: Result, graded: bool = False) -> list[Text]:
        mark, style = MARKS[r.status]
        given = r.given if r.given is not None else "—"
        cells = [Text(r.quantity if r.answer.quantity.kind != "invalid" else r.answer.key), Text(self.t(given))]
        if not self.hide_expected:
            cells.append(Text(num(r.expected, self.digits) if math.isfinite(r.expected) else "—"))
        cells.append(Text(self.t(mark), style=style))
        if graded:
            cells.append(Text(f"{_points(r.earned)}/{_points(r.answer.points)}"))
        diagnosis = r.explanation if (not r.correct or r.codes) else ""
        cells.append(Text(self.t(diagnosis)))
        return cells


class ClassReport:
    """Sheets marked with a key: each sheet's table (unless summary), then the class view."""

    def __init__(
        self,
        results: list[SheetResult],
        view: ClassView,
        digits: int = DEFAULT_DIGITS,
        hide_expected: bool = False,
        summary: bool = False,
        ascii: bool = False,
    ) -> None:
        self.results = results
        self.view = view
        self.digits = digits
        self.hide_expected = hide_expected
        self.summary = summary
        self.ascii = ascii

    def t(self, text: str) -> str:
        return _ascii(text) if self.ascii else text

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        parts: list[Any] = []
        if not self.summary:
            sheets = CheckView(self.results, self.digits, self.hide_expected, self.ascii)
            for result in self.results:
                parts += sheets.sheet(result) + [Text("")]
        parts += self.class_parts()
        yield Group(*parts)

    def _table(self, title: str) -> Table:
        return Table(
            title=Text(self.t(title), style="bold"),
            title_justify="left",
            box=box.ASCII if self.ascii else box.SIMPLE_HEAVY,
            pad_edge=False,
        )

    def class_parts(self) -> list[Any]:
        v = self.view
        n = len(v.students)
        head = f"Class: {n} sheet{'s' if n != 1 else ''}, mean {v.mean_percent:.1f}% of {_points(v.max_score)} points"
        students = self._table(head)
        for name, justify in (
            ("student", "left"),
            ("sheet", "left"),
            ("points", "right"),
            ("%", "right"),
            ("not right", "right"),
            ("unanswered", "right"),
            ("first not right", "left"),
        ):
            students.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for s in v.students:
            students.add_row(
                Text(self.t(s.student)),
                Text(self.t(s.file)),
                Text(f"{_points(s.score)}/{_points(s.max_score)}"),
                Text(f"{s.percent:.0f}"),
                Text(str(s.wrong)),
                Text(str(s.unanswered)),
                Text(self.t(s.first_wrong or ("cannot be read" if s.error else "—"))),
            )
        questions = self._table("Questions")
        for name in ("quantity", "points", "% correct", "correct", "follow-through", "not right", "unanswered"):
            questions.add_column(name, justify="left" if name == "quantity" else "right", no_wrap=True)
        for q in v.questions:
            questions.add_row(
                Text(q.quantity, style="cyan"),
                Text(_points(q.points)),
                Text(f"{q.percent_correct:.0f}"),
                Text(str(q.correct)),
                Text(str(q.follow_through)),
                Text(str(q.wrong)),
                Text(str(q.unanswered)),
            )
        parts: list[Any] = [students, questions]
        if v.misconceptions:
            table = self._table("Misconceptions across the class")
            table.add_column("code", no_wrap=True)
            table.add_column("students", justify="right")
            table.add_column("answers", justify="right")
            table.add_column("who", overflow="fold")
            for m in v.misconceptions:
                table.add_row(m.code, str(m.count), str(m.answers), Text(self.t(", ".join(m.students))))
            parts.append(table)
        else:
            parts.append(Text("No known misconception found in the class."))
        parts += [Text(""), Text("Score distribution", style="bold")]
        most = max((c for _, c in v.histogram), default=0) or 1
        bar = "#" if self.ascii else "█"
        for label, count in reversed(v.histogram):
            parts.append(Text(self.t(f"  {label:>8}  {bar * round(30 * count / most):<30} {count}")))
        if v.flags:
            parts += [Text(""), Text("For a human to look at", style="bold")]
            parts += [Text(self.t(f"  {f.kind}: {f.detail}: {', '.join(f.files)}"), style="yellow") for f in v.flags]
        return parts


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
            "summary": {
                "sheets": len(results),
                "all_correct": all(r.summary.all_correct for r in results),
                "self_check": True,
            },
        }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def gradescope_text(result: SheetResult, hide_expected: bool = False, digits: int = DEFAULT_DIGITS) -> str:
    """Gradescope's autograder results.json: one test per quantity, scored with its points (a sheet that
    cannot be read: score 0 and its error, so Gradescope shows the student why)."""
    tests = []
    for r in result.results:
        lines = [f"given: {r.given if r.given is not None else 'no answer'}"]
        if not hide_expected and math.isfinite(r.expected):
            lines.append(f"expected: {num(r.expected, digits)}")
        lines.append(r.verdict if r.status != "few-digits" else "too few digits")
        if r.explanation and (not r.correct or r.codes):
            lines.append(("" if r.status == "follow-through" else "diagnosis: ") + r.explanation)
        tests.append(
            {
                "name": r.quantity if r.answer.quantity.kind != "invalid" else r.answer.key,
                "score": r.earned,
                "max_score": r.answer.points,
                "status": "passed" if r.earned >= r.answer.points and r.status != "invalid" else "failed",
                "output": "\n".join(lines),
                "visibility": "visible",
            }
        )
    s = result.summary
    output = s.narrative if result.error is None else f"This submission cannot be read: {result.error}"
    if result.warnings:
        output += "\n" + "\n".join(f"warning: {w}" for w in result.warnings)
    data = {
        "score": s.points,
        "max_score": s.max_points,
        "output": output,
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
    "verdict",
    "rests_on",
]
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 (Chinese names and all) only after this mark


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet will not execute: text starting with =, +, -, @ (or a tab or CR) gets a
    leading ' unless it is a plain number (-0.019 stays a number)."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r") and _NUMBER.fullmatch(text) is None:
        return "'" + text
    return text


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _csv(rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return BOM + buffer.getvalue()


def csv_text(results: list[SheetResult], hide_expected: bool = False) -> str:
    """The long report: one row per student and quantity (a sheet that cannot be read: one row, its error)."""
    rows: list[list[object]] = [list(CSV_COLUMNS)]
    for result in results:
        if result.error is not None:
            rows.append(
                [
                    result.student,
                    result.file,
                    "",
                    "",
                    "",
                    "no",
                    "unreadable",
                    0,
                    _points(result.max_score),
                    "",
                    result.error,
                    "invalid",
                    "",
                ]
            )
        for r in result.results:
            rows.append(
                [
                    result.student,
                    result.file,
                    r.quantity if r.answer.quantity.kind != "invalid" else r.answer.key,
                    r.given or "",
                    "" if hide_expected or not math.isfinite(r.expected) else repr(r.expected),
                    "yes" if r.correct else "no",
                    r.status,
                    _points(r.earned),
                    _points(r.answer.points),
                    " ".join(r.codes),
                    r.explanation,
                    r.verdict,
                    " ".join(r.rests_on),
                ]
            )
    return _csv(rows)


def grades_csv_text(results: list[SheetResult], key: Key) -> str:
    """The grade report: one row per student, a column per question of the key (points earned), totals."""
    names = [q.quantity.name for q in key.questions]
    rows: list[list[object]] = [["student", "sheet", *names, "total", "max", "percent", "error"]]
    for result in results:
        earned = {r.quantity: r.earned for r in result.results}
        pct = 100.0 * result.score / result.max_score if result.max_score else 0.0
        rows.append(
            [
                result.student,
                result.file,
                *(_points(earned.get(n, 0.0)) for n in names),
                _points(result.score),
                _points(result.max_score),
                f"{pct:.1f}",
                result.error or "",
            ]
        )
    return _csv(rows)


def class_json_text(results: list[SheetResult], view: ClassView, hide_expected: bool = False) -> str:
    """The whole class as data (docs/answer-sheets.md, "JSON with a key")."""
    data = {
        "students": [
            {
                "student": r.student,
                "file": r.file,
                "score": r.score,
                "max_score": r.max_score,
                "error": r.error,
                "warnings": list(r.warnings),
                "narrative": r.summary.narrative,
                "answers": [
                    {
                        "quantity": a.quantity if a.answer.quantity.kind != "invalid" else a.answer.key,
                        "given": a.given,
                        "expected": None if hide_expected or not math.isfinite(a.expected) else a.expected,
                        "verdict": a.verdict,
                        "points": a.earned,
                        "max_points": a.answer.points,
                        "codes": [c for c in a.codes],
                        "rests_on": list(a.rests_on),
                        "explanation": a.explanation,
                    }
                    for a in r.results
                ],
            }
            for r in results
        ],
        "summary": {
            "students": len(view.students),
            "max_score": view.max_score,
            "mean_percent": view.mean_percent,
            "questions": [
                {
                    "quantity": q.quantity,
                    "percent_correct": q.percent_correct,
                    "correct": q.correct,
                    "follow_through": q.follow_through,
                    "not_right": q.wrong,
                    "unanswered": q.unanswered,
                }
                for q in view.questions
            ],
            "misconceptions": [
                {"code": m.code, "count": m.count, "students": m.students, "answers": m.answers}
                for m in view.misconceptions
            ],
            "histogram": [{"range": label, "students": count} for label, count in view.histogram],
            "flags": [{"kind": f.kind, "detail": f.detail, "files": f.files} for f in view.flags],
        },
    }
    # one student per line: readable, and json's C encoder (no indent) for a class of hundreds
    students = ",\n".join("    " + json.dumps(st, ensure_ascii=False) for st in data["students"])
    summary = json.dumps(data["summary"], ensure_ascii=False)
    return f'{{\n  "students": [\n{students}\n  ],\n  "summary": {summary}\n}}\n'
