"""The layer-stack engine (kind: layers) against HIPS autograd and finite differences: every gradient of the
bundled scenarios, of hypothesis-generated stacks and of hand-written ones nobody here traced before."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, assume, given, settings

from bptrace.layers import engine, model
from tests.layers_oracle import finite_differences, oracle_gradients
from tests.layers_strategies import layer_stacks

REL = 1e-8
ABS = 1e-12


def close(a: float, b: float, rel: float = REL, abs_: float = ABS) -> bool:
    return math.isclose(a, b, rel_tol=rel, abs_tol=abs_)


def agree(s: model.LayersScenario, fd: bool = True) -> engine.LayersTrace:
    t = engine.trace(s)
    total, want = oracle_gradients(s)
    assert close(t.loss, total), (t.loss, total)
    assert set(t.gradients) == set(want)
    # relative, with a floor at float64's resolution of the largest gradient: a gradient that is exactly 0 in
    # exact arithmetic (a bias right before batch normalization) is rounding noise in both, of either sign
    scale = max([1.0, *(abs(v) for v in want.values())])
    for name, g in t.gradients.items():
        assert close(g, want[name], REL, max(ABS, 1e-11 * scale)), (name, g, want[name])
    if fd and min((m for _, _, m in t.margins), default=math.inf) > 1e-4:
        for name, g in finite_differences(s).items():
            assert close(t.gradients[name], g, 1e-5, 1e-7), (name, t.gradients[name], g)
    return t


@pytest.mark.parametrize("name", model.bundled_layers_names())
def test_bundled_agree_with_autograd_and_finite_differences(name: str) -> None:
    t = agree(model.load(name))
    assert not t.kinks
    assert min((m for _, _, m in t.margins), default=1.0) > 1e-3  # no near tie: finite differences judge all
    assert len(t.gradients) >= 10


def test_bundled_scenarios_exist() -> None:
    assert {"layers_conv_pool", "layers_batchnorm"} <= set(model.bundled_layers_names())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_stacks())
def test_generated_stacks_agree_with_autograd(text: str) -> None:
    s = model.loads(text)
    t = engine.trace(s)
    assume(math.isfinite(t.loss) and not t.kinks and min((m for _, _, m in t.margins), default=1.0) > 1e-9)
    agree(s, fd=False)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_stacks(max_samples=2))
def test_generated_stacks_agree_with_finite_differences(text: str) -> None:
    s = model.loads(text)
    t = engine.trace(s)
    assume(min((m for _, _, m in t.margins), default=math.inf) > 1e-4)
    fd, coarser = finite_differences(s), finite_differences(s, 1e-5)
    for name, g in fd.items():
        # a saturated sigmoid under bce leaves ln(1 − a) a few digits: there the oracle's own difference is
        # noise (h and 10h disagree) and cannot judge; the gradient is checked against autograd above
        if not close(g, coarser[name], 1e-5, 1e-7):
            continue
        assert close(t.gradients[name], g, 1e-5, 1e-7), (name, t.gradients[name], g)


SATURATED_BCE = """
kind: layers
samples:
  - {inputs: [1.0, 2.0], targets: [0.0]}
  - {inputs: [-1.0, 0.5], targets: [1.0]}
layers:
  - {type: dense, weights: [[9.0, 9.0]], biases: [0.5], activation: sigmoid}
loss: bce
learning_rate: 0.1
"""


def test_a_saturated_sigmoid_under_bce_matches_autograd() -> None:
    # hypothesis's draw: dE/dz from the rounded output was 1e-5 off (1 − a ≈ 1e-12 keeps 4 digits); the
    # oracle's difference is noise there, so autograd alone judges
    # the oracle takes bce in logit form (tests/layers_oracle.py); the engine's float64 loss itself is
    # ln(1 − a) of the rounded a, 4e-7 off, which the gradient no longer inherits
    s = model.loads(SATURATED_BCE)
    t = engine.trace(s)
    total, want = oracle_gradients(s)
    assert close(t.loss, total, 1e-6)
    for name, g in t.gradients.items():
        assert close(g, want[name], 1e-13), (name, g, want[name])


STRIDED_PADDED = """
kind: layers
samples:
  - inputs: [[[1.0, -0.5, 0.25, 2.0, 0.0], [0.5, 1.5, -1.0, 0.75, 1.0], [-0.25, 0.0, 2.0, 1.0, -1.5],
             [1.25, -0.75, 0.5, 0.0, 0.5], [0.0, 1.0, -0.5, 1.5, 2.5]],
            [[0.3, 0.1, -0.2, 0.4, 0.0], [0.0, -0.6, 0.8, 0.2, 0.1], [0.9, 0.5, -0.3, 0.0, 0.7],
             [0.2, 0.2, 0.4, -0.8, 0.6], [-0.1, 0.3, 0.0, 0.5, -0.4]]]
    targets: [0.5, -0.25]
