"""Expressions of a graph scenario: a tokenizer and a recursive-descent parser, never `eval`.

The grammar (docs/graphs.md) is arithmetic only:

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("-" | "+") unary | power
    power  := atom (("^" | "**") unary)?          right-associative: 2^3^2 = 2^(3^2); -x^2 = -(x^2)
    atom   := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

Every node keeps the offset of its first character, so that an error names the column it is at. Anything
outside the grammar (strings, attribute access, lambdas, keywords, unknown functions) is refused by name.
The same tree type holds the local-derivative formulas the engine records (with `Indicator` added), and
`show` prints any of them in Unicode or ASCII.
"""

from __future__ import annotations

import keyword
import math
import re
from dataclasses import dataclass
from typing import Literal

from bptrace import formula
from bptrace.i18n import N_, _, ngettext

MAX_LENGTH = 2000  # characters of one expression
MAX_DEPTH = 40  # nested parentheses, calls and unary signs
MAX_NODES = 400  # numbers, names and operators of one expression
MAX_EXPONENT = 100  # |n| of a number written as an exponent: x^n

BinaryOp = Literal["+", "-", "*", "/", "^"]

# name -> (number of arguments, what it is): the functions an expression may call
FUNCTIONS: dict[str, tuple[int, str]] = {
    "exp": (1, "e to the power"),
    "log": (1, "natural logarithm"),
    "sqrt": (1, "square root"),
    "abs": (1, "absolute value"),
    "max": (2, "the larger of two"),
    "min": (2, "the smaller of two"),
    "sigmoid": (1, "1/(1 + e^(−x))"),
    "tanh": (1, "hyperbolic tangent"),
    "relu": (1, "max(0, x)"),
}


def function_list() -> str:
    """The functions an expression may call, as they are written: exp(), log(), ..."""
    return ", ".join(f"{f}()" for f in FUNCTIONS)


def allowed() -> str:
    """What an expression may contain (the hint of most parser errors), in the language bptrace speaks."""
    return _("numbers, names, + - * / ^ (or **), parentheses and the functions {functions}").format(
        functions=function_list()
    )


class ExpressionError(Exception):
    """A problem at `offset` (0-based) of an expression's text; the model adds file, line and column.
    The message and hint are in the language bptrace speaks; the default hint says what is allowed."""

    def __init__(self, message: str, offset: int, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.hint = allowed() if hint is None else hint


# ---- the tree ----


@dataclass(frozen=True)
class Num:
    """A number as written (`text`) and its value."""

    value: float
    text: str
    pos: int = 0


@dataclass(frozen=True)
class Name:
    """A value, a defined intermediate, or (in a local-derivative formula) a node of the graph."""

    name: str
    pos: int = 0


@dataclass(frozen=True)
class Neg:
    """−operand."""

    operand: Expr
    pos: int = 0


@dataclass(frozen=True)
class Binary:
    """left op right, op one of + − × ÷ ^."""

    op: BinaryOp
    left: Expr
    right: Expr
    pos: int = 0


@dataclass(frozen=True)
class Call:
    """func(args...), func one of FUNCTIONS."""

    func: str
    args: tuple[Expr, ...]
    pos: int = 0


@dataclass(frozen=True)
class Indicator:
    """[left rel right]: 1 where it holds, else 0 (a local derivative of relu, max, min, abs)."""

    left: Expr
    rel: Literal[">", "<"]
    right: Expr
    pos: int = 0


Expr = Num | Name | Neg | Binary | Call | Indicator


def names_in(e: Expr) -> list[str]:
    """The names an expression uses, each once, in the order they first appear."""
    out: list[str] = []

    def walk(x: Expr) -> None:
        if isinstance(x, Name):
            if x.name not in out:
                out.append(x.name)
        elif isinstance(x, Neg):
            walk(x.operand)
        elif isinstance(x, Binary):
            walk(x.left)
            walk(x.right)
        elif isinstance(x, Call):
            for a in x.args:
                walk(a)
        elif isinstance(x, Indicator):
            walk(x.left)
            walk(x.right)

    walk(e)
    return out


# ---- tokens ----

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*/^(),]|[−·×÷])
    """,
    re.VERBOSE,
)
_SPELLING = {"−": "-", "·": "*", "×": "*", "÷": "/", "**": "^"}


@dataclass(frozen=True)
class Token:
    kind: Literal["number", "name", "op", "end"]
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    """The tokens of an expression, ending with an 'end' token; anything else is refused by what it is."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            _("the expression is too long ({length} characters; at most {limit})").format(
                length=len(text), limit=MAX_LENGTH
            ),
            0,
        )
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _bad_character(text, pos)
        kind = m.lastgroup
        if kind == "number" and m.end() < len(text) and (text[m.end()].isalpha() or text[m.end()] == "_"):
            raise ExpressionError(
                _("{text!r}: a number directly followed by a name").format(text=text[pos : m.end() + 1]),
                m.end(),
                _("write * between them, e.g. 2*x"),
            )
        if kind == "number":
            out.append(Token("number", m.group(), pos))
        elif kind == "name":
            word = m.group()
            if word.startswith("_"):
                raise ExpressionError(
                    _("the name {word!r} is not allowed (names start with a letter)").format(word=word), pos
                )
            if keyword.iskeyword(word) or keyword.issoftkeyword(word):
                raise ExpressionError(
                    _("{word!r} is a Python keyword: expressions are arithmetic only").format(word=word), pos
                )
            out.append(Token("name", word, pos))
        elif kind == "op":
            out.append(Token("op", _SPELLING.get(m.group(), m.group()), pos))
        pos = m.end()
    out.append(Token("end", "", len(text)))
    return out


