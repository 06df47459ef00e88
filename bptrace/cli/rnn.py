"""`run`, `explain`, `check` (its KIND, cli/kinds.py) and `template` for recurrent scenarios (kind: rnn):
main.py, explain.py and check.py hand them over at the top, beside the graph scenarios."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bptrace.cli.common import report, write_output
from bptrace.cli.kinds import SheetKind, Sheets, refuse_layer_options
from bptrace.errors import BptraceError
from bptrace.i18n import N_, _

if TYPE_CHECKING:
    from bptrace.rnn.model import RnnScenario


def rnn_scenario(name: str | None) -> RnnScenario | None:
    """The recurrent scenario `name` names, or None when it is something else (or no name was given)."""
    from bptrace.rnn.model import rnn_or_none

    return rnn_or_none(name)


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
    from bptrace.render import rnn_out
    from bptrace.rnn.engine import trace
    from bptrace.rnn.model import shown
    from bptrace.rnn.verify import verify

    refuse_layer_options(
        notation, layer, N_("{option} is for feed-forward networks; a recurrent network is traced step by step")
    )
    t = trace(scenario)
    verification = None if verify_mode == "off" else verify(t, verify_mode)
    report(
        fmt,
        lambda: rnn_out.rnn_json(t, verification),
        lambda: rnn_out.run_blocks(t, verification, digits=digits, ascii=ascii_),
        shown(scenario.display_title()),
        not fragment,
        ascii_,
        output,
        step,
        math,
        agreed=verification is None or verification.ok,
    )


def explain(
    scenario: RnnScenario,
    target: str | None,
    fmt: str,
    standalone: bool,
    list_: bool,
    no_checks: bool,
    digits: int,
    ascii_: bool,
    output: str | None,
    step: bool = False,
    math: str = "latex",
) -> None:
    """`bptrace explain dE/dW_hh_1_2 -s rnn.yaml`: the sum over the time steps with the numbers."""
    from bptrace.render import rnn_out
    from bptrace.render.kinds import json_text
    from bptrace.rnn import names
    from bptrace.rnn.engine import trace
    from bptrace.rnn.verify import verify

    if list_:
        write_output("\n".join(names.all_names(scenario)) + "\n", output)
        return
    if not target:
        raise BptraceError(
            _("give a TARGET to explain, e.g. '{example}'").format(example="dE/dW_hh_1_1"),
            hint=_("'--list' lists every name"),
        )
    name = names.parse(target, scenario)
    t = trace(scenario)
    param = name[4:] if name.startswith("dE/d") and "@" not in name else None
    checks = None if no_checks or param not in t.grads else verify(t, only=param)
    report(
        fmt,
        lambda: json_text(rnn_out.explain_data(t, name, checks)),
        lambda: rnn_out.explain_blocks(t, name, checks, digits=digits, ascii=ascii_),
        name,
        standalone,
        ascii_,
        output,
        step,
        math,
        agreed=checks is None or checks.ok,
    )


def _sheets() -> Sheets[RnnScenario, str]:
    from bptrace.render.rnn_out import check_blocks, check_data
    from bptrace.rnn.grading import mark

    return Sheets(mark, check_blocks, check_data)


KIND = SheetKind(
    rnn_scenario,
    _sheets,
    not_this=N_("{path}: this sheet is not about a recurrent network, the first one is"),
    without_options=N_("check a recurrent network's sheets without them (--format json for data)"),
)


def template(scenario: RnnScenario, ref: str, output: str | None) -> None:
    """`bptrace template rnn.yaml`: a blank sheet with every quantity of the trace."""
    from bptrace.rnn.grading import template_text

    write_output(template_text(scenario, ref), output)
