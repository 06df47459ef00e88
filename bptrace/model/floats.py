"""Floats: a read-only vector or matrix of Python floats, for a Scenario loaded without numpy.

`scenario.load(..., arrays=False)` puts these where a Scenario otherwise holds numpy arrays (a layer's
weights and biases, the inputs, targets and corrupt windows), so that `bptrace train` on the scalar
kernel's path never imports numpy (about as long as Mazur's whole script to import). They offer only
what that path reads, with numpy's meaning: `shape`, `size`, `tolist()`, `ravel()`, `len()` and
indexing by `[i]` or `[i, j]`; `np.asarray(floats)` is the array, and `Scenario.with_arrays()` turns a
whole scenario into the numpy one that every other part of bptrace takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


class Floats:
    """A vector (shape (n,)) or matrix (shape (rows, cols)) of floats, stored row by row in one tuple."""

    __slots__ = ("flat", "shape")

    def __init__(self, flat: Sequence[float], shape: tuple[int, ...]) -> None:
        if len(shape) not in (1, 2):
            raise ValueError(f"Floats are a vector or a matrix, not shape {shape}")
        size = shape[0] * (shape[1] if len(shape) == 2 else 1)
        if len(flat) != size:
            raise ValueError(f"{len(flat)} values do not fill shape {shape}")
        self.flat = tuple(float(v) for v in flat)
        self.shape = shape

    @classmethod
    def vector(cls, values: Sequence[float]) -> Floats:
        return cls(values, (len(values),))

    @classmethod
    def matrix(cls, rows: Sequence[Sequence[float]], cols: int | None = None) -> Floats:
        """Rows of equal length (`cols` gives the width when there are no rows, or rows are empty)."""
        width = len(rows[0]) if rows else (cols or 0)
        return cls([v for row in rows for v in row], (len(rows), width))

    @property
    def size(self) -> int:
        return len(self.flat)

    def __len__(self) -> int:
        return self.shape[0]

    def tolist(self) -> Any:
        """A list of floats (a vector) or a list of rows (a matrix), as numpy's tolist."""
        if len(self.shape) == 1:
            return list(self.flat)
        cols = self.shape[1]
        return [list(self.flat[r * cols : (r + 1) * cols]) for r in range(self.shape[0])]

    def ravel(self) -> Floats:
        return Floats(self.flat, (self.size,))

    def __getitem__(self, index: int | tuple[int, int]) -> Any:
        if isinstance(index, tuple):
            r, c = index
            rows, cols = self.shape
            if not (-rows <= r < rows and -cols <= c < cols):
                raise IndexError(f"index {index} is out of bounds for shape {self.shape}")
            return self.flat[(r % rows) * cols + c % cols]
        if len(self.shape) == 1:
            return self.flat[index]
        return Floats.vector(self.tolist()[index])

    def __array__(self, dtype: Any = None, copy: Any = None) -> NDArray[np.float64]:
        import numpy as np

        return np.array(self.flat, dtype=dtype or float).reshape(self.shape)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Floats) and other.shape == self.shape and other.flat == self.flat

    def __hash__(self) -> int:
        return hash((self.flat, self.shape))

    def __repr__(self) -> str:
        return f"Floats({self.tolist()!r})"
