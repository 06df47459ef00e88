"""A long fuzzing run over every kind of input bptrace reads, in-process.

    python scripts/fuzz.py --minutes 20 --seed 1
    python scripts/fuzz.py --examples 20000 --seed 1 --kinds scenario,sheet

The kinds of input (`--kinds`, default all), taken in turn:

- scenario: a mutated bundled network scenario through `bptrace run --verify off`;
- graph: a mutated bundled computational-graph scenario through `bptrace run --verify off`;
- rnn, layers: a mutated bundled recurrent network or layer stack through `bptrace run --verify off`, or
  (one time in three) a mutated answer sheet of one through `bptrace check`;
- sheet: a mutated answer sheet (examples/, examples/class/sheets/) through `bptrace check`
  (self-check) and, for the class sheets, `bptrace check --key examples/class/key.yaml`;
- key: a mutated teacher's key (examples/class/key.yaml) marking a right sheet;
- cli: a random command line: a command, its arguments and options drawn from what the command
  accepts and from odd values (empty, negative, nan, inf, huge, wrong words), outputs in a scratch folder.

Every input must end in exit status 0, 1 or 2, with one line on stderr for 2 and never a traceback, an
"internal error" or a warning (numpy's RuntimeWarning of an overflow), whatever the status. An input
that takes longer than --timeout seconds is reported as SLOW (not a crash; counted apart). Reports as it
goes: each failure at once (with the kind and seed that reproduce it: `--replay KIND:SEED`), a progress
line every --report-every seconds, and the summary so far when interrupted, so a long run that stops
loses nothing. A mutator that raises is itself counted as a failure, and the run goes on. The results
of runs are recorded in docs/robustness.md.
"""

from __future__ import annotations

import argparse
import collections
import os
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import click  # noqa: E402
from click.testing import CliRunner  # noqa: E402
from fuzzing import mutate  # noqa: E402

from bptrace.cli.main import main  # noqa: E402
from bptrace.layers.model import bundled_layers_names  # noqa: E402
from bptrace.model.scenario import BUNDLED_DIR, bundled_graph_names, bundled_names, bundled_rnn_names  # noqa: E402

EXAMPLES = ROOT / "examples"
KINDS = ("scenario", "graph", "rnn", "layers", "sheet", "key", "cli")
# answer sheets of the recurrent and layered kinds (a few quantities of every sort, some right, some wrong)
KIND_SHEETS = {
    "rnn": {
        "rnn_tiny": "scenario: rnn_tiny\nstudent: Ann\nanswers:\n  net_h1@t1: 0.5\n  h1@t1: 0.462117157\n"
        "  E_total: 0.3\n  delta_h1@t3: 0.1\n  dE/dW_hh_1_2@t3: 0.01\n  dE/dW_hh_1_2: 0.02\n  W_hh_1_2+: -0.5\n",
        "rnn_last_truncated": "scenario: rnn_last_truncated\nstudent: 王小明\nanswers:\n  E_total: 0.1\n"
        "  dE/dh1@t0: 0.0\n  dE/dW_xh_1_1: 0.2\n",
    },
    "layers": {
        "layers_conv_pool": "scenario: layers_conv_pool\nstudent: Ann\nanswers:\n  a1_1_1:1: 0.23\n"
        "  a3_1_2:1: 0.5\n  E_total: 0.1\n  dE/dK1_1_2: -0.03\n  dE/dx_2_2:1: 0.0\n  K1_1_2+: -0.1\n",
        "layers_batchnorm": "scenario: layers_batchnorm\nstudent: Ann\nanswers:\n  mu2_1: 0.1\n  var2_1: 0.2\n"
        "  xhat2_1:3: 0.3\n  dE/dvar2_1: 0.0\n  dE/dx_2:1: 0.01\n  gamma2_1+: 1.0\n",
    },
}

# odd values for a command line's options and arguments
ODD_WORDS = [
    "",
    "x",
    "-",
    "0",
    "-1",
    "1",
    "2",
    "3",
    "17",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "1e-400",
    "0.5",
    "99999999999999999999999",
    "1,2",
    "2,3,1",
    "forward",
    "w5",
    "W1_1_1",
    "out_o1",
    "E_total",
    "\x1b[31m",
    "mazur",
    "a" * 300,
    "ß",
    "--",
    "-o",
    "/dev/null",
]


class Slow(BaseException):
    """An input ran past the timeout (a BaseException, so that bptrace's report of unexpected errors, which
    catches Exception, lets it through instead of calling it an internal error)."""


def _alarm(signum: int, frame: Any) -> None:
    raise Slow


