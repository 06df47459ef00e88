"""Blocks -> rich renderables for the terminal (and Jupyter). Displays only; computes nothing.

Numeric columns never wrap and are never cut with an ellipsis; formula columns fold when the terminal
is narrow. With ascii=True every symbol is spelled in ASCII and tables use ASCII borders.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.table import Table
from rich.text import Text

from bptrace.fmt import DEFAULT_DIGITS, to_ascii
from bptrace.render.layout import DEFAULT_ROWS, Block, Grid, TraceLayout

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace

STYLES = {"": "", "bold": "bold", "dim": "dim", "good": "green", "bad": "bold red", "title": "bold underline"}


def to_rich(blocks: Iterable[Block], ascii: bool = False) -> list[Any]:
    """Rich renderables for blocks (text is never read as markup: formulas contain brackets)."""
    t = to_ascii if ascii else (lambda x: x)
    out: list[Any] = []
    for block in blocks:
        if isinstance(block, Grid):
            table = Table(
                title=Text(t(block.title), style="bold"),
                title_justify="left",
                box=box.ASCII if ascii else box.SIMPLE_HEAVY,
                pad_edge=False,
                caption=Text(t(block.caption), style="dim") if block.caption else None,
                caption_justify="left",
            )
            for column in block.columns:
                if column.kind == "num":
                    table.add_column(t(column.header), justify="right", no_wrap=True, overflow="ignore")
                elif column.kind == "name":
                    table.add_column(t(column.header), no_wrap=True, style="cyan")
                else:
                    table.add_column(t(column.header), overflow="fold")
            styles = block.styles or [""] * len(block.rows)
            for row, style in zip(block.rows, styles):
                table.add_row(*(Text(t(cell)) for cell in row), style=STYLES.get(style, ""))
            out.append(table)
        else:
            out.append(Text(t(block.text), style=STYLES.get(block.style, "")))
            if block.style == "bold":
                out.append(Text(""))
    return out


class BlocksView:
    """A rich renderable for any list of blocks; shows in Jupyter too."""

    def __init__(self, blocks: Iterable[Block], ascii: bool = False) -> None:
        self._blocks = list(blocks)
        self.ascii = ascii

    def blocks(self) -> list[Block]:
        return self._blocks

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        header_done = False
        for renderable in to_rich(self.blocks(), self.ascii):
            if isinstance(renderable, Table) and not header_done:
                yield Text("")
                header_done = True
            yield renderable

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        """Jupyter: rich's own HTML of the tables, and plain text."""
        import io

        console = Console(record=True, width=140, file=io.StringIO())
        console.print(self)
        return {"text/plain": console.export_text(), "text/html": console.export_html(inline_styles=True)}


class TraceView(BlocksView):
    """The whole trace of `bptrace run` as rich tables."""

    def __init__(
        self,
        trace: Trace,
        digits: int = DEFAULT_DIGITS,
        ascii: bool = False,
        layer: int | None = None,
        rows: int | None = DEFAULT_ROWS,
        verification: Any = None,
        sections: Iterable[str] | None = None,
    ) -> None:
        self.layout = TraceLayout(
            trace, digits=digits, layer=layer, rows=rows, verification=verification, sections=sections
        )
        super().__init__([], ascii)

    def blocks(self) -> list[Block]:
        return self.layout.blocks()
