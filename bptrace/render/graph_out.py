"""A graph's trace -> blocks (terminal, Markdown, LaTeX, HTML through export.py) and JSON. Computes nothing.

`run`: the expressions, the forward pass (one row per gate), the backward pass gate by gate (upstream ×
local = product), the sums of the nodes read more than once, the gradients and the update, the verification.
`explain`: the paths from a node to the output, the chain rule along each, and the sum.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from bptrace import __version__
from bptrace.fmt import DEFAULT_DIGITS, num
from bptrace.graph import expression as ex
from bptrace.graph.model import OP_NAMES
from bptrace.render.layout import Block, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.graph.engine import GraphTrace, Node, Use
    from bptrace.graph.explain import GraphExplanation
    from bptrace.graph.grading import GraphSheetResult
    from bptrace.graph.verify import Check, GraphVerification


class _Writer:
    """Number and formula spelling shared by the blocks: digits, Unicode or ASCII."""

    def __init__(self, trace: GraphTrace, digits: int, ascii: bool) -> None:
        self.t = trace
        self.digits = digits
        self.ascii = ascii
        self.d = "d" if ascii else "∂"
        self.times = "*" if ascii else "·"
        self.minus = "-" if ascii else "−"
        self.eta = "eta" if ascii else "η"
        self.sigma = "sum" if ascii else "Σ"
        self.plus = "+" if ascii else "⁺"

    def n(self, x: float) -> str:
        return num(x, self.digits)

    def p(self, x: float) -> str:
        text = self.n(x)
        return f"({text})" if x < 0 else text

    def f(self, e: ex.Expr) -> str:
        return ex.show(e, ascii=self.ascii)

    def fn(self, e: ex.Expr) -> str:
        return ex.show(e, ascii=self.ascii, values=self.t.values(), digits=self.digits)

    def grad(self, of: str, by: str) -> str:
        return f"{self.d}{of}/{self.d}{by}"

    def local(self, gate: str, operand: int) -> str:
        """The symbol of a local gradient, written with the gate's formula: ∂(x·y)/∂x (never ∂q/∂x, which
        would read as the total gradient of q)."""
        g = self.t.scenario.gate(gate)
        name = g.operands[operand]
        twice = g.operands.count(name) > 1
        return f"{self.d}({self.f(g.formula())})/{self.d}{name}" + (f" [input {operand + 1}]" if twice else "")


def _grid(title: str, columns: list[tuple[str, str]], caption: str = "") -> Grid:
    return Grid(title, [Column(h, k) for h, k in columns], caption=caption)


# ---- run ----


def run_blocks(
    trace: GraphTrace, verification: GraphVerification | None, digits: int = DEFAULT_DIGITS, ascii: bool = False
) -> list[Block]:
    """The blocks of `bptrace run` for a graph scenario."""
    w = _Writer(trace, digits, ascii)
    s = trace.scenario
    out = s.output
    blocks: list[Block] = [Para(s.title, "title")]
    if s.source_note:
        blocks.append(Para(f"Source: {s.source_note}", "dim"))
    values = ", ".join(f"{k} = {w.n(v)}" for k, v in s.values.items())
    blocks.append(Para(f"Values: {values}"))
    for name in (*s.defined, out):
        tree = ex.parse(s.expressions[name])
        blocks.append(Para(f"{name} = {w.f(tree)}" + ("   (the output)" if name == out else "")))

    forward = _grid(
        "Forward pass: one gate per row, in evaluation order",
        [("node", "name"), ("gate", "text"), ("formula", "text"), ("with numbers", "text"), ("value", "num")],
    )
    for node in trace.gates:
        gate = s.gate(node.name)
        label = OP_NAMES[gate.op] + ("" if gate.named or node.name == out else " (automatic name)")
        forward.rows.append([node.name, label, w.f(gate.formula()), w.fn(gate.formula()), w.n(node.value)])
        forward.styles.append("bold" if node.name == out else "")
    blocks.append(forward)

    backward = _grid(
        f"Backward pass, gate by gate from the output ({w.grad(out, out)} = 1): upstream × local = the input's share",
        [
            ("gate", "name"),
            (f"upstream {w.d}{out}/{w.d}gate", "num"),
            ("input", "name"),
            (f"local {w.d}gate/{w.d}input", "text"),
            ("with numbers", "text"),
            ("local", "num"),
            ("product", "num"),
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
                    w.f(use.local),
                    w.fn(use.local),
                    w.n(use.local_value),
                    w.n(use.product),
                ]
            )
            backward.styles.append("")
        if not uses.get(node.name):
            backward.rows.append([node.name, w.n(node.grad), "—", "(only constants)", "", "", ""])
            backward.styles.append("dim")
    blocks.append(backward)

    several = [n for n in trace.nodes.values() if len(n.uses) > 1]
    if several:
        sums = _grid(
            "Nodes read more than once: the gradient is the sum of the uses' gradients",
            [("node", "name"), ("uses", "text"), ("sum, term by term", "text"), ("gradient", "num")],
        )
        for n in several:
            sums.rows.append([n.name, _uses_text(w, n), _sum_text(w, n), w.n(n.grad)])
            sums.styles.append("")
        blocks.append(sums)

    grads = _grid(
        f"Gradients of {out} with respect to the values",
        [("variable", "name"), ("value", "num"), (f"{w.d}{out}/{w.d}variable", "num")]
        + (
            [(f"update value{w.plus} = value {w.minus} {w.eta}{w.times}gradient", "text"), ("new value", "num")]
            if trace.new_values
            else []
        ),
    )
    for v in trace.variables:
        row = [v.name, w.n(v.value), w.n(v.grad)]
        if trace.new_values:
            if v.name in trace.new_values:
                lr = s.learning_rate or 0.0
                row += [
                    f"{v.name}{w.plus} = {w.n(v.value)} {w.minus} {w.n(lr)}{w.times}{w.p(v.grad)}",
                    w.n(trace.new_values[v.name]),
                ]
            else:
                row += ["not updated", ""]
        grads.rows.append(row)
        grads.styles.append("")
    blocks.append(grads)
    unused = [v.name for v in trace.variables if not v.uses]
    if unused:
        blocks.append(Para(f"{', '.join(unused)}: not used by {out}, so the gradient is 0.", "dim"))
    kinks = [n for n in trace.gates if n.kink]
    for n in kinks:
        blocks.append(Para(f"At a kink: {n.name} = {w.fn(s.gate(n.name).formula())}: {n.kink}.", "dim"))
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
    return ", ".join(f"{u.gate} (input {u.operand + 1})" for u in n.uses)


def _sum_text(w: _Writer, n: Node) -> str:
    out = w.t.scenario.output
    symbolic = " + ".join(f"{w.grad(out, u.gate)}{w.times}{w.local(u.gate, u.operand)}" for u in n.uses)
    numbers = " + ".join(f"{w.p(u.upstream)}{w.times}{w.p(u.local_value)}" for u in n.uses)
    products = " + ".join(w.p(u.product) if i else w.n(u.product) for i, u in enumerate(n.uses))
    return f"{w.grad(out, n.name)} = {symbolic} = {numbers} = {products} = {w.n(n.grad)}"


# ---- verification ----


def verification_blocks(v: GraphVerification, w: _Writer) -> list[Block]:
    """The verification table (chain rule | SymPy | finite difference | difference | ✓/✗) and its notes."""
    ok, bad = ("ok", "X MISMATCH") if w.ascii else ("✓", "✗ MISMATCH")
    grid = _grid(
        f"Verification: every gradient of {w.t.scenario.output} three ways",
        [
            ("node", "name"),
            ("chain rule", "num"),
            ("SymPy", "num"),
            ("finite difference", "num"),
            ("largest difference", "num"),
            ("", "text"),
        ],
    )
    for c in v.checks:
        mark = ok if c.ok else bad
        if c.note:
            mark += (
                f" (finite difference {c.note})" if c.note.startswith(("crosses", "not computed")) else f" ({c.note})"
            )
        grid.rows.append(
            [
                c.name,
                w.n(c.chain_rule),
                "—" if c.sympy is None else w.n(c.sympy),
                "—" if c.finite_difference is None else w.n(c.finite_difference),
                f"{c.difference:.1e}",
                mark,
            ]
        )
        grid.styles.append("" if c.ok else "bad")
    t = v.tolerances()
    from bptrace.graph.verify import SYMPY_SIZE_LIMIT

    sympy_note = (
        "SymPy built the output from the parsed gates (one SymPy object per node) and differentiated it itself"
        + ("; for an intermediate node, with that node replaced by a symbol" if v.nodes_checked else "")
        + f"; judged |g {w.minus} SymPy| ≤ {t['sympy_rtol']:g}·|SymPy| + g's float64 resolution."
        if v.sympy_used
        else f"SymPy was not used: written out as one expression the output has {v.written_size:,} parts "
        f"(more than {SYMPY_SIZE_LIMIT:,}, reused nodes copied at each use), too many to differentiate "
        "quickly; the finite differences check every gradient."
    )
    notes = [
        sympy_note,
        "Finite differences: five-point central differences of the output, moving one value (or pinning one "
        f"node) at a time, h = {t['fd_step']:g}·max(1, |value|); judged |g {w.minus} fd| ≤ {t['fd_rtol']:g}·|g| + "
        "the stencil's rounding bound (docs/verification.md).",
        "At kinks: " + "; ".join(v.conventions) + " (SymPy uses the same: Heaviside(0) = ½ for max and min, "
        "sign(0) = 0); a finite difference whose steps cross a kink is shown but not judged.",
    ]
    if v.output_sympy is not None and not v.output_ok:
        notes.append(f"MISMATCH: SymPy's value of the output is {w.n(v.output_sympy)}.")
    blocks: list[Block] = [grid, *(Para(text, "dim") for text in notes)]
    blocks.append(
        Para("All checks agree.", "good")
        if v.ok
        else Para("MISMATCH: a chain-rule value disagrees with an independent check (exit status 1).", "bad")
    )
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
    return json.dumps(graph_data(trace, verification), indent=1, ensure_ascii=False, allow_nan=False) + "\n"


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
    blocks: list[Block] = [Para(f"{target}: the gradient of the output {out} with respect to {name}", "title")]
    s = trace.scenario
    if node.op == "input":
        blocks.append(Para(f"{name} = {w.n(node.value)} is a value of the graph."))
    else:
        formula = s.gate(name).formula()
        blocks.append(Para(f"{name} = {w.f(formula)} = {w.fn(formula)} = {w.n(node.value)} ({OP_NAMES[node.op]})."))
    if name == out:
        blocks.append(Para(f"{target} = 1: the output's gradient with respect to itself starts the backward pass."))
        return blocks
    readers = sorted({u.gate for u in node.uses}, key=lambda g: [x.name for x in s.gates].index(g))
    if not node.uses:
        blocks.append(Para(f"{out} does not use {name}, so {target} = 0."))
        return blocks
    blocks.append(
        Para(
            f"{name} is read by {len(node.uses)} use{'s' if len(node.uses) > 1 else ''} "
            f"({', '.join(readers)}); there {'is 1 path' if e.path_count == 1 else f'are {e.path_count} paths'} "
            f"from {name} to {out}. Along each path the chain rule multiplies the local gradients; "
            "the paths add up."
        )
    )
    grid = _grid(
        f"Paths from {name} to {out}",
        [("path", "text"), ("chain rule", "text"), ("with numbers", "text"), ("product", "num")],
    )
    arrow = " -> " if ascii else " → "
    for path in e.paths:
        names = [w.local(st.gate, st.operand) for st in path.steps]
        formulas = [f"({w.f(st.local)})" if _compound(st.local) else w.f(st.local) for st in path.steps]
        numbers = [w.p(st.local_value) if len(path.steps) > 1 else w.n(st.local_value) for st in path.steps]
        grid.rows.append(
            [
                arrow.join(path.nodes),
                f"{w.times.join(reversed(names))} = {w.times.join(reversed(formulas))}",
                w.times.join(reversed(numbers)),
                w.n(path.product),
            ]
        )
        grid.styles.append("")
    if e.path_count > len(e.paths):
        grid.caption = f"… {e.path_count - len(e.paths)} more paths not shown; the sum below covers all of them"
    blocks.append(grid)
    if e.path_count > 1:
        terms = " + ".join(w.p(p.product) if i else w.n(p.product) for i, p in enumerate(e.paths)) + (
            " + …" if e.path_count > len(e.paths) else ""
        )
        blocks.append(Para(f"{target} = {w.sigma} over the paths = {terms} = {w.n(e.path_sum)}", "bold"))
    else:
        blocks.append(Para(f"{target} = {w.n(e.path_sum)}", "bold"))
    first = node.uses[0]
    blocks.append(
        Para(
            "The backward pass gets the same number gate by gate: "
            + (
                _sum_text(w, node)
                if len(node.uses) > 1
                else f"{target} = {w.grad(out, first.gate)}{w.times}{w.local(first.gate, first.operand)} = "
                f"{w.p(first.upstream)}{w.times}{w.p(first.local_value)} = {w.n(node.grad)}"
            )
            + "."
        )
    )
    if e.new_value is not None and e.learning_rate is not None:
        blocks.append(
            Para(
                f"Update: {name}{w.plus} = {name} {w.minus} {w.eta}{w.times}{target} = {w.n(node.value)} {w.minus} "
                f"{w.n(e.learning_rate)}{w.times}{w.p(node.grad)} = {w.n(e.new_value)}"
            )
        )
    if node.kink or any(trace.nodes[p].kink for path in e.paths for p in path.nodes):
        from bptrace.graph.engine import CONVENTIONS

        blocks.append(Para("At a kink on the way: " + "; ".join(CONVENTIONS) + ".", "dim"))
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

    ok, bad = ("ok", "X") if ascii else ("✓", "✗")
    columns = [("quantity", "name"), ("given", "num")]
    columns += [] if hide_expected else [("expected", "num")]
    columns += [("", "text"), ("diagnosis", "text")]
    grid = _grid(f"{r.student}: {r.scenario.title}", columns)
    for m in r.marks:
        row = [m.key, m.given if m.given is not None else "—"]
        if not hide_expected:
            row.append("—" if m.expected is None else num(m.expected, digits))
        if m.correct:
            row += [ok, ""]
        elif m.reason == "unanswered":
            row += [bad, "unanswered"]
        elif m.reason == "few-digits":
            row += [bad, "right as far as it goes, but too few significant digits"]
        else:
            row += [bad, "; ".join(DIAGNOSES[c] for c in m.diagnoses) or "no known misconception gives this number"]
        grid.rows.append(row)
        grid.styles.append("" if m.correct else "bad")
    right = sum(1 for m in r.marks if m.correct)
    return [
        grid,
        Para(
            f"{right} of {len(r.marks)} correct; {r.score:g} of {r.total:g} points.",
            "good" if r.all_correct else "bad",
        ),
    ]


def check_data(r: GraphSheetResult, hide_expected: bool = False) -> dict[str, Any]:
    """A marked graph sheet as JSON-ready data."""
    return {
        "kind": "graph",
        "file": r.file,
        "student": r.student,
        "scenario": r.scenario.title,
        "score": r.score,
        "total": r.total,
        "all_correct": r.all_correct,
        "answers": [
            {
                "key": m.key,
                "quantity": m.quantity.name(r.scenario.output),
                "given": m.given,
                **({} if hide_expected else {"expected": m.expected}),
                "correct": m.correct,
                "reason": m.reason,
                "points": m.points,
                "diagnoses": list(m.diagnoses),
                "line": m.line,
            }
            for m in r.marks
        ],
    }
