"""Pictures with matplotlib: the network as in Mazur's figure, and the loss curve of a training run.

matplotlib is imported inside the functions that draw (never when bptrace starts), without pyplot: a bare
Figure renders through the Agg canvas, so no GUI backend or global figure state is involved. SVG output keeps
every label as text (rcParams svg.fonttype = 'none'), so it can be searched, edited and read by a screen
reader; PNG output is chosen by the file's suffix.

The network drawing shows inputs, neurons and biases as nodes labelled with their values (net and out of
one sample), and every connection as an edge labelled with its weight; `show` adds the gradient ("grad")
or the updated weight ("update") to each edge label. Networks wider or larger than a few dozen neurons are
drawn summarised instead: one box per layer with its size and activation, arrows labelled with the
weight-matrix shapes (and the gradient or update norms), never a hairball of edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bptrace.errors import BptraceError
from bptrace.fmt import num, to_ascii

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Layer, Scenario

SUFFIXES = (".svg", ".png")
SHOW = ("grad", "update")
DEFAULT_DIGITS = 4  # labels in a picture: four significant digits (--digits for more)
MAX_NEURONS = 40  # more neurons than this (inputs included) -> the summarised drawing
MAX_WIDTH = 12  # a layer wider than this -> the summarised drawing
MAX_LABELLED_EDGES = 16  # between two layers with more edges than this, edges carry no labels
STYLES = ("auto", "detailed", "summary")


def check_suffix(path: str) -> str:
    """The output format from the file's suffix: 'svg' or 'png' (anything else is a usage error)."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise BptraceError(
            f"cannot tell the picture format of {path!r} from its suffix", hint="name the file .svg or .png"
        )
    return suffix[1:]


def require_matplotlib() -> None:
    """Fail with a one-line message (exit 2) when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BptraceError("drawing needs matplotlib, which is not installed", hint="pip install matplotlib") from None


def summarised(scenario: Scenario) -> bool:
    """True when the network is too big to draw neuron by neuron (see MAX_NEURONS, MAX_WIDTH)."""
    sizes = [len(scenario.input_names)] + [layer.size for layer in scenario.layers]
    return sum(sizes) > MAX_NEURONS or max(sizes) > MAX_WIDTH


# ---------------------------------------------------------------------------------------------------
# Saving


def _new_figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.rcParams["svg.fonttype"] = "none"  # SVG labels stay <text>, not glyph outlines
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def save(fig: Any, path: str) -> None:
    """Write the figure as SVG or PNG according to the suffix of `path`."""
    import matplotlib

    fmt = check_suffix(path)
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bptrace"}):
        try:
            fig.savefig(
                path, format=fmt, dpi=150 if fmt == "png" else None, metadata={"Date": None} if fmt == "svg" else None
            )
        except OSError as exc:
            raise BptraceError(f"cannot write {path}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------------------------
# The network


@dataclass
class _Node:
    x: float
    y: float
    text: str
    kind: str  # "input" | "neuron" | "bias"


def network_figure(
    trace: Trace,
    *,
    show: str | None = None,
    sample: int = 0,
    digits: int = DEFAULT_DIGITS,
    style: str = "auto",
    ascii: bool = False,
) -> Any:
    """A matplotlib Figure of the trace's network (detailed or summarised, see `summarised`)."""
    if show is not None and show not in SHOW:
        raise BptraceError(f"unknown --show {show!r}", hint=f"choose one of {', '.join(SHOW)}")
    if style not in STYLES:
        raise BptraceError(f"unknown drawing style {style!r}", hint=f"choose one of {', '.join(STYLES)}")
    s = trace.scenario
    if not 0 <= sample < s.samples:
        raise BptraceError(
            f"--sample {sample + 1}: the scenario has {s.samples} sample{'s' if s.samples > 1 else ''}",
            hint=f"choose 1..{s.samples}",
        )
    if style == "summary" or (style == "auto" and summarised(s)):
        return _summary_figure(trace, show, sample, digits, ascii)
    return _detailed_figure(trace, show, sample, digits, ascii)


