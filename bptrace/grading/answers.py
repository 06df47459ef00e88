"""Answer sheets: reading and validating them, writing blank ones (template), and new random exercises.

A sheet (YAML or JSON, docs/answer-sheets.md):

    scenario: mazur            # a bundled name, or a path relative to the sheet (-s overrides it)
    student: Ada               # optional; else the file name
    id: s001                   # optional; a per-student key finds the student's exercise by it
    answers:
      out_o1: 0.75136507
      w5+: {value: 0.35891648, points: 2, tolerance: 1e-6}

Parsing goes through source.py like every other file. The precision of an answer is read from its
literal text, so the value nodes are composed once more (yaml.compose: no object is constructed, and
source.parse has already refused tags) to get each scalar exactly as written: 0.750 keeps its zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bptrace import functions
from bptrace.errors import AnswerSheetError, UnknownNameError
from bptrace.fmt import visible
from bptrace.grading.written import Written, read_number
from bptrace.i18n import N_, _
from bptrace.model import source
from bptrace.model.source import Document, brief, did_you_mean

if TYPE_CHECKING:
    from bptrace.grading.key import Key
    from bptrace.model.names import Quantity
    from bptrace.model.scenario import Scenario

TOP_KEYS = ("scenario", "student", "id", "answers")
ANSWER_KEYS = ("value", "points", "tolerance", "rtol")
SECTIONS = ("forward", "backward", "updates")
NUMBER_HINT = N_("write a plain decimal number such as 0.75136507 or 3.51e-5")  # said as _(NUMBER_HINT)
MAX_EXPONENT = 330  # 1e-330 is below the smallest float64 (5e-324): no quantity is written that small


@dataclass(frozen=True)
class RawAnswer:
    """An answer as read from the sheet, before its name is checked against a scenario."""

    key: str
    written: Written | None  # None: left empty
    points: float
    tolerance: float | None  # absolute
    rtol: float | None  # relative
    line: int | None
    column: int | None
    error: str | None = None  # marked with a key: why this one answer cannot be read (it is then invalid)
    text: str | None = None  # the literal text, for an invalid answer's row


@dataclass(frozen=True)
class Answer:
    """An answer bound to a quantity of the scenario."""

    key: str
    quantity: Quantity
    written: Written | None
    points: float
    tolerance: float | None
    rtol: float | None
    line: int | None
    column: int | None
    invalid: str | None = None  # the one-line error that makes this answer invalid (marked with a key)
    text: str | None = None  # an invalid answer's literal text, as shown in its row


@dataclass
class Sheet:
    """A read answer sheet."""

    path: Path
    file: str
    student: str
    scenario_name: str | None
    raw: list[RawAnswer]
    doc: Document
    warnings: list[str] = field(default_factory=list)  # what a key ignored (points:, tolerance:, scenario:, ...)
    student_id: str | None = None  # id: as written (a per-student key finds the student's exercise by it)


# ---------------------------------------------------------------------------------------------------
# Reading


def read(path: Path | str, graded: bool = False) -> Sheet:
    """Read and validate an answer sheet's structure and numbers (names are checked by bind).

    graded=True (marking with a teacher's key): the sheet gives values only. Its points:, tolerance:,
    rtol: and scenario: are ignored with a warning, an unknown top-level key is a warning, and an answer
    that cannot be read is kept as invalid (its error in RawAnswer.error) while the rest is marked.
    """
    path = Path(path)
    shown = str(path)
    text = source.read_text(path, AnswerSheetError)
    doc = source.parse(text, shown, AnswerSheetError)
    data = doc.data
    warnings: list[str] = []
    if not isinstance(data, dict):
        raise doc.error(
            (), _("an answer sheet is a mapping with scenario: and answers:"), hint=_("see docs/answer-sheets.md")
        )
    for key in data:
        if key not in TOP_KEYS:
            error = doc.error(
                (key,), _("unknown key {key}").format(key=source.brief(key)), hint=expected_one_of(key, TOP_KEYS)
            )
            if not graded:
                raise error
            warnings.append(_("{warning} (ignored)").format(warning=error))
    scenario_name = data.get("scenario")
    if scenario_name is not None and not isinstance(scenario_name, str):
        raise doc.error(
            ("scenario",), _("scenario must be a name or a path, got {value}").format(value=source.brief(scenario_name))
        )
    student = data.get("student")
    if isinstance(student, (dict, list, bool)):
        raise doc.error(("student",), _("student must be a name"))
    if "answers" not in data:
        raise doc.error(
            (), _("missing required key 'answers'"), hint=_("add answers: with one QUANTITY: VALUE per line")
        )
    answers = data["answers"]
    if graded and answers is None:
        answers = {}
    if not isinstance(answers, dict) or (not answers and not graded):
        raise doc.error(
            ("answers",),
            _("answers must be a mapping QUANTITY: VALUE with at least one answer"),
            hint=_("e.g. out_o1: 0.75136507"),
        )
    texts, top = _scalar_texts(doc.root)
    student_id = None
    if data.get("id") is not None:
        if isinstance(data["id"], (dict, list, bool)) or not top.get("id"):
            raise doc.error(("id",), _("id must be the student's id, as on the roster"), hint=_("e.g. id: s001"))
        student_id = visible(str(top["id"]).strip())
    raw = []
    for key, value in answers.items():
        if not graded:
            raw.append(_raw_answer(doc, str(key), value, texts.get(str(key))))
            continue
        ignored = [k for k in ("points", "tolerance", "rtol") if isinstance(value, dict) and k in value]
        if ignored and isinstance(value, dict):
            said = _("{keys} ignored: the key decides the grading").format(keys=", ".join(ignored))
            warnings.append(f"{_at(doc, ('answers', key))}answers.{key}: {said}")
            value = {k: v for k, v in value.items() if k not in ignored}
        try:
            raw.append(_raw_answer(doc, str(key), value, texts.get(str(key))))
        except AnswerSheetError as exc:
            line, column = doc.where(("answers", key))
            shown_text = texts.get(str(key))
            raw.append(RawAnswer(str(key), None, 1.0, None, None, line, column, str(exc), shown_text))
    name = visible(str(student).strip() if student not in (None, "") else path.stem)  # never a raw ESC
    scenario = scenario_name.strip() if scenario_name else None
    return Sheet(path, shown, name, scenario, raw, doc, warnings, student_id)


def _at(doc: Document, path: tuple[Any, ...]) -> str:
    """'file:line:column: ' of a value, for a warning."""
    line, column = doc.where(path)
    where = doc.file + (f":{line}" if line else "") + (f":{column}" if line and column else "")
    return f"{where}: "


def expected_one_of(word: object, allowed: tuple[str, ...]) -> str:
    """The hint for an unknown key: the closest allowed key ("did you mean ..."), else the allowed ones."""
    return did_you_mean(str(word), allowed) or _("expected one of {keys}").format(keys=", ".join(allowed))


def _scalar_texts(root: Any) -> tuple[dict[str, str | None], dict[str, str]]:
    """From the sheet's composed YAML nodes (source.parse's): answers' keys -> the literal text of their
    value (or of its value: key), None when empty or null; and the top level's scalar keys -> their literal
    text (id: 007 is '007', not 7)."""
    import yaml

    out: dict[str, str | None] = {}
    top: dict[str, str] = {}
    if isinstance(root, yaml.MappingNode):
        for k, v in root.value:
            if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode):
                top[visible(str(k.value), lines=True)] = v.value
    answers = _child(root, "answers")
    if not isinstance(answers, yaml.MappingNode):
        return out, top
    for key_node, value_node in answers.value:
        node = value_node
        if isinstance(node, yaml.MappingNode):
            node = _child(node, "value")
        # keyed as source.parse reads a key: its control characters written out (`\x1b`)
        key = visible(str(key_node.value), lines=True)
        if isinstance(node, yaml.ScalarNode) and node.tag != "tag:yaml.org,2002:null":
            out[key] = node.value
        else:
            out[key] = None
    return out, top


def _child(node: Any, key: str) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
    return None


def _raw_answer(doc: Document, key: str, value: Any, text: str | None) -> RawAnswer:
    path: tuple[Any, ...] = ("answers", key)
    points, tolerance, rtol = 1.0, None, None
    if isinstance(value, dict):
        for sub in value:
            if sub not in ANSWER_KEYS:
                raise doc.error(
                    path + (sub,), _("unknown key {key}").format(key=repr(sub)), hint=expected_one_of(sub, ANSWER_KEYS)
                )
        if "value" not in value:
            raise doc.error(path, _("missing required key 'value'"), hint=_("e.g. {value: 0.35891648, points: 2}"))
        points = _non_negative(doc, path + ("points",), value.get("points", 1.0), N_("points"))
        if "tolerance" in value:
            tolerance = _non_negative(doc, path + ("tolerance",), value["tolerance"], N_("an absolute tolerance"))
        if "rtol" in value:
            rtol = _non_negative(doc, path + ("rtol",), value["rtol"], N_("a relative tolerance"))
        value = value["value"]
        path = path + ("value",)
    line, column = doc.where(("answers", key))
    if value is None or (isinstance(value, str) and not value.strip()):
        return RawAnswer(key, None, points, tolerance, rtol, line, column)
    if isinstance(value, (bool, list, dict)) or text is None:
        shown = type(value).__name__ if isinstance(value, (list, dict)) else repr(value)
        raise doc.error(path, _("expected a number, got {value}").format(value=shown), hint=_(NUMBER_HINT))
    written = read_number(text)
    if written is None:
        raise doc.error(path, _("expected a number, got {value}").format(value=brief(text)), hint=_(NUMBER_HINT))
    if not written.value.is_finite():
        raise doc.error(path, _("expected a finite number, got {value}").format(value=brief(text)))
    if written.value and not -MAX_EXPONENT <= written.value.adjusted() <= 308:  # beyond float64
        raise doc.error(
            path,
            # TRANSLATORS: {program} is bptrace
            _("{value} is outside the range of numbers {program} computes with").format(
                value=brief(text), program="bptrace"
            ),
            hint=_(NUMBER_HINT),
        )
    return RawAnswer(key, written, points, tolerance, rtol, line, column)


def _non_negative(doc: Document, path: tuple[Any, ...], value: Any, what: str) -> float:
    """A number that is not negative (`what`: what it is, marked with N_ and said here)."""
    x = source.as_number(doc, path, value, _(what))
    if x < 0:
        raise doc.error(path, _("{what} must not be negative, got {value}").format(what=_(what), value=repr(value)))
    return x


def resolve_scenario(sheet: Sheet, override: str | None = None) -> tuple[Scenario, str]:
    """The scenario a sheet is about (-s wins over scenario:), and the path it came from (a cache key).

    A sheet's own scenario: may name a bundled scenario, or a file beside the sheet or below its folder;
    anything else needs -s (or a key). Errors about a file the sheet names never quote that file.
    """
    from bptrace.errors import ScenarioError
    from bptrace.model import scenario as scenarios

    if override:
        path, _kind = scenarios.resolve(override)
        return scenarios.load(override), str(path.resolve())
    name = sheet.scenario_name
    if not name:
        raise AnswerSheetError(
            _("the sheet names no scenario"),
            file=sheet.file,
            line=1,
            hint=_("add 'scenario: NAME' (a bundled name or a path relative to the sheet), or pass -s SCENARIO"),
        )
    base = sheet.path.parent
    try:
        path, _kind = scenarios.resolve(name, relative_to=base)
    except UnknownNameError as exc:
        raise sheet.doc.error(("scenario",), exc.message, hint=exc.hint) from None
    if not scenarios.is_path_like(name):
        return scenarios.load(name), str(path.resolve())
    shown = source.brief(name)
    if not _inside(path, base):
        raise sheet.doc.error(
            ("scenario",),
            _("scenario: {name} is not beside the sheet or below its folder").format(name=shown),
            hint=_(
                "a sheet may name a bundled scenario or a file in its own folder; "
                "to mark it against another file pass -s SCENARIO or --key KEY"
            ),
        )
    if not path.is_file():
        raise sheet.doc.error(
            ("scenario",),
            _("no scenario file {name}").format(name=shown),
            hint=_("a path in scenario: is relative to the sheet's folder"),
        )
    try:
        s = scenarios.load(name, relative_to=base)
    except ScenarioError as exc:
        if exc.line:
            said = _("scenario: {name} is not a valid scenario (line {line})").format(name=shown, line=exc.line)
        else:
            said = _("scenario: {name} is not a valid scenario").format(name=shown)
        raise sheet.doc.error(
            ("scenario",), said, hint=_("see what is wrong with: bptrace run {name}").format(name=shown)
        ) from None
    return s, str(path.resolve())


def _inside(path: Path, folder: Path) -> bool:
    """Is path (after following every symlink) the folder's own file or below it?"""
    try:
        return path.resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):  # a symlink loop
        return False


