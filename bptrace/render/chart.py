"""A line chart as plain text: the curve in braille dots (2 × 4 dots per character cell) inside a frame,
y ticks on the left, x ticks below, a title above and an axis label under it; `ascii=True` draws it with
'*', '+', '-' and '|'. Used for train's loss curve (render/training.py). Only the standard library.

        title
       ┌──────────────┐
  0.1  ┤⠑⢄            │      y = log10(E) on a log scale: the ticks are powers of ten (or 1-2-5 steps
       │  ⠈⠢⣀         │      within one decade), each on the row nearest its value
  0.01 ┤     ⠉⠒⠤⣀⣀⣀⣀  │
       └┬──────┬─────┬┘
        0     500   1000
             epoch
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# a braille cell's dots, by (column 0-1, row 0-3 from the top): Unicode's dot numbering 1-8
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_ASCII_DOT = ((1,),)  # --ascii: one dot per character cell
_BRAILLE = 0x2800
_TO_ASCII = str.maketrans({"┌": "+", "┐": "+", "└": "+", "┘": "+", "─": "-", "│": "|", "┤": "+", "┬": "+"})
MAX_Y_TICKS = 6
FRAME_LINES = 5  # title, top edge, bottom edge, x tick labels, x label: the plot has height − 5 rows


def line_chart(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    width: int,
    height: int,
    log: bool,
    title: str,
    xlabel: str,
    xticks: Sequence[float],
    xlabels: Sequence[str],
    ascii: bool = False,
) -> str:
    """The points (xs[i], ys[i]), joined in order, as `height` lines of at most `width` characters.

    log=True plots log10(y) (every y must be positive). The x axis runs from xs[0] to xs[-1]; `xticks` are
    marked on the bottom edge and labelled with `xlabels`."""
    ty = [math.log10(y) for y in ys] if log else [float(y) for y in ys]
    low, high = min(ty), max(ty)
    if high - low <= 1e-12 * max(1.0, abs(high)):  # a flat curve: a band around its value
        pad = 0.5 if log else abs(high) * 0.5 or 1.0  # log: half a decade either side
        low, high = low - pad, high + pad
    rows = max(3, height - FRAME_LINES)
    ticks = _log_ticks(low, high) if log else _linear_ticks(low, high)
    labels = [_label(10**t if log else t) for t in ticks]
    label_width = max(len(s) for s in labels)
    cols = max(10, width - label_width - 2)

    # the dots: x to a dot column, y to a dot row (0 at the top)
    per_x, per_y = (1, 1) if ascii else (2, 4)
    dots_x, dots_y = cols * per_x, rows * per_y
    x0, x1 = float(xs[0]), float(xs[-1])
    span_x = x1 - x0 or 1.0

    sx, sy = (dots_x - 1) / span_x, (dots_y - 1) / (high - low)
    cells: dict[tuple[int, int], int] = {}
    bits = _ASCII_DOT if ascii else _DOTS

    def mark(px: int, py: int) -> None:
        key = (py // per_y, px // per_x)
        cells[key] = cells.get(key, 0) | bits[px % per_x][py % per_y]

    ax = ay = -1
    for x, y in zip(xs, ty):
        bx, by = int((x - x0) * sx + 0.5), int((high - y) * sy + 0.5)  # the dot: column, row from the top
        if (bx, by) == (ax, ay):
            continue
        if ax < 0 or (abs(bx - ax) <= 1 and abs(by - ay) <= 1):
            mark(bx, by)
        else:  # a straight run of dots from the previous point to this one: the curve stays connected
            steps = max(abs(bx - ax), abs(by - ay))
            for k in range(1, steps + 1):
                mark(int(ax + (bx - ax) * k / steps + 0.5), int(ay + (by - ay) * k / steps + 0.5))
        ax, ay = bx, by

    def tick_row(t: float) -> int:
        return round((high - t) / (high - low) * (rows - 1))

    at_row = {tick_row(t): s for t, s in zip(ticks, labels)}
    lines = [_centre(title, width), " " * label_width + "┌" + "─" * cols + "┐"]
    for r in range(rows):
        body = "".join(_cell(cells.get((r, c), 0), ascii) for c in range(cols))
        edge = "┤" if r in at_row else "│"
        lines.append(at_row.get(r, "").rjust(label_width) + edge + body + "│")
    bottom = ["─"] * cols
    marks: list[tuple[int, str]] = []
    for t, s in zip(xticks, xlabels):
        c = round((t - x0) / span_x * (cols - 1))
        if 0 <= c < cols:
            bottom[c] = "┬"
            marks.append((label_width + 1 + c, s))
    lines.append(" " * label_width + "└" + "".join(bottom) + "┘")
    lines.append(_place(marks, label_width + cols + 2))
    lines.append(_centre(xlabel, width))
    text = "\n".join(line.rstrip() for line in lines)
    return text.translate(_TO_ASCII) if ascii else text


def _cell(bits: int, ascii: bool) -> str:
    if ascii:
        return "*" if bits else " "
    return chr(_BRAILLE + bits) if bits else " "


def _centre(text: str, width: int) -> str:
    return text.center(width).rstrip() if len(text) < width else text


def _place(marks: list[tuple[int, str]], width: int) -> str:
    """Labels centred under their columns, left to right, each skipped where it would touch the one before."""
    line = ""
    for column, label in marks:
        start = min(max(0, column - (len(label) - 1) // 2), max(0, width - len(label)))
        if line and start <= len(line):
            continue
        line = line.ljust(start) + label
    return line


def _linear_ticks(low: float, high: float) -> list[float]:
    """Round values (1, 2 or 5 × 10^k apart) within [low, high], at most MAX_Y_TICKS of them."""
    raw = (high - low) / (MAX_Y_TICKS - 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    ticks = [k * step for k in range(first, math.floor(high / step + 1e-9) + 1)]
    return ticks or [low, high]


def _log_ticks(low: float, high: float) -> list[float]:
    """log10 of the ticks of a log axis from 10^low to 10^high: powers of ten (every n-th, at most
    MAX_Y_TICKS), or, within less than two decades, the 1-2-5 values there."""
    decades = list(range(math.ceil(low - 1e-9), math.floor(high + 1e-9) + 1))
    if len(decades) >= 2:
        every = -(-len(decades) // MAX_Y_TICKS)
        return [float(k) for k in decades[::-1][::every]][::-1]
    ticks = [
        math.log10(m) + k
        for k in range(math.floor(low) - 1, math.ceil(high) + 1)
        for m in (1, 2, 5)
        if low - 1e-9 <= math.log10(m) + k <= high + 1e-9
    ]
    return ticks if len(ticks) >= 2 else [low, high]


def _label(value: float) -> str:
    """A tick's label: 0.01, 0.25, 1e-05, 2000 (three significant digits at most)."""
    text = f"{value:.3g}"
    return "0" if text in ("-0", "0") else text
