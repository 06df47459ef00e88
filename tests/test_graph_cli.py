"""`bptrace run`, `explain` and `scenarios` on graph scenarios: exit statuses, stdout, stderr, the JSON's shape,
and the table of refused expressions with their exact messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.graph import engine, model
from bptrace.model.scenario import bundled_graph_names

GRAPHS = bundled_graph_names()
ALLOWED = (
    "(numbers, names, + - * / ^ (or **), parentheses and the functions exp(), log(), sqrt(), abs(), max(), min(), "
    "sigmoid(), tanh(), relu())"
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, output: str, values: str = "{x: 1, y: 2}", extra: str = "") -> str:
    path = tmp_path / "g.yaml"
    path.write_text(f"kind: graph\nvalues: {values}\n{extra}output: {output}\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("name", GRAPHS)
def test_every_bundled_graph_runs_and_verifies(name: str) -> None:
    code, out, err = run("run", name)
    assert code == 0, err
    assert err == ""
    t = engine.trace(model.load(name))
    assert "Forward pass" in out and "Backward pass" in out and "All checks agree." in out
    for node in t.gates:
        assert f" {node.name} " in out


def test_run_circuit_terminal() -> None:
    code, out, _ = run("run", "graph_circuit", "--verify", "off")
    assert code == 0
    assert "q      add gate        x + y     -2 + 5             3" in out
    assert "f      multiply gate   q·z       3·(-4)           -12" in out
    # backward: the multiply gate swaps its inputs, the add gate passes the gradient on
    assert "f                      1   q       z                    -4                -4        -4" in out
    assert "q                     -4   x       1                    1                  1        -4" in out
    assert "x⁺ = -2 - 0.1·(-4)" in out  # the terminal writes ASCII minus and "-1.6" in out
    assert "Verification" not in out


def test_run_reuse_shows_the_sum_term_by_term() -> None:
    code, out, _ = run("run", "graph_reuse", "--verify", "off")
    assert code == 0
    assert "Nodes read more than once" in out
    assert (
        "∂f/∂x = ∂f/∂a·∂(x·y)/∂x + ∂f/∂b·∂(a + x)/∂x + ∂f/∂f·∂(b·x)/∂x = 2·(-3) + 2·1 + 1·(-4) = -6 + 2 + (-4) = -8"
        in out
    )


def test_run_ascii() -> None:
    code, out, _ = run("run", "graph_reuse", "--verify", "off", "--ascii")
    assert code == 0
    assert out.isascii()
    assert "df/dx = df/da*d(x*y)/dx + df/db*d(a + x)/dx + df/df*d(b*x)/dx" in out


@pytest.mark.parametrize("name", GRAPHS)
def test_json_shape_and_numbers(name: str) -> None:
    code, out, err = run("run", name, "--format", "json")
    assert code == 0, err
    assert out == run("run", name, "--format", "json")[1]  # byte-identical
    data = json.loads(out)
    t = engine.trace(model.load(name))
    assert data["kind"] == "graph"
    assert data["output"] == {
        "name": t.output.name,
        "value": t.output.value,
        "expression": data["output"]["expression"],
    }
    assert [n["name"] for n in data["nodes"]] == [g.name for g in t.gates]
    for entry, node in zip(data["nodes"], t.gates):
        assert {"name", "op", "inputs", "value", "grad", "uses", "formula", "kink"} <= set(entry)
        assert (entry["op"], entry["inputs"], entry["value"], entry["grad"]) == (
            node.op,
            node.inputs,
            node.value,
            node.grad,
        )
        assert sum(u["product"] for u in entry["uses"]) == pytest.approx(entry["grad"], rel=1e-12) or not entry["uses"]
    for entry, v in zip(data["variables"], t.variables):
        assert (entry["name"], entry["value"], entry["grad"]) == (v.name, v.value, v.grad)
        assert ("new_value" in entry) == (v.name in t.new_values)
        if "new_value" in entry:
            assert entry["new_value"] == t.new_values[v.name]
    verification = data["verification"]
    assert verification["ok"] is True
    assert {c["name"] for c in verification["checks"]} == {n for n in t.nodes if n != t.output.name}


def test_json_without_verification() -> None:
    data = json.loads(run("run", "graph_circuit", "--format", "json", "--verify", "off")[1])
    assert "verification" not in data
    assert data["variables"][0] == {
        "name": "x",
        "value": -2.0,
        "grad": -4.0,
        "uses": [{"gate": "q", "operand": 0, "upstream": -4.0, "local_formula": "1", "local": 1.0, "product": -4.0}],
        "new_value": -1.6,
    }


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_documents(fmt: str) -> None:
    code, out, err = run("run", "graph_max", "--format", fmt)
    assert code == 0, err
    assert "max" in out and "20" in out


def test_explain_reused_variable() -> None:
    code, out, err = run("explain", "df/dx", "-s", "graph_reuse")
    assert code == 0, err
    assert "there are 3 paths from x to f" in out
    assert "x → a → b → f   ∂(b·x)/∂b·∂(a + x)/∂a·∂(x·y)/∂x = x·1·y   2·1·(-3)            -6" in out
    assert "∂f/∂x = Σ over the paths = -6 + 2 + (-4) = -8" in out
    assert "x⁺ = x - η·∂f/∂x = 2 - 0.1·(-8) = 2.8" in out
    assert "All checks agree." in out


@pytest.mark.parametrize("target", ["dot", "df/ddot", "∂f/∂dot"])
def test_explain_target_spellings(target: str) -> None:
    code, out, err = run("explain", target, "-s", "graph_sigmoid_neuron", "--no-checks")
    assert code == 0, err
    assert "∂f/∂dot = 0.196611933" in out


def test_explain_json_paths_sum_to_the_gradient() -> None:
    code, out, _ = run("explain", "dL/dx", "-s", "graph_reuse", "--format", "json")
    assert code == 2  # the output is called f
    code, out, _ = run("explain", "x", "-s", "graph_reuse", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["path_count"] == len(data["paths"]) == 3
    assert sum(p["product"] for p in data["paths"]) == data["grad"] == -8.0
    assert data["verification"]["ok"]


def test_explain_list_and_errors() -> None:
    code, out, _ = run("explain", "--list", "-s", "graph_circuit")
    assert code == 0
    assert out.splitlines()[1:] == ["df/dx", "df/dy", "df/dz", "df/dq", "df/df"]
    code, _, err = run("explain", "df/dqq", "-s", "graph_circuit")
    assert code == 2
    assert err == "bptrace: error: no node named 'df/dqq' in this graph (did you mean q?)\n"
    code, _, err = run("explain", "dL/dx", "-s", "graph_circuit")
    assert err == "bptrace: error: dL/dx: the graph's output is f, so its gradients are df/d... (e.g. df/dx)\n"


def test_scenarios_lists_the_graphs() -> None:
    code, out, _ = run("scenarios")
    assert code == 0
    for name in GRAPHS:
        assert name in out
    assert "CS231n's circuit: f = (x + y)·z" in out


def test_network_commands_refuse_a_graph() -> None:
    code, _, err = run("compare", "graph_circuit", "--vary", "loss=sse,mse")
    assert code == 2
    assert err == (
        "bptrace: error: graph_circuit.yaml (bundled):1:1: kind: this is a computational graph (kind: graph), "
        "and this command reads networks (run, explain, check, template and diagram read graphs; check marks their "
        "sheets in a command of its own, not with networks' sheets)\n"
    )


def test_a_wrong_gradient_exits_1(monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine._local_value

    def slip(gate, i, formula, env):  # type: ignore[no-untyped-def]
        return -real(gate, i, formula, env) if gate.op == "mul" else real(gate, i, formula, env)

    monkeypatch.setattr(engine, "_local_value", slip)
    code, out, _ = run("run", "graph_circuit")
    assert code == 1
    assert "MISMATCH" in out


# (the output line, the exact error): what a hostile or mistaken expression gets
REFUSED = [
    (
        "f = __import__('os')",
        f"3:13: output: the name '__import__' is not allowed (names start with a letter) {ALLOWED}",
    ),
    (
        "f = x.__class__",
        f"3:14: output: '.' is not allowed here (no attribute access; numbers are written 0.5) {ALLOWED}",
    ),
    ('"f = lambda x: x"', f"3:14: output: 'lambda' is a Python keyword: expressions are arithmetic only {ALLOWED}"),
    ("f = 'abc' + x", f"3:13: output: strings are not allowed {ALLOWED}"),
    ("f = (x + y", "3:13: output: this '(' is never closed (add ')')"),
    ("f = x + y)", "3:18: output: ')' without a matching '(' (remove it or add '(')"),
    (
        "f = foo(x)",
        "3:13: output: unknown function 'foo' (allowed: exp(), log(), sqrt(), abs(), max(), min(), sigmoid(), "
        "tanh(), relu())",
    ),
    (
        "f = sigmod(x)",
        "3:13: output: unknown function 'sigmod' (did you mean sigmoid? allowed: exp(), log(), sqrt(), "
        "abs(), max(), min(), sigmoid(), tanh(), relu())",
    ),
    ("f = x + w", "3:17: output: unknown name 'w' (the names here are x, y)"),
    (
        "f = x ^ 1000",
        "3:17: output: the exponent 1000 is too large (at most 100 in size) (a homework graph needs small powers)",
    ),
    (
        "f = " + "(" * 41 + "x" + ")" * 41,
        "3:53: output: the expression is nested too deeply (more than 40 levels) (split it up with define:)",
    ),
    ("f = x +", f"3:16: output: the expression ends early: expected a number, a name or '(' {ALLOWED}"),
    ("f = 2x", "3:14: output: '2x': a number directly followed by a name (write * between them, e.g. 2*x)"),
    ("f = x y", "3:15: output: expected an operator before 'y' (write * for a product, e.g. 2*x)"),
    ("f = exp", "3:13: output: exp is a function: write exp(...) (e.g. exp(x))"),
    ("f = max(x)", "3:13: output: max() takes 2 arguments, got 1 (e.g. max(x, y))"),
    ("f = 1e999 * x", "3:13: output: the number 1e999 is too large for float64 (write a smaller number)"),
    ("f = [x]", f"3:13: output: '[': brackets other than ( ) are not allowed {ALLOWED}"),
    (
        "f = 3",
        "3:13: output: the expression uses no value, so it has no gradient (put constants in values:, or write "
        "the number where it is used)",
    ),
    ("f = x if y else 0", f"3:15: output: 'if' is a Python keyword: expressions are arithmetic only {ALLOWED}"),
    ('"f = x == y"', f"3:16: output: '=' is not allowed inside an expression {ALLOWED}"),
    ("x = x + 1", "3:1: output: the name 'x' is used twice (each value and define needs its own name)"),
    # valid expressions whose numbers cannot be computed: a clean error at the gate, never NaN
    ("f = log(x - 1)", "3:13: f = log(g1): log of 0 is undefined (log needs a positive argument)"),
    ("f = exp(1000 * x)", "3:13: f = exp(g1): the value overflows float64 (choose smaller values)"),
    ("f = x / (y - 2)", "3:15: f = x/g1: division by 0 (choose values that keep every divisor away from 0)"),
    ("f = sqrt(-x)", "3:13: f = sqrt(g1): sqrt of -1 is not a real number (sqrt needs x ≥ 0)"),
    ("f = x * 2^2^2^2^2^2", "3:18: output: the value overflows float64 (choose smaller values)"),
]


@pytest.mark.parametrize(("output", "message"), REFUSED)
def test_refused_expressions(tmp_path: Path, output: str, message: str) -> None:
    path = write(tmp_path, output)
    code, out, err = run("run", path)
    assert (code, out) == (2, "")
    assert err == f"bptrace: error: {path}:{message}\n"


REFUSED_DOCUMENTS = [
    ("kind: grahp\nvalues: {x: 1}\noutput: f = x\n", "1:1: kind: unknown kind 'grahp' (did you mean graph?)"),
    # found by the attack of 2026-12-02: `kind: RNN` was told "write 'kind: graph' for a computational graph, or
    # leave it out", as if rnn and layers did not exist
    ("kind: RNN\nvalues: {x: 1}\noutput: f = x\n", "1:1: kind: unknown kind 'RNN' (did you mean rnn?)"),
    ("kind: LAYERS\nvalues: {x: 1}\n", "1:1: kind: unknown kind 'LAYERS' (did you mean layers?)"),
    (
        "kind: network\nvalues: {x: 1}\n",
        "1:1: kind: unknown kind 'network' (kind is graph, rnn or layers; leave it out for a network)",
    ),
    ("kind: graph\noutput: f = x\n", "1:1: missing required key 'values' (see docs/graphs.md)"),
    (
        "kind: graph\nvalues: {x: 1}\noutput: f = x\nlayers: []\n",
        "4:1: layers: unknown key 'layers' in a graph "
        "scenario (expected one of kind, title, source, description, title_zh, source_zh, values, define, output, "
        "learning_rate, update)",
    ),
    (
        "kind: graph\nvalues: {x: one}\noutput: f = x\n",
        "2:10: values.x: expected a number, got 'one' (write a plain decimal number such as 0.25 or 1e-3)",
    ),
    (
        "kind: graph\nvalues: {x: 1}\ndefine:\n  q: x + r\noutput: f = q\n",
        "4:10: define.q: unknown name 'r' (the names here are x)",
    ),
    (
        "kind: graph\nvalues: {x: 1}\ndefine:\n  q: r * x\n  r: x + 1\noutput: f = q\n",
        "4:6: define.q: r is defined further down (move the define of r above this one)",
    ),
    (
        "kind: graph\nvalues: {x: 1}\ndefine:\n  q: x + 1\noutput: f = x\n",
        "4:3: define.q: q is defined but nothing uses it (use it in the output or in a later define, or remove it)",
    ),
    (
        "kind: graph\nvalues: {x: 1}\noutput: f = x\nupdate: [x]\n",
        "4:1: update: update needs a learning_rate (add e.g. learning_rate: 0.1)",
    ),
    (
        "kind: graph\nvalues: {x: 1}\noutput: f = x\nlearning_rate: 0.1\nupdate: [y]\n",
        "5:10: update[0]: 'y' is not one of the values (choose from x)",
    ),
    (
        "kind: graph\nvalues: {exp: 1}\noutput: f = exp\n",
        "2:10: values.exp: 'exp' is the name of a function or keyword (choose another name)",
    ),
]


@pytest.mark.parametrize(("text", "message"), REFUSED_DOCUMENTS)
def test_refused_documents(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run("run", str(path))
    assert (code, out) == (2, "")
    assert err == f"bptrace: error: {path}:{message}\n"


def test_the_examples_in_the_docs_are_real_output(monkeypatch: pytest.MonkeyPatch) -> None:
    import re
    import shlex

    monkeypatch.setenv("COLUMNS", "100")
    text = (Path(__file__).parent.parent / "docs" / "graphs.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```\n\$ bptrace (.+?)\n(.*?)\n```", text, re.DOTALL)
    assert len(blocks) == 2
    for command, shown in blocks:
        code, out, err = run(*shlex.split(command))
        assert code == 0, err
        assert [line.rstrip() for line in out.rstrip().splitlines()] == shown.splitlines(), command


def test_template_lists_every_quantity_in_derivation_order() -> None:
    code, out, _ = run("template", "graph_circuit")
    assert code == 0
    keys = [line.strip().rstrip(":") for line in out.splitlines() if line.startswith("  ") and "#" not in line]
    assert keys == ["q", "f", "df/dq", "df/dx", "df/dy", "df/dz", "x+", "y+", "z+"]


# (bundled graph, answers, the diagnosis codes of each wrong answer): each misconception reproduced
MISCONCEPTIONS = [
    ("graph_reuse", {"df/dx": -6}, {"df/dx": ["reuse-overwritten"]}),
    ("graph_reuse", {"df/dx": -4}, {"df/dx": ["reuse-first-only"]}),
    (
        "graph_circuit",
        {"df/dq": 3, "df/dz": -4, "df/dx": 3},
        {k: ["multiply-not-swapped"] for k in ("df/dq", "df/dz", "df/dx")},
    ),
    ("graph_max", {"df/dz": 0, "df/dw": 2}, {"df/dz": ["max-to-smaller"], "df/dw": ["max-to-smaller"]}),
    ("graph_circuit", {"df/dx": 4, "x+": -2.4}, {"df/dx": ["sign-slip"], "x+": ["sign-slip"]}),
    ("graph_circuit", {"df/dx": 7}, {"df/dx": []}),
]


@pytest.mark.parametrize(("name", "answers", "codes"), MISCONCEPTIONS)
def test_check_names_the_misconception(
    tmp_path: Path, name: str, answers: dict[str, float], codes: dict[str, list[str]]
) -> None:
    import yaml

    sheet = tmp_path / "sheet.yaml"
    sheet.write_text(yaml.safe_dump({"scenario": name, "student": "Ada", "answers": {"f": "x", **answers}}))
    sheet.write_text(sheet.read_text().replace("f: x", f"f: {engine.trace(model.load(name)).output.value!r}"))
    code, out, err = run("check", str(sheet), "--format", "json")
    assert code == 1, err
    [data] = json.loads(out)
    got = {a["key"]: a["diagnoses"] for a in data["answers"] if not a["correct"]}
    assert got == codes
    assert [a["key"] for a in data["answers"] if a["correct"]] == ["f"]


def test_check_terminal_and_all_correct(tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text("scenario: graph_circuit\nanswers:\n  q: 3\n  df/dx: -4\n  ∂f/∂z: 3\n  x+: -1.6\n")
    code, out, err = run("check", str(sheet))
    assert (code, err) == (0, "")
    assert "4 of 4 correct; 4 of 4 points." in out
    sheet.write_text("scenario: graph_circuit\nanswers:\n  df/dx: 4\n")
    code, out, _ = run("check", str(sheet))
    assert code == 1
    assert "the right number with the wrong sign (for an update: x + η·∂f/∂x)" in out
    sheet.write_text("scenario: graph_circuit\nanswers:\n  df/dw: 4\n")
    code, _, err = run("check", str(sheet))
    assert code == 2
    assert err == (
        f"bptrace: error: {sheet}:3:3: answers.df/dw: unknown quantity 'df/dw' for this graph "
        "(did you mean df/dz or df/dy or df/dx?)\n"
    )


@pytest.mark.parametrize(
    ("option", "message"), [(["--notation", "matrix"], "--notation matrix"), (["--layer", "1"], "--layer 1")]
)
def test_network_options_are_refused(option: list[str], message: str) -> None:
    code, out, err = run("run", "graph_circuit", *option)
    assert (code, out) == (2, "")
    assert err == f"bptrace: error: {message} is for networks; a graph has gates, not layers (leave out {message})\n"


@pytest.mark.parametrize(
    ("fmt", "needle"), [("markdown", "| $x \\to a \\to b \\to f$ |"), ("latex", "\\begin{longtable}")]
)
def test_explain_documents(fmt: str, needle: str) -> None:
    code, out, err = run("explain", "df/dx", "-s", "graph_reuse", "--format", fmt, "--no-checks")
    assert code == 0, err
    assert needle in out
