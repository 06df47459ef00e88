"""Computational graphs (`kind: graph`) in Chinese: run in every format, explain of every gradient, the blank
sheet and a marked one with its misconceptions, the diagram, the lesson's steps and the parser's errors.

Each output has no English prose left (tests/i18n_tools.prose_lines), the same numbers as in English, the
glossary's words (计算图, 门, 局部梯度, 上游梯度, 链式法则, …), and at 80 columns no line wider than 80 cells
and no number broken across lines. The JSON stays English, byte for byte.
"""

from __future__ import annotations

import html
import html.parser
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from rich.cells import cell_len

from bptrace import i18n
from bptrace.cli.language import choose_language, walk
from bptrace.cli.main import main
from bptrace.graph import engine, model
from bptrace.model.scenario import BUNDLED_DIR, bundled_graph_names
from tests.i18n_tools import prose_lines

GRAPHS = bundled_graph_names()
# true names that may stand alone in Chinese output: the keys of a graph file and of a sheet, the sheet's
# placeholders, and a library the bundled graph_reuse cites
NAMES = {"kind", "graph", "title", "source", "description", "values", "define", "output", "update"}
NAMES |= {"scenario", "student", "answers", "NAME"}
NAMES |= {"micrograd"} | {n for g in GRAPHS for n in model.load(g).node_names()}
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?!\w|\.\d)")
PREFIX = re.compile(r"^bptrace: (?:error|错误): ")  # the prefix the command line writes (cli/main.py)


def invoke(lang: str, *args: str, columns: int = 80) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [*args, "--lang", lang], env={"COLUMNS": str(columns)})
    choose_language(main, ["--lang", "en"])  # the commands' help texts back in English for the other tests
    for command in walk(main):  # click caches each command's --help option with its help in the language of then
        command._help_option = None
    return result.exit_code, result.stdout, result.stderr


def numbers(text: str) -> Counter[str]:
    return Counter(NUMBER.findall(text.replace("−", "-")))


def assert_chinese(text: str, *words: str) -> None:
    """No English prose; every one of `words` present. A cited title (《Backpropagation, Intuitions》) is a name,
    also where the terminal wraps it across two lines."""
    prose = prose_lines(re.sub(r"《[^》]*》", "《》", text), allowed=NAMES)
    assert prose == [], prose[:5]
    # Chinese wraps between characters (render/terminal.py): a phrase may continue on the next line
    joined = re.sub(r"\s*\n\s*", "", text)
    missing = [w for w in words if w not in text and w not in joined]
    assert not missing, f"missing {missing} in:\n{text[:2000]}"


def assert_fits(text: str, columns: int = 80) -> None:
    over = [line for line in text.splitlines() if cell_len(line) > columns]
    assert not over, f"{len(over)} lines wider than {columns} cells, e.g. {over[0]!r}"


def assert_terminal(args: tuple[str, ...], *words: str, code: int = 0) -> str:
    """The command in Chinese at 80 columns: Chinese, fitting, with every number of the English output whole."""
    zh_code, zh, zh_err = invoke("zh", *args)
    en_code, en, _ = invoke("en", *args, columns=200)
    assert (zh_code, en_code) == (code, code), zh_err
    assert_chinese(zh, *words)
    assert_fits(zh)
    wide = invoke("zh", *args, columns=200)[1]
    assert numbers(zh) == numbers(wide), "a number is broken across lines at 80 columns"
    assert numbers(wide) == numbers(en), (numbers(wide) - numbers(en), numbers(en) - numbers(wide))
    return zh


