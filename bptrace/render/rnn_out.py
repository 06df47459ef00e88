"""A recurrent trace -> blocks (terminal, Markdown, LaTeX, HTML through export.py) and JSON. Computes nothing.

`run`: the network and its parameters, the forward pass step by step, backpropagation through time from the
last step back (the gradient arriving at each state through the output and from the next state, and what a
truncation drops), each parameter's gradient as the sum over the steps term by term, the updates, the checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from bptrace import __version__, functions
from bptrace.fmt import DEFAULT_DIGITS
from bptrace.formula import (
    COMMA,
    DOT,
    MINUS,
    PLUS,
    Apply,
    Const,
    Fn,
    Name,
    Node,
    Num,
    Op,
    Paren,
    Row,
    Template,
    Text,
    eq,
    join,
    sentence,
)
from bptrace.i18n import _
from bptrace.render.blocks import Cell
from bptrace.render.kinds import Spelling, json_text, three_way_grid, titled, verdict
from bptrace.render.kinds import grid as _grid
from bptrace.render.layout import Block, Grid, Para
from bptrace.render.marks import marks_blocks, sheet_data
from bptrace.rnn import engine
from bptrace.rnn.model import shown

if TYPE_CHECKING:
    from bptrace.rnn.engine import RnnTrace
    from bptrace.rnn.grading import RnnSheetResult
    from bptrace.rnn.verify import RnnVerification


_ZERO = Const("0")  # a gradient with no path (after the last step, or through no loss)


class _Writer(Spelling):
    """The spelling (render/kinds.py) with the trace it writes about."""

    def __init__(self, trace: RnnTrace, digits: int, ascii: bool) -> None:
        super().__init__(digits, ascii)
        self.t = trace


def describe(trace: RnnTrace, w: _Writer) -> list[Block]:
    """The title, source and the network's equations."""
    s = trace.scenario
    blocks = titled(shown(s.display_title()), shown(s.display_source()) if s.source_note else None)
    f, g = s.hidden_activation, s.output_activation
    b_h = " + b_h" if s.b_h is not None else ""
    b_y = " + b_y" if s.b_y is not None else ""
    blocks.append(Para(f"h(t) = {f}(W_xh{w.times}x(t) + W_hh{w.times}h(t{w.minus}1){b_h})"))
    blocks.append(Para(f"y(t) = {g}(W_hy{w.times}h(t){b_y})"))
    if s.loss_at == "every":
        what = _("E = {sigma} of E(t) over the steps t = 1..{T}, E(t) the {loss} loss of y(t)").format(
            sigma=w.sigma, T=s.steps, loss=s.loss
        )
    else:
        what = _("E = E({T}), the {loss} loss of y({T}) at the last step only").format(T=s.steps, loss=s.loss)
    blocks.append(Para(what))
    h0 = ", ".join(w.n(v) for v in s.h0)
    blocks.append(
        Para(
            _("{T} time steps; h(0) = [{h0}]; learning rate {eta} = {lr}").format(
                T=s.steps, h0=h0, eta=w.eta, lr=w.n(s.learning_rate)
            )
        )
    )
    if s.truncate is not None:
        blocks.append(
            Para(
                _(
                    "Truncated BPTT, k = {k}: each loss's gradient goes back at most {k} steps (its own step and "
                    "{back} before it); the gradients below are the truncated ones."
                ).format(k=s.truncate, back=s.window - 1),
                "bold",
            )
        )
    return blocks


def _names(pairs: Iterable[tuple[str, str]]) -> Row:
    """name·name + name·name + …: a sum of products of sheet names."""
    return join((Row.of(Name(a), DOT, Name(b)) for a, b in pairs), PLUS)


def _products(w: _Writer, pairs: Iterable[tuple[float, float]]) -> Row:
    """The same sum with its numbers, each in parentheses when negative: 0.5·(-0.25) + …"""
    return join((Row.of(w.num(a), DOT, w.num(b)) for a, b in pairs), PLUS)


