"""Graph scenarios (`kind: graph`): the parsed YAML document -> a validated GraphScenario and its gates.

    kind: graph
    title: CS231n's circuit
    values: {x: -2, y: 5, z: -4}
    define:                 # optional named intermediates, in order
      q: x + y
    output: f = q * z
    learning_rate: 0.1      # optional: then the chosen values are updated
    update: [x, y, z]

Each expression is parsed by expression.py (never evaluated as code); each operator or function call becomes
one gate, in evaluation order. A define names the gate at the top of its expression; the other gates get the
automatic names g1, g2, ... (skipping names the file uses). Every error names file:line:column.
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass
from typing import Any, Literal

from bptrace.errors import ScenarioError
from bptrace.graph import expression as ex
from bptrace.i18n import N_, _
from bptrace.model import source
from bptrace.model.kinds import COMMON_KEYS, read_document
from bptrace.model.kinds import shown as shown  # re-exported: the title and source as the reader reads them
from bptrace.model.kinds import text_value as _text
from bptrace.model.source import Document, PathKey, as_number, brief, did_you_mean

KIND = "graph"
TOP_KEYS = (
    *COMMON_KEYS,
    "values",
    "define",
    "output",
    "learning_rate",
    "update",
)
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_GATES = 400

Op = Literal[
    "add", "sub", "mul", "div", "pow", "neg", "id", "exp", "log", "sqrt", "abs", "max", "min", "sigmoid", "tanh", "relu"
]
BINARY_OPS: dict[str, Op] = {"+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow"}
# what each op's gate is called (marked for translation: shown with _(OP_NAMES[op]))
OP_NAMES: dict[str, str] = {
    "add": N_("add gate"),
    "sub": N_("subtract gate"),
    "mul": N_("multiply gate"),
    "div": N_("divide gate"),
    "pow": N_("power gate"),
    "neg": N_("negate gate"),
    "id": N_("copy"),
    "exp": N_("exp gate"),
    "log": N_("log gate"),
    "sqrt": N_("sqrt gate"),
    "abs": N_("abs gate"),
    "max": N_("max gate"),
    "min": N_("min gate"),
    "sigmoid": N_("sigmoid gate"),
    "tanh": N_("tanh gate"),
    "relu": N_("relu gate"),
}

DEFAULT_TITLE = N_("a computational graph")  # the title of a file that gives none
# The titles and sources of the bundled graph scenarios, marked for translation: the scenario keeps the
# English text as the file writes it (the JSON shows it), and `shown` puts it in the language bptrace speaks.
# A user's own file keeps its text as written (unless it copies a bundled title word for word).
# tests/test_zh_graph.py fails when a bundled file's title or source is not listed here.
BUNDLED_TEXTS = (
    N_("CS231n's circuit: f = (x + y)·z"),
    N_(
        "Stanford CS231n, Convolutional Neural Networks for Visual Recognition, course notes: Backpropagation, "
        "Intuitions (the simple example f(x, y, z) = (x + y)z)"
    ),
    N_("CS231n's max circuit: f = 2·(x·y + max(z, w))"),
    N_(
        "Stanford CS231n, Convolutional Neural Networks for Visual Recognition, course notes: Backpropagation, "
        "Intuitions (patterns in backward flow: add, max and multiply gates)"
    ),
    N_("A reused variable: f = (x·y + x)·x, where the gradients of x's three uses add up"),
    N_(
        "Written for bptrace: the rule CS231n's notes state as 'gradients add up at forks' (Backpropagation, "
        "Intuitions), and micrograd's accumulation of gradients (karpathy/micrograd, engine.py)"
    ),
    N_("CS231n's sigmoid neuron, written out gate by gate"),
    N_(
        "Stanford CS231n, Convolutional Neural Networks for Visual Recognition, course notes: Backpropagation, "
        "Intuitions (the two-dimensional neuron with a sigmoid activation, w = [2, -3, -3], x = [-1, -2])"
    ),
)


@dataclass(frozen=True)
class Gate:
    """One operation of the graph: `name = op(operands)`; an operand is a node's name or a constant."""

    name: str
    op: Op
    operands: tuple[str | float, ...]
    named: bool  # True when the file names it (a define, or the output)
    line: int | None = None
    column: int | None = None

    @property
    def inputs(self) -> list[str]:
        """The names of the nodes it reads (constants left out), in operand order, repeats kept."""
        return [o for o in self.operands if isinstance(o, str)]

    def formula(self) -> ex.Expr:
        """The gate as an expression of its operands: q = x + y -> Binary('+', x, y)."""
        args: list[ex.Expr] = [ex.Name(o) if isinstance(o, str) else ex.Num(o, repr(o)) for o in self.operands]
        if self.op in ("add", "sub", "mul", "div", "pow"):
            symbol = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}[self.op]
            return ex.Binary(symbol, args[0], args[1])  # type: ignore[arg-type]
        if self.op == "neg":
            return ex.Neg(args[0])
        if self.op == "id":
            return args[0]
        return ex.Call(self.op, tuple(args))


