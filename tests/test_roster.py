"""Per-student exercises: `bptrace new --roster` and `bptrace check SHEETS... --key key.yaml` finding each
student's own exercise by the id on the sheet, with hand-written rosters and sheets.

The right values a sheet is filled with come from an oracle of this file: the exercise's YAML read with
PyYAML, the forward pass written out in numpy and every derivative by HIPS autograd (never bptrace's engine).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.grading import roster as roster_mod

ROSTER = (
    "student_id,student,email\ns01,Ada Lovelace,ada@example.org\ns02,王小明,wang@example.org\n"
    "s03,张伟,\ns04,Ben Okafor,\n"
)
QUESTIONS = ["net_h1_1", "out_h1_1", "out_o1", "E_total", "delta_o1", "dE/dW2_1_1", "W2_1_1+", "W1_1_1+", "E_total@1"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


# ---------------------------------------------------------------------------------------------------
# The oracle: a 2-H-K sigmoid network under ½Σ(t − out)², one sample, biases updated


def oracle(exercise: Path) -> dict[str, float]:
    d = yaml.safe_load(exercise.read_text(encoding="utf-8"))
    assert d["loss"] == "half_sse" and d["update_biases"] is True
    assert all(layer["activation"] == "sigmoid" for layer in d["layers"])
    x, t = np.array(d["inputs"], float), np.array(d["targets"], float)
    (w1, b1), (w2, b2) = [(np.array(la["weights"], float), np.array(la["biases"], float)) for la in d["layers"]]
    eta = float(d["learning_rate"])

    def sig(z: Any) -> Any:
        return 1.0 / (1.0 + anp.exp(-z))

    def loss(p: list[Any]) -> Any:
        a1, c1, a2, c2 = p
        h = sig(anp.dot(a1, x) + c1)
        return anp.sum(0.5 * (t - sig(anp.dot(a2, h) + c2)) ** 2)

    params = [w1, b1, w2, b2]
    g1, gb1, g2, gb2 = autograd.grad(loss)(params)
    net1 = w1 @ x + b1
    h = 1 / (1 + np.exp(-net1))
    net2 = w2 @ h + b2

    def loss_of_net2(z: Any) -> Any:
        return anp.sum(0.5 * (t - sig(z)) ** 2)

    delta2 = autograd.grad(loss_of_net2)(net2)
    new = [w1 - eta * g1, b1 - eta * gb1, w2 - eta * g2, b2 - eta * gb2]
    return {
        "net_h1_1": float(net1[0]),
        "out_h1_1": float(h[0]),
        "out_o1": float(1 / (1 + np.exp(-net2[0]))),
        "E_total": float(loss(params)),
        "delta_o1": float(delta2[0]),
        "dE/dW2_1_1": float(g2[0, 0]),
        "W2_1_1+": float(new[2][0, 0]),
        "W1_1_1+": float(new[0][0, 0]),
        "E_total@1": float(loss(new)),
    }


def key_text(roster: str = "roster.csv", seed: int = 7, shape: str = "2-3-2", questions: list[str] = QUESTIONS) -> str:
    lines = ["exercise:", f"  roster: {roster}", f"  seed: {seed}", f"  shape: {shape}", "questions:"]
    return "\n".join(lines + [f"  {json.dumps(q)}: 1" for q in questions]) + "\n"


def sheet_text(student_id: str | None, values: dict[str, float | str], student: str | None = None) -> str:
    lines = []
    if student:
        lines.append(f"student: {json.dumps(student, ensure_ascii=False)}")
    if student_id is not None:
        lines.append(f"id: {student_id}")
    lines.append("answers:")
    lines += [
        f"  {json.dumps(q)}: {v:.9g}" if isinstance(v, float) else f"  {json.dumps(q)}: {v}" for q, v in values.items()
    ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def made(tmp_path: Path) -> Path:
    """A class made by `bptrace new --roster` (the exercises the oracle reads), with a hand-written key."""
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    code, _out, err = run(
        "new", "--roster", str(tmp_path / "roster.csv"), "--seed", "7", "--shape", "2-3-2", "-o", str(tmp_path / "cls")
    )
    assert code == 0, err
    assert "wrote 4 exercises and blank sheets" in err
    (tmp_path / "cls" / "mykey.yaml").write_text(key_text("../roster.csv"), encoding="utf-8")
    return tmp_path / "cls"


def mark_json(*args: str) -> tuple[int, dict[str, Any], str]:
    code, out, err = run("check", *args, "--format", "json")
    assert code in (0, 1), err
    return code, json.loads(out), err


def by_file(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(s["file"]).stem: s for s in data["students"]}


def answers_of(student: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["quantity"]: a for a in student["answers"]}


# ---------------------------------------------------------------------------------------------------
# new --roster


def test_new_roster_writes_an_exercise_and_a_sheet_per_student_and_one_key(made: Path) -> None:
    names = sorted(p.name for p in made.iterdir())
    ids = ["s01", "s02", "s03", "s04"]
    assert names == sorted(
        [f"exercise-{i}.yaml" for i in ids] + [f"sheet-{i}.yaml" for i in ids] + ["key.yaml", "mykey.yaml"]
    )
    # each student's exercise is different, and each is what `bptrace new --seed N` draws on its own
    texts = {i: (made / f"exercise-{i}.yaml").read_text(encoding="utf-8") for i in ids}
    assert len({yaml.safe_load(t)["layers"].__repr__() for t in texts.values()}) == 4
    for i, text in texts.items():
        seed = roster_mod.student_seed(7, i)
        assert (
            text.splitlines()[0]
            == f"# bptrace new --random --seed {seed} --shape 2-3-2 --activation sigmoid --loss half_sse "
            "--learning-rate 0.5"
        )
        code, alone, _err = run("new", "--seed", str(seed), "--shape", "2-3-2")
        assert code == 0
        assert yaml.safe_load(alone)["layers"] == yaml.safe_load(text)["layers"]
        assert yaml.safe_load(alone)["inputs"] == yaml.safe_load(text)["inputs"]
    assert yaml.safe_load(texts["s02"])["title"] == "Random exercise 2-3-2 for 王小明 (s02)"
    # the blank sheet carries the student's name and id, and names the exercise beside it
    sheet = yaml.safe_load((made / "sheet-s02.yaml").read_text(encoding="utf-8"))
    assert sheet["student"] == "王小明" and sheet["id"] == "s02" and sheet["scenario"] == "exercise-s02.yaml"
    assert "net_h1_1" in sheet["answers"] and sheet["answers"]["net_h1_1"] is None
    key = yaml.safe_load((made / "key.yaml").read_text(encoding="utf-8"))
    assert key["exercise"] == {
        "roster": "../roster.csv",
        "seed": 7,
        "shape": "2-3-2",
        "activation": "sigmoid",
        "output_activation": None,
        "loss": "half_sse",
        "learning_rate": 0.5,
        "samples": 1,
    }


def test_same_roster_and_seed_give_the_same_files_and_a_new_student_changes_no_one(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(ROSTER, encoding="utf-8")
    # the roster in another order, with a late student: the others' exercises are the same
    rows = ROSTER.splitlines()
    (tmp_path / "b.csv").write_text(
        "\n".join([rows[0], "s99,Late Comer", *reversed(rows[1:])]) + "\n", encoding="utf-8"
    )
    for name, roster in (("one", "a.csv"), ("two", "a.csv"), ("three", "b.csv")):
        code, _out, err = run(
            "new", "--roster", str(tmp_path / roster), "--seed", "31", "--shape", "2-2-2", "-o", str(tmp_path / name)
        )
        assert code == 0, err
    for i in ("s01", "s02", "s03", "s04"):
        one = (tmp_path / "one" / f"exercise-{i}.yaml").read_bytes()
        assert one == (tmp_path / "two" / f"exercise-{i}.yaml").read_bytes()
        assert one == (tmp_path / "three" / f"exercise-{i}.yaml").read_bytes()
    assert (tmp_path / "three" / "exercise-s99.yaml").exists()
    # another seed: other exercises
    code, _out, _err = run(
        "new", "--roster", str(tmp_path / "a.csv"), "--seed", "32", "--shape", "2-2-2", "-o", str(tmp_path / "four")
    )
    assert code == 0
    assert (tmp_path / "four" / "exercise-s01.yaml").read_bytes() != (
        tmp_path / "one" / "exercise-s01.yaml"
    ).read_bytes()


def test_new_roster_never_replaces_without_force_and_needs_a_folder(made: Path) -> None:
    before = (made / "exercise-s01.yaml").read_bytes()
    roster = str(made.parent / "roster.csv")
    code, _out, err = run("new", "--roster", roster, "--seed", "8", "--shape", "2-3-2", "-o", str(made))
    assert code == 2 and "the file exists" in err and "--force" in err and "Traceback" not in err
    assert (made / "exercise-s01.yaml").read_bytes() == before  # nothing was written
    code, _out, err = run("new", "--roster", roster, "--seed", "8", "--shape", "2-3-2", "-o", str(made), "--force")
    assert code == 0, err
    assert (made / "exercise-s01.yaml").read_bytes() != before
    code, _out, err = run("new", "--roster", roster, "--seed", "8", "--shape", "2-3-2")
    assert code == 2 and "-o FOLDER" in err
    code, _out, err = run("new", "--roster", roster, "--seed", "8", "-o", str(made / "no" / "such"))
    assert code == 2 and "does not exist" in err


# ---------------------------------------------------------------------------------------------------
# Rosters


@pytest.mark.parametrize(
    "header",
    ["id,name", "student_id,student", "Student ID,Full Name", "学号,姓名", "sid;name", "name\tid"],
)
def test_the_id_and_name_columns_are_found_under_common_spellings(tmp_path: Path, header: str) -> None:
    sep = ";" if ";" in header else "\t" if "\t" in header else ","
    first, second = header.split(sep)
    rows = [("s1", "王小明"), ("s2", "Ada Lovelace")]
    if first.lower() == "name":
        rows = [(b, a) for a, b in rows]
    text = header + "\n" + "\n".join(sep.join(r) for r in rows) + "\n"
    path = tmp_path / "r.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))  # Excel's "CSV UTF-8" has a byte-order mark
    r = roster_mod.read(path)
    assert [(s.id, s.name) for s in r.students] == [("s1", "王小明"), ("s2", "Ada Lovelace")]
    assert r.find("S1") is r.students[0]


@pytest.mark.parametrize(
    ("text", "line", "said"),
    [
        ("id,name\ns1,Ada\ns2,Ben\nS1,Chloe\n", 4, "the id S1 is already on line 2 (Ada)"),
        ("number,email\n1,a@x\n", 1, "the header row has no name column"),
        ("nom,prénom\n1,a\n", 1, "the header row has no id column (it has: 'nom', 'prénom')"),
        ("id,student_id,name\n1,2,a\n", 1, "the header row has two id columns"),
        ("id,name\ns1,Ada\n,Ben\n", 3, "row 3 has no id"),
        ("id,name\ns1,Ada\ns/2,Ben\n", 3, "the id 's/2' may hold only letters"),
        ("id,name\ns1,\n", 2, "the student s1 has no name"),
        ('id,name\ns1,"Ada\n', 2, "not a valid CSV row"),
        ("\n\n", 1, "the roster is empty"),
    ],
)
def test_a_bad_roster_is_one_line_with_its_line_and_the_fix(tmp_path: Path, text: str, line: int, said: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(text, encoding="utf-8")
    code, _out, err = run("new", "--roster", str(path), "--seed", "1", "-o", str(tmp_path / "out"))
    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{path}:{line}: " in err and said in err
    assert "(" in err.split(said)[-1]  # the fix, in parentheses
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_roster_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes("学号,姓名\ns1,王小明\n".encode("gbk"))  # what Chinese Excel saves as plain "CSV"
    code, _out, err = run("new", "--roster", str(path), "--seed", "1", "-o", str(tmp_path / "out"))
    assert code == 2 and "is not UTF-8 text" in err and "save the file as UTF-8" in err


# ---------------------------------------------------------------------------------------------------
# check with a per-student key


def test_each_sheet_is_marked_against_its_own_exercise_and_a_neighbours_numbers_are_flagged(made: Path) -> None:
    truth = {i: oracle(made / f"exercise-{i}.yaml") for i in ("s01", "s02", "s03", "s04")}
    sheets = made / "returned"
    sheets.mkdir()
    # Ada: all right.  王小明: all right, his own numbers.  张伟: Ada's numbers, copied.
    # Ben: a slip in net_h1_1 carried through, then one more wrong value.
    (sheets / "ada.yaml").write_text(sheet_text("s01", truth["s01"], "Ada Lovelace"), encoding="utf-8")
    (sheets / "wang.yaml").write_text(sheet_text("s02", truth["s02"], "王小明"), encoding="utf-8")
    (sheets / "zhang.yaml").write_text(sheet_text("s03", truth["s01"], "张伟"), encoding="utf-8")
    ben = dict(truth["s04"])
    ben["net_h1_1"] = round(ben["net_h1_1"] + 0.1, 4)
    ben["out_h1_1"] = float(1 / (1 + np.exp(-ben["net_h1_1"])))  # right, given his net_h1_1
    ben["E_total"] = ben["E_total"] * 1.37
    (sheets / "ben.yaml").write_text(sheet_text("s04", ben), encoding="utf-8")
    # an id that is not on the roster, and a sheet without one
    (sheets / "stranger.yaml").write_text(sheet_text("s05", truth["s01"], "Stranger"), encoding="utf-8")
    (sheets / "noid.yaml").write_text(sheet_text(None, truth["s01"], "No Id"), encoding="utf-8")
    files = sorted(str(p) for p in sheets.iterdir())
    code, data, err = mark_json(*files, "--key", str(made / "mykey.yaml"))
    assert code == 1
    s = by_file(data)
    n = len(QUESTIONS)
    assert {k: v["score"] for k, v in s.items()} == {
        "ada": n,
        "wang": n,
        "zhang": s["zhang"]["score"],
        "ben": n - 2,
        "stranger": 0,
        "noid": 0,
    }
    assert all(v["max_score"] == n for v in s.values())
    assert s["ada"]["id"] == "s01" and s["wang"]["student"] == "王小明" and s["wang"]["id"] == "s02"
    assert all(a["verdict"] == "correct" for a in s["wang"]["answers"])
    # the expected values are each student's own exercise's, as the oracle computes them
    for stem, sid in (("ada", "s01"), ("wang", "s02"), ("zhang", "s03"), ("ben", "s04")):
        for q, a in answers_of(s[stem]).items():
            assert a["expected"] == pytest.approx(truth[sid][q], rel=1e-12, abs=1e-15)
    # 张伟 copied Ada's: marked against his own numbers (wrong), and flagged as Ada's
    zhang = answers_of(s["zhang"])
    assert zhang["net_h1_1"]["verdict"] == "wrong"
    assert sum(a["verdict"] == "correct" for a in zhang.values()) == 0
    assert s["zhang"]["score"] < n / 2
    [match] = s["zhang"]["matches_exercise_of"]
    assert match["id"] == "s01" and match["student"] == "Ada Lovelace"
    assert set(match["answers"]) == set(QUESTIONS)
    flags = data["summary"]["flags"]
    [flag] = [f for f in flags if f["kind"] == "neighbour-exercise"]
    assert "matches the exercise of s01" in flag["detail"].replace("match the", "matches the")
    assert "张伟 (s03)" in flag["detail"] and flag["files"] == [str(sheets / "zhang.yaml")]
    # no one else is flagged: right answers, and a student's own slips, are no neighbour's
    assert all(s[k]["matches_exercise_of"] == [] for k in ("ada", "wang", "ben", "stranger", "noid"))
    ben_answers = answers_of(s["ben"])
    assert ben_answers["net_h1_1"]["verdict"] == "wrong"
    assert ben_answers["out_h1_1"]["verdict"] == "follow-through" and ben_answers["out_h1_1"]["rests_on"] == [
        "net_h1_1"
    ]
    assert ben_answers["E_total"]["verdict"] == "wrong"
    # the unknown id and the missing id are rows with 0 points and the reason
    assert "the id 's05' is not on the roster" in s["stranger"]["error"] and "did you mean" in s["stranger"]["error"]
    assert s["stranger"]["answers"] == [] and s["stranger"]["id"] is None
    assert "the sheet has no id" in s["noid"]["error"] and "add id: YOUR_ID" in s["noid"]["error"]
    assert "stranger.yaml" in err and "(marked 0)" in err
    # the JSON keeps the fields of issue 14 (and adds id, matches_exercise_of)
    for st in data["students"]:
        assert {"student", "id", "file", "score", "max_score", "error", "answers", "matches_exercise_of"} <= set(st)
        for a in st["answers"]:
            assert {"quantity", "given", "expected", "verdict", "points", "codes", "rests_on"} <= set(a)
    summary = data["summary"]
    assert {q["quantity"]: q["percent_correct"] for q in summary["questions"]}["E_total"] == pytest.approx(100 * 2 / 6)
    # the terminal's class view says it too, and the grade report has the id column
    code, out, _err = run(
        "check", *files, "--key", str(made / "mykey.yaml"), "--summary", "--report", str(made / "grades.csv")
    )
    assert code == 1
    assert "neighbour-exercise" in out and "match the exercise of s01 (Ada Lovelace), not their own" in out
    raw = (made / "grades.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["student", "id", "sheet"]
    assert ["王小明", "s02", str(sheets / "wang.yaml")] == next(r[:3] for r in rows if r[1] == "s02")


def test_a_sheet_with_the_roster_name_wrong_or_an_id_written_as_a_number(made: Path) -> None:
    truth = oracle(made / "exercise-s02.yaml")
    sheet = made / "mine.yaml"
    # id: written unquoted (YAML would read 0s2... as text anyway; a number id keeps its digits)
    sheet.write_text(sheet_text("S02", truth, "Wang Xiaoming"), encoding="utf-8")
    code, data, _err = mark_json(str(sheet), "--key", str(made / "mykey.yaml"))
    assert code == 0
    [st] = data["students"]
    assert st["student"] == "王小明" and st["id"] == "s02" and st["score"] == len(QUESTIONS)
    assert any("is not the roster's name for s02" in w for w in st["warnings"])


def test_numeric_ids_keep_their_leading_zeros(tmp_path: Path) -> None:
    (tmp_path / "roster.csv").write_text("学号,姓名\n007,李华\n7,王芳\n", encoding="utf-8")
    code, _out, err = run(
        "new", "--roster", str(tmp_path / "roster.csv"), "--seed", "3", "--shape", "2-2-1", "-o", str(tmp_path / "c")
    )
    assert code == 0, err
    truth = oracle(tmp_path / "c" / "exercise-007.yaml")
    qs = ["net_h1_1", "out_h1_1", "out_o1", "E_total"]
    (tmp_path / "c" / "k.yaml").write_text(key_text("../roster.csv", 3, "2-2-1", qs), encoding="utf-8")
    (tmp_path / "s.yaml").write_text(sheet_text("007", {q: truth[q] for q in qs}), encoding="utf-8")  # id: 007 unquoted
    code, data, _err = mark_json(str(tmp_path / "s.yaml"), "--key", str(tmp_path / "c" / "k.yaml"))
    assert code == 0 and data["students"][0]["id"] == "007" and data["students"][0]["student"] == "李华"


def test_the_blank_sheets_filled_in_are_marked_and_self_checked(made: Path) -> None:
    """What a student gets (sheet-ID.yaml beside exercise-ID.yaml) is checked on its own, and marked with the key."""
    truth = oracle(made / "exercise-s03.yaml")
    blank = (made / "sheet-s03.yaml").read_text(encoding="utf-8")
    lines = []
    for line in blank.splitlines():
        name = line.strip().rstrip(":")
        lines.append(f"  {name}: {truth[name]:.9g}" if line.startswith("  ") and name in truth else line)
    filled = "\n".join(lines) + "\n"
    (made / "sheet-s03.yaml").write_text(filled, encoding="utf-8")
    code, out, err = run("check", str(made / "sheet-s03.yaml"), "--format", "json")  # the student's self-check
    assert code == 1, err  # (the questions left empty are not right)
    marked = {r["quantity"]: r for r in json.loads(out)["results"] if r["given"] is not None}
    assert set(marked) == set(QUESTIONS) and all(r["correct"] for r in marked.values())
    code, data, _err = mark_json(str(made / "sheet-s03.yaml"), "--key", str(made / "key.yaml"))
    [st] = data["students"]
    assert st["student"] == "张伟" and st["id"] == "s03"
    verdicts = {a["quantity"]: a["verdict"] for a in st["answers"]}
    assert all(verdicts[q] == "correct" for q in QUESTIONS)
    assert {v for q, v in verdicts.items() if q not in QUESTIONS} == {"unanswered"}
    # Gradescope: one submission, against its own exercise
    code, out, _err = run(
        "check", str(made / "sheet-s03.yaml"), "--key", str(made / "mykey.yaml"), "--format", "gradescope"
    )
    assert code == 0 and json.loads(out)["score"] == len(QUESTIONS)


def test_a_bad_per_student_key_is_one_line(made: Path) -> None:
    cases = {
        "exercise: {roster: nope.csv, seed: 1, shape: 2-2-2}\nquestions: {out_o1: 1}\n": "no roster file",
        "exercise: {roster: ../roster.csv, shape: 2-2-2}\nquestions: {out_o1: 1}\n": "needs exercise.seed",
        "exercise: {roster: ../roster.csv, seed: 1, shape: 2-}\nquestions: {out_o1: 1}\n": "is not a shape",
        "exercise: {roster: ../roster.csv, seed: 1, shape: 2-2, loss: l1}\nquestions: {out_o1: 1}\n": "unknown loss",
        "exercise: {roster: ../roster.csv, seed: 1, shape: 2-2-2}\nquestions: {out_o9: 1}\n": "unknown quantity",
    }
    for text, said in cases.items():
        (made / "bad.yaml").write_text(text, encoding="utf-8")
        (made / "s.yaml").write_text("id: s01\nanswers: {out_o1: 0.5}\n", encoding="utf-8")
        code, _out, err = run("check", str(made / "s.yaml"), "--key", str(made / "bad.yaml"))
        assert code == 2 and said in err and f"{made / 'bad.yaml'}:" in err and err.count("\n") == 1, (text, err)


def test_a_key_of_one_exercise_gives_null_ids_and_no_matches(tmp_path: Path) -> None:
    """The named form (Mazur) with a key of one scenario: id is null, nothing is a neighbour's."""
    (tmp_path / "k.yaml").write_text(
        "exercise: {scenario: mazur}\nquestions: {net_h1: 1, out_h1: 1}\n", encoding="utf-8"
    )
    (tmp_path / "a.yaml").write_text("id: s01\nanswers: {net_h1: 0.3775, out_h1: 0.593269992}\n", encoding="utf-8")
    code, data, _err = mark_json(str(tmp_path / "a.yaml"), "--key", str(tmp_path / "k.yaml"))
    assert code == 0
    [st] = data["students"]
    assert st["id"] is None and st["matches_exercise_of"] == [] and st["score"] == 2


