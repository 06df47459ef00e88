"""`bptrace train` of a small network without numpy (issue 21): the scalar kernel's path imports only what
it needs, the one scenario loader reads a numpy-free scenario (arrays=False) with the same numbers and the
same errors, and training it gives the numbers training the numpy scenario gives, bit for bit.

The outputs table of that path is the kernel's own forward pass; it is checked against a forward pass
written here with numpy (independent of bptrace's engine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from strategies import random_scenario_yaml

from bptrace.cli.main import main
from bptrace.engine.train import flat_parameters, train, with_parameters
from bptrace.errors import ScenarioError
from bptrace.model.floats import Floats
from bptrace.model.scenario import Scenario, bundled_names, load, loads

ROOT = Path(__file__).resolve().parent.parent


def networks() -> list[str]:
    """The bundled scenarios that are feed-forward networks (train's kind)."""
    names = []
    for name in bundled_names():
        try:
            load(name, arrays=False)
        except ScenarioError:
            continue
        names.append(name)
    return names


# ---------------------------------------------------------------------------------------------------
# What the path imports: counted in a fresh interpreter, never timed

# the modules a scalar-kernel `train` run may load beyond the interpreter's own start: bptrace's, click's,
# PyYAML's, rich's (the terminal tables; not for --format json) and the standard library's
# (_yaml, cython_runtime and _cython_*: PyYAML's libyaml binding)
THIRD_PARTY = {"bptrace", "click", "yaml", "_yaml", "cython_runtime", "rich"}
NEVER = ("numpy", "plotext", "sympy", "mpmath", "matplotlib", "PIL", "babel")
NOT_ON_THIS_PATH = (
    "bptrace.engine.step",  # the engine's step and forward pass: the kernel does both
    "bptrace.engine.trace",
    "bptrace.render.layout",  # a trace's tables
    "bptrace.verify",
)
# bptrace's own modules the terminal run loads today (a new one must be argued for): 28, and bptrace.formula
# since the registry's formulas are trees (functions.py imports it; ≈ 2–5 ms with compiled bytecode)
BPTRACE_MODULES = 29

PROBE = r"""
import json, os, runpy, sys
before = set(sys.modules)
out, argv = sys.argv[1], sys.argv[2:]
sys.argv = ["bptrace", *argv]
os.environ["BPTRACE_FULL_SHUTDOWN"] = "1"  # an ordinary exit, so that the lines below run
try:
    runpy.run_module("bptrace", run_name="__main__", alter_sys=True)
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
with open(out, "w") as f:
    json.dump(sorted(set(sys.modules) - before), f)
"""


def imported_by(tmp_path: Path, *argv: str) -> list[str]:
    """The modules a run of `bptrace ARGV` imports beyond the interpreter's start (its stdout discarded)."""
    target = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", PROBE, str(target), *argv], check=True, stdout=subprocess.DEVNULL, cwd=tmp_path
    )
    modules: list[str] = json.loads(target.read_text())
    return modules


RUNS = {
    "terminal": ["train", "mazur", "--epochs", "10"],
    "snapshots, sgd": ["train", "mazur", "--epochs", "10", "--every", "5", "--batch-size", "1"],
    "several samples": ["train", "ng_shallow", "--epochs", "10"],
    "ascii": ["train", "scenarios/mazur.yaml", "--epochs", "10", "--ascii"],
    "json": ["train", "mazur", "--epochs", "10", "--format", "json"],
    "csv": ["train", "mazur", "--epochs", "10", "--csv", "history.csv"],
}


@pytest.mark.parametrize("run", list(RUNS))
def test_the_scalar_kernel_path_imports_only_what_it_needs(tmp_path: Path, run: str) -> None:
    argv = RUNS[run]
    if argv[1].startswith("scenarios/"):
        argv = [argv[0], str(ROOT / argv[1]), *argv[2:]]
    modules = imported_by(tmp_path, *argv)
    tops = {m.split(".")[0] for m in modules}
    assert "bptrace.engine.kernel" in modules and "click" in tops  # the probe sees the run's imports
    for name in NEVER:
        assert name not in tops, f"{run}: imports {name}"
    for name in NOT_ON_THIS_PATH:
        assert not any(m == name or m.startswith(name + ".") for m in modules), f"{run}: imports {name}"
    foreign = {
        t for t in tops if t not in THIRD_PARTY and not t.startswith("_cython_") and t not in sys.stdlib_module_names
    }
    assert not foreign, f"{run}: imports {sorted(foreign)}"
    if run == "json":
        assert "rich" not in tops  # JSON needs no tables
    own = [m for m in modules if m.split(".")[0] == "bptrace"]
    assert len(own) <= BPTRACE_MODULES, f"{run}: {len(own)} bptrace modules: {own}"


