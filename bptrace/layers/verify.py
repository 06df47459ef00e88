"""The independent verification of a layer stack's gradients: SymPy and finite differences.

Neither uses the engine. One forward pass of the loss is written here again, whole-array and per window
(`_loss`), over either float64 arrays or arrays of SymPy expressions:

  * finite differences, always, for every parameter: the one finite difference of every kind
    (verify/finite.py: five points, h = 1e-4·max(1, |θ|), agreeing when |∂E/∂θ − fd| ≤ 1e-6·|∂E/∂θ| +
    1.5·4ε·|E|/h, and not judged, with the reason, where the float64 loss is too coarse or noisy to tell);
  * SymPy, per parameter, where it stays quick: the loss as an expression of that one parameter (every other
    value a Float), differentiated by SymPy and evaluated at θ; every parameter when the stack has at most
    SYMPY_ALL of them, else SYMPY_SAMPLE of them spread evenly through the layers (the report says so);
    they agree to SYMPY_REL.

A kink (a relu-like activation exactly at 0, a max-pooling window whose largest value is tied) makes the
loss not differentiable there: the parameters of that layer and of the layers before it are reported as not
judged, with the reason, never as passed. A kink closer than FD_MARGIN, which a finite difference would
straddle, leaves those parameters to SymPy alone, also with the reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bptrace import functions
from bptrace.i18n import N_
from bptrace.message import Message
from bptrace.verify import finite
from bptrace.verify.finite import FiniteDifference

if TYPE_CHECKING:
    from bptrace.layers.engine import LayersTrace
    from bptrace.layers.model import LayersScenario

FD_MARGIN = 1e-4  # a kink closer than this to a relu's input or a window's runner-up: a difference may straddle it
SYMPY_REL = 1e-9
SYMPY_ABS = 1e-12
SYMPY_ALL = 40
SYMPY_SAMPLE = 12


@dataclass
class Check:
    name: str  # the parameter
    value: float  # bptrace's dE/dθ
    sympy: float | None = None
    fd: float | None = None
    status: str = "ok"  # "ok", "mismatch", "not judged"
    reason: str = ""  # a Message when not judged (or a method left out)


@dataclass
class LayersVerification:
    checks: list[Check] = field(default_factory=list)
    sympy_count: int = 0
    fd_count: int = 0
    total: int = 0

    @property
    def ok(self) -> bool:
        return all(c.status != "mismatch" for c in self.checks)

    @property
    def judged(self) -> int:
        return sum(1 for c in self.checks if c.status != "not judged")


def verify(trace: LayersTrace, only: str | None = None) -> LayersVerification:
    """Check every dE/dθ of the trace (or only parameter `only`) by SymPy and finite differences."""
    import numpy as np

    s = trace.scenario
    names = list(trace.params)
    targets = [only] if only else names
    kink_layer = max((k.layer for k in trace.kinks), default=0)
    near_layer = max((lay for lay, _n, mg in trace.margins if mg < FD_MARGIN), default=0)
    kink_reason = next((k.reason for k in trace.kinks if k.layer == kink_layer), "")
    near = next((n for lay, n, mg in trace.margins if lay == near_layer and mg < FD_MARGIN), "")
    if len(names) <= SYMPY_ALL:
        symbolic = set(names)
    else:
        step = len(names) / SYMPY_SAMPLE
        symbolic = {names[int(i * step)] for i in range(SYMPY_SAMPLE)}
    if only:
        symbolic = {only}
    out = LayersVerification(total=len(targets))
    base = _arrays(s)
    places = _places(s)
    with np.errstate(all="ignore"):
        for name in targets:
            g = trace.gradients[name]
            layer = trace.param_layer[name]
            check = Check(name, g)
            out.checks.append(check)
            if layer <= kink_layer:
                check.status = "not judged"
                check.reason = Message(N_("the loss has a kink here: {reason}"), reason=kink_reason)
                continue
            where = places[name]
            fd: FiniteDifference | None = None
            if layer > near_layer:
                fd = _fd(s, base, where, g)
                check.fd = fd.value
                out.fd_count += 1
                if not finite.judged(fd):
                    check.reason = Message(N_("finite difference not judged: {reason}"), reason=fd.reason or "")
            else:
                check.reason = Message(
                    N_("finite differences left out: {name} is within {margin} of a kink"),
                    name=near,
                    margin=f"{FD_MARGIN:g}",
                )
            if name in symbolic:
                check.sympy = _sympy(s, base, where)
                out.sympy_count += 1
            bad = False
            fd_judged = fd is not None and finite.judged(fd)
            if fd is not None and fd_judged and not finite.agrees(fd, g):
                bad = True
            if check.sympy is not None and not math.isclose(g, check.sympy, rel_tol=SYMPY_REL, abs_tol=SYMPY_ABS):
                bad = True
            if not fd_judged and check.sympy is None:
                check.status = "not judged"
                if fd is None:
                    check.reason = Message(
                        N_("{name} is within {margin} of a kink and SymPy was not asked (sampled)"),
                        name=near,
                        margin=f"{FD_MARGIN:g}",
                    )
            else:
                check.status = "mismatch" if bad else "ok"
    return out


# ---- the second forward pass ----


def _arrays(s: LayersScenario) -> list[dict[str, Any]]:
    return [{k: v.copy() for k, v in layer.params().items()} for layer in s.layers]


def _places(s: LayersScenario) -> dict[str, tuple[int, str, tuple[int, ...]]]:
    """Every parameter's name -> (layer, role, index), listed once (a search per parameter was quadratic: a
    60×60 dense layer's 3,660 parameters spent 100 s there)."""
    from bptrace.layers import engine

    return {n: (li, role, idx) for li, layer in enumerate(s.layers) for n, (role, idx) in engine.param_names(layer)}


