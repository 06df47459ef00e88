"""Forward pass and backpropagation through time of a recurrent scenario, in numpy. Never prints.

    net_h(t) = W_xh·x(t) + W_hh·h(t−1) + b_h        h(t) = f(net_h(t))
    net_y(t) = W_hy·h(t) + b_y                      y(t) = g(net_y(t))           E = Σ_t E_t(y(t), target(t))

Backward (docs/rnn.md): for each loss E_t the chain rule goes back through the states, at most k steps
(`truncate: k`; k = T when not truncated):

    e_t(t) = f′(net_h(t)) ⊙ W_hyᵀ·δ_y(t)            e_t(s) = f′(net_h(s)) ⊙ W_hhᵀ·e_t(s+1),  t − k < s < t

δ_h(s) = Σ_t e_t(s) is what step s's hidden units pass to the parameters; written as one recursion it is

    δ_h(s) = f′(net_h(s)) ⊙ (W_hyᵀ·δ_y(s) + r(s)),   r(s) = W_hhᵀ·Σ_{t: s < t < s+k} e_t(s+1)

r(s), the gradient flowing from h(s+1) back to h(s), is W_hhᵀ·δ_h(s+1) without truncation. Each parameter's
gradient is the sum over the steps of its contribution at that step (∂E/∂W_hh = Σ_s δ_h(s)·h(s−1)ᵀ).
A misconception (MISTAKES) is a setting of this one walk.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bptrace import functions
from bptrace.errors import NumericalError
from bptrace.i18n import N_, _

if TYPE_CHECKING:
    import numpy as np

    from bptrace.rnn.model import RnnScenario

# code (the JSON's) -> the misconception, shown with _(MISTAKES[code])
MISTAKES = {
    "last-step-only": N_("only the last step's term of ∂E/∂W: the sum over the time steps left out"),
    "no-recurrent-path": N_("the recurrent path h(t) → h(t−1) forgotten: δ_h(t) from the output at t alone"),
    "truncate-short": N_("truncated one step too early (k − 1 steps back instead of k)"),
    "truncate-long": N_("truncated one step too late (k + 1 steps back instead of k)"),
    "no-truncation": N_("the truncation ignored: the full gradient instead of the truncated one"),
    "lr-forgotten": N_("the learning rate left out of the update (θ − ∂E/∂θ)"),
}


@dataclass
class RnnTrace:
    """Every number of the forward pass and the backward pass through time (index t = 1..T; h[0] = h0)."""

    scenario: RnnScenario
    x: np.ndarray  # (T+1, n_in); row 0 unused
    net_h: np.ndarray  # (T+1, n_h); row 0 unused
    h: np.ndarray  # (T+1, n_h); h[0] = h0
    f_prime: np.ndarray  # (T+1, n_h)
    net_y: np.ndarray  # (T+1, n_y)
    y: np.ndarray  # (T+1, n_y)
    g_prime: np.ndarray  # (T+1, n_y): g′ (softmax: its Jacobian's diagonal, shown only)
    losses: dict[int, float]  # t -> E_t, for the steps with a loss
    dE_dy: np.ndarray  # (T+1, n_y), zero where no loss
    delta_y: np.ndarray  # (T+1, n_y)
    e: dict[tuple[int, int], np.ndarray]  # (loss step t, step s) -> ∂E_t/∂net_h(s) within the window
    via_output: np.ndarray  # (T+1, n_h): W_hyᵀ·δ_y(s)
    recurrent: np.ndarray  # (T+1, n_h): r(s), row 0 = ∂E/∂h0
    dropped: np.ndarray  # (T+1, n_h): W_hhᵀ·e_{s+k}(s+1), what the truncation cuts at s (0 when not truncated)
    dE_dh: np.ndarray  # (T+1, n_h): via_output + recurrent
    delta_h: np.ndarray  # (T+1, n_h)
    contributions: dict[str, np.ndarray]  # parameter -> (T+1,) its term at each step s (row 0 unused)
    grads: dict[str, float]  # parameter -> ∂E/∂θ (the sum over the steps)
    values: dict[str, float]  # parameter -> its value
    new_values: dict[str, float]
    kinks: list[str] = field(default_factory=list)  # the nets at a kink (their names)
    window: int = 1
    mistake: str | None = None

    def dropped_delta(self, step: int) -> Any:
        """The part of δ_h(step) that does not go further back: e_t(step) of the loss whose window starts at
        `step` (t = step + k − 1), zero when there is none."""
        import numpy as np

        t = step + self.window - 1
        if self.scenario.truncate is None or (t, step) not in self.e:
            return np.zeros(self.scenario.n_h)
        return self.e[(t, step)]

    @property
    def total(self) -> float:
        return float(sum(self.losses.values()))

    def quantities(self) -> dict[str, float]:
        """Every named quantity of the trace (docs/quantities.md, 'Recurrent scenarios') -> its value."""
        from bptrace.rnn import names

        return names.all_values(self)


def parameter_arrays(s: RnnScenario) -> dict[str, Any]:
    """The parameters as float64 arrays (b_h, b_y zero when the scenario has none)."""
    import numpy as np

    return {
        "W_xh": np.array(s.W_xh, dtype=float),
        "W_hh": np.array(s.W_hh, dtype=float),
        "b_h": np.array(s.b_h if s.b_h is not None else [0.0] * s.n_h, dtype=float),
        "W_hy": np.array(s.W_hy, dtype=float),
        "b_y": np.array(s.b_y if s.b_y is not None else [0.0] * s.n_y, dtype=float),
    }


def split_name(name: str) -> tuple[str, tuple[int, ...]]:
    """'W_hh_1_2' -> ('W_hh', (0, 1)); 'b_y_1' -> ('b_y', (0,)) (0-based indices)."""
    parts = name.split("_")
    return "_".join(parts[:2]), tuple(int(p) - 1 for p in parts[2:])


def _check(a: Any, what: str, file: str) -> None:
    """One clear error, naming the scenario's file, where float64 overflowed (never inf or nan in a table)."""
    import numpy as np

    if not np.all(np.isfinite(a)):
        raise NumericalError(
            _("the {what} overflows float64").format(what=_(what)),
            file=file,
            hint=_("use smaller weights, inputs or learning rate"),
        )