# ---------------------------------------------------------------------------------------------------
# The bundled example (examples/roster/), run as the README's teacher section runs it

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "roster"


def readme_roster_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.startswith("    bptrace ") and "examples/roster" in line]


def test_the_readme_commands_of_the_per_student_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import glob
    import shlex
    import shutil

    commands = readme_roster_commands()
    assert [c.split()[1] for c in commands] == ["new", "check"]
    shutil.copytree(EXAMPLE, tmp_path / "examples" / "roster")
    monkeypatch.chdir(tmp_path)
    results = []
    for command in commands:
        args = []
        for word in shlex.split(command)[1:]:
            args += sorted(glob.glob(word)) if "*" in word else [word]
        results.append(run(*args))
    (code_new, _out, err_new), (code_check, out, err_check) = results
    assert code_new == 0, err_new
    # the same roster and seed as the example's: the same exercises, byte for byte
    for i in ("s01", "s02", "s03", "s04"):
        made = (tmp_path / "my-class" / f"exercise-{i}.yaml").read_bytes()
        assert made == (EXAMPLE / f"exercise-{i}.yaml").read_bytes()
        assert (tmp_path / "my-class" / f"sheet-{i}.yaml").read_bytes() == (EXAMPLE / f"sheet-{i}.yaml").read_bytes()
    assert code_check == 1
    assert "match the exercise of s01 (Ada Lovelace), not their own" in out and "李华 (s03)" in out
    assert "the id 's4' is not on the roster" in err_check and "did you mean s04?" in err_check


