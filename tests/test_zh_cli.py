"""The command line in Chinese: errors, --help, the scenario titles, full-width punctuation, the language switch.

Every Chinese error is one line on stderr, exit status 2, keeps its file:line:column and its fix, and has no
English prose (tests/i18n_tools.prose_lines); every --help is Chinese from its first word (用法); a scenario's
title and source are its title_zh and source_zh; a full-width character where YAML or a number needs an ASCII
one is named at its own line and column, in both languages.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from i18n_tools import prose_lines
from rich.cells import cell_len

from bptrace import i18n
from bptrace.cli.language import walk
from bptrace.cli.main import main
from bptrace.errors import BptraceError
from bptrace.model import source
from bptrace.model.scenario import BUNDLED_DIR, bundled_graph_names, bundled_names, bundled_titles, loads

ROOT = Path(__file__).resolve().parent.parent
MAZUR = (BUNDLED_DIR / "mazur.yaml").read_text(encoding="utf-8")
COMMANDS = sorted(main.commands)
LOCATION = re.compile(r"^bptrace: 错误: (?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): ")


def names_of_the_command_line() -> set[str]:
    """What --help shows that is a name, not prose: commands, metavars, the choices of every option."""
    names = set(COMMANDS) | {"SCENARIO", "TARGET", "SHEET", "SHEETS", "QUANTITY", "SECTIONS", "KEY", "VALUES"}
    for command in walk(main):
        for param in command.params:
            if isinstance(param.type, click.Choice):
                for choice in param.type.choices:
                    names.update(re.split(r"[-_]", str(choice)))
    # the sections of a sheet, compare's conventions, JSON keys and CSV columns, keys of the keyboard, a library
    names.update({"forward", "backward", "updates", "frozen", "neuron", "shared", "original", "updated"})
    names.update({"biases", "reduction", "hidden"})
    names.update({"epochs", "history", "parameters", "epoch", "loss", "Home", "End", "rich"})
    return names


NAMES = names_of_the_command_line()
KEYS = {"inputs", "targets", "samples", "layers", "weights", "biases", "activation", "neurons", "loss"}  # YAML keys


def invoke(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), env=env, prog_name="bptrace")


def run_process(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """bptrace as its own process, with a clean environment (no BPTRACE_LANG unless given)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "bptrace", *args], capture_output=True, text=True, env={**base, **env}, cwd=ROOT
    )


def one_chinese_error(stderr: str, allowed: frozenset[str] | set[str] = frozenset()) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    line = lines[0]
    assert line.startswith("bptrace: 错误: "), line
    assert "Traceback" not in line
    assert prose_lines(line, allowed=set(allowed) | set(COMMANDS)) == [], line
    return line


# ---- errors ---------------------------------------------------------------------------------------------

BAD_SCENARIOS = {
    # name: (text, the Chinese words of its message, where the error points: the text there, or (line, column))
    "malformed YAML": ("inputs: [0.05, 0.10\nlayers: []\n", "YAML 格式错误：缺少应有的 ',' 或 ']'", (2, 7)),
    "unknown key": (MAZUR.replace("layers:", "layerz:"), "未知的键 'layerz'（是不是想写 layers？）", "layerz:"),
    "NaN": (MAZUR.replace("i1: 0.05", "i1: .nan"), "得到的是 nan（不允许 NaN 和无穷大）", "i1: .nan"),
    "full-width colon": (
        MAZUR.replace("learning_rate: 0.5", "learning_rate：0.5"),
        "全角冒号 '：'（U+FF1A）：请写 ':' 并在后面加一个空格",
        "：0.5",
    ),
    "missing key": ("inputs: [1]\ntargets: [1]\n", "缺少必需的键 'layers'（参见 docs/scenarios.md）", (1, 1)),
    "a list": ("- 1\n- 2\n", "场景必须是由键（inputs、layers 等）组成的映射，而不是列表", (1, 1)),
    "shape": (
        "inputs: [1, 2]\ntargets: [1]\nlayers:\n  - weights: [[1, 2, 3]]\n",
        "每行必须有 2 个权重（输入层每个神经元一个），得到的是 3 个",
        (4, 5),
    ),
}


