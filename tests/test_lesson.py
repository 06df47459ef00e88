"""`bptrace lesson`: the step-through page, built from the run's own tables, driven in a real headless browser."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import tools
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.engine.step import trace as make_trace
from bptrace.fmt import num
from bptrace.model.scenario import bundled_graph_names, bundled_names, load
from bptrace.render.blocks import cell_text
from bptrace.render.layout import SECTIONS, Grid, TraceLayout
from bptrace.render.lesson import slides_from_blocks

BUNDLED = [n for n in bundled_names() if load(n).__class__.__name__ == "Scenario"]


def _lesson(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "lesson.html"
    result = CliRunner().invoke(main, ["lesson", *args, "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _quantities(name: str) -> dict[str, float]:
    result = CliRunner().invoke(main, ["run", name, "--format", "json", "--verify", "off"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["quantities"]


@pytest.mark.parametrize("name", BUNDLED)
def test_every_table_row_is_one_slide(name: str) -> None:
    t = make_trace(load(name))
    blocks = [b for s in SECTIONS[1:-1] for b in getattr(TraceLayout(t, rows=None), f"section_{s}")()]
    rows = [[cell_text(c) for c in row] for b in blocks if isinstance(b, Grid) for row in b.rows]
    rows = [row for row in rows if any(c.strip() for c in row)]
    slides = [s for s in slides_from_blocks(t.scenario, blocks) if s.section]
    assert [s.heading for s in slides] == [row[0].strip() for row in rows]


@pytest.mark.parametrize("name", BUNDLED)
def test_what_the_drawing_learns_equals_the_json(name: str) -> None:
    """Every label a slide writes on the drawing is a number the JSON has, for the quantity it names."""
    t = make_trace(load(name))
    q = _quantities(name)
    blocks = [b for s in SECTIONS[1:-1] for b in getattr(TraceLayout(t, rows=None), f"section_{s}")()]
    checked = 0
    for slide in slides_from_blocks(t.scenario, blocks):
        for element, key, label in slide.known:
            shown = label.rsplit(" ", 1)[1]
            who = element.split(":", 1)[1]
            wanted = {
                "out": f"out_{who}",
                "δ": f"delta_{who}",
                f"{who}⁺": f"{who}+",
                f"∂E/∂{who}": f"dE/d{who}",
                f"E_{who}": f"E_{who}",
            }.get(key)
            if wanted is None or wanted not in q:
                continue
            assert shown == num(q[wanted]), (slide.section, label, q[wanted])
            checked += 1
    assert checked > 0


def test_explain_lesson_arrives_at_the_gradient(tmp_path: Path) -> None:
    text = _lesson(tmp_path, "mazur", "--explain", "w5").read_text(encoding="utf-8")
    assert num(_quantities("mazur")["dE/dw5"]) in text
    assert num(_quantities("mazur")["w5+"]) in text


def test_the_page_is_self_contained(tmp_path: Path) -> None:
    text = _lesson(tmp_path, "mazur").read_text(encoding="utf-8")
    assert "http://" not in text.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        "'http://www.w3.org/2000/svg'", ""
    )
    assert "https://" not in text and "<link" not in text and " src=" not in text


# ---- in a real browser --------------------------------------------------------------------------

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    chromium = tools.need("chromium")  # skips where absent, fails in CI (tests/tools.py)
    from playwright import sync_api  # a [test] dependency: never skipped

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


# every text of the drawing against every other text and every circle (but a neuron's own name inside it)
OVERLAPS = """() => { const box = (e, label) => { const b = e.getBBox(); return [label, b.x, b.y, b.width, b.height]; };
  const boxes = Array.from(document.querySelectorAll('svg.net text'))
    .filter(t => t.textContent.trim() && getComputedStyle(t).display !== 'none' && !t.classList.contains('name'))
    .map(t => box(t, t.textContent));
  const circles = Array.from(document.querySelectorAll('svg.net circle')).map(c => box(c, 'circle ' + c.parentNode.id));
  const out = [];
  for (let i = 0; i < boxes.length; i++) for (const other of boxes.slice(i + 1).concat(circles)) {
    const [a, ax, ay, aw, ah] = boxes[i], [b, bx, by, bw, bh] = other;
    if (ax < bx + bw && bx < ax + aw && ay < by + bh && by < ay + ah) out.push(a + ' | ' + b); }
  return out; }"""


def test_keys_step_through_and_the_numbers_are_the_json(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    path = _lesson(tmp_path, "mazur")
    page.goto(path.as_uri())
    total = page.locator(".slide").count()
    assert page.inner_text("#counter") == f"step 1 / {total}"
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    assert page.inner_text("#counter") == f"step 3 / {total}"
    page.keyboard.press("ArrowLeft")
    assert page.inner_text("#counter") == f"step 2 / {total}"
    # step 2 is h2's forward row: h2 is highlighted, and h1's out (step 1) is written on the drawing
    assert page.locator(".slide.current").get_attribute("data-heading") == "h2"
    assert page.evaluate("document.getElementById('n:h2').classList.contains('focus')")
    q = _quantities("mazur")
    assert f"out {num(q['out_h1'])}" in (page.text_content("svg.net") or "")
    page.keyboard.press("End")
    assert page.inner_text("#counter") == f"step {total} / {total}"
    drawing = page.text_content("svg.net") or ""
    for name in ("out_o1", "delta_o1", "delta_h2", "w5+", "w1+"):
        assert num(q[name]) in drawing, name
    page.keyboard.press("Home")
    for _ in range(total):  # at every step, nothing written on the drawing covers anything else
        assert page.evaluate(OVERLAPS) == [], page.inner_text("#counter")
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Home")
    assert page.inner_text("#counter") == f"step 1 / {total}"
    assert f"out {num(q['out_h1'])}" in (page.text_content("svg.net") or "")
    assert num(q["w5+"]) not in (page.text_content("svg.net") or "")  # not known yet at step 1
    assert all(url.startswith("file:") for url in requests), requests
    page.close()


@pytest.mark.parametrize("name", BUNDLED)
def test_no_label_overlaps_another_in_any_bundled_network(browser, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(_lesson(tmp_path, name).as_uri())
    total = page.locator(".slide").count()
    for _ in range(min(total, 60)):  # the first 60 steps: the forward pass, the loss, the backward pass
        assert page.evaluate(OVERLAPS) == [], page.inner_text("#counter")
        page.keyboard.press("ArrowRight")
    page.keyboard.press("End")
    assert page.evaluate(OVERLAPS) == []
    page.close()


# ---- the terminal's step-through ----------------------------------------------------------------


def _read_until(fd: int, marker: bytes, timeout: float = 30.0) -> bytes:
    import select
    import time

    seen = b""
    end = time.monotonic() + timeout
    while marker not in seen and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                break
    return seen


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal (POSIX)")
def test_run_step_waits_for_a_key_in_a_terminal() -> None:
    import subprocess
    import sys
    import time

    leader, follower = os.openpty()
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "bptrace", "run", "mazur", "--step", "--verify", "off"],
        stdin=follower,
        stdout=follower,
        stderr=follower,
        env=env,
    )
    os.close(follower)
    try:
        first = _read_until(leader, b"step 1 of")  # the heading and the sketch of the network
        assert b"Mazur" in first and b"Forward pass" not in first
        time.sleep(1.0)  # the prompt is printed just before the terminal is switched to raw mode for the key
        os.write(leader, b" ")
        second = _read_until(leader, b"step 2 of")
        assert b"Forward pass, layer 1" in second and b"Forward pass, layer 2" not in second
        time.sleep(1.0)
        os.write(leader, b" ")
        third = _read_until(leader, b"step 3 of")
        assert b"Forward pass, layer 2" in third and b"Loss" not in third
        time.sleep(1.0)
        os.write(leader, b"q")
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        os.close(leader)


def test_run_step_prints_everything_when_piped() -> None:
    plain = CliRunner().invoke(main, ["run", "mazur", "--verify", "off"])
    stepped = CliRunner().invoke(main, ["run", "mazur", "--verify", "off", "--step"])
    assert stepped.exit_code == 0 and stepped.stdout == plain.stdout
    plain = CliRunner().invoke(main, ["explain", "w5", "--no-checks"])
    stepped = CliRunner().invoke(main, ["explain", "w5", "--no-checks", "--step"])
    assert stepped.exit_code == 0 and stepped.stdout == plain.stdout


# ---- a computational graph's lesson ---------------------------------------------------------------

GRAPHS = bundled_graph_names()


@pytest.mark.parametrize("name", GRAPHS)
def test_a_graph_lesson_steps_through_its_tables_beside_the_circuit(browser, tmp_path: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(CliRunner().invoke(main, ["run", name, "--format", "json", "--verify", "off"]).stdout)
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    page.goto(_lesson(tmp_path, name).as_uri())
    total = page.locator(".slide").count()
    assert total >= len(data["nodes"])
    for _ in range(total):
        assert page.evaluate(OVERLAPS) == [], page.inner_text("#counter")
        page.keyboard.press("ArrowRight")
    drawing = page.text_content("svg.net") or ""
    for node in data["nodes"] + data["variables"]:  # every gradient the JSON has is on the circuit at the end
        assert f"∂f/∂{node['name']} = {num(node['grad'])}" in drawing, node["name"]
    page.close()
