"""Every object the API returns displays well: one-line repr, tables with rich, HTML in a notebook, and
`bptrace.show` prints in a plain script. `check` and `train` have API entry points that mark as the CLI does."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from rich.console import Console

import bptrace
from bptrace.cli.main import main


def rich_text(obj: object) -> str:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(obj)
    return console.file.getvalue()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def trace():
    return bptrace.run("mazur")


def results(trace):
    return {
        "trace": trace,
        "verification": bptrace.verify_trace(trace),
        "explanation": bptrace.derive(trace, "w5"),
        "sheet": bptrace.check("examples/mazur_published.yaml"),
    }


@pytest.mark.parametrize("kind", ["trace", "verification", "explanation", "sheet"])
def test_repr_is_one_short_line(trace, kind):
    text = repr(results(trace)[kind])
    assert "\n" not in text and len(text) < 200, text
    assert text.startswith("<") and text.endswith(">")


def test_each_object_prints_its_tables_with_rich(trace):
    r = results(trace)
    assert "Forward pass" in rich_text(r["trace"]) and "0.593269992" in rich_text(r["trace"])
    assert "Verification" in rich_text(r["verification"]) and "0.0821670406" in rich_text(r["verification"])
    assert "Chain rule" in rich_text(r["explanation"]) and "0.35891648" in rich_text(r["explanation"])
    assert "Matt Mazur" in rich_text(r["sheet"])


@pytest.mark.parametrize("kind", ["trace", "verification", "explanation", "sheet"])
def test_a_notebook_gets_html_of_the_same_tables(trace, kind):
    obj = results(trace)[kind]
    bundle = obj._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "<html" in bundle["text/html"].lower() or "<pre" in bundle["text/html"].lower()
    numbers = {"trace": "0.593269992", "verification": "0.0821670406", "explanation": "0.35891648", "sheet": "0.35"}
    number = numbers[kind]
    html_text = re.sub(r"<[^>]+>", "", bundle["text/html"])
    assert number in bundle["text/plain"] and number in html_text


def test_show_prints_in_a_plain_script():
    code = "import bptrace\nt = bptrace.run('mazur')\nbptrace.show(t)\nbptrace.show(bptrace.derive(t, 'w5'))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Forward pass" in proc.stdout and "0.35891648" in proc.stdout


def test_check_api_marks_like_the_cli():
    api = bptrace.check("examples/mazur_published.yaml")
    cli = json.loads(CliRunner().invoke(main, ["check", "examples/mazur_published.yaml", "--format", "json"]).output)
    assert (api.score, api.max_score) == (cli["summary"]["points"], cli["summary"]["max_points"]) == (26, 28)


def test_check_api_with_a_key_ignores_the_sheets_own_points(tmp_path):
    sheet = tmp_path / "greedy.yaml"
    sheet.write_text(
        "scenario: mazur\nstudent: Greedy\nanswers:\n"
        "  out_o1: {value: 0.5, tolerance: 1, points: 50}\n  net_h1: 0.3775\n",
        encoding="utf-8",
    )
    key = tmp_path / "key.yaml"
    assert CliRunner().invoke(main, ["key", "mazur", "-o", str(key)]).exit_code == 0
    marked = bptrace.check(str(sheet), key=str(key))
    own = bptrace.check(str(sheet))
    assert marked.max_score > 2 and marked.score < 2  # the key's questions and points, not the sheet's 50
    assert own.max_score >= 50  # a student's self-check keeps the sheet's own points (docs/answer-sheets.md)


def test_train_api_returns_the_loss_curve():
    result = bptrace.train("mazur", epochs=10)
    assert len(result.curve()) == 11 and result.curve()[-1][1] < result.curve()[0][1]


# ---- the TrainingResult that bptrace.train returns ----


@pytest.fixture(scope="module")
def trained():
    return bptrace.train("mazur", epochs=20, every=10)


def test_training_repr_is_one_line_with_the_losses(trained):
    text = repr(trained)
    assert "\n" not in text and len(text) < 200 and text.startswith("<TrainingResult ")
    # the headline numbers are E_0 and E_N of its own curve, to 9 digits
    assert f"{trained.history[0]:.9g}" in text and f"{trained.history[-1]:.9g}" in text and "20 epochs" in text


def test_training_prints_its_tables_and_chart_with_rich(trained):
    from bptrace.fmt import num

    text = rich_text(trained)
    final = {p.name: b for p, _a, b in trained.parameters()}
    assert "Parameters" in text and "Snapshots" in text and "loss E_k" in text
    assert num(final["w5"]) in text and num(trained.history[-1]) in text
    assert text == rich_text(trained._view())  # the view the CLI prints (render/training.py)


def test_training_displays_in_a_notebook(trained):
    from bptrace.fmt import num

    bundle = trained._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    html_text = re.sub(r"<[^>]+>", "", bundle["text/html"])
    w5 = next(b for p, _a, b in trained.parameters() if p.name == "w5")
    assert num(w5) in html_text and num(w5) in bundle["text/plain"]


def test_show_prints_a_training_run_in_a_plain_script():
    code = "import bptrace\nbptrace.show(bptrace.train('ng_shallow', epochs=5))\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Parameters" in proc.stdout and "Outputs vs targets" in proc.stdout
