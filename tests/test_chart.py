"""render/chart.py: the text line chart of train's loss curve. Its frame, its ticks and where its dots are,
read back from the characters (a braille cell's dots decoded from its code point)."""

from __future__ import annotations

import math

import pytest

from bptrace.render.chart import line_chart
from bptrace.render.training import loss_chart

BRAILLE = range(0x2800, 0x2900)


def chart(ys: list[float], log: bool, ascii: bool = False, width: int = 60, height: int = 16) -> list[str]:
    xs = [float(k) for k in range(len(ys))]
    last = len(ys) - 1
    text = line_chart(
        xs, ys, width=width, height=height, log=log, title="title", xlabel="epoch",
        xticks=[0.0, float(last)], xlabels=["0", str(last)], ascii=ascii,
    )  # fmt: skip
    return text.splitlines()


def plot_rows(lines: list[str]) -> list[str]:
    """The rows inside the frame (between ┌ and └), without the labels and the edges."""
    top = next(i for i, line in enumerate(lines) if "┌" in line or line.lstrip().startswith("+-"))
    bottom = next(i for i in range(len(lines) - 1, -1, -1) if "└" in lines[i] or lines[i].lstrip().startswith("++"))
    left = lines[top].index("┌" if "┌" in lines[top] else "+")
    return [line[left + 1 : -1] for line in lines[top + 1 : bottom]]


def marked_rows(rows: list[str], column: int) -> list[int]:
    return [r for r, row in enumerate(rows) if column < len(row) and row[column] != " "]


@pytest.mark.parametrize("ascii", [False, True])
def test_the_frame_fits_the_size_asked(ascii: bool) -> None:
    lines = chart([2.0**-k for k in range(200)], log=True, ascii=ascii, width=70, height=16)
    assert len(lines) == 16 and max(len(line) for line in lines) <= 70
    assert lines[0].strip() == "title" and lines[-1].strip() == "epoch"
    assert len(plot_rows(lines)) == 16 - 5
    if ascii:
        assert all(line.isascii() for line in lines)
    else:
        assert any(ord(ch) in BRAILLE for line in lines for ch in line)


def test_a_falling_curve_runs_from_the_top_left_to_the_bottom_right() -> None:
    rows = plot_rows(chart([1.0 - k / 100 for k in range(101)], log=False, ascii=True))
    assert marked_rows(rows, 0) == [0] and marked_rows(rows, len(rows[0]) - 1) == [len(rows) - 1]
    # a straight line: the marked row never rises as x grows
    firsts = [min(marked_rows(rows, c)) for c in range(len(rows[0])) if marked_rows(rows, c)]
    assert firsts == sorted(firsts) and len(firsts) == len(rows[0])


def test_log_ticks_are_powers_of_ten_on_the_rows_of_their_values() -> None:
    ys = [10.0 ** (-k / 10) for k in range(41)]  # 1 down to 1e-4: straight on a log axis
    lines = chart(ys, log=True, ascii=True)
    rows = plot_rows(lines)
    top = next(i for i, line in enumerate(lines) if line.lstrip().startswith("+-"))
    left = lines[top].index("+")
    labelled = [(line[:left].strip(), line[left]) for line in lines[top + 1 : top + 1 + len(rows)]]
    ticks = {float(label): r for r, (label, _edge) in enumerate(labelled) if label}
    assert all(edge == ("+" if label else "|") for label, edge in labelled)  # a tick marks the edge
    assert set(ticks) == {1.0, 0.1, 0.01, 0.001, 0.0001}
    for value, row in ticks.items():
        # the curve crosses each decade's row at the fraction of the width where y = that value
        column = round(-math.log10(value) * 10 / 40 * (len(rows[0]) - 1))
        assert abs(row - min(marked_rows(rows, column))) <= 1, value


def test_braille_dots_decode_to_the_curve() -> None:
    """A horizontal line at mid-height: every cell of one row holds dots of one and the same dot row."""
    lines = chart([0.5] * 30 + [0.0, 1.0], log=False)
    rows = plot_rows(lines)
    cells = [(r, ch) for r, row in enumerate(rows) for ch in row[: len(row) // 2] if ch != " "]
    assert len({r for r, _ in cells}) == 1 and all(ord(ch) in BRAILLE for _, ch in cells)
    bits = {ord(ch) - 0x2800 for _, ch in cells}
    # one dot row, both dot columns: dots 1+4, 2+5, 3+6 or 7+8
    assert len(bits) == 1 and bits <= {0x01 | 0x08, 0x02 | 0x10, 0x04 | 0x20, 0x40 | 0x80}, bits


def test_loss_chart_uses_a_log_scale_only_for_a_positive_varying_curve() -> None:
    assert "(log scale)" in loss_chart([0.3, 0.1, 0.01]).splitlines()[0]
    assert "(log scale)" not in loss_chart([0.3, 0.0, 0.01]).splitlines()[0]
    assert "(log scale)" not in loss_chart([0.3] * 5).splitlines()[0]
    thinned = loss_chart([1.0, 0.5, 0.25], epochs=[0, 500, 10000])
    assert "10 000" in thinned  # the x axis is the epochs kept, not the positions
