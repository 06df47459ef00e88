"""A layer stack's trace -> blocks (terminal, Markdown, LaTeX, HTML through export.py) and JSON. Computes nothing.

`run`: per layer, the forward lines (each output position's sum with its numbers, pooling's chosen inputs,
μ, σ², x̂), the loss, the backward lines in reverse (each kernel element's gradient as the sum over the
positions it touched, the input gradient as a full convolution with the flipped kernel, which input gets each
pooling gradient, batch norm's three paths beside the compact formula), the update, the verification.
`explain`: one quantity, its rule, its terms one per row, and for a parameter its checks.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bptrace import __version__, formula
from bptrace.fmt import DEFAULT_DIGITS
from bptrace.formula import (
    DOT,
    EMPTY,
    MINUS,
    PLUS,
    Apply,
    Const,
    Fn,
    Frac,
    Name,
    Node,
    Num,
    Op,
    Paren,
    Pow,
    Row,
    Text,
    join,
)
from bptrace.i18n import N_, _, ngettext
from bptrace.layers.model import shape_text
from bptrace.message import tr
from bptrace.render.blocks import Cell
from bptrace.render.kinds import Spelling, json_text, titled
from bptrace.render.kinds import grid as _grid
from bptrace.render.layout import Block, Grid, Para
from bptrace.verify.tolerances import FD_RTOL, FD_STEP

if TYPE_CHECKING:
    from bptrace.layers.engine import LayersTrace, Line, Section, Term
    from bptrace.layers.verify import LayersVerification

PATHS = {"xhat": N_("through x̂"), "var": N_("through σ²"), "mu": N_("through μ")}
STATUS = {"ok": N_("agrees"), "mismatch": N_("MISMATCH"), "not judged": N_("not judged")}


# the factors of batch norm's rules the engine names by their formulas, as trees (each prints as it is named)
_DIFF = re.compile(r"\((\S+) - (\S+)\)")  # (x - mu)
_INV_ROOT = re.compile(r"(-?)1/sqrt\((\S+) \+ eps\)")  # 1/sqrt(var + eps), -1/sqrt(var + eps)
_POWER = re.compile(r"\(-1/2\)\((\S+) \+ eps\)\^\(-3/2\)")  # (-1/2)(var + eps)^(-3/2)
_SUM_DEV = re.compile(r"sum\(-2\(x - (\S+)\)\)/m")  # sum(-2(x - mu))/m
_DEV_M = re.compile(r"2\((\S+) - (\S+)\)/m")  # 2(x - mu)/m
_OF = re.compile(r"([A-Za-z]+)\((\S+)\)")  # E(a3_1:1): the loss of one output
_DERIVATIVE = re.compile(r"([A-Za-z]+)'\((\S+)\)")  # relu'(z1_1:1): an activation's derivative


def _difference(a: str, b: str) -> Node:
    return Paren(Row.of(Name(a), MINUS, Name(b)))


def factor_node(name: str) -> Node:
    """A factor of a layer's term as a tree: a quantity by its name, or one of batch norm's named formulas
    (1/sqrt(var + eps), (x - mu), ...), printed in Unicode and ASCII as the engine names it."""
    plus_eps = lambda v: Row.of(Name(v), PLUS, Name("eps"))  # noqa: E731
    if m := _DIFF.fullmatch(name):
        return _difference(m.group(1), m.group(2))
    if m := _INV_ROOT.fullmatch(name):
        root = Frac(Const("1"), Apply("sqrt", (plus_eps(m.group(2)),)))
        return Row.of(Op("-"), root) if m.group(1) else root
    if m := _POWER.fullmatch(name):
        half = Frac(Const("-1"), Const("2"), grouped=True)
        return Row.of(half, Pow(Paren(plus_eps(m.group(1))), Frac(Const("-3"), Const("2"))))
    if m := _SUM_DEV.fullmatch(name):
        return Frac(Apply("sum", (Row.of(Const("-2"), _difference("x", m.group(1))),)), Name("m"))
    if m := _DEV_M.fullmatch(name):
        return Frac(Row.of(Const("2"), _difference(m.group(1), m.group(2))), Name("m"))
    if name == "1/m":
        return Frac(Const("1"), Name("m"))
    if m := _DERIVATIVE.fullmatch(name):
        return Row.of(Fn(m.group(1)), Op("'"), Paren(Name(m.group(2))))
    if (m := _OF.fullmatch(name)) and not name.startswith("d"):
        return Apply(m.group(1), (Name(m.group(2)),))
    return Name(name)


class _Writer(Spelling):
    """The spelling (render/kinds.py) of a layer's sums as formula trees: a term's coefficient and factors,
    a line's sum."""

    def coef(self, c: float) -> Node:
        """A term's coefficient with the product sign after it (none for 1): (1/4)·, (-1/2)·, 0.5·."""
        if c == 1.0:
            return EMPTY
        for d in range(2, 100):
            if abs(c * d - 1.0) < 1e-15:
                return Row.of(Frac(Const("1"), Const(str(d)), grouped=True), DOT)
            if abs(c * d + 1.0) < 1e-15:
                return Row.of(Frac(Const("-1"), Const(str(d)), grouped=True), DOT)
        return Row.of(self.num(c), DOT)

    def term(self, t: Term, numbers: bool) -> Node:
        parts = [self.num(v) if numbers else factor_node(name) for name, v in t.factors]
        product = Row.of(self.coef(t.coef), join(parts, DOT))
        if t.label:
            return Row.of(Text(f"[{_(PATHS[t.label])}] "), product)
        return product

    def sum(self, ln: Line, numbers: bool) -> Node:
        if ln.apply is not None:
            f, arg, v = ln.apply
            return Apply(f, (Num(v, self.digits, paren=False) if numbers else Name(arg),))
        parts = [self.term(t, numbers) for t in ln.terms]
        if ln.const is not None:
            parts.append(self.num(ln.const[1]) if numbers else Name(ln.const[0]))
        return join(parts, PLUS) if parts else Const("0")


