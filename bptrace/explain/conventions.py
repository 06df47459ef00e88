"""Conventions learners trip over, as transformations of a scenario, and the comparison of their steps.

Each convention KEY=VALUE turns a scenario into a variant (or sets a rule of the step); `compare`
traces every variant and lists the quantities whose values differ. Nothing here prints.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bptrace.errors import BptraceError
from bptrace.functions import LOSSES
from bptrace.i18n import N_
from bptrace.model.source import did_you_mean

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Scenario

# What each convention means: shown above the comparison (a demanding learner wants the rule, not only numbers).
MEANING = {
    "loss": {
        "half_sse": N_("E_s = Σ ½(t − out)²: the ½ cancels the 2 of the square, so ∂E/∂out = −(t − out) (Mazur)"),
        "sse": N_("E_s = Σ (t − out)²: no ½, so every gradient is twice half_sse's"),
        "mse": N_("E_s = (1/n)·Σ (t − out)²: the mean over the n outputs, ∂E/∂out = −2(t − out)/n"),
        "bce": N_(
            "E_s = −Σ[t ln out + (1 − t) ln(1 − out)]: with a sigmoid output σ′ cancels and δ = out − t "
            "(Ng's dZ = A − Y)"
        ),
        "cross_entropy": N_("E_s = −Σ t ln out with softmax: δ = out − t because the targets sum to 1"),
    },
    "biases": {
        "frozen": N_("biases keep their values (Mazur); their gradients are still computed"),
        "neuron": N_(
            "one bias per neuron, each updated with its own δ "
            "(the usual rule; the answer to a Coursera learner's Stack Overflow question)"
        ),
        "shared": N_("one bias per layer, shared by its neurons: its gradient is the sum of their δ"),
    },
    "reduction": {
        "mean": N_("E = (1/m)·Σ_s E_s: gradients are the mean over the m samples (Andrew Ng's 1/m)"),
        "sum": N_("E = Σ_s E_s: gradients are m times larger, as if η were m times larger"),
    },
    "hidden": {
        "original": N_("hidden δ use the weights from before the step (the correct rule, Mazur's text)"),
        "updated": N_(
            "hidden δ use the already-updated weights of the layer above: a MISTAKE (the one behind the "
            "error after the first round that Mazur's post prints)"
        ),
    },
    "learning_rate": {},
    "l2": {},
}
GENERIC = {
    "learning_rate": N_("η = {v}: every update θ⁺ = θ − η·∂E/∂θ scales with η; the gradients do not change"),
    "l2": N_("L2 with λ = {v}: E += λ/(2m)·Σ W², so ∂E/∂W gains λ/m·W (biases are not penalised)"),
}
KEYS = tuple(MEANING)


@dataclass
class Variant:
    """One side of a comparison: the convention's label, what it means, and its trace."""

    label: str
    meaning: str
    trace: Trace
    mistake: bool = False


@dataclass
class Comparison:
    """Every variant, and the quantities whose values differ between them (name -> value per variant)."""

    key: str
    variants: list[Variant]
    rows: list[tuple[str, list[float | None]]]
    same: int  # how many quantities are equal in every variant


def parse_vary(text: str) -> tuple[str, list[str]]:
    """'loss=half_sse,bce' -> ('loss', ['half_sse', 'bce'])."""
    if "=" not in text:
        raise BptraceError(f"--vary {text!r}: write KEY=A,B", hint=f"keys: {', '.join(KEYS)}")
    key, _, values = text.partition("=")
    key = key.strip()
    if key not in KEYS:
        raise BptraceError(
            f"--vary: unknown convention {key!r}", hint=did_you_mean(key, KEYS) or f"choose one of {', '.join(KEYS)}"
        )
    items = [v.strip() for v in values.split(",") if v.strip()]
    if len(items) < 2:
        raise BptraceError(f"--vary {text!r}: give at least two values to compare, separated by commas")
    if len(set(items)) != len(items):
        raise BptraceError(f"--vary {text!r}: a value is repeated")
    return key, items


def variant(scenario: Scenario, key: str, value: str) -> tuple[Scenario, bool, str]:
    """(the scenario under KEY=VALUE, whether hidden δ go through updated weights, what it means)."""
    meaning = MEANING[key].get(value) or GENERIC.get(key, "").format(v=value)
    if key == "loss":
        if value not in LOSSES:
            raise BptraceError(
                f"--vary loss: unknown loss {value!r}",
                hint=did_you_mean(value, LOSSES) or f"choose from {', '.join(LOSSES)}",
            )
        _check_loss(scenario, value)
        return scenario.with_changes(loss=value), False, meaning
    if key == "reduction":
        if value not in ("mean", "sum"):
            raise BptraceError(f"--vary reduction: {value!r} is not mean or sum")
        return scenario.with_changes(reduction=value), False, meaning
    if key == "hidden":
        if value not in ("original", "updated"):
            raise BptraceError(f"--vary hidden: {value!r} is not original or updated")
        return scenario, value == "updated", meaning
    if key == "biases":
        return _biases(scenario, value), False, meaning
    number = _positive(key, value, allow_zero=key == "l2")
    if key == "learning_rate":
        return scenario.with_changes(learning_rate=number), False, meaning
    return scenario.with_changes(l2=number), False, meaning


