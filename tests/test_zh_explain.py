"""`bptrace explain` in Chinese: every quantity of every bundled network, in every format explain writes.

For each name `bptrace explain --list` gives (each sample's and each window's spelling too), the Chinese
terminal output (at 80 columns), Markdown (both maths), LaTeX and ASCII have no English prose
(tests/i18n_tools.prose_lines), the same numbers as the English derivation, and the words of a Chinese
textbook derivation (由链式法则得, 代入数值得, 误差项, 验证); no terminal line is wider than 80 cells and
no number is broken across lines (the numbers of a line-wrapped Chinese page are the English page's).
The JSON is the same in both languages. The command itself: `bptrace explain w5 --lang zh` as a process,
--list, --step, and its errors.

A scenario's title is the author's text, not bptrace's: its words are left out of the prose check on the
heading lines only.

Time: SymPy's derivatives of the factors have no words, so the English derivation reuses the Chinese one's
(`_reuse_sympy`). Every name of every network (3940 names), each explained in both languages, took 3.6 min
of CPU (5.7 min on a shared machine); cs224n_window's 1803 names and softmax_classifier's SymPy
simplifications are most of it. The full sweep was kept: it is what finds a message left untranslated."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from i18n_tools import prose_lines
from rich.cells import cell_len
from rich.console import Console

import bptrace
from bptrace import i18n
from bptrace.cli.main import main
from bptrace.explain import derivation
from bptrace.explain.derivation import Explanation, explain
from bptrace.model import names
from bptrace.model.scenario import bundled_names
from bptrace.render.explain_latex import explanation_latex, explanation_markdown
from bptrace.render.explain_text import ExplanationView

ROOT = Path(__file__).resolve().parent.parent
WIDTH = 80
# a number as printed: not part of a name (h1, W1_1_2, E_total@1) nor of a longer number
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")
WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")


def spellings(s: bptrace.Scenario) -> list[str]:
    """Every name explain accepts, once: the canonical names and each sample's (and window's) spelling."""
    out: list[str] = []
    for name in names.all_names(s):
        out += names.spellings(name, s)
    return list(dict.fromkeys(out))


def in_language(lang: str, build: Any) -> Any:
    previous = i18n.language()
    i18n.set_language(lang)
    try:
        return build()
    finally:
        i18n.set_language(previous)


def terminal(ex: Explanation, width: int = WIDTH, ascii: bool = False) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    console.print(ExplanationView(ex, ascii=ascii))
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def pages(ex: Explanation) -> dict[str, str]:
    """Every format of one explanation (in the language it was built in)."""
    return {
        "terminal": terminal(ex),
        "markdown": explanation_markdown(ex),
        "markdown-unicode": explanation_markdown(ex, math="unicode"),
        "latex": explanation_latex(ex, standalone=True),
    }


def without_title(text: str, fmt: str, title: str) -> str:
    """The page with the scenario title's words taken out of its heading lines (the author's words)."""
    words = set(WORD.findall(title))
    lines = text.split("\n")
    if fmt == "terminal":  # the heading and its wrapped lines, up to the indented result line
        heading = []
        for k, line in enumerate(lines):
            if line.startswith("  "):
                break
            heading.append(k)
    elif fmt.startswith("markdown"):
        heading = [k for k, line in enumerate(lines) if line.startswith("# ")][:1]
    else:
        heading = [k for k, line in enumerate(lines) if line.startswith(("% bptrace explain", "\\subsection*{"))]
    for k in heading:
        lines[k] = WORD.sub(lambda m: "" if m.group(0) in words else m.group(0), lines[k])
    return "\n".join(lines)


def numbers(text: str) -> Counter[str]:
    return Counter(NUMBER.findall(text))


def textbook_words(ex: Explanation, page: str, fmt: str) -> list[str]:
    """The Chinese a derivation of this kind must show."""
    wanted = []
    if ex.chain:
        wanted.append("由链式法则得" if ex.chain_title == "由链式法则得" else "由定义得")
    if ex.kind in ("param", "grad", "updated") and fmt == "terminal":
        wanted += ["链式法则", "代入数值得", "各因子相乘"]
    if ex.kind == "delta":
        wanted.append("误差项")
    if ex.update is not None:
        wanted.append("参数更新")
    if ex.checks:
        wanted.append("验证")
    if ex.paths:
        wanted.append("在网络中的位置")
    return [w for w in wanted if w not in page]


@pytest.fixture
def _reuse_sympy(monkeypatch: pytest.MonkeyPatch) -> None:
    """SymPy's derivative of a factor, computed once for both languages (it has no words)."""
    real = derivation.derive
    done: dict[Any, derivation.Derivation] = {}

    def derive(top, bottom, expr, variable, point=None, expected=None, simplify=False):  # type: ignore[no-untyped-def]
        at = None if point is None else tuple(sorted((str(k), v) for k, v in point.items()))
        key = (top, bottom, str(expr), str(variable), at, expected, simplify)
        if key not in done:
            done[key] = real(top, bottom, expr, variable, point, expected, simplify)
        return done[key]

    monkeypatch.setattr(derivation, "derive", derive)


