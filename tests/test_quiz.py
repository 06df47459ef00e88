"""`bptrace quiz`: the quiz model against the engine and `check`, Moodle XML parsed back, the command's errors.

Every number is checked against a trace made here by the engine (names.value), and every misconception value
against `check`'s own diagnosis (marking.diagnose_answer): nothing is typed in.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.engine.quantities import value as quantity_value
from bptrace.engine.step import trace as make_trace
from bptrace.fmt import num
from bptrace.grading import marking
from bptrace.grading.answers import random_exercise
from bptrace.model import names
from bptrace.model.scenario import load, loads
from bptrace.quiz import model
from bptrace.quiz.model import accepted, build, decimal_text, translate

MOODLE_GRADES = {"100", "90", "83.33333", "80", "75", "70", "66.66667", "60", "50", "40", "33.33333", "30", "25",
                 "20", "16.66667", "14.28571", "12.5", "11.11111", "10", "5", "0"}  # fmt: skip


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def mazur_quiz() -> model.Quiz:
    return build(["mazur"])


@pytest.fixture(scope="module")
def variant_quiz() -> model.Quiz:
    return build(["mazur"], variants=3, seed=7, ask=["w5+", "dE/dw1", "delta_o1"])


def exact_value(s, name: str) -> float:
    """The value by the engine, straight from a trace made here (names.value), not through the quiz."""
    return quantity_value(names.parse(name, s), make_trace(s))


# ---------------------------------------------------------------------------------------------------
# The model


def written_answers(x: float, digits: int) -> list[str]:
    """Answers of `digits`..digits+2 significant digits around x, as a student writes them."""
    out = []
    for d in range(digits, digits + 3):
        exponent = Decimal(x).adjusted()
        unit = Decimal(1).scaleb(exponent - d + 1)
        centre = Decimal(x).quantize(unit)
        out += [str(centre + k * unit) for k in range(-3, 4)]
    return out


def test_the_interval_holds_every_answer_check_accepts_and_no_wrong_one_of_the_digits():
    s = load("mazur")
    t = make_trace(s)
    for name in names.all_names(s):
        q = names.parse(name, s)
        x = quantity_value(q, t)
        interval = accepted(x, 3)
        for text in written_answers(x, 3):
            w = marking.read_number(text)
            assert w is not None
            verdict = marking.judge(w, x, 3)
            if verdict.ok:
                assert interval.contains(w.value), (name, text, interval)
            same_place = w.place == interval.centre.as_tuple().exponent and w.digits >= 3
            if same_place and not verdict.ok:  # written to the centre's last place, the platform and check agree
                assert not interval.contains(w.value), (name, text, interval)


def test_tolerances_of_a_key_widen_the_interval():
    x = 0.0821670406
    assert accepted(x, 3) == model.Interval(Decimal("0.0822"), Decimal("0.0001"))
    wide = accepted(x, 3, rtol=0.01)
    assert wide.contains(x * 1.0099) and wide.contains(x * 0.9901)
    assert accepted(0.0, 3).tolerance == 0 and accepted(1e-17, 3).contains(0.0)


def test_the_right_values_are_the_engines(mazur_quiz):
    s = load("mazur")
    (exercise,) = mazur_quiz.exercises
    assert [a.name for a in exercise.asks] == [
        "out_o1",
        "E_total",
        "delta_o1",
        "dE/dw5",
        "w5+",
        "delta_h1",
        "dE/dw1",
        "w1+",
    ]
    for ask in exercise.asks:
        x = exact_value(s, ask.name)
        assert ask.value == x
        assert ask.interval == accepted(x, 3)
        assert ask.explanation.value == pytest.approx(x, rel=1e-12)  # the solution arrives at the same number


def test_every_misconception_value_is_what_check_diagnoses(mazur_quiz):
    """Each wrong value the quiz lists, written to 9 digits or to the rules' 3, is named by `check` with the
    same code(s): the feedback is check's diagnosis."""
    (exercise,) = mazur_quiz.exercises
    lab = marking.marker_for(exercise.scenario)
    seen = 0
    for ask in exercise.asks:
        q = names.parse(ask.name, exercise.scenario)
        assert ask.mistakes, ask.name
        for m in ask.mistakes:
            assert not ask.interval.contains(m.value)
            # to 9 digits the value is its first cause's; to the rules' digits every cause gives it
            for text, codes in ((num(m.value, 9), m.codes[:1]), (decimal_text(m.interval.centre), m.codes)):
                w = marking.read_number(text)
                found = {v.code for v in marking.diagnose_answer(q, w, lab, min_digits=3)}
                if found == {"rounding"}:  # check counts it right: so does the platform, which tries right first
                    assert any(i.contains(w.value) for i in ask.right), (ask.name, text)
                    continue
                assert set(codes) <= found, (ask.name, text, m.codes, found)
            assert all(f"[{c}]" in m.feedback for c in m.codes)
            assert m.credit == 0
            seen += 1
    assert seen > 50


