"""Explanation -> LaTeX: a fragment of align* environments for a standard article (needs amsmath),
or with standalone=True a whole document, and Markdown whose mathematics is that LaTeX.

Only the document's frame is written here (the comments, the preamble): the derivation itself is
explain's blocks (render/explain_text.explanation_blocks) printed by render/latex.derivation, every
formula by the formula tree's LaTeX printer (bptrace/formula.py), SymPy's derivatives by SymPy.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bptrace.fmt import to_ascii
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.explain.derivation import Explanation

PACKAGES = "\\usepackage{amsmath}\n\\allowdisplaybreaks\n\\begin{document}"  # after latex.document_preamble


def explanation_latex(ex: Explanation, standalone: bool = False) -> str:
    """The derivation as LaTeX, printed from the document model (render/explain_text.explanation_blocks) by
    render/latex.derivation. The fragment needs \\usepackage{amsmath} (said in its first lines)."""
    from bptrace.render.explain_text import explanation_blocks
    from bptrace.render.latex import derivation

    out = [
        f"% bptrace explain {_comment(ex.target)} -- {_comment(ex.scenario)}",
        "% "
        + _comment(_("A LaTeX fragment for a standard article: it needs {package} in the preamble.")).format(
            package="\\usepackage{amsmath}"
        ),
        "% "
        + _comment(_("Long derivations break across pages with {command} in the preamble.")).format(
            command="\\allowdisplaybreaks"
        ),
        "% " + _comment(_("(bptrace explain ... --format latex --standalone writes a whole document.)")),
    ]
    if standalone:
        from bptrace.render.latex import document_preamble

        # the engine's line and fonts (pdflatex, or xelatex with ctex for Chinese) are run's: one definition
        out = [document_preamble(ex.title, options="11pt").rstrip() + "\n" + PACKAGES] + out
    out += derivation(explanation_blocks(ex))
    if standalone:
        out.append(r"\end{document}")
    return "\n".join(out) + "\n"


def _comment(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", to_ascii(text))


def explanation_markdown(ex: Explanation, ascii: bool = False, math: str = "latex") -> str:
    """Markdown: headings, the mathematics as $$…$$ (math="latex", the LaTeX printer's own formulas) or in
    fenced text blocks ("unicode"), a table of factors and one of checks."""
    if math == "latex" and not ascii:
        return explanation_markdown_math(ex)
    from bptrace.render.explain_text import explanation_blocks
    from bptrace.render.markdown import derivation

    return derivation(explanation_blocks(ex, summary=True), ascii)


def explanation_markdown_math(ex: Explanation) -> str:
    """Markdown whose mathematics is this printer's LaTeX: each align* becomes a $$\\begin{aligned}…$$ block
    (GitHub, Jupyter, Typora and Zhihu render it), headings and the checks table become Markdown."""
    out: list[str] = []
    table: list[list[str]] = []
    for line in explanation_latex(ex, standalone=False).splitlines():
        if line.startswith("%"):
            continue
        heading = re.fullmatch(r"\\(subsection\*|paragraph)\{(.*)\}", line)
        if heading:
            level = "# " if heading.group(1).startswith("subsection") else "## "
            out += ["", level + heading.group(2).replace(" -- ", " · ").replace("\\_", "\\_"), ""]
        elif line == r"\begin{align*}":
            out += ["$$", r"\begin{aligned}"]
        elif line == r"\end{align*}":
            out += [r"\end{aligned}", "$$", ""]
        elif line.startswith(r"\begin{tabular}"):
            table = []
        elif line == r"\end{tabular}":
            out += [_("| check | value | agrees |"), "|---|---:|---|"]
            out += ["| " + " | ".join(cells) + " |" for cells in table] + [""]
        elif line.endswith(r" \\") and " & " in line and not line.startswith((" &", "&")) and "=" not in line:
            table.append([cell.strip() for cell in line[: -len(r" \\")].split(" & ")])
        else:
            # \tag is allowed in align* only: inside aligned (and in KaTeX) the label becomes a \text at the right
            line = re.sub(r"\\tag\*\{((?:[^{}]|\{[^{}]*\})*)\}", r"\\qquad\\text{\1}", line)
            prose = line.startswith(r"\par\noindent ")
            text = line.removeprefix(r"\par\noindent ").strip()
            if text:
                out += [text, ""] if prose else [text]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"
