"""What the commands share: printing, output files, common options, and the exit-status-1 signal.

cli.py and the cli_* modules import from here (not from each other), so any of them can be imported first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click

from bptrace import output
from bptrace.i18n import N_, _
from bptrace.output import Target

if TYPE_CHECKING:
    from bptrace.render.blocks import Block

DEFAULT_SCENARIO = "mazur"


def error_line(message: object) -> str:
    """The one line of an error on stderr, in the language bptrace speaks: `bptrace: error: MESSAGE`
    (`bptrace: 错误: …`)."""
    from bptrace.i18n import _

    return _("bptrace: error: {message}").format(message=message)


class Mismatch(Exception):
    """Raised by a command whose checks found something wrong: exit status 1 after its output."""


def console(ascii_: bool = False, file: Any = None) -> Any:
    """A rich Console for stdout; wide enough that tables are not squeezed when piped."""
    from rich.console import Console

    stream = file or sys.stdout
    terminal = hasattr(stream, "isatty") and stream.isatty()
    width = None if terminal or os.environ.get("COLUMNS") else 160
    c = Console(file=stream, width=width, highlight=False, soft_wrap=False)
    c.bptrace_ascii = ascii_  # type: ignore[attr-defined]
    # the automatic fallback: spell in ASCII only what this stream's encoding cannot carry (GBK keeps 王小明)
    c.bptrace_encoding = fallback_encoding(getattr(stream, "encoding", None))  # type: ignore[attr-defined]
    return c


def fallback_encoding(encoding: str | None) -> str | None:
    """None for a stream that carries every character (UTF-8, GB18030), else the encoding to fall back within."""
    import codecs

    try:
        name = codecs.lookup(encoding or "ascii").name
    except LookupError:
        return "ascii"
    return None if name.startswith("utf") or name == "gb18030" else name


def load_scenario(name: str | None, arrays: bool = True) -> Any:
    """The scenario named (mazur by default); arrays=False: numpy-free (model.scenario.from_document)."""
    from bptrace.model.scenario import load

    return load(name or DEFAULT_SCENARIO, arrays=arrays)


def prepare_output(
    spelled: str | None, force: bool = False, inputs: Iterable[str | None] = (), option: str = "-o"
) -> Target:
    """Check an output path before the work starts (bptrace.output.prepare): a missing folder, an
    existing file without --force, or one of the command's inputs fails now, not after the work."""
    from bptrace.model.scenario import is_path_like

    return output.prepare(spelled, force=force, inputs=[i for i in inputs if i and is_path_like(i)], option=option)


def write_output(text: str | bytes | Iterable[str], target: Target | str | None) -> None:
    """Write text (or text in pieces, for large JSON) to the prepared target (-o FILE, a device, stdout).

    A file is written atomically (bptrace.output): an error while writing never leaves a partial file.
    """
    if not isinstance(target, Target):
        target = output.prepare(target, force=True)
    output.write(target, text)


def force_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--force", is_flag=True, help="Replace output files that exist (never the command's own inputs)."
    )(f)


def math_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """--math latex|unicode: how Markdown writes formulas (render/markdown.py)."""
    return click.option(
        "--math",
        type=click.Choice(["latex", "unicode"]),
        default="latex",
        show_default=True,
        help="markdown: formulas as $…$ mathematics (GitHub, Jupyter, Typora, Zhihu) or as Unicode text.",
    )(f)


def digits_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--digits",
        type=click.IntRange(1, 17),
        default=9,
        show_default=True,
        help="Significant digits of the numbers shown.",
    )(f)


def ascii_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--ascii",
        "ascii_",
        is_flag=True,
        help="Write d, delta, sigma instead of ∂, δ, σ (automatic where Unicode cannot be shown).",
    )(f)


# ---- commands ----


def print_renderable(renderable: Any, ascii_: bool, target: Target | str | None) -> None:
    """Print a rich renderable to stdout, or to a file or device (as plain text)."""
    if not isinstance(target, Target):
        target = output.prepare(target, force=True)
    if target.kind != "stdout":
        import io

        buffer = io.StringIO()
        c = console(ascii_, file=buffer)
        c.bptrace_encoding = None  # a file is written in UTF-8
        emit(c, renderable)
        write_output(buffer.getvalue(), target)
        return
    emit(console(ascii_), renderable)


