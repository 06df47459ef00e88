"""`bptrace check`, `bptrace template`, `bptrace new`: mark answer sheets, write blank ones, make exercises.

Thin commands: answers.py reads sheets, check.py marks them, diagnose.py names the mistakes,
render/check_out.py displays the result.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from bptrace.cli.common import (
    FiniteFloat,
    Mismatch,
    ascii_option,
    digits_option,
    force_option,
    load_scenario,
    prepare_output,
    print_renderable,
    write_output,
)
from bptrace.errors import BptraceError
from bptrace.functions import ACTIVATION_ENTRIES, ACTIVATIONS, LOSSES
from bptrace.grading.diagnose import CODE_ORDER
from bptrace.i18n import _, ngettext
from bptrace.output import Target, distinct
from bptrace.render.blocks import Block

if TYPE_CHECKING:
    from bptrace.grading.answers import Recipe

T = TypeVar("T")


@click.command()
@click.argument("sheets", nargs=-1, required=True, metavar="SHEET...")
@click.option("-s", "--scenario", help="The scenario (bundled name or path); overrides the sheets' (or the key's).")
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False),
    help="Mark with a teacher's key (bptrace key SCENARIO > key.yaml): the key decides the questions, "
    "points and rules; the sheets give values only.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["terminal", "json", "markdown", "latex", "html", "gradescope"]),
    default="terminal",
    show_default=True,
    help="terminal: a table per sheet; json: the marks as data; markdown, latex, html: a document; gradescope: "
    "results.json for a Gradescope autograder (one submission; needs --key).",
)
@click.option(
    "--min-digits",
    type=click.IntRange(1, 17),
    default=3,
    show_default=True,
    help="Significant digits an answer needs to count as correct (unless it is exact). With --key: rules.min_digits.",
)
@click.option("--rtol", type=FiniteFloat(min=0), help="Also accept answers within this relative tolerance.")
@click.option(
    "--accept",
    multiple=True,
    type=click.Choice([c for c in CODE_ORDER if c != "rounding"]),
    help="Count answers explained by this diagnosis as correct (repeatable), "
    "e.g. delta-sign-convention. Early rounding is always accepted. With --key: rules.accept.",
)
@click.option("--hide-expected", is_flag=True, help="Mark without showing the exact values.")
@click.option("--no-diagnose", is_flag=True, help="Only mark; do not look for the misconception behind a wrong answer.")
@click.option("--summary", is_flag=True, help="With --key: print only the class view, not each sheet's table.")
@click.option(
    "--report",
    type=click.Path(dir_okay=False),
    help="With --key: write a CSV of grades, one row per student, a column per question (points earned), totals.",
)
@click.option(
    "--report-long",
    type=click.Path(dir_okay=False),
    help="With --key: write a CSV with one row per student and quantity.",
)
@digits_option
@ascii_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@force_option
def check(
    sheets: tuple[str, ...],
    scenario: str | None,
    key_file: str | None,
    fmt: str,
    min_digits: int,
    rtol: float | None,
    accept: tuple[str, ...],
    hide_expected: bool,
    no_diagnose: bool,
    summary: bool,
    report: str | None,
    report_long: str | None,
    force: bool,
    digits: int,
    ascii_: bool,
    output: str | None,
) -> None:
    """Mark answer sheets and name the mistake behind each wrong answer.

    Without --key this is a student's self-check of their own sheet. With --key a teacher marks a
    class: the key decides the questions, points and rules, every question counts (unanswered: 0),
    a step right given the student's own wrong earlier answer gets follow-through credit, a sheet that
    cannot be read is a row with 0 points, and a class view follows the sheets. A per-student key
    (bptrace new --roster) marks each sheet against the exercise of the id: on it.

    An answer is correct to the significant digits written (± one unit in the last place, at least
    --min-digits of them). A wrong one is re-derived under known misconceptions (δ = out − target with
    squared error, the learning rate left out, ...); those that reproduce it are named. Exit status:
    0 all correct, 1 some answer wrong, 2 a bad sheet, key or scenario. Format: docs/answer-sheets.md.

    \b
    Example:
        bptrace check answers.yaml
        bptrace check examples/mazur_published.yaml --format json
        bptrace key mazur > key.yaml
        bptrace check sheets/*.yaml --key key.yaml --report grades.csv --hide-expected
        bptrace check examples/class/*.yaml --key examples/class/key.yaml --summary
        bptrace check submission.yaml --key key.yaml --format gradescope -o /autograder/results/results.json
    """
    from bptrace.cli import graph as cli_graph
    from bptrace.cli import layers as cli_layers
    from bptrace.cli import rnn as cli_rnn

    # -o is checked before the work, for every kind (an existing file needs --force, an input is never replaced)
    prepare_output(output, force, inputs=[*sheets, scenario])
    # a recurrent network's, a layer stack's or a graph's sheets (docs/rnn.md, docs/layers.md, docs/graphs.md)
    for kind in (cli_rnn.KIND, cli_layers.KIND, cli_graph.KIND):
        if kind.is_sheet(sheets[0], scenario):
            if fmt == "gradescope" or report or report_long or key_file or summary:
                raise BptraceError(
                    _("--key, --summary, --report and --format gradescope are for network sheets"),
                    hint=_(kind.without_options),
                )
            return kind.check(sheets, scenario, fmt, min_digits, not no_diagnose, hide_expected, digits, ascii_, output)
    if fmt == "gradescope" and len(sheets) > 1:
        raise BptraceError(
            _("--format gradescope marks one sheet (one submission) at a time"),
            hint=_("or use --report grades.csv for many sheets"),
        )
    if key_file is None:
        needs = [o for o, on in (("--report", report), ("--report-long", report_long), ("--summary", summary)) if on]
        if fmt == "gradescope":
            needs.append("--format gradescope")
        if needs:
            said = ngettext(
                "{options} needs --key: without a key a sheet sets its own points, which is a self-check, not a grade",
                "{options} need --key: without a key a sheet sets its own points, which is a self-check, not a grade",
                len(needs),
            )
            # TRANSLATORS: between the options of a list ("--report and --summary need --key")
            raise BptraceError(
                said.format(options=_(" and ").join(needs)),
                hint=_("write a key with 'bptrace key SCENARIO > key.yaml', edit it, and add --key key.yaml"),
            )
        _self_check(
            sheets, scenario, fmt, min_digits, rtol, accept, hide_expected, no_diagnose, digits, ascii_, output, force
        )
        return
    ctx = click.get_current_context()
    given = [
        f"--{name.replace('_', '-')}"
        for name in ("min_digits", "rtol", "accept", "no_diagnose")
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    ]
    if given:
        raise BptraceError(
            _("with --key the key's rules decide; {options} cannot be given too").format(options=", ".join(given)),
            hint=_("edit rules: in {key} (min_digits, rtol, tolerance, accept, diagnose)").format(key=key_file),
        )
    inputs = [*sheets, scenario, key_file]
    # every output checked before the marking, not after it (bptrace.output): -o, --report, --report-long
    targets = (
        prepare_output(output, force, inputs=inputs),
        prepare_output(report, force, inputs=inputs, option="--report") if report else None,
        prepare_output(report_long, force, inputs=inputs, option="--report-long") if report_long else None,
    )
    distinct(*targets)
    _mark_class(sheets, scenario, key_file, fmt, hide_expected, summary, targets, digits, ascii_)


def _self_check(
    sheets: tuple[str, ...],
    scenario: str | None,
    fmt: str,
    min_digits: int,
    rtol: float | None,
    accept: tuple[str, ...],
    hide_expected: bool,
    no_diagnose: bool,
    digits: int,
    ascii_: bool,
    output: str | None,
    force: bool,
) -> None:
    """A student's own check: each sheet with its own points and tolerances (today's behaviour)."""
    from bptrace.grading import answers as sheets_mod
    from bptrace.grading.marking import Marker, mark, marker_for
    from bptrace.grading.sheets import self_check_options

    target = prepare_output(output, force, inputs=[*sheets, scenario])
    options = self_check_options(min_digits, rtol, accept, diagnose=not no_diagnose)
    if scenario and len(sheets) > 1:  # a bad -s is one error, said once, not once per sheet
        from bptrace.model import scenario as scenarios

        scenarios.load(scenario)
    labs: dict[str, Marker] = {}
    results = []
    failed = 0
    as_data = fmt == "json"  # the JSON is English in every language; what is said on stderr is not

    def bound(path: str) -> object:
        sheet = sheets_mod.read(path)
        return sheets_mod.bind(sheet, sheets_mod.resolve_scenario(sheet, scenario)[0])

    for path in sheets:
        try:
            with _english(as_data):
                sheet = sheets_mod.read(path)
                s, key = sheets_mod.resolve_scenario(sheet, scenario)
                lab = labs.get(key) or labs.setdefault(key, marker_for(s))
                answers = sheets_mod.bind(sheet, lab.scenario)
                results.append(mark(sheet, answers, lab, options))
        except BptraceError as exc:
            said = _said_again(exc, bound, path) if as_data else exc
            if len(sheets) == 1:
                raise said from None
            # mark the other sheets, exit 2 at the end
            click.echo(_("bptrace: error: {message}").format(message=said), err=True)
            failed += 1
    if results:
        from bptrace.render import check_out

        if fmt == "json":
            with _english():
                text = check_out.json_text(results, hide_expected)
            write_output(text, target)
        elif fmt in DOCUMENTS:
            blocks = check_out.check_blocks(results, digits=digits, hide_expected=hide_expected)
            write_output(_document(blocks, fmt, check_out.check_title(results)), target)
        else:
            print_renderable(check_out.CheckView(results, digits=digits, hide_expected=hide_expected), ascii_, target)
    if failed:
        raise click.exceptions.Exit(2)
    if not all(r.summary.all_correct for r in results):
        raise Mismatch()


def _mark_class(
    sheets: tuple[str, ...],
    scenario: str | None,
    key_file: str,
    fmt: str,
    hide_expected: bool,
    summary: bool,
    targets: tuple[Target, Target | None, Target | None],
    digits: int,
    ascii_: bool,
) -> None:
    """Mark every sheet with the teacher's key; a sheet that cannot be read is a row with 0 points.

    targets: the prepared outputs of -o, --report and --report-long."""
    output, report, report_long = targets
    from bptrace.grading import answers as sheets_mod
    from bptrace.grading import key as key_mod
    from bptrace.grading.classview import class_view
    from bptrace.grading.marking import unreadable
    from bptrace.grading.roster import neighbours
    from bptrace.grading.sheets import mark_sheet
    from bptrace.render import check_out

    key = key_mod.read(key_file, scenario)  # its rules decide (grading/sheets.py, shared with bptrace.check)
    results = []
    key_path = Path(key_file).resolve()
    as_data = fmt == "json"  # the JSON is English in every language; what is said on stderr is not

    def bound(path: str) -> object:
        return mark_sheet(sheets_mod.read(path, graded=True), key)

    for path in sheets:
        if Path(path).resolve() == key_path:
            continue  # sheets/*.yaml may catch the key itself
        student = Path(path).stem
        try:
            with _english(as_data):
                sheet = sheets_mod.read(path, graded=True)
                student = sheet.student
                results.append(mark_sheet(sheet, key))  # (per student: the exercise of the sheet's id)
        except BptraceError as exc:
            said = _said_again(exc, bound, path) if as_data else exc
            click.echo(_("bptrace: warning: {message} (marked 0)").format(message=said), err=True)
            with _english(as_data):
                results.append(unreadable(str(path), student, str(exc), key.shown_scenario, key.max_points))
    neighbours(results, key)  # a per-student key: wrong answers that are another student's right values
    if not results:
        raise BptraceError(
            _("no sheets to mark: the only file given is the key"), hint=_("give the sheets, e.g. sheets/*.yaml")
        )
    with _english(as_data):
        view = class_view(results, key)
    if fmt == "json":
        with _english():
            text = check_out.class_json_text(results, view, hide_expected)
        write_output(text, output)
    elif fmt == "gradescope":
        write_output(check_out.gradescope_text(results[0], hide_expected, digits), output)
    elif fmt in DOCUMENTS:
        blocks = check_out.class_report_blocks(results, view, digits, hide_expected, summary)
        title = _("Class report: {title}").format(title=key.scenario.display_title())
        write_output(_document(blocks, fmt, title), output)
    else:
        renderable = check_out.ClassReport(results, view, digits=digits, hide_expected=hide_expected, summary=summary)
        print_renderable(renderable, ascii_, output)
    if report:
        write_output(check_out.grades_csv_text(results, key), report)
    if report_long:
        write_output(check_out.csv_text(results, hide_expected, ids=key.roster is not None), report_long)
    if not all(r.error is None and r.summary.all_correct for r in results):
        raise Mismatch()


DOCUMENTS = ("markdown", "latex", "html")


def _document(blocks: list[Block], fmt: str, title: str) -> str:
    """The report as a whole document (render/export.py); LaTeX for xelatex when a name in it is Chinese."""
    from bptrace.render.export import export

    return export(blocks, fmt, title=title, standalone=True, scan=True)


@contextmanager
def _english(on: bool = True) -> Iterator[None]:
    """Speak English inside (when `on`): what goes into the JSON is the same in every language."""
    from bptrace import i18n

    if not on or i18n.language() == "en":
        yield
        return
    lang = i18n.language()
    i18n.set_language("en")
    try:
        yield
    finally:
        i18n.set_language(lang)


def _said_again(exc: BptraceError, again: Callable[..., T], *args: object) -> BptraceError:
    """The error of a step made in English (for the JSON), said in the user's language: the step made once
    more in it (reading a sheet is deterministic, so it fails the same way); `exc` if it does not fail."""
    try:
        again(*args)
    except BptraceError as said:
        return said
    return exc


@click.command("key")
@click.argument("scenario", required=False)
@click.option(
    "--only",
    callback=lambda ctx, param, value: _sections(ctx, param, value),
    metavar="SECTIONS",
    help="Comma-separated sections to ask: forward, backward, updates (default: all).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@force_option
def key_command(scenario: str | None, only: set[str] | None, output: str | None, force: bool) -> None:
    """Write an editable marking key for SCENARIO (a path or bundled name; default: mazur).

    The key names the exercise, lists every quantity a student computes at 1 point (delete the ones
    you do not ask, change the points) and the marking rules: significant digits, tolerances, accepted
    conventions, credit for follow-through and for named misconceptions. Mark with it:
    bptrace check SHEETS... --key key.yaml

    \b
    Example:
        bptrace key mazur > key.yaml
        bptrace key exercise.yaml --only forward,updates -o key.yaml
    """
    from bptrace.grading.key import key_text
    from bptrace.model.scenario import is_path_like

    target = prepare_output(output, force, inputs=[scenario])  # a teacher's key is never replaced silently
    s = load_scenario(scenario)
    ref = scenario or "mazur"
    if is_path_like(ref) and output and output != "-":
        ref = os.path.relpath(Path(ref).resolve(), Path(output).resolve().parent)  # relative to the key's folder
    write_output(key_text(s, ref, only), target)


def _sections(ctx: click.Context, param: click.Parameter, value: str | None) -> set[str] | None:
    from bptrace.grading.answers import SECTIONS

    if value is None:
        return None
    parts = {p.strip() for p in value.split(",") if p.strip()}
    bad = sorted(parts - set(SECTIONS))
    if bad or not parts:
        raise click.BadParameter(
            _("unknown section {section}; choose from {sections}").format(
                section=", ".join(bad) or repr(value), sections=", ".join(SECTIONS)
            )
        )
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
@force_option
def template(scenario: str | None, only: set[str] | None, output: str | None, force: bool) -> None:
    """Write a blank answer sheet for SCENARIO (a path or bundled name; default: mazur).

    Every quantity a student computes is a key with an empty value, grouped by comments in the order
    of the derivation. Fill it in and mark it with `bptrace check`.

    \b
    Example:
        bptrace template mazur -o sheet.yaml
        bptrace template exercise.yaml --only forward,updates
    """
    from bptrace.cli import graph as cli_graph
    from bptrace.cli import rnn as cli_rnn
    from bptrace.grading.answers import template_text
    from bptrace.model.scenario import is_path_like

    target = prepare_output(output, force, inputs=[scenario])
    from bptrace.cli import layers as cli_layers

    rnn = cli_rnn.rnn_scenario(scenario)
    stack = cli_layers.layers_scenario(scenario)
    graph = None if stack is not None else cli_graph.graph_scenario(scenario)
    ref = scenario or "mazur"
    if is_path_like(ref) and output and output != "-":
        # the sheet names its scenario relative to the sheet's own folder
        ref = os.path.relpath(Path(ref).resolve(), Path(output).resolve().parent)
    if rnn is not None:  # kind: rnn (docs/rnn.md)
        return cli_rnn.template(rnn, ref, output)
    if stack is not None:  # kind: layers (its output path checked above)
        return cli_layers.template(stack, ref, output)
    if graph is not None:  # kind: graph (its output path checked above)
        return cli_graph.template(graph, ref, output)
    write_output(template_text(load_scenario(scenario), ref, only), target)


def _shape(ctx: click.Context, param: click.Parameter, value: str) -> list[int]:
    from bptrace.grading.answers import parse_shape

    try:
        return parse_shape(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


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
    type=FiniteFloat(min=0, min_open=True),
    default=0.5,
    show_default=True,
    help="The learning rate η.",
)
@click.option("--samples", type=click.IntRange(1, 100), default=1, show_default=True, help="Samples in the batch.")
@click.option(
    "--roster",
    type=click.Path(dir_okay=False),
    help="A CSV of the class (columns id,name; docs/answer-sheets.md): one exercise and one blank sheet per "
    "student, drawn from --seed and the student's id, and one key for all, into the folder -o names.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Write to FILE instead of stdout (with --roster: the FOLDER to write into, made if missing).",
)
@force_option
def new(
    random_: bool,
    seed: int | None,
    shape: list[int],
    activation: str,
    output_activation: str | None,
    loss: str,
    learning_rate: float,
    samples: int,
    roster: str | None,
    output: str | None,
    force: bool,
) -> None:
    """Write a fresh random exercise scenario (matrix form), so each student can get their own network.

    Weights, biases and inputs have two decimals, to be computed by hand; the same seed and options
    give the same file. With --roster, a whole class: for each student of the roster an exercise
    (exercise-ID.yaml, drawn from --seed and the student's id, so a student's exercise stays the same
    when others join the roster) and a blank sheet that carries their name and id (sheet-ID.yaml), and
    one key for all (key.yaml), in the folder -o names. `bptrace check SHEETS... --key key.yaml` then
    marks each sheet against its student's own exercise.

    \b
    Example:
        bptrace new --random --seed 7 --shape 2-3-2 -o exercise.yaml
        bptrace new --seed 12 --shape 3-4-3 --loss cross_entropy --samples 3
        bptrace template exercise.yaml -o sheet.yaml
        bptrace new --roster roster.csv --seed 7 --shape 2-3-2 -o class
    """
    from bptrace.grading.answers import Recipe

    del random_
    if seed is None:
        import secrets

        seed = secrets.randbelow(1_000_000)
    recipe = Recipe(seed, tuple(shape), activation, output_activation, loss, float(learning_rate), samples)
    if roster is not None:
        return _new_class(recipe, roster, output, force)
    target = prepare_output(output, force)
    text, _s = recipe.draw()
    write_output(text, target)


def _new_class(recipe: Recipe, roster_file: str, folder: str | None, force: bool) -> None:
    """bptrace new --roster: an exercise and a blank sheet per student, and the key, into one folder."""
    from bptrace import output as out
    from bptrace.grading import roster as roster_mod
    from bptrace.grading.answers import template_text, yaml_scalar
    from bptrace.grading.key import key_text

    if folder is None or folder == "-":
        raise BptraceError(
            _("--roster writes a file per student: give the folder to write them into"),
            hint=_("add -o FOLDER"),
        )
    roster = roster_mod.read(roster_file)
    seeds: dict[int, str] = {}
    files: list[tuple[str, str]] = []
    first = None
    for student in roster.students:
        n = roster_mod.student_seed(recipe.seed, student.id)
        if n in seeds:  # two students would get the same network
            raise BptraceError(
                _("{id} and {other} would get the same exercise with seed {seed}").format(
                    id=student.id, other=seeds[n], seed=recipe.seed
                ),
                hint=_("choose another --seed"),
            )
        seeds[n] = student.id
        text, s = roster_mod.student_exercise(recipe, student)
        first = first or s
        exercise_name, sheet_name = roster_mod.file_names(student)
        files.append((exercise_name, text))
        files.append((sheet_name, template_text(s, exercise_name, student=student.name, student_id=student.id)))
    assert first is not None
    base = Path(folder)
    ref = os.path.relpath(Path(roster_file).resolve(), base.resolve())
    exercise = [
        f"  roster: {yaml_scalar(ref)}   # " + _("the class (id,name), relative to this key's folder"),
        "  # " + _("each student's exercise is drawn from the seed and their id (the sheets carry id:)"),
        f"  seed: {recipe.seed}",
        f"  shape: {recipe.shape_text}",
        f"  activation: {recipe.activation}",
        "  output_activation:" + (f" {recipe.output_activation}" if recipe.output_activation else ""),
        f"  loss: {recipe.loss}",
        f"  learning_rate: {recipe.learning_rate!r}",
        f"  samples: {recipe.samples}",
    ]
    title = _("one exercise {shape} per student of {roster} (seed {seed})").format(
        shape=recipe.shape_text, roster=ref, seed=recipe.seed
    )
    files.append(("key.yaml", key_text(first, ref, exercise=exercise, title=title)))
    out.make_folder(folder)
    targets = [prepare_output(str(base / name), force, inputs=[roster_file]) for name, _text in files]
    distinct(*targets)
    for target, (_name, text) in zip(targets, files):
        write_output(text, target)
    n = len(roster.students)
    click.echo(
        ngettext(
            "wrote {n} exercise and blank sheet (exercise-ID.yaml, sheet-ID.yaml) and key.yaml in {folder}",
            "wrote {n} exercises and blank sheets (exercise-ID.yaml, sheet-ID.yaml) and key.yaml in {folder}",
            n,
        ).format(n=n, folder=folder),
        err=True,
    )


COMMANDS = [check, key_command, template, new]
