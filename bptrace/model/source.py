"""The only module that parses YAML (and JSON, which is read as YAML): text -> plain data + line marks.

PyYAML's safe composer builds a node tree that remembers where each node starts. We convert that tree
ourselves, so that
  * no object is ever constructed from a tag (`!!python/object` and any other non-standard tag is refused),
  * duplicate keys are an error instead of "last one wins",
  * a document of more than MAX_NODES values is refused while it is parsed (before its tree is built),
    and alias bombs after MAX_ALIAS_VALUES values reached through aliases,
  * numbers follow one grammar, YAML 1.2's core schema (see docs/scenarios.md): `017` is 17, `0x10` 16,
    `0o17` 15; `0b101`, `1_000`, `1:30`, `yes`, `on` are text (and so refused where a number or a
    true/false belongs), as answer sheets always read them,
  * text keeps no control characters: ESC is read as the four characters `\x1b` (bptrace.fmt.visible),
    so a title or a student's name cannot drive the teacher's terminal,
  * only regular files are read, and at most MAX_BYTES + 1 bytes of them (never /dev/zero or a FIFO),
  * every value keeps its 1-based line and column, for error messages that point into the file.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bptrace.errors import BptraceError
from bptrace.fmt import echo, visible

# The tags a plain YAML/JSON document resolves to; anything else was written explicitly by the author.
_STANDARD_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
}
MAX_NODES = 1_000_000  # values in a document: a 784-256-10 network has about 204,000
MAX_ALIAS_VALUES = 100_000  # values reached again through aliases (*name): refuses alias bombs quickly
MAX_BYTES = 50_000_000
MAX_INT_DIGITS = 4000  # Python refuses to convert longer decimal integers (4,300 digits)

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), the one number grammar
_NULL = re.compile(r"(?:~|null|Null|NULL|)\Z")
_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_INT = re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_FLOAT = re.compile(
    r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
)

PathKey = tuple[Any, ...]


def format_path(path: Iterable[Any]) -> str:
    """('layers', 1, 'activation') -> 'layers[1].activation' (indices 0-based, as in the file's order)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


@dataclass
class Document:
    """A parsed YAML/JSON document: plain Python data plus where each value came from."""

    data: Any
    file: str
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    # where each scalar value itself starts (marks point a key's errors at the key), and its YAML style:
    # "" plain, '"' or "'" quoted, "|" or ">" a block; for errors at a column inside a text value
    scalar_marks: dict[PathKey, tuple[int, int, str]] = field(default_factory=dict)
    error_class: type[BptraceError] = BptraceError

    def where(self, path: PathKey) -> tuple[int | None, int | None]:
        """The (line, column) of the value at `path`, or of its nearest parent that has one."""
        p = tuple(path)
        while True:
            if p in self.marks:
                return self.marks[p]
            if not p:
                return None, None
            p = p[:-1]

    def error(self, path: PathKey, message: str, hint: str | None = None) -> BptraceError:
        """An error pointing at the value at `path` (raise it)."""
        line, col = self.where(path)
        return self.error_class(
            message, file=self.file, line=line, column=col, path=format_path(path) or None, hint=hint
        )


def brief(value: Any, limit: int = 40) -> str:
    """repr(value), control characters visible, cut to `limit` characters: a message stays one short line."""
    return echo(value, limit)


def did_you_mean(word: str, choices: Iterable[str], n: int = 3) -> str | None:
    """'did you mean X?' for the closest of `choices`, or None."""
    close = difflib.get_close_matches(str(word), list(choices), n=n, cutoff=0.6)
    if not close and re.search(r"\d", str(word)):
        # a short numbered name (w9) is only 50% like its neighbours (w8): offer the names of the same shape
        # (the same letters around the numbers), the nearest numbers first
        def shape(name: str) -> str:
            return re.sub(r"\d+", "#", name)

        def numbers(name: str) -> list[int]:
            return [int(d) for d in re.findall(r"\d+", name)]

        want = numbers(str(word))
        same = [c for c in choices if shape(c) == shape(str(word))]
        same.sort(key=lambda c: sum(abs(a - b) for a, b in zip(numbers(c), want)))
        close = same[:n]
    if not close:
        return None
    from bptrace.i18n import _

    return _("did you mean {names}?").format(names=_(" or ").join(close))


def read_text(path: Path, error_class: type[BptraceError]) -> str:
    """Read a UTF-8 text file, turning every OS and decoding problem into a one-line error.

    Only a regular file is read (a device such as /dev/zero or /dev/urandom, a FIFO or a socket is
    refused at once, also through a symbolic link), and at most MAX_BYTES + 1 bytes of it.
    """
    import os
    import stat

    from bptrace import output

    shown = str(path)
    try:
        # O_NONBLOCK: opening a FIFO that has no writer returns at once instead of waiting for one
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise error_class("no such file", file=shown, hint="check the path") from None
    except IsADirectoryError:
        raise error_class("is a directory, not a file", file=shown, hint="give the path of a .yaml file") from None
    except PermissionError:
        raise error_class("cannot read the file: permission denied", file=shown) from None
    except OSError as exc:
        raise error_class(f"cannot read the file: {exc.strerror or exc}", file=shown) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error_class("is a directory, not a file", file=shown, hint="give the path of a .yaml file")
        if not stat.S_ISREG(st.st_mode):
            kind = "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file"
            kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else kind
            raise error_class(f"is {kind}, not a file", file=shown, hint="give the path of a .yaml file")
        if st.st_size > MAX_BYTES:
            raise error_class(f"file is too large ({st.st_size} bytes; at most {MAX_BYTES})", file=shown)
        output.remember_input(st)
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read(MAX_BYTES + 1)  # a file that grows while read is cut here, not read forever
    except OSError as exc:
        raise error_class(f"cannot read the file: {exc.strerror or exc}", file=shown) from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > MAX_BYTES:
        raise error_class(f"file is too large (more than {MAX_BYTES} bytes)", file=shown)
    if b"\x00" in raw:
        raise error_class("is a binary file, not YAML text", file=shown)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error_class(
            f"is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            file=shown,
            line=line,
            hint="save the file as UTF-8",
        ) from None
    return text


def parse(text: str, file: str, error_class: type[BptraceError]) -> Document:
    """Parse YAML or JSON text into a Document; every problem becomes `error_class` with a line."""
    import yaml

    loader = _loader()
    try:
        if len(text) >= 2 * MAX_NODES:  # a shorter text cannot hold more values ("1," is one)
            _count_values(text, loader, file, error_class)
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise error_class(
            f"invalid YAML: {problem}",
            file=file,
            line=line,
            column=col,
            hint="check the indentation and punctuation on that line",
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise error_class(
            f"invalid YAML: the control character U+{exc.character:04X} is not allowed",
            file=file,
            line=line,
            column=col,
            hint="remove it; YAML files are plain text",
        ) from None
    except yaml.YAMLError as exc:
        raise error_class("invalid YAML: " + " ".join(str(exc).split()), file=file) from None
    doc = Document(data=None, file=file, error_class=error_class)
    if root is None:
        raise error_class("the file is empty", file=file, line=1, hint="see docs/scenarios.md for the format")
    doc.data = _Converter(doc).convert(root, ())
    return doc


_TAG = "tag:yaml.org,2002:"
_CORE = re.compile(
    "|".join(
        f"(?P<{tag}>{regexp.pattern})"
        for tag, regexp in (("int", _INT), ("float", _FLOAT), ("null", _NULL), ("bool", _BOOL))
    )
)


def _loader() -> type:
    """A PyYAML loader (libyaml's C parser and composer when present) resolving YAML 1.2 core tags."""
    import yaml

    global _LOADER
    if _LOADER is not None:
        return _LOADER

    scalar, sequence = yaml.ScalarNode, yaml.SequenceNode

    class Core12Resolver(yaml.resolver.BaseResolver):
        """The tags of plain scalars as YAML 1.2's core schema resolves them (one regular expression
        per scalar: this runs for each of a large network's values)."""

        def descend_resolver(self, current_node: Any, current_index: Any) -> None:
            pass  # no path resolvers

        def ascend_resolver(self) -> None:
            pass

        def resolve(self, kind: Any, value: str, implicit: tuple[bool, bool]) -> str:
            if kind is scalar:
                if implicit[0]:
                    match = _CORE.match(value)
                    return _TAG + match.lastgroup if match and match.lastgroup else _TAG + "str"
                return _TAG + "str"
            return _TAG + ("seq" if kind is sequence else "map")

    parser: Any = getattr(getattr(yaml, "cyaml", None), "CParser", None)  # libyaml, if PyYAML has it
    if parser is not None:

        class Loader(parser, Core12Resolver):  # type: ignore[misc]
            def __init__(self, stream: str) -> None:
                parser.__init__(self, stream)
                Core12Resolver.__init__(self)

    else:

        class Loader(  # type: ignore[no-redef]
            yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, Core12Resolver
        ):
            def __init__(self, stream: str) -> None:
                yaml.reader.Reader.__init__(self, stream)
                yaml.scanner.Scanner.__init__(self)
                yaml.parser.Parser.__init__(self)
                yaml.composer.Composer.__init__(self)
                Core12Resolver.__init__(self)

    _LOADER = Loader
    return Loader


_LOADER: type | None = None


def _count_values(text: str, loader: type, file: str, error_class: type[BptraceError]) -> None:
    """Refuse a document of more than MAX_NODES values while reading its events, before any tree is built
    (a 47 MB file of 4 million keys is refused in about a second, in little memory)."""
    import yaml

    count = 0
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)):
            count += 1
            if count > MAX_NODES:
                raise error_class(
                    f"the document has more than {MAX_NODES:,} values",
                    file=file,
                    line=event.start_mark.line + 1 if event.start_mark else None,
                    hint="bptrace reads networks of up to about a million parameters",
                )


