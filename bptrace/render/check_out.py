"""Marked answer sheets -> blocks (render/blocks.py: the terminal, Markdown, LaTeX, HTML), JSON, Gradescope's
results.json, or a CSV grade report.

Displays only: the marks, diagnoses and summaries are computed by grading/.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from bptrace.fmt import DEFAULT_DIGITS, num
from bptrace.fmt import csv_text as csv_text_rows
from bptrace.i18n import N_, _, ngettext
from bptrace.render.blocks import Block, Column, Grid, Para
from bptrace.render.terminal import BlocksView

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
SELF_CHECK = N_(
    "Self-check: marked with the sheet's own points and tolerances, not a grade (a teacher marks with --key KEY)."
)  # said as _(SELF_CHECK)


def sheet_blocks(result: SheetResult, digits: int = DEFAULT_DIGITS, hide_expected: bool = False) -> list[Block]:
    """One marked sheet as blocks: its table (titled student — file — scenario), the score, the narrative,
    the warnings and, for a self-check, the note that it is not a grade."""
    title = f"{result.student} — {result.file} — {result.scenario.display_title()}"
    if result.error is not None:
        score = _("Score: 0/{max} points: the sheet cannot be read").format(max=_points(result.max_score))
        return [Para(title, "bold"), Para(score, "bold"), Para(result.error)]
    marks = {mark: style for mark, style in MARKS.values()}
    columns = [Column(_("quantity"), "name"), Column(_("given"), "num")]
    if not hide_expected:
        columns.append(Column(_("expected"), "num"))
    columns.append(Column("✓/✗", "text", marks, prose=True))
    if result.graded:
        columns.append(Column(_("points"), "num"))
    columns.append(Column(_("diagnosis"), "text", prose=True))
    grid = Grid(title, columns)
    for r in result.results:
        grid.rows.append(_row(r, digits, hide_expected, result.graded))
    s = result.summary
    score = _("Score: {correct}/{total} correct, {points}/{max} points").format(
        correct=s.correct, total=s.total, points=_points(s.points), max=_points(s.max_points)
    )
    out: list[Block] = [grid, Para(score, "bold"), Para(s.narrative)]
    out += [Para(_("warning: {warning}").format(warning=w), "warn") for w in result.warnings]
    if not result.graded:
        out.append(Para(_(SELF_CHECK), "dim"))
    return out


def _row(r: Result, digits: int, hide_expected: bool, graded: bool) -> list[str]:
    mark, _style = MARKS[r.status]
    given = r.given if r.given is not None else "—"
    cells = [r.quantity if r.answer.quantity.kind != "invalid" else r.answer.key, given]
    if not hide_expected:
        cells.append(num(r.expected, digits) if math.isfinite(r.expected) else "—")
    cells.append(mark)
    if graded:
        cells.append(f"{_points(r.earned)}/{_points(r.answer.points)}")
    diagnosis = r.explanation if (not r.correct or r.codes) else ""
    return cells + [diagnosis]


def check_blocks(results: list[SheetResult], digits: int = DEFAULT_DIGITS, hide_expected: bool = False) -> list[Block]:
    """Sheets marked without a key (a self-check): each sheet's blocks, then, for several, how many are right."""
    out: list[Block] = []
    for i, result in enumerate(results):
        if i:
            out.append(Para(""))
        out += sheet_blocks(result, digits, hide_expected)
    if len(results) > 1 and not any(r.graded for r in results):
        perfect = sum(r.summary.all_correct for r in results)
        out += [
            Para(""),
            Para(_("{n} sheets: {perfect} with every answer right").format(n=len(results), perfect=perfect), "bold"),
        ]
    return out


def class_report_blocks(
    results: list[SheetResult],
    view: ClassView,
    digits: int = DEFAULT_DIGITS,
    hide_expected: bool = False,
    summary: bool = False,
) -> list[Block]:
    """Sheets marked with a key: each sheet's blocks (unless summary), then the class view."""
    out: list[Block] = []
    if not summary:
        for result in results:
            out += sheet_blocks(result, digits, hide_expected) + [Para("")]
    return out + class_blocks(view)


def class_blocks(v: ClassView) -> list[Block]:
    """The class view: the students, the questions, the misconceptions, the score distribution, the flags."""
    n = len(v.students)
    head = ngettext(
        "Class: {n} sheet, mean {mean}% of {max} points", "Class: {n} sheets, mean {mean}% of {max} points", n
    ).format(n=n, mean=f"{v.mean_percent:.1f}", max=_points(v.max_score))
    ids = any(st.id for st in v.students)  # a per-student key: each sheet's roster id
    students = Grid(
        head,
        [
            Column(_("student"), "name"),
            *([Column(_("id"), "name")] if ids else []),
            Column(_("sheet"), "text", prose=True),
            Column(_("points"), "num"),
            Column("%", "num"),
            Column(_("not right"), "num"),
            Column(_("unanswered"), "num"),
            Column(_("first not right"), "text", prose=True),
        ],
    )
    for st in v.students:
        students.rows.append(
            [
                st.student,
                *([st.id or "—"] if ids else []),
                st.file,
                f"{_points(st.score)}/{_points(st.max_score)}",
                f"{st.percent:.0f}",
                str(st.wrong),
                str(st.unanswered),
                st.first_wrong or (_("cannot be read") if st.error else "—"),
            ]
        )
    questions = Grid(
        _("Questions"),
        [Column(_("quantity"), "name")]
        + [
            Column(_(h), "num")
            for h in (
                N_("points"),
                N_("% correct"),
                N_("correct"),
                N_("follow-through"),
                N_("not right"),
                N_("unanswered"),
            )
        ],
    )
    for q in v.questions:
        questions.rows.append(
            [
                q.quantity,
                _points(q.points),
                f"{q.percent_correct:.0f}",
                str(q.correct),
                str(q.follow_through),
                str(q.wrong),
                str(q.unanswered),
            ]
        )
    out: list[Block] = [students, questions]
    if v.misconceptions:
        table = Grid(
            _("Misconceptions across the class"),
            [
                Column(_("code"), "name"),
                Column(_("students"), "num"),
                Column(_("answers"), "num"),
                Column(_("who"), "text", prose=True),
            ],
        )
        for m in v.misconceptions:
            table.rows.append([m.code, str(m.count), str(m.answers), ", ".join(m.students)])
        out.append(table)
    else:
        out.append(Para(_("No known misconception found in the class.")))
    # the score distribution: a bar per range (█, spelled # in ASCII), longest 30 characters
    most = max((c for _label, c in v.histogram), default=0) or 1
    histogram = Grid(
        _("Score distribution"),
        [Column("%", "num"), Column("", "text", prose=True), Column(_("students"), "num")],
    )
    for label, count in reversed(v.histogram):
        histogram.rows.append([label, "█" * round(30 * count / most) or " ", str(count)])
    out.append(histogram)
    if v.flags:
        out += [Para(""), Para(_("For a human to look at"), "bold")]
        out += [Para(f"  {f.kind}: {f.detail}: {', '.join(f.files)}", "warn") for f in v.flags]
    return out