def test_random_variants_are_bptrace_new_exercises(variant_quiz):
    (group,) = variant_quiz.groups
    assert [e.seed for e in group.exercises] == [7, 8, 9]
    for exercise in group.exercises:
        # the command line recorded is `bptrace new`'s, and makes the same file
        code, out, err = run(*exercise.command.split()[1:])
        assert code == 0, err
        assert out == exercise.source
        assert exercise.source == random_exercise(exercise.seed, [2, 2, 2], command=exercise.command)
        s = loads(exercise.source)
        # w5 of Mazur (layer 2, neuron 1, input 1) is W2_1_1 of a 2-2-2 exercise
        assert [a.name for a in exercise.asks] == ["W2_1_1+", "dE/dW1_1_1", "delta_o1"]
        for ask in exercise.asks:
            assert ask.value == exact_value(s, ask.name)


def test_names_are_carried_by_position():
    mazur = load("mazur")
    other = loads(random_exercise(3, [2, 2, 2]))
    assert translate("w6", mazur, other) == "W2_1_2"
    assert translate("dE_o2/dout_h1", mazur, other) == "dE_o2/dout_h1_1"
    assert translate("dnet_h2/dw3", mazur, other) == "dnet_h1_2/dW1_2_1"
    assert translate("w8@3", mazur, other) == "W2_2_2@3"
    with pytest.raises(Exception, match="shared by its layer"):
        translate("dE/db1", mazur, other)


def test_a_key_sets_digits_points_and_credit(tmp_path):
    key = tmp_path / "key.yaml"
    key.write_text(
        "exercise: {scenario: mazur}\n"
        "rules: {min_digits: 4, misconceptions: {missing-learning-rate: 0.5},\n"
        "        accept: [sign-error, delta-sign-convention]}\n"
        "questions:\n  w5+: 2\n  delta_o1: 1\n",
        encoding="utf-8",
    )
    from bptrace.grading.key import read

    quiz = build(["mazur"], key=read(key))
    w5, delta = quiz.exercises[0].asks
    assert (w5.name, w5.points, w5.digits) == ("w5+", 2.0, 4)
    assert w5.interval == accepted(exact_value(load("mazur"), "w5+"), 4)
    eta = [m for m in w5.mistakes if "missing-learning-rate" in m.codes]
    assert eta and all(m.credit == 0.5 for m in eta if set(m.codes) <= {"missing-learning-rate", "missing-half"})
    signs = [m for m in delta.mistakes if set(m.codes) <= {"sign-error", "delta-sign-convention"}]
    assert signs and all(m.credit == 1.0 for m in signs)  # answers the key accepts count as right
    assert all(m.credit == 0 for m in delta.mistakes if "missing-activation-derivative" in m.codes)


# ---------------------------------------------------------------------------------------------------
# Moodle XML