def _at(text: str, where: str | tuple[int, int]) -> tuple[int, int]:
    if isinstance(where, tuple):
        return where
    index = text.index(where)
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_a_bad_scenario_is_one_chinese_line_with_its_place(case: str, tmp_path: Path) -> None:
    text, words, where = BAD_SCENARIOS[case]
    line, column = _at(text, where)
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    result = invoke("run", str(path), "--lang", "zh")
    assert result.exit_code == 2, result.output
    message = one_chinese_error(result.stderr, allowed=KEYS | {"nan", "NaN", "layerz"})  # names, not prose
    assert words in message
    found = LOCATION.match(message)
    assert found is not None, message
    assert (found["file"], int(found["line"]), int(found["column"])) == (str(path), line, column)
    # the same error in English is the English message, at the same place
    english = invoke("run", str(path), "--lang", "en")
    assert english.exit_code == 2
    assert english.stderr.startswith(f"bptrace: error: {path}:{line}:{column}: "), english.stderr
    assert not re.search(r"[\u4e00-\u9fff]", english.stderr)


def test_an_unknown_file_and_an_unknown_scenario_in_chinese() -> None:
    result = invoke("run", "no/such.yaml", "--lang", "zh")
    assert result.exit_code == 2
    assert one_chinese_error(result.stderr) == "bptrace: 错误: no/such.yaml: 没有这个文件（请检查路径）"
    result = invoke("run", "mazr", "--lang", "zh")
    assert result.exit_code == 2
    line = one_chinese_error(result.stderr, allowed=set(bundled_names()))
    assert "没有名为 'mazr' 的内置场景" in line and "（是不是想写 mazur？）" in line


def test_a_real_process_says_it_in_chinese_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    text = MAZUR.replace("learning_rate: 0.5", "learning_rate: ０．５")
    path.write_text(text, encoding="utf-8")
    proc = run_process("run", str(path), LANG="zh_CN.UTF-8")
    assert proc.returncode == 2
    assert proc.stdout == ""
    line, column = _at(text, "０．５")
    assert one_chinese_error(proc.stderr) == (
        f"bptrace: 错误: {path}:{line}:{column}: learning_rate: 全角数字 '０'（U+FF10）：请写 '0'（是不是想写 0.5？）"
    )


def test_usage_errors_and_click_words_are_chinese() -> None:
    result = invoke("run", "--digits", "0", "--lang", "zh")
    assert result.exit_code == 2
    line = one_chinese_error(result.stderr)
    assert line == "bptrace: 错误: '--digits' 的值无效：0 不在范围 1<=x<=17 内。（参见 'bptrace run --help'）"
    result = invoke("run", "--nosuch", "--lang", "zh")
    assert result.exit_code == 2
    assert "没有选项 '--nosuch'" in one_chinese_error(result.stderr)
    result = invoke("run", "--digits", "many", "--lang", "zh")
    assert "'many' 不是有效的整数。" in one_chinese_error(result.stderr)
    result = invoke("compare", "mazur", "--lang", "zh")  # --vary is required
    assert "缺少选项 '--vary'" in one_chinese_error(result.stderr)


def test_the_cli_own_messages_are_translated() -> None:
    i18n.set_language("zh")
    assert i18n._("bptrace: aborted") == "bptrace: 已中止"
    assert i18n._("bptrace: interrupted") == "bptrace: 已中断"
    assert i18n._("bptrace: terminated (no file was changed)") == "bptrace: 已终止（没有文件被改动）"
    internal = i18n._(
        "bptrace: internal error: {error}: {message} (this is a bug in bptrace; rerun with --traceback and report it)"
    )
    assert internal.startswith("bptrace: 内部错误: {error}: {message}（") and "--traceback" in internal
    from bptrace.output import stream_error

    assert str(stream_error(i18n._("the output"), OSError(28, "No space left on device"))) == "无法写入 输出：磁盘已满"


def test_an_output_error_in_chinese(tmp_path: Path) -> None:
    (tmp_path / "out.txt").write_text("x", encoding="utf-8")
    result = invoke("run", "mazur", "-o", str(tmp_path / "out.txt"), "--lang", "zh")
    assert result.exit_code == 2
    line = one_chinese_error(result.stderr)
    assert line.endswith("out.txt：文件已存在（加上 --force 以替换它，或换一个文件名）"), line
    assert "无法写入 " in line


