"""How the objects the API returns show themselves: in a terminal, in a plain script, in a notebook.

Each data class (Trace, Verification, Explanation, SheetResult, TrainingResult) stays plain data and names
its view (a rich renderable from bptrace.render) in `_view()`. This mixin turns that one method into:
- `__rich__`: `rich.print(trace)` and `console.print(trace)` show the tables;
- `_repr_mimebundle_`: a Jupyter cell ending in the object displays the tables (HTML and plain text);
- `__repr__`: one short line (what it is and its headline numbers), never kilobytes of fields.
`bptrace.show(obj)` prints any of them (or a view) in a terminal and displays it in a notebook.
"""

from __future__ import annotations

import io
from typing import Any

NOTEBOOK_WIDTH = 140  # a notebook cell is wide; the tables fit any width from 60 columns


class Displayable:
    """Mixin: the object's view, wherever it is shown (see the module's docstring)."""

    def _view(self) -> Any:  # a rich renderable
        raise NotImplementedError

    def _summary(self) -> str:  # the one line of __repr__
        raise NotImplementedError

    def __rich__(self) -> Any:
        return self._view()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return mimebundle(self._view())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._summary()}>"


def mimebundle(renderable: Any) -> dict[str, str]:
    """Jupyter's rich display of a renderable: rich's own HTML of the tables, and plain text."""
    from rich.console import Console

    console = Console(record=True, width=NOTEBOOK_WIDTH, file=io.StringIO())
    console.print(renderable)
    return {"text/plain": console.export_text(clear=False), "text/html": console.export_html(inline_styles=True)}


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a ZMQ shell), where a cell's last value is displayed."""
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def show(obj: Any, file: Any = None) -> None:
    """Print `obj` (an API result or a view) with rich: to the terminal, or displayed in a notebook."""
    from rich.console import Console

    renderable = obj._view() if isinstance(obj, Displayable) else obj
    if in_notebook() and file is None:
        from IPython.display import display

        # IPython is untyped where it is installed and absent in CI: the ignore is needed in one, unused in the other
        display(_Bundle(renderable))  # type: ignore[no-untyped-call, unused-ignore]
        return
    Console(file=file).print(renderable)


class _Bundle:
    def __init__(self, renderable: Any) -> None:
        self.renderable = renderable

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return mimebundle(self.renderable)
