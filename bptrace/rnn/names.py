"""The names of a recurrent trace's quantities (docs/quantities.md, 'Recurrent scenarios').

Units and steps are 1-based; `@tN` is the time step (h1@t0 is the initial state):

    x1@t2  net_h1@t2  h1@t2  net_y1@t2  y1@t2  E@t2  E_total                      forward
    dE/dy1@t3  delta_y1@t3  dE/dh1@t3  delta_h1@t3  dE/dh1@t0                       backward
    dE/dW_hh_1_2@t3  (step 3's term)   dE/dW_hh_1_2  (the sum over the steps)     gradients
    W_hh_1_2+                                                                       updates

W_hh_i_j is row i, column j: it carries h_j(t−1) into net_h_i(t); W_xh_i_j carries x_j(t); W_hy_i_j h_j(t).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bptrace.errors import UnknownNameError
from bptrace.i18n import _
from bptrace.model.source import did_you_mean

if TYPE_CHECKING:
    from bptrace.rnn.engine import RnnTrace
    from bptrace.rnn.model import RnnScenario


def forward_names(s: RnnScenario) -> list[str]:
    out: list[str] = []
    for t in range(1, s.steps + 1):
        out += [f"net_h{i}@t{t}" for i in range(1, s.n_h + 1)]
        out += [f"h{i}@t{t}" for i in range(1, s.n_h + 1)]
        out += [f"net_y{i}@t{t}" for i in range(1, s.n_y + 1)]
        out += [f"y{i}@t{t}" for i in range(1, s.n_y + 1)]
        if s.targets[t - 1] is not None:
            out.append(f"E@t{t}")
    return [*out, "E_total"]


def backward_names(s: RnnScenario) -> list[str]:
    out: list[str] = []
    for t in range(s.steps, 0, -1):
        if s.targets[t - 1] is not None:
            out += [f"dE/dy{i}@t{t}" for i in range(1, s.n_y + 1)]
            out += [f"delta_y{i}@t{t}" for i in range(1, s.n_y + 1)]
        out += [f"dE/dh{i}@t{t}" for i in range(1, s.n_h + 1)]
        out += [f"delta_h{i}@t{t}" for i in range(1, s.n_h + 1)]
    return [*out, *(f"dE/dh{i}@t0" for i in range(1, s.n_h + 1))]


def contribution_names(s: RnnScenario) -> list[str]:
    return [f"dE/d{p}@t{t}" for p in s.parameters() for t in range(1, s.steps + 1)]


def gradient_names(s: RnnScenario) -> list[str]:
    return [f"dE/d{p}" for p in s.parameters()]


def update_names(s: RnnScenario) -> list[str]:
    return [f"{p}+" for p in s.parameters()]


def input_names(s: RnnScenario) -> list[str]:
    names = [f"x{j}@t{t}" for t in range(1, s.steps + 1) for j in range(1, s.n_in + 1)]
    return names + [f"h{i}@t0" for i in range(1, s.n_h + 1)] + list(s.parameters())


def all_names(s: RnnScenario) -> list[str]:
    return (
        input_names(s)
        + forward_names(s)
        + backward_names(s)
        + contribution_names(s)
        + gradient_names(s)
        + update_names(s)
    )


def all_values(t: RnnTrace) -> dict[str, float]:
    """name -> value for every quantity of the trace."""
    s = t.scenario
    out: dict[str, float] = {}
    for step in range(1, s.steps + 1):
        for j in range(s.n_in):
            out[f"x{j + 1}@t{step}"] = float(t.x[step][j])
    for i in range(s.n_h):
        out[f"h{i + 1}@t0"] = float(t.h[0][i])
    out.update(t.values)
    for step in range(1, s.steps + 1):
        for i in range(s.n_h):
            out[f"net_h{i + 1}@t{step}"] = float(t.net_h[step][i])
            out[f"h{i + 1}@t{step}"] = float(t.h[step][i])
        for i in range(s.n_y):
            out[f"net_y{i + 1}@t{step}"] = float(t.net_y[step][i])
            out[f"y{i + 1}@t{step}"] = float(t.y[step][i])
        if step in t.losses:
            out[f"E@t{step}"] = t.losses[step]
            for i in range(s.n_y):
                out[f"dE/dy{i + 1}@t{step}"] = float(t.dE_dy[step][i])
                out[f"delta_y{i + 1}@t{step}"] = float(t.delta_y[step][i])
        for i in range(s.n_h):
            out[f"dE/dh{i + 1}@t{step}"] = float(t.dE_dh[step][i])
            out[f"delta_h{i + 1}@t{step}"] = float(t.delta_h[step][i])
    for i in range(s.n_h):
        out[f"dE/dh{i + 1}@t0"] = float(t.recurrent[0][i])
    out["E_total"] = t.total
    for p, c in t.contributions.items():
        for step in range(1, s.steps + 1):
            out[f"dE/d{p}@t{step}"] = float(c[step])
    for p, g in t.grads.items():
        out[f"dE/d{p}"] = g
        out[f"{p}+"] = t.new_values[p]
    return out


def canonical(text: str) -> str:
    """A name as written (∂E/∂W_hh_1_2, δ_h1@t3, W_hh_1_2⁺, spaces) -> bptrace's spelling."""
    text = text.strip().replace(" ", "").replace("∂", "d").replace("⁺", "+").replace("δ", "delta")
    text = re.sub(r"^delta(?=[hy]\d)", "delta_", text)
    return re.sub(r"@(\d)", r"@t\1", text)


def parse(text: str, s: RnnScenario) -> str:
    """A quantity's name as the user wrote it -> its canonical name; an unknown one suggests the closest."""
    name = canonical(text)
    known = all_names(s)
    if name in known:
        return name
    raise UnknownNameError(
        _("unknown quantity {name!r} for this recurrent network").format(name=text),
        hint=did_you_mean(name, known)
        or _("e.g. {names} ('--list' lists every name)").format(
            names=", ".join(["h1@t1", "delta_h1@t1", f"dE/d{s.parameters()[0]}"])
        ),
    )