def forward_losses(
    s: RnnScenario,
    p: dict[str, Any],
    per_step: list[dict[str, Any]] | None = None,
    branches: list[tuple[bool, ...]] | None = None,
) -> dict[int, float]:
    """E_t for each loss step; `per_step[t-1]` (optional) replaces the parameters used at step t (the
    verification's unrolled copies). Shares nothing with the backward pass. `branches` collects which side of
    0 every net is on (a finite difference whose steps change it crosses a kink)."""
    import numpy as np

    f = functions.activation(s.hidden_activation)
    g = functions.activation(s.output_activation)
    loss = functions.loss(s.loss)
    h = np.array(s.h0, dtype=float)
    out: dict[int, float] = {}
    for t in range(1, s.steps + 1):
        q = per_step[t - 1] if per_step is not None else p
        x = np.array(s.inputs[t - 1], dtype=float)
        net = q["W_xh"] @ x + q["W_hh"] @ h + q["b_h"]
        h = f.forward(net, s.hidden_param)
        target = s.targets[t - 1]
        if branches is not None:
            branches.append(tuple(bool(v > 0) for v in net))
        if target is not None:
            z = q["W_hy"] @ h + q["b_y"]
            if branches is not None:
                branches.append(tuple(bool(v > 0) for v in z))
            y = g.forward(z[None, :], s.output_param)[0] if not g.elementwise else g.forward(z, s.output_param)
            with np.errstate(all="ignore"):
                out[t] = float(loss.terms(y[None, :], np.array(target, dtype=float)[None, :]).sum())
    return out


NET_H, STATE, NET_Y, OUTPUT, LOSS = N_("hidden net"), N_("hidden state"), N_("output net"), N_("output"), N_("loss")
BACKWARD, UPDATE = N_("gradient through time"), N_("parameter update")