class _Text(html.parser.HTMLParser):
    """The text an HTML page shows (not its style or script)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self.skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def page_text(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return "\n".join(parser.parts)


# ---- the bundled texts ----


@pytest.mark.parametrize("name", GRAPHS)
def test_the_title_and_source_of_every_bundled_graph_are_translated(name: str) -> None:
    data = yaml.safe_load((BUNDLED_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    for key in ("title", "source"):
        assert data[key] in model.BUNDLED_TEXTS, f"add the {key} of {name}.yaml to graph/model.BUNDLED_TEXTS"
        i18n.set_language("zh")
        try:
            shown = model.shown(data[key])
        finally:
            i18n.set_language("en")
        assert shown != data[key] and prose_lines(shown, allowed=NAMES) == []


def test_every_kind_graph_scenario_is_tested() -> None:
    graphs = sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml") if model.is_graph_text(p.read_text(encoding="utf-8")))
    assert graphs == sorted(GRAPHS) and len(graphs) >= 4


# ---- run ----


@pytest.mark.parametrize("name", GRAPHS)
def test_run_terminal(name: str) -> None:
    out = assert_terminal(("run", name), "前向传播", "反向传播", "门", "上游梯度", "局部梯度", "链式法则", "有限差分")
    assert "所有检查结果一致。" in out
    assert "来源：" in out and "变量的值：" in out
    for node in engine.trace(model.load(name)).gates:
        assert f" {node.name} " in out


@pytest.mark.parametrize("name", GRAPHS)
@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_run_markdown_and_html(name: str, fmt: str) -> None:
    code, zh, err = invoke("zh", "run", name, "--format", fmt)
    assert code == 0, err
    en = invoke("en", "run", name, "--format", fmt)[1]
    if fmt == "html":
        zh, en = page_text(zh), page_text(en)
    assert_chinese(zh, "前向传播：每行一个门，按计算顺序", "上游梯度", "局部梯度", "验证：", "链式法则")
    assert numbers(zh) == numbers(en)


@pytest.mark.parametrize("name", GRAPHS)
def test_the_json_is_english_in_every_language(name: str) -> None:
    first = next(iter(model.load(name).values))
    for args in (("run", name, "--format", "json"), ("explain", first, "-s", name, "--format", "json")):
        assert invoke("zh", *args) == invoke("en", *args)


def test_reuse_sums_and_the_update_in_chinese() -> None:
    out = assert_terminal(("run", "graph_reuse"), "被多次使用的节点：梯度等于各次使用的梯度之和", "逐项求和", "新值")
    assert "a（第 1 个输入）" in out
    assert "x⁺ = 2 - 0.1·(-8)" in out
    assert "（自动命名）" not in out  # every gate of graph_reuse is named


def test_automatic_names_and_gate_names() -> None:
    out = assert_terminal(("run", "graph_sigmoid_neuron"), "乘法门", "加法门", "取负门", "exp 门", "除法门")
    assert "（自动命名）" in out


# ---- kinks, notes of the verification, and a difference that cannot be computed ----

KINKED = (
    "kind: graph\nvalues: {x: 1, y: 2}\ndefine:\n  q: x * y\noutput: f = max(q, y) + relu(x - 1) + q*q + abs(y - 2)\n"
)
NEAR_ZERO = "kind: graph\nvalues: {x: 0.00001}\noutput: f = log(x)\n"


def test_kinks_in_chinese_and_english_in_the_json(tmp_path: Path) -> None:
    path = tmp_path / "kinked.yaml"
    path.write_text(KINKED, encoding="utf-8")
    out = assert_terminal(("run", str(path)), "不可导点：", "max 的两个输入相等", "按约定 relu′(0) = 0", "未判定")
    assert "✓（有限差分跨过了不可导点：未判定）" in re.sub(r"\s*\n\s*", "", out)
    data = invoke("zh", "run", str(path), "--format", "json")[1]
    assert data == invoke("en", "run", str(path), "--format", "json")[1]
    assert "crosses a kink: not judged" in data and "max at a tie" in data and "不可导点" not in data
    explained = assert_terminal(("explain", "df/dx", "-s", str(path)), "路径上有不可导点：", "从 x 到 f 的路径")
    assert "次梯度" in explained


def test_a_finite_difference_that_cannot_be_computed(tmp_path: Path) -> None:
    path = tmp_path / "near.yaml"
    path.write_text(NEAR_ZERO, encoding="utf-8")
    out = assert_terminal(("run", str(path)), "有限差分无法计算：", "log 在", "处无定义")
    assert "exp(" not in out
    data = invoke("zh", "run", str(path), "--format", "json")[1]
    assert data == invoke("en", "run", str(path), "--format", "json")[1]
    assert '"note": "not computed: f = log(x): log of' in data


# ---- explain ----


def targets(name: str) -> list[str]:
    code, out, _ = invoke("en", "explain", "--list", "-s", name)
    assert code == 0
    return [line for line in out.splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("name", GRAPHS)
def test_explain_every_gradient(name: str) -> None:
    s = model.load(name)
    listed = invoke("zh", "explain", "--list", "-s", name)[1]
    assert_chinese(listed, "的每个节点；可解释")
    for target in targets(name):
        node = target.split("/d", 1)[1]
        words = ["输出", "的梯度"]
        if node != s.output:
            words += ["链式法则", "反向传播逐个门计算，得到同一个数："]
        out = assert_terminal(("explain", target, "-s", name), *words)
        if node == s.output:
            assert "是反向传播的起点" in out
        elif node in s.update:
            assert "更新：" in out


def test_explain_markdown_in_chinese() -> None:
    code, out, _ = invoke("zh", "explain", "df/dx", "-s", "graph_reuse", "--format", "markdown")
    assert code == 0
    assert_chinese(out, "从 x 到 f 的路径", "（对所有路径求和）", "链式法则")
    assert numbers(out) == numbers(invoke("en", "explain", "df/dx", "-s", "graph_reuse", "--format", "markdown")[1])


# ---- template and check ----


@pytest.mark.parametrize("name", GRAPHS)
def test_template(name: str) -> None:
    code, zh, _ = invoke("zh", "template", name)
    en = invoke("en", "template", name)[1]
    assert code == 0
    assert_chinese(zh, "# 答题卡：", "前向传播：每个门的值", "反向传播：")
    assert_fits(zh, 200)

    def keys(text: str) -> list[str]:
        return [line for line in text.splitlines() if not line.lstrip().startswith("#")]

    assert keys(zh) == keys(en)  # the sheet itself is the same in every language


def filled_sheet(tmp_path: Path, name: str) -> tuple[Path, str]:
    """The sheet of `name` with every answer right but one gradient's sign (returns its key)."""
    s = model.load(name)
    t = engine.trace(s)
    lines = [f"scenario: {name}", "student: 李明", "answers:"]
    wrong = ""
    for line in invoke("en", "template", name)[1].splitlines():
        key = line.strip().rstrip(":")
        if not line.startswith("  ") or key.startswith("#"):
            continue
        if "/" in key:
            value = t.nodes[key.split("/d", 1)[1]].grad
            if not wrong and value != 0:
                wrong, value = key, -value
        elif key.endswith("+"):
            value = t.new_values[key[:-1]]
        else:
            value = t.nodes[key].value
        lines.append(f"  {key}: {value!r}")
    path = tmp_path / f"{name}_sheet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, wrong