def rule_text(rule: str | formula.Node) -> str:
    """A section's rule as docs/layers.md writes it: ASCII (a formula tree, the loss's, printed in ASCII)."""
    return rule if isinstance(rule, str) else formula.ascii(rule)


def section_grid(sec: Section, w: _Writer, lines: list[Line] | None = None) -> Grid:
    """One layer's lines in one pass: quantity, the sum in names, the sum in numbers, the value, a note."""
    rows = lines if lines is not None else sec.lines
    notes = any(ln.note for ln in rows)
    columns = [(_("quantity"), "name"), (_("sum"), "text"), (_("with numbers"), "text"), (_("value"), "num")]
    grid = _grid(
        tr(sec.title),
        columns + ([(_("note"), "text")] if notes else []),
        caption=_("rule: {rule}").format(rule=rule_text(sec.rule)),
    )
    for ln in rows:
        row: list[Cell] = [ln.name, w.sum(ln, False), w.sum(ln, True), w.n(ln.value)]
        grid.rows.append(row + ([tr(ln.note)] if notes else []))
    return grid


def compact_grid(sec: Section, w: _Writer) -> Grid | None:
    rows = [ln for ln in sec.lines if ln.compact is not None]
    if not rows:
        return None
    grid = _grid(
        _("Batch normalization: the three paths added, beside the compact textbook formula"),
        [(_("quantity"), "name"), (_("three paths"), "num"), (_("compact formula"), "text"), (_("value"), "num")],
    )
    for ln in rows:
        assert ln.compact is not None
        closed: Cell = ln.compact_formula if ln.compact_formula is not None else Name(ln.compact[0])
        grid.rows.append([ln.name, w.n(ln.value), closed, w.n(ln.compact[1])])
    return grid


