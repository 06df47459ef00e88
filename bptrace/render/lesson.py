"""A classroom step-through: the derivation revealed one step at a time, beside the network it runs on.

A lesson is a list of slides made from the same blocks every other format shows (render/layout.py for a
whole step, the explanation's blocks for one quantity): each row of each table is one slide, so the lesson
never says anything the tables do not. A slide names the neurons and weights it is about (highlighted in
the drawing) and what becomes known on them (the value the row arrives at, written on the drawing).

`lesson_html` writes one self-contained page (inline CSS, SVG and script; nothing fetched from anywhere):
→ or space for the next step, ← back, Home and End, a step counter, large type and high contrast for a
projector, and a print stylesheet that prints every step.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bptrace.i18n import _
from bptrace.render.blocks import cell_text
from bptrace.render.html import html_lang
from bptrace.render.layout import Block, Grid, Para

if TYPE_CHECKING:
    from bptrace.explain.derivation import Explanation
    from bptrace.graph.engine import GraphTrace
    from bptrace.model.scenario import Scenario

MAX_DRAWN = 10  # neurons drawn per layer; a larger layer is drawn as its first ones and "…"
MAX_LABELLED_FAN = 2  # between two layers of more neurons, edges converge: only the focused edge is labelled


@dataclass(frozen=True)
class Slide:
    """One step of the lesson: a table row (or a paragraph) with what it is about."""

    section: str  # the table's title: "Forward pass, layer 1 (sigmoid)"
    heading: str  # the row's first cell: "h1", "E_total", "w5"
    cells: tuple[tuple[str, str], ...]  # (column header, cell text), the row as the table shows it
    focus: tuple[str, ...] = ()  # drawing elements: "n:h1" (a neuron or input), "e:w5" (a weight)
    # (element, key, label) written on the drawing from this step on; a later label of the same key replaces it
    known: tuple[tuple[str, str, str], ...] = ()


@dataclass
class Lesson:
    """The slides of a lesson and the network they are drawn on."""

    title: str
    scenario: Scenario | None
    slides: list[Slide] = field(default_factory=list)
    drawing: str | None = None  # inline SVG with the slides' element ids (default: network_svg(scenario))


def _element(scenario: Scenario, name: str) -> str | None:
    """The drawing element a quantity's row is about: a neuron or input, or a weight."""
    names = {n for i in range(len(scenario.layers) + 1) for n in scenario.layer_names(i)}
    bare = re.sub(r"[⁺+]$", "", name.strip())
    bare = re.sub(r"^(∂E/∂|dE/d|net_|out_|delta_|δ_|E_)", "", bare)
    bare = bare.split(":")[0].split(" ")[0]
    if bare in names:
        return f"n:{bare}"
    if scenario.has_parameter(bare):
        p = scenario.parameter(bare)
        if p.kind == "weight":
            return f"e:{bare}"
        return f"b:{scenario.layers[p.layer - 1].index}"
    return None


def _label(grid: Grid, row: list[str]) -> tuple[str, str] | None:
    """What a row arrives at, as the drawing shows it: (the last number column's header, "header value")."""
    for column, cell in zip(reversed(grid.columns), reversed(row)):
        if column.kind == "num" and cell.strip():
            header = column.header.split("=")[-1].strip() or column.header
            if header in ("value", _("value")):
                header = row[0].strip()
            header = header.replace("θ", row[0].strip().rstrip("⁺+"))  # ∂E/∂θ -> ∂E/∂w5, θ⁺ -> w5⁺
            return header, f"{header} {cell.strip()}"
    return None


