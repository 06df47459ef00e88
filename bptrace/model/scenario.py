"""Scenario files: parsed data -> a validated, frozen Scenario (the network, its samples and its rules).

Two forms are accepted (docs/scenarios.md):
  * named form: the author names inputs, neurons, every weight and every bias (Mazur's w1..w8, b1, b2);
  * matrix form: weight matrices per layer; names are made automatically (x1, h1_2, o1, W2_1_3, b1_2, b2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from bptrace import functions
from bptrace.errors import ScenarioError, UnknownNameError
from bptrace.functions import ACTIVATION_PARAMS, ACTIVATIONS, DEFAULT_LEAKY_SLOPE, LOSSES, SCORE_LOSSES
from bptrace.i18n import N_, _, language
from bptrace.model import source
from bptrace.model.source import Document, PathKey, Yaml, as_number, brief, did_you_mean
from bptrace.objective import Objective, objective

if TYPE_CHECKING:
    from typing import Unpack

    import numpy as np
    from numpy.typing import NDArray

    from bptrace.functions import Activation

# the named form's inputs or targets of one sample (name -> value), and where they stand in the file
_Named = tuple[dict[str, float], PathKey]
# what a form's reader returns: the input names, the inputs, the targets (one row per sample) and the layers
_Read = tuple[list[str], list[list[float]], list[list[float]], list["Layer"]]
BUNDLED_DIR = Path(__file__).parent.parent / "scenarios"
PARAM_KEYS = tuple(p.key for p in ACTIVATION_PARAMS)  # leaky_slope, elu_alpha: top level and per layer
# how an error names a wrong value of each activation parameter (functions.Param.expects, translated where
# as_number shows it); tests/test_zh_cli.py checks that every parameter's is here
PARAM_EXPECTS = (N_("a slope"), N_("a scale α"))
TOP_KEYS = (
    "title",
    "source",
    "description",
    "title_zh",
    "source_zh",
    "inputs",
    "targets",
    "samples",
    "layers",
    "loss",
    "learning_rate",
    "update_biases",
    "reduction",
    *PARAM_KEYS,
    "l2",
    "corrupt",
    "margin",
)
LAYER_KEYS_MATRIX = ("activation", "weights", "biases", "bias", *PARAM_KEYS, "name")
LAYER_KEYS_NAMED = ("activation", "neurons", "weights", "biases", *PARAM_KEYS, "name")
REDUCTIONS = ("mean", "sum")
# Named-form names may not start like the vocabulary's quantities (docs/quantities.md), or E_total+ and a
# weight called E_total would be one spelling for two things.
RESERVED_PREFIXES = ("net_", "out_", "delta_", "E_", "dE", "dnet_", "dout_")
BIAS_MODES = ("none", "neuron", "shared")


@dataclass(frozen=True)
class Layer:
    """One layer after the inputs: its neurons, activation, weights (row = neuron) and biases."""

    index: int  # 1 for the first layer after the inputs
    activation: str
    neurons: tuple[str, ...]
    weights: NDArray[np.float64]  # shape (neurons, neurons of the layer before)
    bias_mode: str  # "none" | "neuron" (one per neuron) | "shared" (one for the layer)
    biases: NDArray[np.float64]  # shape (neurons,), (1,) or (0,)
    bias_names: tuple[str, ...]
    weight_names: tuple[tuple[str, ...], ...] | None = None  # named form only; else automatic
    param: float | None = None  # the activation's parameter (leaky_slope, elu_alpha); None: its default

    @property
    def size(self) -> int:
        return len(self.neurons)

    @property
    def function(self) -> Activation:
        """The activation's registry entry (bptrace.functions)."""
        return functions.activation(self.activation)

    @property
    def slope(self) -> float:
        """leaky_relu's slope α (DEFAULT_LEAKY_SLOPE for other activations); `param` is the general form."""
        return self.function.value(self.param) if self.activation == "leaky_relu" else DEFAULT_LEAKY_SLOPE

    def weight_name(self, row: int, col: int) -> str:
        """The name of the weight into neuron `row` from neuron `col` of the layer before (0-based)."""
        if self.weight_names is not None:
            return self.weight_names[row][col]
        return f"W{self.index}_{row + 1}_{col + 1}"

    def bias_name(self, row: int) -> str | None:
        """The name of the bias added to neuron `row` (the shared one, its own, or None)."""
        if self.bias_mode == "shared":
            return self.bias_names[0]
        return self.bias_names[row] if self.bias_mode == "neuron" else None

    def bias_vector(self) -> NDArray[np.float64]:
        """The bias added to each neuron's net (zeros when the layer has none)."""
        import numpy as np

        if self.bias_mode == "neuron":
            return self.biases
        if self.bias_mode == "shared":
            return np.full(self.size, self.biases[0])
        return np.zeros(self.size)


@dataclass(frozen=True)
class Parameter:
    """Where a parameter lives: its name, kind and 0-based position (row None for a shared bias)."""

    name: str
    kind: str  # "weight" | "bias"
    layer: int  # 1-based
    row: int | None
    col: int | None


