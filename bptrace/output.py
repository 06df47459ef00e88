"""The one writer of every file bptrace writes (`-o`, `--report`, `diagram -o`, `train --plot/--csv`).

Use it in two steps, so that a bad output path fails before the work, not after it:

    target = output.prepare("grades.csv", force=force, inputs=[sheet, scenario], option="--report")
    ...                                              # the work: marking, training, drawing
    output.write(target, text)                       # str, bytes, or an iterable of str or of bytes

`prepare(spelled, force=, inputs=, option=)` decides what `spelled` is and refuses, with a one-line
`BptraceError` (exit 2) naming the way out:
  * `None` or `"-"`: standard output (written as a stream, bytes to its buffer);
  * a character device or FIFO (`/dev/null`, `/dev/stdout`, a named pipe): written to as a stream, never
    replaced, even as root;
  * a folder, a path whose folder does not exist or cannot be written: refused at once;
  * an existing file: refused unless `force`; refused even with `force` when it is read-only (the owner
    meant it: `chmod u+w` it first), when it has other hard links (a rename would cut them, writing in
    place would not be atomic: remove it or write elsewhere), and when it is one of `inputs` or a file
    this command has read (`check b.yaml -o b.yaml` never replaces the student's sheet);
  * a symbolic link: written through to the file it points to (the link stays a link); the rules
    above apply to that file.
`make_folder(spelled)` makes the one folder a command writes several files into (`new --roster -o DIR`).
`distinct(*targets)` refuses two outputs of one command that are the same file.
`write(target, data)` writes a file atomically: a temporary file in the same folder, fsync, then a
rename onto the name (for a new name, a hard link that fails if someone created the name meanwhile).
A replaced file keeps its permission bits (600 stays 600) and, where allowed, its owner. The temporary
file is removed on any error and on SIGTERM (the process then exits 143); a full disk, a file-size
limit or a closed output is a one-line `BptraceError`. The file that was there is untouched until the
rename, so a reader sees the old file or the new one, never a part; two runs at once each write a
whole file and the last rename wins.

`streaming(target)` is the same for text produced while the work runs (train's CSV): a context
manager yielding `write(text)`; the file appears when the block ends without an error.

In a command (bptrace/cli): add `@force_option` and call `common.prepare_output(output, force,
inputs=[...], option="--report")` at the top, `common.write_output(text, target)` at the end (or
`print_renderable`); a CSV goes through `fmt.csv_text(rows)` / `fmt.csv_cell(cell)` first, so that no
cell is a spreadsheet formula.

`reading()` is the context the CLI runs a command in: every file the model's reader opens in it is
remembered (`remember_input`), and `write` refuses to replace any of them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from bptrace.errors import BptraceError
from bptrace.i18n import _, ngettext

Kind = Literal["stdout", "stream", "file"]
Data = str | bytes | Iterable[str] | Iterable[bytes]

_read_files: set[tuple[int, int]] | None = None  # (device, inode) of the files read in this command


@dataclass(frozen=True)
class Target:
    """Where an output goes: decided (and checked) by prepare, written by write."""

    spelled: str  # as the user wrote it, for messages
    kind: Kind
    path: Path | None = None  # for "file" and "stream": what to open (a symbolic link resolved)
    force: bool = False
    inputs: tuple[tuple[int, int], ...] = ()  # (device, inode) of the command's inputs


def _error(spelled: str, why: str, hint: str | None = None) -> BptraceError:
    return BptraceError(_("cannot write {file}: {why}").format(file=spelled, why=why), hint=hint)


def _identity(path: str | Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def prepare(
    spelled: str | None,
    *,
    force: bool = False,
    inputs: Iterable[str | Path | None] = (),
    option: str = "-o",
) -> Target:
    """Check an output path before the work (see the module docstring); returns what write needs."""
    if spelled is None or spelled == "-":
        return Target("-", "stdout")
    ids = tuple(i for i in (_identity(p) for p in inputs if p) if i is not None)
    shown = spelled
    path = Path(spelled)
    try:
        resolved = Path(os.path.realpath(path))
        st = os.stat(resolved)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _error(shown, exc.strerror or str(exc)) from None
    if st is not None:
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
            return Target(shown, "stream", resolved)
        if stat.S_ISDIR(st.st_mode):
            raise _error(shown, _("it is a folder"), hint=_("give {option} the name of a file").format(option=option))
        if not stat.S_ISREG(st.st_mode):
            raise _error(shown, _("it is not a regular file"), hint=_("choose another name"))
        target = Target(shown, "file", resolved, force, ids)
        _check_replace(target, st, option)
        return target
    folder = resolved.parent
    if not folder.is_dir():
        raise _error(
            shown,
            _("the folder {folder} does not exist").format(folder=folder),
            hint=_("create it first, or choose another folder"),
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _error(
            shown, _("the folder {folder} is not writable").format(folder=folder), hint=_("choose another folder")
        )
    return Target(shown, "file", resolved, force, ids)


def make_folder(spelled: str, option: str = "-o") -> None:
    """The folder a command writes several files into (`new --roster -o FOLDER`): made when it does not
    exist (its parent must), refused when it is a file; the files in it are then `prepare`d one by one."""
    path = Path(spelled)
    if path.is_dir():
        return
    if path.exists() or path.is_symlink():
        raise _error(
            spelled, _("it is not a folder"), hint=_("give {option} the name of a folder").format(option=option)
        )
    parent = path.resolve().parent
    if not parent.is_dir():
        raise _error(
            spelled,
            _("the folder {folder} does not exist").format(folder=parent),
            hint=_("create it first, or choose another folder"),
        )
    try:
        path.mkdir()
    except OSError as exc:
        raise _error(spelled, exc.strerror or str(exc), hint=_("choose another folder")) from None


def _check_replace(target: Target, st: os.stat_result, option: str) -> None:
    """Refuse to replace what must not be replaced (the command's own inputs, read-only files, ...)."""
    shown = target.spelled
    identity = (st.st_dev, st.st_ino)
    if identity in target.inputs or (_read_files is not None and identity in _read_files):
        raise _error(
            shown, _("it is one of this command's inputs"), hint=_("give {option} another name").format(option=option)
        )
    if not target.force:
        raise _error(shown, _("the file exists"), hint=_("add --force to replace it, or choose another name"))
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(target.path or "", os.W_OK):
        raise _error(
            shown,
            _("the file is read-only"),
            hint=_("make it writable (chmod u+w {file}) or choose another name").format(file=shown),
        )
    if st.st_nlink > 1:
        links = st.st_nlink - 1
        raise _error(
            shown,
            ngettext(
                "the file has {n} other hard link, which replacing it would cut",
                "the file has {n} other hard links, which replacing it would cut",
                links,
            ).format(n=links),
            hint=_("remove it first, or choose another name"),
        )
    folder = (target.path or Path(shown)).parent
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _error(
            shown, _("the folder {folder} is not writable").format(folder=folder), hint=_("choose another folder")
        )


def distinct(*targets: Target | None) -> None:
    """Refuse two outputs of one command that name the same file (`-o x.csv --report x.csv`)."""
    seen: dict[Path, str] = {}
    for target in targets:
        if target is None or target.kind != "file" or target.path is None:
            continue
        if target.path in seen:
            raise _error(
                target.spelled,
                _("{other} names the same file").format(other=seen[target.path]),
                hint=_("give each output its own name"),
            )
        seen[target.path] = target.spelled


def write(target: Target, data: Data) -> None:
    """Write `data` (text as UTF-8) to the target: stdout and devices as streams, files atomically."""
    if target.kind == "stdout":
        _write_stdout(data)
    elif target.kind == "stream":
        _write_stream(target, data)
    else:
        _write_file(target, data)


def write_to(spelled: str | None, data: Data, *, force: bool = False, inputs: Iterable[str | Path | None] = ()) -> None:
    """prepare and write at once (for outputs that need no work before them)."""
    write(prepare(spelled, force=force, inputs=inputs), data)


def _chunks(data: Data) -> Iterator[bytes]:
    pieces: Iterable[str | bytes] = [data] if isinstance(data, (str, bytes)) else data
    for piece in pieces:
        yield piece.encode("utf-8") if isinstance(piece, str) else piece


def _write_stdout(data: Data) -> None:
    stream = sys.stdout
    try:
        if isinstance(data, str):
            stream.write(data)
        elif isinstance(data, bytes):
            stream.flush()
            stream.buffer.write(data)
        else:
            for piece in data:
                if isinstance(piece, bytes):
                    stream.flush()
                    stream.buffer.write(piece)
                else:
                    stream.write(piece)
        stream.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise stream_error(_("the output"), exc) from None


def stream_error(what: str, exc: OSError) -> BptraceError:
    """A failed write as one line: a full disk, a size limit, a closed output."""
    why = {errno.ENOSPC: _("the disk is full"), errno.EFBIG: _("the file is too large (a file-size limit?)")}.get(
        exc.errno or 0, exc.strerror or str(exc)
    )
    return BptraceError(_("cannot write {file}: {why}").format(file=what, why=why))


def _write_stream(target: Target, data: Data) -> None:
    assert target.path is not None
    try:
        fd = os.open(target.path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise _error(target.spelled, exc.strerror or str(exc)) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in _chunks(data):
                fh.write(chunk)
    except OSError as exc:
        raise stream_error(target.spelled, exc) from None


class Terminated(BaseException):
    """SIGTERM arrived while a file was being written (the temporary file has been removed)."""


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """While the block runs, SIGTERM raises Terminated (so `finally` clauses run) instead of killing."""

    def handler(signum: int, frame: object) -> None:
        raise Terminated()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: signals cannot be caught here
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_file(target: Target, data: Data) -> None:
    with _atomic(target) as fh:
        for chunk in _chunks(data):
            fh.write(chunk)


@contextlib.contextmanager
def streaming(target: Target) -> Iterator[Callable[[str], None]]:
    """Write text piece by piece while the work runs (a CSV of a billion epochs): yields `write(text)`.

    A file is still atomic: it appears, whole, when the block ends without an error; an error or
    SIGTERM inside the block leaves the old file (or none) and no temporary file.
    """
    if target.kind == "stdout":
        yield _write_stdout
        return
    if target.kind == "stream":
        assert target.path is not None
        try:
            with open(target.path, "w", encoding="utf-8") as fh:

                def write_stream(text: str) -> None:
                    fh.write(text)

                yield write_stream
        except OSError as exc:
            raise stream_error(target.spelled, exc) from None
        return
    with _atomic(target) as raw:

        def write(text: str) -> None:
            raw.write(text.encode("utf-8"))

        yield write


@contextlib.contextmanager
def _atomic(target: Target) -> Iterator[BinaryIO]:
    """A binary file to write; on leaving the block it replaces the target (see the module docstring)."""
    assert target.path is not None
    path = target.path
    try:
        st: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise _error(target.spelled, exc.strerror or str(exc)) from None
    if st is not None:
        if not stat.S_ISREG(st.st_mode):  # it became a device or folder after prepare
            raise _error(target.spelled, _("it is no longer a regular file"))
        _check_replace(target, st, "-o")
    with _terminate_cleanly():
        temporary: str | None = None
        try:
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            if st is not None:
                os.chmod(temporary, stat.S_IMODE(st.st_mode))
                with contextlib.suppress(OSError):  # only root can give a file away
                    os.chown(temporary, st.st_uid, st.st_gid)
                os.replace(temporary, path)
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(temporary, 0o666 & ~umask)  # what an ordinary new file gets
                _place_new(temporary, path, target.spelled)
            temporary = None
            _sync_folder(path.parent)
        except OSError as exc:
            raise stream_error(target.spelled, exc) from None
        finally:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)


def _place_new(temporary: str, path: Path, spelled: str) -> None:
    """Give the complete temporary file its new name, failing if the name appeared meanwhile."""
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise _error(
            spelled, _("the file appeared while bptrace was working"), hint=_("run again with --force")
        ) from None
    except OSError:  # a file system without hard links
        os.replace(temporary, path)
        return
    os.unlink(temporary)


def _sync_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# ---- the files a command reads ---------------------------------------------------------------------


@contextlib.contextmanager
def reading() -> Iterator[None]:
    """Remember the files read while the block runs, so that write never replaces one of them."""
    global _read_files
    outer = _read_files
    _read_files = set()
    try:
        yield
    finally:
        _read_files = outer


def remember_input(st: os.stat_result) -> None:
    """Note a file the command read (called by the model's reader)."""
    if _read_files is not None:
        _read_files.add((st.st_dev, st.st_ino))
