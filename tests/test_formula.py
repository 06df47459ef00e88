"""bptrace/formula.py: one formula tree, printed to Unicode, ASCII, LaTeX, Markdown and MathML.

Each printer is checked on hand-built trees and on every registry formula filled with names and numbers;
the LaTeX is compiled by pdflatex, the MathML parsed as XML, and ASCII is checked to be ASCII (printed
from the tree, not transliterated: ≠ is "!=", never "=").
"""

from __future__ import annotations

import dataclasses
import re
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
    Fn,
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
    Template,
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


def _registry_formulas() -> list[tuple[str, Template]]:
    """Every printed formula of the registry, found on the entries (so a new one is covered): each field that
    holds a Template, or a tuple of them (an activation's pieces), of every activation, parameter and loss."""
    found: list[tuple[str, Template]] = []
    entries: list[object] = [*functions.ACTIVATION_ENTRIES, *functions.ACTIVATION_PARAMS, *functions.LOSS_ENTRIES]
    for entry in entries:
        for f in dataclasses.fields(entry):  # type: ignore[arg-type]
            value = getattr(entry, f.name)
            for k, item in enumerate(value if isinstance(value, tuple) else (value,)):
                if isinstance(item, Template):
                    found.append((f"{getattr(entry, 'name', getattr(entry, 'key', '?'))}.{f.name}[{k}]", item))
    return found


NAMES: dict[str, Node | str] = {"net": Sym("net_o1"), "out": Sym("out_o1"), "a": Sym("alpha"), "t": Sym("t_o1")}
NAMES.update({"o": Sym("out_o1"), "n": Const("2")})
NUMBERS: dict[str, Node | str] = {k: Num(v, 9) for k, v in {"net": -0.5, "out": 0.25, "a": 0.01, "t": 1.0}.items()}
NUMBERS.update({"o": Num(-0.75, 9), "n": Const("3"), "times": TIMES})


def _registry_trees() -> list[Node]:
    """Every printed formula of the registry, unfilled (its holes' defaults), filled with names and with numbers."""
    out: list[Node] = []
    for _, f in _registry_formulas():
        out += [f.tree, f.filled(**NAMES), f.filled(**NUMBERS)]
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