def _unit_rows(
    w: _Writer,
    unit: str,
    t: int,
    i: int,
    terms: list[tuple[str, float, str, float]],
    bias: tuple[str, float] | None,
    activation: str,
    net: float,
    out: float,
) -> list[list[Cell]]:
    """Unit i's two rows at step t: net = Σ weight·input (+ bias), then its activation; in names, with numbers.
    terms: (the weight's name, its value, the input's name, its value)."""
    names: list[Node] = [Row.of(Name(wn), DOT, Name(xn)) for wn, _wv, xn, _xv in terms]
    numbers: list[Node] = [Row.of(w.num(wv), DOT, w.num(xv)) for _wn, wv, _xn, xv in terms]
    if bias is not None:
        names.append(Name(bias[0]))
        numbers.append(w.num(bias[1]))
    net_name = f"net_{unit}{i + 1}@t{t}"
    return [
        [net_name, join(names, PLUS), join(numbers, PLUS), w.n(net)],
        [
            f"{unit}{i + 1}@t{t}",
            Apply(activation, (Name(net_name),)),
            Apply(activation, (Num(net, w.digits, paren=False),)),
            w.n(out),
        ],
    ]


def _loss_sum(template: Template, holes: list[dict[str, Node]]) -> Row:
    """The registry formula filled once per output, added up: ½(t − y1)² + ½(t − y2)²."""
    return join((template.filled(**h) for h in holes), PLUS)


def forward_blocks(trace: RnnTrace, w: _Writer) -> list[Block]:
    s = trace.scenario
    grid = _grid(
        _("Forward pass, step by step"),
        [(_("quantity"), "name"), (_("formula"), "text"), (_("with numbers"), "text"), (_("value"), "num")],
    )
    loss = functions.loss(s.loss)
    n = Const(str(s.n_y))
    for t in range(1, s.steps + 1):
        for i in range(s.n_h):
            weighted = [(f"W_xh_{i + 1}_{j + 1}", s.W_xh[i][j], f"x{j + 1}@t{t}", trace.x[t][j]) for j in range(s.n_in)]
            weighted += [
                (f"W_hh_{i + 1}_{j + 1}", s.W_hh[i][j], f"h{j + 1}@t{t - 1}", trace.h[t - 1][j]) for j in range(s.n_h)
            ]
            bias = (f"b_h_{i + 1}", s.b_h[i]) if s.b_h is not None else None
            grid.rows += _unit_rows(w, "h", t, i, weighted, bias, s.hidden_activation, trace.net_h[t][i], trace.h[t][i])
        for i in range(s.n_y):
            weighted = [(f"W_hy_{i + 1}_{j + 1}", s.W_hy[i][j], f"h{j + 1}@t{t}", trace.h[t][j]) for j in range(s.n_h)]
            bias = (f"b_y_{i + 1}", s.b_y[i]) if s.b_y is not None else None
            grid.rows += _unit_rows(w, "y", t, i, weighted, bias, s.output_activation, trace.net_y[t][i], trace.y[t][i])
        target = s.targets[t - 1]
        if target is not None:
            sym = _loss_sum(
                loss.term,
                [{"t": Name(f"target{i + 1}@t{t}"), "o": Name(f"y{i + 1}@t{t}"), "n": n} for i in range(s.n_y)],
            )
            nums = _loss_sum(
                loss.term, [{"t": w.num(target[i]), "o": w.num(trace.y[t][i]), "n": n} for i in range(s.n_y)]
            )
            grid.rows.append([f"E@t{t}", sym, nums, w.n(trace.losses[t])])
        grid.styles.extend([""] * (len(grid.rows) - len(grid.styles)))
    steps = sorted(trace.losses)
    total = w.terms_node([trace.losses[t] for t in steps])
    grid.rows.append(["E_total", join((Name(f"E@t{t}") for t in steps), PLUS), total, w.n(trace.total)])
    grid.styles.append("bold")
    return [grid]


