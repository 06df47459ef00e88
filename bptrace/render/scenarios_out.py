"""The bundled scenarios -> blocks (a table of names and titles, for Markdown, LaTeX and HTML) or JSON data.

Displays only: the list is read by model/scenario.py (`bundled_entries`).
"""

from __future__ import annotations

import json

from bptrace.i18n import _
from bptrace.render.blocks import Block, Column, Grid


def scenarios_blocks(entries: list[tuple[str, str, str, str]]) -> list[Block]:
    """One table: each scenario's name (what `bptrace run NAME` takes), its title in the language bptrace speaks
    and its kind (a network, or a computational graph)."""
    from bptrace.model.scenario import in_language

    kinds = {"network": _("network"), "graph": _("computational graph")}
    grid = Grid(
        _("Bundled scenarios ({n})").format(n=len(entries)),
        [Column(_("name"), "name"), Column(_("title"), "text", prose=True), Column(_("kind"), "text", prose=True)],
    )
    for name, title, title_zh, kind in entries:
        grid.rows.append([name, in_language(title, title_zh), kinds[kind]])
    return [grid]


def scenarios_json(entries: list[tuple[str, str, str, str]]) -> str:
    """{"scenarios": [{"name", "title", "title_zh", "kind"}]}: the English title and the Chinese one (or null)."""
    data = {
        "scenarios": [
            {"name": name, "title": title, "title_zh": title_zh or None, "kind": kind}
            for name, title, title_zh, kind in entries
        ]
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"
