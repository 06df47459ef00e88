"""A graph's trace -> blocks (terminal, Markdown, LaTeX, HTML through export.py) and JSON. Computes nothing.

`run`: the expressions, the forward pass (one row per gate), the backward pass gate by gate (upstream ×
local = product), the sums of the nodes read more than once, the gradients and the update, the verification.
`explain`: the paths from a node to the output, the chain rule along each, and the sum.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from bptrace import formula
from bptrace.fmt import DEFAULT_DIGITS
from bptrace.formula import DOT, PLUS, Const, Deriv, Name, Num, Op, Paren, Row, Text, eq, join, sentence
from bptrace.graph import expression as ex
from bptrace.graph.model import OP_NAMES, shown
from bptrace.i18n import N_, _, ngettext
from bptrace.render.blocks import Cell
from bptrace.render.kinds import Spelling, json_text, three_way_grid, titled, verdict
from bptrace.render.kinds import grid as _grid
from bptrace.render.layout import Block, Para
from bptrace.render.marks import marks_blocks, semicolons, sheet_data
from bptrace.version import __version__

if TYPE_CHECKING:
    from bptrace.graph.engine import GraphTrace, Node, Use
    from bptrace.graph.explain import GraphExplanation
    from bptrace.graph.grading import GraphSheetResult
    from bptrace.graph.verify import Check, GraphVerification


class _Writer(Spelling):
    """The spelling (render/kinds.py) with the trace it writes about, and its expressions."""

    def __init__(self, trace: GraphTrace, digits: int, ascii: bool) -> None:
        super().__init__(digits, ascii)
        self.t = trace

    def f(self, e: ex.Expr) -> str:
        return self.text(self.ft(e))

    def fn(self, e: ex.Expr) -> str:
        return self.text(self.fnt(e))

    def ft(self, e: ex.Expr) -> formula.Node:
        """The expression in names, as a formula tree."""
        return ex.tree(e)

    def fnt(self, e: ex.Expr) -> formula.Node:
        """The expression with its numbers, as a formula tree."""
        return ex.tree(e, values=self.t.values(), digits=self.digits)

    def local_node(self, gate: str, operand: int) -> formula.Node:
        """The symbol of a local gradient, written with the gate's formula: ∂(x·y)/∂x (never ∂q/∂x, which
        would read as the total gradient of q)."""
        g = self.t.scenario.gate(gate)
        name = g.operands[operand]
        twice = g.operands.count(name) > 1
        by = Name(name) if isinstance(name, str) else Const(str(name))  # a constant operand, as f"{x}" wrote it
        symbol = Deriv(Paren(self.ft(g.formula())), by)
        return sentence(_("{symbol} [input {n}]"), symbol=symbol, n=Const(str(operand + 1))) if twice else symbol

    def local(self, gate: str, operand: int) -> str:
        return self.text(self.local_node(gate, operand))

    def grad_node(self, of: str, by: str) -> formula.Node:
        return Deriv(Name(of), Name(by))


# the headers the lesson looks for (render/lesson.py: what a row tells about its node)
VALUE_HEADER = N_("value")
UPSTREAM_HEADER = N_("upstream {d}{output}/{d}gate")


def is_upstream_header(header: str) -> bool:
    """Is `header` the backward table's upstream gradient (∂f/∂gate, whatever the output is called)?"""
    parts = re.split(r"\{[a-z]+\}", _(UPSTREAM_HEADER))
    return re.fullmatch(".+".join(re.escape(p) for p in parts), header) is not None


# ---- run ----