@dataclass(frozen=True)
class Scenario:
    """A validated network with its samples, loss and update rule. Immutable."""

    title: str
    source_note: str
    file: str
    input_names: tuple[str, ...]
    layers: tuple[Layer, ...]
    inputs: NDArray[np.float64]  # (samples, inputs)
    targets: NDArray[np.float64]  # (samples, outputs)
    loss: str
    learning_rate: float
    update_biases: bool
    reduction: str  # how per-sample losses combine: "mean" (1/m Σ) or "sum"
    named: bool
    l2: float = 0.0  # λ of the L2 penalty λ/(2m)·Σ W² over every weight (never the biases)
    corrupt: NDArray[np.float64] | None = None  # max_margin: each sample's corrupt window x_c, (samples, inputs)
    margin: float = 1.0  # max_margin: Δ in J = max(0, Δ + s_c − s)
    title_zh: str = ""  # the title in Chinese (title_zh:), shown under --lang zh; "" when the file has none
    source_zh: str = ""  # the source line in Chinese (source_zh:)
    _index: dict[str, Parameter] = field(default_factory=dict, compare=False, repr=False)

    def display_title(self) -> str:
        """The title in the language bptrace speaks: title_zh under --lang zh when the file gives one, else
        title. What every renderer shows; the JSON keeps `title`."""
        return in_language(self.title, self.title_zh)

    def display_source(self) -> str:
        """The source (or description) line in the language bptrace speaks (source_zh under --lang zh)."""
        return in_language(self.source_note, self.source_zh)

    @property
    def samples(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def max_margin(self) -> bool:
        """True for the max-margin (hinge) loss: two forward passes per sample, no targets."""
        return self.loss == "max_margin"

    @property
    def objective(self) -> Objective:
        """What the step minimises and how its forward passes are laid out (bptrace/objective.py)."""
        return objective(self.loss, self.samples, self.margin)

    @property
    def passes(self) -> int:
        """Rows of the trace's arrays: one forward pass per sample, two (x, then x_c) with max_margin."""
        return self.objective.passes

    def all_inputs(self) -> NDArray[np.float64]:
        """The input rows of every forward pass: the samples, then (max_margin) the corrupt windows."""
        import numpy as np

        return np.vstack([self.inputs, self.corrupt]) if self.corrupt is not None else self.inputs

    @property
    def output_layer(self) -> Layer:
        return self.layers[-1]

    def source_name(self, index: int, col: int) -> str:
        """What a weight of layer `index` multiplies, by name: the input (i1, x1) or out_ of a neuron (out_h1)."""
        names = self.layer_names(index - 1)
        return names[col] if index == 1 else f"out_{names[col]}"

    def layer_names(self, index: int) -> tuple[str, ...]:
        """Names of the neurons of layer `index` (0 = the inputs)."""
        return self.input_names if index == 0 else self.layers[index - 1].neurons

    def parameter_count(self) -> int:
        return sum(layer.weights.size + layer.biases.size for layer in self.layers)

    def parameters(self) -> list[Parameter]:
        """Every parameter, layer by layer: weights row by row, then the biases."""
        out: list[Parameter] = []
        for layer in self.layers:
            rows, cols = layer.weights.shape
            out.extend(
                Parameter(layer.weight_name(r, c), "weight", layer.index, r, c)
                for r in range(rows)
                for c in range(cols)
            )
            if layer.bias_mode == "shared":
                out.append(Parameter(layer.bias_names[0], "bias", layer.index, None, None))
            elif layer.bias_mode == "neuron":
                out.extend(Parameter(name, "bias", layer.index, r, None) for r, name in enumerate(layer.bias_names))
        return out

    def has_parameter(self, name: str) -> bool:
        """True when a parameter has this name (a cheap test: no suggestions are computed)."""
        if not self._index:
            self._index.update((p.name, p) for p in self.parameters())
        return name in self._index

    def parameter(self, name: str) -> Parameter:
        """Look a parameter up by name (raises UnknownNameError with suggestions)."""
        if not self._index:
            self._index.update((p.name, p) for p in self.parameters())
        try:
            return self._index[name]
        except KeyError:
            raise UnknownNameError(
                _("no parameter named {name} in {file}").format(name=brief(name), file=self.file),
                hint=did_you_mean(name, self._index) or _("see 'bptrace run' for all names"),
            ) from None

    def neuron(self, name: str) -> tuple[int, int]:
        """(layer index, row) of a neuron or input by name; inputs are layer 0."""
        for index in range(len(self.layers) + 1):
            names = self.layer_names(index)
            if name in names:
                return index, names.index(name)
        everything = [n for i in range(len(self.layers) + 1) for n in self.layer_names(i)]
        raise UnknownNameError(
            _("no neuron named {name}").format(name=brief(name)), hint=did_you_mean(name, everything)
        )

    def with_changes(self, **changes: Unpack[ScenarioChanges]) -> Scenario:
        """A copy with some fields replaced (for comparing conventions and for training)."""
        import dataclasses

        return dataclasses.replace(self, _index={}, **changes)

    @property
    def plain(self) -> bool:
        """True for a scenario loaded with arrays=False: its numbers are Floats, not numpy arrays."""
        from bptrace.model.floats import Floats

        return isinstance(cast(object, self.inputs), Floats)

    def with_arrays(self) -> Scenario:
        """The same scenario with numpy arrays for its numbers (itself unless `plain`): what every part of
        bptrace but the scalar training path takes."""
        if not self.plain:
            return self
        import dataclasses

        import numpy as np

        def array(values: Any) -> NDArray[np.float64]:
            return np.asarray(values, dtype=float)

        layers = tuple(
            dataclasses.replace(layer, weights=array(layer.weights), biases=array(layer.biases))
            for layer in self.layers
        )
        corrupt = None if self.corrupt is None else array(self.corrupt)
        return self.with_changes(layers=layers, inputs=array(self.inputs), targets=array(self.targets), corrupt=corrupt)


class ScenarioChanges(TypedDict, total=False):
    """The fields `Scenario.with_changes` may replace, with their types (every field but the index)."""

    title: str
    source_note: str
    file: str
    input_names: tuple[str, ...]
    layers: tuple[Layer, ...]
    inputs: NDArray[np.float64]
    targets: NDArray[np.float64]
    loss: str
    learning_rate: float
    update_biases: bool
    reduction: str
    named: bool
    l2: float
    corrupt: NDArray[np.float64] | None
    margin: float
    title_zh: str
    source_zh: str


# ---------------------------------------------------------------------------------------------------
# Finding scenarios


def is_path_like(name: str) -> bool:
    """A value containing '/' or ending in .yaml/.yml/.json is a path; anything else a bundled name."""
    return "/" in name or "\\" in name or name.lower().endswith((".yaml", ".yml", ".json"))


def bundled_names() -> list[str]:
    """The bundled networks (the bundled computational graphs are bundled_graph_names())."""
    return sorted(
        p.stem
        for p in BUNDLED_DIR.glob("*.yaml")
        if not _is_graph_file(p) and not _is_rnn_file(p) and not _is_layers_file(p)
    )


def bundled_graph_names() -> list[str]:
    """The bundled computational graphs (`kind: graph`, read by bptrace.graph)."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml") if _is_graph_file(p))


def bundled_rnn_names() -> list[str]:
    """The bundled recurrent networks (`kind: rnn`, read by bptrace.rnn)."""
    return sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml") if _is_rnn_file(p))


def _is_rnn_file(path: Path) -> bool:
    import re

    return re.search(r"(?m)^kind:\s*rnn\b", path.read_text(encoding="utf-8")) is not None


def _is_layers_file(path: Path) -> bool:
    """A stack of layers (`kind: layers`, read by bptrace.layers)."""
    import re

    return re.search(r"(?m)^kind:\s*layers\b", path.read_text(encoding="utf-8")) is not None


def _is_graph_file(path: Path) -> bool:
    import re

    return re.search(r"(?m)^kind:\s*graph\b", path.read_text(encoding="utf-8")) is not None


def in_language(english: str, chinese: str) -> str:
    """A scenario's text in the language bptrace speaks: the Chinese (title_zh, source_zh) under --lang zh
    when the file gives it, else the English."""
    return chinese if chinese and language() == "zh" else english


def bundled_titles() -> list[tuple[str, str]]:
    """(name, title) of each bundled scenario in the language bptrace speaks, from its top-level `title:`
    (and `title_zh:`) line (fast: no numpy, no full parse)."""
    return [(name, in_language(title, title_zh)) for name, title, title_zh, _kind in bundled_entries()]


def bundled_entries() -> list[tuple[str, str, str, str]]:
    """(name, title, title_zh or "", kind: "network" or "graph") of each bundled scenario, read from its
    top-level `title:` and `title_zh:` lines (fast: no numpy, no full parse)."""
    import re

    graphs = set(bundled_graph_names())
    out = []
    stacks = sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml") if _is_layers_file(p))
    for name in bundled_names() + bundled_graph_names() + bundled_rnn_names() + stacks:
        titles = {"title": name, "title_zh": ""}
        with open(BUNDLED_DIR / f"{name}.yaml", encoding="utf-8") as fh:
            for line in fh:
                m = re.match(r"(title|title_zh):\s*(.+?)\s*$", line)
                if m:
                    titles[m.group(1)] = _unquote(m.group(2))
                    if titles["title_zh"] and titles["title"] != name:
                        break
        out.append((name, titles["title"], titles["title_zh"], "graph" if name in graphs else "network"))
    return out


def _unquote(text: str) -> str:
    """A one-line YAML scalar's text: "..." and '...' unquoted (the bundled titles use no escapes)."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    return text


def may_declare_kind(name: str | None) -> bool:
    """False when `name` is a network for certain: no name (the default, Mazur), an unknown bundled name (the
    network loader reports it), or a file whose text has no 'kind' at all. A graph, a recurrent network and a
    layer stack each say `kind:` (their loaders look for it), so run and explain need not import them.
    The file is read as they read it: a missing or unreadable file is the same one-line error."""
    if name is None or (not is_path_like(name) and not (BUNDLED_DIR / f"{name}.yaml").is_file()):
        return False
    path, _shown = resolve(name)
    return "kind" in source.read_text(path, ScenarioError)


def resolve(name: str, relative_to: Path | None = None) -> tuple[Path, str]:
    """A scenario name or path -> (file path, name to show). Unknown bundled names list the bundled ones."""
    if is_path_like(name):
        path = Path(name)
        if relative_to is not None and not path.is_absolute():
            path = relative_to / path
        return path, str(path)
    path = BUNDLED_DIR / f"{name}.yaml"
    if not path.is_file():
        names = bundled_names()
        hint = did_you_mean(name, names)
        raise UnknownNameError(
            _("no bundled scenario named {name}; bundled: {names}").format(name=brief(name), names=", ".join(names)),
            hint=hint or _("give a path to a .yaml file, or see 'bptrace scenarios'"),
        )
    return path, f"{name}.yaml (bundled)"  # a location, like a path: the same in every language (and the JSON)


def load(name: str, relative_to: Path | None = None, *, arrays: bool = True) -> Scenario:
    """Load and validate a scenario by bundled name or path (arrays=False: numpy-free, see from_document)."""
    path, shown = resolve(name, relative_to)
    return from_document(source.load(path, ScenarioError, shown=shown), arrays=arrays)


def loads(text: str, file: str = "<string>", *, arrays: bool = True) -> Scenario:
    """Validate a scenario given as YAML or JSON text (arrays=False: numpy-free, see from_document)."""
    return from_document(source.parse(text, file, ScenarioError), arrays=arrays)


# ---------------------------------------------------------------------------------------------------
# Validation


def from_document(doc: Document, *, arrays: bool = True) -> Scenario:
    """Validate a parsed document into a Scenario; every problem names its line and path.

    The numbers are read into plain lists and become numpy arrays at the end; with arrays=False they become
    model.floats.Floats instead and numpy is never imported (the scalar training kernel's path: `bptrace
    train` of a small network). Scenario.with_arrays() makes the numpy scenario of such a one."""
    data = doc.data
    if not isinstance(data, dict):
        if isinstance(data, list):
            message = _("a scenario must be a mapping of keys (inputs, layers, ...), not a list")
        else:
            message = _("a scenario must be a mapping of keys (inputs, layers, ...), not the value {value}").format(
                value=brief(data)
            )
        raise doc.error((), message, hint=_("see docs/scenarios.md"))
    if data.get("kind") == "rnn":
        raise doc.error(
            ("kind",),
            _("this is a recurrent network (kind: rnn), and this command reads feed-forward networks"),
            hint=_(
                "run, explain, check and template read recurrent networks"
                "; check marks their sheets in a command of its own, not with networks' sheets"
            ),
        )
    if data.get("kind") == "graph":
        raise doc.error(
            ("kind",),
            _("this is a computational graph (kind: graph), and this command reads networks"),
            hint=_(
                "run, explain, check, template and diagram read graphs"
                "; check marks their sheets in a command of its own, not with networks' sheets"
            ),
        )
    if data.get("kind") == "layers":
        raise doc.error(
            ("kind",),
            _("this is a stack of layers (kind: layers), and this command reads networks"),
            hint=_(
                "run, explain, check and template read layer stacks"
                "; check marks their sheets in a command of its own, not with networks' sheets"
            ),
        )
    _check_keys(doc, (), data, TOP_KEYS)
    _require(doc, (), data, "layers")
    listed = data["layers"]
    if not isinstance(listed, list) or not listed:
        raise doc.error(("layers",), _("layers must be a non-empty list of layers"))
    layers_raw: list[dict[str, Yaml]] = []
    for i, item in enumerate(listed):
        if not isinstance(item, dict):
            raise doc.error(("layers", i), _("each layer must be a mapping with activation and weights"))
        layers_raw.append(item)
    named = any("neurons" in raw for raw in layers_raw)
    if named:
        for i, raw in enumerate(layers_raw):
            if "neurons" not in raw:
                raise doc.error(
                    ("layers", i),
                    _("this layer has no neurons: list, but others do"),
                    hint=_("use the named form (neurons: and named weights) for every layer, or for none"),
                )
    loss = _choice(doc, ("loss",), data.get("loss", "half_sse"), LOSSES + SCORE_LOSSES, "loss")
    margin = as_number(doc, ("margin",), data.get("margin", 1.0), N_("a margin Δ"))
    if loss != "max_margin":
        for key in ("corrupt", "margin"):
            if key in data:
                raise doc.error(
                    (key,),
                    _("{key} belongs to the max_margin loss").format(key=key),
                    hint=_("remove it, or use loss: max_margin"),
                )
    elif named:
        raise doc.error(
            ("loss",),
            _("max_margin is supported in the matrix form only"),
            hint=_("write the layers as weight matrices (see docs/scenarios.md)"),
        )
    rate = data.get("learning_rate", 0.5)
    learning_rate = as_number(doc, ("learning_rate",), rate, N_("a positive learning rate"))
    if learning_rate <= 0:
        raise doc.error(
            ("learning_rate",),
            _("the learning rate must be positive, got {value}").format(value=brief(rate)),
            hint=_("Mazur uses 0.5"),
        )
    update_biases = data.get("update_biases", True)
    if not isinstance(update_biases, bool):
        raise doc.error(("update_biases",), _("expected true or false, got {value}").format(value=brief(update_biases)))
    reduction = _choice(doc, ("reduction",), data.get("reduction", "mean"), REDUCTIONS, "reduction")
    defaults = {p.key: as_number(doc, (p.key,), data.get(p.key, p.default), p.expects) for p in ACTIVATION_PARAMS}
    l2 = as_number(doc, ("l2",), data.get("l2", 0.0), N_("a regularization strength λ ≥ 0"))
    if l2 < 0:
        raise doc.error(
            ("l2",),
            _("the L2 strength λ must not be negative, got {value}").format(value=brief(data["l2"])),
            hint=_("use 0 for no regularization"),
        )

    if named:
        input_names, inputs, targets, layers = _named(doc, data, layers_raw, defaults, arrays)
    else:
        input_names, inputs, targets, layers = _matrix(doc, data, layers_raw, defaults, loss, arrays)
    corrupt = None
    if loss == "max_margin":
        inputs, corrupt = inputs[: len(inputs) // 2], inputs[len(inputs) // 2 :]
        if layers[-1].size != 1:
            raise doc.error(
                ("layers", len(layers) - 1, "weights"),
                _("max_margin scores each window with one output neuron, this layer has {count}").format(
                    count=layers[-1].size
                ),
                hint=_("give the last layer one row of weights (s = Uᵀa)"),
            )

    for layer in layers[:-1]:
        if not layer.function.hidden_ok:
            raise doc.error(
                ("layers", layer.index - 1, "activation"),
                _("{activation} is allowed only in the output layer").format(activation=layer.activation),
                hint=_("use sigmoid, tanh or relu in hidden layers"),
            )
    out_layer = layers[-1]
    _check_targets(doc, loss, out_layer, targets, named)
    for layer in layers:
        if layer.size == 0:
            raise doc.error(("layers", layer.index - 1), _("a layer needs at least one neuron"))
    title = _text(doc, "title", data.get("title", Path(doc.file).stem))
    note = _text(doc, "source", data.get("source", data.get("description", "")))
    title_zh = _text(doc, "title_zh", data.get("title_zh", ""))
    source_zh = _text(doc, "source_zh", data.get("source_zh", ""))
    return Scenario(
        title=title,
        source_note=note,
        file=doc.file,
        input_names=tuple(input_names),
        layers=tuple(layers),
        inputs=_array(inputs, arrays),
        targets=_array(targets, arrays),
        loss=loss,
        learning_rate=learning_rate,
        update_biases=update_biases,
        reduction=reduction,
        named=named,
        l2=l2,
        corrupt=None if corrupt is None else _array(corrupt, arrays),
        margin=margin,
        title_zh=title_zh,
        source_zh=source_zh,
    )


def _layer_param(
    doc: Document, path: PathKey, raw: dict[str, Yaml], name: str, defaults: dict[str, float]
) -> float | None:
    """The value of the layer's activation parameter (its own key, else the top level's, else the default)."""
    values = {
        p.key: as_number(doc, path + (p.key,), raw.get(p.key, defaults[p.key]), p.expects) for p in ACTIVATION_PARAMS
    }
    entry = functions.activation(name).param
    return None if entry is None else values[entry.key]


def _check_targets(doc: Document, loss: str, out_layer: Layer, targets: list[list[float]], named: bool) -> None:
    where: PathKey = ("samples",) if isinstance(doc.data, dict) and "samples" in doc.data else ("targets",)
    if loss == "cross_entropy" and out_layer.activation != "softmax":
        one_sigmoid = out_layer.activation == "sigmoid" and out_layer.size == 1
        raise doc.error(
            ("loss",),
            _("cross_entropy needs a softmax output layer"),
            hint=_(
                "with one sigmoid output, write loss: bce (binary cross-entropy, "
                "Ng's L = −[y ln a + (1 − y) ln(1 − a)])"
            )
            if one_sigmoid
            else _(
                "set the last layer's activation to softmax (it is {activation}), "
                "or with sigmoid outputs write loss: bce"
            ).format(activation=out_layer.activation),
        )
    if loss == "bce" and out_layer.activation != "sigmoid":
        raise doc.error(
            ("loss",),
            _("bce needs outputs in (0, 1): a sigmoid output layer, not {activation}").format(
                activation=out_layer.activation
            ),
            hint=_("set the last layer's activation to sigmoid"),
        )
    if out_layer.activation == "softmax" and loss != "cross_entropy":
        raise doc.error(
            ("loss",),
            _("a softmax output layer goes with cross_entropy, not {loss}").format(loss=loss),
            hint=_("use loss: cross_entropy"),
        )
    for s, row in enumerate(targets):
        path = where + ((s, "targets") if where == ("samples",) else ())
        if loss == "bce" and any(not 0 <= t <= 1 for t in row):
            raise doc.error(path, _("bce targets must lie in [0, 1], got {targets}").format(targets=row))
        if loss == "cross_entropy":
            if any(t < 0 for t in row):
                raise doc.error(
                    path, _("cross_entropy targets must not be negative, got {targets}").format(targets=row)
                )
            if abs(sum(row) - 1) > 1e-9:
                raise doc.error(
                    path,
                    _("cross_entropy targets must sum to 1, they sum to {total}").format(total=f"{sum(row):g}"),
                    hint=_("use a one-hot vector such as [0, 1, 0]"),
                )


def _matrix(
    doc: Document,
    data: dict[str, Yaml],
    layers_raw: list[dict[str, Yaml]],
    defaults: dict[str, float],
    loss: str,
    arrays: bool,
) -> _Read:
    if loss == "max_margin":
        windows, corrupt = _windows(doc, data)
        inputs = windows + corrupt
        targets: list[list[float]] = [[] for _window in windows]
    else:
        inputs, targets = _samples_matrix(doc, data)
    n_in = len(inputs[0])
    input_names = [f"x{j + 1}" for j in range(n_in)]
    layers: list[Layer] = []
    previous = n_in
    for i, raw in enumerate(layers_raw):
        path = ("layers", i)
        _check_keys(doc, path, raw, LAYER_KEYS_MATRIX)
        _require(doc, path, raw, "weights")
        activation = _choice(doc, path + ("activation",), raw.get("activation", "sigmoid"), ACTIVATIONS, "activation")
        w = _matrix_of_numbers(doc, path + ("weights",), raw["weights"])
        if len(w[0]) != previous:
            if i == 0:
                message = _("each row must have {count} weights (one per neuron of the inputs), got {got}")
            else:
                message = _("each row must have {count} weights (one per neuron of layer {layer}), got {got}")
            raise doc.error(
                path + ("weights",),
                message.format(count=previous, layer=i, got=len(w[0])),
                hint=_("row i = neuron i of this layer, column j = neuron j of the layer before"),
            )
        n = len(w)
        index = i + 1
        last = i == len(layers_raw) - 1
        neurons = tuple(f"o{r + 1}" if last else f"h{index}_{r + 1}" for r in range(n))
        if "biases" in raw and "bias" in raw:
            raise doc.error(path + ("bias",), _("give either biases (one per neuron) or bias (shared), not both"))
        if "biases" in raw:
            b = _vector(doc, path + ("biases",), raw["biases"])
            if len(b) != n:
                raise doc.error(
                    path + ("biases",),
                    _("expected {count} biases (one per neuron), got {got}").format(count=n, got=len(b)),
                    hint=_("or write bias: VALUE for one bias shared by the layer"),
                )
            mode, biases, names = "neuron", b, tuple(f"b{index}_{r + 1}" for r in range(n))
        elif "bias" in raw:
            biases = [as_number(doc, path + ("bias",), raw["bias"])]
            mode, names = "shared", (f"b{index}",)
        else:
            mode, biases, names = "none", [], ()
        param = _layer_param(doc, path, raw, activation, defaults)
        layers.append(
            Layer(index, activation, neurons, _array(w, arrays), mode, _array(biases, arrays), names, None, param)
        )
        previous = n
    if loss != "max_margin":
        _check_target_width(doc, data, targets, layers[-1].size)
    return input_names, inputs, targets, layers


def _windows(doc: Document, data: dict[str, Yaml]) -> tuple[list[list[float]], list[list[float]]]:
    """max_margin: each sample's true window `inputs` and corrupt window `corrupt` (no targets)."""
    if "targets" in data:
        raise doc.error(
            ("targets",),
            _("max_margin has no targets: it compares the scores of x and x_c"),
            hint=_("remove targets; give corrupt: [...] beside inputs"),
        )
    if "samples" in data:
        raw = data["samples"]
        if "inputs" in data or "corrupt" in data:
            raise doc.error(("samples",), _("give either samples: or inputs:/corrupt:, not both"))
        if not isinstance(raw, list) or not raw:
            raise doc.error(("samples",), _("samples must be a non-empty list of {inputs: [...], corrupt: [...]}"))
        pairs: list[tuple[PathKey, Yaml, PathKey, Yaml]] = []
        for s, item in enumerate(raw):
            if not isinstance(item, dict):
                raise doc.error(("samples", s), _("each sample must be a mapping with inputs and corrupt"))
            _check_keys(doc, ("samples", s), item, ("inputs", "corrupt"))
            _require(doc, ("samples", s), item, "inputs")
            _require(doc, ("samples", s), item, "corrupt", hint=_("max_margin needs a corrupt window per sample"))
            pairs.append((("samples", s, "inputs"), item["inputs"], ("samples", s, "corrupt"), item["corrupt"]))
    else:
        _require(doc, (), data, "inputs", hint=_("add inputs: [...] and corrupt: [...], or samples: [...]"))
        _require(doc, (), data, "corrupt", hint=_("max_margin needs the corrupt window x_c"))
        pairs = [(("inputs",), data["inputs"], ("corrupt",), data["corrupt"])]
    windows: list[list[float]] = []
    corrupt: list[list[float]] = []
    for xpath, x, cpath, c in pairs:
        xv, cv = _vector(doc, xpath, x), _vector(doc, cpath, c)
        first = len(windows[0]) if windows else len(xv)
        for path, v in ((xpath, xv), (cpath, cv)):
            if len(v) != first:
                raise doc.error(
                    path,
                    _("this window has {count} inputs but the first has {first}").format(count=len(v), first=first),
                )
        windows.append(xv)
        corrupt.append(cv)
    return windows, corrupt


def _samples_matrix(doc: Document, data: dict[str, Yaml]) -> tuple[list[list[float]], list[list[float]]]:
    if "samples" in data:
        if "inputs" in data or "targets" in data:
            raise doc.error(("samples",), _("give either samples: or inputs:/targets:, not both"))
        raw = data["samples"]
        if not isinstance(raw, list) or not raw:
            raise doc.error(("samples",), _("samples must be a non-empty list of {inputs: [...], targets: [...]}"))
        inputs: list[list[float]] = []
        targets: list[list[float]] = []
        for s, item in enumerate(raw):
            if not isinstance(item, dict):
                raise doc.error(("samples", s), _("each sample must be a mapping with inputs and targets"))
            _check_keys(doc, ("samples", s), item, ("inputs", "targets"))
            _require(doc, ("samples", s), item, "inputs")
            _require(doc, ("samples", s), item, "targets")
            x = _vector(doc, ("samples", s, "inputs"), item["inputs"])
            t = _vector(doc, ("samples", s, "targets"), item["targets"])
            if inputs and len(x) != len(inputs[0]):
                raise doc.error(
                    ("samples", s, "inputs"),
                    _("this sample has {count} inputs but sample 1 has {first}").format(
                        count=len(x), first=len(inputs[0])
                    ),
                )
            if targets and len(t) != len(targets[0]):
                raise doc.error(
                    ("samples", s, "targets"),
                    _("this sample has {count} targets but sample 1 has {first}").format(
                        count=len(t), first=len(targets[0])
                    ),
                )
            inputs.append(x)
            targets.append(t)
        return inputs, targets
    _require(doc, (), data, "inputs", hint=_("add inputs: [...] and targets: [...], or samples: [...]"))
    _require(doc, (), data, "targets")
    x = _vector(doc, ("inputs",), data["inputs"])
    t = _vector(doc, ("targets",), data["targets"])
    return [x], [t]


def _check_target_width(doc: Document, data: dict[str, Yaml], targets: list[list[float]], outputs: int) -> None:
    if len(targets[0]) != outputs:
        path: PathKey = ("samples", 0, "targets") if "samples" in data else ("targets",)
        raise doc.error(
            path,
            _("expected {count} targets (one per output neuron), got {got}").format(count=outputs, got=len(targets[0])),
        )


def _named(
    doc: Document, data: dict[str, Yaml], layers_raw: list[dict[str, Yaml]], defaults: dict[str, float], arrays: bool
) -> _Read:
    samples_in, samples_t = _samples_named(doc, data)
    input_names = list(samples_in[0][0])
    seen: dict[str, PathKey] = {n: ("inputs",) for n in input_names}
    layers: list[Layer] = []
    previous = input_names
    for i, raw in enumerate(layers_raw):
        path = ("layers", i)
        _check_keys(doc, path, raw, LAYER_KEYS_NAMED)
        activation = _choice(doc, path + ("activation",), raw.get("activation", "sigmoid"), ACTIVATIONS, "activation")
        listed = raw["neurons"]
        if not isinstance(listed, list) or not listed or not all(isinstance(n, str) for n in listed):
            raise doc.error(path + ("neurons",), _("neurons must be a non-empty list of names, e.g. [h1, h2]"))
        neurons = [str(n) for n in listed]
        for k, name in enumerate(neurons):
            _check_name(doc, path + ("neurons", k), name, seen)
        _require(doc, path, raw, "weights")
        wraw = raw["weights"]
        if not isinstance(wraw, dict):
            raise doc.error(path + ("weights",), _("in the named form, weights is a mapping NAME: {from, to, value}"))
        w = [[0.0] * len(previous) for _ in neurons]
        names: list[list[str | None]] = [[None] * len(previous) for _ in neurons]
        for wname, spec in wraw.items():
            wpath = path + ("weights", wname)
            _check_name(doc, wpath, wname, seen)
            if not isinstance(spec, dict):
                raise doc.error(wpath, _("a weight is a mapping {from: SOURCE, to: NEURON, value: NUMBER}"))
            _check_keys(doc, wpath, spec, ("from", "to", "value"))
            for key in ("from", "to", "value"):
                _require(doc, wpath, spec, key)
            src, dst = spec["from"], spec["to"]
            for key, value in (("from", src), ("to", dst)):
                if not isinstance(value, str):
                    raise doc.error(
                        wpath + (key,),
                        _("{key} must be one neuron's name, got {value}").format(key=key, value=brief(value)),
                        hint=_("e.g. {from: i1, to: h1, value: 0.15}"),
                    )
            if src not in previous:
                if src in seen:
                    raise doc.error(
                        wpath + ("from",),
                        _(
                            "{name} is not in the layer before; layers connect only "
                            "to the layer before (no skip connections in v1)"
                        ).format(name=brief(src)),
                    )
                if i == 0:
                    message = _("{name} is not an input").format(name=brief(src))
                else:
                    message = _("{name} is not a neuron of layer {layer}").format(name=brief(src), layer=i)
                raise doc.error(
                    wpath + ("from",),
                    message,
                    hint=did_you_mean(str(src), previous) or _choose(previous),
                )
            if dst not in neurons:
                raise doc.error(
                    wpath + ("to",),
                    _("{name} is not a neuron of this layer").format(name=brief(dst)),
                    hint=did_you_mean(str(dst), neurons) or _choose(neurons),
                )
            r, c = neurons.index(dst), previous.index(src)
            if names[r][c] is not None:
                raise doc.error(
                    wpath,
                    _("{name} already connects {source} to {neuron}").format(name=names[r][c], source=src, neuron=dst),
                )
            names[r][c] = wname
            w[r][c] = as_number(doc, wpath + ("value",), spec["value"])
        missing = [
            f"{previous[c]}→{neurons[r]}"
            for r in range(len(neurons))
            for c in range(len(previous))
            if names[r][c] is None
        ]
        if missing:
            raise doc.error(
                path + ("weights",),
                _("no weight for {connections}").format(
                    connections=", ".join(missing[:4]) + (" ..." if len(missing) > 4 else "")
                ),
                hint=_("every neuron connects to every neuron of the layer before (use 0 for none)"),
            )
        mode, biases, bias_names = _named_biases(doc, path, raw.get("biases"), neurons, seen)
        param = _layer_param(doc, path, raw, activation, defaults)
        layers.append(
            Layer(
                i + 1,
                activation,
                tuple(neurons),
                _array(w, arrays),
                mode,
                _array(biases, arrays),
                bias_names,
                tuple(tuple(str(n) for n in row) for row in names),
                param,
            )
        )
        previous = list(neurons)
    outputs = list(previous)
    inputs = [[x[n] for n in input_names] for x, _ in samples_in]
    targets = []
    for t, tpath in samples_t:
        if set(t) != set(outputs):
            missing = [o for o in outputs if o not in t]
            extra = [k for k in t if k not in outputs]
            if missing:
                message = _("targets must name each output neuron ({outputs}): missing {names}")
            else:
                message = _("targets must name each output neuron ({outputs}): {names} is not an output neuron")
            raise doc.error(
                tpath,
                message.format(outputs=", ".join(outputs), names=", ".join(missing or extra)),
                hint=f"{extra[0]}: {did_you_mean(extra[0], outputs)}"
                if extra and did_you_mean(extra[0], outputs)
                else None,
            )
        targets.append([t[o] for o in outputs])
    return input_names, inputs, targets, layers


def _named_biases(
    doc: Document, path: PathKey, raw: Yaml, neurons: list[str], seen: dict[str, PathKey]
) -> tuple[str, list[float], tuple[str, ...]]:
    if raw is None:
        return "none", [], ()
    if not isinstance(raw, dict):
        raise doc.error(path + ("biases",), _("in the named form, biases is a mapping NAME: {to, value}"))
    owner: dict[str, str] = {}
    specs: list[tuple[str, list[str], float]] = []
    listed: set[str] = set()  # the biases whose `to` is a list (one neuron in a list is shared by that layer)
    for bname, spec in raw.items():
        bpath = path + ("biases", bname)
        _check_name(doc, bpath, bname, seen)
        if not isinstance(spec, dict):
            raise doc.error(bpath, _("a bias is a mapping {to: NEURON or [NEURONS], value: NUMBER}"))
        _check_keys(doc, bpath, spec, ("to", "value"))
        _require(doc, bpath, spec, "to")
        _require(doc, bpath, spec, "value")
        to = spec["to"]
        if isinstance(to, list):
            listed.add(bname)
        targets: list[str] = []
        for dst in to if isinstance(to, list) else [to]:
            if not isinstance(dst, str):
                raise doc.error(
                    bpath + ("to",),
                    _("to must name neurons, got {value}").format(value=brief(to)),
                    hint=_("e.g. {to: [h1, h2], value: 0.35}"),
                )
            targets.append(dst)
            if dst not in neurons:
                raise doc.error(
                    bpath + ("to",),
                    _("{name} is not a neuron of this layer").format(name=brief(dst)),
                    hint=did_you_mean(str(dst), neurons) or _("choose from {names}").format(names=", ".join(neurons)),
                )
            if dst in owner:
                raise doc.error(
                    bpath + ("to",), _("{neuron} already has the bias {name}").format(neuron=dst, name=owner[dst])
                )
            owner[dst] = bname
        specs.append((bname, targets, as_number(doc, bpath + ("value",), spec["value"])))
    if len(specs) == 1 and set(specs[0][1]) == set(neurons) and (len(neurons) > 1 or specs[0][0] in listed):
        return "shared", [specs[0][2]], (specs[0][0],)
    if all(len(t) == 1 for _, t, _ in specs) and len(owner) == len(neurons):
        by_neuron = {t[0]: (name, value) for name, t, value in specs}
        return ("neuron", [by_neuron[n][1] for n in neurons], tuple(by_neuron[n][0] for n in neurons))
    raise doc.error(
        path + ("biases",),
        _("give one bias shared by every neuron of the layer, or one bias per neuron"),
        hint=_("bias modes are none, one per neuron, or one shared by the layer"),
    )


def _samples_named(doc: Document, data: dict[str, Yaml]) -> tuple[list[_Named], list[_Named]]:
    def vector(path: PathKey, raw: Yaml, what: str) -> dict[str, float]:
        if not isinstance(raw, dict) or not raw:
            raise doc.error(
                path, _("in the named form, {key} is a mapping NAME: VALUE, e.g. {{i1: 0.05}}").format(key=what)
            )
        return {str(k): as_number(doc, path + (k,), v) for k, v in raw.items()}

    if "samples" in data:
        if "inputs" in data or "targets" in data:
            raise doc.error(("samples",), _("give either samples: or inputs:/targets:, not both"))
        raw = data["samples"]
        if not isinstance(raw, list) or not raw:
            raise doc.error(("samples",), _("samples must be a non-empty list of {inputs: {...}, targets: {...}}"))
        ins: list[_Named] = []
        ts: list[_Named] = []
        for s, item in enumerate(raw):
            if not isinstance(item, dict):
                raise doc.error(("samples", s), _("each sample must be a mapping with inputs and targets"))
            _check_keys(doc, ("samples", s), item, ("inputs", "targets"))
            _require(doc, ("samples", s), item, "inputs")
            _require(doc, ("samples", s), item, "targets")
            x = vector(("samples", s, "inputs"), item["inputs"], "inputs")
            if ins and list(x) != list(ins[0][0]):
                raise doc.error(
                    ("samples", s, "inputs"),
                    _("this sample's inputs are {names}; sample 1 has {first}").format(
                        names=", ".join(x), first=", ".join(ins[0][0])
                    ),
                )
            ins.append((x, ("samples", s, "inputs")))
            ts.append((vector(("samples", s, "targets"), item["targets"], "targets"), ("samples", s, "targets")))
        return ins, ts
    _require(doc, (), data, "inputs")
    _require(doc, (), data, "targets")
    return (
        [(vector(("inputs",), data["inputs"], "inputs"), ("inputs",))],
        [(vector(("targets",), data["targets"], "targets"), ("targets",))],
    )


# ---- small validation helpers ----


# What the articles and courses call a key that bptrace spells otherwise (Ng writes α for the learning rate).
KEY_SYNONYMS = {
    "lr": "learning_rate",
    "eta": "learning_rate",
    "η": "learning_rate",
    "alpha": "learning_rate",
    "α": "learning_rate",
    "learning-rate": "learning_rate",
    "learningrate": "learning_rate",
    "lambda": "l2",
    "λ": "l2",
    "weight_decay": "l2",
    "cost": "loss",
    "loss_function": "loss",
    "input": "inputs",
    "target": "targets",
    "x": "inputs",
    "y": "targets",
    "activation_function": "activation",
    "act": "activation",
    "weight": "weights",
}


def _check_keys(doc: Document, path: PathKey, mapping: dict[str, Yaml], allowed: Sequence[str]) -> None:
    for key in mapping:
        if key not in allowed:
            synonym = KEY_SYNONYMS.get(str(key).lower())
            raise doc.error(
                path + (key,),
                _("unknown key {key}").format(key=brief(key)),
                hint=(_("did you mean {names}?").format(names=synonym) if synonym in allowed else None)
                or did_you_mean(str(key), allowed)
                or _("expected one of {names}").format(names=", ".join(allowed)),
            )


def _require(doc: Document, path: PathKey, mapping: dict[str, Yaml], key: str, hint: str | None = None) -> None:
    if key not in mapping:
        raise doc.error(
            path, _("missing required key {key}").format(key=brief(key)), hint=hint or _("see docs/scenarios.md")
        )


_UNKNOWN = {
    "loss": N_("unknown loss {value}"),
    "activation": N_("unknown activation {value}"),
    "reduction": N_("unknown reduction {value}"),
}


def _choice(doc: Document, path: PathKey, value: Yaml, choices: Sequence[str], what: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise doc.error(
            path,
            _(_UNKNOWN[what]).format(value=brief(value)),
            hint=did_you_mean(str(value), choices) or _choose(choices),
        )
    return value


def _text(doc: Document, key: str, value: Yaml) -> str:
    """A top-level text value (title, source, ...), or the error at its key."""
    if not isinstance(value, str):
        raise doc.error((key,), _("{key} must be text, got {value}").format(key=key, value=brief(value)))
    return value


def _choose(names: Sequence[str]) -> str:
    return _("choose one of {names}").format(names=", ".join(names))


def _check_name(doc: Document, path: PathKey, name: Yaml, seen: dict[str, PathKey]) -> None:
    import re

    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise doc.error(
            path,
            _("{name} is not a valid name").format(name=brief(name)),
            hint=_("use letters, digits and _, starting with a letter (e.g. h1, w5)"),
        )
    if name.startswith(RESERVED_PREFIXES) or name in ("E", "total"):
        raise doc.error(
            path,
            _("the name {name} would read as a quantity name (net_X, E_X, dE/..., ...)").format(name=brief(name)),
            hint=_("choose a name that does not start with net_, out_, delta_, E_, dE, dnet_ or dout_"),
        )
    if name in seen:
        raise doc.error(path, _("the name {name} is used twice").format(name=brief(name)))
    seen[name] = path


def _vector(doc: Document, path: PathKey, raw: Yaml) -> list[float]:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise doc.error(path, _("expected a non-empty list of numbers, got {value}").format(value=brief(raw)))
    return [float(as_number(doc, path + (k,), v)) for k, v in enumerate(raw)]


def _matrix_of_numbers(doc: Document, path: PathKey, raw: Yaml) -> list[list[float]]:
    if not isinstance(raw, list) or not raw:
        raise doc.error(path, _("weights must be a non-empty list of rows, e.g. [[0.15, 0.20], [0.25, 0.30]]"))
    rows: list[list[float]] = []
    for r, row in enumerate(raw):
        if not isinstance(row, list) or not row:
            raise doc.error(
                path + (r,),
                _("each row of weights must be a non-empty list of numbers"),
                hint=_("row i = neuron i of this layer, e.g. [0.15, 0.20]"),
            )
        if rows and len(row) != len(rows[0]):
            raise doc.error(
                path + (r,),
                _("row {row} has {count} weights but row 1 has {first}").format(
                    row=r + 1, count=len(row), first=len(rows[0])
                ),
            )
        rows.append([float(as_number(doc, path + (r, c), v)) for c, v in enumerate(row)])
    return rows


def _array(values: list[float] | list[list[float]], arrays: bool) -> NDArray[np.float64]:
    """The validated numbers (a vector, or rows of a matrix, perhaps empty rows) as a float64 array, or
    (arrays=False) as Floats, which the numpy-free scalar path reads in their place (model/floats.py)."""
    matrix = bool(values) and isinstance(values[0], list)
    if not arrays:
        from bptrace.model.floats import Floats

        plain = Floats.matrix(values) if matrix else Floats.vector(values)  # type: ignore[arg-type]
        return cast("NDArray[np.float64]", plain)
    import numpy as np

    if matrix:
        return np.array(values, dtype=float).reshape(len(values), len(values[0]))  # type: ignore[arg-type]
    return np.array(values, dtype=float)