def _bad_character(text: str, pos: int) -> ExpressionError:
    ch = text[pos]
    if ch in "'\"":
        return ExpressionError(_("strings are not allowed"), pos)
    if ch == ".":
        return ExpressionError(_("'.' is not allowed here (no attribute access; numbers are written 0.5)"), pos)
    if ch in "[]{}":
        return ExpressionError(_("{ch!r}: brackets other than ( ) are not allowed").format(ch=ch), pos)
    if ch == "=":
        return ExpressionError(_("'=' is not allowed inside an expression"), pos)
    if ch in ":;@!&|%<>~`$#?\\":
        return ExpressionError(_("the character {ch!r} is not allowed").format(ch=ch), pos)
    return ExpressionError(
        _("the character {ch!r} (U+{code}) is not allowed").format(ch=ch, code=f"{ord(ch):04X}"), pos
    )


# ---- the parser ----


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.nodes = 0
        self.open: list[int] = []  # positions of the '(' not yet closed

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def count(self, pos: int) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError(
                _("the expression is too large (more than {limit} parts)").format(limit=MAX_NODES),
                pos,
                _("split it up with define:"),
            )

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(
                _("the expression is nested too deeply (more than {limit} levels)").format(limit=MAX_DEPTH),
                pos,
                _("split it up with define:"),
            )

    def parse(self) -> Expr:
        if self.tok.kind == "end":
            raise ExpressionError(_("the expression is empty"), 0, _("write an expression such as x * y + z"))
        e = self.expr()
        if self.tok.kind != "end":
            raise self.unexpected(_WANTED_END)
        return e

    def expr(self) -> Expr:
        left = self.term()
        while self.tok.kind == "op" and self.tok.text in "+-":
            op = self.take()
            self.count(op.pos)
            left = Binary("+" if op.text == "+" else "-", left, self.term(), op.pos)
        return left

    def term(self) -> Expr:
        left = self.unary()
        while self.tok.kind == "op" and self.tok.text in "*/":
            op = self.take()
            self.count(op.pos)
            left = Binary("*" if op.text == "*" else "/", left, self.unary(), op.pos)
        return left

    def unary(self) -> Expr:
        if self.tok.kind == "op" and self.tok.text in "+-":
            op = self.take()
            self.enter(op.pos)
            self.count(op.pos)
            operand = self.unary()
            self.depth -= 1
            if op.text == "+":
                return operand
            return Neg(operand, op.pos)
        return self.power()

    def power(self) -> Expr:
        base = self.atom()
        if self.tok.kind == "op" and self.tok.text == "^":
            op = self.take()
            self.count(op.pos)
            self.enter(op.pos)
            exponent = self.unary()
            self.depth -= 1
            number = _literal(exponent)
            if number is not None and abs(number) > MAX_EXPONENT:
                raise ExpressionError(
                    _("the exponent {exponent} is too large (at most {limit} in size)").format(
                        exponent=_source(self.text, exponent), limit=MAX_EXPONENT
                    ),
                    exponent.pos,
                    _("a homework graph needs small powers"),
                )
            return Binary("^", base, exponent, op.pos)
        return base

    def atom(self) -> Expr:
        t = self.tok
        if t.kind == "number":
            self.take()
            self.count(t.pos)
            try:
                value = float(t.text)
            except OverflowError:  # pragma: no cover - float() returns inf instead
                value = math.inf
            if not math.isfinite(value):
                raise ExpressionError(
                    _("the number {number} is too large for float64").format(number=t.text),
                    t.pos,
                    _("write a smaller number"),
                )
            return Num(value, t.text, t.pos)
        if t.kind == "name":
            self.take()
            self.count(t.pos)
            if self.tok.kind == "op" and self.tok.text == "(":
                return self.call(t)
            if t.text in FUNCTIONS:
                raise ExpressionError(
                    _("{name} is a function: write {name}(...)").format(name=t.text),
                    t.pos,
                    _("e.g. {example}").format(example=f"{t.text}(x)"),
                )
            return Name(t.text, t.pos)
        if t.kind == "op" and t.text == "(":
            self.take()
            self.enter(t.pos)
            self.open.append(t.pos)
            e = self.expr()
            self.close(t.pos)
            self.open.pop()
            self.depth -= 1
            return e
        raise self.unexpected(_WANTED_OPERAND)

    def call(self, name: Token) -> Expr:
        if name.text not in FUNCTIONS:
            from bptrace.model.source import did_you_mean

            listed = _("allowed: {functions}").format(functions=function_list())
            suggestion = did_you_mean(name.text, FUNCTIONS)
            raise ExpressionError(
                _("unknown function {name!r}").format(name=name.text),
                name.pos,
                f"{suggestion} {listed}" if suggestion else listed,
            )
        arity = FUNCTIONS[name.text][0]
        paren = self.take()
        self.enter(paren.pos)
        self.open.append(paren.pos)
        args = [self.expr()]
        while self.tok.kind == "op" and self.tok.text == ",":
            self.take()
            args.append(self.expr())
        self.close(paren.pos)
        self.open.pop()
        self.depth -= 1
        if len(args) != arity:
            raise ExpressionError(
                ngettext(
                    "{name}() takes {arity} argument, got {count}",
                    "{name}() takes {arity} arguments, got {count}",
                    arity,
                ).format(name=name.text, arity=arity, count=len(args)),
                name.pos,
                _("e.g. {example}").format(example=f"{name.text}({', '.join('xyz'[:arity])})"),
            )
        return Call(name.text, tuple(args), name.pos)

    def close(self, opened: int) -> None:
        if self.tok.kind == "op" and self.tok.text == ")":
            self.take()
            return
        if self.tok.kind == "end":
            raise ExpressionError(_("this '(' is never closed"), opened, _("add ')'"))
        raise self.unexpected(_WANTED_CLOSE if self.open else _WANTED_OPERATOR)

    def unexpected(self, what: str) -> ExpressionError:
        """The error at the current token, where `what` (one of the _WANTED_ constants) was expected."""
        t = self.tok
        wanted = _(what)
        if t.kind == "end":
            return ExpressionError(_("the expression ends early: expected {wanted}").format(wanted=wanted), t.pos)
        if t.kind == "op" and t.text == ")" and not self.open:
            return ExpressionError(_("')' without a matching '('"), t.pos, _("remove it or add '('"))
        if t.kind in ("name", "number"):
            before = self.tokens[self.i - 1] if self.i else None
            if before is not None and before.kind in ("name", "number") or (before and before.text == ")"):
                return ExpressionError(
                    _("expected an operator before {text!r}").format(text=t.text),
                    t.pos,
                    _("write * for a product, e.g. 2*x"),
                )
        shown = {",": "','", ")": "')'", "(": "'('"}.get(t.text, repr(t.text))
        return ExpressionError(_("unexpected {shown}: expected {wanted}").format(shown=shown, wanted=wanted), t.pos)


