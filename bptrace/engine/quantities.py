"""The value of a named quantity (bptrace.model.names) in a trace: net_h1:2, dE/dw5, w5@3, E_total@10.

The vocabulary (model/names.py) parses and spells names and knows nothing of the engine; this module, in the
engine, reads a parsed name's number from a Trace, running N more steps for θ@N and E_total@N.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from bptrace.engine.trace import Trace
    from bptrace.model.names import Quantity
    from bptrace.model.scenario import Scenario


def value(q: Quantity, trace: Trace) -> float:
    """The exact (float64) value of a quantity in a trace. θ@N and E_total@N run N steps."""
    s = trace.scenario
    if q.kind == "param":
        return trace.value(s.parameter(q.param or ""))
    if q.kind == "grad":
        p = s.parameter(q.param or "")
        return trace.grad(p) if q.sample is None else float(trace.sample_grad(p)[q.sample - 1])
    if q.kind == "updated":
        p = s.parameter(q.param or "")
        if q.steps == 0:
            return trace.value(p)  # θ@0: before any update
        if q.steps == 1:
            return trace.new_value(p)
        return _after_steps(trace, q.steps or 1).value(p)
    if q.kind == "E_total":
        return trace.loss if q.sample is None else float(trace.sample_losses[q.sample - 1])
    if q.kind == "after":
        if q.steps == 0:
            return trace.loss  # E_total@0: before any update
        return trace.loss_after if q.steps == 1 else _after_steps(trace, q.steps or 1).loss
    if q.kind == "E":
        j = s.output_layer.neurons.index(q.neuron or "")
        column = trace.loss_terms[:, j]  # one row per sample (not per pass)
        return float(column[q.sample - 1]) if q.sample is not None else trace.reduce(column)
    if q.kind == "factor":
        p = s.parameter(q.param or "")
        if p.kind == "bias":
            return 1.0  # ∂net_X/∂b = 1
        return float(trace.activations(p.layer - 1)[_row(q, s), p.col])
    layer, row = s.neuron(q.neuron or "")
    lt = trace.layers[layer - 1] if layer > 0 else None
    if q.kind == "out" and layer == 0:
        return float(s.all_inputs()[_row(q, s), row])
    assert lt is not None
    if q.kind == "net":
        return float(lt.net[_row(q, s), row])
    if q.kind == "out":
        return float(lt.out[_row(q, s), row])
    if q.kind == "dout_dnet":
        return float(lt.dout_dnet[_row(q, s), row])
    if q.kind == "dE_dout":
        return _per_pass(trace, lt.dE_dout[:, row], q)
    if q.kind == "delta":
        return _per_pass(trace, lt.delta[:, row], q)
    if q.kind == "path":
        _layer, k = s.neuron(q.other or "")
        return _per_pass(trace, trace.path_terms(layer, row)[:, k], q)
    raise ValueError(q.kind)


def _row(q: Quantity, s: Scenario) -> int:
    """The row of the trace's arrays: the sample's pass (Objective.row: a corrupt window's follows the true ones)."""
    return s.objective.row(q.sample, q.corrupt)


def _per_pass(trace: Trace, column: NDArray[np.float64], q: Quantity) -> float:
    """One pass's value, or unsuffixed the batch value: reduce over samples (each the sum of its passes)."""
    if q.sample is not None:
        return float(column[_row(q, trace.scenario)])
    return trace.reduce(trace.per_sample(column))


def _after_steps(trace: Trace, steps: int) -> Trace:
    """The trace of the scenario after `steps` updates (same rule as the trace: original or updated weights)."""
    from bptrace.engine.step import step
    from bptrace.engine.step import trace as run_trace

    scenario = trace.scenario
    for _step in range(steps):
        scenario = step(scenario, through_updated_weights=trace.through_updated_weights)
    return run_trace(scenario, through_updated_weights=trace.through_updated_weights)
