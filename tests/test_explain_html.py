"""`bptrace explain NAME --format html`: one self-contained page through the document model (render/blocks.py),
its mathematics MathML printed from the formula trees (bptrace/formula.py).

In headless Chromium (Debian's, driven by Playwright; nothing downloaded): the page renders its formulas, fetches
nothing, and the numbers it shows are the JSON's. Every name of several bundled scenarios and of networks
nobody has seen (hypothesis) explains in HTML; the ASCII terminal output of English is ASCII.
"""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import tools
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from rich.console import Console
from strategies import scenarios

import bptrace
from bptrace import i18n
from bptrace.cli.main import main
from bptrace.explain.derivation import explain
from bptrace.fmt import num
from bptrace.model import names
from bptrace.render.explain_latex import explanation_markdown
from bptrace.render.explain_text import ExplanationView, explanation_html

MATH = re.compile(r"<math\b.*?</math>", re.S)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _math_elements(page: str) -> list[ET.Element]:
    return [ET.fromstring(m) for m in MATH.findall(page)]


def _self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("<script", "<link", " src=", "http://", "https://", "@import", "url("):
        assert forbidden not in page.replace('xmlns="http://www.w3.org/1998/Math/MathML"', ""), forbidden


def _json_numbers(data: dict[str, Any]) -> list[tuple[float, int]]:
    """The numbers the page must show, with the digits it shows them at: the value, each factor's rows, the
    product, the update and the checks."""
    digits = data["digits"]
    out = [(data["value"], digits)]
    for step in data["steps"]:
        out += [(row["value"], digits) for row in step["rows"]]
    out += [(row["value"], digits) for row in data["product"]]
    if data["update"]:
        out.append((data["update"]["new_value"], digits))
    out += [(c["value"], max(digits + 3, 12)) for c in data["checks"]]
    return [(v, d) for v, d in out if v is not None]


def test_cli_writes_a_self_contained_page(tmp_path: Path) -> None:
    code, _ = run("explain", "w5", "-o", str(tmp_path / "w5.html"))  # the suffix chooses the format
    assert code == 0
    page = (tmp_path / "w5.html").read_text(encoding="utf-8")
    _self_contained(page)
    maths = _math_elements(page)
    assert len(maths) > 20 and all(m.tag.endswith("}math") for m in maths)
    assert "<mi>δ</mi>" in page and "<mfrac>" in page  # δ_o1 and ∂E/∂w5 as mathematics, not text
    code, out = run("explain", "w5", "--format", "html")
    assert code == 0 and out == page


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    chromium = tools.need("chromium")  # skips where absent, fails in CI (tests/tools.py)
    from playwright import sync_api

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


SHOWN = """() => Array.from(document.querySelectorAll('math')).map(m => {
  const b = m.getBoundingClientRect(); return [m.getAttribute('alttext'), b.width, b.height]; })"""


@pytest.mark.parametrize(
    ("scenario", "target"), [("mazur", "w5"), ("deep_general_delta", "delta_h1_2"), ("softmax_classifier", "W1_1_1+")]
)
def test_page_renders_fetches_nothing_and_shows_the_json(browser, tmp_path: Path, scenario: str, target: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "page.html"
    assert run("explain", target, "-s", scenario, "-o", str(path))[0] == 0
    code, out = run("explain", target, "-s", scenario, "--format", "json")
    assert code == 0
    data = json.loads(out)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    assert requests == [path.as_uri()]  # the page itself, nothing else
    shown = page.evaluate(SHOWN)
    assert shown and all(w > 0 and h > 0 for _alt, w, h in shown)  # every formula is laid out (MathML Core)
    fraction = page.locator("mfrac").first.bounding_box()
    assert fraction is not None and fraction["height"] > 15  # a fraction stacks: rendered as mathematics
    seen = page.inner_text("body") + "\n" + "\n".join(alt for alt, _w, _h in shown)
    for value, digits in _json_numbers(data):
        assert num(value, digits) in seen, (value, digits)
    assert page.title() == data["title"]
    page.close()


@pytest.mark.parametrize("scenario", ["mazur", "ng_shallow", "learner_004_l2", "cs224n_window"])
def test_every_name_explains_in_html(scenario: str) -> None:
    s = bptrace.load(scenario)
    trace = bptrace.run(s)
    for name in names.all_names(s)[::3]:
        if names.parse_or_none(name, s) is None:
            name += ":1"
        ex = explain(trace, name, symbolic=False, checks=False)
        page = explanation_html(ex)
        _self_contained(page)
        assert _math_elements(page)
        console = Console(width=100, file=io.StringIO(), color_system=None)
        console.print(ExplanationView(ex, ascii=True))
        assert console.file.getvalue().isascii()  # type: ignore[attr-defined]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(scenarios())
def test_unseen_networks_explain_in_html_and_ascii(s: Any) -> None:
    trace = bptrace.run(s)
    for name in names.all_names(s)[::5]:
        if names.parse_or_none(name, s) is None:
            name += ":1"
        ex = explain(trace, name, symbolic=False, checks=False)
        page = explanation_html(ex)
        _self_contained(page)
        maths = _math_elements(page)
        assert f"{ex.value:.3g}" and maths
        console = Console(width=100, file=io.StringIO(), color_system=None)
        console.print(ExplanationView(ex, ascii=True))
        text = console.file.getvalue()  # type: ignore[attr-defined]
        assert text.isascii(), [line for line in text.splitlines() if not line.isascii()][:3]
        markdown = explanation_markdown(ex, ascii=True)
        assert markdown.isascii(), [line for line in markdown.splitlines() if not line.isascii()][:3]


def test_chinese_page() -> None:
    previous = i18n.language()
    i18n.set_language("zh")
    try:
        page = explanation_html(explain(bptrace.run(bptrace.load("mazur")), "w5"))
    finally:
        i18n.set_language(previous)
    _self_contained(page)
    assert '<html lang="zh-CN">' in page and "链式法则" in page
    assert _math_elements(page)


def test_a_graph_scenario_explains_in_html_as_a_page() -> None:
    code, out = run("explain", "x", "-s", "graph_circuit", "--format", "html")
    assert code == 0
    _self_contained(out)
    assert "∂f/∂x" in out