def slides_from_blocks(scenario: Scenario, blocks: Iterable[Block], sample_one_only: bool = True) -> list[Slide]:
    """Every table row becomes a slide; a bold or titled paragraph between tables becomes one too."""
    slides: list[Slide] = []
    for block in blocks:
        if isinstance(block, Para):
            if block.style in ("bold", "good", "bad") and block.text.strip():
                slides.append(Slide(section="", heading=block.text.strip(), cells=()))
            continue
        if not isinstance(block, Grid):  # a derivation's lines: not a table's slides
            continue
        headers = [c.header for c in block.columns]
        sample = _("sample")
        sample_col = headers.index(sample) if sample in headers else None
        for cells in block.rows:
            row = [cell_text(c) for c in cells]  # a formula's Unicode (the slide shows it as text)
            if not any(cell.strip() for cell in row):
                continue
            heading = row[0].strip()
            target = _element(scenario, heading)
            focus: tuple[str, ...] = (target,) if target else ()
            if heading == "E_total" or heading.startswith("E_total"):
                focus = tuple(f"n:{n}" for n in scenario.output_layer.neurons)
            label = _label(block, row)
            first_sample = sample_col is None or row[sample_col].strip() in ("", "1", "1 x")
            known = ((target, *label),) if target and label and (first_sample or not sample_one_only) else ()
            slides.append(
                Slide(
                    section=cell_text(block.title),
                    heading=heading,
                    cells=tuple((h, c) for h, c in zip(headers, row) if c.strip()),
                    focus=focus,
                    known=known,
                )
            )
    return slides


def slides_from_explanation(scenario: Scenario, explanation: Explanation) -> list[Slide]:
    """One quantity's derivation as slides: the chain rule, each factor with its numbers, the product, the update."""
    from bptrace.fmt import num

    e = explanation
    here = _element(scenario, e.target)
    focus: tuple[str, ...] = (here,) if here else ()
    n = lambda x: num(x, e.digits)  # noqa: E731
    slides = [Slide(e.title, e.target, (("", e.target), ("what", e.what)), focus)]
    if e.paths:
        paths = "\n".join(" → ".join(path) for path in e.paths)
        slides.append(Slide(_("Paths to the loss"), _("paths"), (("", _("paths")), (_("paths"), paths)), focus))
    slides.append(Slide(e.chain_title, e.chain_title, (("", ""), ("", "\n".join(m.text for m in e.chain))), focus))
    for step in e.steps:
        cells = [("", step.name), (_("what"), step.title)]
        cells += [(_("formula"), m.text) for m in step.definition]
        if step.closed_form is not None:
            cells.append((_("closed form"), step.closed_form.text))
        for row in step.rows:
            label = _("numbers") if row.sample is None else _("sample {n}: numbers").format(n=row.sample)
            cells.append((label, " ".join(m.text for m in row.stages) or n(row.value)))
        step_here = _element(scenario, step.name)
        slides.append(Slide(step.symbol.text, step.name, tuple(cells), (step_here,) if step_here else focus))
    for row in e.product:
        label = e.product_symbol.text + ("" if row.sample is None else _(" (sample {n})").format(n=row.sample))
        known = ((here, "product", f"{e.product_symbol.text} {n(row.value)}"),) if here else ()
        stages = " ".join(m.text for m in row.stages) or n(row.value)
        slides.append(Slide(_("Product"), label, (("", label), (_("numbers"), stages)), focus, known))
    if e.batch is not None:
        stages = " ".join(m.text for m in e.batch.stages) or n(e.batch.value)
        known = ((here, "product", f"{e.batch_symbol.text} {n(e.batch.value)}"),) if here else ()
        slides.append(Slide(e.batch_title, e.batch_symbol.text, (("", ""), (_("numbers"), stages)), focus, known))
    if e.update is not None:
        u = e.update
        known = ((here, "update", f"{u.param}⁺ {n(u.new_value)}"),) if here else ()
        slides.append(Slide(_("Update"), f"{u.param}⁺", (("", ""), (_("formula"), u.formula.text)), focus, known))
    for check in e.checks:
        mark = "" if check.ok is None else (" ✓" if check.ok else " ✗")
        slides.append(
            Slide(_("Checks"), check.method, (("", ""), (_("value"), n(check.value) + mark), ("", check.detail)))
        )
    return slides


# ---- the drawing -----------------------------------------------------------------------------------