layers:
  - type: conv2d
    channels_in: 2
    channels_out: 2
    kernel_size: 3
    stride: 2
    padding: 1
    kernels: [[[[0.1, -0.2, 0.3], [0.0, 0.4, -0.1], [0.2, 0.1, -0.3]],
               [[-0.2, 0.1, 0.0], [0.3, -0.1, 0.2], [0.1, 0.0, 0.4]]],
              [[[0.2, 0.2, -0.1], [0.1, -0.3, 0.0], [0.0, 0.5, 0.1]],
               [[0.1, -0.4, 0.2], [-0.2, 0.0, 0.3], [0.3, 0.1, -0.1]]]]
    biases: [0.05, -0.1]
  - {type: activation, function: tanh}
  - {type: avgpool, size: 2, stride: 1}
  - {type: flatten}
  - {type: dense, weights: [[0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.6, -0.1], [0.1, 0.4, -0.3, 0.2, 0.0, -0.5, 0.2, 0.3]],
     biases: [0.0, 0.1]}
loss: mse
learning_rate: 0.1
"""

BATCH_OF_THREE = """
kind: layers
samples:
  - {inputs: [1.0, 2.0, -1.0], targets: [0, 1]}
  - {inputs: [0.5, -1.0, 2.0], targets: [1, 0]}
  - {inputs: [-1.5, 0.5, 0.0], targets: [0, 1]}
layers:
  - {type: dense, weights: [[0.2, -0.5, 0.1], [0.4, 0.3, -0.2]], biases: [0.1, 0.0], activation: relu}
  - {type: batchnorm, gamma: [0.8, 1.3], beta: [0.2, -0.1], epsilon: 0.01}
  - {type: dense, weights: [[0.7, -0.6], [-0.3, 0.9]], biases: [0.0, 0.05], activation: softmax}
loss: cross_entropy
learning_rate: 0.2
"""


def test_strided_padded_convolution_matches_the_oracle() -> None:
    s = model.loads(STRIDED_PADDED)
    assert s.layers[0].out_shape == (2, 3, 3)
    t = agree(s)
    assert len([n for n in t.gradients if n.startswith("K1_")]) == 36


def test_batch_norm_over_a_batch_of_three_matches_the_oracle() -> None:
    s = model.loads(BATCH_OF_THREE)
    t = agree(s)
    # the three paths add up to the compact formula, for every input of the batch norm
    for sec in t.backward:
        if sec.type == "batchnorm":
            rows = [ln for ln in sec.lines if ln.compact is not None]
            assert len(rows) == 6
            for ln in rows:
                assert ln.compact is not None
                assert close(ln.value, ln.compact[1], 1e-12, 1e-15)
                assert {t_.label for t_ in ln.terms} == {"xhat", "var", "mu"}


def test_each_line_is_the_sum_of_its_terms() -> None:
    for name in model.bundled_layers_names():
        t = engine.trace(model.load(name))
        for sec in (*t.forward, *t.backward, t.update):
            for ln in sec.lines:
                if ln.terms:
                    total = sum(term.value for term in ln.terms) + (ln.const[1] if ln.const else 0.0)
                    assert close(ln.value, total, 1e-12, 1e-15), ln.name


def test_kernel_gradient_is_the_sum_over_the_positions_it_touched() -> None:
    t = engine.trace(model.load("layers_conv_pool"))
    line = t.line("dE/dK1_1_2")
    assert line is not None
    # a 2×2 kernel on a 4×4 image, stride 1: each element touched all 3×3 = 9 output positions
    assert len(line.terms) == 9
    assert [f[0] for f in line.terms[0].factors] == ["dE/da1_1_1:1", "x_1_2:1"]
    assert [f[0] for f in line.terms[-1].factors] == ["dE/da1_3_3:1", "x_3_4:1"]


def test_a_relu_at_zero_and_a_max_pooling_tie_are_kinks() -> None:
    s = model.loads(
        """