def run_blocks(
    trace: GraphTrace, verification: GraphVerification | None, digits: int = DEFAULT_DIGITS, ascii: bool = False
) -> list[Block]:
    """The blocks of `bptrace run` for a graph scenario."""
    w = _Writer(trace, digits, ascii)
    s = trace.scenario
    out = s.output
    blocks = titled(shown(s.title), shown(s.source_note) if s.source_note else None)
    values = ", ".join(f"{k} = {w.n(v)}" for k, v in s.values.items())
    blocks.append(Para(_("Values: {values}").format(values=values)))
    for name in (*s.defined, out):
        tree = ex.parse(s.expressions[name])
        line = f"{name} = {w.f(tree)}"
        blocks.append(Para(_("{equation}   (the output)").format(equation=line) if name == out else line))

    forward = _grid(
        _("Forward pass: one gate per row, in evaluation order"),
        [
            (_("node"), "name"),
            (_("gate"), "text"),
            (_("formula"), "text"),
            (_("with numbers"), "text"),
            (_(VALUE_HEADER), "num"),
        ],
    )
    for node in trace.gates:
        gate = s.gate(node.name)
        label = _(OP_NAMES[gate.op])
        if not (gate.named or node.name == out):
            label = _("{gate} (automatic name)").format(gate=label)
        forward.rows.append([node.name, label, w.ft(gate.formula()), w.fnt(gate.formula()), w.n(node.value)])
        forward.styles.append("bold" if node.name == out else "")
    blocks.append(forward)

    backward = _grid(
        _("Backward pass, gate by gate from the output ({start} = 1): upstream × local = the input's share").format(
            start=w.grad(out, out)
        ),
        [
            (_("gate"), "name"),
            (_(UPSTREAM_HEADER).format(d=w.d, output=out), "num"),
            (_("input"), "name"),
            (_("local {d}gate/{d}input").format(d=w.d), "text"),
            (_("with numbers"), "text"),
            (_("local"), "num"),
            (_("product"), "num"),
        ],
    )
    uses = _uses_by_gate(trace)
    for node in reversed(trace.gates):
        for _operand, use, who in uses.get(node.name, []):
            backward.rows.append(
                [
                    node.name,
                    w.n(use.upstream),
                    who,
                    w.ft(use.local),
                    w.fnt(use.local),
                    w.n(use.local_value),
                    w.n(use.product),
                ]
            )
            backward.styles.append("")
        if not uses.get(node.name):
            backward.rows.append([node.name, w.n(node.grad), "—", Text(_("(only constants)")), "", "", ""])
            backward.styles.append("dim")
    blocks.append(backward)

    several = [n for n in trace.nodes.values() if len(n.uses) > 1]
    if several:
        sums = _grid(
            _("Nodes read more than once: the gradient is the sum of the uses' gradients"),
            [(_("node"), "name"), (_("uses"), "text"), (_("sum, term by term"), "text"), (_("gradient"), "num")],
        )
        for n in several:
            sums.rows.append([n.name, _uses_text(w, n), _sum_node(w, n), w.n(n.grad)])
            sums.styles.append("")
        blocks.append(sums)

    grads = _grid(
        _("Gradients of {output} with respect to the values").format(output=out),
        [
            (_("variable"), "name"),
            (_(VALUE_HEADER), "num"),
            (_("{d}{output}/{d}variable").format(d=w.d, output=out), "num"),
        ]
        + (
            [
                (
                    _("update value{plus} = value {minus} {eta}{times}gradient").format(
                        plus=w.plus, minus=w.minus, eta=w.eta, times=w.times
                    ),
                    "text",
                ),
                (_("new value"), "num"),
            ]
            if trace.new_values
            else []
        ),
    )
    for v in trace.variables:
        row: list[Cell] = [v.name, w.n(v.value), w.n(v.grad)]
        if trace.new_values:
            if v.name in trace.new_values:
                lr = s.learning_rate or 0.0
                updated = Row.of(Name(v.name), Op("⁺"))
                row += [eq(updated, w.update_node(v.value, lr, v.grad)), w.n(trace.new_values[v.name])]
            else:
                row += [_("not updated"), ""]
        grads.rows.append(row)
        grads.styles.append("")
    blocks.append(grads)
    unused = [v.name for v in trace.variables if not v.uses]
    if unused:
        blocks.append(
            Para(
                _("{names}: not used by {output}, so the gradient is 0.").format(names=", ".join(unused), output=out),
                "dim",
            )
        )
    for n in trace.gates:
        if n.kink:  # the engine's English text (engine.KINKS), shown translated
            equation = f"{n.name} = {w.fn(s.gate(n.name).formula())}"
            blocks.append(Para(_("At a kink: {equation}: {kink}.").format(equation=equation, kink=_(n.kink)), "dim"))
    if verification is not None:
        blocks.extend(verification_blocks(verification, w))
    return blocks


def _uses_by_gate(trace: GraphTrace) -> dict[str, list[tuple[int, Use, str]]]:
    """gate -> its inputs' uses in operand order (operand index, use, the input's name)."""
    out: dict[str, list[tuple[int, Use, str]]] = {}
    for node in trace.nodes.values():
        for use in node.uses:
            out.setdefault(use.gate, []).append((use.operand, use, node.name))
    for items in out.values():
        items.sort(key=lambda item: item[0])
    return out


