"""How numbers and symbols are written: significant digits, never cut; an ASCII fallback for symbols."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from bptrace.i18n import _

DEFAULT_DIGITS = 9

# Unicode → ASCII, for --ascii and for what an output encoding cannot carry. Each spelling says the same
# thing as its symbol: ≠ is "!=" (never "=", which is what dropping its slash would leave), — is "--" (a
# missing value, never a minus sign).
ASCII = str.maketrans(
    {
        "∂": "d",
        "δ": "delta",
        "↔": "<->",
        "—": "--",
        "–": "-",
        "σ": "sigma",
        "η": "eta",
        "Σ": "sum",
        "∑": "sum",
        "∏": "prod",
        "⁺": "+",
        "×": "*",
        "·": "*",
        "⋅": "*",
        "−": "-",
        "±": "+/-",
        "∓": "-/+",
        "→": "->",
        "←": "<-",
        "⇒": "=>",
        "⇔": "<=>",
        "►": ">",
        "─": "-",
        "━": "-",
        "✓": "ok",
        "✗": "X",
        "½": "(1/2)",  # ½(t − out)² is (1/2)(t - out)^2, never 1/(2(t - out)^2)
        "²": "^2",
        "³": "^3",
        "⊙": "(.)",
        "ᵀ": "^T",
        "≈": "~",
        "≠": "!=",
        "≤": "<=",
        "≥": ">=",
        "≡": "==",
        "≪": "<<",
        "≫": ">>",
        "∝": " prop. to ",
        "∞": "inf",
        "√": "sqrt",
        "∀": "for all ",
        "∃": "exists ",
        "′": "'",
        "″": "''",
        "⁽": "(",
        "⁾": ")",
        "ₛ": "_s",
        "α": "alpha",
        "β": "beta",  # batch normalization's shift and scale (layers)
        "γ": "gamma",
        "\u0302": "hat",  # x̂ (x and a combining circumflex): xhat, as the vocabulary names it (dE/dxhat2_1)
        "…": "...",
        "⋮": "...",
        "Δ": "Delta",
        "⁻": "-",
        "ˡ": "l",
        "⊗": "(x)",
        "│": "|",
        "θ": "theta",
        "ₙ": "_n",
        "∈": "in",
        "∉": "not in",
        "λ": "lambda",
        "μ": "mu",
        "µ": "mu",
        "ε": "eps",
        "ℝ": "R",
        "π": "pi",
        "∇": "grad",
        "ᴸ": "L",
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
    }
)
# letters that bptrace's own words use as mathematics, not as a script's letters: spelled even though a name
# (José) keeps its accents; Ĝ is the gradient recomputed with every term's absolute value (the verification)
_MATH_LETTERS = {"Ĝ": "Ghat"}
# symbols bptrace never prints but a title, a note or a name may hold (the LaTeX export has no need of them)
_OTHER = str.maketrans(
    {
        "█": "#",  # the class view's histogram bars
        "÷": "/",
        "≢": "!==",
        "≉": "!~",
        "≮": "!<",
        "≯": "!>",
        "≰": "!<=",
        "≱": "!>=",
    }
)
# combining marks that negate what they overlay (≠ is = + U+0338): a character carrying one is never spelled
# by dropping the mark
_NEGATING = {"\u0338", "\u20d2", "\u20e5", "\u20eb"}


def num(x: float, digits: int = DEFAULT_DIGITS) -> str:
    """`x` to `digits` significant digits, trailing zeros dropped; e-notation only when tiny or huge.

    0.751365069552 -> '0.75136507', 3.5101877830e-05 -> '3.5101878e-05'. Negative numbers use an ASCII
    '-' so that they can be copied into an answer sheet.
    """
    x = float(x)
    if x == 0:
        return "0"
    text = f"{x:.{digits}g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{exponent[0]}{exponent[1:].zfill(2)}"
    return text


def one_minus(text: str) -> str:
    """The terminal's one minus sign: ASCII '-' in formulas as in numbers (which a student copies into a sheet)."""
    return text.replace("−", "-")


def to_ascii(text: str) -> str:
    """--ascii: the mathematical symbols spelled in ASCII (∂ -> d, δ -> delta, ≠ -> !=); text is kept.

    Letters of a script (王小明, José) and Chinese punctuation stay as they are: only symbols, Greek letters,
    super- and subscripts (W⁽²⁾₁₁ -> W(2)11) are spelled out. Inside `fallback(encoding)` (the CLI's output
    to a stream that cannot carry every character) only what that encoding cannot encode is spelled.
    """
    mode = _FALLBACK.get()
    if mode is not None and not mode[0]:
        return encodable(text, mode[1])
    text = _LABEL.sub(lambda m: "(" + unicodedata.normalize("NFKC", m.group(1)) + ")", text)  # W⁽²⁾: layer 2, no square
    out = "".join(ch if ch.isascii() or (_is_text(ch) and ch not in _MATH_LETTERS) else _spelled(ch) for ch in text)
    return out if mode is None else encodable(out, mode[1])


@contextmanager
def fallback(encoding: str, explicit: bool) -> Iterator[None]:
    """While rendering to a stream in `encoding`: to_ascii spells only what it cannot encode (and, when
    --ascii was asked for explicitly, every mathematical symbol as well)."""
    token = _FALLBACK.set((explicit, encoding))
    try:
        yield
    finally:
        _FALLBACK.reset(token)


def spells_every_symbol() -> bool:
    """Whether ASCII was asked for (--ascii, or ascii=True outside the CLI): every symbol is spelled, and a
    formula tree is printed by the ASCII printer. False inside the encoding's automatic fallback, where only
    what the encoding cannot carry is spelled."""
    mode = _FALLBACK.get()
    return mode is None or mode[0]