@dataclass(frozen=True)
class GraphScenario:
    """A validated computational graph: values, gates in evaluation order, the output, the update. Immutable."""

    title: str
    source_note: str
    file: str
    values: dict[str, float]  # the variables, in the file's order
    gates: tuple[Gate, ...]  # in evaluation order; the last is the output
    defined: tuple[str, ...]  # the names of the define: entries, in order
    expressions: dict[str, str]  # name (a define or the output) -> the expression as written
    learning_rate: float | None = None
    update: tuple[str, ...] = ()
    title_zh: str = ""  # title_zh: and source_zh:, shown under --lang zh (bptrace.model.scenario.in_language)
    source_zh: str = ""

    kind = KIND

    def display_title(self) -> str:
        """The title in the language bptrace speaks (title_zh under --lang zh), as Scenario.display_title."""
        from bptrace.model.scenario import in_language

        return in_language(self.title, self.title_zh)

    def display_source(self) -> str:
        from bptrace.model.scenario import in_language

        return in_language(self.source_note, self.source_zh)

    @property
    def output(self) -> str:
        return self.gates[-1].name

    def gate(self, name: str) -> Gate:
        return next(g for g in self.gates if g.name == name)

    def node_names(self) -> list[str]:
        """Every node: the variables, then the gates in evaluation order."""
        return [*self.values, *(g.name for g in self.gates)]

    def uses(self, name: str) -> list[tuple[str, int]]:
        """(gate, operand index) for every place node `name` is read, in evaluation order."""
        return [(g.name, i) for g in self.gates for i, o in enumerate(g.operands) if o == name]


# ---- finding and loading ----


def _sniff(text: str) -> bool:
    """Cheap test before a full parse: could this text declare a kind at all?"""
    return "kind" in text


def load_document(name: str) -> Document | None:
    """The parsed document of scenario `name` (bundled name or path) when it declares `kind: graph`, else None."""
    doc = read_document(name, _sniff)  # None: no bundled name and no path (the network loader reports it)
    if doc is None or not isinstance(doc.data, dict) or "kind" not in doc.data:
        return None
    kind = doc.data["kind"]
    if kind == KIND:
        return doc
    if kind == "rnn":
        return None  # a recurrent network: bptrace.rnn reads it
    if kind == "layers":
        return None  # a stack of layers (bptrace.layers); the network loader names it
    raise doc.error(
        ("kind",),
        _("unknown kind {kind}").format(kind=brief(kind)),
        hint=did_you_mean(str(kind), (KIND, "rnn", "layers"))
        or did_you_mean(str(kind).lower(), (KIND, "rnn", "layers"))  # RNN: difflib compares letter cases
        or _("kind is graph, rnn or layers; leave it out for a network"),
    )


def graph_or_none(name: str | None) -> GraphScenario | None:
    """The GraphScenario of `name` if that file is a graph (kind: graph), else None (a network, or the default)."""
    if name is None:
        return None
    doc = load_document(name)
    return None if doc is None else from_document(doc)