@pytest.mark.parametrize("name", GRAPHS)
def test_check_a_sheet_with_a_wrong_sign(name: str, tmp_path: Path) -> None:
    path, wrong = filled_sheet(tmp_path, name)
    out = assert_terminal(("check", str(path)), "量", "作答", "正确值", "诊断", "数值正确但符号相反", code=1)
    assert "李明: " in out
    assert re.search(r"(?<!\d)(\d+) 题中答对 \1 题", out) is None  # one answer is wrong
    assert f" {wrong} " in out
    json_args = ("check", str(path), "--format", "json")
    assert invoke("zh", *json_args) == invoke("en", *json_args)


@pytest.mark.parametrize(
    ("name", "answers", "words"),
    [
        ("graph_reuse", {"df/dx": -6}, "其梯度在每次使用时被覆盖而没有相加"),
        ("graph_circuit", {"df/dq": 3}, "把乘法门的局部梯度取成了该输入本身"),
        ("graph_max", {"df/dw": 2, "df/dz": 0}, "把 max 门的梯度传给了较小的输入"),
        ("graph_circuit", {"df/dz": None}, "未作答"),
    ],
)
def test_the_misconceptions_are_named_in_chinese(
    name: str, answers: dict[str, float | None], words: str, tmp_path: Path
) -> None:
    body = "".join(f"  {k}: {'' if v is None else v}\n" for k, v in answers.items())
    path = tmp_path / "sheet.yaml"
    path.write_text(f"scenario: {name}\nstudent: 王芳\nanswers:\n{body}", encoding="utf-8")
    assert_terminal(("check", str(path)), words, "得分", code=1)