@pytest.fixture(scope="module")
def moodle_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("moodle")
    out = {}
    for label, args in {
        "one": ["mazur", "--ask", "w5+"],
        "cloze": ["mazur", "--variants", "3", "--seed", "7", "--ask", "w5+,dE/dw1", "--ask", "delta_o1"],
    }.items():
        path = folder / f"{label}.xml"
        code, _, err = run("quiz", *args, "--format", "moodle", "-o", str(path))
        assert code == 0, err
        out[label] = path
    return out


def check_question_structure(q: ET.Element) -> None:
    """The structure Moodle's XML format documents for a numerical or cloze question."""
    assert q.get("type") in ("numerical", "cloze")
    for tag in ("name", "questiontext", "generalfeedback"):
        assert q.find(f"{tag}/text") is not None, tag
    assert q.find("questiontext").get("format") == "html"
    assert q.find("generalfeedback").get("format") == "html"
    assert q.findtext("penalty") and q.findtext("hidden") == "0" and q.findtext("idnumber")
    text = q.findtext("questiontext/text")
    files = q.findall("questiontext/file")
    assert len(files) == 1 and files[0].get("encoding") == "base64" and files[0].get("path") == "/"
    assert base64.b64decode(files[0].text).startswith(b"\x89PNG")
    assert f'src="@@PLUGINFILE@@/{files[0].get("name")}"' in text


def test_moodle_numerical_question_parsed_back(moodle_files):
    root = ET.parse(moodle_files["one"]).getroot()
    assert root.tag == "quiz"
    category, question = root.findall("question")
    assert category.get("type") == "category"
    assert category.findtext("category/text") == "$course$/top/bptrace/Mazur: A Step by Step Backpropagation Example"
    check_question_structure(question)
    assert question.get("type") == "numerical" and question.findtext("defaultgrade") == "1"
    for tag in ("unitgradingtype", "unitpenalty", "showunits", "unitsleft"):
        assert question.findtext(tag) is not None
    s = load("mazur")
    x = exact_value(s, "w5+")
    answers = question.findall("answer")
    assert all(a.get("fraction") in MOODLE_GRADES for a in answers)
    right, *wrong, other = answers
    assert right.get("fraction") == "100"
    centre, tolerance = Decimal(right.findtext("text")), Decimal(right.findtext("tolerance"))
    assert abs(Decimal(x) - centre) <= tolerance / 2 and tolerance == Decimal("0.001")
    assert num(x) in right.findtext("feedback/text")
    assert other.findtext("text") == "*" and other.get("fraction") == "0"
    lab = marking.marker_for(s)
    q = names.parse("w5+", s)
    assert len(wrong) >= 5
    for answer in wrong:
        assert answer.get("fraction") == "0"
        value = answer.findtext("text")
        assert abs(Decimal(value) - centre) > tolerance  # never the right answer
        codes = set(re.findall(r"\[([a-z-]+)\]", answer.findtext("feedback/text")))
        found = {v.code for v in marking.diagnose_answer(q, marking.read_number(value), lab)}
        assert codes and codes <= found, (value, codes, found)
    # the general feedback is explain's derivation of w5+
    feedback = question.findtext("generalfeedback/text")
    assert "w5⁺ = w5 − η·∂E_total/∂w5" in feedback and num(x) in feedback


# Moodle's cloze syntax (question/type/multianswer): {WEIGHT:NUMERICAL:alternative~alternative...}, an
# alternative "=" or %FRACTION%, then NUMBER:TOLERANCE or *, then #feedback ending at an unescaped ~ or }
CLOZE = re.compile(r"\{([0-9]*):(NUMERICAL|NM):((?:[^{}~]|\\[{}~])*(?:~(?:[^{}~]|\\[{}~])*)*)\}")
NUMBER = r"-?(?:[0-9]+[.,]?[0-9]*|[.,][0-9]+)(?:[eE][-+]?[0-9]+)?"
ALTERNATIVE = re.compile(rf"(=|%-?[0-9]+(?:[.,][0-9]*)?%)?({NUMBER}:{NUMBER}|\*)(?:#(.*))?", re.S)