kind: layers
samples: [{inputs: [[1, 1], [0, 0]], targets: [1]}]
layers:
  - {type: maxpool, size: 2, stride: 1}
  - {type: flatten}
  - {type: dense, weights: [[1.0]], biases: [-1.0], activation: relu}
loss: half_sse
learning_rate: 0.1
"""
    )
    t = engine.trace(s)
    reasons = sorted(str(k.reason) for k in t.kinks)
    assert len(reasons) == 2
    assert "max pooling ties" in reasons[0] and "relu at its kink" in reasons[1]


@pytest.mark.parametrize("mistake", engine.MISTAKES)
def test_each_mistake_changes_what_it_should_and_nothing_before(mistake: str) -> None:
    """Each misconception's step differs from the right one exactly where that mistake acts."""
    s = model.loads(STRIDED_PADDED if mistake == "avg_like_max" else BATCH_OF_THREE)
    if mistake in ("convolve", "unflipped"):
        s = model.load("layers_conv_pool")
    right, wrong = engine.trace(s).values, engine.trace(s, mistake).values
    changed = [n for n in right if not close(right[n], wrong[n], 1e-12, 1e-15)]
    assert changed, mistake
    first = {
        "convolve": "a1_1_1:1",  # the forward pass itself
        "unflipped": "dE/dx_",  # only the input gradient of the convolution
        "no_variance_path": "dE/da1_",  # the gradient into the batch norm loses its path through σ²
        "avg_like_max": "dE/da2_",  # the gradient into the pooling's inputs
    }[mistake]
    assert any(n.startswith(first) for n in changed), (mistake, changed[:5])
    if mistake == "unflipped":
        assert all(n.startswith("dE/dx_") for n in changed)  # the input gradient is not used further


@pytest.mark.parametrize(
    "loss, term, gradient",
    [
        ("half_sse", "1/2*(t_j - a_j)^2", "-(t_j - a_j)"),
        ("mse", "(t_j - a_j)^2/1", "-2(t_j - a_j)/1"),
        ("bce", "-[t_j*ln(a_j) + (1 - t_j)*ln(1 - a_j)]", "-t_j/a_j + (1 - t_j)/(1 - a_j)"),
    ],
)
def test_the_loss_rules_are_registry_formula_trees_the_renderer_prints(loss: str, term: str, gradient: str) -> None:
    """The engine returns the loss's rules as data (formula trees holding the registry's formulas), not text;
    the renderer prints them in ASCII, as docs/layers.md writes every rule."""
    import dataclasses

    from bptrace.formula import Filled, Node
    from bptrace.render.layers_out import rule_text

    s = dataclasses.replace(model.load("layers_conv_pool"), loss=loss)
    t = engine.trace(s)
    forward, backward = t.forward[-1], t.backward[0]
    assert forward.type == backward.type == "loss"
    for sec in (forward, backward):
        assert isinstance(sec.rule, Node)
        assert any(isinstance(n, Filled) for n in _nodes(sec.rule))
    mean = s.reduction == "mean"
    total = "(1/m) sum_s E_s" if mean else "sum_s E_s"
    assert rule_text(forward.rule) == f"E_s = sum_j {term}; E_total = {total}"
    assert rule_text(backward.rule) == f"dE/da_j:s = {'(1/m)*' if mean else ''}{gradient}"


def _nodes(n: object) -> list[object]:
    import dataclasses

    out = [n]
    for f in dataclasses.fields(n):  # type: ignore[arg-type]
        value = getattr(n, f.name)
        for item in value if isinstance(value, tuple) else (value,):
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                out += _nodes(item)
    return out