_LABEL = re.compile("⁽([⁰¹²³⁴⁵⁶⁷⁸⁹ˡᴸ⁺⁻]+)⁾")
_FALLBACK: ContextVar[tuple[bool, str] | None] = ContextVar("bptrace_fallback", default=None)


def encodable(text: str, encoding: str) -> str:
    """The automatic fallback: only the characters `encoding` cannot encode are spelled in ASCII ('?' if none).

    GBK carries Chinese and δ, σ, Σ, so those stay; it has no ∂, ⁺ or ✓, which become d, + and ok.
    """
    try:
        text.encode(encoding)
        return text
    except UnicodeEncodeError:
        pass
    except LookupError:
        encoding = "ascii"
    out = []
    for ch in text:
        try:
            ch.encode(encoding)
            out.append(ch)
        except UnicodeEncodeError:
            out.append(_spelled(ch))
    return "".join(out)


def _is_text(ch: str) -> bool:
    """A letter of a script or a wide (CJK) character: words, not mathematics."""
    if unicodedata.east_asian_width(ch) in "WF":
        return True
    if not unicodedata.category(ch).startswith("L") or "GREEK" in unicodedata.name(ch, ""):
        return False
    return unicodedata.normalize("NFKC", ch) == unicodedata.normalize("NFC", ch)  # not a sub- or superscript


def _spelled(ch: str) -> str:
    """One character in ASCII: the table above, else its compatibility decomposition without accents, else '?'."""
    if ch in _MATH_LETTERS:
        return _MATH_LETTERS[ch]
    mapped = ch.translate(ASCII).translate(_OTHER)
    if mapped != ch:
        return mapped
    decomposed = unicodedata.normalize("NFKD", ch)
    if any(c in _NEGATING for c in decomposed):
        return "?"  # dropping the mark would say the opposite
    text = "".join(c.translate(ASCII) for c in decomposed if not unicodedata.combining(c))
    return text if text and text.isascii() else "?"


# ---- text from files, shown to a person ----------------------------------------------------------

ECHO_LIMIT = 60  # characters of a value echoed in a message before it is cut with "…"

# C0 controls, DEL, C1 controls, and the bidirectional overrides that reorder what a terminal shows
_CONTROL = {
    **{c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)]},
    **{c: f"\\u{c:04x}" for c in [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]},
}
_CONTROL_IN_LINES = {c: text for c, text in _CONTROL.items() if c not in (0x09, 0x0A)}  # keeps tab, newline


def visible(text: str, lines: bool = False) -> str:
    """`text` with every control character written out: ESC as '\\x1b', U+202E as '\\u202e'.

    Nothing read from a file can then move the cursor, clear the screen, retitle the window or reorder a
    line. With `lines`, tab and newline stay (multi-line text such as a scenario's notes).
    """
    return text.translate(_CONTROL_IN_LINES if lines else _CONTROL)


def cut(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` at most `limit` characters long: longer text ends in '…' and says how long it was."""
    if len(text) <= limit:
        return text
    return _cut(text[: max(1, limit - 1)], len(text))


def _cut(head: str, length: int) -> str:
    """The start of a long text, '…', and how long the whole text was."""
    # TRANSLATORS: the start of a text too long to show, and the length of the whole text
    return _("{text}… ({count} characters)").format(text=head, count=f"{length:,}")


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """A value from a file as a message shows it: repr'd, control characters visible, cut to `limit`.

    A megabyte of text is not repr'd whole only to be cut: the cut says how long the value was.
    """
    if isinstance(value, str) and len(value) > limit:
        return _cut(visible(repr(value[:limit]))[: max(1, limit - 1)], len(value))
    text = visible(repr(value))
    return text if len(text) <= limit else _cut(text[: max(1, limit - 1)], len(text))


# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def csv_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text, never runs: '=HYPERLINK(…)' -> "'=HYPERLINK(…)".

    Numbers stay numbers (-0.25 is not a formula); text starting with = + - @ tab or a line break gets a
    leading apostrophe (the OWASP rule), and control characters are written out.
    """
    text = "" if value is None else str(value)
    if _PLAIN_NUMBER.fullmatch(text):
        return text
    if text.startswith(_FORMULA_START):
        text = "'" + text
    return visible(text)


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """Rows as CSV text ("\\n" line ends), every cell through csv_cell: the one CSV writer of bptrace."""
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([csv_cell(c) for c in row])
    return buffer.getvalue()


# A vocabulary name (bptrace.model.names) as LaTeX mathematics: explain and its printers share it.
_PREFIX = {"net": r"\mathrm{net}", "out": r"\mathrm{out}", "E": "E", "t": "t", "delta": r"\delta", "s": "s"}
_GREEK = {"Delta": r"\Delta", "lambda": r"\lambda", "eta": r"\eta"}


def latex_name(name: str) -> str:
    """A vocabulary name in LaTeX: out_h1 -> \\mathrm{out}_{h1}, w5 -> w_{5}, E_total -> E_{\\mathrm{total}}."""
    if name == "E_total":
        return r"E_{\mathrm{total}}"
    if name in _GREEK:
        return _GREEK[name]
    head, sep, rest = name.partition("_")
    if sep and head in _PREFIX:
        return f"{_PREFIX[head]}_{{{latex_name(rest) if '_' in rest else latex_escape(rest)}}}"
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    return r"\mathit{" + latex_escape(name) + "}"


def latex_escape(text: str) -> str:
    """Underscores of a name escaped for LaTeX."""
    return text.replace("_", r"\_")
