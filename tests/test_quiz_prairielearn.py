"""`bptrace quiz --format prairielearn`: info.json as PrairieLearn's schema requires, question.html's elements,
and server.py run as PrairieLearn runs it (generate(data), then grade(data) with the submitted answers), for
a right sheet and for every misconception, checked against the engine and `check`'s own diagnosis.

The structural rules below are written from PrairieLearn's documentation and its published JSON schema for a
question's info.json (apps/prairielearn/src/schemas/schemas/infoQuestion.json) and for pl-number-input's
attributes (apps/prairielearn/elements/pl-number-input/schemas/pl-number-input.json); no file of
PrairieLearn is copied (its licence is the AGPL).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.engine.quantities import value as quantity_value
from bptrace.engine.step import trace as make_trace
from bptrace.grading import marking
from bptrace.grading.answers import random_exercise
from bptrace.model import names
from bptrace.model.scenario import load, loads

# infoQuestion.json: required, the type's enum, the uuid's pattern, and every property it allows
# (additionalProperties: false)
INFO_REQUIRED = {"uuid", "type", "title", "topic"}
INFO_ALLOWED = INFO_REQUIRED | {
    "comment", "tags", "authors", "clientFiles", "clientTemplates", "template", "gradingMethod", "singleVariant",
    "showCorrectAnswer", "partialCredit", "options", "externalGradingOptions", "dependencies", "workspaceOptions",
    "sharingSets", "sharePublicly", "shareSourcePublicly", "preferences",
}  # fmt: skip
INFO_TYPES = {"Calculation", "MultipleChoice", "Checkbox", "File", "MultipleTrueFalse", "v3"}
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# pl-number-input's attributes (additionalProperties: false); answers-name required
NUMBER_INPUT_ATTRIBUTES = {
    "allow-blank", "allow-complex", "allow-fractions", "answers-name", "aria-label", "atol", "blank-value",
    "comparison", "correct-answer", "custom-format", "digits", "display", "initial-value", "label", "placeholder",
    "rtol", "show-correct-answer", "show-help-text", "show-placeholder", "show-score", "size", "suffix", "weight",
}  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(folder: Path, *args: str) -> Path:
    code, _, err = run("quiz", *args, "--format", "prairielearn", "-o", str(folder))
    assert code == 0, err
    return folder


@pytest.fixture(scope="module")
def questions(tmp_path_factory) -> Path:
    return write(tmp_path_factory.mktemp("pl") / "questions", "mazur", "--variants", "3", "--seed", "11")


def load_server(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"pl_server_{abs(hash(str(path)))}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated(server: ModuleType, variant_seed: int) -> dict:
    """What PrairieLearn passes to generate(), after it ran."""
    data = {"params": {}, "correct_answers": {}, "variant_seed": variant_seed, "options": {}, "preferences": {}}
    server.generate(data)
    return data


def graded(server: ModuleType, data: dict, submitted: dict[str, float]) -> dict:
    """What PrairieLearn passes to grade(): the parsed and raw answers, and the elements' own partial scores."""
    data = json.loads(json.dumps(data))  # PrairieLearn stores data as JSON between the calls
    data.update(
        submitted_answers=dict(submitted),
        raw_submitted_answers={k: repr(v) for k, v in submitted.items()},
        format_errors={},
        partial_scores={k: {"score": 0.0, "weight": 1, "feedback": ""} for k in submitted},
        score=0.0,
        feedback={},
        gradable=True,
    )
    server.grade(data)
    return data


def test_info_json_is_what_prairielearns_schema_asks(questions, tmp_path):
    info = json.loads((questions / "mazur" / "info.json").read_text(encoding="utf-8"))
    assert INFO_REQUIRED <= set(info) <= INFO_ALLOWED
    assert info["type"] in INFO_TYPES and info["type"] == "v3"
    assert UUID.match(info["uuid"]) and uuid.UUID(info["uuid"]).version == 5
    assert all(isinstance(info[k], str) for k in ("title", "topic"))
    assert isinstance(info["tags"], list) and all(isinstance(t, str) for t in info["tags"])
    assert info["singleVariant"] is False and info["partialCredit"] is True
    assert "--seed 11" in info["comment"]
    # the uuid comes from the seed: the same command gives the same one, another seed another
    again = json.loads(
        (write(tmp_path / "a", "mazur", "--variants", "3", "--seed", "11") / "mazur/info.json").read_text()
    )
    other = json.loads(
        (write(tmp_path / "b", "mazur", "--variants", "3", "--seed", "12") / "mazur/info.json").read_text()
    )
    assert again["uuid"] == info["uuid"] != other["uuid"]


class Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.startswith("pl-"):
            self.found.append((tag, dict(attrs)))


def test_question_html_uses_number_inputs_with_significant_figures(questions):
    parser = Elements()
    parser.feed((questions / "mazur" / "question.html").read_text(encoding="utf-8"))
    inputs = [attrs for tag, attrs in parser.found if tag == "pl-number-input"]
    assert [a["answers-name"] for a in inputs] == [f"q{k}" for k in range(1, 9)]
    for attrs in inputs:
        assert set(attrs) <= NUMBER_INPUT_ATTRIBUTES
        assert attrs["comparison"] == "sigfig" and attrs["digits"] == "3"
    figures = [attrs for tag, attrs in parser.found if tag == "pl-figure"]
    assert figures == [{"file-name": "{{params.picture}}", "directory": "clientFilesQuestion"}]
    for k in (1, 2, 3):
        svg = questions / "mazur" / "clientFilesQuestion" / f"network-{k}.svg"
        assert b"<svg" in svg.read_bytes()


def test_server_py_needs_nothing_but_python(questions):
    tree = ast.parse((questions / "mazur" / "server.py").read_text(encoding="utf-8"))
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
    # no bptrace, no numpy, no prairielearn: every number is data; only the standard library's math
    assert [alias.name for n in imports for alias in n.names] == ["math"]
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert {"generate", "grade"} <= functions


def variant_scenario(server: ModuleType, index: int):
    """The variant's exercise, made again here by `bptrace new`'s generator from the seed server.py records."""
    seed = server.VARIANTS[index]["seed"]
    assert seed == 11 + index
    return loads(random_exercise(seed, [2, 2, 2]))


def test_generate_draws_each_variant_with_the_engines_values(questions):
    server = load_server(questions / "mazur" / "server.py")
    assert len(server.VARIANTS) == 3
    for variant_seed in range(6):
        data = generated(server, variant_seed)
        index = variant_seed % 3
        assert data["params"]["variant"] == index
        assert data["params"]["picture"] == f"network-{index + 1}.svg"
        s = variant_scenario(server, index)
        t = make_trace(s)
        answers = server.VARIANTS[index]["answers"]
        for name, value in data["correct_answers"].items():
            assert value == quantity_value(names.parse(answers[name]["quantity"], s), t)
        assert [a["quantity"] for a in answers.values()][:3] == ["out_o1", "E_total", "delta_o1"]


def test_grade_a_right_sheet_scores_1(questions):
    server = load_server(questions / "mazur" / "server.py")
    for variant_seed in range(3):
        data = generated(server, variant_seed)
        result = graded(server, data, data["correct_answers"])
        assert result["score"] == 1.0
        for name in data["correct_answers"]:
            assert result["partial_scores"][name]["score"] == 1.0
            assert result["feedback"][name].startswith("Right: ")


def test_grade_names_every_misconception_as_check_does(questions):
    """Each embedded misconception value, submitted for one answer of an otherwise right sheet, scores 0 for it,
    its feedback names the misconception, and `check` diagnoses the same value with the same code."""
    server = load_server(questions / "mazur" / "server.py")
    tried = 0
    for index in range(3):
        data = generated(server, index)
        s = variant_scenario(server, index)
        lab = marking.marker_for(s)
        answers = server.VARIANTS[index]["answers"]
        for name, answer in answers.items():
            q = names.parse(answer["quantity"], s)
            for mistake in answer["mistakes"]:
                submitted = dict(data["correct_answers"], **{name: mistake["value"]})
                result = graded(server, data, submitted)
                assert result["partial_scores"][name]["score"] == 0.0
                assert all(f"[{c}]" in result["feedback"][name] for c in mistake["codes"])
                others = [result["partial_scores"][n]["score"] for n in answers if n != name]
                assert others == [1.0] * (len(answers) - 1)
                assert result["score"] == pytest.approx((len(answers) - 1) / len(answers))
                w = marking.read_number(f"{mistake['value']:#.9g}")  # nine digits, trailing zeros kept
                found = {v.code for v in marking.diagnose_answer(q, w, lab)}
                assert mistake["codes"][0] in found, (answer["quantity"], mistake, found)
                tried += 1
        # anything else: 0, and the feedback says no known misconception gives it
        result = graded(server, data, dict(data["correct_answers"], q1=12345.0))
        assert result["partial_scores"]["q1"]["score"] == 0.0 and "not a value any known" in result["feedback"]["q1"]
    assert tried > 100


