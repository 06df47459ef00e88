"""Printable worksheets: per exercise a sheet to fill in and its answer key, as HTML and as PDF.

    EXERCISE.html, EXERCISE.pdf            the statement, the picture (weights and inputs only), blank tables
                                           in the order of the derivation (forward, loss, backward, updates)
    EXERCISE-key.html, EXERCISE-key.pdf    the same tables with each right value, the answers the rules
                                           accept, and the value each misconception gives (for marking)

The tables are blocks (render/blocks.py) printed by render/html.py and render/latex.py; the PDF is that
LaTeX compiled with pdflatex (xelatex with ctex for Chinese), in a temporary folder.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from bptrace.errors import BptraceError
from bptrace.fmt import num
from bptrace.i18n import _, language
from bptrace.quiz import content
from bptrace.quiz.model import Ask, Exercise, Quiz, decimal_text
from bptrace.render.blocks import Block, Column, Grid, Para

BLANK = "_" * 16  # a line to write the answer on
LATEX_TIMEOUT = 120  # seconds for one LaTeX run
MAX_MISTAKES_SHOWN = 6  # wrong values listed per quantity in the key
SHEET_CSS = """
table.bptrace td.num { min-width: 10em; }
figure.bptrace-picture { margin: 1rem 0; }
figure.bptrace-picture svg { max-width: 100%; height: auto; }
@media print { h2 { break-before: auto; } table.bptrace tr { break-inside: avoid; } }
"""


def render(quiz: Quiz, pdf: bool = True) -> dict[str, bytes]:
    """{file name: content}: each exercise's sheet and key, as HTML (and PDF)."""
    files: dict[str, bytes] = {}
    for exercise in quiz.exercises:
        sheet = sheet_blocks(exercise, key=False)
        key = sheet_blocks(exercise, key=True)
        svg = content.picture(exercise.trace, "svg").decode("utf-8")
        files[f"{exercise.ident}.html"] = page(exercise, sheet, svg, key=False).encode("utf-8")
        files[f"{exercise.ident}-key.html"] = page(exercise, key, svg, key=True).encode("utf-8")
        if pdf:
            picture = content.picture(exercise.trace, "pdf")
            files[f"{exercise.ident}.pdf"] = compile_pdf(latex_document(exercise, sheet, key=False), picture)
            files[f"{exercise.ident}-key.pdf"] = compile_pdf(latex_document(exercise, key, key=True), picture)
    return files


def groups(exercise: Exercise) -> list[tuple[str, list[Ask]]]:
    """The asked quantities grouped as the derivation groups them (a blank sheet's comments), in its order."""
    from bptrace.grading.answers import derivation

    where = {name: group for _, group, name in derivation(exercise.scenario)}
    out: dict[str, list[Ask]] = {}
    for ask in exercise.asks:
        out.setdefault(where.get(ask.name, _("more")), []).append(ask)
    order = list(dict.fromkeys(where.values())) + [_("more")]
    return sorted(out.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))


def sheet_blocks(exercise: Exercise, key: bool) -> list[Block]:
    """The tables of a sheet (blank) or of its key (filled): one per group of the derivation."""
    blocks: list[Block] = [Para(content.instructions(exercise.asks[0].digits))]
    for title, asks in groups(exercise):
        if key:
            columns = [
                Column(_("quantity"), "name"),
                Column(_("symbol"), "text"),
                Column(_("value"), "num"),
                Column(_("accepted"), "text"),
                Column(_("a misconception gives"), "text"),
            ]
            rows = [[a.name, a.symbol, num(a.value), _accepted_text(a), _mistakes_text(a)] for a in asks]
        else:
            columns = [Column(_("quantity"), "name"), Column(_("symbol"), "text"), Column(_("your answer"), "num")]
            rows = [[a.name, a.symbol, BLANK] for a in asks]
        blocks.append(Grid(title, columns, list(rows)))
    if key:
        notes = [content.unseen_note(a) for a in exercise.asks if a.unseen]
        if notes:
            blocks.append(Para(_("Not visible at these digits:"), "bold"))
            blocks += [Para(f"{a.name}: {content.unseen_note(a)}", "dim") for a in exercise.asks if a.unseen]
    if exercise.command:
        blocks.append(Para(_("This exercise is made again by: {command}").format(command=exercise.command), "dim"))
    return blocks


def _accepted_text(ask: Ask) -> str:
    return "\n".join(f"{decimal_text(i.low)} … {decimal_text(i.high)}" for i in ask.right)


def _mistakes_text(ask: Ask) -> str:
    shown = ask.mistakes[:MAX_MISTAKES_SHOWN]
    parts = [f"{decimal_text(m.interval.centre)} ({', '.join(m.codes)})" for m in shown]
    more = len(ask.mistakes) - len(shown)
    if more:
        parts.append(_("and {n} more").format(n=more))
    return "\n".join(parts)


def _title(exercise: Exercise, key: bool) -> str:
    if key:
        return _("Answer key: {title}").format(title=exercise.title)
    return _("Worksheet: {title}").format(title=exercise.title)


