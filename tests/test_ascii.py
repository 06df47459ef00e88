"""The ASCII spellings (bptrace/fmt.py) and the automatic fallback: only what the output encoding cannot carry is
spelled, Chinese text is kept, and no spelling says something else than its symbol."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.fmt import ASCII, encodable, fallback, to_ascii

EXAMPLES = Path(__file__).parent.parent / "examples"


def _sheet(tmp_path: Path, student: str) -> Path:
    text = (EXAMPLES / "student_cross_entropy.yaml").read_text(encoding="utf-8")
    lines = [f"student: {student}" if line.startswith("student:") else line for line in text.splitlines()]
    path = tmp_path / "sheet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "spelled"),
    [
        ("for k ≠ o1", "for k != o1"),
        ("∂E/∂w5 = δ_o1·out_h1", "dE/dw5 = delta_o1*out_h1"),
        ("½(t − out)²", "(1/2)(t - out)^2"),
        ("W⁽²⁾₁₁ᵀ", "W(2)11^T"),
        ("x ∉ S, a ≤ b, a ≱ b", "x not in S, a <= b, a !>= b"),
        ("θ⁺ = θ − η·∂E/∂θ", "theta+ = theta - eta*dE/dtheta"),
        ("sympy: —", "sympy: --"),
    ],
)
def test_symbols_are_spelled_as_what_they_say(text: str, spelled: str) -> None:
    assert to_ascii(text) == spelled


def test_no_spelling_drops_a_negation() -> None:
    """Every negated relation of Unicode (a symbol with a slash overlay) is spelled with a '!' or 'not', or '?'."""
    negated = [chr(c) for c in range(0x2200, 0x2300) if "\u0338" in unicodedata.normalize("NFD", chr(c))]
    assert "≠" in negated and len(negated) > 20
    for ch in negated:
        spelled = to_ascii(f"a {ch} b")
        assert "!" in spelled or "not" in spelled or "?" in spelled, (ch, spelled)
    for symbol, spelled in ((k, v) for k, v in ASCII.items()):
        assert isinstance(spelled, str) and spelled.isascii(), chr(symbol)


def test_ascii_keeps_chinese_and_names() -> None:
    assert to_ascii("王小明：第一章 δ_o1 ≠ José") == "王小明：第一章 delta_o1 != José"


def test_the_fallback_spells_only_what_the_encoding_cannot_carry() -> None:
    # GBK has 王小明, δ, σ, Σ and ≠ but no ∂, ⁺ or ✓
    assert encodable("王小明 δ σ ∂E/∂w5⁺ ✓", "gbk") == "王小明 δ σ dE/dw5+ ok"
    assert encodable("王小明 ∂", "ascii") == "??? d"
    with fallback("gbk", explicit=False):
        assert to_ascii("王小明 δ_o1 ≠ ∂") == "王小明 δ_o1 ≠ d"
    with fallback("gbk", explicit=True):  # --ascii to a GBK stream: every symbol, still the Chinese
        assert to_ascii("王小明 δ_o1 ≠ ∂") == "王小明 delta_o1 != d"


def test_gbk_output_keeps_the_chinese_name(tmp_path: Path) -> None:
    result = CliRunner(charset="gbk").invoke(main, ["check", str(_sheet(tmp_path, "王小明"))])
    assert result.exit_code == 1, result.output
    out = result.stdout_bytes.decode("gbk")
    assert out.startswith("王小明 — ")
    assert "∂" not in out and "δ" in out and "delta_o1" in out


def test_ascii_option_keeps_the_chinese_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(_sheet(tmp_path, "王小明")), "--ascii"])
    assert result.exit_code == 1
    assert result.stdout.startswith("王小明 -- ")
    assert all(ch.isascii() for ch in result.stdout.replace("王小明", ""))


def test_an_ascii_stream_gets_question_marks_only_for_what_it_cannot_carry(tmp_path: Path) -> None:
    result = CliRunner(charset="ascii").invoke(main, ["check", str(_sheet(tmp_path, "王小明"))])
    assert result.exit_code == 1
    out = result.stdout_bytes.decode("ascii")
    assert out.startswith("??? -- ") and "cross-entropy-delta: delta = out - target" in out
