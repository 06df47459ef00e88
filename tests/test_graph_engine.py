"""Graph scenarios: every node's value and gradient against SymPy, autograd and the published answers.

Two autograd oracles: one built from the parsed gates (it checks the backward walk and the per-use sums at
every node, including the intermediate ones), and one built from a hypothesis-generated expression tree that
never passes through bptrace's parser (it checks the parser, the gates and the gradients end to end).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bptrace.errors import NumericalError
from bptrace.graph import engine, model, verify
from bptrace.graph import expression as ex
from bptrace.model.scenario import bundled_graph_names, bundled_names

anp = pytest.importorskip("autograd.numpy", reason="autograd (a test extra) is not installed")
autograd = pytest.importorskip("autograd")

PUBLISHED = yaml.safe_load((Path(__file__).parent / "data" / "graph_published.yaml").read_text())
GRAPHS = bundled_graph_names()
HYPOTHESIS = settings(max_examples=40, deadline=None, database=None)


def _relu(z: Any) -> Any:
    return anp.where(z > 0, z, 0.0)  # relu′(0) = 0, as bptrace


AUTOGRAD_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: anp.power(a, b),
    "neg": lambda a: -a,
    "id": lambda a: a,
    "exp": anp.exp,
    "log": anp.log,
    "sqrt": anp.sqrt,
    "abs": anp.abs,  # autograd: abs′(0) = 0
    "max": anp.maximum,  # autograd: ½ to each input at a tie
    "min": anp.minimum,
    "sigmoid": lambda z: 1 / (1 + anp.exp(-z)),
    "tanh": anp.tanh,
    "relu": _relu,
}


def autograd_nodes(s: model.GraphScenario) -> tuple[dict[str, float], dict[str, float]]:
    """(value, ∂f/∂node) of every node by autograd: each node gets an additive ε, and ∂f/∂ε at 0 is ∂f/∂node."""
    names = s.node_names()

    def f(eps: Any) -> Any:
        env: dict[str, Any] = {}
        for i, v in enumerate(s.values):
            env[v] = s.values[v] + eps[i]
        for k, g in enumerate(s.gates):
            args = [env[o] if isinstance(o, str) else o for o in g.operands]
            env[g.name] = AUTOGRAD_OPS[g.op](*args) + eps[len(s.values) + k]
        return env[s.output]

    zero = anp.zeros(len(names))
    grads = autograd.grad(f)(zero)
    values = engine.forward(s)
    return values, {n: float(grads[i]) for i, n in enumerate(names)}


def assert_close(a: float, b: float, what: str, floor: float = 1e-12) -> None:
    assert a == pytest.approx(b, rel=1e-9, abs=floor), what


def check_against_oracles(s: model.GraphScenario) -> engine.GraphTrace:
    t = engine.trace(s)
    values, grads = autograd_nodes(s)
    sympy_env, symbols = verify.sympy_nodes(s)
    at = {symbols[v]: s.values[v] for v in s.values}
    f_sympy, sympy_grads = verify.sympy_gradients(t)
    # where terms cancel, a float64 gradient is only as exact as its resolution (2D + 4)·ε·Ĝ (as for networks)
    floors = {name: max(1e-12, r) for name, r in verify.resolution(t).items()}
    value_floor = max(1e-12, (2 * len(s.gates) + 4) * 2.0**-52 * max(abs(n.value) for n in t.nodes.values()))
    for name, node in t.nodes.items():
        assert_close(node.value, values[name], f"value of {name} (autograd)", value_floor)
        sympy_value = float(sympy_env[name].subs(at)) if name not in s.values else s.values[name]
        assert_close(node.value, sympy_value, f"value of {name} (SymPy)", value_floor)
        assert_close(node.grad, grads[name], f"∂f/∂{name} (autograd)", floors[name])
        assert sympy_grads[name] is not None, name
        assert_close(node.grad, sympy_grads[name], f"∂f/∂{name} (SymPy)", floors[name])
        # the per-use sum, term by term: each term is upstream × local, and they add up to the gradient
        if node.uses:
            assert math.fsum(u.product for u in node.uses) == pytest.approx(node.grad, rel=1e-12, abs=1e-15)
            for u in node.uses:
                assert u.product == u.upstream * u.local_value
                assert u.upstream == t.nodes[u.gate].grad
                # the printed local formula evaluates to the number the engine used
                assert engine.evaluate(u.local, t.values()) == pytest.approx(u.local_value, rel=1e-12, abs=1e-15)
    assert f_sympy == pytest.approx(t.output.value, rel=1e-12, abs=value_floor)
    return t


def test_the_graphs_are_bundled_apart_from_the_networks() -> None:
    assert GRAPHS == ["graph_circuit", "graph_max", "graph_reuse", "graph_sigmoid_neuron"]
    assert not set(GRAPHS) & set(bundled_names())


@pytest.mark.parametrize("name", GRAPHS)
def test_bundled_graph_matches_sympy_and_autograd_at_every_node(name: str) -> None:
    t = check_against_oracles(model.load(name))
    assert verify.verify(t).ok


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_published_answers_to_their_digits(name: str) -> None:
    published = PUBLISHED[name]
    t = engine.trace(model.load(name))
    digits = published["digits"]

    def shown(x: float) -> float:
        return x if digits == "exact" else round(x, digits)

    assert shown(t.output.value) == published["output"]
    for node, value in published["nodes"].items():
        assert shown(t.nodes[node].value) == value, node
    for variable, g in published["grad"].items():
        assert shown(t.nodes[variable].grad) == g, variable


def test_reused_variable_sums_three_uses() -> None:
    t = engine.trace(model.load("graph_reuse"))
    x = t.nodes["x"]
    assert [(u.gate, u.operand) for u in x.uses] == [("a", 0), ("b", 1), ("f", 1)]
    # ∂f/∂x = y·∂f/∂a + 1·∂f/∂b + b = 2xy + 2x at x = 2, y = -3
    assert [u.product for u in x.uses] == [-6.0, 2.0, -4.0]
    assert x.grad == 2 * 2 * -3 + 2 * 2
    assert t.new_values == {"x": 2 - 0.1 * -8, "y": -3 - 0.1 * 4}


def test_circuit_update() -> None:
    t = engine.trace(model.load("graph_circuit"))
    assert t.new_values == {"x": -2 - 0.1 * -4, "y": 5 - 0.1 * -4, "z": -4 - 0.1 * 3}


# ---- graphs nobody here wrote: hand-picked corners, then hypothesis ----

CORNERS = [
    ("x * x", {"x": 3}),  # one gate reads x twice: two uses
    ("max(x, y) * x", {"x": 2, "y": 2}),  # a tie: ½ each
    ("max(x, x)", {"x": 1}),  # a tie with itself: ½ + ½ = 1, the true derivative
    ("min(x, 2*x - 1)", {"x": 1}),
    ("relu(x - y) + abs(y - 1)", {"x": 1, "y": 1}),  # relu′(0) = abs′(0) = 0
    ("x / y - y ^ 3 + sqrt(x) * log(y)", {"x": 4, "y": 2}),
    ("x ^ y", {"x": 2, "y": 3}),  # ∂/∂y = x^y·ln x
    ("tanh(x) * sigmoid(y) + exp(-x * y)", {"x": 0.5, "y": -1.5}),
    ("-x^2 + 2^-x", {"x": 1.5}),
    ("sigmoid(relu(x) * relu(-x))", {"x": 0}),
    ("x * 2", {"x": 1, "y": 5}),  # y is not used: its gradient is 0
    ("max(exp(tanh(x)), exp(tanh(x)))", {"x": -2}),  # a tie of two equal gates (found by hypothesis)
]


@pytest.mark.parametrize(("expression", "values"), CORNERS)
def test_corner_graphs(expression: str, values: dict[str, float]) -> None:
    text = yaml.safe_dump({"kind": "graph", "values": values, "output": f"f = {expression}"})
    check_against_oracles(model.loads(text))


def test_tie_conventions() -> None:
    s = model.loads("kind: graph\nvalues: {z: 2, w: 2, r: 0}\noutput: f = max(z, w) + relu(r) + abs(r)\n")
    t = engine.trace(s)
    assert (t.nodes["z"].grad, t.nodes["w"].grad, t.nodes["r"].grad) == (0.5, 0.5, 0.0)
    assert {n.kink for n in t.gates if n.kink} == {
        "max at a tie: the gradient is split evenly, ½ to each input",
        "relu at 0: relu′(0) = 0 by convention",
        "abs at 0: abs′(0) = 0 by convention",
    }
    v = verify.verify(t)
    assert v.ok
    by_name = {c.name: c for c in v.checks}
    # the finite differences straddle the kinks: shown, not judged (for relu at 0 it is ½, not 0)
    for name in ("z", "w", "r"):
        assert not by_name[name].fd_judged and by_name[name].note == "crosses a kink: not judged"
    assert by_name["r"].finite_difference == pytest.approx(0.5 + 0.0)


# A generated expression: ("var", name) | ("num", value) | (op, child, ...). Rendered to text for bptrace and
# evaluated directly (never parsed) for autograd.
VARS = ("x", "y", "z")
UNARY = ("neg", "exp", "sigmoid", "tanh", "relu", "abs", "square")
BINARY = ("+", "-", "*", "div", "max", "min")

leaves = st.one_of(
    st.sampled_from(VARS).map(lambda v: ("var", v)),
    st.sampled_from([0.5, 1.0, 2.0, 3.0]).map(lambda c: ("num", c)),
)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(UNARY), inner),
        st.tuples(st.sampled_from(BINARY), inner, inner),
    ),
    max_leaves=8,
)


def render(t: tuple[Any, ...]) -> str:
    kind = t[0]
    if kind == "var":
        return str(t[1])
    if kind == "num":
        return repr(t[1])
    if kind == "neg":
        return f"-({render(t[1])})"
    if kind == "square":
        return f"({render(t[1])})^2"
    if kind in ("exp", "sigmoid", "tanh", "relu", "abs"):
        arg = f"tanh({render(t[1])})" if kind == "exp" else render(t[1])  # exp(tanh(·)) cannot overflow
        return f"{kind}({arg})"
    if kind == "div":
        return f"({render(t[1])}) / (1 + ({render(t[2])})^2)"
    if kind in ("max", "min"):
        return f"{kind}({render(t[1])}, {render(t[2])})"
    return f"({render(t[1])}) {kind} ({render(t[2])})"


def reference(t: tuple[Any, ...], env: dict[str, Any]) -> Any:
    kind = t[0]
    if kind == "var":
        return env[t[1]]
    if kind == "num":
        return t[1]
    a = reference(t[1], env)
    if kind == "neg":
        return -a
    if kind == "square":
        return a**2
    if kind == "exp":
        return anp.exp(anp.tanh(a))
    if kind == "sigmoid":
        return 1 / (1 + anp.exp(-a))
    if kind in ("tanh", "abs"):
        return getattr(anp, kind)(a)
    if kind == "relu":
        return _relu(a)
    b = reference(t[2], env)
    if kind == "div":
        return a / (1 + b**2)
    if kind == "max":
        return anp.maximum(a, b)
    if kind == "min":
        return anp.minimum(a, b)
    return {"+": a + b, "-": a - b, "*": a * b}[kind]


def uses_a_variable(t: tuple[Any, ...]) -> bool:
    return t[0] == "var" or (t[0] != "num" and any(uses_a_variable(c) for c in t[1:]))


@HYPOTHESIS
@given(
    tree=trees,
    # a small set of values, so that ties (max(x, y) at x = y) and kinks (relu(0)) come up often
    values=st.tuples(*[st.sampled_from([-2.0, -1.0, 0.0, 0.5, 1.0, 2.0])] * 3),
)
def test_generated_graphs_against_autograd_and_sympy(tree: tuple[Any, ...], values: tuple[float, ...]) -> None:
    assume(uses_a_variable(tree))
    env = dict(zip(VARS, values))
    text = yaml.safe_dump({"kind": "graph", "values": env, "output": f"f = {render(tree)}"}, width=10_000)
    s = model.loads(text)
    try:
        t = engine.trace(s)
    except NumericalError:
        assume(False)
        raise
    assume(all(abs(n.value) < 1e6 and abs(n.grad) < 1e6 for n in t.nodes.values()))
    # end to end, against autograd on the generated tree itself (no bptrace parser involved)
    point = anp.array(values)
    expected_f = float(reference(tree, dict(zip(VARS, point))))
    expected = autograd.grad(lambda p: reference(tree, dict(zip(VARS, p))))(point)
    assert_close(t.output.value, expected_f, "f")
    for i, v in enumerate(VARS):
        got = t.nodes[v].grad if v in t.nodes else 0.0
        assert_close(got, float(expected[i]), f"∂f/∂{v} of {text}")
    # every node, against autograd over the gates and SymPy
    check_against_oracles(s)


def test_formulas_print_as_text_the_parser_reads_back() -> None:
    for name in GRAPHS:
        s = model.load(name)
        for g in s.gates:
            text = ex.show(g.formula(), ascii=True)
            assert ex.show(ex.parse(text), ascii=True) == text


def test_a_tie_of_nested_maxima_is_split_gate_by_gate_in_sympy_too() -> None:
    # max(x, max(x, y)) at x = y: each gate splits ½/½, so ∂f/∂x = ½ + ½·½ = ¾ and ∂f/∂y = ¼; SymPy, left to
    # itself, rewrites the expression as max(x, y) and would say ½ and ½ (hypothesis found it)
    s = model.loads("kind: graph\nvalues: {x: -2, y: -2}\ndefine:\n  m: max(x, y)\noutput: f = max(x, m)\n")
    t = engine.trace(s)
    _, sympy_grads = verify.sympy_gradients(t)
    assert (t.nodes["x"].grad, t.nodes["y"].grad) == (0.75, 0.25)
    assert (sympy_grads["x"], sympy_grads["y"]) == (0.75, 0.25)
    check_against_oracles(s)
