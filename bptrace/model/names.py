"""The vocabulary of quantity names shared by run, explain, check and the JSON (docs/quantities.md).

    net_X  out_X  E_X  E_total                forward pass and loss (X a neuron; E_X for outputs)
    dE/dout_X  dout_X/dnet_X  delta_X        backward pass (delta_X = dE/dnet_X = ∂E/∂net_X)
    dE_K/dout_J                              the term of dE/dout_J that flows through K: δ_K·w_KJ
    dnet_X/dθ                                the last chain-rule factor of a parameter θ feeding X
    θ  dE/dθ  θ+  θ@N  E_total@N             a parameter, its gradient, after 1 and after N updates
    ...:k                                    sample k (1-based) of a batch: out_o1:2, dE/dw5:3
    ...:kc                                   max_margin: the corrupt window's pass of sample k: out_o1:1c
                                             (:k is then the true window's pass; dE/dθ:k is the whole sample's)

`dE_total/...` is another spelling of `dE/...`; `dE/dnet_X` of `delta_X`; `E_total+` of `E_total@1`.
In a batch, an unsuffixed derivative of the loss (E_X, dE/dout_X, delta_X, dE_K/dout_J, dE/dθ) is the
batch value (the mean over samples, or the sum when the scenario's reduction is sum); the purely forward
quantities (net_X, out_X, dout_X/dnet_X, dnet_X/dθ) need a sample suffix. With max_margin, the
derivatives by a pass's values (dE/dout_X, delta_X, dE_K/dout_J) need one too: they have one value per
window, and the two windows' values of one neuron would cancel if added.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bptrace.errors import UnknownNameError
from bptrace.i18n import _
from bptrace.model.source import did_you_mean

if TYPE_CHECKING:
    from bptrace.model.scenario import Parameter, Scenario

# what a quantity is (Quantity.kind): docs/quantities.md names each
# ("invalid": an answer sheet's key that names no quantity, kept so the sheet can say so)
QuantityKind = Literal[
    "net",
    "out",
    "E",
    "E_total",
    "dE_dout",
    "dout_dnet",
    "delta",
    "path",
    "factor",
    "grad",
    "param",
    "updated",
    "after",
    "invalid",
]
PER_SAMPLE_ONLY: tuple[QuantityKind, ...] = ("net", "out", "dout_dnet", "factor")
# max_margin: one value per window too (summed over the two windows they would be 0 while the margin is violated)
PER_WINDOW: tuple[QuantityKind, ...] = ("dE_dout", "delta", "path")


@dataclass(frozen=True)
class Quantity:
    """A parsed quantity name: what it is, about which neuron/parameter, for which sample or step."""

    kind: QuantityKind
    name: str  # the canonical spelling
    neuron: str | None = None
    other: str | None = None  # path: the neuron above; factor: the parameter
    param: str | None = None
    sample: int | None = None  # 1-based sample, None for the batch (or the only sample)
    steps: int | None = None  # after N updates (θ@N, E_total@N; θ+ is 1)
    corrupt: bool = False  # max_margin: the pass through the corrupt window x_c

    @property
    def base(self) -> str:
        """The name without its sample suffix."""
        return self.name.split(":")[0]


_NEURON = r"([A-Za-z][A-Za-z0-9_]*)"
_PATTERNS: list[tuple[QuantityKind | Literal["E_total_after"], re.Pattern[str]]] = [
    ("E_total_after", re.compile(r"E_total(?:@(\d+)|(\+))")),
    ("E_total", re.compile(r"E_total")),
    ("updated", re.compile(_NEURON + r"(?:@(\d+)|(\+))")),
    ("dE_dout", re.compile(r"dE(?:_total)?/dout_" + _NEURON)),
    ("delta", re.compile(r"(?:delta_|dE(?:_total)?/dnet_)" + _NEURON)),
    ("dout_dnet", re.compile(r"dout_" + _NEURON + r"/dnet_" + _NEURON)),
    ("path", re.compile(r"dE_" + _NEURON + r"/dout_" + _NEURON)),
    ("factor", re.compile(r"dnet_" + _NEURON + r"/d" + _NEURON)),
    ("grad", re.compile(r"dE(?:_total)?/d" + _NEURON)),
    ("net", re.compile(r"net_" + _NEURON)),
    ("out", re.compile(r"out_" + _NEURON)),
    ("E", re.compile(r"E_" + _NEURON)),
    ("param", re.compile(_NEURON)),
]


MAX_STEPS = 100_000  # θ@N and E_total@N: more updates than this are refused (they would run for minutes)
# The tables' Unicode spellings, accepted as the same names: ∂E/∂w5, δ_o1, w5⁺
_UNICODE = str.maketrans({"∂": "d", "⁺": "+"})


def parse(text: str, scenario: Scenario) -> Quantity:
    """Parse a quantity name against a scenario; unknown names raise UnknownNameError with suggestions.

    Each quantity has one canonical spelling: θ@1 is θ+, θ@0 is θ, E_total@0 is E_total, and with one
    sample (not max_margin) the suffix :1 is dropped.
    """
    raw = str(text).strip().translate(_UNICODE).replace("δ_", "delta_")
    name, sample, corrupt = raw, None, False
    m = re.fullmatch(r"(.+):(\d+)(c?)", raw)
    if m:
        name, sample, corrupt = m.group(1), int(m.group(2)), bool(m.group(3))
        if not 1 <= sample <= scenario.samples:
            raise UnknownNameError(
                _("{quantity}: sample {sample} does not exist (samples 1..{samples})").format(
                    quantity=repr(raw), sample=sample, samples=scenario.samples
                )
            )
        if corrupt and scenario.objective.windows == 1:
            raise UnknownNameError(
                _("{quantity}: '{suffix}' (the corrupt window) exists only with the max_margin loss").format(
                    quantity=repr(raw), suffix=f":{sample}c"
                )
            )
    q = _parse_base(name, scenario)
    if q is None:
        raise UnknownNameError(
            _("unknown quantity {quantity}").format(quantity=repr(raw)), hint=_suggest(name, scenario)
        )
    if sample is not None:
        if q.kind in ("param", "updated", "after"):
            raise UnknownNameError(
                _("{quantity}: {name} belongs to the whole batch; drop '{suffix}'").format(
                    quantity=repr(raw), name=q.name, suffix=f":{sample}"
                )
            )
        if corrupt and q.kind in ("E", "E_total", "grad"):
            raise UnknownNameError(
                _("{quantity}: {name} belongs to the sample (both windows); write {spelling}").format(
                    quantity=repr(raw), name=q.name, spelling=f"{q.name}:{sample}"
                )
            )
    elif scenario.objective.windows > 1 and q.kind in PER_SAMPLE_ONLY + PER_WINDOW:
        raise UnknownNameError(
            _("{quantity} has one value per window").format(quantity=repr(raw)),
            hint=_("write {window} (the window x) or {corrupt} (the corrupt window x_c)").format(
                window=f"{q.name}:1", corrupt=f"{q.name}:1c"
            ),
        )
    elif scenario.samples > 1 and q.kind in PER_SAMPLE_ONLY:
        raise UnknownNameError(
            _("{quantity} has one value per sample").format(quantity=repr(raw)),
            hint=_("write {first} ... {last}").format(first=f"{q.name}:1", last=f"{q.name}:{scenario.samples}"),
        )
    if sample is not None and not scenario.objective.several:
        sample = None  # out_o1:1 is out_o1 when there is one sample
    if q.steps is not None and q.steps > MAX_STEPS:
        raise UnknownNameError(
            _("{quantity}: at most {limit} updates").format(quantity=repr(raw), limit=f"{MAX_STEPS:,}"),
            hint=_("use bptrace train for long runs"),
        )
    if q.steps == 0:  # before any update: the quantity itself
        q = Quantity("param", q.param or "", param=q.param) if q.kind == "updated" else Quantity("E_total", "E_total")
    canonical = q.name + (f":{sample}{'c' if corrupt else ''}" if sample is not None else "")
    return Quantity(q.kind, canonical, q.neuron, q.other, q.param, sample, q.steps, corrupt)


def parse_or_none(text: str, scenario: Scenario) -> Quantity | None:
    """parse(), or None where the name does not exist in this scenario."""
    try:
        return parse(text, scenario)
    except UnknownNameError:
        return None


def _parse_base(name: str, scenario: Scenario) -> Quantity | None:
    params = None  # scenario.parameter() looks names up in its cached index
    outputs = scenario.output_layer.neurons
    for kind, pattern in _PATTERNS:
        m = pattern.fullmatch(name)
        if not m:
            continue
        g = m.groups()
        if kind == "E_total_after":
            steps = int(g[0]) if g[0] else 1
            return Quantity("after", f"E_total@{steps}", steps=steps)
        if kind == "E_total":
            return Quantity("E_total", "E_total")
        if kind in ("updated", "param"):
            if not _is_param(g[0], scenario, params):
                continue
            if kind == "param":
                return Quantity("param", g[0], param=g[0])
            steps = int(g[1]) if g[1] else 1
            return Quantity("updated", f"{g[0]}+" if steps == 1 else f"{g[0]}@{steps}", param=g[0], steps=steps)
        if kind == "grad":
            if not _is_param(g[0], scenario, params):
                continue
            return Quantity("grad", f"dE/d{g[0]}", param=g[0])
        if kind == "factor":
            x, theta = g
            if not _is_neuron(x, scenario) or not _is_param(theta, scenario, params):
                continue
            p = scenario.parameter(theta)
            layer, row = scenario.neuron(x)
            if layer != p.layer or (p.row is not None and p.row != row):
                raise UnknownNameError(
                    _("{quantity}: {parameter} does not feed {net}").format(
                        quantity=repr(name), parameter=theta, net=f"net_{x}"
                    ),
                    hint=_("{parameter} feeds {nets}").format(
                        parameter=theta, nets=", ".join(f"net_{n}" for n in _fed_by(p, scenario))
                    ),
                )
            return Quantity("factor", f"dnet_{x}/d{theta}", neuron=x, param=theta)
        if kind == "path":
            k, j = g
            if not (_is_neuron(k, scenario) and _is_neuron(j, scenario)):
                continue
            lk, _row = scenario.neuron(k)
            lj, _row = scenario.neuron(j)
            if lj == 0 or lk != lj + 1:
                raise UnknownNameError(
                    _("{quantity}: {upper} is not in the layer right after {lower}'s").format(
                        quantity=repr(name), upper=k, lower=j
                    ),
                    hint=_("a path term dE_K/dout_J needs K one layer above the hidden neuron J"),
                )
            return Quantity("path", f"dE_{k}/dout_{j}", neuron=j, other=k)
        if kind == "dout_dnet":
            if g[0] != g[1] or not _is_neuron(g[0], scenario, hidden_or_output=True):
                continue
            return Quantity("dout_dnet", f"dout_{g[0]}/dnet_{g[0]}", neuron=g[0])
        if kind == "E":
            if g[0] not in outputs:
                continue
            return Quantity("E", f"E_{g[0]}", neuron=g[0])
        if kind in ("net", "out", "dE_dout", "delta"):
            allow_input = kind == "out"
            if not _is_neuron(g[0], scenario, hidden_or_output=not allow_input):
                continue
            canonical = {"net": "net_", "out": "out_", "dE_dout": "dE/dout_", "delta": "delta_"}[kind] + g[0]
            return Quantity(kind, canonical, neuron=g[0])
    return None


def _is_param(name: str, scenario: Scenario, params: set[str] | None) -> bool:
    return name in params if params is not None else scenario.has_parameter(name)


def _is_neuron(name: str, scenario: Scenario, hidden_or_output: bool = False) -> bool:
    try:
        layer, _row = scenario.neuron(name)
    except UnknownNameError:
        return False
    return layer > 0 or not hidden_or_output


def _fed_by(p: Parameter, scenario: Scenario) -> list[str]:
    neurons = scenario.layers[p.layer - 1].neurons
    return list(neurons if p.row is None else [neurons[p.row]])


def _suggest(name: str, scenario: Scenario) -> str:
    names = all_names(scenario, limit=20000)
    return did_you_mean(name, names) or _("see docs/quantities.md, or 'bptrace template SCENARIO' for every name")


def all_names(scenario: Scenario, limit: int | None = None) -> list[str]:
    """Every canonical quantity name of a scenario, in the order of the derivation (without :k suffixes)."""
    out: list[str] = []
    for layer in scenario.layers:
        for x in layer.neurons:
            out += [f"net_{x}", f"out_{x}"]
    out += [f"E_{o}" for o in scenario.output_layer.neurons] + ["E_total"]
    for i in reversed(range(len(scenario.layers))):
        layer = scenario.layers[i]
        for x in layer.neurons:
            if i < len(scenario.layers) - 1:
                out += [f"dE_{k}/dout_{x}" for k in scenario.layers[i + 1].neurons]
            out += [f"dE/dout_{x}", f"dout_{x}/dnet_{x}", f"delta_{x}"]
    for p in scenario.parameters():
        out += [p.name, f"dE/d{p.name}"]
        out += [f"dnet_{x}/d{p.name}" for x in _fed_by(p, scenario)]
        out.append(f"{p.name}+")
        if limit and len(out) > limit:
            break
    out.append("E_total@1")
    return out


def spellings(name: str, scenario: Scenario) -> list[str]:
    """Every canonical spelling of a name of all_names: itself where it stands alone, and each sample's
    (and, with max_margin, each window's) suffixed form where it has one value per sample or window."""
    out = [name] if parse_or_none(name, scenario) is not None else []
    if scenario.objective.several:
        suffixes = scenario.objective.suffixes()
        out += [name + x for x in suffixes if parse_or_none(name + x, scenario) is not None]
    return out
