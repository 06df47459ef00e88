"""`run`, `explain`, `check` and `template` for layer stacks (kind: layers): main.py, explain.py and check.py
hand them over at the top, beside the graph scenarios."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bptrace.cli.common import Mismatch, write_output
from bptrace.cli.common import show_blocks as _show
from bptrace.errors import BptraceError
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.layers.model import LayersScenario


def layers_scenario(name: str | None) -> LayersScenario | None:
    """The layers scenario `name` names, or None when it is a network or a graph (or no name was given)."""
    from bptrace.layers.model import layers_or_none

    return layers_or_none(name)


def _refuse(notation: str, layer: int | None) -> None:
    if notation != "scalar" or layer is not None:
        option = f"--notation {notation}" if notation != "scalar" else f"--layer {layer}"
        raise BptraceError(
            _("{option} is for networks; a layer stack shows every layer").format(option=option),
            hint=_("leave out {option}").format(option=option),
        )


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

    _refuse(notation, layer)
    t = trace(scenario)
    verification = None if verify_mode == "off" else verify(t)
    if fmt == "json":
        from bptrace.render.layers_out import layers_json

        write_output(layers_json(t, verification), output)
    else:
        from bptrace.render.layers_out import run_blocks

        blocks = run_blocks(t, verification, digits=digits, ascii=ascii_)
        _show(blocks, fmt, scenario.display_title(), not fragment, ascii_, output, step, math)
    if verification is not None and not verification.ok:
        raise Mismatch()


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
    if fmt == "json":
        import json

        data = explain_data(t, name, checks)
        write_output(json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n", output)
    else:
        blocks = explain_blocks(t, name, checks, digits=digits, ascii=ascii_)
        _show(blocks, fmt, name, standalone, ascii_, output, step, math)
    if checks is not None and not checks.ok:
        raise Mismatch()


def sheet_scenario(path: str, override: str | None) -> LayersScenario | None:
    """The layers scenario an answer sheet is about (-s wins over its scenario:), or None."""
    from pathlib import Path

    from bptrace.grading.answers import read
    from bptrace.model.scenario import is_path_like

    if override:
        return layers_scenario(override)
    sheet = read(path)
    name = sheet.scenario_name
    if not name:
        return None
    if is_path_like(name):
        file = Path(name) if Path(name).is_absolute() else sheet.path.parent / name
        if not file.is_file():
            return None
        name = str(file)
    return layers_scenario(name)


def is_layers_sheet(path: str, override: str | None) -> bool:
    """Is this answer sheet about a layer stack? A sheet that cannot be read is left to the network checker."""
    from bptrace.errors import AnswerSheetError, ScenarioError, UnknownNameError

    try:
        return sheet_scenario(path, override) is not None
    except (AnswerSheetError, UnknownNameError, ScenarioError):
        return False


def check(
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
    """`bptrace check` of layer-stack answer sheets: each answer marked, each wrong one's misconception named."""
    from bptrace.grading.answers import read
    from bptrace.layers.grading import check_blocks, check_data, mark

    results = []
    for path in sheets:
        s = sheet_scenario(path, override)
        if s is None:
            raise BptraceError(
                _("{path}: this sheet is not about a layer stack, the first one is").format(path=path),
                hint=_("check them apart"),
            )
        results.append(mark(read(path), s, min_digits=min_digits, diagnose=diagnose))
    if fmt == "json":
        import json

        data = [check_data(r, hide_expected) for r in results]
        write_output(json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n", output)
    else:
        spell = ascii_ and fmt == "terminal"
        blocks = [b for r in results for b in check_blocks(r, digits=digits, ascii=spell, hide_expected=hide_expected)]
        _show(blocks, fmt, "bptrace check", True, ascii_, output)  # the terminal shows no title; a document does
    if not all(r.all_correct for r in results):
        raise Mismatch()


def template(scenario: LayersScenario, ref: str, output: str | None) -> None:
    """`bptrace template stack.yaml`: a blank sheet with the stack's gradients and updates."""
    from bptrace.layers.grading import template_text

    write_output(template_text(scenario, ref), output)
