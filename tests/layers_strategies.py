"""Random layer stacks (kind: layers) for property tests: shapes, stride, padding, pooling kind, batch norm
placement (before or after an activation, on an image or a vector), every loss with an output it fits."""

from __future__ import annotations

from typing import Any

import yaml
from hypothesis import strategies as st


def _arr(draw: Any, shape: tuple[int, ...], lo: float = -1.0, hi: float = 1.0) -> Any:
    if not shape:
        # a magnitude away from 0 and a random sign (within [lo, hi]): exact zeros would put relus at their kinks
        # and tie max-pooling windows, where autograd and bptrace follow different conventions
        if lo >= 0:
            return round(draw(st.floats(lo + 0.01 * (hi - lo), hi)), 6)
        v = round(draw(st.floats(0.05 * hi, hi)), 6)
        return v if draw(st.booleans()) else -v
    return [_arr(draw, shape[1:], lo, hi) for _ in range(shape[0])]


@st.composite
def layer_stacks(draw: Any, max_samples: int = 3) -> str:
    """The YAML text of a random, valid layer stack."""
    bn_image = draw(st.booleans())
    bn_vector = draw(st.booleans())
    m = draw(st.integers(2 if (bn_image or bn_vector) else 1, max_samples))
    c = draw(st.integers(1, 2))
    h = draw(st.integers(3, 5))
    w = draw(st.integers(3, 5))
    layers: list[dict[str, Any]] = []
    k = draw(st.integers(1, 3))
    pad = draw(st.integers(0, 1))
    stride = draw(st.integers(1, 2))
    c_out = draw(st.integers(1, 2))
    if k > h + 2 * pad or k > w + 2 * pad:
        k = 1
    layers.append(
        {
            "type": "conv2d",
            "channels_in": c,
            "channels_out": c_out,
            "kernel_size": k,
            "stride": stride,
            "padding": pad,
            "kernels": _arr(draw, (c_out, c, k, k)),
            "biases": _arr(draw, (c_out,)),
        }
    )
    oh, ow = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
    act = draw(st.sampled_from(["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus"]))
    before = draw(st.booleans())
    bn = {"type": "batchnorm", "gamma": _arr(draw, (c_out,), 0.5, 1.5), "beta": _arr(draw, (c_out,)), "epsilon": 1e-3}
    if bn_image and before:
        layers.append(bn)
    layers.append({"type": "activation", "function": act})
    if bn_image and not before:
        layers.append(bn)
    pool = draw(st.sampled_from(["maxpool", "avgpool", None]))
    if pool and min(oh, ow) >= 1:
        size = draw(st.integers(1, min(2, oh, ow)))
        ps = draw(st.integers(1, 2))
        layers.append({"type": pool, "size": size, "stride": ps})
        oh, ow = (oh - size) // ps + 1, (ow - size) // ps + 1
    layers.append({"type": "flatten"})
    n_in = c_out * oh * ow
    loss = draw(st.sampled_from(["half_sse", "mse", "sse", "bce", "cross_entropy"]))
    outs = draw(st.integers(2 if loss == "cross_entropy" else 1, 3))
    out_act = {"bce": "sigmoid", "cross_entropy": "softmax"}.get(loss) or draw(st.sampled_from(["linear", "tanh"]))
    if bn_vector:
        hidden = draw(st.integers(1, 3))
        layers.append({"type": "dense", "weights": _arr(draw, (hidden, n_in)), "biases": _arr(draw, (hidden,))})
        vb = draw(st.booleans())
        bnv = {"type": "batchnorm", "gamma": _arr(draw, (hidden,), 0.5, 1.5), "beta": _arr(draw, (hidden,))}
        if vb:
            layers.append(bnv)
        layers.append({"type": "activation", "function": draw(st.sampled_from(["tanh", "relu", "sigmoid"]))})
        if not vb:
            layers.append(bnv)
        n_in = hidden
    layers.append(
        {"type": "dense", "weights": _arr(draw, (outs, n_in)), "biases": _arr(draw, (outs,)), "activation": out_act}
    )
    samples = []
    for _ in range(m):
        x = _arr(draw, (c, h, w), -2.0, 2.0)
        if loss == "cross_entropy":
            j = draw(st.integers(0, outs - 1))
            t = [1.0 if i == j else 0.0 for i in range(outs)]
        elif loss == "bce":
            t = _arr(draw, (outs,), 0.0, 1.0)
        else:
            t = _arr(draw, (outs,))
        samples.append({"inputs": x if c > 1 else x[0], "targets": t})
    doc = {
        "kind": "layers",
        "samples": samples,
        "layers": layers,
        "loss": loss,
        "reduction": draw(st.sampled_from(["mean", "sum"])),
        "learning_rate": 0.1,
    }
    return yaml.safe_dump(doc, sort_keys=False)
