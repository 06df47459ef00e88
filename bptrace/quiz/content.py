"""What every quiz format shows of an exercise: its statement, the picture, and a derivation as HTML.

The statement is the description `bptrace run` starts with (render/layout.py's header) and a table of the
given numbers (inputs, targets, weights, biases, η) as blocks (render/blocks.py), printed as HTML or LaTeX by
render/html.py and render/latex.py. The picture is `bptrace diagram --show weights` (render/diagram.py): the
weights and inputs only, no value a student is to compute. The derivation is explain's
(explain/derivation.py), laid out by render/explain_text.py and written here as HTML.
"""

from __future__ import annotations

import html as html_lib
from typing import TYPE_CHECKING

from bptrace.fmt import num
from bptrace.i18n import _, ngettext
from bptrace.render.blocks import Block, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.explain.derivation import Explanation
    from bptrace.quiz.model import Ask, Exercise

PICTURE_DIGITS = 4  # the labels of the picture (render/diagram.py's default)


def given_rows(exercise: Exercise) -> list[tuple[str, float]]:
    """Every number the student is given, by name: the inputs and targets (per sample), the weights and biases
    layer by layer, and η."""
    s = exercise.scenario
    rows: list[tuple[str, float]] = []
    m = s.samples
    for k in range(m):
        suffix = f":{k + 1}" if m > 1 else ""
        rows += [(f"{name}{suffix}", float(s.inputs[k, c])) for c, name in enumerate(s.input_names)]
        if s.corrupt is not None:
            rows += [(f"{name}{suffix}c", float(s.corrupt[k, c])) for c, name in enumerate(s.input_names)]
        if s.objective.targets:
            rows += [(f"t_{name}{suffix}", float(s.targets[k, c])) for c, name in enumerate(s.output_layer.neurons)]
    for layer in s.layers:
        rows_n, cols_n = layer.weights.shape
        rows += [(layer.weight_name(r, c), float(layer.weights[r, c])) for r in range(rows_n) for c in range(cols_n)]
        rows += [(name, float(b)) for name, b in zip(layer.bias_names, layer.biases)]
    rows.append(("η", float(s.learning_rate)))
    return rows


def statement_blocks(exercise: Exercise, heading: bool = True) -> list[Block]:
    """The exercise as blocks: the description of the network and its conventions, then the given numbers."""
    from bptrace.render.layout import TraceLayout

    described = list(TraceLayout(exercise.trace).section_header())
    if not heading:
        described = [b for b in described if not (isinstance(b, Para) and b.style == "title")]
    grid = Grid(_("Given"), [Column(_("quantity"), "name"), Column(_("value"), "num")])
    grid.rows = [[name, num(value)] for name, value in given_rows(exercise)]
    return [*described, grid]


def instructions(digits: int) -> str:
    return _(
        "Compute the quantities below for one training step. Carry full precision through the intermediate "
        "results and give each answer to at least {digits} significant digits."
    ).format(digits=digits)


def statement_html(exercise: Exercise, picture: str | None = None, heading: bool = False) -> str:
    """The statement as an HTML fragment with inline styles (learning platforms strip <style> elements);
    `picture` is the src of the network's picture, shown after the description."""
    from bptrace.render import html

    blocks = statement_blocks(exercise, heading=heading)
    parts = [html.body(blocks[:-1], inline=True)]
    if picture is not None:
        alt = html_lib.escape(_("The network with its weights and inputs"), quote=True)
        parts.append(f'<p><img src="{html_lib.escape(picture, quote=True)}" alt="{alt}" style="max-width:100%"></p>')
    parts.append(html.body(blocks[-1:], inline=True))
    return "\n".join(parts)


def picture(trace: Trace, fmt: str) -> bytes:
    """The network with its weights and inputs only (`bptrace diagram --show weights`), as svg, png or pdf."""
    import io

    import matplotlib

    from bptrace.render.diagram import network_figure, require_matplotlib

    require_matplotlib()
    fig = network_figure(trace, show="weights", digits=PICTURE_DIGITS)
    buffer = io.BytesIO()
    metadata = {"svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}.get(fmt)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bptrace"}):
        fig.savefig(buffer, format=fmt, dpi=150 if fmt == "png" else None, metadata=metadata)
    return buffer.getvalue()


def right_feedback(ask: Ask) -> str:
    """What a student with the right answer reads."""
    return _("Right: {symbol} = {value}.").format(symbol=ask.symbol, value=num(ask.value))


def rounded_feedback(digits: int) -> str:
    """What a student reads whose answer is right only with the intermediate results rounded (check accepts it)."""
    return _(
        "Your value is what intermediate results rounded to {digits} significant digits give: counted right, "
        "but carry more digits through the steps."
    ).format(digits=digits)


def other_feedback() -> str:
    """What a student reads whose answer is neither right nor a value a known misconception gives."""
    return _("Not right, and not a value any known misconception gives: compare your steps with the worked solution.")


def unseen_note(ask: Ask) -> str:
    """A teacher's note: misconceptions whose value the rules cannot tell from the right one."""
    if not ask.unseen:
        return ""
    return ngettext(
        "At {digits} significant digits this misconception gives a value counted right: {codes}.",
        "At {digits} significant digits these misconceptions give values counted right: {codes}.",
        len(ask.unseen),
    ).format(digits=ask.digits, codes=", ".join(ask.unseen))


def derivation_html(ex: Explanation) -> str:
    """explain's derivation of one quantity as an HTML fragment (inline styles only)."""
    from bptrace.render.explain_text import sections

    out = ['<div class="bptrace-derivation">']
    for k, section in enumerate(sections(ex)):
        tag = "h4" if k == 0 else "h5"
        out.append(f"<{tag}>{_text(section.title)}</{tag}>")
        for line in section.lines:
            if line.role == "pretty":
                out.append(f'<pre style="font-size:90%">{html_lib.escape(line.text)}</pre>')
            elif line.role == "note":
                out.append(f'<p style="color:#5a5a5a;margin:0.1em 0">{_text(line.text.strip())}</p>')
            elif line.role in ("math", "result"):
                weight = ";font-weight:bold" if line.role == "result" else ""
                out.append(f'<p style="font-family:monospace;margin:0.1em 0{weight}">{_text(line.text)}</p>')
            else:
                out.append(f'<p style="margin:0.1em 0">{_text(line.text)}</p>')
    out.append("</div>")
    return "\n".join(out)


def solution_html(exercise: Exercise) -> str:
    """The worked solution of every asked quantity (the general feedback)."""
    parts = [derivation_html(a.explanation) for a in exercise.asks]
    return "\n<hr>\n".join(parts)


def _text(value: str) -> str:
    from bptrace.render import html

    return html.text(value)
