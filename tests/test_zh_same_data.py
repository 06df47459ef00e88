"""The data is the same in every language: the JSON of run, explain and check, and the exit statuses.

Quantity names, numbers and the JSON are never translated (docs/glossary.zh.md), so a program that reads
bptrace's JSON, or a sheet written in one language, works in the other.
"""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.model.scenario import bundled_names

SCENARIOS = bundled_names()


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.parametrize("name", SCENARIOS)
def test_run_json_is_the_same_in_chinese(name):
    english = invoke("run", name, "--format", "json", "--lang", "en")
    chinese = invoke("run", name, "--format", "json", "--lang", "zh")
    assert english[0] == chinese[0] == 0
    assert chinese[1] == english[1]


@pytest.mark.parametrize("quantity", ["w5", "delta_h1", "w1+", "E_total", "out_o1"])
def test_explain_json_is_the_same_in_chinese(quantity):
    assert invoke("explain", quantity, "--format", "json", "--lang", "zh") == invoke(
        "explain", quantity, "--format", "json", "--lang", "en"
    )


def test_check_json_and_status_are_the_same_in_chinese():
    english = invoke("check", "examples/mazur_published.yaml", "--format", "json", "--lang", "en")
    chinese = invoke("check", "examples/mazur_published.yaml", "--format", "json", "--lang", "zh")
    assert chinese == english


def test_a_language_does_not_leak_into_the_next_command():
    """One process, two commands: the second speaks its own language (tests and notebooks run many)."""
    invoke("run", "mazur", "--lang", "zh")
    status, text = invoke("run", "mazur", "--lang", "en")
    assert status == 0 and "Forward pass" in text
