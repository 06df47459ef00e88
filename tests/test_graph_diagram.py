"""`bptrace diagram` of a graph: one circle per gate, each edge's forward value above and its gradient below."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.fmt import num
from bptrace.graph import engine, model
from bptrace.model.scenario import bundled_graph_names

pytest.importorskip("matplotlib", reason="matplotlib draws the diagrams")


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("text")]


@pytest.mark.parametrize("name", bundled_graph_names())
def test_every_edge_carries_its_value_and_gradient(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.svg"
    result = CliRunner().invoke(main, ["diagram", name, "-o", str(path)])
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"bptrace: wrote {path}\n"
    texts = Counter(svg_texts(path))
    t = engine.trace(model.load(name))
    expected: Counter[str] = Counter()
    for node in t.nodes.values():
        for use in node.uses:
            expected[num(node.value, 4)] += 1
            expected[num(use.product, 4)] += 1
    expected[num(t.output.value, 4)] += 1
    expected["1"] += 1  # ∂f/∂f on the output's edge
    for label, count in expected.items():
        assert texts[label] >= count, label
    for g in t.scenario.gates:
        assert g.name in texts


def test_reused_variable_edges_add_up(tmp_path: Path) -> None:
    path = tmp_path / "reuse.svg"
    assert CliRunner().invoke(main, ["diagram", "graph_reuse", "-o", str(path)]).exit_code == 0
    texts = svg_texts(path)
    # x's three edges carry -6, 2 and -4, which add up to df/dx = -8
    for share in ("-6", "2", "-4"):
        assert share in texts
