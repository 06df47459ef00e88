"""Per-step cost of `bptrace train` against hand-written baselines, all in one process.

    python benchmarks/bench_train.py            # the full run (about a minute)
    python benchmarks/bench_train.py --quick    # fewer steps and repeats (a few seconds)

Two networks, each timed as the median over repeats of (time of N steps) / N:

  * Mazur's 2-2-2 sigmoid network (one sample, ½·squared error, biases frozen):
      - a plain-Python float loop written by hand for exactly this network (baseline; target: bptrace ≤ 3×),
      - a hand-written numpy loop (for reference: numpy's per-call overhead on tiny arrays),
      - bptrace's scalar path (the kernel generated for the scenario, bptrace/kernel.py);
  * a 784-128-10 network (sigmoid hidden layer, softmax + cross-entropy, per-neuron biases, updated),
    one full batch of 64 samples, random weights from a fixed seed:
      - a hand-written numpy step (baseline; target: bptrace ≤ 1.1×),
      - bptrace's numpy path.

Every loop records the loss of every step, as bptrace does for its loss curve. bptrace's time is its
training loop (TrainingResult.seconds): kernel generation and buffer allocation happen once, before it.
Repeats alternate between the contenders so that slow drift of the machine affects both alike.

BLAS runs single-threaded unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS say otherwise:
on a small shared machine a multi-threaded matmul of this size swings by 10× from one call to the next,
which would measure the machine's other load rather than the code. Both contenders use the same BLAS.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy is imported (see above)

import argparse  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bptrace import load
from bptrace.engine.train import choose_path, train
from bptrace.model.scenario import Layer, Scenario

# ---------------------------------------------------------------------------------------------------
# Mazur 2-2-2 baselines


def mazur_plain(steps: int) -> tuple[float, list[float]]:
    """Mazur's network trained by a hand-written float loop; returns (seconds, weights)."""
    exp = math.exp
    i1, i2, t1, t2 = 0.05, 0.10, 0.01, 0.99
    w1, w2, w3, w4, w5, w6, w7, w8 = 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55
    b1, b2, eta = 0.35, 0.60, 0.5
    history = []
    append = history.append
    start = time.perf_counter()
    for _ in range(steps):
        h1 = 1.0 / (1.0 + exp(-(w1 * i1 + w2 * i2 + b1)))
        h2 = 1.0 / (1.0 + exp(-(w3 * i1 + w4 * i2 + b1)))
        o1 = 1.0 / (1.0 + exp(-(w5 * h1 + w6 * h2 + b2)))
        o2 = 1.0 / (1.0 + exp(-(w7 * h1 + w8 * h2 + b2)))
        append(0.5 * (t1 - o1) ** 2 + 0.5 * (t2 - o2) ** 2)
        d1 = (o1 - t1) * o1 * (1.0 - o1)
        d2 = (o2 - t2) * o2 * (1.0 - o2)
        dh1 = (d1 * w5 + d2 * w7) * h1 * (1.0 - h1)
        dh2 = (d1 * w6 + d2 * w8) * h2 * (1.0 - h2)
        w5 -= eta * d1 * h1
        w6 -= eta * d1 * h2
        w7 -= eta * d2 * h1
        w8 -= eta * d2 * h2
        w1 -= eta * dh1 * i1
        w2 -= eta * dh1 * i2
        w3 -= eta * dh2 * i1
        w4 -= eta * dh2 * i2
    return time.perf_counter() - start, [w1, w2, w3, w4, w5, w6, w7, w8]


def mazur_numpy(steps: int) -> tuple[float, list[float]]:
    """The same network as a hand-written numpy loop (vectors and 2×2 matrices)."""
    x = np.array([0.05, 0.10])
    t = np.array([0.01, 0.99])
    W1 = np.array([[0.15, 0.20], [0.25, 0.30]])
    W2 = np.array([[0.40, 0.45], [0.50, 0.55]])
    b1, b2, eta = 0.35, 0.60, 0.5
    history = []
    start = time.perf_counter()
    for _ in range(steps):
        h = 1.0 / (1.0 + np.exp(-(W1 @ x + b1)))
        o = 1.0 / (1.0 + np.exp(-(W2 @ h + b2)))
        history.append(float(0.5 * np.sum((t - o) ** 2)))
        d2 = (o - t) * o * (1.0 - o)
        d1 = (W2.T @ d2) * h * (1.0 - h)
        W2 -= eta * np.outer(d2, h)
        W1 -= eta * np.outer(d1, x)
    return time.perf_counter() - start, W1.ravel().tolist() + W2.ravel().tolist()


def mazur_bptrace(steps: int) -> tuple[float, list[float]]:
    result = train(load("mazur"), steps)
    assert result.path == "scalar"
    weights = [v for p, _, v in result.parameters() if p.kind == "weight"]
    return result.seconds, weights


# ---------------------------------------------------------------------------------------------------
# 784-128-10, batch 64


def mnist_like(seed: int = 0, batch: int = 64) -> Scenario:
    """A 784-128-10 sigmoid/softmax network on one batch of random data, built as a Scenario directly."""
    rng = np.random.default_rng(seed)
    sizes = [784, 128, 10]
    layers = []
    for index, (n_in, n) in enumerate(zip(sizes, sizes[1:]), start=1):
        last = index == len(sizes) - 1
        layers.append(
            Layer(
                index=index,
                activation="softmax" if last else "sigmoid",
                neurons=tuple(f"o{r + 1}" if last else f"h{index}_{r + 1}" for r in range(n)),
                weights=rng.normal(0.0, 1.0 / math.sqrt(n_in), (n, n_in)),
                bias_mode="neuron",
                biases=np.zeros(n),
                bias_names=tuple(f"b{index}_{r + 1}" for r in range(n)),
            )
        )
    inputs = rng.uniform(0.0, 1.0, (batch, sizes[0]))
    targets = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
    return Scenario(
        title="784-128-10, batch 64",
        source_note="benchmarks/bench_train.py",
        file="<benchmark>",
        input_names=tuple(f"x{j + 1}" for j in range(sizes[0])),
        layers=tuple(layers),
        inputs=inputs,
        targets=targets,
        loss="cross_entropy",
        learning_rate=0.1,
        update_biases=True,
        reduction="mean",
        named=False,
    )


