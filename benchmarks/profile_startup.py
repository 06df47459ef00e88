"""Where a bptrace command's time goes beyond the bare import of its libraries (issue 21, start-up).

    python benchmarks/profile_startup.py                      # run scenarios/mazur.yaml, medians of 5 cold processes
    python benchmarks/profile_startup.py --repeats 7 explain w5

Each repeat is a fresh process: it imports numpy, sympy, rich.console, rich.table, click and yaml (the
baseline of bench_startup.py) and then runs the command's `main()` with its output to /dev/null, timing
in CPU (time.process_time) the whole of main() and its parts: the verification (and, inside it, the
30-digit forward pass, the finite differences, SymPy's gradients and the local factors), the layout of
the tables and their printing. The parts include the imports of bptrace's modules they make. For a
cProfile of the same: `BPTRACE_FULL_SHUTDOWN=1 python -m cProfile -s cumtime -m bptrace run mazur`.
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

CHILD = r"""
import json, os, sys, time
clock = time.process_time
start = clock()
import numpy, sympy, rich.console, rich.table, click, yaml
parts = {"bare imports": clock() - start}
import bptrace.cli.main as m
import bptrace.verify.verification as verification

def timed(module, name, label):
    f = getattr(module, name)
    def wrapper(*args, **kwargs):
        t = clock()
        try:
            return f(*args, **kwargs)
        finally:
            parts[label] = parts.get(label, 0.0) + clock() - t
    setattr(module, name, wrapper)

import bptrace.verify.symbolic as symbolic
timed(symbolic, "high_precision_forward", "  verify: the 30-digit forward pass")
timed(verification, "finite_differences", "  verify: finite differences")
timed(symbolic, "gradients", "  verify: SymPy's gradients (templates)")
timed(symbolic, "local_factors", "  verify: SymPy's local factors")
timed(m, "load_scenario", "load the scenario")
timed(m, "_verify", "verification")
timed(m, "_run_blocks", "the tables' blocks")
timed(m, "print_renderable", "printing (rich)")
os.environ["BPTRACE_FULL_SHUTDOWN"] = "1"  # return from main() instead of os._exit
sys.argv = ["bptrace"] + ARGS
sys.stdout = open(os.devnull, "w")
t = clock()
try:
    m.main()
except SystemExit:
    pass
parts["main() in all"] = clock() - t
sys.__stdout__.write(json.dumps(parts) + "\n")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("command", nargs="*", default=["run", "scenarios/mazur.yaml"])
    args = parser.parse_args()
    # bptrace's bytecode compiled ahead, as in bench_startup.py
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "bptrace")], check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    runs = []
    for _ in range(args.repeats):
        code = CHILD.replace("ARGS", repr(list(args.command)))
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env)
        if done.returncode != 0:
            raise SystemExit(done.stderr.strip())
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"`bptrace {' '.join(args.command)}`, CPU ms, medians of {args.repeats} cold processes")
    print("| part | median | min |")
    print("|---|---:|---:|")
    for key in runs[0]:
        values = [1000 * r.get(key, 0.0) for r in runs]
        print(f"| {key} | {statistics.median(values):.1f} | {min(values):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