def test_moodle_cloze_questions_parsed_back(moodle_files):
    root = ET.parse(moodle_files["cloze"]).getroot()
    category, *questions = root.findall("question")
    assert category.findtext("category/text").startswith("$course$/top/bptrace/Mazur")
    assert len(questions) == 3
    for k, question in enumerate(questions, start=1):
        check_question_structure(question)
        assert question.get("type") == "cloze" and question.findtext("idnumber") == f"mazur-{k}"
        s = loads(random_exercise(6 + k, [2, 2, 2]))
        text = question.findtext("questiontext/text")
        blanks = CLOZE.findall(text)
        assert [b[0] for b in blanks] == ["1", "1", "1"]
        for name, (_, _, body) in zip(["W2_1_1+", "dE/dW1_1_1", "delta_o1"], blanks):
            x = exact_value(s, name)
            alternatives = [ALTERNATIVE.fullmatch(a) for a in body.split("~")]
            assert all(alternatives), body
            right = alternatives[0]
            assert right.group(1) == "="
            centre, tolerance = (Decimal(v) for v in right.group(2).split(":"))
            assert centre == accepted(x, 3).centre and tolerance == accepted(x, 3).tolerance
            assert alternatives[-1].group(2) == "*"
            for alternative in alternatives[1:-1]:
                assert "}" not in alternative.group(3)
                if alternative.group(1) == "=":  # right too: intermediates rounded to the digits (check's rule)
                    assert "rounded to" in alternative.group(3)
                    continue
                assert alternative.group(1)[1:-1] in MOODLE_GRADES
                assert re.match(r"\[[a-z-]+\] ", alternative.group(3))
        assert num(exact_value(s, "W2_1_1+")) in question.findtext("generalfeedback/text")


# ---------------------------------------------------------------------------------------------------
# The command


def test_the_same_command_writes_the_same_bytes(tmp_path):
    args = ["quiz", "single_neuron_mse", "--variants", "2", "--seed", "4", "--ask", "W1_1_1+", "--format", "moodle"]
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        assert run(*args, "-o", str(tmp_path / folder / "q.xml"))[0] == 0
    first = (tmp_path / "a" / "q.xml").read_bytes()
    assert first == (tmp_path / "b" / "q.xml").read_bytes().replace(b"/b/q.xml", b"/a/q.xml")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mazur", "--ask", "w9+"], "unknown quantity 'w9+'"),
        (["mazur", "--seed", "3"], "--seed goes with --variants"),
        (["graph_circuit"], "computational graph"),
        ([], "give a SCENARIO"),
        (["mazur", "--variants", "2", "--seed", "1", "--ask", "dE/db1"], "shared by its layer"),
    ],
)
def test_bad_input_is_one_line_and_status_2(tmp_path, args, message):
    code, out, err = run("quiz", *args, "--format", "moodle", "-o", str(tmp_path / "q.xml"))
    assert code == 2, (out, err)
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "q.xml").exists()


def test_an_existing_file_is_replaced_only_with_force(tmp_path):
    path = tmp_path / "q.xml"
    path.write_text("mine", encoding="utf-8")
    code, _, err = run("quiz", "mazur", "--ask", "out_o1", "--format", "moodle", "-o", str(path))
    assert code == 2 and "the file exists" in err and "--force" in err
    assert path.read_text(encoding="utf-8") == "mine"
    code, _, err = run("quiz", "mazur", "--ask", "out_o1", "--format", "moodle", "-o", str(path), "--force")
    assert code == 0, err
    assert path.read_bytes().startswith(b"<?xml")


def test_a_folder_format_refuses_a_file_and_existing_files(tmp_path):
    file = tmp_path / "x"
    file.write_text("", encoding="utf-8")
    code, _, err = run("quiz", "mazur", "--ask", "out_o1", "--format", "worksheet", "--no-pdf", "-o", str(file))
    assert code == 2 and "is a file" in err
    folder = tmp_path / "sheets"
    assert run("quiz", "mazur", "--ask", "out_o1", "--format", "worksheet", "--no-pdf", "-o", str(folder))[0] == 0
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(before) == {"mazur.html", "mazur-key.html"}
    code, _, err = run("quiz", "mazur", "--ask", "E_total", "--format", "worksheet", "--no-pdf", "-o", str(folder))
    assert code == 2 and "the file exists" in err
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before  # nothing written