def load(name: str) -> GraphScenario:
    """Load a graph scenario by bundled name or path (an error if the file is not `kind: graph`)."""
    doc = load_document(name)
    if doc is None:
        raise ScenarioError(
            _("{name} is not a graph scenario").format(name=name), hint=_("a graph scenario starts with 'kind: graph'")
        )
    return from_document(doc)


def loads(text: str, file: str = "<string>") -> GraphScenario:
    """Validate a graph scenario given as YAML or JSON text."""
    return from_document(source.parse(text, file, ScenarioError))


def is_graph_text(text: str) -> bool:
    """True when a bundled file's text declares `kind: graph` on a top-level line (no YAML parse)."""
    return re.search(r"(?m)^kind:\s*['\"]?graph['\"]?\s*(#.*)?$", text) is not None


# ---- validation ----


def from_document(doc: Document) -> GraphScenario:
    """Validate a parsed `kind: graph` document; every problem names file:line:column."""
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), _("a graph scenario must be a mapping of keys (kind, values, output, ...)"))
    for key in data:
        if key not in TOP_KEYS:
            raise doc.error(
                (key,),
                _("unknown key {key} in a graph scenario").format(key=brief(key)),
                hint=did_you_mean(str(key), TOP_KEYS) or _("expected one of {keys}").format(keys=", ".join(TOP_KEYS)),
            )
    for key in ("values", "output"):
        if key not in data:
            raise doc.error((), _("missing required key {key!r}").format(key=key), hint=_("see docs/graphs.md"))
    title = _text(doc, data, "title", DEFAULT_TITLE)
    note = _text(doc, data, "source", "")
    _text(doc, data, "description", "")
    title_zh, source_zh = _text(doc, data, "title_zh", ""), _text(doc, data, "source_zh", "")

    values_raw = data["values"]
    if not isinstance(values_raw, dict) or not values_raw:
        raise doc.error(
            ("values",), _("values must be a mapping of names to numbers"), hint=_("e.g. values: {x: -2, y: 5}")
        )
    values: dict[str, float] = {}
    for key, raw in values_raw.items():
        _check_name(doc, ("values", key), key, values)
        values[key] = as_number(doc, ("values", key), raw)

    builder = _Builder(doc, values)
    define_raw = data.get("define", {})
    if define_raw is None:
        define_raw = {}
    if not isinstance(define_raw, dict):
        raise doc.error(
            ("define",), _("define must be a mapping of names to expressions"), hint=_("e.g. define: {q: x + y}")
        )
    defined: list[str] = []
    expressions: dict[str, str] = {}
    for key, raw in define_raw.items():
        path: PathKey = ("define", key)
        _check_name(doc, path, key, {**values, **dict.fromkeys(defined)})
        later = [k for k in define_raw if k != key]
        tree = _parse(doc, path, raw, 0, later_defines=later, known=builder.known)
        builder.add(key, tree, path, 0)
        defined.append(key)
        expressions[key] = str(raw).strip()

    raw_output = data["output"]
    path = ("output",)
    if not isinstance(raw_output, str):
        raise doc.error(path, _("output must be text such as 'f = q * z', got {value}").format(value=brief(raw_output)))
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)(.*)", raw_output, re.DOTALL)
    if m:
        body = m.group(2).lstrip()
        out_name, offset = m.group(1), m.start(2) + len(m.group(2)) - len(body)
        _check_name(doc, path, out_name, {**values, **dict.fromkeys(defined)}, offset=m.start(1))
    else:
        out_name, offset, body = "f", 0, raw_output
        if "f" in values or "f" in defined:
            raise doc.error(path, _("name the output, e.g. 'L = q * z' (f is already a name here)"))
    tree = _parse(doc, path, body, offset, later_defines=[], known=builder.known, whole=raw_output)
    builder.add(out_name, tree, path, offset)
    expressions[out_name] = body.strip()
    gates = builder.finish(out_name)

    used = {n for g in gates for n in g.inputs}
    for name in defined:
        if name not in used:
            raise doc.error(
                ("define", name),
                _("{name} is defined but nothing uses it").format(name=name),
                hint=_("use it in the output or in a later define, or remove it"),
            )

    learning_rate: float | None = None
    update: tuple[str, ...] = ()
    if "learning_rate" in data:
        learning_rate = as_number(doc, ("learning_rate",), data["learning_rate"], _("a positive number"))
        if learning_rate <= 0:
            raise doc.error(
                ("learning_rate",),
                _("learning_rate must be positive, got {value}").format(value=f"{learning_rate:g}"),
            )
        update = tuple(values)
    if "update" in data:
        if learning_rate is None:
            raise doc.error(("update",), _("update needs a learning_rate"), hint=_("add e.g. learning_rate: 0.1"))
        raw_update = data["update"]
        if not isinstance(raw_update, list) or not raw_update:
            raise doc.error(("update",), _("update must be a list of value names"), hint=_("e.g. update: [x, y]"))
        chosen: list[str] = []
        for i, item in enumerate(raw_update):
            if not isinstance(item, str) or item not in values:
                raise doc.error(
                    ("update", i),
                    _("{item} is not one of the values").format(item=brief(item)),
                    hint=did_you_mean(str(item), values) or _("choose from {names}").format(names=", ".join(values)),
                )
            if item in chosen:
                raise doc.error(("update", i), _("{item} is listed twice").format(item=item))
            chosen.append(item)
        update = tuple(chosen)
    return GraphScenario(
        title=title,
        source_note=note,
        file=doc.file,
        values=values,
        gates=tuple(gates),
        defined=tuple(defined),
        expressions=expressions,
        learning_rate=learning_rate,
        update=update,
        title_zh=title_zh,
        source_zh=source_zh,
    )


