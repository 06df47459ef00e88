"""Verification passes on every bundled scenario, on L2 and max-margin networks, and fails when they are broken."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import random_scenario_yaml
from test_max_margin import window_scenario

import bptrace
from bptrace.engine import step as engine
from bptrace.model.scenario import bundled_names
from bptrace.verify.verification import verify


@pytest.mark.parametrize("name", bundled_names())
def test_every_bundled_scenario_verifies(name: str, verified) -> None:
    _, v = verified(name)  # shared with the other tests that look at a bundled scenario's verification
    assert v.ok, [r for r in v.parameters if not r.ok]
    assert all(r.sympy is not None for r in v.parameters) or v.mode == "sample"


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_random_l2_networks_verify(seed: int) -> None:
    text = random_scenario_yaml(seed, l2=True, max_depth=3)
    s = bptrace.loads(text)
    if not s.l2:
        s = s.with_changes(l2=0.3)
    v = verify(engine.trace(s))
    assert v.ok, [r for r in v.parameters if not r.ok]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10**6), depth=st.integers(1, 3))
def test_random_max_margin_networks_verify(seed: int, depth: int) -> None:
    s = bptrace.loads(window_scenario(np.random.default_rng(seed), depth, 2, 1.0))
    v = verify(engine.trace(s))
    assert v.ok, [r for r in v.parameters if not r.ok]
    assert len(v.sympy_derived) == s.parameter_count()


def broken(trace, factor: float = 1.01):
    """A test double: the same trace with the last layer's weight gradients off by 1 %."""
    last = trace.layers[-1]
    layers = [*trace.layers[:-1], dataclasses.replace(last, grad_weights=last.grad_weights * factor)]
    return dataclasses.replace(trace, layers=layers)


@pytest.mark.parametrize("name", ["cs224n_window", "mazur"])
def test_a_wrong_gradient_fails_verification(name: str) -> None:
    t = broken(engine.trace(bptrace.load(name)))
    v = verify(t)
    assert not v.ok
    last = t.scenario.layers[-1].index
    for r in v.parameters:
        wrong = r.layer == last and r.kind == "weight" and abs(r.chain_rule) > 1e-12
        assert r.ok is not wrong, r.name


def test_a_wrong_l2_term_fails_verification() -> None:
    s = bptrace.load("mazur").with_changes(l2=0.5)
    t = engine.trace(s)
    # the penalty's gradient dropped (λ/m·W missing) is caught by SymPy and by the finite differences
    layers = [
        dataclasses.replace(lt, grad_weights=lt.grad_weights - 0.5 * layer.weights)
        for lt, layer in zip(t.layers, s.layers)
    ]
    v = verify(dataclasses.replace(t, layers=layers))
    assert not v.ok
    assert all(not r.ok for r in v.parameters if r.kind == "weight")
    assert all(r.sympy_ok is False and r.fd_ok is False for r in v.parameters if r.kind == "weight")
