"""A Verification -> blocks: the table parameter | chain rule | SymPy | finite difference | difference | ✓/✗."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bptrace.render.layout import Block, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.verify.verification import Verification


def verification_blocks(v: Verification, layout: Any) -> Iterator[Block]:
    """The verification table (failures in red, at most layout.rows rows) and what was checked how."""
    n = layout.n
    t = v.tolerances
    rows = [r for r in v.parameters if layout.layer is None or r.layer == layout.layer]
    # failures first when rows are cut, so that a red row is never hidden by the row limit
    if layout.rows is not None and len(rows) > layout.rows:
        rows = sorted(rows, key=lambda r: r.ok)
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
        if r.nondifferentiable:
            mark = "not differentiable here (relu′(0) = 0 by convention)"
        elif r.ok:
            mark = "✓"
        else:
            mark = "✗ MISMATCH"
        grid.rows.append(
            [
                r.name,
                n(r.chain_rule),
                "—" if r.sympy is None else n(r.sympy),
                "—" if r.finite_difference is None else n(r.finite_difference),
                f"{r.difference:.1e}",
                mark,
            ]
        )
        grid.styles.append("" if r.ok else "bad")
    if cut:
        grid.caption = f"… {cut} more parameters not shown (all ✓; use --rows N or --format json)"
    yield grid
    derived = len(v.sympy_derived)
    total = len(v.parameters)
    lines = [
        f"SymPy differentiated the loss written in the parameters for {derived} of {total} parameters"
        + ("" if derived == total else " (a documented sample per layer; — where not derived)")
        + f"; tolerance |g − SymPy| ≤ {t.sympy_rtol:g}·|SymPy| + {t.sympy_atol:g}.",
        "Finite differences: five-point central differences of the loss"
        + (" for a sample of the parameters" if v.fd_sampled else " for every parameter")
        + f"; tolerance |g − fd| ≤ {t.fd_rtol:g}·|g| + {t.fd_atol:g}.",
    ]
    if v.local is not None:
        checks = len(v.local.checks)
        bad = len(v.local.failures())
        lines.append(
            f"Local factors: SymPy's f′(net) and ∂E/∂out checked against the engine's closed forms at "
            f"{checks} places" + (f": {bad} MISMATCH" if bad else ", all ✓") + "."
        )
    lines += list(v.notes)
    for text in lines:
        yield Para(text, "dim")
    verdict = (
        "All checks agree."
        if v.ok
        else "MISMATCH: a chain-rule value disagrees with an independent check (exit status 1)."
    )
    yield Para(verdict, "good" if v.ok else "bad")
