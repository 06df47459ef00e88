"""Scenario files: both forms load; every malformed file gets one exact, located message (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import bptrace
from bptrace.cli.main import main
from bptrace.errors import ScenarioError
from bptrace.model.scenario import bundled_names, loads

SCHEMA = json.loads((Path(bptrace.__file__).parent / "scenario.schema.json").read_text())
GOOD = """\
inputs: [0.05, 0.10]
targets: [0.01, 0.99]
layers:
  - activation: sigmoid
    weights: [[0.15, 0.20], [0.25, 0.30]]
    bias: 0.35
  - activation: sigmoid
    weights: [[0.40, 0.45], [0.50, 0.55]]
    bias: 0.60
loss: half_sse
learning_rate: 0.5
update_biases: false
"""


def test_matrix_form_equals_named_form() -> None:
    """Mazur's network written as matrices traces to the same numbers as the named file."""
    a = bptrace.run(loads(GOOD))
    b = bptrace.run("mazur")
    assert a.loss == b.loss and a.loss_after == b.loss_after
    for pa, pb in zip(a.scenario.parameters(), b.scenario.parameters()):
        assert a.grad(pa) == b.grad(pb)
        assert (pa.layer, pa.row, pa.col) == (pb.layer, pb.row, pb.col)


def test_automatic_names() -> None:
    s = loads(GOOD.replace("bias: 0.35", "biases: [0.35, 0.35]"))
    assert s.input_names == ("x1", "x2")
    assert s.layers[0].neurons == ("h1_1", "h1_2") and s.layers[1].neurons == ("o1", "o2")
    assert [p.name for p in s.parameters()] == [
        "W1_1_1",
        "W1_1_2",
        "W1_2_1",
        "W1_2_2",
        "b1_1",
        "b1_2",
        "W2_1_1",
        "W2_1_2",
        "W2_2_1",
        "W2_2_2",
        "b2",
    ]
    p = s.parameter("W2_1_2")
    assert (p.layer, p.row, p.col) == (2, 0, 1)


@pytest.mark.parametrize("name", bundled_names())
def test_bundled_scenarios_follow_the_json_schema(name: str) -> None:
    import jsonschema

    text = (Path(bptrace.__file__).parent / "scenarios" / f"{name}.yaml").read_text()
    jsonschema.validate(yaml.safe_load(text), SCHEMA)
    assert "source:" in text  # each bundled scenario cites where it comes from


