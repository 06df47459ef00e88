"""The objective: what one training step minimises, and how its forward passes are laid out.

Two kinds exist, behind one interface (`objective(loss, samples, margin)`, or `Scenario.objective`):

  PerOutput   a loss of the outputs against targets (functions.py's LOSS_ENTRIES): one forward pass per
              sample; E_s = Σ_o term(t_o, out_o)
  Hinge       the max-margin hinge of the CS224n-style notes: two forward passes per sample, its true window
              x and its corrupt window x_c; E_s = J_s = max(0, Δ + s_c − s) of the two scores; no targets

What every consumer asks it, instead of testing the loss's name:

  passes, windows          the rows of the trace's arrays: samples × windows (row = window·m + sample)
  sample(row), corrupt(row), window(row), rows_of(k), reading_order()
  label(row), pass_label(row), window_label(row), suffix(row), suffixes()
                           the texts naming a pass: "2 x" (run's tables), "s2 x_c" (the JSON's passes),
                           ":2c" (the vocabulary's suffix; "" where there is one pass)
  per_sample(per_pass)     per-pass values → per-sample values (a sample's windows add up)
  targets, scores          whether outputs are compared with targets, or each window gets one score
  formula, note, ...       the printed loss and the sentences explaining the passes and a zero gradient

numpy is not imported here; `per_sample` takes and returns the caller's arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bptrace.functions import SCORE_LOSSES
from bptrace.i18n import _

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray


@dataclass(frozen=True)
class Objective:
    """One loss of outputs against targets: one forward pass per sample (the default kind)."""

    name: str  # the scenario's `loss:`
    samples: int  # m
    margin: float = 1.0  # the hinge's Δ (unused by a per-output loss)

    windows = 1  # forward passes per sample
    targets = True  # outputs are compared with targets t
    scores = False  # each window is scored by the one output neuron instead

    # ---- the passes ----
    @property
    def passes(self) -> int:
        """Rows of the trace's arrays: one per sample and window (true windows first, then corrupt ones)."""
        return self.windows * self.samples

    @property
    def several(self) -> bool:
        """More than one forward pass: per-pass quantities carry a suffix."""
        return self.passes > 1

    def sample(self, row: int) -> int:
        """The 0-based sample a pass belongs to."""
        return row % self.samples

    def corrupt(self, row: int) -> bool:
        """Whether the pass runs through a corrupt window."""
        return row >= self.samples

    def rows_of(self, k: int) -> tuple[int, ...]:
        """The passes of 0-based sample k."""
        return tuple(w * self.samples + k for w in range(self.windows))

    def reading_order(self) -> list[int]:
        """The rows as a reader takes them: each sample's passes together (x, then x_c)."""
        return [row for k in range(self.samples) for row in self.rows_of(k)]

    def row(self, sample: int | None, corrupt: bool = False) -> int:
        """The row of 1-based `sample` (None: the only one) and window."""
        row = 0 if sample is None else sample - 1
        return row + self.samples if corrupt else row

    def per_sample(self, per_pass: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per-pass values → per-sample values: each sample's passes added."""
        return per_pass

    # ---- the names of a pass ----
    def column(self) -> tuple[str, str] | None:
        """run's sample column (header, kind), None where there is one pass."""
        return (_("sample"), "num") if self.several else None

    def window(self, row: int) -> str | None:
        """The window a pass goes through ('x' or 'x_c'), None where a sample has one pass."""
        return None

    def label(self, row: int) -> str:
        """The sample column's text in run's tables: '2' (or, with windows, '2 x' / '2 x_c')."""
        return str(row + 1)

    def pass_label(self, row: int) -> str:
        """A pass's name in the JSON's `passes`: 's2' (or 's2 x', 's2 x_c')."""
        return f"s{self.sample(row) + 1}"

    def suffix(self, row: int) -> str:
        """The vocabulary's suffix of a pass: ':2' (':2c' for a corrupt window), '' where there is one pass."""
        return f":{self.sample(row) + 1}{'c' if self.corrupt(row) else ''}" if self.several else ""

    def suffixes(self) -> list[str]:
        """Every pass's suffix in the trace's row order."""
        return [self.suffix(row) for row in range(self.passes)]

    # ---- its words ----
    def formula(self) -> str:
        """The printed per-sample loss, without numbers (the hinge's J_s = max(0, Δ + s_c − s))."""
        return ""

    def run_note(self) -> str | None:
        """run's header: what the passes are and how they back-propagate (None: nothing to say)."""
        return None

    def matrix_note(self) -> str | None:
        """The matrix notation's note on its columns."""
        return None

    def index_note(self) -> str | None:
        """The index notation's note on its passes."""
        return None

    def names_note(self) -> str | None:
        """`explain --list`'s note on the suffixes."""
        return None

    def explain_notes(self) -> list[str]:
        """explain's notes under ∂E/∂out of the output."""
        return []

    def zero_note(self, met: bool) -> str:
        """Why a sample's gradient is zero (or what it is while the loss is active)."""
        return ""

    def output_gradient_note(self, row: int, value: float, at_corner: bool) -> str:
        """run's text for ∂E/∂out of the scoring neuron in a pass (the hinge's; a per-output loss prints its
        formula instead)."""
        return ""

    def corner_note(self) -> str:
        """What the engine takes at the objective's own kink (the hinge's corner)."""
        return ""


@dataclass(frozen=True)
class Hinge(Objective):
    """J_s = max(0, Δ + s_c − s): two forward passes per sample, the true window x and the corrupt x_c."""

    windows = 2
    targets = False
    scores = True

    def per_sample(self, per_pass: NDArray[np.float64]) -> NDArray[np.float64]:
        m = self.samples
        return per_pass[:m] + per_pass[m:]

    def window(self, row: int) -> str | None:
        return "x_c" if self.corrupt(row) else "x"

    def column(self) -> tuple[str, str] | None:
        return (_("window"), "name")

    def label(self, row: int) -> str:
        return f"{self.sample(row) + 1} {self.window(row)}"

    def pass_label(self, row: int) -> str:
        return f"s{self.sample(row) + 1} {self.window(row)}"

    def formula(self) -> str:
        return "J_s = max(0, Δ + s_c − s)"

    def run_note(self) -> str | None:
        return _(
            "max_margin: two forward passes per sample, the true window x and the corrupt window "
            "x_c (suffixes :k and :kc); J = max(0, Δ + s_c − s) back-propagates −1 through x and "
            "+1 through x_c while the margin is violated, 0 once it is met"
        )

    def matrix_note(self) -> str | None:
        return _(
            "max_margin (the CS224n-style notes): each sample has two columns, its true window x and its "
            "corrupt window x_c, so the matrices below have 2m columns: the m true windows, then the m "
            "corrupt ones; L is the hinge J_s = max(0, Δ + s_c − s) and there is no Y"
        )

    def index_note(self) -> str | None:
        return _(
            "max_margin: two passes per sample, the true window x and the corrupt window x_c (bptrace's "
            ":k and :kc); a sample's gradient adds its two windows' products"
        )

    def names_note(self) -> str | None:
        return _("max_margin: :k is sample k's true window x, :kc its corrupt window x_c")

    def explain_notes(self) -> list[str]:
        return [
            _(
                "max_margin: two forward passes per sample, the window x (score s) and the corrupt window x_c "
                "(score s_c); ':kc' names the corrupt pass of sample k"
            ),
            _("a sample that already meets the margin (Δ + s_c − s ≤ 0) has E_s = 0 and sends no gradient"),
        ]

    def zero_note(self, met: bool) -> str:
        if met:
            return _("margin met (s − s_c ≥ Δ): J = 0, so every gradient of this sample is 0")
        return _("margin violated: ∂J/∂s = −1, ∂J/∂s_c = +1")

    def output_gradient_note(self, row: int, value: float, at_corner: bool) -> str:
        if value == 0:
            return _("0: the margin is met (J = 0)") if not at_corner else _("0 at the hinge's corner")
        return "∂J/∂s_c = +1" if self.corrupt(row) else "∂J/∂s = −1"

    def corner_note(self) -> str:
        return _("(Δ + s_c − s = 0: the hinge is not differentiable here; {tool} takes 0)").format(tool="bptrace")


def objective(loss: str, samples: int, margin: float = 1.0) -> Objective:
    """The objective of a scenario's `loss:` over `samples` samples (Δ = `margin` for the hinge)."""
    kind = Hinge if loss in SCORE_LOSSES else Objective
    return kind(loss, samples, margin)
