"""`bptrace quiz --variants` for the kinds `bptrace new` does not draw: max_margin, an L2 penalty, mixed and
parametrised activations. Each variant is a fresh random exercise of the same kind; every number of every
format is the engine's for that variant, and every misconception value written is named by `check`'s own
diagnosis (marking.diagnose_answer) with the same code.
"""

from __future__ import annotations

import importlib.util
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.engine import quantities
from bptrace.engine.step import trace as make_trace
from bptrace.fmt import num
from bptrace.grading import marking
from bptrace.model import names
from bptrace.model.scenario import Scenario, load, loads
from bptrace.quiz import moodle, prairielearn, qti, worksheet
from bptrace.quiz.model import Quiz, build, like_exercise

# a network nobody has seen: two hidden layers with different activations, one of them parametrised, per-layer
MIXED = """\
title: "A mixed network: tanh, then leaky_relu with slope 0.2"
source: written for tests/test_quiz_kinds.py
inputs: [0.3, -0.8, 0.5]
targets: [0.2, 0.7]
layers:
  - activation: tanh
    weights: [[0.1, -0.4, 0.3], [0.6, 0.2, -0.5]]
    biases: [0.1, -0.2]
  - activation: leaky_relu
    leaky_slope: 0.2
    weights: [[0.7, -0.3], [-0.6, 0.9], [0.4, 0.5]]
    biases: [0.05, 0.1, -0.1]
  - activation: sigmoid
    weights: [[0.3, -0.2, 0.8], [-0.5, 0.6, 0.1]]
    biases: [0.2, -0.3]
loss: half_sse
learning_rate: 0.5
"""


