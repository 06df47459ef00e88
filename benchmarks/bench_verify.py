"""Time verify(): SymPy + finite differences + local factors, cold (every cache cleared), beyond imports.

    python benchmarks/bench_verify.py            # 5 repeats per case, plus a 784-128-10 network
    python benchmarks/bench_verify.py --quick    # 3 repeats, the three cases with targets only

Targets (from the issue "SymPy checks every partial derivative, independently of the chain rule"):
  * every parameter of a network up to ~100 parameters derived by SymPy in under 1 s beyond imports;
  * 16-32-32-10 (1,930 parameters) fully checked — finite differences for every parameter, the local
    factors, and SymPy for a documented sample per layer — in under 3 s.
Each repeat clears symbolic's templates and SymPy's cache first, so a repeat costs what a fresh
`bptrace run` would; the time covers engine.trace + verify.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

IMPORT_START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import mpmath  # noqa: E402,F401  (imported up front: the timings are "beyond imports")
import numpy as np  # noqa: E402
import sympy  # noqa: E402

import bptrace  # noqa: E402
from bptrace.engine import step as engine
from bptrace.model.scenario import Scenario, loads
from bptrace.verify import symbolic
from bptrace.verify.verification import verify

IMPORT_SECONDS = time.perf_counter() - IMPORT_START


def network(sizes: list[int], activations: list[str], seed: int = 0) -> Scenario:
    """A matrix-form scenario with seeded random weights, one bias per neuron, one sample."""
    rng = np.random.default_rng(seed)
    layers = [
        {
            "activation": activations[i - 1],
            "weights": rng.uniform(-1, 1, (sizes[i], sizes[i - 1])).round(3).tolist(),
            "biases": rng.uniform(-0.5, 0.5, sizes[i]).round(3).tolist(),
        }
        for i in range(1, len(sizes))
    ]
    data = {
        "inputs": rng.uniform(-1, 1, sizes[0]).round(3).tolist(),
        "targets": rng.uniform(0.05, 0.95, sizes[-1]).round(3).tolist(),
        "layers": layers,
    }
    return loads(json.dumps(data), file="-".join(map(str, sizes)))


def run_once(scenario: Scenario) -> tuple[float, object]:
    """One cold verification: clear the caches, then time trace + verify."""
    symbolic.clear_cache()
    sympy.core.cache.clear_cache()
    start = time.perf_counter()
    result = verify(engine.trace(scenario))
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    """Run the cases, print a table of medians against the targets; exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 repeats and only the cases with targets")
    parser.add_argument("--repeats", type=int, default=None, help="repeats per case (default 5, --quick 3)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)

    cases: list[tuple[str, Scenario, float | None]] = [
        ("mazur (2-2-2)", bptrace.load("mazur"), 1.0),
        ("4-8-6-3 sigmoid", network([4, 8, 6, 3], ["sigmoid", "tanh", "sigmoid"]), 1.0),
        ("16-32-32-10", network([16, 32, 32, 10], ["sigmoid", "tanh", "sigmoid"]), 3.0),
    ]
    if not args.quick:
        cases.append(("8-16-8-3 relu", network([8, 16, 8, 3], ["relu", "relu", "sigmoid"]), None))
        cases.append(("784-128-10", network([784, 128, 10], ["relu", "sigmoid"]), None))

    print(f"imports (numpy, sympy, mpmath, bptrace): {IMPORT_SECONDS:.2f} s; {repeats} cold repeats per case")
    header = (
        f"{'case':18} {'params':>7} {'mode':>6} {'sympy':>6} {'median s':>9} {'min s':>7} "
        f"{'30-digit s':>10} {'fd s':>6} {'sympy s':>8} {'local s':>8} {'target':>7}  ok"
    )
    print(header)
    print("-" * len(header))
    missed = False
    for name, scenario, target in cases:
        times, last = [], None
        for _ in range(repeats):
            seconds, last = run_once(scenario)
            times.append(seconds)
        assert last is not None
        median = statistics.median(times)
        parts = last.seconds  # type: ignore[attr-defined]
        verdict = "" if target is None else ("yes" if median < target else "NO")
        missed = missed or verdict == "NO" or not last.ok  # type: ignore[attr-defined]
        print(
            f"{name:18} {scenario.parameter_count():>7} {last.mode:>6} "  # type: ignore[attr-defined]
            f"{len(last.sympy_derived):>6} {median:>9.3f} {min(times):>7.3f} "  # type: ignore[attr-defined]
            f"{parts.get('high_precision_forward', 0):>10.3f} {parts['finite_differences']:>6.3f} "
            f"{parts['sympy']:>8.3f} {parts.get('local_factors', 0):>8.3f} "
            f"{'' if target is None else f'< {target:g} s':>7}  {verdict or '-'}"
            f"{'' if last.ok else '  (verification FAILED)'}"
        )  # type: ignore[attr-defined]
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
