"""`python -m bptrace` runs the command line."""

from bptrace.cli.main import main

main()
