"""All of bptrace's performance goals, each measured against its baseline in the same run.

    python benchmarks/run_all.py            # the full suite (a few minutes)
    python benchmarks/run_all.py --quick    # fewer repeats: proves the suite still runs

Whole commands are timed as subprocesses (wall clock, medians of N runs, the runs of a goal and of its
baseline interleaved so that a burst of load on this shared machine hits both). Ratios, not seconds,
are the figures to quote: docs/performance.md holds the latest table and the machine it came from.
The symbolic-verification, training and class-marking benchmarks (bench_verify.py, bench_train.py,
bench_check.py) run at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable


def bptrace_cmd() -> list[str]:
    exe = shutil.which("bptrace")
    return [exe] if exe else [PY, "-m", "bptrace"]


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env, cwd=ROOT)
    return time.perf_counter() - start


def compare(
    goal: list[str],
    baseline: list[str],
    repeats: int,
    env: dict[str, str] | None = None,
    before: list[str] | None = None,
) -> tuple[float, float]:
    """Median wall times (goal, baseline), interleaved; `before` runs untimed ahead of each goal run."""
    timed(goal, env)
    timed(baseline, env)  # warm the file cache for both
    a, b = [], []
    for _ in range(repeats):
        if before:
            subprocess.run(before, check=True)
        a.append(timed(goal, env))
        b.append(timed(baseline, env))
    return statistics.median(a), statistics.median(b)


def peak_rss_mib(cmd: list[str]) -> tuple[float, float]:
    """(peak resident memory in MiB, wall seconds) of a command, via /usr/bin/time or getrusage."""
    import resource

    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, cwd=ROOT)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(after, before) / 1024, took


def big_scenario(path: Path) -> None:
    """A 784-128-10 relu/softmax network (101,770 parameters), fixed seed."""
    import numpy as np

    rng = np.random.default_rng(0)
    data = {
        "title": "784-128-10",
        "inputs": rng.random(784).round(3).tolist(),
        "targets": [0] * 3 + [1] + [0] * 6,
        "layers": [
            {
                "activation": "relu",
                "weights": (rng.standard_normal((128, 784)) * 0.05).round(4).tolist(),
                "biases": [0.01] * 128,
            },
            {
                "activation": "softmax",
                "weights": (rng.standard_normal((10, 128)) * 0.1).round(4).tolist(),
                "biases": [0.0] * 10,
            },
        ],
        "loss": "cross_entropy",
        "learning_rate": 0.1,
    }
    path.write_text(json.dumps(data))


def peer_command() -> list[str] | None:
    """The peer tool backprop-trace (npm @mcptoolshop/backprop-trace), if installed locally or on PATH."""
    for candidate in (ROOT / "benchmarks" / "peer" / "node_modules" / ".bin" / "bp", shutil.which("bp")):
        if candidate and Path(candidate).exists():
            return [str(candidate), "generate", "mazur"]
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: checks that everything runs")
    parser.add_argument("--skip-sub", action="store_true", help="skip bench_verify.py and bench_train.py")
    args = parser.parse_args()
    repeats = 3 if args.quick else 15
    bp = bptrace_cmd()
    env = dict(os.environ, XDG_CACHE_HOME=tempfile.mkdtemp())  # bptrace keeps no cache; a fresh dir proves it
    rows: list[tuple[str, str, str, float, str]] = []

    def add(goal: str, a: float, b: float, target: float, baseline: str) -> None:
        ratio = a / b
        verdict = "met" if ratio <= target else "MISSED"
        rows.append((goal, f"{a * 1000:.0f} ms", f"{baseline}: {b * 1000:.0f} ms", ratio, f"≤ {target:g}× {verdict}"))

    click_only = [PY, "-c", "import click"]
    a, b = compare(bp + ["--help"], click_only, repeats, env)
    add("bptrace --help", a, b, 2.0, "python -c 'import click'")
    a, b = compare(bp + ["scenarios"], click_only, repeats, env)
    add("bptrace scenarios", a, b, 2.0, "python -c 'import click'")
    libs = [PY, "-c", "import numpy, sympy, rich.console, rich.table, click, yaml"]
    a, b = compare(bp + ["run", "scenarios/mazur.yaml"], libs, repeats, env)
    add("bptrace run scenarios/mazur.yaml (SymPy verification included)", a, b, 1.3, "bare import of its libraries")
    peer = peer_command()
    if peer:
        a, b = compare(bp + ["run", "scenarios/mazur.yaml"], peer, repeats, env)
        add("bptrace run mazur vs the peer backprop-trace", a, b, 1.0, "bp generate mazur")
    else:
        print("peer tool not found: npm install --prefix benchmarks/peer @mcptoolshop/backprop-trace")
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.json"
        big_scenario(big)
        for label, extra in (("terminal", []), ("json", ["--format", "json"])):
            mib, took = peak_rss_mib(bp + ["run", str(big), *extra])
            rows.append(
                (
                    f"784-128-10 full trace, {label} (verify auto = sample)",
                    f"{took:.2f} s",
                    "limit 500 MiB",
                    mib / 500,
                    f"{mib:.0f} MiB {'met' if mib < 500 else 'MISSED'}",
                )
            )

    width = max(len(r[0]) for r in rows)
    print(f"\n{'goal'.ljust(width)}  {'time':>9}  {'baseline':<44} {'ratio':>6}  target")
    for goal, took, baseline, ratio, target in rows:
        print(f"{goal.ljust(width)}  {took:>9}  {baseline:<44} {ratio:6.2f}  {target}")
    print(f"(medians of {repeats} interleaved runs; {os.cpu_count()} cores; python {sys.version.split()[0]})")

    if not args.skip_sub:
        for script in ("bench_verify.py", "bench_train.py", "bench_check.py"):
            path = HERE / script
            if path.exists():
                print(f"\n== {script} ==", flush=True)
                subprocess.run([PY, str(path), *(["--quick"] if args.quick else [])], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