def _check_name(doc: Document, path: PathKey, name: Any, seen: dict[str, Any], offset: int | None = None) -> None:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise doc.error(
            path,
            _("{name} is not a valid name").format(name=brief(name)),
            hint=_("use letters, digits and _, starting with a letter"),
        )
    if name in ex.FUNCTIONS or keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise doc.error(
            path, _("{name!r} is the name of a function or keyword").format(name=name), hint=_("choose another name")
        )
    if name in seen:
        raise doc.error(
            path,
            _("the name {name!r} is used twice").format(name=name),
            hint=_("each value and define needs its own name"),
        )


def _column(doc: Document, path: PathKey, offset: int) -> tuple[int | None, int | None]:
    """The file's line and column of character `offset` of the text value at `path`."""
    mark = doc.scalar_marks.get(tuple(path))
    if mark is None:
        return doc.where(path)
    line, column, style = mark
    if style in ("", '"', "'"):
        return line, column + offset + (1 if style else 0)
    return line, column  # a block scalar: its first line


def _parse(
    doc: Document,
    path: PathKey,
    raw: Any,
    offset: int,
    later_defines: list[str],
    known: set[str],
    whole: str | None = None,
) -> ex.Expr:
    """The tree of the expression `raw` (or of its text from `offset`), names checked against `known`."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise doc.error(path, _("expected an expression, got {value}").format(value=brief(raw)), hint=_("e.g. x + y"))
    text = raw if isinstance(raw, str) else repr(raw)

    def fail(message: str, at: int, hint: str | None) -> ScenarioError:
        line, column = _column(doc, path, offset + at)
        return ScenarioError(message, file=doc.file, line=line, column=column, path=source.format_path(path), hint=hint)

    try:
        tree = ex.parse(text)
    except ex.ExpressionError as exc:
        raise fail(exc.message, exc.offset, exc.hint) from None

    def check(e: ex.Expr) -> None:
        if isinstance(e, ex.Name):
            if e.name not in known:
                if e.name in later_defines:
                    raise fail(
                        _("{name} is defined further down").format(name=e.name),
                        e.pos,
                        _("move the define of {name} above this one").format(name=e.name),
                    )
                raise fail(
                    _("unknown name {name!r}").format(name=e.name),
                    e.pos,
                    did_you_mean(e.name, sorted(known))
                    or _("the names here are {names}").format(names=", ".join(sorted(known))),
                )
        elif isinstance(e, ex.Neg):
            check(e.operand)
        elif isinstance(e, ex.Binary):
            check(e.left)
            check(e.right)
        elif isinstance(e, ex.Call):
            for a in e.args:
                check(a)

    check(tree)
    if not ex.names_in(tree):
        raise fail(
            _("the expression uses no value, so it has no gradient"),
            0,
            _("put constants in values:, or write the number where it is used"),
        )
    return tree


class _Builder:
    """Expression trees -> gates in evaluation order (post-order, left to right); constants folded."""

    def __init__(self, doc: Document, values: dict[str, float]) -> None:
        self.doc = doc
        self.known: set[str] = set(values)
        self.items: list[tuple[str | None, Op, tuple[str | float, ...], tuple[int | None, int | None]]] = []
        self.path: PathKey = ()
        self.offset = 0

    def add(self, name: str, tree: ex.Expr, path: PathKey, offset: int) -> None:
        self.path, self.offset = path, offset
        top = self.walk(tree)
        if isinstance(top, str):
            # a define or output that is just a name: a copy gate, so that it has its own node
            self.items.append((name, "id", (top,), self.where(tree.pos)))
        else:
            _, op, operands, where = self.items[int(top)]
            self.items[int(top)] = (name, op, operands, where)
        self.known.add(name)
        if len(self.items) > MAX_GATES:
            raise self.doc.error(
                path,
                _("the graph has more than {limit} gates").format(limit=MAX_GATES),
                hint=_("a homework graph is smaller"),
            )

    def where(self, pos: int) -> tuple[int | None, int | None]:
        return _column(self.doc, self.path, self.offset + pos)

    def walk(self, e: ex.Expr) -> str | float:
        """The operand that stands for `e`: a node's name (after adding its gates) or a folded constant."""
        if isinstance(e, ex.Num):
            return e.value
        if isinstance(e, ex.Name):
            return e.name
        if not ex.names_in(e):
            return self.constant(e)
        if isinstance(e, ex.Neg):
            operands: tuple[str | float, ...] = (self.walk(e.operand),)
            op: Op = "neg"
        elif isinstance(e, ex.Binary):
            operands = (self.walk(e.left), self.walk(e.right))
            op = BINARY_OPS[e.op]
        elif isinstance(e, ex.Call):
            operands = tuple(self.walk(a) for a in e.args)
            op = e.func  # type: ignore[assignment]
        else:  # pragma: no cover - Indicator appears in derivative formulas only
            raise TypeError(e)
        self.items.append((None, op, operands, self.where(e.pos)))
        return len(self.items) - 1  # type: ignore[return-value]  # replaced by a name in finish()

    def constant(self, e: ex.Expr) -> float:
        from bptrace.errors import NumericalError
        from bptrace.graph.arithmetic import evaluate

        try:
            return evaluate(e, {})
        except NumericalError as exc:
            line, column = self.where(e.pos)
            raise ScenarioError(
                exc.message,
                file=self.doc.file,
                line=line,
                column=column,
                path=source.format_path(self.path),
                hint=exc.hint,
            ) from None

    def finish(self, output: str) -> list[Gate]:
        taken = set(self.known)
        names: list[str] = []
        counter = 0
        for item in self.items:
            if item[0] is not None:
                names.append(item[0])
                continue
            counter += 1
            while f"g{counter}" in taken:
                counter += 1
            names.append(f"g{counter}")
        gates: list[Gate] = []
        for (given, op, operands, (line, column)), name in zip(self.items, names):
            resolved = tuple(names[o] if isinstance(o, int) and not isinstance(o, bool) else o for o in operands)
            gates.append(Gate(name, op, resolved, given is not None, line, column))
        return gates
