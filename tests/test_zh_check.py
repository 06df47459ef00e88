"""`bptrace check`, `key`, `template` and `new` in Chinese (--lang zh): every sheet under examples/, the example
classes with their keys, every misconception of the catalogue, the YAML files written, the errors of reading a
sheet or a key; no English prose left, the same numbers, points and exit statuses as in English, 80 columns."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from i18n_tools import english_words, prose_lines
from rich.cells import cell_len

from bptrace import i18n
from bptrace.cli.main import main
from bptrace.engine.quantities import value
from bptrace.engine.step import trace
from bptrace.errors import BptraceError
from bptrace.grading import answers, diagnose
from bptrace.grading import key as key_mod
from bptrace.grading.diagnose import CODES, Knobs, Variant, describe
from bptrace.model.names import parse
from bptrace.model.scenario import bundled_names, load

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CLASS = EXAMPLES / "class"
ZH = EXAMPLES / "zh"
MINE = [
    "bptrace/grading/answers.py",
    "bptrace/grading/key.py",
    "bptrace/grading/marking.py",
    "bptrace/grading/followthrough.py",
    "bptrace/grading/diagnose.py",
    "bptrace/grading/classview.py",
    "bptrace/render/check_out.py",
    "bptrace/cli/check.py",
]
DECIMAL = re.compile(r"-?\d[\d,]*\.\d+(?:e[-+]?\d+)?")  # 0.75136507, -0.0306075282, 3.51018778e-05
POINTS = re.compile(r"\d+(?:\.\d+)?/\d+(?:\.\d+)?")  # 13/22, 0.5/1
CJK = re.compile(r"[\u4e00-\u9fff]")
WIDE = 1000  # nothing wraps: each message on one line
KEY_NAMES = {"reduction"}  # a scenario's key, named in a rule ("reduction 为 mean 时"): a name, not prose
# What an error names and is not prose: the keys of a sheet and of a key, YAML's true and false, and the
# placeholders of a usage (QUANTITY: VALUE, -s SCENARIO, --key KEY)
YAML_NAMES = {
    *answers.TOP_KEYS,
    *answers.ANSWER_KEYS,
    *key_mod.TOP_KEYS,
    *key_mod.EXERCISE_KEYS,
    *key_mod.RULE_KEYS,
    *key_mod.QUESTION_KEYS,
    "true",
    "false",
    "QUANTITY",
    "VALUE",
    "POINTS",
    "NAME",
    "SCENARIO",
    "KEY",
    "SHEETS",
}
MAIN_PREFIX = "bptrace: error: "  # bptrace/cli/main.py's frame of an error (the cli's to translate)


def sheets_under_examples() -> list[Path]:
    """Every answer sheet under examples/ (a YAML file with answers:), the Chinese example's included."""
    out = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            out.append(path)  # a sheet that cannot be read (examples/class/sheets/dan.yaml) is a sheet too
            continue
        if isinstance(data, dict) and "answers" in data:
            out.append(path)
    return out


SHEETS = sheets_under_examples()


