"""Explanation -> LaTeX: a fragment of align* environments for a standard article (needs amsmath),
or with standalone=True a whole document. Displays only: every formula is the LaTeX form of a Math
built by explain.py, or SymPy's own LaTeX of a derivative.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bptrace import i18n
from bptrace.fmt import num, to_ascii
from bptrace.i18n import _

if TYPE_CHECKING:
    from bptrace.explain.derivation import Explanation, Math, Row, Step

BREAK_AT = 100  # characters of LaTeX source: longer equations are broken at their '=' signs
PACKAGES = "\\usepackage{amsmath}\n\\allowdisplaybreaks\n\\begin{document}"  # after latex.document_preamble


def explanation_latex(ex: Explanation, standalone: bool = False) -> str:
    """The derivation as LaTeX. The fragment needs \\usepackage{amsmath} (said in its first lines)."""
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
    out.append(r"\subsection*{" + _text(ex.title.replace(" · ", " -- ")) + "}")
    out += _align([ex.symbol.latex + " &= " + _num(ex.value, ex.digits)])
    if ex.paths:
        out.append(r"\paragraph{" + _words(_("Where {name} sits"), name="$" + _name(ex.paths[0][0]) + "$") + "}")
        rows = []
        for path in ex.paths:
            # a path of many quantities continues on the next line (an A4 line holds about five)
            names = [_name(node) for node in path]
            chunks = [names[k : k + PATH_NODES_PER_LINE] for k in range(0, len(names), PATH_NODES_PER_LINE)]
            rows += [(" &" if k == 0 else r" &\quad \to ") + r" \to ".join(c) for k, c in enumerate(chunks)]
        out += _align(rows)
        if ex.path_count > len(ex.paths):
            out.append(
                _text(_("{shown} of the {count} paths are shown.").format(shown=len(ex.paths), count=ex.path_count))
            )
        if ex.samples > 1 and ex.sample is None:
            out.append(_text(_("The same paths are taken for each of the {m} samples.").format(m=ex.samples)))
    if ex.chain:
        out.append(r"\paragraph{" + _text(ex.chain_title) + "}")
        out += _align([_lhs(c) for c in ex.chain])
    for k, step in enumerate(ex.steps, start=1):
        out += _step(k, step, ex.digits)
    if ex.product_formula is not None or (ex.batch is not None and len(ex.steps) > 1):
        out.append(r"\paragraph{" + _text(_("Sum") if ex.kind in ("E_total", "after") else _("Product")) + "}")
        lines = []
        if ex.product_formula is not None:
            lines.append(ex.product_symbol.latex + " &= " + ex.product_formula.latex)
        lines += [_row(ex.product_symbol, row, ex.digits) for row in ex.product]
        if ex.batch is not None:
            lines.append(_row(ex.batch_symbol, ex.batch, ex.digits))
        out += _align(lines)
    elif ex.batch is not None:
        out.append(r"\paragraph{" + _text(_("Over the batch")) + "}")
        out += _align([_row(ex.batch_symbol, ex.batch, ex.digits)])
    if ex.penalty is not None:
        out.append(r"\paragraph{" + _text(_("With the L2 penalty")) + "}")
        out += _align([_row(ex.batch_symbol, ex.penalty, ex.digits)])
    if ex.update is not None:
        eta = r"$\eta = " + _num(ex.update.learning_rate, ex.digits) + "$"
        out.append(r"\paragraph{" + _words(_("Update ({equation})"), equation=eta) + "}")
        out += _align([_lhs(ex.update.formula)])
    if ex.history:
        out.append(r"\paragraph{" + _text(_("Step by step")) + "}")
        name = ex.target.split("@")[0].rstrip("+")
        lines = []
        for row in ex.history:
            head = (_name(name) if name != "E_total" else r"E_{\mathrm{total}}") + f"@{row.step}"
            lines.append(head + " &= " + " = ".join([s.latex for s in row.stages] + [_num(row.value, ex.digits)]))
        out += _align(lines)
        if ex.history_omitted:
            out.append(_text(_("{n} steps are not shown.").format(n=ex.history_omitted)))
    if ex.checks:
        out.append(r"\paragraph{" + _text(_("Checks")) + "}")
        out.append(r"\begin{tabular}{lrl}")
        for c in ex.checks:
            mark = {True: _text(_("agrees")), False: _text(_("DIFFERS")), None: ""}[c.ok]
            out.append(f"{_text(c.method)} & ${_num(c.value, max(ex.digits + 3, 12))}$ & {mark} \\\\")
        out.append(r"\end{tabular}")
    for note in ex.notes:
        out.append(r"\par\noindent $" + note.latex + "$")
    if standalone:
        out.append(r"\end{document}")
    return "\n".join(out) + "\n"


def _step(k: int, step: Step, digits: int) -> list[str]:
    title = _("{k}. {symbol} ({title})")  # TRANSLATORS: the heading of a factor in LaTeX (one space)
    out = [
        r"\paragraph{" + _words(title, k=str(k), symbol="$" + step.symbol.latex + "$", title=_text(step.title)) + "}"
    ]
    lines = [_lhs(d) for d in step.definition]
    d = step.derivative
    if d is not None:
        lines.append(d.of.latex + " &= " + d.latex + r" && \text{(SymPy)}")
        if step.closed_form is not None:
            lines.append(" &= " + step.closed_form.latex + r" && \text{" + _text(_("(closed form)")) + "}")
    elif step.closed_form is not None:
        lines.append(step.symbol.latex + " &= " + step.closed_form.latex)
    for k, term in enumerate(step.terms):
        if step.omitted_terms and k == len(step.terms) - 1:
            more = _("{more} more").format(more=step.omitted_terms)
            lines.append(r" &\dots\ \text{(" + _text(more) + ")}")
        lines += [_row(term.symbol + " = " + term.formula, row, digits) for row in term.rows]
    lines += [_row(step.symbol, row, digits) for row in step.rows]
    out += _align(lines)
    return out


PATH_NODES_PER_LINE = 5


def _align(lines: list[str]) -> list[str]:
    """An align* environment; a long line is broken before each top-level '=' after the first."""
    if not lines:
        return []
    rows: list[str] = []
    for line in lines:
        rows += _break(line)
    return (
        [r"\begin{align*}"]
        + [row + (r" \\" if k < len(rows) - 1 else "") for k, row in enumerate(rows)]
        + [r"\end{align*}"]
    )


def _break(line: str, width: int = BREAK_AT) -> list[str]:
    if len(line) <= width or "&=" not in line:
        return [line]
    head, rest = line.split("&=", 1)
    parts = _split_top(rest, " = ")
    rows = [head + "&=" + parts[0]]
    for part in parts[1:]:
        if len(rows[-1]) + len(part) < width // 2:
            rows[-1] += " =" + part
        else:
            rows.append(" &=" + part)
    out: list[str] = []
    for row in rows:  # a long sum continues on the next lines: &\quad + …
        terms = _split_top(row, " + ") if len(row) > width else [row]
        out.append(terms[0].lstrip())
        for term in terms[1:]:
            if len(out[-1]) + len(term) < width:
                out[-1] += " +" + term
            else:
                out.append(r" &\quad +" + term)
    return out


def _split_top(text: str, sep: str) -> list[str]:
    """Split at `sep` outside braces and parentheses."""
    parts, depth, start, k = [], 0, 0, 0
    while k < len(text):
        ch = text[k]
        if text.startswith(r"\begin{", k) or text.startswith(r"\end{", k):  # cases: one unit
            depth += 1 if text[k + 1] == "b" else -1
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0 and text.startswith(sep, k):
            parts.append(text[start:k])
            start = k + len(sep)
            k = start
            continue
        k += 1
    parts.append(text[start:])
    return [p if p.startswith(" ") else " " + p for p in parts]


def _lhs(math: Math) -> str:
    """Align an equation at its first '=' (LaTeX form)."""
    head, sep, rest = math.latex.partition(" = ")
    return f"{head} &= {rest}" if sep else f" & {math.latex}"


def _row(symbol: Math, row: Row, digits: int) -> str:
    """symbol = stage = … = value, with a sample label in a batch."""
    label = ""
    if row.sample is not None and row.corrupt:
        label = r" \tag*{" + _words(_("(sample {k}, {window})"), k=str(row.sample), window="$x_c$") + "}"
    elif row.sample is not None:
        label = r" \tag*{" + _words(_("(sample {k})"), k=str(row.sample)) + "}"
    head, sep, rest = symbol.latex.partition(" = ")
    stages = [s.latex for s in row.stages] + [_num(row.value, digits)]
    stages = [t for k, t in enumerate(stages) if k == 0 or t != stages[k - 1]]
    if sep:
        return f"{head} &= " + " = ".join([rest] + stages) + label
    return f"{symbol.latex} &= " + " = ".join(stages) + label


def _num(x: float, digits: int) -> str:
    text = num(x, digits)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


def _name(name: str) -> str:
    from bptrace.fmt import latex_name

    base = name.split(":")[0]
    if base.endswith("+"):
        return latex_name(base[:-1]) + "^{+}"
    if "@" in base:
        head, _, steps = base.partition("@")
        return latex_name(head) + f"@{steps}"
    if "/" in base:  # dE/dw5, dE_o1/dout_h1, dnet_o1/dw5, dout_o1/dnet_o1
        top, _, bottom = base.partition("/")
        top = {"dE": "dE_total"}.get(top, top)
        return rf"\frac{{\partial {latex_name(top[1:])}}}{{\partial {latex_name(bottom[1:])}}}"
    return latex_name(base)


_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "^": r"\^{}",
    "_": r"\_",
    "%": r"\%",
    "~": r"\~{}",
}


def _text(text: str) -> str:
    """Plain text for LaTeX: symbols spelled in ASCII, specials escaped, anything else non-ASCII dropped.

    In Chinese (--lang zh) Chinese characters and punctuation are kept (a document typeset with xelatex and
    ctex); other non-ASCII characters are dropped as in English."""
    spelled = to_ascii(text)
    if i18n.language() == "en":
        kept = spelled.encode("ascii", "replace").decode("ascii")
    else:
        kept = "".join(ch if ch.isascii() or _chinese(ch) else "?" for ch in spelled)
    return "".join(_SPECIAL.get(ch, ch) for ch in kept)


def _chinese(ch: str) -> bool:
    """A wide character (Chinese, Japanese, Korean, full-width punctuation): kept in Chinese LaTeX."""
    import unicodedata

    return unicodedata.east_asian_width(ch) in "WF"


def _words(template: str, **latex: str) -> str:
    """A translated message with placeholders in LaTeX: its own words escaped by _text, each placeholder
    filled with the LaTeX given (a formula in $…$, or text already escaped)."""
    import string

    out = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        out.append(_text(literal))
        if field is not None:
            out.append(latex[field])
    return "".join(out)


def _comment(text: str) -> str:
    return re.sub(r"[\r\n]+", " ", to_ascii(text))


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
            text = line.removeprefix(r"\par\noindent ").strip()
            if text:
                out.append(text)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip() + "\n"