class Inputs:
    """The texts mutated, and the way each kind of input is run."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.scenarios = {n: (BUNDLED_DIR / f"{n}.yaml").read_text() for n in bundled_names()}
        self.graphs = {n: (BUNDLED_DIR / f"{n}.yaml").read_text() for n in bundled_graph_names()}
        self.kinds = {
            "rnn": {n: (BUNDLED_DIR / f"{n}.yaml").read_text() for n in bundled_rnn_names()},
            "layers": {n: (BUNDLED_DIR / f"{n}.yaml").read_text() for n in bundled_layers_names()},
        }
        self.sheets = {
            p.stem: p.read_text()
            for p in [EXAMPLES / "student_cross_entropy.yaml", *sorted((EXAMPLES / "class" / "sheets").glob("*.yaml"))]
        }
        self.keys = {"class": (EXAMPLES / "class" / "key.yaml").read_text()}
        self.right_sheet = EXAMPLES / "class" / "sheets" / "ada.yaml"
        self.class_key = EXAMPLES / "class" / "key.yaml"

    def case(self, kind: str, rng: random.Random) -> tuple[str, list[str]]:
        """A description and the command line of one input of this kind (its file written)."""
        path = self.tmp / "fuzz.yaml"
        if kind in ("scenario", "graph"):
            texts = self.scenarios if kind == "scenario" else self.graphs
            name = rng.choice(sorted(texts))
            path.write_bytes(mutate(texts[name], rng))
            return name, ["run", str(path), "--verify", "off"]
        if kind in ("rnn", "layers"):
            if rng.random() < 1 / 3:
                name = rng.choice(sorted(KIND_SHEETS[kind]))
                path.write_bytes(mutate(KIND_SHEETS[kind][name], rng))
                return name + " (a sheet)", ["check", str(path)]
            texts = self.kinds[kind]
            name = rng.choice(sorted(texts))
            path.write_bytes(mutate(texts[name], rng))
            return name, ["run", str(path), "--verify", "off"]
        if kind == "sheet":
            name = rng.choice(sorted(self.sheets))
            path.write_bytes(mutate(self.sheets[name], rng))
            if name != "student_cross_entropy" and rng.random() < 0.5:
                return name + " with the key", ["check", str(path), "--key", str(self.class_key)]
            return name, ["check", str(path)]
        if kind == "key":
            name = rng.choice(sorted(self.keys))
            path.write_bytes(mutate(self.keys[name], rng))
            # the key names `mazur`; a key read from the scratch folder cannot name the examples' files
            return name, ["check", str(self.right_sheet), "--key", str(path)]
        return "command line", self.command_line(rng)

    def command_line(self, rng: random.Random) -> list[str]:
        name = rng.choice(sorted(main.commands))
        command = main.commands[name]
        args = [name]
        scenario = rng.choice(
            [
                *bundled_names(),
                *bundled_graph_names(),
                *bundled_rnn_names(),
                *bundled_layers_names(),
                str(self.tmp / "missing.yaml"),
                rng.choice(ODD_WORDS),
            ]
        )
        for param in command.params:
            if isinstance(param, click.Argument):
                count = 1 if param.nargs == 1 else rng.randrange(0, 3)
                for _ in range(count if param.required or rng.random() < 0.9 else 0):
                    if param.name in ("sheets",):
                        args.append(str(rng.choice([self.right_sheet, EXAMPLES / "student_cross_entropy.yaml"])))
                    elif param.name == "target":
                        args.append(rng.choice(["w5", "W1_1_1", "out_o1", "x", "b1", "delta_o1", ""]))
                    else:
                        args.append(scenario)
        options = [p for p in command.params if isinstance(p, click.Option)]
        for option in rng.sample(options, rng.randrange(0, min(5, len(options)) + 1)):
            flag = max(option.opts, key=len)
            if option.is_flag:
                args.append(flag)
                continue
            args += [flag, self.value(option, rng)]
        if rng.random() < 0.1:
            args.insert(rng.randrange(len(args) + 1), rng.choice(ODD_WORDS))
        return args

    def value(self, option: click.Option, rng: random.Random) -> str:
        if option.name in ("output", "report", "report_long", "plot_path", "csv_path"):
            # outputs only in the scratch folder (as root, a fuzzer must never be able to replace a system file)
            return rng.choice(
                [
                    str(self.tmp / "out" / rng.choice(["a.txt", "b.csv", "c.png", "d.xml", "e.zip"])),
                    str(self.tmp / "missing_dir" / "x"),
                    "-",
                    "/dev/null",
                    str(self.tmp / "fuzz.yaml"),
                ]
            )
        if option.name == "key_file":
            return str(rng.choice([self.class_key, self.tmp / "fuzz.yaml", self.tmp / "missing.yaml"]))
        if option.name == "epochs":  # a long run is bounded by the timeout; keep most runs short
            return rng.choice(["0", "-1", "1", "2", "10", "nan", "x", "1000"])
        if option.name == "variants":
            return rng.choice(["0", "1", "2", "3", "-1", "x", "1001"])
        if isinstance(option.type, click.Choice) and rng.random() < 0.8:
            return rng.choice(list(option.type.choices))
        return rng.choice(ODD_WORDS)


def clear(folder: Path) -> None:
    """Empty the scratch output folder between inputs: files, and the folders that `quiz --format prairielearn`
    or `worksheet` write (`-o out/d.xml` may be one: unlinking it crashed a 10-minute run at 480 s)."""
    import shutil

    for leftover in folder.iterdir():
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover)
        else:
            leftover.unlink()


def many_sheets(args: list[str]) -> bool:
    """`check` of several sheets says one line per sheet it cannot read (and marks the others)."""
    return args[0] == "check" and sum(a.endswith(".yaml") for a in args[1:]) > 1


def run(
    examples: int | None,
    minutes: float | None,
    seed: int,
    kinds: list[str],
    report_every: float = 60.0,
    timeout: float = 60.0,
    replay: str | None = None,
    write: Callable[[str], None] = print,
) -> int:
    runner = CliRunner()
    statuses: collections.Counter[int] = collections.Counter()
    per_kind: collections.Counter[str] = collections.Counter()
    failures = 0
    slow = 0
    done = 0
    start = last_report = time.perf_counter()
    deadline = start + minutes * 60 if minutes else None

    def summary() -> str:
        took = time.perf_counter() - start
        return (
            f"{done} inputs in {took:.0f} s ({dict(sorted(per_kind.items()))}): exit statuses "
            f"{dict(sorted(statuses.items()))}; {failures} failures; {slow} slow (over {timeout:.0f} s)"
        )

    signal.signal(signal.SIGALRM, _alarm)
    here = os.getcwd()
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            (tmp / "out").mkdir()
            os.chdir(tmp)  # relative names a command line writes land in the scratch folder
            inputs = Inputs(tmp)
            cases: list[tuple[str, int]]
            if replay:
                kind, _, case_seed = replay.partition(":")
                cases = [(kind, int(case_seed))]
            k = 0
            while True:
                if replay:
                    if k:
                        break
                    kind, case_seed = cases[0]
                else:
                    if (examples is not None and k >= examples) or (deadline and time.perf_counter() > deadline):
                        break
                    kind = kinds[k % len(kinds)]
                    case_seed = seed * 1_000_003 + k
                k += 1
                rng = random.Random(f"{kind}:{case_seed}")
                try:
                    what, args = inputs.case(kind, rng)
                except Exception as exc:  # the mutator's own bug: report it, and go on
                    failures += 1
                    done += 1
                    write(f"FAIL {kind}:{case_seed}: the mutator raised {exc!r}")
                    continue
                clear(tmp / "out")
                signal.setitimer(signal.ITIMER_REAL, timeout)
                try:
                    result = runner.invoke(main, args)
                except Slow:
                    slow += 1
                    done += 1
                    per_kind[kind] += 1
                    write(f"SLOW {kind}:{case_seed} ({what}): over {timeout:.0f} s: {args!r}"[:400])
                    continue
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
                if isinstance(result.exception, Slow):
                    slow += 1
                    done += 1
                    per_kind[kind] += 1
                    write(f"SLOW {kind}:{case_seed} ({what}): over {timeout:.0f} s: {args!r}"[:400])
                    continue
                if result.exit_code == 130:  # Ctrl-C reached bptrace, which reports it: stop the run
                    raise KeyboardInterrupt
                done += 1
                per_kind[kind] += 1
                statuses[result.exit_code] += 1
                bad = (
                    result.exit_code not in (0, 1, 2)
                    or "Traceback" in result.stderr
                    or "Warning:" in result.stderr  # numpy's RuntimeWarning: an overflow not turned into an error
                    or "internal error" in result.stderr
                    or (result.exception is not None and not isinstance(result.exception, SystemExit))
                    or (
                        result.exit_code == 2 and len(result.stderr.strip().splitlines()) != 1 and not many_sheets(args)
                    )
                )
                if bad:
                    failures += 1
                    write(
                        f"FAIL {kind}:{case_seed} ({what}): {args!r}: exit {result.exit_code}: "
                        f"{result.stderr.strip()[:300]!r} {result.exception!r}"
                    )
                if time.perf_counter() - last_report >= report_every:
                    last_report = time.perf_counter()
                    write(f"... {summary()}")
    except KeyboardInterrupt:
        write(f"interrupted after {summary()}")
        return 1 if failures else 130
    finally:
        os.chdir(here)
    write(summary())
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=None, help="How many inputs (default: 2000, or --minutes).")
    parser.add_argument("--minutes", type=float, default=None, help="Run for this long instead of --examples.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"Comma-separated: {', '.join(KINDS)}.")
    parser.add_argument("--report-every", type=float, default=60.0, help="Seconds between progress lines.")
    parser.add_argument("--timeout", type=float, default=60.0, help="Seconds before an input counts as slow.")
    parser.add_argument("--replay", help="Run one input again: KIND:SEED, as a failure line names it.")
    args = parser.parse_args()
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"unknown kinds {unknown}; choose from {', '.join(KINDS)}")
    examples = args.examples if args.examples is not None or args.minutes else 2000
    sys.exit(
        run(
            examples,
            args.minutes,
            args.seed,
            kinds,
            args.report_every,
            args.timeout,
            args.replay,
            lambda line: print(line, flush=True),
        )
    )