# The established look of each registry formula (what the hand-written templates printed, kept by the
# printers), filled with names: Unicode, ASCII, LaTeX.
PRINTED = {
    ("sigmoid", "symbol"): ("σ", "sigma", r"\sigma"),
    ("sigmoid", "definition"): ("1/(1 + e^(−net_o1))", "1/(1 + e^(-net_o1))", r"\frac{1}{1 + e^{-\mathrm{net}_{o1}}}"),
    ("sigmoid", "derivative"): (
        "out_o1·(1 − out_o1)",
        "out_o1*(1 - out_o1)",
        r"\mathrm{out}_{o1} \cdot \left(1 - \mathrm{out}_{o1}\right)",
    ),
    ("tanh", "definition"): ("tanh(net_o1)", "tanh(net_o1)", r"\tanh\left(\mathrm{net}_{o1}\right)"),
    ("tanh", "derivative"): ("1 − out_o1²", "1 - out_o1^2", r"1 - {\mathrm{out}_{o1}}^{2}"),
    ("relu", "symbol"): ("relu", "relu", r"\operatorname{relu}"),
    ("relu", "definition"): ("max(0, net_o1)", "max(0, net_o1)", r"\max\left(0, \mathrm{net}_{o1}\right)"),
    ("relu", "derivative"): (
        "1 if net_o1 > 0, else 0",
        "1 if net_o1 > 0, else 0",
        r"\begin{cases} 1 & \mathrm{net}_{o1} > 0 \\ 0 & \text{otherwise} \end{cases}",
    ),
    ("leaky_relu", "definition"): (
        "net_o1 if net_o1 > 0, else α·net_o1",
        "net_o1 if net_o1 > 0, else alpha*net_o1",
        r"\begin{cases} \mathrm{net}_{o1} & \mathrm{net}_{o1} > 0 \\ "
        r"\alpha \cdot \mathrm{net}_{o1} & \text{otherwise} \end{cases}",
    ),
    ("linear", "definition"): ("net_o1", "net_o1", r"\mathrm{net}_{o1}"),
    ("softplus", "definition"): ("ln(1 + e^net_o1)", "ln(1 + e^net_o1)", r"\ln\left(1 + e^{\mathrm{net}_{o1}}\right)"),
    ("elu", "definition"): (
        "net_o1 if net_o1 > 0, else α·(e^net_o1 − 1)",
        "net_o1 if net_o1 > 0, else alpha*(e^net_o1 - 1)",
        r"\begin{cases} \mathrm{net}_{o1} & \mathrm{net}_{o1} > 0 \\ "
        r"\alpha \left(e^{\mathrm{net}_{o1}} - 1\right) & \text{otherwise} \end{cases}",
    ),
    ("elu", "derivative"): (
        "1 if net_o1 > 0, else α·e^net_o1",
        "1 if net_o1 > 0, else alpha*e^net_o1",
        r"\begin{cases} 1 & \mathrm{net}_{o1} > 0 \\ \alpha e^{\mathrm{net}_{o1}} & \text{otherwise} \end{cases}",
    ),
    ("half_sse", "term"): (
        "½(t_o1 − out_o1)²",
        "1/2*(t_o1 - out_o1)^2",  # never 1/2(t_o1 - out_o1)^2, which reads 1/(2(...)^2)
        r"\tfrac{1}{2}{\left(t_{o1} - \mathrm{out}_{o1}\right)}^{2}",
    ),
    ("half_sse", "gradient"): ("−(t_o1 − out_o1)", "-(t_o1 - out_o1)", r"-\left(t_{o1} - \mathrm{out}_{o1}\right)"),
    ("sse", "gradient"): ("−2(t_o1 − out_o1)", "-2(t_o1 - out_o1)", r"-2\left(t_{o1} - \mathrm{out}_{o1}\right)"),
    ("mse", "term"): (
        "(t_o1 − out_o1)²/2",
        "(t_o1 - out_o1)^2/2",
        r"\frac{{\left(t_{o1} - \mathrm{out}_{o1}\right)}^{2}}{2}",
    ),
    ("mse", "gradient"): (
        "−2(t_o1 − out_o1)/2",
        "-2(t_o1 - out_o1)/2",
        r"-\frac{2\left(t_{o1} - \mathrm{out}_{o1}\right)}{2}",
    ),
    ("bce", "term"): (
        "−[t_o1·ln(out_o1) + (1 − t_o1)·ln(1 − out_o1)]",
        "-[t_o1*ln(out_o1) + (1 - t_o1)*ln(1 - out_o1)]",
        r"-\left[t_{o1} \cdot \ln\left(\mathrm{out}_{o1}\right) + \left(1 - t_{o1}\right) \cdot "
        r"\ln\left(1 - \mathrm{out}_{o1}\right)\right]",
    ),
    ("bce", "gradient"): (
        "−t_o1/out_o1 + (1 − t_o1)/(1 − out_o1)",
        "-t_o1/out_o1 + (1 - t_o1)/(1 - out_o1)",
        r"-\frac{t_{o1}}{\mathrm{out}_{o1}} + \frac{\left(1 - t_{o1}\right)}{\left(1 - \mathrm{out}_{o1}\right)}",
    ),
    ("cross_entropy", "term"): (
        "−t_o1·ln(out_o1)",
        "-t_o1*ln(out_o1)",
        r"-t_{o1} \cdot \ln\left(\mathrm{out}_{o1}\right)",
    ),
}


def _entry_formula(name: str, attribute: str) -> Template:
    entry = functions.activation(name) if name in functions.ACTIVATIONS else functions.loss(name)
    formula = getattr(entry, attribute)
    assert isinstance(formula, Template)
    return formula