def _recurrent(w: _Writer, step: int, i: int) -> tuple[Node, Node]:
    """r_i(step) = Σ_j W_hh_j_i·(the kept δ of unit j at step+1), symbolic and with numbers."""
    s, tr = w.t.scenario, w.t
    if step >= s.steps:
        return _ZERO, _ZERO
    kept = tr.delta_h[step + 1] - (tr.dropped_delta(step + 1) if s.truncate is not None else 0.0)
    sym = _names((f"W_hh_{j + 1}_{i + 1}", f"delta_h{j + 1}@t{step + 1}") for j in range(s.n_h))
    nums = _products(w, ((s.W_hh[j][i], kept[j]) for j in range(s.n_h)))
    return sym, nums


def backward_blocks(trace: RnnTrace, w: _Writer) -> list[Block]:
    s = trace.scenario
    loss = functions.loss(s.loss)
    grid = _grid(
        _("Backward pass through time, from step {T} back to step 1").format(T=s.steps),
        [(_("quantity"), "name"), (_("formula"), "text"), (_("with numbers"), "text"), (_("value"), "num")],
    )
    n = Const(str(s.n_y))
    for t in range(s.steps, 0, -1):
        target = s.targets[t - 1]
        if target is not None:
            for i in range(s.n_y):
                grid.rows.append(
                    [
                        f"dE/dy{i + 1}@t{t}",
                        loss.gradient.filled(t=Name(f"target{i + 1}@t{t}"), o=Name(f"y{i + 1}@t{t}"), n=n),
                        loss.gradient.filled(t=w.num(target[i]), o=w.num(trace.y[t][i]), n=n),
                        w.n(trace.dE_dy[t][i]),
                    ]
                )
            for i in range(s.n_y):
                sym: Node
                nums: Cell
                if loss.cancels == s.output_activation:
                    sym = sentence(
                        _("{y} {minus} target (the loss cancels {g}{prime})"),
                        y=Name(f"y{i + 1}@t{t}"),
                        minus=Op("-"),  # its spaces are the translation's
                        g=Row.of(Fn(s.output_activation)),
                        prime=Op("′"),
                    )
                    nums = Row.of(Num(trace.y[t][i], w.digits, paren=False), MINUS, w.num(target[i]))
                elif s.output_activation == "softmax":
                    sym, nums = Text(_("the softmax Jacobian times dE/dy")), ""  # no numbers: a Jacobian
                else:
                    sym = Row.of(
                        Name(f"dE/dy{i + 1}@t{t}"),
                        DOT,
                        Fn(s.output_activation),
                        Op("′"),
                        Paren(Name(f"net_y{i + 1}@t{t}")),
                    )
                    nums = Row.of(w.num(trace.dE_dy[t][i]), DOT, w.num(trace.g_prime[t][i]))
                grid.rows.append([f"delta_y{i + 1}@t{t}", sym, nums, w.n(trace.delta_y[t][i])])
        for i in range(s.n_h):
            via_sym = _names((f"W_hy_{j + 1}_{i + 1}", f"delta_y{j + 1}@t{t}") for j in range(s.n_y))
            via_num = _products(w, ((s.W_hy[j][i], trace.delta_y[t][j]) for j in range(s.n_y)))
            rec_sym, rec_num = _recurrent(w, t, i)
            syms = ([via_sym] if target is not None else []) + ([rec_sym] if t < s.steps else [])
            numbers = ([via_num] if target is not None else []) + ([rec_num] if t < s.steps else [])
            grid.rows.append(
                [
                    f"dE/dh{i + 1}@t{t}",
                    join(syms, PLUS) if syms else _ZERO,
                    join(numbers, PLUS) if numbers else _ZERO,
                    w.n(trace.dE_dh[t][i]),
                ]
            )
        for i in range(s.n_h):
            grid.rows.append(
                [
                    f"delta_h{i + 1}@t{t}",
                    Row.of(
                        Fn(s.hidden_activation),
                        Op("′"),
                        Paren(Name(f"net_h{i + 1}@t{t}")),
                        DOT,
                        Name(f"dE/dh{i + 1}@t{t}"),
                    ),
                    Row.of(w.num(trace.f_prime[t][i]), DOT, w.num(trace.dE_dh[t][i])),
                    w.n(trace.delta_h[t][i]),
                ]
            )
        grid.styles.extend([""] * (len(grid.rows) - len(grid.styles)))
    for i in range(s.n_h):
        rec_sym, rec_num = _recurrent(w, 0, i)
        grid.rows.append([f"dE/dh{i + 1}@t0", rec_sym, rec_num, w.n(trace.recurrent[0][i])])
        grid.styles.append("dim")
    blocks: list[Block] = [grid]
    blocks.append(
        Para(
            _(
                "dE/dh@t = the gradient through the output at t plus the gradient flowing back from h@t+1 "
                "(W_hh{T}{times}delta_h@t+1): the recurrent path."
            ).format(T="^T" if w.ascii else "ᵀ", times=w.times),
            "dim",
        )
    )
    if s.truncate is not None:
        cut = _grid(
            _("What the truncation (k = {k}) drops: the gradient of E@t+k, which has gone back k steps").format(
                k=s.truncate
            ),
            [(_("at"), "name"), (_("dropped loss"), "name"), (_("dropped from dE/dh"), "text")],
        )
        for step in range(s.steps - 1, -1, -1):
            later = step + s.window
            if later <= s.steps and (later, step + 1) in trace.e and any(trace.dropped[step] != 0):
                values = join(
                    (
                        Row.of(Name(f"h{i + 1}"), Text(": "), Num(float(trace.dropped[step][i]), w.digits, paren=False))
                        for i in range(s.n_h)
                    ),
                    COMMA,
                )
                cut.rows.append([f"h@t{step}", f"E@t{later}", values])
                cut.styles.append("")
        if cut.rows:
            blocks.append(cut)
    return blocks


