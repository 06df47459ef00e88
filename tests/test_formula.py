"""bptrace/formula.py: one formula tree, printed to Unicode, ASCII, LaTeX, Markdown and MathML.

Each printer is checked on hand-built trees and on every registry formula filled with names and numbers;
the LaTeX is compiled by pdflatex, the MathML parsed as XML, and ASCII is checked to be ASCII (printed
from the tree, not transliterated: ≠ is "!=", never "=").
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import tools
from hypothesis import given, settings
from hypothesis import strategies as st

from bptrace import functions
from bptrace.formula import (
    CHAIN,
    DOT,
    EQ,
    MINUS,
    PLUS,
    TIMES,
    Apply,
    Const,
    Deriv,
    Dots,
    Filled,
    Frac,
    Node,
    Num,
    Op,
    Paren,
    Pow,
    Row,
    Space,
    SumOver,
    Sym,
    Text,
    ascii,
    eq,
    join,
    latex,
    markdown,
    mathml,
    unicode,
)

W5 = eq(Deriv("E_total", "w5"), Deriv("E_total", "out_o1") + CHAIN + Deriv("out_o1", "net_o1") + CHAIN + Sym("net_o1"))
UPDATE = eq(Sym("w5", "+"), Sym("w5") + MINUS + Sym("eta") + DOT + Deriv("E_total", "w5"), Num(0.35891648, 9))
SIGMA = eq(
    Sym("out_o1"),
    Apply("σ", (Sym("net_o1"),)),
    Frac(Const("1"), Paren(Const("1") + PLUS + Pow(Const("e"), Op("-") + Sym("net_o1")))),
)
DELTA = eq(Sym("delta_o1"), Num(0.74136507, 9) + TIMES + Num(-0.186815602, 9), Num(-1.38498562e-05, 9))
NEQ = Text("for k") + Op("≠") + Sym("o1")
BATCH = Frac(Const("1"), Sym("m"), grouped=True) + DOT + SumOver("s", Deriv("E_s", "w5"))
PENALTY = Frac(Sym("lambda"), Const("2") + Sym("m")) + DOT + SumOver("", Pow(Sym("W"), Const("2")))
LONG = join([Sym("w1"), Sym("w2"), Dots("3 more"), Sym("w6")], PLUS) + Space(2) + Text("(not updated)")
TREES = [W5, UPDATE, SIGMA, DELTA, NEQ, BATCH, PENALTY, LONG]


def test_unicode() -> None:
    assert unicode(W5) == "∂E_total/∂w5 = ∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · net_o1"
    assert unicode(UPDATE) == "w5⁺ = w5 − η·∂E_total/∂w5 = 0.35891648"
    assert unicode(SIGMA) == "out_o1 = σ(net_o1) = 1/(1 + e^(−net_o1))"  # a compound exponent in parentheses
    assert unicode(DELTA) == "δ_o1 = 0.74136507 × (-0.186815602) = (-1.38498562e-05)"
    assert unicode(NEQ) == "for k ≠ o1"
    assert unicode(BATCH) == "(1/m)·Σ_s ∂E_s/∂w5"
    assert unicode(PENALTY) == "λ/(2m)·ΣW²"
    assert unicode(LONG) == "w1 + w2 + … (3 more) + w6  (not updated)"


def test_ascii_is_printed_from_the_tree() -> None:
    assert ascii(W5) == "dE_total/dw5 = dE_total/dout_o1 * dout_o1/dnet_o1 * net_o1"
    assert ascii(UPDATE) == "w5+ = w5 - eta*dE_total/dw5 = 0.35891648"
    assert ascii(SIGMA) == "out_o1 = sigma(net_o1) = 1/(1 + e^(-net_o1))"
    assert ascii(DELTA) == "delta_o1 = 0.74136507 * (-0.186815602) = (-1.38498562e-05)"
    assert ascii(NEQ) == "for k != o1"  # never "for k = o1"
    assert ascii(BATCH) == "(1/m)*sum_s dE_s/dw5"
    assert ascii(PENALTY) == "lambda/(2m)*sumW^2"
    for tree in TREES:
        assert ascii(tree).isascii(), ascii(tree)


def test_latex() -> None:
    assert latex(W5).startswith(r"\frac{\partial E_{\mathrm{total}}}{\partial w_{5}} = ")
    assert (
        latex(UPDATE)
        == r"w_{5}^{+} = w_{5} - \eta \cdot \frac{\partial E_{\mathrm{total}}}{\partial w_{5}} = 0.35891648"
    )
    assert r"\sigma\left(\mathrm{net}_{o1}\right)" in latex(SIGMA)
    assert latex(DELTA).endswith(r"= \left(-1.38498562 \cdot 10^{-5}\right)")
    assert latex(NEQ) == r"\text{for k} \ne o_{1}"
    assert latex(BATCH) == r"\frac{1}{m} \cdot \sum_{s} \frac{\partial E_{s}}{\partial w_{5}}"
    assert latex(PENALTY) == r"\frac{\lambda}{2m} \cdot \sum W^{2}"


def test_markdown() -> None:
    assert markdown(UPDATE) == "$" + latex(UPDATE) + "$"
    assert markdown(UPDATE, math="unicode") == "`w5⁺ = w5 − η·∂E_total/∂w5 = 0.35891648`"


def _registry_trees() -> list[Node]:
    """Every printed formula of the registry, filled with names and with numbers."""
    out: list[Node] = []
    names = {"net": Sym("net_o1"), "out": Sym("out_o1"), "a": Sym("alpha"), "t": Sym("t_o1"), "o": Sym("out_o1")}
    numbers = {k: Num(v, 9) for k, v in {"net": -0.5, "out": 0.25, "a": 0.01, "t": 1.0, "o": 0.75}.items()}
    for entry in functions.ACTIVATION_ENTRIES:
        formulas = [entry.symbol, entry.definition, entry.derivative, *(entry.pieces or ())]
        for f in formulas:
            for values in (names, numbers):
                out.append(Filled(f, tuple(values.items())))
    for loss in functions.LOSS_ENTRIES:
        for f in (loss.term, loss.gradient):
            for values in (names, numbers):
                out.append(Filled(f, tuple({**values, "n": Const("2")}.items())))
    return out


def test_mathml_parses_as_xml() -> None:
    for tree in TREES + _registry_trees():
        element = ET.fromstring(mathml(tree, display=True))
        assert element.tag == "{http://www.w3.org/1998/Math/MathML}math"
        assert element.get("alttext") == unicode(tree)
    ml = mathml(UPDATE)
    assert "<msup><msub><mi>w</mi><mn>5</mn></msub><mo>+</mo></msup>" in ml
    assert "<mi>η</mi>" in ml and "<mfrac>" in ml
    assert "<mo>≠</mo>" in mathml(NEQ)
    assert "<msup><mn>10</mn><mrow><mo>−</mo><mn>5</mn></mrow></msup>" in mathml(DELTA)  # one minus sign


def test_registry_formulas_print_in_every_script() -> None:
    for tree in _registry_trees():
        assert ascii(tree).isascii(), ascii(tree)
        assert unicode(tree) and latex(tree)


def test_latex_compiles(tmp_path: Path) -> None:
    body = "\n".join(r"\[" + latex(tree) + r"\]" for tree in TREES + _registry_trees())
    tex = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body + "\n\\end{document}\n"
    text = tools.pdf_text(tex, tmp_path, engine="pdflatex")
    assert "0.35891648" in text


_names = st.sampled_from(["w5", "out_h1", "net_o1", "E_total", "t_o1", "delta_h2", "eta", "W1_2_3", "b1"])


@st.composite
def _trees(draw: st.DrawFn, depth: int = 0) -> Node:
    leaves = st.one_of(
        _names.map(Sym),
        st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: Num(x, 6)),
        st.sampled_from(["1", "2", "m"]).map(Const),
        st.tuples(_names, _names).map(lambda p: Deriv(*p)),
    )
    if depth >= 3 or draw(st.booleans()):
        return draw(leaves)
    kind = draw(st.sampled_from(["row", "paren", "frac", "pow", "apply", "sum", "eq"]))
    a = draw(_trees(depth + 1))
    b = draw(_trees(depth + 1))
    op = draw(st.sampled_from([EQ, TIMES, DOT, PLUS, MINUS, Op("≠"), Op("≤")]))
    return {
        "row": Row.of(a, op, b),
        "paren": Paren(a),
        "frac": Frac(a, b),
        "pow": Pow(a, b),
        "apply": Apply("σ", (a,)),
        "sum": SumOver("s", a),
        "eq": eq(a, b),
    }[kind]


@settings(max_examples=150, deadline=None)
@given(_trees())
def test_every_tree_prints_in_every_format(tree: Node) -> None:
    assert ascii(tree).isascii()
    ET.fromstring(mathml(tree))
    assert latex(tree).count("{") == latex(tree).count("}")


@pytest.mark.parametrize("tree", TREES)
def test_text_and_latex_properties(tree: Node) -> None:
    assert tree.text == unicode(tree) and tree.latex == latex(tree)