NETWORKS = bundled_names()


def test_every_bundled_network_is_covered() -> None:
    """The networks `bptrace scenarios` lists (the graphs, the RNNs and the layer stacks have their own explain)."""
    code, out = invoke("scenarios")
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    own_explain = ("graph_", "layers_", "rnn_")
    assert code == 0 and set(NETWORKS) == {name for name in listed if not name.startswith(own_explain)}
    assert len(NETWORKS) == 8


@pytest.mark.usefixtures("_reuse_sympy")
@pytest.mark.parametrize("scenario", NETWORKS)
def test_every_quantity_reads_as_a_chinese_derivation(scenario: str) -> None:
    t = bptrace.run(scenario)
    title = t.scenario.title
    problems: list[str] = []
    count = 0
    for spelled in spellings(t.scenario):
        q = names.parse(spelled, t.scenario)
        chinese = in_language("zh", lambda q=q: explain(t, q))
        english = in_language("en", lambda q=q: explain(t, q))
        zh, en = in_language("zh", lambda ex=chinese: pages(ex)), pages(english)
        en["terminal"] = terminal(english, width=1000)  # unwrapped: every number whole
        for fmt, page in zh.items():
            prose = prose_lines(without_title(page, fmt, title))
            if prose:
                problems.append(f"{spelled} {fmt}: English prose {prose[:3]}")
            if numbers(page) != numbers(en[fmt]):
                lost, added = numbers(en[fmt]) - numbers(page), numbers(page) - numbers(en[fmt])
                problems.append(f"{spelled} {fmt}: numbers differ: missing {dict(lost)}, extra {dict(added)}")
            missing = textbook_words(chinese, page, fmt)
            if missing:
                problems.append(f"{spelled} {fmt}: no {missing}")
        wide = [line for line in zh["terminal"].splitlines() if cell_len(line) > WIDTH]
        if wide:
            problems.append(f"{spelled}: {len(wide)} lines wider than {WIDTH}: {wide[:2]}")
        assert chinese.value == english.value or (chinese.value != chinese.value and english.value != english.value)
        count += 1
    assert not problems, f"{len(problems)} problems, e.g.\n" + "\n".join(problems[:15])
    assert count == len(spellings(t.scenario)) >= len(t.scenario.parameters())


@pytest.mark.parametrize(("scenario", "target"), [("mazur", "w1"), ("cs224n_window", "W2_1_2"), ("mazur", "b2")])
def test_ascii_chinese_has_no_symbols_and_no_english(scenario: str, target: str) -> None:
    t = bptrace.run(scenario)
    ex = in_language("zh", lambda: explain(t, target))
    page = in_language("zh", lambda: terminal(ex, ascii=True))
    assert "∂" not in page and "δ" not in page and "dE_total/d" + target in page
    assert prose_lines(without_title(page, "terminal", t.scenario.title)) == []
    assert "代入数值得" in page