def _positive(key: str, value: str, allow_zero: bool) -> float:
    import math

    try:
        number = float(value)
    except ValueError:
        raise BptraceError(f"--vary {key}: {value!r} is not a number") from None
    if not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise BptraceError(f"--vary {key}: {value!r} must be a {'non-negative' if allow_zero else 'positive'} number")
    return number


def _check_loss(scenario: Scenario, loss: str) -> None:
    if not scenario.objective.targets:
        raise BptraceError(
            f"--vary loss: {scenario.file} uses the {scenario.loss} loss, which has no targets to "
            "compare other losses against",
            hint="vary learning_rate, l2, biases or reduction",
        )
    out = scenario.output_layer
    t = scenario.targets
    if loss == "cross_entropy" and out.activation != "softmax":
        raise BptraceError(
            f"--vary loss: cross_entropy needs a softmax output layer; {scenario.file} has {out.activation}",
            hint="compare losses that fit the output layer",
        )
    if out.activation == "softmax" and loss != "cross_entropy":
        raise BptraceError(f"--vary loss: a softmax output goes with cross_entropy only, not {loss}")
    if loss == "bce" and (out.activation != "sigmoid" or ((t < 0) | (t > 1)).any()):
        raise BptraceError("--vary loss: bce needs a sigmoid output layer and targets in [0, 1]")


def _biases(scenario: Scenario, value: str) -> Scenario:
    """Frozen: update_biases false. neuron/shared: every layer that has biases gets that mode, updated."""
    import numpy as np

    if value == "frozen":
        return scenario.with_changes(update_biases=False)
    if value not in ("neuron", "shared"):
        raise BptraceError(f"--vary biases: {value!r} is not frozen, neuron or shared")
    if all(layer.bias_mode == "none" for layer in scenario.layers):
        raise BptraceError(f"--vary biases: {scenario.file} has no biases to vary")
    layers = []
    for layer in scenario.layers:
        if layer.bias_mode == "none" or layer.bias_mode == value:
            layers.append(layer)
        elif value == "neuron":  # one shared bias -> a copy for each neuron, named after it
            base = layer.bias_names[0]
            names = tuple(
                f"{base}_{n}" if scenario.named else f"b{layer.index}_{r + 1}" for r, n in enumerate(layer.neurons)
            )
            layers.append(
                dataclasses.replace(
                    layer, bias_mode="neuron", biases=np.full(layer.size, layer.biases[0]), bias_names=names
                )
            )
        else:  # per-neuron biases -> one shared bias with their mean value
            layers.append(
                dataclasses.replace(
                    layer, bias_mode="shared", biases=np.array([layer.biases.mean()]), bias_names=(f"b{layer.index}",)
                )
            )
    return scenario.with_changes(layers=tuple(layers), update_biases=True)


def compare(scenario: Scenario, key: str, values: list[str], tolerance: float = 1e-12) -> Comparison:
    """Trace the scenario under each value of one convention and keep the quantities that differ."""
    from bptrace.engine.quantities import value as quantity_value
    from bptrace.engine.step import trace
    from bptrace.model import names

    variants = []
    for value in values:
        s, through_updated, meaning = variant(scenario, key, value)
        variants.append(
            Variant(
                f"{key}={value}",
                meaning,
                trace(s, through_updated_weights=through_updated),
                mistake=key == "hidden" and value == "updated",
            )
        )
    order: list[str] = []
    for v in variants:
        for name in _names_with_samples(v.trace):
            if name not in order:
                order.append(name)
    rows = []
    same = 0
    for name in order:
        values_: list[float | None] = []
        for v in variants:
            q = names.parse_or_none(name, v.trace.scenario)
            values_.append(None if q is None else quantity_value(q, v.trace))
        present = [x for x in values_ if x is not None]
        if len(present) == len(values_) and max(present) - min(present) <= tolerance * max(1.0, *map(abs, present)):
            same += 1
            continue
        rows.append((name, values_))
    return Comparison(key, variants, rows, same)


def _names_with_samples(t: Trace) -> list[str]:
    from bptrace.model import names

    return [spelled for name in names.all_names(t.scenario) for spelled in names.spellings(name, t.scenario)]
