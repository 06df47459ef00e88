"""Marking a class of 300 Mazur sheets with a teacher's key, beyond start-up (target: under 3 s).

    python benchmarks/bench_check.py            # 300 sheets, median of 3 runs
    python benchmarks/bench_check.py --quick    # 60 sheets, one run
    python benchmarks/bench_check.py --cli      # as a user runs it: `python -m bptrace check ...` in a process
                                                #   of its own, against the bare start-up in the same invocation

The sheets are made once, before timing, from the engine and the variant engine (never typed in): a
sixth right, a sixth with δ = out − target (cross-entropy-delta), a sixth without η, a sixth with a slip
in net_h1 carried through (follow-through), a sixth with arbitrary wrong values (each diagnosed by every
misconception and found by none), a sixth half unanswered; one sheet in fifty is unreadable. The key asks
twelve quantities of the whole step. Each run is `bptrace check SHEETS... --key key.yaml --format json`
in this process (imports done before the clock starts; the run builds its own trace and variants).

With --cli each run is a fresh `python -m bptrace check SHEETS... --key key.yaml --format json` (its output
thrown away), interleaved with the bare start-up, `python -c "import ..."` of every module that command
imports before it reads the first sheet (START_UP), and the figure is the difference of the medians, in
wall time and in CPU time (the children's user + system time).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.engine import step as engine
from bptrace.grading.diagnose import Knobs, Lab
from bptrace.grading.followthrough import World
from bptrace.model import names
from bptrace.model.scenario import load

QUESTIONS = [
    "net_h1",
    "out_h1",
    "net_o1",
    "out_o1",
    "E_total",
    "delta_o1",
    "dE/dw5",
    "delta_h1",
    "dE/dw1",
    "w5+",
    "w1+",
    "E_total@1",
]


def make_class(folder: Path, n: int) -> list[str]:
    s = load("mazur")
    t = engine.trace(s)
    lab = Lab(s)
    exact = {q: names.value(names.parse(q, s), t) for q in QUESTIONS}
    ce = {q: lab.value(names.parse(q, s), Knobs(output_delta="out_minus_t")) for q in QUESTIONS}
    no_eta = {q: lab.value(names.parse(q, s), Knobs(learning_rate=1.0)) for q in QUESTIONS}
    slip = {"net_h1": 0.3875}
    world = World(t, slip, lambda name: frozenset([name]))
    for q in QUESTIONS[1:]:
        r = world.recompute(q)
        assert r is not None
        slip[q] = float(f"{r.value:.9g}")
    kinds = [exact, ce, no_eta, slip]
    (folder / "key.yaml").write_text(
        "exercise: {scenario: mazur}\nquestions:\n" + "".join(f"  {q}: 1\n" for q in QUESTIONS), encoding="utf-8"
    )
    paths = []
    for i in range(n):
        path = folder / f"s{i:03d}.yaml"
        if i % 50 == 49:
            path.write_text("answers: [broken\n", encoding="utf-8")
        else:
            kind = i % 6
            if kind < 4:
                values = kinds[kind]
            elif kind == 4:
                values = {q: v * (1.1 + 0.001 * i) for q, v in exact.items()}
            else:
                values = {q: v for j, (q, v) in enumerate(exact.items()) if j % 2 == 0}
            body = "".join(f"  {q}: {v:.9g}\n" for q, v in values.items() if v is not None)
            path.write_text(f"student: Student {i}\nanswers:\n{body}", encoding="utf-8")
        paths.append(str(path))
    return paths


ROOT = Path(__file__).resolve().parents[1]
START_UP = (
    "import bptrace.cli.main, bptrace.cli.check, bptrace.grading.answers, bptrace.grading.key, "
    "bptrace.grading.marking, bptrace.grading.diagnose, bptrace.grading.followthrough, "
    "bptrace.grading.classview, bptrace.grading.roster, bptrace.engine.step, bptrace.render.check_out, "
    "numpy, yaml"
)


def timed(command: list[str], root: Path = ROOT) -> tuple[float, float, int]:
    """Wall and CPU seconds of a child process (importing bptrace from `root`), and its exit status."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode


def cli_main(n: int, repeats: int, before: Path | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_class(folder, n)
        check = [
            sys.executable,
            "-m",
            "bptrace",
            "check",
            *paths,
            "--key",
            str(folder / "key.yaml"),
            "--format",
            "json",
        ]
        bare = [sys.executable, "-c", START_UP]
        runs: dict[str, list[tuple[float, float]]] = {"check": [], "bare": []}
        order = [("bare", bare, ROOT), ("check", check, ROOT)]
        if before is not None:  # another checkout's check, interleaved with this one's
            runs["before"] = []
            order.append(("before", check, before))
        for _ in range(repeats):
            for name, command, root in order:
                wall, cpu, code = timed(command, root)
                assert code == (0 if name == "bare" else 1), (name, code)
                runs[name].append((wall, cpu))
    wall = {k: statistics.median(w for w, _c in v) for k, v in runs.items()}
    cpu = {k: statistics.median(c for _w, c in v) for k, v in runs.items()}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    beyond_wall, beyond_cpu = wall["check"] - wall["bare"], cpu["check"] - cpu["bare"]
    verdict = "met" if beyond_cpu < 3 and beyond_wall < 3 else "met in CPU" if beyond_cpu < 3 else "MISSED"
    print(
        f"python -m bptrace check: {n} Mazur sheets with a key: {wall['check']:.2f} s wall, {cpu['check']:.2f} s CPU; "
        f"bare start-up {wall['bare']:.2f} s wall, {cpu['bare']:.2f} s CPU; beyond start-up {beyond_wall:.2f} s wall, "
        f"{beyond_cpu:.2f} s CPU (medians of {repeats}, interleaved; load average {load:.1f}); target < 3 s: {verdict}"
    )
    if before is not None:
        print(
            f"  {before}: beyond start-up {wall['before'] - wall['bare']:.2f} s wall, "
            f"{cpu['before'] - cpu['bare']:.2f} s CPU"
        )


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cli", action="store_true", help="time `python -m bptrace check` processes")
    parser.add_argument("--repeats", type=int, help="runs of each (default 3; --quick: 1)")
    parser.add_argument("--before", type=Path, help="with --cli: also time this checkout's check (e.g. /work/main)")
    args = parser.parse_args()
    n, repeats = (60, 1) if args.quick else (300, 3)
    repeats = args.repeats or repeats
    if args.cli:
        return cli_main(n, repeats, args.before)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = make_class(folder, n)
        runner = CliRunner()
        times, cpu = [], []
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            result = runner.invoke(main, ["check", *paths, "--key", str(folder / "key.yaml"), "--format", "json"])
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            assert result.exit_code == 1, result.stderr
        took, took_cpu = statistics.median(times), statistics.median(cpu)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    verdict = "met" if took < 3 else "MISSED"
    print(
        f"marking {n} Mazur sheets with a key: {took:.2f} s wall, {took_cpu:.2f} s CPU (median of {repeats}; "
        f"load average {load:.1f}); target < 3 s: {verdict}"
    )


if __name__ == "__main__":
    main_()