def _fd(
    s: LayersScenario, base: list[dict[str, Any]], where: tuple[int, str, tuple[int, ...]], g: float
) -> FiniteDifference:
    """The one finite difference (verify/finite.py) of this module's float64 loss, judged against g."""
    import numpy as np

    li, role, idx = where
    arr = base[li][role]
    keep = float(arr[idx])
    base_loss = float(_loss(s, base, _Num()))

    def loss(theta: float) -> tuple[float, str | None]:
        arr[idx] = theta
        try:
            value = float(_loss(s, base, _Num()))
        finally:
            arr[idx] = keep
        return (value if np.isfinite(value) else float("nan")), None

    return finite.difference(loss, keep, g, base_loss)


def _sympy(s: LayersScenario, base: list[dict[str, Any]], where: tuple[int, str, tuple[int, ...]]) -> float:
    import numpy as np
    import sympy as sp

    li, role, idx = where
    theta = sp.Symbol("theta")
    params = [
        {
            k: np.array([sp.Float(float(v), 30) for v in arr.flat], dtype=object).reshape(arr.shape)
            for k, arr in p.items()
        }
        for p in base
    ]
    keep = float(base[li][role][idx])
    params[li][role][idx] = theta
    E = _loss(s, params, _Sym(theta, sp.Float(keep, 30)), symbolic=True)
    d = sp.diff(E, theta).subs(theta, sp.Float(keep, 30))
    return float(sp.N(d, 20))


class _Num:
    """float64 operations."""

    def act(self, name: str, z: Any, p: float | None) -> Any:
        shape = z.shape
        return functions.activate(name, z.reshape(shape[0], -1).astype(float), p).reshape(shape)

    def maximum(self, xs: list[Any]) -> Any:
        import numpy as np

        return np.max(np.stack(xs), axis=0)

    def sqrt(self, x: Any) -> Any:
        import numpy as np

        return np.sqrt(x)

    def loss(self, name: str, a: Any, t: Any) -> Any:
        return functions.loss_terms(name, a.astype(float), t).sum(axis=1)