@pytest.mark.parametrize("key", PRINTED, ids=[f"{a}.{b}" for a, b in PRINTED])
def test_registry_formula_prints_its_established_form_in_every_format(key: tuple[str, str]) -> None:
    """One tree, every format: Unicode, ASCII (printed: ≠ is !=, ½ is 1/2, ln stays ln), LaTeX, Markdown, MathML."""
    tree = _entry_formula(*key).filled(**NAMES)
    text, plain, tex = PRINTED[key]
    assert (unicode(tree), ascii(tree), latex(tree)) == (text, plain, tex)
    assert markdown(tree) == f"${tex}$" and markdown(tree, math="unicode") == f"`{text}`"
    element = ET.fromstring(mathml(tree))
    assert element.get("alttext") == text


def test_a_registry_template_is_filled_as_a_tree_or_printed() -> None:
    """The small API: template.filled(...) is a Filled node (a tree to place in any formula), template.fill(script,
    ...) the printed string; a string value stands as written, a hole left out prints its default."""
    term = functions.loss("half_sse").term
    node = term.filled(t=Sym("t_o1"), o=Num(0.75, 9))
    assert isinstance(node, Filled) and node == Filled(term, (("t", Sym("t_o1")), ("o", Num(0.75, 9))))
    assert unicode(Sym("E_o1") + EQ + node) == "E_o1 = ½(t_o1 − 0.75)²"
    assert term.fill(t="t", o="out") == "½(t − out)²" == term.unicode
    assert term.fill("ascii", t="t_j", o="a_j") == "1/2*(t_j - a_j)^2"
    assert unicode(Filled(term, (("t", "t_j"),))) == "½(t_j − out)²"  # o left out: its default
    assert term.holes() == {"t", "o"}
    sigmoid = functions.activation("sigmoid").derivative
    assert sigmoid.fill(out="0.75", times=" × ") == "0.75 × (1 − 0.75)"
    assert sigmoid.fill("latex", out=Num(-0.5, 9)) == r"\left(-0.5\right) \cdot \left(1 - \left(-0.5\right)\right)"


def test_every_registry_formula_prints_in_every_format() -> None:
    """Unfilled, with names and with (negative) numbers: ASCII is ASCII and has no '?' (nothing transliterated
    away), no script carries another's markup, LaTeX braces balance, MathML parses with the Unicode as alttext."""
    assert len(_registry_formulas()) >= 40
    for tree in _registry_trees():
        text, plain, tex = unicode(tree), ascii(tree), latex(tree)
        assert text and plain and tex
        assert plain.isascii() and "?" not in plain, plain
        assert "\\" not in text and "\\" not in plain and "$" not in text + plain + tex, (text, plain, tex)
        assert tex.count("{") == tex.count("}"), tex
        assert markdown(tree) == f"${tex}$"
        assert ET.fromstring(mathml(tree, display=True)).get("alttext") == text


def test_no_registry_entry_carries_hand_written_per_format_strings() -> None:
    """Each printed formula of the registry is one tree: a Template holds nothing but it, the tree's words are
    names the printers spell (no LaTeX, no words to print verbatim), and functions.py writes no LaTeX."""
    assert [f.name for f in dataclasses.fields(Template)] == ["tree"]
    for where, formula in _registry_formulas():
        for n in _nodes(formula.tree):
            assert not isinstance(n, Text), f"{where}: words printed as they are in every script"
            for f in dataclasses.fields(n):  # type: ignore[arg-type]
                value = getattr(n, f.name)
                if isinstance(value, str):
                    assert "\\" not in value and "$" not in value, f"{where}: {value!r}"
                    assert value.isascii() or isinstance(n, Fn | Op), f"{where}: {value!r} is Unicode-only"
    source = (Path(functions.__file__)).read_text(encoding="utf-8")
    assert not re.search(r"\\(frac|left|right|cdot|ln|tanh|sigma|alpha|operatorname|tfrac|begin|text)\b", source)
    assert 'Formula("' not in source  # no Formula(unicode, ascii, latex) strings


def _nodes(n: Node) -> list[Node]:
    out = [n]
    for f in dataclasses.fields(n):  # type: ignore[arg-type]
        value = getattr(n, f.name)
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, Node):
                out += _nodes(item)
    return out


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