def bind_to_key(sheet: Sheet, key: Key) -> list[Answer]:
    """The key's questions, each with the sheet's answer (or unanswered), in the key's order, then the
    sheet's answers that cannot be marked (invalid: an unknown name, a bad number, a repeated quantity).
    Answers to quantities the key does not ask are left out with a warning on the sheet."""
    from bptrace.model.names import Quantity

    # (a per-student key finds the exercise by the sheet's id: its scenario: is not compared)
    if sheet.scenario_name and key.roster is None and not _same_scenario(sheet, key):
        line, column = sheet.doc.where(("scenario",))
        said = _("scenario: {given} ignored: the key's exercise is {exercise}").format(
            given=source.brief(sheet.scenario_name), exercise=source.brief(key.scenario_ref)
        )
        sheet.warnings.append(f"{sheet.file}:{line}:{column}: {said}")
    by_name: dict[str, RawAnswer] = {}
    extra: list[Answer] = []
    asked = {q.quantity.name for q in key.questions}
    for raw in sheet.raw:
        try:
            q = key.parse(raw.key)
        except UnknownNameError as exc:
            error = sheet.doc.error(("answers", raw.key), exc.message, hint=exc.hint)
            extra.append(_invalid(raw, Quantity("invalid", raw.key), str(error)))
            continue
        if q.name in by_name:
            other = by_name[q.name]
            message = _("{key} is the same quantity as {other} (line {line}); marked once").format(
                key=repr(raw.key), other=repr(other.key), line=other.line
            )
            sheet.warnings.append(f"{sheet.file}:{raw.line}: answers.{raw.key}: {message}")
            continue
        if q.name not in asked:
            said = _("not a question of the key (ignored)")
            sheet.warnings.append(f"{sheet.file}:{raw.line}: answers.{raw.key}: {said}")
            continue
        by_name[q.name] = raw
    out: list[Answer] = []
    for question in key.questions:
        q = question.quantity
        tolerance = question.tolerance if question.tolerance is not None else key.rules.tolerance
        found = by_name.get(q.name)
        if found is None:
            out.append(Answer(question.name, q, None, question.points, tolerance, question.rtol, None, None))
        elif found.error is not None:
            out.append(_invalid(found, q, found.error, question.points))
        else:
            out.append(
                Answer(found.key, q, found.written, question.points, tolerance, question.rtol, found.line, found.column)
            )
    return out + extra


