"""`run`, `explain`, `check` and `template` for recurrent scenarios (kind: rnn): main.py, explain.py and
check.py hand them over at the top, beside the graph scenarios."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bptrace.cli.common import Mismatch, write_output
from bptrace.errors import BptraceError
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.rnn.model import RnnScenario


def rnn_scenario(name: str | None) -> RnnScenario | None:
    """The recurrent scenario `name` names, or None when it is something else (or no name was given)."""
    from bptrace.rnn.model import rnn_or_none

    return rnn_or_none(name)


def _refuse(notation: str, layer: int | None) -> None:
    if notation != "scalar" or layer is not None:
        option = f"--notation {notation}" if notation != "scalar" else f"--layer {layer}"
        raise BptraceError(
            _("{option} is for feed-forward networks; a recurrent network is traced step by step").format(
                option=option
            ),
            hint=_("leave out {option}").format(option=option),
        )


def run(
    scenario: RnnScenario,
    fmt: str,
    digits: int,
    ascii_: bool,
    verify_mode: str,
    fragment: bool,
    output: str | None,
    notation: str = "scalar",
    layer: int | None = None,
    step: bool = False,
    math: str = "latex",
) -> None:
    """`bptrace run` of a recurrent network: forward per step, BPTT, the sums over the steps, the checks."""
    from bptrace.cli.graph import _show
    from bptrace.rnn.engine import trace
    from bptrace.rnn.verify import verify

    _refuse(notation, layer)
    t = trace(scenario)
    verification = None if verify_mode == "off" else verify(t, verify_mode)
    if fmt == "json":
        from bptrace.render.rnn_out import rnn_json

        write_output(rnn_json(t, verification), output)
    else:
        from bptrace.render.rnn_out import run_blocks
        from bptrace.rnn.model import shown

        blocks = run_blocks(t, verification, digits=digits, ascii=ascii_)
        _show(blocks, fmt, shown(scenario.title), not fragment, ascii_, output, step, math)
    if verification is not None and not verification.ok:
        raise Mismatch()
