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
  table                    which table run, train and explain show for it ("loss terms" or "scores")

What the engine, the fast training paths and the verification ask it (engine/, verify/ never test the
loss's name either):

  terms(out, t), output_gradient(out, t), cancels(activation)
                           E_s's terms and ∂E_s/∂out of every pass (numpy), whether δ = out − t
  argument(out), corner(out), kink_name, kink_note()
                           its own kink (the hinge's corner Δ + s_c − s = 0) and the convention taken there
  second_rows(...), gather(...), total_inplace(...), gradient_inplace(...)
                           the numpy runner's per-sample data and in-place loss and gradient
  kernel_*                 the generated scalar kernel's source for the loss, its gradient and the hinge
  sympy_windows(), sympy_terms(...), sympy_values(...), inactive(...), layered
                           its SymPy form (for verify's templates, local factors and 30-digit terms)

numpy, SymPy and mpmath are not imported at module level; the methods import what they need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from bptrace import functions as network
from bptrace.functions import SCORE_LOSSES, LossScratch
from bptrace.i18n import N_, _
from bptrace.message import Message

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

# A factory of SymPy symbols: symbols(group name, count) -> that many new symbols (verify's templates)
Symbols = Callable[[str, int], list[Any]]
Table = Literal["loss terms", "scores"]


@dataclass(frozen=True)
class Objective:
    """One loss of outputs against targets: one forward pass per sample (the default kind)."""

    name: str  # the scenario's `loss:`
    samples: int  # m
    margin: float = 1.0  # the hinge's Δ (unused by a per-output loss)

    windows = 1  # forward passes per sample
    targets = True  # outputs are compared with targets t
    scores = False  # each window is scored by the one output neuron instead

    # the table run (its loss), train (its outputs) and explain (its ∂E/∂out step) show for it: one row per
    # output term against its target ("loss terms"), or one row per sample with each window's score ("scores")
    table: ClassVar[Table] = "loss terms"
    kink_name: ClassVar[str | None] = None  # the name its own kink is reported under (None: it has none)
    layered = True  # E_s is a sum of one pass's per-output terms (verify's layer-by-layer route applies)

    # ---- the engine's arithmetic (numpy) ----
    def terms(
        self, out: NDArray[np.float64], targets: NDArray[np.float64], names: list[str] | None = None
    ) -> NDArray[np.float64]:
        """Each sample's terms of E_s (E_s is a row's sum): (passes, n) -> (samples, k). `out` may carry
        leading axes (the verification's stacked forward passes)."""
        if out.ndim == 2:
            return network.loss_terms(self.name, out, targets, names)
        import numpy as np

        flat = out.reshape(-1, out.shape[-1])
        t = np.tile(targets, (flat.shape[0] // targets.shape[0], 1))
        return network.loss_terms(self.name, flat, t, names).reshape(out.shape)

    def output_gradient(self, out: NDArray[np.float64], targets: NDArray[np.float64]) -> NDArray[np.float64]:
        """∂E_s/∂out of every pass and output, the engine's closed form."""
        return network.loss_gradient(self.name, out, targets)

    def argument(self, out: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """The argument of its own kink per sample (the hinge's Δ + s_c − s), None where it has none; `out`
        may carry leading axes."""
        return None

    def corner(self, out: NDArray[np.float64]) -> NDArray[np.bool_] | None:
        """Where it is not differentiable itself, per pass and output (None: nowhere). There the engine
        takes ∂E_s/∂out = 0 (corner_derivative)."""
        return None

    corner_derivative = 0.0  # ∂E_s/∂out the engine takes at its corner (SymPy's Heaviside(x, 0))

    def cancels(self, activation: str) -> bool:
        """Whether the loss cancels the output activation's f′ (δ = out − t: sigmoid + bce, ...)."""
        return network.cancels_derivative(activation, self.name)

    def kink_note(self) -> str:
        """The point of its kink and the convention taken there."""
        return ""

    def kink_place(self) -> str:
        """What crossing its kink means, for a finite difference's reason."""
        return ""

    # ---- the numpy training runner ----
    def second_rows(self, targets: NDArray[np.float64], corrupt: NDArray[np.float64] | None) -> NDArray[np.float64]:
        """A sample's data besides its inputs: its targets (the hinge: its corrupt window)."""
        return targets

    def gather(
        self,
        idx: NDArray[np.intp],
        inputs: NDArray[np.float64],
        second: NDArray[np.float64],
        rows: NDArray[np.float64],
        targets: NDArray[np.float64],
    ) -> None:
        """A mini-batch's pass rows and targets, taken from the samples `idx` into `rows` and `targets`."""
        import numpy as np

        np.take(inputs, idx, axis=0, out=rows[: len(idx)])
        np.take(second, idx, axis=0, out=targets)

    def total_inplace(self, a: NDArray[np.float64], t: NDArray[np.float64], buf: Scratch, samples: int) -> float:
        """Σ over the batch's samples of E_s (engine.batch_loss before its reduction), in place."""
        return network.loss(self.name).total_inplace(a, t, buf)

    def gradient_inplace(
        self, a: NDArray[np.float64], t: NDArray[np.float64], g: NDArray[np.float64], buf: Scratch, samples: int
    ) -> None:
        """g = ∂E_s/∂out of every pass, in place (the same values as output_gradient)."""
        network.loss(self.name).grad_inplace(a, t, g, buf)

    # ---- the generated scalar kernel (engine/kernel.py's names: aL_j outputs, t_j targets) ----
    def kernel_windows(self) -> tuple[str, ...]:
        """The suffix of each pass's variable names (a corrupt window's pass: c)."""
        return ("",)

    def kernel_second(self, inputs: int, outputs: int) -> list[str]:
        """The names DATA's second item unpacks to: the targets (the hinge: the corrupt window's inputs)."""
        return [f"t_{j}" for j in range(outputs)]

    def kernel_prelude(self, L: int) -> list[str]:
        """Lines after the forward passes, before the loss (the hinge's h)."""
        return []

    def kernel_sample_terms(self, L: int, outputs: int) -> list[str]:
        """E_s's terms as expressions (E_s is their sum): the sample's per-output terms (network.loss_terms)."""
        entry = network.loss(self.name)
        return [f"({entry.kernel_term_expr(f't_{j}', f'a{L}_{j}', outputs)})" for j in range(outputs)]

    def kernel_output_gradient(self, L: int, window: str, outputs: int) -> list[str]:
        """gL_j = ∂E_s/∂out_j of the outputs of one pass."""
        entry = network.loss(self.name)
        return [f"g{L}_{j} = " + entry.kernel_gradient_expr(f"t_{j}", f"a{L}_{j}", outputs) for j in range(outputs)]

    def kernel_guard(self) -> str | None:
        """A condition under which the sample back-propagates at all (None: always)."""
        return None

    # ---- its SymPy form (verify's templates, local factors and 30-digit terms) ----
    @property
    def form(self) -> Objective:
        """The objective as far as its SymPy form depends on it (its kind and loss; not m, nor Δ, which is a
        symbol): the key under which verify caches what it derives from it."""
        return type(self)(self.name, 1, 1.0)

    def sympy_windows(self) -> tuple[str, ...]:
        """The prefix of each pass's symbol groups, in rows_of order ('' where there is one pass)."""
        return ("",)

    def sympy_terms(
        self, outs: Sequence[Sequence[Any]], symbols: Symbols, outputs: int, piece: bool = False
    ) -> list[Any]:
        """E_s's terms in SymPy from each pass's outputs `outs` (all of them, or only θ's output neuron with
        the other terms one constant K); `symbols` makes its own symbols (t, K; the hinge's Δ).
        piece: the templates' form, the piece E_s is on wherever the sample is not `inactive` (the hinge's
        Δ + s_c − s; a loss of the outputs is one piece)."""
        first = outs[0]
        t = symbols("t", len(first))
        terms = [network.sympy_loss_term(self.name, o, tk, outputs) for o, tk in zip(first, t)]
        if len(first) < outputs:
            terms.append(symbols("K", 1)[0])  # the other outputs' terms: constant in θ
        return terms

    def sympy_values(
        self,
        sample: int,
        outs: Sequence[Sequence[Any]],
        engine_outs: NDArray[np.float64] | None,
        same_side: Callable[[Any, float], Any],
    ) -> dict[str, list[Any]]:
        """The numbers of its own symbols besides t and K (the hinge's Δ, and its 30-digit argument as
        `side`, on the engine's side of the corner where the engine's float64 outputs are given) for 0-based
        `sample`, from the 30-digit outputs of every pass `outs`."""
        return {}

    def inactive(self, values: dict[str, list[Any]]) -> bool:
        """Whether the sample sits on a constant piece (its gradient is exactly 0; the hinge's met margin)."""
        return False

    def sympy_symbols(self, neurons: Sequence[str]) -> tuple[list[list[Any]], Symbols]:
        """Named symbols for its SymPy form in local factors: each pass's outputs (out_o1, ...) and a factory
        of its own (t_o1, ...)."""
        import sympy as sp

        def symbols(name: str, count: int) -> list[Any]:
            return [sp.Symbol(f"{name}_{x}") for x in neurons[:count]]

        return [[sp.Symbol(f"out_{x}") for x in neurons]], symbols

    def sympy_term_derivation(self, outputs: int) -> tuple[Any, Any]:
        """(one term of E_s, the variable it is differentiated by) as explain shows it."""
        import sympy as sp

        out, t = sp.symbols("out t")
        return network.sympy_loss_term(self.name, out, t, outputs), out

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

    table: ClassVar[Table] = "scores"
    kink_name: ClassVar[str | None] = "max_margin"
    layered = False
    KINK_NOTE = Message(N_("the max-margin hinge at its corner (Δ + s_c − s = 0): taken as 0"))
    KINK_PLACE = Message(N_("the max-margin hinge's corner (Δ + s_c − s = 0)"))

    def terms(
        self, out: NDArray[np.float64], targets: NDArray[np.float64], names: list[str] | None = None
    ) -> NDArray[np.float64]:
        import numpy as np

        return np.maximum(0.0, self.argument(out))[..., None]  # J_s = max(0, Δ + s_c − s)

    def output_gradient(self, out: NDArray[np.float64], targets: NDArray[np.float64]) -> NDArray[np.float64]:
        # ∂J/∂s = −1 and ∂J/∂s_c = +1 while the margin is violated, else 0 (at the corner, argument
        # exactly 0, the engine takes 0, like relu′(0) = 0)
        import numpy as np

        active = (self.argument(out) > 0).astype(float)
        return np.concatenate([-active, active])[:, None]

    def argument(self, out: NDArray[np.float64]) -> NDArray[np.float64]:
        # Δ + s(x_c) − s(x) per sample: the true windows' rows first, then the corrupt ones
        m = self.samples
        return self.margin + out[..., m:, 0] - out[..., :m, 0]

    def corner(self, out: NDArray[np.float64]) -> NDArray[np.bool_]:
        import numpy as np

        at = self.argument(out) == 0
        return np.concatenate([at, at])[:, None]

    def cancels(self, activation: str) -> bool:
        return False

    def kink_note(self) -> str:
        return self.KINK_NOTE

    def kink_place(self) -> str:
        return self.KINK_PLACE

    def second_rows(self, targets: NDArray[np.float64], corrupt: NDArray[np.float64] | None) -> NDArray[np.float64]:
        assert corrupt is not None  # the scenario reader requires each sample's corrupt window
        return corrupt

    def gather(
        self,
        idx: NDArray[np.intp],
        inputs: NDArray[np.float64],
        second: NDArray[np.float64],
        rows: NDArray[np.float64],
        targets: NDArray[np.float64],
    ) -> None:
        import numpy as np

        b = len(idx)
        np.take(inputs, idx, axis=0, out=rows[:b])
        np.take(second, idx, axis=0, out=rows[b:])  # the corrupt windows' passes follow the true ones

    def _h(self, a: NDArray[np.float64], buf: Scratch, samples: int) -> NDArray[np.float64]:
        """h = Δ + s(x_c) − s(x) for each sample, into buf.H."""
        import numpy as np

        h = buf.H
        np.subtract(a[samples:, 0], a[:samples, 0], out=h)
        np.add(h, self.margin, out=h)
        return h

    def total_inplace(self, a: NDArray[np.float64], t: NDArray[np.float64], buf: Scratch, samples: int) -> float:
        import numpy as np

        return float(np.maximum(self._h(a, buf, samples), 0.0, out=buf.H2).sum())  # Σ_s max(0, h_s)

    def gradient_inplace(
        self, a: NDArray[np.float64], t: NDArray[np.float64], g: NDArray[np.float64], buf: Scratch, samples: int
    ) -> None:
        import numpy as np

        # ∂J/∂s = −1 and ∂J/∂s_c = +1 where h > 0, else 0
        h = self._h(a, buf, samples)
        np.greater(h, 0.0, out=g[samples:, 0])
        np.negative(g[samples:, 0], out=g[:samples, 0])

    def kernel_windows(self) -> tuple[str, ...]:
        return ("", "c")

    def kernel_second(self, inputs: int, outputs: int) -> list[str]:
        return [f"a0_{c}c" for c in range(inputs)]

    def kernel_prelude(self, L: int) -> list[str]:
        return [f"h = {float(self.margin)!r} + a{L}_0c - a{L}_0"]  # h = Δ + s(x_c) − s(x)

    def kernel_sample_terms(self, L: int, outputs: int) -> list[str]:
        return ["(h if h > 0.0 else 0.0)"]

    def kernel_output_gradient(self, L: int, window: str, outputs: int) -> list[str]:
        return [f"g{L}_0{window} = {'1.0' if window else '-1.0'}"]  # ∂J/∂s_c = +1, ∂J/∂s = −1 (h > 0)

    def kernel_guard(self) -> str | None:
        return "h > 0.0"

    def sympy_windows(self) -> tuple[str, ...]:
        return ("x:", "xc:")

    def sympy_terms(
        self, outs: Sequence[Sequence[Any]], symbols: Symbols, outputs: int, piece: bool = False
    ) -> list[Any]:
        import sympy as sp

        margin = symbols("Delta", 1)[0]
        arg = margin + outs[1][0] - outs[0][0]  # Δ + s_c − s: the scores of the corrupt and the true window
        if piece:  # while the margin is violated (not `inactive`: the side sympy_values takes is > 0)
            return [arg]
        return [arg * sp.Heaviside(arg, 0)]  # max(0, a) = a·Heaviside(a, 0): h′(0) = 0 at the corner

    def sympy_values(
        self,
        sample: int,
        outs: Sequence[Sequence[Any]],
        engine_outs: NDArray[np.float64] | None,
        same_side: Callable[[Any, float], Any],
    ) -> dict[str, list[Any]]:
        import mpmath

        m = self.samples
        margin = mpmath.mpf(float(self.margin))
        arg = margin + outs[m + sample][0] - outs[sample][0]
        if engine_outs is not None:
            arg = same_side(arg, float(self.margin) + float(engine_outs[m + sample, 0]) - float(engine_outs[sample, 0]))
        return {"Delta": [margin], "side": [arg]}

    def inactive(self, values: dict[str, list[Any]]) -> bool:
        return not values["side"][0] > 0  # J_s = 0: the margin is met (or at the corner)

    def sympy_symbols(self, neurons: Sequence[str]) -> tuple[list[list[Any]], Symbols]:
        import sympy as sp

        def symbols(name: str, count: int) -> list[Any]:
            return [sp.Symbol(name)]

        return [[sp.Symbol("s")], [sp.Symbol("s_c")]], symbols

    def sympy_term_derivation(self, outputs: int) -> tuple[Any, Any]:
        outs, symbols = self.sympy_symbols(["s"])
        return self.sympy_terms(outs, symbols, 1)[0], outs[0][0]

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


class Scratch(LossScratch, Protocol):
    """The numpy runner's scratch arrays: the loss's (functions.LossScratch) and the hinge's h per sample."""

    H: NDArray[np.float64]
    H2: NDArray[np.float64]


def objective(loss: str, samples: int, margin: float = 1.0) -> Objective:
    """The objective of a scenario's `loss:` over `samples` samples (Δ = `margin` for the hinge)."""
    kind = Hinge if loss in SCORE_LOSSES else Objective
    return kind(loss, samples, margin)
