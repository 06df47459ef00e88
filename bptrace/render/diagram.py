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

from bptrace import output
from bptrace.errors import BptraceError
from bptrace.fmt import num, to_ascii
from bptrace.i18n import _, ngettext
from bptrace.output import Target

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Layer, Scenario

SUFFIXES = (".svg", ".png")
SHOW = ("all", "weights", "grad", "update")  # None is "all": net and out on the nodes
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
            _("cannot tell the picture format of {path!r} from its suffix").format(path=path),
            hint=_("name the file .svg or .png"),
        )
    return suffix[1:]


def require_matplotlib() -> None:
    """Fail with a one-line message (exit 2) when matplotlib is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise BptraceError(
            _("drawing needs matplotlib, which is not installed"), hint=_("pip install matplotlib")
        ) from None


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

    fonts = chinese_fonts()
    if fonts:  # Chinese labels: a font that has their glyphs after matplotlib's own (which has the symbols)
        _SAVED_FONTS.setdefault("font.family", matplotlib.rcParams["font.family"])
        matplotlib.rcParams["font.family"] = ["DejaVu Sans", *fonts]  # a list of names: glyph by glyph fallback
    elif "font.family" in _SAVED_FONTS:  # English again in the same process: the fonts as they were
        matplotlib.rcParams["font.family"] = _SAVED_FONTS.pop("font.family")
    return Figure(figsize=(width, height))


_SAVED_FONTS: dict[str, Any] = {}  # the font settings a Chinese figure replaced


# Fonts with Simplified Chinese glyphs, in order of preference, that matplotlib may find on a system
CHINESE_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "AR PL UMing CN",
    "AR PL SungtiL GB",
    "AR PL KaitiM GB",
    "Droid Sans Fallback",
)


def chinese_fonts() -> list[str]:
    """Where bptrace speaks Chinese: the installed fonts of CHINESE_FONTS (the first is the one used), else []
    (in English, or where none is installed: matplotlib's default; its SVG keeps the labels as text anyway)."""
    from bptrace import i18n

    if i18n.language() == "en":
        return []
    return installed_chinese_fonts()


def installed_chinese_fonts() -> list[str]:
    """The installed fonts of CHINESE_FONTS, in that order (also for a Chinese title under --lang en)."""
    from matplotlib import font_manager

    installed = {font.name for font in font_manager.fontManager.ttflist}
    found = [name for name in CHINESE_FONTS if name in installed]
    if not found:  # matplotlib's font cache may predate the Chinese fonts: ask fontconfig for them
        for path in _fontconfig_chinese_files():
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
        installed = {font.name for font in font_manager.fontManager.ttflist}
        found = [name for name in CHINESE_FONTS if name in installed]
    return found


def _fontconfig_chinese_files() -> list[str]:
    """The font files fontconfig (fc-list) knows with Chinese glyphs, if it is installed; else []."""
    import shutil
    import subprocess

    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    try:
        done = subprocess.run([fc_list, ":lang=zh", "file"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return []
    files = [line.strip().rstrip(":") for line in done.stdout.splitlines() if line.strip()]
    return sorted(f for f in files if f.lower().endswith((".ttf", ".otf", ".ttc")))


def save(fig: Any, path: str | Target) -> None:
    """Write the figure as SVG or PNG according to the suffix of `path`, through bptrace.output's
    atomic writer (a Target from output.prepare; a plain path is replaced if it exists)."""
    import io

    import matplotlib

    target = path if isinstance(path, Target) else output.prepare(path, force=True)
    fmt = check_suffix(target.spelled)
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "bptrace"}):
        fig.savefig(
            buffer, format=fmt, dpi=150 if fmt == "png" else None, metadata={"Date": None} if fmt == "svg" else None
        )
    output.write(target, buffer.getvalue())


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
        raise BptraceError(
            _("unknown --show {show!r}").format(show=show),
            hint=_("choose one of {choices}").format(choices=", ".join(SHOW)),
        )
    if style not in STYLES:
        raise BptraceError(
            _("unknown drawing style {style!r}").format(style=style),
            hint=_("choose one of {choices}").format(choices=", ".join(STYLES)),
        )
    s = trace.scenario
    if not 0 <= sample < s.samples:
        raise BptraceError(
            ngettext(
                "--sample {k}: the scenario has {m} sample", "--sample {k}: the scenario has {m} samples", s.samples
            ).format(k=sample + 1, m=s.samples),
            hint=_("choose 1..{m}").format(m=s.samples),
        )
    if style == "summary" or (style == "auto" and summarised(s)):
        return _summary_figure(trace, show, sample, digits, ascii)
    return _detailed_figure(trace, show, sample, digits, ascii)


def draw_network(trace: Trace, path: str | Target, **options: Any) -> None:
    """Draw the network of `trace` into `path` (.svg or .png); options as for network_figure."""
    check_suffix(path.spelled if isinstance(path, Target) else path)
    require_matplotlib()
    save(network_figure(trace, **options), path)


def _title(trace: Trace, sample: int, show: str | None, summary: bool = False) -> str:
    s = trace.scenario
    parts = [s.display_title()]
    if s.samples > 1:
        parts.append(_("sample {k} of {m}").format(k=sample + 1, m=s.samples))
    if summary:
        parts.append(_("{n} parameters, one box per layer").format(n=s.parameter_count()))
    else:
        parts.append(
            {
                None: _("edges: weights"),
                "all": _("edges: weights"),
                "weights": _("the weights and inputs (for a handout)"),
                "grad": _("edges: weight, ∂E/∂w"),
                "update": _("edges: weight → updated weight"),
            }[show]
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
        text += f" → {num(lt.new_biases[k], digits)}" if trace.scenario.update_biases else " " + _("(not updated)")
    return text


def _detailed_figure(trace: Trace, show: str | None, sample: int, digits: int, ascii: bool) -> Any:
    """Every input, neuron and bias a node (equal circles); every weight an edge whose label sits where it
    meets no other edge, node or label; the targets beside the outputs; a legend under the drawing.

    Where some label finds no free spot, the drawing is laid out again with the nodes further apart."""
    spread = 1.0
    for _attempt in range(5):
        fig, crowded = _detailed_layout(trace, show, sample, digits, ascii, spread)
        if not crowded:
            break
        spread *= 1.3
    return fig


def _detailed_layout(
    trace: Trace, show: str | None, sample: int, digits: int, ascii: bool, spread: float
) -> tuple[Any, int]:
    """The detailed drawing with the nodes `spread` times the usual distance apart, and how many labels
    found no spot free of other edges, nodes and labels."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Circle

    s = trace.scenario
    t = to_ascii if ascii else (lambda text: text)
    gap = 3.6 * spread  # horizontal distance between columns (data units ≈ inches / 1.3)
    step = 1.7 * spread  # vertical distance between nodes of a column
    columns: list[list[_Node]] = []
    biases: list[list[_Node]] = []  # biases[l]: the bias nodes feeding layer l + 1, drawn in column l
    values = show != "weights"  # a handout (--show weights) gives no forward pass away
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
                text = name
                if values:
                    text += f"\nnet {num(lt.net[sample, r], digits)}\nout {num(lt.out[sample, r], digits)}"
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
    every = [node for nodes in columns + biases for node in nodes]

    n_rows = max(len(c) + len(b) for c, b in zip(columns, biases))
    width = max(6.5, 1.3 * gap * len(s.layers) + 3.4)
    height = max(3.8, 1.3 * step * n_rows + 1.8)
    fig = _new_figure(width, height)
    ax = fig.add_axes((0.0, 0.1, 1.0, 0.83))
    ax.set_axis_off()
    ax.set_aspect("equal")
    fig.suptitle(t(_title(trace, sample, show)), fontsize=10)
    ax.set_xlim(min(n.x for n in every) - 1.3, max(n.x for n in every) + 2.4)
    ax.set_ylim(min(n.y for n in every) - 1.5, max(n.y for n in every) + 1.0)
    ax.apply_aspect()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()  # text is measured to place labels where they fit

    style = {"input": ("#e8f0fe", "#1f4e9c"), "neuron": ("#ffffff", "#202124"), "bias": ("#fef7e0", "#b06000")}
    texts = [
        ax.text(n.x, n.y, t(n.text), ha="center", va="center", fontsize=8, zorder=3, linespacing=1.25) for n in every
    ]
    # one radius for every circle: the smallest that holds the largest label
    to_data = ax.transData.inverted()
    radius = 0.42
    for text, node in zip(texts, every):
        if node.kind != "bias":
            e = text.get_window_extent(renderer)
            (x0, y0), (x1, y1) = to_data.transform([(e.x0, e.y0), (e.x1, e.y1)])
            radius = max(radius, 0.5 * math.hypot(x1 - x0, y1 - y0) + 0.08)
    obstacles: list[_Box] = []  # display boxes no label may cover
    for text, node in zip(texts, every):
        face, rim = style[node.kind]
        if node.kind == "bias":
            text.set_bbox({"boxstyle": "round,pad=0.45", "facecolor": face, "edgecolor": rim, "linewidth": 1.2})
            text.set_gid(f"bias-{len(obstacles)}")
            e = text.get_window_extent(renderer).padded(6)
            obstacles.append((e.x0, e.y0, e.x1, e.y1))
        else:
            circle = Circle((node.x, node.y), radius, facecolor=face, edgecolor=rim, linewidth=1.2, zorder=2)
            circle.set_gid(f"node-{node.text.split(chr(10))[0]}")
            ax.add_patch(circle)
            (cx0, cy0), (cx1, cy1) = ax.transData.transform(
                [(node.x - radius, node.y - radius), (node.x + radius, node.y + radius)]
            )
            obstacles.append((cx0, cy0, cx1, cy1))
    if s.objective.targets:  # the targets beside the outputs: given data, on the handout too
        for r, node in enumerate(columns[-1]):
            label = ax.text(
                node.x + radius + 0.15,
                node.y,
                t(_("target {value}").format(value=num(s.targets[sample, r], digits))),
                ha="left",
                va="center",
                fontsize=8,
                color="#1d6b2c",
                zorder=3,
                gid=f"target-{node.text.splitlines()[0]}",
            )
            e = label.get_window_extent(renderer)
            obstacles.append((e.x0, e.y0, e.x1, e.y1))

    edges: list[_Edge] = []
    for index, layer in enumerate(s.layers, start=1):
        src, dst = columns[index - 1], columns[index]
        labelled = len(src) * len(dst) <= MAX_LABELLED_EDGES
        w_abs = max(float(abs(layer.weights).max()), 1e-300)
        for r, target in enumerate(dst):
            for c, source in enumerate(src):
                w = float(layer.weights[r, c])
                words = t(_edge_text(trace, layer, r, c, show, digits)) if labelled else None
                colour = "#1f4e9c" if w >= 0 else "#b3261e"
                edges.append(_Edge(layer.weight_name(r, c), source, target, colour, 0.6 + 1.6 * abs(w) / w_abs, words))
        for bias in biases[index - 1]:
            for r, target in enumerate(dst):
                words = None
                if layer.bias_mode == "neuron" and (labelled or len(dst) <= 4):
                    words = t(_bias_text(trace, layer, r, show, digits))
                edges.append(_Edge(f"{layer.bias_names[0]}-{r}", bias, target, "#777777", 0.8, words, dashed=True))
    segments: list[tuple[str, float, float, float, float]] = []
    for edge in edges:
        a, b = edge.source, edge.target
        # each edge runs from the rim of one circle to the rim of the other
        ux, uy = b.x - a.x, b.y - a.y
        length = math.hypot(ux, uy) or 1.0
        ra = 0.0 if a.kind == "bias" else radius
        start = (a.x + ux / length * ra, a.y + uy / length * ra)
        stop = (b.x - ux / length * radius, b.y - uy / length * radius)
        ax.plot(
            [start[0], stop[0]],
            [start[1], stop[1]],
            color=edge.colour,
            lw=edge.width,
            ls="--" if edge.dashed else "-",
            zorder=1,
            solid_capstyle="round",
            gid=f"edge-{edge.owner}",
        )
        (sx, sy), (ex, ey) = ax.transData.transform([start, stop])
        segments.append((edge.owner, sx, sy, ex, ey))
    crowded = 0
    for edge in edges:
        if edge.label is not None:
            box, meets = _place_label(ax, renderer, edge, segments, obstacles)
            obstacles.append(box)
            crowded += meets > 0

    handles = [
        Line2D([], [], color="#1f4e9c", lw=2, label=t(_("weight ≥ 0"))),
        Line2D([], [], color="#b3261e", lw=2, label=t(_("weight < 0"))),
        Line2D([], [], color="#777777", lw=0.8, ls="--", label=t(_("bias"))),
    ]
    legend = (
        _("line width ∝ |weight| · nodes: net and out of sample {k}")
        if values
        else _("line width ∝ |weight| · nodes: the names (inputs: their values) of sample {k}")
    )
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=3,
        fontsize=7.5,
        frameon=False,
        title=t(legend.format(k=sample + 1)),
        title_fontsize=7.5,
    )
    low = min(n.y for n in every) - 1.1  # layer captions under each column
    for index, nodes in enumerate(columns):
        caption = (
            _("inputs")
            if index == 0
            else _("layer {layer}: {activation}").format(layer=index, activation=s.layers[index - 1].activation)
        )
        ax.text(nodes[0].x, low, t(caption), ha="center", va="center", fontsize=8, color="#5f6368")
    return fig, crowded


_Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in display units


@dataclass
class _Edge:
    owner: str  # the weight's (or bias's) name: the SVG ids are edge-OWNER and label-OWNER
    source: _Node
    target: _Node
    colour: str
    width: float
    label: str | None
    dashed: bool = False


# fractions along an edge, tried in order: first near the source, where the edges out of a node fan apart
LABEL_SPOTS = tuple(round(0.2 + 0.04 * k, 2) for k in range(16)) + (0.16, 0.12)


def _place_label(
    ax: Any, renderer: Any, edge: _Edge, segments: list[tuple[str, float, float, float, float]], taken: list[_Box]
) -> tuple[_Box, int]:
    """Put an edge's label at the first spot along it where it meets no other edge, node or label (else at the
    spot with the fewest such meetings); returns the box it takes, in display units, and those meetings."""
    a, b = edge.source, edge.target
    best: tuple[int, Any, _Box] | None = None
    for at in LABEL_SPOTS:
        label = ax.text(
            a.x + at * (b.x - a.x),
            a.y + at * (b.y - a.y),
            edge.label,
            ha="center",
            va="center",
            fontsize=6.5,
            zorder=4,
            linespacing=1.1,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.95},
            gid=f"label-{edge.owner}",
        )
        e = label.get_window_extent(renderer).padded(2)
        box = (e.x0, e.y0, e.x1, e.y1)
        meets = sum(boxes_meet(box, other) for other in taken)
        meets += sum(segment_meets_box(seg[1:], box) for seg in segments if seg[0] != edge.owner)
        if best is None or meets < best[0]:
            if best is not None:
                best[1].remove()
            best = (meets, label, box)
        else:
            label.remove()
        if meets == 0:
            break
    assert best is not None
    return best[2], best[0]


def boxes_meet(p: _Box, q: _Box) -> bool:
    """Whether two boxes (x0, y0, x1, y1) overlap."""
    return p[0] < q[2] and q[0] < p[2] and p[1] < q[3] and q[1] < p[3]


def segment_meets_box(seg: tuple[float, float, float, float], box: _Box) -> bool:
    """Whether the segment (x1, y1, x2, y2) enters the box (x0, y0, x1, y1): Liang–Barsky clipping."""
    x1, y1, x2, y2 = seg
    dx, dy = x2 - x1, y2 - y1
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, x1 - box[0]), (dx, box[2] - x1), (-dy, y1 - box[1]), (dy, box[3] - y1)):
        if p == 0:
            if q < 0:
                return False
            continue
        r = q / p
        if p < 0:
            lo = max(lo, r)
        else:
            hi = min(hi, r)
        if lo > hi:
            return False
    return True


def _summary_figure(trace: Trace, show: str | None, sample: int, digits: int, ascii: bool) -> Any:
    """One box per layer (size, activation, biases, out range), arrows labelled with weight shapes."""
    import numpy as np

    s = trace.scenario
    t = to_ascii if ascii else (lambda text: text)
    boxes = [
        _("inputs\n{n} values\nrange [{low}, {high}]").format(
            n=len(s.input_names),
            low=num(float(s.inputs[sample].min()), digits),
            high=num(float(s.inputs[sample].max()), digits),
        )
    ]
    for layer, lt in zip(s.layers, trace.layers):
        out = lt.out[sample]
        if layer.bias_mode == "shared":
            bias = _("shared bias {name}").format(name=layer.bias_names[0])
        else:
            bias = _("{n} biases").format(n=layer.size) if layer.bias_mode == "neuron" else _("no biases")
        values = (
            f"out = {num(float(out[0]), digits)}"
            if layer.size == 1
            else f"out ∈ [{num(float(out.min()), digits)}, {num(float(out.max()), digits)}]"
        )
        boxes.append(
            _("layer {layer}").format(layer=layer.index) + f"\n{layer.size} × {layer.activation}\n{bias}\n{values}"
        )
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


def loss_curve_figure(
    history: list[float], title: str = "", ascii: bool = False, epochs: list[int] | None = None
) -> Any:
    """E_k against the epoch k, y on a log scale (a linear one if some E_k <= 0); `epochs[i]` is the epoch
    of history[i] when the curve was thinned (default: history[k] is E_k)."""
    t = to_ascii if ascii else (lambda text: text)
    fig = _new_figure(7.0, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    epochs = list(range(len(history))) if epochs is None else epochs
    label = t(f"E_{epochs[-1]} = {num(history[-1], 6)}") if history else None
    ax.plot(epochs, history, color="#1f4e9c", lw=1.4, label=label)
    if all(e > 0 for e in history):
        ax.set_yscale("log")
    ax.set_xlabel(_("epoch k"))
    ax.set_ylabel(t(_("E_k (loss over all samples)")))
    ax.set_title(t(title or _("loss curve")), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    if history:
        # the final loss in a legend that matplotlib places where it covers least of the curve ("best")
        ax.legend(loc="best", fontsize=8, handlelength=1.2)
    fig.tight_layout()
    return fig


def draw_loss_curve(
    history: list[float], path: str | Target, title: str = "", ascii: bool = False, epochs: list[int] | None = None
) -> None:
    """Write the loss curve to `path` (.svg or .png); epochs as for loss_curve_figure."""
    check_suffix(path.spelled if isinstance(path, Target) else path)
    require_matplotlib()
    save(loss_curve_figure(history, title, ascii, epochs), path)
