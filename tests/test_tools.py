"""The test suite's own habits: a missing tool skips (or fails in CI), hypothesis is derandomized in CI, and the
gates are one command that CI runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import tools
import yaml
from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(tools.TOOLS, "absent", (("bptrace-no-such-command",), "no-such-package", "to test need()"))
    monkeypatch.setitem(tools.TOOLS, "present", (("bptrace-no-such-command", "sh"), "dash", "to test need()"))


def test_a_missing_tool_skips_and_says_which(fake_tools: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "IN_CI", False)
    with pytest.raises(pytest.skip.Exception, match=r"absent is not installed .*apt-get install no-such-package"):
        tools.need("absent")


def test_a_missing_tool_fails_in_ci(fake_tools: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match=r"^CI: absent is not installed"):
        tools.need("absent")


def test_a_present_tool_is_found_by_any_of_its_names(fake_tools: None) -> None:
    path = tools.need("present")
    assert Path(path).name == "sh" and os.access(path, os.X_OK)


def test_hypothesis_is_derandomized_without_a_database_in_ci() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize is True and ci.database is None and ci.deadline is None
    if os.environ.get("CI") and not os.environ.get("HYPOTHESIS_PROFILE"):
        assert settings.default.derandomize is True and settings.default.database is None


def test_one_command_runs_every_gate_and_ci_runs_it() -> None:
    check = ROOT / "scripts" / "check"
    assert check.stat().st_mode & stat.S_IXUSR, "scripts/check is not executable"
    text = check.read_text(encoding="utf-8")
    paths = "bptrace tests benchmarks scripts"
    assert f"paths=({paths})" in text
    for gate in ('ruff check "${paths[@]}"', 'ruff format --check "${paths[@]}"', "mypy", "pytest"):
        assert gate in text, gate
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "export CI=1" in ci and "pip install '.[test,dev]' && scripts/check" in ci
    for tool in ("texlive-latex-base", "poppler-utils", "chromium"):
        assert tool in ci, tool
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    # the README's commands are the ones CI runs (and the plain test command still works on its own)
    assert "    pip install '.[test,dev]' && scripts/check\n" in readme
    assert "    pip install '.[test]' && pytest\n" in readme


def test_pre_commit_runs_the_installed_ruff_and_mypy() -> None:
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert {"ruff-check", "ruff-format", "mypy"} <= set(hooks)
    assert all(repo["repo"] == "local" for repo in config["repos"])  # nothing downloaded at commit time
    assert all(hook["language"] == "system" for hook in hooks.values())
    assert hooks["ruff-check"]["entry"].startswith("ruff check") and hooks["mypy"]["pass_filenames"] is False
