"""`bptrace run`, `compare`, `train`, `diagram` and `lesson` in Chinese (--lang zh): no English prose is left
(tests/i18n_tools.prose_lines), the numbers are those of the English output, the terminal output fits 80 and 60
columns (no line wider, no number broken, every column kept, as tests/test_widths.py checks in English), and the
LaTeX compiles with xelatex (ctex), its PDF holding the Chinese words and the numbers.

The scenario's title and source note stay as the scenario file writes them (a translated title is another
change); they are taken out of the text before it is checked for prose.
"""

from __future__ import annotations

import html as html_lib
import os
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import tools
from click.testing import CliRunner
from i18n_tools import prose_lines
from rich.cells import cell_len
from test_widths import NUMBER, assert_fits, render, stable

import bptrace
from bptrace import i18n
from bptrace.cli.main import _run_blocks, main
from bptrace.fmt import num, one_minus
from bptrace.model.scenario import bundled_names, load
from bptrace.render import latex, markdown
from bptrace.render.blocks import Block, Grid
from bptrace.render.export import export
from bptrace.render.terminal import BlocksView, pieces, wrap
from bptrace.verify.verification import verify

ROOT = Path(__file__).resolve().parent.parent
NETWORKS = [n for n in bundled_names() if load(n).__class__.__name__ == "Scenario"]  # not the graphs
NOTATIONS = ("scalar", "matrix", "index")
FORMATS = ("terminal", "markdown", "latex", "html")
CASES = [(n, k) for n in NETWORKS for k in NOTATIONS]
IDS = [f"{n}-{k}" for n, k in CASES]
CODE = {"axis", "keepdims", "True"}  # np.sum(dZ, axis=1, keepdims=True): Ng's numpy, a name as it is written


@pytest.fixture
def zh() -> Any:
    i18n.set_language("zh")
    yield
    i18n.set_language("en")


def in_language(lang: str, make: Any) -> Any:
    before = i18n.language()
    i18n.set_language(lang)
    try:
        return make()
    finally:
        i18n.set_language(before)


@cache
def checked(name: str) -> tuple[Any, Any]:
    """The trace and its verification (plain data: the same in every language)."""
    t = bptrace.run(name)
    return t, verify(t, mode="sample")


def blocks(name: str, notation: str, lang: str, sketch: bool = True) -> list[Block]:
    t, v = checked(name)
    return in_language(lang, lambda: _run_blocks(t, notation, 9, None, 60, v, sketch=sketch))


def document(name: str, notation: str, fmt: str, lang: str) -> str:
    """`run` of the scenario in one format and language, as the command line makes it (wide terminal)."""
    if fmt == "terminal":
        return in_language(lang, lambda: render(BlocksView(blocks(name, notation, lang)), 200))
    title = in_language(lang, lambda: load(name).display_title())  # as `bptrace run --format ...` titles it
    return in_language(lang, lambda: export(blocks(name, notation, lang, sketch=False), fmt, title=title))


def names_removed(text: str, name: str, fmt: str) -> str:
    """The text without the scenario's title and source note (they stay as the scenario writes them)."""
    s = load(name)
    for part in filter(None, (s.title, s.source_note)):
        if fmt == "latex":
            with latex.unicode_text("xelatex"):
                spelled = " ".join(latex.lines(part))
        else:
            spelled = {
                "text": part,
                "terminal": one_minus(part),
                "markdown": markdown.escape(part),
                "html": html_lib.escape(part, quote=True),
            }[fmt]
        text = text.replace(spelled, "")
    return text


def tex_code(text: str) -> str:
    """LaTeX without its comments (the macros' own documentation stays English, like code) and package lists."""
    lines = [re.sub(r"(?<!\\)%.*", "", line) for line in text.splitlines()]
    return "\n".join(line for line in lines if not line.startswith("\\usepackage"))