def emit(c: Any, renderable: Any) -> None:
    """Print a renderable through the terminal's rules: one minus sign, and the encoding's fallback."""
    import contextlib

    from bptrace.fmt import encodable, fallback, one_minus

    if getattr(c, "bptrace_ascii", False) and hasattr(renderable, "ascii"):
        renderable.ascii = True
    encoding = getattr(c, "bptrace_encoding", None)
    spelling: Any = contextlib.nullcontext()
    if encoding is not None:
        if hasattr(renderable, "ascii"):
            # the renderable spells, before laying out its tables, only what the encoding cannot carry
            renderable.ascii = True
        spelling = fallback(encoding, explicit=getattr(c, "bptrace_ascii", False))
    with spelling, c.capture() as captured:
        c.print(renderable)
    text = one_minus(captured.get())
    c.file.write(text if encoding is None else encodable(text, encoding))  # and whatever was written without asking


class FiniteFloat(click.FloatRange):
    """A float option that refuses nan, inf and numbers beyond float64 (1e400), as files do."""

    name = N_("finite float")

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        import math

        x = super().convert(value, param, ctx)
        if not math.isfinite(x):
            from bptrace.i18n import _

            message = _("{value} is not a finite number (NaN, infinity and 1e400 are not allowed)")
            self.fail(message.format(value=repr(value)), param, ctx)
        return x


def print_steps(renderable: Any, ascii_: bool) -> None:
    """`run --step`, `explain --step`: print one step at a time, waiting for a key between steps.

    A step ends with a table or a blank line (one table of `run`, one section of `explain`). Only when both
    standard input and output are terminals does it wait; piped or redirected, everything prints at once.
    """
    import sys

    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    from bptrace.render.terminal import GridView

    c = console(ascii_)
    if getattr(c, "bptrace_ascii", False) and hasattr(renderable, "ascii"):
        renderable.ascii = True
    steps: list[list[Any]] = [[]]
    for part in renderable.__rich_console__(c, c.options):
        steps[-1].append(part)
        if isinstance(part, (Table, GridView)) or (isinstance(part, Text) and not part.plain.strip()):
            steps.append([])
    steps = [s for s in steps if any(not (isinstance(p, Text) and not p.plain.strip()) for p in s)]
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    for k, parts in enumerate(steps):
        for part in parts:
            emit(c, part)
        if interactive and k < len(steps) - 1:
            prompt = _("step {k} of {n}: any key for the next, q to stop").format(k=k + 1, n=len(steps))
            c.print(Text(prompt, style="dim"), end="\r")
            key = click.getchar()
            c.print(" " * max(60, cell_len(prompt)), end="\r")
            if key in ("q", "Q", "\x1b", "\x03"):
                break


def show_blocks(
    blocks: list[Block],
    fmt: str,
    title: str,
    standalone: bool,
    ascii_: bool,
    output: str | None,
    step: bool = False,
    math: str = "latex",
) -> None:
    """Blocks in a format: the terminal (with --step, one step at a time), or a document (export.py) to output."""
    if fmt == "terminal":
        from bptrace.render.terminal import BlocksView

        if step and not output:
            print_steps(BlocksView(blocks, ascii=ascii_), ascii_)
        else:
            print_renderable(BlocksView(blocks, ascii=ascii_), ascii_, output)
    else:
        from bptrace.render.export import export

        write_output(export(blocks, fmt, title=title, standalone=standalone, math=math), output)


def report(
    fmt: str,
    data: Callable[[], str],
    blocks: Callable[[], list[Block]],
    title: str,
    standalone: bool,
    ascii_: bool,
    output: str | None,
    step: bool = False,
    math: str = "latex",
    agreed: bool = True,
) -> None:
    """How run, explain and check of a graph, an RNN or a layer stack end: the JSON text (`data`, for
    --format json) or the blocks in the format asked for (show_blocks), then exit status 1 (Mismatch)
    unless every check agreed. Only the one asked for is built."""
    if fmt == "json":
        write_output(data(), output)
    else:
        show_blocks(blocks(), fmt, title, standalone, ascii_, output, step, math)
    if not agreed:
        raise Mismatch()