def test_schema_rejects_what_the_loader_rejects() -> None:
    import jsonschema

    bad = yaml.safe_load(GOOD.replace("loss: half_sse", "loss: hinge"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMA)


# (file text, exact message) — each case is one mistake a user really makes.
CASES = [
    (
        "inputs: [0.1, 0.2]\ntargets: [1]\nlayers:\n  - activation: sigmod\n    weights: [[0.1, 0.2]]\n",
        "s.yaml:4:5: layers[0].activation: unknown activation 'sigmod' (did you mean sigmoid?)",
    ),
    (
        "inputs: [0.1, 0.2]\ntargets: [1]\nlayers:\n  - weights: [[0.1, oops]]\n",
        "s.yaml:4:21: layers[0].weights[0][1]: expected a number, got 'oops' "
        "(write a plain decimal number such as 0.25 or 1e-3)",
    ),
    (
        "inputs: [0.1, 0.2]\ntargets: [1]\nlayers:\n  - weights: [[0.1, 0.2, 0.3]]\n",
        "s.yaml:4:5: layers[0].weights: each row must have 2 weights (one per neuron of the inputs), got 3 "
        "(row i = neuron i of this layer, column j = neuron j of the layer before)",
    ),
    (
        "inputs: [0.1, 0.2]\ninputs: [1]\n",
        "s.yaml:2:1: inputs: duplicate key 'inputs' (first given on line 1) (keep one of them)",
    ),
    (
        "!!python/object/apply:os.system ['true']\n",
        "s.yaml:1:1: the tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed "
        "(remove the tag; bptrace reads plain YAML values only)",
    ),
    (
        "inputs: [1, 2\n",
        "s.yaml:2:1: invalid YAML: did not find expected ',' or ']' (check the indentation and punctuation on that line)",  # noqa: E501
    ),
    # a tab where YAML needs spaces (found by the attack of 2026-12-02: "found character that cannot start
    # any token" or "a tab character that violates indentation", neither saying what to do)
    (
        "inputs:\n\t- 1\n",
        "s.yaml:2:1: a tab where YAML needs spaces (indent with spaces only: replace the tab with spaces)",
    ),
    (
        "kind: rnn\nhidden:\n  activation: tanh\n\tW_xh: [[1]]\n",
        "s.yaml:4:1: a tab where YAML needs spaces (indent with spaces only: replace the tab with spaces)",
    ),
    (
        "inputs: [1]\nlayers:\n  -\tactivation: sigmoid\n",
        "s.yaml:3:4: a tab where YAML needs spaces (indent with spaces only: replace the tab with spaces)",
    ),
    ("", "s.yaml:1: the file is empty (see docs/scenarios.md for the format)"),
    ("# only a comment\n", "s.yaml:1: the file is empty (see docs/scenarios.md for the format)"),
    (
        "- 1\n- 2\n",
        "s.yaml:1:1: a scenario must be a mapping of keys (inputs, layers, ...), not a list (see docs/scenarios.md)",
    ),
    (
        "just text\n",
        "s.yaml:1:1: a scenario must be a mapping of keys (inputs, layers, ...), not the value "
        "'just text' (see docs/scenarios.md)",
    ),
    (
        "inputs: [0.1, .nan]\ntargets: [1]\nlayers:\n  - weights: [[0.1, 0.2]]\n",
        "s.yaml:1:15: inputs[1]: expected a number, got nan (NaN and infinity are not allowed)",
    ),
    (
        "inputs: [0.1, 0.2]\ntargets: [.inf]\nlayers:\n  - weights: [[0.1, 0.2]]\n",
        "s.yaml:2:11: targets[0]: expected a number, got inf (NaN and infinity are not allowed)",
    ),
    (
        "inputs: [0.1, 0.2]\ntargets: [1]\nlearning_rate: -1\nlayers:\n  - weights: [[0.1, 0.2]]\n",
        "s.yaml:3:1: learning_rate: the learning rate must be positive, got -1 (Mazur uses 0.5)",
    ),
    (
        "inputs: [0.1, 0.2]\ntargets: [1]\nlearning_rate: fast\nlayers:\n  - weights: [[0.1, 0.2]]\n",
        "s.yaml:3:1: learning_rate: expected a positive learning rate, got 'fast' "
        "(write a plain decimal number such as 0.25 or 1e-3)",
    ),
    (
        "inputs: [0.1, 0.2]\ntargets: [1]\nlayerz: []\n",
        "s.yaml:3:1: layerz: unknown key 'layerz' (did you mean layers?)",
    ),
    ("inputs: [0.1, 0.2]\ntargets: [1]\n", "s.yaml:1:1: missing required key 'layers' (see docs/scenarios.md)"),
    (
        "inputs: [0.1, 0.2]\ntargets: [1, 0]\nlayers:\n  - weights: [[0.1, 0.2]]\n",
        "s.yaml:2:1: targets: expected 1 targets (one per output neuron), got 2",
    ),
    (
        "samples:\n  - {inputs: [1, 2], targets: [1]}\n  - {inputs: [1], targets: [1]}\nlayers:\n"
        "  - weights: [[0.1, 0.2]]\n",
        "s.yaml:3:6: samples[1].inputs: this sample has 1 inputs but sample 1 has 2",
    ),
    (
        "inputs: [1, 2]\ntargets: [1, 0]\nlayers:\n  - activation: softmax\n    weights: [[1, 2], [3, 4]]\n"
        "  - activation: softmax\n    weights: [[1, 2], [3, 4]]\nloss: cross_entropy\n",
        "s.yaml:4:5: layers[0].activation: softmax is allowed only in the output layer "
        "(use sigmoid, tanh or relu in hidden layers)",
    ),
    (
        "inputs: [1, 2]\ntargets: [2]\nloss: bce\nlayers:\n  - weights: [[0.1, 0.2]]\n",
        "s.yaml:2:1: targets: bce targets must lie in [0, 1], got [2.0]",
    ),
    (
        "inputs: [1, 2]\ntargets: [0.5]\nloss: bce\nlayers:\n  - activation: linear\n    weights: [[0.1, 0.2]]\n",
        "s.yaml:3:1: loss: bce needs outputs in (0, 1): a sigmoid output layer, not linear "
        "(set the last layer's activation to sigmoid)",
    ),
    (
        'inputs: [1, 2]\ntargets: [1]\nlayers:\n  - weights: [[0.1, "0.2"]]\n',
        "s.yaml:4:21: layers[0].weights[0][1]: expected a number, got '0.2' "
        "(write a plain decimal number such as 0.25 or 1e-3)",
    ),
    (
        "inputs: [1, 2]\ntargets: [1, 0]\nloss: cross_entropy\nlayers:\n  - weights: [[1, 2], [3, 4]]\n",
        "s.yaml:3:1: loss: cross_entropy needs a softmax output layer "
        "(set the last layer's activation to softmax (it is sigmoid), or with sigmoid outputs write loss: bce)",
    ),
    (
        "inputs: [1, 2]\ntargets: [0.5, 0.6]\nloss: cross_entropy\nlayers:\n  - activation: softmax\n"
        "    weights: [[1, 2], [3, 4]]\n",
        "s.yaml:2:1: targets: cross_entropy targets must sum to 1, they sum to 1.1 "
        "(use a one-hot vector such as [0, 1, 0])",
    ),
    (
        "inputs: [1, 2]\ntargets: [1]\nlayers:\n  - weights: []\n",
        "s.yaml:4:5: layers[0].weights: weights must be a non-empty list of rows, e.g. [[0.15, 0.20], [0.25, 0.30]]",
    ),
    (
        "inputs: [1, 2]\ntargets: [1]\nupdate_biases: yes please\nlayers:\n  - weights: [[1, 2]]\n",
        "s.yaml:3:1: update_biases: expected true or false, got 'yes please'",
    ),
    (
        "inputs: {i1: 1}\ntargets: {o1: 1}\nlayers:\n  - neurons: [o1]\n    weights:\n"
        "      w1: {from: i2, to: o1, value: 0.1}\n",
        "s.yaml:6:12: layers[0].weights.w1.from: 'i2' is not an input (did you mean i1?)",
    ),
    (
        "inputs: {i1: 1}\ntargets: {o2: 1}\nlayers:\n  - neurons: [o1]\n    weights:\n"
        "      w1: {from: i1, to: o1, value: 0.1}\n",
        "s.yaml:2:1: targets: targets must name each output neuron (o1): missing o1 (o2: did you mean o1?)",
    ),
    (
        "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
        None,
    ),  # an alias bomb: refused quickly (message checked below)
]


@pytest.mark.parametrize("text,message", CASES)
def test_bad_scenario_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str | None) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_text(text)
    result = CliRunner().invoke(main, ["run", "s.yaml"])
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    if message is None:
        assert "repeats more than 100000 values through aliases (an alias bomb?)" in lines[0]
    else:
        assert lines[0] == f"bptrace: error: {message}"