def _uses_text(w: _Writer, n: Node) -> str:
    return ", ".join(_("{gate} (input {n})").format(gate=u.gate, n=u.operand + 1) for u in n.uses)


def _sum_node(w: _Writer, n: Node) -> formula.Node:
    """∂f/∂x = Σ over its uses of upstream·local, in symbols, with numbers, the products, the sum."""
    out = w.t.scenario.output
    symbolic = join((Row.of(w.grad_node(out, u.gate), DOT, w.local_node(u.gate, u.operand)) for u in n.uses), PLUS)
    numbers = join((Row.of(w.num(u.upstream), DOT, w.num(u.local_value)) for u in n.uses), PLUS)
    products = w.terms_node([u.product for u in n.uses])
    return eq(w.grad_node(out, n.name), symbolic, numbers, products, Num(n.grad, w.digits, paren=False))


def _sum_text(w: _Writer, n: Node) -> str:
    return w.text(_sum_node(w, n))


# ---- verification ----


def verification_blocks(v: GraphVerification, w: _Writer) -> list[Block]:
    """The verification table (chain rule | SymPy | finite difference | difference | ✓/✗) and its notes."""
    title = _("Verification: every gradient of {output} three ways").format(output=w.t.scenario.output)
    grid = three_way_grid(title, _("node"), _("chain rule"), v.checks, w)
    t = v.tolerances()
    from bptrace.graph.verify import SYMPY_SIZE_LIMIT

    if not v.sympy_used:
        sympy_note = _(
            "SymPy was not used: written out as one expression the output has {size} parts (more than {limit}, "
            "reused nodes copied at each use), too many to differentiate quickly; the finite differences check "
            "every gradient."
        ).format(size=f"{v.written_size:,}", limit=f"{SYMPY_SIZE_LIMIT:,}")
    elif v.nodes_checked:
        sympy_note = _(
            "SymPy built the output from the parsed gates (one SymPy object per node) and differentiated it itself; "
            "for an intermediate node, with that node replaced by a symbol; judged |g {minus} SymPy| ≤ "
            "{rtol}·|SymPy| + g's float64 resolution."
        ).format(minus=w.minus, rtol=f"{t['sympy_rtol']:g}")
    else:
        sympy_note = _(
            "SymPy built the output from the parsed gates (one SymPy object per node) and differentiated it itself; "
            "judged |g {minus} SymPy| ≤ {rtol}·|SymPy| + g's float64 resolution."
        ).format(minus=w.minus, rtol=f"{t['sympy_rtol']:g}")
    notes = [
        sympy_note,
        _(
            "Finite differences: five-point central differences of the output, moving one value (or pinning one "
            "node) at a time, h = {step}·max(1, |value|); judged |g {minus} fd| ≤ {rtol}·|g| + the stencil's "
            "rounding bound (docs/verification.md)."
        ).format(step=f"{t['fd_step']:g}", minus=w.minus, rtol=f"{t['fd_rtol']:g}"),
        _(
            "At kinks: {conventions} (SymPy uses the same: Heaviside(0) = ½ for max and min, sign(0) = 0); a finite "
            "difference whose steps cross a kink is shown but not judged."
        ).format(conventions=semicolons([_(c) for c in v.conventions])),
    ]
    if v.output_sympy is not None and not v.output_ok:
        notes.append(_("MISMATCH: SymPy's value of the output is {value}.").format(value=w.n(v.output_sympy)))
    blocks: list[Block] = [grid, *(Para(text, "dim") for text in notes)]
    blocks.append(verdict(v.ok, _("MISMATCH: a chain-rule value disagrees with an independent check (exit status 1).")))
    return blocks


# ---- JSON ----


def _use_data(u: Use) -> dict[str, Any]:
    return {
        "gate": u.gate,
        "operand": u.operand,
        "upstream": u.upstream,
        "local_formula": ex.show(u.local, ascii=True),
        "local": u.local_value,
        "product": u.product,
    }


def _check_data(c: Check) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": c.kind,
        "chain_rule": c.chain_rule,
        "sympy": c.sympy,
        "finite_difference": c.finite_difference,
        "fd_judged": c.fd_judged,
        "note": c.note,
        "ok": c.ok,
    }


def verification_data(v: GraphVerification) -> dict[str, Any]:
    return {
        "ok": v.ok,
        "output_sympy": v.output_sympy,
        "nodes_checked": v.nodes_checked,
        "sympy_used": v.sympy_used,
        "written_size": v.written_size,
        "conventions": list(v.conventions),
        "tolerances": v.tolerances(),
        "checks": [_check_data(c) for c in v.checks],
    }


