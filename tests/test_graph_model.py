"""Graph scenarios as files: the parser's trees, the gates and their names, and the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import bptrace
from bptrace.graph import expression as ex
from bptrace.graph import model
from bptrace.model.scenario import BUNDLED_DIR, bundled_graph_names

SCHEMA = json.loads((Path(bptrace.__file__).parent / "scenario.schema.json").read_text())


def gates(text: str) -> list[tuple[str, str, tuple[object, ...]]]:
    return [(g.name, g.op, g.operands) for g in model.loads(text).gates]


def test_precedence_and_associativity() -> None:
    show = lambda text: ex.show(ex.parse(text), ascii=True)  # noqa: E731
    assert show("-x^2") == "-x^2"
    assert ex.parse("-x^2") == ex.Neg(ex.Binary("^", ex.Name("x", 1), ex.Num(2.0, "2", 3), 2), 0)
    assert show("2^3^2") == "2^3^2"
    assert ex.parse("2^3^2").right == ex.Binary("^", ex.Num(3.0, "3", 2), ex.Num(2.0, "2", 4), 3)  # type: ignore[union-attr]
    assert show("a - (b - c)") == "a - (b - c)"
    assert show("(a - b) - c") == "a - b - c"
    assert show("a / (b * c)") == "a/(b*c)"
    assert show("x ** 2 · y × z − w ÷ v") == "x^2*y*z - w/v"


def test_gates_in_evaluation_order_with_automatic_names() -> None:
    text = "kind: graph\nvalues: {x: 1, g1: 2}\ndefine:\n  q: x * g1 + 1\noutput: L = exp(q) * (1/2)\n"
    # g1 is taken by a value, so the automatic names skip it; the constant 1/2 is folded into the gate
    assert gates(text) == [
        ("g2", "mul", ("x", "g1")),
        ("q", "add", ("g2", 1.0)),
        ("g3", "exp", ("q",)),
        ("L", "mul", ("g3", 0.5)),
    ]


def test_a_define_that_is_a_name_is_a_copy_gate() -> None:
    assert gates("kind: graph\nvalues: {x: 1}\ndefine: {q: x}\noutput: q\n") == [
        ("q", "id", ("x",)),
        ("f", "id", ("q",)),
    ]


def test_a_reused_node_is_listed_once_per_use() -> None:
    s = model.loads("kind: graph\nvalues: {x: 3}\noutput: f = x * x + x\n")
    assert s.uses("x") == [("g1", 0), ("g1", 1), ("f", 1)]


def test_columns_inside_quoted_and_plain_values(tmp_path: Path) -> None:
    for line, column in (("output: f = x + w\n", 17), ('output: "f = x + w"\n', 18), ("output:   f =   x + w\n", 21)):
        with pytest.raises(bptrace.BptraceError) as info:
            model.loads("kind: graph\nvalues: {x: 1}\n" + line, file="g.yaml")
        assert (info.value.line, info.value.column) == (3, column), line


@pytest.mark.parametrize("name", bundled_graph_names())
def test_bundled_graphs_follow_the_json_schema(name: str) -> None:
    import jsonschema

    text = (BUNDLED_DIR / f"{name}.yaml").read_text()
    jsonschema.validate(yaml.safe_load(text), SCHEMA)
    assert "source:" in text
    assert model.load(name).title


@pytest.mark.parametrize(
    "change",
    [
        {"layers": []},  # a network key in a graph
        {"values": {"x": "one"}},
        {"update": ["x", "x"]},
        {"learning_rate": -1},
        {"kind": "grahp"},
    ],
)
def test_schema_rejects_what_the_loader_rejects(change: dict[str, object], tmp_path: Path) -> None:
    import jsonschema

    doc = {"kind": "graph", "values": {"x": 1}, "output": "f = x * x", "learning_rate": 0.1, **change}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, SCHEMA)
    path = tmp_path / "g.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(bptrace.BptraceError):
        model.graph_or_none(str(path))


def test_the_schema_still_takes_a_graph_with_every_key() -> None:
    import jsonschema

    doc = {
        "kind": "graph",
        "title": "t",
        "source": "s",
        "description": "d",
        "values": {"x": 1, "y": 2},
        "define": {"q": "x + y", "c": "2 * x"},
        "output": "f = q * c",
        "learning_rate": 0.1,
        "update": ["x"],
    }
    jsonschema.validate(doc, SCHEMA)