# ---- the command line ----


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def run_process(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": str(WIDTH), "LANG": "en_US.UTF-8"}
    env.pop("BPTRACE_LANG", None)
    return subprocess.run(
        [sys.executable, "-m", "bptrace", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_explain_w5_in_chinese_as_a_process() -> None:
    proc = run_process("explain", "w5", "--lang", "zh")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("w5 · 从 h1 到 o1 的权重 · Mazur")
    for words in ("w5 在网络中的位置", "由链式法则得", "由 SymPy 求导得：", "闭式：", "代入数值得", "各因子相乘"):
        assert words in out, words
    assert "参数更新（学习率 η = 0.5）" in out and "验证" in out and "链式法则" in out and "有限差分" in out
    assert "w5⁺ = w5 - η·∂E_total/∂w5 = 0.4 - 0.5 × 0.0821670406 = 0.35891648" in out  # Mazur's numbers
    assert prose_lines(without_title(out, "terminal", "Mazur: A Step by Step Backpropagation Example")) == []
    assert all(cell_len(line) <= WIDTH for line in out.splitlines())
    english = run_process("explain", "w5", "--lang", "en")
    assert numbers(out) == numbers(english.stdout)


def test_json_is_english_in_chinese() -> None:
    for args in (["w5"], ["W2_1_2", "-s", "cs224n_window"], ["W1_1_1", "-s", "learner_004_l2"], ["delta_h1"]):
        chinese = invoke("explain", *args, "--format", "json", "--lang", "zh")
        assert chinese == invoke("explain", *args, "--format", "json", "--lang", "en")
        data = json.loads(chinese[1])
        assert data["chain_title"] == "Chain rule" and not re.search(r"[\u4e00-\u9fff]", chinese[1])
    assert i18n.language() == "en"  # the command's English for the JSON does not outlast it


def test_list_in_chinese() -> None:
    code, out = invoke("explain", "--list", "-s", "cs224n_window", "--lang", "zh")
    assert code == 0
    head = [line for line in out.splitlines() if line.startswith("#")]
    assert head[0].startswith("# CS224n") and head[0].endswith(" 的全部名称")
    assert "表示第 k 个样本（1..2）" in head[1] and "损坏窗口 x_c" in head[2]
    assert "net_o1:k  （以及 :kc）" in out
    assert prose_lines(without_title(out, "markdown", bptrace.load("cs224n_window").title)) == []
    english = invoke("explain", "--list", "-s", "cs224n_window")[1]
    assert [line.split()[0] for line in out.splitlines()[3:]] == [line.split()[0] for line in english.splitlines()[3:]]


def test_step_mode_in_chinese_prints_every_section() -> None:
    """Not a terminal: --step prints every section at once, in Chinese."""
    code, out = invoke("explain", "delta_h1", "--step", "--lang", "zh")
    assert code == 0
    assert invoke("explain", "delta_h1", "--lang", "zh") == (code, out)
    assert "由链式法则得" in out and "代入数值得" in out and "h1 的误差项" in out
    assert prose_lines(without_title(out, "terminal", "Mazur: A Step by Step Backpropagation Example")) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["explain", "w5", "--standalone"], "--standalone 只能与 --format latex 一起使用"),
        (["explain", "w5", "--standalone"], "请加上 --format latex"),  # the hint (its brackets: bptrace.errors)
        (["explain"], "请给出要推导的量 TARGET，例如 'bptrace explain w5'"),
        (["explain"], "'bptrace explain --list' 列出全部名称"),
        (["explain", "w55"], "全部名称见 'bptrace explain --list'"),
        (["explain", "wx", "-s", "ng_shallow"], "全部名称见 'bptrace explain --list -s ng_shallow'"),
    ],
)
def test_errors_are_one_chinese_line(args: list[str], words: str) -> None:
    result = CliRunner().invoke(main, [*args, "--lang", "zh"])
    assert result.exit_code == 2
    assert result.stdout == ""
    err = result.stderr
    assert err.count("\n") == 1 and "Traceback" not in err
    assert words in err, err
    # "bptrace: error:" is the CLI's prefix (bptrace.cli.main); explain and TARGET are a command and its argument
    said = err.removeprefix("bptrace: error: ")
    assert prose_lines(said, allowed={"explain", "TARGET"}) == [], err


def test_unknown_name_keeps_its_suggestion_and_points_to_the_list() -> None:
    """Whatever language bptrace.model.names speaks, the suggestion is kept and the list is named once."""
    result = CliRunner().invoke(main, ["explain", "w55", "--lang", "zh"])
    assert result.exit_code == 2
    assert "w5" in result.stderr and result.stderr.count("bptrace explain --list") == 1


def test_chinese_latex_compiles_with_xelatex_and_ctex(tmp_path: Path) -> None:
    """`explain --format latex --standalone --lang zh` writes a document for xelatex with ctex (its first line
    says so) that compiles, and its PDF reads back with the Chinese words and the numbers."""
    import tools

    for scenario, target in [
        ("mazur", "w1"),
        ("cs224n_window", "dE/dout_o1:1c"),
        ("learner_004_l2", "E_total@3"),
        ("deep_general_delta", "dE_o1/dout_h2_1:2"),
    ]:
        result = CliRunner().invoke(
            main, ["explain", target, "-s", scenario, "--format", "latex", "--standalone", "--lang", "zh"]
        )
        assert result.exit_code == 0, result.output
        assert result.output.startswith("% !TEX program = xelatex") and "ctex" in result.output
        text = tools.pdf_text(result.output, tmp_path)
        value = explain(bptrace.run(scenario), target).value
        assert any(word in text for word in ("链式法则", "由定义得", "代入数值得")), text[:500]
        assert f"{value:.6g}"[:6] in text.replace("−", "-"), (target, f"{value:.6g}")


def test_docs_show_the_real_chinese_output() -> None:
    """docs/explain.md's Chinese example is what `bptrace explain w1 --lang zh` prints at 80 columns."""
    doc = (ROOT / "docs" / "explain.md").read_text(encoding="utf-8")
    block = doc.split("## In Chinese (`--lang zh`)", 1)[1].split("```text\n", 1)[1].split("\n```", 1)[0]
    result = CliRunner().invoke(main, ["explain", "w1", "--lang", "zh"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0
    assert result.stdout.rstrip() == block