@pytest.fixture(scope="module")
def mixed_file(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("mixed") / "mixed.yaml"
    path.write_text(MIXED)
    return str(path)


KINDS = ["cs224n_window", "learner_004_l2", "mixed"]


def ref_of(kind: str, mixed_file: str) -> str:
    return mixed_file if kind == "mixed" else kind


def same_kind(s: Scenario, v: Scenario) -> None:
    assert v.loss == s.loss and v.l2 == s.l2 and v.margin == s.margin and v.reduction == s.reduction
    assert v.learning_rate == s.learning_rate and v.update_biases == s.update_biases and v.samples == s.samples
    assert [(la.activation, la.param, la.weights.shape) for la in v.layers] == [
        (la.activation, la.param, la.weights.shape) for la in s.layers
    ]
    assert [la.bias_mode == "none" for la in v.layers] == [la.bias_mode == "none" for la in s.layers]
    assert not np.array_equal(v.inputs, s.inputs)
    assert not np.array_equal(v.layers[0].weights, s.layers[0].weights)
    if s.max_margin:
        assert s.corrupt is not None and v.corrupt is not None
        # the corrupt window differs from the true one exactly where the scenario's does (the centre word)
        assert np.array_equal(v.corrupt != v.inputs, s.corrupt != s.inputs)


@pytest.mark.parametrize("kind", KINDS)
def test_variants_are_fresh_exercises_of_the_same_kind(kind, mixed_file):
    ref = ref_of(kind, mixed_file)
    s = load(ref)
    quiz = build([ref], variants=3, seed=40)
    exercises = quiz.exercises
    assert [e.seed for e in exercises] == [40, 41, 42]
    for e in exercises:
        same_kind(s, e.scenario)
        assert e.source == like_exercise(s, e.seed, ref)  # the same seed, the same exercise
        assert loads(e.source).inputs.tolist() == e.scenario.inputs.tolist()
        t = make_trace(e.scenario)
        assert not any(layer.kink.any() for layer in t.layers)
        for ask in e.asks:
            assert ask.value == quantities.value(names.parse(ask.name, e.scenario), t)
    assert exercises[0].source != exercises[1].source


def diagnosed(s: Scenario, name: str, text: str) -> set[str]:
    lab = marking.marker_for(s)
    return {v.code for v in marking.diagnose_answer(names.parse(name, s), marking.read_number(text), lab)}


@pytest.fixture(scope="module")
def quizzes(mixed_file) -> dict[str, Quiz]:
    return {kind: build([ref_of(kind, mixed_file)], variants=2, seed=70) for kind in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_every_misconception_value_of_a_variant_is_what_check_diagnoses(kind, quizzes):
    seen = 0
    for e in quizzes[kind].exercises:
        for ask in e.asks:
            for m in ask.mistakes:
                found = diagnosed(e.scenario, ask.name, f"{m.value:#.9g}")
                if found == {"rounding"}:
                    assert any(i.contains(m.value) for i in ask.right)
                    continue
                assert m.codes[0] in found, (ask.name, m.value, m.codes, found)
                seen += 1
    assert seen >= 10


@pytest.mark.parametrize("kind", KINDS)
def test_moodle_of_a_variant_parsed_back_and_rediagnosed(kind, quizzes):
    quiz = quizzes[kind]
    root = ET.fromstring(moodle.render(quiz))
    questions = [q for q in root.findall("question") if q.get("type") != "category"]
    assert len(questions) == 2
    tried = 0
    for e, question in zip(quiz.exercises, questions):
        assert question.get("type") == "cloze"
        text = question.findtext("questiontext/text")
        blanks = re.findall(r"\{1:NUMERICAL:(.*?)\}(?=[^}]|$)", text, re.S)
        assert len(blanks) == len(e.asks)
        for ask, body in zip(e.asks, blanks):
            right, *others = body.split("~")
            centre, tolerance = (Decimal(v) for v in right.split("#")[0].lstrip("=").split(":"))
            assert centre == ask.interval.centre and tolerance == ask.interval.tolerance
            for alternative in others:
                match = re.match(r"%0%(-?[0-9.e-]+):[0-9.e-]+#(.*)", alternative, re.S)
                if not match:
                    continue
                codes = set(re.findall(r"\[([a-z-]+)\]", match.group(2)))
                found = diagnosed(e.scenario, ask.name, match.group(1))
                if found == {"rounding"}:
                    continue
                assert codes & found, (ask.name, match.group(1), codes, found)
                tried += 1
    assert tried >= 5


@pytest.mark.parametrize("kind", KINDS)
def test_qti_of_a_variant_lists_each_misconception_value(kind, quizzes):
    quiz = quizzes[kind]
    package = zipfile.ZipFile(io.BytesIO(qti.render(quiz)))
    assert package.testzip() is None
    body = package.read(next(n for n in package.namelist() if n.endswith(".xml") and "imsmanifest" not in n))
    ET.fromstring(body)
    text = body.decode("utf-8")
    for e in quiz.exercises:
        for ask in e.asks:
            for m in ask.mistakes:
                assert f"[{m.codes[0]}]" in text


@pytest.mark.parametrize("kind", KINDS)
def test_prairielearn_grade_of_a_variant_gives_each_misconceptions_feedback(kind, quizzes, tmp_path):
    quiz = quizzes[kind]
    files = prairielearn.render(quiz)
    path = tmp_path / "server.py"
    path.write_bytes(next(v for k, v in files.items() if k.endswith("server.py")))
    spec = importlib.util.spec_from_file_location("server_kind", path)
    assert spec and spec.loader
    server = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(server)
    tried = 0
    for index, e in enumerate(quiz.exercises):
        data = {"params": {}, "correct_answers": {}, "variant_seed": index}
        server.generate(data)
        right = dict(data["correct_answers"])
        for k, ask in enumerate(e.asks, start=1):
            assert right[f"q{k}"] == quantities.value(names.parse(ask.name, e.scenario), make_trace(e.scenario))
            for m in ask.mistakes:
                graded = dict(data, submitted_answers=dict(right, **{f"q{k}": m.value}), partial_scores={}, feedback={})
                server.grade(graded)
                if graded["partial_scores"][f"q{k}"]["score"] == 1.0:  # an early-rounding value: right
                    continue
                assert f"[{m.codes[0]}]" in graded["feedback"][f"q{k}"]
                assert m.codes[0] in diagnosed(e.scenario, ask.name, f"{m.value:#.9g}")
                tried += 1
    assert tried >= 5


@pytest.mark.parametrize("kind", KINDS)
def test_worksheet_key_of_a_variant_has_each_value(kind, quizzes):
    quiz = quizzes[kind]
    sheets = worksheet.render(quiz, pdf=False)
    for e in quiz.exercises:
        key = sheets[f"{e.ident}-key.html"].decode("utf-8")
        assert all(num(a.value) in key for a in e.asks)


def test_the_command_writes_variants_of_every_kind(tmp_path, mixed_file):
    for ref in ["cs224n_window", "learner_004_l2", mixed_file]:
        result = CliRunner().invoke(
            main, ["quiz", ref, "--variants", "2", "--seed", "3", "--format", "moodle", "-o", str(tmp_path / "q.xml"),
                   "--force"]
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert Path(tmp_path / "q.xml").read_text().count('<question type="cloze">') == 2