def _same_scenario(sheet: Sheet, key: Key) -> bool:
    """Does the sheet's scenario: name the key's exercise? (Only compared by path, never read.)"""
    from bptrace.model import scenario as scenarios

    name = sheet.scenario_name or ""
    if name == key.scenario_ref:
        return True
    try:
        path, _kind = scenarios.resolve(name, relative_to=sheet.path.parent)
        return str(path.resolve()) == key.scenario_path
    except (UnknownNameError, OSError, RuntimeError):
        return False


def _invalid(raw: RawAnswer, q: Quantity, error: str, points: float = 0.0) -> Answer:
    return Answer(
        raw.key,
        q,
        None,
        points,
        None,
        None,
        raw.line,
        raw.column,
        invalid=error,
        text=raw.text if raw.text is not None else (raw.written.text if raw.written else None),
    )


def bind(sheet: Sheet, s: Scenario) -> list[Answer]:
    """Check every answer's name against the scenario's vocabulary (unknown ones: file:line and a suggestion)."""
    from bptrace.grading.diagnose import MAX_STEPS
    from bptrace.model.names import parse

    out: list[Answer] = []
    seen: dict[str, RawAnswer] = {}
    for raw in sheet.raw:
        try:
            q = parse(raw.key, s)
        except UnknownNameError as exc:
            raise sheet.doc.error(("answers", raw.key), exc.message, hint=exc.hint) from None
        if q.steps is not None and q.steps > MAX_STEPS:
            raise sheet.doc.error(
                ("answers", raw.key),
                _("{key}: at most {n} updates can be checked").format(key=repr(raw.key), n=f"{MAX_STEPS:,}"),
                hint=_("ask for fewer updates"),
            )
        if q.name in seen:
            other = seen[q.name]
            raise sheet.doc.error(
                ("answers", raw.key),
                _("{key} is the same quantity as {other} (line {line})").format(
                    key=repr(raw.key), other=repr(other.key), line=other.line
                ),
                hint=_("keep one of them"),
            )
        seen[q.name] = raw
        out.append(Answer(raw.key, q, raw.written, raw.points, raw.tolerance, raw.rtol, raw.line, raw.column))
    return out


