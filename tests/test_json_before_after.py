"""The redesign changes no number bptrace prints, except the defects it names.

tests/data/json_before/ holds `bptrace run X --format json` (and `--notation matrix`) of every bundled scenario as
the release before the redesign printed it. Each run today is compared with it leaf by leaf; every difference must
be listed in INTENDED with the reason, and every listed difference must still occur (a stale entry fails too).
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main

DATA = Path(__file__).parent / "data" / "json_before"
CASES = sorted(p.name.removesuffix(".json.gz") for p in DATA.glob("*.json.gz"))

# (case regex, JSON path regex, why it differs). A path is written like `parameters[3].factors[0].product`.
INTENDED: list[tuple[str, str, str]] = []


def _leaves(node: Any, path: str = "") -> dict[str, Any]:
    """Every leaf of a JSON document by its path."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_leaves(value, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(node, list):
        out = {}
        for i, value in enumerate(node):
            out.update(_leaves(value, f"{path}[{i}]"))
        return out if node else {path: []}
    return {path: node}


def _run(case: str) -> Any:
    name, _, notation = case.partition(".")
    args = ["run", name, "--format", "json"] + (["--notation", notation] if notation else [])
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("case", CASES)
def test_json_unchanged_but_for_the_intended_differences(case: str) -> None:
    before = _leaves(json.loads(gzip.decompress((DATA / f"{case}.json.gz").read_bytes())))
    after = _leaves(_run(case))
    rules = [(re.compile(p), why) for c, p, why in INTENDED if re.fullmatch(c, case)]
    unexplained = []
    used: set[int] = set()
    for path in sorted(set(before) | set(after)):
        if before.get(path, "<absent>") == after.get(path, "<absent>"):
            continue
        hits = [i for i, (rx, _) in enumerate(rules) if rx.fullmatch(path)]
        if hits:
            used.update(hits)
        else:
            unexplained.append(f"{path}: {before.get(path, '<absent>')!r} -> {after.get(path, '<absent>')!r}")
    assert not unexplained, f"{len(unexplained)} unlisted differences, e.g.\n" + "\n".join(unexplained[:20])
    stale = [rules[i][1] for i in range(len(rules)) if i not in used]
    assert not stale, f"listed differences that no longer occur: {stale}"
