"""`bptrace train` and bptrace.train: both fast paths against engine.step repeated, Mazur's numbers, outputs."""

from __future__ import annotations

import csv
import io
import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from mazur_reference import ERRATA, published
from strategies import random_scenario_yaml

import bptrace
import bptrace.model.scenario
from bptrace.cli.main import main
from bptrace.engine import step as engine
from bptrace.engine.kernel import build, generate
from bptrace.engine.train import choose_path, flat_parameters, train, with_parameters
from bptrace.errors import BptraceError, NumericalError
from bptrace.fmt import num
from bptrace.functions import ACTIVATIONS, LOSSES
from bptrace.model.scenario import Scenario, bundled_names

TOLERANCE = 1e-12
PATHS = ("scalar", "numpy")


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args))


# ---------------------------------------------------------------------------------------------------
# The reference: engine.step repeated, with the documented shuffle


def loss(s: Scenario) -> float:
    """E over all samples: engine.batch_loss plus the L2 penalty (engine.loss_with)."""
    return engine.loss_with(s, [layer.weights for layer in s.layers], [layer.biases for layer in s.layers])


def reference(s: Scenario, epochs: int, batch_size: int, seed: int) -> tuple[list[float], list[float]]:
    """(history, final parameters) by engine.step, one step per batch; the batches as train.py documents:
    random.Random(seed) shuffles one index list at the start of every epoch, batches are its slices."""
    m = s.samples
    X, T, C = s.inputs, s.targets, s.corrupt
    history = [loss(s)]
    rng = random.Random(seed)
    order = list(range(m))
    for _ in range(epochs):
        if batch_size >= m:
            s = engine.step(s)
        else:
            rng.shuffle(order)
            for start in range(0, m, batch_size):
                idx = order[start : start + batch_size]
                batch = s.with_changes(inputs=X[idx], targets=T[idx], corrupt=None if C is None else C[idx])
                s = engine.step(batch).with_changes(inputs=X, targets=T, corrupt=C)
        history.append(loss(s))
    return history, flat_parameters(s)


def assert_close(got: list[float], want: list[float], what: str) -> None:
    g, w = np.asarray(got), np.asarray(want)
    assert g.shape == w.shape, what
    error = np.abs(g - w) / np.maximum(1.0, np.abs(w))  # relative, absolute below 1
    assert error.max() <= TOLERANCE, f"{what}: off by {error.max():.3g}"


def check_against_engine(s: Scenario, epochs: int, batch_sizes: list[int], seed: int = 3) -> None:
    for b in batch_sizes:
        history, params = reference(s, epochs, b, seed)
        for path in PATHS:
            r = train(s, epochs, batch_size=b, seed=seed, path=path)
            assert r.path == path
            assert_close(r.history, history, f"{s.file} batch {b} {path}: history")
            assert_close(flat_parameters(r.final), params, f"{s.file} batch {b} {path}: parameters")


@pytest.mark.parametrize("name", bundled_names())
def test_both_paths_match_engine_on_bundled(name: str) -> None:
    s = bptrace.load(name)
    check_against_engine(s, 20, sorted({s.samples, 1, 2}))


def features(s: Scenario) -> set[tuple[str, str]]:
    return (
        {("activation", layer.activation) for layer in s.layers}
        | {("bias", layer.bias_mode) for layer in s.layers}
        | {
            ("loss", s.loss),
            ("reduction", s.reduction),
            ("update_biases", str(s.update_biases)),
            ("l2", str(bool(s.l2))),
        }
    )


def test_both_paths_match_engine_on_random_scenarios() -> None:
    """Random networks covering every activation, loss, reduction, bias mode, update_biases and L2 setting."""
    seen: set[tuple[str, str]] = set()
    for seed in range(50):
        s = bptrace.loads(random_scenario_yaml(seed, max_samples=5, l2=True), f"<random {seed}>")
        # a small learning rate keeps the dynamics tame: a chaotic run would amplify rounding by itself
        s = s.with_changes(learning_rate=min(s.learning_rate, 0.1))
        check_against_engine(s, 8, sorted({s.samples, 1, 2}), seed=seed)
        seen |= features(s)
    rng = np.random.default_rng(1)
    for k in range(15):
        s = bptrace.loads(max_margin_yaml(rng), f"<max_margin {k}>")
        check_against_engine(s, 8, sorted({s.samples, 1, 2}), seed=k)
        seen |= features(s)
    wanted = (
        {("activation", a) for a in ACTIVATIONS}
        | {("loss", x) for x in LOSSES + ("max_margin",)}
        | {("bias", b) for b in ("none", "neuron", "shared")}
        | {("reduction", "mean"), ("reduction", "sum")}
        | {("update_biases", "True"), ("update_biases", "False"), ("l2", "True"), ("l2", "False")}
    )
    assert wanted <= seen, wanted - seen