def test_an_internal_error_is_one_chinese_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import bptrace.cli.main as cli_main

    def broken(name: str | None) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(cli_main, "load_scenario", broken)
    result = invoke("run", "mazur", "--lang", "zh", "--verify", "off")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert line.startswith("bptrace: 内部错误: RuntimeError: boom（这是 bptrace 的缺陷；"), line


# ---- full-width punctuation -----------------------------------------------------------------------------

# (the text changed in mazur.yaml, the character named, its name in each language)
FULL_WIDTH = [
    ("learning_rate: 0.5", "learning_rate：0.5", "：", "full-width colon", "全角冒号"),
    ("learning_rate: 0.5", "learning_rate： 0.5", "：", "full-width colon", "全角冒号"),
    ("neurons: [h1, h2]", "neurons: [h1，h2]", "，", "full-width comma", "全角逗号"),
    ("neurons: [h1, h2]", "neurons: [h1、h2]", "、", "ideographic comma", "顿号"),
    ("inputs: {i1: 0.05, i2: 0.10}", "inputs: {i1: 0.05，i2: 0.10}", "，", "full-width comma", "全角逗号"),
    ("inputs: {i1: 0.05, i2: 0.10}", "inputs: {i1：0.05, i2: 0.10}", "：", "full-width colon", "全角冒号"),
    ("learning_rate: 0.5", "learning_rate: ０.5", "０", "full-width digit", "全角数字"),
    ("learning_rate: 0.5", "learning_rate: 0．5", "．", "full-width full stop", "全角句点"),
    ("learning_rate: 0.5", "learning_rate: 0。5", "。", "ideographic full stop", "中文句号"),
    ("value: 0.15}", "value: －0.15}", "－", "full-width minus", "全角减号"),
    ("value: 0.15}", "value: ＋0.15}", "＋", "full-width plus", "全角加号"),
    ("neurons: [h1, h2]", "neurons: ［h1, h2］", "［", "full-width bracket", "全角括号"),
    ("inputs: {i1: 0.05, i2: 0.10}", "inputs: ｛i1: 0.05, i2: 0.10｝", "｛", "full-width bracket", "全角括号"),
    ("neurons: [h1, h2]", "neurons: 【h1, h2】", "【", "full-width bracket", "全角括号"),
    ("learning_rate: 0.5", "learning_rate:\u30000.5", "\u3000", "ideographic space", "全角空格"),
    ("learning_rate: 0.5", "\u3000learning_rate: 0.5", "\u3000", "ideographic space", "全角空格"),
    ("learning_rate: 0.5", "learning_rate: 0.5\n＃ a comment", "＃", "full-width number sign", "全角井号"),
]


def _place(text: str, char: str, near: str) -> tuple[int, int]:
    """The 1-based line and column of `char` in the changed part `near` of `text`."""
    index = text.index(near) + near.index(char)
    return text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index)


@pytest.mark.parametrize(("before", "after", "char", "english", "chinese"), FULL_WIDTH)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_full_width_punctuation_in_a_scenario(
    before: str, after: str, char: str, english: str, chinese: str, lang: str
) -> None:
    text = MAZUR.replace(before, after, 1)
    assert text != MAZUR
    i18n.set_language(lang)
    with pytest.raises(BptraceError) as info:
        loads(text, "m.yaml")
    message = str(info.value)
    line, column = _place(text, char, after)
    assert message.startswith(f"m.yaml:{line}:{column}: "), message
    assert f"(U+{ord(char):04X})" in message or f"（U+{ord(char):04X}）" in message, message
    assert (chinese if lang == "zh" else english) in message
    if char != "\u3000":
        assert f"'{char}'" in message
    assert "\n" not in message
    if lang == "zh":
        assert prose_lines(message) == [], message


SHEET = "scenario: mazur\nstudent: 王小明\nanswers:\n  net_h1: 0.3775\n  out_h1: 0.593269992\n"


