"""The bundled Chinese example (examples/zh/): a scenario titled in Chinese and sheets by students with Chinese
names, through run, explain, check, the LaTeX and HTML exports and the lesson page, in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
import tools
from click.testing import CliRunner
from i18n_tools import prose_lines

from bptrace.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
EXERCISE = str(ROOT / "examples" / "zh" / "exercise.yaml")
SHEET = str(ROOT / "examples" / "zh" / "wangxiaoming.yaml")
TITLE = "反向传播练习：2-2-1 网络的一步训练"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_run_and_explain_keep_the_chinese_title(lang):
    code, out = invoke("run", EXERCISE, "--lang", lang)
    assert code == 0 and out.startswith(TITLE)
    code, derivation = invoke("explain", "w1", "-s", EXERCISE, "--lang", lang)
    assert code == 0 and TITLE in derivation
    if lang == "zh":
        assert "前向传播" in out and "由链式法则得" in derivation
        assert prose_lines(out) == [] and prose_lines(derivation) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_check_names_the_student_in_chinese_and_english(lang):
    code, out = invoke("check", SHEET, "--lang", lang, "--ascii")
    assert code == 1  # 王小明 forgot f′ in δ_o1
    assert "王小明" in out and "missing-activation-derivative" in out


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_latex_of_the_chinese_example_compiles_with_xelatex(tmp_path, lang):
    code, tex = invoke("run", EXERCISE, "--format", "latex", "--lang", lang)
    assert code == 0
    assert tex.startswith("% !TEX program = xelatex")  # a Chinese title needs xelatex, whatever the language
    text = tools.pdf_text(tex, tmp_path)
    assert "反向传播练习" in text and "[. . . ]" not in text


def test_html_and_lesson_page_of_the_chinese_example(tmp_path):
    code, html = invoke("run", EXERCISE, "--format", "html", "--lang", "zh")
    assert code == 0 and TITLE in html and 'lang="zh' in html
    page = tmp_path / "lesson.html"
    code, _ = invoke("lesson", EXERCISE, "-o", str(page), "--lang", "zh")
    assert code == 0
    text = page.read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in text and TITLE in text
