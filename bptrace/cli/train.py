"""`bptrace train` (many epochs, the loss curve) and `bptrace diagram` (the network as a picture).

Both import their heavy libraries only when they run: numpy through the core, plotext for the terminal
chart, matplotlib only when a picture is written (--plot, diagram).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from bptrace.cli.common import (
    ascii_option,
    digits_option,
    force_option,
    load_scenario,
    prepare_output,
    print_renderable,
    write_output,
)
from bptrace.errors import BptraceError
from bptrace.fmt import num, to_ascii
from bptrace.i18n import N_, _, ngettext
from bptrace.output import distinct, streaming

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from bptrace.engine.train import TrainingResult

PROGRESS_AFTER_SECONDS = 0.5  # show a progress bar when a run is expected to take longer than this
CHART_WIDTH = 100  # at most this many columns for the terminal chart
CHART_HEIGHT = 16
CHART_POINTS = 2000  # the terminal chart plots at most this many points of the curve
SNAPSHOT_COLUMNS = 6  # parameters shown in the snapshot table
KEEP_ALL_EPOCHS = 1_000_000  # up to this many epochs the whole loss curve is kept (about 32 MB); beyond, it is
KEEP_POINTS = 2 * CHART_POINTS  # thinned to this many points (the chart's), and --csv streams every one
MAX_SNAPSHOTS = 100_000  # --every K: at most this many snapshots
LONG_RUN_SECONDS = 60.0  # a run expected to take longer is announced with its estimate


# ---------------------------------------------------------------------------------------------------
# train


@click.command()
@click.argument("scenario", required=False)
@click.option(
    "--epochs",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Epochs to run; one epoch is one pass over all samples.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    help="Samples per update (default: all, one update per epoch); 1 is stochastic gradient descent.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the mini-batch shuffle.")
@click.option("--every", type=click.IntRange(1), metavar="K", help="Add a table of snapshots every K epochs.")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the loss curve as a picture (.png or .svg; needs matplotlib).",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Write the loss curve as data: epoch,loss (E_0 ... E_N).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["terminal", "json"]),
    default="terminal",
    show_default=True,
    help="terminal: tables and a chart; json: {epochs, history, parameters}.",
)
@click.option(
    "--engine",
    "engine_",
    type=click.Choice(["auto", "scalar", "numpy"]),
    default="auto",
    show_default=True,
    help="The implementation: a Python kernel generated for small networks, numpy for large ones.",
)
@click.option(
    "--rows",
    type=click.IntRange(1),
    default=60,
    show_default=True,
    help="At most this many rows per table (a note says what was cut).",
)
@digits_option
@ascii_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@force_option
def train(
    scenario: str | None,
    epochs: int,
    batch_size: int | None,
    seed: int,
    every: int | None,
    plot_path: str | None,
    csv_path: str | None,
    fmt: str,
    engine_: str,
    rows: int,
    digits: int,
    ascii_: bool,
    output: str | None,
    force: bool,
) -> None:
    """Train SCENARIO for many epochs and show the loss curve and the parameters before and after.

    No per-step trace is kept (a fast path): history[k] is the loss over all samples after k epochs.

    \b
    Example:
        bptrace train scenarios/mazur.yaml --epochs 10000
        bptrace train ng_shallow --epochs 2000 --batch-size 1 --seed 7 --every 500
        bptrace train mazur --epochs 10000 --plot loss.png --csv history.csv
        bptrace train mazur --epochs 10000 --format json > history.json
    """
    from bptrace.engine.train import estimate_seconds
    from bptrace.engine.train import train as run_training

    # every output is checked before a long run, not after it
    target = prepare_output(output, force, inputs=[scenario])
    csv_target = prepare_output(csv_path, force, inputs=[scenario], option="--csv") if csv_path else None
    plot_target = None
    if plot_path:
        from bptrace.render.diagram import check_suffix, require_matplotlib

        check_suffix(plot_path)
        require_matplotlib()
        plot_target = prepare_output(plot_path, force, inputs=[scenario], option="--plot")
    distinct(target, csv_target, plot_target)
    if fmt == "json" and epochs > KEEP_ALL_EPOCHS:
        raise BptraceError(
            _("--format json holds every epoch's loss; {epochs} epochs are more than {limit}").format(
                epochs=f"{epochs:,}", limit=f"{KEEP_ALL_EPOCHS:,}"
            ),
            hint=_("use --csv FILE, which is written as the run goes, with the terminal view"),
        )
    if every is not None and epochs // every > MAX_SNAPSHOTS:
        raise BptraceError(
            _("--every {every} over {epochs} epochs would keep {n} snapshots (at most {limit})").format(
                every=every, epochs=f"{epochs:,}", n=f"{epochs // every:,}", limit=f"{MAX_SNAPSHOTS:,}"
            ),
            hint=_("use --every {k} or more").format(k=f"{-(-epochs // MAX_SNAPSHOTS):,}"),
        )
    s = load_scenario(scenario)
    expected = estimate_seconds(s, epochs, batch_size, engine_)
    if expected > LONG_RUN_SECONDS:
        click.echo(
            "bptrace: "
            + _("{epochs} epochs will take about {duration} (an estimate; Ctrl-C stops)").format(
                epochs=f"{epochs:,}", duration=_duration(expected)
            ),
            err=True,
        )
    keep = KEEP_POINTS if epochs > KEEP_ALL_EPOCHS else None
    with contextlib.ExitStack() as stack:
        sink = None
        if csv_target:  # streamed as the run goes: a billion epochs never sit in memory
            write = stack.enter_context(streaming(csv_target))
            write("epoch,loss\n")

            def sink(first: int, losses: list[float]) -> None:
                write("".join(f"{first + i},{e!r}\n" for i, e in enumerate(losses)))

        with _progress(epochs, expected) as tick:
            result = run_training(
                s,
                epochs,
                batch_size=batch_size,
                seed=seed,
                every=every,
                path=engine_,
                progress=tick,
                keep=keep,
                sink=sink,
            )
    notes = []
    if keep is not None:
        notes.append(
            _("the loss curve shown keeps {kept} of the {total} values E_0..E_{epochs}").format(
                kept=f"{len(result.history):,}", total=f"{epochs + 1:,}", epochs=epochs
            )
        )
    if csv_target:
        notes.append(_("wrote {file} (epoch,loss for epochs 0..{epochs})").format(file=csv_path, epochs=epochs))
    if plot_target:
        from bptrace.render.diagram import draw_loss_curve

        draw_loss_curve(
            result.history,
            plot_target,
            epochs=result.history_epochs,
            title=_("{title}: loss over {epochs} epochs").format(title=s.display_title(), epochs=epochs),
            ascii=ascii_,
        )
        notes.append(_("wrote {file}").format(file=plot_path))
    if fmt == "json":
        write_output(training_json(result), target)
        for note in notes:
            click.echo(f"bptrace: {note}", err=True)
        return
    print_renderable(TrainingView(result, digits=digits, rows=rows, ascii=ascii_, notes=notes), ascii_, target)


@contextmanager
def _progress(epochs: int, expected: float) -> Iterator[Any]:
    """A rich progress bar on stderr for long runs when stderr is a terminal; yields the callback or None."""
    if expected < PROGRESS_AFTER_SECONDS or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn(_("training")),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(_("epochs")),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(_("training"), total=epochs)
        yield lambda done: bar.update(task, completed=done)


def _duration(seconds: float) -> str:
    """3725 -> '1 h 2 min'; 95 -> '2 min'; 12 -> '12 s'."""
    if seconds >= 3600:
        return _("{hours} h {minutes} min").format(hours=f"{int(seconds // 3600):,}", minutes=int(seconds % 3600 // 60))
    if seconds >= 60:
        return _("{minutes} min").format(minutes=round(seconds / 60))
    return _("{seconds} s").format(seconds=f"{seconds:.0f}")


def history_csv(history: list[float]) -> str:
    """epoch,loss lines for E_0..E_N; floats as their shortest exact repr."""
    # numbers only: no cell can start a spreadsheet formula (fmt.csv_cell is for text from files)
    return "epoch,loss\n" + "".join(f"{k},{e!r}\n" for k, e in enumerate(history))


def training_data(result: TrainingResult) -> dict[str, Any]:
    """{"epochs", "history", "parameters"}: see docs/training.md."""
    return {
        "epochs": result.epochs,
        "history": [float(e) for e in result.history],
        "parameters": [
            {"name": p.name, "kind": p.kind, "layer": p.layer, "row": p.row, "col": p.col, "initial": a, "final": b}
            for p, a, b in result.parameters()
        ],
    }


def training_json(result: TrainingResult) -> str:
    import json

    return json.dumps(training_data(result), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


class TrainingView:
    """The terminal report of a training run: summary, loss chart, snapshots, parameters, outputs."""

    def __init__(
        self,
        result: TrainingResult,
        digits: int = 9,
        rows: int = 60,
        ascii: bool = False,
        notes: list[str] | None = None,
    ) -> None:
        self.r = result
        self.digits = digits
        self.rows = rows
        self.ascii = ascii
        self.notes = notes or []

    def t(self, text: str) -> str:
        return to_ascii(text) if self.ascii else text

    def n(self, x: float) -> str:
        return num(x, self.digits)

    def table(self, title: str, headers: list[tuple[str, bool]]) -> Any:
        """A table laid out for the terminal's width by render/terminal.py (numbers never wrap)."""
        from bptrace.render.layout import Column, Grid

        kinds = {True: "num", False: "name"}
        return Grid(title, [Column(h, kinds[numeric] if h else "text") for h, numeric in headers])

    def add(self, table: Any, *cells: str) -> None:
        table.rows.append(list(cells))

    def cut(self, table: Any, total: int, what: str) -> None:
        """A caption saying what was cut; `what` is a marked plural noun (N_("parameters"))."""
        if total > self.rows:
            table.caption = _("… {n} more {what} not shown (use --rows N or --format json)").format(
                n=total - self.rows, what=_(what)
            )

    def view(self, table: Any) -> Any:
        from bptrace.render.terminal import GridView

        return GridView(table, self.ascii)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        from bptrace.render.ascii_net import network_sketch
        from bptrace.render.terminal import prose

        r, s = self.r, self.r.initial
        yield prose(self.t(s.display_title()), "bold")
        yield Text(network_sketch(s, ascii=self.ascii))
        yield Text("")
        if r.full_batch:
            how = _("full batch (one update per epoch)")
        elif r.batch_size == 1:
            how = _("stochastic gradient descent (batch size 1, shuffled with seed {seed})").format(seed=r.seed)
        else:
            how = _("mini-batches of {size} (shuffled with seed {seed})").format(size=r.batch_size, seed=r.seed)
        trained = ngettext("trained {n} epoch", "trained {n} epochs", r.epochs).format(n=r.epochs)
        on = ngettext("on {m} sample", "on {m} samples", s.samples).format(m=s.samples)
        over = _("mean over samples") if s.reduction == "mean" else _("sum over samples")
        yield prose(
            self.t(
                _(
                    "{trained} {on}: {how}; {updates} updates; η = {eta}; loss {loss} ({reduction}); {engine} "
                    "engine, {seconds} s"
                ).format(
                    trained=trained,
                    on=on,
                    how=how,
                    updates=r.updates,
                    eta=self.n(s.learning_rate),
                    loss=s.loss,
                    reduction=over,
                    engine=r.path,
                    seconds=f"{r.seconds:.3g}",
                )
            )
        )
        points = r.curve()
        loss = dict(points[:2])
        line = _("E_0 = {value} (before training)").format(value=self.n(loss[0]))
        if r.epochs > 1:
            line += f", E_1 = {self.n(loss[1])}"
        if r.epochs > 0:
            line += f", E_{r.epochs} = {self.n(points[-1][1])}"
        yield prose(self.t(line))
        if s.parameter_count() and not s.update_biases and any(layer.bias_mode != "none" for layer in s.layers):
            yield prose(self.t(_("biases are not updated (update_biases: false)")), "dim")
        yield Text("")
        if r.epochs > 0:
            width = max(40, min(CHART_WIDTH, options.max_width))
            yield Text(loss_chart(r.history, width=width, ascii=self.ascii, epochs=r.history_epochs))
            yield Text("")
        if r.snapshots:
            yield self.view(self.snapshot_table())
        yield self.view(self.parameter_table())
        yield self.view(self.output_table())
        for note in self.notes:
            yield prose(self.t(note), "dim")

    def snapshot_table(self) -> Any:
        r = self.r
        params = r.initial.parameters()
        # the parameters that change (frozen biases stay put), the first SNAPSHOT_COLUMNS of them
        trained = [k for k, p in enumerate(params) if p.kind == "weight" or r.initial.update_biases]
        shown = trained[:SNAPSHOT_COLUMNS] if r.snapshots[0].values is not None else []
        title = _("Snapshots")
        if len(shown) < len(params):
            title = (
                _("Snapshots (first {n} of {total} trained parameters)").format(n=len(shown), total=len(trained))
                if shown
                else _("Snapshots (loss only: large network)")
            )
        table = self.table(title, [(_("epoch"), True), ("E", True)] + [(params[k].name, True) for k in shown])
        for snap in r.snapshots[: self.rows]:
            values = [self.n(snap.values[k]) for k in shown] if snap.values is not None else []
            self.add(table, str(snap.epoch), self.n(snap.loss), *values)
        self.cut(table, len(r.snapshots), N_("snapshots"))
        return table

    def parameter_table(self) -> Any:
        r = self.r
        rows = r.parameters()
        frozen = not r.initial.update_biases and any(p.kind == "bias" for p, _, _ in rows)
        table = self.table(
            _("Parameters"),
            [(_("parameter"), False), (_("initial"), True), (_("final"), True), (_("change"), True)]
            + ([("", False)] if frozen else []),
        )
        for p, a, b in rows[: self.rows]:
            note = [_("not updated") if p.kind == "bias" else ""] if frozen else []
            self.add(table, p.name, self.n(a), self.n(b), self.n(b - a), *note)
        self.cut(table, len(rows), N_("parameters"))
        return table

    def output_table(self) -> Any:
        r, s = self.r, self.r.initial
        before, after = r.initial_outputs(), r.outputs()
        many = s.samples > 1
        if s.objective.scores:  # one score per window: the hinge's table
            return self.score_table(before, after)
        headers = ([(_("sample"), True)] if many else []) + [
            (_("output"), False),
            (_("target"), True),
            (_("out before"), True),
            (_("out after"), True),
        ]
        table = self.table(_("Outputs vs targets"), headers)
        cells = [(i, j) for i in range(s.samples) for j in range(s.output_layer.size)]
        for i, j in cells[: self.rows]:
            self.add(
                table,
                *([str(i + 1)] if many else []),
                s.output_layer.neurons[j],
                self.n(s.targets[i, j]),
                self.n(before[i, j]),
                self.n(after[i, j]),
            )
        self.cut(table, len(cells), N_("outputs"))
        return table

    def score_table(self, before: Any, after: Any) -> Any:
        """max_margin: the scores of each window and its corrupt window, and J = max(0, Δ + s_c − s)."""
        s = self.r.initial
        m, margin = s.samples, s.margin
        table = self.table(
            _("Scores (J = max(0, Δ + s_c − s), Δ = {margin})").format(margin=self.n(margin)),
            [
                (_("sample"), True),
                (_("s before"), True),
                (_("s_c before"), True),
                (_("J before"), True),
                (_("s after"), True),
                (_("s_c after"), True),
                (_("J after"), True),
            ],
        )
        for i in range(min(m, self.rows)):
            cells = []
            for out in (before, after):
                score, corrupt = (float(out[row, 0]) for row in s.objective.rows_of(i))
                cells += [self.n(score), self.n(corrupt), self.n(max(0.0, margin + corrupt - score))]
            self.add(table, str(i + 1), *cells)
        self.cut(table, m, N_("samples"))
        return table