def gradient_blocks(trace: RnnTrace, w: _Writer) -> list[Block]:
    s = trace.scenario
    grid = _grid(
        _("Each parameter's gradient: the sum of its terms over the time steps"),
        [(_("gradient"), "name"), (_("sum over the steps, term by term"), "text"), (_("sum"), "num")],
    )
    for name in s.parameters():
        base, idx = engine.split_name(name)
        c = trace.contributions[name]
        terms = [_term(w, base, idx, t) for t in range(1, s.steps + 1)]
        gradient = Name(f"dE/d{name}")
        symbolic = join((sym for sym, _n in terms), PLUS)
        numbers = join((nums for _s, nums in terms), PLUS)
        text: Node = (
            eq(gradient, symbolic, numbers)
            if base.startswith("b_")
            else eq(gradient, symbolic, numbers, w.terms_node([float(v) for v in c[1:]]))
        )
        if trace.mistake == "last-step-only":
            text = eq(gradient, terms[-1][0])
        grid.rows.append([f"dE/d{name}", text, w.n(trace.grads[name])])
        grid.styles.append("")
    updates = _grid(
        _("The update {theta}{plus} = {theta} {minus} {eta}{times}{d}E/{d}{theta}").format(
            theta="theta" if w.ascii else "θ", plus=w.plus, minus=w.minus, eta=w.eta, times=w.times, d=w.d
        ),
        [
            (_("parameter"), "name"),
            (_("value"), "num"),
            (_("gradient"), "num"),
            (_("with numbers"), "text"),
            (_("new value"), "num"),
        ],
    )
    for name in s.parameters():
        v, g = trace.values[name], trace.grads[name]
        updates.rows.append(
            [f"{name}+", w.n(v), w.n(g), w.update_node(v, s.learning_rate, g), w.n(trace.new_values[name])]
        )
        updates.styles.append("")
    return [grid, updates]


