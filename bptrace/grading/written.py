"""A number as the student wrote it (an answer sheet's value): the text is kept, so the digits written are the
precision it is marked at. Read by the sheet reader (answers.py) and the marking (marking.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


@dataclass(frozen=True)
class Written:
    """A number as the student wrote it: its text, exact decimal value, significant digits, last place."""

    text: str
    value: Decimal
    digits: int  # significant digits: 0.511301270 -> 9, 3.51e-5 -> 3, 0.00 -> 0
    place: int  # exponent of the last digit written: 0.0123 -> -4, 3.51e-5 -> -7, 100 -> 0

    @property
    def number(self) -> float:
        return float(self.value)


def read_number(text: str) -> Written | None:
    """The number in `text` (plain decimal or e-notation; '−' accepted for '-'), or None if it is not one."""
    t = str(text).strip().replace("\u2212", "-")
    if not NUMBER.fullmatch(t):
        return None
    d = Decimal(t)
    _sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    # Decimal keeps trailing zeros (0.750 -> digits 750) and drops leading ones (0.0351 -> 351)
    significant = 0 if d == 0 else len(digits)
    return Written(t, d, significant, exponent)