_BOX_TO_ASCII = str.maketrans(
    {"┌": "+", "┐": "+", "└": "+", "┘": "+", "─": "-", "│": "|", "┤": "+", "├": "+", "┬": "+", "┴": "+", "┼": "+"}
)


def loss_chart(
    history: list[float],
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    ascii: bool = False,
    epochs: list[int] | None = None,
) -> str:
    """The loss curve as a terminal chart (plotext; log-scale y), or a short text note without plotext.

    `epochs[i]` is the epoch of history[i] when the curve was thinned (TrainingResult.history_epochs)."""
    points = _decimate(history, CHART_POINTS)
    if epochs is not None:
        points = [(epochs[k], e) for k, e in points]
    # a log scale needs positive values that actually vary (a flat curve has no decades to show)
    log = all(e > 0 for e in history) and max(history) > min(history)
    try:
        text = _plotext_chart(points, width, height, log, ascii)
    except ImportError:  # plotext missing: the numbers are printed anyway
        return _("(install plotext for a chart of the loss curve)")
    return text.translate(_BOX_TO_ASCII) if ascii else text


def _decimate(history: list[float], limit: int) -> list[tuple[int, float]]:
    """At most `limit` (epoch, E) points, evenly spaced, always including the first and the last."""
    n = len(history)
    if n <= limit:
        return list(enumerate(history))
    step = (n - 1) / (limit - 1)
    picked = sorted({round(k * step) for k in range(limit)} | {n - 1})
    return [(k, history[k]) for k in picked]


