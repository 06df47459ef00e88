"""`run` and `explain` for graph scenarios (kind: graph): main.py and explain.py hand them over at the top."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bptrace.cli.common import Mismatch, write_output
from bptrace.cli.common import show_blocks as _show
from bptrace.errors import BptraceError
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.graph.model import GraphScenario


def graph_scenario(name: str | None) -> GraphScenario | None:
    """The graph scenario `name` names, or None when it is a network (or no name was given)."""
    from bptrace.graph.model import graph_or_none

    return graph_or_none(name)


def run(
    scenario: GraphScenario,
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
    """`bptrace run` of a graph: the forward and backward pass, the gradients, the update, the checks."""
    from bptrace.graph.engine import trace
    from bptrace.graph.verify import verify

    if notation != "scalar" or layer is not None:
        option = f"--notation {notation}" if notation != "scalar" else f"--layer {layer}"
        raise BptraceError(
            _("{option} is for networks; a graph has gates, not layers").format(option=option),
            hint=_("leave out {option}").format(option=option),
        )

    t = trace(scenario)
    verification = None if verify_mode == "off" else verify(t)
    if fmt == "json":
        from bptrace.render.graph_out import graph_json

        write_output(graph_json(t, verification), output)
    else:
        from bptrace.render.graph_out import run_blocks

        blocks = run_blocks(t, verification, digits=digits, ascii=ascii_)
        from bptrace.graph.model import shown

        _show(blocks, fmt, shown(scenario.title), not fragment, ascii_, output, step, math)
    if verification is not None and not verification.ok:
        raise Mismatch()


def explain(
    scenario: GraphScenario,
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
    """`bptrace explain df/dx -s graph.yaml`: the paths from x to f, the chain rule along each, the sum."""
    from bptrace.graph.engine import trace
    from bptrace.graph.explain import explain as derive
    from bptrace.graph.explain import parse_target
    from bptrace.graph.verify import verify

    t = trace(scenario)
    if list_:
        from bptrace.graph.model import shown

        lines = [
            "# "
            + _("every node of {title}; explain {gradient} or NAME").format(
                title=shown(scenario.title), gradient=f"d{scenario.output}/dNAME"
            )
        ]
        lines += [f"d{scenario.output}/d{name}" for name in t.nodes]
        write_output("\n".join(lines) + "\n", output)
        return
    if not target:
        example = f"d{scenario.output}/d{next(iter(scenario.values))}"
        raise BptraceError(
            _("give a TARGET to explain, e.g. '{example}'").format(example=example), hint=_("'--list' lists every node")
        )
    name = parse_target(target, t)
    e = derive(t, name)
    checks = None if no_checks or name == scenario.output else verify(t, only=name)
    if fmt == "json":
        import json

        from bptrace.render.graph_out import explain_data

        write_output(json.dumps(explain_data(e, checks), indent=1, ensure_ascii=False, allow_nan=False) + "\n", output)
    else:
        from bptrace.render.graph_out import explain_blocks

        blocks = explain_blocks(e, t, checks, digits=digits, ascii=ascii_)
        _show(blocks, fmt, f"d{scenario.output}/d{name}", standalone, ascii_, output, step, math)  # a name: no _()
    if checks is not None and not checks.ok:
        raise Mismatch()


def sheet_scenario(path: str, override: str | None) -> GraphScenario | None:
    """The graph scenario an answer sheet is about (-s wins over its scenario:), or None for a network."""
    from pathlib import Path

    from bptrace.grading.answers import read
    from bptrace.model.scenario import is_path_like

    if override:
        return graph_scenario(override)
    sheet = read(path)
    name = sheet.scenario_name
    if not name:
        return None  # the network checker says the sheet names no scenario
    if is_path_like(name):
        file = Path(name) if Path(name).is_absolute() else sheet.path.parent / name
        if not file.is_file():
            return None  # the network checker names the missing file, pointing into the sheet
        name = str(file)
    return graph_scenario(name)


def is_graph_sheet(path: str, override: str | None) -> bool:
    """Is this answer sheet about a graph? A sheet that cannot be read is left to the network checker, which
    reports it (and, given several sheets, marks the others)."""
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
    """`bptrace check` of graph answer sheets: each answer marked, each wrong one's misconception named."""
    from bptrace.grading.answers import read
    from bptrace.graph.grading import mark

    results = []
    for path in sheets:
        s = sheet_scenario(path, override)
        if s is None:
            raise BptraceError(
                _("{path}: this sheet is about a network, the first one about a graph").format(path=path),
                hint=_("check them apart"),
            )
        results.append(mark(read(path), s, min_digits=min_digits, diagnose=diagnose))
    if fmt == "json":
        import json

        from bptrace.render.graph_out import check_data

        data = [check_data(r, hide_expected) for r in results]
        write_output(json.dumps(data, indent=1, ensure_ascii=False, allow_nan=False) + "\n", output)
    else:
        from bptrace.render.graph_out import check_blocks

        spell = ascii_ and fmt == "terminal"
        blocks = [b for r in results for b in check_blocks(r, digits=digits, ascii=spell, hide_expected=hide_expected)]
        _show(blocks, fmt, "bptrace check", True, ascii_, output)  # the terminal shows no title; a document does
    if not all(r.all_correct for r in results):
        raise Mismatch()


def template(scenario: GraphScenario, ref: str, output: str | None) -> None:
    """`bptrace template graph.yaml`: a blank sheet with every value, gradient and update of the graph."""
    from bptrace.graph.grading import template_text

    write_output(template_text(scenario, ref), output)


def diagram(scenario: GraphScenario, output: str, digits: int, ascii_: bool) -> None:
    """`bptrace diagram graph.yaml -o f.svg`: the circuit, forward values above each edge, gradients below."""
    import click

    from bptrace.graph.engine import trace
    from bptrace.render.graph_diagram import draw_graph

    draw_graph(trace(scenario), output, digits=digits, ascii=ascii_)
    click.echo(_("bptrace: wrote {path}").format(path=output), err=True)