def html_text(page: str) -> str:
    """What a reader of the page sees: the text between the tags (no style, no script), entities decoded."""
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", "\n", page))


def numbers(text: str) -> Counter[str]:
    """The decimal numbers of a text (LaTeX's estimated column widths, 18.6em, are not the trace's)."""
    return Counter(NUMBER.findall(re.sub(r"[\d.]+em\b", "", stable(text).replace("−", "-"))))


# ---------------------------------------------------------------------------------------------------
# run: every scenario, notation and format


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("name", "notation"), CASES, ids=IDS)
def test_run_in_chinese_has_no_english_prose_and_the_english_numbers(name: str, notation: str, fmt: str) -> None:
    chinese = document(name, notation, fmt, "zh")
    english = document(name, notation, fmt, "en")
    text = names_removed(chinese, name, fmt)
    if fmt == "latex":
        assert "请用 xelatex 编译" in chinese.split(r"\documentclass")[1].splitlines()[1]
        text = tex_code(text)
    elif fmt == "html":
        assert '<html lang="zh-CN">' in chinese
        text = html_text(text)
    assert prose_lines(text, allowed=CODE) == []
    assert numbers(chinese) == numbers(english)
    for word in ("前向传播", "梯度", "更新", "验证") + (("反向传播",) if notation != "index" else ()):
        assert word in chinese, word


def test_the_chinese_words_are_the_glossary_s() -> None:
    text = document("mazur", "scalar", "terminal", "zh")
    for words in ("前向传播，第 1 层（sigmoid）", "反向传播，输出层（sigmoid）", "链式法则", "有限差分", "全部一致"):
        assert words in text, words
    closing = text.rstrip().splitlines()[-1]
    assert closing.startswith("全部 ") and closing.endswith("全部一致。"), closing


def header_words(bs: list[Block]) -> list[str]:
    return [w.replace("−", "-") for b in bs if isinstance(b, Grid) for c in b.columns for w in c.header.split()]


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize(("name", "notation"), CASES, ids=IDS)
def test_run_in_chinese_fits_the_terminal(name: str, notation: str, columns: int) -> None:
    """No line wider than the terminal (a Chinese character is two cells), no number broken, every column."""
    bs = blocks(name, notation, "zh")
    wide = in_language("zh", lambda: render(BlocksView(bs), 200))
    narrow = in_language("zh", lambda: render(BlocksView(bs), columns))
    over = [line for line in narrow.splitlines() if cell_len(line) > columns]
    assert not over, over[:3]
    assert_fits(narrow, wide, columns)
    tokens = set(narrow.split())
    missing = [w for w in header_words(bs) if w not in tokens and w != "值"]
    assert not missing, f"header words split or missing: {missing[:5]}"


def test_chinese_breaks_between_characters_never_inside_a_number() -> None:
    assert pieces("更新后的损失：E_total@1 = 0.291027774（更新前 0.298371109）") == [
        "更",
        "新",
        "后",
        "的",
        "损",
        "失：",
        "E_total@1 ",
        "= ",
        "0.291027774",
        "（更",  # never a break after an opening bracket, nor before a closing one
        "新",
        "前 ",
        "0.298371109）",
    ]
    for width in range(14, 40):
        lines = wrap("更新后的损失：E_total@1 = 0.291027774（更新前：0.298371109；变化 -0.00734333507）", width)
        assert all(cell_len(line) <= width for line in lines)
        joined = "\n".join(lines)
        for n in ("0.291027774", "0.298371109", "-0.00734333507"):
            assert n in joined


def test_english_output_is_unchanged_by_the_chinese_wrapping() -> None:
    """English text keeps rich's own wrapping (the output is byte for byte what it was)."""
    from rich.text import Text

    from bptrace.render.terminal import prose

    assert isinstance(prose("jack床长 (如何计算浅层神经网络的反向传播)"), Text)


