"""A long fuzzing run: mutated bundled scenarios through `bptrace run`, in-process.

    python scripts/fuzz.py --examples 20000 --seed 1

Every input must end in exit status 0, 1 or 2, with one line on stderr for 2 and never a traceback or
an "internal error". Reports as it goes: each failure at once (with the seed that reproduces it), a
progress line every --report-every seconds, and the summary so far when interrupted, so a long run
that stops (Ctrl-C, a crash of the mutator itself) loses nothing. A mutator that raises is itself
counted as a failure, and the run goes on. The results of runs are recorded in docs/robustness.md.
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


def run(examples: int, seed: int, report_every: float = 60.0) -> int:
    texts = {name: (BUNDLED_DIR / f"{name}.yaml").read_text() for name in bundled_names()}
    # answer sheets too, checked with `bptrace check` (the long mazur_published sheet trains 10,000 steps)
    texts["sheet:student_cross_entropy"] = (SHEETS / "student_cross_entropy.yaml").read_text()
    names = sorted(texts)
    runner = CliRunner()
    statuses: collections.Counter[int] = collections.Counter()
    failures = 0
    start = last_report = time.perf_counter()
    done = 0

    def summary() -> str:
        took = time.perf_counter() - start
        return f"{done} inputs in {took:.0f} s: exit statuses {dict(sorted(statuses.items()))}; {failures} failures"

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "fuzz.yaml"
            for k in range(examples):
                case_seed = seed * 1_000_003 + k
                name = names[k % len(names)]
                try:
                    path.write_bytes(mutate(texts[name], random.Random(case_seed)))
                except Exception as exc:  # the mutator's own bug: report it, and go on
                    failures += 1
                    print(f"FAIL case seed {case_seed} ({name}): the mutator raised {exc!r}", flush=True)
                    done += 1
                    continue
                args = ["check", str(path)] if name.startswith("sheet:") else ["run", str(path), "--verify", "off"]
                result = runner.invoke(main, args)
                if result.exit_code == 130:  # Ctrl-C reached bptrace, which reports it: stop the run
                    raise KeyboardInterrupt
                done += 1
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
                        f"{result.stderr.strip()[:300]} {result.exception!r}",
                        flush=True,
                    )
                if time.perf_counter() - last_report >= report_every:
                    last_report = time.perf_counter()
                    print(f"... {summary()}", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted after {summary()}", flush=True)
        return 1 if failures else 130
    print(summary(), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--report-every", type=float, default=60.0, help="Seconds between progress lines.")
    args = parser.parse_args()
    sys.exit(run(args.examples, args.seed, args.report_every))
