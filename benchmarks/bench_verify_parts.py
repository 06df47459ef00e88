"""The CPU time of `verify` and of its parts for one scenario, in fresh processes (SymPy's first use included).

    python benchmarks/bench_verify_parts.py                         # cs224n_window, medians of 3
    python benchmarks/bench_verify_parts.py mazur --repeats 5
    git archive main bptrace | tar -x -C /tmp/before
    python benchmarks/bench_verify_parts.py --before /tmp/before    # another copy's, runs interleaved

Each run is a child process that imports bptrace, SymPy and mpmath, loads the scenario and traces it, and
only then times `verify` with time.process_time (the parts are Verification.seconds, measured with the same
clock in the child): the imports, which `--verify off` never pays, are left out, so the figure is the
verification's own work, steadier than whole-command wall clocks on a loaded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, sys, time
time.perf_counter = time.process_time  # Verification.seconds in CPU time
import mpmath, sympy  # noqa: F401 (imported before the clock)
from bptrace.engine.step import trace
from bptrace.model.scenario import load
from bptrace.verify.verification import verify
t = trace(load(sys.argv[1]))
start = time.process_time()
v = verify(t)
print(json.dumps({"verify": time.process_time() - start, **v.seconds}))
"""


def run(tree: Path, scenario: str) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    # cwd: `python -c` puts the working directory first on sys.path, so it must be the tree measured
    out = subprocess.run(
        [sys.executable, "-c", CHILD, scenario], env=env, cwd=tree, check=True, capture_output=True, text=True
    )
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("scenario", nargs="?", default="cs224n_window")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--before", type=Path, help="a copy of another commit's tree, run interleaved")
    args = parser.parse_args()
    trees = {"this tree": ROOT, **({str(args.before): args.before} if args.before else {})}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():
            runs[name].append(run(tree, args.scenario))
    parts = list(runs["this tree"][0])
    print(f"`verify` of {args.scenario}, CPU seconds, medians of {args.repeats} fresh processes")
    print("| part | " + " | ".join(trees) + " |")
    print("|---|" + "---:|" * len(trees))
    for part in parts:
        cells = [f"{statistics.median(r[part] for r in runs[name]):.3f} s" for name in trees]
        print(f"| {part} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