def graph_data(trace: GraphTrace, verification: GraphVerification | None) -> dict[str, Any]:
    """The trace as JSON-ready data (docs/json.md, 'Graph scenarios')."""
    from bptrace.graph.engine import CONVENTIONS

    s = trace.scenario
    data: dict[str, Any] = {
        "bptrace": __version__,
        "kind": "graph",
        "scenario": {
            "title": s.title,
            "file": s.file,
            "source": s.source_note,
            "values": dict(s.values),
            "define": {name: s.expressions[name] for name in s.defined},
            "output": f"{s.output} = {s.expressions[s.output]}",
            "learning_rate": s.learning_rate,
            "update": list(s.update),
        },
        "output": {"name": s.output, "value": trace.output.value, "expression": s.expressions[s.output]},
        "nodes": [
            {
                "name": n.name,
                "op": n.op,
                "inputs": n.inputs,
                "operands": list(n.operands),
                "formula": ex.show(s.gate(n.name).formula(), ascii=True),
                "named": s.gate(n.name).named,
                "value": n.value,
                "grad": n.grad,
                "uses": [_use_data(u) for u in n.uses],
                "kink": n.kink,
            }
            for n in trace.gates
        ],
        "variables": [
            {
                "name": v.name,
                "value": v.value,
                "grad": v.grad,
                "uses": [_use_data(u) for u in v.uses],
                **({"new_value": trace.new_values[v.name]} if v.name in trace.new_values else {}),
            }
            for v in trace.variables
        ],
        "conventions": list(CONVENTIONS),
    }
    if verification is not None:
        data["verification"] = verification_data(verification)
    return data


def graph_json(trace: GraphTrace, verification: GraphVerification | None) -> str:
    """The trace as JSON text: exact floats, byte-identical for the same input."""
    return json_text(graph_data(trace, verification))


# ---- explain ----