def draw_network(trace: Trace, path: str, **options: Any) -> None:
    """Draw the network of `trace` into `path` (.svg or .png); options as for network_figure."""
    check_suffix(path)
    require_matplotlib()
    save(network_figure(trace, **options), path)


def _title(trace: Trace, sample: int, show: str | None, summary: bool = False) -> str:
    s = trace.scenario
    parts = [s.title]
    if s.samples > 1:
        parts.append(f"sample {sample + 1} of {s.samples}")
    if summary:
        parts.append(f"{s.parameter_count()} parameters, one box per layer")
    else:
        parts.append(
            {None: "edges: weights", "grad": "edges: weight, ∂E/∂w", "update": "edges: weight → updated weight"}[show]
        )
    return " · ".join(parts)


def _edge_text(trace: Trace, layer: Layer, r: int, c: int, show: str | None, digits: int) -> str:
    name = layer.weight_name(r, c)
    w = layer.weights[r, c]
    lt = trace.layers[layer.index - 1]
    text = f"{name} = {num(w, digits)}"
    if show == "grad":
        text += f"\n∂E/∂{name} = {num(lt.grad_weights[r, c], digits)}"
    elif show == "update":
        text += f" → {num(lt.new_weights[r, c], digits)}"
    return text


def _bias_text(trace: Trace, layer: Layer, k: int, show: str | None, digits: int) -> str:
    """The label of bias k of the layer (k = 0 for a shared bias)."""
    name = layer.bias_names[k]
    text = f"{name} = {num(layer.biases[k], digits)}"
    lt = trace.layers[layer.index - 1]
    if show == "grad":
        text += f"\n∂E/∂{name} = {num(lt.grad_biases[k], digits)}"
    elif show == "update":
        text += f" → {num(lt.new_biases[k], digits)}" if trace.scenario.update_biases else " (not updated)"
    return text