def test_the_per_student_example_gets_a_human_markers_marks() -> None:
    sheets = sorted(str(p) for p in (EXAMPLE / "returned").glob("*.yaml"))
    code, data, _err = mark_json(*sheets, "--key", str(EXAMPLE / "key.yaml"))
    assert code == 1
    s = by_file(data)
    assert {k: v["score"] for k, v in s.items()} == {"ada": 14, "wangxiaoming": 11, "lihua": 3, "ben": 0}
    assert {k: v["id"] for k, v in s.items()} == {"ada": "s01", "wangxiaoming": "s02", "lihua": "s03", "ben": None}
    # Ada's numbers are her exercise's, by the oracle
    truth = oracle(EXAMPLE / "exercise-s01.yaml")
    ada = answers_of(s["ada"])
    assert all(a["verdict"] == "correct" for a in ada.values())
    for q in set(truth) & set(ada):
        assert ada[q]["expected"] == pytest.approx(truth[q], rel=1e-12)
    # 王小明 forgot f′ in δ_o1: wrong, named; the gradient and update built on it follow through
    wang = answers_of(s["wangxiaoming"])
    assert wang["delta_o1"]["verdict"] == "wrong" and wang["delta_o1"]["codes"][0] == "missing-activation-derivative"
    assert wang["dE/dW2_1_1"]["verdict"] == "follow-through" and wang["dE/dW2_1_1"]["rests_on"] == ["delta_o1"]
    assert all(wang[q]["verdict"] == "correct" for q in ("net_h1_1", "out_h1_1", "net_o1", "out_o1", "E_total"))
    # 李华 handed in Ada's numbers
    [match] = s["lihua"]["matches_exercise_of"]
    assert match["id"] == "s01" and len(match["answers"]) == 12
    assert s["ben"]["error"] and "did you mean s04?" in s["ben"]["error"]


