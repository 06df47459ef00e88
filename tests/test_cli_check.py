"""`bptrace check`, `template` and `new` as a teacher runs them: exit statuses, stdout, stderr, files."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from mazur_reference import ERRATA, QUANTITIES, exact, published

import bptrace
from bptrace.cli.main import main
from bptrace.engine import step as engine
from bptrace.engine.quantities import value as quantity_value
from bptrace.model import names

EXAMPLES = Path(__file__).parent.parent / "examples"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def exact_sheet(path: Path, student: str, values: dict[str, str], scenario: str = "mazur") -> Path:
    path.write_text(
        f"scenario: {scenario}\nstudent: {student}\nanswers:\n" + "".join(f"  {k}: {v}\n" for k, v in values.items()),
        encoding="utf-8",
    )
    return path


RIGHT = {name: published(name) for name in ("out_o1", "dE/dw5", "w5+")} | {
    "E_total@1": ERRATA["E_total@1"]["original_weights"]
}
# δ = out − target (cross-entropy-delta): δ_o1 = 0.74136507, dE/dw5 = 0.74136507·0.593269992
WRONG = {"out_o1": published("out_o1"), "delta_o1": published("dE/dout_o1"), "dE/dw5": "0.439829", "w5+": "0.3"}


def test_mazurs_published_numbers_two_errata_found_by_themselves() -> None:
    code, out, err = run("check", str(EXAMPLES / "mazur_published.yaml"), "--format", "json")
    assert code == 1, err
    data = json.loads(out)
    wrong = {r["quantity"]: r for r in data["results"] if not r["correct"]}
    assert set(wrong) == {"E_total@1", "E_total@10000"}
    assert wrong["E_total@1"]["diagnosis"] == ["updated-weights"]
    assert wrong["E_total@10000"]["diagnosis"] == ["off-by-one-step"]
    assert "after 9,999 updates" in wrong["E_total@10000"]["explanation"]
    assert data["summary"]["correct"] == data["summary"]["total"] - 2 == len(QUANTITIES)
    assert data["summary"]["first_wrong"] == "E_total@1"
    # the sheet is every published value of tests/data/mazur_reference.yaml, written as the post prints it
    given = {r["quantity"]: r["given"] for r in data["results"]}
    assert given == {name: published(name) for name in QUANTITIES} | {
        "E_total@1": ERRATA["E_total@1"]["published"],
        "E_total@10000": ERRATA["E_total@10000"]["published"],
    }


def test_the_student_example_has_one_misconception() -> None:
    code, out, err = run("check", str(EXAMPLES / "student_cross_entropy.yaml"), "--format", "json")
    assert code == 1, err
    data = json.loads(out)
    wrong = [r for r in data["results"] if r["status"] == "wrong"]
    # under ½(t − out)² out − t is also ∂E/∂out without f′: both readings, the likelier first
    both = ["missing-activation-derivative", "cross-entropy-delta"]
    assert len(wrong) == 7 and all(r["diagnosis"] == both for r in wrong)
    assert data["summary"]["first_wrong"] == "delta_o1"
    assert "One misconception, missing-activation-derivative" in data["summary"]["narrative"]
    assert "Too few significant digits: out_h2." in data["summary"]["narrative"]


def test_ascii_output_is_ascii() -> None:
    code, out, _ = run("check", str(EXAMPLES / "student_cross_entropy.yaml"), "--ascii")
    assert code == 1
    assert out.isascii() and "cross-entropy-delta: delta = out - target" in out


def test_all_right_exits_0_and_shows_the_table(tmp_path: Path) -> None:
    code, out, err = run("check", str(exact_sheet(tmp_path / "ada.yaml", "Ada", RIGHT)))
    assert code == 0, err
    assert err == ""
    assert "Ada" in out and out.count("✓") == 1 + len(RIGHT) and out.count("✗") == 1  # the header has ✓/✗
    assert "Score: 4/4 correct, 4/4 points" in out
    assert "Every answer given is right." in out


def test_a_wrong_answer_exits_1_and_is_diagnosed(tmp_path: Path) -> None:
    code, out, err = run("check", str(exact_sheet(tmp_path / "bob.yaml", "Bob", WRONG)))
    assert code == 1 and err == ""
    assert "cross-entropy-delta" in out
    assert "Your out_o1 is right; your delta_o1 is the first wrong answer: missing-activation-derivative" in out
    assert "0.3 has 1 significant digit" in out
    assert "Score: 1/4 correct" in out


def test_json_shape(tmp_path: Path) -> None:
    code, out, _ = run("check", str(exact_sheet(tmp_path / "bob.yaml", "Bob", WRONG)), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert set(data) >= {"results", "summary", "student", "sheet", "scenario"}
    r = {x["quantity"]: x for x in data["results"]}
    assert set(r["delta_o1"]) >= {"quantity", "given", "expected", "correct", "diagnosis", "explanation"}
    assert r["delta_o1"]["diagnosis"] == ["missing-activation-derivative", "cross-entropy-delta"]
    assert r["delta_o1"]["correct"] is False
    assert r["delta_o1"]["expected"] == pytest.approx(float(exact("delta_o1")), abs=1e-12)
    assert r["w5+"]["status"] == "few-digits" and r["w5+"]["diagnosis"] == []
    assert data["summary"]["score"] == "1/4" and data["summary"]["self_check"] is True


def test_hide_expected_reveals_no_exact_value(tmp_path: Path) -> None:
    sheet = str(exact_sheet(tmp_path / "bob.yaml", "Bob", WRONG))
    code, out, _ = run("check", sheet, "--hide-expected")
    assert code == 1
    header = next(line for line in out.splitlines() if "quantity" in line)
    assert "expected" not in header and published("delta_o1") not in out
    assert f"{float(exact('dE/dw5')):.9g}" not in out
    data = json.loads(run("check", sheet, "--hide-expected", "--format", "json")[1])
    assert all(r["expected"] is None for r in data["results"])


def write_key(path: Path, points: dict[str, int]) -> Path:
    path.write_text(
        "exercise: {scenario: mazur}\nquestions:\n" + "".join(f"  {q}: {p}\n" for q, p in points.items()),
        encoding="utf-8",
    )
    return path


def test_many_sheets_and_a_csv_report(tmp_path: Path) -> None:
    a = exact_sheet(tmp_path / "ada.yaml", "Ada", RIGHT)
    b = exact_sheet(tmp_path / "bob.yaml", "Bob", WRONG)
    c = tmp_path / "cyd.yaml"  # no student: the file name names her
    c.write_text("scenario: mazur\nanswers:\n  out_o1: 0.7514\n", encoding="utf-8")
    questions = dict.fromkeys({**RIGHT, **WRONG}, 1)
    key = write_key(tmp_path / "key.yaml", questions)
    code, out, err = run("check", str(a), str(b), str(c))
    assert code == 1, err
    assert "3 sheets: 2 with every answer right" in out  # the self-check: each sheet's own answers
    report = tmp_path / "answers.csv"
    code, out, err = run("check", str(a), str(b), str(c), "--key", str(key), "--report-long", str(report))
    assert code == 1, err
    rows = list(csv.DictReader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 3 * len(questions)  # with a key every question counts, answered or not
    assert {r["student"] for r in rows} == {"Ada", "Bob", "cyd"}
    bob = {r["quantity"]: r for r in rows if r["student"] == "Bob"}
    assert bob["delta_o1"]["correct"] == "no" and bob["delta_o1"]["diagnosis"] == (
        "missing-activation-derivative cross-entropy-delta"
    )
    assert float(bob["delta_o1"]["expected"]) == pytest.approx(float(exact("delta_o1")), abs=1e-12)
    assert bob["out_o1"]["correct"] == "yes" and bob["out_o1"]["points"] == "1"
    assert bob["dE/dw5"]["verdict"] == "follow-through" and bob["dE/dw5"]["rests_on"] == "delta_o1"
    # JSON of many sheets (self-check)
    data = json.loads(run("check", str(a), str(b), "--format", "json")[1])
    assert [s["student"] for s in data["sheets"]] == ["Ada", "Bob"]
    assert data["summary"] == {"sheets": 2, "all_correct": False, "self_check": True}


def test_gradescope_results_json(tmp_path: Path) -> None:
    sheet = exact_sheet(tmp_path / "bob.yaml", "Bob", {**WRONG, "w6+": published("w6+"), "w5+": "0.3"})
    key = write_key(tmp_path / "key.yaml", {"out_o1": 1, "delta_o1": 1, "dE/dw5": 1, "w5+": 1, "w6+": 2})
    out_file = tmp_path / "results.json"
    code, out, err = run("check", str(sheet), "--key", str(key), "--format", "gradescope", "-o", str(out_file))
    assert code == 1 and out == "", err
    data = json.loads(out_file.read_text(encoding="utf-8"))
    assert data["score"] == 4 and data["max_score"] == 6  # out_o1, dE/dw5 (follow-through), w6+
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["w6+"] == {**tests["w6+"], "score": 2.0, "max_score": 2.0, "status": "passed"}
    assert tests["delta_o1"]["score"] == 0 and "cross-entropy-delta" in tests["delta_o1"]["output"]
    assert "right, given your delta_o1" in tests["dE/dw5"]["output"]
    assert all(set(t) >= {"name", "score", "max_score", "output"} for t in data["tests"])
    code, _, err = run("check", str(sheet), str(sheet), "--key", str(key), "--format", "gradescope")
    assert code == 2 and "one sheet" in err


def test_scenario_option_overrides_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "ex.yaml").write_text(run("new", "--seed", "5", "--shape", "2-2-1")[1], encoding="utf-8")
    s = bptrace.load(str(tmp_path / "ex.yaml"))
    e = quantity_value(names.parse("E_total", s), engine.trace(s))
    sheet = exact_sheet(tmp_path / "s.yaml", "Eve", {"E_total": repr(e)}, scenario="ex.yaml")
    assert run("check", str(sheet))[0] == 0
    code, out, _ = run("check", str(sheet), "-s", "mazur")  # E_total of Mazur's network instead
    assert code == 1 and "Mazur" in out


@pytest.mark.parametrize(
    ("text", "where", "what"),
    [
        (
            "scenario: mazur\nanswers:\n  out_o1: 0.75\n  dE/dw9: 0.1\n",
            ":4:3:",
            "unknown quantity 'dE/dw9' (did you mean",
        ),
        ("answers:\n  out_o1: 0.75\n", ":1:", "the sheet names no scenario"),
        ("scenario: mazur\nanswers:\n  out_o1: [0.75\n", ":4:", "invalid YAML"),
        ("scenario: mazur\nanswers:\n  out_o1: zero point seven\n", ":3:3:", "expected a number"),
        ("scenario: mazzur\nanswers:\n  out_o1: 0.75\n", ":1:1:", "did you mean mazur?"),
    ],
)
def test_bad_sheets_exit_2_with_file_and_line_and_no_traceback(
    tmp_path: Path, text: str, where: str, what: str
) -> None:
    sheet = tmp_path / "bad.yaml"
    sheet.write_text(text, encoding="utf-8")
    code, out, err = run("check", str(sheet))
    assert code == 2
    assert out == ""
    assert err.startswith(f"bptrace: error: {sheet}{where}") and what in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_one_bad_sheet_among_many_still_marks_the_others(tmp_path: Path) -> None:
    good = exact_sheet(tmp_path / "ada.yaml", "Ada", RIGHT)
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario: mazur\nanswers:\n  w99: 1\n", encoding="utf-8")
    code, out, err = run("check", str(good), str(bad))
    assert code == 2
    assert "Ada" in out and f"bptrace: error: {bad}:3:3:" in err
    # with a key, the one unknown name is an invalid answer and the sheet a row of the report
    key = write_key(tmp_path / "key.yaml", dict.fromkeys(RIGHT, 1))
    code, out, err = run("check", str(good), str(bad), "--key", str(key), "--report", str(tmp_path / "g.csv"))
    assert code == 1 and err == ""
    report = (tmp_path / "g.csv").read_text(encoding="utf-8-sig")
    assert "Ada" in report and "\nbad," in report


def test_missing_sheet_file_exits_2(tmp_path: Path) -> None:
    code, _, err = run("check", str(tmp_path / "nope.yaml"))
    assert code == 2 and "no such file" in err


def test_min_digits_and_rtol_options(tmp_path: Path) -> None:
    sheet = str(exact_sheet(tmp_path / "s.yaml", "S", {"w5+": "0.36"}))
    assert run("check", sheet)[0] == 1
    assert run("check", sheet, "--min-digits", "2")[0] == 0
    assert run("check", str(exact_sheet(tmp_path / "t.yaml", "T", {"w5+": "0.3580"})), "--rtol", "0.01")[0] == 0


def test_template_lists_names_that_all_parse(tmp_path: Path) -> None:
    code, out, err = run("template", "mazur")
    assert code == 0, err
    assert out.startswith("# Answer sheet: Mazur")
    assert "scenario: mazur\n" in out and "  # backward pass, layer 2 (o1, o2)\n" in out
    sheet = tmp_path / "t.yaml"
    sheet.write_text(out, encoding="utf-8")
    code, out, err = run("check", str(sheet), "--format", "json")
    assert code == 1  # every answer empty
    data = json.loads(out)
    assert {r["status"] for r in data["results"]} == {"unanswered"}
    assert "w5+" in [r["quantity"] for r in data["results"]]
    code, _, err = run("template", "mazur", "--only", "forwards")
    assert code == 2 and "forwards" in err


def test_template_path_is_relative_to_the_sheet(tmp_path: Path) -> None:
    ex = tmp_path / "ex.yaml"
    ex.write_text(run("new", "--seed", "1")[1], encoding="utf-8")
    (tmp_path / "sheets").mkdir()
    out_file = tmp_path / "sheets" / "s.yaml"
    assert run("template", str(ex), "-o", str(out_file))[0] == 0
    assert "scenario: ../ex.yaml\n" in out_file.read_text(encoding="utf-8")
    # a sheet may only name a file beside it or below its folder: ../ex.yaml needs -s
    code, _, err = run("check", str(out_file))
    assert code == 2 and "is not beside the sheet or below its folder" in err and "-s SCENARIO" in err
    code, _, err = run("check", str(out_file), "-s", str(ex))
    assert code == 1 and err == ""  # the scenario resolves; the sheet is just empty


def test_new_is_deterministic_and_loads(tmp_path: Path) -> None:
    args = ("new", "--random", "--seed", "42", "--shape", "2-3-2")
    code, first, err = run(*args)
    assert code == 0, err
    assert run(*args)[1] == first
    assert run("new", "--seed", "43", "--shape", "2-3-2")[1] != first
    assert first.startswith("# bptrace new --random --seed 42 --shape 2-3-2")
    s = bptrace.loads(first)
    assert [layer.size for layer in s.layers] == [3, 2] and s.loss == "half_sse"
    out_file = tmp_path / "ex.yaml"
    assert run(*args, "--loss", "cross_entropy", "--samples", "3", "-o", str(out_file))[0] == 0
    s = bptrace.load(str(out_file))
    assert s.output_layer.activation == "softmax" and s.samples == 3
    code, _, err = run("new", "--shape", "2")
    assert code == 2 and "shape" in err
    code, _, err = run("new", "--loss", "bce", "--output-activation", "tanh")
    assert code == 2 and "sigmoid" in err


def test_commands_have_examples_in_their_help() -> None:
    for command in ("check", "template", "new"):
        code, out, _ = run(command, "--help")
        assert code == 0 and "Example:" in out
