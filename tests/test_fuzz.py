"""Fuzzing: mutated scenarios never crash bptrace; the answer is always a clean exit 0, 1 or 2.

A bounded run here; `python scripts/fuzz.py --examples N` runs longer (see docs/robustness.md).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from fuzzing import mutate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bptrace.cli.main import main
from bptrace.model.scenario import BUNDLED_DIR, bundled_names

TEXTS = {name: (BUNDLED_DIR / f"{name}.yaml").read_text() for name in bundled_names()}


def assert_clean(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.output)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{type(result.exception).__name__}: {result.exception}")
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr, result.stderr
    if result.exit_code == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("bptrace: error: "), result.stderr


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(TEXTS)), seed=st.integers(0, 2**32 - 1))
def test_mutated_scenarios_exit_cleanly(tmp_path: Path, name: str, seed: int) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(mutate(TEXTS[name], random.Random(seed)))
    assert_clean(["run", str(path), "--verify", "off"])


SHEET = (Path(__file__).resolve().parent.parent / "examples" / "student_cross_entropy.yaml").read_text()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_mutated_answer_sheets_exit_cleanly(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "sheet.yaml"
    path.write_bytes(mutate(SHEET, random.Random(seed)))
    assert_clean(["check", str(path)])


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--digits", "0"],
        ["run", "--digits", "x"],
        ["run", "--rows", "0"],
        ["run", "--layer", "-1"],
        ["run", "--format", "pdf"],
        ["run", "a", "b"],
        ["nonsense"],
        ["run", "--verify", "maybe"],
    ],
)
def test_bad_command_lines_exit_2(args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bptrace: error: ") and "--help" in lines[0], result.stderr


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_a_bad_scenario_option_with_many_sheets_is_said_once() -> None:
    """Found by scripts/fuzz.py (cli:19001261): `check a.yaml b.yaml -s 2` said the same error once per sheet."""
    sheets = [str(EXAMPLES / "class" / "sheets" / "ada.yaml"), str(EXAMPLES / "student_cross_entropy.yaml")]
    result = CliRunner().invoke(main, ["check", *sheets, "-s", "2"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no bundled scenario named '2'" in lines[0], result.stderr


def _fuzz_script() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("fuzz_script", EXAMPLES.parent / "scripts" / "fuzz.py")
    assert spec and spec.loader
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    return fuzz


def test_the_fuzzer_clears_the_folders_a_command_line_wrote(tmp_path: Path) -> None:
    """`quiz … --format prairielearn -o out/d.xml` writes a folder; the fuzzer's cleanup unlinked every entry
    and crashed on it (IsADirectoryError), losing the run's summary."""
    fuzz = _fuzz_script()
    out = tmp_path / "out"
    (out / "d.xml" / "questions").mkdir(parents=True)
    (out / "d.xml" / "questions" / "q.json").write_text("{}")
    (out / "a.txt").write_text("x")
    fuzz.clear(out)  # type: ignore[attr-defined]
    assert out.is_dir() and not list(out.iterdir())


def test_the_long_fuzzer_runs_every_kind_of_input_and_reports_as_it_goes() -> None:
    """scripts/fuzz.py over a few inputs of each kind: networks, graphs, recurrent networks, layer stacks, sheets,
    keys and command lines."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fuzz_script", EXAMPLES.parent / "scripts" / "fuzz.py")
    assert spec and spec.loader
    fuzz = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fuzz)
    lines: list[str] = []
    status = fuzz.run(21, None, 5, list(fuzz.KINDS), report_every=0.0, write=lines.append)
    assert status == 0, lines
    assert lines[-1].startswith("21 inputs in ") and "'cli': 3" in lines[-1] and "'key': 3" in lines[-1]
    assert "'rnn': 3" in lines[-1] and "'layers': 3" in lines[-1]
    assert "; 0 failures;" in lines[-1]
    assert sum(line.startswith("... ") for line in lines) >= 10  # a progress line after each input here
