"""`python -m bptrace` and the `bptrace` command (pyproject's entry point) run the command line."""

import gc

# Starting a command loads a few hundred modules: some 100,000 objects that live until the process ends.
# The cyclic garbage collector passes over the young ones every 700 allocations (CPython's default), and
# while modules load that is all overhead (about 5 % of `bptrace train mazur --epochs 10000`, measured
# in docs/performance.md). In the command's own process it runs every GC_THRESHOLD allocations instead:
# cyclic garbage is still collected, in passes about 70 times rarer. Importing bptrace changes nothing.
GC_THRESHOLD = 50_000


def run() -> None:
    """The command line, in its own process."""
    gc.set_threshold(GC_THRESHOLD)
    from bptrace.cli.main import main

    main()


if __name__ == "__main__":
    run()
