"""`bptrace quiz`: exercises for Moodle, Canvas, PrairieLearn or paper, with feedback for each misconception.

Thin: quiz/model.py builds the platform-neutral quiz, one module per format lays it out, and this command
writes the result through bptrace.output (a file for moodle and qti, a folder of files for prairielearn and
worksheet; an existing file is replaced only with --force). docs/platforms.md.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import click

from bptrace.cli.common import force_option, load_scenario, prepare_output, write_output
from bptrace.errors import BptraceError
from bptrace.i18n import _
from bptrace.quiz.model import MAX_VARIANTS

FORMATS = ("moodle", "qti", "prairielearn", "worksheet")
FOLDER_FORMATS = ("prairielearn", "worksheet")


@click.command()
@click.argument("scenarios", nargs=-1, metavar="SCENARIO...")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    required=True,
    help="moodle: a Moodle XML file; qti: a QTI 1.2 zip for Canvas; prairielearn: a folder of PrairieLearn "
    "questions; worksheet: a folder of printable worksheets (HTML and PDF) with their answer keys.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    help="The file (moodle, qti) or folder (prairielearn, worksheet) to write.",
)
@click.option(
    "--variants",
    type=click.IntRange(1, MAX_VARIANTS),
    help="Draw this many random exercises shaped like each SCENARIO (bptrace new's generator) instead of "
    "using the scenario's own numbers.",
)
@click.option(
    "--seed",
    type=click.IntRange(0),
    help="The seed of the first variant (variant k has seed + k - 1; default: a new seed, printed).",
)
@click.option(
    "--ask",
    multiple=True,
    metavar="QUANTITY",
    help="A quantity to ask (repeatable, or comma-separated), named as in SCENARIO; random variants ask the "
    "quantity in the same place. Default: a few through the whole step (every quantity for a worksheet).",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False),
    help="A teacher's key (bptrace key): its questions, points and marking rules (significant digits, "
    "tolerances, credit for named misconceptions); its exercise when no SCENARIO is given.",
)
@click.option("--no-pdf", is_flag=True, help="worksheet: write HTML only (no LaTeX run).")
@force_option
def quiz(
    scenarios: tuple[str, ...],
    fmt: str,
    output: str,
    variants: int | None,
    seed: int | None,
    ask: tuple[str, ...],
    key_file: str | None,
    no_pdf: bool,
    force: bool,
) -> None:
    """Write exercises for Moodle, Canvas, PrairieLearn or paper, with feedback for each misconception.

    Each quantity asked has its right value and tolerance, and the value each known misconception
    produces, with that misconception's feedback. Each exercise is SCENARIO itself (a path or bundled
    name), or with --variants a fresh random exercise shaped like it. The marking rules are those of
    `bptrace check --key` (at least 3 significant digits, unless a --key says otherwise); the worked
    derivation (bptrace explain) is the general feedback.
    Import steps for each platform: docs/platforms.md.

    \b
    Example:
        bptrace quiz mazur --format moodle -o mazur.xml
        bptrace quiz mazur --variants 20 --seed 7 --ask w5+ --ask dE/dw1 --format qti -o quiz.zip
        bptrace quiz ng_shallow --variants 50 --seed 17 --format prairielearn -o questions/
        bptrace quiz mazur --variants 30 --seed 33 --format worksheet -o sheets/
        bptrace quiz --key key.yaml --format moodle -o class.xml
    """
    from bptrace.cli import graph as cli_graph

    names = [n.strip() for part in ask for n in part.split(",") if n.strip()]
    if names and key_file:
        raise BptraceError(
            _("--ask and --key both choose the questions"), hint=_("give one of them (edit the key's questions:)")
        )
    if seed is not None and variants is None:
        raise BptraceError(_("--seed goes with --variants"), hint=_("add --variants N, or leave out --seed"))
    key = None
    if key_file:
        from bptrace.grading import key as key_mod

        key = key_mod.read(key_file)
        if key.roster is not None and not scenarios:
            raise BptraceError(
                _("a per-student key has an exercise per student; a quiz is made from one exercise"),
                hint=_("give the exercise too: bptrace quiz EXERCISE.yaml --key {key}").format(key=key_file),
            )
    refs = list(scenarios) or ([key.scenario_ref] if key is not None else [])
    if not refs:
        raise BptraceError(
            _("give a SCENARIO (a bundled name or a path), or a --key"),
            hint=_("e.g. bptrace quiz mazur --format moodle -o mazur.xml"),
        )
    for ref in refs:
        if cli_graph.graph_scenario(ref) is not None:
            raise BptraceError(
                _("{ref} is a computational graph; bptrace quiz makes exercises of networks").format(ref=ref),
                hint=_("use bptrace template and bptrace check for a graph's exercises"),
            )
        if key is None or ref != key.scenario_ref:  # (the key's own was read with the key, as build reads it)
            load_scenario(ref)  # a bad scenario (an RNN, a layer stack) is refused before the work
    inputs = [*refs, key_file]
    target = None if fmt in FOLDER_FORMATS else prepare_output(output, force, inputs=inputs)
    if fmt in FOLDER_FORMATS:
        _check_folder(output)
    drawn = variants is not None and seed is None
    if drawn:
        import secrets

        seed = secrets.randbelow(1_000_000)
    command = _command(refs if scenarios else [], fmt, output, variants, seed, names, key_file)

    from bptrace.quiz.model import build

    built = build(
        refs,
        variants=variants,
        seed=seed,
        ask=names or None,
        key=key,
        default="all" if fmt == "worksheet" else "short",
        command=command,
    )
    if fmt == "moodle":
        from bptrace.quiz import moodle

        write_output(moodle.render(built), target)
    elif fmt == "qti":
        from bptrace.quiz import qti

        write_output(qti.render(built), target)
    elif fmt == "prairielearn":
        from bptrace.quiz import prairielearn

        _write_folder(output, prairielearn.render(built), force, inputs)
    else:
        from bptrace.quiz import worksheet

        _write_folder(output, worksheet.render(built, pdf=not no_pdf), force, inputs)
    if drawn:  # said once the quiz is written: an error (a bad --ask, a bad scenario) stays its one line
        click.echo(
            _("bptrace: seed {seed} (add --seed {seed} to make the same quiz again)").format(seed=seed), err=True
        )


def _command(
    refs: list[str],
    fmt: str,
    output: str,
    variants: int | None,
    seed: int | None,
    names: list[str],
    key_file: str | None,
) -> str:
    """The command line that makes the same quiz again (the seed written out)."""
    parts = ["bptrace", "quiz", *refs]
    if variants is not None:
        parts += ["--variants", str(variants), "--seed", str(seed)]
    for name in names:
        parts += ["--ask", name]
    if key_file:
        parts += ["--key", key_file]
    parts += ["--format", fmt, "-o", output]
    return " ".join(shlex.quote(p) for p in parts)


def _check_folder(output: str) -> None:
    """A folder output: it may exist (as a folder) or be new in a folder that exists."""
    path = Path(output)
    if path.exists() and not path.is_dir():
        raise BptraceError(
            _("cannot write {path}: it is a file, and this format writes a folder").format(path=output),
            hint=_("give -o the name of a folder"),
        )
    if not path.exists() and not path.resolve().parent.is_dir():
        raise BptraceError(
            _("cannot write {path}: the folder {parent} does not exist").format(
                path=output, parent=path.resolve().parent
            ),
            hint=_("create it first, or choose another folder"),
        )


def _write_folder(output: str, files: dict[str, bytes], force: bool, inputs: list[str | None]) -> None:
    """Write every file under the folder `output`: first check that none exists (unless --force) so that
    nothing is written when one would be refused, then create the folders and write each file atomically."""
    from bptrace import output as writer

    root = Path(output)
    for name in files:
        path = root / name
        if path.parent.is_dir():
            prepare_output(str(path), force, inputs=inputs)  # an existing file without --force: exit 2 now
    for name in sorted(files):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        writer.write(prepare_output(str(path), force, inputs=inputs), files[name])


COMMANDS = [quiz]
