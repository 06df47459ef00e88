"""What the commands share: printing, output files, common options, and the exit-status-1 signal.

cli.py and the cli_* modules import from here (not from each other), so any of them can be imported first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

import click

from bptrace import output
from bptrace.i18n import N_, _
from bptrace.output import Target

if TYPE_CHECKING:
    from importlib.abc import Loader

    from bptrace.render.blocks import Block

DEFAULT_SCENARIO = "mazur"

# The libraries whose first import runs with the cyclic garbage collector paused (imports_uncollected)
HEAVY_IMPORTS = frozenset({"numpy", "sympy", "mpmath", "rich", "yaml"})


def imports_uncollected(command: Callable[..., Any]) -> Callable[..., Any]:
    """The command, its first imports of HEAVY_IMPORTS made with the cyclic garbage collector paused.

    Importing numpy, SymPy and rich makes tens of thousands of objects that live until the process ends
    (modules, classes, functions, their tables); the collector walked them about 190 times while they were
    being made (measured here: ≈ 65 ms of CPU in `bptrace run mazur`, more than all of its SymPy
    derivations, docs/performance.md). While the command runs, the first import of one of those packages
    finds it as always and runs it with the collector paused; when it ends, what exists is frozen
    (gc.freeze: the permanent generation, which no collection walks) and the collector is on again.
    Nothing else changes: other imports, later collections and every value are as before, and the finder
    leaves sys.meta_path when the command returns. With the collector already off (the caller's choice,
    or an outer paused import: SymPy's of mpmath) nothing is paused, frozen or turned on."""
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        finder = _PausingFinder()
        sys.meta_path.insert(0, finder)
        try:
            return command(*args, **kwargs)
        finally:
            if finder in sys.meta_path:
                sys.meta_path.remove(finder)

    return wrapper


class _PausingFinder:
    """sys.meta_path's first finder while an `imports_uncollected` command runs: it finds nothing itself;
    for a package of HEAVY_IMPORTS not imported yet, it takes the spec the other finders give and has its
    loader run the package with the collector paused (_PausingLoader)."""

    def __init__(self) -> None:
        self.finding = False

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in HEAVY_IMPORTS or self.finding:
            return None
        import importlib.util

        self.finding = True  # the other finders' spec, not ours again
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            self.finding = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        spec.loader = cast("Loader", _PausingLoader(spec.loader))
        return spec


class _PausingLoader:
    """The package's own loader, its exec_module run with the collector paused, then gc.freeze()."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Any:
        return self.loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        import gc

        module.__loader__ = self.loader  # the module shows its own loader, as if imported without this
        if module.__spec__ is not None:
            module.__spec__.loader = self.loader
        if not gc.isenabled():
            self.loader.exec_module(module)
            return
        gc.disable()
        try:
            self.loader.exec_module(module)
        finally:
            gc.freeze()
            gc.enable()


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


def load_scenario(name: str | None) -> Any:
    from bptrace.model.scenario import load

    return load(name or DEFAULT_SCENARIO)


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