# ---- the diagram ----


def svg_texts(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    return "\n".join(html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", text))


@pytest.mark.filterwarnings("ignore:Glyph .* missing from font")  # where matplotlib knows no Chinese font
@pytest.mark.parametrize("name", GRAPHS)
def test_diagram(name: str, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    zh_svg, en_svg = tmp_path / "zh.svg", tmp_path / "en.svg"
    code, _, err = invoke("zh", "diagram", name, "-o", str(zh_svg))
    assert code == 0, err
    assert f"bptrace: 已写入 {zh_svg}" in err
    assert invoke("en", "diagram", name, "-o", str(en_svg))[0] == 0
    zh, en = svg_texts(zh_svg), svg_texts(en_svg)
    assert_chinese(zh, "边的上方是前向传播的值，下方是", "的梯度")
    assert numbers(zh) == numbers(en)


# ---- the lesson's steps ----


@pytest.mark.parametrize("name", GRAPHS)
def test_the_lesson_reveals_the_same_values_in_chinese(name: str) -> None:
    from bptrace.graph.verify import verify
    from bptrace.render.graph_out import run_blocks
    from bptrace.render.lesson import graph_slides

    t = engine.trace(model.load(name))
    slides = {}
    for lang in ("en", "zh"):
        i18n.set_language(lang)
        try:
            slides[lang] = graph_slides(t, run_blocks(t, verify(t)))
        finally:
            i18n.set_language("en")
    assert [s.known for s in slides["zh"]] == [s.known for s in slides["en"]]
    assert any(s.known for s in slides["zh"])
    text = "\n".join(f"{s.section}\n{s.heading}\n" + "\n".join(f"{h}: {c}" for h, c in s.cells) for s in slides["zh"])
    assert_chinese(text, "前向传播", "上游梯度", "局部梯度")


# ---- the parser's errors ----

HOSTILE = [
    "f = __import__('os')",
    "f = x.real",
    '"f = lambda x: x"',
    "f = 'abc' + x",
    "f = (x + y",
    "f = sigmod(x)",
    "f = x + w",
    "f = 2x",
    "f = max(x)",
    "f = x ^ 1000",
    "f = x +",
    "f = )",
    "f = [x]",
    "f = x y",
    "f = €",
    "f = 1e999 * x",
    "f = 3",
    "f = x if y else 0",
    '"f = x == y"',
    "f = x / (y - y)",
    "f = log(x - 1)",
    "f = exp(exp(exp(x*100)))",
    "f = sqrt(x - 1)",
    "f = " + "(" * 50 + "x" + ")" * 50,
]


@pytest.mark.parametrize("expression", HOSTILE)
def test_parser_errors_are_chinese_one_line_with_the_location(expression: str, tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(f"kind: graph\nvalues: {{x: 1, y: 2}}\noutput: {expression}\n", encoding="utf-8")
    zh_code, zh_out, zh = invoke("zh", "run", str(path))
    en_code, _, en = invoke("en", "run", str(path))
    assert (zh_code, en_code, zh_out) == (2, 2, "")
    assert zh.endswith("\n") and zh.count("\n") == 1 and "Traceback" not in zh
    where = re.compile(re.escape(str(path)) + r":\d+:\d+: ")
    assert where.search(en) and where.search(zh).group(0) == where.search(en).group(0)  # type: ignore[union-attr]
    message = PREFIX.sub("", zh)
    assert prose_lines(message, allowed=NAMES) == [], message
    assert re.search(r"[\u4e00-\u9fff]", message), message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("kind: graph\nvalues: {x: 1}\noutput: f = x\nvalues2: 1\n", "计算图场景中有未知的键"),
        ("kind: graph\nvalues: {x: 1}\n", "缺少必需的键"),
        ("kind: graph\nvalues: {x: 1}\ndefine:\n  q: x\noutput: f = x\n", "没有任何地方用到它"),
        ("kind: graph\nvalues: {x: 1}\ndefine:\n  q: r\n  r: x\noutput: f = q\n", "定义在更后面"),
        ("kind: graph\nvalues: {x: 1}\noutput: f = x\nupdate: [x]\n", "update 需要 learning_rate"),
        ("kind: graph\nvalues: {x: 1}\noutput: f = x\nlearning_rate: -1\n", "learning_rate 必须为正"),
        ("kind: graph\nvalues: {x: 1, exp: 2}\noutput: f = x\n", "是函数名或关键字"),
        ("kind: grph\nvalues: {x: 1}\noutput: f = x\n", "是不是想写 graph？"),
    ],
)
def test_model_errors_are_chinese(text: str, words: str, tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(text, encoding="utf-8")
    code, _, err = invoke("zh", "run", str(path))
    assert code == 2 and err.count("\n") == 1 and f"{path}:" in err
    message = PREFIX.sub("", err)
    assert words in message and prose_lines(message, allowed=NAMES) == [], message


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("explain", "df/dq9", "-s", "graph_circuit"), "这个计算图中没有名为"),
        (("explain", "df/dqq", "-s", "graph_circuit"), "是不是想写 q？"),
        (("explain", "dL/dx", "-s", "graph_circuit"), "这个计算图的输出是 f"),
        (("explain", "-s", "graph_circuit"), "请给出要解释的 TARGET"),
        (("run", "graph_circuit", "--layer", "1"), "只用于网络"),
    ],
)
def test_command_errors_are_chinese(args: tuple[str, ...], words: str) -> None:
    code, _, err = invoke("zh", *args)
    assert code == 2 and err.count("\n") == 1
    message = PREFIX.sub("", err)
    assert words in message and prose_lines(message, allowed=NAMES) == [], message


