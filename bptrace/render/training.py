"""A training run (engine/train.py's TrainingResult) -> blocks (render/blocks.py) and the terminal view.

The same pieces make every format: the summary paragraphs, the snapshots, the parameters and the outputs are
blocks; the loss curve is a text chart (render/chart.py) in the terminal (and in a notebook) and, in a
document (Markdown, LaTeX, HTML), a table of E_k at a few epochs. `training_data`/`training_json` are
`train --format json`. Displays only: every number is the TrainingResult's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bptrace.fmt import num, to_ascii
from bptrace.i18n import N_, _, ngettext
from bptrace.render.blocks import Block, Column, Grid, Para

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from bptrace.engine.train import TrainingResult

CHART_WIDTH = 100  # at most this many columns for the terminal chart
CHART_HEIGHT = 16
CHART_POINTS = 2000  # the terminal chart plots at most this many points of the curve
CURVE_ROWS = 11  # a document's table of the loss curve: about this many epochs (always E_0, E_1 and E_N)
SNAPSHOT_COLUMNS = 6  # parameters shown in the snapshot table


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


class TrainingLayout:
    """The blocks of a training run: summary, (loss curve), snapshots, parameters, outputs, notes."""

    def __init__(self, result: TrainingResult, digits: int = 9, rows: int = 60, notes: list[str] | None = None) -> None:
        self.r = result
        self.digits = digits
        self.rows = rows
        self.notes = notes or []

    def n(self, x: float) -> str:
        return num(x, self.digits)

    def title(self) -> str:
        return self.r.initial.display_title()

    def summary(self) -> list[Block]:
        """How it was trained, and E_0, E_1, E_N."""
        r, s = self.r, self.r.initial
        if r.full_batch:
            how = _("full batch (one update per epoch)")
        elif r.batch_size == 1:
            how = _("stochastic gradient descent (batch size 1, shuffled with seed {seed})").format(seed=r.seed)
        else:
            how = _("mini-batches of {size} (shuffled with seed {seed})").format(size=r.batch_size, seed=r.seed)
        trained = ngettext("trained {n} epoch", "trained {n} epochs", r.epochs).format(n=r.epochs)
        on = ngettext("on {m} sample", "on {m} samples", s.samples).format(m=s.samples)
        over = _("mean over samples") if s.reduction == "mean" else _("sum over samples")
        updates = ngettext("{n} update", "{n} updates", r.updates).format(n=r.updates)
        said = _(
            "{trained} {on}: {how}; {updates}; η = {eta}; loss {loss} ({reduction}); {engine} engine, {seconds} s"
        ).format(
            trained=trained,
            on=on,
            how=how,
            updates=updates,
            eta=self.n(s.learning_rate),
            loss=s.loss,
            reduction=over,
            engine=r.path,
            seconds=f"{r.seconds:.3g}",
        )
        points = r.curve()
        loss = dict(points[:2])
        line = _("E_0 = {value} (before training)").format(value=self.n(loss[0]))
        if r.epochs > 1:
            line += f", E_1 = {self.n(loss[1])}"
        if r.epochs > 0:
            line += f", E_{r.epochs} = {self.n(points[-1][1])}"
        out: list[Block] = [Para(said), Para(line)]
        if s.parameter_count() and not s.update_biases and any(layer.bias_mode != "none" for layer in s.layers):
            out.append(Para(_("biases are not updated (update_biases: false)"), "dim"))
        return out

    def tables(self) -> list[Block]:
        out: list[Block] = []
        if self.r.snapshots:
            out.append(self.snapshot_table())
        return out + [self.parameter_table(), self.output_table()]

    def note_blocks(self) -> list[Block]:
        return [Para(note, "dim") for note in self.notes]

    def blocks(self) -> list[Block]:
        """A document's blocks: the title, the summary, the loss curve as a table, the tables, the notes."""
        curve = [self.curve_table()] if self.r.epochs > 0 else []
        return [Para(self.title(), "title"), *self.summary(), *curve, *self.tables(), *self.note_blocks()]

    # ---- the tables ----
    def table(self, title: str, headers: list[tuple[str, bool]]) -> Grid:
        kinds = {True: "num", False: "name"}
        return Grid(title, [Column(h, kinds[numeric] if h else "text") for h, numeric in headers])

    def cut(self, table: Grid, total: int, what: str) -> None:
        """A caption saying what was cut; `what` is a marked plural noun (N_("parameters"))."""
        if total > self.rows:
            table.caption = _("… {n} more {what} not shown (use --rows N or --format json)").format(
                n=total - self.rows, what=_(what)
            )

    def curve_table(self) -> Grid:
        """The loss curve at about CURVE_ROWS epochs, evenly spaced, always E_0, E_1 and E_N (a document's chart)."""
        points = self.r.curve()
        picked = sorted({k for k, _e in _decimate([e for _k, e in points], CURVE_ROWS)} | {0, min(1, len(points) - 1)})
        table = self.table(_("Loss curve (E_k after k epochs)"), [(_("epoch"), True), ("E", True)])
        for k in picked:
            table.rows.append([str(points[k][0]), self.n(points[k][1])])
        return table

    def snapshot_table(self) -> Grid:
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
            table.rows.append([str(snap.epoch), self.n(snap.loss), *values])
        self.cut(table, len(r.snapshots), N_("snapshots"))
        return table

    def parameter_table(self) -> Grid:
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
            table.rows.append([p.name, self.n(a), self.n(b), self.n(b - a), *note])
        self.cut(table, len(rows), N_("parameters"))
        return table

    def output_table(self) -> Grid:
        """The objective's table (Objective.table): the outputs against their targets, or the scores."""
        r, s = self.r, self.r.initial
        tables = {"loss terms": self.target_table, "scores": self.score_table}
        return tables[s.objective.table](r.output_rows(final=False), r.output_rows())

    def target_table(self, before: list[list[float]], after: list[list[float]]) -> Grid:
        """A loss of the outputs: each output against its target, before and after training."""
        s = self.r.initial
        many = s.samples > 1
        headers = ([(_("sample"), True)] if many else []) + [
            (_("output"), False),
            (_("target"), True),
            (_("out before"), True),
            (_("out after"), True),
        ]
        table = self.table(_("Outputs vs targets"), headers)
        cells = [(i, j) for i in range(s.samples) for j in range(s.output_layer.size)]
        for i, j in cells[: self.rows]:
            table.rows.append(
                [
                    *([str(i + 1)] if many else []),
                    s.output_layer.neurons[j],
                    self.n(s.targets[i, j]),
                    self.n(before[i][j]),
                    self.n(after[i][j]),
                ]
            )
        self.cut(table, len(cells), N_("outputs"))
        return table

    def score_table(self, before: list[list[float]], after: list[list[float]]) -> Grid:
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
                score, corrupt = (float(out[row][0]) for row in s.objective.rows_of(i))
                cells += [self.n(score), self.n(corrupt), self.n(max(0.0, margin + corrupt - score))]
            table.rows.append([str(i + 1), *cells])
        self.cut(table, m, N_("samples"))
        return table