def big_numpy(s: Scenario, steps: int) -> tuple[float, list[np.ndarray]]:
    """A hand-written numpy training step for the network above, the way one writes it from a textbook."""
    W1, W2 = (layer.weights.copy() for layer in s.layers)
    b1, b2 = (layer.biases.copy() for layer in s.layers)
    X, Y, eta = s.inputs, s.targets, s.learning_rate
    m = X.shape[0]
    history = []
    start = time.perf_counter()
    for _ in range(steps):
        A1 = 1.0 / (1.0 + np.exp(-(X @ W1.T + b1)))
        Z2 = A1 @ W2.T + b2
        E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))
        A2 = E / E.sum(axis=1, keepdims=True)
        history.append(float(-np.sum(Y * np.log(A2)) / m))
        dZ2 = (A2 - Y) / m  # softmax + cross-entropy: δ = out − t
        dZ1 = (dZ2 @ W2) * A1 * (1.0 - A1)
        W2 -= eta * (dZ2.T @ A1)
        b2 -= eta * dZ2.sum(axis=0)
        W1 -= eta * (dZ1.T @ X)
        b1 -= eta * dZ1.sum(axis=0)
    return time.perf_counter() - start, [W1, b1, W2, b2]


def big_bptrace(s: Scenario, steps: int) -> tuple[float, list[np.ndarray]]:
    result = train(s, steps)
    assert result.path == "numpy"
    return result.seconds, [x for layer in result.final.layers for x in (layer.weights, layer.biases)]


# ---------------------------------------------------------------------------------------------------


def median_per_step(
    contenders: dict[str, Callable[[int], tuple[float, object]]], steps: int, repeats: int
) -> dict[str, float]:
    """Median seconds per step of each contender, the repeats interleaved."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for run in contenders.values():  # warm up (imports, caches, BLAS threads)
        run(max(1, steps // 10))
    for _ in range(repeats):
        for name, run in contenders.items():
            seconds, _ = run(steps)
            times[name].append(seconds / steps)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (a few seconds)")
    parser.add_argument("--repeats", type=int, help="repeats per contender (default 7, quick 3)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (5 if args.quick else 9)
    small_steps = 20_000 if args.quick else 100_000
    big_steps = 60 if args.quick else 300

    # the contenders compute the same thing: check before timing
    _, plain_w = mazur_plain(100)
    _, ours_w = mazur_bptrace(100)
    _, numpy_w = mazur_numpy(100)
    assert max(abs(a - b) for a, b in zip(plain_w, ours_w)) < 1e-12, (plain_w, ours_w)
    assert max(abs(a - b) for a, b in zip(numpy_w, ours_w)) < 1e-12, (numpy_w, ours_w)
    big = mnist_like()
    assert choose_path(big) == "numpy" and choose_path(load("mazur")) == "scalar"
    _, hand = big_numpy(big, 5)
    _, ours = big_bptrace(big, 5)
    assert all(np.allclose(a, b, rtol=1e-10, atol=1e-12) for a, b in zip(hand, ours))

    small = median_per_step(
        {"plain": mazur_plain, "numpy": mazur_numpy, "bptrace": mazur_bptrace}, small_steps, repeats
    )
    large = median_per_step(
        {"numpy": lambda n: big_numpy(big, n), "bptrace": lambda n: big_bptrace(big, n)}, big_steps, repeats
    )

    print(
        f"bptrace train benchmark: Python {platform.python_version()}, numpy {np.__version__}, "
        f"{platform.machine()}, BLAS threads {os.environ['OPENBLAS_NUM_THREADS']}; medians of {repeats} repeats"
    )
    rows = [
        (
            "2-2-2 (Mazur), 1 sample",
            f"hand-written plain-Python float loop ({small_steps} steps)",
            small["plain"],
            "baseline",
            "",
        ),
        ("", "hand-written numpy loop", small["numpy"], f"{small['numpy'] / small['plain']:.2f}×", ""),
        (
            "",
            "bptrace scalar path (generated kernel)",
            small["bptrace"],
            f"{small['bptrace'] / small['plain']:.2f}×",
            "≤ 3×",
        ),
        ("784-128-10, batch 64", f"hand-written numpy step ({big_steps} steps)", large["numpy"], "baseline", ""),
        ("", "bptrace numpy path", large["bptrace"], f"{large['bptrace'] / large['numpy']:.2f}×", "≤ 1.1×"),
    ]
    print()
    print("| network | implementation | per step | ratio | target |")
    print("|---|---|---:|---:|---|")
    for net, impl, seconds, ratio, target in rows:
        print(f"| {net} | {impl} | {_us(seconds)} | {ratio} | {target} |")
    ok = small["bptrace"] <= 3 * small["plain"] and large["bptrace"] <= 1.1 * large["numpy"]
    print()
    print("targets met" if ok else "TARGETS MISSED")
    return 0 if ok else 1


def _us(seconds: float) -> str:
    micro = seconds * 1e6
    return f"{micro:.2f} µs" if micro < 100 else f"{micro:.0f} µs"


if __name__ == "__main__":
    sys.exit(main())
