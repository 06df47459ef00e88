"""Shared fixtures: deterministic terminal output (rich), hypothesis profiles, the system tools, shared checks."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import tools
from hypothesis import settings

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.verify.verification import Verification

# Hypothesis: with CI set (.ci/run sets CI=1), every run draws the same examples (derandomize, no example
# database to replay earlier failures from), so inputs and durations are the same from run to run, and a
# loaded shared runner does not fail a test by its deadline. Elsewhere, random examples and the local database
# find new cases. HYPOTHESIS_PROFILE=ci (or dev) chooses explicitly.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if tools.IN_CI else "dev"))


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich reads these; tests render without colour at a fixed width
    for var in ("NO_COLOR", "FORCE_COLOR", "TERM", "BPTRACE_TRACEBACK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    # bptrace speaks the language of BPTRACE_LANG or the locale: the tests read English unless they ask
    monkeypatch.setenv("BPTRACE_LANG", "en")
    import sys

    from bptrace import i18n

    i18n.set_language("en")
    if "bptrace.cli.main" in sys.modules:  # and the command line's help and click's words, after a Chinese test
        from bptrace.cli.language import choose_language

        choose_language(sys.modules["bptrace.cli.main"].main, ["--lang", "en"])


# System tools: the test skips where the tool is absent, and fails in CI (tests/tools.py).


@pytest.fixture
def pdflatex() -> str:
    return tools.need("pdflatex")


@pytest.fixture
def pdftotext() -> str:
    return tools.need("pdftotext")


@pytest.fixture
def chromium() -> str:
    return tools.need("chromium")


# Expensive checks, computed once per test session and shared (the full SymPy verification of cs224n_window
# takes seconds; several tests look at it).


@functools.cache
def _verified(name: str) -> tuple[Trace, Verification]:
    import bptrace
    from bptrace.verify.verification import verify

    trace = bptrace.run(name)
    return trace, verify(trace)


@pytest.fixture(scope="session")
def verified() -> Callable[[str], tuple[Trace, Verification]]:
    """verified(name) -> (trace, verify(trace)) of a bundled scenario, computed once per session.

    Shared between tests: a test must not modify the trace or the verification it gets."""
    return _verified
