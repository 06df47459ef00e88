"""What the CLI asks of a kind with quantities of its own (a graph, a recurrent network, a layer stack): the
one loop that checks its sheets, and the one refusal of the network-only layer options.

cli/graph.py, cli/rnn.py and cli/layers.py each define their kind (`KIND`): which scenario a name names, how a
sheet is marked (grading/named.py's marking, through the kind's `mark`), its blocks and its JSON (`Sheets`),
and its words; `check` tries them in turn (cli/check.py) and hands the sheets to the first whose scenario the
first sheet names. Exit status 1 when an answer is wrong (Mismatch), 2 when a sheet is bad or about another
kind (BptraceError).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from bptrace.cli.common import report
from bptrace.errors import AnswerSheetError, BptraceError, UnknownNameError
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.grading.answers import Sheet
    from bptrace.grading.named import NamedSheetResult
    from bptrace.render.blocks import Block

S = TypeVar("S")  # the kind's scenario
Q = TypeVar("Q", bound=Hashable)  # the kind's quantity (grading/named.py)


@dataclass(frozen=True)
class Sheets(Generic[S, Q]):
    """A kind's marking and printing of sheets (imported when a sheet of the kind is checked)."""

    # (sheet, scenario, min_digits, diagnose) -> the marked sheet
    mark: Callable[[Sheet, S, int, bool], NamedSheetResult[S, Q]]
    # (marked, digits, ascii, hide_expected) -> its blocks
    blocks: Callable[[NamedSheetResult[S, Q], int, bool, bool], list[Block]]
    # (marked, hide_expected) -> its JSON-ready data
    data: Callable[[NamedSheetResult[S, Q], bool], dict[str, Any]]


@dataclass(frozen=True)
class SheetKind(Generic[S, Q]):
    """A kind of scenario whose sheets `check` marks itself."""

    scenario: Callable[[str | None], S | None]  # the kind's scenario a name names, or None for another kind
    sheets: Callable[[], Sheets[S, Q]]
    not_this: str  # the error when a later sheet is about something else ({path}: the sheet), marked with N_()
    without_options: str  # the hint when check is given network sheets' options (--key, ...), marked with N_()
    # what reading a sheet's scenario may raise that leaves the sheet to the network checker (it reports it)
    unreadable: tuple[type[BptraceError], ...] = (AnswerSheetError, UnknownNameError)

    def sheet_scenario(self, path: str, override: str | None) -> S | None:
        """The scenario an answer sheet is about (-s wins over its scenario:), or None for another kind."""
        from pathlib import Path

        from bptrace.grading.answers import read
        from bptrace.model.scenario import is_path_like

        if override:
            return self.scenario(override)
        sheet = read(path)
        name = sheet.scenario_name
        if not name:
            return None  # the network checker says the sheet names no scenario
        if is_path_like(name):
            file = Path(name) if Path(name).is_absolute() else sheet.path.parent / name
            if not file.is_file():
                return None  # the network checker names the missing file, pointing into the sheet
            name = str(file)
        return self.scenario(name)

    def is_sheet(self, path: str, override: str | None) -> bool:
        """Is this answer sheet about the kind? A sheet that cannot be read is left to the network checker,
        which reports it (and, given several sheets, marks the others)."""
        try:
            return self.sheet_scenario(path, override) is not None
        except self.unreadable:
            return False

    def check(
        self,
        sheets: tuple[str, ...],
        override: str | None,
        fmt: str,
        min_digits: int,
        diagnose: bool,
        hide_expected: bool,
        digits: int,
        ascii_: bool,
        output: str | None,
    ) -> None:
        """`bptrace check` of the kind's sheets: each answer marked, each wrong one's misconception named."""
        from bptrace.grading.answers import read
        from bptrace.render.kinds import json_text

        kind = self.sheets()
        results = []
        for path in sheets:
            s = self.sheet_scenario(path, override)
            if s is None:
                raise BptraceError(_(self.not_this).format(path=path), hint=_("check them apart"))
            results.append(kind.mark(read(path), s, min_digits, diagnose))
        spell = ascii_ and fmt == "terminal"
        report(
            fmt,
            lambda: json_text([kind.data(r, hide_expected) for r in results]),
            lambda: [b for r in results for b in kind.blocks(r, digits, spell, hide_expected)],
            "bptrace check",  # the terminal shows no title; a document does
            True,
            ascii_,
            output,
            agreed=all(r.all_correct for r in results),
        )


def refuse_layer_options(notation: str, layer: int | None, why: str) -> None:
    """--notation and --layer are for feed-forward networks: a kind refuses them with `why` (its {option},
    marked with N_())."""
    if notation != "scalar" or layer is not None:
        option = f"--notation {notation}" if notation != "scalar" else f"--layer {layer}"
        raise BptraceError(_(why).format(option=option), hint=_("leave out {option}").format(option=option))
