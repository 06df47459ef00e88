"""A Comparison of conventions -> blocks (terminal, Markdown, ...) or JSON data. Displays only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bptrace.fmt import num
from bptrace.i18n import _
from bptrace.render.layout import Block, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.explain.conventions import Comparison, Variant


def meaning(key: str, v: Variant) -> str:
    """What a variant means, in the current language (the JSON keeps Variant.meaning, in English)."""
    from bptrace.explain.conventions import GENERIC, MEANING

    value = v.label.partition("=")[2]
    fixed = MEANING.get(key, {}).get(value)
    if fixed:
        return _(fixed)
    if key in GENERIC and v.meaning == GENERIC[key].format(v=value):
        return _(GENERIC[key]).format(v=value)
    return v.meaning


def comparison_blocks(c: Comparison, digits: int = 9, rows: int | None = None) -> list[Block]:
    """A line per variant saying what it means, then the quantities that differ side by side."""
    s = c.variants[0].trace.scenario
    out: list[Block] = [Para(_("{title}: comparing {key}").format(title=s.display_title(), key=c.key), "title")]
    for v in c.variants:
        out.append(Para(f"{v.label}: {meaning(c.key, v)}", "bad" if v.mistake else ""))
    grid = Grid(
        _("Quantities that differ ({n}; {same} others are equal in every variant)").format(n=len(c.rows), same=c.same),
        [Column(_("quantity"), "name")] + [Column(v.label, "num") for v in c.variants],
    )
    shown = c.rows if rows is None else c.rows[:rows]
    for name, values in shown:
        grid.rows.append([name] + ["—" if x is None else num(x, digits) for x in values])
        grid.styles.append("")
    if rows is not None and len(c.rows) > rows:
        grid.caption = _("… {n} more rows not shown (use --rows N or --format json)").format(n=len(c.rows) - rows)
    out.append(grid)
    if any(x is None for _, values in c.rows for x in values):
        out.append(
            Para(_("— : the quantity does not exist in that variant (per-neuron biases have their own names)"), "dim")
        )
    return out


def comparison_data(c: Comparison) -> dict[str, Any]:
    """JSON-ready: the variants with their meaning, losses, and every differing quantity's values."""
    return {
        "key": c.key,
        "variants": [
            {
                "label": v.label,
                "meaning": v.meaning,
                "mistake": v.mistake,
                "loss": v.trace.loss,
                "loss_after": v.trace.loss_after,
            }
            for v in c.variants
        ],
        "differences": [{"quantity": name, "values": values} for name, values in c.rows],
        "equal": c.same,
    }
