"""`bptrace lesson`: a self-contained page that steps through the derivation, for a classroom projector."""

from __future__ import annotations

import click

from bptrace.cli.common import digits_option, force_option, load_scenario, prepare_output, print_steps, write_output
from bptrace.errors import BptraceError


@click.command()
@click.argument("scenario", required=False)
@click.option("--explain", "target", metavar="QUANTITY", help="Step through one quantity's derivation (e.g. w5).")
@digits_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the page to FILE instead of stdout.")
@force_option
def lesson(scenario: str | None, target: str | None, digits: int, output: str | None, force: bool) -> None:
    """Write a page that reveals SCENARIO's derivation one step at a time (default: mazur).

    Each row of each table of 'bptrace run' (or, with --explain, each step of 'bptrace explain') is one step,
    beside the network drawn with the neuron or weight of the step highlighted and the numbers known so far
    written on it. In the page: → or space for the next step, ← back, Home and End. The page is one file
    with nothing fetched from the network; printing it prints every step.

    \b
    Example:
        bptrace lesson scenarios/mazur.yaml -o lesson.html
        bptrace lesson mazur --explain w5 -o w5.html
    """
    from bptrace.engine.step import trace as make_trace
    from bptrace.render.blocks import Para
    from bptrace.render.lesson import Lesson, lesson_html, slides_from_blocks, slides_from_explanation

    destination = prepare_output(output, force, inputs=[scenario])
    from bptrace.cli import graph as cli_graph

    graph = cli_graph.graph_scenario(scenario)
    if graph is not None:  # a computational graph: each row of its run's tables, beside the circuit
        from bptrace.graph.model import shown
        from bptrace.i18n import _

        if target:
            raise BptraceError(_("--explain is for networks in a lesson"), hint=_("leave out --explain for a graph"))
        from bptrace.graph.engine import trace as graph_trace
        from bptrace.render.graph_out import run_blocks
        from bptrace.render.lesson import graph_slides, graph_svg

        gt = graph_trace(graph)
        blocks = [b for b in run_blocks(gt, None, digits=digits) if not (isinstance(b, Para) and b.style == "title")]
        lesson_ = Lesson(shown(graph.title), None, graph_slides(gt, blocks), drawing=graph_svg(gt))
        write_output(lesson_html(lesson_), destination)
        return
    s = load_scenario(scenario)
    t = make_trace(s)
    if target:
        from bptrace.explain.derivation import explain as build

        explanation = build(t, target, digits=digits)
        slides = slides_from_explanation(s, explanation)
        title = f"{explanation.target} · {s.display_title()}"
    else:
        from bptrace.render.layout import SECTIONS, TraceLayout

        layout = TraceLayout(t, digits=digits, rows=None)
        blocks = [b for name in SECTIONS[1:-1] for b in getattr(layout, f"section_{name}")()]
        slides = slides_from_blocks(s, blocks)
        title = s.display_title()
    if not slides:
        raise BptraceError(_("nothing to step through"), hint=_("check the scenario with 'bptrace run'"))
    write_output(lesson_html(Lesson(title, s, slides)), destination)


COMMANDS = [lesson]
__all__ = ["COMMANDS", "lesson", "print_steps"]  # print_steps lives in bptrace/cli/common.py