@pytest.mark.parametrize(
    ("before", "after", "char"),
    [
        ("net_h1: 0.3775", "net_h1：0.3775", "："),
        ("net_h1: 0.3775", "net_h1: ０.3775", "０"),
        ("net_h1: 0.3775", "net_h1: 0。3775", "。"),
        ("out_h1: 0.593269992", "out_h1: －0.593269992", "－"),
        ("net_h1: 0.3775", "net_h1:\u30000.3775", "\u3000"),
        ("net_h1: 0.3775", "net_h1: {value: 0.3775，points: 2}", "，"),
        ("scenario: mazur", "scenario：mazur", "："),
    ],
)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_full_width_punctuation_in_an_answer_sheet(
    before: str, after: str, char: str, lang: str, tmp_path: Path
) -> None:
    text = SHEET.replace(before, after, 1)
    path = tmp_path / "sheet.yaml"
    path.write_text(text, encoding="utf-8")
    result = invoke("check", str(path), "--lang", lang)
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line, column = _place(text, char, after)
    prefix = "bptrace: 错误: " if lang == "zh" else "bptrace: error: "
    assert lines[0].startswith(f"{prefix}{path}:{line}:{column}: "), lines[0]
    assert f"U+{ord(char):04X}" in lines[0]
    if lang == "zh":
        assert prose_lines(lines[0]) == [], lines[0]


def test_full_width_punctuation_in_text_is_kept() -> None:
    """A title, a source or a student's name may be Chinese, with Chinese punctuation."""
    text = MAZUR.replace('title: "Mazur', 'title: "Mazur（2015）：一步，两步。')
    text = re.sub(r"(?m)^source_zh: .*$", "source_zh: 甲：乙，丙。", text)
    scenario = loads(text, "m.yaml")
    assert scenario.title.startswith("Mazur（2015）：一步，两步。")
    assert scenario.source_zh == "甲：乙，丙。"


def test_a_graph_expression_with_a_full_width_plus_names_it() -> None:
    from bptrace.graph.model import from_document

    text = "kind: graph\nvalues: {x: 1, y: 2}\noutput: f = x ＋ y\n"
    with pytest.raises(BptraceError) as info:
        from_document(source.parse(text, "g.yaml", BptraceError))
    assert str(info.value).startswith("g.yaml:3:15: output: "), str(info.value)
    assert "'＋' (U+FF0B)" in str(info.value)


# ---- scenario titles ------------------------------------------------------------------------------------