@pytest.mark.parametrize(
    "raw,message",
    [
        (b"\xff\xfeinputs: 1\n", "s.yaml:1: is not UTF-8 text (byte 0xff at offset 0) (save the file as UTF-8)"),
        (b"inputs:\x00\n", "s.yaml: is a binary file, not YAML text"),
    ],
)
def test_unreadable_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: bytes, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("s.yaml").write_bytes(raw)
    result = CliRunner().invoke(main, ["run", "s.yaml"])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"bptrace: error: {message}"


def test_missing_file_and_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("d.yaml").mkdir()
    for arg, message in (
        ("nope.yaml", "nope.yaml: no such file (check the path)"),
        ("d.yaml", "d.yaml: is a directory, not a file (give the path of a .yaml file)"),
    ):
        result = CliRunner().invoke(main, ["run", arg])
        assert result.exit_code == 2
        assert result.stderr.strip() == f"bptrace: error: {message}"


def test_exponent_only_numbers_are_numbers() -> None:
    """YAML 1.1 would read 1e-1 as text; users (and YAML 1.2) mean a number."""
    s = loads("inputs: [1e-1, 2E0]\ntargets: [1]\nlearning_rate: 5e-1\nlayers: [{weights: [[1e-3, -2e-2]]}]\n")
    assert s.learning_rate == 0.5 and list(s.inputs[0]) == [0.1, 2.0] and s.layers[0].weights[0, 1] == -0.02


def test_loads_raises_scenario_error() -> None:
    with pytest.raises(ScenarioError) as info:
        loads("layers: 3\n", "x.yaml")
    assert str(info.value).startswith("x.yaml:1:")


def test_named_form_rejects_non_names_briefly() -> None:
    """Found by scripts/fuzz.py: a list where a neuron's name belongs (was an internal error)."""
    text = (Path(bptrace.__file__).parent / "scenarios" / "mazur.yaml").read_text()
    with pytest.raises(ScenarioError) as info:
        loads(text.replace("w2: {from: i2,", "w2: {from: [" + "0.1, " * 40 + "0.1],"), "m.yaml")
    message = str(info.value)
    assert "layers[0].weights.w2.from: from must be one neuron's name, got [0.1, 0.1" in message
    assert "…" in message and len(message) < 200


def test_named_form_names_cannot_shadow_the_vocabulary() -> None:
    text = (Path(bptrace.__file__).parent / "scenarios" / "mazur.yaml").read_text()
    with pytest.raises(ScenarioError) as info:
        loads(text.replace("w5:", "E_total:"), "m.yaml")
    assert "m.yaml:21:7: layers[1].weights.E_total: the name 'E_total' would read as a quantity name" in str(info.value)


def test_with_changes_types_every_field() -> None:
    """`with_changes`' keyword types (ScenarioChanges) name every field of Scenario but its index, so a new
    field cannot be left out of them; a copy with a change answers by its own parameters."""
    import dataclasses

    from bptrace.model.scenario import Scenario, ScenarioChanges

    fields = {f.name for f in dataclasses.fields(Scenario)} - {"_index"}
    assert set(ScenarioChanges.__annotations__) == fields
    s = bptrace.load("mazur")
    assert s.has_parameter("w5")
    renamed = s.with_changes(title="renamed", learning_rate=0.25)
    assert (renamed.title, renamed.learning_rate, s.title) == ("renamed", 0.25, bptrace.load("mazur").title)
    assert renamed.parameter("w5") == s.parameter("w5")
