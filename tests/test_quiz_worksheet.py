"""`bptrace quiz --format worksheet`: the sheet gives no answer away, the key has every one (HTML and PDF)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.engine.quantities import value as quantity_value
from bptrace.engine.step import trace as make_trace
from bptrace.fmt import num
from bptrace.grading.answers import derivation
from bptrace.model import names
from bptrace.model.scenario import load
from bptrace.quiz.model import accepted, decimal_text


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def telling(x: float) -> bool:
    """A value whose printed digits could not be a given number by chance (five significant digits or more)."""
    return len(num(x).lstrip("-0.").replace(".", "").split("e")[0]) >= 5


def test_the_html_sheet_asks_every_quantity_and_the_key_answers_each(tmp_path):
    folder = tmp_path / "sheets"
    code, _, err = run("quiz", "mazur", "--format", "worksheet", "--no-pdf", "-o", str(folder))
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == ["mazur-key.html", "mazur.html"]
    sheet = (folder / "mazur.html").read_text(encoding="utf-8")
    key = (folder / "mazur-key.html").read_text(encoding="utf-8")
    s = load("mazur")
    t = make_trace(s)
    asked = [name for _, _, name in derivation(s)]  # a worksheet asks the whole step by default
    assert "<svg" in sheet and "<svg" in key  # the picture, inline
    for name in asked:
        x = quantity_value(names.parse(name, s), t)
        assert f">{name}<" in sheet and f">{name}<" in key
        assert num(x) in key
        interval = accepted(x, 3)
        assert f"{decimal_text(interval.low)} … {decimal_text(interval.high)}" in key
        if telling(x):
            assert num(x) not in sheet, name  # the sheet gives no answer away
    assert sheet.count(">________________</td>") == len(asked)  # a line to write each answer on
    # the picture is the weights and inputs only: net and out of a neuron are not on it
    out_h1 = quantity_value(names.parse("out_h1", s), t)
    assert num(out_h1, 4) not in sheet.split("<svg", 1)[1].split("</svg>", 1)[0]


def pdf_text(path: Path, pdftotext: str) -> str:
    done = subprocess.run([pdftotext, "-layout", str(path), "-"], capture_output=True, text=True, check=True)
    return done.stdout


def test_the_pdf_sheet_and_key(tmp_path, pdflatex, pdftotext):
    folder = tmp_path / "sheets"
    code, _, err = run("quiz", "mazur", "--ask", "out_o1,w5+,dE/dw1", "--format", "worksheet", "-o", str(folder))
    assert code == 0, err
    assert (folder / "mazur.pdf").read_bytes().startswith(b"%PDF")
    sheet = pdf_text(folder / "mazur.pdf", pdftotext)
    key = pdf_text(folder / "mazur-key.pdf", pdftotext)
    s = load("mazur")
    t = make_trace(s)
    for name in ("out_o1", "w5+", "dE/dw1"):
        x = quantity_value(names.parse(name, s), t)
        assert num(x) in key and num(x) not in sheet
    assert "Worksheet" in sheet and "Answer key" in key
    # the same sheet is the same PDF
    again = tmp_path / "again"
    assert run("quiz", "mazur", "--ask", "out_o1,w5+,dE/dw1", "--format", "worksheet", "-o", str(again))[0] == 0
    assert (again / "mazur.pdf").read_bytes() == (folder / "mazur.pdf").read_bytes()


def test_a_chinese_pdf_sheet_with_xelatex(tmp_path, pdftotext):
    if not shutil.which("xelatex") or not shutil.which("kpsewhich"):
        pytest.skip("xelatex is not installed (apt-get install texlive-xetex texlive-lang-chinese)")
    if not subprocess.run(["kpsewhich", "ctexart.cls"], capture_output=True, text=True).stdout.strip():
        pytest.skip("ctex is not installed (apt-get install texlive-lang-chinese)")
    folder = tmp_path / "sheets"
    code, _, err = run("--lang", "zh", "quiz", "mazur", "--ask", "w5+", "--format", "worksheet", "-o", str(folder))
    assert code == 0, err
    sheet = pdf_text(folder / "mazur.pdf", pdftotext)
    key = pdf_text(folder / "mazur-key.pdf", pdftotext)
    assert "练习" in sheet and "答案" in key
    s = load("mazur")
    assert num(quantity_value(names.parse("w5+", s), make_trace(s))) in key
