"""The only module that parses YAML (and JSON, which is read as YAML): text -> plain data + line marks.

PyYAML's safe composer builds a node tree that remembers where each node starts. We convert that tree
ourselves, so that
  * no object is ever constructed from a tag (`!!python/object` and any other non-standard tag is refused),
  * duplicate keys are an error instead of "last one wins",
  * a document of more than MAX_NODES values is refused while it is parsed (before its tree is built),
    and alias bombs after MAX_ALIAS_VALUES values reached through aliases,
  * a document nested more than MAX_DEPTH levels (lists and mappings, aliases followed) is refused: libyaml's
    composer recurses in C (100,000 levels of `[` crash the interpreter) and the converter in Python, so
    the depth is measured from the parser's events before a tree is composed,
  * numbers follow one grammar, YAML 1.2's core schema (see docs/scenarios.md): `017` is 17, `0x10` 16,
    `0o17` 15; `0b101`, `1_000`, `1:30`, `yes`, `on` are text (and so refused where a number or a
    true/false belongs), as answer sheets always read them,
  * text keeps no control characters: ESC is read as the four characters `\x1b` (bptrace.fmt.visible),
    so a title or a student's name cannot drive the teacher's terminal,
  * only regular files are read, and at most MAX_BYTES + 1 bytes of them (never /dev/zero or a FIFO),
  * every value keeps its 1-based line and column, for error messages that point into the file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from bptrace.errors import BptraceError
from bptrace.fmt import cut, echo, visible
from bptrace.i18n import N_, _

if TYPE_CHECKING:
    import yaml

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
MAX_DEPTH = 100  # levels of lists and mappings, the top one included: a C×H×W input in a sample is 6

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), the one number grammar
_NULL = re.compile(r"(?:~|null|Null|NULL|)\Z")
_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_INT = re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_FLOAT = re.compile(
    r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
)

# A value as the converter makes it: YAML 1.2's core schema (null, true/false, integers, floats, text),
# lists and mappings with text keys (a key that is not text is kept as its text, `1: x` as "1").
Yaml: TypeAlias = "None | bool | int | float | str | list[Yaml] | dict[str, Yaml]"
# Where a value stands: its keys and (0-based) indices from the top, ("layers", 1, "activation").
PathKey: TypeAlias = tuple[str | int, ...]


def format_path(path: Iterable[str | int]) -> str:
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

    data: Yaml
    file: str
    marks: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    # where each scalar value itself starts (marks point a key's errors at the key), and its YAML style:
    # "" plain, '"' or "'" quoted, "|" or ">" a block; for errors at a column inside a text value
    scalar_marks: dict[PathKey, tuple[int, int, str]] = field(default_factory=dict)
    error_class: type[BptraceError] = BptraceError
    # the values written with a Chinese input method's punctuation (`０．５`, `h1，h2`): path -> where the
    # first such character is; an error about one of these values names the character instead
    full_width: dict[PathKey, FullWidth] = field(default_factory=dict)
    # the composed YAML node tree (answers.py reads literal texts off it)
    root: yaml.Node | None = field(default=None, repr=False)

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
        """An error pointing at the value at `path` (raise it). A value written with full-width punctuation
        (`０．５`, `h1，h2`) gets the error that names the character, at its own line and column."""
        found = self.full_width.get(tuple(path))
        if found is not None:
            return found.error(self.error_class, self.file, format_path(path) or None)
        line, col = self.where(path)
        return self.error_class(
            message, file=self.file, line=line, column=col, path=format_path(path) or None, hint=hint
        )


def brief(value: object, limit: int = 40) -> str:
    """repr(value), control characters visible, cut to `limit` characters: a message stays one short line."""
    return echo(value, limit)


def did_you_mean(word: str, choices: Iterable[str], n: int = 3) -> str | None:
    """'did you mean X?' for the closest of `choices`, or None."""
    import difflib

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
    # TRANSLATORS: {names} is one name, or several joined by " or "
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
        raise error_class(_("no such file"), file=shown, hint=_("check the path")) from None
    except IsADirectoryError:
        raise error_class(
            _("is a directory, not a file"), file=shown, hint=_("give the path of a .yaml file")
        ) from None
    except PermissionError:
        raise error_class(_("cannot read the file: permission denied"), file=shown) from None
    except OSError as exc:
        raise error_class(_("cannot read the file: {why}").format(why=exc.strerror or exc), file=shown) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error_class(_("is a directory, not a file"), file=shown, hint=_("give the path of a .yaml file"))
        if not stat.S_ISREG(st.st_mode):
            if stat.S_ISFIFO(st.st_mode):
                kind = _("is a FIFO (named pipe), not a file")
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = _("is a device, not a file")
            else:
                kind = _("is not a regular file, not a file")
            raise error_class(kind, file=shown, hint=_("give the path of a .yaml file"))
        if st.st_size > MAX_BYTES:
            raise error_class(
                _("file is too large ({size} bytes; at most {limit})").format(size=st.st_size, limit=MAX_BYTES),
                file=shown,
            )
        output.remember_input(st)
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read(MAX_BYTES + 1)  # a file that grows while read is cut here, not read forever
    except OSError as exc:
        raise error_class(_("cannot read the file: {why}").format(why=exc.strerror or exc), file=shown) from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > MAX_BYTES:
        raise error_class(_("file is too large (more than {limit} bytes)").format(limit=MAX_BYTES), file=shown)
    if b"\x00" in raw:
        raise error_class(_("is a binary file, not YAML text"), file=shown)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise error_class(
            _("is not UTF-8 text (byte {byte} at offset {offset})").format(
                byte=f"0x{raw[exc.start]:02x}", offset=exc.start
            ),
            file=shown,
            line=line,
            hint=_("save the file as UTF-8"),
        ) from None
    return text


def parse(text: str, file: str, error_class: type[BptraceError]) -> Document:
    """Parse YAML or JSON text into a Document; every problem becomes `error_class` with a line."""
    import yaml

    loader = _loader()
    try:
        many = len(text) >= 2 * MAX_NODES  # a shorter text cannot hold more values ("1," is one)
        if many or _may_nest_deeper(text):
            _count_values(text, loader, file, error_class, count=many)
        root = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if mark is not None:
            found = full_width_near(text, mark.line + 1, mark.column + 1)
            if found is not None:
                raise found.error(error_class, file, None) from None
            said = exc.problem or ""
            tab = _tab_at(text, mark.line, mark.column) if "tab" in said or "cannot start any token" in said else None
            if tab is not None:  # libyaml says "found character that cannot start any token"
                raise error_class(
                    _("a tab where YAML needs spaces"),
                    file=file,
                    line=mark.line + 1,
                    column=tab + 1,
                    hint=_("indent with spaces only: replace the tab with spaces"),
                ) from None
        problem = exc.problem or exc.context or "invalid YAML"
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        if "maximum nesting depth" in problem:
            # libyaml's own limit (the one in PyYAML 6.0.4's wheels): its scanner looks ahead for a simple key,
            # so it stops at about 1,000 levels before the parser's events reach MAX_DEPTH for _count_values
            raise too_deep(error_class, file, line, col) from None
        raise error_class(
            _("invalid YAML: {problem}").format(problem=_(problem)),
            file=file,
            line=line,
            column=col,
            hint=_("check the indentation and punctuation on that line"),
        ) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        col = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise error_class(
            _("invalid YAML: the control character {code} is not allowed").format(code=f"U+{exc.character:04X}"),
            file=file,
            line=line,
            column=col,
            hint=_("remove it; YAML files are plain text"),
        ) from None
    except yaml.YAMLError as exc:
        raise error_class(_("invalid YAML: {problem}").format(problem=" ".join(str(exc).split())), file=file) from None
    doc = Document(data=None, file=file, error_class=error_class, root=root)
    if root is None:
        raise error_class(_("the file is empty"), file=file, line=1, hint=_("see docs/scenarios.md for the format"))
    doc.data = _Converter(doc, text).convert(root, (), 1)
    return doc


def _tab_at(text: str, line: int, column: int) -> int | None:
    """The 0-based column of the tab that made YAML fail at (line, column) (0-based): one in the line's
    indentation, or the character at the failure (`-<TAB>name`); None when there is none."""
    rows = text.split("\n")
    if line >= len(rows):
        return None
    row = rows[line]
    indent = row[: len(row) - len(row.lstrip(" \t"))]
    if "\t" in indent:
        return indent.index("\t")
    return column if row[column : column + 1] == "\t" else None


# The problems libyaml reports (PyYAML's C parser), translated where they are shown: `invalid YAML: {problem}`.
YAML_PROBLEMS = (
    N_("did not find expected ',' or ']'"),
    N_("did not find expected ',' or '}'"),
    N_("did not find expected key"),
    N_("did not find expected '-' indicator"),
    N_("did not find expected node content"),
    N_("did not find expected <document start>"),
    N_("did not find expected <stream-start>"),
    N_("did not find expected comment or line break"),
    N_("did not find expected whitespace or line break"),
    N_("did not find expected whitespace"),
    N_("did not find expected alphabetic or numeric character"),
    N_("did not find expected digit or '.' character"),
    N_("did not find expected hexdecimal number"),
    N_("did not find expected version number"),
    N_("did not find expected tag URI"),
    N_("did not find expected '!'"),
    N_("did not find the expected '>'"),
    N_("did not find URI escaped octet"),
    N_("could not find expected ':'"),
    N_("could not find expected directive name"),
    N_("mapping values are not allowed in this context"),
    N_("mapping keys are not allowed in this context"),
    N_("block sequence entries are not allowed in this context"),
    N_("found unexpected end of stream"),
    N_("found unexpected document indicator"),
    N_("found unexpected ':'"),
    N_("found unexpected non-alphabetical character"),
    N_("found character that cannot start any token"),
    N_("found a tab character that violates indentation"),
    N_("found a tab character where an indentation space is expected"),
    N_("found an indentation indicator equal to 0"),
    N_("found unknown escape character"),
    N_("found invalid Unicode character escape code"),
    N_("found unknown directive name"),
    N_("found undefined tag handle"),
    N_("found undefined alias"),
    N_("found duplicate anchor; first occurrence"),
    N_("found duplicate anchor; second occurrence"),
    N_("found duplicate %YAML directive"),
    N_("found duplicate %TAG directive"),
    N_("found incompatible YAML document"),
    N_("found extremely long version number"),
    N_("found an incorrect leading UTF-8 octet"),
    N_("found an incorrect trailing UTF-8 octet"),
    N_("expected a single document in the stream"),
    N_("but found another document"),
    N_("invalid YAML"),
)

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

        def descend_resolver(self, current_node: yaml.Node | None, current_index: object) -> None:
            pass  # no path resolvers

        def ascend_resolver(self) -> None:
            pass

        def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
            if kind is scalar:
                if implicit[0]:
                    match = _CORE.match(value)
                    return _TAG + match.lastgroup if match and match.lastgroup else _TAG + "str"
                return _TAG + "str"
            return _TAG + ("seq" if kind is sequence else "map")

    if getattr(yaml, "__with_libyaml__", False):  # libyaml, where PyYAML was built with it
        from yaml._yaml import CParser  # what yaml.cyaml.CParser is (cyaml does not export it to a checker)

        class Loader(CParser, Core12Resolver):
            def __init__(self, stream: str) -> None:
                CParser.__init__(self, stream)
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


def _may_nest_deeper(text: str) -> bool:
    """False when `text` cannot nest more than MAX_DEPTH levels, told by counting characters: every list or
    mapping is opened by a character of its own (`[`, `{`, a `-` followed by a space or a line break, a `:`
    or `?` of its first key), so a text with fewer of them cannot nest deeper."""
    openers = text.count("[") + text.count("{") + text.count(":") + text.count("?")
    openers += text.count("- ") + text.count("-\n") + text.count("-\t") + text.count("-\r") + text.endswith("-")
    return openers > MAX_DEPTH


def _count_values(text: str, loader: type, file: str, error_class: type[BptraceError], count: bool = True) -> None:
    """Refuse, while reading the parser's events and before any tree is built, a document nested more than
    MAX_DEPTH levels and (with `count`) one of more than MAX_NODES values (a 47 MB file of 4 million keys is
    refused in about a second, in little memory). libyaml's parser keeps its own stack: the events of
    100,000 levels come without recursion."""
    import yaml

    values = depth = 0
    starts, ends = (yaml.SequenceStartEvent, yaml.MappingStartEvent), (yaml.SequenceEndEvent, yaml.MappingEndEvent)
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, starts):
            depth += 1
            if depth > MAX_DEPTH:
                mark = event.start_mark
                raise too_deep(error_class, file, mark.line + 1 if mark else None, mark.column + 1 if mark else None)
        elif isinstance(event, ends):
            depth -= 1
        if count and isinstance(event, (yaml.ScalarEvent, *starts, yaml.AliasEvent)):
            values += 1
            if values > MAX_NODES:
                raise error_class(
                    _("the document has more than {limit} values").format(limit=f"{MAX_NODES:,}"),
                    file=file,
                    line=event.start_mark.line + 1 if event.start_mark else None,
                    hint=_("bptrace reads networks of up to about a million parameters"),
                )


def too_deep(error_class: type[BptraceError], file: str, line: int | None, column: int | None = None) -> BptraceError:
    """The error for a document nested more than MAX_DEPTH levels, at the list or mapping one too deep."""
    return error_class(
        _("the document nests lists and mappings more than {limit} levels deep").format(limit=MAX_DEPTH),
        file=file,
        line=line,
        column=column,
        hint=_("remove the extra brackets; a scenario, sheet or key needs a few levels"),
    )


def load(path: Path, error_class: type[BptraceError], shown: str | None = None) -> Document:
    """Read and parse a file."""
    text = read_text(path, error_class)
    return parse(text, shown or str(path), error_class)


class _Converter:
    """Node tree -> plain data, recording marks; scalars by the YAML 1.2 core schema."""

    def __init__(self, doc: Document, text: str = "") -> None:
        self.doc = doc
        self.text = text
        self.seen: set[int] = set()
        self.alias_budget = MAX_ALIAS_VALUES

    def convert(self, node: yaml.Node, path: PathKey, depth: int) -> Yaml:
        import yaml

        doc = self.doc
        if depth > MAX_DEPTH and not isinstance(node, yaml.ScalarNode):  # deeper than the events: through aliases
            raise too_deep(doc.error_class, doc.file, node.start_mark.line + 1, node.start_mark.column + 1)
        if id(node) in self.seen:  # reached again through an alias: its values are counted again
            self.alias_budget -= 1
            if self.alias_budget < 0:
                raise doc.error_class(
                    _("the document repeats more than {limit} values through aliases (an alias bomb?)").format(
                        limit=MAX_ALIAS_VALUES
                    ),
                    file=doc.file,
                    line=node.start_mark.line + 1,
                    hint=_("write the values out instead of repeating anchors"),
                )
        else:
            self.seen.add(id(node))
        doc.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if node.tag not in _STANDARD_TAGS:
            raise doc.error(
                path,
                _("the tag {tag} is not allowed").format(tag=echo(node.tag)),
                hint=_("remove the tag; bptrace reads plain YAML values only"),
            )
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Yaml] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise doc.error(path, _("merge keys (<<) are not supported"), hint=_("write the keys out"))
                if not isinstance(key_node, yaml.ScalarNode):
                    raise doc.error(path, _("a key must be a plain name, not a list or mapping"))
                found = self.full_width(key_node) if _FULL_WIDTH_CHAR.search(key_node.value) else None
                if found is not None:  # a key is a name: `learning_rate：0.5` in a flow mapping, `　inputs`
                    raise found.error(doc.error_class, doc.file, format_path(path) or None)
                key = self.scalar(key_node, path)
                key = key if isinstance(key, str) else visible(key_node.value)
                if key in out:
                    first = doc.marks.get(path + (key,), (None, None))[0]
                    raise doc.error_class(
                        _("duplicate key {key} (first given on line {line})").format(key=echo(key), line=first),
                        file=doc.file,
                        line=key_node.start_mark.line + 1,
                        column=key_node.start_mark.column + 1,
                        path=format_path(path + (key,)),
                        hint=_("keep one of them"),
                    )
                out[key] = self.convert(value_node, path + (key,), depth + 1)
                # Point a key's errors at the key itself, which is where editors put the cursor.
                doc.marks[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)  # the composer makes mappings, sequences and scalars only
        doc.scalar_marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1, node.style or "")
        found = self.full_width(node) if _FULL_WIDTH_CHAR.search(node.value) else None
        if found is not None:
            if not node.style and _CORE.fullmatch(found.fixed or "-") is not None:
                # a number typed with full-width digits or punctuation (０．５, 0。5, －1): never read as a number,
                # wherever it stands (an answer sheet's answers are read as exact decimals elsewhere)
                raise found.error(doc.error_class, doc.file, format_path(path) or None)
            doc.full_width[path] = found
        return self.scalar(node, path)

    def full_width(self, node: yaml.ScalarNode) -> FullWidth | None:
        """Where a scalar typed in ASCII through a Chinese input method has its first full-width character
        (`０．５`, `h1，h2`, `i1：0.05`); None for any other scalar, Chinese text included (`反向传播：一步`)."""
        value = node.value
        if not isinstance(value, str) or _FULL_WIDTH_CHAR.search(value) is None or _has_chinese_text(value):
            return None
        start, end = node.start_mark.index, node.end_mark.index
        match = _FULL_WIDTH_CHAR.search(self.text, start, end) if 0 <= start < end <= len(self.text) else None
        if match is not None:  # where the character is in the file, whatever the scalar's style
            line, column = _line_column(self.text, match.start())
            indent = _at_line_start(self.text, match.start())
        else:
            first = _FULL_WIDTH_CHAR.search(value)
            assert first is not None
            match, indent = first, False
            line, column = node.start_mark.line + 1, node.start_mark.column + 1 + first.start()
        return FullWidth(match.group(0), line, column, ascii_spelling(value), indent)

    def scalar(self, node: yaml.ScalarNode, path: PathKey) -> Yaml:
        """A scalar's value by its (standard) tag: the YAML 1.2 core schema, constructed here."""
        tag, value = node.tag.rsplit(":", 1)[-1], str(node.value)
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
                    _("the integer {value} has more digits than any value needs").format(value=echo(value)),
                    hint=_("write it in e-notation, such as 1e5"),
                )
            return int(value, 10)
        if tag == "float" and _FLOAT.match(value):
            lowered = value.lower()
            return float(lowered.replace(".", "")) if lowered.endswith((".inf", ".nan")) else float(value)
        raise self.doc.error(
            path,
            _("{value} is not a {tag} (tagged !!{tag})").format(value=echo(value), tag=tag),
            hint=_("remove the tag"),
        )


