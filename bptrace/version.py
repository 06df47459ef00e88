"""bptrace's version: written into the JSON of every command (a module of its own, so a printer reads it
without importing the package's API, bptrace/__init__.py, which imports the printers)."""

__version__ = "0.1.0"
