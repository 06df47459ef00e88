"""Follow-through (error carried forward): each quantity recomputed from the student's own earlier answers.

A human marker who sees a wrong out_h1 and then a net_o1 that is right *for that out_h1* gives the step
its marks. `World` is the student's version of the step: a quantity the student answered has the
student's value; one they left out is recomputed from its direct inputs, each again the student's value
or recomputed, down to the scenario's own numbers. `World.recompute(name)` is one quantity from its
direct inputs, by the engine's own rules (functions.activate, activation_derivative, loss_terms,
loss_gradient; engine.step.forward and batch_loss for E_total@1):

    net_X = Σ_j w_Xj·out_j + b_X          out_X = f(net_X)            dout_X/dnet_X = f′(net_X)
    E_X = loss term of out_X              E_total = Σ_X E_X           dE/dout_X = ∂E/∂out_X (output)
    dE_K/dout_J = δ_K·w_KJ                dE/dout_J = Σ_K dE_K/dout_J (hidden)
    δ_X = dE/dout_X · dout_X/dnet_X       dnet_X/dw = out_j (1 for a bias)
    dE/dw = δ_X · dnet_X/dw               w⁺ = w − η·dE/dw            E_total@1 = E with every θ⁺

In a batch, per-sample values (:k) combine into the batch value as the engine reduces them (mean or sum).
Each value carries the set of the student's not-correct answers it rests on (`rests_on`): a later answer
is a follow-through only when it matches a value that rests on at least one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bptrace import functions
from bptrace.errors import BptraceError

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.names import Quantity
    from bptrace.model.scenario import Parameter, Scenario

Roots = frozenset[str]


@dataclass(frozen=True)
class Recomputed:
    """A quantity recomputed from the student's inputs, and which of their not-correct answers it rests on."""

    value: float
    rests_on: Roots


