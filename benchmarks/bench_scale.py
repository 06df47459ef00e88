"""Issue 21, "checks that stay fast as networks grow": whole commands on larger networks, each against its
baseline in the same invocation (interleaved runs, medians; a ratio, not seconds, is the figure to quote).

    python benchmarks/bench_scale.py                  # 3 interleaved repeats of every case
    python benchmarks/bench_scale.py --repeats 1 --only json
    python benchmarks/bench_scale.py --only verify
    python benchmarks/bench_scale.py --before /tmp/old   # also a checkout of an earlier commit, interleaved

  json    `bptrace run NET --format json -o FILE` of 784-128-10 with a batch of 32 against the terminal run of
          the same scenario (`--rows 60`, the default): goal ≤ 3× its time and < 300 MiB peak resident memory.
  verify  `bptrace run NET` (--verify auto: full up to 300 parameters, the documented sample above) against
          `bptrace run NET --verify off`, for networks up to 10,000 parameters with a batch of 32: the
          verification's cost is the difference. Goal: ≤ 3 s beyond start-up on the machine where
          64-64-64-10 took 0.74 s with --verify off, i.e. a difference of at most 3/0.74 ≈ 4× the --verify off
          run of 64-64-64-10 measured here, in the same invocation.

Every run is a subprocess, started and reaped with os.wait4, so each run's CPU time (user + system) and peak
resident memory (ru_maxrss) are its own. On a loaded shared machine CPU time is the steadier figure; both are
printed. The networks are written by `bptrace new` (sigmoid hidden layers, half_sse; and relu with softmax
and cross-entropy) or, for 784 inputs (beyond `new`'s 64 per layer), by a seeded numpy generator.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_all import PY, ROOT  # noqa: E402

TREES: dict[str, str] = {}  # the checkout each command runs: "now" (this one) and, with --before, another


def bptrace_cmd(tree: str = "now") -> list[str]:
    """bptrace of a checkout: `python -m bptrace` run in its folder (not an installed `bptrace`)."""
    return ["env", "-C", TREES[tree], PY, "-m", "bptrace"]


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak resident MiB) of one run of `cmd`, its own rusage via os.wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {err.strip()}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def interleaved(commands: list[list[str]], repeats: int) -> list[tuple[float, float, float]]:
    """Median (wall, CPU, peak MiB) of each command, the commands run in turn `repeats` times."""
    runs: list[list[tuple[float, float, float]]] = [[] for _ in commands]
    for _ in range(repeats):
        for i, cmd in enumerate(commands):
            runs[i].append(measure(cmd))
    med = statistics.median
    return [(med(r[0] for r in rs), med(r[1] for r in rs), max(r[2] for r in rs)) for rs in runs]


def mnist_sized(path: Path, hidden: int = 128, samples: int = 32) -> None:
    """784-hidden-10, sigmoid then softmax with cross-entropy, a batch of `samples`, fixed seed."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for s in range(samples):
        targets = [0.0] * 10
        targets[s % 10] = 1.0
        rows.append({"inputs": rng.random(784).round(3).tolist(), "targets": targets})
    layers = [
        {
            "activation": act,
            "weights": (rng.standard_normal((n, m)) * 0.05).round(4).tolist(),
            "biases": (rng.standard_normal(n) * 0.1).round(3).tolist(),
        }
        for act, n, m in (("sigmoid", hidden, 784), ("softmax", 10, hidden))
    ]
    data = {"title": f"784-{hidden}-10", "samples": rows, "layers": layers, "loss": "cross_entropy"}
    path.write_text(json.dumps(data))


def new_exercise(path: Path, shape: str, samples: int, *extra: str) -> None:
    bp = bptrace_cmd("now")
    subprocess.run(
        bp + ["new", "--seed", "21", "--shape", shape, "--samples", str(samples), *extra, "-o", str(path), "--force"],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["json", "verify"])
    parser.add_argument("--before", help="a checkout (git worktree or archive) to run interleaved, as 'before'")
    args = parser.parse_args()
    TREES["now"] = str(ROOT)
    trees = ["now"]
    if args.before:
        TREES["before"] = str(Path(args.before).resolve())
        trees.append("before")
    missed = False
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.only in (None, "json"):
            net = folder / "784-128-10x32.json"
            mnist_sized(net)
            print(f"784-128-10, batch 32 ({args.repeats} interleaved repeats, medians)")
            commands = []
            for tree in trees:
                b = bptrace_cmd(tree)
                commands += [
                    b + ["run", str(net)],
                    b + ["run", str(net), "--format", "json", "-o", str(folder / "out.json"), "--force"],
                ]
            results = interleaved(commands, args.repeats)
            size = (folder / "out.json").stat().st_size / 1e6
            for n, tree in enumerate(trees):
                (tw, tc, tm), (jw, jc, jm) = results[2 * n], results[2 * n + 1]
                ok = jc <= 3 * tc and jm < 300
                missed |= not ok and tree == "now"
                print(f"  {tree:6} terminal           wall {tw:7.1f} s  CPU {tc:7.1f} s  peak {tm:6.0f} MiB")
                print(f"  {tree:6} json ({size:,.0f} MB)  wall {jw:7.1f} s  CPU {jc:7.1f} s  peak {jm:6.0f} MiB")
                print(
                    f"  {tree:6} ratio json/terminal: CPU {jc / tc:.2f}, wall {jw / tw:.2f}   goal ≤ 3× and < 300 MiB: "
                    f"{'met' if ok else 'MISSED'}"
                )
        if args.only in (None, "verify"):
            cases = [
                ("64-64-64-10", "64-64-64-10", 1, ()),
                ("64-64-64-10, batch 32", "64-64-64-10", 32, ()),
                ("16-32-32-10, batch 32", "16-32-32-10", 32, ()),
                (
                    "32-64-64-10 relu/softmax, batch 32",
                    "32-64-64-10",
                    32,
                    ("--activation", "relu", "--loss", "cross_entropy"),
                ),
            ]
            rows = []
            for label, shape, samples, extra in cases:
                path = folder / f"{shape}x{samples}{'-'.join(extra)}.yaml"
                new_exercise(path, shape, samples, *extra)
                commands = []
                for tree in trees:
                    b = bptrace_cmd(tree)
                    commands += [b + ["run", str(path)], b + ["run", str(path), "--verify", "off"]]
                rows.append((label, interleaved(commands, args.repeats)))
            reference = rows[0][1][1][1]  # 64-64-64-10 --verify off, this checkout: 0.74 s where the goal was set
            print(f"verification cost: `run` − `run --verify off` ({args.repeats} interleaved repeats, medians, CPU)")
            print(
                f"  the unit: 64-64-64-10 --verify off = {reference:.2f} s CPU here (0.74 s where the 3 s goal was set)"
            )
            for label, results in rows:
                for n, tree in enumerate(trees):
                    (vw, vc, _), (ow, oc, _) = results[2 * n], results[2 * n + 1]
                    cost = vc - oc
                    ok = cost <= reference * 3 / 0.74
                    missed |= not ok and tree == "now"
                    print(
                        f"  {tree:6} {label:36} with {vc:6.2f} s  off {oc:6.2f} s  verification {cost:6.2f} s CPU = "
                        f"{cost / reference * 0.74:5.2f} s there (wall {vw - ow:6.2f} s here)  goal ≤ 3 s: "
                        f"{'met' if ok else 'MISSED'}"
                    )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
