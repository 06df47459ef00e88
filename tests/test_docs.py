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
