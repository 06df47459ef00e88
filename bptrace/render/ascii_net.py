"""A compact text drawing of a network: its layers side by side, as columns of names.

    inputs       layer 1: sigmoid    layer 2: sigmoid
    i1 0.05      h1 out 0.5933       o1 out 0.7514
    i2 0.1    →  h2 out 0.5969    →  o2 out 0.7729
                 + b1 0.35 shared    + b2 0.6 shared
                   (not updated)       (not updated)

Layers with more than MAX_ROWS neurons show their first and last neurons around a "⋮ N more" line. With a
trace, each neuron shows its out (of sample 1) and each input its value; without one, names only. Pure
text: no rich markup, no colour; `ascii=True` writes -> and ... instead of → and ⋮.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.cells import cell_len

from bptrace.fmt import num
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Layer, Scenario

MAX_ROWS = 6  # a layer with more neurons is summarised: the first HEAD, "⋮ N more", the last one
HEAD = 3
GAP = 2  # spaces on each side of the arrow between two columns


def network_sketch(scenario: Scenario, trace: Trace | None = None, ascii: bool = False, digits: int = 4) -> str:
    """The network as columns of layers (i1 i2 → h1 h2 → o1 o2), biases noted under each layer."""
    arrow, more = ("->", "...") if ascii else ("→", "⋮")
    columns: list[list[str]] = []
    names = scenario.input_names
    inputs = [f"{n} {num(scenario.inputs[0, j], digits)}" if trace is not None else n for j, n in enumerate(names)]
    columns.append([_("inputs")] + _rows(inputs, more))
    for layer in scenario.layers:
        cells = list(layer.neurons)
        if trace is not None:
            out = trace.layers[layer.index - 1].out[0]
            cells = [f"{n} out {num(out[r], digits)}" for r, n in enumerate(layer.neurons)]
        columns.append(
            [_("layer {layer}: {activation}").format(layer=layer.index, activation=layer.activation)]
            + _rows(cells, more)
            + _bias_lines(layer, scenario.update_biases, digits, ascii)
        )
    body_rows = [len(_rows(["x"] * len(names), more))] + [
        len(_rows(["x"] * layer.size, more)) for layer in scenario.layers
    ]
    # the arrow sits on the middle row of the tallest column of neurons (row 0 is the header)
    arrow_row = 1 + (max(body_rows) - 1) // 2
    height = max(len(c) for c in columns)
    widths = [max(cell_len(line) for line in c) for c in columns]
    lines = []
    for row in range(height):
        parts = []
        for k, column in enumerate(columns):
            cell = column[row] if row < len(column) else ""
            parts.append(cell + " " * (widths[k] - cell_len(cell)))
            if k < len(columns) - 1:
                joint = arrow if row == arrow_row else " " * len(arrow)
                parts.append(" " * GAP + joint + " " * GAP)
        lines.append("".join(parts).rstrip())
    if trace is not None and scenario.samples > 1:
        lines.append(_("(values of sample 1 of {m})").format(m=scenario.samples))
    return "\n".join(lines)


def _rows(cells: list[str], more: str) -> list[str]:
    """All cells, or for a big layer the first HEAD, a '⋮ N more' line and the last."""
    if len(cells) <= MAX_ROWS:
        return cells
    return cells[:HEAD] + [_("{dots} {n} more").format(dots=more, n=len(cells) - HEAD - 1)] + cells[-1:]


def _bias_lines(layer: Layer, updated: bool, digits: int, ascii: bool) -> list[str]:
    if layer.bias_mode == "none":
        return []
    if layer.bias_mode == "shared":
        line = _("+ {bias} {value} shared").format(bias=layer.bias_names[0], value=num(layer.biases[0], digits))
    elif layer.size <= 2:
        line = "+ " + ", ".join(layer.bias_names)
    else:
        dots = "..." if ascii else "…"
        line = _("+ {first}{dots}{last} (one each)").format(
            first=layer.bias_names[0], dots=dots, last=layer.bias_names[-1]
        )
    return [line] + ([] if updated else ["  " + _("(not updated)")])