@pytest.fixture(autouse=True)
def _in_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sheets are named as a teacher types them, relative to the repository (examples/zh/...)."""
    monkeypatch.chdir(ROOT)


CLASS_SHEETS = sorted((CLASS / "sheets").glob("*.yaml"))
ZH_SHEETS = [ZH / "wangxiaoming.yaml", ZH / "zhangwei.yaml"]


@cache
def cli(lang: str, columns: int, *args: str) -> tuple[int, str, str]:
    """bptrace ARGS --lang LANG at COLUMNS columns: (exit status, stdout, stderr)."""
    result = CliRunner(env={"COLUMNS": str(columns), "NO_COLOR": "1"}).invoke(main, [*args, "--lang", lang])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def names_in(paths: list[Path]) -> set[str]:
    """The true names of the output: the students' names and the scenarios' titles (data, not bptrace's prose)."""
    words: set[str] = set()
    for path in paths:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        if isinstance(data, dict):
            words.update(english_words(str(data.get("student") or "")))
    titles = [load(n).title for n in bundled_names()] + [load(str(ZH / "exercise.yaml")).title]
    for title in titles:
        words.update(english_words(title))
    return words


def foreign_messages(paths: list[Path], graded: bool) -> list[str]:
    """The English messages other modules make while these sheets are read (model/source.py's YAML reader,
    model/names.py's unknown quantity with source.did_you_mean): not the grading's prose, and translated by
    their own modules. Read here in English; once those modules speak Chinese there is nothing to remove."""
    said: list[str] = []
    lang = i18n.language()
    i18n.set_language("en")
    try:
        key = key_mod.read(CLASS / "key.yaml") if graded else None
        for path in paths:
            try:
                sheet = answers.read(rel(path), graded=graded)
            except BptraceError as exc:
                if "invalid YAML" in str(exc):
                    said.append(str(exc))
                continue
            if key is not None:
                said += [a.invalid for a in answers.bind_to_key(sheet, key) if a.invalid and "unknown" in a.invalid]
    finally:
        i18n.set_language(lang)
    return said


def prose(text: str, allowed: set[str], foreign: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """The lines of English prose in `text`, once the other modules' messages and main's frame are removed."""
    for message in [*foreign, MAIN_PREFIX]:
        text = text.replace(message, "")
    return prose_lines(text, allowed | YAML_NAMES)


def assert_fits_80(args: tuple[str, ...]) -> None:
    """At 80 columns no line is wider than 80 cells, and every number printed whole at WIDE is whole at 80."""
    code_wide, wide, _ = cli("zh", WIDE, *args)
    code, narrow, _ = cli("zh", 80, *args)
    assert code == code_wide
    over = [line for line in narrow.splitlines() if cell_len(line) > 80]
    assert not over, f"{len(over)} lines wider than 80 cells, e.g. {over[0]!r}"
    lost = Counter(DECIMAL.findall(wide)) - Counter(DECIMAL.findall(narrow))
    assert not lost, f"numbers broken across lines at 80 columns: {sorted(lost)[:5]}"


def assert_same_marks(args: tuple[str, ...]) -> tuple[str, str]:
    """Chinese and English give the same exit status, numbers and points; the Chinese (stdout) is prose-free."""
    code_en, en, err_en = cli("en", WIDE, *args)
    code_zh, zh, err_zh = cli("zh", WIDE, *args)
    assert code_zh == code_en, (code_zh, code_en, err_zh)
    assert Counter(DECIMAL.findall(zh)) == Counter(DECIMAL.findall(en))
    assert Counter(POINTS.findall(zh)) == Counter(POINTS.findall(en))
    assert CJK.search(zh), zh[:300]
    return zh, err_zh


# ---------------------------------------------------------------------------------------------------
# Every sheet under examples/, a student's self-check


def test_the_examples_hold_the_chinese_sheets() -> None:
    assert set(ZH_SHEETS) <= set(SHEETS) and len(SHEETS) >= 11


@pytest.mark.parametrize("sheet", SHEETS, ids=[rel(p) for p in SHEETS])
def test_every_example_sheet_checked_in_chinese(sheet: Path) -> None:
    args = ("check", rel(sheet))
    zh_out, zh_err = cli("zh", WIDE, *args)[1:]
    code_en = cli("en", WIDE, *args)[0]
    code_zh = cli("zh", WIDE, *args)[0]
    assert code_zh == code_en
    allowed = names_in([sheet])
    foreign = foreign_messages([sheet], graded=False)
    if code_zh == 2:  # a sheet that cannot be read alone: one line on stderr, in Chinese (or another module's)
        assert zh_out == "" and len(zh_err.strip().splitlines()) == 1
        assert prose(zh_err, allowed, foreign) == []
        assert foreign or CJK.search(zh_err), zh_err
        return
    zh, _ = assert_same_marks(args)
    assert prose(zh, allowed, foreign) == [], zh
    assert "得分" in zh and "自查" in zh and "量" in zh
    assert_fits_80(args)


def test_a_sheet_that_cannot_be_read_says_so_in_chinese() -> None:
    """eve.yaml's malformed number is the grading's own error: file:line:column, the fix, in Chinese."""
    code, out, err = cli("zh", WIDE, "check", rel(CLASS / "sheets" / "eve.yaml"))
    assert code == 2 and out == ""
    assert "examples/class/sheets/eve.yaml:16:3: answers.w1+: 应为数字，实际为 '0.1497807l6'" in err
    assert "请写普通的十进制数，如 0.75136507 或 3.51e-5" in err
    assert prose(err, set()) == []


def test_the_self_check_of_wang_xiaoming() -> None:
    zh = cli("zh", 80, "check", rel(ZH / "wangxiaoming.yaml"))[1]
    assert "王小明" in zh and "反向传播练习：2-2-1 网络的一步训练" in zh
    assert "missing-activation-derivative: 在 o1 处取 δ = ∂E/∂out，漏掉了因子" in zh
    assert "你的 delta_o1 是第一个错误答案" in zh.replace("\n", "")
    assert "0.0094 只有 2 位有效数字（就这几位而言是对的）；至少要写 3 位" in zh
    assert "得分：答对 8/19 题，8/19 分" in zh
    flat = zh.replace("\n", "")
    assert "就重现了全部 9 个错误答案" in flat and "1 题未作答" in flat


def test_several_sheets_and_no_diagnosis_in_chinese() -> None:
    args = ("check", rel(EXAMPLES / "student_cross_entropy.yaml"), rel(ZH / "wangxiaoming.yaml"), "--no-diagnose")
    zh, _ = assert_same_marks(args)
    assert prose(zh, names_in(ZH_SHEETS + [EXAMPLES / "student_cross_entropy.yaml"])) == []
    assert "共 2 份答题卡，其中 0 份全部答对" in zh and "诊断已关闭" in zh
    assert_fits_80(args)


# ---------------------------------------------------------------------------------------------------
# The example classes, marked with their keys


CLASS_ARGS = ("check", *map(rel, CLASS_SHEETS), "--key", rel(CLASS / "key.yaml"))
ZH_CLASS_ARGS = ("check", *map(rel, ZH_SHEETS), "--key", rel(ZH / "key.yaml"))


@pytest.mark.parametrize("summary", [False, True], ids=["sheets", "summary"])
def test_the_example_class_in_chinese(summary: bool) -> None:
    args = CLASS_ARGS + (("--summary",) if summary else ())
    zh, err = assert_same_marks(args)
    foreign = foreign_messages(CLASS_SHEETS, graded=True)
    allowed = names_in(CLASS_SHEETS)
    assert prose(zh, allowed, foreign) == [], prose(zh, allowed, foreign)
    assert prose(err, allowed, foreign) == []
    assert "bptrace: 警告: examples/class/sheets/dan.yaml:8:12: " in err and "（记 0 分）" in err
    for words in (
        "班级：7 份答题卡",
        "题目",
        "全班的误区",
        "分数分布",
        "需要人工查看",
        "学生姓名 'Ada Lovelace' 出现在 2 份答题卡上",
    ):
        assert words in zh, words
    assert "李华" in zh
    if not summary:
        assert "按你的 net_h1 计算是对的" in zh and "答题卡无法读取" in zh
        assert "警告: examples/class/sheets/lihua.yaml:15:3: answers.w5+: points 已忽略：评分由教师答案决定" in zh
    assert_fits_80(args)


@pytest.mark.parametrize("summary", [False, True], ids=["sheets", "summary"])
def test_the_chinese_example_class(summary: bool) -> None:
    args = ZH_CLASS_ARGS + (("--summary",) if summary else ())
    zh, err = assert_same_marks(args)
    assert prose(zh, names_in(ZH_SHEETS)) == [] and err == ""
    assert "王小明" in zh and "张伟" in zh and "班级：2 份答题卡，平均得分为满分 22 分的 76.1%" in zh
    if not summary:
        assert "按你的 delta_o1 计算是对的" in zh  # follow-through: f′ forgotten once, the rest built on it
        assert "得分：答对 6/20 题，16/22 分" in zh and "得分：答对 14/20 题，17.5/22 分" in zh
        assert "不是教师答案中的题目（已忽略）" in zh
    assert_fits_80(args)


def test_the_json_is_the_same_in_every_language(tmp_path: Path) -> None:
    """The JSON is data: English in every language (docs/translating.md); what stderr says is Chinese."""
    for args in (("check", rel(ZH / "wangxiaoming.yaml"), "--format", "json"), CLASS_ARGS + ("--format", "json")):
        code_en, en, _ = cli("en", 80, *args)
        code_zh, zh, err = cli("zh", 80, *args)
        assert (code_zh, zh) == (code_en, en)
    assert "（记 0 分）" in cli("zh", 80, *CLASS_ARGS, "--format", "json")[2]
    data = json.loads(cli("zh", 80, *ZH_CLASS_ARGS, "--format", "json")[1])
    assert [s["student"] for s in data["students"]] == ["王小明", "张伟"]
    assert "王小明" in cli("zh", 80, *ZH_CLASS_ARGS, "--format", "json")[1]  # written as it is, not \\u738b
    # several sheets that cannot be read, without a key: each error on stderr in Chinese, the JSON in English
    bad = tmp_path / "bad.yaml"
    bad.write_text("scenario: mazur\nanswers:\n  out_o1: 0.7x\n", encoding="utf-8")
    args = ("check", str(bad), rel(ZH / "wangxiaoming.yaml"), "--format", "json")
    code, out, err = cli("zh", 80, *args)
    assert code == 2 and "bptrace: 错误: " in err and "应为数字，实际为 '0.7x'" in err
    assert out == cli("en", 80, *args)[1]


def test_gradescope_output_is_chinese_prose(tmp_path: Path) -> None:
    for sheet in ZH_SHEETS + [CLASS / "sheets" / "dan.yaml", CLASS / "sheets" / "chloe.yaml"]:
        key = ZH / "key.yaml" if sheet in ZH_SHEETS else CLASS / "key.yaml"
        args = ("check", rel(sheet), "--key", rel(key), "--format", "gradescope")
        code_en, en, _ = cli("en", 80, *args)
        code_zh, zh, _ = cli("zh", 80, *args)
        assert code_zh == code_en
        data_en, data_zh = json.loads(en), json.loads(zh)
        assert data_zh["score"] == data_en["score"] and data_zh["max_score"] == data_en["max_score"]
        assert [(t["name"], t["score"], t["status"]) for t in data_zh["tests"]] == [
            (t["name"], t["score"], t["status"]) for t in data_en["tests"]
        ]
        texts = [data_zh["output"]] + [t["output"] for t in data_zh["tests"]]
        foreign = foreign_messages([sheet], graded=True)
        assert all(prose(t, names_in([sheet]), foreign) == [] for t in texts), texts
        assert CJK.search(zh) and "\\u" not in zh  # Chinese written as it is
    data = json.loads(
        cli("zh", 80, "check", rel(ZH / "wangxiaoming.yaml"), "--key", rel(ZH / "key.yaml"), "--format", "gradescope")[
            1
        ]
    )
    outputs = {t["name"]: t["output"] for t in data["tests"]}
    assert outputs["delta_o1"].startswith(
        "作答：-0.136990605\n正确值：-0.0306075282\n错误\n诊断: missing-activation-derivative: "
    )
    assert outputs["dE/dw5"].endswith("后续得分\n按你的 delta_o1 计算是对的")
    assert outputs["b2+"] == "作答：未作答\n正确值：0.215303764\n未作答\n诊断: 未作答"


def test_the_reports_keep_english_headers_and_chinese_names(tmp_path: Path) -> None:
    """CSV headers and verdicts are data a program reads (English); names, errors and explanations are prose."""
    files = {}
    for lang in ("en", "zh"):
        report, long = tmp_path / f"{lang}.csv", tmp_path / f"{lang}_long.csv"
        args = (*ZH_CLASS_ARGS[:-2], rel(CLASS / "sheets" / "dan.yaml"), *ZH_CLASS_ARGS[-2:])
        code, _, _ = cli(lang, 80, *args, "--report", str(report), "--report-long", str(long), "--force")
        assert code == 1
        files[lang] = (report.read_bytes(), long.read_bytes())
    for en_bytes, zh_bytes in zip(*files.values()):
        assert zh_bytes.startswith("\ufeff".encode())  # utf-8 with a byte-order mark: Excel reads 王小明
        en_rows = list(csv.reader(io.StringIO(en_bytes.decode("utf-8-sig"))))
        zh_rows = list(csv.reader(io.StringIO(zh_bytes.decode("utf-8-sig"))))
        assert zh_rows[0] == en_rows[0]  # the headers
        assert [r[0] for r in zh_rows] == [r[0] for r in en_rows] and "王小明" in [r[0] for r in zh_rows]
        prose_columns = {"explanation", "error"}
        for en_row, zh_row in zip(en_rows[1:], zh_rows[1:]):
            for header, a, b in zip(en_rows[0], en_row, zh_row):
                if header in prose_columns:
                    assert prose(b, names_in(ZH_SHEETS), foreign_messages([CLASS / "sheets" / "dan.yaml"], True)) == []
                else:
                    assert a == b, (header, a, b)  # numbers, points, codes, verdicts: the same data
    long_zh = files["zh"][1].decode("utf-8-sig")
    assert "按你的 delta_o1 计算是对的" in long_zh and ",follow-through," in long_zh


def test_ascii_keeps_the_chinese() -> None:
    zh = cli("zh", 80, "check", rel(ZH / "wangxiaoming.yaml"), "--ascii")[1]
    assert "王小明" in zh and "漏掉了因子 f'(net)" in zh and "delta = dE/dout" in zh
    assert all(ord(c) < 128 or CJK.match(c) or c in "，。：；（）、" for c in zh), {c for c in zh if ord(c) >= 128}
    summary = cli("zh", 80, *ZH_CLASS_ARGS, "--summary", "--ascii")[1]
    assert "王小明" in summary and "张伟" in summary and "█" not in summary


# ---------------------------------------------------------------------------------------------------
# The catalogue of misconceptions


def chinese_without_prose(text: str) -> bool:
    return bool(CJK.search(text)) and prose_lines(text, KEY_NAMES) == []


@pytest.mark.parametrize("code", list(CODES), ids=list(CODES))
def test_every_misconception_of_the_catalogue_in_chinese(code: str) -> None:
    info = CODES[code]
    i18n.set_language("zh")
    try:
        rule, explanation = i18n._(info.rule), i18n._(info.explanation)
    finally:
        i18n.set_language("en")
    assert rule != info.rule and explanation != info.explanation, code
    assert chinese_without_prose(rule) and chinese_without_prose(explanation), (rule, explanation)
    assert explanation.endswith("。")


NETWORKS = [*bundled_names(), str(ZH / "exercise.yaml")]


def sentences(s: object, lang: str) -> tuple[list[Variant], list[str]]:
    """The scenario's variants and every sentence that says one, in `lang`: each variant's detail, and the
    details describe() makes specific (early rounding to several counts, a step too few or too many)."""
    i18n.set_language(lang)
    try:
        found = diagnose.variants(s)  # type: ignore[arg-type]
        said = [v.detail for v in found]
        q = parse("E_total@5", s)  # type: ignore[arg-type]
        theta = parse(f"{s.parameters()[0].name}@3", s)  # type: ignore[attr-defined,arg-type]
        said += [describe(Variant("off-by-one-step", "", Knobs(steps_shift=k)), q) for k in (-5, -1, 1)]
        said.append(describe(Variant("off-by-one-step", "", Knobs(steps_shift=1)), theta))
        said += [describe(diagnose.early_rounding_variant(k, 9, (4, 5, 6, 7, 8)), q) for k in (4, 5)]
        said += [describe(diagnose.early_rounding_variant(4, 9, (4, 5)), q), diagnose.rounding_variant(3).detail]
        said.append(diagnose.early_rounding_variant(3, 0).detail)
    finally:
        i18n.set_language("en")
    return found, said


@pytest.mark.parametrize("name", NETWORKS, ids=[Path(n).stem for n in NETWORKS])
def test_every_variant_is_said_in_chinese(name: str) -> None:
    """Each misconception as it applies to each scenario (the sentence a diagnosis shows), in Chinese."""
    s = load(name)
    english, said_en = sentences(s, "en")
    chinese, said = sentences(s, "zh")
    assert [v.code for v in chinese] == [v.code for v in english] and chinese == english  # the same knobs
    bad = [text for text in said if not chinese_without_prose(text)]
    assert not bad, bad
    assert len(set(said)) == len(set(said_en))  # as many different sentences as in English: none collapsed


def test_every_message_of_the_grading_is_translated() -> None:
    """Every message marked in the grading's modules has its Chinese (whatever other modules still lack)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import i18n as catalogs  # scripts/i18n.py
    from babel.messages.extract import extract_from_file

    singular, plural = i18n._catalogs("zh")
    missing = []
    for path in MINE:
        for _line, message, _comments, _context in extract_from_file(
            "python", str(ROOT / path), keywords=catalogs.KEYWORDS
        ):
            msgid = message if isinstance(message, str) else message[0]
            if msgid not in singular and msgid not in plural:
                missing.append((path, msgid))
    assert not missing, missing


# ---------------------------------------------------------------------------------------------------
# template, key and new: Chinese comments, the same YAML


def comment_prose(text: str, allowed: set[str]) -> list[str]:
    return prose("\n".join(line.split("#", 1)[1] for line in text.splitlines() if "#" in line), allowed)


@pytest.mark.parametrize("name", NETWORKS, ids=[Path(n).stem for n in NETWORKS])
def test_template_and_key_in_chinese_are_the_same_yaml(name: str, tmp_path: Path) -> None:
    allowed = names_in([])
    for command in ("template", "key"):
        code, zh, _ = cli("zh", 80, command, name)
        code_en, en, _ = cli("en", 80, command, name)
        assert code == code_en == 0
        assert yaml.safe_load(zh) == yaml.safe_load(en)  # comments differ, the data does not
        assert comment_prose(zh, allowed) == [], comment_prose(zh, allowed)
        assert CJK.search(zh) and ("答题卡：" in zh if command == "template" else "评分标准：" in zh)
        assert len(zh.splitlines()) == len(en.splitlines())
    # check reads them back: the Chinese blank sheet filled with the exact values, marked with the Chinese key
    s = load(name)
    sheet = tmp_path / "sheet.yaml"
    key = tmp_path / "key.yaml"
    t = trace(s)
    filled = []
    for line in cli("zh", 80, "template", name)[1].splitlines():
        if line.startswith("  ") and not line.lstrip().startswith("#"):
            line = f"{line} {value(parse(yaml.safe_load(line.strip().rstrip(':')), s), t)!r}"
        filled.append(line)
    sheet.write_text("\n".join(filled) + "\n", encoding="utf-8")
    key.write_text(cli("zh", 80, "key", name)[1], encoding="utf-8")
    override = ("-s", name) if "/" in name else ()
    assert cli("zh", 80, "check", str(sheet), *override)[0] == 0, cli("zh", 80, "check", str(sheet), *override)
    code, out, err = cli("zh", 80, "check", str(sheet), "--key", str(key), *override, "--summary")
    assert code == 0 and "100" in out, (out, err)


@pytest.mark.parametrize("seed", [7, 12])
def test_new_in_chinese_is_a_scenario_bptrace_reads(seed: int, tmp_path: Path) -> None:
    args = ("new", "--seed", str(seed), "--shape", "2-3-2", "--samples", str(seed % 3 + 1))
    zh, en = cli("zh", 80, *args)[1], cli("en", 80, *args)[1]
    data_zh, data_en = yaml.safe_load(zh), yaml.safe_load(en)
    assert (
        data_zh.pop("title") == f"随机练习 2-3-2（种子 {seed}）"
        and data_en.pop("title") == f"Random exercise 2-3-2 (seed {seed})"
    )
    assert data_zh == data_en
    assert comment_prose(zh, set()) == [] and "随机练习：权重、偏置和输入都保留 2 位小数" in zh
    path = tmp_path / "exercise.yaml"
    path.write_text(zh, encoding="utf-8")
    assert load(str(path)).title == f"随机练习 2-3-2（种子 {seed}）"
    assert cli("zh", 80, "template", str(path))[0] == 0


def test_the_chinese_examples_are_made_by_bptrace_key() -> None:
    """examples/zh/key.yaml keeps the comments `bptrace key --lang zh` writes for its rules."""
    written = cli("zh", 80, "key", rel(ZH / "exercise.yaml"))[1]
    key = (ZH / "key.yaml").read_text(encoding="utf-8")
    rules = ("min_digits", "rtol", "tolerance", "accept", "follow_through", "diagnose")
    for line in written.splitlines():
        if line.startswith("  ") and "#" in line and line.split(":")[0].strip() in rules:
            assert line in key, line


# ---------------------------------------------------------------------------------------------------
# Errors in reading a sheet or a key: one line, file:line:column, the fix, in Chinese


BAD_SHEETS = {
    "a list": ("- 1\n", "答题卡应是含有 scenario: 和 answers: 的映射"),
    "no answers": ("scenario: mazur\n", "缺少必需的键 'answers'"),
    "empty answers": ("scenario: mazur\nanswers: {}\n", "answers 应为 QUANTITY: VALUE 的映射"),
    "unknown key": (
        "scenario: mazur\nxyzzy: 1\nanswers:\n  out_o1: 0.75136507\n",
        "未知的键 'xyzzy'（应为 scenario, student, id, answers 之一）",
    ),
    "a bad number": ("scenario: mazur\nanswers:\n  out_o1: 0.7513x\n", "应为数字，实际为 '0.7513x'"),
    "too large": ("scenario: mazur\nanswers:\n  out_o1: '1e999'\n", "超出了 bptrace 计算所用的数值范围"),
    "no value": ("scenario: mazur\nanswers:\n  out_o1: {points: 2}\n", "缺少必需的键 'value'"),
    "negative points": ("scenario: mazur\nanswers:\n  out_o1: {value: 0.75, points: -1}\n", "分数不能为负，实际为 -1"),
    "a student list": ("scenario: mazur\nstudent: [a, b]\nanswers:\n  out_o1: 0.75136507\n", "student 应为姓名"),
    "no scenario": ("answers:\n  out_o1: 0.75136507\n", "答题卡没有指明场景"),
    "outside": ("scenario: ../x.yaml\nanswers:\n  out_o1: 0.75136507\n", "既不在答题卡旁边，也不在其文件夹之下"),
    "missing file": ("scenario: nothere.yaml\nanswers:\n  out_o1: 0.75136507\n", "没有场景文件 'nothere.yaml'"),
    "twice": (
        "scenario: mazur\nanswers:\n  dE/dw5: 0.0821670406\n  dE/dnet_o1: 0.138498562\n  delta_o1: 0.138498562\n",
        "是同一个量",
    ),
}
BAD_KEYS = {
    "a list": ("- 1\n", "教师答案应是含有 exercise:、rules: 和 questions: 的映射"),
    "no exercise": ("questions: {out_o1: 1}\n", "教师答案需要 exercise: {scenario: NAME}"),
    "rules": ("exercise: {scenario: mazur}\nrules: 3\nquestions: {out_o1: 1}\n", "rules 应为映射"),
    "a code": (
        "exercise: {scenario: mazur}\nrules: {accept: [zzzzzzzz]}\nquestions: {out_o1: 1}\n",
        "未知的诊断代码 'zzzzzzzz'（可用的代码：",
    ),
    "min_digits": (
        "exercise: {scenario: mazur}\nrules: {min_digits: 30}\nquestions: {out_o1: 1}\n",
        "min_digits 应为 1..17 之间的整数，实际为 30",
    ),
    "a share": (
        "exercise: {scenario: mazur}\nrules: {follow_through: 2}\nquestions: {out_o1: 1}\n",
        "得分比例应在 0 到 1 之间，实际为 2",
    ),
    "diagnose": (
        "exercise: {scenario: mazur}\nrules: {diagnose: 3}\nquestions: {out_o1: 1}\n",
        "diagnose 应为 true 或 false",
    ),
    "accept": ("exercise: {scenario: mazur}\nrules: {accept: 3}\nquestions: {out_o1: 1}\n", "accept 应为代码的列表"),
    "credit": (
        "exercise: {scenario: mazur}\nrules: {misconceptions: 3}\nquestions: {out_o1: 1}\n",
        "misconceptions 应把代码映射到得分比例",
    ),
    "no questions": ("exercise: {scenario: mazur}\nquestions: {}\n", "questions 应把所问的每个量映射到它的分值"),
    "negative": ("exercise: {scenario: mazur}\nquestions: {out_o1: -2}\n", "分数不能为负，实际为 -2"),
    "a tolerance": (
        "exercise: {scenario: mazur}\nquestions: {out_o1: {tolerance: -1}}\n",
        "绝对容差不能为负，实际为 -1",
    ),
    "twice": (
        "exercise: {scenario: mazur}\nquestions: {dE/dnet_o1: 1, delta_o1: 1}\n",
        "'delta_o1' 与 'dE/dnet_o1' 是同一个量",
    ),
    "unknown key": (
        "exercise: {scenario: mazur}\nquestions: {out_o1: {zzzzzzz: 1}}\n",
        "未知的键 'zzzzzzz'（应为 points, tolerance, rtol 之一）",
    ),
}


def assert_one_chinese_line(err: str, file: Path, expected: str) -> None:
    """One line, file:line(:column), the expected Chinese; no prose beyond what the file itself says (its keys)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert re.search(re.escape(str(file)) + r":\d+(:\d+)?: ", lines[0]), lines[0]
    assert expected in lines[0], lines[0]
    assert prose(lines[0], set(english_words(file.read_text(encoding="utf-8")))) == [], lines[0]


@pytest.mark.parametrize("case", list(BAD_SHEETS), ids=list(BAD_SHEETS))
def test_a_bad_sheet_is_one_chinese_line(case: str, tmp_path: Path) -> None:
    text, expected = BAD_SHEETS[case]
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(text, encoding="utf-8")
    code, out, err = cli("zh", 80, "check", str(sheet))
    assert (code, out) == (2, "")
    assert_one_chinese_line(err, sheet, expected)
    assert cli("en", 80, "check", str(sheet))[0] == 2


@pytest.mark.parametrize("case", list(BAD_KEYS), ids=list(BAD_KEYS))
def test_a_bad_key_is_one_chinese_line(case: str, tmp_path: Path) -> None:
    text, expected = BAD_KEYS[case]
    key = tmp_path / "key.yaml"
    key.write_text(text, encoding="utf-8")
    code, out, err = cli("zh", 80, "check", rel(ZH / "wangxiaoming.yaml"), "--key", str(key))
    assert (code, out) == (2, "")
    assert_one_chinese_line(err, key, expected)


def test_a_key_ignores_what_a_sheet_decides_in_chinese(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(
        "scenario: ng_shallow\nstudent: 李雷\nfoo: 1\nanswers:\n"
        "  out_o1: {value: 0.75136507, points: 9, tolerance: 1}\n"
        "  w6+: 0.408666186\n  dE/dnet_o1: 0.1384\n  delta_o1: 0.138498562\n",
        encoding="utf-8",
    )
    code, out, err = cli("zh", WIDE, "check", str(sheet), "--key", rel(CLASS / "key.yaml"))
    assert code == 1 and err == ""
    for said in (
        "scenario: 'ng_shallow' 已忽略：教师答案的练习是 'mazur'",
        "answers.out_o1: points, tolerance 已忽略：评分由教师答案决定",
        "answers.w6+: 不是教师答案中的题目（已忽略）",
        "与 'dE/dnet_o1'（第 7 行）是同一个量；只评一次",
        "未知的键 'foo'（应为 scenario, student, id, answers 之一）（已忽略）",
    ):
        assert said in out, said
    assert prose(out, names_in([]) | {"foo"}) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("check", "SHEET", "--report", "r.csv"), "--report 需要 --key：没有教师答案时"),
        (("check", "SHEET", "--summary", "--format", "gradescope"), "--summary 和 --format gradescope 需要 --key"),
        (("check", "SHEET", "--key", "KEY", "--rtol", "0.1"), "使用 --key 时由教师答案的规则决定；不能再给出 --rtol"),
        (
            ("check", "SHEET", "SHEET", "--key", "KEY", "--format", "gradescope"),
            "--format gradescope 一次只评一份答题卡",
        ),
        (("check", "KEY", "--key", "KEY"), "没有要评分的答题卡：给出的唯一文件就是教师答案"),
        (("new", "--seed", "1", "--loss", "bce", "--output-activation", "tanh"), "bce 损失需要 sigmoid 输出层"),
        (("new", "--seed", "1", "--loss", "cross_entropy", "--output-activation", "sigmoid"), "softmax 输出层只能与"),
    ],
)
def test_usage_errors_in_chinese(args: tuple[str, ...], expected: str) -> None:
    args = tuple(
        rel(ZH / "wangxiaoming.yaml") if a == "SHEET" else rel(ZH / "key.yaml") if a == "KEY" else a for a in args
    )
    code, out, err = cli("zh", 80, *args)
    assert code == 2 and out == "" and expected in err, err
    assert prose(err, set()) == [], err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("new", "--shape", "3"), "'3': 至少给出两个层的大小，每个在 1..64 之间（例如 2-3-2）"),
        (("new", "--shape", "a-b"), "'a-b' 不是像 2-3-2 这样的形状"),
        (("new", "--shape", "-".join(["64"] * 122)), "有 503,360 个参数；最多 500,000 个"),
        (("key", "mazur", "--only", "sideways"), "未知的部分 sideways；可选 forward, backward, updates"),
    ],
)
def test_option_errors_say_the_grading_part_in_chinese(args: tuple[str, ...], expected: str) -> None:
    """click's own frame of a bad option ("Invalid value for ...") is bptrace/cli/language.py's to translate."""
    code, _, err = cli("zh", 80, *args)
    assert code == 2 and expected in err, err


def test_nothing_chinese_leaks_into_english() -> None:
    """After a Chinese run in the same process, English is English again (nothing translated is cached)."""
    args = ["check", rel(ZH / "wangxiaoming.yaml"), "--key", rel(ZH / "key.yaml")]
    for lang in ("zh", "en"):
        result = CliRunner(env={"COLUMNS": "200"}).invoke(main, [*args, "--lang", lang])
        assert result.exit_code == 1
    english = result.stdout.replace("王小明", "").replace("反向传播练习：2-2-1 网络的一步训练", "")
    assert not CJK.search(english), english
    assert "Your out_o1 is right; your delta_o1 is the first wrong answer" in " ".join(english.split())


def test_the_chinese_catalogue_of_misconceptions_is_in_the_docs() -> None:
    doc = (ROOT / "docs" / "answer-sheets.md").read_text(encoding="utf-8")
    i18n.set_language("zh")
    try:
        rows = [f"| `{code}` | {i18n._(info.rule)} | {i18n._(info.explanation)} |" for code, info in CODES.items()]
    finally:
        i18n.set_language("en")
    missing = [row for row in rows if row not in doc]
    assert not missing, missing
