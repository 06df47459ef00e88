"""Shared fixtures: deterministic terminal output (rich) and the bundled scenarios."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich reads these; tests render without colour at a fixed width
    for var in ("NO_COLOR", "FORCE_COLOR", "TERM", "BPTRACE_TRACEBACK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
