"""What the commands share: printing, output files, common options, and the exit-status-1 signal.

cli.py and the cli_* modules import from here (not from each other), so any of them can be imported first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from bptrace.errors import BptraceError

DEFAULT_SCENARIO = "mazur"


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


def write_output(text: str | Iterable[str], output: str | None) -> None:
    """Write text (or text in pieces, for large JSON) to a file (-o) or stdout.

    A file is written beside its final name and renamed into place only when complete, so an error
    while writing never leaves a partial file.
    """
    chunks = [text] if isinstance(text, str) else text
    if output and output != "-":
        import tempfile
        from pathlib import Path

        target = Path(output)
        try:
            fd, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp")
        except OSError as exc:
            raise BptraceError(f"cannot write {output}: {exc.strerror or exc}") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                for chunk in chunks:
                    fh.write(chunk)
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)  # the permissions an ordinary new file gets
            os.replace(temporary, target)
        except OSError as exc:
            raise BptraceError(f"cannot write {output}: {exc.strerror or exc}") from None
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    else:
        for chunk in chunks:
            click.echo(chunk, nl=False)


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


def print_renderable(renderable: Any, ascii_: bool, output: str | None) -> None:
    """Print a rich renderable to stdout or to a file (as plain text)."""
    if output and output != "-":
        import io

        buffer = io.StringIO()
        c = console(ascii_, file=buffer)
        c.bptrace_encoding = None  # a file is written in UTF-8
        emit(c, renderable)
        write_output(buffer.getvalue(), output)
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