def _plotext_chart(points: list[tuple[int, float]], width: int, height: int, log: bool, ascii: bool) -> str:
    import plotext

    xs = [float(k) for k, _ in points]
    ys = [e for _, e in points]
    title = _("loss E_k after k epochs (log scale)") if log else _("loss E_k after k epochs")
    marker = "*" if ascii else "braille"
    if hasattr(plotext, "figure") and hasattr(plotext.figure, "signal"):  # plotext >= 6
        f = plotext.figure
        f.clear()
        f.draw(f.signal(xs, ys, marker=marker))
        if log:
            f.ruler("y").scale("log")
        f.ruler("x").ticks(*_epoch_ticks(int(xs[-1])))
        f.plot_size(width, height)
        f.title(title)
        f.label(_("epoch"), axis="x")
        text = f.build().string(colorless=True)
        f.clear()
        return str(text)
    plotext.clear_figure()  # plotext 5
    plotext.plot(xs, ys, marker=marker)
    if log:
        plotext.yscale("log")
    plotext.xticks(*_epoch_ticks(int(xs[-1])))
    plotext.plotsize(width, height)
    plotext.theme("clear")
    plotext.title(title)
    plotext.xlabel(_("epoch"))
    text = plotext.build()
    plotext.clear_figure()
    return str(plotext.uncolorize(text))