def run_blocks(
    trace: LayersTrace, verification: LayersVerification | None, digits: int = DEFAULT_DIGITS, ascii: bool = False
) -> list[Block]:
    """The blocks of `bptrace run` for a layers scenario."""
    w = _Writer(digits, ascii)
    s = trace.scenario
    blocks = titled(s.display_title(), s.display_source() if s.source_note else None)
    stack = ", ".join(
        f"{layer.index} {layer.type} {shape_text(layer.in_shape)}→{shape_text(layer.out_shape)}".replace(
            "→", "->" if ascii else "→"
        )
        for layer in s.layers
    )
    blocks.append(Para(_("Layers: {stack}").format(stack=stack)))
    blocks.append(
        Para(
            ngettext(
                "{m} sample, loss {loss} ({reduction} over the samples), learning rate η = {eta}",
                "{m} samples, loss {loss} ({reduction} over the samples), learning rate η = {eta}",
                s.samples,
            ).format(m=s.samples, loss=s.loss, reduction=s.reduction, eta=w.n(s.learning_rate))
        )
    )
    blocks.append(Para(_("Forward pass"), "bold"))
    for sec in trace.forward:
        blocks.append(section_grid(sec, w))
    blocks.append(Para(_("Backward pass (every gradient is of E_total; :k is the sample it is taken at)"), "bold"))
    for sec in trace.backward:
        blocks.append(section_grid(sec, w))
        for label, rows in sec.flipped:
            names = "[" + ", ".join("[" + ", ".join(n for n, _v in row) + "]" for row in rows) + "]"
            numbers = "[" + ", ".join("[" + ", ".join(w.n(v) for _n, v in row) + "]" for row in rows) + "]"
            blocks.append(
                Para(
                    _("The flipped kernel of the input gradient: {label} = {names} = {numbers}").format(
                        label=label, names=names, numbers=numbers
                    )
                )
            )
        extra = compact_grid(sec, w)
        if extra is not None:
            blocks.append(extra)
    blocks.append(update_grid(trace, verification, w))
    if trace.kinks:
        for k in trace.kinks:
            blocks.append(Para(_("Kink: {reason}").format(reason=tr(k.reason)), "dim"))
    if verification is not None:
        blocks.append(Para(summary(verification), "good" if verification.ok else "bad"))
    return blocks


def update_grid(trace: LayersTrace, verification: LayersVerification | None, w: _Writer) -> Grid:
    checks = {c.name: c for c in verification.checks} if verification is not None else {}
    cols = [(_("parameter"), "name"), (_("value"), "num"), (_("gradient"), "num"), (_("after the update"), "num")]
    if verification is not None:
        cols += [(_("SymPy"), "num"), (_("finite difference"), "num"), (_("check"), "text")]
    grid = _grid(_("The gradients and the update, θ+ = θ − η·∂E/∂θ").replace("θ", "theta" if w.ascii else "θ"), cols)
    for name, v in trace.params.items():
        row = [name, w.n(v), w.n(trace.gradients[name]), w.n(trace.values[f"{name}+"])]
        if verification is not None:
            c = checks[name]
            status = _(STATUS[c.status])
            if c.reason:
                status = f"{status}: {tr(c.reason)}"
            row += ["" if c.sympy is None else w.n(c.sympy), "" if c.fd is None else w.n(c.fd), status]
        grid.rows.append(row)
    grid.styles = ["bad" if verification is not None and checks[n].status == "mismatch" else "" for n in trace.params]
    return grid


def summary(v: LayersVerification) -> str:
    parts = _("{judged} of {total} gradients judged: SymPy checked {sympy}, finite differences {fd}").format(
        judged=v.judged, total=v.total, sympy=v.sympy_count, fd=v.fd_count
    )
    if v.ok:
        return _("{checks}; all agree.").format(checks=parts)
    bad = ", ".join(c.name for c in v.checks if c.status == "mismatch")
    return _("{checks}; these do not agree: {names}.").format(checks=parts, names=bad)


# ---- JSON ----


def _term_data(t: Term) -> dict[str, Any]:
    return {
        "factors": [{"name": n, "value": v} for n, v in t.factors],
        "coef": t.coef,
        "label": t.label,
        "value": t.value,
    }


def line_data(ln: Line) -> dict[str, Any]:
    return {
        "name": ln.name,
        "value": ln.value,
        "terms": [_term_data(t) for t in ln.terms],
        "const": None if ln.const is None else {"name": ln.const[0], "value": ln.const[1]},
        "apply": None if ln.apply is None else {"function": ln.apply[0], "argument": ln.apply[1], "value": ln.apply[2]},
        "note": str(ln.note),
        "compact": None if ln.compact is None else {"formula": ln.compact[0], "value": ln.compact[1]},
    }