def _drawn(names: tuple[str, ...]) -> list[str | None]:
    """The neurons of a layer that are drawn (None: the "…" standing for the rest)."""
    if len(names) <= MAX_DRAWN:
        return list(names)
    return [*names[: MAX_DRAWN - 2], None, names[-1]]


def network_svg(scenario: Scenario, digits: int = 4) -> str:
    """The network as inline SVG: circles with ids n:NAME, edges e:NAME, a label slot on each, the targets."""
    from bptrace.fmt import num

    layers = [scenario.layer_names(i) for i in range(len(scenario.layers) + 1)]
    drawn = [_drawn(names) for names in layers]
    col_w, row_h, r = 800, 380, 40
    height = max(len(d) for d in drawn) * row_h + 90
    width = (len(layers) - 1) * col_w + 560
    pos: dict[str, tuple[float, float]] = {}
    for i, names in enumerate(drawn):
        top = (height - len(names) * row_h) / 2 + row_h / 2
        for k, name in enumerate(names):
            pos[name if name else f"…{i}"] = (110 + i * col_w, top + k * row_h - 30)
    aria = html.escape(_("the network"))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{aria}" class="net">'
    ]
    for layer in scenario.layers:
        src = drawn[layer.index - 1]
        # beyond a few edges between two layers every label cannot have room: show the focused one only
        dense = " dense" if max(len(src), len(drawn[layer.index])) > MAX_LABELLED_FAN else ""
        for row, target in enumerate(layer.neurons):
            if target not in pos:
                continue
            for col, source in enumerate(scenario.layer_names(layer.index - 1)):
                if source not in pos:
                    continue
                name = layer.weight_name(row, col)
                (x1, y1), (x2, y2) = pos[source], pos[target]
                # each source's edges carry their labels at their own distance along (the first source's
                # nearest it, the last's nearest the target), so labels of crossing edges never meet
                n_src = len(src)
                t = 0.3 + 0.4 * (src.index(source) / (n_src - 1) if n_src > 1 else 0.5)
                lx, ly = x1 + (x2 - x1) * t, y1 + (y2 - y1) * t
                value = num(float(layer.weights[row, col]), digits)
                parts.append(
                    f'<g class="edge{dense}" id="e:{html.escape(name)}"><line x1="{x1 + r}" y1="{y1}" x2="{x2 - r}" '
                    f'y2="{y2}"/><text x="{lx}" y="{ly - 10}" class="given mid">{html.escape(name)} = {value}</text>'
                    f'<text x="{lx}" y="{ly + 26}" class="known mid" data-for="e:{html.escape(name)}"></text></g>'
                )
    for i, names in enumerate(drawn):
        for k, name in enumerate(names):
            x, y = pos[name if name else f"…{i}"]
            if name is None:
                parts.append(f'<text x="{x}" y="{y + 8}" class="more">⋮</text>')
                continue
            given = ""
            if i == 0:
                col = scenario.input_names.index(name)
                value = num(float(scenario.inputs[0, col]), digits)
                given = f'<text x="{x - r - 8}" y="{y + 6}" class="given end">{value}</text>'
            elif i == len(layers) - 1:
                col = scenario.output_layer.neurons.index(name)
                if scenario.objective.targets:
                    target = num(float(scenario.targets[0, col]), digits)
                    label = html.escape(_("target {value}").format(value=target))
                    given = f'<text x="{x + r + 12}" y="{y - 26}" class="given">{label}</text>'
            # what becomes known sits right of an output (where no edge leaves), and on the outer side of a
            # neuron: above the upper half of a layer, below the lower half, away from the edges crossing inwards
            if i == len(layers) - 1:
                spot = f'x="{x + r + 12}" y="{y + 12}" class="known"'
            elif k < len(names) // 2:
                spot = f'x="{x}" y="{y - r - 16}" class="known mid up"'
            else:
                spot = f'x="{x}" y="{y + r + 32}" class="known mid"'
            parts.append(
                f'<g class="node" id="n:{html.escape(name)}"><circle cx="{x}" cy="{y}" r="{r}"/>'
                f'<text x="{x}" y="{y + 7}" class="name">{html.escape(name)}</text>{given}'
                f'<text {spot} data-for="n:{html.escape(name)}"></text></g>'
            )
    for layer in scenario.layers:
        if layer.bias_mode == "none":
            continue
        x = 110 + layer.index * col_w
        text = ", ".join(f"{n} = {num(float(v), digits)}" for n, v in zip(layer.bias_names[:3], layer.biases[:3])) + (
            " …" if len(layer.bias_names) > 3 else ""
        )
        label = html.escape(_("bias {values}").format(values=text))
        parts.append(
            f'<g class="bias" id="b:{layer.index}"><text x="{x}" y="{height - 20}" class="given mid">{label}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def graph_slides(trace: GraphTrace, blocks: Iterable[Block]) -> list[Slide]:
    """A computational graph's lesson: each row of its run's tables is a step, about the node it names."""
    from bptrace.i18n import _
    from bptrace.render.graph_out import VALUE_HEADER, is_upstream_header

    nodes = set(trace.nodes)
    slides: list[Slide] = []
    for block in blocks:
        if isinstance(block, Para):
            if block.style in ("bold", "good", "bad") and block.text.strip():
                slides.append(Slide(section="", heading=block.text.strip(), cells=()))
            continue
        if not isinstance(block, Grid):  # a derivation's lines: not a table's slides
            continue
        headers = [c.header for c in block.columns]
        for cells in block.rows:
            row = [cell_text(c) for c in cells]
            if not any(cell.strip() for cell in row):
                continue
            heading = row[0].strip()
            # a backward row names its gate first and the input it passes the gradient to third
            about = [c.strip() for c in row if c.strip() in nodes]
            focus = tuple(f"n:{n}" for n in dict.fromkeys(about))
            # what the row tells about its first node: its value (forward), the upstream gradient a gate
            # receives (backward: ∂f/∂gate), or a variable's gradient (the gradients table)
            known: tuple[tuple[str, str, str], ...] = ()
            for header, cell in zip(headers, row):
                if not (cell.strip() and heading in nodes):
                    continue
                if header == _(VALUE_HEADER):
                    known = ((f"n:{heading}", "value", f"{heading} = {cell.strip()}"),)
                elif is_upstream_header(header) or header.startswith("∂f/∂"):
                    known = ((f"n:{heading}", "grad", f"∂f/∂{heading} = {cell.strip()}"),)
                    break
            shown = tuple((h, c) for h, c in zip(headers, row) if c.strip())
            slides.append(Slide(section=cell_text(block.title), heading=heading, cells=shown, focus=focus, known=known))
    return slides


def graph_svg(trace: GraphTrace, digits: int = 4) -> str:
    """The circuit as inline SVG: the values on the left, one circle per gate (its operation inside), an edge
    from each input to the gate that reads it; ids n:NAME as in the network drawing, labels revealed by steps."""
    from bptrace.fmt import num
    from bptrace.render.graph_diagram import depths

    s = trace.scenario
    column = depths(trace)
    by_column: dict[int, list[str]] = {}
    for name in trace.nodes:
        by_column.setdefault(column[name], []).append(name)
    col_w, row_h, r = 330, 210, 40
    height = max(len(v) for v in by_column.values()) * row_h + 80
    width = (max(by_column) + 1) * col_w + 200
    pos: dict[str, tuple[float, float]] = {}
    for c, names in by_column.items():
        top = (height - len(names) * row_h) / 2 + row_h / 2
        for k, name in enumerate(names):
            pos[name] = (90 + c * col_w, top + k * row_h - 20)
    ops = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^", "neg": "−"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" class="net">']
    for name, node in trace.nodes.items():
        for source in dict.fromkeys(node.inputs):
            (x1, y1), (x2, y2) = pos[source], pos[name]
            parts.append(
                f'<g class="edge" id="e:{html.escape(source)}-{html.escape(name)}"><line x1="{x1 + r}" y1="{y1}" '
                f'x2="{x2 - r}" y2="{y2}"/></g>'
            )
    for name, node in trace.nodes.items():
        x, y = pos[name]
        inside = name if node.op == "input" else ops.get(node.op, node.op)
        given = ""
        if node.op == "input":
            given = f'<text x="{x - r - 8}" y="{y + 8}" class="given end">{num(s.values[name], digits)}</text>'
        parts.append(
            f'<g class="node" id="n:{html.escape(name)}"><circle cx="{x}" cy="{y}" r="{r}"/>'
            f'<text x="{x}" y="{y + 9}" class="name">{html.escape(inside)}</text>{given}'
            + (
                ""
                if node.op == "input"
                else f'<text x="{x}" y="{y - r - 12}" class="given mid">{html.escape(name)}</text>'
            )
            + f'<text x="{x}" y="{y + r + 30}" class="known mid" data-for="n:{html.escape(name)}"></text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


# ---- the page --------------------------------------------------------------------------------------

CSS = """\
:root { --fg: #000; --bg: #fff; --hi: #c2410c; --dim: #555; --known: #0b4f9c; }
* { box-sizing: border-box; }
body { margin: 0; font-family: "Noto Sans", "Noto Sans CJK SC", system-ui, sans-serif; color: var(--fg);
       background: var(--bg); font-size: 26px; line-height: 1.35; }
header { display: flex; justify-content: space-between; align-items: baseline; padding: .4em 1em;
         border-bottom: 3px solid var(--fg); }
header h1 { font-size: 1.1em; margin: 0; }
#counter { font-variant-numeric: tabular-nums; font-weight: bold; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1em; padding: 1em; }
.slide { display: none; }
.slide.current { display: block; }
.slide h2 { font-size: .85em; color: var(--dim); margin: 0 0 .3em; font-weight: normal; }
.slide h3 { font-size: 1.4em; margin: 0 0 .4em; }
.slide dl { margin: 0; }
.slide dt { color: var(--dim); font-size: .8em; margin-top: .5em; }
.slide dd { margin: 0; font-family: "DejaVu Sans Mono", "Noto Sans Mono", monospace; white-space: pre-wrap;
            overflow-wrap: anywhere; }
svg.net { width: 100%; height: auto; max-height: 80vh; }
svg.net line { stroke: #888; stroke-width: 2; }
svg.net circle { fill: #fff; stroke: var(--fg); stroke-width: 3; }
svg.net text { font-size: 27px; fill: var(--fg); paint-order: stroke; stroke: #fff; stroke-width: 6px;
               stroke-linejoin: round; }
svg.net text.name { text-anchor: middle; font-size: 30px; font-weight: bold; }
svg.net text.end { text-anchor: end; }
svg.net text.mid, svg.net text.more { text-anchor: middle; }
svg.net text.known { fill: var(--known); font-weight: bold; font-size: 23px; }
svg.net .edge.dense text { display: none; }
svg.net .edge.dense.focus text { display: inline; }
svg.net .focus circle { stroke: var(--hi); stroke-width: 7; fill: #fff1e6; }
svg.net .focus line { stroke: var(--hi); stroke-width: 6; }
svg.net .focus text.given { fill: var(--hi); font-weight: bold; }
nav { padding: 0 1em 1em; color: var(--dim); font-size: .7em; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
@media print {
  body { font-size: 12pt; } header { border: 0; } nav, #counter { display: none; }
  main { display: block; } .slide { display: block; break-inside: avoid; border-bottom: 1px solid #999;
  padding: .3em 0; } figure { break-after: page; }
}
"""

SCRIPT = """\
(function () {
  const slides = Array.from(document.querySelectorAll('.slide'));
  const data = JSON.parse(document.getElementById('lesson-data').textContent);
  let at = 0;
  function show(n) {
    at = Math.max(0, Math.min(slides.length - 1, n));
    slides.forEach((s, i) => s.classList.toggle('current', i === at));
    document.querySelectorAll('.focus').forEach(e => e.classList.remove('focus'));
    for (const id of data[at].focus) { const e = document.getElementById(id); if (e) e.classList.add('focus'); }
    const known = {};
    for (let i = 0; i <= at; i++) {
      for (const [id, key, label] of data[i].known) (known[id] = known[id] || {})[key] = label;
    }
    document.querySelectorAll('text.known').forEach(t => {
      t.textContent = '';
      const labels = Object.values(known[t.dataset.for] || {});
      (t.dataset.for.startsWith('e:') ? labels.slice(-1) : labels).forEach((label, k) => {
        const line = document.createElementNS('http://www.w3.org/2000/svg', 'tspan');
        line.setAttribute('x', t.getAttribute('x'));
        line.setAttribute('dy', k ? '1.2em' : (t.classList.contains('up') ? (-1.2 * (labels.length - 1)) + 'em' : '0'));
        line.textContent = label; t.appendChild(line);
      });
    });
    document.getElementById('counter').textContent = 'step ' + (at + 1) + ' / ' + slides.length;
    document.body.dataset.step = String(at + 1);
  }
  document.addEventListener('keydown', e => {
    if (e.key === 'ArrowRight' || e.key === ' ' || e.key === 'PageDown' || e.key === 'Enter') show(at + 1);
    else if (e.key === 'ArrowLeft' || e.key === 'PageUp' || e.key === 'Backspace') show(at - 1);
    else if (e.key === 'Home') show(0);
    else if (e.key === 'End') show(slides.length - 1);
    else return;
    e.preventDefault();
  });
  document.addEventListener('click', e => { if (!e.target.closest('a')) show(at + 1); });
  show(0);
})();
"""


_COUNTER = "'step ' + (at + 1) + ' / ' + slides.length"  # the step counter in SCRIPT


def _script() -> str:
    """SCRIPT with its one visible word, the step counter ("step 3 / 20"), in the current language."""
    template = _("step {k} / {n}")
    if template == "step {k} / {n}":
        return SCRIPT
    parts = re.split(r"(\{k\}|\{n\})", template)
    js = " + ".join(
        {"{k}": "(at + 1)", "{n}": "slides.length"}.get(part, json.dumps(part, ensure_ascii=False))
        for part in parts
        if part
    )
    return SCRIPT.replace(_COUNTER, js)


def lesson_html(lesson: Lesson) -> str:
    """The lesson as one self-contained HTML page (no network access: everything is inline)."""
    esc = html.escape
    assert lesson.drawing is not None or lesson.scenario is not None
    drawing = lesson.drawing if lesson.drawing is not None else network_svg(lesson.scenario)  # type: ignore[arg-type]
    slides = []
    for i, slide in enumerate(lesson.slides):
        cells = "".join(f"<dt>{esc(h)}</dt><dd>{esc(c)}</dd>" for h, c in slide.cells[1:])
        slides.append(
            f'<section class="slide" id="step-{i + 1}" data-heading="{esc(slide.heading)}">'
            f"<h2>{esc(slide.section)}</h2><h3>{esc(slide.heading)}</h3><dl>{cells}</dl></section>"
        )
    data = json.dumps(
        [{"focus": list(s.focus), "known": [list(k) for k in s.known]} for s in lesson.slides], ensure_ascii=False
    ).replace("</", "<\\/")
    keys = esc(_("→ or space: next step · ←: back · Home / End: first / last step · print: every step"))
    return (
        f'<!DOCTYPE html>\n<html lang="{html_lang()}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">"
        f"<title>{esc(lesson.title)}</title><style>{CSS}</style></head><body>"
        f'<header><h1>{esc(lesson.title)}</h1><span id="counter"></span></header>'
        f'<main><figure style="margin:0">{drawing}</figure>'
        f'<div class="slides">{"".join(slides)}</div></main>'
        f"<nav>{keys}</nav>"
        f'<script type="application/json" id="lesson-data">{data}</script>'
        f"<script>{_script()}</script></body></html>\n"
    )
