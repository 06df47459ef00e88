"""`bptrace train` (many epochs, the loss curve) and `bptrace diagram` (the network as a picture).

Both import their heavy libraries only when they run: numpy through the core (never on the scalar kernel's
path of a small network: the scenario is loaded with arrays=False), matplotlib only when a picture is
written (--plot, diagram). The terminal chart is bptrace's own (render/chart.py).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
from bptrace.i18n import _
from bptrace.output import distinct, streaming
from bptrace.render.training import CHART_POINTS, history_csv, loss_chart, training_data, training_json

__all__ = ["COMMANDS", "history_csv", "loss_chart", "training_data", "training_json"]  # the last four: render/training

PROGRESS_AFTER_SECONDS = 0.5  # show a progress bar when a run is expected to take longer than this
KEEP_ALL_EPOCHS = 1_000_000  # up to this many epochs the whole loss curve is kept (about 32 MB); beyond, it is
KEEP_POINTS = 2 * CHART_POINTS  # thinned to this many points (the chart's), and --csv streams every one
MAX_SNAPSHOTS = 100_000  # --every K: at most this many snapshots
LONG_RUN_SECONDS = 10.0  # a run expected to take longer is announced with its estimate, before it starts
MEASURE_AFTER_SECONDS = 0.05  # a run whose first guess is longer is timed on a short run (engine measure_seconds)


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
    type=click.Choice(["terminal", "json", "markdown", "latex", "html"]),
    default="terminal",
    show_default=True,
    help="terminal: tables and a chart; json: {epochs, history, parameters}; markdown, latex, html: a document "
    "(the loss curve as a table).",
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
    from bptrace.engine.train import estimate_seconds, measure_seconds
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
    # numpy-free: the scalar kernel's path never imports numpy; the numpy path converts (Scenario.with_arrays)
    s = load_scenario(scenario, arrays=False)
    keep = KEEP_POINTS if epochs > KEEP_ALL_EPOCHS else None
    expected = estimate_seconds(s, epochs, batch_size, engine_)
    if expected > MEASURE_AFTER_SECONDS:  # the first guess is rough: time a short run of the same work
        expected = measure_seconds(
            s, epochs, batch_size, seed=seed, path=engine_, keep=keep, sink=_formatting_only if csv_target else None
        )
    if expected > LONG_RUN_SECONDS:
        click.echo(
            "bptrace: "
            + _(
                "{epochs} epochs will take about {duration} (measured on a short run of this network); "
                "Ctrl-C stops the run"
            ).format(epochs=f"{epochs:,}", duration=_duration(expected)),
            err=True,
        )
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
    from bptrace.render.training import TrainingLayout, TrainingView

    if fmt == "terminal":
        print_renderable(TrainingView(result, digits=digits, rows=rows, ascii=ascii_, notes=notes), ascii_, target)
        return
    from bptrace.render.export import export

    layout = TrainingLayout(result, digits=digits, rows=rows, notes=notes)
    write_output(export(layout.blocks(), fmt, title=layout.title(), scan=True), target)


def _formatting_only(first: int, losses: list[float]) -> None:
    """The --csv sink's work without the file: measure_seconds times a run that formats every line."""
    "".join(f"{first + i},{e!r}\n" for i, e in enumerate(losses))


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