class World:
    """The step as the student's own answers make it (see the module docstring).

    given: canonical name -> the student's value (valid answers only); faulty(name) -> the answers it rests
    on when that given answer is not correct: {name} for a wrong one, its own rests_on for a
    follow-through, empty for a correct one (the marker decides, and may ask this world in turn).
    """

    def __init__(
        self,
        trace: Trace,
        given: dict[str, float],
        faulty: Callable[[str], Roots],
        parse: Callable[[str], Quantity] | None = None,
    ) -> None:
        from bptrace.model.names import parse as parse_name

        self.trace = trace
        self.s: Scenario = trace.scenario
        self.given = given
        self.faulty = faulty
        self.parse = parse or (lambda name: parse_name(name, self.s))
        self._memo: dict[str, tuple[float, Roots]] = {}
        self._busy: set[str] = set()

    # ---- names -------------------------------------------------------------------------------------

    def _n(self, base: str, k: int) -> str:
        """The canonical name of a per-sample value (no :k with one sample)."""
        return base if self.s.samples == 1 else f"{base}:{k}"

    # ---- the student's value of a name ---------------------------------------------------------------

    def get(self, name: str) -> tuple[float, Roots]:
        """The student's value (given, else recomputed) and the not-correct answers it rests on."""
        if name in self.given:
            return self.given[name], self.faulty(name)
        if name not in self._memo:
            r = self._compute(name)
            self._memo[name] = (r.value, r.rests_on)
        return self._memo[name]

    def recompute(self, name: str) -> Recomputed | None:
        """`name` from its direct inputs (the student's where given), or None where it has no such rule here."""
        import numpy as np

        if self.s.objective.scores or name in self._busy:
            return None
        try:
            with np.errstate(all="ignore"):
                return self._compute(name)
        except (_NoRule, BptraceError, KeyError, ValueError, IndexError, ZeroDivisionError, OverflowError):
            return None

    def _compute(self, name: str) -> Recomputed:
        import numpy as np

        self._busy.add(name)
        try:
            q = self.parse(name)
            value, roots = self._rule(q.kind, q)
            if not np.isfinite(value):
                raise _NoRule(name)
            return Recomputed(float(value), roots)
        finally:
            self._busy.discard(name)

    # ---- the rules -----------------------------------------------------------------------------------

    def _rule(self, kind: str, q: object) -> tuple[float, Roots]:
        from bptrace.model.names import Quantity

        assert isinstance(q, Quantity)
        s = self.s
        m = s.samples
        if q.sample is None and m > 1 and kind in ("E", "dE_dout", "delta", "path", "E_total"):
            # a batch value: the reduction of the per-sample values
            values, roots = self._each(lambda k: self.get(f"{q.name}:{k}"))
            total = self._reduce(values)
            if kind == "E_total":
                total += self.trace.penalty
            return total, roots
        k = q.sample or 1
        if kind == "E_total":
            values, roots = self._gather([self._n(f"E_{o}", k) for o in s.output_layer.neurons])
            total = float(sum(values))
            return (total + self.trace.penalty if q.sample is None else total), roots
        if kind in ("net", "out", "dout_dnet", "E", "dE_dout", "delta", "path"):
            layer, row = s.neuron(q.neuron or "")
            return self._neuron_rule(kind, q, layer, row, k)
        if kind == "factor":
            p = s.parameter(q.param or "")
            if p.kind == "bias":
                return 1.0, frozenset()
            return self.get(self._n(f"out_{self._source(p)}", k))
        if kind == "grad":
            p = s.parameter(q.param or "")
            if q.sample is not None:
                return self._sample_grad(p, k)
            values, roots = self._each(lambda j: self._sample_grad(p, j) if m == 1 else self.get(f"{q.name}:{j}"))
            total = self._reduce(values)
            if p.kind == "weight" and s.l2:
                total += s.l2 / m * self.trace.value(p)  # ∂/∂w of λ/(2m)·Σ w²
            return total, roots
        if kind == "updated" and q.steps == 1:
            p = s.parameter(q.param or "")
            theta = self.trace.value(p)
            if p.kind == "bias" and not s.update_biases:
                return theta, frozenset()
            g, roots = self.get(f"dE/d{p.name}")
            return theta - s.learning_rate * g, roots  # θ⁺ = θ − η·∂E/∂θ
        if kind == "after" and q.steps == 1:
            return self._loss_after()
        raise _NoRule(q.name)

    def _neuron_rule(self, kind: str, q: object, layer: int, row: int, k: int) -> tuple[float, Roots]:
        import numpy as np

        s = self.s
        if layer == 0:
            return float(s.all_inputs()[k - 1, row]), frozenset()
        spec = s.layers[layer - 1]
        x = spec.neurons[row]
        if kind == "net":
            # net_X = Σ_j w_Xj·out_j + b_X
            below = s.layer_names(layer - 1)
            outs, roots = self._gather([self._n(f"out_{j}", k) for j in below])
            return float(np.dot(spec.weights[row], outs) + spec.bias_vector()[row]), roots
        if kind == "out":
            if spec.activation == "softmax":
                nets, roots = self._gather([self._n(f"net_{n}", k) for n in spec.neurons])
                return float(functions.activate("softmax", np.array([nets]))[0, row]), roots
            z, roots = self.get(self._n(f"net_{x}", k))
            return float(functions.activate(spec.activation, np.array([[z]]), spec.param)[0, 0]), roots
        if kind == "dout_dnet":
            # f′ as the student computes it from their own numbers: from out where the textbook writes it in
            # out (σ′ = out(1 − out)), else from net (the registry's prime_by_hand says which)
            entry = functions.activation(spec.activation)
            in_out = type(entry).prime_by_hand is not functions.Activation.prime_by_hand
            z, r1 = (0.0, Roots()) if in_out else self.get(self._n(f"net_{x}", k))
            a, r2 = self.get(self._n(f"out_{x}", k)) if in_out else (0.0, Roots())
            fp = entry.prime_by_hand(np.array([[z]]), np.array([[a]]), spec.param)
            return float(fp[0, 0]), r1 | r2
        outputs = s.output_layer.neurons
        if kind == "E":
            outs, roots = self._gather([self._n(f"out_{o}", k) for o in outputs])
            each = functions.loss_terms(s.loss, np.array([outs]), s.targets[k - 1 : k], list(outputs))
            return float(each[0, row]), roots
        if kind == "dE_dout":
            if layer == len(s.layers):
                outs, roots = self._gather([self._n(f"out_{o}", k) for o in outputs])
                return float(functions.loss_gradient(s.loss, np.array([outs]), s.targets[k - 1 : k])[0, row]), roots
            # ∂E/∂out_J = Σ_K ∂E_K/∂out_J over the layer above
            above = s.layers[layer].neurons
            paths, roots = self._gather([self._n(f"dE_{a}/dout_{x}", k) for a in above])
            return float(sum(paths)), roots
        if kind == "path":
            from bptrace.model.names import Quantity

            assert isinstance(q, Quantity)
            _, kk = s.neuron(q.other or "")
            d, roots = self.get(self._n(f"delta_{q.other}", k))
            return d * float(s.layers[layer].weights[kk, row]), roots  # δ_K·w_KJ
        if kind == "delta":
            if spec.activation == "softmax":
                # δ_j = out_j·(∂E/∂out_j − Σ_i ∂E/∂out_i·out_i)
                gs, r1 = self._gather([self._n(f"dE/dout_{n}", k) for n in spec.neurons])
                outs, r2 = self._gather([self._n(f"out_{n}", k) for n in spec.neurons])
                return outs[row] * (gs[row] - float(np.dot(gs, outs))), r1 | r2
            g1, r1 = self.get(self._n(f"dE/dout_{x}", k))
            slope, r2 = self.get(self._n(f"dout_{x}/dnet_{x}", k))
            return g1 * slope, r1 | r2
        raise _NoRule(kind)

    def _source(self, p: Parameter) -> str:
        """The neuron (or input) whose out a weight carries."""
        assert p.col is not None
        return self.s.layer_names(p.layer - 1)[p.col]

    def _sample_grad(self, p: Parameter, k: int) -> tuple[float, Roots]:
        """∂E_s/∂θ: δ_X·out_j for a weight, δ_X for a bias (Σ_X δ_X for a shared one)."""
        spec = self.s.layers[p.layer - 1]
        if p.kind == "weight":
            assert p.row is not None
            x = spec.neurons[p.row]
            d, r1 = self.get(self._n(f"delta_{x}", k))
            f, r2 = self.get(self._n(f"dnet_{x}/d{p.name}", k))
            return d * f, r1 | r2
        fed = spec.neurons if p.row is None else [spec.neurons[p.row]]
        values, roots = self._gather([self._n(f"delta_{x}", k) for x in fed])
        return float(sum(values)), roots

    def _loss_after(self) -> tuple[float, Roots]:
        """E_total@1: the engine's forward pass and loss with the student's θ⁺ for every parameter."""
        from bptrace.engine.step import batch_loss, forward, penalty

        s = self.s
        weights = [layer.weights.copy() for layer in s.layers]
        biases = [layer.biases.copy() for layer in s.layers]
        roots: Roots = frozenset()
        for p in s.parameters():
            v, r = self.get(f"{p.name}+")
            roots |= r
            if p.kind == "weight":
                weights[p.layer - 1][p.row, p.col] = v
            else:
                biases[p.layer - 1][0 if p.row is None else p.row] = v
        # the inputs as the student read them (out_i1 may be an answer too)
        inputs = s.inputs.copy()
        for k in range(1, s.samples + 1):
            for j, x in enumerate(s.input_names):
                inputs[k - 1, j], r = self.get(self._n(f"out_{x}", k))
                roots |= r
        outs = forward(s, weights, biases, inputs)[1][-1]
        return batch_loss(s, outs)[1] + penalty(s, weights), roots

    # ---- helpers -----------------------------------------------------------------------------------

    def _gather(self, names: list[str]) -> tuple[list[float], Roots]:
        values, roots = [], frozenset[str]()
        for n in names:
            v, r = self.get(n)
            values.append(v)
            roots |= r
        return values, roots

    def _each(self, one: Callable[[int], tuple[float, Roots]]) -> tuple[list[float], Roots]:
        values, roots = [], frozenset[str]()
        for k in range(1, self.s.samples + 1):
            v, r = one(k)
            values.append(v)
            roots |= r
        return values, roots

    def _reduce(self, values: list[float]) -> float:
        total = float(sum(values))
        return total / self.s.samples if self.s.reduction == "mean" else total


class _NoRule(Exception):
    """The quantity has no follow-through rule (θ@N for N > 1, max_margin, ...)."""