def _epoch_ticks(last: int) -> tuple[list[float], list[str]]:
    """About five round epoch numbers from 0 to `last`."""
    if last <= 0:
        return [0.0], ["0"]
    raw = last / 5
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = list(range(0, last + 1, max(1, step)))
    return [float(v) for v in ticks], [f"{v:,}".replace(",", " ") if v >= 10000 else str(v) for v in ticks]


# ---------------------------------------------------------------------------------------------------
# diagram


@click.command()
@click.argument("scenario", required=False)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="The picture to write: FILE.svg (labels stay text) or FILE.png.",
)
@click.option(
    "--show",
    type=click.Choice(["all", "weights", "grad", "update"]),
    help="all (default): net and out on the nodes; weights: only the weights, inputs and targets (a handout "
    "that gives no forward pass away); grad: add each ∂E/∂w and δ; update: each weight after one step.",
)
@click.option(
    "--sample",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="The sample whose net and out label the nodes.",
)
@click.option(
    "--style",
    type=click.Choice(["auto", "detailed", "summary"]),
    default="auto",
    show_default=True,
    help="detailed: every neuron and weight; summary: one box per layer (auto: by size).",
)
@click.option(
    "--digits", type=click.IntRange(1, 17), default=4, show_default=True, help="Significant digits of the labels."
)
@ascii_option
@force_option
def diagram(
    scenario: str | None,
    output: str,
    show: str | None,
    sample: int,
    style: str,
    digits: int,
    ascii_: bool,
    force: bool,
) -> None:
    """Draw SCENARIO's network as in Mazur's figure: nodes with net/out, edges with weights.

    Networks of more than a few dozen neurons are drawn summarised (one box per layer, the weight-matrix
    shapes on the arrows).

    \b
    Example:
        bptrace diagram scenarios/mazur.yaml -o mazur.svg
        bptrace diagram mazur --show update -o mazur_update.png
    """
    from bptrace.cli import graph as cli_graph
    from bptrace.engine.step import trace as make_trace
    from bptrace.render.diagram import check_suffix, draw_network, require_matplotlib

    check_suffix(output)
    require_matplotlib()
    target = prepare_output(output, force, inputs=[scenario])
    graph = cli_graph.graph_scenario(scenario)
    if graph is not None:  # kind: graph: the circuit, values above the edges and gradients below
        cli_graph.diagram(graph, output, digits, ascii_)
        return
    s = load_scenario(scenario)
    draw_network(make_trace(s), target, show=show, sample=sample - 1, digits=digits, style=style, ascii=ascii_)
    click.echo("bptrace: " + _("wrote {file}").format(file=output), err=True)


COMMANDS = [train, diagram]
