"""`python -m bptrace` runs the command line."""

from .cli import main

main()
