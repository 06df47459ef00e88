"""Every command has help with an example, and is documented in the README (sqlite-utils' test_docs idea)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


@pytest.mark.parametrize("name", sorted(main.commands))
def test_command_has_help_with_an_example(name: str) -> None:
    result = CliRunner().invoke(main, [name, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout, f"bptrace {name} --help has no Example: block"


@pytest.mark.parametrize("name", sorted(main.commands))
def test_command_is_in_the_readme(name: str) -> None:
    assert f"bptrace {name}" in README, f"README.md does not mention 'bptrace {name}'"


def test_docs_linked_from_the_readme_exist() -> None:
    import re

    for link in re.findall(r"\]\(((?:docs|bptrace)/[^)#]+)\)", README):
        assert (ROOT / link).exists(), link


def _cli_reference():  # scripts/ is not a package: load scripts/cli_reference.py by its path
    import importlib.util

    spec = importlib.util.spec_from_file_location("cli_reference", ROOT / "scripts" / "cli_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_current() -> None:
    """docs/cli.md is exactly what every command's --help prints today."""
    expected = _cli_reference().reference()
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == expected, "docs/cli.md is out of date: run python scripts/cli_reference.py"


def test_cli_reference_has_every_command_and_option() -> None:
    """The generator misses nothing: each command has its section, each option its flag, in docs/cli.md."""
    import click

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, command in main.commands.items():
        assert f"\n## bptrace {name}\n" in text, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert any(opt in text for opt in param.opts), (name, param.opts)
    assert "Usage: bptrace [OPTIONS] COMMAND" in text


@pytest.mark.parametrize("name", sorted(main.commands))
def test_command_and_its_options_have_help(name: str) -> None:
    """Every command has a docstring (its help) whose first line says what it does, and every option a help text."""
    import click

    command = main.commands[name]
    assert command.help and command.help.strip(), f"bptrace {name} has no docstring"
    summary = command.help.strip().splitlines()[0]
    assert len(summary) > 15 and summary.endswith("."), f"bptrace {name}: first line {summary!r} is not a sentence"
    missing = [p.opts[-1] for p in command.params if isinstance(p, click.Option) and not (p.help or "").strip()]
    assert not missing, f"bptrace {name}: options without help: {missing}"


def test_the_group_has_help() -> None:
    import click

    assert main.help and main.help.strip()
    assert all((p.help or "").strip() for p in main.params if isinstance(p, click.Option))


def test_sources_are_named_by_title_not_by_seed_number() -> None:
    """Users meet the sources by their titles (Andrew Ng's course, "Backpropagation in Neural Networks", Mazur's
    post, the CS224n-style notes, a Coursera learner's Stack Overflow question), never as "seed 000" … "seed 004"."""
    import re

    pattern = re.compile(r"seeds? ?0{0,2}[0-4]\b|seed 00", re.IGNORECASE)
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")), *sorted((ROOT / "bptrace").rglob("*"))]
    found = []
    for path in files:
        if path.is_file() and path.suffix in {".md", ".py", ".yaml", ".json", ".txt"}:
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_chinese_readme_names_real_commands_and_options() -> None:
    """README.zh-CN.md's commands exist, with the options it gives them; its links exist."""
    import re
    import shlex

    import click

    text = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    for link in re.findall(r"\]\(((?:docs|examples|bptrace)/[^)#]+|README\.md)\)", text):
        assert (ROOT / link).exists(), link
    lines = [line.strip() for line in text.splitlines() if line.startswith("    bptrace ")]  # the command blocks
    assert len(lines) >= 10
    for line in lines:
        words = shlex.split(line.split("#")[0])
        command = main.commands.get(words[1])
        assert isinstance(command, click.Command), line
        flags = {flag for param in command.params for flag in getattr(param, "opts", [])}
        for word in words[2:]:
            if word.startswith("-"):
                assert word.split("=")[0] in flags, f"{line}: {word}"


def test_the_chinese_readme_quick_start_speaks_chinese() -> None:
    result = CliRunner().invoke(main, ["run", "scenarios/mazur.yaml", "--lang", "zh"])
    assert result.exit_code == 0
    assert "前向传播" in result.output and "0.75136507" in result.output
