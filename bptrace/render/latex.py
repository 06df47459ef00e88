r"""Blocks -> LaTeX for pdflatex: a whole article, or a fragment to \input into a worked solution.

A formula cell of a table (a tree of bptrace/formula.py: run's formulas) is printed by formula.latex, one
\ensuremath{…} per line. Text (titles, headers, paragraphs, words and names in cells) goes through `tex`:
every character is mapped to plain-ASCII LaTeX: the symbols bptrace writes (∂ δ σ η Σ · × − ⁺ ½ ² √
→ ⊙ ᵀ ⁽ˡ⁾ ᵢ ...) become math commands, runs of them one \ensuremath group; text specials are escaped;
accented letters become accent commands. So the output compiles with any pdflatex, whatever the input
encoding and font encoding, and a formula that mixes words and mathematics (δ_o1·w5, W⁽²⁾₁₁, η·∂E/∂θ) too.
Text pdflatex cannot typeset at all (Chinese in a scenario's source note) goes into \bptraceforeign{...},
which the document typesets with CJKutf8 where that is installed and otherwise replaces by "[…]".

A document in Chinese (bptrace speaks Chinese, or its title has Chinese characters) is written for xelatex
with ctex instead (`latex_engine`, `document_preamble`): its Chinese text is written as it is (UTF-8), typeset
by ctex with the fonts of the system (TeX Live's Fandol fonts on Linux), and its first lines say to compile
it with xelatex. Everything else is the same LaTeX.

Tables are longtables (they break across pages and repeat their header) with booktabs rules; number
columns are right-aligned, formula columns wrap in p-columns whose widths are estimated from the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from bptrace import formula, i18n
from bptrace.i18n import _
from bptrace.render.blocks import Cell, cell_text
from bptrace.render.layout import Block, Column, Grid, Para

PACKAGES = ("amsmath", "amssymb", "array", "booktabs", "longtable")

# ---- the character map ----

# Symbols written in math mode. Values are math-mode LaTeX.
MATH = {
    "∂": r"\partial",
    "∇": r"\nabla",
    "·": r"\cdot",
    "⋅": r"\cdot",
    "×": r"\times",
    "−": "-",
    "∓": r"\mp",
    "±": r"\pm",
    "→": r"\to",
    "←": r"\leftarrow",
    "↔": r"\leftrightarrow",
    "↦": r"\mapsto",
    "⇒": r"\Rightarrow",
    "⇔": r"\Leftrightarrow",
    "⊙": r"\odot",
    "⊗": r"\otimes",
    "⊕": r"\oplus",
    "∘": r"\circ",
    "≈": r"\approx",
    "≤": r"\le",
    "≥": r"\ge",
    "≠": r"\ne",
    "≡": r"\equiv",
    "∝": r"\propto",
    "∼": r"\sim",
    "≪": r"\ll",
    "≫": r"\gg",
    "∈": r"\in",
    "∉": r"\notin",
    "⊂": r"\subset",
    "∩": r"\cap",
    "∪": r"\cup",
    "∅": r"\emptyset",
    "∀": r"\forall",
    "∃": r"\exists",
    "∞": r"\infty",
    "√": r"\surd",
    "Σ": r"\sum",
    "∑": r"\sum",
    "∏": r"\prod",
    "∫": r"\int",
    "½": r"\tfrac{1}{2}",
    "¼": r"\tfrac{1}{4}",
    "¾": r"\tfrac{3}{4}",
    "⅓": r"\tfrac{1}{3}",
    "⅔": r"\tfrac{2}{3}",
    "⟨": r"\langle",
    "⟩": r"\rangle",
    "‖": r"\|",
    "⌊": r"\lfloor",
    "⌋": r"\rfloor",
    "⌈": r"\lceil",
    "⌉": r"\rceil",
    "⋯": r"\cdots",
    "⋮": r"\vdots",
    "⋱": r"\ddots",
    "∗": r"\ast",
    "∙": r"\bullet",
    "ℓ": r"\ell",
    "ℝ": r"\mathbb{R}",
    "ℕ": r"\mathbb{N}",
    "ℤ": r"\mathbb{Z}",
    "✓": r"\checkmark",
    "✔": r"\checkmark",
    "✗": r"\times",
    "✘": r"\times",
    "►": r"\blacktriangleright",
    "▶": r"\blacktriangleright",
    "◄": r"\blacktriangleleft",
    "★": r"\star",
    "□": r"\square",
    "■": r"\blacksquare",
    "█": r"\rule{0.45em}{1.4ex}",  # a histogram's bar (the class view)
    "⁄": "/",
    "α": r"\alpha",
    "β": r"\beta",
    "γ": r"\gamma",
    "δ": r"\delta",
    "ε": r"\varepsilon",
    "ϵ": r"\epsilon",
    "ζ": r"\zeta",
    "η": r"\eta",
    "θ": r"\theta",
    "ϑ": r"\vartheta",
    "ι": r"\iota",
    "κ": r"\kappa",
    "λ": r"\lambda",
    "μ": r"\mu",
    "µ": r"\mu",
    "ν": r"\nu",
    "ξ": r"\xi",
    "ο": "o",
    "π": r"\pi",
    "ρ": r"\rho",
    "σ": r"\sigma",
    "ς": r"\varsigma",
    "τ": r"\tau",
    "υ": r"\upsilon",
    "φ": r"\varphi",
    "ϕ": r"\phi",
    "χ": r"\chi",
    "ψ": r"\psi",
    "ω": r"\omega",
    "Γ": r"\Gamma",
    "Δ": r"\Delta",
    "Θ": r"\Theta",
    "Λ": r"\Lambda",
    "Ξ": r"\Xi",
    "Π": r"\Pi",
    "Υ": r"\Upsilon",
    "Φ": r"\Phi",
    "Ψ": r"\Psi",
    "Ω": r"\Omega",
    "Α": "A",
    "Β": "B",
    "Ε": "E",
    "Ζ": "Z",
    "Η": "H",
    "Ι": "I",
    "Κ": "K",
    "Μ": "M",
    "Ν": "N",
    "Ο": "O",
    "Ρ": "P",
    "Τ": "T",
    "Χ": "X",
    "Ϋ": r"\ddot{\Upsilon}",
}

# Superscript and subscript characters: their content inside ^{...} or _{...}.
SUPERSCRIPT = {
    "⁰": "0",
    "¹": "1",
    "²": "2",
    "³": "3",
    "⁴": "4",
    "⁵": "5",
    "⁶": "6",
    "⁷": "7",
    "⁸": "8",
    "⁹": "9",
    "⁺": "+",
    "⁻": "-",
    "⁼": "=",
    "⁽": "(",
    "⁾": ")",
    "ⁿ": "n",
    "ⁱ": "i",
    "ˡ": "l",
    "ᴸ": "L",
    "ᵀ": r"\mathsf{T}",
    "ʲ": "j",
    "ᵏ": "k",
    "ᵐ": "m",
    "ᵃ": "a",
    "ᵇ": "b",
    "ᶜ": "c",
    "ᵈ": "d",
    "ᵉ": "e",
    "ᶠ": "f",
    "ᵍ": "g",
    "ʰ": "h",
    "ᵒ": "o",
    "ᵖ": "p",
    "ʳ": "r",
    "ˢ": "s",
    "ᵗ": "t",
    "ᵘ": "u",
    "ᵛ": "v",
    "ʷ": "w",
    "ˣ": "x",
    "ʸ": "y",
    "ᶻ": "z",
    "ᴬ": "A",
    "ᴮ": "B",
    "ᴰ": "D",
    "ᴱ": "E",
    "ᴳ": "G",
    "ᴴ": "H",
    "ᴵ": "I",
    "ᴶ": "J",
    "ᴷ": "K",
    "ᴹ": "M",
    "ᴺ": "N",
    "ᴼ": "O",
    "ᴾ": "P",
    "ᴿ": "R",
    "ᵁ": "U",
    "ⱽ": "V",
    "ᵂ": "W",
    "ᵅ": r"\alpha",
    "ᵝ": r"\beta",
    "ᵞ": r"\gamma",
    "ᵟ": r"\delta",
    "ᶿ": r"\theta",
    "′": r"\prime",
    "″": r"\prime\prime",
    "‴": r"\prime\prime\prime",
    "°": r"\circ",
}
SUBSCRIPT = {
    "₀": "0",
    "₁": "1",
    "₂": "2",
    "₃": "3",
    "₄": "4",
    "₅": "5",
    "₆": "6",
    "₇": "7",
    "₈": "8",
    "₉": "9",
    "₊": "+",
    "₋": "-",
    "₌": "=",
    "₍": "(",
    "₎": ")",
    "ₐ": "a",
    "ₑ": "e",
    "ₒ": "o",
    "ₓ": "x",
    "ₕ": "h",
    "ₖ": "k",
    "ₗ": "l",
    "ₘ": "m",
    "ₙ": "n",
    "ₚ": "p",
    "ₛ": "s",
    "ₜ": "t",
    "ᵢ": "i",
    "ⱼ": "j",
    "ᵣ": "r",
    "ᵤ": "u",
    "ᵥ": "v",
    "ᵦ": r"\beta",
    "ᵧ": r"\gamma",
    "ᵨ": r"\rho",
    "ᵩ": r"\varphi",
    "ᵪ": r"\chi",
}
# Characters written in text mode.
TEXT = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\_",
    "^": r"\textasciicircum{}",
    "~": r"\textasciitilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    '"': "''",
    "`": "'",
    "/": r"/\allowbreak{}",
    "…": r"\ldots{}",
    "–": "--",
    "—": "---",
    "‐": "-",
    "‑": "-",
    "‒": "--",
    "‘": "`",
    "’": "'",
    "‚": ",",
    "“": "``",
    "”": "''",
    "„": ",{},",
    "«": r"\ensuremath{\ll}",
    "»": r"\ensuremath{\gg}",
    "‹": r"\textless{}",
    "›": r"\textgreater{}",
    "•": r"\textbullet{}",
    "─": "-",
    "━": "-",
    "│": r"\textbar{}",
    "┃": r"\textbar{}",
    "\u00a0": "~",
    "\u2009": r"\,",
    "\u202f": r"\,",
    "\u2002": r"\enskip{}",
    "\u2003": r"\quad{}",
    "©": r"\copyright{}",
    "§": r"\S{}",
    "¶": r"\P{}",
    "£": r"\pounds{}",
    "€": "EUR",
    "¥": "JPY",
    "ß": r"\ss{}",
    "æ": r"\ae{}",
    "Æ": r"\AE{}",
    "œ": r"\oe{}",
    "Œ": r"\OE{}",
    "ø": r"\o{}",
    "Ø": r"\O{}",
    "ł": r"\l{}",
    "Ł": r"\L{}",
    "ı": r"\i{}",
    "ȷ": r"\j{}",
    "¡": r"\textexclamdown{}",
    "¿": r"\textquestiondown{}",
    "†": r"\dag{}",
    "‡": r"\ddag{}",
    "™": r"\texttrademark{}",
    "®": r"\textregistered{}",
    "\t": " ",
    "\u0302": r"\^{}",  # a combining circumflex left alone (x̂ written as x and the mark): the accent by itself
}
# Accents: a combining mark (after NFD decomposition) -> the text accent command that draws it.
ACCENTS = {
    "\u0300": "`",
    "\u0301": "'",
    "\u0302": "^",
    "\u0303": "~",
    "\u0304": "=",
    "\u0306": "u",
    "\u0307": ".",
    "\u0308": '"',
    "\u030a": "r",
    "\u030b": "H",
    "\u030c": "v",
    "\u0327": "c",
    "\u0323": "d",
    "\u0331": "b",
}

_BREAK_AFTER = {r"\times", r"\cdot", r"\odot", r"\otimes", r"\to"}

PREAMBLE_MACROS = r"""% \bptracesetwidth{register}{other columns}{formula columns}{this column}{share, 1/1000}{floor}:
% a formula column's width: natural when the table fits the line, else its share of what the others leave,
% never below the floor (its longest unbreakable piece)
% (the second \relax after an assignment ends TeX's search for a `plus')
\ifdefined\bptracesetwidth\else\def\bptracesetwidth#1#2#3#4#5#6{%
  \ifdim\dimexpr\linewidth-#2\relax>#3\relax #1=#4\relax\else #1=\dimexpr(\linewidth-#2)*#5/1000\relax\relax\fi
  \ifdim#1<#6\relax #1=#6\relax\fi}\fi
