"""A computational graph drawn as a circuit in the classic style (CS231n's figures): the values on the left,
one circle per gate, and on every edge the forward value above and the gradient flowing back below.

Columns are depths (a gate one column right of its deepest input); an edge carries one use, so a reused
node's edges each show their share of its gradient, and the shares add up to the node's gradient. Drawn with
matplotlib through diagram.py's figure and saving helpers (SVG labels stay text).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bptrace.fmt import num, to_ascii
from bptrace.i18n import _
from bptrace.render.diagram import _new_figure, save

if TYPE_CHECKING:
    from bptrace.graph.engine import GraphTrace
    from bptrace.graph.model import Gate

VALUE_COLOR = "#1a7f37"  # forward values, above the edges
GRAD_COLOR = "#c0392b"  # gradients, below the edges
SYMBOLS = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^"}
UNARY = {
    "neg": "−",
    "id": "=",
    "exp": "exp",
    "log": "log",
    "sqrt": "√",
    "abs": "abs",
    "sigmoid": "σ",
    "tanh": "tanh",
    "relu": "relu",
    "max": "max",
    "min": "min",
}


def gate_label(gate: Gate, digits: int = 4) -> str:
    """What a gate's circle shows: its operation, with any constant operand (+1, ×2, 1÷)."""
    if gate.op in SYMBOLS:
        sym = SYMBOLS[gate.op]
        a, b = gate.operands
        if not isinstance(a, str):
            return f"{num(a, digits)}{sym}"
        if not isinstance(b, str):
            return f"{sym}{num(b, digits)}"
        return sym
    return UNARY[gate.op]


def depths(trace: GraphTrace) -> dict[str, int]:
    """Column of each node: 0 for the values, 1 + the deepest input for a gate."""
    s = trace.scenario
    out = dict.fromkeys(s.values, 0)
    for g in s.gates:
        out[g.name] = 1 + max((out[o] for o in g.inputs), default=0)
    for v in s.values:  # a value sits just left of the first gate that reads it
        readers = [out[u.gate] for u in trace.nodes[v].uses]
        out[v] = min(readers, default=1) - 1
    return out


def graph_figure(trace: GraphTrace, digits: int = 4, ascii: bool = False) -> Any:
    """The circuit as a matplotlib Figure."""
    s = trace.scenario
    t = to_ascii if ascii else (lambda x: x)
    depth = depths(trace)
    columns: dict[int, list[str]] = {}
    for name in s.node_names():
        columns.setdefault(depth[name], []).append(name)
    height = max(len(c) for c in columns.values())
    last = max(columns)
    pos: dict[str, tuple[float, float]] = {}
    for d, names in columns.items():
        for i, name in enumerate(names):
            pos[name] = (d * 2.6, (len(names) - 1) / 2 - i)
    x_range = (-1.6, last * 2.6 + 2.0)
    y_range = (-height / 2 - 0.5, height / 2 + 0.9)  # room above for the edges that bow around gates
    inch = 0.75  # per unit of the drawing, the same across and up, so the circles are round
    fig = _new_figure((x_range[1] - x_range[0]) * inch / 0.96, (y_range[1] - y_range[0]) * inch / 0.8)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.8))
    ax.set_axis_off()
    ax.set_xlim(*x_range)
    ax.set_ylim(*y_range)
    radius = 0.32
    for v in s.values:
        x, y = pos[v]
        ax.text(x - 0.15, y, t(v), ha="right", va="center", fontsize=11, fontweight="bold")
    for g in s.gates:
        x, y = pos[g.name]
        _circle(ax, x, y, radius)
        ax.text(x, y, t(gate_label(g, digits)), ha="center", va="center", fontsize=10)
        ax.text(x, y - radius - 0.12, t(g.name), ha="center", va="top", fontsize=8, color="#555555")
    for name, node in trace.nodes.items():
        x0, y0 = pos[name]
        start = x0 if name in s.values else x0 + radius
        counts: dict[str, int] = {}
        for use in node.uses:
            x1, y1 = pos[use.gate]
            k = counts.get(use.gate, 0)
            counts[use.gate] = k + 1
            twice = s.gate(use.gate).inputs.count(name) > 1
            end = (x1 - radius, y1)
            # an edge that skips a column bows around the gates in between; a gate reading a node twice
            # gets one edge bowed up and one down
            rad = -0.25 if depth[use.gate] - depth[name] > 1 else 0.0
            if twice:
                rad = -0.35 if k == 0 else 0.35
            _edge(ax, (start, y0), end, t(num(node.value, digits)), t(num(use.product, digits)), rad)
    out = trace.output
    x, y = pos[out.name]
    _edge(ax, (x + radius, y), (x + 1.6, y), t(num(out.value, digits)), t(num(out.grad, digits)))
    ax.text(x + 1.65, y, t(out.name), ha="left", va="center", fontsize=11, fontweight="bold")
    from bptrace.graph.model import shown

    title = (
        shown(s.title) + "\n" + _("forward values above the edges, gradients of {output} below").format(output=out.name)
    )
    families = font_families(title)
    fig.suptitle(t(title), fontsize=10, **({"fontfamily": families} if families else {}))
    return fig


def font_families(text: str) -> list[str] | None:
    """The font families for `text` when it has CJK characters: the default font first (Latin, digits and
    mathematical symbols), then every installed Chinese font; None for other text (nothing changes)."""
    if not any(ord(c) >= 0x2E80 for c in text):
        return None
    from matplotlib import rcParams

    from bptrace.render.diagram import installed_chinese_fonts

    found = installed_chinese_fonts()
    return [*list(rcParams["font.sans-serif"])[:1], *found] if found else None


def _circle(ax: Any, x: float, y: float, r: float) -> None:
    from matplotlib.patches import Circle

    c = Circle((x, y), r, facecolor="white", edgecolor="black", linewidth=1.2, zorder=3)
    ax.add_patch(c)


def _edge(ax: Any, a: tuple[float, float], b: tuple[float, float], above: str, below: str, rad: float = 0.0) -> None:
    style = {"arrowstyle": "->", "color": "black", "linewidth": 1.0, "connectionstyle": f"arc3,rad={rad}"}
    ax.annotate("", xy=b, xytext=a, arrowprops=style, zorder=2)
    dx, dy = b[0] - a[0], b[1] - a[1]
    # the middle of matplotlib's arc3 curve: the chord's middle moved rad/2 of the chord across it
    mx, my = (a[0] + b[0]) / 2 + rad * dy / 2, (a[1] + b[1]) / 2 - rad * dx / 2
    ax.text(mx, my + 0.06, above, ha="center", va="bottom", fontsize=9, color=VALUE_COLOR)
    ax.text(mx, my - 0.06, below, ha="center", va="top", fontsize=9, color=GRAD_COLOR)


def draw_graph(trace: GraphTrace, path: str, digits: int = 4, ascii: bool = False) -> None:
    """Draw the circuit to `path` (.svg or .png)."""
    save(graph_figure(trace, digits=digits, ascii=ascii), path)