def test_run_through_the_command_line_in_chinese() -> None:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(main, ["run", "mazur", "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert prose_lines(names_removed(result.stdout, "mazur", "terminal")) == []
    assert "前向传播" in result.stdout and "0.75136507" in result.stdout


def test_the_locale_makes_run_chinese() -> None:
    """`LANG=zh_CN.UTF-8 bptrace run scenarios/mazur.yaml`: Chinese without --lang."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "zh_CN.UTF-8",
        "PYTHONPATH": str(ROOT),
        "COLUMNS": "80",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bptrace", "run", "scenarios/mazur.yaml"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert prose_lines(names_removed(out, "mazur", "terminal")) == []
    for words in ("前向传播", "反向传播", "链式法则", "更新后的损失", "0.75136507", "0.298371109"):
        assert words in out, words
    assert all(cell_len(line) <= 80 for line in out.splitlines())


def test_step_prompt_and_verify_modes_in_chinese() -> None:
    for mode in ("full", "sample", "off"):
        result = CliRunner(env={"COLUMNS": "200"}).invoke(
            main, ["run", "learner_004", "--verify", mode, "--step", "--lang", "zh"]
        )
        assert result.exit_code == 0, result.output
        assert prose_lines(names_removed(result.stdout, "learner_004", "terminal")) == [], mode
        assert ("验证" in result.stdout) == (mode != "off")


def test_cut_tables_say_so_in_chinese() -> None:
    for notation in NOTATIONS:
        result = CliRunner(env={"COLUMNS": "200"}).invoke(
            main, ["run", "learner_004", "--rows", "2", "--notation", notation, "--lang", "zh"]
        )
        assert result.exit_code == 0, result.output
        assert "未显示" in result.stdout
        assert prose_lines(names_removed(result.stdout, "learner_004", "terminal"), allowed=CODE) == [], notation


def test_a_kink_is_explained_in_chinese(tmp_path: Path) -> None:
    """relu at net = 0: the table's note, the verification's 'not judged' reason and the kink's convention."""
    sheet = tmp_path / "kink.yaml"
    sheet.write_text(
        "title: relu at its kink\nsamples:\n  - {inputs: [1.0], targets: [0.5]}\nlearning_rate: 0.5\n"
        "loss: half_sse\nlayers:\n  - activation: relu\n    weights: [[0.0]]\n    biases: [0.0]\n"
        "  - activation: sigmoid\n    weights: [[0.5]]\n    biases: [0.1]\n",
        encoding="utf-8",
    )
    result = CliRunner(env={"COLUMNS": "120"}).invoke(main, ["run", str(sheet), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "按约定取 relu′(0) = 0" in out
    assert "不可导" in out and "未判定" in out
    assert prose_lines(out.replace("relu at its kink", "")) == []
    english = CliRunner(env={"COLUMNS": "120"}).invoke(main, ["run", str(sheet), "--format", "json", "--lang", "zh"])
    assert "by convention" in english.stdout and "不可导" not in english.stdout  # the JSON stays English


# ---------------------------------------------------------------------------------------------------
# LaTeX: xelatex with ctex


def xelatex(source: Path) -> Path:
    done = subprocess.run(
        [tools.need("xelatex"), "-interaction=nonstopmode", "-halt-on-error", source.name],
        cwd=source.parent,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
    )
    if done.returncode != 0:
        errors = [line for line in done.stdout.splitlines() if line.startswith(("!", "l."))]
        pytest.fail(f"xelatex failed on {source.name}: {errors[:6]}")
    return source.with_suffix(".pdf")


def pdf_text(pdf: Path) -> str:
    return subprocess.run(
        [tools.need("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def test_chinese_latex_is_for_xelatex_and_english_for_pdflatex(zh: None) -> None:
    text = export(blocks("mazur", "scalar", "zh", sketch=False), "latex", title=load("mazur").title)
    head = text.split(r"\begin{document}")[0]
    assert text.startswith("% !TEX program = xelatex\n\\documentclass")
    assert r"\usepackage[UTF8]{ctex}" in head and "inputenc" not in head and "CJKutf8" not in head
    assert "texlive-xetex texlive-lang-chinese" in head
    assert "前向传播" in text and r"\bptraceforeign{前" not in text  # Chinese written as it is
    i18n.set_language("en")
    english = export(blocks("mazur", "scalar", "en", sketch=False), "latex", title=load("mazur").title)
    assert english.startswith(r"\documentclass") and "compile with pdflatex" in english and "ctex" not in english
    chinese_title = export(blocks("mazur", "scalar", "en", sketch=False), "latex", title="反向传播 练习")
    assert chinese_title.startswith("% !TEX program = xelatex") and "反向传播 练习" in chinese_title
    assert r"[\ldots]" not in chinese_title.split(r"\begin{document}")[1]


def test_the_preamble_function_for_explain() -> None:
    assert latex.latex_engine("Mazur") == "pdflatex"
    assert latex.latex_engine("Mazur", "王小明") == "xelatex"
    pdf = latex.document_preamble("Mazur", options="11pt")
    assert pdf.startswith(r"\documentclass[11pt]{article}") and "pdflatex" in pdf
    xe = latex.document_preamble("王小明", options="11pt")
    assert xe.startswith("% !TEX program = xelatex\n\\documentclass[11pt]{article}") and r"{ctex}" in xe
    i18n.set_language("zh")
    try:
        assert latex.latex_engine("Mazur") == "xelatex"
        with latex.unicode_text("xelatex"):
            assert latex.tex("前向传播 δ_o1") == r"前向传播 \ensuremath{\delta_{o1}}"
        assert latex.tex("前向传播") == r"\bptraceforeign{前向传播}"
    finally:
        i18n.set_language("en")


# every scenario in the scalar notation, three in the others (xelatex takes seconds per document)
XELATEX_CASES = [
    (name, notation)
    for name in NETWORKS
    for notation in NOTATIONS
    if notation == "scalar" or name in ("mazur", "ng_shallow", "cs224n_window")
]


@pytest.mark.parametrize(("name", "notation"), XELATEX_CASES)
def test_chinese_latex_compiles_with_xelatex(tmp_path: Path, name: str, notation: str) -> None:
    tools.need("xelatex")
    source = tmp_path / f"{name}.tex"
    result = CliRunner().invoke(
        main, ["run", name, "--notation", notation, "--format", "latex", "-o", str(source), "--lang", "zh"]
    )
    assert result.exit_code == 0, result.output
    pdf = xelatex(source)
    log = pdf.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
    assert "Overfull \\hbox" not in log, [line for line in log.splitlines() if "Overfull" in line][:3]
    words = pdf_text(pdf)
    for word in ("前向传播", "梯度", "验证") + (("反向传播",) if notation != "index" else ()):
        assert word in words, word
    t, _ = checked(name)
    assert num(t.loss_after, 9) in words
    if name == "mazur" and notation == "scalar":
        for number in ("0.75136507", "0.298371109", "0.35891648", "0.149780716"):
            assert number in words


# ---------------------------------------------------------------------------------------------------
# compare, train, diagram, lesson


COMPARE = [
    ("mazur", "hidden=original,updated"),
    ("mazur", "biases=frozen,neuron,shared"),
    ("mazur", "learning_rate=0.5,0.1"),
    ("learner_004", "loss=half_sse,bce"),
    ("learner_004", "l2=0,0.5"),
    ("ng_shallow", "reduction=mean,sum"),
    ("single_neuron_mse", "loss=mse,sse,half_sse"),
    ("softmax_classifier", "hidden=original,updated"),
]


def cli(columns: int, *args: str, lang: str = "zh") -> str:
    result = CliRunner(env={"COLUMNS": str(columns), "NO_COLOR": "1"}).invoke(main, [*args, "--lang", lang])
    assert result.exit_code in (0, 1), result.output
    return result.stdout


@pytest.mark.parametrize(("name", "vary"), COMPARE, ids=[f"{n}-{v.split('=')[0]}" for n, v in COMPARE])
def test_compare_in_chinese(name: str, vary: str) -> None:
    for fmt in ("terminal", "markdown", "html", "latex"):
        chinese = cli(200, "compare", name, "--vary", vary, "--format", fmt)
        english = cli(200, "compare", name, "--vary", vary, "--format", fmt, lang="en")
        text = names_removed(chinese, name, fmt)
        text = tex_code(text) if fmt == "latex" else html_text(text) if fmt == "html" else text
        # the variants' labels (hidden=updated) are the convention's names, as --vary spells them
        labels = {word for part in vary.split("=") for word in part.split(",")} | {"Stack", "Overflow"}
        assert prose_lines(text, allowed=labels) == [], fmt
        assert numbers(chinese) == numbers(english), fmt
        assert "不同的量" in chinese
    wide = cli(200, "compare", name, "--vary", vary)
    for columns in (80, 60):
        narrow = cli(columns, "compare", name, "--vary", vary)
        assert all(cell_len(line) <= columns for line in narrow.splitlines())
        assert_fits(narrow, wide, columns)
    json_out = cli(200, "compare", name, "--vary", vary, "--format", "json")
    assert not re.search(r"[\u4e00-\u9fff]", json_out)  # the JSON is English in every language


def chart_free(text: str) -> str:
    """train's output without the chart's drawing (its axis numbers and braille dots) and its run time."""
    lines = [line for line in text.splitlines() if not set(line) & set("┤│┼┬┴└┌┐┘├─⠀⡀⢀⣀")]
    return re.sub(r"用时 \S+ 秒", "用时 … 秒", "\n".join(lines))


@pytest.mark.parametrize("name", NETWORKS)
def test_train_in_chinese(name: str) -> None:
    args = ("train", name, "--epochs", "6", "--every", "2")
    chinese = cli(200, *args)
    english = cli(200, *args, lang="en")
    # scalar: the engine's name, as --engine spells it
    assert prose_lines(names_removed(chart_free(chinese), name, "terminal"), allowed={"scalar"}) == []
    assert numbers(chart_free(chinese)) == numbers(chart_free(english))
    for word in ("训练了 6 轮", "快照", "参数", "初始值", "最终值", "k 轮后的损失"):
        assert word in chinese, word
    for columns in (80, 60):
        narrow = cli(columns, *args)
        over = [line for line in narrow.splitlines() if cell_len(line) > columns]
        assert not over, over[:3]
        assert_fits(chart_free(narrow), chart_free(chinese), columns)


def test_train_notes_and_plot_in_chinese(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot, csv = tmp_path / "loss.svg", tmp_path / "loss.csv"
    out = cli(120, "train", "mazur", "--epochs", "20", "--plot", str(plot), "--csv", str(csv))
    assert f"已写入 {plot}" in out and f"已写入 {csv}" in out
    texts = svg_texts(plot)
    assert any("20 轮的损失" in t for t in texts) and "轮次 k" in texts
    assert prose_lines("\n".join(t for t in texts if "Mazur" not in t)) == []


def svg_texts(path: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    return ["".join(e.itertext()).strip() for e in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.parametrize("name", NETWORKS)
def test_diagram_in_chinese(tmp_path: Path, name: str) -> None:
    pytest.importorskip("matplotlib")
    for show in ("all", "weights", "grad", "update"):
        for style in ("detailed", "summary"):
            path = tmp_path / f"{show}-{style}.svg"
            result = CliRunner().invoke(
                main, ["diagram", name, "--show", show, "--style", style, "-o", str(path), "--lang", "zh"]
            )
            assert result.exit_code == 0, result.output
            assert "已写入" in result.output
            texts = [t for t in svg_texts(path) if t and load(name).title not in t]
            assert prose_lines("\n".join(texts)) == [], (show, style)
            joined = "\n".join(svg_texts(path))
            assert ("第 1 层" in joined) and ("输入" in joined), (show, style)


def test_diagram_png_in_chinese_finds_a_chinese_font(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bptrace.render.diagram import chinese_fonts

    i18n.set_language("zh")
    fonts = chinese_fonts()
    i18n.set_language("en")
    if not fonts:
        pytest.skip("no Chinese font installed for matplotlib (fonts-noto-cjk, fonts-wqy-zenhei, fonts-arphic-*)")
    path = tmp_path / "mazur.png"
    result = CliRunner().invoke(main, ["diagram", "mazur", "-o", str(path), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert "Glyph" not in result.output and "missing from" not in result.output
    assert path.stat().st_size > 10_000


def page_text(page: str) -> str:
    return html_text(page)


@pytest.mark.parametrize("name", NETWORKS)
def test_lesson_in_chinese(tmp_path: Path, name: str) -> None:
    out = tmp_path / "lesson.html"
    result = CliRunner().invoke(main, ["lesson", name, "-o", str(out), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    text = names_removed(page_text(page), name, "text")
    assert prose_lines(text, allowed={"Home", "End"}) == []  # the keys' names
    for words in ("前向传播", "反向传播", "→ 或空格：下一步", "神经网络"):
        assert words in page, words
    assert '"第 " + (at + 1) + " 步 / 共 " + slides.length + " 步"' in page  # the step counter
    english = CliRunner().invoke(main, ["lesson", name, "-o", str(out), "--force"])
    assert english.exit_code == 0
    assert numbers(page_text(page)) == numbers(page_text(out.read_text(encoding="utf-8")))


def test_lesson_frame_in_chinese_for_explain_and_graphs(tmp_path: Path) -> None:
    """The page's own words (its buttons, counter, the slides' labels); the explanation's and the graph's
    tables are their commands' text."""
    for args in (["mazur", "--explain", "w5"], ["graph_circuit"]):
        out = tmp_path / "page.html"
        result = CliRunner().invoke(main, ["lesson", *args, "-o", str(out), "--force", "--lang", "zh"])
        assert result.exit_code == 0, result.output
        page = out.read_text(encoding="utf-8")
        assert "→ 或空格：下一步 · ←：上一步" in page and "步 / 共" in page
        if "--explain" in args:
            assert "<h2>更新</h2>" in page and "<dt>公式</dt>" in page


def test_a_chinese_fragment_compiles_in_a_ctex_document(tmp_path: Path) -> None:
    tools.need("xelatex")
    fragment = tmp_path / "mazur-fragment.tex"
    result = CliRunner().invoke(
        main, ["run", "mazur", "--format", "latex", "--fragment", "-o", str(fragment), "--lang", "zh"]
    )
    assert result.exit_code == 0, result.output
    head = fragment.read_text(encoding="utf-8").splitlines()[:3]
    assert "xelatex" in head[0] and head[1].strip() == r"%   \usepackage{ctex}"
    document = tmp_path / "doc.tex"
    document.write_text(
        "\\documentclass{article}\n\\usepackage{ctex}\n\\usepackage{amsmath,amssymb,array,booktabs,longtable}\n"
        "\\begin{document}\n\\input{mazur-fragment}\n\\end{document}\n",
        encoding="utf-8",
    )
    words = pdf_text(xelatex(document))
    assert "前向传播" in words and "0.75136507" in words


@pytest.mark.parametrize("name", NETWORKS)
def test_the_json_is_the_same_in_chinese(name: str) -> None:
    """The JSON is English in every language: the verification's summary, reasons and kinks included."""
    for args in (["run", name, "--format", "json"], ["train", name, "--epochs", "3", "--format", "json"]):
        assert cli(200, *args) == cli(200, *args, lang="en"), args