def max_margin_yaml(rng: np.random.Generator) -> str:
    """A random max_margin scenario: hidden layers of mixed activations, one linear score neuron."""
    n_in, depth, m = int(rng.integers(2, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
    lines = ["loss: max_margin", f"margin: {rng.uniform(0.5, 2)!r}", "samples:"]
    for _ in range(m):
        lines += [
            f"  - inputs: {rng.uniform(-1, 1, n_in).tolist()}",
            f"    corrupt: {rng.uniform(-1, 1, n_in).tolist()}",
        ]
    lines.append("layers:")
    previous = n_in
    for k in range(depth):
        n = 1 if k == depth - 1 else int(rng.integers(1, 4))
        activation = "linear" if k == depth - 1 else ACTIVATIONS[int(rng.integers(5))]
        lines += [f"  - activation: {activation}", f"    weights: {rng.uniform(-1, 1, (n, previous)).tolist()}"]
        mode = int(rng.integers(3))
        if mode == 1:
            lines.append(f"    biases: {rng.uniform(-1, 1, n).tolist()}")
        elif mode == 2:
            lines.append(f"    bias: {rng.uniform(-1, 1)!r}")
        previous = n
    lines += [
        f"reduction: {('mean', 'sum')[int(rng.integers(2))]}",
        f"update_biases: {('true', 'false')[int(rng.integers(2))]}",
        "learning_rate: 0.1",
    ]
    if rng.integers(2):
        lines.append(f"l2: {rng.uniform(0, 1)!r}")
    return "\n".join(lines) + "\n"


def test_history_starts_with_the_trace_losses() -> None:
    """E_0 and E_1 are the loss before and after one step, as `run` shows them (L2 penalty included)."""
    for name in bundled_names():
        s = bptrace.load(name)
        for variant in (s, s.with_changes(l2=0.3)):
            t = engine.trace(variant)
            for path in PATHS:
                history = train(variant, 1, path=path).history
                assert history[0] == pytest.approx(t.loss, rel=1e-12, abs=1e-15)
                assert history[1] == pytest.approx(t.loss_after, rel=1e-12, abs=1e-15)


def test_softmax_cross_entropy_with_soft_targets() -> None:
    """Targets that are not one-hot (the numpy path cannot use δ = out − t unless rows sum to exactly 1)."""
    s = bptrace.load("softmax_classifier")
    soft = np.array([[0.7, 0.2, 0.1], [0.1, 0.6, 0.3], [0.3, 0.3, 0.4]])
    check_against_engine(s.with_changes(targets=soft), 15, [3, 1])


# ---------------------------------------------------------------------------------------------------
# Mazur


def test_mazur_losses_after_one_and_ten_thousand_updates() -> None:
    r = train(bptrace.load("mazur"), 10000)
    assert r.path == "scalar" and len(r.history) == 10001 and r.updates == 10000
    first, last = ERRATA["E_total@1"], ERRATA["E_total@10000"]
    assert num(r.history[0]) == published("E_total")
    assert num(r.history[1]) == first["original_weights"]  # the post's own rule (it prints 0.291027924)
    assert num(r.history[10000], 8) == f"{float(last['after_10000']):.8g}"
    # the post's 0.0000351085 is the loss after 9,999 updates (tests/data/mazur_reference.yaml)
    assert num(r.history[9999], 8) == last["after_9999"]
    assert f"{r.history[9999]:.10f}" == last["published"]
    # the biases are frozen in the post
    values = {p.name: (a, b) for p, a, b in r.parameters()}
    assert values["b1"] == (0.35, 0.35) and values["b2"] == (0.6, 0.6)


def test_mazur_kernel_is_exactly_engine_step() -> None:
    """One sample, no BLAS sums: the generated kernel reproduces engine.step bit for bit."""
    s = bptrace.load("mazur")
    r = train(s, 5, path="scalar")
    for _ in range(5):
        s = engine.step(s)
    assert flat_parameters(r.final) == flat_parameters(s)


# ---------------------------------------------------------------------------------------------------
# The driver


def test_choose_path_by_size() -> None:
    assert choose_path(bptrace.load("mazur")) == "scalar"
    big = bptrace.loads(_matrix_yaml([20, 40, 10], samples=32))
    assert choose_path(big) == "numpy"
    assert choose_path(big, batch_size=1) == "numpy"  # 1 × 1250 parameters is above SCALAR_WORK


def test_epochs_zero_and_snapshots_and_progress() -> None:
    s = bptrace.load("ng_shallow")
    r0 = train(s, 0)
    assert len(r0.history) == 1 and flat_parameters(r0.final) == flat_parameters(s)
    ticks: list[int] = []
    r = train(s, 25, every=10, progress=ticks.append)
    assert [snap.epoch for snap in r.snapshots] == [0, 10, 20, 25]
    assert [snap.loss for snap in r.snapshots] == [r.history[k] for k in (0, 10, 20, 25)]
    assert r.snapshots[-1].values == tuple(flat_parameters(r.final))
    assert ticks == sorted(ticks) and ticks[-1] == 25
    # pausing for snapshots changes nothing
    assert r.history == train(s, 25).history


def test_with_parameters_inverts_flat_parameters() -> None:
    s = bptrace.load("deep_general_delta")
    values = [float(k) for k in range(s.parameter_count())]
    assert flat_parameters(with_parameters(s, values)) == values


def test_generated_source_is_plain_python() -> None:
    source = generate(bptrace.load("mazur"))
    assert "import" not in source and "numpy" not in source
    assert "def full(" in source and "def minibatch(" in source and "def loss(" in source
    kernel = build(bptrace.load("mazur"))
    assert kernel.loss(flat_parameters(bptrace.load("mazur"))) == pytest.approx(0.298371108760, abs=1e-12)


def test_divergence_is_a_numerical_error(tmp_path: Path) -> None:
    s = bptrace.load("single_neuron_mse").with_changes(learning_rate=50.0)
    for path in PATHS:
        with pytest.raises(NumericalError, match="diverged"):
            train(s, 200, path=path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        Path(bptrace.model.scenario.BUNDLED_DIR / "single_neuron_mse.yaml")
        .read_text(encoding="utf-8")
        .replace("learning_rate: 0.05", "learning_rate: 50"),
        encoding="utf-8",
    )
    result = invoke("train", str(bad), "--epochs", "200")
    assert result.exit_code == 2
    assert "diverged" in result.stderr and "learning rate" in result.stderr


def test_bad_arguments() -> None:
    with pytest.raises(BptraceError):
        train(bptrace.load("mazur"), -1)
    with pytest.raises(BptraceError):
        train(bptrace.load("mazur"), 1, path="gpu")
    assert invoke("train", "mazur", "--batch-size", "0").exit_code == 2
    result = invoke("train", "mazur", "--plot", "loss.gif")
    assert result.exit_code == 2 and ".svg or .png" in result.stderr


# ---------------------------------------------------------------------------------------------------
# The command


def test_terminal_report() -> None:
    result = invoke("train", "mazur", "--epochs", "10000", "--every", "5000")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    for text in (
        f"E_0 = {published('E_total')}",
        f"E_1 = {ERRATA['E_total@1']['original_weights']}",
        f"E_10000 = {float(ERRATA['E_total@10000']['after_10000']):.9g}",
        "Snapshots",
        "Parameters",
        "Outputs vs targets",
        "not updated",
        "0.0159136204",
        "h1",
    ):
        assert text in out, text
    assert "loss E_k after k epochs (log scale)" in out  # the chart (render/chart.py)
    ascii_out = invoke("train", "mazur", "--epochs", "100", "--ascii").stdout
    assert ascii_out.isascii()


def test_json_shape() -> None:
    result = invoke("train", "mazur", "--epochs", "50", "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert list(data) == ["epochs", "history", "parameters"]
    assert data["epochs"] == 50 and len(data["history"]) == 51
    assert num(data["history"][1]) == ERRATA["E_total@1"]["original_weights"]
    s = bptrace.load("mazur")
    assert [p["name"] for p in data["parameters"]] == [p.name for p in s.parameters()]
    w5 = next(p for p in data["parameters"] if p["name"] == "w5")
    assert w5 == {"name": "w5", "kind": "weight", "layer": 2, "row": 0, "col": 0, "initial": 0.4, "final": w5["final"]}
    b1 = next(p for p in data["parameters"] if p["name"] == "b1")
    assert b1["row"] is None and b1["initial"] == b1["final"] == 0.35


def test_csv_parses_back_to_the_json_history(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    result = invoke("train", "ng_shallow", "--epochs", "40", "--csv", str(path), "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert [int(r["epoch"]) for r in rows] == list(range(41))
    assert [float(r["loss"]) for r in rows] == json.loads(result.stdout)["history"]


def test_mini_batches_are_deterministic_per_seed() -> None:
    def history(*extra: str) -> list[float]:
        result = invoke("train", "deep_general_delta", "--epochs", "30", "--format", "json", *extra)
        assert result.exit_code == 0, result.stderr
        return list(json.loads(result.stdout)["history"])

    a = history("--batch-size", "2", "--seed", "5")
    assert a == history("--batch-size", "2", "--seed", "5")
    assert a != history("--batch-size", "2", "--seed", "6")
    assert a != history()  # full batch
    assert history("--batch-size", "3") == history()  # a batch of every sample is the full batch
    sgd = train(bptrace.load("deep_general_delta"), 3, batch_size=1, seed=5)
    assert sgd.updates == 9 and sgd.batch_size == 1


def test_plot_png_and_svg(tmp_path: Path) -> None:
    import matplotlib.image  # a dependency of bptrace (diagram, train --plot)

    png, svg = tmp_path / "loss.png", tmp_path / "loss.svg"
    for path in (png, svg):
        result = invoke("train", "mazur", "--epochs", "300", "--plot", str(path))
        assert result.exit_code == 0, result.stderr
        assert f"wrote {path}" in result.stdout.replace("\n", "")
    image = matplotlib.image.imread(str(png))
    assert image.shape[:2] == (630, 1050)  # 7 × 4.2 inches at 150 dpi
    texts = " ".join("".join(e.itertext()) for e in ET.parse(svg).getroot().iter() if e.tag.endswith("text"))
    assert "epoch k" in texts and "E_300 = " in texts and "Mazur" in texts


def _matrix_yaml(sizes: list[int], samples: int = 4, seed: int = 0) -> str:
    import yaml

    rng = np.random.default_rng(seed)
    layers = [
        {"activation": "sigmoid", "weights": rng.normal(0, 0.3, (n, p)).tolist(), "biases": [0.0] * n}
        for p, n in zip(sizes, sizes[1:])
    ]
    data = {
        "samples": [
            {"inputs": rng.uniform(-1, 1, sizes[0]).tolist(), "targets": rng.uniform(0, 1, sizes[-1]).tolist()}
            for _ in range(samples)
        ],
        "layers": layers,
        "loss": "half_sse",
        "learning_rate": 0.1,
    }
    return yaml.safe_dump(data)


def test_a_flat_loss_curve_still_charts() -> None:
    """A constant loss has no decades for a log scale: a linear chart, its one value a tick on the curve's row."""
    from bptrace.cli.train import loss_chart

    lines = loss_chart([0.25] * 50).splitlines()
    assert "loss E_k after k epochs" in lines[0] and "log scale" not in lines[0]
    row = next(line for line in lines if "┤" in line and line.split("┤")[0].strip() == "0.25")
    assert set(row.split("┤")[1].rstrip("│")) == {"⠤"}  # the flat line sits on the 0.25 tick's row


def test_one_update_is_singular() -> None:
    from click.testing import CliRunner

    from bptrace.cli.main import main

    one = CliRunner().invoke(main, ["train", "mazur", "--epochs", "1", "--lang", "en"], env={"COLUMNS": "300"})
    two = CliRunner().invoke(main, ["train", "mazur", "--epochs", "2", "--lang", "en"], env={"COLUMNS": "300"})
    assert "; 1 update;" in one.output and "; 2 updates;" in two.output, (one.output[:400], two.output[:400])