class TrainingView:
    """The terminal report of a training run: title, the network's sketch, summary, loss chart, tables, notes."""

    def __init__(
        self,
        result: TrainingResult,
        digits: int = 9,
        rows: int = 60,
        ascii: bool = False,
        notes: list[str] | None = None,
    ) -> None:
        self.layout = TrainingLayout(result, digits=digits, rows=rows, notes=notes)
        self.ascii = ascii

    def blocks(self) -> list[Block]:
        return self.layout.blocks()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.text import Text

        from bptrace.render.ascii_net import network_sketch
        from bptrace.render.terminal import to_rich

        r = self.layout.r
        t = to_ascii if self.ascii else (lambda x: x)
        yield from to_rich([Para(t(self.layout.title()), "bold")], self.ascii, spaced=False)
        yield Text(network_sketch(r.initial, ascii=self.ascii))
        yield Text("")
        yield from to_rich(self.layout.summary(), self.ascii, spaced=False)
        yield Text("")
        if r.epochs > 0:
            width = max(40, min(CHART_WIDTH, options.max_width))
            yield Text(loss_chart(r.history, width=width, ascii=self.ascii, epochs=r.history_epochs))
            yield Text("")
        yield from to_rich(self.layout.tables() + self.layout.note_blocks(), self.ascii, spaced=False)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from bptrace.display import mimebundle

        return mimebundle(self)


def loss_chart(
    history: list[float],
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    ascii: bool = False,
    epochs: list[int] | None = None,
) -> str:
    """The loss curve as a terminal chart (render/chart.py; log-scale y when every E is positive and E varies).

    `epochs[i]` is the epoch of history[i] when the curve was thinned (TrainingResult.history_epochs)."""
    from bptrace.render.chart import line_chart

    points = _decimate(history, CHART_POINTS)
    if epochs is not None:
        points = [(epochs[k], e) for k, e in points]
    # a log scale needs positive values that actually vary (a flat curve has no decades to show)
    log = all(e > 0 for e in history) and max(history) > min(history)
    ticks, labels = _epoch_ticks(points[-1][0])
    return line_chart(
        [float(k) for k, _e in points],
        [e for _k, e in points],
        width=width,
        height=height,
        log=log,
        title=_("loss E_k after k epochs (log scale)") if log else _("loss E_k after k epochs"),
        xlabel=_("epoch"),
        xticks=ticks,
        xlabels=labels,
        ascii=ascii,
    )


def _decimate(history: list[float], limit: int) -> list[tuple[int, float]]:
    """At most `limit` (epoch, E) points, evenly spaced, always including the first and the last."""
    n = len(history)
    if n <= limit:
        return list(enumerate(history))
    step = (n - 1) / (limit - 1)
    picked = sorted({round(k * step) for k in range(limit)} | {n - 1})
    return [(k, history[k]) for k in picked]


def _epoch_ticks(last: int) -> tuple[list[float], list[str]]:
    """About five round epoch numbers from 0 to `last`."""
    if last <= 0:
        return [0.0], ["0"]
    raw = last / 5
    magnitude = 10 ** (len(str(int(raw))) - 1) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    ticks = list(range(0, last + 1, max(1, step)))
    return [float(v) for v in ticks], [f"{v:,}".replace(",", " ") if v >= 10000 else str(v) for v in ticks]
