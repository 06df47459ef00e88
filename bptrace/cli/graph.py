"""`run` and `explain` for graph scenarios (kind: graph): main.py and explain.py hand them over at the top."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bptrace.cli.common import Mismatch, print_renderable, write_output
from bptrace.errors import BptraceError

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
) -> None:
    """`bptrace run` of a graph: the forward and backward pass, the gradients, the update, the checks."""
    from bptrace.graph.engine import trace
    from bptrace.graph.verify import verify

    t = trace(scenario)
    verification = None if verify_mode == "off" else verify(t)
    if fmt == "json":
        from bptrace.render.graph_out import graph_json

        write_output(graph_json(t, verification), output)
    else:
        from bptrace.render.graph_out import run_blocks

        blocks = run_blocks(t, verification, digits=digits, ascii=ascii_)
        _show(blocks, fmt, scenario.title, not fragment, ascii_, output)
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
) -> None:
    """`bptrace explain df/dx -s graph.yaml`: the paths from x to f, the chain rule along each, the sum."""
    from bptrace.graph.engine import trace
    from bptrace.graph.explain import explain as derive
    from bptrace.graph.explain import parse_target
    from bptrace.graph.verify import verify

    t = trace(scenario)
    if list_:
        lines = [f"# every node of {scenario.title}; explain d{scenario.output}/dNAME or NAME"]
        lines += [f"d{scenario.output}/d{name}" for name in t.nodes]
        write_output("\n".join(lines) + "\n", output)
        return
    if not target:
        example = f"d{scenario.output}/d{next(iter(scenario.values))}"
        raise BptraceError(f"give a TARGET to explain, e.g. '{example}'", hint="'--list' lists every node")
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
        _show(blocks, fmt, f"d{scenario.output}/d{name}", standalone, ascii_, output)
    if checks is not None and not checks.ok:
        raise Mismatch()


def _show(blocks: list, fmt: str, title: str, standalone: bool, ascii_: bool, output: str | None) -> None:  # type: ignore[type-arg]
    if fmt == "terminal":
        from bptrace.render.terminal import BlocksView

        print_renderable(BlocksView(blocks, ascii=ascii_), ascii_, output)
    else:
        from bptrace.render.export import export

        write_output(export(blocks, fmt, title=title, standalone=standalone), output)
