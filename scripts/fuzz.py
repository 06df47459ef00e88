"""A long fuzzing run: mutated bundled scenarios through `bptrace run`, in-process.

    python scripts/fuzz.py --examples 20000 --seed 1

Every input must end in exit status 0, 1 or 2, with one line on stderr for 2 and never a traceback or
an "internal error". Prints a summary (and each failure, with the seed that reproduces it); the
results of runs are recorded in docs/robustness.md.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from click.testing import CliRunner  # noqa: E402
from fuzzing import mutate  # noqa: E402

from bptrace.cli.main import main
from bptrace.model.scenario import BUNDLED_DIR, bundled_names

SHEETS = Path(__file__).resolve().parent.parent / "examples"


def run(examples: int, seed: int) -> int:
    texts = {name: (BUNDLED_DIR / f"{name}.yaml").read_text() for name in bundled_names()}
    # answer sheets too, checked with `bptrace check` (the long mazur_published sheet trains 10,000 steps)
    texts["sheet:student_cross_entropy"] = (SHEETS / "student_cross_entropy.yaml").read_text()
    names = sorted(texts)
    runner = CliRunner()
    statuses: collections.Counter[int] = collections.Counter()
    failures = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.yaml"
        for k in range(examples):
            case_seed = seed * 1_000_003 + k
            rng = random.Random(case_seed)
            name = names[k % len(names)]
            path.write_bytes(mutate(texts[name], rng))
            args = ["check", str(path)] if name.startswith("sheet:") else ["run", str(path), "--verify", "off"]
            result = runner.invoke(main, args)
            statuses[result.exit_code] += 1
            bad = (
                result.exit_code not in (0, 1, 2)
                or "Traceback" in result.stderr
                or "internal error" in result.stderr
                or (result.exception is not None and not isinstance(result.exception, SystemExit))
                or (result.exit_code == 2 and len(result.stderr.strip().splitlines()) != 1)
            )
            if bad:
                failures += 1
                print(
                    f"FAIL case seed {case_seed} ({name}): exit {result.exit_code}: "
                    f"{result.stderr.strip()[:300]} {result.exception!r}"
                )
    took = time.perf_counter() - start
    print(f"{examples} inputs in {took:.0f} s: exit statuses {dict(sorted(statuses.items()))}; {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sys.exit(run(args.examples, args.seed))