def test_a_keys_share_for_a_misconception_is_partial_credit(tmp_path):
    key = tmp_path / "key.yaml"
    key.write_text(
        "exercise: {scenario: mazur}\nrules: {misconceptions: {missing-learning-rate: 0.5}}\n"
        "questions:\n  w5+: 2\n  out_o1: 1\n",
        encoding="utf-8",
    )
    folder = write(tmp_path / "questions", "--key", str(key))
    info = json.loads((folder / "mazur" / "info.json").read_text(encoding="utf-8"))
    assert info["singleVariant"] is True
    server = load_server(folder / "mazur" / "server.py")
    data = generated(server, 0)
    (variant,) = server.VARIANTS
    eta = [m for m in variant["answers"]["q1"]["mistakes"] if m["codes"] == ["missing-learning-rate"]]
    assert eta
    s = load("mazur")
    x = quantity_value(names.parse("w5+", s), make_trace(s))
    assert data["correct_answers"]["q1"] == x
    for mistake in eta:
        result = graded(server, data, dict(data["correct_answers"], q1=mistake["value"]))
        assert result["partial_scores"]["q1"]["score"] == 0.5
        assert result["score"] == pytest.approx((0.5 * 2 + 1) / 3)  # w5+ is worth 2 points, out_o1 1


# ---------------------------------------------------------------------------------------------------
# Follow-through: server.py's grade() against `bptrace check --key`


def carried_sheet(exercise, wrong_index: int) -> dict[str, float]:
    """A student who gets one asked quantity wrong (× 1.37) and carries it forward: each later asked quantity
    is the value bptrace's World recomputes from the student's own earlier answers (the right one where it
    rests on no wrong answer), as a demanding student would compute it."""
    from bptrace.grading.followthrough import World

    asks = exercise.asks
    wrong = asks[wrong_index].name
    given: dict[str, float] = {}
    world = World(exercise.trace, given, lambda name: frozenset([wrong]) if name in given else frozenset())
    answers: dict[str, float] = {}
    for k, ask in enumerate(asks):
        if k == wrong_index:
            value = ask.value * 1.37
        else:
            again = world.recompute(ask.name) if k > wrong_index else None
            value = again.value if again is not None and again.rests_on else ask.value
        value = float(f"{value:#.9g}")
        answers[ask.name] = value
        if k >= wrong_index and value != ask.value:
            given[ask.name] = value
        world._memo.clear()
    return answers


def check_key_verdicts(tmp_path: Path, exercise, answers: dict[str, float]) -> dict[str, dict]:
    import yaml

    folder = tmp_path / f"ft{len(list(tmp_path.iterdir()))}"
    folder.mkdir()
    scenario = exercise.source or ""
    ref = "exercise.yaml"
    if exercise.source is None:
        ref = "mazur"
    else:
        (folder / ref).write_text(scenario)
    key = {"exercise": {"scenario": ref}, "rules": {"min_digits": 3, "follow_through": 1},
           "questions": {a.name: 1 for a in exercise.asks}}  # fmt: skip
    (folder / "key.yaml").write_text(yaml.safe_dump(key, sort_keys=False))
    sheet = {"scenario": ref, "student": "T", "answers": {n: f"{v:#.9g}" for n, v in answers.items()}}
    (folder / "sheet.yaml").write_text(yaml.safe_dump(sheet, sort_keys=False))
    result = CliRunner().invoke(
        main, ["check", str(folder / "sheet.yaml"), "--key", str(folder / "key.yaml"), "--format", "json"]
    )
    assert result.exit_code in (0, 1), result.stderr
    (student,) = json.loads(result.stdout)["students"]
    return {a["quantity"]: a for a in student["answers"]}