\providecommand{\bptraceforeign}[1]{[\ldots]}% text pdflatex cannot typeset (see the comment above)
\providecommand{\bptracebad}[1]{\textbf{#1}}%
\providecommand{\bptracegood}[1]{#1}%
\providecommand{\bptracedim}[1]{\textit{#1}}%
\providecommand{\bptracetitle}[1]{\section*{\raggedright #1}}% ragged: a long path or name in it never overflows
\providecommand{\bptracetabletitle}[1]{\subsection*{\raggedright #1}}%"""


def tex(text: str) -> str:
    """One line of text (no newline) as pdflatex-safe LaTeX, Unicode mathematics mapped to math mode.

    For text only: titles, headers, paragraphs, names and words in cells. A formula that is a tree (run's
    formula cells, explain's lines) is printed by formula.latex and never comes here.

    Consecutive symbols, superscripts and subscripts share one \\ensuremath group, so δ⁽²⁾₁ becomes
    \\ensuremath{\\delta^{(2)}_{1}}; a script following plain text attaches to an empty base.
    """
    pieces = _pieces(text)
    out: list[str] = []
    k = 0
    while k < len(pieces):
        kind, value = pieces[k]
        if kind in ("math", "sup", "sub"):
            run = []
            while k < len(pieces) and pieces[k][0] in ("math", "sup", "sub"):
                run.append(pieces[k])
                k += 1
            out.append(r"\ensuremath{" + _math_run(run) + "}")
            if run[-1][0] == "math" and run[-1][1] in _BREAK_AFTER and k < len(pieces) and pieces[k][1] != " ":
                out.append(r"\allowbreak{}")  # 0.5×(-0.01) may wrap after the ×, as it would in display maths
            continue
        if kind == "foreign":
            out.append(value if _UNICODE.get() else r"\bptraceforeign{" + value + "}")
        else:
            out.append(value)
        k += 1
    return "".join(out)


# A quantity of the vocabulary (docs/quantities.md) is typeset as mathematics: net_h1 as net with subscript h1,
# t_o1, E_total, δ_o1, and a short name w5 / W2_1_3 / h1_2 as a letter with its indices (w₅, W₂,₁,₃).
_NAME = re.compile(
    r"(?P<word>net|out|dout|dnet|delta)_(?P<of>[A-Za-z][A-Za-z0-9]*(?:_[0-9]+)*)"
    r"|(?P<letter>[Et])_(?P<sub>[A-Za-z0-9]+(?:_[0-9]+)*)"
    r"|(?P<base>[A-Za-z])(?P<index>[0-9]+(?:_[0-9]+)*)"
)


def _name_latex(m: re.Match[str]) -> str:
    """The LaTeX (math mode) of one quantity name matched by _NAME."""

    def sub(text: str) -> str:
        if re.fullmatch(r"[A-Za-z][0-9]+(?:_[0-9]+)*|[0-9]+(?:_[0-9]+)*", text):
            return text.replace("_", ",")  # h1 and 1_2 read as indices
        return r"\mathrm{" + text.replace("_", r"\_") + "}"

    if m.group("word"):
        word = r"\delta" if m.group("word") == "delta" else r"\mathrm{" + m.group("word") + "}"
        return f"{word}_{{{sub(m.group('of'))}}}"
    if m.group("letter"):
        return f"{m.group('letter')}_{{{sub(m.group('sub'))}}}"
    return f"{m.group('base')}_{{{m.group('index').replace('_', ',')}}}"


_SAMPLE = re.compile(r"(?P<base>.+?)(?::(?P<k>[0-9]+)(?P<c>c?))?")
_AFTER = re.compile(r"(?P<base>.+?)(?:@(?P<n>[0-9]+)|(?P<plus>\+))?")


def _piece_math(text: str) -> str | None:
    if text == "E":
        return "E"
    m = _NAME.fullmatch(text)
    return _name_latex(m) if m else None


def quantity_math(text: str) -> str | None:
    """A quantity of the vocabulary as it is spelled in a sheet (bptrace/model/names.py), in math mode, or None
    when `text` is not one: dE/dw5 is ∂E/∂w₅, dout_o1/dnet_o1 a fraction of ∂s, w5+ is w₅⁺, w5@3 is w₅@3,
    delta_o1:2 (sample 2 of a batch) δ_o1⁽²⁾ and out_o1:1c (max_margin's corrupt window) out_o1⁽¹ᶜ⁾."""
    m = _SAMPLE.fullmatch(text.strip())
    if m is None or not text.strip():
        return None
    sups = []
    base = m.group("base")
    after = _AFTER.fullmatch(base)
    if after is not None and (after.group("n") or after.group("plus")):
        base = after.group("base")
        sups.append("+" if after.group("plus") else "")
    if "/" in base:
        top, _slash, bottom = base.partition("/")
        if not (top.startswith("d") and bottom.startswith("d")):
            return None
        a, b = _piece_math(top[1:]), _piece_math(bottom[1:])
        if a is None or b is None:
            return None
        body = rf"\partial {a}/\partial {b}"
    else:
        piece = _piece_math(base)
        if piece is None:
            return None
        body = piece
    if after is not None and after.group("n"):
        body += "@" + after.group("n")
        sups = [x for x in sups if x]
    if m.group("k"):
        sups.append("(" + m.group("k") + (r"\mathrm{c}" if m.group("c") else "") + ")")
    if sups:
        body = "{" + body + "}^{" + ",".join(sups) + "}" if "/" in base else body + "^{" + ",".join(sups) + "}"
    return body


# Words that are mathematics inside a formula (upright, as \\mathrm); any other word is prose (\\text).
MATH_WORDS = {
    "out",
    "net",
    "ln",
    "log",
    "exp",
    "max",
    "min",
    "tanh",
    "relu",
    "sigmoid",
    "softmax",
    "lrelu",
    "id",
    "softplus",
    "elu",
    "sum",
    "mean",
    "sign",
    "diag",
    "if",
    "else",
    "for",
    "with",
}


def math_line(text: str) -> str:
    """One line of a formula in math mode only (for $…$ in Markdown): names and symbols as in tex(), the
    words between them upright (out·(1 − out) is \\mathrm{out}\\cdot(1 - \\mathrm{out})), prose as \\text{…},
    and a power written ^(…) as a superscript."""
    power = re.search(r"\^\(", text)
    if power:  # e^(−net): the parenthesised exponent becomes ^{…}
        depth, k = 0, power.end() - 1
        while k < len(text):
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            if depth == 0:
                break
            k += 1
        if k < len(text):
            return (
                math_line(text[: power.start()])
                + "^{"
                + math_line(text[power.end() : k])
                + "}"
                + math_line(text[k + 1 :])
            )
    out: list[str] = []
    pieces = _pieces(text)
    k = 0
    while k < len(pieces):
        if pieces[k][0] in ("math", "sup", "sub"):
            run = []
            while k < len(pieces) and pieces[k][0] in ("math", "sup", "sub"):
                run.append(pieces[k])
                k += 1
            out.append(_math_run(run) + (" " if k < len(pieces) and pieces[k][1][:1].isalpha() else ""))
            continue
        words = []
        while k < len(pieces) and pieces[k][0] not in ("math", "sup", "sub"):
            kind, value = pieces[k]
            words.append(r"\text{" + value + "}" if kind == "foreign" else value)
            k += 1
        chunk = "".join(words).replace(r"\textasciicircum{}", "^")
        if out and chunk.startswith(r"\_"):  # Σ_s: a subscript on the symbol before
            m = re.match(r"\\_([A-Za-z0-9]+)", chunk)
            if m:
                out.append("_{" + m.group(1) + "}")
                chunk = chunk[m.end() :]
        out.append(_words(chunk))
    return "".join(out).replace(r"\allowbreak{}", "")


def _words(chunk: str) -> str:
    """The text between names and symbols in math mode: math words upright, runs of prose words as \\text."""
    parts = re.split(r"((?<![\\A-Za-z])[A-Za-z]{2,}(?:'s)?(?:\s+[A-Za-z]{2,}(?:'s)?)*)", chunk)
    out = []
    for k, part in enumerate(parts):
        if k % 2 == 0:
            out.append(part)
            continue
        words = part.split()
        if len(words) == 1 and words[0] in MATH_WORDS:
            out.append(r"\mathrm{" + words[0] + "}")
        elif all(w in MATH_WORDS for w in words):
            out.append(r"\ ".join(r"\mathrm{" + w + "}" for w in words))
        else:
            out.append(r"\text{" + part + "}")
    return "".join(out)


def _pieces(text: str) -> list[tuple[str, str]]:
    """Split text into ("text", latex), ("math", latex), ("sup"/"sub", content) and ("foreign", raw) pieces."""
    pieces: list[tuple[str, str]] = []
    chars = list(unicodedata.normalize("NFC", text))
    joined = "".join(chars)
    k = 0
    while k < len(chars):
        ch = chars[k]
        before = chars[k - 1] if k else " "
        after = chars[k + 1] if k + 1 < len(chars) else ""
        name = _NAME.match(joined, k) if not (before.isalnum() or before == "_") else None
        follows = joined[name.end()] if name is not None and name.end() < len(joined) else " "
        if name is not None and not (follows.isalnum() or follows == "_"):
            pieces.append(("math", _name_latex(name)))
            k = name.end()
            continue
        if ch == "δ" and after == "_":  # δ_o1: the subscript belongs to the δ
            name = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[0-9]+)*").match(joined, k + 2)
            if name is not None:
                pieces.append(("math", r"\delta_{" + name.group(0).replace("_", ",") + "}"))
                k = name.end()
                continue
        if ch in SUPERSCRIPT:
            _add(pieces, "sup", SUPERSCRIPT[ch])
        elif ch in SUBSCRIPT:
            _add(pieces, "sub", SUBSCRIPT[ch])
        elif ch in MATH:
            pieces.append(("math", MATH[ch]))
        elif ch == "-":
            if after.isdigit() and (before in " (=[,:;×/" or k == 0):
                pieces.append(("math", "-"))  # a negative number: a minus sign, not a hyphen
            elif after == "-":
                pieces.append(("text", "-{}"))  # no -- ligature: --rows stays two hyphens
            else:
                pieces.append(("text", "-"))
        elif ch in TEXT:
            pieces.append(("text", TEXT[ch]))
        elif " " <= ch <= "~":
            pieces.append(("text", ch))
        elif unicodedata.category(ch)[0] == "C":
            pass  # control and format characters: nothing to draw
        elif unicodedata.category(ch) == "Zs":
            pieces.append(("text", " "))
        else:
            accented = _accented(ch)
            if accented is not None:
                pieces.append(("text", accented))
            else:
                _add_foreign(pieces, ch)
        k += 1
    return pieces


def _add(pieces: list[tuple[str, str]], kind: str, content: str) -> None:
    """Add a script character, merging it with the script before it (⁽ˡ⁾ is one superscript)."""
    if pieces and pieces[-1][0] == kind:
        pieces[-1] = (kind, pieces[-1][1] + content)
    else:
        pieces.append((kind, content))


def _add_foreign(pieces: list[tuple[str, str]], ch: str) -> None:
    if pieces and pieces[-1][0] == "foreign":
        pieces[-1] = ("foreign", pieces[-1][1] + ch)
    elif len(pieces) >= 2 and pieces[-1] == ("text", " ") and pieces[-2][0] == "foreign":
        pieces.pop()
        pieces[-1] = ("foreign", pieces[-1][1] + " " + ch)
    else:
        pieces.append(("foreign", ch))


def _accented(ch: str) -> str | None:
    """A Latin letter with accents (é, ñ, ş) as accent commands (\\'{e}), or None."""
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if not ("A" <= base <= "Z" or "a" <= base <= "z") or not marks:
        return None
    out = {"i": r"\i{}", "j": r"\j{}"}.get(base, base) if marks else base
    for mark in marks:
        accent = ACCENTS.get(mark)
        if accent is not None:
            out = f"\\{accent}{{{out}}}"
    return out


def _math_run(run: list[tuple[str, str]]) -> str:
    """Math pieces joined; a second superscript (or subscript) on the same base gets a new empty base {}."""
    out = []
    used: set[str] = set()
    for kind, value in run:
        if kind == "math":
            out.append(value if not value[-1].isalpha() else value + " ")
            used = set()
        else:
            if kind in used:
                out.append("{}")
                used = set()
            out.append(("^{" if kind == "sup" else "_{") + value + "}")
            used.add(kind)
    return "".join(out).rstrip()


def lines(text: str) -> list[str]:
    """Each line of text through tex(), leading spaces kept as fixed space."""
    out = []
    for line in text.split("\n"):
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        body = tex(stripped.rstrip())
        if body.startswith(("[", "*")):
            body = "{}" + body  # after \\ a leading [ or * would be read as an argument of \\
        out.append((rf"\hspace*{{{indent * 0.5:g}em}}" if indent else "") + body)
    return out


# ---- blocks ----

_PAD_EM = 1.0  # 2 × \tabcolsep (0.5 em each)
_TEXT_CAP_EM = 40.0  # a formula column never asks for more than this before wrapping
_TEXT_MIN_EM = 7.0  # nor gets less (\bptracesetwidth's floor): room for (-0.0190491183)×
_PAGE_EM = 64.0  # A4 with 1.5 cm margins, at \footnotesize: the width above which a smaller font is used


def _width_em(line: str) -> float:
    """Estimated width of a line in Computer Modern, in em (digits are exactly 0.5 em)."""
    total = 0.0
    for ch in line:
        if ch.isdigit():
            total += 0.5
        elif ch in "-−":
            total += 0.78  # a minus sign
        elif ch in " .,:;'!|()[]":
            total += 0.32
        elif "a" <= ch <= "z":
            total += 0.48 if ch not in "mw" else 0.8
        elif "A" <= ch <= "Z":
            total += 0.72
        elif ch in MATH and len(MATH[ch]) > 1 and ch not in "·":
            total += 0.8  # an operator with its spacing, or a Greek letter
        elif unicodedata.east_asian_width(ch) in "WF":
            total += 1.0  # a Chinese character (ctex): one em
        else:
            total += 0.55
    return total


def _natural_em(grid: Grid, k: int, column: Column) -> float:
    """Estimated natural width of column k: its widest line, in em."""
    widest = _width_em(column.header)
    for row in grid.rows:
        if k < len(row):
            widest = max([widest] + [_width_em(line) for line in cell_text(row[k]).split("\n")])
    if column.kind == "text":
        # quantities are now typeset as mathematics (subscripts, operator spacing): ask for a little more,
        # so that a formula that fits the page is never wrapped while the page has room to spare
        widest = widest * 1.15 + 0.5
    return max(widest, 0.5)


def _floor_em(grid: Grid, k: int) -> float:
    """The narrowest a formula column can wrap to: its longest piece without a space or break point, in em."""
    widest = _TEXT_MIN_EM
    for row in grid.rows:
        if k < len(row):
            # a line breaks at its spaces, after × · / ⊙, and (ctex) between any two Chinese characters; a
            # formula tree where TeX can break it (_units)
            cell = row[k]
            pieces = (
                re.split(r"[ \n]|(?<=[×·/⊙])|(?<=[\u3000-\u9fff\uff00-\uffef])", cell)
                if isinstance(cell, str)
                else [p for unit in _units(cell) for p in re.split(r"(?<=[\u3000-\u9fff\uff00-\uffef])", unit)]
            )
            for piece in pieces:
                # + 0.4 em: the estimate is rough (xelatex's fonts set a little wider: 0.8 em)
                widest = max(widest, _width_em(piece) + (0.8 if _UNICODE.get() else 0.4))
    return min(widest, _TEXT_CAP_EM)


def _column_spec(grid: Grid) -> tuple[str, list[str], float]:
    """The longtable column specification, the width settings its formula columns need, and the table's
    estimated narrowest width (em): its number and name columns, and the formula columns wrapped to the floor."""
    natural = [_natural_em(grid, k, c) for k, c in enumerate(grid.columns)]
    fixed = sum(w + _PAD_EM for w, c in zip(natural, grid.columns) if c.kind != "text")
    texts = [min(w, _TEXT_CAP_EM) for w, c in zip(natural, grid.columns) if c.kind == "text"]
    text_total = sum(texts)
    fixed_all = fixed + _PAD_EM * len(texts) + 6.0  # 6 em to spare: the estimates are not exact
    specs: list[str] = []
    setup: list[str] = []
    narrowest = fixed
    for k, (w, c) in enumerate(zip(natural, grid.columns)):
        if c.kind == "num":
            specs.append("r")
        elif c.kind == "name":
            specs.append("l")
        else:
            # array.sty cannot take a conditional inside p{...}: the width goes into a length register first
            register = rf"\bptracew{_letters(len(setup))}"
            w = min(w, _TEXT_CAP_EM)
            share = max(1, round(1000 * w / text_total)) if text_total else 1000
            floor = _floor_em(grid, k)
            narrowest += floor + _PAD_EM
            setup.append(
                rf"\ifdefined{register}\else\newlength{{{register}}}\fi"
                rf"\bptracesetwidth{{{register}}}{{{fixed_all:.1f}em}}{{{text_total:.1f}em}}{{{w:.1f}em}}"
                rf"{{{share}}}{{{floor:.1f}em}}"
            )
            specs.append(r">{\raggedright\arraybackslash}p{" + register + "}")
    return "@{}" + "".join(specs) + "@{}", setup, narrowest


def _letters(k: int) -> str:
    """a, b, ..., z, ba, bb, ...: control-sequence names cannot contain digits."""
    out = ""
    while True:
        out = chr(ord("a") + k % 26) + out
        k //= 26
        if not k:
            return out


def cell_math(line: formula.Node) -> str:
    """A formula in math mode for a table cell: formula.latex, its \\left( \\right) pairs written as plain
    parentheses, so that TeX may break the line inside them (after a − or a ×) in a narrow p-column, as the
    column widths (_floor_em) expect: a \\left…\\right group is one unbreakable box."""
    return formula.latex(line).replace(r"\left(", "(").replace(r"\right)", ")")


def cell_line(line: formula.Node) -> str:
    """One line of a formula cell: its mathematics in \\ensuremath{…} (cell_math), its words (a Text node:
    "(the loss cancels f′)") in text mode between, so that they break as words do."""
    items = list(line.items) if isinstance(line, formula.Row) else [line]
    out: list[str] = []
    run: list[formula.Node] = []
    for item in [*items, None]:
        if item is None or isinstance(item, formula.Text):
            if run:
                out.append(r"\ensuremath{" + cell_math(formula.Row(tuple(run))) + "}")
                run = []
            if item is not None:
                out.append(formula.tex_words(item.words))
        else:
            run.append(item)
    return "".join(out)


def _top_level_terms(text: str) -> list[str]:
    """A sum's terms outside parentheses, each with the + or − after it (where TeX may break the line)."""
    terms, depth, start = [], 0, 0
    for k, ch in enumerate(text):
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        if depth == 0 and ch in "+−-" and text[k - 1 : k] == " " and text[k + 1 : k + 2] == " ":
            terms.append(text[start : k + 1].strip())
            start = k + 1
    return [*terms, text[start:].strip()]


_SPACED_OPS = {"=", "= ", "×", "×·", "·", " · ", "+", "−", ">", "≤", "≠", ",", " / ", "──►"}


def _units(node: formula.Node) -> list[str]:
    """The pieces of a formula TeX cannot break (each with the operator after it, where a line may end), as
    Unicode text for _width_em: a line breaks after an operator of its top level, words between their spaces;
    a fraction, a power or a function's argument is one piece. A registry formula breaks as its Unicode does
    unless its LaTeX is a fraction or cases."""
    if isinstance(node, formula.Lines):
        return [u for line in node.lines for u in _units(line)]
    if isinstance(node, formula.Text):
        return node.words.split()
    if isinstance(node, formula.Filled):
        if not any(k in node.template.latex for k in (r"\frac", r"\begin")):
            return formula.unicode(node).split()
        return _top_level_terms(formula.unicode(node))  # −t/out + (1 − t)/(1 − out): a fraction is one piece
    if isinstance(node, formula.Apply | formula.Paren):  # max(0, 1 + 0.2 − 0.3): plain parentheses (cell_math)
        return formula.unicode(node).split()
    if not isinstance(node, formula.Row):
        return [formula.unicode(node).strip()]
    units: list[str] = []
    glue = False  # the next piece continues the one before (no operator between them)
    for item in node.items:
        if isinstance(item, formula.Op) and item.symbol in _SPACED_OPS:
            text = formula.unicode(item).strip()
            units[-1:] = [(units[-1] if units else "") + text]
            glue = False
        elif isinstance(item, formula.Text | formula.Row | formula.Filled | formula.Apply | formula.Paren):
            inner = _units(item)
            if glue and units and inner:
                units[-1] += inner.pop(0)
            units += inner
            glue = bool(inner) and not (isinstance(item, formula.Text) and item.words.endswith(" "))
        else:
            piece = formula.unicode(item).strip()
            if glue and units:
                units[-1] += piece
            else:
                units.append(piece)
            glue = True
    return units


def _cell(value: Cell, column: Column, style: str = "") -> str:
    if not isinstance(value, str):  # a formula tree: each line in LaTeX's own printer, as mathematics
        parts = [cell_line(line) for line in formula.lines_of(value)]
        quantity = None
    else:
        quantity = quantity_math(value) if column.kind == "name" else None
        parts = [r"\ensuremath{" + quantity + "}"] if quantity else lines(value)
    if len(parts) == 1:
        body = parts[0]
    elif column.kind == "text":
        body = r"\newline ".join(parts)
    else:  # l and r columns cannot take \newline: stack the lines in a small tabular
        align = "r" if column.kind == "num" else "l"
        body = rf"\begin{{tabular}}[t]{{@{{}}{align}@{{}}}}" + r"\\".join(parts) + r"\end{tabular}"
    wrapper = {"bad": r"\bptracebad", "good": r"\bptracegood", "dim": r"\bptracedim"}.get(style)
    if wrapper and body:
        body = f"{wrapper}{{{body}}}"
    return body


def table(grid: Grid) -> str:
    """A Grid as a longtable: title, booktabs rules, a header repeated on every page, the caption after."""
    shown = " ".join(lines(grid.title)) if isinstance(grid.title, str) else cell_line(grid.title)
    title = [r"\bptracetabletitle{" + shown + "}"] if grid.title else []
    caption = [r"{\itshape " + r"\newline ".join(lines(grid.caption)) + r"\par}"] if grid.caption else []
    if not grid.columns:
        return "\n".join(title + caption)
    spec, setup, width = _column_spec(grid)
    # numbers never wrap: when they alone overflow the line, a smaller font (em shrinks from 8.5 to 8 and 6.8 pt)
    size = r"\footnotesize" if width <= _PAGE_EM else (r"\scriptsize" if width <= _PAGE_EM * 1.06 else r"\tiny")
    n = len(grid.columns)
    continued = " ".join(lines(_("(continued)")))
    header = " & ".join(r"\textbf{" + " ".join(lines(c.header)) + "}" if c.header else "" for c in grid.columns)
    out = title + [
        r"\begingroup" + size + r"\setlength{\tabcolsep}{0.5em}\setlength{\LTpre}{0.3\baselineskip}"
        r"\setlength{\LTpost}{0.3\baselineskip}",
        *setup,
        rf"\begin{{longtable}}[l]{{{spec}}}",
        r"\toprule",
        header + r" \\",
        r"\midrule",
        r"\endfirsthead",
        rf"\multicolumn{{{n}}}{{@{{}}l}}{{\itshape {continued}}} \\",
        r"\toprule",
        header + r" \\",
        r"\midrule",
        r"\endhead",
        r"\bottomrule",
        r"\endfoot",
        r"\bottomrule",
        r"\endlastfoot",
    ]
    styles = grid.styles or [""] * len(grid.rows)
    for row, style in zip(grid.rows, styles):
        cells = (list(row) + [""] * n)[:n]
        out.append(" & ".join(_cell(v, c, style) for v, c in zip(cells, grid.columns)) + r" \\")
    out += [r"\end{longtable}", *caption, r"\endgroup"]
    return "\n".join(out)


def paragraph(para: Para) -> str:
    """A Para as a LaTeX paragraph (a 'title' paragraph as an unnumbered section)."""
    if para.style == "title":
        return r"\bptracetitle{" + " ".join(lines(para.text)) + "}"
    body = r"\newline ".join(lines(para.text))
    if not body:
        return ""
    if para.style == "bold":
        body = r"\textbf{" + body + "}"
    elif para.style == "warn":
        body = r"\bptracebad{" + body + "}"
    elif para.style in ("bad", "good", "dim"):
        body = {"bad": r"\bptracebad", "good": r"\bptracegood", "dim": r"\bptracedim"}[para.style] + "{" + body + "}"
    return r"\noindent " + body + r"\par"


def body(blocks: Iterable[Block], heading: str | None = None) -> str:
    """Every block as LaTeX (a title paragraph equal to the document heading is left out)."""
    out = []
    for block in blocks:
        if isinstance(block, Grid):
            out.append(table(block))
        elif not isinstance(block, Para):
            out.append(derivation_block(block))
        elif block.style == "title" and heading is not None and block.text.strip() == heading.strip():
            continue
        else:
            text = paragraph(block)
            if text:
                out.append(text)
    return "\n\n".join(out)


FRAGMENT_HEADER = r"""% bptrace LaTeX fragment (pdflatex or any engine). \input it in a document whose preamble has
%   \usepackage{amsmath,amssymb,array,booktabs,longtable}
% The definitions below (\providecommand, or \def guarded by \ifdefined) are the fragment's only ones and
% leave yours alone: define \bptracebad, \bptracegood, \bptracedim, \bptracetitle or \bptracetabletitle
% before the \input to change the look (e.g. \newcommand{\bptracebad}[1]{\textcolor{red}{#1}} with xcolor).
% \bptraceforeign{...} holds text pdflatex cannot typeset as is (e.g. Chinese in a source note): it prints
% [...] unless you define it, e.g. with CJKutf8: \newcommand{\bptraceforeign}[1]{\begin{CJK}{UTF8}{gbsn}#1\end{CJK}}.
"""

# The font set-up of each engine (document_preamble): pdflatex reads UTF-8 and uses Latin Modern where it is
# installed; xelatex typesets Chinese with ctex (which loads fontspec and xeCJK; Fandol fonts on Linux).
ENGINES = ("pdflatex", "xelatex")
ENGINE_PACKAGES = {"xelatex": "texlive-xetex texlive-lang-chinese"}  # Debian's packages for the engine and ctex
_FONTS = {
    "pdflatex": "\\usepackage[utf8]{inputenc}\n"
    "\\IfFileExists{lmodern.sty}{\\usepackage[T1]{fontenc}\\usepackage{lmodern}}{}\n",
    "xelatex": "\\usepackage[UTF8]{ctex}\n",
}

STANDALONE_PREAMBLE = r"""\usepackage[margin=1.5cm]{geometry}
\usepackage{amsmath,amssymb,array,booktabs,longtable}
\IfFileExists{xcolor.sty}{\usepackage{xcolor}}{}
\ifdefined\textcolor
  \newcommand{\bptracebad}[1]{\textcolor[rgb]{0.64,0.09,0.10}{\textbf{#1}}}
  \newcommand{\bptracegood}[1]{\textcolor[rgb]{0.11,0.42,0.17}{#1}}
  \newcommand{\bptracedim}[1]{\textcolor[gray]{0.4}{#1}}
\fi
"""
_CJKUTF8 = (
    "% Chinese (or other CJK) text in a scenario's notes: typeset where CJKutf8 and its gbsn font are installed\n"
    r"""\IfFileExists{CJKutf8.sty}{\IfFileExists{c70gbsn.fd}{\usepackage{CJKutf8}}{}}{}
\ifdefined\CJK
  \newcommand{\bptraceforeign}[1]{\begin{CJK}{UTF8}{gbsn}#1\end{CJK}}
\fi
"""
)
_PARAGRAPHS = r"""\setlength{\parindent}{0pt}
\setlength{\parskip}{0.45\baselineskip}
"""

# Wide (CJK) characters: Han, kana, hangul, CJK punctuation and full-width forms
_CJK = re.compile(r"[\u1100-\u11ff\u2e80-\u9fff\ua960-\ua97f\uac00-\ud7ff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef]")
_UNICODE: ContextVar[bool] = ContextVar("bptrace_latex_unicode", default=False)  # xelatex: CJK written as is


def has_cjk(text: str | None) -> bool:
    """Whether text has Chinese (or other CJK) characters, which pdflatex cannot typeset without help."""
    return bool(text) and _CJK.search(text or "") is not None


def latex_engine(*texts: str | None) -> str:
    """The engine a document needs: "xelatex" when it is in Chinese (bptrace speaks Chinese, or one of `texts`,
    e.g. its title or a student's name, has Chinese characters), else "pdflatex"."""
    return "xelatex" if i18n.language() == "zh" or any(has_cjk(t) for t in texts) else "pdflatex"


def document_preamble(
    *texts: str | None, options: str = "a4paper,10pt", note: str = "", engine: str | None = None
) -> str:
    r"""The first lines of a standalone document: the \documentclass (an article with `options`), a comment
    that names the engine to compile it with, and that engine's font set-up.

    The engine is latex_engine(*texts) unless given: pdflatex (UTF-8 input, T1 and Latin Modern), or for a
    document in Chinese xelatex with ctex (`% !TEX program = xelatex` first, for editors that read it; Debian:
    texlive-xetex texlive-lang-chinese). `note` is added to the comment ("run it twice so that ..."). The rest
    of the preamble (packages, macros) and \begin{document} are the caller's. Shared by `run` (render below)
    and `explain` (render/explain_latex.py), and meant to be used inside `unicode_text(engine)` so that the
    document's Chinese is written as it is for xelatex.
    """
    engine = engine or latex_engine(*texts)
    if engine not in ENGINES:
        raise ValueError(f"unknown LaTeX engine {engine!r}; choose one of {', '.join(ENGINES)}")
    documentclass = f"\\documentclass[{options}]{{article}}\n"
    if engine == "xelatex":
        comment = (
            _(
                "Written by bptrace; compile with xelatex, not pdflatex: it has Chinese text, typeset with ctex "
                "(Debian, Ubuntu: apt-get install {packages}); {note}."
            )
            if note
            else _(
                "Written by bptrace; compile with xelatex, not pdflatex: it has Chinese text, typeset with ctex "
                "(Debian, Ubuntu: apt-get install {packages})."
            )
        ).format(packages=ENGINE_PACKAGES["xelatex"], note=note)
        return "% !TEX program = xelatex\n" + documentclass + f"% {comment}\n" + _FONTS[engine]
    comment = (
        _("Written by bptrace; compile with pdflatex ({note}).").format(note=note)
        if note
        else _("Written by bptrace; compile with pdflatex.")
    )
    return documentclass + f"% {comment}\n" + _FONTS[engine]


@contextmanager
def unicode_text(engine: str) -> Iterator[None]:
    """While writing a document for `engine`: with xelatex, text pdflatex could not typeset (Chinese) is written
    as it is instead of as \\bptraceforeign{...}."""
    token = _UNICODE.set(engine == "xelatex")
    try:
        yield
    finally:
        _UNICODE.reset(token)


def fragment_header(engine: str) -> str:
    """The comment at the top of a fragment: what the document that \\input's it needs."""
    if engine != "xelatex":
        return FRAGMENT_HEADER
    lines = [
        _(
            "bptrace LaTeX fragment with Chinese text: compile the document that \\input's it with xelatex, its "
            "preamble having"
        ),
        "  \\usepackage{ctex}",
        "  \\usepackage{amsmath,amssymb,array,booktabs,longtable}",
        # TRANSLATORS: keep the doubled braces {{ }} (the text goes through str.format)
        _(
            "The definitions below (\\providecommand, or \\def guarded by \\ifdefined) are the fragment's only "
            "ones and leave yours alone: define \\bptracebad, \\bptracegood, \\bptracedim, \\bptracetitle or "
            "\\bptracetabletitle before the \\input to change the look (e.g. "
            "\\newcommand{{\\bptracebad}}[1]{{\\textcolor{{red}}{{#1}}}} with xcolor)."
        ).format(),
    ]
    return "".join(f"% {line}\n" for line in lines)


def render(blocks: Iterable[Block], title: str | None = None, standalone: bool = True, also: Iterable[str] = ()) -> str:
    """A whole article (standalone) or a fragment without preamble (its needs in a comment at the top).

    In Chinese (latex_engine of the title and the texts `also`) the document is for xelatex with ctex; else
    for pdflatex."""
    engine = latex_engine(title, *also)
    with unicode_text(engine):
        if not standalone:
            return fragment_header(engine) + PREAMBLE_MACROS + "\n\n" + body(blocks) + "\n"
        note = _("run it twice so that long tables settle their column widths")
        head = document_preamble(engine=engine, note=note) + STANDALONE_PREAMBLE
        if engine == "pdflatex":
            head += _CJKUTF8
        head += _PARAGRAPHS + PREAMBLE_MACROS + "\n"
        start = r"\begin{document}" + "\n"
        if title:
            start += r"{\centering\Large\bfseries " + " ".join(lines(title)) + r"\par}\medskip" + "\n"
        return head + start + "\n" + body(blocks, title) + "\n\n" + r"\end{document}" + "\n"


def derivation_block(block: Block) -> str:
    """A derivation's block (render/blocks.py) in a LaTeX body: a section heading as \\paragraph, a line of
    words and formulas with each formula in $…$, SymPy's derivative displayed, the checks as a tabular."""
    from bptrace import formula
    from bptrace.fmt import num
    from bptrace.render.blocks import Checks, MathPara, Preformatted

    if isinstance(block, MathPara):
        words = "".join(
            formula.tex_words(p) if isinstance(p, str) else "$" + formula.latex(p) + "$" for p in block.parts
        )
        if block.role in ("title", "heading"):
            return r"\paragraph{" + words + "}"
        return r"\par\noindent " + words
    if isinstance(block, Preformatted):
        return r"\[" + block.latex + r"\]" if block.latex else r"\begin{verbatim}" + block.ascii + r"\end{verbatim}"
    if isinstance(block, Checks):
        rows = [
            f"{formula.tex_words(c.method)} & ${num(c.value, block.digits)}$ & "
            f"{ {True: _('agrees'), False: _('DIFFERS'), None: ''}[c.ok] } \\\\"
            for c in block.rows
        ]
        return "\n".join([r"\begin{tabular}{lrl}", *rows, r"\end{tabular}"])
    return ""


# ---------------------------------------------------------------------------------------------------
# A derivation (explain) in LaTeX: its blocks (render/blocks.py) as headings and align* environments

DERIVATION_BREAK_AT = 100  # characters of LaTeX source: longer equations are broken at their '=' signs
PATH_NODES_PER_LINE = 5  # a path to E_total of more quantities continues on the next line (A4)


def derivation(blocks: Iterable[Block]) -> list[str]:
    """A derivation's blocks as LaTeX lines: the title as \\subsection*, each section's heading as \\paragraph,
    its formula lines (and SymPy's derivatives) as one align* aligned at each line's first '=', words and
    notes as paragraphs with inline mathematics, the checks as a tabular. Needs amsmath."""
    from bptrace.render.blocks import Checks, MathPara, Preformatted

    out: list[str] = []
    rows: list[str] = []

    def flush() -> None:
        out.extend(_align_rows(rows))
        rows.clear()

    for block in blocks:
        if isinstance(block, MathPara) and block.role in ("title", "heading"):
            flush()
            words = _inline(block.parts)
            if block.role == "title":
                out.append(r"\subsection*{" + words.replace(" $\\cdot$ ", " -- ") + "}")
            else:
                out.append(r"\paragraph{" + words + "}")
        elif isinstance(block, MathPara) and block.role in ("math", "result") and not _words_after(block.parts):
            rows.append(_aligned(block.parts))
        elif isinstance(block, MathPara):
            flush()
            out.append(r"\par\noindent " + _inline(block.parts))
        elif isinstance(block, Preformatted):
            head, *rest = _split_top_level(block.latex, " = ")
            rows.append(head.lstrip() + (" &=" + " =".join(rest) if rest else "") + r" && \text{(SymPy)}")
        elif isinstance(block, Checks):
            flush()
            out.append(derivation_block(block))
        elif isinstance(block, Grid):
            flush()
            out.append(table(block))
    flush()
    return out


def _words_after(parts: list[Any]) -> bool:
    """Whether a line ends in words (a verdict, a frozen bias's reason): then it is running text, which breaks."""
    return len(parts) > 1 and isinstance(parts[-1], str) and len(parts[-1].strip()) > 3


def _inline(parts: Iterable[Any]) -> str:
    """Words and formulas in running text: each formula in $…$, the words of a formula (a note's) outside it,
    so that the line breaks between them."""
    from bptrace import formula

    flat: list[Any] = []
    for p in parts:
        flat += list(p.items) if isinstance(p, formula.Row) else [p]
    out: list[str] = []
    run: list[Any] = []
    for p in [*flat, ""]:
        if isinstance(p, str | formula.Text):
            if run:
                out.append("$" + formula.latex(formula.Row(tuple(run))) + "$")
                run = []
            out.append(formula.tex_words(p if isinstance(p, str) else p.words))
        else:
            run.append(p)
    return "".join(out)


def _aligned(parts: Iterable[Any]) -> str:
    """A formula line of align*: words as \\text{…}, formulas in LaTeX, aligned at the first top-level '='."""
    from bptrace import formula

    merged: list[Any] = []  # "sample ", "3", ": " -> one \text{sample 3: }
    for p in parts:
        if isinstance(p, str) and merged and isinstance(merged[-1], str):
            merged[-1] += p
        else:
            merged.append(p)
    latex = "".join(
        (r"\text{" + formula.tex_words(p) + "}" if p.strip() else "") if isinstance(p, str) else formula.latex(p)
        for p in merged
    )
    parts_ = _split_top_level(latex, " = ")
    if len(parts_) > 1:
        return parts_[0].lstrip() + " &=" + " =".join(parts_[1:])
    return " & " + latex


def _align_rows(lines: list[str]) -> list[str]:
    """An align* environment; a long line is broken before each top-level '=' after the first."""
    if not lines:
        return []
    rows: list[str] = []
    for line in lines:
        rows += _break_row(line)
    return (
        [r"\begin{align*}"]
        + [row + (r" \\" if k < len(rows) - 1 else "") for k, row in enumerate(rows)]
        + [r"\end{align*}"]
    )


def _break_row(line: str, width: int = DERIVATION_BREAK_AT) -> list[str]:
    if len(line) > width and "&=" not in line and r" \to " in line:  # a long path: a few quantities a line
        nodes = line.split(r" \to ")
        chunks = [nodes[k : k + PATH_NODES_PER_LINE] for k in range(0, len(nodes), PATH_NODES_PER_LINE)]
        return [(r" &\quad \to " if k else "") + r" \to ".join(c).lstrip() for k, c in enumerate(chunks)]
    if len(line) <= width or "&=" not in line:
        return [line]
    head, rest = line.split("&=", 1)
    parts = _split_top_level(rest, " = ")
    rows = [head + "&=" + parts[0]]
    for part in parts[1:]:
        if len(rows[-1]) + len(part) < width // 2:
            rows[-1] += " =" + part
        else:
            rows.append(" &=" + part)
    out: list[str] = []
    for row in rows:  # a long sum continues on the next lines: &\quad + …
        terms = _split_top_level(row, " + ") if len(row) > width else [row]
        out.append(terms[0].lstrip())
        for term in terms[1:]:
            if len(out[-1]) + len(term) < width:
                out[-1] += " +" + term
            else:
                out.append(r" &\quad +" + term)
    return out


def _split_top_level(text: str, sep: str) -> list[str]:
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
