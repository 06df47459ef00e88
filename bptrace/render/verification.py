"""A Verification -> blocks: the table parameter | chain rule | SymPy | finite difference | difference | ✓/✗."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bptrace.render.blocks import Block, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.verify.verification import ParameterCheck, Verification


def verification_blocks(v: Verification, layout: Any) -> Iterator[Block]:
    """The verification table (failures in red, at most layout.rows rows) and what was checked how."""
    n = layout.n
    t = v.tolerances
    rows = [r for r in v.parameters if layout.layer is None or r.layer == layout.layer]
    # failures first when rows are cut, so that a red row is never hidden by the row limit
    if layout.rows is not None and len(rows) > layout.rows:
        rows = sorted(rows, key=lambda r: (r.ok, not r.not_judged))  # then the rows with a check not judged
    shown, cut = layout.limited(rows)
    grid = Grid(
        f"Verification ({v.mode}): every gradient three ways",
        [
            Column(header, kind)
            for header, kind in (
                ("parameter", "name"),
                ("chain rule", "num"),
                ("SymPy", "num"),
                ("finite difference", "num"),
                ("largest difference", "num"),
                ("", "text"),
            )
        ],
    )
    for r in shown:
        grid.rows.append(
            [
                r.name,
                n(r.chain_rule),
                "—" if r.sympy is None else n(r.sympy),
                "—"
                if r.finite_difference is None
                else n(r.finite_difference) + ("" if r.fd_reason is None else " (not judged)"),
                f"{r.difference:.1e}",
                row_mark(r),
            ]
        )
        grid.styles.append("" if r.ok else "bad")
    if cut:
        hidden = sum(1 for r in rows[len(shown) :] if r.not_judged)
        grid.caption = (
            f"… {cut} more parameters not shown (none ✗"
            + (f", {hidden} with a check not judged" if hidden else "")
            + "; use --rows N or --format json)"
        )
    yield grid
    derived = len(v.sympy_derived)
    total = len(v.parameters)
    lines = [
        f"SymPy differentiated the loss written in the parameters for {derived} of {total} parameters"
        + ("" if derived == total else " (a documented sample per layer; — where not derived)")
        + f"; agrees when |g − SymPy| ≤ {t.sympy_rtol:g}·|SymPy| + g's float64 resolution (2L + 4)·ε·Ĝ"
        " (Ĝ: g with every term's absolute value).",
        "Finite differences: five-point central differences of the loss"
        + (" for a sample of the parameters" if v.fd_sampled else " for every parameter")
        + f"; agrees when |g − fd| ≤ {t.fd_rtol:g}·|g| + its rounding bound 1.5·max(δE, 4ε·|E|)/h;"
        " not judged where the stencil crosses a kink or the float64 loss is too noisy.",
    ]
    if v.local is not None:
        checks = len(v.local.checks)
        bad = len(v.local.failures())
        lines.append(
            f"Local factors: SymPy's f′(net) and ∂E/∂out checked against the engine's closed forms at "
            f"{checks} places" + (f": {bad} MISMATCH" if bad else ", all agree") + "."
        )
    lines += list(v.notes)
    at_kink = v.nondifferentiable
    lines += [f"{r.name}: {r.kink}" for r in at_kink[:5]]
    if len(at_kink) > 5:
        lines.append(f"… and {len(at_kink) - 5} more parameters at a kink (--format json lists each)")
    for text in lines:
        yield Para(text, "dim")
    yield Para(closing_line(v), "good" if v.ok else "bad")


def row_mark(r: ParameterCheck) -> str:
    """The last column: ✓, ✗ MISMATCH (which check), or what was not judged and why."""
    if not r.ok:
        which = [name for name, ok in (("SymPy", r.sympy_ok), ("finite difference", r.fd_ok)) if ok is False]
        return "✗ MISMATCH (" + ", ".join(which) + ")"
    parts = []
    if r.fd_reason is not None:
        parts.append(f"finite difference not judged: {r.fd_reason}")
    if r.nondifferentiable:
        parts.append(f"at a kink: {r.kink}")
    if not r.judged:
        return "not judged" + ("; " + "; ".join(parts) if parts else "")
    return "✓" + (" (" + "; ".join(parts) + ")" if parts else "")


def closing_line(v: Verification) -> str:
    """What was judged and what was not, and the verdict (exit status 1 only for a judged mismatch)."""
    judged, checks = v.judged, v.checks
    skipped = v.not_judged()
    counted = f"{judged} of {checks} gradient checks judged"
    if not skipped:
        counted = f"all {checks} gradient checks judged" if checks else "no gradient check ran"
    if v.ok:
        text = counted + (", all agree" if judged else "")
    else:
        text = f"MISMATCH: {counted}; a chain-rule value disagrees with an independent check (exit status 1)"
    if skipped:
        names = ", ".join(r.name for r in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        text += f"; {len(skipped)} not judged: the finite difference of {names} (each row gives its reason)"
    return text + "."