# ---------------------------------------------------------------------------------------------------
# The derivation's order (templates, and "where the sheet first goes wrong")


def derivation(s: Scenario) -> list[tuple[str, str, str]]:
    """(section, group comment, name) for every quantity a student computes, in the order of a derivation:
    forward layer by layer, the loss, backward from the output down (each layer's gradients after its δ),
    then the updates and the loss after them. Per-sample forward values get their :k suffixes; in a batch each
    neuron's δ is asked per sample too (delta_o1:1 ... delta_o1:m, what a student computes by hand) before the
    batch δ (their mean, or sum)."""
    from bptrace.model.names import parse_or_none

    objective = s.objective

    def expand(name: str) -> list[str]:
        if parse_or_none(name, s) is not None:
            return [name]
        if not objective.several:
            return [f"{name}:1"]
        # every pass in reading order: :1 … :m, or (two windows) :1, :1c, :2, :2c …
        return [name + objective.suffix(row) for row in objective.reading_order()]

    out: list[tuple[str, str, str]] = []
    for layer in s.layers:
        group = _("forward pass, layer {layer} ({neurons})").format(layer=layer.index, neurons=_neurons(layer.neurons))
        for x in layer.neurons:
            for name in (f"net_{x}", f"out_{x}"):
                out += [("forward", group, n) for n in expand(name)]
    out += [("forward", _("loss"), n) for n in [f"E_{o}" for o in s.output_layer.neurons] + ["E_total"]]
    params_by_layer: dict[int, list[str]] = {}
    for p in s.parameters():
        params_by_layer.setdefault(p.layer, []).append(p.name)
    for i in reversed(range(len(s.layers))):
        layer = s.layers[i]
        group = _("backward pass, layer {layer} ({neurons})").format(layer=layer.index, neurons=_neurons(layer.neurons))
        for x in layer.neurons:
            # (with two windows, dE/dout, delta and dE_k/dout have one value per pass, so they are expanded too)
            if i < len(s.layers) - 1:
                out += [("backward", group, n) for k in s.layers[i + 1].neurons for n in expand(f"dE_{k}/dout_{x}")]
            out += [("backward", group, n) for n in expand(f"dE/dout_{x}")]
            out += [("backward", group, n) for n in expand(f"dout_{x}/dnet_{x}")]
            if s.samples > 1 and not objective.scores:  # a batch: each sample's δ (by hand, before their mean or sum)
                out += [("backward", group, f"delta_{x}:{k}") for k in range(1, s.samples + 1)]
            out += [("backward", group, n) for n in expand(f"delta_{x}")]
        group = _("gradients, layer {layer}").format(layer=layer.index)
        for name in params_by_layer.get(layer.index, []):
            p = s.parameter(name)
            fed = layer.neurons if p.row is None else [layer.neurons[p.row]]
            for x in fed:
                out += [("backward", group, n) for n in expand(f"dnet_{x}/d{name}")]
            out.append(("backward", group, f"dE/d{name}"))
    eta = f"{s.learning_rate:g}"
    for i in reversed(range(len(s.layers))):
        layer = s.layers[i]
        group = _("updates, layer {layer} (η = {eta})").format(layer=layer.index, eta=eta)
        out += [("updates", group, f"{name}+") for name in params_by_layer.get(layer.index, [])]
    out.append(("updates", _("loss after the update"), "E_total@1"))
    return out