def as_number(doc: Document, path: PathKey, value: object, what: str = N_("a number")) -> float:
    """A finite float from a YAML value, or an error naming where it is. `what` is an English message marked
    with N_() (translated here): "a positive learning rate"."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        shown = brief(value) if not isinstance(value, (dict, list)) else type(value).__name__
        raise doc.error(
            path,
            _("expected {what}, got {value}").format(what=_(what), value=shown),
            hint=_("write a plain decimal number such as 0.25 or 1e-3"),
        )
    try:
        x = float(value)
    except OverflowError:
        x = math.inf
    if not math.isfinite(x):
        raise doc.error(
            path,
            _("expected {what}, got {value}").format(what=_(what), value=brief(value)),
            hint=_("NaN and infinity are not allowed"),
        )
    return x


# ---- full-width punctuation ---------------------------------------------------------------------
# A Chinese input method types full-width punctuation: `learning_rate：0.5`, `[0.05，0.10]`, `０．５`. Where
# bptrace reads a number, a name or YAML's own punctuation, such a character is refused with a message
# naming it, at its own line and column; in text (a title, a student's name) it is kept (docs/errors.md).
_BRACKET = N_("full-width bracket {char} (U+{code}): write {ascii}")
_DIGIT = N_("full-width digit {char} (U+{code}): write {ascii}")
_INDENT = N_("ideographic space (U+{code}) used as indentation: indent with ordinary spaces")
FULL_WIDTH: dict[str, tuple[str, str]] = {
    "：": (":", N_("full-width colon {char} (U+{code}): write ':' followed by a space")),
    "，": (",", N_("full-width comma {char} (U+{code}): write ','")),
    "、": (",", N_("ideographic comma {char} (U+{code}): write ','")),
    "．": (".", N_("full-width full stop {char} (U+{code}): write '.'")),
    "。": (".", N_("ideographic full stop {char} (U+{code}): write '.'")),
    "－": ("-", N_("full-width minus {char} (U+{code}): write '-'")),
    "＋": ("+", N_("full-width plus {char} (U+{code}): write '+'")),
    "＃": ("#", N_("full-width number sign {char} (U+{code}): write '#' to start a comment")),
    "\u3000": (" ", N_("ideographic space (U+{code}): write an ordinary space")),
    **{b: (a, _BRACKET) for b, a in zip("［］｛｝（）【】", "[]{}()[]")},
    **{chr(0xFF10 + d): (str(d), _DIGIT) for d in range(10)},
}
_FULL_WIDTH_CHAR = re.compile("[" + re.escape("".join(FULL_WIDTH)) + "]")
_SPACED = {"：", "，", "、"}  # written with a space after them in YAML's flow style: `a: 1`, `[1, 2]`


@dataclass(frozen=True)
class FullWidth:
    """A full-width character where YAML or bptrace needs an ASCII one, and where it is."""

    char: str
    line: int
    column: int
    fixed: str  # the text with ASCII punctuation, for the hint ("" when it would not help)
    indent: bool = False  # an ideographic space at the start of a line

    def message(self) -> str:
        ascii_, template = FULL_WIDTH[self.char]
        if self.indent and self.char == "\u3000":
            template = _INDENT
        return _(template).format(char=f"'{self.char}'", code=f"{ord(self.char):04X}", ascii=f"'{ascii_}'")

    def error(self, error_class: type[BptraceError], file: str, path: str | None) -> BptraceError:
        hint = _("did you mean {names}?").format(names=self.fixed) if self.fixed else None
        return error_class(self.message(), file=file, line=self.line, column=self.column, path=path, hint=hint)


def ascii_spelling(text: str) -> str:
    """`text` with its full-width punctuation in ASCII (`i1：0.05` -> `i1: 0.05`), cut to a short hint;
    "" when that leaves nothing to show."""
    out = []
    for k, ch in enumerate(text):
        ascii_ = FULL_WIDTH.get(ch, (ch, ""))[0]
        following = text[k + 1 : k + 2]
        out.append(ascii_ + " " if ch in _SPACED and following and not following.isspace() else ascii_)
    fixed = " ".join("".join(out).split())
    return cut(fixed) if fixed.isascii() else ""


def _has_chinese_text(text: str) -> bool:
    """True when `text` holds Chinese (or other wide) characters besides the full-width punctuation."""
    import unicodedata

    return any(unicodedata.east_asian_width(ch) in "WF" and ch not in FULL_WIDTH for ch in text if ord(ch) > 0x2000)


def _line_column(text: str, index: int) -> tuple[int, int]:
    """The 1-based line and column of the character at `index` of `text`."""
    return text.count("\n", 0, index) + 1, index - (text.rfind("\n", 0, index) + 1) + 1


def _at_line_start(text: str, index: int) -> bool:
    return not text[text.rfind("\n", 0, index) + 1 : index].strip(" \t\u3000")


def full_width_near(text: str, line: int, column: int, lines_before: int = 2) -> FullWidth | None:
    """The full-width character that most likely made YAML fail at (line, column): the last one before
    that point on the line or the `lines_before` lines above it (`learning_rate：0.5` fails on the next
    line), outside comments and quoted text, on a line without Chinese text (`title: 反向传播：一步` is text)."""
    if _FULL_WIDTH_CHAR.search(text) is None:
        return None
    rows = text.split("\n")
    best: FullWidth | None = None
    for number in range(max(1, line - lines_before), min(line, len(rows)) + 1):
        content = _code_part(rows[number - 1])
        if _has_chinese_text(content):
            continue
        for match in _FULL_WIDTH_CHAR.finditer(content):
            col = match.start() + 1
            if number == line and col > column and best is not None:
                break
            indent = not content[: match.start()].strip(" \t\u3000")
            best = FullWidth(match.group(0), number, col, ascii_spelling(content.strip(" \t\u3000")), indent)
            if number == line and col > column:
                break
    return best


def _code_part(row: str) -> str:
    """A line without its comment and with its quoted text blanked (same length: columns stay)."""
    out = []
    quote = ""
    for k, ch in enumerate(row):
        if quote:
            out.append(" ")
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'" and (k == 0 or row[k - 1] in " \t[{,:-"):
            quote = ch
            out.append(" ")
            continue
        if ch in "#＃" and (k == 0 or row[k - 1] in " \t\u3000"):
            if ch == "＃":
                out.append(ch)  # a full-width number sign meant as a comment: the character to name
            break
        out.append(ch)
    return "".join(out)
