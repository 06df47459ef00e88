"""`run`, `explain`, `check` (its KIND, cli/kinds.py) and `template` for graph scenarios (kind: graph): main.py,
explain.py and check.py hand them over at the top."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bptrace.cli.common import report, write_output
from bptrace.cli.kinds import SheetKind, Sheets, refuse_layer_options
from bptrace.errors import BptraceError
from bptrace.i18n import N_, _

if TYPE_CHECKING:
    from bptrace.graph.grading import GraphQuantity
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
    from bptrace.graph.model import shown
    from bptrace.graph.verify import verify
    from bptrace.render import graph_out

    refuse_layer_options(notation, layer, N_("{option} is for networks; a graph has gates, not layers"))
    t = trace(scenario)
    verification = None if verify_mode == "off" else verify(t)
    report(
        fmt,
        lambda: graph_out.graph_json(t, verification),
        lambda: graph_out.run_blocks(t, verification, digits=digits, ascii=ascii_),
        shown(scenario.title),
        not fragment,
        ascii_,
        output,
        step,
        math,
        agreed=verification is None or verification.ok,
    )


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
    from bptrace.render import graph_out
    from bptrace.render.kinds import json_text

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
    report(
        fmt,
        lambda: json_text(graph_out.explain_data(e, checks)),
        lambda: graph_out.explain_blocks(e, t, checks, digits=digits, ascii=ascii_),
        f"d{scenario.output}/d{name}",  # a name: no _()
        standalone,
        ascii_,
        output,
        step,
        math,
        agreed=checks is None or checks.ok,
    )


def _sheets() -> Sheets[GraphScenario, GraphQuantity]:
    from bptrace.graph.grading import mark
    from bptrace.render.graph_out import check_blocks, check_data

    return Sheets(mark, check_blocks, check_data)


KIND = SheetKind(
    graph_scenario,
    _sheets,
    not_this=N_("{path}: this sheet is about a network, the first one about a graph"),
    without_options=N_("check a graph's sheets without them (--format json for data)"),
)


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
