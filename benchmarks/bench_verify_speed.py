"""The verification's cost as whole commands, each against its baseline in the same run (issue 21, "Fast").

    python benchmarks/bench_verify_speed.py             # medians of 7 interleaved runs
    python benchmarks/bench_verify_speed.py --repeats 3

  * `bptrace run cs224n_window` against `bptrace run cs224n_window --verify off` (goal ≤ 2×): the
    max-margin hinge differentiated by SymPy once per layer (a template), not per parameter;
  * `bptrace run scenarios/mazur.yaml` against the bare import of its libraries (goal ≤ 1.10×).

Wall clock of subprocesses, runs of a goal and its baseline interleaved (run_all.compare); ratios, not
seconds, are the figures to quote (docs/performance.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_all import PY, bptrace_cmd, compare  # noqa: E402

IMPORTS = "import numpy, sympy, rich.console, rich.table, click, yaml"


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
    print("| command | median | baseline | median | ratio | goal |")
    print("|---|---:|---|---:|---:|---|")
    for name, goal, base_name, base, target in cases:
        a, b = compare(goal, base, args.repeats)
        ratio = a / b
        verdict = "met" if ratio <= target else "**missed**"
        print(f"| `{name}` | {a:.2f} s | `{base_name}` | {b:.2f} s | {ratio:.2f} | ≤ {target:g}× {verdict} |")


if __name__ == "__main__":
    main()
