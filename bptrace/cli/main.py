"""The command line: parse options, call the core, print, and map errors to exit statuses.

Exit statuses: 0 ok, 1 a check found a wrong answer or a mismatch, 2 bad input or usage.
This is the only module that turns exceptions into exit statuses; nothing below it prints.
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any

import click

from bptrace.cli.common import (
    Mismatch,
    ascii_option,
    digits_option,
    error_line,
    force_option,
    load_scenario,
    math_option,
    prepare_output,
    print_renderable,
    write_output,
)
from bptrace.cli.language import add_lang_option
from bptrace.errors import BptraceError, one_line
from bptrace.i18n import _
from bptrace.output import Terminated, reading, stream_error

EXIT_OK, EXIT_MISMATCH, EXIT_BAD_INPUT = 0, 1, 2


# Commands that live in their own modules: the module is imported when its command is first looked up
# (`bptrace run` never imports the marking or quiz code: docs/performance.md); each imports numpy, SymPy,
# matplotlib only when it runs. `main.commands` (docs, tests) imports them all.
LAZY_COMMANDS = {
    "explain": "explain",
    "check": "check",
    "key": "check",
    "template": "check",
    "new": "check",
    "train": "train",
    "diagram": "train",
    "lesson": "lesson",
    "quiz": "quiz",
}


class BptraceGroup(click.Group):
    """A click group that turns bptrace's errors into one line on stderr and exit status 2.

    The commands of LAZY_COMMANDS are added when first looked up (get_command, list_commands for --help,
    or the `commands` mapping itself); `loaded_commands` is what is there without importing more."""

    lazy: dict[str, str]

    @property  # type: ignore[override]
    def commands(self) -> dict[str, click.Command]:
        """Every command, the lazy ones imported (for docs and tests that read the whole table)."""
        for name in list(getattr(self, "lazy", {})):
            self._load(name)
        return self.loaded_commands

    @commands.setter
    def commands(self, value: dict[str, click.Command]) -> None:
        self.loaded_commands = value

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        assert name is not None
        self.loaded_commands[name] = cmd

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load(cmd_name)
        return self.loaded_commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.loaded_commands) | set(getattr(self, "lazy", {})))

    def _load(self, name: str) -> None:
        """Import the module of a lazy command and add its commands (with --lang, in the current language)."""
        module_name = getattr(self, "lazy", {}).get(name)
        if module_name is None:
            return
        import importlib

        from bptrace.cli import language

        module = importlib.import_module(f"bptrace.cli.{module_name}")
        for command in module.COMMANDS:
            self.lazy.pop(command.name, None)
            self.add_command(command)
            language.add_lang_option(command)
            language.translate_commands(command)

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        """Like click's, but a usage error is one line (what is wrong, and where the help is), status 2."""
        from bptrace.cli.language import choose_language

        choose_language(self, args[0] if args else kwargs.get("args"))
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "bptrace"
            message = one_line(exc.format_message())
            click.echo(
                _("bptrace: error: {message} (see '{command} --help')").format(message=message, command=where), err=True
            )
            sys.exit(EXIT_BAD_INPUT)
        except click.ClickException as exc:
            click.echo(error_line(one_line(exc.format_message())), err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo(_("bptrace: aborted"), err=True)
            sys.exit(130)
        try:
            sys.stdout.flush()  # a full disk or closed output shows here, not as noise at exit
        except BrokenPipeError:
            _silence_stdout()
        except OSError as exc:
            _silence_stdout()
            click.echo(error_line(stream_error(_("the output"), exc)), err=True)
            _exit(EXIT_BAD_INPUT)
        _exit(result if isinstance(result, int) else EXIT_OK)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with reading():  # the files a command reads are never its outputs
                return super().invoke(ctx)
        except BptraceError as exc:
            if _traceback_wanted(ctx):
                raise
            click.echo(error_line(exc), err=True)
            ctx.exit(exc.exit_code)
        except Mismatch:
            ctx.exit(EXIT_MISMATCH)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo(_("bptrace: interrupted"), err=True)
            ctx.exit(130)
        except Terminated:  # SIGTERM while writing a file: its temporary file is gone
            click.echo(_("bptrace: terminated (no file was changed)"), err=True)
            ctx.exit(128 + 15)
        except BrokenPipeError:
            _silence_stdout()
            ctx.exit(EXIT_OK)
        except OSError as exc:  # the output closed or the disk full while printing to stdout
            if _traceback_wanted(ctx):
                raise
            if exc.errno in _STREAM_ERRORS:
                _silence_stdout()
                message = str(stream_error(_("the output"), exc))
            else:
                message = one_line(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")
            click.echo(error_line(message), err=True)
            ctx.exit(EXIT_BAD_INPUT)
        except Exception as exc:  # a bug in bptrace: one line, and the way to see more
            if _traceback_wanted(ctx):
                raise
            click.echo(
                one_line(
                    _(
                        "bptrace: internal error: {error}: {message} "
                        "(this is a bug in bptrace; rerun with --traceback and report it)"
                    ).format(error=type(exc).__name__, message=exc)
                ),
                err=True,
            )
            ctx.exit(EXIT_BAD_INPUT)


def _exit(code: int) -> None:
    """End the process with `code`. When the process is the bptrace command itself, the output is flushed
    and the interpreter's shutdown skipped (os._exit): tearing down numpy's and SymPy's modules cost ~30 ms
    (docs/performance.md). Otherwise (CliRunner, pytest, main() called from Python) an ordinary sys.exit.

    Why skipping it loses nothing: this runs after the command has returned, and every file a command
    writes is written, closed and renamed into place inside it (output.write: a temporary file in a `with`
    block, then os.replace), so no buffer but stdout's and stderr's can hold anything, and those two are
    flushed here (if that fails, the ordinary exit runs instead); bptrace registers no atexit work; and
    the exit status is os._exit's argument, the same number sys.exit would give."""
    out: Any = sys.stdout
    err: Any = sys.stderr
    # the `bptrace` command or `python -m bptrace` writing to its own streams (not CliRunner's, pytest's,
    # or a caller's `python -c` that goes on after main() returns)
    command = os.path.basename(sys.argv[0]) in ("bptrace", "__main__.py")
    real = command and out is sys.__stdout__ and err is sys.__stderr__
    if real and not os.environ.get("BPTRACE_FULL_SHUTDOWN"):
        try:
            out.flush()
            err.flush()
        except (BrokenPipeError, ValueError):
            pass
        else:
            os._exit(code)
    sys.exit(code)


_STREAM_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EIO, errno.EPIPE, errno.EBADF, getattr(errno, "EDQUOT", -1)}


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit cannot fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # stdout is not a real file (a test's capture)
        pass


def _traceback_wanted(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.params.get("traceback")) or bool(os.environ.get("BPTRACE_TRACEBACK"))


@click.group(cls=BptraceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="bptrace")
@click.option("--traceback", is_flag=True, help="Show the Python traceback of an error (for debugging).")
def main(traceback: bool) -> None:
    """Trace one training step of backpropagation, explain it, and check answers.

    \b
    Example:
        bptrace run scenarios/mazur.yaml     # the whole derivation, table by table
        bptrace explain w5                   # the worked derivation of one weight
        bptrace check answers.yaml           # mark an answer sheet
    """


FORMATS = ["terminal", "json", "markdown", "latex", "html"]


@main.command()
@click.argument("scenario", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="terminal",
    show_default=True,
    help="terminal: rich tables; json: the trace as data; markdown, latex, html: a document.",
)
@click.option(
    "--notation",
    type=click.Choice(["scalar", "matrix", "index"]),
    default="scalar",
    show_default=True,
    help="scalar: per neuron (Mazur); matrix: vectorized over the batch (Ng); "
    'index: δ⁽ˡ⁾ᵢ, as in the Towards Data Science derivation "Backpropagation in Neural Networks".',
)
@digits_option
@ascii_option
@click.option("--layer", type=click.IntRange(1), help="Show only this layer's rows (1 = first after the inputs).")
@click.option(
    "--rows",
    type=click.IntRange(1),
    default=60,
    show_default=True,
    help="At most this many rows per table (a note says what was cut).",
)
@click.option(
    "--verify",
    "verify_mode",
    type=click.Choice(["auto", "full", "sample", "off"]),
    default="auto",
    show_default=True,
    help="Independent checks: SymPy and finite differences (auto: full when small).",
)
@click.option("--fragment", is_flag=True, help="latex/html: a fragment to include, not a whole document.")
@click.option("--step", is_flag=True, help="In a terminal, wait for a key after each table (a lesson's pace).")
@math_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@force_option
def run(
    scenario: str | None,
    fmt: str,
    notation: str,
    digits: int,
    ascii_: bool,
    layer: int | None,
    rows: int,
    verify_mode: str,
    fragment: bool,
    step: bool,
    math: str,
    output: str | None,
    force: bool,
) -> None:
    """Trace one training step of SCENARIO (a path, or a bundled name; default: mazur).

    Exits 1 when the independent verification finds a gradient that does not match.

    \b
    Example:
        bptrace run scenarios/mazur.yaml
        bptrace run ng_shallow --notation matrix
        bptrace run ng_shallow --format json > trace.json
        bptrace run mazur --format html -o mazur.html
    """
    from bptrace.model.scenario import may_declare_kind

    # -o is checked before the work, for every kind (an existing file needs --force, an input is never replaced)
    target = prepare_output(output, force, inputs=[scenario])
    if may_declare_kind(scenario):  # perhaps not a network: the other kinds' loaders decide
        from bptrace.cli import graph as cli_graph
        from bptrace.cli import layers as cli_layers
        from bptrace.cli import rnn as cli_rnn

        rnn = cli_rnn.rnn_scenario(scenario)
        if rnn is not None:  # kind: rnn (docs/rnn.md)
            return cli_rnn.run(rnn, fmt, digits, ascii_, verify_mode, fragment, output, notation, layer, step, math)
        stack = cli_layers.layers_scenario(scenario)
        if stack is not None:  # kind: layers (docs/layers.md)
            return cli_layers.run(
                stack, fmt, digits, ascii_, verify_mode, fragment, output, notation, layer, step, math
            )
        graph = cli_graph.graph_scenario(scenario)
        if graph is not None:  # kind: graph (docs/graphs.md)
            return cli_graph.run(graph, fmt, digits, ascii_, verify_mode, fragment, output, notation, layer, step, math)
    from bptrace.engine.step import trace as make_trace

    s = load_scenario(scenario)
    if layer is not None and layer > len(s.layers):
        count = len(s.layers)
        raise BptraceError(
            _("--layer {layer}: the network has {count} layers").format(layer=layer, count=count),
            hint=_("choose 1..{count}").format(count=count),
        )
    t = make_trace(s)
    verification = _verify(t, verify_mode)
    if fmt == "json":
        from bptrace.render.json_out import trace_json_chunks

        write_output(trace_json_chunks(t, verification, notation=notation), target)
    else:
        blocks = _run_blocks(t, notation, digits, layer, rows, verification, sketch=fmt == "terminal")
        if fmt == "terminal":
            from bptrace.render.terminal import BlocksView

            if step and not output:
                from bptrace.cli import lesson as cli_lesson

                cli_lesson.print_steps(BlocksView(blocks), ascii_)
            else:
                print_renderable(BlocksView(blocks), ascii_, target)
        else:
            from bptrace.render.export import export

            title = s.display_title()
            write_output(export(blocks, fmt, title=title, standalone=not fragment, math=math), target)
    if verification is not None and not verification.ok:
        raise Mismatch()


def _run_blocks(
    t: Any, notation: str, digits: int, layer: int | None, rows: int, verification: Any, sketch: bool = False
) -> list[Any]:
    """The blocks of `run`: header (and, in the terminal, a sketch of the network), the step in the chosen
    notation, the loss after it, the verification."""
    from bptrace.render.layout import SECTIONS, Para, TraceLayout

    layout = TraceLayout(t, digits=digits, layer=layer, rows=rows, verification=verification)
    head = list(layout.section_header())
    if sketch:
        from bptrace.i18n import _
        from bptrace.render.ascii_net import network_sketch

        head.append(
            Para(
                "\n" + network_sketch(t.scenario, t) + "\n" + _("(the network; values rounded to 4 digits here)"), "dim"
            )
        )
    if notation == "scalar":
        return head + [b for name in SECTIONS[1:] for b in getattr(layout, f"section_{name}")()]
    from bptrace.render.notation import notation_blocks

    middle = notation_blocks(t, notation, digits=digits, rows=rows, layer=layer)
    return [*head, *middle, *layout.section_after(), *layout.section_verification()]


def _verify(t: Any, mode: str) -> Any:
    if mode == "off":
        return None
    from bptrace.verify.verification import FULL_LIMIT, FULL_LIMIT_HARD, verify

    count = t.scenario.parameter_count()
    if mode == "full" and count > FULL_LIMIT_HARD:
        # SymPy's cost grows with the paths from each parameter to the loss: this would not finish
        raise BptraceError(
            _("--verify full on {count} parameters would take far too long (SymPy derives each one)").format(
                count=f"{count:,}"
            ),
            hint=_("use --verify sample (the default above {limit} parameters) or --verify off").format(
                limit=FULL_LIMIT
            ),
        )
    return verify(t, mode=None if mode == "auto" else mode)  # (verify spares SymPy's needless imports itself)


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="terminal",
    show_default=True,
    help="terminal: a name and a title a line; json: the list as data; markdown, latex, html: a document.",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@force_option
def scenarios(fmt: str, output: str | None, force: bool) -> None:
    """List the bundled scenarios with their titles.

    \b
    Example:
        bptrace scenarios
        bptrace scenarios --format json
        bptrace run ng_shallow
    """
    from bptrace.i18n import language
    from bptrace.model.scenario import bundled_entries, bundled_titles

    target = prepare_output(output, force)
    if fmt == "json":
        from bptrace.render.scenarios_out import scenarios_json

        write_output(scenarios_json(bundled_entries()), target)
        return
    if fmt != "terminal":
        from bptrace.render.export import export
        from bptrace.render.scenarios_out import scenarios_blocks

        blocks = scenarios_blocks(bundled_entries())
        write_output(export(blocks, fmt, title=_("bptrace: the bundled scenarios"), scan=True), target)
        return
    rows = bundled_titles()  # the titles in the language bptrace speaks (title_zh under --lang zh)
    width = max(len(name) for name, _ in rows)
    lines: list[str] = []
    if language() == "en":
        lines = [f"{name.ljust(width)}  {title}" for name, title in rows]
    else:
        import shutil

        from bptrace.cli.language import wrap_cells

        # a Chinese title is twice as wide as its characters: wrapped to the terminal's width (COLUMNS), under itself
        room = max(24, shutil.get_terminal_size((80, 24)).columns - width - 2)
        for name, title in rows:
            first, *rest = wrap_cells(title, room)
            lines.append(f"{name.ljust(width)}  {first}")
            lines += [" " * (width + 2) + line for line in rest]
    if target.kind != "stdout":
        write_output("".join(line + "\n" for line in lines), target)
        return
    for line in lines:
        click.echo(line)


@main.command()
@click.argument("scenario", required=False)
@click.option(
    "--vary",
    "vary",
    required=True,
    multiple=True,
    metavar="KEY=A,B[,...]",
    help="The convention to vary: loss, biases, reduction, hidden, learning_rate or l2 (one per comparison).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="terminal",
    show_default=True,
    help="terminal: rich tables; json: the comparison as data; markdown, latex, html: a document.",
)
@digits_option
@ascii_option
@click.option("--rows", type=click.IntRange(1), default=80, show_default=True, help="At most this many rows.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@force_option
def compare(
    scenario: str | None,
    vary: tuple[str, ...],
    fmt: str,
    digits: int,
    ascii_: bool,
    rows: int,
    output: str | None,
    force: bool,
) -> None:
    """Run the same step of SCENARIO under two or more conventions, and show what changes.

    \b
    KEY=VALUES:
      loss=half_sse,sse,mse,bce      which loss (bce needs a sigmoid output)
      biases=frozen,neuron,shared    biases not updated, one per neuron, one per layer
      reduction=mean,sum             1/m over the samples, or not
      hidden=original,updated        hidden δ through the original weights (right) or the updated ones (a mistake)
      learning_rate=0.5,0.1          η
      l2=0,0.5                       the L2 penalty λ

    \b
    Example:
        bptrace compare learner_004 --vary loss=half_sse,bce
        bptrace compare mazur --vary hidden=original,updated
        bptrace compare ng_shallow --vary reduction=mean,sum
    """
    from bptrace.explain.conventions import compare as run_compare
    from bptrace.explain.conventions import parse_vary

    if len(vary) > 1:
        # a grid of two conventions would hide which one made a difference: compare one at a time
        raise BptraceError(
            _("--vary given {count} times ({keys}): compare varies one convention at a time").format(
                count=len(vary), keys=", ".join(v.split("=")[0] for v in vary)
            ),
            hint=_("run 'bptrace compare' once for each --vary"),
        )
    target = prepare_output(output, force, inputs=[scenario])
    key, values = parse_vary(vary[0])
    comparison = run_compare(load_scenario(scenario), key, values)
    if fmt == "json":
        import json

        from bptrace.render.compare_out import comparison_data

        write_output(json.dumps(comparison_data(comparison), indent=1, ensure_ascii=False) + "\n", target)
        return
    from bptrace.render.compare_out import comparison_blocks

    blocks = comparison_blocks(comparison, digits=digits, rows=rows)
    if fmt == "terminal":
        from bptrace.render.terminal import BlocksView

        print_renderable(BlocksView(blocks), ascii_, target)
    else:
        from bptrace.render.export import export

        write_output(export(blocks, fmt, title=_("compare {key}").format(key=key), standalone=True), target)


add_lang_option(main)  # --lang on every command (cli/language.py); the lazy ones get it when loaded
main.lazy = dict(LAZY_COMMANDS)
