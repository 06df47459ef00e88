"""One formula tree, printed per format: Unicode text, ASCII, LaTeX, Markdown and MathML.

A formula is written once, as a tree of the nodes below, and every format is printed from it:

    f = eq(Deriv("E_total", "w5"), Row((Sym("delta_o1"), DOT, Sym("out_h1"))), Num(0.0821670, 9))
    unicode(f)  ∂E_total/∂w5 = δ_o1·out_h1 = 0.082167
    ascii(f)    dE_total/dw5 = delta_o1*out_h1 = 0.082167
    latex(f)    \\frac{\\partial E_{\\mathrm{total}}}{\\partial w_{5}} = \\delta_{o1} \\cdot
                \\mathrm{out}_{h1} = 0.082167
    mathml(f)   <math><mfrac><mrow><mo>∂</mo><msub><mi>E</mi>…</math>

ASCII is printed from the tree (δ_o1 -> delta_o1, ∂E/∂w5 -> dE/dw5, σ -> sigma, ≠ -> !=), never
transliterated from the Unicode. The nodes:

  Sym       a quantity by its vocabulary name (w5, out_h1, net_o1, E_total, t_o1, delta_o1, eta), with
            an optional superscript (w5⁺); the printers lay out its subscript
  Name      a quantity by its sheet name, as written in text (delta_h1@t2, dE/dW_hh_1_2, x1[0,1,1]:1)
  Num       a number at the chosen digits (negative ones in parentheses where they stand in a formula)
  Const     a literal number or count written as it is (1, 2, m)
  Op        an operator between pieces: = × · + − > ≤ ≠ , and the chain rule's spaced ·
  Text      words inside a formula (\\text{…} in LaTeX, <mtext> in MathML)
  Space     a wide space (\\quad)
  Paren     (x)
  Frac      a/b (\\frac{a}{b}); `grouped` writes (a/b) in linear text
  Pow       x², e^x
  Apply     a function applied: σ(net_o1), max(0, …)
  Deriv     ∂E_total/∂w5 (top and bottom vocabulary names, or formulas: ∂E/∂a⁽²⁾₁)
  Ng        a matrix of Ng's vectorized notation by its layer: W[1], dZ[2], A[0] (LaTeX W^{[1]})
  Indexed   a symbol of the index notation, its layer above and indices below: z⁽²⁾₁, W⁽²⁾₁₂, δ⁽ˡ⁾ᵢ
  SumOver   Σ_s x
  Dots      the terms of a long sum not written out: … (3 more)
  Fn        a function's name alone: σ, tanh, relu (the registry's symbol of an activation)
  Cases     a piecewise value: x if net > 0, else α·x (\\begin{cases} in LaTeX)
  Hole      a placeholder of a registry formula (net, out, a, t, o, n, times), filled later
  Filled    a Template (a registry formula) with its holes filled by trees
  Row       pieces side by side (a sum, a product, an equation chain: see eq, join)
  Lines     a formula written on several lines (a table cell: the names, then "= " and the numbers)

A registry formula (bptrace/functions.py) is a `Template`: one tree with `Hole`s, written once. Callers get
it filled as a tree, `template.filled(net=Sym("net_o1"))` (a `Filled` node, placed in any formula), or
printed, `template.fill("ascii", net="net_o1")` (a string value stands in the formula as written).

The terminal uses unicode/ascii, documents latex, Markdown `$…$` LaTeX (or Unicode with math="unicode"),
HTML mathml (no script needed: browsers render MathML Core).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Literal

from bptrace.fmt import num, to_ascii

Script = Literal["unicode", "ascii", "latex", "mathml"]


class Node:
    """A formula tree; `a + b` puts two formulas (or a formula and words) side by side."""

    def __add__(self, other: Node | str) -> Node:
        return Row.of(self, other)

    def __radd__(self, other: Node | str) -> Node:
        return Row.of(other, self)

    # the printed forms, for code that wants one format
    @property
    def text(self) -> str:
        """Unicode text."""
        return unicode(self)

    @property
    def latex(self) -> str:
        return latex(self)


def node(x: Node | str) -> Node:
    """Words given as a str become Text."""
    return Text(x) if isinstance(x, str) else x


@dataclass(frozen=True)
class Row(Node):
    """Pieces side by side."""

    items: tuple[Node, ...] = ()

    @staticmethod
    def of(*parts: Node | str) -> Row:
        items: list[Node] = []
        for part in parts:
            p = node(part)
            if isinstance(p, Row):
                items += p.items
            elif not (isinstance(p, Text) and not p.words):
                items.append(p)
        return Row(tuple(items))


EMPTY = Row()

# vocabulary names -> the letters a formula shows
_GREEK = {"delta": ("δ", r"\delta"), "eta": ("η", r"\eta"), "lambda": ("λ", r"\lambda"), "Delta": ("Δ", r"\Delta")}
_GREEK.update({"theta": ("θ", r"\theta"), "sigma": ("σ", r"\sigma"), "alpha": ("α", r"\alpha")})
_PREFIX = {"net": r"\mathrm{net}", "out": r"\mathrm{out}", "E": "E", "t": "t", "delta": r"\delta", "s": "s"}
_SUP = {"+": ("⁺", "+"), "2": ("²", "^2"), "T": ("ᵀ", "^T")}


@dataclass(frozen=True)
class Sym(Node):
    """A quantity by its vocabulary name (w5, out_h1, E_total, delta_o1, eta), optionally with a superscript
    ('+' for the updated value, w5⁺). Greek names (delta, eta, lambda, Delta, theta) print as letters."""

    name: str
    sup: str = ""


@dataclass(frozen=True)
class Name(Node):
    """A quantity by the name a sheet gives it (docs/quantities.md: delta_h1@t2, dE/dW_hh_1_2, x1[0,1,1]:1,
    xhat2_1:3), printed as written in Unicode and ASCII (the name a student copies into a sheet, no δ for
    delta); LaTeX and MathML typeset it: ∂E/∂… as a derivative, the indices below, a sample :k as ⁽ᵏ⁾ and a
    time step @t2 as ⟨2⟩ above, + for an updated value. A name of no such shape is set as words."""

    name: str


@dataclass(frozen=True)
class Num(Node):
    """A number printed at `digits` significant digits; `paren`: a negative one in parentheses."""

    value: float
    digits: int
    paren: bool = True


@dataclass(frozen=True)
class Const(Node):
    """A number or count written as it is: 1, 2, 0.5, m."""

    value: str


@dataclass(frozen=True)
class Op(Node):
    """An operator: '=', '×', '·' (tight, between names), ' · ' (the chain rule's), '+', '−', '>', '≤', ','."""

    symbol: str


@dataclass(frozen=True)
class Text(Node):
    """Words (with their spaces) inside a formula."""

    words: str


@dataclass(frozen=True)
class Space(Node):
    """A wide space: `cells` spaces in text, \\quad in LaTeX."""

    cells: int = 2


@dataclass(frozen=True)
class Paren(Node):
    """(body); brackets="[]": [body]."""

    body: Node
    brackets: str = "()"


@dataclass(frozen=True)
class Frac(Node):
    """top/bottom; `grouped` writes (top/bottom) in linear text (inside a product); `small`: a number's
    fraction written as a coefficient (½ in Unicode, 1/2 in ASCII, \\tfrac{1}{2} in LaTeX)."""

    top: Node
    bottom: Node
    grouped: bool = False
    small: bool = False


@dataclass(frozen=True)
class Pow(Node):
    """base^exponent: a small digit as a superscript in Unicode (x²); `chained`: a power as the exponent
    written without parentheses in linear text, as a right-associative chain reads (2^3^2)."""

    base: Node
    exponent: Node
    chained: bool = False


@dataclass(frozen=True)
class Apply(Node):
    """A function applied to its argument(s): σ(net_o1), max(0, x). `fn` is the function's name."""

    fn: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Deriv(Node):
    """∂top/∂bottom, top and bottom vocabulary names (or formulas, an Indexed symbol)."""

    top: str | Node
    bottom: str | Node


def _part(x: str | Node) -> Node:
    return Sym(x) if isinstance(x, str) else x


@dataclass(frozen=True)
class Ng(Node):
    """A matrix (or a count) of Ng's vectorized notation, by its layer in brackets: W[1], dZ[2], n[0], g[1]."""

    name: str
    layer: int | str


_LAYER_SUP = str.maketrans("0123456789+-−()lL", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁽⁾ˡᴸ")
_INDEX_SUB = str.maketrans("0123456789ijks", "₀₁₂₃₄₅₆₇₈₉ᵢⱼₖₛ")


@dataclass(frozen=True)
class Indexed(Node):
    """A symbol of the index notation ("Backpropagation in Neural Networks"): `letter` (z, a, W, b, delta, t)
    with its layer as a superscript in parentheses (a number, or l, L, l+1; none when '') and its indices
    below (1-based numbers, or i, j, k): z⁽²⁾₁, W⁽²⁾₁₂, δ⁽ˡ⁾ᵢ, t₁. Indices above 9 are separated by commas."""

    letter: str
    layer: str
    indices: tuple[str, ...] = ()

    def _joined(self) -> str:
        wide = any(i.isdigit() and int(i) > 9 for i in self.indices)
        return ("," if wide else "").join(self.indices)


@dataclass(frozen=True)
class SumOver(Node):
    """Σ_index body."""

    index: str
    body: Node


@dataclass(frozen=True)
class Dots(Node):
    """Terms not written out, with words saying how many: … (3 more)."""

    words: str = ""


@dataclass(frozen=True)
class Lines(Node):
    """A formula on several lines, one node each (a table cell: the names, then "= " and the numbers)."""

    lines: tuple[Node, ...]


def lines_of(n: Node) -> list[Node]:
    """The lines of a formula: a Lines node's, else the formula itself as its one line."""
    return list(n.lines) if isinstance(n, Lines) else [n]


@dataclass(frozen=True)
class Fn(Node):
    """A function's name alone (σ, tanh, relu): sigma in ASCII, \\sigma, \\tanh, \\operatorname{relu} in LaTeX."""

    name: str


@dataclass(frozen=True)
class Cases(Node):
    """`then` if `when`, else `otherwise` (LaTeX: \\begin{cases} … \\text{otherwise} \\end{cases})."""

    then: Node
    when: Node
    otherwise: Node


@dataclass(frozen=True)
class Hole(Node):
    """A placeholder of a registry formula (net, out, a, t, o, n, times), filled by `Filled`; unfilled, it
    prints `default` (or its name as a quantity)."""

    name: str
    default: Node | None = None


@dataclass(frozen=True)
class Template:
    """A registry formula: one tree with holes, written once; every format is printed from it.

    `filled(**holes)` is the formula as a tree (a `Filled` node), `fill(script, **holes)` the same printed;
    a hole's value is a tree, or a string that stands in the formula as written (in the script asked for).
    `unicode`, `ascii` and `latex` print it with every hole unfilled (its default: net, out, α, ·)."""

    tree: Node

    def filled(self, **holes: Node | str) -> Filled:
        """The formula with the holes given filled, as a tree (holes not given print their default)."""
        return Filled(self, tuple(holes.items()))

    def fill(self, script: Script = "unicode", **holes: Node | str) -> str:
        """The formula with the holes given filled, printed in `script`."""
        return printed(self.filled(**holes), script)

    def holes(self) -> frozenset[str]:
        """The names of the holes in the tree."""
        return frozenset(h.name for h in _walk(self.tree) if isinstance(h, Hole))

    @property
    def unicode(self) -> str:
        return unicode(self.tree)

    @property
    def ascii(self) -> str:
        return ascii(self.tree)

    @property
    def latex(self) -> str:
        return latex(self.tree)


@dataclass(frozen=True)
class Filled(Node):
    """A registry formula (a Template, or a tree with holes) with its holes filled: each value a tree, or a
    string that stands in the formula as written. `tree` is the formula with the holes replaced."""

    template: Template | Node
    values: tuple[tuple[str, Node | str], ...] = ()

    @property
    def tree(self) -> Node:
        base = self.template.tree if isinstance(self.template, Template) else self.template
        return _substitute(base, {k: Const(v) if isinstance(v, str) else v for k, v in self.values})


def _children(n: Node) -> Iterable[Node]:
    if isinstance(n, Filled):
        yield n.template.tree if isinstance(n.template, Template) else n.template
        yield from (v for _, v in n.values if isinstance(v, Node))
        return
    for f in fields(n):  # type: ignore[arg-type]  # every Node is a dataclass
        v = getattr(n, f.name)
        if isinstance(v, Node):
            yield v
        elif isinstance(v, tuple):
            yield from (x for x in v if isinstance(x, Node))


def _walk(n: Node) -> Iterable[Node]:
    yield n
    for child in _children(n):
        yield from _walk(child)


def _substitute(n: Node, values: Mapping[str, Node]) -> Node:
    """n with each Hole named in `values` replaced by its value (a Filled inside keeps its own holes' values)."""
    if isinstance(n, Hole):
        return values.get(n.name, n)
    if isinstance(n, Filled):
        inner = tuple((k, _substitute(v, values) if isinstance(v, Node) else v) for k, v in n.values)
        return replace(n, values=inner)
    changes: dict[str, object] = {}
    for f in fields(n):  # type: ignore[arg-type]
        v = getattr(n, f.name)
        if isinstance(v, Node):
            new: object = _substitute(v, values)
        elif isinstance(v, tuple) and any(isinstance(x, Node) for x in v):
            items = tuple(_substitute(x, values) if isinstance(x, Node) else x for x in v)
            new = v if all(a is b for a, b in zip(items, v, strict=True)) else items
        else:
            continue
        if new is not v:
            changes[f.name] = new
    return replace(n, **changes) if changes else n  # type: ignore[type-var]


# ---------------------------------------------------------------------------------------------------
# Building


def join(items: Iterable[Node], sep: Node) -> Row:
    """items[0] sep items[1] sep …"""
    parts: list[Node] = []
    for k, item in enumerate(items):
        parts += [sep, item] if k else [item]
    return Row.of(*parts)


def eq(*sides: Node) -> Row:
    """The equation chain a = b = c."""
    return join(sides, EQ)


def sentence(words: str, **parts: Node | str) -> Row:
    """Translated words with formulas in their {placeholders}: sentence(_("{head}, {sum} over the samples"),
    head=…, sum=…) is the words as Text and each placeholder's formula as itself, in the translation's order."""
    items: list[Node | str] = []
    for k, piece in enumerate(re.split(r"\{(\w+)\}", words)):
        items.append(parts[piece] if k % 2 else piece)
    return Row.of(*items)


EQ = Op("=")
THEN = Op("= ")  # a continuation line's leading "= " (a cell's second line: = 0.15×0.05 + …)
TIMES = Op("×")
NUMBER_TIMES = Op("×·")  # × between two numbers with no space around it: 0.15×0.05
SUM = Op("Σ ")  # Σ before its terms (Σ W²); SumOver for a sum with its index under it
SUM_S = Op("Σ_s")  # Σ over the samples s, written before a name or a product
DOT = Op("·")  # inside a product of names: δ_o1·w5
IMPLIED = Op("\u2062")  # the same product, written side by side in LaTeX and MathML (invisible times)
CHAIN = Op(" · ")  # between the factors of the chain rule
PLUS = Op("+")
MINUS = Op("−")
COMMA = Op(",")

# ---------------------------------------------------------------------------------------------------
# Printing: one function per format

# operator: unicode, ascii, latex, MathML
_OPS = {
    "=": (" = ", " = ", " = ", "="),
    "= ": ("= ", "= ", "= ", "="),
    "+ ": ("+ ", "+ ", "+ ", "+"),
    ":=": (" := ", " := ", r" \mathrel{:=} ", ":="),  # an update: W[1] := W[1] − α·dW[1]
    "⊙": (" ⊙ ", " (.) ", r" \odot ", "⊙"),  # the element-wise product
    "′": ("′", "'", "{}'", "′"),  # a derivative's prime: g[1]′(Z[1]) (LaTeX: on an empty group, after g^{[1]})
    "'": ("'", "'", "{}'", "′"),  # the same prime where a name spells it in ASCII (a layer stack's relu'(z))
    "⁺": ("⁺", "+", "^{+}", "+"),  # an updated value: x⁺ (after a name that is not a Sym)
    " | ": (" | ", " | ", r" \mid ", "|"),  # a continuation line's leading "+ " (+ (λ/m)·W⁽ˡ⁾ᵢⱼ = …)
    "×·": ("×", "*", r" \times ", "×"),
    " / ": (" / ", " / ", " / ", "/"),
    "Σ ": ("Σ ", "sum ", r"\sum ", "Σ"),  # a sum sign before its terms: Σ W², Σ e^net
    "Σ_s": ("Σ_s", "sum_s", r"\sum_{s}", "Σ"),  # over the samples, before a name: Σ_s E_total:s
    "Σₛ": ("Σₛ", "sum_s", r"\sum_{s}", "Σ"),
    "Σᵢ": ("Σᵢ", "sum_i", r"\sum_{i}", "Σ"),
    "Σⱼ": ("Σⱼ", "sum_j", r"\sum_{j}", "Σ"),
    "Σₖ": ("Σₖ", "sum_k", r"\sum_{k}", "Σ"),
    "×": (" × ", " * ", r" \times ", "×"),
    "·": ("·", "*", r" \cdot ", "·"),
    "\u2062": ("·", "*", " ", "\u2062"),  # a product LaTeX writes side by side: α·(e^net − 1), \alpha \left(…
    " · ": (" · ", " * ", r" \cdot ", "·"),
    "*": ("*", "*", r" \cdot ", "·"),  # a product an ASCII rule writes so in Unicode too (batch norm's compact one)
    " * ": (" * ", " * ", r" \cdot ", "·"),
    "+": (" + ", " + ", " + ", "+"),
    "−": (" − ", " - ", " - ", "−"),
    "-": ("−", "-", "-", "−"),  # a sign: −1, −(t − out)
    ">": (" > ", " > ", " > ", ">"),
    "<": (" < ", " < ", " < ", "<"),
    "≤": (" ≤ ", " <= ", r" \le ", "≤"),
    "≠": (" ≠ ", " != ", r" \ne ", "≠"),
    ",": (", ", ", ", ", ", ","),
    "/": ("/", "/", "/", "/"),
    "@": ("@", "@", "@", "@"),
    "──►": (" ──► ", " --> ", r" \to ", "→"),  # along a path to E_total
}
_FNS = {
    "f′": ("f′", "f'", "f'"),
    "σ": ("σ", "sigma", r"\sigma"),
    "max": ("max", "max", r"\max"),
    "tanh": ("tanh", "tanh", r"\tanh"),
}
_FNS["ln"] = ("ln", "ln", r"\ln")
_VULGAR = {("1", "2"): "½", ("1", "3"): "⅓", ("2", "3"): "⅔", ("1", "4"): "¼", ("3", "4"): "¾"}


def _fn(name: str, script: int) -> str:
    """A function's name in script 0 (Unicode), 1 (ASCII) or 2 (LaTeX)."""
    return _FNS.get(name, (name, name, r"\operatorname{" + name + "}"))[script]


def _compound(n: Node) -> bool:
    """Whether n needs parentheses as an exponent or a power's base in linear text (e^(−net), not e^−net)."""
    if isinstance(n, Filled):
        return _compound(n.tree)
    if isinstance(n, Hole):
        return n.default is not None and _compound(n.default)
    return (isinstance(n, Row) and len(n.items) > 1) or isinstance(n, Frac | Pow | SumOver | Cases)


def _sum(n: Node) -> bool:
    """Whether n is a sum or difference at its top level (the top of a/b then needs parentheses)."""
    if isinstance(n, Filled):
        return _sum(n.tree)
    return isinstance(n, Row) and any(isinstance(x, Op) and x.symbol in ("+", "−") for x in n.items)


def _starts_with_op(n: Node) -> bool:
    if isinstance(n, Row):
        return bool(n.items) and _starts_with_op(n.items[0])
    if isinstance(n, Filled):
        return _starts_with_op(n.tree)
    return isinstance(n, Op | Text | Space)


def _sym_text(s: Sym, script: Literal["unicode", "ascii"]) -> str:
    head, sep, rest = s.name.partition("_")
    if head in _GREEK and script == "unicode":
        head = _GREEK[head][0]
    sup = _SUP.get(s.sup, (s.sup, s.sup))[0 if script == "unicode" else 1] if s.sup else ""
    return head + sep + rest + sup


def _text(n: Node, script: Literal["unicode", "ascii"]) -> str:
    u = script == "unicode"

    def t(x: Node) -> str:
        return _text(x, script)

    if isinstance(n, Row):
        out = []
        for k, x in enumerate(n.items):
            out.append(t(x))
            # a linear fraction before a factor: 1/2*(t - out)^2, never 1/2(t - out)^2 (read 1/(2(t - out)^2))
            factor_follows = k + 1 < len(n.items) and not _starts_with_op(n.items[k + 1])
            if isinstance(x, Frac) and not x.grouped and factor_follows and "/" in out[-1]:
                out.append("·" if u else "*")
        return "".join(out)
    if isinstance(n, Sym):
        return _sym_text(n, script)
    if isinstance(n, Name):
        return n.name
    if isinstance(n, Num):
        text = num(n.value, n.digits)
        return f"({text})" if n.paren and text.startswith("-") else text
    if isinstance(n, Const):
        return n.value
    if isinstance(n, Op):
        return _OPS[n.symbol][0 if u else 1]
    if isinstance(n, Text):  # words: a symbol in them (a note's ∂E/∂w5) spelled in ASCII, the words kept
        return n.words if u else to_ascii(n.words)
    if isinstance(n, Space):
        return " " * n.cells
    if isinstance(n, Paren):
        return f"{n.brackets[0]}{t(n.body)}{n.brackets[-1]}"
    if isinstance(n, Frac):
        if n.small and u and isinstance(n.top, Const) and isinstance(n.bottom, Const):
            glyph = _VULGAR.get((n.top.value, n.bottom.value))
            if glyph:
                return glyph
        top, bottom = t(n.top), t(n.bottom)
        if _sum(n.top):
            top = f"({top})"
        if _compound(n.bottom) and not isinstance(n.bottom, Pow):
            bottom = f"({bottom})"  # λ/(2m)
        inner = f"{top}/{bottom}"
        return f"({inner})" if n.grouped else inner
    if isinstance(n, Pow):
        e = t(n.exponent)
        base = t(n.base)
        if _compound(n.base):
            base = f"({base})"
        if isinstance(n.exponent, Const) and e in _SUP:
            return base + _SUP[e][0 if u else 1]
        bare = n.chained and isinstance(n.exponent, Pow)
        return f"{base}^({e})" if _compound(n.exponent) and not bare else f"{base}^{e}"
    if isinstance(n, Apply):
        return f"{_fn(n.fn, 0 if u else 1)}({', '.join(t(a) for a in n.args)})"
    if isinstance(n, Fn):
        return _fn(n.name, 0 if u else 1)
    if isinstance(n, Cases):
        return f"{t(n.then)} if {t(n.when)}, else {t(n.otherwise)}"
    if isinstance(n, Deriv):
        d = "∂" if u else "d"
        return f"{d}{t(_part(n.top))}/{d}{t(_part(n.bottom))}"
    if isinstance(n, Ng):
        return f"{n.name}[{n.layer}]"
    if isinstance(n, Indexed):
        letter = _GREEK[n.letter][0] if u and n.letter in _GREEK else n.letter
        layer = f"({n.layer})" if n.layer else ""
        if u:
            return letter + layer.translate(_LAYER_SUP) + n._joined().translate(_INDEX_SUB)
        return letter + layer + n._joined()
    if isinstance(n, SumOver):
        sigma = "Σ" if u else "sum"
        return f"{sigma}_{n.index} {t(n.body)}" if n.index else sigma + t(n.body)
    if isinstance(n, Dots):
        dots = "…" if u else "..."
        return f"{dots} ({n.words})" if n.words else dots
    if isinstance(n, Hole):
        return t(n.default or Sym(n.name))
    if isinstance(n, Filled):
        return t(n.tree)
    if isinstance(n, Lines):
        return "\n".join(t(x) for x in n.lines)
    raise TypeError(f"not a formula node: {n!r}")


def unicode(n: Node) -> str:
    """The formula in Unicode text: ∂E_total/∂w5 = δ_o1·out_h1."""
    return _text(n, "unicode")


def ascii(n: Node) -> str:
    """The formula in ASCII, printed from the tree: dE_total/dw5 = delta_o1*out_h1."""
    return _text(n, "ascii")


def _escape(text: str) -> str:
    return text.replace("_", r"\_")


_TEX_SPECIAL = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#", "%": r"\%"}
_TEX_SPECIAL.update({"_": r"\_", "^": r"\^{}", "~": r"\~{}"})


# symbols inside words (a note's "∂E/∂net_h1 = δ_h1"): math inside \\text{…}
_TEX_SYMBOLS = {"∂": r"\partial", "δ": r"\delta", "σ": r"\sigma", "η": r"\eta", "λ": r"\lambda", "Δ": r"\Delta"}
_TEX_SYMBOLS.update({"θ": r"\theta", "α": r"\alpha", "Σ": r"\Sigma", "−": "-", "×": r"\times", "·": r"\cdot"})
_TEX_SYMBOLS.update({"≤": r"\le", "≥": r"\ge", "≠": r"\ne", "→": r"\to", "⁺": "^{+}", "²": "^{2}", "′": "'"})
_TEX_SYMBOLS.update({"…": r"\dots", "½": r"\tfrac{1}{2}"})


def tex_words(text: str) -> str:
    """Prose (English or its translation) for inside LaTeX's \\text{…}: the specials escaped, mathematical
    symbols as inline math ($\\partial$), the rest (Chinese included) kept."""
    import unicodedata

    out = []
    for ch in text:
        if ch in _TEX_SYMBOLS:
            out.append("$" + _TEX_SYMBOLS[ch] + "$" if ch != "−" else "-")
        elif ch.isascii() or unicodedata.east_asian_width(ch) in "WF":  # Chinese is kept (xelatex with ctex)
            out.append(_TEX_SPECIAL.get(ch, ch))
        elif ch == "✓":  # "✓ equals SymPy's": the words say it
            continue
        else:  # another symbol (✗, ─): spelled in ASCII
            out.append("".join(_TEX_SPECIAL.get(c, c) for c in to_ascii(ch) if c.isascii()))
    return "".join(out)


def latex_name(name: str) -> str:
    """A vocabulary name in LaTeX: out_h1 -> \\mathrm{out}_{h1}, w5 -> w_{5}, E_total -> E_{\\mathrm{total}}."""
    base, colon, sample = name.partition(":")
    if colon and sample and base:  # a sample's quantity, E_total:2: its sample as a superscript
        return "{" + latex_name(base) + "}^{(" + _escape(sample) + ")}"
    if name == "E_total":
        return r"E_{\mathrm{total}}"
    if name in _GREEK:
        return _GREEK[name][1]
    if name in ("out", "net"):  # the names of a neuron's two values, without the neuron: out·(1 − out)
        return rf"\mathrm{{{name}}}"
    if len(name) == 1 and name.isalpha():  # m, W, P, s
        return name
    head, sep, rest = name.partition("_")
    if sep and head in _PREFIX:
        if re.fullmatch(r"[A-Za-z]*\d+(?:_\d+)+", rest):  # out_h1_2: neuron h1 of position 2 -> h1,2
            return f"{_PREFIX[head]}_{{{rest.replace('_', ',')}}}"
        return f"{_PREFIX[head]}_{{{latex_name(rest) if '_' in rest else _escape(rest)}}}"
    m = re.fullmatch(r"([A-Za-z])(\d+(?:_\d+)+)", name)
    if m:  # W2_1_3: a weight by its layer and indices -> W_{2,1,3}
        return f"{m.group(1)}_{{{m.group(2).replace('_', ',')}}}"
    if sep and len(head) == 1 and "," in rest:  # w_k,h1: a weight by its two ends
        return f"{head}_{{{_escape(rest)}}}"
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    if m:
        return f"{m.group(1)}_{{{m.group(2)}}}"
    return r"\mathit{" + _escape(name) + "}"


_SHEET_LETTERS = {"mu": (r"\mu", "μ"), "gamma": (r"\gamma", "γ"), "beta": (r"\beta", "β"), "eps": (r"\varepsilon", "ε")}
_SHEET_BASE = re.compile(r"([A-Za-z]+?)(\d*)((?:_[A-Za-z0-9]+)*)")


@dataclass(frozen=True)
class _SheetName:
    """A sheet name's parts: the E on top of a derivative (or ""), its letter, indices, [position] and
    superscripts (a sample's (k), a time step's ⟨t⟩, +)."""

    top: str | None  # None: not a derivative; else E's own index ("" for plain E)
    letter: str
    indices: tuple[str, ...]
    position: str
    sample: str
    time: str
    plus: bool


def _sheet_name(name: str) -> _SheetName | None:
    """The parts of a sheet name (delta_h1@t2, dE/dK1[0,1,0,1], dE_2/da3_1:2, W5+), or None for another text."""
    rest, plus = (name[:-1], True) if name.endswith("+") else (name, False)
    time = sample = position = ""
    m = re.fullmatch(r"(.+)@t(\d+)", rest)
    if m:
        rest, time = m.group(1), m.group(2)
    m = re.fullmatch(r"(.+):(\d+)", rest)
    if m:
        rest, sample = m.group(1), m.group(2)
    top = None
    m = re.fullmatch(r"dE(?:_(\d+))?/d(.+)", rest)
    if m:
        top, rest = m.group(1) or "", m.group(2)
    m = re.fullmatch(r"(.+?)\[([0-9,]+)\]", rest)
    if m:
        rest, position = m.group(1), m.group(2)
    m = _SHEET_BASE.fullmatch(rest)
    if m is None:
        return None
    indices = ((m.group(2),) if m.group(2) else ()) + tuple(x for x in m.group(3).split("_") if x)
    return _SheetName(top, m.group(1), indices, position, sample, time, plus)


def _sheet_name_latex(name: str) -> str:
    """A sheet name in LaTeX: delta_h1@t2 -> \\delta_{h1}^{\\langle 2\\rangle}, W_hh_1_2 -> W_{hh,1,2},
    dE/dK1[0,1,0,1] -> \\partial E/\\partial K_{1}[0,1,0,1]; another text as words (\\text{…})."""
    p = _sheet_name(name)
    if p is None:
        return r"\text{" + tex_words(name) + "}"
    if p.letter in _GREEK:
        letter = _GREEK[p.letter][1]
    elif p.letter in _SHEET_LETTERS:
        letter = _SHEET_LETTERS[p.letter][0]
    elif p.letter == "xhat":
        letter = r"\hat{x}"
    else:
        letter = p.letter if len(p.letter) == 1 else r"\mathrm{" + p.letter + "}"
    subs = [i if re.fullmatch(r"[A-Za-z]{0,2}\d*", i) else r"\mathrm{" + i + "}" for i in p.indices]
    body = letter + ("_{" + ",".join(subs) + "}" if subs else "")
    if p.position:
        body += "[" + p.position + "]"
    sups = [f"({p.sample})"] if p.sample else []
    sups += [rf"\langle {p.time}\rangle"] if p.time else []
    sups += ["+"] if p.plus else []
    if sups:
        body = "{" + body + "}^{" + ",".join(sups) + "}"
    if p.top is None:
        return body
    return r"\partial E" + (f"_{{{p.top}}}" if p.top else "") + r"/\partial " + body


def _num_latex(value: float, digits: int) -> str:
    text = num(value, digits)
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}"
    return text


def latex(n: Node) -> str:
    """The formula in LaTeX (math mode, amsmath)."""
    t = latex
    if isinstance(n, Row):
        return "".join(t(x) for x in n.items)
    if isinstance(n, Sym):
        base = latex_name(n.name)
        if n.sup and "^" in base:  # a superscript already (a sample's): one group, then the next
            base = "{" + base + "}"
        return base + (f"^{{{n.sup}}}" if n.sup else "")
    if isinstance(n, Name):
        return _sheet_name_latex(n.name)
    if isinstance(n, Num):
        text = _num_latex(n.value, n.digits)
        return rf"\left({text}\right)" if n.paren and text.startswith("-") else text
    if isinstance(n, Const):
        return n.value
    if isinstance(n, Op):
        return _OPS[n.symbol][2]
    if isinstance(n, Text):
        return r"\text{" + tex_words(n.words) + "}"
    if isinstance(n, Space):
        return r"\quad "
    if isinstance(n, Paren):
        return rf"\left{n.brackets[0]}{t(n.body)}\right{n.brackets[-1]}"
    if isinstance(n, Frac):
        return rf"\{'t' if n.small else ''}frac{{{t(n.top)}}}{{{t(n.bottom)}}}"
    if isinstance(n, Pow):
        base = t(n.base)
        if not isinstance(n.base, Const | Sym) or len(base) > 1:
            base = "{" + base + "}"
        return f"{base}^{{{t(n.exponent)}}}"
    if isinstance(n, Apply):
        return _fn(n.fn, 2) + r"\left(" + ", ".join(t(a) for a in n.args) + r"\right)"
    if isinstance(n, Fn):
        return _fn(n.name, 2)
    if isinstance(n, Cases):
        return rf"\begin{{cases}} {t(n.then)} & {t(n.when)} \\ {t(n.otherwise)} & \text{{otherwise}} \end{{cases}}"
    if isinstance(n, Deriv):
        return rf"\frac{{\partial {t(_part(n.top))}}}{{\partial {t(_part(n.bottom))}}}"
    if isinstance(n, Ng):
        return f"{n.name}^{{[{n.layer}]}}"
    if isinstance(n, Indexed):
        letter = _GREEK[n.letter][1] if n.letter in _GREEK else n.letter
        layer = n.layer.replace("−", "-")
        return letter + (f"^{{({layer})}}" if n.layer else "") + (f"_{{{n._joined()}}}" if n.indices else "")
    if isinstance(n, SumOver):
        return (rf"\sum_{{{n.index}}} " if n.index else r"\sum ") + t(n.body)
    if isinstance(n, Dots):
        return rf"\dots\ (\text{{{tex_words(n.words)}}})" if n.words else r"\dots"
    if isinstance(n, Hole):
        return t(n.default or Sym(n.name))
    if isinstance(n, Filled):
        return t(n.tree)
    if isinstance(n, Lines):  # a table cell's printer sets each line on its own (lines_of)
        return r"\begin{array}{@{}l@{}}" + r" \\ ".join(t(x) for x in n.lines) + r"\end{array}"
    raise TypeError(f"not a formula node: {n!r}")


def markdown(n: Node, math: str = "latex") -> str:
    """Markdown: $…$ LaTeX (GitHub, Jupyter, Typora and Zhihu render it), or with math="unicode" the
    Unicode text as inline code."""
    if math == "unicode":
        return "`" + unicode(n).replace("`", "'") + "`"
    return "$" + latex(n) + "$"


# ---------------------------------------------------------------------------------------------------
# MathML (Core: rendered by every current browser with no script)


def _escape_xml(text: str, quote: bool) -> str:
    import html  # here, not at start-up: it loads html.entities, and the registry imports this module

    return html.escape(text, quote=quote)


def _e(text: str) -> str:
    return _escape_xml(text, quote=False)


def _mi(text: str) -> str:
    return f"<mi>{_e(text)}</mi>" if len(text) == 1 else f'<mi mathvariant="normal">{_e(text)}</mi>'


def _mo(text: str) -> str:
    return f"<mo>{_e(text)}</mo>"


def _mrow(*parts: str) -> str:
    return "<mrow>" + "".join(parts) + "</mrow>"


def _name_ml(name: str, sup: str = "") -> str:
    head, sep, rest = name.partition("_")
    if not sep:
        m = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
        head, rest = (m.group(1), m.group(2)) if m else (name, "")
    letter = _GREEK[head][0] if head in _GREEK else head
    base = _mi(letter)
    if rest:
        if "_" in rest and rest.partition("_")[0] in _PREFIX:
            inner = _name_ml(rest)
        else:
            inner = "<mn>" + _e(rest) + "</mn>" if rest.isdigit() else _mi(rest)
        base = f"<msub>{base}{inner}</msub>"
    if sup:
        base = f"<msup>{base}{_mo(sup)}</msup>"
    return base


def _num_ml(value: float, digits: int, paren: bool) -> str:
    text = num(value, digits)
    negative = text.startswith("-")
    text = text.lstrip("-")
    if "e" in text:
        mantissa, exponent = text.split("e")
        e = int(exponent)
        power = "<mn>10</mn>" + ("<mrow><mo>−</mo><mn>" + str(-e) + "</mn></mrow>" if e < 0 else f"<mn>{e}</mn>")
        body = f"<mn>{mantissa}</mn><mo>·</mo><msup>{power}</msup>"
    else:
        body = f"<mn>{text}</mn>"
    if not negative:
        return body
    signed = _mrow(_mo("−"), body)
    return _mrow(_mo("("), signed, _mo(")")) if paren else signed


def _sheet_name_ml(name: str) -> str:
    """A sheet name in MathML (the parts _sheet_name_latex sets in LaTeX); another text as <mtext>."""
    p = _sheet_name(name)
    if p is None:
        return f"<mtext>{_e(name)}</mtext>"
    if p.letter in _GREEK:
        letter = _mi(_GREEK[p.letter][0])
    elif p.letter in _SHEET_LETTERS:
        letter = _mi(_SHEET_LETTERS[p.letter][1])
    elif p.letter == "xhat":
        letter = '<mover accent="true"><mi>x</mi><mo>^</mo></mover>'
    else:
        letter = _mi(p.letter)
    body = f"<msub>{letter}{_mi(','.join(p.indices))}</msub>" if p.indices else letter
    if p.position:
        body = _mrow(body, _mo("["), f"<mn>{_e(p.position)}</mn>", _mo("]"))
    sups = [f"({p.sample})"] if p.sample else []
    sups += [f"⟨{p.time}⟩"] if p.time else []
    sups += ["+"] if p.plus else []
    if sups:
        body = f"<msup>{body}<mrow><mi>{_e(','.join(sups))}</mi></mrow></msup>"
    if p.top is None:
        return body
    top = f"<msub><mi>E</mi><mn>{p.top}</mn></msub>" if p.top else "<mi>E</mi>"
    return _mrow(_mo("∂"), top, _mo("/"), _mo("∂"), body)


def _ml(n: Node) -> str:
    t = _ml
    if isinstance(n, Row):
        return _mrow(*(t(x) for x in n.items))
    if isinstance(n, Sym):
        return _name_ml(n.name, n.sup)
    if isinstance(n, Name):
        return _sheet_name_ml(n.name)
    if isinstance(n, Num):
        return _num_ml(n.value, n.digits, n.paren)
    if isinstance(n, Const):
        return f"<mn>{_e(n.value)}</mn>" if re.fullmatch(r"[\d.]+", n.value) else _mi(n.value)
    if isinstance(n, Op):
        return _mo(_OPS[n.symbol][3])
    if isinstance(n, Text):
        return f"<mtext>{_e(n.words)}</mtext>".replace("<mtext> ", "<mtext>\u00a0").replace(
            " </mtext>", "\u00a0</mtext>"
        )
    if isinstance(n, Space):
        return '<mspace width="1em"></mspace>'
    if isinstance(n, Paren):
        return _mrow(_mo(n.brackets[0]), t(n.body), _mo(n.brackets[-1]))
    if isinstance(n, Frac):
        if n.small and isinstance(n.top, Const) and isinstance(n.bottom, Const):
            glyph = _VULGAR.get((n.top.value, n.bottom.value))
            if glyph:  # a coefficient: ½ at the size of the text
                return f"<mn>{glyph}</mn>"
        return f"<mfrac>{t(n.top)}{t(n.bottom)}</mfrac>"
    if isinstance(n, Pow):
        return f"<msup>{t(n.base)}{t(n.exponent)}</msup>"
    if isinstance(n, Fn):
        return _mi(_fn(n.name, 0))
    if isinstance(n, Cases):
        return _mrow(t(n.then), t(Text(" if ")), t(n.when), _mo(","), t(Text(" else ")), t(n.otherwise))
    if isinstance(n, Apply):
        fn = _fn(n.fn, 0)
        args = [t(a) for a in n.args]
        inner = [x for k, a in enumerate(args) for x in ([_mo(","), a] if k else [a])]
        return _mrow(_mi(fn), _mo("\u2061"), _mo("("), *inner, _mo(")"))
    if isinstance(n, Deriv):
        top, bottom = (_name_ml(x) if isinstance(x, str) else t(x) for x in (n.top, n.bottom))
        return f"<mfrac>{_mrow(_mo('∂'), top)}{_mrow(_mo('∂'), bottom)}</mfrac>"
    if isinstance(n, Ng):
        return f"<msup>{_mi(n.name)}{_mrow(_mo('['), _ml(Const(str(n.layer))), _mo(']'))}</msup>"
    if isinstance(n, Indexed):
        letter = _mi(_GREEK[n.letter][0] if n.letter in _GREEK else n.letter)
        sub = _mi(n._joined()) if n.indices else ""
        if not n.layer:
            return f"<msub>{letter}{sub}</msub>" if sub else letter
        sup = _mrow(_mo("("), _mi(n.layer) if not n.layer.isdigit() else f"<mn>{n.layer}</mn>", _mo(")"))
        return f"<msubsup>{letter}{sub}{sup}</msubsup>" if sub else f"<msup>{letter}{sup}</msup>"
    if isinstance(n, SumOver):
        sigma = f"<msub><mo>Σ</mo>{_mi(n.index)}</msub>" if n.index else "<mo>Σ</mo>"
        return _mrow(sigma, t(n.body))
    if isinstance(n, Dots):
        return _mrow(_mo("…"), f"<mtext>\u00a0({_e(n.words)})</mtext>" if n.words else "")
    if isinstance(n, Hole):
        return t(n.default or Sym(n.name))
    if isinstance(n, Filled):
        return t(n.tree)
    if isinstance(n, Lines):
        rows = "".join(f'<mtr><mtd columnalign="left">{t(x)}</mtd></mtr>' for x in n.lines)
        return f"<mtable>{rows}</mtable>"
    raise TypeError(f"not a formula node: {n!r}")


def mathml(n: Node, display: bool = False) -> str:
    """The formula as a <math> element (MathML Core), its Unicode text as alttext; `display`: a block of its
    own, fractions full size."""
    mode = ' display="block"' if display else ' displaystyle="true"'
    alt = _escape_xml(unicode(n), quote=True)
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML"{mode} alttext="{alt}">{_ml(n)}</math>'


def mathml_body(lhs: Node, rhs: str, alttext: str, display: bool = True) -> str:
    """A <math> element of a formula tree followed by MathML written elsewhere (SymPy's printer's `rhs`)."""
    mode = ' display="block"' if display else ' displaystyle="true"'
    alt = _escape_xml(alttext, quote=True)
    return f'<math xmlns="http://www.w3.org/1998/Math/MathML"{mode} alttext="{alt}"><mrow>{_ml(lhs)}{rhs}</mrow></math>'


def printed(n: Node, script: Script) -> str:
    """The formula in `script`."""
    return {"unicode": unicode, "ascii": ascii, "latex": latex, "mathml": mathml}[script](n)
