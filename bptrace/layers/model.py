"""Layer-stack scenarios (`kind: layers`): the parsed YAML document -> a validated LayersScenario.

    kind: layers
    title: A 4×4 image, a 2×2 kernel, max pooling and a dense output
    samples:
      - inputs: [[1, 0, 2, 1], [0, 1, 1, 0], [2, 1, 0, 1], [1, 0, 1, 2]]   # H×W, or C×H×W, or a vector
        targets: [1]
    layers:
      - {type: conv2d, channels_in: 1, channels_out: 1, kernel_size: 2, stride: 1, padding: 0,
         kernels: [[[[0.1, -0.2], [0.3, 0.4]]]], biases: [0.1]}
      - {type: activation, function: relu}
      - {type: maxpool, size: 2, stride: 1}
      - {type: flatten}
      - {type: dense, weights: [[0.5, -0.3, 0.2, 0.1]], biases: [0.05], activation: sigmoid}
    loss: half_sse
    learning_rate: 0.5

Every error names file:line:column, the layer (`layers[2] (maxpool)`) and, for a wrong shape, the shape
expected and the shape given. Nothing is evaluated: numbers are read by bptrace.model.source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bptrace.errors import ScenarioError
from bptrace.i18n import N_, _
from bptrace.model import source
from bptrace.model.kinds import COMMON_KEYS, document_of_kind
from bptrace.model.kinds import shown as shown  # re-exported: the title and source as the reader reads them
from bptrace.model.kinds import text_value as _text
from bptrace.model.source import Document, PathKey, as_number, brief, did_you_mean

KIND = "layers"
TOP_KEYS = (
    *COMMON_KEYS,
    "samples",
    "layers",
    "loss",
    "reduction",
    "learning_rate",
)
LAYER_TYPES = ("conv2d", "maxpool", "avgpool", "flatten", "dense", "batchnorm", "activation")
LAYER_KEYS: dict[str, tuple[str, ...]] = {
    "conv2d": ("type", "channels_in", "channels_out", "kernel_size", "stride", "padding", "kernels", "biases"),
    "maxpool": ("type", "size", "stride"),
    "avgpool": ("type", "size", "stride"),
    "flatten": ("type",),
    "dense": ("type", "weights", "biases", "activation", "leaky_slope", "elu_alpha"),
    "batchnorm": ("type", "gamma", "beta", "epsilon"),
    "activation": ("type", "function", "leaky_slope", "elu_alpha"),
}
REDUCTIONS = ("mean", "sum")
MAX_VALUES = 20_000  # the numbers of every sample's every layer: a traced-by-hand stack is far smaller
# parameters: each is checked by finite differences and printed in every table; 3,660 (a 60×60 dense layer)
# take 7 s of CPU, 40,200 (200×200) took minutes
MAX_PARAMETERS = 5_000
DEFAULT_EPSILON = 1e-5
DEFAULT_TITLE = N_("a stack of layers")
BUNDLED_TEXTS = (
    N_("A 4×4 image through a 2×2 kernel, max pooling and a dense output"),
    N_(
        "Written for bptrace after Stanford CS231n's course notes, Convolutional Neural Networks: Architectures, "
        "Convolution / Pooling Layers (a 2-D cross-correlation, a max pool, a fully connected layer)"
    ),
    N_("A dense layer, batch normalization and a sigmoid output, over a batch of three"),
    N_(
        "Written for bptrace after Ioffe and Szegedy, Batch Normalization: Accelerating Deep Network Training "
        "by Reducing Internal Covariate Shift (Algorithm 1 and the backward pass of section 3)"
    ),
)

Shape = tuple[int, ...]


def shape_text(shape: Shape) -> str:
    """(1, 4, 4) -> '1×4×4'; a vector (3,) -> '3'."""
    return "×".join(str(n) for n in shape)


@dataclass(frozen=True)
class Layer:
    """One layer of the stack; `index` counts from 1 (the number in its quantities' names: K1, W5, gamma2)."""

    index: int
    type: str
    in_shape: Shape
    out_shape: Shape
    kernels: Any = None  # conv2d: (out, in, k, k) float64
    weights: Any = None  # dense: (out, in)
    biases: Any = None  # conv2d (out,), dense (out,)
    gamma: Any = None  # batchnorm (features or channels,)
    beta: Any = None
    epsilon: float = DEFAULT_EPSILON
    kernel_size: int = 0
    stride: int = 1
    padding: int = 0
    size: int = 0  # pooling window
    function: str = "linear"  # dense's activation, or an activation layer's function
    param: float | None = None  # the activation's parameter (leaky_slope, elu_alpha)
    line: int | None = None

    @property
    def label(self) -> str:
        """'layer 3 (maxpool)' in messages and titles."""
        return _("layer {n} ({type})").format(n=self.index, type=self.type)

    def params(self) -> dict[str, Any]:
        """Its parameter arrays by role: kernels/biases, weights/biases, gamma/beta (none for the others)."""
        if self.type == "conv2d":
            return {"K": self.kernels, "b": self.biases}
        if self.type == "dense":
            return {"W": self.weights, "b": self.biases}
        if self.type == "batchnorm":
            return {"gamma": self.gamma, "beta": self.beta}
        return {}


@dataclass(frozen=True)
class LayersScenario:
    """A validated stack: samples (inputs and targets), the layers, the loss, the learning rate. Immutable."""

    title: str
    source_note: str
    file: str
    inputs: Any  # (samples, *input shape) float64
    targets: Any  # (samples, outputs)
    layers: tuple[Layer, ...]
    loss: str
    reduction: str
    learning_rate: float
    title_zh: str = ""
    source_zh: str = ""

    kind = KIND

    @property
    def samples(self) -> int:
        return int(self.inputs.shape[0])

    def display_title(self) -> str:
        from bptrace.model.scenario import in_language

        return in_language(shown(self.title), self.title_zh)

    def display_source(self) -> str:
        from bptrace.model.scenario import in_language

        return in_language(shown(self.source_note), self.source_zh)


# ---- finding and loading ----


def load_document(name: str) -> Document | None:
    """The parsed document of scenario `name` (bundled name or path) when it declares `kind: layers`, else None."""
    return document_of_kind(name, KIND, is_layers_text)


def layers_or_none(name: str | None) -> LayersScenario | None:
    """The LayersScenario of `name` if that file says `kind: layers`, else None (a network, a graph, ...)."""
    if name is None:
        return None
    doc = load_document(name)
    return None if doc is None else from_document(doc)


def loads(text: str, file: str = "<string>") -> LayersScenario:
    """Validate a layers scenario given as YAML or JSON text."""
    return from_document(source.parse(text, file, ScenarioError))


def load(name: str) -> LayersScenario:
    doc = load_document(name)
    if doc is None:
        raise ScenarioError(
            _("{name} is not a layers scenario").format(name=name),
            hint=_("a layers scenario starts with 'kind: layers'"),
        )
    return from_document(doc)


def is_layers_text(text: str) -> bool:
    """True when the text declares `kind: layers` (a top-level line, or a JSON key)."""
    return re.search(r"(?m)(^|[{,]\s*)['\"]?kind['\"]?\s*:\s*['\"]?layers\b", text) is not None


def bundled_layers_names() -> list[str]:
    from bptrace.model.scenario import BUNDLED_DIR

    return sorted(p.stem for p in BUNDLED_DIR.glob("*.yaml") if is_layers_text(p.read_text(encoding="utf-8")))


# ---- validation ----


def from_document(doc: Document) -> LayersScenario:
    """Validate a parsed `kind: layers` document; every problem names file:line:column and the layer."""
    import numpy as np

    from bptrace import functions

    data = doc.data
    if not isinstance(data, dict):
        raise doc.error((), _("a layers scenario must be a mapping of keys (kind, samples, layers, ...)"))
    for key in data:
        if key not in TOP_KEYS:
            raise doc.error(
                (key,),
                _("unknown key {key} in a layers scenario").format(key=brief(key)),
                hint=did_you_mean(str(key), TOP_KEYS) or _("expected one of {keys}").format(keys=", ".join(TOP_KEYS)),
            )
    for key in ("samples", "layers", "loss", "learning_rate"):
        if key not in data:
            raise doc.error((), _("missing required key {key!r}").format(key=key), hint=_("see docs/layers.md"))
    title = _text(doc, data, "title", DEFAULT_TITLE)
    note = _text(doc, data, "source", "")
    _text(doc, data, "description", "")
    title_zh, source_zh = _text(doc, data, "title_zh", ""), _text(doc, data, "source_zh", "")

    loss = data["loss"]
    if not isinstance(loss, str) or loss not in functions.LOSSES:
        raise doc.error(
            ("loss",),
            _("unknown loss {value}").format(value=brief(loss)),
            hint=did_you_mean(str(loss), functions.LOSSES)
            or _("choose from {names}").format(names=", ".join(functions.LOSSES)),
        )
    reduction = data.get("reduction", "mean")
    if reduction not in REDUCTIONS:
        raise doc.error(
            ("reduction",),
            _("unknown reduction {value}").format(value=brief(reduction)),
            hint=_("choose from {names}").format(names=", ".join(REDUCTIONS)),
        )
    rate = as_number(doc, ("learning_rate",), data["learning_rate"], _("a positive number"))
    if rate <= 0:
        raise doc.error(("learning_rate",), _("learning_rate must be positive, got {value}").format(value=f"{rate:g}"))

    # samples
    raw_samples = data["samples"]
    if not isinstance(raw_samples, list) or not raw_samples:
        raise doc.error(
            ("samples",),
            _("samples must be a list of entries with inputs: and targets:"),
            hint=_("e.g. samples: [{inputs: [[1, 2], [3, 4]], targets: [1]}]"),
        )
    inputs: list[Any] = []
    targets: list[Any] = []
    in_shape: Shape | None = None
    t_len: int | None = None
    for k, raw in enumerate(raw_samples):
        path: PathKey = ("samples", k)
        if not isinstance(raw, dict):
            raise doc.error(path, _("a sample must be a mapping with inputs: and targets:"))
        for key in raw:
            if key not in ("inputs", "targets"):
                raise doc.error(
                    (*path, key),
                    _("unknown key {key} in a sample").format(key=brief(key)),
                    hint=_("a sample has inputs: and targets:"),
                )
        for key in ("inputs", "targets"):
            if key not in raw:
                raise doc.error(path, _("sample {k} has no {key}:").format(k=k + 1, key=key))
        alt = in_shape[1:] if in_shape is not None and len(in_shape) == 3 and in_shape[0] == 1 else None
        x = _array(doc, (*path, "inputs"), raw["inputs"], in_shape, _("the input"), alt)
        if x.ndim > 3:
            raise doc.error(
                (*path, "inputs"),
                _("an input is a vector, an H×W image or C×H×W, not {shape}").format(shape=shape_text(x.shape)),
                hint=_("remove the extra brackets"),
            )
        if x.ndim == 2:
            x = x[None, :, :]  # one channel
        if in_shape is None:
            in_shape = tuple(x.shape)
        t = _array(doc, (*path, "targets"), raw["targets"], None if t_len is None else (t_len,), _("the target"))
        if t.ndim != 1:
            raise doc.error((*path, "targets"), _("a target is a list of numbers, one per output"))
        if t_len is None:
            t_len = len(t)
        inputs.append(x)
        targets.append(t)
    assert in_shape is not None and t_len is not None
    X = np.stack(inputs)
    T = np.stack(targets)
    total = int(X.size)

    # layers
    raw_layers = data["layers"]
    if not isinstance(raw_layers, list) or not raw_layers:
        raise doc.error(("layers",), _("layers must be a list of layers"), hint=_("e.g. layers: [{type: flatten}]"))
    layers: list[Layer] = []
    shape: Shape = in_shape
    parameters = 0
    for i, raw in enumerate(raw_layers):
        layer = _layer(doc, i, raw, shape, len(raw_samples))
        layers.append(layer)
        shape = layer.out_shape
        parameters += sum(int(a.size) for a in layer.params().values())
        if parameters > MAX_PARAMETERS:
            raise doc.error(
                ("layers", i),
                _("the stack has {count} parameters; bptrace traces at most {limit}").format(
                    count=f"{parameters:,}", limit=f"{MAX_PARAMETERS:,}"
                ),
                hint=_("a stack traced by hand is smaller: fewer channels, a smaller kernel or dense layer"),
            )
        total += X.shape[0] * int(np.prod(shape))
        if total > MAX_VALUES:
            raise doc.error(
                ("layers", i),
                _("the stack computes more than {limit} values").format(limit=f"{MAX_VALUES:,}"),
                hint=_("a stack traced by hand is smaller: fewer samples, channels or positions"),
            )
    last = layers[-1]
    if len(shape) != 1:
        raise doc.error(
            ("layers", len(layers) - 1),
            _("the last layer's output is {shape}, but the loss needs a vector").format(shape=shape_text(shape)),
            hint=_("end the stack with a flatten or dense layer"),
        )
    if shape[0] != t_len:
        raise doc.error(
            ("samples", 0, "targets"),
            _("the target has {given} numbers, but {label} gives {shape} outputs").format(
                given=t_len, label=last.label, shape=shape[0]
            ),
            hint=_("give one target per output"),
        )
    _check_loss(doc, loss, _output_function(layers), T)
    return LayersScenario(
        title=title,
        source_note=note,
        file=doc.file,
        inputs=X,
        targets=T,
        layers=tuple(layers),
        loss=loss,
        reduction=str(reduction),
        learning_rate=rate,
        title_zh=title_zh,
        source_zh=source_zh,
    )


def _output_function(layers: list[Layer]) -> str:
    """The activation the outputs come out of: the last dense or activation layer's (flatten and pooling keep
    the values' range), linear after a convolution or a batch normalization."""
    for layer in reversed(layers):
        if layer.type in ("dense", "activation"):
            return layer.function
        if layer.type in ("conv2d", "batchnorm"):
            return "linear"
    return "linear"


def _check_loss(doc: Document, loss: str, function: str, T: Any) -> None:
    """bce needs outputs in (0, 1) and targets in [0, 1]; cross_entropy a softmax output (as a network's)."""
    if loss == "bce" and function != "sigmoid":
        raise doc.error(
            ("loss",),
            _("bce needs outputs in (0, 1): a sigmoid output layer, not {activation}").format(activation=function),
            hint=_("set the last layer's activation to sigmoid"),
        )
    if loss == "cross_entropy" and function != "softmax":
        raise doc.error(
            ("loss",),
            _("cross_entropy needs a softmax output layer"),
            hint=_(
                "set the last layer's activation to softmax (it is {activation}), "
                "or with sigmoid outputs write loss: bce"
            ).format(activation=function),
        )
    if loss == "bce":
        for k, row in enumerate(T):
            if (row < 0).any() or (row > 1).any():
                raise doc.error(
                    ("samples", k, "targets"),
                    _("bce targets must lie in [0, 1], got {targets}").format(targets=[float(v) for v in row]),
                )
    if loss == "cross_entropy":
        _check_ce(doc, T)


def _check_ce(doc: Document, T: Any) -> None:
    for k, row in enumerate(T):
        if (row < 0).any() or abs(float(row.sum()) - 1.0) > 1e-9:
            raise doc.error(
                ("samples", k, "targets"),
                _("cross_entropy needs targets that are ≥ 0 and sum to 1"),
                hint=_("e.g. targets: [0, 1, 0]"),
            )


def _nested_shape(raw: Any) -> Shape | None:
    """The shape of a nested list as written (following first elements), or None for a number."""
    if not isinstance(raw, list):
        return None
    if not raw:
        return (0,)
    inner = _nested_shape(raw[0])
    return (len(raw),) + (inner or ())


def _array(doc: Document, path: PathKey, raw: Any, want: Shape | None, what: str, alt: Shape | None = None) -> Any:
    """A nested list of numbers as a float64 array, of shape `want` (or `alt`) when given; a wrong shape is
    refused with the expected shape and the first element that does not fit."""
    import numpy as np

    given = _nested_shape(raw)
    if given is None:
        raise doc.error(
            path,
            _("{what} must be a list of numbers, got {value}").format(what=what, value=brief(raw)),
            hint=_("expected shape {shape}").format(shape=shape_text(want)) if want else None,
        )
    if want is not None and given != want and (alt is None or given != alt):
        expected = shape_text(want) if alt is None else _("{a} or {b}").format(a=shape_text(want), b=shape_text(alt))
        raise doc.error(
            path,
            _("{what} has shape {given}, expected {shape}").format(what=what, given=shape_text(given), shape=expected),
        )
    shape = given

    def walk(node: Any, p: PathKey, depth: int) -> Any:
        if depth == len(shape):
            if isinstance(node, list):
                raise doc.error(p, _("{what}: a number belongs here, not a list").format(what=what))
            return as_number(doc, p, node)
        if not isinstance(node, list):  # the first entries were lists: they decided the shape
            raise doc.error(
                p,
                _("{what}: a number here, but the first entries make the shape {shape}").format(
                    what=what, shape=shape_text(shape)
                ),
                hint=_("write every row like the first one"),
            )
        if len(node) != shape[depth]:
            n = len(node)
            raise doc.error(
                p,
                _("{what}: this row has {n} entries, expected {m} (shape {shape})").format(
                    what=what, n=n, m=shape[depth], shape=shape_text(shape)
                ),
            )
        return [walk(v, (*p, j), depth + 1) for j, v in enumerate(node)]

    if 0 in shape:
        raise doc.error(path, _("{what} is empty").format(what=what))
    return np.array(walk(raw, path, 0), dtype=np.float64)


def _int(doc: Document, path: PathKey, raw: Any, what: str, low: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < low:
        raise doc.error(
            path,
            _("{what} must be a whole number ≥ {low}, got {value}").format(what=what, low=low, value=brief(raw)),
        )
    return int(raw)


def _function(doc: Document, path: PathKey, raw: Any, shape: Shape, label: str) -> str:
    from bptrace import functions

    if not isinstance(raw, str) or raw not in functions.ACTIVATIONS:
        raise doc.error(
            path,
            _("unknown activation {value}").format(value=brief(raw)),
            hint=did_you_mean(str(raw), functions.ACTIVATIONS)
            or _("choose from {names}").format(names=", ".join(functions.ACTIVATIONS)),
        )
    if raw == "softmax" and len(shape) != 1:
        raise doc.error(
            path,
            _("{label}: softmax needs a vector, the input here is {shape}").format(
                label=label, shape=shape_text(shape)
            ),
            hint=_("put a flatten layer before it"),
        )
    return raw


def _param(doc: Document, path: PathKey, raw: dict[str, Any], function: str) -> float | None:
    from bptrace import functions

    entry = functions.activation(function)
    for key in ("leaky_slope", "elu_alpha"):
        if key in raw and (entry.param is None or entry.param.key != key):
            raise doc.error((*path, key), _("{key} belongs to another activation").format(key=key))
    if entry.param is not None and entry.param.key in raw:
        return as_number(doc, (*path, entry.param.key), raw[entry.param.key])
    return None


def _layer(doc: Document, i: int, raw: Any, shape: Shape, samples: int) -> Layer:
    import numpy as np

    path: PathKey = ("layers", i)
    if isinstance(raw, str) and raw == "flatten":
        raw = {"type": "flatten"}
    if not isinstance(raw, dict) or "type" not in raw:
        raise doc.error(
            path,
            _("layers[{i}] must be a mapping with a type:").format(i=i),
            hint=_("type is one of {types}").format(types=", ".join(LAYER_TYPES)),
        )
    kind = raw["type"]
    if kind not in LAYER_TYPES:
        raise doc.error(
            (*path, "type"),
            _("unknown layer type {value}").format(value=brief(kind)),
            hint=did_you_mean(str(kind), LAYER_TYPES) or _("choose from {types}").format(types=", ".join(LAYER_TYPES)),
        )
    label = _("layers[{i}] ({type})").format(i=i, type=kind)
    for key in raw:
        if key not in LAYER_KEYS[kind]:
            raise doc.error(
                (*path, key),
                _("{label}: unknown key {key}").format(label=label, key=brief(key)),
                hint=did_you_mean(str(key), LAYER_KEYS[kind])
                or _("expected one of {keys}").format(keys=", ".join(LAYER_KEYS[kind])),
            )
    line = doc.where(path)[0]
    common = {"index": i + 1, "type": kind, "in_shape": shape, "line": line}

    def need(key: str) -> Any:
        if key not in raw:
            raise doc.error(path, _("{label} needs {key}:").format(label=label, key=key), hint=_("see docs/layers.md"))
        return raw[key]

    def spatial() -> None:
        if len(shape) != 3:
            raise doc.error(
                path,
                _("{label} needs channels × height × width, but its input is the vector {shape}").format(
                    label=label, shape=shape_text(shape)
                ),
                hint=_("put it before the flatten layer"),
            )

    if kind == "conv2d":
        spatial()
        c_in = _int(doc, (*path, "channels_in"), need("channels_in"), "channels_in", 1)
        c_out = _int(doc, (*path, "channels_out"), need("channels_out"), "channels_out", 1)
        k = _int(doc, (*path, "kernel_size"), need("kernel_size"), "kernel_size", 1)
        stride = _int(doc, (*path, "stride"), raw.get("stride", 1), "stride", 1)
        pad = _int(doc, (*path, "padding"), raw.get("padding", 0), "padding", 0)
        if c_in != shape[0]:
            raise doc.error(
                (*path, "channels_in"),
                _("{label}: channels_in is {given}, but its input has {shape} channels ({full})").format(
                    label=label, given=c_in, shape=shape[0], full=shape_text(shape)
                ),
            )
        h, w = shape[1] + 2 * pad, shape[2] + 2 * pad
        if k > h or k > w:
            raise doc.error(
                (*path, "kernel_size"),
                _("{label}: a {k}×{k} kernel does not fit the padded input {h}×{w}").format(label=label, k=k, h=h, w=w),
            )
        want = (c_out, c_in, k, k)
        alt = (c_out, k, k) if c_in == 1 else None
        K = _array(doc, (*path, "kernels"), need("kernels"), want, _("{label}: kernels").format(label=label), alt)
        K = K.reshape(want)
        b = _array(doc, (*path, "biases"), need("biases"), (c_out,), _("{label}: biases").format(label=label))
        out = (c_out, (h - k) // stride + 1, (w - k) // stride + 1)
        return Layer(**common, out_shape=out, kernels=K, biases=b, kernel_size=k, stride=stride, padding=pad)
    if kind in ("maxpool", "avgpool"):
        spatial()
        size = _int(doc, (*path, "size"), need("size"), "size", 1)
        stride = _int(doc, (*path, "stride"), raw.get("stride", size), "stride", 1)
        if size > shape[1] or size > shape[2]:
            raise doc.error(
                (*path, "size"),
                _("{label}: a {k}×{k} window does not fit the input {shape}").format(
                    label=label, k=size, shape=shape_text(shape)
                ),
            )
        out = (shape[0], (shape[1] - size) // stride + 1, (shape[2] - size) // stride + 1)
        return Layer(**common, out_shape=out, size=size, stride=stride)
    if kind == "flatten":
        if len(shape) == 1:
            raise doc.error(path, _("{label}: the input is already a vector").format(label=label))
        return Layer(**common, out_shape=(int(np.prod(shape)),))
    if kind == "dense":
        if len(shape) != 1:
            raise doc.error(
                path,
                _("{label} needs a vector, but its input is {shape}").format(label=label, shape=shape_text(shape)),
                hint=_("put a flatten layer before it"),
            )
        raw_w = need("weights")
        rows = len(raw_w) if isinstance(raw_w, list) and raw_w else 1
        W = _array(doc, (*path, "weights"), raw_w, (rows, shape[0]), _("{label}: weights").format(label=label))
        b = _array(doc, (*path, "biases"), need("biases"), (rows,), _("{label}: biases").format(label=label))
        function = _function(doc, (*path, "activation"), raw.get("activation", "linear"), (rows,), label)
        param = _param(doc, path, raw, function)
        return Layer(**common, out_shape=(rows,), weights=W, biases=b, function=function, param=param)
    if kind == "batchnorm":
        if samples < 2:
            raise doc.error(
                path,
                _("{label}: batch normalization needs a batch of at least 2 samples").format(label=label),
                hint=_("add samples, or remove the layer"),
            )
        n = shape[0]
        g = _array(doc, (*path, "gamma"), need("gamma"), (n,), _("{label}: gamma").format(label=label))
        be = _array(doc, (*path, "beta"), need("beta"), (n,), _("{label}: beta").format(label=label))
        eps = as_number(doc, (*path, "epsilon"), raw.get("epsilon", DEFAULT_EPSILON), _("a positive number"))
        if eps <= 0:
            raise doc.error((*path, "epsilon"), _("epsilon must be positive, got {value}").format(value=f"{eps:g}"))
        return Layer(**common, out_shape=shape, gamma=g, beta=be, epsilon=eps)
    # activation
    function = _function(doc, (*path, "function"), need("function"), shape, label)
    param = _param(doc, path, raw, function)
    return Layer(**common, out_shape=shape, function=function, param=param)