# ---------------------------------------------------------------------------------------------------
# Every bundled network scenario, as itself and as a random variant, in every format


def network_scenarios() -> list[str]:
    from bptrace.model.scenario import bundled_graph_names, bundled_names

    return [n for n in bundled_names() if n not in bundled_graph_names()]


@pytest.mark.parametrize("name", network_scenarios())
def test_every_bundled_scenario_in_every_format(name, tmp_path):
    import importlib.util
    import io
    import zipfile

    from bptrace.quiz import moodle, prairielearn, qti, worksheet

    quizzes = [build([name])]
    quizzes.append(build([name], variants=1, seed=21))  # every kind has variants (tests/test_quiz_kinds.py)
    for quiz in quizzes:
        (exercise,) = quiz.exercises
        t = make_trace(exercise.scenario)
        for ask in exercise.asks:
            assert ask.value == quantity_value(names.parse(ask.name, exercise.scenario), t)
        root = ET.fromstring(moodle.render(quiz))
        answers = root.findall(".//question/answer") or root.findall(".//question/questiontext")
        assert answers
        package = zipfile.ZipFile(io.BytesIO(qti.render(quiz)))
        assert package.testzip() is None and "imsmanifest.xml" in package.namelist()
        files = prairielearn.render(quiz)
        server_file = tmp_path / f"server_{len(quizzes)}_{exercise.seed}.py"
        server_file.write_bytes(next(v for k, v in files.items() if k.endswith("server.py")))
        spec = importlib.util.spec_from_file_location(server_file.stem, server_file)
        server = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(server)
        data = {"params": {}, "correct_answers": {}, "variant_seed": 0}
        server.generate(data)
        data.update(submitted_answers=dict(data["correct_answers"]), partial_scores={}, feedback={})
        server.grade(data)
        assert data["score"] == 1.0
        sheets = worksheet.render(quiz, pdf=False)
        key = sheets[f"{exercise.ident}-key.html"].decode("utf-8")
        assert all(num(a.value) in key for a in exercise.asks)


@pytest.mark.parametrize("name", ["rnn_tiny", "layers_conv_pool"])
def test_a_quiz_of_an_rnn_or_a_stack_is_one_line_before_any_seed(tmp_path: Path, name: str) -> None:
    """Found by scripts/fuzz.py (cli:31004980): `quiz rnn_tiny --variants 1` said the seed it drew, then the
    error: two lines on stderr for exit 2. The scenarios are read before a seed is announced."""
    code, out, err = run("quiz", name, "--variants", "1", "--format", "moodle", "-o", str(tmp_path / "q.xml"))
    assert (code, out) == (2, "")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "this command reads" in lines[0] and "seed" not in lines[0], lines


def test_a_bad_ask_with_a_drawn_seed_is_one_line(tmp_path: Path) -> None:
    """Found by scripts/fuzz.py (cli:37028859): `quiz learner_004_l2 --variants 1 --ask nan` said the seed, then
    the error. The seed is said once the quiz is written."""
    out = tmp_path / "q.xml"
    code, _out, err = run(
        "quiz", "learner_004_l2", "--variants", "1", "--format", "moodle", "-o", str(out), "--ask", "nan"
    )
    assert code == 2 and err.strip().splitlines() == [
        "bptrace: error: unknown quantity 'nan' (see docs/quantities.md, or 'bptrace template SCENARIO' for every name)"
    ]
    code, _out, err = run("quiz", "mazur", "--variants", "1", "--format", "moodle", "-o", str(out))
    assert code == 0 and re.fullmatch(r"bptrace: seed \d+ \(add --seed \d+ to make the same quiz again\)\n", err)