def page(exercise: Exercise, tables: list[Block], svg: str, key: bool) -> str:
    """A self-contained HTML page: the statement, the picture inline, the tables."""
    import html as html_lib

    from bptrace.render import html

    title = _title(exercise, key)
    statement = content.statement_blocks(exercise, heading=False)
    picture = svg[svg.find("<svg") :] if "<svg" in svg else svg
    name = ""
    if not key:
        name = "<p>" + html_lib.escape(_("Name:")) + " " + "_" * 30 + "</p>"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html_lib.escape(language())}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="generator" content="bptrace">\n'
        f"<title>{html_lib.escape(title)}</title>\n<style>\n{html.CSS}{SHEET_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{html_lib.escape(title)}</h1>\n{name}\n"
        f"{html.body(statement[:-1])}\n"
        f'<figure class="bptrace-picture">{picture}</figure>\n'
        f"{html.body(statement[-1:])}\n{html.body(tables)}\n</main>\n</body>\n</html>\n"
    )


# ---------------------------------------------------------------------------------------------------
# PDF through LaTeX


def latex_document(exercise: Exercise, tables: list[Block], key: bool) -> str:
    """The sheet as LaTeX, its Chinese written as it is for xelatex (render/latex.py's unicode_text)."""
    from bptrace.render import latex

    with latex.unicode_text("xelatex" if language() == "zh" else "pdflatex"):
        return _latex_document(exercise, tables, key)


def _latex_document(exercise: Exercise, tables: list[Block], key: bool) -> str:
    """The sheet as a LaTeX document (pdflatex; with Chinese, xelatex and ctex) that includes network.pdf."""
    from bptrace.render import latex

    title = _title(exercise, key)
    statement = content.statement_blocks(exercise, heading=False)
    engine = "xelatex" if language() == "zh" else "pdflatex"  # as latex_engine() below compiles it
    # the document's first lines and fonts are run's (render/latex.py), then the same packages as run's
    preamble = (
        latex.document_preamble(engine=engine)
        + latex.STANDALONE_PREAMBLE
        + "\\usepackage{graphicx}\n\\setlength{\\parindent}{0pt}\n"
    )
    name = "" if key else "\\noindent " + latex.tex(_("Name:")) + " \\rule{8cm}{0.4pt}\\par\\medskip\n"
    return (
        preamble
        + latex.PREAMBLE_MACROS
        + "\n\\renewcommand{\\arraystretch}{1.6}\n\\begin{document}\n"
        + "{\\centering\\Large\\bfseries "
        + " ".join(latex.lines(title))
        + "\\par}\\medskip\n"
        + name
        + latex.body(statement[:-1])
        + "\n\n\\begin{center}\\includegraphics[width=0.8\\linewidth,height=0.4\\textheight,"
        + "keepaspectratio]{network.pdf}"
        + "\\end{center}\n\n"
        + latex.body(statement[-1:])
        + "\n\n"
        + latex.body(tables)
        + "\n\n\\end{document}\n"
    )


def latex_engine() -> str:
    """pdflatex, or xelatex for Chinese (ctex); a one-line error when it is not installed."""
    import shutil

    engine = "xelatex" if language() == "zh" else "pdflatex"
    path = shutil.which(engine)
    if path is None:
        raise BptraceError(
            _("the PDF worksheets need {engine}, which is not installed").format(engine=engine),
            hint=_(
                "install TeX Live (texlive-latex-recommended; texlive-xetex and texlive-lang-chinese for "
                "Chinese), or add --no-pdf"
            ),
        )
    return path


def compile_pdf(tex: str, picture: bytes) -> bytes:
    """The PDF of a LaTeX document (run twice, so that the tables settle), compiled in a temporary folder."""
    engine = latex_engine()
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", FORCE_SOURCE_DATE="1")  # the same sheet: the same PDF
    with tempfile.TemporaryDirectory(prefix="bptrace-sheet-") as folder:
        work = Path(folder)
        (work / "network.pdf").write_bytes(picture)
        (work / "sheet.tex").write_text(tex, encoding="utf-8")
        for _run in range(2):
            try:
                done = subprocess.run(
                    [engine, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "sheet.tex"],
                    cwd=work,
                    capture_output=True,
                    timeout=LATEX_TIMEOUT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired:
                raise BptraceError(
                    _("{engine} took longer than {seconds} seconds").format(
                        engine=Path(engine).name, seconds=LATEX_TIMEOUT
                    ),
                    hint=_("add --no-pdf for HTML only"),
                ) from None
            if done.returncode != 0:
                log = done.stdout.decode("utf-8", "replace")
                first = next((line for line in log.splitlines() if line.startswith("!")), log.strip()[-200:])
                raise BptraceError(
                    _("{engine} could not make the PDF: {error}").format(engine=Path(engine).name, error=first),
                    hint=_("add --no-pdf for HTML only"),
                )
        return _without_ids((work / "sheet.pdf").read_bytes())


def _without_ids(pdf: bytes) -> bytes:
    """The PDF with its /ID (a hash of the time and file name in some engines) made fixed."""

    def zeros(m: re.Match[bytes]) -> bytes:  # the same length: no offset in the file moves
        return re.sub(rb"<[0-9A-Fa-f]+>", lambda h: b"<" + b"0" * (len(h.group()) - 2) + b">", m.group())

    return re.sub(rb"/ID ?\[ ?<[0-9A-Fa-f]+> ?<[0-9A-Fa-f]+> ?\]", zeros, pdf)