def test_per_student_keys_follow_the_schema(made: Path) -> None:
    import jsonschema

    import bptrace
    from bptrace.grading.diagnose import CODE_ORDER

    schema = json.loads((Path(bptrace.__file__).parent / "key.schema.json").read_text(encoding="utf-8"))
    for key in (made / "key.yaml", made / "mykey.yaml", EXAMPLE / "key.yaml"):
        jsonschema.validate(yaml.safe_load(key.read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):  # one exercise or the other, not both
        jsonschema.validate({"exercise": {"scenario": "mazur", "roster": "r.csv"}, "questions": {"out_o1": 1}}, schema)
    # every code a key's rules take is in the schema's lists
    accept = schema["properties"]["rules"]["properties"]["accept"]["anyOf"][0]["items"]["enum"]
    assert accept == [c for c in CODE_ORDER if c != "rounding"]


def test_in_chinese_the_roster_errors_and_the_flag_are_chinese_and_the_json_english(tmp_path: Path) -> None:
    path = tmp_path / "名单.csv"
    path.write_text("学号,姓名\ns1,王小明\nS1,李华\n", encoding="utf-8")
    code, _out, err = run("new", "--roster", str(path), "--seed", "1", "-o", str(tmp_path / "c"), "--lang", "zh")
    assert code == 2 and f"{path}:3: id S1 已出现在第 2 行（王小明）" in err and "不区分大小写" in err
    sheets = sorted(str(p) for p in (EXAMPLE / "returned").glob("*.yaml"))
    code, out, _err = run("check", *sheets, "--key", str(EXAMPLE / "key.yaml"), "--summary", "--lang", "zh")
    assert "李华（s03）：有 12 个答案符合 s01（Ada Lovelace）的练习，而不是自己的" in out
    code, out, _err = run("check", *sheets, "--key", str(EXAMPLE / "key.yaml"), "--format", "json", "--lang", "zh")
    flags = json.loads(out)["summary"]["flags"]
    assert any("12 answers match the exercise of s01 (Ada Lovelace)" in f["detail"] for f in flags)


def test_the_python_api_marks_a_per_student_sheet_against_its_own_exercise(made: Path) -> None:
    import bptrace

    truth = oracle(made / "exercise-s04.yaml")
    (made / "ben.yaml").write_text(sheet_text("s04", truth), encoding="utf-8")
    result = bptrace.check(str(made / "ben.yaml"), key=str(made / "mykey.yaml"))
    assert result.student_id == "s04" and result.student == "Ben Okafor"
    assert result.score == result.max_score == len(QUESTIONS)
    (made / "nobody.yaml").write_text(sheet_text("zz", truth), encoding="utf-8")
    with pytest.raises(bptrace.errors.AnswerSheetError, match="is not on the roster"):
        bptrace.check(str(made / "nobody.yaml"), key=str(made / "mykey.yaml"))


def test_two_sheets_with_one_id_are_flagged(made: Path) -> None:
    truth = oracle(made / "exercise-s01.yaml")
    (made / "a.yaml").write_text(sheet_text("s01", truth, "Ada Lovelace"), encoding="utf-8")
    (made / "b.yaml").write_text(sheet_text("S01", truth, "Ada L."), encoding="utf-8")
    code, data, _err = mark_json(str(made / "a.yaml"), str(made / "b.yaml"), "--key", str(made / "mykey.yaml"))
    assert code == 0
    [flag] = data["summary"]["flags"]
    assert flag["kind"] == "duplicate-id" and "the id s01 (Ada Lovelace) is on 2 sheets" in flag["detail"]
