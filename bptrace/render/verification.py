"""A Verification -> blocks: the table parameter | chain rule | SymPy | finite difference | difference | ✓/✗."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bptrace.i18n import N_, _
from bptrace.message import Message, tr
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
        _("Verification ({mode}): every gradient three ways").format(mode=v.mode),
        [
            Column(header, kind)
            for header, kind in (
                (_("parameter"), "name"),
                (_("chain rule"), "num"),
                ("SymPy", "num"),
                (_("finite difference"), "num"),
                (_("largest difference"), "num"),
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
                else n(r.finite_difference) + ("" if r.fd_reason is None else _(" (not judged)")),
                f"{r.difference:.1e}",
                row_mark(r),
            ]
        )
        grid.styles.append("" if r.ok else "bad")
    if cut:
        hidden = sum(1 for r in rows[len(shown) :] if r.not_judged)
        grid.caption = (
            _(
                "… {n} more parameters not shown (none ✗, {hidden} with a check not judged; use --rows N or "
                "--format json)"
            ).format(n=cut, hidden=hidden)
            if hidden
            else _("… {n} more parameters not shown (none ✗; use --rows N or --format json)").format(n=cut)
        )
    yield grid
    derived = len(v.sympy_derived)
    total = len(v.parameters)
    sympy_rule = (
        _(
            "SymPy differentiated the loss written in the parameters for {derived} of {total} parameters; agrees "
            "when |g − SymPy| ≤ {rtol}·|SymPy| + g's float64 resolution (2L + 4)·ε·Ĝ (Ĝ: g with every term's "
            "absolute value)."
        )
        if derived == total
        else _(
            "SymPy differentiated the loss written in the parameters for {derived} of {total} parameters (a "
            "documented sample per layer; — where not derived); agrees when |g − SymPy| ≤ {rtol}·|SymPy| + g's "
            "float64 resolution (2L + 4)·ε·Ĝ (Ĝ: g with every term's absolute value)."
        )
    )
    fd_rule = (
        _(
            "Finite differences: five-point central differences of the loss for a sample of the parameters; "
            "agrees when |g − fd| ≤ {rtol}·|g| + its rounding bound 1.5·max(δE, 4ε·|E|)/h; not judged where the "
            "stencil crosses a kink or the float64 loss is too noisy."
        )
        if v.fd_sampled
        else _(
            "Finite differences: five-point central differences of the loss for every parameter; agrees when "
            "|g − fd| ≤ {rtol}·|g| + its rounding bound 1.5·max(δE, 4ε·|E|)/h; not judged where the stencil "
            "crosses a kink or the float64 loss is too noisy."
        )
    )
    lines = [
        sympy_rule.format(derived=derived, total=total, rtol=f"{t.sympy_rtol:g}"),
        fd_rule.format(rtol=f"{t.fd_rtol:g}"),
    ]
    if v.local is not None:
        checks = len(v.local.checks)
        bad = len(v.local.failures())
        lines.append(
            _(
                "Local factors: SymPy's f′(net) and ∂E/∂out checked against the engine's closed forms at {n} "
                "places: {bad} MISMATCH."
            ).format(n=checks, bad=bad)
            if bad
            else _(
                "Local factors: SymPy's f′(net) and ∂E/∂out checked against the engine's closed forms at {n} "
                "places, all agree."
            ).format(n=checks)
        )
    lines += [tr(note) for note in v.notes]
    at_kink = v.nondifferentiable
    lines += [f"{r.name}: {tr(r.kink)}" for r in at_kink[:5]]
    if len(at_kink) > 5:
        lines.append(_("… and {n} more parameters at a kink (--format json lists each)").format(n=len(at_kink) - 5))
    for text in lines:
        yield Para(text, "dim")
    yield Para(tr(closing_line(v)), "good" if v.ok else "bad")


def row_mark(r: ParameterCheck) -> str:
    """The last column: ✓, ✗ MISMATCH (which check), or what was not judged and why."""
    if not r.ok:
        which = [name for name, ok in (("SymPy", r.sympy_ok), (_("finite difference"), r.fd_ok)) if ok is False]
        return _("✗ MISMATCH ({checks})").format(checks=", ".join(which))
    parts = []
    if r.fd_reason is not None:
        parts.append(_("finite difference not judged: {reason}").format(reason=tr(r.fd_reason)))
    if r.nondifferentiable:
        parts.append(_("at a kink: {kink}").format(kink=tr(r.kink)))
    if not r.judged:
        return _("not judged") + ("; " + "; ".join(parts) if parts else "")
    return "✓" + (" (" + "; ".join(parts) + ")" if parts else "")


def closing_line(v: Verification) -> str:
    """What was judged and what was not, and the verdict (exit status 1 only for a judged mismatch).

    A Message: English as a string (the JSON's "summary"), translated where it is shown (`tr`)."""
    judged, checks = v.judged, v.checks
    skipped = v.not_judged()
    counted = Message(N_("{judged} of {checks} gradient checks judged"), judged=judged, checks=checks)
    if not skipped:
        counted = (
            Message(N_("all {checks} gradient checks judged"), checks=checks)
            if checks
            else Message(N_("no gradient check ran"))
        )
    text: Message
    if v.ok:
        text = Message(N_("{counted}, all agree"), counted=counted) if judged else counted
    else:
        text = Message(
            N_("MISMATCH: {counted}; a chain-rule value disagrees with an independent check (exit status 1)"),
            counted=counted,
        )
    if skipped:
        first = ", ".join(r.name for r in skipped[:5])
        names: str = Message(N_("{names} and {n} more"), names=first, n=len(skipped) - 5) if len(skipped) > 5 else first
        text = Message(
            N_("{text}; {n} not judged: the finite difference of {names} (each row gives its reason)"),
            text=text,
            n=len(skipped),
            names=names,
        )
    # TRANSLATORS: the full stop that ends the verification's closing line
    return Message(N_("{text}."), text=text)