def verification_blocks(v: RnnVerification, w: _Writer) -> list[Block]:
    title = _("Verification: every gradient three ways")
    grid = three_way_grid(title, _("gradient"), "BPTT", v.checks, w, lambda name: f"dE/d{name}")
    t = v.tolerances()
    truncated = (
        _(
            "Truncated to k = {k}: both checks differentiate the truncated objective by its definition, the "
            "unrolled network with one copy of each parameter per step, "
            "{sigma}_t {sigma}_(s = t{minus}k+1..t) {d}E_t/{d}theta_s."
        ).format(k=v.window, sigma=w.sigma, minus=w.minus, d=w.d)
        if v.truncated
        else _("Both checks differentiate the unrolled network itself, never the backward pass.")
    )
    if v.sympy_mode == "all":
        sympy_note = _(
            "SymPy built each step's loss as one expression of the unrolled network and differentiated it itself; "
            "judged |g {minus} SymPy| {le} {rtol}{times}|SymPy| + g's float64 resolution."
        ).format(minus=w.minus, le="<=" if w.ascii else "≤", rtol=f"{t['sympy_rtol']:g}", times=w.times)
    elif v.sympy_mode == "sample":
        sympy_note = _(
            "SymPy checked a sample (the first entry of each matrix and bias; '—' elsewhere): the unrolled "
            "derivative grows steeply with the steps and hidden units. The finite differences check every gradient."
        )
    else:
        sympy_note = _(
            "SymPy was not used: the unrolled derivative is too large to take quickly here. The finite differences "
            "check every gradient."
        )
    notes = [
        truncated,
        sympy_note,
        _(
            "Finite differences: five-point central differences of the loss, h = {step}{times}max(1, |theta|); "
            "judged |g {minus} fd| {le} {rtol}{times}|g| + the stencil's rounding bound."
        ).format(
            step=f"{t['fd_step']:g}",
            times=w.times,
            minus=w.minus,
            le="<=" if w.ascii else "≤",
            rtol=f"{t['fd_rtol']:g}",
        ),
    ]
    if w.t.kinks:
        notes.append(
            _("At a kink (net = 0): {names}; the registry's convention is used there.").format(
                names=", ".join(w.t.kinks)
            )
        )
    if not v.loss_ok:
        notes.append(
            _("MISMATCH: SymPy's value of the loss is {value}.").format(
                value="—" if v.loss_sympy is None else w.n(v.loss_sympy)
            )
        )
    blocks: list[Block] = [grid, *(Para(text, "dim") for text in notes)]
    blocks.append(verdict(v.ok, _("MISMATCH: a BPTT value disagrees with an independent check (exit status 1).")))
    return blocks


def run_blocks(
    trace: RnnTrace, verification: RnnVerification | None, digits: int = DEFAULT_DIGITS, ascii: bool = False
) -> list[Block]:
    """The blocks of `bptrace run` for a recurrent scenario."""
    w = _Writer(trace, digits, ascii)
    blocks = describe(trace, w)
    params = _grid(_("Parameters"), [(_("parameter"), "name"), (_("value"), "num")])
    for name in trace.scenario.parameters():
        params.rows.append([name, w.n(trace.values[name])])
        params.styles.append("")
    blocks.append(params)
    blocks += forward_blocks(trace, w)
    blocks += backward_blocks(trace, w)
    blocks += gradient_blocks(trace, w)
    if verification is not None:
        blocks += verification_blocks(verification, w)
    return blocks


# ---- JSON ----


def _list(a: Any) -> list[float]:
    return [float(v) for v in a]