def section_data(sec: Section) -> dict[str, Any]:
    return {
        "layer": sec.layer,
        "type": sec.type,
        "direction": sec.direction,
        "title": str(sec.title),
        "rule": rule_text(sec.rule),
        "lines": [line_data(ln) for ln in sec.lines],
        "flipped": [
            {
                "label": label,
                "names": [[n for n, _v in row] for row in rows],
                "values": [[v for _n, v in row] for row in rows],
            }
            for label, rows in sec.flipped
        ],
    }


def verification_data(v: LayersVerification) -> dict[str, Any]:
    from bptrace.layers import verify as vf

    return {
        "ok": v.ok,
        "total": v.total,
        "judged": v.judged,
        "sympy_checked": v.sympy_count,
        "finite_differences": v.fd_count,
        "tolerances": {
            "sympy_rel": vf.SYMPY_REL,
            "sympy_abs": vf.SYMPY_ABS,
            "fd_rtol": FD_RTOL,  # plus each difference's rounding bound (verify/finite.py)
            "fd_step": FD_STEP,
        },
        "summary": str(summary_english(v)),
        "checks": [
            {
                "name": c.name,
                "gradient": c.value,
                "sympy": c.sympy,
                "finite_difference": c.fd,
                "status": c.status,
                "reason": str(c.reason),
            }
            for c in v.checks
        ],
    }


def summary_english(v: LayersVerification) -> str:
    from bptrace.i18n import language, set_language

    before = language()
    set_language("en")
    try:
        return summary(v)
    finally:
        set_language(before)


def layer_data(layer: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "index": layer.index,
        "type": layer.type,
        "in_shape": list(layer.in_shape),
        "out_shape": list(layer.out_shape),
    }
    if layer.type == "conv2d":
        d.update(
            kernel_size=layer.kernel_size,
            stride=layer.stride,
            padding=layer.padding,
            kernels=layer.kernels.tolist(),
            biases=layer.biases.tolist(),
        )
    elif layer.type in ("maxpool", "avgpool"):
        d.update(size=layer.size, stride=layer.stride)
    elif layer.type == "dense":
        d.update(weights=layer.weights.tolist(), biases=layer.biases.tolist(), activation=layer.function)
    elif layer.type == "batchnorm":
        d.update(gamma=layer.gamma.tolist(), beta=layer.beta.tolist(), epsilon=layer.epsilon)
    elif layer.type == "activation":
        d.update(function=layer.function)
    if layer.param is not None:
        d["param"] = layer.param
    return d


def layers_data(trace: LayersTrace, verification: LayersVerification | None) -> dict[str, Any]:
    """The trace as JSON-ready data (docs/json.md, 'Layer stacks')."""
    s = trace.scenario
    data: dict[str, Any] = {
        "bptrace": __version__,
        "kind": "layers",
        "scenario": {
            "title": s.title,
            "file": s.file,
            "source": s.source_note,
            "samples": s.samples,
            "inputs": s.inputs.tolist(),
            "targets": s.targets.tolist(),
            "loss": s.loss,
            "reduction": s.reduction,
            "learning_rate": s.learning_rate,
            "layers": [layer_data(layer) for layer in s.layers],
        },
        "forward": [section_data(sec) for sec in trace.forward],
        "backward": [section_data(sec) for sec in trace.backward],
        "update": section_data(trace.update),
        "loss": trace.loss,
        "losses": trace.losses,
        "parameters": [
            {
                "name": n,
                "layer": trace.param_layer[n],
                "value": v,
                "grad": trace.gradients[n],
                "new_value": trace.values[f"{n}+"],
            }
            for n, v in trace.params.items()
        ],
        "kinks": [{"layer": k.layer, "name": k.name, "reason": str(k.reason)} for k in trace.kinks],
        "quantities": trace.values,
    }
    if verification is not None:
        data["verification"] = verification_data(verification)
    return data


def layers_json(trace: LayersTrace, verification: LayersVerification | None) -> str:
    return json_text(layers_data(trace, verification))
