"""The teacher's key: which exercise, which questions for how many points, and the marking rules.

    exercise:
      scenario: mazur             # a bundled name, or a path relative to the key's folder
    rules:
      min_digits: 3
      rtol:                       # empty: none
      tolerance:
      accept: [delta-sign-convention]
      follow_through: 1           # share of a step's points for a step right given the student's wrong input
      misconceptions: {missing-learning-rate: 0.5}
      diagnose: true
    questions:
      out_h1: 1
      w5+: {points: 2, tolerance: 1e-6}

Or one exercise per student (`bptrace new --roster`): the roster and how the exercises were drawn,

    exercise:
      roster: roster.csv          # relative to the key's folder; the sheets carry id:
      seed: 7
      shape: 2-3-2
      activation: sigmoid
      output_activation:          # empty: as bptrace new decides
      loss: half_sse
      learning_rate: 0.5
      samples: 1

and each student's exercise is drawn again from the seed and their id (grading/roster.py).

With a key the student's sheet supplies values only; the key decides every point (docs/answer-sheets.md,
bptrace/key.schema.json). Read with source.py like every other file; errors name file:line:column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bptrace.errors import KeyFileError, UnknownNameError
from bptrace.i18n import N_, _
from bptrace.model import source
from bptrace.model.source import Document, did_you_mean

if TYPE_CHECKING:
    from bptrace.grading.answers import Recipe
    from bptrace.grading.marking import Marker
    from bptrace.grading.roster import Roster, Student
    from bptrace.model.names import Quantity
    from bptrace.model.scenario import Scenario

TOP_KEYS = ("exercise", "rules", "questions")
EXERCISE_KEYS = ("scenario",)
ROSTER_KEYS = ("roster", "seed", "shape", "activation", "output_activation", "loss", "learning_rate", "samples")
RULE_KEYS = ("min_digits", "rtol", "tolerance", "accept", "follow_through", "misconceptions", "diagnose")
QUESTION_KEYS = ("points", "tolerance", "rtol")
DEFAULT_MIN_DIGITS = 3


@dataclass(frozen=True)
class Question:
    """One quantity asked, what it is worth, and its own tolerances (None: the rules' tolerances)."""

    name: str  # as written in the key
    quantity: Quantity
    points: float = 1.0
    tolerance: float | None = None
    rtol: float | None = None
    line: int | None = None


@dataclass(frozen=True)
class Rules:
    """How every answer is marked."""

    min_digits: int = DEFAULT_MIN_DIGITS
    rtol: float | None = None
    tolerance: float | None = None
    accept: frozenset[str] = frozenset()
    follow_through: float = 1.0
    misconceptions: dict[str, float] = field(default_factory=dict)
    diagnose: bool = True


@dataclass
class Key:
    """A read key: the exercise's scenario, the questions in the key's order, and the rules.

    A per-student key (roster not None) has one exercise per student of the roster, drawn again from
    `recipe` and the student's id; `scenario` is then the first student's (every one has the same
    shape, so the same quantity names)."""

    file: str
    scenario_ref: str
    scenario: Scenario
    scenario_path: str  # resolved, a cache key for the marking lab
    questions: list[Question]
    rules: Rules
    roster: Roster | None = None
    recipe: Recipe | None = None
    _exercises: dict[str, Scenario] = field(default_factory=dict, repr=False)
    _markers: dict[str, Marker] = field(default_factory=dict, repr=False)
    _names: dict[str, Quantity] = field(default_factory=dict, repr=False)

    def parse(self, name: str) -> Quantity:
        """A sheet's quantity name in the key's exercise (names.parse, kept for the class; an unknown name
        raises UnknownNameError every time)."""
        if name not in self._names:
            from bptrace.model.names import parse

            self._names[name] = parse(name, self.scenario)
        return self._names[name]

    def student(self, student_id: str) -> Student | None:
        """The roster's student with this id (None: not on the roster, or not a per-student key)."""
        return self.roster.find(student_id) if self.roster is not None else None

    def exercise(self, student_id: str) -> Scenario:
        """A student's own exercise (the one scenario of a key that is not per-student)."""
        if self.roster is None or self.recipe is None:
            return self.scenario
        student = self.roster.find(student_id)
        if student is None:
            raise KeyError(student_id)
        if student.id not in self._exercises:
            from bptrace.grading.roster import student_exercise

            self._exercises[student.id] = student_exercise(self.recipe, student)[1]
        return self._exercises[student.id]

    def marker(self, student_id: str | None = None) -> Marker:
        """The marking lab of a student's exercise (of the key's one exercise: student_id None), kept for the
        class: every diagnosis is made once per exercise."""
        from bptrace.grading.marking import marker_for

        name = ""
        if self.roster is not None and student_id is not None:
            student = self.roster.find(student_id)
            if student is None:
                raise KeyError(student_id)
            name = student.id
        if name not in self._markers:
            self._markers[name] = marker_for(self.exercise(name) if name else self.scenario)
        return self._markers[name]

    def expected(self, student_id: str, q: Quantity) -> float:
        """The exact value of q in a student's exercise."""
        return self.marker(student_id).expected(q)

    @property
    def shown_scenario(self) -> Scenario:
        """The exercise as a row that cannot be marked names it (per-student: the class's exercises, not the
        first student's)."""
        if self.roster is None or self.recipe is None:
            return self.scenario
        title = _("one exercise {shape} per student of {roster}").format(
            shape=self.recipe.shape_text, roster=self.roster.file
        )
        return self.scenario.with_changes(title=title)

    @property
    def max_points(self) -> float:
        return sum(q.points for q in self.questions)

    def question(self, name: str) -> Question | None:
        """The key's question for a canonical quantity name, or None when the key does not ask it."""
        for q in self.questions:
            if q.quantity.name == name:
                return q
        return None


def read(path: Path | str, scenario_override: str | None = None) -> Key:
    """Read and validate a key (and load its scenario; -s may name another one)."""
    from bptrace.model import scenario as scenarios

    path = Path(path)
    doc = source.load(path, KeyFileError)
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error(
            (), _("a key is a mapping with exercise:, rules: and questions:"), hint=_("see 'bptrace key --help'")
        )
    _keys(doc, (), data, TOP_KEYS)
    exercise = data.get("exercise")
    if isinstance(exercise, dict) and "roster" in exercise:
        return _read_per_student(path, doc, data, exercise, scenario_override)
    if not isinstance(exercise, dict) or "scenario" not in exercise:
        raise doc.error(
            ("exercise",), _("the key needs exercise: {scenario: NAME}"), hint=_("e.g. exercise: {scenario: mazur}")
        )
    _keys(doc, ("exercise",), exercise, EXERCISE_KEYS)
    ref = exercise["scenario"]
    if not isinstance(ref, str) or not ref.strip():
        raise doc.error(("exercise", "scenario"), _("scenario must be a bundled name or a path"))
    ref = ref.strip()
    try:
        if scenario_override:
            spath, _kind = scenarios.resolve(scenario_override)
            s = scenarios.load(scenario_override)
        else:
            spath, _kind = scenarios.resolve(ref, relative_to=path.parent)
            s = scenarios.load(ref, relative_to=path.parent)
    except UnknownNameError as exc:
        raise doc.error(("exercise", "scenario"), exc.message, hint=exc.hint) from None
    rules = _rules(doc, data.get("rules") or {})
    questions = _questions(doc, data.get("questions"), s)
    return Key(str(path), scenario_override or ref, s, str(spath.resolve()), questions, rules)


def _read_per_student(
    path: Path, doc: Document, data: dict[Any, Any], exercise: dict[Any, Any], override: str | None
) -> Key:
    """A key of per-student exercises: the roster (relative to the key's folder) and the recipe."""
    from bptrace.errors import BptraceError, RosterError
    from bptrace.functions import ACTIVATION_ENTRIES, ACTIVATIONS, LOSSES
    from bptrace.grading import roster as roster_mod
    from bptrace.grading.answers import Recipe, parse_shape

    if override:
        raise BptraceError(
            _("-s cannot be given with a per-student key: each student's exercise is drawn from the roster"),
            hint=_("drop -s"),
        )
    where: tuple[Any, ...] = ("exercise",)
    _keys(doc, where, exercise, ROSTER_KEYS)
    for needed in ("seed", "shape"):
        if exercise.get(needed) is None:
            raise doc.error(
                where,
                _("a per-student key needs exercise.{key}").format(key=needed),
                hint=_("write the key with bptrace new --roster ROSTER --seed N --shape 2-3-2 -o FOLDER"),
            )
    ref = exercise["roster"]
    if not isinstance(ref, str) or not ref.strip():
        raise doc.error(where + ("roster",), _("roster must be the path of a CSV file (relative to the key)"))
    seed = exercise["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise doc.error(
            where + ("seed",), _("seed must be a whole number 0 or more, got {value}").format(value=source.brief(seed))
        )
    try:
        shape = parse_shape(str(exercise["shape"]))
    except ValueError as exc:
        raise doc.error(where + ("shape",), str(exc)) from None

    def choice(name: str, allowed: list[str], default: str | None) -> str | None:
        value = exercise.get(name, default)
        if value is None:
            return default
        if value not in allowed:
            raise doc.error(
                where + (name,),
                _("unknown {key} {value}").format(key=name, value=source.brief(value)),
                hint=did_you_mean(str(value), allowed) or _("expected one of {keys}").format(keys=", ".join(allowed)),
            )
        return str(value)

    activation = choice("activation", [a.name for a in ACTIVATION_ENTRIES if a.hidden_ok], "sigmoid")
    output_activation = choice("output_activation", list(ACTIVATIONS), None)
    loss = choice("loss", list(LOSSES), "half_sse")
    eta = source.as_number(doc, where + ("learning_rate",), exercise.get("learning_rate", 0.5), _("a learning rate"))
    if not eta > 0:
        raise doc.error(where + ("learning_rate",), _("the learning rate must be more than 0"))
    samples = exercise.get("samples", 1)
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 100:
        raise doc.error(
            where + ("samples",),
            _("samples must be a whole number 1..100, got {value}").format(value=source.brief(samples)),
        )
    recipe = Recipe(seed, tuple(shape), activation or "sigmoid", output_activation, loss or "half_sse", eta, samples)
    import os

    roster_path = Path(os.path.normpath(path.parent / ref.strip()))
    try:
        roster = roster_mod.read(roster_path)
    except RosterError as exc:
        if exc.message == _("no such file"):
            raise doc.error(
                where + ("roster",),
                _("no roster file {name}").format(name=source.brief(ref)),
                hint=_("the roster's path is relative to the key's folder"),
            ) from None
        raise
    try:
        first = roster_mod.student_exercise(recipe, roster.students[0])[1]
    except BptraceError as exc:
        raise doc.error(where, exc.message, hint=exc.hint) from None
    rules = _rules(doc, data.get("rules") or {})
    questions = _questions(doc, data.get("questions"), first)
    key = Key(str(path), str(roster_path), first, str(roster_path.resolve()), questions, rules, roster, recipe)
    key._exercises[roster.students[0].id] = first
    return key


def _keys(doc: Document, path: tuple[Any, ...], data: dict[Any, Any], allowed: tuple[str, ...]) -> None:
    from bptrace.grading.answers import expected_one_of

    for key in data:
        if key not in allowed:
            raise doc.error(
                path + (key,), _("unknown key {key}").format(key=source.brief(key)), hint=expected_one_of(key, allowed)
            )


def _rules(doc: Document, raw: Any) -> Rules:
    from bptrace.grading.marking import diagnosis_codes

    path: tuple[Any, ...] = ("rules",)
    if not isinstance(raw, dict):
        raise doc.error(path, _("rules must be a mapping"), hint=_("keys: {keys}").format(keys=", ".join(RULE_KEYS)))
    _keys(doc, path, raw, RULE_KEYS)
    codes = [c for c in diagnosis_codes() if c != "rounding"]

    def code(where: tuple[Any, ...], c: Any) -> str:
        if c not in codes:
            raise doc.error(
                where,
                _("unknown diagnosis code {code}").format(code=source.brief(c)),
                hint=did_you_mean(str(c), codes) or _("codes: {codes}").format(codes=", ".join(codes)),
            )
        return str(c)

    min_digits = raw.get("min_digits", DEFAULT_MIN_DIGITS)
    if isinstance(min_digits, bool) or not isinstance(min_digits, int) or not 1 <= min_digits <= 17:
        raise doc.error(
            path + ("min_digits",),
            _("min_digits must be a whole number 1..17, got {value}").format(value=source.brief(min_digits)),
        )
    accept = raw.get("accept") or []
    if not isinstance(accept, list):
        raise doc.error(path + ("accept",), _("accept must be a list of codes"), hint=_("e.g. [delta-sign-convention]"))
    credit = raw.get("misconceptions") or {}
    if not isinstance(credit, dict):
        raise doc.error(path + ("misconceptions",), _("misconceptions must map a code to a share of the points (0..1)"))
    diagnose = raw.get("diagnose", True)
    if not isinstance(diagnose, bool):
        raise doc.error(path + ("diagnose",), _("diagnose must be true or false"))
    return Rules(
        min_digits=min_digits,
        rtol=_optional(doc, path + ("rtol",), raw.get("rtol"), N_("a relative tolerance")),
        tolerance=_optional(doc, path + ("tolerance",), raw.get("tolerance"), N_("an absolute tolerance")),
        accept=frozenset(code(path + ("accept", i), c) for i, c in enumerate(accept)),
        follow_through=_share(doc, path + ("follow_through",), raw.get("follow_through", 1.0)),
        misconceptions={
            code(path + ("misconceptions", c), c): _share(doc, path + ("misconceptions", c), v)
            for c, v in credit.items()
        },
        diagnose=diagnose,
    )


def _optional(doc: Document, path: tuple[Any, ...], value: Any, what: str) -> float | None:
    """A number that is not negative, or None (`what`: what it is, marked with N_ and said here)."""
    if value is None:
        return None
    x = source.as_number(doc, path, value, _(what))
    if x < 0:
        raise doc.error(
            path, _("{what} must not be negative, got {value}").format(what=_(what), value=source.brief(value))
        )
    return x


def _share(doc: Document, path: tuple[Any, ...], value: Any) -> float:
    x = source.as_number(doc, path, value, _("a share of the points from 0 to 1"))
    if not 0 <= x <= 1:
        raise doc.error(path, _("a share of the points is from 0 to 1, got {value}").format(value=source.brief(value)))
    return x


def _questions(doc: Document, raw: Any, s: Scenario) -> list[Question]:
    from bptrace.model.names import parse

    path: tuple[Any, ...] = ("questions",)
    if not isinstance(raw, dict) or not raw:
        raise doc.error(path, _("questions must map each quantity asked to its points"), hint=_("e.g. out_o1: 1"))
    out: list[Question] = []
    seen: dict[str, str] = {}
    for name, spec in raw.items():
        where = path + (name,)
        try:
            q = parse(str(name), s)
        except UnknownNameError as exc:
            raise doc.error(where, exc.message, hint=exc.hint) from None
        if q.name in seen:
            raise doc.error(
                where,
                _("{key} is the same quantity as {other}").format(key=repr(name), other=repr(seen[q.name])),
                hint=_("keep one of them"),
            )
        seen[q.name] = str(name)
        points, tolerance, rtol = 1.0, None, None
        if isinstance(spec, dict):
            _keys(doc, where, spec, QUESTION_KEYS)
            points = _points(doc, where + ("points",), spec.get("points", 1.0))
            tolerance = _optional(doc, where + ("tolerance",), spec.get("tolerance"), N_("an absolute tolerance"))
            rtol = _optional(doc, where + ("rtol",), spec.get("rtol"), N_("a relative tolerance"))
        elif spec is not None:
            points = _points(doc, where, spec)
        out.append(Question(str(name), q, points, tolerance, rtol, doc.where(where)[0]))
    return out


def _points(doc: Document, path: tuple[Any, ...], value: Any) -> float:
    x = source.as_number(doc, path, value, _("points"))
    if x < 0:
        raise doc.error(path, _("points must not be negative, got {value}").format(value=source.brief(value)))
    return x


# ---------------------------------------------------------------------------------------------------
# Writing a key


def key_text(
    s: Scenario,
    scenario_ref: str,
    only: set[str] | None = None,
    exercise: list[str] | None = None,
    title: str | None = None,
) -> str:
    """An editable key for a scenario: every quantity of the chosen sections at 1 point, the default rules
    (exercise: the lines under exercise: instead of the scenario's, for a per-student key)."""
    from bptrace.grading.answers import SECTIONS, question_lines, yaml_scalar
    from bptrace.grading.marking import diagnosis_codes

    codes = ", ".join(c for c in diagnosis_codes() if c != "rounding")
    lines = [
        "# " + _("Marking key: {title}").format(title=title or s.title),
        "# " + _("Edit it: delete the questions you do not ask, change their points and the rules."),
        "# " + _("Mark a class with: bptrace check SHEETS... --key THIS_FILE  (format: docs/answer-sheets.md)"),
        "# " + _("With a key, a student's sheet gives values only: its points, tolerances and scenario are ignored."),
        "exercise:",
        *(
            exercise
            or [
                f"  scenario: {yaml_scalar(scenario_ref)}   # "
                + _("a bundled name, or a path relative to this key's folder")
            ]
        ),
        "rules:",
        f"  min_digits: {DEFAULT_MIN_DIGITS}        # "
        + _("significant digits an answer needs (exact values may be shorter)"),
        "  rtol:                # " + _("also accept |given - exact| <= rtol*|exact| (empty: no)"),
        "  tolerance:           # " + _("also accept |given - exact| <= tolerance (empty: no)"),
        "  accept: []           # " + _("conventions counted as correct, e.g. [delta-sign-convention]"),
        "  follow_through: 1    # "
        + _("share of a step's points when right given the student's own wrong earlier answers"),
        "  misconceptions: {}   # " + _("share of the points for an answer a named misconception explains,"),
        "                       #   " + _("e.g. {missing-learning-rate: 0.5}"),
        "  diagnose: true       # " + _("name the misconception behind each wrong answer"),
        "# " + _("codes: {codes}").format(codes=codes),
        "questions:            # " + _("QUANTITY: POINTS, or QUANTITY: {points: P, tolerance: A, rtol: R}"),
    ]
    lines += question_lines(s, set(only or SECTIONS), "1")
    return "\n".join(lines) + "\n"
