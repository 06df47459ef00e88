"""Follow-through for PrairieLearn's server.py: the rules of grading/followthrough.World as data.

server.py runs on the platform without bptrace, so it cannot ask the World. This module writes, for one
exercise, the rule of every quantity an asked one rests on, each from its direct inputs and with the
exercise's own numbers filled in (weights, biases, inputs, targets, η, λ), in a small vocabulary server.py
evaluates (SERVER_WORLD below):

    ["const", [], x]                         an input's out, a bias's dnet/db = 1, a parameter not updated
    ["dot", [out_j...], [w_j..., b]]         net_X = Σ_j w_Xj·out_j + b_X
    ["act", [net_X, out_X], SOURCE]          out_X = f(net_X) or f′: the registry's scalar source (functions.py,
                                             as engine/kernel.py uses it) in `net` and `out` ("" for an input
                                             not used: 0, as World passes it), setting `result`
    ["loss", [out...], SOURCE]               a loss term or ∂E/∂out in `o0, o1, ...` (the outputs), the same
    ["softmax", [net...], row]               out_row of a softmax layer
    ["softmax_delta", [dE/dout..., out...], row]
    ["sum", [a...], [scale, plus]]           scale·Σ a + plus (a batch mean or sum, E_total with its penalty,
                                             a gradient with λ/m·w)
    ["mul", [a, b], plus]                    a·b + plus (δ = ∂E/∂out·f′, ∂E/∂w = δ·out_j)
    ["affine", [a], [c, k]]                  c + k·a (δ_K·w_KJ with c = 0, θ⁺ = θ − η·∂E/∂θ)

A quantity without a rule here (θ@N for N > 1, E_total@N, anything of a max-margin exercise, as World) gets
no follow-through. tests/test_quiz_prairielearn.py checks server.py's follow-through values against
`check --key` (the World) for wrong earlier answers of random exercises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bptrace import functions

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Scenario


class _NoRule(Exception):
    pass


def rules(trace: Trace, asked: list[str]) -> dict[str, list[Any]]:
    """{canonical name: rule} for the asked quantities and everything they rest on (none for max_margin)."""
    s = trace.scenario
    table: dict[str, list[Any]] = {}
    if s.objective.scores:
        return table
    for name in asked:
        try:
            _need(s, trace, name, table)
        except (_NoRule, KeyError, ValueError, IndexError):
            table.pop(name, None)
    return table


def _need(s: Scenario, trace: Trace, name: str, table: dict[str, list[Any]]) -> None:
    if name in table:
        return
    rule = _rule(s, trace, name)
    table[name] = rule
    for dep in rule[1]:
        if dep:  # "" is an input the rule does not use
            _need(s, trace, dep, table)


def _rule(s: Scenario, trace: Trace, name: str) -> list[Any]:
    from bptrace.model.names import parse

    q = parse(name, s)
    kind, m = q.kind, s.samples
    mean = 1.0 / m if s.reduction == "mean" else 1.0

    def n(base: str, k: int) -> str:
        return parse(base if m == 1 else f"{base}:{k}", s).name

    if q.sample is None and m > 1 and kind in ("E", "dE_dout", "delta", "path", "E_total"):
        plus = float(trace.penalty) if kind == "E_total" else 0.0
        return ["sum", [parse(f"{q.name}:{k}", s).name for k in range(1, m + 1)], [mean, plus]]
    k = q.sample or 1
    if kind == "E_total":
        plus = float(trace.penalty) if q.sample is None else 0.0
        return ["sum", [n(f"E_{o}", k) for o in s.output_layer.neurons], [1.0, plus]]
    if kind in ("net", "out", "dout_dnet", "E", "dE_dout", "delta", "path"):
        return _neuron(s, q, kind, k, n)
    if kind == "factor":
        p = s.parameter(q.param or "")
        if p.kind == "bias":
            return ["const", [], 1.0]
        assert p.col is not None
        return ["affine", [n(f"out_{s.layer_names(p.layer - 1)[p.col]}", k)], [0.0, 1.0]]
    if kind == "grad":
        p = s.parameter(q.param or "")
        plus = s.l2 / m * float(trace.value(p)) if p.kind == "weight" and s.l2 and q.sample is None else 0.0
        if q.sample is None and m > 1:
            return ["sum", [parse(f"{q.name}:{j}", s).name for j in range(1, m + 1)], [mean, plus]]
        spec = s.layers[p.layer - 1]
        if p.kind == "weight":
            assert p.row is not None
            x = spec.neurons[p.row]
            return ["mul", [n(f"delta_{x}", k), n(f"dnet_{x}/d{p.name}", k)], plus]
        fed = spec.neurons if p.row is None else [spec.neurons[p.row]]
        return ["sum", [n(f"delta_{x}", k) for x in fed], [1.0, 0.0]]
    if kind == "updated" and q.steps == 1:
        p = s.parameter(q.param or "")
        theta = float(trace.value(p))
        if p.kind == "bias" and not s.update_biases:
            return ["const", [], theta]
        return ["affine", [parse(f"dE/d{p.name}", s).name], [theta, -float(s.learning_rate)]]
    raise _NoRule(name)


def _neuron(s: Scenario, q: Any, kind: str, k: int, n: Any) -> list[Any]:
    layer, row = s.neuron(q.neuron or "")
    if layer == 0:
        return ["const", [], float(s.all_inputs()[k - 1, row])]
    spec = s.layers[layer - 1]
    x = spec.neurons[row]
    entry = spec.function
    if kind == "net":
        below = s.layer_names(layer - 1)
        coefficients = [float(w) for w in spec.weights[row]] + [float(spec.bias_vector()[row])]
        return ["dot", [n(f"out_{j}", k) for j in below], coefficients]
    if kind == "out":
        if spec.activation == "softmax":
            return ["softmax", [n(f"net_{y}", k) for y in spec.neurons], row]
        lines = entry.kernel_forward_lines("net", "out", spec.param)
        return ["act", [n(f"net_{x}", k), ""], "\n".join(lines) + "\nresult = out"]
    if kind == "dout_dnet":
        if spec.activation == "softmax":
            raise _NoRule(q.name)
        # as World: from out where the textbook writes f′ in out (σ′ = out(1 − out)), else from net
        in_out = type(entry).prime_by_hand is not functions.Activation.prime_by_hand
        source = entry.kernel_prime_expr("net", "out", spec.param) or "1.0"
        inputs = ["", n(f"out_{x}", k)] if in_out else [n(f"net_{x}", k), ""]
        return ["act", inputs, f"result = {source}"]
    outputs = s.output_layer.neurons
    loss = functions.loss(s.loss)
    targets = s.targets[k - 1]
    if kind == "E":
        source = loss.kernel_term_expr(f"({float(targets[row])!r})", f"o{row}", len(outputs))
        return ["loss", [n(f"out_{o}", k) for o in outputs], f"result = {source}"]
    if kind == "dE_dout":
        if layer == len(s.layers):
            source = loss.kernel_gradient_expr(f"({float(targets[row])!r})", f"o{row}", len(outputs))
            return ["loss", [n(f"out_{o}", k) for o in outputs], f"result = {source}"]
        above = s.layers[layer].neurons
        return ["sum", [n(f"dE_{a}/dout_{x}", k) for a in above], [1.0, 0.0]]
    if kind == "path":
        _, kk = s.neuron(q.other or "")
        return ["affine", [n(f"delta_{q.other}", k)], [0.0, float(s.layers[layer].weights[kk, row])]]
    if kind == "delta":
        if spec.activation == "softmax":
            gs = [n(f"dE/dout_{y}", k) for y in spec.neurons]
            outs = [n(f"out_{y}", k) for y in spec.neurons]
            return ["softmax_delta", gs + outs, row]
        return ["mul", [n(f"dE/dout_{x}", k), n(f"dout_{x}/dnet_{x}", k)], 0.0]
    raise _NoRule(q.name)