def verification_data(v: RnnVerification) -> dict[str, Any]:
    return {
        "ok": v.ok,
        "sympy": v.sympy_mode,
        "loss_sympy": v.loss_sympy,
        "loss_ok": v.loss_ok,
        "truncated": v.truncated,
        "window": v.window,
        "tolerances": v.tolerances(),
        "checks": [
            {
                "name": f"dE/d{c.name}",
                "bptt": c.chain_rule,
                "sympy": c.sympy,
                "finite_difference": c.finite_difference,
                "fd_judged": c.fd_judged,
                "note": c.note,
                "ok": c.ok,
            }
            for c in v.checks
        ],
    }


def rnn_data(trace: RnnTrace, verification: RnnVerification | None) -> dict[str, Any]:
    """The trace as JSON-ready data (docs/json.md, 'Recurrent scenarios')."""
    s = trace.scenario
    T = s.steps
    data: dict[str, Any] = {
        "bptrace": __version__,
        "kind": "rnn",
        "scenario": {
            "title": s.title,
            "file": s.file,
            "source": s.source_note,
            "steps": T,
            "inputs": [list(x) for x in s.inputs],
            "targets": [None if t is None else list(t) for t in s.targets],
            "h0": list(s.h0),
            "hidden": {"activation": s.hidden_activation, "units": s.n_h},
            "output": {"activation": s.output_activation, "units": s.n_y},
            "loss": s.loss,
            "loss_at": s.loss_at,
            "truncate": s.truncate,
            "window": s.window,
            "learning_rate": s.learning_rate,
        },
        "forward": [
            {
                "t": t,
                "x": _list(trace.x[t]),
                "net_h": _list(trace.net_h[t]),
                "h": _list(trace.h[t]),
                "net_y": _list(trace.net_y[t]),
                "y": _list(trace.y[t]),
                "loss": trace.losses.get(t),
            }
            for t in range(1, T + 1)
        ],
        "loss": {"total": trace.total, "per_step": {str(t): v for t, v in sorted(trace.losses.items())}},
        "backward": [
            {
                "t": t,
                "dE_dy": _list(trace.dE_dy[t]) if t in trace.losses else None,
                "delta_y": _list(trace.delta_y[t]) if t in trace.losses else None,
                "via_output": _list(trace.via_output[t]),
                "from_next_state": _list(trace.recurrent[t]),
                "dropped_by_truncation": _list(trace.dropped[t]),
                "dE_dh": _list(trace.dE_dh[t]),
                "delta_h": _list(trace.delta_h[t]),
            }
            for t in range(T, 0, -1)
        ],
        "dE_dh0": _list(trace.recurrent[0]),
        "per_loss": [{"loss_step": t, "step": step, "dE_dnet_h": _list(v)} for (t, step), v in sorted(trace.e.items())],
        "parameters": [
            {
                "name": name,
                "value": trace.values[name],
                "terms": _list(trace.contributions[name][1:]),
                "grad": trace.grads[name],
                "new_value": trace.new_values[name],
            }
            for name in s.parameters()
        ],
        "quantities": trace.quantities(),
        "kinks": list(trace.kinks),
    }
    if verification is not None:
        data["verification"] = verification_data(verification)
    return data


def rnn_json(trace: RnnTrace, verification: RnnVerification | None) -> str:
    return json_text(rnn_data(trace, verification))


# ---- explain ----


def _row(blocks: list[Block], name: str, w: _Writer) -> list[str] | None:
    """The cells of the row named `name` as text (a formula printed in the writer's script)."""
    for b in blocks:
        if isinstance(b, Grid):
            for row in b.rows:
                if row and row[0] == name:
                    return [c if isinstance(c, str) else w.text(c) for c in row]
    return None


