"""Issue 21's whole-command goals, each against its baseline in the same invocation (interleaved cold runs).

    python benchmarks/bench_startup.py                 # medians of 7 interleaved runs of every case
    python benchmarks/bench_startup.py --repeats 3 --only train
    git archive main bptrace | tar -x -C /tmp/before    # a copy of another commit (its bytecode gets compiled)
    python benchmarks/bench_startup.py --before /tmp/before   # also each bptrace command of that copy, interleaved
    git -C MIRROR show HEAD:neural-network.py > /tmp/mazur.py  # Mazur's own script (mattm/simple-neural-network)
    python benchmarks/bench_startup.py --only train --mazur /tmp/mazur.py   # ... measured beside the stand-in

  run       `bptrace run scenarios/mazur.yaml` (SymPy deriving every gradient) against the bare import of its
            libraries, `python -c "import numpy, sympy, rich.console, rich.table, click, yaml"`: goal ≤ 1.10×
  explain   `bptrace explain w5` against the same bare import: goal ≤ 1.10×
  check     `bptrace check examples/mazur_published.yaml` against the same bare import: goal ≤ 1.5×
  window    `bptrace run cs224n_window` against `bptrace run cs224n_window --verify off`: goal ≤ 2×
  train     `bptrace train mazur --epochs 10000` against benchmarks/baselines/mazur_script.py (a stand-in for
            Mazur's own script: 10,000 iterations, one printed line each): goal ≤ 1.0×

bptrace's bytecode is compiled first (compileall), as an installed package's is. Every run is a fresh
subprocess (stdout to /dev/null) reaped with os.wait4, so its wall clock and its CPU time (user + system)
are its own; a case's goal and baseline runs alternate, after one untimed warm-up of each (the file cache).
XDG_CACHE_HOME points at a fresh directory. Ratios of medians are the figures to
quote: on this shared 2-core machine the CPU ratio is the steadier one; both are printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
IMPORTS = "import numpy, sympy, rich.console, rich.table, click, yaml"


def measure(cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `cmd`, its own rusage via os.wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(cmd)} failed ({code}): {err.strip()}")
    if proc.stderr:
        proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", choices=["run", "explain", "check", "window", "train"], action="append")
    parser.add_argument("--before", type=Path, help="a copy of another commit's tree: its bptrace commands too")
    parser.add_argument("--mazur", type=Path, help="Mazur's own neural-network.py: train's baseline measured too")
    args = parser.parse_args()
    bp = [PY, "-m", "bptrace"]
    bare = [PY, "-c", IMPORTS]
    cases = {
        "run": ("bptrace run scenarios/mazur.yaml", bp + ["run", "scenarios/mazur.yaml"], "bare import", bare, 1.10),
        "explain": ("bptrace explain w5", bp + ["explain", "w5"], "bare import", bare, 1.10),
        "check": (
            "bptrace check examples/mazur_published.yaml",
            bp + ["check", "examples/mazur_published.yaml"],
            "bare import",
            bare,
            1.5,
        ),
        "window": (
            "bptrace run cs224n_window",
            bp + ["run", "cs224n_window"],
            "bptrace run cs224n_window --verify off",
            bp + ["run", "cs224n_window", "--verify", "off"],
            2.0,
        ),
        "train": (
            "bptrace train mazur --epochs 10000",
            bp + ["train", "mazur", "--epochs", "10000"],
            "Mazur's script (benchmarks/baselines/mazur_script.py)",
            [PY, str(HERE / "baselines" / "mazur_script.py"), "10000"],
            1.0,
        ),
    }
    missed = False
    # bptrace's bytecode compiled ahead, as an installed package has it (PYTHONDONTWRITEBYTECODE would
    # otherwise make every run compile bptrace's sources again, and the baselines are libraries whose is)
    for tree in [ROOT] + ([args.before] if args.before else []):
        subprocess.run([PY, "-m", "compileall", "-q", str(tree / "bptrace")], check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, XDG_CACHE_HOME=cache, PYTHONPATH=str(ROOT))
        print(f"{args.repeats} interleaved runs per command, medians")
        print("| command | wall | CPU | baseline | wall | CPU | ratio (wall) | ratio (CPU) | goal |")
        print("|---|---:|---:|---|---:|---:|---:|---:|---|")
        for key in args.only or list(cases):
            name, goal, base_name, base, target = cases[key]
            measure(goal, env)
            measure(base, env)
            a: list[tuple[float, float]] = []
            b: list[tuple[float, float]] = []
            old: list[tuple[float, float]] = []
            real: list[tuple[float, float]] = []
            mazur = [PY, str(args.mazur)] if args.mazur and key == "train" else None
            before_env = dict(env, PYTHONPATH=str(args.before)) if args.before else env
            for _ in range(args.repeats):
                a.append(measure(goal, env))
                b.append(measure(base, env))
                if args.before:
                    old.append(measure(goal, before_env, args.before))
                if mazur:
                    real.append(measure(mazur, env))
            med = statistics.median
            aw, ac = med(x for x, _ in a), med(c for _, c in a)
            bw, bc = med(x for x, _ in b), med(c for _, c in b)
            ok = ac / bc <= target
            missed |= not ok
            print(
                f"| `{name}` | {aw:.3f} s | {ac:.3f} s | {base_name} | {bw:.3f} s | {bc:.3f} s | {aw / bw:.2f} | "
                f"{ac / bc:.2f} | ≤ {target:g}× {'met' if ok else '**missed**'} (CPU) |",
                flush=True,
            )
            if real:
                rw, rc = med(x for x, _ in real), med(c for _, c in real)
                print(
                    f"|   Mazur's own script ({args.mazur}): wall {rw:.3f} s, CPU {rc:.3f} s; bptrace / it: "
                    f"wall {aw / rw:.2f}, CPU {ac / rc:.2f} | | | | | | | | |"
                )
            if old:
                oc = med(c for _, c in old)
                print(f"|   the same in {args.before}: CPU {oc:.3f} s; now / before {ac / oc:.2f} | | | | | | | | |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