def test_the_numpy_path_still_imports_numpy(tmp_path: Path) -> None:
    """The probe can fail: forcing the numpy path (or a large network) loads numpy."""
    modules = imported_by(tmp_path, "train", "mazur", "--epochs", "10", "--engine", "numpy")
    assert "numpy" in modules


# ---------------------------------------------------------------------------------------------------
# The numpy-free scenario: one loader, the same numbers


def same_numbers(plain: Scenario, arrays: Scenario) -> None:
    assert plain.plain and not arrays.plain
    for a, b in zip(plain.layers, arrays.layers):
        for x, y in ((a.weights, b.weights), (a.biases, b.biases)):
            assert isinstance(x, Floats) and isinstance(y, np.ndarray)
            assert x.shape == y.shape and x.size == y.size
            assert x.tolist() == y.tolist()
            assert np.array_equal(np.asarray(x), y)
    for x, y in ((plain.inputs, arrays.inputs), (plain.targets, arrays.targets)):
        assert x.shape == y.shape and x.tolist() == y.tolist()
    if arrays.corrupt is not None:
        assert plain.corrupt is not None and plain.corrupt.tolist() == arrays.corrupt.tolist()
    assert plain.parameters() == arrays.parameters() and plain.samples == arrays.samples
    assert flat_parameters(plain) == flat_parameters(arrays)
    converted = plain.with_arrays()
    assert not converted.plain and arrays.with_arrays() is arrays
    assert all(np.array_equal(a.weights, b.weights) for a, b in zip(converted.layers, arrays.layers))
    assert np.array_equal(converted.inputs, arrays.inputs) and np.array_equal(converted.targets, arrays.targets)


@pytest.mark.parametrize("name", networks())
def test_the_numpy_free_scenario_holds_the_same_numbers(name: str) -> None:
    same_numbers(load(name, arrays=False), load(name))


def test_the_numpy_free_scenario_of_random_networks() -> None:
    for seed in range(20):
        text = random_scenario_yaml(seed, max_samples=4, l2=True)
        same_numbers(loads(text, "<random>", arrays=False), loads(text, "<random>"))


@pytest.mark.parametrize(
    "text",
    [
        "inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1, 2]]\n",  # a row too long
        "inputs: [1]\ntargets: [1]\nlayers:\n  - weights: [[1]]\n    biases: [1, 2]\n",  # too many biases
        "inputs: [1]\ntargets: [1, 2]\nlayers:\n  - weights: [[1]]\n",  # targets for two outputs
        "inputs: {i1: 1}\ntargets: {o1: 1}\nlayers:\n  - neurons: [o1]\n    weights: {}\n",  # a missing weight
        "inputs: [x]\ntargets: [1]\nlayers:\n  - weights: [[1]]\n",  # not a number
    ],
)
def test_the_numpy_free_loader_refuses_what_the_loader_refuses(text: str) -> None:
    with pytest.raises(ScenarioError) as plain:
        loads(text, "bad.yaml", arrays=False)
    with pytest.raises(ScenarioError) as arrays:
        loads(text, "bad.yaml")
    assert str(plain.value) == str(arrays.value)


