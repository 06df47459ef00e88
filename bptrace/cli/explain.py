"""`bptrace explain TARGET`: the worked derivation of one weight, bias or intermediate value."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from bptrace.cli.common import (
    Mismatch,
    ascii_option,
    digits_option,
    force_option,
    load_scenario,
    math_option,
    prepare_output,
    print_renderable,
    write_output,
)
from bptrace.errors import BptraceError, UnknownNameError
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.model.scenario import Scenario

FORMATS = ("terminal", "markdown", "latex", "html", "json")
SUFFIX_FORMATS = {".md": "markdown", ".markdown": "markdown", ".tex": "latex", ".json": "json"}
SUFFIX_FORMATS.update({".html": "html", ".htm": "html"})


def _pretty_printing(command: Callable[..., Any]) -> Callable[..., Any]:
    """The command, SymPy spared the imports of unit Quantities and tensors (symbolic.spared_imports)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from bptrace.verify.symbolic import spared_imports

        with spared_imports():
            return command(*args, **kwargs)

    return wrapper


@click.command()
@click.argument("target", required=False)
@click.option(
    "-s",
    "--scenario",
    metavar="SCENARIO",
    help="A scenario file, or a bundled name (default: mazur; see 'bptrace scenarios').",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help="terminal (default; or from -o's suffix: .md, .tex, .html, .json), markdown, latex (align* "
    "fragment, needs amsmath), html (a self-contained page, mathematics as MathML) or json (the "
    "derivation as data).",
)
@click.option("--standalone", is_flag=True, help="With --format latex: a whole document, not a fragment.")
@click.option("--list", "list_", is_flag=True, help="List every quantity name of the scenario, then exit.")
@click.option(
    "--no-checks",
    is_flag=True,
    help="Skip the independent checks (SymPy's derivative of the loss, finite differences).",
)
@digits_option
@ascii_option
@click.option("--step", is_flag=True, help="In a terminal, wait for a key after each section (a lesson's pace).")
@math_option
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to FILE instead of stdout.")
@force_option
@_pretty_printing
def explain(
    target: str | None,
    scenario: str | None,
    fmt: str | None,
    standalone: bool,
    list_: bool,
    no_checks: bool,
    digits: int,
    ascii_: bool,
    step: bool,
    math: str,
    output: str | None,
    force: bool,
) -> None:
    """Derive TARGET step by step: where it sits, the chain rule, each factor, the update, the checks.

    TARGET is any quantity name (docs/quantities.md): a parameter (w5, W2_1_3, b1), its gradient
    (dE/dw5) or updated value (w5+), or an intermediate (net_h1, out_o1, E_o1, E_total, dE/dout_h1,
    delta_h1, dE_o1/dout_h1, dnet_o1/dw5). In a batch, add :k for sample k (net_h1_1:2).

    \b
    Example:
        bptrace explain w5                          # the bundled Mazur scenario
        bptrace explain W1_1_1 -s scenarios/ng_shallow.yaml   # automatic names: W{layer}_{row}_{col}
        bptrace explain delta_h1 --format latex > delta_h1.tex
        bptrace explain w5 -o w5.html                # a page with MathML, for a browser
        bptrace explain --list -s softmax_classifier     # every name you can explain
    """
    from pathlib import Path

    from bptrace.engine.step import trace as make_trace
    from bptrace.explain.derivation import explain as build
    from bptrace.model import names

    if fmt is None:
        fmt = SUFFIX_FORMATS.get(Path(output).suffix.lower(), "terminal") if output and output != "-" else "terminal"
    if standalone and fmt != "latex":
        raise BptraceError(_("--standalone goes with --format latex"), hint=_("add --format latex"))
    from bptrace.model.scenario import may_declare_kind

    destination = prepare_output(output, force, inputs=[scenario])
    if may_declare_kind(scenario):  # perhaps not a network: the other kinds' loaders decide
        from bptrace.cli import graph as cli_graph
        from bptrace.cli import layers as cli_layers
        from bptrace.cli import rnn as cli_rnn

        rnn = cli_rnn.rnn_scenario(scenario)
        if rnn is not None:  # kind: rnn: the sum over the time steps (docs/rnn.md)
            return cli_rnn.explain(rnn, target, fmt, standalone, list_, no_checks, digits, ascii_, output, step, math)
        stack = cli_layers.layers_scenario(scenario)
        if stack is not None:  # kind: layers: the rule, the terms, the checks (docs/layers.md)
            return cli_layers.explain(
                stack, target, fmt, standalone, list_, no_checks, digits, ascii_, output, step, math
            )
        graph = cli_graph.graph_scenario(scenario)
        if graph is not None:  # kind: graph: the paths from a node to the output (docs/graphs.md)
            whole = standalone or fmt == "html"  # an HTML page is always a whole page
            return cli_graph.explain(graph, target, fmt, whole, list_, no_checks, digits, ascii_, output, step, math)
    s = load_scenario(scenario)
    if list_:
        write_output(_name_list(s), destination)
        return
    if not target:
        raise BptraceError(
            _("give a TARGET to explain, e.g. 'bptrace explain w5'"),
            hint=_("'bptrace explain --list' lists every name"),
        )
    try:
        quantity = names.parse(target, s)
    except UnknownNameError as exc:
        where = f"'bptrace explain --list{'' if scenario is None else ' -s ' + scenario}'"
        exc.hint = (
            _("{hint} All names: {where}").format(hint=exc.hint, where=where)
            if exc.hint and _suggests(exc.hint)
            else _("{hint}; all names: {where}").format(hint=exc.hint, where=where)
            if exc.hint
            else _("all names: {where}").format(where=where)
        )
        raise
    if fmt == "json":  # the JSON is the same in every language (docs/glossary.zh.md): built in English
        with _english():
            explanation = build(make_trace(s), quantity, digits=digits, checks=not no_checks)
    else:
        explanation = build(make_trace(s), quantity, digits=digits, checks=not no_checks)
    if fmt == "terminal":
        from bptrace.render.explain_text import ExplanationView

        if step and not output:
            from bptrace.cli.common import print_steps

            print_steps(ExplanationView(explanation, ascii=ascii_), ascii_)
        else:
            print_renderable(ExplanationView(explanation, ascii=ascii_), ascii_, destination)
    elif fmt == "markdown":
        from bptrace.render.explain_latex import explanation_markdown

        write_output(explanation_markdown(explanation, ascii=ascii_, math=math), destination)
    elif fmt == "latex":
        from bptrace.render.explain_latex import explanation_latex

        write_output(explanation_latex(explanation, standalone=standalone), destination)
    elif fmt == "html":
        from bptrace.render.explain_text import explanation_html

        write_output(explanation_html(explanation), destination)
    else:
        import json

        write_output(
            json.dumps(explanation.to_data(), indent=1, ensure_ascii=False, allow_nan=False) + "\n", destination
        )
    if not explanation.ok:  # a judged check disagrees (one not judged says why, and is no failure)
        raise Mismatch()