def check_title(results: list[SheetResult]) -> str:
    """A document's title: the sheet's student and scenario, or how many sheets."""
    if len(results) == 1:
        r = results[0]
        return _("Marked sheet: {student} — {title}").format(student=r.student, title=r.scenario.display_title())
    return _("{n} marked sheets").format(n=len(results))


class CheckView(BlocksView):
    """A rich renderable of one or more marked sheets: a table each, then the summary (check_blocks)."""

    def __init__(
        self, results: list[SheetResult], digits: int = DEFAULT_DIGITS, hide_expected: bool = False, ascii: bool = False
    ) -> None:
        super().__init__(check_blocks(results, digits, hide_expected), ascii, spaced=False)
        self.results = results


class ClassReport(BlocksView):
    """Sheets marked with a key: each sheet's table (unless summary), then the class view (class_report_blocks)."""

    def __init__(
        self,
        results: list[SheetResult],
        view: ClassView,
        digits: int = DEFAULT_DIGITS,
        hide_expected: bool = False,
        summary: bool = False,
        ascii: bool = False,
    ) -> None:
        super().__init__(class_report_blocks(results, view, digits, hide_expected, summary), ascii, spaced=False)
        self.results = results
        self.view = view


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
        lines = [_("given: {given}").format(given=r.given if r.given is not None else _("no answer"))]
        if not hide_expected and math.isfinite(r.expected):
            lines.append(_("expected: {value}").format(value=num(r.expected, digits)))
        lines.append(_(VERDICT_WORDS[r.verdict]))
        if r.explanation and (not r.correct or r.codes):
            if r.status == "follow-through":
                lines.append(r.explanation)
            else:
                lines.append(_("diagnosis: {explanation}").format(explanation=r.explanation))
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
    if result.error is None:
        output = s.narrative
    else:
        output = _("This submission cannot be read: {error}").format(error=result.error)
    if result.warnings:
        output += "\n" + "\n".join(_("warning: {warning}").format(warning=w) for w in result.warnings)
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


def _csv(rows: list[list[object]]) -> str:
    """A report's CSV: fmt.csv_text (every cell neutralised: =HYPERLINK(...) stays text), with a BOM so
    that Excel reads the UTF-8 (Chinese names) right."""
    return BOM + csv_text_rows(rows)


def csv_text(results: list[SheetResult], hide_expected: bool = False, ids: bool = False) -> str:
    """The long report: one row per student and quantity (a sheet that cannot be read: one row, its error;
    ids: a per-student key's id column after the student's)."""
    rows: list[list[object]] = [[*CSV_COLUMNS[:1], *(["id"] if ids else []), *CSV_COLUMNS[1:]]]

    def who(result: SheetResult) -> list[object]:
        return [result.student, result.student_id or ""] if ids else [result.student]

    for result in results:
        if result.error is not None:
            rows.append(
                [
                    *who(result),
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
                    *who(result),
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
    ids = key.roster is not None  # a per-student key: the roster's id after the student's name
    rows: list[list[object]] = [
        ["student", *(["id"] if ids else []), "sheet", *names, "total", "max", "percent", "error"]
    ]
    for result in results:
        earned = {r.quantity: r.earned for r in result.results}
        pct = 100.0 * result.score / result.max_score if result.max_score else 0.0
        rows.append(
            [
                result.student,
                *([result.student_id or ""] if ids else []),
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
                "id": r.student_id,
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
                "matches_exercise_of": [{"id": m.id, "student": m.student, "answers": m.answers} for m in r.neighbours],
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


# each verdict as a reader is told it (the JSON and the CSV keep the verdicts themselves)
VERDICT_WORDS = {
    "correct": N_("correct"),
    "wrong": N_("wrong"),
    "follow-through": N_("follow-through"),
    "unanswered": N_("unanswered"),
    "invalid": N_("invalid"),
    "too-few-digits": N_("too few digits"),
}


def to_data(result: SheetResult, hide_expected: bool = False) -> dict[str, Any]:
    """A marked sheet as plain data (the JSON of `check --format json`)."""
    s = result.summary
    return {
        "sheet": result.file,
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
            "self_check": True,  # the sheet's own points and tolerances: not a grade (a key makes one)
            "explanations": [
                {"code": e.code, "detail": e.detail, "explains": e.explains, "contradicts": e.contradicts}
                for e in s.explanations
            ],
        },
    }
