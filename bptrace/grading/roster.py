"""A class roster: who the students are, and the exercise each one gets (`bptrace new --roster`).

    id,name                      # or student_id,student; sid; 学号,姓名 (docs/answer-sheets.md)
    s001,Ada Lovelace
    s002,王小明

A CSV, UTF-8 with or without a byte-order mark (Excel's "CSV UTF-8"), commas (or semicolons or tabs, as
the header row has them); other columns are ignored. Each student's exercise is drawn from a seed made
of the class's seed and the student's id (`student_seed`), so the same roster and seed give the same
files, and a student's exercise does not change when others join the roster.

After a class is marked, `neighbours` looks for sheets whose wrong answers are another student's right
values (a neighbour's exercise rather than their own), for a human to look at.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bptrace.errors import RosterError
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.grading.answers import Recipe
    from bptrace.grading.key import Key
    from bptrace.grading.marking import SheetResult
    from bptrace.model.scenario import Scenario

# the header names accepted for each column (compared in lower case, spaces and hyphens read as '_')
ID_HEADERS = ("id", "student_id", "studentid", "sid", "student_number", "student_no", "number", "学号", "编号")
NAME_HEADERS = ("name", "student", "student_name", "full_name", "姓名", "名字")
MAX_ID = 64
SEED_SPACE = 1_000_000_000  # a student's seed is below this (nine digits: readable in the exercise's first line)
NEIGHBOUR_MIN = 3  # a sheet is flagged when this many of its wrong answers are a neighbour's right values


@dataclass(frozen=True)
class Student:
    id: str
    name: str
    line: int


@dataclass
class Roster:
    file: str
    students: list[Student]
    _by_id: dict[str, Student] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {s.id.casefold(): s for s in self.students}

    def find(self, student_id: str) -> Student | None:
        """The student with this id (ids are compared without case: S001 is s001), or None."""
        return self._by_id.get(student_id.strip().casefold())

    def suggest(self, student_id: str) -> str | None:
        """'did you mean s001?' for an id that is not on the roster, or None."""
        from bptrace.model.source import did_you_mean

        return did_you_mean(student_id, [s.id for s in self.students])


def header(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").replace("_", " ").split())


def valid_id(student_id: str) -> bool:
    """An id names the student's files: letters (any script), digits, '-', '_' and '.', not starting with '.'."""
    return (
        0 < len(student_id) <= MAX_ID
        and not student_id.startswith(".")
        and all(c.isalnum() or c in "-_." for c in student_id)
    )


def read(path: Path | str) -> Roster:
    """Read and check a roster: a header row with an id and a name column, one student per row, no id twice."""
    from bptrace.model import source

    path = Path(path)
    shown = str(path)
    text = source.read_text(path, RosterError)  # UTF-8, a byte-order mark dropped
    hint_header = _("the first row names the columns, e.g. id,name (or student_id,student; 学号,姓名)")
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = ","
    if "," not in first:
        delimiter = ";" if ";" in first else "\t" if "\t" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    students: list[Student] = []
    seen: dict[str, Student] = {}
    columns: tuple[int, int] | None = None
    line = 0
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # a blank row
            if columns is None:
                columns = _columns(row, shown, line, hint_header)
                continue
            i, n = columns
            sid = row[i].strip() if i < len(row) else ""
            name = " ".join(row[n].split()) if n < len(row) else ""
            if not sid:
                raise RosterError(
                    _("row {row} has no id").format(row=line),
                    file=shown,
                    line=line,
                    hint=_("give every student an id, or delete the row"),
                )
            if not valid_id(sid):
                raise RosterError(
                    _("the id {id} may hold only letters, digits, '-', '_' and '.' (at most {n})").format(
                        id=source.brief(sid), n=MAX_ID
                    ),
                    file=shown,
                    line=line,
                    hint=_("an id names the student's files; write it without spaces or '/'"),
                )
            if not name or any(not c.isprintable() for c in name):
                raise RosterError(
                    _("the student {id} has no name").format(id=sid)
                    if not name
                    else _("the name of {id} holds control characters").format(id=sid),
                    file=shown,
                    line=line,
                    hint=_("write the student's name in the name column"),
                )
            other = seen.get(sid.casefold())
            if other is not None:
                raise RosterError(
                    _("the id {id} is already on line {line} ({name})").format(
                        id=sid, line=other.line, name=other.name
                    ),
                    file=shown,
                    line=line,
                    hint=_("every student needs an id of their own (ids are compared without case)"),
                )
            student = Student(sid, name, line)
            seen[sid.casefold()] = student
            students.append(student)
    except csv.Error as exc:
        raise RosterError(
            _("not a valid CSV row: {why}").format(why=exc),
            file=shown,
            line=reader.line_num or line or 1,
            hint=_("check the quotes on that line"),
        ) from None
    if columns is None:
        raise RosterError(_("the roster is empty"), file=shown, line=1, hint=hint_header)
    if not students:
        raise RosterError(_("the roster lists no students"), file=shown, hint=_("add one row per student: id,name"))
    return Roster(shown, students)


