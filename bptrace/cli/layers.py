"""`run`, `explain`, `check` (its KIND, cli/kinds.py) and `template` for layer stacks (kind: layers): main.py,
explain.py and check.py hand them over at the top, beside the graph scenarios."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bptrace.cli.common import report, write_output
from bptrace.cli.kinds import SheetKind, Sheets, refuse_layer_options
from bptrace.errors import AnswerSheetError, BptraceError, ScenarioError, UnknownNameError
from bptrace.i18n import N_, _

if TYPE_CHECKING:
    from bptrace.layers.model import LayersScenario


def layers_scenario(name: str | None) -> LayersScenario | None:
    """The layers scenario `name` names, or None when it is a network or a graph (or no name was given)."""
    from bptrace.layers.model import layers_or_none

    return layers_or_none(name)


def run(
    scenario: LayersScenario,
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
    """`bptrace run` of a layer stack: forward per layer, backward per layer, the update, the checks."""
    from bptrace.layers.engine import trace
    from bptrace.layers.verify import verify
    from bptrace.render import layers_out

    refuse_layer_options(notation, layer, N_("{option} is for networks; a layer stack shows every layer"))
    t = trace(scenario)
    verification = None if verify_mode == "off" else verify(t)
    report(
        fmt,
        lambda: layers_out.layers_json(t, verification),
        lambda: layers_out.run_blocks(t, verification, digits=digits, ascii=ascii_),
        scenario.display_title(),
        not fragment,
        ascii_,
        output,
        step,
        math,
        agreed=verification is None or verification.ok,
    )


def explain(
    scenario: LayersScenario,
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
    """`bptrace explain dE/dK1_1_2 -s stack.yaml`: the rule, each term with its numbers, the sum, the checks."""
    from bptrace.layers.engine import trace
    from bptrace.layers.explain import explain_blocks, explain_data, parse_target
    from bptrace.layers.verify import verify
    from bptrace.render.kinds import json_text

    t = trace(scenario)
    if list_:
        lines = ["# " + _("every quantity of {title}").format(title=scenario.display_title())]
        lines += list(t.values)
        write_output("\n".join(lines) + "\n", output)
        return
    if not target:
        example = "dE/d" + next(iter(t.params))
        raise BptraceError(
            _("give a TARGET to explain, e.g. '{example}'").format(example=example),
            hint=_("'--list' lists every quantity"),
        )
    name = parse_target(target, t)
    param = name[4:] if name.startswith("dE/d") and name[4:] in t.params else name.rstrip("+")
    checks = None if no_checks or param not in t.params else verify(t, only=param)
    report(
        fmt,
        lambda: json_text(explain_data(t, name, checks)),
        lambda: explain_blocks(t, name, checks, digits=digits, ascii=ascii_),
        name,
        standalone,
        ascii_,
        output,
        step,
        math,
        agreed=checks is None or checks.ok,
    )


def _sheets() -> Sheets[LayersScenario, str]:
    from bptrace.layers.grading import check_blocks, check_data, mark

    return Sheets(mark, check_blocks, check_data)


KIND = SheetKind(
    layers_scenario,
    _sheets,
    not_this=N_("{path}: this sheet is not about a layer stack, the first one is"),
    without_options=N_("check a layer stack's sheets without them (--format json for data)"),
    unreadable=(AnswerSheetError, UnknownNameError, ScenarioError),  # a stack's reader may refuse the file
)


def template(scenario: LayersScenario, ref: str, output: str | None) -> None:
    """`bptrace template stack.yaml`: a blank sheet with the stack's gradients and updates."""
    from bptrace.layers.grading import template_text

    write_output(template_text(scenario, ref), output)