def explain_data(trace: RnnTrace, name: str, checks: RnnVerification | None) -> dict[str, Any]:
    """One quantity's derivation as data: its value and, for a gradient, its terms over the steps."""
    s = trace.scenario
    values = trace.quantities()
    data: dict[str, Any] = {"kind": "rnn", "target": name, "value": values[name]}
    param = name[4:].split("@")[0] if name.startswith("dE/d") else name.rstrip("+")
    if param in trace.contributions:
        data["parameter"] = param
        data["terms"] = [{"t": t, "term": float(trace.contributions[param][t])} for t in range(1, s.steps + 1)]
        data["grad"] = trace.grads[param]
        data["new_value"] = trace.new_values[param]
        data["learning_rate"] = s.learning_rate
    if name.startswith("delta_h"):
        unit, step = name[len("delta_h") :].split("@t")
        i, st = int(unit) - 1, int(step)
        data["per_loss"] = [{"loss_step": t, "term": float(v[i])} for (t, at), v in sorted(trace.e.items()) if at == st]
    if checks is not None:
        data["verification"] = verification_data(checks)
    return data


def explain_blocks(
    trace: RnnTrace,
    name: str,
    checks: RnnVerification | None,
    digits: int = DEFAULT_DIGITS,
    ascii: bool = False,
) -> list[Block]:
    """`explain NAME` for a recurrent scenario: what it is, its formula with the numbers, and for a gradient
    the sum over the time steps term by term."""
    w = _Writer(trace, digits, ascii)
    s = trace.scenario
    values = trace.quantities()
    blocks: list[Block] = [Para(f"{name} = {w.n(values[name])}", "title")]
    param = name[4:].split("@")[0] if name.startswith("dE/d") else name.rstrip("+")
    if param in trace.contributions and name.startswith("dE/d") and "@" not in name:
        base, idx = engine.split_name(param)
        blocks.append(
            Para(
                _(
                    "{param} is used at every time step (the same weight in each copy of the unrolled network), so "
                    "{target} is the sum of one term per step: each step's contribution."
                ).format(param=param, target=name)
            )
        )
        rows = gradient_blocks(trace, w)[0]
        grid = _grid(
            _("{target}: one term per time step").format(target=name),
            [(_("step"), "name"), (_("term"), "text"), (_("with numbers"), "text"), (_("value"), "num")],
        )
        for t in range(1, s.steps + 1):
            term_row = _term(w, base, idx, t, paren=False)
            grid.rows.append([f"t{t}", term_row[0], term_row[1], w.n(float(trace.contributions[param][t]))])
            grid.styles.append("")
        blocks.append(grid)
        terms = w.terms([float(v) for v in trace.contributions[param][1:]])
        blocks.append(
            Para(
                _("{target} = {sigma} over the steps = {terms} = {total}").format(
                    target=name, sigma=w.sigma, terms=terms, total=w.n(trace.grads[param])
                ),
                "bold",
            )
        )
        if base in ("W_xh", "W_hh", "b_h"):
            blocks.append(
                Para(
                    _(
                        "Each delta_h@t already holds the gradient flowing back from the later steps (the recurrent "
                        "path h(t) → h(t−1)); 'bptrace explain delta_h1@t1' shows one."
                    ),
                    "dim",
                )
            )
        if s.truncate is not None:
            blocks.append(
                Para(
                    _("Truncated to k = {k}: each delta_h@t keeps only the losses at most {k} steps later.").format(
                        k=s.truncate
                    ),
                    "dim",
                )
            )
        row = _row([rows, *gradient_blocks(trace, w)[1:]], f"{param}+", w)
        if row is not None:
            blocks.append(Para(_("Update: {update}").format(update=f"{param}{w.plus} = {row[3]} = {row[4]}")))
    elif name.startswith("dE/d") and "@t" in name and name[4:].split("@t")[0] in trace.contributions:
        param, step = name[4:].split("@t")
        base, idx = engine.split_name(param)
        sym, numbers = _term(w, base, idx, int(step), paren=False)
        blocks.append(Para(f"{name} = {w.text(sym)} = {w.text(numbers)} = {w.n(values[name])}"))
        blocks.append(
            Para(
                _(
                    "Step {t}'s term of {gradient}: 'bptrace explain {gradient}' adds the terms of all the steps."
                ).format(t=step, gradient=f"dE/d{param}"),
                "dim",
            )
        )
    elif name.endswith("+") and name[:-1] in trace.values:
        param = name[:-1]
        v, g, new = trace.values[param], trace.grads[param], trace.new_values[param]
        blocks.append(Para(w.update_line(param, f"dE/d{param}", v, s.learning_rate, g, new)))
    else:
        row = _row(run_blocks(trace, None, digits, ascii), name, w)
        if row is not None and len(row) >= 4:
            blocks.append(Para(f"{name} = {row[1]} = {row[2]} = {row[3]}"))
        elif row is not None:
            blocks.append(Para(f"{name} = {row[-1]}"))
        if name.startswith("delta_h"):
            unit, step = name[len("delta_h") :].split("@t")
            i, st = int(unit) - 1, int(step)
            parts = [(t, float(v[i])) for (t, at), v in sorted(trace.e.items()) if at == st]
            if parts:
                grid = _grid(
                    _("{name}: the share of each loss (the chain rule from E@t back to step {step})").format(
                        name=name, step=st
                    ),
                    [(_("loss"), "name"), (_("share"), "num")],
                )
                for t, v in parts:
                    grid.rows.append([f"E@t{t}", w.n(v)])
                    grid.styles.append("")
                blocks.append(grid)
                blocks.append(
                    Para(
                        _("{name} = {terms}: the recursion above adds these up step by step.").format(
                            name=name, terms=w.terms([v for _t, v in parts])
                        ),
                        "dim",
                    )
                )
    if checks is not None:
        blocks += verification_blocks(checks, w)
    return blocks