def explain_blocks(
    e: GraphExplanation,
    trace: GraphTrace,
    checks: GraphVerification | None,
    digits: int = DEFAULT_DIGITS,
    ascii: bool = False,
) -> list[Block]:
    """∂f/∂node derived: where the node sits, each path with its chain rule, the sum, the update, the checks."""
    w = _Writer(trace, digits, ascii)
    node, out = e.node, e.output
    name = node.name
    target = w.grad(out, name)
    blocks: list[Block] = [
        Para(
            _("{target}: the gradient of the output {output} with respect to {name}").format(
                target=target, output=out, name=name
            ),
            "title",
        )
    ]
    s = trace.scenario
    if node.op == "input":
        blocks.append(Para(_("{name} = {value} is a value of the graph.").format(name=name, value=w.n(node.value))))
    else:
        gate_formula = s.gate(name).formula()
        equation = f"{name} = {w.f(gate_formula)} = {w.fn(gate_formula)} = {w.n(node.value)}"
        blocks.append(Para(_("{equation} ({gate}).").format(equation=equation, gate=_(OP_NAMES[node.op]))))
    if name == out:
        blocks.append(
            Para(
                _("{target} = 1: the output's gradient with respect to itself starts the backward pass.").format(
                    target=target
                )
            )
        )
        return blocks
    readers = sorted({u.gate for u in node.uses}, key=lambda g: [x.name for x in s.gates].index(g))
    if not node.uses:
        blocks.append(
            Para(_("{output} does not use {name}, so {target} = 0.").format(output=out, name=name, target=target))
        )
        return blocks
    uses = ngettext("{n} use", "{n} uses", len(node.uses)).format(n=len(node.uses))
    blocks.append(
        Para(
            ngettext(
                "{name} is read by {uses} ({readers}); there is {count} path from {name} to {output}. Along each path "
                "the chain rule multiplies the local gradients; the paths add up.",
                "{name} is read by {uses} ({readers}); there are {count} paths from {name} to {output}. Along each "
                "path the chain rule multiplies the local gradients; the paths add up.",
                e.path_count,
            ).format(name=name, uses=uses, readers=", ".join(readers), count=e.path_count, output=out)
        )
    )
    grid = _grid(
        _("Paths from {name} to {output}").format(name=name, output=out),
        [(_("path"), "text"), (_("chain rule"), "text"), (_("with numbers"), "text"), (_("product"), "num")],
    )
    arrow = " -> " if ascii else " → "
    for path in e.paths:
        names = [w.local_node(st.gate, st.operand) for st in path.steps]
        formulas = [Paren(w.ft(st.local)) if _compound(st.local) else w.ft(st.local) for st in path.steps]
        several = len(path.steps) > 1
        numbers = [Num(st.local_value, w.digits, paren=several) for st in path.steps]
        grid.rows.append(
            [
                arrow.join(path.nodes),
                eq(join(reversed(names), DOT), join(reversed(formulas), DOT)),
                join(reversed(numbers), DOT),
                w.n(path.product),
            ]
        )
        grid.styles.append("")
    if e.path_count > len(e.paths):
        grid.caption = _("… {count} more paths not shown; the sum below covers all of them").format(
            count=e.path_count - len(e.paths)
        )
    blocks.append(grid)
    if e.path_count > 1:
        terms = w.terms([p.product for p in e.paths]) + (" + …" if e.path_count > len(e.paths) else "")
        blocks.append(
            Para(
                _("{target} = {sigma} over the paths = {terms} = {total}").format(
                    target=target, sigma=w.sigma, terms=terms, total=w.n(e.path_sum)
                ),
                "bold",
            )
        )
    else:
        blocks.append(Para(f"{target} = {w.n(e.path_sum)}", "bold"))
    first = node.uses[0]
    derivation = (
        _sum_text(w, node)
        if len(node.uses) > 1
        else f"{target} = {w.grad(out, first.gate)}{w.times}{w.local(first.gate, first.operand)} = "
        f"{w.p(first.upstream)}{w.times}{w.p(first.local_value)} = {w.n(node.grad)}"
    )
    blocks.append(
        Para(_("The backward pass gets the same number gate by gate: {derivation}.").format(derivation=derivation))
    )
    if e.new_value is not None and e.learning_rate is not None:
        update = w.update_line(name, target, node.value, e.learning_rate, node.grad, e.new_value)
        blocks.append(Para(_("Update: {update}").format(update=update)))
    if node.kink or any(trace.nodes[p].kink for path in e.paths for p in path.nodes):
        from bptrace.graph.engine import CONVENTIONS

        conventions = semicolons([_(c) for c in CONVENTIONS])
        blocks.append(Para(_("At a kink on the way: {conventions}.").format(conventions=conventions), "dim"))
    if checks is not None:
        blocks.extend(verification_blocks(checks, w))
    return blocks


def _compound(e: ex.Expr) -> bool:
    return isinstance(e, (ex.Binary, ex.Neg)) or (isinstance(e, ex.Num) and e.value < 0)


def explain_data(e: GraphExplanation, checks: GraphVerification | None) -> dict[str, Any]:
    """The derivation as JSON-ready data."""
    data: dict[str, Any] = {
        "kind": "graph",
        "target": f"d{e.output}/d{e.node.name}",
        "node": e.node.name,
        "value": e.node.value,
        "grad": e.node.grad,
        "path_count": e.path_count,
        "paths": [
            {
                "nodes": p.nodes,
                "factors": [
                    {
                        "gate": st.gate,
                        "input": st.node,
                        "operand": st.operand,
                        "local_formula": ex.show(st.local, ascii=True),
                        "local": st.local_value,
                    }
                    for st in p.steps
                ],
                "product": p.product,
            }
            for p in e.paths
        ],
        "path_sum": e.path_sum,
        "uses": [_use_data(u) for u in e.node.uses],
    }
    if e.new_value is not None:
        data["new_value"] = e.new_value
    if checks is not None:
        data["verification"] = verification_data(checks)
    return data


# ---- check ----


def check_blocks(
    r: GraphSheetResult, digits: int = DEFAULT_DIGITS, ascii: bool = False, hide_expected: bool = False
) -> list[Block]:
    """A marked graph sheet: quantity | given | expected | ✓/✗ | the misconception that reproduces it."""
    from bptrace.graph.grading import DIAGNOSES

    title = f"{r.student}: {shown(r.scenario.title)}"
    return marks_blocks(title, r.marks, r.score, r.total, r.all_correct, DIAGNOSES, digits, ascii, hide_expected)


def check_data(r: GraphSheetResult, hide_expected: bool = False) -> dict[str, Any]:
    """A marked graph sheet as JSON-ready data (a quantity by its name: df/dx)."""
    return sheet_data("graph", r, hide_expected, lambda q: q.name(r.scenario.output))
