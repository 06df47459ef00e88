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
    from bptrace.cli.common import show_blocks as _show
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
        _show(blocks, fmt, shown(scenario.display_title()), not fragment, ascii_, output, step, math)
    if verification is not None and not verification.ok:
        raise Mismatch()


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
    from bptrace.cli.common import show_blocks as _show
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
    if fmt == "json":
        import json

        from bptrace.render.rnn_out import explain_data

        data = explain_data(t, name, checks)
        write_output(json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n", output)
    else:
        from bptrace.render.rnn_out import explain_blocks

        blocks = explain_blocks(t, name, checks, digits=digits, ascii=ascii_)
        _show(blocks, fmt, name, standalone, ascii_, output, step, math)
    if checks is not None and not checks.ok:
        raise Mismatch()


def sheet_scenario(path: str, override: str | None) -> RnnScenario | None:
    """The recurrent scenario an answer sheet is about (-s wins over its scenario:), or None."""
    from pathlib import Path

    from bptrace.grading.answers import read
    from bptrace.model.scenario import is_path_like

    if override:
        return rnn_scenario(override)
    sheet = read(path)
    name = sheet.scenario_name
    if not name:
        return None
    if is_path_like(name):
        file = Path(name) if Path(name).is_absolute() else sheet.path.parent / name
        if not file.is_file():
            return None
        name = str(file)
    return rnn_scenario(name)


def is_rnn_sheet(path: str, override: str | None) -> bool:
    """Is this answer sheet about a recurrent network? A sheet that cannot be read is left to the network
    checker, which reports it."""
    from bptrace.errors import AnswerSheetError, UnknownNameError

    try:
        return sheet_scenario(path, override) is not None
    except (AnswerSheetError, UnknownNameError):
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
    """`bptrace check` of recurrent answer sheets: each answer marked, each wrong one's misconception named."""
    from bptrace.cli.common import show_blocks as _show
    from bptrace.grading.answers import read
    from bptrace.rnn.grading import mark

    results = []
    for path in sheets:
        s = sheet_scenario(path, override)
        if s is None:
            raise BptraceError(
                _("{path}: this sheet is not about a recurrent network, the first one is").format(path=path),
                hint=_("check them apart"),
            )
        results.append(mark(read(path), s, min_digits=min_digits, diagnose=diagnose))
    if fmt == "json":
        import json

        from bptrace.render.rnn_out import check_data

        data = [check_data(r, hide_expected) for r in results]
        write_output(json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n", output)
    else:
        from bptrace.render.rnn_out import check_blocks

        spell = ascii_ and fmt == "terminal"
        blocks = [b for r in results for b in check_blocks(r, digits=digits, ascii=spell, hide_expected=hide_expected)]
        _show(blocks, fmt, "bptrace check", True, ascii_, output)  # the terminal shows no title; a document does
    if not all(r.all_correct for r in results):
        raise Mismatch()


def template(scenario: RnnScenario, ref: str, output: str | None) -> None:
    """`bptrace template rnn.yaml`: a blank sheet with every quantity of the trace."""
    from bptrace.rnn.grading import template_text

    write_output(template_text(scenario, ref), output)
