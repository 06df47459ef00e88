"""A marked class as data: one row per student, per question, per misconception; the distribution; flags.

Computed from the marked sheets only (render/check_out.py displays it, as a table, JSON or CSV):
  * students: total, percent, how many answers are not right (wrong, invalid, too few digits), the first one;
  * questions: the percent of the class with the answer right (a follow-through is counted apart);
  * misconceptions: each diagnosis code with the students it was found in;
  * histogram: the students' percents in ten bins (the last one includes 100);
  * for a human to look at: a student name (with a per-student key: an id) on more than one sheet, sheets
    with the same set of wrong answers (the same quantities with the same digits), where at least one of
    those answers is explained by no known misconception (two students with the same known misconception
    give the same numbers), and, with a per-student key, sheets whose wrong answers are another student's
    right values (roster.neighbours).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bptrace.i18n import _, ngettext

if TYPE_CHECKING:
    from bptrace.grading.key import Key
    from bptrace.grading.marking import SheetResult

NOT_RIGHT = ("wrong", "invalid", "too-few-digits")
BINS = 10


@dataclass(frozen=True)
class StudentRow:
    student: str
    file: str
    score: float
    max_score: float
    percent: float
    wrong: int  # answers wrong, invalid or with too few digits
    unanswered: int
    first_wrong: str | None
    error: str | None
    id: str | None = None  # a per-student key: the roster's id


@dataclass(frozen=True)
class QuestionRow:
    quantity: str
    points: float
    percent_correct: float
    correct: int
    follow_through: int
    wrong: int
    unanswered: int


@dataclass(frozen=True)
class MisconceptionRow:
    code: str
    count: int  # students
    students: list[str]
    answers: int  # answers it explains, over the class


@dataclass(frozen=True)
class Flag:
    """Something for a human to look at: what, and the sheets it concerns."""

    kind: str  # duplicate-name | duplicate-id | identical-wrong-answers | neighbour-exercise
    detail: str
    files: list[str]


@dataclass(frozen=True)
class ClassView:
    students: list[StudentRow]
    questions: list[QuestionRow]
    misconceptions: list[MisconceptionRow]
    histogram: list[tuple[str, int]]
    flags: list[Flag]
    max_score: float

    @property
    def mean_percent(self) -> float:
        return sum(r.percent for r in self.students) / len(self.students) if self.students else 0.0


def percent(score: float, max_score: float) -> float:
    return 100.0 * score / max_score if max_score else 0.0


def class_view(results: list[SheetResult], key: Key) -> ClassView:
    """The class view of sheets marked with a key."""
    students = []
    for r in results:
        verdicts = [a.verdict for a in r.results]
        first = next(
            (
                a.quantity if a.answer.quantity.kind != "invalid" else a.answer.key
                for a in r.results
                if a.verdict in NOT_RIGHT
            ),
            None,
        )
        students.append(
            StudentRow(
                r.student,
                r.file,
                r.score,
                r.max_score,
                percent(r.score, r.max_score),
                sum(v in NOT_RIGHT for v in verdicts),
                sum(v == "unanswered" for v in verdicts) if r.error is None else len(key.questions),
                first,
                r.error,
                r.student_id,
            )
        )
    n = len(results)
    questions = []
    for q in key.questions:
        got = [next((a for a in r.results if a.quantity == q.quantity.name), None) for r in results]
        verdicts = [a.verdict if a is not None else "unanswered" for a in got]
        correct = verdicts.count("correct")
        questions.append(
            QuestionRow(
                q.quantity.name,
                q.points,
                100.0 * correct / n if n else 0.0,
                correct,
                verdicts.count("follow-through"),
                sum(v in NOT_RIGHT for v in verdicts),
                verdicts.count("unanswered"),
            )
        )
    return ClassView(
        students, questions, _misconceptions(results), _histogram(students), _flags(results), key.max_points
    )


def _misconceptions(results: list[SheetResult]) -> list[MisconceptionRow]:
    from bptrace.grading.marking import diagnosis_codes

    who: dict[str, list[str]] = {}
    answers: dict[str, int] = {}
    for r in results:
        for a in r.results:
            if a.verdict != "wrong" and not (a.verdict == "correct" and set(a.codes) - {"rounding"}):
                continue
            for c in a.codes:
                if c == "rounding":
                    continue
                answers[c] = answers.get(c, 0) + 1
                names = who.setdefault(c, [])
                if r.student not in names:
                    names.append(r.student)
    order = diagnosis_codes()
    rows = [MisconceptionRow(c, len(names), names, answers[c]) for c, names in who.items()]
    rows.sort(key=lambda m: (-m.count, order.index(m.code) if m.code in order else len(order)))
    return rows


def _histogram(students: list[StudentRow]) -> list[tuple[str, int]]:
    counts = [0] * BINS
    for s in students:
        counts[min(int(s.percent // (100 / BINS)), BINS - 1)] += 1
    width = 100 // BINS
    return [(f"{i * width}–{(i + 1) * width - 1 if i < BINS - 1 else 100}%", c) for i, c in enumerate(counts)]


def _flags(results: list[SheetResult]) -> list[Flag]:
    flags: list[Flag] = []
    by_name: dict[str, list[str]] = {}

    def who(r: SheetResult) -> str:  # the same student: the same id on the roster, else the same name
        return "id:" + r.student_id.casefold() if r.student_id else " ".join(r.student.casefold().split())

    for r in results:
        by_name.setdefault(who(r), []).append(r.file)
    for r in results:
        files = by_name.pop(who(r), None)
        if files and len(files) > 1:
            if r.student_id:
                said = _("the id {id} ({name}) is on {n} sheets").format(id=r.student_id, name=r.student, n=len(files))
                flags.append(Flag("duplicate-id", said, files))
            else:
                said = _("the student name {name} is on {n} sheets").format(name=repr(r.student), n=len(files))
                flags.append(Flag("duplicate-name", said, files))
    for r in results:
        for m in r.neighbours:
            said = ngettext(
                "{student} ({id}): {n} answer matches the exercise of {other} ({name}), not their own: {names}",
                "{student} ({id}): {n} answers match the exercise of {other} ({name}), not their own: {names}",
                len(m.answers),
            ).format(
                student=r.student,
                id=r.student_id,
                n=len(m.answers),
                other=m.id,
                name=m.student,
                names=", ".join(m.answers),
            )
            flags.append(Flag("neighbour-exercise", said, [r.file]))
    by_wrong: dict[frozenset[tuple[str, str]], list[SheetResult]] = {}
    unexplained: dict[frozenset[tuple[str, str]], bool] = {}
    for r in results:
        wrong = [a for a in r.results if a.verdict == "wrong" and a.given is not None]
        if not wrong:
            continue
        sig = frozenset((a.quantity, a.given or "") for a in wrong)
        by_wrong.setdefault(sig, []).append(r)
        unexplained[sig] = any(not a.codes for a in wrong)
    for sig, same in by_wrong.items():
        if len(same) > 1 and unexplained[sig]:
            names = ", ".join(sorted(a for a, _given in sig))
            said = ngettext(
                "{n} sheets ({students}) give the same wrong answer to {names}, "
                "not all explained by a known misconception",
                "{n} sheets ({students}) give the same wrong answers to {names}, "
                "not all explained by a known misconception",
                len(sig),
            ).format(n=len(same), students=", ".join(r.student for r in same), names=names)
            flags.append(Flag("identical-wrong-answers", said, [r.file for r in same]))
    return flags
