"""Recurrent scenarios (`kind: rnn`): the parsed YAML document -> a validated RnnScenario.

    kind: rnn
    title: a tiny recurrent network
    inputs: [0.5, -1.0, 0.25]        # x_1 .. x_T: a number each (one input), or a list per step
    targets: [0.2, -0.1, 0.4]        # y's target per step (loss_at: every), or one target (loss_at: last)
    h0: [0, 0]                        # optional: the state before step 1 (default zeros)
    hidden:
      activation: tanh
      W_xh: [[0.5], [-0.3]]           # hidden × inputs
      W_hh: [[0.1, 0.4], [-0.2, 0.3]] # hidden × hidden: W_hh[i][j] carries h_j(t−1) into net_h_i(t)
      b_h: [0.0, 0.1]                 # optional (no bias when left out)
    output:
      activation: linear
      W_hy: [[1.0, -0.5]]             # outputs × hidden
      b_y: [0.0]                      # optional
    loss: half_sse
    loss_at: every                    # every (default) | last
    truncate: 2                       # optional: each loss's gradient goes back at most 2 steps
    learning_rate: 0.1

Every error names file:line:column and the fix; the activations and losses are the registry's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bptrace import functions
from bptrace.errors import ScenarioError
from bptrace.i18n import N_, _
from bptrace.model import source
from bptrace.model.kinds import COMMON_KEYS, document_of_kind
from bptrace.model.kinds import shown as shown  # re-exported: the title and source as the reader reads them
from bptrace.model.kinds import text_value as _text
from bptrace.model.source import Document, PathKey, as_number, brief, did_you_mean

KIND = "rnn"
MAX_STEPS = 10  # T: a sequence traced by hand; the tables grow with T × units²
MAX_UNITS = 8  # inputs, hidden units, outputs each
PARAM_KEYS = tuple(p.key for p in functions.ACTIVATION_PARAMS)
TOP_KEYS = (
    *COMMON_KEYS,
    "inputs",
    "targets",
    "h0",
    "hidden",
    "output",
    "loss",
    "loss_at",
    "truncate",
    "learning_rate",
)
HIDDEN_KEYS = ("activation", "W_xh", "W_hh", "b_h", *PARAM_KEYS)
OUTPUT_KEYS = ("activation", "W_hy", "b_y", *PARAM_KEYS)
LOSS_AT = ("every", "last")
MATRICES = ("W_xh", "W_hh", "W_hy")
BIASES = ("b_h", "b_y")

DEFAULT_TITLE = N_("a recurrent network")
# The titles and sources of the bundled recurrent scenarios, marked for translation (as graph/model.py's).
BUNDLED_TEXTS = (
    N_("A tiny RNN: 1 input, 2 hidden units, 1 output, 3 time steps"),
    N_(
        "Written for bptrace after the backpropagation-through-time derivation in Goodfellow, Bengio and Courville, "
        "Deep Learning, section 10.2.2 (Computing the Gradient in a Recurrent Neural Network)"
    ),
    N_("A tiny RNN scored at the last step only, truncated to 2 steps"),
    N_(
        "Written for bptrace after Williams and Peng, An Efficient Gradient-Based Algorithm for On-Line Training "
        "of Recurrent Network Trajectories (truncated backpropagation through time)"
    ),
)


@dataclass(frozen=True)
class RnnScenario:
    """A validated recurrent network over T steps, its sequence, loss, truncation and learning rate."""

    title: str
    source_note: str
    file: str
    inputs: tuple[tuple[float, ...], ...]  # x_1..x_T
    targets: tuple[tuple[float, ...] | None, ...]  # per step: the target, or None where no loss is taken
    h0: tuple[float, ...]
    hidden_activation: str
    output_activation: str
    W_xh: tuple[tuple[float, ...], ...]
    W_hh: tuple[tuple[float, ...], ...]
    W_hy: tuple[tuple[float, ...], ...]
    b_h: tuple[float, ...] | None
    b_y: tuple[float, ...] | None
    loss: str
    loss_at: str = "every"
    truncate: int | None = None
    learning_rate: float = 0.1
    hidden_param: float | None = None
    output_param: float | None = None
    title_zh: str = ""
    source_zh: str = ""

    kind = KIND

    @property
    def steps(self) -> int:
        return len(self.inputs)

    @property
    def n_in(self) -> int:
        return len(self.inputs[0])

    @property
    def n_h(self) -> int:
        return len(self.W_hh)

    @property
    def n_y(self) -> int:
        return len(self.W_hy)

    @property
    def window(self) -> int:
        """How many steps each loss's gradient goes back (T when not truncated)."""
        return self.steps if self.truncate is None else min(self.truncate, self.steps)

    def display_title(self) -> str:
        from bptrace.model.scenario import in_language

        return in_language(self.title, self.title_zh)

    def display_source(self) -> str:
        from bptrace.model.scenario import in_language

        return in_language(self.source_note, self.source_zh)

    def parameters(self) -> list[str]:
        """The parameter names in order: W_xh_i_j, W_hh_i_j, b_h_i, W_hy_i_j, b_y_i (1-based)."""
        out = [f"W_xh_{i + 1}_{j + 1}" for i in range(self.n_h) for j in range(self.n_in)]
        out += [f"W_hh_{i + 1}_{j + 1}" for i in range(self.n_h) for j in range(self.n_h)]
        out += [f"b_h_{i + 1}" for i in range(self.n_h)] if self.b_h is not None else []
        out += [f"W_hy_{i + 1}_{j + 1}" for i in range(self.n_y) for j in range(self.n_h)]
        out += [f"b_y_{i + 1}" for i in range(self.n_y)] if self.b_y is not None else []
        return out

    def loss_steps(self) -> list[int]:
        """The 1-based steps that have a loss."""
        return [t + 1 for t, target in enumerate(self.targets) if target is not None]