@pytest.mark.parametrize(
    "args",
    [
        ["mazur"],
        ["ng_shallow", "--variants", "2", "--seed", "5"],
        ["softmax_classifier", "--variants", "1", "--seed", "9"],
        ["learner_004_l2", "--variants", "1", "--seed", "2"],
    ],
)
def test_grade_gives_follow_through_as_check_key_does(tmp_path, args):
    """An earlier answer wrong and the later ones right given it: server.py's grade() gives the same verdicts as
    `check --key` (follow-through: full credit by default, feedback "right, given your …" naming the same
    earlier answers), run with the data PrairieLearn passes."""
    from bptrace.quiz.model import build

    folder = write(tmp_path / "q", *args)
    (question,) = [p for p in folder.iterdir() if p.is_dir()]
    server = load_server(question / "server.py")
    quiz = build(
        [args[0]], variants=int(args[2]) if len(args) > 1 else None, seed=int(args[4]) if len(args) > 1 else None
    )
    carried = 0
    for index, exercise in enumerate(quiz.exercises):
        data = generated(server, index)
        by_quantity = {a["quantity"]: n for n, a in server.VARIANTS[index]["answers"].items()}
        for wrong_index in range(len(exercise.asks) - 1):
            answers = carried_sheet(exercise, wrong_index)
            verdicts = check_key_verdicts(tmp_path, exercise, answers)
            result = graded(server, data, {by_quantity[n]: v for n, v in answers.items()})
            for name, verdict in verdicts.items():
                part = result["partial_scores"][by_quantity[name]]
                if verdict["verdict"] == "correct":
                    assert part["score"] == 1.0 and part["feedback"].startswith("Right"), (name, part)
                elif verdict["verdict"] == "follow-through":
                    assert part["score"] == 1.0, (name, verdict, part)
                    if part["feedback"].startswith("Right"):  # within the right interval at 3 digits: right there
                        ask = next(a for a in exercise.asks if a.name == name)
                        assert any(i.contains(answers[name]) for i in ask.right)
                        continue
                    assert part["feedback"] == "right, given your " + ", ".join(verdict["rests_on"]), part
                    carried += 1
                else:
                    assert part["score"] < 1.0, (name, verdict, part)
            assert result["score"] == pytest.approx(sum(v["points"] for v in verdicts.values()) / len(verdicts))
    assert carried >= 3


# The structure of info.json as PrairieLearn documents it, as a JSON Schema written here (no PyPI package ships
# PrairieLearn's own schema, and PrairieLearn's files are AGPL: none is copied; docs/platforms.md).
INFO_SCHEMA = {
    "type": "object",
    "required": sorted(INFO_REQUIRED),
    "additionalProperties": False,
    "properties": {
        **{name: {} for name in sorted(INFO_ALLOWED)},
        "uuid": {"type": "string", "pattern": UUID.pattern},
        "type": {"enum": sorted(INFO_TYPES)},
        "title": {"type": "string", "minLength": 1},
        "topic": {"type": "string", "minLength": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "comment": {"type": ["string", "array", "object"]},
        "singleVariant": {"type": "boolean"},
        "partialCredit": {"type": "boolean"},
    },
}


@pytest.mark.parametrize("args", [["mazur"], ["cs224n_window", "--variants", "2", "--seed", "1"],
                                  ["learner_004_l2", "ng_shallow", "--variants", "2", "--seed", "3"]])  # fmt: skip
def test_every_info_json_validates_against_the_documented_schema(tmp_path, args):
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(INFO_SCHEMA)
    folder = write(tmp_path / "q", *args)
    infos = sorted(folder.glob("*/info.json"))
    assert len(infos) == len([a for a in args if not a.startswith("-") and not a.isdigit()])
    for path in infos:
        jsonschema.validate(json.loads(path.read_text(encoding="utf-8")), INFO_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):  # the schema can fail: a wrong type, an unknown property
        jsonschema.validate({**json.loads(infos[0].read_text()), "type": "v4"}, INFO_SCHEMA)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**json.loads(infos[0].read_text()), "colour": "red"}, INFO_SCHEMA)
