"""The network drawing's labels never cover another edge, a node or each other: read back from the SVG itself,
laid out by a real browser (Debian's Chromium, driven by Playwright), so the check sees what a reader sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tools
import yaml
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.model.scenario import bundled_names, load
from bptrace.render.diagram import boxes_meet, segment_meets_box, summarised

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]

# every labelled thing's screen box, and every edge's two ends on the screen
READ = """() => {
  const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
  const out = {labels: {}, things: {}, edges: {}};
  for (const g of document.querySelectorAll('[id^="label-"]')) out.labels[g.id] = box(g);
  for (const g of document.querySelectorAll('[id^="node-"], [id^="target-"], [id^="bias-"]')) out.things[g.id] = box(g);
  for (const g of document.querySelectorAll('[id^="edge-"]')) {
    const p = g.querySelector('path'); const m = p.getScreenCTM(); const n = p.getTotalLength();
    const at = k => { const q = p.getPointAtLength(k);
                      return [m.a * q.x + m.c * q.y + m.e, m.b * q.x + m.d * q.y + m.f]; };
    out.edges[g.id] = [...at(0), ...at(n)];
  }
  return out; }"""


@pytest.fixture(scope="module")
def page():  # type: ignore[no-untyped-def]
    chromium = tools.need("chromium")  # skips where absent, fails in CI (tests/tools.py)
    from playwright import sync_api  # a [test] dependency: never skipped

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield browser.new_page(viewport={"width": 2400, "height": 1800})
        browser.close()


def _layout(page: Any, scenario: str, tmp_path: Path, *options: str) -> dict[str, Any]:
    out = tmp_path / "net.svg"
    result = CliRunner().invoke(main, ["diagram", scenario, "-o", str(out), "--style", "detailed", *options])
    assert result.exit_code == 0, result.output
    page.goto(out.as_uri())
    return page.evaluate(READ)


def _collisions(found: dict[str, Any]) -> list[str]:
    bad = []
    labels = list(found["labels"].items())
    for i, (name, box) in enumerate(labels):
        for other, obox in labels[i + 1 :]:
            if boxes_meet(box, obox):
                bad.append(f"{name} covers {other}")
        for thing, tbox in found["things"].items():
            if boxes_meet(box, tbox):
                bad.append(f"{name} covers {thing}")
        own = "edge-" + name.removeprefix("label-")
        for edge, seg in found["edges"].items():
            if edge != own and segment_meets_box(tuple(seg), box):
                bad.append(f"{name} covers {edge}")
    return bad


SMALL = [n for n in bundled_names() if not summarised(load(n))]


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("show", ["all", "weights", "grad", "update"])
def test_labels_cover_nothing_in_the_bundled_networks(page: Any, tmp_path: Path, name: str, show: str) -> None:
    found = _layout(page, name, tmp_path, "--show", show)
    assert found["edges"] and found["things"]
    assert _collisions(found) == []


@pytest.mark.parametrize("sizes", [[3, 3, 2], [2, 4, 1], [4, 2, 3], [1, 3, 3, 1]])
def test_labels_cover_nothing_in_networks_nobody_wrote(page: Any, tmp_path: Path, sizes: list[int]) -> None:
    rng = np.random.default_rng(sum(sizes))
    data = {
        "inputs": rng.uniform(-1, 1, sizes[0]).round(3).tolist(),
        "targets": rng.uniform(0, 1, sizes[-1]).round(3).tolist(),
        "layers": [
            {"activation": "tanh", "weights": rng.normal(0, 0.8, (n, p)).round(3).tolist(), "biases": [0.1] * n}
            for p, n in zip(sizes, sizes[1:])
        ],
    }
    path = tmp_path / "net.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    found = _layout(page, str(path), tmp_path, "--show", "update")
    assert _collisions(found) == []


def test_handout_gives_no_forward_pass_away(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    out = tmp_path / "handout.svg"
    assert CliRunner().invoke(main, ["diagram", "mazur", "--show", "weights", "-o", str(out)]).exit_code == 0
    text = " ".join("".join(e.itertext()) for e in ET.parse(out).getroot().iter() if e.tag.endswith("text"))
    assert "w5 = 0.4" in text and "target 0.01" in text and "0.05" in text
    assert "net" not in text.replace("network", "") and "out " not in text and "0.5933" not in text


def test_circles_are_equal_and_there_is_a_legend(tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    out = tmp_path / "net.svg"
    assert CliRunner().invoke(main, ["diagram", "mazur", "-o", str(out)]).exit_code == 0
    root = ET.parse(out).getroot()
    text = " ".join("".join(e.itertext()) for e in root.iter() if e.tag.endswith("text"))
    assert "weight ≥ 0" in text and "weight < 0" in text and "bias" in text
    sizes = set()
    for g in root.iter():
        if g.get("id", "").startswith("node-"):
            d = next(e for e in g.iter() if e.tag.endswith("path")).get("d", "")
            xs = [
                float(v)
                for v in d.replace("M", " ").replace("C", " ").replace("L", " ").replace("z", " ").split()[0::2]
            ]
            sizes.add(round(max(xs) - min(xs), 1))
    assert len(sizes) == 1, sizes


@pytest.mark.parametrize(
    "history",
    [
        [0.3 * 0.999**k + 3.5e-5 for k in range(10001)],  # Mazur-like: steep, then flat
        [1.0 / (1 + k) for k in range(200)],
        [0.5 + 0.4 * np.sin(k / 9.0) * np.exp(-k / 80.0) for k in range(300)],  # oscillating down
        [0.25] * 50,  # flat
    ],
)
def test_the_loss_curves_label_stays_off_the_curve(history: list[float]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from bptrace.fmt import num
    from bptrace.render.diagram import loss_curve_figure

    fig = loss_curve_figure(history, "E_k")
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    ax = fig.axes[0]
    legend = ax.get_legend()
    assert legend.get_texts()[0].get_text() == f"E_{len(history) - 1} = {num(history[-1], 6)}"
    box = legend.get_window_extent(renderer)
    points = ax.transData.transform(np.column_stack([range(len(history)), history]))
    inside = [(x, y) for x, y in points if box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1]
    assert inside == []