def test_the_chinese_example_in_the_docs_is_real_output() -> None:
    text = (Path(__file__).parent.parent / "docs" / "graphs.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```text\n\$ bptrace (.+? --lang zh)\n(.*?)\n```", text, re.DOTALL)
    assert len(blocks) == 1
    for command, shown in blocks:
        args = command.split()
        code, out, err = invoke("zh", *args[: args.index("--lang")], columns=100)
        assert code == 0, err
        assert [line.rstrip() for line in out.rstrip().splitlines()] == shown.splitlines(), command


@pytest.mark.parametrize("name", GRAPHS)
def test_the_lesson_page_of_a_graph(name: str, tmp_path: Path) -> None:
    page = tmp_path / "lesson.html"
    code, _, err = invoke("zh", "lesson", name, "-o", str(page))
    assert code == 0, err
    text = page.read_text(encoding="utf-8")
    i18n.set_language("zh")
    try:
        title = model.shown(model.load(name).title)
    finally:
        i18n.set_language("en")
    assert f"<h1>{html.escape(title, quote=True)}</h1>" in text or html.escape(title) in text
    for words in ("前向传播：每行一个门，按计算顺序", "上游梯度 ∂f/∂门", "局部梯度 ∂门/∂输入"):
        assert html.escape(words) in text
    code, _, err = invoke("zh", "lesson", name, "--explain", "x", "-o", str(tmp_path / "x.html"))
    assert code == 2 and "计算图请去掉 --explain" in err