class _Sym:
    """SymPy operations on object arrays. A max is the argument that is largest at the point θ = value: away
    from a tie (a kink, which is not judged) max equals that argument near the point, so its derivative there
    is that argument's (sp.Max itself is slow to build: it compares its arguments symbolically)."""

    def __init__(self, theta: Any, value: Any) -> None:
        self.theta = theta
        self.value = value

    def act(self, name: str, z: Any, p: float | None) -> Any:
        import numpy as np

        shape = z.shape
        flat = z.reshape(shape[0], -1)
        out = np.empty(flat.shape, dtype=object)
        for i in range(flat.shape[0]):
            row = list(flat[i])
            for j in range(flat.shape[1]):
                out[i, j] = functions.sympy_activation(name, row[j], p, row)
        return out.reshape(shape)

    def maximum(self, xs: list[Any]) -> Any:
        import numpy as np
        import sympy as sp

        out = np.empty(xs[0].shape, dtype=object)
        for idx in np.ndindex(*xs[0].shape):
            args = [sp.sympify(x[idx]) for x in xs]
            at = [float(a.subs(self.theta, self.value)) for a in args]
            out[idx] = args[at.index(max(at))]
        return out

    def sqrt(self, x: Any) -> Any:
        import numpy as np
        import sympy as sp

        return np.vectorize(sp.sqrt, otypes=[object])(x)

    def loss(self, name: str, a: Any, t: Any) -> Any:
        import numpy as np

        n = a.shape[1]
        return np.array(
            [
                sum(functions.sympy_loss_term(name, a[k, j], float(t[k, j]), n) for j in range(n))
                for k in range(a.shape[0])
            ],
            dtype=object,
        )


def _loss(s: LayersScenario, params: list[dict[str, Any]], ops: Any, symbolic: bool = False) -> Any:
    """E_total by whole-array operations (a convolution as a sum of k² shifted slices times kernel elements)."""
    import numpy as np

    x: Any = s.inputs.astype(object) if symbolic else s.inputs
    for layer, p in zip(s.layers, params):
        if layer.type == "conv2d":
            K, b, S, P, k = p["K"], p["b"], layer.stride, layer.padding, layer.kernel_size
            xp = np.pad(x, ((0, 0), (0, 0), (P, P), (P, P)), constant_values=0)
            m = x.shape[0]
            c_out, oh, ow = layer.out_shape
            y = np.zeros((m, c_out, oh, ow), dtype=object if symbolic else float)
            for o in range(c_out):
                acc: Any = 0
                for c in range(layer.in_shape[0]):
                    for r in range(k):
                        for q in range(k):
                            acc = (
                                acc
                                + xp[:, c, r : r + S * (oh - 1) + 1 : S, q : q + S * (ow - 1) + 1 : S] * K[o, c, r, q]
                            )
                y[:, o] = acc + b[o]
            x = y
        elif layer.type in ("maxpool", "avgpool"):
            S, z = layer.stride, layer.size
            _c, oh, ow = layer.out_shape
            parts = [
                x[:, :, r : r + S * (oh - 1) + 1 : S, q : q + S * (ow - 1) + 1 : S] for r in range(z) for q in range(z)
            ]
            x = ops.maximum(parts) if layer.type == "maxpool" else sum(parts[1:], parts[0]) / (z * z)
        elif layer.type == "flatten":
            x = x.reshape(x.shape[0], -1)
        elif layer.type == "dense":
            x = ops.act(layer.function, x.dot(p["W"].T) + p["b"], layer.param)
        elif layer.type == "batchnorm":
            axes = (0,) if x.ndim == 2 else (0, 2, 3)
            count = x.size // x.shape[1]
            shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
            mu = x.sum(axis=axes).reshape(shape) / count
            d = x - mu
            var = (d * d).sum(axis=axes).reshape(shape) / count
            x = p["gamma"].reshape(shape) * d / ops.sqrt(var + layer.epsilon) + p["beta"].reshape(shape)
        else:
            x = ops.act(layer.function, x, layer.param)
    per = ops.loss(s.loss, x, s.targets)
    return per.sum() / len(per) if s.reduction == "mean" else per.sum()
