"""What speaking Chinese costs a whole command: `bptrace run mazur` and `bptrace explain w5` with
`--lang en` (the baseline: no catalog is read) and `--lang zh` (Babel reads the zh_CN catalog once).

    python benchmarks/bench_language.py            # 15 interleaved pairs of each command
    python benchmarks/bench_language.py --runs 5

Each figure is the median wall time of fresh processes (`python -m bptrace ...`, stdout to /dev/null),
the two languages interleaved so that the machine's load falls on both alike; the ratio is zh / en.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"run mazur": ["run", "mazur"], "explain w5": ["explain", "w5"]}


def seconds(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bptrace", *args], cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    for label, args in COMMANDS.items():
        times: dict[str, list[float]] = {"en": [], "zh": []}
        for _ in range(runs):
            for lang in ("en", "zh"):
                times[lang].append(seconds([*args, "--lang", lang]))
        en, zh = statistics.median(times["en"]), statistics.median(times["zh"])
        print(f"{label:12} en {en * 1000:6.0f} ms   zh {zh * 1000:6.0f} ms   zh/en {zh / en:.2f}x   ({runs} pairs)")


if __name__ == "__main__":
    main()