def trace(s: RnnScenario, mistake: str | None = None) -> RnnTrace:
    """The forward pass and BPTT of `s`; with a `mistake` of MISTAKES, the walk a learner with it does."""
    import numpy as np

    given = s
    if mistake in ("truncate-short", "truncate-long", "no-truncation"):
        k = s.window
        changed = {"truncate-short": k - 1, "truncate-long": k + 1, "no-truncation": None}[mistake]
        if s.truncate is None or (changed is not None and (changed < 1 or changed > s.steps)):
            changed = s.truncate  # this mistake does not apply: the same walk
        s = dataclasses.replace(s, truncate=changed)
    elif mistake == "no-recurrent-path":
        s = dataclasses.replace(s, truncate=1)
    T, n_h, n_y = s.steps, s.n_h, s.n_y
    p = parameter_arrays(s)
    fa = functions.activation(s.hidden_activation)
    ga = functions.activation(s.output_activation)
    loss = functions.loss(s.loss)
    x = np.zeros((T + 1, s.n_in))
    net_h = np.zeros((T + 1, n_h))
    h = np.zeros((T + 1, n_h))
    fp = np.zeros((T + 1, n_h))
    net_y = np.zeros((T + 1, n_y))
    y = np.zeros((T + 1, n_y))
    gp = np.zeros((T + 1, n_y))
    h[0] = s.h0
    losses: dict[int, float] = {}
    dE_dy = np.zeros((T + 1, n_y))
    delta_y = np.zeros((T + 1, n_y))
    kinks: list[str] = []
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, T + 1):
            x[t] = s.inputs[t - 1]
            net_h[t] = p["W_xh"] @ x[t] + p["W_hh"] @ h[t - 1] + p["b_h"]
            _check(net_h[t], NET_H, s.file)
            h[t] = fa.forward(net_h[t], s.hidden_param)
            fp[t] = fa.prime(net_h[t], s.hidden_param)
            net_y[t] = p["W_hy"] @ h[t] + p["b_y"]
            _check(net_y[t], NET_Y, s.file)
            if ga.elementwise:
                y[t] = ga.forward(net_y[t], s.output_param)
                gp[t] = ga.prime(net_y[t], s.output_param)
            else:
                y[t] = ga.forward(net_y[t][None, :], s.output_param)[0]
                gp[t] = ga.prime(net_y[t][None, :], s.output_param)[0]
            _check(y[t], OUTPUT, s.file)
            for i in np.flatnonzero(fa.at_kink(net_h[t], s.hidden_param)):
                kinks.append(f"net_h{i + 1}@t{t}")
            for i in np.flatnonzero(ga.at_kink(net_y[t], s.output_param)) if ga.elementwise else []:
                kinks.append(f"net_y{i + 1}@t{t}")
            target = s.targets[t - 1]
            if target is None:
                continue
            tv = np.array(target, dtype=float)
            if loss.logs and (np.any((y[t] <= 0) & (tv > 0)) or (s.loss == "bce" and np.any((y[t] >= 1) & (tv < 1)))):
                raise NumericalError(
                    _("the output at step {t} is exactly 0 or 1, so the loss's logarithm is infinite").format(t=t),
                    file=s.file,
                    hint=_("use smaller weights"),
                )
            losses[t] = float(loss.terms(y[t][None, :], tv[None, :]).sum())
            _check(losses[t], LOSS, s.file)
            dE_dy[t] = loss.grad(y[t][None, :], tv[None, :])[0]
            if loss.cancels == s.output_activation:
                delta_y[t] = y[t] - tv  # the loss cancels g′ (bce after σ, cross-entropy after softmax)
            elif not ga.elementwise:
                delta_y[t] = ga.jacobian_delta(y[t][None, :], dE_dy[t][None, :])[0]  # type: ignore[attr-defined]
            else:
                delta_y[t] = dE_dy[t] * gp[t]
            _check(delta_y[t], BACKWARD, s.file)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is one clear error below
        return _backward(given, s, mistake, x, net_h, h, fp, net_y, y, gp, losses, dE_dy, delta_y, kinks)