def _columns(row: list[str], shown: str, line: int, hint: str) -> tuple[int, int]:
    """The positions of the id and the name column in the header row."""
    names = [header(cell) for cell in row]

    def one(accepted: tuple[str, ...], what: str) -> int:
        found = [i for i, h in enumerate(names) if h in accepted]
        if not found:
            raise RosterError(
                _("the header row has no {what} column (it has: {columns})").format(
                    what=what, columns=", ".join(repr(c.strip()) for c in row)
                ),
                file=shown,
                line=line,
                hint=hint,
            )
        if len(found) > 1:
            raise RosterError(
                _("the header row has two {what} columns: {columns}").format(
                    what=what, columns=", ".join(repr(row[i].strip()) for i in found)
                ),
                file=shown,
                line=line,
                hint=_("rename or delete one of them"),
            )
        return found[0]

    # TRANSLATORS: "the header row has no id column"
    i = one(ID_HEADERS, _("id"))
    # TRANSLATORS: "the header row has no name column"
    n = one(NAME_HEADERS, _("name"))
    return i, n


def student_seed(seed: int, student_id: str) -> int:
    """The seed of one student's exercise: SHA-256 of the class's seed and the id (as the roster writes it,
    in lower case), below SEED_SPACE. It depends on nothing else, so adding students changes no one's."""
    digest = hashlib.sha256(f"bptrace-roster\0{seed}\0{student_id.casefold()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_SPACE


# ---------------------------------------------------------------------------------------------------
# A neighbour's numbers


@dataclass(frozen=True)
class NeighbourMatch:
    """Wrong answers of a sheet that are right for another student's exercise."""

    id: str
    student: str
    answers: list[str]


def neighbours(results: list[SheetResult], key: Key) -> None:
    """Set each sheet's `neighbours`: the other students of the roster whose exact values at least
    NEIGHBOUR_MIN of its answers that are not right for its own exercise (wrong, or right only given
    the student's own earlier answers: a copied out is σ of the copied net) are (on a sheet that
    answers fewer questions, every one it answers), by the key's rules of correctness. Answers after
    more than one update are not compared (each would need N updates of every exercise)."""
    import numpy as np

    from bptrace.grading.diagnose import STEP_KINDS, steps_of
    from bptrace.grading.marking import judge

    roster = key.roster
    if roster is None:
        return
    questions = [q for q in key.questions if not (q.quantity.kind in STEP_KINDS and steps_of(q.quantity) > 1)]
    values: dict[str, np.ndarray] = {}

    def column(name: str) -> np.ndarray:
        if name not in values:
            question = next(q for q in questions if q.quantity.name == name)
            values[name] = np.array([key.expected(s.id, question.quantity) for s in roster.students], dtype=float)
        return values[name]

    asked = {q.quantity.name for q in questions}
    ids = [s.id for s in roster.students]
    for r in results:
        if r.error is not None or r.student_id is None:
            continue
        wrong = [
            a
            for a in r.results
            if a.verdict in ("wrong", "follow-through")
            and a.answer.written is not None
            and a.quantity in asked
            and a.answer.written.digits
        ]
        if not wrong:
            continue
        found: dict[int, list[str]] = {}
        for a in wrong:
            w = a.answer.written
            assert w is not None
            xs = column(a.quantity)
            unit = 10.0**w.place if -300 < w.place < 300 else 0.0
            near = np.flatnonzero(np.abs(xs - w.number) <= max(2 * unit, 1e-12 * abs(w.number)))
            for j in near:
                if ids[j].casefold() == r.student_id.casefold():
                    continue
                ok = judge(w, float(xs[j]), key.rules.min_digits, a.answer.rtol or key.rules.rtol, a.answer.tolerance)
                if ok.ok:
                    found.setdefault(int(j), []).append(a.quantity)
        answered = sum(a.answer.written is not None and a.quantity in asked for a in r.results)
        least = min(NEIGHBOUR_MIN, answered)
        r.neighbours = [
            NeighbourMatch(ids[j], roster.students[j].name, names)
            for j, names in sorted(found.items(), key=lambda item: (-len(item[1]), item[0]))
            if len(names) >= least
        ]


# ---------------------------------------------------------------------------------------------------
# One exercise per student


def student_exercise(recipe: Recipe, student: Student) -> tuple[str, Scenario]:
    """A student's own exercise: the recipe drawn with student_seed(recipe.seed, id), titled with their name.
    Its first line is the `bptrace new` command that draws the same network again."""
    seed = student_seed(recipe.seed, student.id)
    title = _("Random exercise {shape} for {name} ({id})").format(
        shape=recipe.shape_text, name=student.name, id=student.id
    )
    note = _("the exercise of {id} in: bptrace new --roster ROSTER --seed {seed} {options}").format(
        id=student.id, seed=recipe.seed, options=recipe.options()
    )
    return recipe.draw(seed, title=title, note=note)


def file_names(student: Student) -> tuple[str, str]:
    """The names of a student's exercise and blank sheet in the folder `bptrace new --roster` writes."""
    return f"exercise-{student.id}.yaml", f"sheet-{student.id}.yaml"