def _suggests(hint: str) -> bool:
    """Whether an unknown name's hint is a suggestion ('did you mean w5 or w5+?'), in either language."""
    english = "did you mean"
    translated = _("did you mean {names}?").split("{names}")[0].strip()  # bptrace.model.source.did_you_mean
    return hint.startswith(english) or bool(translated) and hint.startswith(translated)


@contextmanager
def _english() -> Iterator[None]:
    """English while the block runs (the JSON's texts), then the language asked for again."""
    from bptrace import i18n

    previous = i18n.language()
    i18n.set_language("en")
    try:
        yield
    finally:
        i18n.set_language(previous)


def _name_list(scenario: Scenario) -> str:
    """Every quantity name of the scenario, one per line; per-sample names once, with ':k'."""
    from bptrace.model import names

    lines = ["# " + _("every name of {title}").format(title=scenario.title)]
    if scenario.samples > 1:
        lines.append(
            "# "
            + _(":k is a sample, 1..{m}; an unsuffixed derivative of the loss is the batch value").format(
                m=scenario.samples
            )
        )
    note = scenario.objective.names_note()
    if note:
        lines.append("# " + note)
    also = "  " + _("(and :kc)") if scenario.objective.windows > 1 else ""
    for name in names.all_names(scenario):
        alone = names.parse_or_none(name, scenario) is not None
        lines.append(name if alone else f"{name}:k" + also)
    return "\n".join(lines) + "\n"


COMMANDS = [explain]
