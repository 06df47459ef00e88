"""Terminal output fits any width from 60 columns (issue 16): every number printed at 200 columns is printed whole
at each width, no line is wider than the terminal (East Asian wide characters count 2), every table keeps every
column header, and one minus sign is used throughout. For `run` of every bundled scenario in every notation, and
for `explain`, `check`, `compare` and `train`."""

from __future__ import annotations

import io
import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

import bptrace
from bptrace.cli.main import _run_blocks, main
from bptrace.fmt import one_minus
from bptrace.model.scenario import bundled_names
from bptrace.render.layout import Block, Column, Grid, Para
from bptrace.render.terminal import BlocksView, GridView
from bptrace.verify.verification import verify

WIDTHS = [60, 80, 100, 120, 200]
NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")  # the check of /work/shared/hooks/before-stop
EXAMPLES = Path(__file__).parent.parent / "examples"


def width(line: str) -> int:
    """Terminal cells: East Asian wide characters 2, combining marks (the hat of x̂) 0, the others 1."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def render(renderable: Any, columns: int) -> str:
    console = Console(file=io.StringIO(), width=columns, color_system=None, highlight=False)
    console.print(renderable)
    return one_minus(console.file.getvalue())  # type: ignore[attr-defined]


def assert_fits(narrow: str, wide: str, columns: int) -> None:
    over = [line for line in narrow.splitlines() if width(line) > columns]
    assert not over, f"{len(over)} lines wider than {columns} columns, e.g. {over[0]!r}"
    lost = Counter(NUMBER.findall(stable(wide))) - Counter(NUMBER.findall(stable(narrow)))
    assert not lost, f"numbers printed at 200 columns but not whole at {columns}: {sorted(lost)[:5]}"


def header_words(blocks: list[Block]) -> list[str]:
    return [one_minus(w) for b in blocks if isinstance(b, Grid) for c in b.columns for w in c.header.split()]


def assert_headers(blocks: list[Block], text: str) -> None:
    tokens = set(text.split())
    missing = [w for w in header_words(blocks) if w not in tokens and w != "value"]
    assert not missing, f"header words split or missing: {missing[:5]}"


@cache
def run_blocks(name: str, notation: str) -> list[Block]:
    t = bptrace.run(name)
    return _run_blocks(t, notation, 9, None, 60, verify(t, mode="sample"), sketch=True)


CASES = [(name, notation) for name in bundled_names() for notation in ("scalar", "matrix", "index")]


@pytest.mark.parametrize(("name", "notation"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_run_fits_every_width(name: str, notation: str) -> None:
    blocks = run_blocks(name, notation)
    wide = render(BlocksView(blocks), 200)
    for columns in WIDTHS[:-1]:
        narrow = render(BlocksView(blocks), columns)
        assert_fits(narrow, wide, columns)
        assert_headers(blocks, narrow)
        assert "−" not in narrow  # one minus sign: ASCII, as in the numbers a student copies


def test_the_verification_table_keeps_its_check_column() -> None:
    blocks = run_blocks("mazur", "scalar")
    for columns in WIDTHS:
        text = render(BlocksView(blocks), columns)
        assert text.count("✓") >= 10, columns
        for header in ("chain rule", "SymPy", "finite", "difference", "largest"):
            assert header in text


def test_a_formula_too_wide_for_its_row_moves_under_it() -> None:
    """At 80 columns the backward table keeps its numbers in a row and writes each formula under it."""
    text = render(BlocksView(run_blocks("mazur", "scalar")), 80)
    lines = text.splitlines()
    at = lines.index(next(line for line in lines if line.startswith("Backward pass, hidden layer 1")))
    block = lines[at : at + 20]
    row = next(line for line in block if line.startswith(" h1 "))
    assert row.split() == ["h1", "0.0363503064", "0.241300709", "0.00877135469"]
    assert any("= 0.138498562×0.4 + (-0.0380982365)×0.5" in line for line in block)


def test_one_block_per_row_when_even_the_numbers_do_not_fit() -> None:
    grid = Grid("wide", [Column("name", "name")] + [Column(f"column {k}", "num") for k in range(6)])
    grid.rows.append(["w1"] + [f"-0.00012345678{k}" for k in range(6)])
    text = render(GridView(grid), 60)
    assert text.splitlines()[2] == " name w1"
    assert_fits(text, render(GridView(grid), 200), 60)
    assert all(f"column {k}" in text for k in range(6))


def test_wide_characters_count_double() -> None:
    grid = Grid("学生", [Column("学生", "name"), Column("公式", "text"), Column("值", "num")])
    grid.rows.append(["王小明", "= 0.15×0.05 + 0.2×0.1 + 0.35 " * 3, "0.593269992"])
    for columns in WIDTHS:
        text = render(GridView(grid), columns)
        assert_fits(text, render(GridView(grid), 200), columns)
        assert "王小明" in text


def cli(columns: int, *args: str) -> str:
    result = CliRunner(env={"COLUMNS": str(columns), "NO_COLOR": "1"}).invoke(main, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.stdout


def stable(text: str) -> str:
    """train's output without what differs between runs (its run time) or is drawn for the width (the chart)."""
    lines = [line for line in text.splitlines() if not set(line) & set("┤│┼┬┴└┌")]
    return re.sub(r"engine, \S+ s", "engine, (time)", "\n".join(lines))


