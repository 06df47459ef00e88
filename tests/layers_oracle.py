"""An independent oracle for layer stacks (kind: layers): HIPS autograd differentiates a forward pass written
here from scratch, with none of bptrace's engine: the convolution by autograd.scipy.signal.convolve with the
kernel flipped (so a cross-correlation), pooling by np.max / np.mean over window slices, batch normalization
by np.mean / np.var, the activations and losses by their textbook formulas.

`oracle_gradients(scenario)` -> (E_total, {parameter name: ∂E/∂θ}); only the names come from bptrace (they
are the vocabulary, not the computation).
"""

from __future__ import annotations

from typing import Any

import autograd.numpy as anp
from autograd import grad
from autograd.scipy.signal import convolve

from bptrace.layers.engine import param_names
from bptrace.layers.model import LayersScenario


def _act(name: str, z: Any, p: float | None) -> Any:
    if name == "sigmoid":
        return 1.0 / (1.0 + anp.exp(-z))
    if name == "tanh":
        return anp.tanh(z)
    if name == "relu":
        return anp.maximum(z, 0.0)
    if name == "leaky_relu":
        a = 0.01 if p is None else p
        return anp.where(z > 0, z, a * z)
    if name == "linear":
        return z
    if name == "softplus":
        return anp.log1p(anp.exp(z))
    if name == "elu":
        a = 1.0 if p is None else p
        return anp.where(z > 0, z, a * (anp.exp(z) - 1.0))
    if name == "softmax":
        e = anp.exp(z - anp.max(z, axis=1, keepdims=True))
        return e / anp.sum(e, axis=1, keepdims=True)
    raise ValueError(name)


def _loss(name: str, a: Any, t: Any) -> Any:
    """Per-sample losses, shape (samples,)."""
    n = a.shape[1]
    if name == "half_sse":
        return 0.5 * anp.sum((t - a) ** 2, axis=1)
    if name == "sse":
        return anp.sum((t - a) ** 2, axis=1)
    if name == "mse":
        return anp.sum((t - a) ** 2, axis=1) / n
    if name == "bce":
        return -anp.sum(t * anp.log(a) + (1 - t) * anp.log(1 - a), axis=1)
    if name == "cross_entropy":
        return -anp.sum(t * anp.log(a), axis=1)
    raise ValueError(name)


def _conv(x: Any, K: Any, b: Any, stride: int, pad: int) -> Any:
    m, c_in = x.shape[0], x.shape[1]
    xp = anp.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    samples = []
    for s in range(m):
        maps = []
        for o in range(K.shape[0]):
            acc = 0.0
            for c in range(c_in):
                # convolve flips its second argument: flipping K first gives the cross-correlation
                acc = acc + convolve(xp[s, c], K[o, c, ::-1, ::-1], mode="valid")
            maps.append(acc[::stride, ::stride] + b[o])
        samples.append(anp.stack(maps))
    return anp.stack(samples)


def _pool(x: Any, size: int, stride: int, how: str) -> Any:
    m, c, h, w = x.shape
    oh, ow = (h - size) // stride + 1, (w - size) // stride + 1
    rows = []
    for i in range(oh):
        cols = []
        for j in range(ow):
            win = x[:, :, i * stride : i * stride + size, j * stride : j * stride + size]
            cols.append(anp.max(win, axis=(2, 3)) if how == "max" else anp.mean(win, axis=(2, 3)))
        rows.append(anp.stack(cols, axis=-1))
    return anp.stack(rows, axis=-2)


def _batchnorm(x: Any, gamma: Any, beta: Any, eps: float) -> Any:
    if x.ndim == 2:
        mu = anp.mean(x, axis=0)
        var = anp.var(x, axis=0)
        return gamma * (x - mu) / anp.sqrt(var + eps) + beta
    mu = anp.mean(x, axis=(0, 2, 3), keepdims=True)
    var = anp.var(x, axis=(0, 2, 3), keepdims=True)
    g = anp.reshape(gamma, (1, -1, 1, 1))
    be = anp.reshape(beta, (1, -1, 1, 1))
    return g * (x - mu) / anp.sqrt(var + eps) + be


def forward_loss(s: LayersScenario, params: list[list[Any]]) -> Any:
    x = s.inputs
    z: Any = None  # the last sigmoid's input, for bce in logit form
    for layer, ps in zip(s.layers, params):
        z = None
        if layer.function == "sigmoid" and layer.type in ("dense", "activation"):
            z = anp.dot(x, ps[0].T) + ps[1] if layer.type == "dense" else x
        if layer.type == "conv2d":
            x = _conv(x, ps[0], ps[1], layer.stride, layer.padding)
        elif layer.type in ("maxpool", "avgpool"):
            x = _pool(x, layer.size, layer.stride, "max" if layer.type == "maxpool" else "mean")
        elif layer.type == "flatten":
            x = anp.reshape(x, (x.shape[0], -1))
        elif layer.type == "dense":
            x = _act(layer.function, anp.dot(x, ps[0].T) + ps[1], layer.param)
        elif layer.type == "batchnorm":
            x = _batchnorm(x, ps[0], ps[1], layer.epsilon)
        else:
            shape = x.shape
            x = anp.reshape(_act(layer.function, anp.reshape(x, (shape[0], -1)), layer.param), shape)
    if s.loss == "bce" and z is not None and z.ndim == 2:
        # ln σ(z) = −softplus(−z), ln(1 − σ(z)) = −softplus(z): exact where 1 − σ(z) has lost its digits
        # (a saturated output), which ln(1 − a) of the rounded a is not (1e-5 off at 1 − a ≈ 1e-12)
        t = s.targets
        per = anp.sum(t * anp.logaddexp(0.0, -z) + (1 - t) * anp.logaddexp(0.0, z), axis=1)
    else:
        per = _loss(s.loss, x, s.targets)
    return anp.mean(per) if s.reduction == "mean" else anp.sum(per)


def initial(s: LayersScenario) -> list[list[Any]]:
    out: list[list[Any]] = []
    for layer in s.layers:
        out.append([arr.copy() for arr in layer.params().values()])
    return out


def oracle_gradients(s: LayersScenario) -> tuple[float, dict[str, float]]:
    params = initial(s)
    total = float(forward_loss(s, params))
    g = grad(lambda ps: forward_loss(s, ps))(params)
    out: dict[str, float] = {}
    for layer, gs in zip(s.layers, g):
        roles = list(layer.params())
        for name, (role, idx) in param_names(layer):
            out[name] = float(gs[roles.index(role)][idx])
    return total, out


def finite_differences(s: LayersScenario, h: float = 1e-6) -> dict[str, float]:
    """Central differences of the oracle's loss (its own forward pass), one parameter at a time."""
    import numpy as np

    params = initial(s)
    out: dict[str, float] = {}
    for li, layer in enumerate(s.layers):
        roles = list(layer.params())
        for name, (role, idx) in param_names(layer):
            arr = params[li][roles.index(role)]
            keep = arr[idx]
            arr[idx] = keep + h
            up = float(forward_loss(s, params))
            arr[idx] = keep - h
            down = float(forward_loss(s, params))
            arr[idx] = keep
            out[name] = (up - down) / (2 * h)
    del np
    return out
