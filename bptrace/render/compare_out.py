"""A Comparison of conventions -> blocks (terminal, Markdown, ...) or JSON data. Displays only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bptrace.fmt import num
from bptrace.render.layout import Block, Column, Grid, Para

if TYPE_CHECKING:
    from bptrace.explain.conventions import Comparison


def comparison_blocks(c: Comparison, digits: int = 9, rows: int | None = None) -> list[Block]:
    """A line per variant saying what it means, then the quantities that differ side by side."""
    s = c.variants[0].trace.scenario
    out: list[Block] = [Para(f"{s.title}: comparing {c.key}", "title")]
    for v in c.variants:
        out.append(Para(f"{v.label}: {v.meaning}", "bad" if v.mistake else ""))
    grid = Grid(
        f"Quantities that differ ({len(c.rows)}; {c.same} others are equal in every variant)",
        [Column("quantity", "name")] + [Column(v.label, "num") for v in c.variants],
    )
    shown = c.rows if rows is None else c.rows[:rows]
    for name, values in shown:
        grid.rows.append([name] + ["—" if x is None else num(x, digits) for x in values])
        grid.styles.append("")
    if rows is not None and len(c.rows) > rows:
        grid.caption = f"… {len(c.rows) - rows} more rows not shown (use --rows N or --format json)"
    out.append(grid)
    if any(x is None for _, values in c.rows for x in values):
        out.append(
            Para("— : the quantity does not exist in that variant (per-neuron biases have their own names)", "dim")
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