def _neurons(names: tuple[str, ...]) -> str:
    return ", ".join(names) if len(names) <= 6 else f"{names[0]} ... {names[-1]}"


def order_index(s: Scenario) -> dict[str, int]:
    """name -> its position in the derivation."""
    return {name: i for i, (_section, _group, name) in enumerate(derivation(s))}


def template_text(
    s: Scenario,
    scenario_ref: str,
    only: set[str] | None = None,
    student: str | None = None,
    student_id: str | None = None,
) -> str:
    """A blank answer sheet: every quantity of the chosen sections as a key with an empty value (a per-student
    sheet carries the student's name and id)."""
    chosen = set(only or SECTIONS)
    lines = [
        "# " + _("Answer sheet: {title}").format(title=s.title),
        "# " + _("Write each value to at least 3 significant digits (better all you have: 0.75136507);"),
        "# " + _("the digits you write are the precision you are marked at. Leave a value empty to skip it."),
        "# " + _("Names: docs/answer-sheets.md. Mark it with: bptrace check THIS_FILE"),
        f"scenario: {yaml_scalar(scenario_ref)}",
        "student:" + (f" {yaml_scalar(student)}" if student else ""),
        *(
            [f"id: {yaml_scalar(student_id)}   # " + _("your id on the roster: your own exercise is marked by it")]
            if student_id
            else []
        ),
        "answers:",
    ]
    lines += question_lines(s, chosen, "")
    return "\n".join(lines) + "\n"


