"""Random matrix-form scenarios for property tests: hypothesis strategies and a plain numpy-rng helper.

Both draw the same kind of network through one builder (`build_scenario_dict`), so a hypothesis run and an
rng run explore the same space:

  * depth 1..max_depth layers, 1..max_inputs inputs, 1..max_width neurons per layer;
  * every activation: hidden layers and squared-error outputs use any activation but softmax; softmax appears
    only as the output layer, and always with cross_entropy (the scenario format requires that pairing);
    bce gets a sigmoid output, so out stays in (0, 1) and its logs stay finite;
  * every loss, every bias mode (none / one per neuron / one shared by the layer), reductions mean and sum,
    update_biases true or false, a leaky_slope for some leaky_relu layers, an elu_alpha for some elu layers;
  * 1..max_samples samples; weights and biases in [-1, 1], inputs in [-2, 2] (moderate, so nothing saturates);
    squared-error targets in [-1, 1]; bce targets in [0, 1]; cross_entropy targets one-hot or a probability
    vector (non-negative, normalized to sum to 1).

`scenarios()` and `random_scenario_yaml(..., well_conditioned=True)` also drop the rare draws that sit badly for
numerical oracles: a relu/leaky_relu net within `min_kink_margin` of its kink at 0 (finite differences would
straddle the kink), or any |net| above `max_net` (sigmoid/tanh saturate: 1 − out loses its digits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import yaml
from hypothesis import strategies as st

from bptrace.functions import ACTIVATIONS, LOSSES
from bptrace.model.scenario import BIAS_MODES, REDUCTIONS

KINKED = ("relu", "leaky_relu", "elu")  # activations not differentiable at net = 0 (elu when α ≠ 1)
DEFAULT_MIN_KINK_MARGIN = 1e-3
DEFAULT_MAX_NET = 12.0  # σ(12) = 1 − 6e-6: 1 − out still has ~10 good digits


# ---------------------------------------------------------------------------------------------------
# One builder, two sources of randomness


class _RngChooser:
    """Choices from a numpy Generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng

    def integer(self, lo: int, hi: int) -> int:
        return int(self.rng.integers(lo, hi + 1))

    def choice(self, options: Sequence[Any]) -> Any:
        return options[int(self.rng.integers(len(options)))]

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def boolean(self) -> bool:
        return bool(self.rng.integers(2))


class _DrawChooser:
    """Choices from hypothesis's `draw`, so failing examples shrink."""

    def __init__(self, draw: Any) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))

    def choice(self, options: Sequence[Any]) -> Any:
        return self.draw(st.sampled_from(list(options)))

    def uniform(self, lo: float, hi: float) -> float:
        return self.draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False))

    def boolean(self) -> bool:
        return self.draw(st.booleans())


def build_scenario_dict(
    c: Any,
    *,
    max_depth: int = 4,
    max_width: int = 3,
    max_inputs: int = 3,
    max_samples: int = 4,
    activations: Sequence[str] = ACTIVATIONS,
    losses: Sequence[str] = LOSSES,
    bias_modes: Sequence[str] = BIAS_MODES,
    reductions: Sequence[str] = REDUCTIONS,
    l2: bool = False,
) -> dict[str, Any]:
    """A matrix-form scenario as plain data, every choice made through the chooser `c`.

    With l2=True, about half of the scenarios carry an L2 penalty λ in [0, 1).
    """
    plain = [a for a in activations if a != "softmax"]
    loss = c.choice(losses)
    if loss == "cross_entropy":
        out_activation = "softmax"  # the only pairing the format accepts
    elif loss == "bce":
        out_activation = "sigmoid"  # keeps out in (0, 1), where ln(out) and ln(1 − out) exist
    else:
        if not plain:
            raise ValueError(f"loss {loss} needs an activation other than softmax")
        out_activation = c.choice(plain)
    depth = c.integer(1, max_depth)
    if depth > 1 and not plain:
        raise ValueError("hidden layers need an activation other than softmax")
    n_in = c.integer(1, max_inputs)
    # a softmax over one output is the constant 1 (every gradient 0): give it at least 2
    if out_activation == "softmax":
        n_out = c.integer(2, max(max_width, 2))
    else:
        n_out = c.integer(1, max_width)

    layers = []
    previous = n_in
    for index in range(depth):
        last = index == depth - 1
        n = n_out if last else c.integer(1, max_width)
        activation = out_activation if last else c.choice(plain)
        layer: dict[str, Any] = {
            "activation": activation,
            "weights": [[c.uniform(-1.0, 1.0) for _ in range(previous)] for _ in range(n)],
        }
        mode = c.choice(bias_modes)
        if mode == "neuron":
            layer["biases"] = [c.uniform(-1.0, 1.0) for _ in range(n)]
        elif mode == "shared":
            layer["bias"] = c.uniform(-1.0, 1.0)
        if activation == "leaky_relu" and c.boolean():
            layer["leaky_slope"] = c.uniform(0.01, 0.3)
        if activation == "elu" and c.boolean():
            layer["elu_alpha"] = c.uniform(0.1, 2.0)
        layers.append(layer)
        previous = n

    samples = []
    for _ in range(c.integer(1, max_samples)):
        x = [c.uniform(-2.0, 2.0) for _ in range(n_in)]
        samples.append({"inputs": x, "targets": _targets(c, loss, n_out)})
    data = {
        "title": "random network",
        "source": "tests/strategies.py",
        "samples": samples,
        "layers": layers,
        "loss": loss,
        "reduction": c.choice(reductions),
        "learning_rate": c.uniform(0.05, 1.0),
        "update_biases": c.boolean(),
    }
    if l2 and c.boolean():
        data["l2"] = c.uniform(0.0, 1.0)
    return data


