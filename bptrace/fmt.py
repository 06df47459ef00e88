"""How numbers and symbols are written: significant digits, never cut; an ASCII fallback for symbols."""

from __future__ import annotations

DEFAULT_DIGITS = 9

# Unicode → ASCII for terminals that cannot encode the mathematics (and for --ascii).
ASCII = str.maketrans(
    {
        "∂": "d",
        "δ": "delta",
        "↔": "<->",
        "—": "-",
        "–": "-",
        "σ": "sigma",
        "η": "eta",
        "Σ": "sum",
        "⁺": "+",
        "×": "*",
        "·": "*",
        "−": "-",
        "→": "->",
        "►": ">",
        "─": "-",
        "✓": "ok",
        "✗": "X",
        "½": "1/2",
        "²": "^2",
        "⊙": "(.)",
        "ᵀ": "^T",
        "≈": "~",
        "≤": "<=",
        "≥": ">=",
        "′": "'",
        "⁽": "(",
        "⁾": ")",
        "ₛ": "_s",
        "α": "alpha",
        "…": "...",
        "Δ": "Delta",
        "⁻": "-",
        "ˡ": "l",
        "⊗": "(x)",
        "│": "|",
        "θ": "theta",
        "ₙ": "_n",
        "∈": "in",
    }
)


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


def to_ascii(text: str) -> str:
    """Replace the mathematical symbols bptrace uses by ASCII spellings; anything left is transliterated.

    After the table above, compatibility decomposition turns super- and subscripts into plain characters
    (W⁽²⁾₁₁ -> W(2)11); what still is not ASCII (a Greek λ, Chinese text in a source note) becomes '?'.
    """
    import unicodedata

    text = text.translate(ASCII)
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text.translate(_GREEK))
    return "".join(ch if ch.isascii() else ("" if unicodedata.combining(ch) else "?") for ch in text)


_GREEK = str.maketrans({"λ": "lambda", "μ": "mu", "ε": "eps", "ℝ": "R", "π": "pi", "∇": "grad", "ᴸ": "L"})


def can_encode(encoding: str | None) -> bool:
    """True when a stream with this encoding can show ∂, δ, σ and ⁺."""
    if not encoding:
        return False
    try:
        "∂δσ⁺×−✓".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return False
    return True