def test_lang_zh_from_the_locale_shows_chinese_titles() -> None:
    proc = run_process("scenarios", LANG="zh_CN.UTF-8")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert prose_lines(out, allowed=set(bundled_names() + bundled_graph_names())) == [], out
    assert all(cell_len(line) <= 80 for line in out.splitlines()), out
    for name in bundled_names() + bundled_graph_names():
        data = yaml.safe_load((BUNDLED_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
        assert name in out
        assert data["title_zh"].split("《")[0][:6] in out, name
    assert "浅层神经网络" in out and "交叉熵" in out and "《A Step by Step Backpropagation Example》" in out


def test_lang_en_overrides_a_chinese_locale() -> None:
    proc = run_process("scenarios", "--lang", "en", LANG="zh_CN.UTF-8")
    assert proc.returncode == 0
    assert "Mazur: A Step by Step Backpropagation Example" in proc.stdout
    assert not re.search(r"[\u4e00-\u9fff]", proc.stdout)


def test_bptrace_lang_chooses_chinese() -> None:
    result = invoke("scenarios", env={"BPTRACE_LANG": "zh", "LANG": "en_US.UTF-8"})
    assert result.exit_code == 0
    assert "CS231n 的电路" in result.output
    result = invoke("scenarios", env={"BPTRACE_LANG": "zh_CN.UTF-8"})
    assert "softmax 分类器" in result.output


@pytest.mark.parametrize("env", [{"LANG": "en_US.UTF-8"}, {"LANG": "zh_CN.UTF-8"}])
def test_an_unknown_lang_is_a_clean_usage_error(env: dict[str, str]) -> None:
    proc = run_process("scenarios", "--lang", "fr", **env)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "'fr'" in lines[0] and "'en', 'zh'" in lines[0] and "scenarios --help" in lines[0]
    if env["LANG"].startswith("zh"):
        assert lines[0].startswith("bptrace: 错误: '--lang' 的值无效：'fr' 不是 'en', 'zh' 之一。（参见 '")
        assert lines[0].endswith("bptrace scenarios --help'）")
    else:
        assert lines[0].startswith("bptrace: error: Invalid value for '--lang': 'fr' is not one of 'en', 'zh'.")


@pytest.mark.parametrize("name", bundled_names() + bundled_graph_names())
def test_every_bundled_scenario_has_a_chinese_title_and_source(name: str) -> None:
    from bptrace.cli.graph import graph_scenario
    from bptrace.model.scenario import load

    scenario = graph_scenario(name) or load(name)
    assert scenario.title_zh and scenario.source_zh
    assert re.search(r"[\u4e00-\u9fff]", scenario.title_zh) and re.search(r"[\u4e00-\u9fff]", scenario.source_zh)
    i18n.set_language("zh")
    assert scenario.display_title() == scenario.title_zh
    assert scenario.display_source() == scenario.source_zh
    assert prose_lines(scenario.display_title()) == [] and prose_lines(scenario.display_source()) == []
    assert dict(bundled_titles())[name] == scenario.title_zh
    i18n.set_language("en")
    assert scenario.display_title() == scenario.title and scenario.display_source() == scenario.source_note
    assert dict(bundled_titles())[name] == scenario.title


def test_the_json_keeps_the_english_title() -> None:
    import json

    result = invoke("run", "mazur", "--format", "json", "--verify", "off", "--lang", "zh")
    assert result.exit_code == 0
    assert json.loads(result.output)["scenario"]["title"] == "Mazur: A Step by Step Backpropagation Example"


def test_a_document_title_is_chinese() -> None:
    result = invoke("run", "mazur", "--format", "html", "--verify", "off", "--lang", "zh")
    assert result.exit_code == 0
    assert "<title>Mazur：逐步演示的反向传播示例《A Step by Step Backpropagation Example》</title>" in result.output


def test_title_zh_must_be_text_and_is_in_the_schema() -> None:
    import json

    import jsonschema

    with pytest.raises(BptraceError, match="title_zh must be text"):
        loads(re.sub(r"(?m)^title_zh: .*$", "title_zh: [1]", MAZUR), "m.yaml")
    schema = json.loads((ROOT / "bptrace" / "scenario.schema.json").read_text(encoding="utf-8"))
    for name in bundled_names() + bundled_graph_names():
        jsonschema.validate(yaml.safe_load((BUNDLED_DIR / f"{name}.yaml").read_text(encoding="utf-8")), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**yaml.safe_load(MAZUR), "title_zh": 3}, schema)


# ---- --help ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_help_is_chinese(command: str) -> None:
    args = [command] if command else []
    result = invoke(*args, "--help", "--lang", "zh", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith("用法"), out[:100]
    assert prose_lines(out, allowed=NAMES) == [], out
    assert "选项:" in out and "显示此帮助并退出。" in out and "[选项]" in out
    # a line with Chinese fits 80 cells (an example command line is as long as it is in English)
    assert [line for line in out.splitlines() if cell_len(line) > 80 and not line.isascii()] == []
    english = invoke(*args, "--help", "--lang", "en", env={"COLUMNS": "80"}).output
    assert english.startswith("Usage:") and not re.search(r"[\u4e00-\u9fff]", english.replace("简体中文", ""))
    # the numbers and option names of the English help are all there
    for token in re.findall(r"--[a-z][a-z-]+|\b\d+(?:\.\d+)?\b", english):
        assert token in out, token


def test_the_list_of_commands_is_one_short_chinese_line_each() -> None:
    out = invoke("--help", "--lang", "zh", env={"COLUMNS": "80"}).output
    commands = out.split("命令:\n")[1]
    assert "run        追踪 SCENARIO 的一个训练步。" in commands
    assert "scenarios  列出内置场景及其标题。" in commands
    assert "..." not in commands


def test_help_in_english_after_chinese_is_english_again() -> None:
    invoke("run", "--help", "--lang", "zh")
    out = invoke("run", "--help", env={"COLUMNS": "80"}).output
    assert "Trace one training step of SCENARIO" in out and "--digits INTEGER RANGE" in out
    assert "-o, --output FILE" in out


def test_every_activation_parameter_names_its_value_in_chinese() -> None:
    from bptrace.functions import ACTIVATION_PARAMS
    from bptrace.model.scenario import PARAM_EXPECTS

    assert {p.expects for p in ACTIVATION_PARAMS} <= set(PARAM_EXPECTS)
    i18n.set_language("zh")
    with pytest.raises(BptraceError) as info:
        loads(MAZUR + "leaky_slope: abc\n", "m.yaml")
    assert "应为斜率，得到的是 'abc'" in str(info.value)
