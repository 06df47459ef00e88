"""`bptrace run`, `explain`, `check` and `template` on layer stacks (kind: layers): exit statuses, the
terminal at 60 to 200 columns, the JSON's shape, every export format, and bad input (one located line, exit 2)."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.layers import engine, model
from bptrace.layers.model import bundled_layers_names

STACKS = bundled_layers_names()


def run(*args: str, columns: int = 120) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": str(columns), "NO_COLOR": "1"}).invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def width(line: str) -> int:
    # East Asian wide characters take 2 columns, combining marks (the hat of x̂) none
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


@pytest.mark.parametrize("name", STACKS)
@pytest.mark.parametrize("columns", [60, 200])
def test_run_fits_the_terminal_and_verifies(name: str, columns: int) -> None:
    code, out, err = run("run", name, columns=columns)
    assert code == 0, err
    assert max(width(line) for line in out.splitlines()) <= columns
    assert "all agree." in out
    t = engine.trace(model.load(name))
    for p in t.params:
        assert p in out


def test_run_shows_the_sums_with_numbers() -> None:
    code, out, _ = run("run", "layers_conv_pool", "--verify", "off", columns=200)
    assert code == 0
    # the first output position of the convolution, as a sum with its numbers
    assert "x_1_1:1·K1_1_1 + x_1_2:1·K1_1_2 + x_2_1:1·K1_2_1 + x_2_2:1·K1_2_2 + b1_1" in out
    assert "0.1·0.2 + 0.5·(-0.1) + 0.7·0.3 + 0.3·0.4 + 0.05" in out
    # max pooling names its choice; a2_1_2 is the largest of two windows and gets both gradients
    assert "the largest of a2_1_1:1, a2_1_2:1, a2_2_1:1, a2_2_2:1" in out
    assert re.search(r"dE/da2_1_2:1 +dE/da3_1_1:1 \+ dE/da3_1_2:1", out)
    assert "not the largest of any window: 0" in out
    # the input gradient's kernel, rotated by 180°, with its numbers (K = [[0.2, -0.1], [0.3, 0.4]])
    assert "rot180(K1) = [[K1_2_2, K1_2_1], [K1_1_2, K1_1_1]] = [[0.4, 0.3], [-0.1, 0.2]]" in out


def test_run_batchnorm_shows_three_paths_beside_the_compact_formula() -> None:
    code, out, _ = run("run", "layers_batchnorm", "--verify", "off", columns=200)
    assert code == 0
    for word in ("mu2_1", "var2_1", "xhat2_1:1", "[through x̂]", "[through σ²]", "[through μ]", "compact formula"):
        assert word in out


def test_run_json() -> None:
    code, out, _ = run("run", "layers_batchnorm", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["kind"] == "layers"
    t = engine.trace(model.load("layers_batchnorm"))
    assert data["loss"] == t.loss
    assert {p["name"]: p["grad"] for p in data["parameters"]} == t.gradients
    assert data["verification"]["ok"] is True
    assert data["verification"]["judged"] == len(t.params)
    bn = next(sec for sec in data["backward"] if sec["type"] == "batchnorm")
    row = next(ln for ln in bn["lines"] if ln["compact"] is not None)
    assert {term["label"] for term in row["terms"]} == {"xhat", "var", "mu"}
    assert abs(sum(term["value"] for term in row["terms"]) - row["value"]) < 1e-15
    # byte-identical for the same input
    assert run("run", "layers_batchnorm", "--format", "json")[1] == out


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_every_format(fmt: str) -> None:
    code, out, err = run("run", "layers_conv_pool", "--format", fmt, "--verify", "off")
    assert code == 0, err
    assert "0.0297627952" in out  # dE/dK1_1_2
    assert {"markdown": "|", "latex": "\\begin", "html": "<table"}[fmt] in out


def test_explain_kernel_element() -> None:
    code, out, _ = run("explain", "dE/dK1_1_2", "-s", "layers_conv_pool", columns=120)
    assert code == 0
    t = engine.trace(model.load("layers_conv_pool"))
    line = t.line("dE/dK1_1_2")
    assert line is not None and len(line.terms) == 9
    assert "dE/da1_1_2:1·x_1_3:1" in out and "(-0.00850365578)·0.2" in out
    assert "SymPy" in out and "all agree." in out


def test_explain_input_gradient_and_json() -> None:
    code, out, _ = run("explain", "dE/dx_2_2:1", "-s", "layers_conv_pool", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["target"] == "dE/dx_2_2:1" and "rot180" in data["why"]
    assert len(data["line"]["terms"]) == 4  # x_2_2 sits under all four kernel elements


def test_explain_unknown_name_is_refused() -> None:
    code, _, err = run("explain", "dE/dK1_3_3", "-s", "layers_conv_pool")
    assert code == 2
    assert err.count("\n") == 1 and "did you mean" in err


def test_template_and_check_name_the_misconceptions(tmp_path: Path) -> None:
    s = model.load("layers_conv_pool")
    t, flipped, unflipped = engine.trace(s), engine.trace(s, "convolve"), engine.trace(s, "unflipped")
    code, out, _ = run("template", "layers_conv_pool")
    assert code == 0 and "  dE/dK1_1_2:\n" in out and "  K1_1_2+:\n" in out
    sheet = tmp_path / "s.yaml"
    sheet.write_text(
        "scenario: layers_conv_pool\nstudent: Ada\nanswers:\n"
        f"  a1_1_1:1: {t.values['a1_1_1:1']!r}\n"
        f"  a1_1_2:1: {flipped.values['a1_1_2:1']!r}\n"
        f"  dE/dx_2_3:1: {unflipped.values['dE/dx_2_3:1']!r}\n",
        encoding="utf-8",
    )
    code, out, _ = run("check", str(sheet), "--format", "json")
    assert code == 1
    answers = json.loads(out)[0]["answers"]
    assert [a["correct"] for a in answers] == [True, False, False]
    assert answers[1]["diagnoses"] == ["convolve"]
    assert answers[2]["diagnoses"] == ["unflipped"]


def test_check_batchnorm_variance_path(tmp_path: Path) -> None:
    s = model.load("layers_batchnorm")
    wrong = engine.trace(s, "no_variance_path")
    sheet = tmp_path / "s.yaml"
    sheet.write_text(
        f"scenario: layers_batchnorm\nstudent: Bo\nanswers:\n  dE/da1_1:2: {wrong.values['dE/da1_1:2']!r}\n",
        encoding="utf-8",
    )
    code, out, _ = run("check", str(sheet), "--format", "json")
    assert code == 1
    assert json.loads(out)[0]["answers"][0]["diagnoses"] == ["no_variance_path"]


def test_check_avgpool_routed_like_max(tmp_path: Path) -> None:
    text = (
        "kind: layers\nsamples: [{inputs: [[0.1, 0.9], [0.4, 0.3]], targets: [1]}]\n"
        "layers: [{type: avgpool, size: 2}, {type: flatten}, {type: dense, weights: [[2.0]], biases: [0.0]}]\n"
        "loss: half_sse\nlearning_rate: 0.1\n"
    )
    stack = tmp_path / "pool.yaml"
    stack.write_text(text, encoding="utf-8")
    wrong = engine.trace(model.loads(text), "avg_like_max")
    sheet = tmp_path / "s.yaml"
    sheet.write_text(
        f"scenario: pool.yaml\nstudent: Cy\nanswers:\n  dE/dx_1_2:1: {wrong.values['dE/dx_1_2:1']!r}\n",
        encoding="utf-8",
    )
    code, out, _ = run("check", str(sheet), "--format", "json")
    assert code == 1
    assert json.loads(out)[0]["answers"][0]["diagnoses"] == ["avg_like_max"]


GOOD = """kind: layers
samples:
  - inputs: [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    targets: [1]
layers:
  - type: conv2d
    channels_in: 1
    channels_out: 1
    kernel_size: 2
    kernels: [[[0.1, 0.2], [0.3, 0.4]]]
    biases: [0]
  - type: flatten
  - type: dense
    weights: [[0.1, 0.1, 0.1, 0.1]]
    biases: [0]
loss: half_sse
learning_rate: 0.1
"""

BAD = [
    (
        "kernels: [[[0.1, 0.2], [0.3, 0.4]]]",
        "kernels: [[[0.1, 0.2, 0.5], [0.3, 0.4]]]",
        10,
        "shape 1×2×3, expected 1×1×2×2 or 1×2×2",
    ),
    ("kernels: [[[0.1, 0.2], [0.3, 0.4]]]", "kernels: [[[0.1, 0.2], [0.3]]]", 10, "this row has 1 entries, expected 2"),
    ("weights: [[0.1, 0.1, 0.1, 0.1]]", "weights: [[0.1, 0.1, 0.1]]", 14, "weights has shape 1×3, expected 1×4"),
    ("channels_in: 1", "channels_in: 2", 7, "channels_in is 2, but its input has 1 channels"),
    ("  - type: flatten\n", "", 12, "needs a vector, but its input is 1×2×2"),
    ("kernel_size: 2", "kernel_size: 4", 9, "a 4×4 kernel does not fit the padded input 3×3"),
    ("type: conv2d", "type: conv3d", 6, "unknown layer type 'conv3d'"),
    ("loss: half_sse", "loss: half_ss", 16, "did you mean half_sse?"),
    ("    biases: [0]\nloss", "    biases: [0]\n    activation: relu6\nloss", 16, "unknown activation 'relu6'"),
    ("targets: [1]", "targets: [1, 2]", 4, "the target has 2 numbers, but layer 3 (dense) gives 1 outputs"),
    (
        "  - type: flatten\n",
        "  - type: batchnorm\n    gamma: [1]\n    beta: [0]\n  - type: flatten\n",
        12,
        "batch normalization needs a batch of at least 2 samples",
    ),
    ("[1, 2, 3], [4", "[1, 2, x], [4", 3, "samples[0].inputs[0][2]"),
    # found by the attack of 2026-12-02: a loss that needs outputs in (0, 1) after a linear output was
    # "out_output 1 of sample 1 is exactly -4.55 in float64, so bce needs the log of 0", naming no file
    ("loss: half_sse", "loss: bce", 16, "bce needs outputs in (0, 1): a sigmoid output layer, not linear"),
    (
        "loss: half_sse",
        "loss: cross_entropy",
        16,
        "cross_entropy needs a softmax output layer (set the last layer's activation to softmax (it is linear)",
    ),
    # an input of four dimensions was "needs channels × height × width, but its input is the vector 1×1×3×3"
    (
        "inputs: [[1, 2, 3], [4, 5, 6], [7, 8, 9]]",
        "inputs: [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]",
        3,
        "an input is a vector, an H×W image or C×H×W, not 1×1×3×3",
    ),
    # a nested first entry: "this row has 1 entries, expected 1 (shape 3×3×1)"
    ("[[1, 2, 3], [4", "[[[1], 2, 3], [4", 3, "samples[0].inputs[0][1]: the input: a number here, but"),
]


@pytest.mark.parametrize(("old", "new", "line", "message"), BAD)
def test_bad_input_is_one_located_line(tmp_path: Path, old: str, new: str, line: int, message: str) -> None:
    assert old in GOOD
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    code, out, err = run("run", str(path))
    assert code == 2, (out, err)
    assert err.count("\n") == 1, err
    assert f"bad.yaml:{line}:" in err, err
    assert message in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("targets", ["[2]", "[-0.5]"])
def test_bce_targets_outside_0_1_are_refused(tmp_path: Path, targets: str) -> None:
    """bce with a target of 2 ran and exited 1 with every gradient a MISMATCH (the network reader refuses it)."""
    text = GOOD.replace("    biases: [0]\nloss: half_sse", "    biases: [0]\n    activation: sigmoid\nloss: bce")
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace("targets: [1]", f"targets: {targets}"), encoding="utf-8")
    code, out, err = run("run", str(path))
    assert code == 2, (out[-300:], err)
    assert err.count("\n") == 1 and "bad.yaml:4:" in err and "bce targets must lie in [0, 1]" in err, err


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("weights: [[0.1, 0.1, 0.1, 0.1]]", "weights: [[1e308, 1e308, 1e308, 1e308]]"),  # z overflows
        ("learning_rate: 0.1", "learning_rate: 1e308"),  # the update overflows
        # a saturated sigmoid: bce needs the log of 1 − 1
        ("    biases: [0]\nloss: half_sse", "    biases: [100]\n    activation: sigmoid\nloss: bce"),
    ],
)
def test_numbers_beyond_float64_are_one_line_naming_the_file(tmp_path: Path, old: str, new: str) -> None:
    """The engine's numerical errors named no file (`z5_1:1 is inf in float64: the numbers overflow`), and a
    saturated output was called `out_output 1`, a name of no stack."""
    assert old in GOOD
    path = tmp_path / "big.yaml"
    path.write_text(GOOD.replace(old, new, 1).replace("targets: [1]", "targets: [0]"), encoding="utf-8")
    for command in (["run", str(path)], ["explain", "dE/dK1_1_1", "-s", str(path)]):
        code, out, err = run(*command)
        assert code == 2, (command, out[-300:], err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"bptrace: error: {path}: "), lines
        assert "float64" in lines[0] and "out_output" not in lines[0], lines[0]


def _dense_stack(n: int) -> str:
    weights = [[0.001 * ((i + j) % 7) for j in range(n)] for i in range(n)]
    return (
        f"kind: layers\nsamples: [{{inputs: {[0.5] * n}, targets: {[0.5] * n}}}]\n"
        f"layers:\n  - {{type: dense, weights: {weights}, biases: {[0] * n}, activation: tanh}}\n"
        "loss: half_sse\nlearning_rate: 0.1\n"
    )


def test_a_stack_of_too_many_parameters_is_refused_up_front(tmp_path: Path) -> None:
    """A 200×200 dense layer (40,200 parameters, 300 KB) ran `run` for minutes (every parameter is checked by
    finite differences and printed); it is refused before any work, at its layer's line."""
    path = tmp_path / "big.yaml"
    path.write_text(_dense_stack(200), encoding="utf-8")
    code, out, err = run("run", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f"bptrace: error: {path}:4:5: layers[0]: the stack has 40,200 parameters; bptrace traces at most 5,000 "
        "(a stack traced by hand is smaller: fewer channels, a smaller kernel or dense layer)\n"
    )
    assert model.MAX_PARAMETERS == 5_000
    assert len(model.loads(_dense_stack(70)).layers[0].weights) == 70  # 4,970 parameters are read


def test_a_batch_norm_of_equal_inputs_and_a_tiny_epsilon_is_one_line(tmp_path: Path) -> None:
    """Two equal samples (σ² = 0) and epsilon: 1e-300 were `internal error: OverflowError` ((σ² + ε)^(−3/2) as a
    Python float's power, which raises instead of giving inf)."""
    path = tmp_path / "bn.yaml"
    path.write_text(
        "kind: layers\nsamples:\n  - {inputs: [1, 2], targets: [0.5]}\n  - {inputs: [1, 2], targets: [0.2]}\n"
        "layers:\n  - {type: dense, weights: [[0.5, -0.3]], biases: [0.1]}\n"
        "  - {type: batchnorm, gamma: [1.0], beta: [0.0], epsilon: 1e-300}\n"
        "  - {type: dense, weights: [[0.7]], biases: [0], activation: sigmoid}\nloss: half_sse\nlearning_rate: 0.1\n",
        encoding="utf-8",
    )
    code, out, err = run("run", str(path))
    assert (code, out) == (2, "")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bptrace: error: {path}: ") and "float64" in lines[0], lines
    assert "internal error" not in err


def test_good_input_runs(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(GOOD, encoding="utf-8")
    code, _, err = run("run", str(path))
    assert code == 0, err


def test_python_tags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("learning_rate: 0.1", "learning_rate: !!python/object:os.system 1"), encoding="utf-8")
    code, _, err = run("run", str(path))
    assert code == 2 and err.count("\n") == 1


@pytest.mark.parametrize("name", STACKS)
def test_bundled_stacks_follow_the_json_schema(name: str) -> None:
    import jsonschema
    import yaml

    import bptrace
    from bptrace.model.scenario import BUNDLED_DIR

    schema = json.loads((Path(bptrace.__file__).parent / "scenario.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(yaml.safe_load((BUNDLED_DIR / f"{name}.yaml").read_text(encoding="utf-8")), schema)
    bad = yaml.safe_load(GOOD)
    bad["layers"][0]["stride"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


@pytest.mark.parametrize("command", [["train"], ["key"], ["lesson"], ["diagram", "-o", "x.svg"]])
def test_commands_for_networks_name_the_kind(command: list[str], tmp_path: Path) -> None:
    args = [command[0], "layers_conv_pool", *command[1:]]
    if command[0] == "diagram":
        args[-1] = str(tmp_path / "x.svg")
    code, _, err = run(*args)
    assert code == 2
    assert err.count("\n") == 1
    assert "this is a stack of layers (kind: layers)" in err


def test_run_speaks_chinese() -> None:
    code, out, _ = run("--lang", "zh", "run", "layers_batchnorm", columns=120)
    assert code == 0
    for text in ("前向传播", "反向传播", "经由 σ²", "紧凑公式", "全部一致"):
        assert text in out
    for english in ("Forward pass", "through σ²", "compact formula", "all agree"):
        assert english not in out


def test_explain_pooling_routing_and_batchnorm_paths() -> None:
    code, out, _ = run("explain", "dE/da2_1_2:1", "-s", "layers_conv_pool", "--no-checks", columns=120)
    assert code == 0
    assert "Only the largest input of a window reaches the output" in out
    assert "dE/da3_1_1:1" in out and "dE/da3_1_2:1" in out  # the two windows that chose a2_1_2
    code, out, _ = run("explain", "dE/da1_1:2", "-s", "layers_batchnorm", columns=160)
    assert code == 0
    assert "[through x̂]" in out and "[through σ²]" in out and "[through μ]" in out
    t = engine.trace(model.load("layers_batchnorm"))
    line = t.line("dE/da1_1:2")
    assert line is not None and line.compact is not None
    assert "The compact formula:" in out
    code, out, _ = run("explain", "K1_1_2", "-s", "layers_conv_pool", "--no-checks")
    assert code == 0 and out.startswith("dE/dK1_1_2 = ")
    code, out, _ = run("explain", "x_1_1:1", "-s", "layers_conv_pool")
    assert code == 0 and "given, not computed" in out


def _mutations() -> list[str]:
    """Every line of GOOD deleted, and every number replaced by junk, a list, a negative or a huge value."""
    lines = GOOD.splitlines(keepends=True)
    out = ["".join(lines[:i] + lines[i + 1 :]) for i in range(len(lines))]
    for m in re.finditer(r"-?\d+(\.\d+)?", GOOD):
        for junk in ("x", "[1, 2]", "-3", "1e308", "", "{a: 1}", "true"):
            out.append(GOOD[: m.start()] + junk + GOOD[m.end() :])
    return out


def test_broken_stacks_are_refused_in_one_line_or_run() -> None:
    from bptrace.errors import BptraceError

    refused = 0
    for text in _mutations():
        try:
            s = model.loads(text, "m.yaml")
        except BptraceError as exc:
            refused += 1
            assert exc.line is not None or "missing" in exc.message, (text, exc.message)
            assert "\n" not in str(exc)
            continue
        try:
            engine.trace(s)  # a valid variant runs, or names the quantity that overflows
        except BptraceError as exc:
            assert "overflow" in exc.message, exc.message
    assert refused > 50


def test_an_overflow_is_one_located_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(GOOD.replace("[[[0.1, 0.2], [0.3, 0.4]]]", "[[[1e308, 0.2], [0.3, 0.4]]]"), encoding="utf-8")
    for fmt in ("terminal", "json"):
        code, _, err = run("run", str(path), "--format", fmt)
        assert code == 2
        assert err == (
            f"bptrace: error: {path}: a1_1_2:1 is inf in float64: the numbers overflow "
            "(use smaller weights, inputs or learning rate)\n"
        )