def _term(w: _Writer, base: str, idx: tuple[int, ...], t: int, paren: bool = True) -> tuple[Node, Node]:
    """Step t's term of a parameter's gradient, in names and with numbers: δ·input, or δ alone for a bias
    (`paren`: its one number in parentheses when negative, as inside a sum)."""
    tr = w.t
    i = idx[0]
    if base in ("b_h", "b_y"):
        unit, delta = ("h", tr.delta_h) if base == "b_h" else ("y", tr.delta_y)
        return Name(f"delta_{unit}{i + 1}@t{t}"), Num(float(delta[t][i]), w.digits, paren=paren)
    j = idx[1]
    delta_name, delta = (
        (f"delta_y{i + 1}@t{t}", tr.delta_y[t][i]) if base == "W_hy" else (f"delta_h{i + 1}@t{t}", tr.delta_h[t][i])
    )
    if base == "W_xh":
        input_name, value = f"x{j + 1}@t{t}", tr.x[t][j]
    elif base == "W_hh":
        input_name, value = f"h{j + 1}@t{t - 1}", tr.h[t - 1][j]
    else:
        input_name, value = f"h{j + 1}@t{t}", tr.h[t][j]
    return Row.of(Name(delta_name), DOT, Name(input_name)), Row.of(w.num(delta), DOT, w.num(value))


# ---- check ----


def check_blocks(
    r: RnnSheetResult, digits: int = DEFAULT_DIGITS, ascii: bool = False, hide_expected: bool = False
) -> list[Block]:
    """A marked sheet: quantity | given | expected | ✓/✗ | the misconception that reproduces it."""
    from bptrace.rnn.grading import DIAGNOSES

    title = f"{r.student}: {shown(r.scenario.display_title())}"
    return marks_blocks(title, r.marks, r.score, r.total, r.all_correct, DIAGNOSES, digits, ascii, hide_expected)


def check_data(r: RnnSheetResult, hide_expected: bool = False) -> dict[str, Any]:
    """A marked sheet as JSON-ready data."""
    return sheet_data("rnn", r, hide_expected)
