"""The translation catalog: current, complete, faithful to placeholders, and only literal messages marked."""

from __future__ import annotations

import ast
import re
import string
import subprocess
import sys
from pathlib import Path

import pytest

from bptrace import i18n

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

import i18n as catalogs  # noqa: E402  (scripts/i18n.py)


def placeholders(text: str) -> set[str]:
    """The named fields of a str.format message ({n}, {name!r}, {value:.3g} -> n, name, value); for a
    message that is not a format string (libyaml's "did not find expected ',' or '}'"), its braces."""
    try:
        return {field.split("!")[0].split(":")[0] for _, field, _, _ in string.Formatter().parse(text) if field}
    except ValueError:
        return {"braces: " + "".join(c for c in text if c in "{}")}


def test_the_template_is_current():
    """Every marked message is in bptrace.pot: `python scripts/i18n.py update` after changing a message."""
    committed = catalogs.TEMPLATE.read_text(encoding="utf-8")
    assert committed == catalogs.template_text(), "run: python scripts/i18n.py update"


def test_every_message_has_a_chinese_translation():
    missing = catalogs.missing("zh")
    assert not missing, f"{len(missing)} messages untranslated (python scripts/i18n.py todo): {missing[:20]}"


def test_translations_keep_every_placeholder():
    singular, plural = i18n._catalogs("zh")
    wrong = []
    for msgid, msgstr in singular.items():
        if placeholders(msgid) != placeholders(msgstr):
            wrong.append((msgid, msgstr))
    assert not wrong, wrong[:10]


def test_translations_keep_the_never_translated_parts():
    """Quantity names, options and commands written in a message (`net_h1`, `--force`, `bptrace key`) stay."""
    singular, _ = i18n._catalogs("zh")
    from bptrace.cli.main import main

    commands = "|".join(sorted(main.commands))  # `bptrace check`, not the words of "bptrace reads networks"
    names = re.compile(rf"--[a-z][a-z-]+|\b[a-z]+_[a-z0-9_]+\b|\bbptrace (?:{commands})\b")
    wrong = [
        (msgid, msgstr) for msgid, msgstr in singular.items() if set(names.findall(msgid)) - set(names.findall(msgstr))
    ]
    assert not wrong, wrong[:10]


def test_only_literal_messages_are_marked():
    """_("...") and N_("...") take a literal (an f-string or a variable cannot be extracted or translated)."""
    bad = []
    for path in sorted((ROOT / "bptrace").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_"):
                arg = node.args[0] if node.args else None
                if node.func.id == "N_" and not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
                if isinstance(arg, ast.JoinedStr):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, bad


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "zh_CN.UTF-8"}, "zh"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "zh_TW.UTF-8", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LANGUAGE": "zh_CN:en", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LANGUAGE": "zh_CN", "LANG": "C"}, "en"),
        ({"BPTRACE_LANG": "en", "LANG": "zh_CN.UTF-8"}, "en"),
        ({"BPTRACE_LANG": "zh", "LANG": "en_US.UTF-8"}, "zh"),
        ({"LANG": "fr_FR.UTF-8"}, "en"),
    ],
)
def test_the_language_comes_from_the_environment(environ, expected):
    assert i18n.from_environment(environ) == expected


def test_lang_wins_over_the_environment_and_help_is_chinese():
    env = {"PATH": "/usr/bin:/bin", "LANG": "en_US.UTF-8", "BPTRACE_LANG": "en"}
    proc = subprocess.run(
        [sys.executable, "-m", "bptrace", "run", "--help", "--lang", "zh"], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("用法"), proc.stdout[:200]
    assert "显示此帮助并退出" in proc.stdout


def test_every_command_has_lang():
    from bptrace.cli.language import walk
    from bptrace.cli.main import main

    lacking = [c.name for c in walk(main) if not any(p.name == "lang" for p in c.params)]
    assert not lacking