# ---- finding and loading ----


def is_rnn_text(text: str) -> bool:
    """True when a file's text declares `kind: rnn` on a top-level line (no YAML parse)."""
    return re.search(r"(?m)^kind:\s*['\"]?rnn['\"]?\s*(#.*)?$", text) is not None


def load_document(name: str) -> Document | None:
    """The parsed document of scenario `name` (bundled name or path) when it declares `kind: rnn`, else None."""
    return document_of_kind(name, KIND, lambda text: "rnn" in text)


def rnn_or_none(name: str | None) -> RnnScenario | None:
    """The RnnScenario of `name` if that file is `kind: rnn`, else None (a network, a graph, or the default)."""
    if name is None:
        return None
    doc = load_document(name)
    return None if doc is None else from_document(doc)


def load(name: str) -> RnnScenario:
    doc = load_document(name)
    if doc is None:
        raise ScenarioError(
            _("{name} is not a recurrent scenario").format(name=name),
            hint=_("a recurrent scenario starts with 'kind: rnn'"),
        )
    return from_document(doc)


def loads(text: str, file: str = "<string>") -> RnnScenario:
    """Validate a recurrent scenario given as YAML or JSON text."""
    return from_document(source.parse(text, file, ScenarioError))


# ---- validation ----


def _check_keys(doc: Document, path: PathKey, data: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in data:
        if key not in allowed:
            raise doc.error(
                (*path, key),
                _("unknown key {key} in {where}").format(key=brief(key), where=where),
                hint=did_you_mean(str(key), allowed) or _("expected one of {keys}").format(keys=", ".join(allowed)),
            )


def _vector(doc: Document, path: PathKey, raw: Any, size: int | None, what: str) -> tuple[float, ...]:
    """A list of numbers (a single number stands for a list of one)."""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise doc.error(
            path,
            _("{what} must be a list of numbers, got {value}").format(what=what, value=brief(raw)),
            hint=_("e.g. [0.5, -0.25]"),
        )
    if size is not None and len(raw) != size:
        raise doc.error(
            path,
            _("{what} has {count} numbers, expected {size}").format(what=what, count=len(raw), size=size),
            hint=_("give one number per unit"),
        )
    if len(raw) > MAX_UNITS:
        raise doc.error(
            path,
            _("{what} has {count} numbers; a recurrent scenario has at most {limit} units per layer").format(
                what=what, count=len(raw), limit=MAX_UNITS
            ),
            hint=_("a network traced by hand is small"),
        )
    return tuple(as_number(doc, (*path, i), v) for i, v in enumerate(raw))


def _matrix(
    doc: Document, path: PathKey, raw: Any, rows: int | None, cols: int | None, what: str
) -> tuple[tuple[float, ...], ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(r, list) for r in raw):
        raise doc.error(
            path,
            _("{what} must be a list of rows, each a list of numbers").format(what=what),
            hint=_("e.g. [[0.5, -0.3], [0.1, 0.2]]"),
        )
    if rows is not None and len(raw) != rows:
        raise doc.error(
            path,
            _("{what} has {count} rows, expected {size}").format(what=what, count=len(raw), size=rows),
            hint=_("one row per receiving unit"),
        )
    if len(raw) > MAX_UNITS:
        raise doc.error(
            path,
            _("{what} has {count} rows; a recurrent scenario has at most {limit} units per layer").format(
                what=what, count=len(raw), limit=MAX_UNITS
            ),
            hint=_("a network traced by hand is small"),
        )
    width = cols if cols is not None else len(raw[0])
    out = []
    for i, row in enumerate(raw):
        if len(row) != width:
            raise doc.error(
                (*path, i),
                _("row {row} of {what} has {count} numbers, expected {size}").format(
                    row=i + 1, what=what, count=len(row), size=width
                ),
                hint=_("one number per sending unit"),
            )
        out.append(_vector(doc, (*path, i), row, width, what))
    return tuple(out)


def _activation(doc: Document, path: PathKey, raw: Any, hidden: bool) -> str:
    names = [a for a in functions.ACTIVATIONS if functions.activation(a).hidden_ok or not hidden]
    if not isinstance(raw, str) or raw not in names:
        extra = ""
        if hidden and raw in functions.ACTIVATIONS:
            extra = _("{name} is for an output layer only").format(name=raw)
        raise doc.error(
            path,
            extra or _("unknown activation {name}").format(name=brief(raw)),
            hint=did_you_mean(str(raw), names) or _("choose one of {names}").format(names=", ".join(names)),
        )
    return raw


def _param(doc: Document, path: PathKey, data: dict[str, Any], activation: str) -> float | None:
    entry = functions.activation(activation)
    for key in PARAM_KEYS:
        if key in data and (entry.param is None or entry.param.key != key):
            raise doc.error(
                (*path, key),
                _("{key} belongs to another activation than {name}").format(key=key, name=activation),
                hint=_("remove it"),
            )
    if entry.param is not None and entry.param.key in data:
        return as_number(doc, (*path, entry.param.key), data[entry.param.key])
    return None


def _section(doc: Document, data: dict[str, Any], key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    if key not in data:
        raise doc.error((), _("missing required key {key!r}").format(key=key), hint=_("see docs/rnn.md"))
    raw = data[key]
    if not isinstance(raw, dict):
        raise doc.error(
            (key,), _("{key} must be a mapping (activation, weights)").format(key=key), hint=_("see docs/rnn.md")
        )
    _check_keys(doc, (key,), raw, allowed, key)
    for need in ("activation", *(k for k in allowed if k.startswith("W_"))):
        if need not in raw:
            raise doc.error((key,), _("missing required key {key!r}").format(key=need), hint=_("see docs/rnn.md"))
    return raw


def from_document(doc: Document) -> RnnScenario:
    """Validate a parsed `kind: rnn` document; every problem names file:line:column."""
    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), _("a recurrent scenario must be a mapping of keys (inputs, hidden, output, ...)"))
    _check_keys(doc, (), data, TOP_KEYS, _("a recurrent scenario"))
    for key in ("inputs", "targets", "hidden", "output", "loss"):
        if key not in data:
            raise doc.error((), _("missing required key {key!r}").format(key=key), hint=_("see docs/rnn.md"))
    title = _text(doc, data, "title", DEFAULT_TITLE)
    note = _text(doc, data, "source", "")
    _text(doc, data, "description", "")
    title_zh, source_zh = _text(doc, data, "title_zh", ""), _text(doc, data, "source_zh", "")

    raw_inputs = data["inputs"]
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise doc.error(
            ("inputs",),
            _("inputs must be a list with one entry per time step"),
            hint=_("e.g. inputs: [0.5, -1.0, 0.25]"),
        )
    if len(raw_inputs) > MAX_STEPS:
        raise doc.error(
            ("inputs",),
            _(
                "the sequence has {count} time steps; bptrace traces at most {limit}, since every step adds a "
                "table row per unit and a term to every gradient"
            ).format(count=len(raw_inputs), limit=MAX_STEPS),
            hint=_("trace the first {limit} steps, or truncate the sequence").format(limit=MAX_STEPS),
        )
    first = _vector(doc, ("inputs", 0), raw_inputs[0], None, _("the input at step {t}").format(t=1))
    inputs = [first] + [
        _vector(doc, ("inputs", t), raw, len(first), _("the input at step {t}").format(t=t + 1))
        for t, raw in enumerate(raw_inputs[1:], start=1)
    ]
    steps = len(inputs)

    hidden = _section(doc, data, "hidden", HIDDEN_KEYS)
    output = _section(doc, data, "output", OUTPUT_KEYS)
    h_act = _activation(doc, ("hidden", "activation"), hidden["activation"], hidden=True)
    y_act = _activation(doc, ("output", "activation"), output["activation"], hidden=False)
    W_hh = _matrix(doc, ("hidden", "W_hh"), hidden["W_hh"], None, None, "W_hh")
    n_h = len(W_hh)
    if len(W_hh[0]) != n_h:
        raise doc.error(
            ("hidden", "W_hh"),
            _("W_hh must be square ({rows} rows, so {rows} numbers per row), got rows of {count}").format(
                rows=n_h, count=len(W_hh[0])
            ),
            hint=_("W_hh[i][j] carries h_j(t−1) into unit i"),
        )
    W_xh = _matrix(doc, ("hidden", "W_xh"), hidden["W_xh"], n_h, len(first), "W_xh")
    b_h = _vector(doc, ("hidden", "b_h"), hidden["b_h"], n_h, "b_h") if "b_h" in hidden else None
    W_hy = _matrix(doc, ("output", "W_hy"), output["W_hy"], None, n_h, "W_hy")
    n_y = len(W_hy)
    b_y = _vector(doc, ("output", "b_y"), output["b_y"], n_y, "b_y") if "b_y" in output else None
    h_param = _param(doc, ("hidden",), hidden, h_act)
    y_param = _param(doc, ("output",), output, y_act)

    h0 = _vector(doc, ("h0",), data["h0"], n_h, "h0") if "h0" in data else (0.0,) * n_h

    loss_name = data["loss"]
    if not isinstance(loss_name, str) or loss_name not in functions.LOSSES:
        raise doc.error(
            ("loss",),
            _("unknown loss {name}").format(name=brief(loss_name)),
            hint=did_you_mean(str(loss_name), functions.LOSSES)
            or _("choose one of {names}").format(names=", ".join(functions.LOSSES)),
        )
    entry = functions.loss(loss_name)
    if entry.cancels == "softmax" and y_act != "softmax":
        raise doc.error(
            ("loss",),
            _("cross_entropy goes with a softmax output, here {name}").format(name=y_act),
            hint=_("use bce for a sigmoid output, or a softmax output"),
        )
    if y_act == "softmax" and loss_name != "cross_entropy":
        raise doc.error(("loss",), _("a softmax output goes with cross_entropy"), hint=_("write loss: cross_entropy"))
    if entry.name == "bce" and y_act != "sigmoid":
        raise doc.error(
            ("loss",),
            _("bce needs outputs between 0 and 1: a sigmoid output, here {name}").format(name=y_act),
            hint=_("write activation: sigmoid under output"),
        )

    loss_at = data.get("loss_at", "every")
    if loss_at not in LOSS_AT:
        raise doc.error(
            ("loss_at",),
            _("loss_at must be every or last, got {value}").format(value=brief(loss_at)),
            hint=did_you_mean(str(loss_at), LOSS_AT) or _("every: a loss at each step, summed; last: at step T only"),
        )
    raw_targets = data["targets"]
    if not isinstance(raw_targets, list) or not raw_targets:
        raise doc.error(
            ("targets",), _("targets must be a list with one target per time step"), hint=_("see docs/rnn.md")
        )
    if loss_at == "every":
        if len(raw_targets) != steps:
            raise doc.error(
                ("targets",),
                _("targets has {count} entries for {steps} time steps").format(count=len(raw_targets), steps=steps),
                hint=_("give one target per step, or write loss_at: last with one target"),
            )
        targets: list[tuple[float, ...] | None] = [
            _vector(doc, ("targets", t), raw, n_y, _("the target at step {t}").format(t=t + 1))
            for t, raw in enumerate(raw_targets)
        ]
    else:
        if len(raw_targets) != 1:
            raise doc.error(
                ("targets",),
                _("with loss_at: last, targets holds one target (the last step's), got {count}").format(
                    count=len(raw_targets)
                ),
                hint=_("e.g. targets: [0.5]"),
            )
        last = _vector(doc, ("targets", 0), raw_targets[0], n_y, _("the target at step {t}").format(t=steps))
        targets = [None] * (steps - 1) + [last]
    for t, target in enumerate(targets):
        if target is None:
            continue
        if entry.logs and any(v < 0 or v > 1 for v in target):
            raise doc.error(
                ("targets", 0 if loss_at == "last" else t),
                _("{loss} needs targets between 0 and 1").format(loss=loss_name),
                hint=_("rescale the targets to [0, 1]"),
            )
        if loss_name == "cross_entropy" and abs(sum(target) - 1.0) > 1e-9:
            raise doc.error(
                ("targets", 0 if loss_at == "last" else t),
                _("cross_entropy's targets at a step must sum to 1"),
                hint=_("e.g. a one-hot target such as [0, 1]"),
            )

    truncate: int | None = None
    if "truncate" in data and data["truncate"] is not None:
        raw = data["truncate"]
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            raise doc.error(
                ("truncate",),
                _("truncate must be a whole number of time steps, at least 1, got {value}").format(value=brief(raw)),
                hint=_("truncate: 2 lets each loss's gradient go back 2 steps (its own and one before)"),
            )
        truncate = raw
    learning_rate = 0.1
    if "learning_rate" in data:
        learning_rate = as_number(doc, ("learning_rate",), data["learning_rate"], N_("a positive number"))
        if learning_rate <= 0:
            raise doc.error(
                ("learning_rate",),
                _("learning_rate must be positive, got {value}").format(value=f"{learning_rate:g}"),
            )
    return RnnScenario(
        title=title,
        source_note=note,
        file=doc.file,
        inputs=tuple(inputs),
        targets=tuple(targets),
        h0=h0,
        hidden_activation=h_act,
        output_activation=y_act,
        W_xh=W_xh,
        W_hh=W_hh,
        W_hy=W_hy,
        b_h=b_h,
        b_y=b_y,
        loss=loss_name,
        loss_at=loss_at,
        truncate=truncate,
        learning_rate=learning_rate,
        hidden_param=h_param,
        output_param=y_param,
        title_zh=title_zh,
        source_zh=source_zh,
    )