def _backward(
    given: RnnScenario,
    s: RnnScenario,
    mistake: str | None,
    x: Any,
    net_h: Any,
    h: Any,
    fp: Any,
    net_y: Any,
    y: Any,
    gp: Any,
    losses: dict[int, float],
    dE_dy: Any,
    delta_y: Any,
    kinks: list[str],
) -> RnnTrace:
    """Backpropagation through time from the forward pass's arrays, then the update."""
    import numpy as np

    T, n_h = s.steps, s.n_h
    p = parameter_arrays(s)
    k = s.window
    e: dict[tuple[int, int], np.ndarray] = {}
    for t in s.loss_steps():
        cur = fp[t] * (p["W_hy"].T @ delta_y[t])
        e[(t, t)] = cur
        for step in range(t - 1, max(0, t - k), -1):
            cur = fp[step] * (p["W_hh"].T @ cur)
            e[(t, step)] = cur
    via = np.zeros((T + 1, n_h))
    rec = np.zeros((T + 1, n_h))
    dropped = np.zeros((T + 1, n_h))
    delta_h = np.zeros((T + 1, n_h))
    for step in range(T, 0, -1):
        via[step] = p["W_hy"].T @ delta_y[step]
    for step in range(T, -1, -1):
        later = [e[(t, step + 1)] for t in range(step + 1, min(T, step + k - 1) + 1) if (t, step + 1) in e]
        rec[step] = p["W_hh"].T @ sum(later, np.zeros(n_h))
        if s.truncate is not None and (step + k, step + 1) in e and step + k <= T:
            dropped[step] = p["W_hh"].T @ e[(step + k, step + 1)]
        if step >= 1:
            delta_h[step] = sum(
                (e[(t, step)] for t in range(step, min(T, step + k - 1) + 1) if (t, step) in e), np.zeros(n_h)
            )
    dE_dh = via + rec
    for array in (*e.values(), via, rec, dropped, delta_h, dE_dh):
        _check(array, BACKWARD, s.file)

    contributions: dict[str, np.ndarray] = {}
    for name in s.parameters():
        base, idx = split_name(name)
        c = np.zeros(T + 1)
        for step in range(1, T + 1):
            if base == "W_xh":
                c[step] = delta_h[step][idx[0]] * x[step][idx[1]]
            elif base == "W_hh":
                c[step] = delta_h[step][idx[0]] * h[step - 1][idx[1]]
            elif base == "b_h":
                c[step] = delta_h[step][idx[0]]
            elif base == "W_hy":
                c[step] = delta_y[step][idx[0]] * h[step][idx[1]]
            else:
                c[step] = delta_y[step][idx[0]]
        contributions[name] = c
    if mistake == "last-step-only":
        grads = {name: float(c[T]) for name, c in contributions.items()}
    else:
        grads = {name: float(math_sum(c[1:])) for name, c in contributions.items()}
    values = {}
    for name in s.parameters():
        base, idx = split_name(name)
        values[name] = float(p[base][idx])
    lr = 1.0 if mistake == "lr-forgotten" else s.learning_rate
    new_values = {name: values[name] - lr * grads[name] for name in values}
    _check(list(grads.values()), BACKWARD, s.file)
    _check(list(new_values.values()), UPDATE, s.file)
    return RnnTrace(
        scenario=given,
        x=x,
        net_h=net_h,
        h=h,
        f_prime=fp,
        net_y=net_y,
        y=y,
        g_prime=gp,
        losses=losses,
        dE_dy=dE_dy,
        delta_y=delta_y,
        e=e,
        via_output=via,
        recurrent=rec,
        dropped=dropped,
        dE_dh=dE_dh,
        delta_h=delta_h,
        contributions=contributions,
        grads=grads,
        values=values,
        new_values=new_values,
        kinks=kinks,
        window=k,
        mistake=mistake,
    )


def math_sum(values: Any) -> float:
    """The sum over the steps in order, t = 1 first (as the tables add the terms)."""
    total = 0.0
    for v in values:
        total += float(v)
    return total
