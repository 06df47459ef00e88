"""The only module that parses YAML (and JSON, which is read as YAML): text -> plain data + line marks.

PyYAML's safe composer builds a node tree that remembers where each node starts. We convert that tree
ourselves, so that
  * no object is ever constructed from a tag (`!!python/object` and any other non-standard tag is refused),
  * duplicate keys are an error instead of "last one wins",
  * alias bombs are refused after a bounded number of expanded nodes,
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
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")
MAX_NODES = 200_000  # more expanded nodes than any sane scenario has: refuses alias bombs quickly
MAX_BYTES = 50_000_000

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
    """repr(value), cut to `limit` characters: an error message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    return "did you mean " + " or ".join(close) + "?"


def read_text(path: Path, error_class: type[BptraceError]) -> str:
    """Read a UTF-8 text file, turning every OS and decoding problem into a one-line error."""
    shown = str(path)
    try:
        if path.is_dir():
            raise error_class("is a directory, not a file", file=shown, hint="give the path of a .yaml file")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise error_class("no such file", file=shown, hint="check the path") from None
    except PermissionError:
        raise error_class("cannot read the file: permission denied", file=shown) from None
    except OSError as exc:
        raise error_class(f"cannot read the file: {exc.strerror or exc}", file=shown) from None
    if len(raw) > MAX_BYTES:
        raise error_class(f"file is too large ({len(raw)} bytes; at most {MAX_BYTES})", file=shown)
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

    try:
        # The C composer (libyaml) when PyYAML has it: the same node tree and marks, much faster.
        root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
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


def load(path: Path, error_class: type[BptraceError], shown: str | None = None) -> Document:
    """Read and parse a file."""
    text = read_text(path, error_class)
    return parse(text, shown or str(path), error_class)


class _Converter:
    """Node tree -> plain data, recording marks; one SafeConstructor for the scalars of a document."""

    def __init__(self, doc: Document) -> None:
        import yaml

        self.doc = doc
        self.budget = MAX_NODES
        self.constructor = yaml.constructor.SafeConstructor()

    def convert(self, node: Any, path: PathKey) -> Any:
        import yaml

        doc = self.doc
        self.budget -= 1
        if self.budget < 0:
            raise doc.error_class(
                f"the document expands to more than {MAX_NODES} values (an alias bomb?)",
                file=doc.file,
                line=node.start_mark.line + 1,
                hint="write the values out instead of repeating anchors",
            )
        doc.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in _STANDARD_TAGS:
            raise doc.error(
                path,
                f"the tag {node.tag!r} is not allowed",
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
                key = key if isinstance(key, str) else key_node.value
                if key in out:
                    first = doc.marks.get(path + (key,), (None, None))[0]
                    raise doc.error_class(
                        f"duplicate key {key!r} (first given on line {first})",
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
        import yaml

        if not node.style and node.tag == "tag:yaml.org,2002:str" and _NUMBER.fullmatch(node.value):
            return float(node.value)  # YAML 1.1 reads 1e-3 as text; YAML 1.2 and every user read a number
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise self.doc.error(path, f"cannot read the value {node.value!r}: {exc}") from None


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
        raise doc.error(path, f"expected {what}, got {value!r}", hint="NaN and infinity are not allowed")
    return x