def _detailed_figure(trace: Trace, show: str | None, sample: int, digits: int, ascii: bool) -> Any:
    """Every input, neuron and bias a node; every weight an edge (labelled while the layer pair is small)."""
    s = trace.scenario
    t = to_ascii if ascii else (lambda text: text)
    gap = 3.4  # horizontal distance between columns (data units ≈ inches / 1.3)
    step = 1.5  # vertical distance between nodes of a column
    columns: list[list[_Node]] = []
    biases: list[list[_Node]] = []  # biases[l]: the bias nodes feeding layer l + 1, drawn in column l
    for index in range(len(s.layers) + 1):
        names = s.layer_names(index)
        n = len(names)
        layer_next = s.layers[index] if index < len(s.layers) else None
        has_bias = layer_next is not None and layer_next.bias_mode != "none"
        y0 = (n - 1 + (1 if has_bias else 0)) * step / 2
        nodes = []
        for r, name in enumerate(names):
            if index == 0:
                text = f"{name}\n{num(s.inputs[sample, r], digits)}"
                kind = "input"
            else:
                lt = trace.layers[index - 1]
                text = f"{name}\nnet {num(lt.net[sample, r], digits)}\nout {num(lt.out[sample, r], digits)}"
                if show == "grad":
                    text += f"\nδ {num(lt.delta[sample, r], digits)}"
                kind = "neuron"
            nodes.append(_Node(index * gap, y0 - r * step, text, kind))
        columns.append(nodes)
        bias_nodes = []
        if has_bias and layer_next is not None:
            y = y0 - n * step
            if layer_next.bias_mode == "shared":
                bias_nodes.append(_Node(index * gap, y, _bias_text(trace, layer_next, 0, show, digits), "bias"))
            else:
                bias_nodes.append(_Node(index * gap, y, "1", "bias"))  # per-neuron biases: weights from 1
        biases.append(bias_nodes)

    n_rows = max(len(c) + len(b) for c, b in zip(columns, biases))
    width = max(6.0, 1.3 * gap * len(s.layers) + 2.6)
    height = max(3.2, 1.3 * step * n_rows + 1.0)
    fig = _new_figure(width, height)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.93))
    ax.set_axis_off()
    ax.set_aspect("equal")
    fig.suptitle(t(_title(trace, sample, show)), fontsize=10)

    # edges first, nodes on top of them (zorder), labels on top of everything
    for index, layer in enumerate(s.layers, start=1):
        src, dst = columns[index - 1], columns[index]
        labelled = len(src) * len(dst) <= MAX_LABELLED_EDGES
        w_abs = max(float(abs(layer.weights).max()), 1e-300)
        for r, target in enumerate(dst):
            for c, source in enumerate(src):
                w = float(layer.weights[r, c])
                line_width = 0.6 + 1.6 * abs(w) / w_abs
                colour = "#1f4e9c" if w >= 0 else "#b3261e"
                ax.plot(
                    [source.x, target.x],
                    [source.y, target.y],
                    color=colour,
                    lw=line_width,
                    zorder=1,
                    solid_capstyle="round",
                )
                if labelled:
                    # labels of one source's edges sit at different distances along them, so they do not
                    # pile up where the edges fan out
                    at = 0.25 + 0.25 * r / max(1, len(dst) - 1)
                    _edge_label(ax, source, target, t(_edge_text(trace, layer, r, c, show, digits)), at)
        for bias in biases[index - 1]:
            for r, target in enumerate(dst):
                ax.plot([bias.x, target.x], [bias.y, target.y], color="#777777", lw=0.8, ls="--", zorder=1)
                if layer.bias_mode == "neuron" and (labelled or len(dst) <= 4):
                    _edge_label(ax, bias, target, t(_bias_text(trace, layer, r, show, digits)), 0.7)
    style = {"input": ("#e8f0fe", "#1f4e9c"), "neuron": ("#ffffff", "#202124"), "bias": ("#fef7e0", "#b06000")}
    for nodes in columns + biases:
        for node in nodes:
            face, edge = style[node.kind]
            ax.text(
                node.x,
                node.y,
                t(node.text),
                ha="center",
                va="center",
                fontsize=8,
                zorder=3,
                linespacing=1.25,
                bbox={
                    "boxstyle": "round,pad=0.45" if node.kind == "bias" else "circle,pad=0.5",
                    "facecolor": face,
                    "edgecolor": edge,
                    "linewidth": 1.2,
                },
            )
    # layer captions under each column
    low = min(node.y for nodes in columns + biases for node in nodes) - 1.1
    for index, nodes in enumerate(columns):
        caption = "inputs" if index == 0 else f"layer {index}: {s.layers[index - 1].activation}"
        ax.text(nodes[0].x, low, t(caption), ha="center", va="center", fontsize=8, color="#5f6368")
    xs = [node.x for nodes in columns for node in nodes]
    ys = [node.y for nodes in columns + biases for node in nodes]
    ax.set_xlim(min(xs) - 1.3, max(xs) + 1.3)
    ax.set_ylim(min(ys) - 1.5, max(ys) + 1.0)
    return fig


def _edge_label(ax: Any, a: _Node, b: _Node, text: str, at: float) -> None:
    """A label on the edge a→b, a fraction `at` of the way from a, turned along the edge."""
    x = a.x + at * (b.x - a.x)
    y = a.y + at * (b.y - a.y)
    angle = math.degrees(math.atan2(b.y - a.y, b.x - a.x))
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=6.5,
        rotation=angle,
        rotation_mode="anchor",
        zorder=4,
        linespacing=1.1,
        bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
    )