COMMANDS = [
    ("run", "mazur"),
    ("explain", "w1"),
    ("explain", "delta_h1"),
    ("explain", "W2_1_1", "-s", "softmax_classifier"),
    ("explain", "b1"),
    ("explain", "W1_1_1", "-s", "cs224n_window", "--no-checks"),
    ("check", str(EXAMPLES / "student_cross_entropy.yaml")),
    ("compare", "mazur", "--vary", "hidden=original,updated"),
    ("compare", "learner_004", "--vary", "loss=half_sse,bce"),
    ("train", "mazur", "--epochs", "3"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a[:2]) for a in COMMANDS])
def test_every_command_fits(args: tuple[str, ...]) -> None:
    wide = cli(200, *args)
    for columns in (60, 80, 100):
        narrow = cli(columns, *args)
        assert_fits(narrow, wide, columns)
        assert "−" not in narrow


RNN_SHEET = "scenario: rnn_tiny\nstudent: 王小明\nanswers:\n  h1@t1: 0.462117157\n  dE/dW_hh_1_2: 0.123\n"
LAYERS_SHEET = "scenario: layers_batchnorm\nstudent: 王小明\nanswers:\n  mu2_1: 0.1\n  dE/dx_2:1: 0.0123\n"
NEW_KINDS = [
    ("run", "rnn_tiny"),
    ("run", "rnn_last_truncated"),
    ("run", "layers_conv_pool"),
    ("run", "layers_batchnorm"),
    ("explain", "dE/dW_hh_1_2", "-s", "rnn_tiny"),
    ("explain", "dE/dK1_1_2", "-s", "layers_conv_pool"),
    ("explain", "dE/dx_2:1", "-s", "layers_batchnorm"),
    ("check", "RNN_SHEET"),
    ("check", "LAYERS_SHEET"),
]


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("args", NEW_KINDS, ids=[" ".join(a[:2]) for a in NEW_KINDS])
def test_recurrent_and_layered_output_fits_in_both_languages(tmp_path: Path, args: tuple[str, ...], lang: str) -> None:
    """run, explain and check of the recurrent and layered kinds at 60 and 80 columns, in English and Chinese:
    every number whole, no line too wide, and no text cut with '…' (a Chinese label such as
    对时间步求和，逐项写出 has no space to wrap at: it was cut to '对时间步求和，逐项 …' at 60 columns)."""
    sheets = {"RNN_SHEET": RNN_SHEET, "LAYERS_SHEET": LAYERS_SHEET}
    if args[-1] in sheets:
        path = tmp_path / "sheet.yaml"
        path.write_text(sheets[args[-1]], encoding="utf-8")
        args = (*args[:-1], str(path))
    wide = cli(200, *args, "--lang", lang)
    for columns in (60, 80):
        narrow = cli(columns, *args, "--lang", lang)
        assert_fits(narrow, wide, columns)
        cut = [line for line in narrow.splitlines() if "…" in line and "…" not in wide]
        assert not cut, f"text cut at {columns} columns: {cut[0]!r}"


def test_the_before_stop_check_at_80_columns() -> None:
    """The same numbers, whole, at 80 columns as at 200: `bptrace run scenarios/mazur.yaml`."""
    wide, narrow = cli(200, "run", "scenarios/mazur.yaml"), cli(80, "run", "scenarios/mazur.yaml")
    for value in ("0.75136507", "0.298371109", "0.35891648", "0.149780716"):
        assert value in narrow
    assert_fits(narrow, wide, 80)


def test_a_paragraph_keeps_its_numbers_whole() -> None:
    para = Para("Loss after the update: E_total@1 = 0.291027774 (before: 0.298371109; change -0.00734333507)")
    for columns in WIDTHS:
        assert_fits(render(BlocksView([para]), columns), render(BlocksView([para]), 200), columns)
