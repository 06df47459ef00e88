"""An independent oracle for recurrent scenarios: the unrolled network written with HIPS autograd.

It shares nothing with bptrace.rnn.engine (nor with bptrace.functions): the activations and losses are written
here from their textbook definitions, the network is unrolled over time with one copy of every parameter per
step, and autograd differentiates each step's loss with respect to each copy. Truncated BPTT (`truncate: k`) is
then, by its definition, Σ_t Σ_{s = t−k+1..t} ∂E_t/∂θ_s: the copies used at the k steps up to each loss. Without
truncation that is Σ_t Σ_s ∂E_t/∂θ_s = ∂E/∂θ, the ordinary gradient.
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
import numpy as np
import yaml
from autograd import grad

PARAMS = ("W_xh", "W_hh", "b_h", "W_hy", "b_y")


def act(name: str, z: Any, alpha: float | None) -> Any:
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-z))
    if name == "tanh":
        return anp.tanh(z)
    if name == "relu":
        return anp.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return anp.where(z > 0, z, (0.01 if alpha is None else alpha) * z)
    if name == "softplus":
        return anp.log(1.0 + anp.exp(z))
    if name == "elu":
        a = 1.0 if alpha is None else alpha
        return anp.where(z > 0, z, a * (anp.exp(anp.minimum(z, 0.0)) - 1.0))
    if name == "linear":
        return z
    if name == "softmax":
        e = anp.exp(z)
        return e / anp.sum(e)
    raise ValueError(name)


def loss_term(name: str, y: Any, t: Any) -> Any:
    if name == "half_sse":
        return 0.5 * anp.sum((t - y) ** 2)
    if name == "sse":
        return anp.sum((t - y) ** 2)
    if name == "mse":
        return anp.sum((t - y) ** 2) / y.shape[0]
    if name == "bce":
        return -anp.sum(t * anp.log(y) + (1 - t) * anp.log(1 - y))
    if name == "cross_entropy":
        return -anp.sum(t * anp.log(y))
    raise ValueError(name)


class Oracle:
    """The scenario's data as plain arrays, straight from the YAML (not through bptrace's reader)."""

    def __init__(self, data: dict[str, Any]) -> None:
        def vec(v: Any) -> np.ndarray:
            return np.atleast_1d(np.array(v, dtype=float))

        self.xs = [vec(x) for x in data["inputs"]]
        self.T = len(self.xs)
        hid, out = data["hidden"], data["output"]
        self.params = {
            "W_xh": np.array(hid["W_xh"], dtype=float),
            "W_hh": np.array(hid["W_hh"], dtype=float),
            "W_hy": np.array(out["W_hy"], dtype=float),
        }
        self.has = {"b_h": "b_h" in hid, "b_y": "b_y" in out}
        n_h, n_y = self.params["W_hh"].shape[0], self.params["W_hy"].shape[0]
        self.params["b_h"] = vec(hid["b_h"]) if "b_h" in hid else np.zeros(n_h)
        self.params["b_y"] = vec(out["b_y"]) if "b_y" in out else np.zeros(n_y)
        self.h0 = vec(data["h0"]) if "h0" in data else np.zeros(n_h)
        self.f, self.g = hid["activation"], out["activation"]
        self.fa = hid.get("leaky_slope", hid.get("elu_alpha"))
        self.ga = out.get("leaky_slope", out.get("elu_alpha"))
        self.loss = data["loss"]
        if data.get("loss_at", "every") == "every":
            self.targets = {t + 1: vec(v) for t, v in enumerate(data["targets"])}
        else:
            self.targets = {self.T: vec(data["targets"][0])}
        self.k = min(int(data.get("truncate") or self.T), self.T)
        self.lr = float(data.get("learning_rate", 0.1))

    def step_loss(self, t: int) -> Any:
        """E_t as a function of the list of per-step parameter copies (a flat list, 5 per step)."""

        def f(copies: list[Any]) -> Any:
            h = self.h0
            for s in range(1, t + 1):
                W_xh, W_hh, b_h, W_hy, b_y = copies[5 * (s - 1) : 5 * s]
                h = act(self.f, anp.dot(W_xh, self.xs[s - 1]) + anp.dot(W_hh, h) + b_h, self.fa)
            W_xh, W_hh, b_h, W_hy, b_y = copies[5 * (t - 1) : 5 * t]
            y = act(self.g, anp.dot(W_hy, h) + b_y, self.ga)
            return loss_term(self.loss, y, self.targets[t])

        return f

    def gradients(self) -> dict[str, np.ndarray]:
        """The truncated-BPTT gradient of every parameter (the full gradient when k = T)."""
        copies = [self.params[p] for _ in range(self.T) for p in PARAMS]
        total = {p: np.zeros_like(self.params[p]) for p in PARAMS}
        for t in self.targets:
            g = grad(self.step_loss(t))(copies)
            for s in range(max(1, t - self.k + 1), t + 1):
                for i, p in enumerate(PARAMS):
                    total[p] = total[p] + g[5 * (s - 1) + i]
        return total

    def total_loss(self) -> float:
        copies = [self.params[p] for _ in range(self.T) for p in PARAMS]
        return float(sum(self.step_loss(t)(copies) for t in self.targets))

    def named(self) -> dict[str, float]:
        """dE/dW_hh_1_2-style names -> the oracle's values (parameters the scenario has)."""
        out = {}
        for p, g in self.gradients().items():
            if p in self.has and not self.has[p]:
                continue
            for idx in np.ndindex(g.shape):
                out[f"dE/d{p}_" + "_".join(str(i + 1) for i in idx)] = float(g[idx])
        return out


def oracle_for(text: str) -> Oracle:
    return Oracle(yaml.safe_load(text))


def finite_differences(text: str, h: float = 1e-5) -> dict[str, float]:
    """Central differences of the truncated objective, by its definition: for each loss E_t, move the copies
    of θ at steps t−k+1..t together (the others stay), and add up the slopes."""
    o = oracle_for(text)
    out: dict[str, float] = {}
    for p in PARAMS:
        if p in o.has and not o.has[p]:
            continue
        for idx in np.ndindex(o.params[p].shape):
            total = 0.0
            for t in o.targets:
                window = range(max(1, t - o.k + 1), t + 1)
                vals = []
                for sign in (1, -1):
                    copies = []
                    for s in range(1, o.T + 1):
                        for q in PARAMS:
                            a = np.array(o.params[q])
                            if q == p and s in window:
                                a[idx] += sign * h
                            copies.append(a)
                    vals.append(float(o.step_loss(t)(copies)))
                total += (vals[0] - vals[1]) / (2 * h)
            out[f"dE/d{p}_" + "_".join(str(i + 1) for i in idx)] = total
    return out