def _summary_figure(trace: Trace, show: str | None, sample: int, digits: int, ascii: bool) -> Any:
    """One box per layer (size, activation, biases, out range), arrows labelled with weight shapes."""
    import numpy as np

    s = trace.scenario
    t = to_ascii if ascii else (lambda text: text)
    boxes = [
        f"inputs\n{len(s.input_names)} values\n"
        f"range [{num(float(s.inputs[sample].min()), digits)}, {num(float(s.inputs[sample].max()), digits)}]"
    ]
    for layer, lt in zip(s.layers, trace.layers):
        out = lt.out[sample]
        if layer.bias_mode == "shared":
            bias = f"shared bias {layer.bias_names[0]}"
        else:
            bias = f"{layer.size} biases" if layer.bias_mode == "neuron" else "no biases"
        values = (
            f"out = {num(float(out[0]), digits)}"
            if layer.size == 1
            else f"out ∈ [{num(float(out.min()), digits)}, {num(float(out.max()), digits)}]"
        )
        boxes.append(f"layer {layer.index}\n{layer.size} × {layer.activation}\n{bias}\n{values}")
    arrows = []
    for layer, lt in zip(s.layers, trace.layers):
        rows, cols = layer.weights.shape
        text = f"W{layer.index}: {rows}×{cols}\n‖W{layer.index}‖ = {num(float(np.linalg.norm(layer.weights)), digits)}"
        if show == "grad":
            text += f"\n‖∂E/∂W{layer.index}‖ = {num(float(np.linalg.norm(lt.grad_weights)), digits)}"
        elif show == "update":
            change = float(np.linalg.norm(lt.new_weights - layer.weights))
            text += f"\n‖ΔW{layer.index}‖ = {num(change, digits)}"
        arrows.append(text)
    gap = 3.2
    fig = _new_figure(max(6.0, gap * len(boxes) + 0.5), 3.6)
    ax = fig.add_axes((0.0, 0.0, 1.0, 0.88))
    ax.set_axis_off()
    fig.suptitle(t(_title(trace, sample, show, summary=True)), fontsize=10)
    for k, text in enumerate(boxes):
        ax.text(
            k * gap,
            0,
            t(text),
            ha="center",
            va="center",
            fontsize=9,
            linespacing=1.3,
            bbox={"boxstyle": "round,pad=0.6", "facecolor": "#e8f0fe" if k == 0 else "white", "edgecolor": "#1f4e9c"},
        )
    for k, text in enumerate(arrows):
        ax.annotate(
            "",
            xy=(k * gap + gap - 1.05, 0),
            xytext=(k * gap + 1.05, 0),
            arrowprops={"arrowstyle": "-|>", "color": "#202124", "lw": 1.2},
        )
        ax.text(k * gap + gap / 2, 0.45, t(text), ha="center", va="bottom", fontsize=8, linespacing=1.2)
    ax.set_xlim(-1.5, gap * (len(boxes) - 1) + 1.5)
    ax.set_ylim(-1.6, 1.9)
    return fig


# ---------------------------------------------------------------------------------------------------
# The loss curve


def loss_curve_figure(history: list[float], title: str = "", ascii: bool = False) -> Any:
    """E_k against the epoch k, y on a log scale (a linear one if some E_k <= 0)."""
    t = to_ascii if ascii else (lambda text: text)
    fig = _new_figure(7.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    epochs = list(range(len(history)))
    ax.plot(epochs, history, color="#1f4e9c", lw=1.4)
    if all(e > 0 for e in history):
        ax.set_yscale("log")
    ax.set_xlabel("epoch k")
    ax.set_ylabel(t("E_k (loss over all samples)"))
    ax.set_title(t(title or "loss curve"), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if history:
        ax.annotate(
            t(f"E_{len(history) - 1} = {num(history[-1], 6)}"),
            xy=(epochs[-1], history[-1]),
            xytext=(-10, 12),
            textcoords="offset points",
            ha="right",
            fontsize=8,
        )
    fig.tight_layout()
    return fig


def draw_loss_curve(history: list[float], path: str, title: str = "", ascii: bool = False) -> None:
    """Write the loss curve to `path` (.svg or .png)."""
    check_suffix(path)
    require_matplotlib()
    save(loss_curve_figure(history, title, ascii), path)