def _targets(c: Any, loss: str, n: int) -> list[float]:
    if loss == "bce":
        return [c.uniform(0.0, 1.0) for _ in range(n)]
    if loss == "cross_entropy":
        if c.boolean():
            hot = c.integer(0, n - 1)
            return [1.0 if k == hot else 0.0 for k in range(n)]
        raw = [c.uniform(0.0, 1.0) for _ in range(n)]
        total = sum(raw)
        if total == 0:
            return [1.0] + [0.0] * (n - 1)
        return [v / total for v in raw]  # Σ = 1 to within a few ulp (the format allows 1e-9)
    return [c.uniform(-1.0, 1.0) for _ in range(n)]


def to_yaml(data: dict[str, Any]) -> str:
    """YAML text for a scenario dict (PyYAML writes floats with repr, so values round-trip exactly)."""
    return yaml.safe_dump(data, sort_keys=False)


# ---------------------------------------------------------------------------------------------------
# Conditioning


def is_well_conditioned(
    scenario: Any, min_kink_margin: float = DEFAULT_MIN_KINK_MARGIN, max_net: float = DEFAULT_MAX_NET
) -> bool:
    """No relu/leaky_relu net within `min_kink_margin` of 0 and no |net| above `max_net`, on any sample.

    The forward pass is written here (net = out_prev·Wᵀ + b) rather than taken from bptrace.engine, so a
    filter never hides an engine bug.
    """
    a = np.asarray(scenario.inputs, dtype=float)
    for layer in scenario.layers:
        z = a @ layer.weights.T + layer.bias_vector()
        if not np.all(np.isfinite(z)) or np.abs(z).max() > max_net:
            return False
        if layer.activation in KINKED and np.abs(z).min() < min_kink_margin:
            return False
        a = _plain_activation(layer.activation, z, layer.function.value(layer.param))
    return True


def _plain_activation(name: str, z: np.ndarray, alpha: float) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, alpha * z)
    if name == "softplus":
        return np.log(1.0 + np.exp(z))
    if name == "elu":
        return np.where(z > 0, z, alpha * (np.exp(np.minimum(z, 0.0)) - 1.0))
    if name == "linear":
        return z
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


# ---------------------------------------------------------------------------------------------------
# Public helpers


@st.composite
def scenario_dicts(draw: Any, **options: Any) -> dict[str, Any]:
    """Strategy: matrix-form scenario dicts (options as for build_scenario_dict). Not filtered."""
    return build_scenario_dict(_DrawChooser(draw), **options)


def scenario_yamls(**options: Any) -> st.SearchStrategy[str]:
    """Strategy: matrix-form scenarios as YAML text. Not filtered."""
    return scenario_dicts(**options).map(to_yaml)


def scenarios(
    min_kink_margin: float = DEFAULT_MIN_KINK_MARGIN, max_net: float = DEFAULT_MAX_NET, **options: Any
) -> st.SearchStrategy[Any]:
    """Strategy: loaded bptrace Scenarios, filtered with is_well_conditioned."""
    import bptrace

    return (
        scenario_yamls(**options)
        .map(lambda text: bptrace.loads(text, "<hypothesis>"))
        .filter(lambda s: is_well_conditioned(s, min_kink_margin, max_net))
    )


def random_scenario_dict(rng: np.random.Generator | int, **options: Any) -> dict[str, Any]:
    """A matrix-form scenario dict drawn with a numpy Generator (or a seed for one). Not filtered."""
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    return build_scenario_dict(_RngChooser(rng), **options)


def random_scenario_yaml(
    rng: np.random.Generator | int,
    *,
    well_conditioned: bool = True,
    min_kink_margin: float = DEFAULT_MIN_KINK_MARGIN,
    max_net: float = DEFAULT_MAX_NET,
    attempts: int = 1000,
    **options: Any,
) -> str:
    """YAML text of a random matrix-form scenario (options as for build_scenario_dict).

    With well_conditioned (the default) draws are repeated, from the same generator, until one passes
    is_well_conditioned; after `attempts` failures it raises RuntimeError.
    """
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    if not well_conditioned:
        return to_yaml(random_scenario_dict(rng, **options))
    import bptrace

    for _ in range(attempts):
        text = to_yaml(random_scenario_dict(rng, **options))
        if is_well_conditioned(bptrace.loads(text, "<random>"), min_kink_margin, max_net):
            return text
    raise RuntimeError(f"no well-conditioned scenario in {attempts} draws; loosen the options")
