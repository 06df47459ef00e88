"""`bptrace check`, `bptrace template`, `bptrace new`: mark answer sheets, write blank ones, make exercises.

Thin commands: answers.py reads sheets, check.py marks them, diagnose.py names the mistakes,
render/check_out.py displays the result.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from bptrace.cli.common import Mismatch, ascii_option, digits_option, load_scenario, print_renderable, write_output
from bptrace.errors import BptraceError
from bptrace.functions import ACTIVATION_ENTRIES, ACTIVATIONS, LOSSES
from bptrace.grading.diagnose import CODE_ORDER


@click.command()
@click.argument("sheets", nargs=-1, required=True, metavar="SHEET...")
@click.option("-s", "--scenario", help="The scenario (bundled name or path); overrides the sheets' scenario:.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["terminal", "json", "gradescope"]),
    default="terminal",
    show_default=True,
    help="terminal: a table per sheet; json: the marks as data; gradescope: "
    "results.json for a Gradescope autograder (one sheet).",
)
@click.option(
    "--min-digits",
    type=click.IntRange(1, 17),
    default=3,
    show_default=True,
    help="Significant digits an answer needs to count as correct (unless it is exact).",
)
@click.option("--rtol", type=click.FloatRange(min=0), help="Also accept answers within this relative tolerance.")
@click.option(
    "--accept",
    multiple=True,
    type=click.Choice([c for c in CODE_ORDER if c != "rounding"]),
    help="Count answers explained by this diagnosis as correct (repeatable), "
    "e.g. delta-sign-convention. Early rounding is always accepted.",
)
@click.option("--hide-expected", is_flag=True, help="Mark without showing the exact values.")
@click.option("--no-diagnose", is_flag=True, help="Only mark; do not look for the misconception behind a wrong answer.")
@click.option(
    "--report", type=click.Path(dir_okay=False), help="Also write a CSV grade report: one row per student and quantity."
)
@digits_option
@ascii_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
def check(
    sheets: tuple[str, ...],
    scenario: str | None,
    fmt: str,
    min_digits: int,
    rtol: float | None,
    accept: tuple[str, ...],
    hide_expected: bool,
    no_diagnose: bool,
    report: str | None,
    digits: int,
    ascii_: bool,
    output: str | None,
) -> None:
    """Mark answer sheets and name the mistake behind each wrong answer.

    An answer is correct to the significant digits written (± one unit in the last place, at least
    --min-digits of them). A wrong one is re-derived under known misconceptions (δ = out − target with
    squared error, the learning rate left out, ...); those that reproduce it are named. Exit status:
    0 all correct, 1 some answer wrong, 2 a bad sheet or scenario. Format: docs/answer-sheets.md.

    \b
    Example:
        bptrace check answers.yaml
        bptrace check examples/mazur_published.yaml --format json
        bptrace check sheets/*.yaml --report grades.csv --hide-expected
        bptrace check submission.yaml --format gradescope -o /autograder/results/results.json
    """
    from bptrace.cli import graph as cli_graph

    if cli_graph.is_graph_sheet(sheets[0], scenario):  # a graph's sheets (docs/graphs.md)
        if fmt == "gradescope" or report:
            raise BptraceError("--format gradescope and --report are for network sheets", hint="use --format json")
        diagnose = not no_diagnose
        return cli_graph.check(sheets, scenario, fmt, min_digits, diagnose, hide_expected, digits, ascii_, output)
    from bptrace.grading import answers as sheets_mod
    from bptrace.grading.diagnose import Lab
    from bptrace.grading.marking import Options, mark

    if fmt == "gradescope" and len(sheets) > 1:
        raise BptraceError(
            "--format gradescope marks one sheet (one submission) at a time",
            hint="or use --report grades.csv for many sheets",
        )
    options = Options(
        min_digits=min_digits, rtol=rtol, accept=frozenset(accept) | {"rounding"}, diagnose=not no_diagnose
    )
    labs: dict[str, Lab] = {}
    results = []
    failed = 0
    for path in sheets:
        try:
            sheet = sheets_mod.read(path)
            s, key = sheets_mod.resolve_scenario(sheet, scenario)
            lab = labs.setdefault(key, Lab(s))
            bound = sheets_mod.bind(sheet, lab.scenario)
            results.append(mark(sheet, bound, lab, options))
        except BptraceError as exc:
            if len(sheets) == 1:
                raise
            click.echo(f"bptrace: error: {exc}", err=True)  # mark the other sheets, exit 2 at the end
            failed += 1
    if results:
        from bptrace.render import check_out

        if fmt == "json":
            write_output(check_out.json_text(results, hide_expected), output)
        elif fmt == "gradescope":
            write_output(check_out.gradescope_text(results[0], hide_expected, digits), output)
        else:
            print_renderable(check_out.CheckView(results, digits=digits, hide_expected=hide_expected), ascii_, output)
        if report:
            try:
                Path(report).write_text(check_out.csv_text(results, hide_expected), encoding="utf-8")
            except OSError as exc:
                raise BptraceError(f"cannot write {report}: {exc.strerror or exc}") from None
    if failed:
        raise click.exceptions.Exit(2)
    if not all(r.summary.all_correct for r in results):
        raise Mismatch()


def _sections(ctx: click.Context, param: click.Parameter, value: str | None) -> set[str] | None:
    from bptrace.grading.answers import SECTIONS

    if value is None:
        return None
    parts = {p.strip() for p in value.split(",") if p.strip()}
    bad = sorted(parts - set(SECTIONS))
    if bad or not parts:
        raise click.BadParameter(f"unknown section {', '.join(bad) or repr(value)}; choose from {', '.join(SECTIONS)}")
    return parts


@click.command()
@click.argument("scenario", required=False)
@click.option(
    "--only",
    callback=_sections,
    metavar="SECTIONS",
    help="Comma-separated sections to list: forward, backward, updates (default: all).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
def template(scenario: str | None, only: set[str] | None, output: str | None) -> None:
    """Write a blank answer sheet for SCENARIO (a path or bundled name; default: mazur).

    Every quantity a student computes is a key with an empty value, grouped by comments in the order
    of the derivation. Fill it in and mark it with `bptrace check`.

    \b
    Example:
        bptrace template mazur -o sheet.yaml
        bptrace template exercise.yaml --only forward,updates
    """
    from bptrace.cli import graph as cli_graph
    from bptrace.grading.answers import template_text
    from bptrace.model.scenario import is_path_like

    graph = cli_graph.graph_scenario(scenario)
    ref = scenario or "mazur"
    if is_path_like(ref) and output and output != "-":
        # the sheet names its scenario relative to the sheet's own folder
        ref = os.path.relpath(Path(ref).resolve(), Path(output).resolve().parent)
    if graph is not None:  # kind: graph
        return cli_graph.template(graph, ref, output)
    write_output(template_text(load_scenario(scenario), ref, only), output)


def _shape(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    try:
        sizes = [int(p) for p in value.replace("x", "-").split("-")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a shape such as 2-3-2") from None
    if len(sizes) < 2 or any(not 1 <= n <= 64 for n in sizes):
        raise click.BadParameter(f"{value!r}: give at least two layer sizes, each 1..64 (e.g. 2-3-2)")
    return sizes


@click.command()
@click.option("--random", "random_", is_flag=True, help="Draw the network at random (the only kind so far; default).")
@click.option(
    "--seed",
    type=click.IntRange(0),
    help="The random seed: the same seed gives the same exercise (default: a new seed, written into the file).",
)
@click.option(
    "--shape",
    default="2-2-2",
    show_default=True,
    callback=_shape,
    help="Layer sizes from the inputs to the outputs, e.g. 2-3-2.",
)
@click.option(
    "--activation",
    type=click.Choice([a.name for a in ACTIVATION_ENTRIES if a.hidden_ok]),
    default="sigmoid",
    show_default=True,
    help="Activation of the hidden layers.",
)
@click.option(
    "--output-activation",
    type=click.Choice(ACTIVATIONS),
    help="Activation of the output layer (default: softmax with cross_entropy, sigmoid with bce, else --activation).",
)
@click.option("--loss", type=click.Choice(LOSSES), default="half_sse", show_default=True, help="The loss function.")
@click.option(
    "--learning-rate",
    type=click.FloatRange(min=0, min_open=True),
    default=0.5,
    show_default=True,
    help="The learning rate η.",
)
@click.option("--samples", type=click.IntRange(1, 100), default=1, show_default=True, help="Samples in the batch.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
def new(
    random_: bool,
    seed: int | None,
    shape: list[int],
    activation: str,
    output_activation: str | None,
    loss: str,
    learning_rate: float,
    samples: int,
    output: str | None,
) -> None:
    """Write a fresh random exercise scenario (matrix form), so each student can get their own network.

    Weights, biases and inputs have two decimals, to be computed by hand; the same seed and options
    give the same file.

    \b
    Example:
        bptrace new --random --seed 7 --shape 2-3-2 -o exercise.yaml
        bptrace new --seed 12 --shape 3-4-3 --loss cross_entropy --samples 3
        bptrace template exercise.yaml -o sheet.yaml
    """
    from bptrace.grading.answers import random_exercise

    del random_
    if seed is None:
        import secrets

        seed = secrets.randbelow(1_000_000)
    parts = [f"bptrace new --random --seed {seed} --shape {'-'.join(map(str, shape))}", f"--activation {activation}"]
    if output_activation:
        parts.append(f"--output-activation {output_activation}")
    parts += [f"--loss {loss}", f"--learning-rate {float(learning_rate)!r}"]
    if samples != 1:
        parts.append(f"--samples {samples}")
    text = random_exercise(
        seed, shape, activation, output_activation, loss, learning_rate, samples, command=" ".join(parts)
    )
    write_output(text, output)


COMMANDS = [check, template, new]