def test_floats_index_and_convert_as_numpy_does() -> None:
    m = Floats.matrix([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    a = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert m.shape == a.shape and m.size == a.size and len(m) == len(a)
    assert [m[i, j] for i in range(2) for j in range(3)] == [a[i, j] for i in range(2) for j in range(3)]
    assert m[-1, -1] == a[-1, -1] and m[1].tolist() == a[1].tolist()
    assert m.ravel().tolist() == a.ravel().tolist() and np.array_equal(np.asarray(m), a)
    empty = Floats.matrix([[], []])
    assert empty.shape == (2, 0) and np.asarray(empty).shape == np.array([[], []]).shape
    with pytest.raises(IndexError):
        m[2, 0]
    with pytest.raises(ValueError):
        Floats([1.0, 2.0], (3,))


# ---------------------------------------------------------------------------------------------------
# Training the numpy-free scenario: the same numbers, and outputs checked by an independent forward pass


def oracle_outputs(s: Scenario) -> np.ndarray:
    """The output layer's out for every forward pass, written here from the definitions (numpy)."""
    a = np.vstack([s.inputs, s.corrupt]) if s.corrupt is not None else np.asarray(s.inputs)
    for layer in s.layers:
        w = np.asarray(layer.weights)
        b = np.asarray(layer.biases)
        z = a @ w.T + (b if layer.bias_mode == "neuron" else b[0] if layer.bias_mode == "shared" else 0.0)
        f = layer.activation
        if f == "sigmoid":
            a = 1 / (1 + np.exp(-z))
        elif f == "tanh":
            a = np.tanh(z)
        elif f == "relu":
            a = np.maximum(z, 0.0)
        elif f == "leaky_relu":
            a = np.where(z > 0, z, (0.01 if layer.param is None else layer.param) * z)
        elif f == "linear":
            a = z
        elif f == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        elif f == "softplus":
            a = np.logaddexp(0.0, z)
        elif f == "elu":
            a = np.where(z > 0, z, (1.0 if layer.param is None else layer.param) * np.expm1(z))
        else:
            raise AssertionError(f"no oracle for {f}")
    return a


def check_plain_training(text: str, file: str, epochs: int = 15) -> None:
    plain, arrays = loads(text, file, arrays=False), loads(text, file)
    # a small learning rate keeps random networks from diverging (as tests/test_train.py does)
    rate = min(arrays.learning_rate, 0.1)
    plain, arrays = plain.with_changes(learning_rate=rate), arrays.with_changes(learning_rate=rate)
    for batch in sorted({plain.samples, 1}):
        r = train(plain, epochs, batch_size=batch, seed=5, path="scalar", every=5)
        q = train(arrays, epochs, batch_size=batch, seed=5, path="scalar", every=5)
        assert r.final.plain and not q.final.plain
        assert r.history == q.history and r.snapshots == q.snapshots  # the same kernel, the same floats
        assert flat_parameters(r.final) == flat_parameters(q.final)
        for final, s in ((False, arrays), (True, with_parameters(arrays, flat_parameters(q.final)))):
            got, want = np.array(r.output_rows(final=final)), oracle_outputs(s)
            assert got.shape == want.shape
            assert np.max(np.abs(got - want) / np.maximum(1.0, np.abs(want))) <= 1e-12, file


@pytest.mark.parametrize("name", networks())
def test_training_the_numpy_free_scenario_gives_the_same_numbers(name: str) -> None:
    check_plain_training((ROOT / "bptrace" / "scenarios" / f"{name}.yaml").read_text(), f"{name}.yaml")


def test_training_numpy_free_random_networks() -> None:
    for seed in range(25):
        check_plain_training(random_scenario_yaml(seed, max_samples=4, l2=True), f"<random {seed}>")


def test_the_numpy_path_takes_a_numpy_free_scenario() -> None:
    plain = load("ng_shallow", arrays=False)
    r, q = train(plain, 20, path="numpy"), train(load("ng_shallow"), 20, path="numpy")
    assert r.path == "numpy" and r.history == q.history
    assert flat_parameters(r.final) == flat_parameters(q.final)
    assert r.output_rows() == q.outputs().tolist()  # the numpy path's outputs: engine.forward's


def test_the_report_shows_the_kernels_outputs() -> None:
    from bptrace.fmt import num

    result = CliRunner().invoke(main, ["train", "ng_shallow", "--epochs", "30", "--digits", "17"])
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    r = train(load("ng_shallow"), 30)
    assert r.kernel_outputs is not None
    for row in r.output_rows():
        for value in row:
            assert num(value, 17) in out


def test_a_full_batch_run_compiles_no_mini_batch_function() -> None:
    from bptrace.engine.kernel import build

    s = load("ng_shallow", arrays=False)
    lean, whole = build(s, minibatch=False), build(s)
    assert lean.minibatch is None and "def minibatch(" not in lean.source and whole.minibatch is not None
    p = flat_parameters(s)
    history_lean: list[float] = []
    history_whole: list[float] = []
    assert lean.full(p, 5, history_lean) == whole.full(p, 5, history_whole) and history_lean == history_whole