def question_lines(s: Scenario, chosen: set[str], value: str) -> list[str]:
    """Every quantity of the chosen sections as `  NAME: value` lines under `  # group` comments (the blank
    sheet's answers, the key's questions)."""
    lines: list[str] = []
    group = None
    for section, g, name in derivation(s):
        if section not in chosen:
            continue
        if g != group:
            lines.append(f"  # {g}")
            group = g
        lines.append(f"  {yaml_scalar(name)}:" + (f" {value}" if value else ""))
    return lines


def yaml_scalar(text: str) -> str:
    """text as a YAML scalar, quoted only where plain YAML would misread it."""
    import yaml

    plain = yaml.safe_dump(text, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return plain[:-4].rstrip() if plain.endswith("\n...") else plain.removesuffix("...").strip()


# ---------------------------------------------------------------------------------------------------
# New random exercises


def parse_shape(value: str) -> list[int]:
    """Layer sizes from text such as 2-3-2 (or 2x3x2); ValueError with the message when it is not one."""
    from bptrace.model.source import MAX_NODES

    try:
        sizes = [int(p) for p in str(value).replace("x", "-").split("-")]
    except ValueError:
        raise ValueError(_("{value} is not a shape such as 2-3-2").format(value=repr(value))) from None
    if len(sizes) < 2 or any(not 1 <= n <= 64 for n in sizes):
        raise ValueError(_("{value}: give at least two layer sizes, each 1..64 (e.g. 2-3-2)").format(value=repr(value)))
    parameters = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    if parameters > MAX_NODES // 2:  # the exercise must be a file bptrace reads (source.MAX_NODES values)
        raise ValueError(
            _("{value} has {n} parameters; at most {most}").format(
                value=repr(value), n=f"{parameters:,}", most=f"{MAX_NODES // 2:,}"
            )
        )
    return sizes


@dataclass(frozen=True)
class Recipe:
    """How `bptrace new` draws an exercise: the seed and the options (a per-student key keeps one)."""

    seed: int
    shape: tuple[int, ...]
    activation: str = "sigmoid"
    output_activation: str | None = None
    loss: str = "half_sse"
    learning_rate: float = 0.5
    samples: int = 1

    @property
    def shape_text(self) -> str:
        return "-".join(map(str, self.shape))

    def options(self) -> str:
        """The options after --seed N, as `bptrace new` takes them."""
        parts = [f"--shape {self.shape_text}", f"--activation {self.activation}"]
        if self.output_activation:
            parts.append(f"--output-activation {self.output_activation}")
        parts += [f"--loss {self.loss}", f"--learning-rate {float(self.learning_rate)!r}"]
        if self.samples != 1:
            parts.append(f"--samples {self.samples}")
        return " ".join(parts)

    def command(self, seed: int | None = None) -> str:
        """The command that draws this exercise again (with another seed: that one)."""
        return f"bptrace new --random --seed {self.seed if seed is None else seed} {self.options()}"

    def draw(self, seed: int | None = None, title: str | None = None, note: str | None = None) -> tuple[str, Any]:
        """The exercise (its YAML text and the Scenario read from it), with this seed or another."""
        n = self.seed if seed is None else seed
        return draw_exercise(
            n,
            list(self.shape),
            self.activation,
            self.output_activation,
            self.loss,
            self.learning_rate,
            self.samples,
            command=self.command(n),
            title=title,
            note=note,
        )


def random_exercise(
    seed: int,
    shape: list[int],
    activation: str = "sigmoid",
    output_activation: str | None = None,
    loss: str = "half_sse",
    learning_rate: float = 0.5,
    samples: int = 1,
    command: str | None = None,
) -> str:
    """A fresh scenario in matrix form (YAML), the same for the same arguments: numpy default_rng(seed),
    weights, biases, inputs and targets rounded to 2 decimals so that students can compute by hand."""
    text, _s = draw_exercise(seed, shape, activation, output_activation, loss, learning_rate, samples, command)
    return text


def draw_exercise(
    seed: int,
    shape: list[int],
    activation: str = "sigmoid",
    output_activation: str | None = None,
    loss: str = "half_sse",
    learning_rate: float = 0.5,
    samples: int = 1,
    command: str | None = None,
    title: str | None = None,
    note: str | None = None,
) -> tuple[str, Scenario]:
    """random_exercise, with the Scenario read from the text (title: another title; note: a comment line)."""
    import numpy as np

    from bptrace.errors import BptraceError, NumericalError
    from bptrace.model.scenario import loads

    if len(shape) < 2 or any(n < 1 for n in shape):
        raise BptraceError(
            _("a shape needs at least two layer sizes of 1 or more, got {shape}").format(shape=shape),
            hint=_("e.g. --shape 2-2-2 (inputs, hidden, outputs)"),
        )
    out_act = output_activation or (
        "softmax" if loss == "cross_entropy" else "sigmoid" if loss == "bce" else activation
    )
    if loss == "cross_entropy" and out_act != "softmax" or out_act == "softmax" and loss != "cross_entropy":
        raise BptraceError(
            _("a softmax output goes with the cross_entropy loss, and only with it"),
            hint=_("use --loss cross_entropy with --output-activation softmax"),
        )
    if loss == "bce" and out_act != "sigmoid":
        raise BptraceError(
            _("the bce loss needs a sigmoid output (outputs in (0, 1))"),
            hint=_("drop --output-activation, or use a squared loss"),
        )
    rng = np.random.default_rng(seed)

    def draw(*size: int) -> Any:
        # |x| in [0.05, 0.95] with a random sign, 2 decimals: never 0, easy by hand
        magnitude = rng.uniform(0.05, 0.95, size)
        sign = rng.choice([-1.0, 1.0], size)
        return np.round(magnitude * sign, 2)

    for _attempt in range(100):
        layers = [(draw(shape[i + 1], shape[i]), draw(shape[i + 1])) for i in range(len(shape) - 1)]
        inputs = draw(samples, shape[0])
        n_out = shape[-1]
        if loss == "cross_entropy":
            targets = np.eye(n_out)[rng.integers(0, n_out, samples)]
        elif loss == "bce":
            targets = rng.integers(0, 2, (samples, n_out)).astype(float)
        else:
            lo, hi = functions.activation(out_act).target_range  # targets the output can reach
            targets = np.round(rng.uniform(lo, hi, (samples, n_out)), 2)
        text = _exercise_yaml(
            seed, shape, activation, out_act, loss, learning_rate, layers, inputs, targets, command, title, note
        )
        s = loads(text, "<new exercise>")
        try:
            from bptrace.engine.step import trace

            t = trace(s)
        except NumericalError:
            continue
        if any(lt.kink.any() for lt in t.layers):  # a relu exactly at 0: draw again
            continue
        return text, s
    raise BptraceError(_("could not draw an exercise without a relu exactly at 0 or an overflow; try another seed"))


def _exercise_yaml(
    seed: int,
    shape: list[int],
    activation: str,
    out_act: str,
    loss: str,
    eta: float,
    layers: list[tuple[Any, Any]],
    inputs: Any,
    targets: Any,
    command: str | None,
    title: str | None = None,
    note: str | None = None,
) -> str:
    def vec(v: Any) -> str:
        return "[" + ", ".join(_num(x) for x in v) + "]"

    shape_text = "-".join(str(n) for n in shape)
    lines = [
        f"# {command or f'bptrace new --random --seed {seed} --shape {shape_text}'}",
        *([f"# {note}"] if note else []),
        "# " + _("A random exercise: weights, biases and inputs have 2 decimals so it can be done by hand."),
        "title: "
        + _yaml_quoted(title or _("Random exercise {shape} (seed {seed})").format(shape=shape_text, seed=seed)),
        f'source: "bptrace new --random --seed {seed}"',
    ]
    if len(inputs) == 1:
        lines += [f"inputs: {vec(inputs[0])}", f"targets: {vec(targets[0])}"]
    else:
        lines.append("samples:")
        lines += [f"  - {{inputs: {vec(x)}, targets: {vec(t)}}}" for x, t in zip(inputs, targets)]
    lines.append("layers:")
    for i, (w, b) in enumerate(layers):
        act = out_act if i == len(layers) - 1 else activation
        lines.append(f"  - activation: {act}")
        lines.append("    weights:")
        lines += [f"      - {vec(row)}" for row in w]
        lines.append(f"    biases: {vec(b)}")
    lines += [f"loss: {loss}", "reduction: mean", f"learning_rate: {_num(eta)}", "update_biases: true"]
    return "\n".join(lines) + "\n"


def _yaml_quoted(text: str) -> str:
    """text as a double-quoted YAML scalar ("Random exercise 2-2-2 (seed 7)")."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _num(x: float) -> str:
    """A number as YAML text that reads back to exactly the same float (integers without '.0')."""
    x = float(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return repr(x)
