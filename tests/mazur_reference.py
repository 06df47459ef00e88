"""Matt Mazur's published numbers (tests/data/mazur_reference.yaml), for the tests that assert them.

    from mazur_reference import published, exact, ERRATA, agrees
    assert agrees(trace_value, published("out_o1"))   # to the digits printed, ± one unit in the last place

The numbers live in the repository, each a string as the post prints it (0.511301270 keeps its last zero),
so a test never types one of them and never reads a file outside the checkout.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

PATH = Path(__file__).parent / "data" / "mazur_reference.yaml"
REFERENCE: dict[str, Any] = yaml.safe_load(PATH.read_text(encoding="utf-8"))
SOURCE: dict[str, str] = REFERENCE["source"]
QUANTITIES: dict[str, dict[str, str]] = REFERENCE["quantities"]
ERRATA: dict[str, dict[str, Any]] = REFERENCE["errata"]


def published(name: str) -> str:
    """The number the post prints for quantity `name` (bptrace's name, e.g. "dE/dw5"), as printed."""
    return QUANTITIES[name]["published"]


def exact(name: str) -> str:
    """The float64 value of quantity `name`, as the reference writes it (12 significant digits)."""
    return QUANTITIES[name]["exact"]


def unit(text: str) -> float:
    """One unit in the last decimal place written: '0.75136507' -> 1e-8, '3.5108548e-05' -> 1e-12."""
    return float(10 ** Decimal(Decimal(text).as_tuple().exponent))


def agrees(value: float, text: str) -> bool:
    """`value` shows the digits `text` publishes: within one unit of its last place (the post rounds, sometimes
    from rounded intermediates: −0.019049119 for −0.0190491183)."""
    return abs(value - float(text)) <= unit(text) * (1 + 1e-9)