def load(path: Path, error_class: type[BptraceError], shown: str | None = None) -> Document:
    """Read and parse a file."""
    text = read_text(path, error_class)
    return parse(text, shown or str(path), error_class)


class _Converter:
    """Node tree -> plain data, recording marks; scalars by the YAML 1.2 core schema."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.seen: set[int] = set()
        self.alias_budget = MAX_ALIAS_VALUES

    def convert(self, node: Any, path: PathKey) -> Any:
        import yaml

        doc = self.doc
        if id(node) in self.seen:  # reached again through an alias: its values are counted again
            self.alias_budget -= 1
            if self.alias_budget < 0:
                raise doc.error_class(
                    f"the document repeats more than {MAX_ALIAS_VALUES} values through aliases (an alias bomb?)",
                    file=doc.file,
                    line=node.start_mark.line + 1,
                    hint="write the values out instead of repeating anchors",
                )
        else:
            self.seen.add(id(node))
        doc.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in _STANDARD_TAGS:
            raise doc.error(
                path,
                f"the tag {echo(node.tag)} is not allowed",
                hint="remove the tag; bptrace reads plain YAML values only",
            )
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise doc.error(path, "merge keys (<<) are not supported", hint="write the keys out")
                if not isinstance(key_node, yaml.ScalarNode):
                    raise doc.error(path, "a key must be a plain name, not a list or mapping")
                key = self.scalar(key_node, path)
                key = key if isinstance(key, str) else visible(key_node.value)
                if key in out:
                    first = doc.marks.get(path + (key,), (None, None))[0]
                    raise doc.error_class(
                        f"duplicate key {echo(key)} (first given on line {first})",
                        file=doc.file,
                        line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1,
                        path=format_path(path + (key,)),
                        hint="keep one of them",
                    )
                out[key] = self.convert(value_node, path + (key,))
                # Point a key's errors at the key itself, which is where editors put the cursor.
                doc.marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        doc.scalar_marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1, node.style or "")
        return self.scalar(node, path)

    def scalar(self, node: Any, path: PathKey) -> Any:
        """A scalar's value by its (standard) tag: the YAML 1.2 core schema, constructed here."""
        tag, value = node.tag.rsplit(":", 1)[-1], node.value
        if tag == "str":
            return visible(value, lines=True)
        if tag == "null" and (_NULL.match(value) or node.style):
            return None
        if tag == "bool" and _BOOL.match(value):
            return value.lower() == "true"
        if tag == "int" and _INT.match(value):
            if value.startswith(("0x", "0o")):  # unsigned, as the core schema writes them
                return int(value[2:], 16 if value[1] == "x" else 8)
            if len(value.lstrip("+-")) > MAX_INT_DIGITS:
                raise self.doc.error(
                    path,
                    f"the integer {echo(value)} has more digits than any value needs",
                    hint="write it in e-notation, such as 1e5",
                )
            return int(value, 10)
        if tag == "float" and _FLOAT.match(value):
            lowered = value.lower()
            return float(lowered.replace(".", "")) if lowered.endswith((".inf", ".nan")) else float(value)
        raise self.doc.error(path, f"{echo(value)} is not a {tag} (tagged !!{tag})", hint="remove the tag")


def as_number(doc: Document, path: PathKey, value: Any, what: str = "a number") -> float:
    """A finite float from a YAML value, or an error naming where it is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        shown = brief(value) if not isinstance(value, (dict, list)) else type(value).__name__
        raise doc.error(path, f"expected {what}, got {shown}", hint="write a plain decimal number such as 0.25 or 1e-3")
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise doc.error(path, f"expected {what}, got {brief(value)}", hint="NaN and infinity are not allowed")
    return x
