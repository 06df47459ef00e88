"""The verification's cost as whole commands, each against its baseline in the same run (issue 21, "Fast").

    python benchmarks/bench_verify_speed.py             # medians of 7 interleaved runs
    python benchmarks/bench_verify_speed.py --repeats 3

  * `bptrace run cs224n_window` against `bptrace run cs224n_window --verify off` (goal ≤ 2×): the
    max-margin hinge differentiated by SymPy once per layer (a template), not per parameter;
  * `bptrace run scenarios/mazur.yaml` against the bare import of its libraries (goal ≤ 1.10×).

Each run is a subprocess; a goal's runs and its baseline's are interleaved, and both the wall clock and
the CPU time (user + system, from getrusage of the children) are measured: on a loaded shared machine
the CPU time's ratio is the steadier figure. Ratios of medians, not seconds, are the figures to quote
(docs/performance.md).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_all import PY, ROOT, bptrace_cmd  # noqa: E402

IMPORTS = "import numpy, sympy, rich.console, rich.table, click, yaml"


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run of `cmd`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def compare(goal: list[str], baseline: list[str], repeats: int) -> tuple[float, float, float, float]:
    """Medians (goal wall, baseline wall, goal CPU, baseline CPU) of interleaved runs, after one warm-up each."""
    run(goal)
    run(baseline)
    a, b = [], []
    for _ in range(repeats):
        a.append(run(goal))
        b.append(run(baseline))
    med = statistics.median
    return med(x for x, _ in a), med(x for x, _ in b), med(c for _, c in a), med(c for _, c in b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    bp = bptrace_cmd()
    cases = [
        (
            "bptrace run cs224n_window",
            bp + ["run", "cs224n_window"],
            "bptrace run cs224n_window --verify off",
            bp + ["run", "cs224n_window", "--verify", "off"],
            2.0,
        ),
        (
            "bptrace run scenarios/mazur.yaml",
            bp + ["run", "scenarios/mazur.yaml"],
            f'python -c "{IMPORTS}"',
            [PY, "-c", IMPORTS],
            1.10,
        ),
    ]
    print("| command | wall | CPU | baseline | wall | CPU | ratio (wall) | ratio (CPU) | goal |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---|")
    for name, goal, base_name, base, target in cases:
        a, b, ca, cb = compare(goal, base, args.repeats)
        verdict = "met" if ca / cb <= target else "**missed**"
        print(
            f"| `{name}` | {a:.2f} s | {ca:.2f} s | `{base_name}` | {b:.2f} s | {cb:.2f} s | {a / b:.2f} | "
            f"{ca / cb:.2f} | ≤ {target:g}× {verdict} (CPU) |"
        )


if __name__ == "__main__":
    main()