# what the parser expected where it stopped (the end of "... expected {wanted}")
_WANTED_END = N_("an operator or the end")
_WANTED_OPERAND = N_("a number, a name or '('")
_WANTED_CLOSE = N_("')'")
_WANTED_OPERATOR = N_("an operator")


def _literal(e: Expr) -> float | None:
    """The value of a number, or of a signed number, else None."""
    if isinstance(e, Num):
        return e.value
    if isinstance(e, Neg) and isinstance(e.operand, Num):
        return -e.operand.value
    return None


def _source(text: str, e: Expr) -> str:
    value = _literal(e)
    return text[e.pos :].split()[0] if value is None else f"{value:g}"


def parse(text: str) -> Expr:
    """The expression tree of `text`, or ExpressionError naming the offset of the problem."""
    if not isinstance(text, str):  # pragma: no cover - the model checks the type first
        raise ExpressionError(_("an expression must be text"), 0)
    return _Parser(text).parse()


# ---- printing ----

_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "^": 4}


def tree(e: Expr, values: dict[str, float] | None = None, digits: int = 9) -> formula.Node:
    """`e` as a formula tree (bptrace/formula.py): in names, or with `values` substituted for the names
    (negative numbers in parentheses, a leading one bare); each format prints it (Unicode, ASCII, LaTeX)."""
    f = formula

    def p(x: Expr) -> int:
        if isinstance(x, Binary):
            return _PRECEDENCE[x.op]
        if isinstance(x, Neg):
            return _PRECEDENCE["neg"]
        if isinstance(x, Num) and x.value < 0:
            return _PRECEDENCE["neg"]
        if isinstance(x, Name) and values is not None and values[x.name] < 0:
            return _PRECEDENCE["neg"]
        return 9

    def negative_leaf(x: Expr) -> bool:
        if isinstance(x, Num):
            return x.value < 0
        return isinstance(x, Name) and values is not None and values[x.name] < 0

    def wrap(x: Expr, need: int, strict: bool = False, first: bool = False) -> f.Node:
        inner = go(x)
        if negative_leaf(x) and first:
            return inner  # −6 + 2, −1/b: a leading negative number needs no parentheses
        if negative_leaf(x) or p(x) < need or (strict and p(x) == need):
            return f.Paren(inner)
        return inner

    def go(x: Expr) -> f.Node:
        if isinstance(x, Num):
            return f.Num(x.value, digits, paren=False)  # an ASCII '-', as every number bptrace prints
        if isinstance(x, Name):
            return f.Name(x.name) if values is None else f.Num(values[x.name], digits, paren=False)
        if isinstance(x, Neg):
            return f.Row.of(f.Op("-"), wrap(x.operand, _PRECEDENCE["neg"] + 1))
        if isinstance(x, Binary):
            q = _PRECEDENCE[x.op]
            if x.op == "^":  # x² (x^2 in ASCII), x^y (a compound exponent in parentheses)
                square = isinstance(x.right, Num) and x.right.value == 2
                exponent = f.Const("2") if square else wrap(x.right, q)
                return f.Pow(wrap(x.left, q + 1), exponent, chained=True)  # 2^3^2 is 2^(3^2)
            sym = {"+": f.PLUS, "-": f.MINUS, "*": f.DOT, "/": f.Op("/")}[x.op]
            return f.Row.of(wrap(x.left, q, first=True), sym, wrap(x.right, q, strict=True))
        if isinstance(x, Call):
            return f.Apply("σ" if x.func == "sigmoid" else x.func, tuple(go(a) for a in x.args))
        return f.Paren(f.Row.of(go(x.left), f.Op(x.rel), go(x.right)), brackets="[]")

    return go(e)


def show(e: Expr, ascii: bool = False, values: dict[str, float] | None = None, digits: int = 9) -> str:
    """`e` as text: in names, or with `values` substituted for the names (negative numbers in parentheses);
    the Unicode or ASCII printer of its tree."""
    t = tree(e, values, digits)
    return formula.ascii(t) if ascii else formula.unicode(t)
