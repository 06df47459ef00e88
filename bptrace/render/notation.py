"""Trace -> the same training step in two textbook notations, as blocks (and as JSON-ready data).

matrix  Andrew Ng's vectorized notation (Deep Learning course, week 3): one column per sample, A[0] = X,
            Z[l] = W[l]·A[l−1] + b[l],  A[l] = g[l](Z[l]),
            dZ[L] = A[L] − Y (when the loss cancels g′) or dA[L] ⊙ g[L]′(Z[L]),
            dZ[l] = W[l+1]ᵀ·dZ[l+1] ⊙ g[l]′(Z[l]),
            dW[l] = dZ[l]·A[l−1]ᵀ/m,  db[l] = np.sum(dZ[l], axis=1, keepdims=True)/m,
            W[l] := W[l] − α·dW[l].
index   the general formula of "Backpropagation in Neural Networks" (Towards Data Science), one number at
        a time with 1-based indices:
            δ⁽ᴸ⁾ᵢ = ∂E/∂a⁽ᴸ⁾ᵢ·f′(z⁽ᴸ⁾ᵢ),  δ⁽ˡ⁾ᵢ = (Σₖ W⁽ˡ⁺¹⁾ₖᵢ δ⁽ˡ⁺¹⁾ₖ)·f′(z⁽ˡ⁾ᵢ),
            ∂E/∂W⁽ˡ⁾ᵢⱼ = δ⁽ˡ⁾ᵢ·a⁽ˡ⁻¹⁾ⱼ,  ∂E/∂b⁽ˡ⁾ᵢ = δ⁽ˡ⁾ᵢ.

Nothing here computes mathematics: every number is read from the Trace. Matrices are the trace's
per-sample arrays transposed (bptrace stores one row per sample; Ng writes one column per sample), and a
product such as W[l+1]ᵀ·dZ[l+1] is shown with the value the trace holds for it (∂E_s/∂out of layer l).
bptrace's δ is ∂E_s/∂net for each sample s; Ng's dZ for the batch cost J = (1/m)·Σ L is the same matrix,
because his 1/m is written in dW and db. With reduction "sum" there is no 1/m. With an L2 penalty dW gains
(λ/m)·W[l] (Ng's regularized dW). With the max-margin loss (the CS224n-style notes) every sample has two
forward passes, its true window x and its corrupt window x_c: they are two columns (matrix) or two rows (index).
See docs/notation.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bptrace import functions
from bptrace.engine import factors
from bptrace.fmt import DEFAULT_DIGITS, num
from bptrace.formula import (
    COMMA,
    DOT,
    EQ,
    MINUS,
    NUMBER_TIMES,
    PLUS,
    SUM,
    THEN,
    TIMES,
    Apply,
    Const,
    Deriv,
    Filled,
    Frac,
    Indexed,
    Lines,
    Ng,
    Node,
    Num,
    Op,
    Paren,
    Pow,
    Row,
    Space,
    Sym,
    Text,
    eq,
    join,
    sentence,
    unicode,
)
from bptrace.functions import cancels_derivative
from bptrace.i18n import N_, _
from bptrace.render.layout import DEFAULT_ROWS, MAX_TERMS, Block, Column, Grid, Para

if TYPE_CHECKING:
    import numpy as np

    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Layer

NOTATIONS = ("matrix", "index")
MAX_COLS = 8  # matrix columns shown before the rest are summarised (the first ones, "…", the last)
CUT_HINT = N_("use --rows N, --layer N or --format json")

_SUP = str.maketrans("0123456789+-=()", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾")
_SUB = str.maketrans("0123456789+-=()", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎")


def notation_blocks(
    trace: Trace, notation: str, digits: int = DEFAULT_DIGITS, rows: int | None = DEFAULT_ROWS, layer: int | None = None
) -> list[Block]:
    """The step (forward pass, loss, backward pass, gradients, updates) in `notation` ("matrix" or "index").

    rows limits the rows of each table (a caption says what was cut) and layer keeps one layer only, as in
    TraceLayout; matrices wider than MAX_COLS show their first and last columns around "…". rows=None
    shows everything (for programs; the command line always passes a limit).
    """
    if notation == "matrix":
        return MatrixLayout(trace, digits, rows, layer).blocks()
    if notation == "index":
        return IndexLayout(trace, digits, rows, layer).blocks()
    raise ValueError(f"unknown notation {notation!r}; choose one of {', '.join(NOTATIONS)} (or scalar)")


def notation_data(trace: Trace, notation: str) -> dict[str, Any]:
    """The same numbers as notation_blocks, as JSON-ready data (exact floats; lists of lists for matrices)."""
    if notation == "matrix":
        return _matrix_data(trace)
    if notation == "index":
        return _index_data(trace)
    raise ValueError(f"unknown notation {notation!r}; choose one of {', '.join(NOTATIONS)}")


# ---------------------------------------------------------------------------------------------------
# Symbols


def sup(text: object) -> str:
    """Superscript digits and brackets: sup('(2)') -> '⁽²⁾'."""
    return str(text).translate(_SUP)


def sub(*indices: int) -> str:
    """1-based indices as subscripts: sub(1, 2) -> '₁₂'; with an index above 9 they are separated: '₁₂,₃'."""
    parts = [str(i).translate(_SUB) for i in indices]
    return ("," if any(i > 9 for i in indices) else "").join(parts)


def layer_sup(index: int) -> str:
    """⁽ˡ⁾ for layer `index`."""
    return sup(f"({index})")


def shape_tree(symbolic: tuple[Node, Node], numeric: tuple[int, ...]) -> Row:
    """(n[1], m) = (4, 4) as a formula tree: a shape in Ng's symbols and in numbers."""
    rows, cols = (Const(str(k)) for k in numeric[:2])
    return eq(Paren(Row.of(symbolic[0], COMMA, symbolic[1])), Paren(Row.of(rows, COMMA, cols)))


# ---------------------------------------------------------------------------------------------------
# Matrices assembled from the trace (transposes and reshapes only)


class _Matrices:
    """Ng's matrices of one layer, each the trace's own numbers laid out one column per sample."""

    def __init__(self, trace: Trace, index: int) -> None:
        s = trace.scenario
        layer = s.layers[index - 1]
        lt = trace.layers[index - 1]
        self.layer = layer
        self.index = index
        self.W = layer.weights  # (n[l], n[l−1]), row = neuron, as Ng's W
        self.b = _bias_column(layer, layer.biases)  # (n[l], 1), (1, 1) shared, or None
        self.A_prev = trace.activations(index - 1).T
        self.Z = lt.net.T  # (n[l], m)
        self.A = lt.out.T
        self.dA = lt.dE_dout.T  # ∂L/∂A per sample; hidden: the trace's W[l+1]ᵀ·dZ[l+1]
        self.g_prime = lt.dout_dnet.T
        self.dZ = lt.delta.T  # column s = bptrace's δ of sample s
        self.dW = lt.grad_weights
        self.db = _bias_column(layer, lt.grad_biases)
        self.W_new = lt.new_weights
        self.b_new = _bias_column(layer, lt.new_biases)


def _bias_column(layer: Layer, values: np.ndarray) -> np.ndarray | None:
    """Biases as Ng's column b[l] of shape (n[l], 1); a shared bias is one number, (1, 1); none is None."""
    if layer.bias_mode == "none":
        return None
    return values.reshape(-1, 1)


def _dz_rule(trace: Trace, index: int) -> str:
    """Which rule gives dZ of this layer: "A - Y", "dA * g'(Z)" or "W[l+1]T.dZ[l+1] * g'(Z)"."""
    s = trace.scenario
    if index < len(s.layers):
        return "W[l+1]T.dZ[l+1] * g'(Z)"
    if cancels_derivative(s.output_layer.activation, s.loss):
        return "A - Y"
    return "dA * g'(Z)"


def _mat(a: np.ndarray | None) -> dict[str, Any] | None:
    if a is None:
        return None
    return {"shape": [int(a.shape[0]), int(a.shape[1])], "values": [[float(v) for v in row] for row in a]}


def pass_labels(trace: Trace) -> list[str]:
    """The label of each forward pass, in the trace's row order: 's1', ... or (max_margin) 's1 x', ... 's1 x_c'."""
    objective = trace.scenario.objective
    return [objective.pass_label(row) for row in range(objective.passes)]


def _matrix_data(trace: Trace) -> dict[str, Any]:
    s = trace.scenario
    m = s.samples
    data: dict[str, Any] = {
        "notation": "matrix",
        "convention": "Ng (Deep Learning course): one column per sample (max_margin: per window, x then x_c); "
        "A[0] = X; '.' matrix product, '*' element-wise",
        "m": m,
        "columns": pass_labels(trace),
        "reduction": s.reduction,
        "scale": 1.0 / m if s.reduction == "mean" else 1.0,
        "l2": s.l2,
        "learning_rate": s.learning_rate,
        "update_biases": s.update_biases,
        "X": _mat(s.all_inputs().T),
        "Y": _mat(s.targets.T) if s.objective.targets else None,
        "cost": {"J": trace.loss, "samples": [float(v) for v in trace.sample_losses], "penalty": trace.penalty},
        "through_updated_weights": trace.through_updated_weights,
        "layers": [],
    }
    for layer in s.layers:
        mx = _Matrices(trace, layer.index)
        data["layers"].append(
            {
                "layer": layer.index,
                "activation": layer.activation,
                "neurons": list(layer.neurons),
                "bias_mode": layer.bias_mode,
                "W": _mat(mx.W),
                "b": _mat(mx.b),
                "Z": _mat(mx.Z),
                "A": _mat(mx.A),
                "dA": _mat(mx.dA),
                "g_prime": _mat(mx.g_prime),
                "dZ": _mat(mx.dZ),
                "dZ_rule": _dz_rule(trace, layer.index),
                "dW": _mat(mx.dW),
                "dW_rule": ("dZ.A_prevT" + ("/m" if s.reduction == "mean" else "") + (" + (l2/m)*W" if s.l2 else "")),
                "db": _mat(mx.db),
                "db_rule": _db_rule(layer.bias_mode, s.reduction),
                "W_new": _mat(mx.W_new),
                "b_new": _mat(mx.b_new),
            }
        )
    return data


def _db_rule(bias_mode: str, reduction: str) -> str | None:
    """How db is made from dZ, with the same 1/m its values carry (as dW_rule says it)."""
    scale = "/m" if reduction == "mean" else ""
    return {
        "neuron": f"sum(dZ, axis=1, keepdims=True){scale}",
        "shared": f"sum(dZ){scale} (over every column and neuron)",
        "none": None,
    }[bias_mode]


# ---------------------------------------------------------------------------------------------------
# Shared layout helpers


class _Layout:
    def __init__(self, trace: Trace, digits: int, rows: int | None, layer: int | None) -> None:
        self.trace = trace
        self.s = trace.scenario
        self.m = trace.scenario.samples
        self.objective = trace.scenario.objective  # the passes: one per sample, or x then x_c of each
        self.windowed = self.objective.windows > 1  # several passes per sample: a sample's columns add up
        self.scored = self.objective.scores  # one score per window (the hinge), no targets
        self.L = len(trace.scenario.layers)
        self.digits = digits
        self.rows = rows
        self.layer = layer

    def n(self, x: float) -> str:
        return num(x, self.digits)

    def p(self, x: float) -> str:
        """A number inside a formula: negative numbers in parentheses."""
        text = self.n(x)
        return f"({text})" if text.startswith("-") else text

    def q(self, x: float) -> Num:
        """A number inside a formula tree: negative numbers in parentheses."""
        return Num(float(x), self.digits)

    def shown(self) -> list[int]:
        return [self.layer] if self.layer is not None else list(range(1, self.L + 1))

    def mean_word(self) -> str:
        return _("mean") if self.s.reduction == "mean" else _("sum")

    def reading_order(self) -> list[int]:
        """Rows of the trace's arrays as a reader takes them: each sample, or (max_margin) x then x_c of each."""
        return self.objective.reading_order()

    def suffix(self, row: int) -> str:
        """bptrace's sample suffix for a row: ':2', or (max_margin) ':2' and ':2c'; nothing for one sample."""
        return self.objective.suffix(row)


def _pick(n: int, limit: int | None) -> tuple[list[int | None], int]:
    """Indices to show of n (None marks the cut: the first ones, then the last), and how many are cut."""
    if limit is None or n <= limit:
        return list(range(n)), 0
    if limit <= 1:
        return [0, None], n - 1
    head = limit - 1
    return [*range(head), None, n - 1], n - limit


# ---------------------------------------------------------------------------------------------------
# Matrix notation (Ng)


class MatrixLayout(_Layout):
    """Blocks of the step in Ng's vectorized notation: every matrix with its shape and values."""

    def blocks(self) -> list[Block]:
        """Forward propagation, cost, backward propagation (dZ, dW, db per layer), update."""
        out: list[Block] = self.intro()
        out += self.forward()
        if self.layer is None or self.layer == self.L:
            out += self.cost()
        out += self.backward()
        out += self.update()
        return out

    # ---- helpers ----
    def ng_n(self, index: int) -> Ng:
        return Ng("n", index)

    def cols(self) -> Node:
        """The symbol for the number of columns: m, or 2m with two windows per sample."""
        return Const("2m") if self.windowed else Sym("m")

    def name_of(self, index: int) -> Node:
        """A[0] is X, Ng's name for the inputs."""
        return Sym("X") if index == 0 else Ng("A", index)

    def grid(
        self,
        title: str | Node,
        values: np.ndarray,
        row_labels: list[str],
        col_labels: list[str],
        corner: str | None = None,
        extra: tuple[str, np.ndarray | None] | None = None,
    ) -> Grid:
        """A matrix as a table: one labelled row per matrix row, one number column per matrix column.

        `extra` appends one more column (the bias b[l] beside W[l]). Rows beyond `rows` and columns beyond
        MAX_COLS are summarised: the first ones, a "…" row or column, and the last.
        """
        corner = _("neuron") if corner is None else corner
        n_rows, n_cols = values.shape
        r_idx, r_cut = _pick(n_rows, self.rows)
        c_idx, c_cut = _pick(n_cols, MAX_COLS if self.rows is not None else None)  # rows=None: everything
        columns = [Column(corner, "name")] + [Column(col_labels[j] if j is not None else "…", "num") for j in c_idx]
        if extra is not None:
            columns.append(Column(extra[0], "num"))
        table = Grid(title, columns)
        for i in r_idx:
            if i is None:
                cells = ["…"] * len(columns)
            else:
                cells = [row_labels[i]] + [self.n(values[i, j]) if j is not None else "…" for j in c_idx]
                if extra is not None:
                    e = extra[1]
                    cells.append("" if e is None else self.n(e[min(i, e.shape[0] - 1), 0]))
            table.rows.append(cells)
            table.styles.append("dim" if i is None else "")
        rows_cut = _("{n} of {total} rows").format(n=r_cut, total=n_rows)
        cols_cut = _("{n} of {total} columns").format(n=c_cut, total=n_cols)
        if r_cut and c_cut:
            table.caption = _("… {rows} and {columns} not shown ({hint})").format(
                rows=rows_cut, columns=cols_cut, hint=_(CUT_HINT)
            )
        elif r_cut or c_cut:
            table.caption = _("… {cut} not shown ({hint})").format(
                cut=rows_cut if r_cut else cols_cut, hint=_(CUT_HINT)
            )
        return table

    def samples_grid(self, title: str | Node, values: np.ndarray, index: int) -> Grid:
        """An (n[l], m) matrix: rows are the neurons of layer `index` (0: the inputs), columns the samples."""
        names = list(self.s.layer_names(index))
        return self.grid(title, values, names, pass_labels(self.trace), _("neuron \\ sample"))

    def shape_nm(self, index: int, values: np.ndarray) -> Node:
        return shape_tree((self.ng_n(index), self.cols()), values.shape)

    def over_m(self) -> list[Node]:
        """/m after a sum over the samples when the reduction is the mean."""
        return [Op("/"), Sym("m")] if self.s.reduction == "mean" else []

    def l2_term(self, index: int) -> list[Node]:
        """+ (λ/m)·W[l], the L2 penalty's gradient."""
        return [PLUS, Frac(Sym("lambda"), Sym("m"), grouped=True), DOT, Ng("W", index)] if self.s.l2 else []

    # ---- sections ----
    def intro(self) -> list[Block]:
        s = self.s
        m = self.m
        if s.reduction == "mean":
            cost = _(
                "J = (1/m)·Σₛ L(a, y) with m = {m}; dZ holds each sample's own ∂L/∂Z (bptrace's δ = ∂E_s/∂net, one "
                "column per sample), and the 1/m of the mean is written in dW and db"
            ).format(m=m)
        else:
            cost = _(
                "J = Σₛ L(a, y) over the m = {m} samples (reduction: sum), so dW and db have no 1/m; dZ holds each "
                "sample's own ∂L/∂Z (bptrace's δ = ∂E_s/∂net, one column per sample)"
            ).format(m=m)
        if s.l2:
            cost += _(
                "; the L2 penalty (λ/(2m))·Σ W[l]² (every entry of every W), λ = {l2}, adds (λ/m)·W[l] to each "
                "dW[l] (never to db)"
            ).format(l2=self.n(s.l2))
        out: list[Block] = [
            Para(
                _(
                    "Matrix notation (Andrew Ng, Deep Learning course): each sample is one column, X = A[0] is "
                    "(n[0], m), and layer l (1 = the first after the inputs) has n[l] neurons"
                ),
                "bold",
            ),
            Para(
                _(
                    "Z[l] = W[l]·A[l−1] + b[l], A[l] = g[l](Z[l]); · is the matrix product, ⊙ the element-wise "
                    "product; shapes are written (rows, columns), first in symbols, then in numbers"
                )
            ),
            Para(cost),
        ]
        note = self.objective.matrix_note()
        if note:
            out.append(Para(note))
        return out

    def shape(self, title: Node | str, shape: Node) -> Row:
        """'W[1], shape (n[1], n[0]) = (3, 2)': a matrix's title with its shape, a formula tree."""
        return sentence(_("{matrix}, shape {shape}"), matrix=title, shape=shape)

    def forward(self) -> list[Block]:
        out: list[Block] = [Para(_("Forward propagation"), "bold")]
        first = self.shown()[0]
        a_prev = self.trace.activations(first - 1).T
        if first == 1:
            both = [Row.of(Const("["), Sym("X"), Op(" | "), Sym("X_c"), Const("]"))] if self.windowed else []
            title = self.shape(eq(Sym("X"), Ng("A", 0), *both), self.shape_nm(0, a_prev))
        else:
            out.append(
                Para(
                    _("A[{prev}], the output of layer {prev}, is the input of layer {layer}").format(
                        prev=first - 1, layer=first
                    ),
                    "dim",
                )
            )
            title = self.shape(Ng("A", first - 1), self.shape_nm(first - 1, a_prev))
        out.append(self.samples_grid(title, a_prev, first - 1))
        for index in self.shown():
            mx = _Matrices(self.trace, index)
            layer = mx.layer
            sources = list(self.s.layer_names(index - 1))
            title = self.shape(Ng("W", index), shape_tree((self.ng_n(index), self.ng_n(index - 1)), mx.W.shape))
            extra = None
            if mx.b is None:
                out.append(
                    Para(
                        _("layer {layer} has no bias: {rule}").format(
                            layer=index, rule=f"Z[{index}] = W[{index}]·{unicode(self.name_of(index - 1))}"
                        ),
                        "dim",
                    )
                )
            else:
                bias_shape = shape_tree((self.ng_n(index), Const("1")), (layer.size, 1))
                title = Row.of(title, Text(_("; ")), self.shape(Ng("b", index), bias_shape))
                extra = (f"b[{index}]", layer.bias_vector().reshape(-1, 1))
                if layer.bias_mode == "shared":
                    out.append(
                        Para(
                            _("{bias} is one bias shared by layer {layer}: {matrix} repeats it in every row").format(
                                bias=layer.bias_names[0], layer=index, matrix=f"b[{index}]"
                            ),
                            "dim",
                        )
                    )
            out.append(self.grid(title, mx.W, list(layer.neurons), sources, extra=extra))
            plus_b = [PLUS, Ng("b", index)] if mx.b is not None else []
            z_rule = eq(Ng("Z", index), Row.of(Ng("W", index), DOT, self.name_of(index - 1), *plus_b))
            out.append(self.samples_grid(self.shape(z_rule, self.shape_nm(index, mx.Z)), mx.Z, index))
            z = Ng("Z", index)
            a_rule = eq(Ng("A", index), Row.of(Ng("g", index), Paren(z)), Apply(layer.activation, (z,)))
            out.append(self.samples_grid(self.shape(a_rule, self.shape_nm(index, mx.A)), mx.A, index))
        return out

    def cost(self) -> list[Block]:
        s = self.s
        L = self.L
        out: list[Block] = [Para(_("Cost"), "bold")]
        if self.scored:
            out.append(
                Para(
                    _(
                        "J_s = max(0, Δ + s_c − s) with Δ = {margin}, s and s_c the two columns of {A} for sample s"
                    ).format(margin=self.n(s.margin), A=f"A[{L}]"),
                    "dim",
                )
            )
            what = _("J_s, the hinge of each sample")
        else:
            Y = s.targets.T
            out.append(self.samples_grid(self.shape(Sym("Y"), self.shape_nm(L, Y)), Y, L))
            what = _("L(a, y), the {loss} loss of each sample").format(loss=s.loss)
        losses = self.trace.sample_losses.reshape(1, -1)
        out.append(
            self.grid(
                self.shape(what, shape_tree((Const("1"), Sym("m")), (1, self.m))),
                losses,
                ["L"],
                [f"s{k + 1}" for k in range(self.m)],
                _("\\ sample"),
            )
        )
        how = "(1/m)·Σₛ L" if s.reduction == "mean" else "Σₛ L"
        if s.l2:
            data_term = self.trace.data_loss
            out.append(
                Para(
                    _("J = {sum} + (λ/(2m))·Σ W[l]² (every entry of every W) = {data} + {penalty} = {J}").format(
                        sum=how, data=self.n(data_term), penalty=self.n(self.trace.penalty), J=self.n(self.trace.loss)
                    )
                )
            )
        else:
            out.append(Para(f"J = {how} = {self.n(self.trace.loss)}"))
        return out

    def backward(self) -> list[Block]:
        out: list[Block] = [Para(_("Backward propagation"), "bold")]
        for index in reversed(self.shown()):
            out += self.dz_blocks(index)
            out += self.dw_blocks(index)
        return out

    def dz_blocks(self, index: int) -> list[Block]:
        s = self.s
        mx = _Matrices(self.trace, index)
        layer = mx.layer
        shape = self.shape_nm(index, mx.dZ)
        out: list[Block] = []
        if index == self.L and cancels_derivative(layer.activation, s.loss):
            why = (
                _(
                    "a {activation} output with the {loss} loss: the loss cancels g′, so {rule} (this holds because "
                    "the targets sum to 1)"
                )
                if layer.activation == "softmax"
                else _("a {activation} output with the {loss} loss: the loss cancels g′, so {rule}")
            ).format(activation=layer.activation, loss=s.loss, rule=f"dZ[{index}] = A[{index}] − Y")
            out.append(Para(why, "dim"))
            out.append(
                self.samples_grid(
                    self.shape(eq(Ng("dZ", index), Row.of(Ng("A", index), MINUS, Sym("Y"))), shape), mx.dZ, index
                )
            )
            return out
        g = f"g[{index}]′(Z[{index}])"
        g_tree = Row.of(Ng("g", index), Op("′"), Paren(Ng("Z", index)))  # g[l]′(Z[l])
        if index == self.L:
            if self.scored:
                out.append(
                    Para(
                        _(
                            "{dA} = ∂J/∂{A}: −1 in a true window's column and +1 in its corrupt window's while the "
                            "margin is violated (J_s > 0), 0 in both once it is met"
                        ).format(dA=f"dA[{index}]", A=f"A[{index}]"),
                        "dim",
                    )
                )
            else:
                out.append(
                    Para(
                        _(
                            "{rule}: the {loss} loss does not cancel {derivative}, so {wrong} would be wrong here"
                        ).format(
                            rule=f"dZ[{index}] = dA[{index}] ⊙ {g}",
                            loss=s.loss,
                            derivative=f"{layer.activation}′",
                            wrong=f"A[{index}] − Y",
                        ),
                        "dim",
                    )
                )
            d_a = eq(Ng("dA", index), Deriv("L", Ng("A", index)))
            out.append(self.samples_grid(self.shape(d_a, self.shape_nm(index, mx.dA)), mx.dA, index))
            rule = Row.of(Ng("dA", index), Op("⊙"), g_tree)
        else:
            w = f"W[{index + 1}]"
            if self.trace.through_updated_weights:
                out.append(
                    Para(
                        _("{W} here is the already updated matrix: the mistake shown for comparison").format(
                            W=f"W[{index + 1}]"
                        ),
                        "bad",
                    )
                )
            out.append(
                Para(
                    _("{rule} is {shapes}, ∂L/∂{A} for each sample; then ⊙ multiplies element by element").format(
                        rule=f"dA[{index}] = {w}ᵀ·dZ[{index + 1}]",
                        shapes=f"(n[{index}], n[{index + 1}])·(n[{index + 1}], {unicode(self.cols())}) "
                        f"= (n[{index}], {unicode(self.cols())})",
                        A=f"A[{index}]",
                    ),
                    "dim",
                )
            )
            back = Row.of(Pow(Ng("W", index + 1), Const("T")), DOT, Ng("dZ", index + 1))  # W[l+1]ᵀ·dZ[l+1]
            out.append(
                self.samples_grid(self.shape(eq(Ng("dA", index), back), self.shape_nm(index, mx.dA)), mx.dA, index)
            )
            rule = Row.of(back, Op("⊙"), g_tree)
        f = layer.function  # its printed derivative, elementwise (⊙) over the matrices
        holes = (
            ("out", Ng("A", index)),
            ("net", Ng("Z", index)),
            ("a", Num(f.value(layer.param), self.digits, paren=False)),
            ("times", Op("⊙")),
        )
        derivative = eq(g_tree, Filled(f.derivative, holes))
        out.append(self.samples_grid(self.shape(derivative, self.shape_nm(index, mx.g_prime)), mx.g_prime, index))
        out.append(self.samples_grid(self.shape(eq(Ng("dZ", index), rule), shape), mx.dZ, index))
        return out

    def dw_blocks(self, index: int) -> list[Block]:
        s = self.s
        mx = _Matrices(self.trace, index)
        layer = mx.layer
        m = self.m
        prev_tree = self.name_of(index - 1)
        prev = unicode(prev_tree)  # in the notes' words
        over_tree = self.over_m()
        over = "/m" if over_tree else ""
        sources = list(self.s.layer_names(index - 1))
        w_shape = shape_tree((self.ng_n(index), self.ng_n(index - 1)), mx.dW.shape)
        d_w = eq(
            Ng("dW", index), Row.of(Ng("dZ", index), DOT, Pow(prev_tree, Const("T")), *over_tree, *self.l2_term(index))
        )
        out: list[Block] = [
            self.grid(
                self.shape(d_w, w_shape),
                mx.dW,
                list(layer.neurons),
                sources,
            )
        ]
        cols = unicode(self.cols())
        note = f"(n[{index}], {cols})·({cols}, n[{index - 1}])" + (f", m = {m}" if over else "")
        if not over and m > 1:
            note += _("; no 1/m: the reduction is sum")
        if s.l2:
            note += _("; λ = {l2}: {term} is the L2 penalty's gradient").format(
                l2=self.n(s.l2), term=f"(λ/m)·W[{index}]"
            )
        if m > 1 or self.windowed:
            factor = "(1/m)·Σₛ" if s.reduction == "mean" else "Σₛ"
            each = (
                _("the outer products of its two windows, x and x_c")
                if self.windowed
                else _("column s of {dZ} times column s of {A}, transposed").format(dZ=f"dZ[{index}]", A=prev)
            )
            template = (
                _("; the batch {dW} equals the {mean} of the per-sample dW plus the L2 term: {rule} ({each})")
                if s.l2
                else _("; the batch {dW} equals the {mean} of the per-sample dW: {rule} ({each})")
            )
            note += template.format(
                dW=f"dW[{index}]",
                mean=self.mean_word(),
                rule=f"{factor} dZ[{index}][:, s]·{prev}[:, s]ᵀ",
                each=each,
            )
        out.append(Para(note, "dim"))
        if mx.db is None:
            out.append(Para(_("layer {layer} has no bias: no {db}").format(layer=index, db=f"db[{index}]"), "dim"))
            return out
        if layer.bias_mode == "shared":
            out.append(
                Para(
                    _(
                        "{bias} is one bias shared by layer {layer}: {rule} sums over the layer's neurons as well "
                        "as over the samples"
                    ).format(bias=layer.bias_names[0], layer=index, rule=f"db[{index}] = np.sum(dZ[{index}]){over}"),
                    "dim",
                )
            )
            title = self.shape(
                eq(Ng("db", index), Row.of(SUM, Ng("dZ", index), *over_tree)),
                shape_tree((Const("1"), Const("1")), (1, 1)),
            )
            labels = [layer.bias_names[0]]
        else:
            out.append(
                Para(
                    _("{rule}: each row of {dZ} summed over the samples, kept as a column").format(
                        rule=f"db[{index}] = np.sum(dZ[{index}], axis=1, keepdims=True){over}", dZ=f"dZ[{index}]"
                    ),
                    "dim",
                )
            )
            title = self.shape(
                eq(Ng("db", index), Row.of(Op("Σₛ"), Text(" "), Ng("dZ", index), *over_tree)),
                shape_tree((self.ng_n(index), Const("1")), (layer.size, 1)),
            )
            labels = list(layer.neurons)
        out.append(self.grid(title, mx.db, labels, [f"db[{index}]"]))
        return out

    def update(self) -> list[Block]:
        s = self.s
        out: list[Block] = [
            Para(
                _("Update (α = η = {eta}; every update uses the matrices before the step)").format(
                    eta=self.n(s.learning_rate)
                ),
                "bold",
            )
        ]
        for index in self.shown():
            mx = _Matrices(self.trace, index)
            layer = mx.layer
            sources = list(self.s.layer_names(index - 1))
            title = self.shape(
                _update(Ng("W", index), Ng("dW", index)),
                shape_tree((self.ng_n(index), self.ng_n(index - 1)), mx.W_new.shape),
            )
            extra = None
            if mx.b_new is not None:
                if s.update_biases:
                    title = Row.of(title, Text(_("; ")), _update(Ng("b", index), Ng("db", index)))
                else:
                    out.append(Para(_("{b} is not updated (update_biases: false)").format(b=f"b[{index}]"), "dim"))
                extra = (f"b[{index}]", _broadcast(mx.b_new, layer.size))
            out.append(self.grid(title, mx.W_new, list(layer.neurons), sources, extra=extra))
        return out


def _update(theta: Node, gradient: Node) -> Row:
    """Ng's update θ := θ − α·dθ (W[1] := W[1] − α·dW[1])."""
    return Row.of(theta, Op(":="), theta, MINUS, Sym("alpha"), DOT, gradient)


def _broadcast(b: np.ndarray, size: int) -> np.ndarray:
    """A (1, 1) shared bias repeated down the layer's rows, for display beside W; (n, 1) unchanged."""
    import numpy as np

    return b if b.shape[0] == size else np.repeat(b, size, axis=0)


# ---------------------------------------------------------------------------------------------------
# Index notation ("Backpropagation in Neural Networks", Towards Data Science)


class IndexLayout(_Layout):
    """Blocks of the step in index notation: every z, a, δ and ∂E/∂W⁽ˡ⁾ᵢⱼ, with bptrace's names alongside."""

    def blocks(self) -> list[Block]:
        """z and a per layer, the loss, δ per layer (from the output down), gradients, updates."""
        out: list[Block] = self.intro()
        for index in self.shown():
            out.append(self.forward(index))
        if self.layer is None or self.layer == self.L:
            out += self.loss()
        for index in reversed(self.shown()):
            out.append(self.deltas(index))
        out.append(self.gradients())
        out.append(self.updates())
        return out

    # ---- symbols ----
    def z(self, index: int, i: int) -> str:
        return f"z{layer_sup(index)}{sub(i + 1)}"

    def a(self, index: int, j: int) -> str:
        return f"a{layer_sup(index)}{sub(j + 1)}"

    def delta(self, index: int, i: int) -> str:
        return f"δ{layer_sup(index)}{sub(i + 1)}"

    def w(self, index: int, i: int, j: int) -> str:
        return f"W{layer_sup(index)}{sub(i + 1, j + 1)}"

    def b(self, index: int, i: int | None) -> str:
        return f"b{layer_sup(index)}" + (sub(i + 1) if i is not None else "")

    # the same symbols as formula trees (formula.Indexed), for the formula cells
    def zt(self, index: int, i: int) -> Indexed:
        return Indexed("z", str(index), (str(i + 1),))

    def at(self, index: int, j: int) -> Indexed:
        return Indexed("a", str(index), (str(j + 1),))

    def deltat(self, index: int, i: int) -> Indexed:
        return Indexed("delta", str(index), (str(i + 1),))

    def wt(self, index: int, i: int, j: int) -> Indexed:
        return Indexed("W", str(index), (str(i + 1), str(j + 1)))

    def bt(self, index: int, i: int | None) -> Indexed:
        return Indexed("b", str(index), (str(i + 1),) if i is not None else ())

    def sample_cols(self) -> list[Column]:
        column = self.objective.column()
        return [Column(*column)] if column else []

    def sample_cell(self, row: int) -> list[str]:
        return [self.objective.label(row)] if self.objective.several else []

    def limited(self, items: list[Any], table: Grid, what: str) -> list[Any]:
        """The items shown; `what` is a marked plural noun (N_("neurons")) for the caption of what was cut."""
        if self.rows is None or len(items) <= self.rows:
            return items
        table.caption = _("… {n} more {what} not shown ({hint})").format(
            n=len(items) - self.rows, what=_(what), hint=_(CUT_HINT)
        )
        return items[: self.rows]

    # ---- sections ----
    def intro(self) -> list[Block]:
        inputs = [f"a⁽⁰⁾{sub(j + 1)} = {x}" for j, x in enumerate(self.s.input_names)]
        if len(inputs) > MAX_TERMS:
            inputs = inputs[: MAX_TERMS - 1] + [_("… {n} more").format(n=len(inputs) - MAX_TERMS + 1)]
        lines = [
            "z⁽ˡ⁾ᵢ = Σⱼ W⁽ˡ⁾ᵢⱼ·a⁽ˡ⁻¹⁾ⱼ + b⁽ˡ⁾ᵢ,  a⁽ˡ⁾ᵢ = f(z⁽ˡ⁾ᵢ),  a⁽⁰⁾ⱼ = xⱼ;  δ⁽ˡ⁾ᵢ = ∂E/∂z⁽ˡ⁾ᵢ;",
            "δ⁽ᴸ⁾ᵢ = ∂E/∂a⁽ᴸ⁾ᵢ·f′(z⁽ᴸ⁾ᵢ),  δ⁽ˡ⁾ᵢ = (Σₖ W⁽ˡ⁺¹⁾ₖᵢ·δ⁽ˡ⁺¹⁾ₖ)·f′(z⁽ˡ⁾ᵢ),  "
            "∂E/∂W⁽ˡ⁾ᵢⱼ = δ⁽ˡ⁾ᵢ·a⁽ˡ⁻¹⁾ⱼ,  ∂E/∂b⁽ˡ⁾ᵢ = δ⁽ˡ⁾ᵢ",
        ]
        note = self.objective.index_note()
        if note:
            lines.append(note)
        if self.objective.several:
            lines.append(
                _(
                    "per sample s (the :s of bptrace's names); the batch gradient is the {mean} over the m = {m} "
                    "samples"
                ).format(mean=self.mean_word(), m=self.m)
            )
        if self.s.l2:
            lines.append(
                _("L2 penalty (λ/(2m))·Σ W², λ = {l2}: each ∂E/∂W⁽ˡ⁾ᵢⱼ gains (λ/m)·W⁽ˡ⁾ᵢⱼ").format(l2=self.n(self.s.l2))
            )
        lines.append(_("the inputs: {inputs}").format(inputs=", ".join(inputs)))
        return [
            Para(
                _(
                    'Index notation (the general formula of "Backpropagation in Neural Networks"): layer l = 1 … L '
                    "(1 = the first after the inputs), i a neuron of layer l, j one of layer l − 1, k one of layer "
                    "l + 1, all counted from 1"
                ),
                "bold",
            ),
            Para("\n".join(lines)),
        ]

    def forward(self, index: int) -> Grid:
        layer = self.s.layers[index - 1]
        lt = self.trace.layers[index - 1]
        table = Grid(
            _("Forward pass, layer {layer} ({activation}): {z} and {a}").format(
                layer=index, activation=layer.activation, z=f"z{layer_sup(index)}ᵢ", a=f"a{layer_sup(index)}ᵢ"
            ),
            self.sample_cols()
            + [
                Column("z⁽ˡ⁾ᵢ = bptrace", "name"),
                Column("z", "num"),
                Column("a⁽ˡ⁾ᵢ = bptrace", "name"),
                Column("a", "num"),
            ],
        )
        cells = [(row, r) for row in self.reading_order() for r in range(layer.size)]
        for row, r in self.limited(cells, table, N_("neurons")):
            x = layer.neurons[r]
            table.rows.append(
                self.sample_cell(row)
                + [
                    f"{self.z(index, r)} = net_{x}{self.suffix(row)}",
                    self.n(lt.net[row, r]),
                    f"{self.a(index, r)} = out_{x}{self.suffix(row)}",
                    self.n(lt.out[row, r]),
                ]
            )
            table.styles.append("")
        return table

    def loss(self) -> list[Block]:
        s = self.s
        top = layer_sup(self.L)
        if self.scored:
            lines = [
                _("J_s = max(0, Δ + s_c − s), Δ = {margin}, s = {a} of x and s_c = {a} of x_c").format(
                    margin=self.n(s.margin), a=f"a{top}₁"
                )
            ]
        else:
            term = functions.loss(s.loss).term.fill(t="tᵢ", o=f"a{top}ᵢ", n="n")
            lines = [_("E_s = Σᵢ {term} ({loss}, per sample)").format(term=term, loss=s.loss)]
        if self.m > 1 or self.windowed:
            lines += [
                f"  E{sub(k + 1)} = E_total:{k + 1} = {self.n(v)}" for k, v in enumerate(self.trace.sample_losses)
            ]
            how = "(1/m)·Σₛ E_s" if s.reduction == "mean" else "Σₛ E_s"
        else:
            how = "E_s"
        if s.l2:
            data_term = self.trace.data_loss
            lines.append(
                f"E = {how} + (λ/(2m))·Σ W² = {self.n(data_term)} + {self.n(self.trace.penalty)} "
                f"= E_total = {self.n(self.trace.loss)}"
            )
        elif how == "E_s":
            lines.append(f"E = E_total = {self.n(self.trace.loss)}")
        else:
            lines.append(f"E = {how} = E_total = {self.n(self.trace.loss)}")
        return [Para("\n".join(lines))]

    def deltas(self, index: int) -> Grid:
        s = self.s
        layer = s.layers[index - 1]
        lt = self.trace.layers[index - 1]
        output = index == self.L
        here, above = layer_sup(index), layer_sup(index + 1)
        cancels = output and cancels_derivative(layer.activation, s.loss)
        if cancels:
            rule = (
                _("{rule} ({activation} with {loss}: the loss cancels f′; this holds because the targets sum to 1)")
                if layer.activation == "softmax"
                else _("{rule} ({activation} with {loss}: the loss cancels f′)")
            ).format(rule=f"δ{here}ᵢ = a{here}ᵢ − tᵢ", activation=layer.activation, loss=s.loss)
        elif output:
            rule = f"δ{here}ᵢ = ∂E/∂a{here}ᵢ·f′(z{here}ᵢ)"
            if self.scored:
                rule = _("{rule} with ∂J/∂s = −1 (x), +1 (x_c) while the margin is violated, else 0").format(rule=rule)
        else:
            rule = f"δ{here}ᵢ = (Σₖ W{above}ₖᵢ·δ{above}ₖ)·f′(z{here}ᵢ)"
        title = (
            _("δ of the output layer ({activation}): {rule}")
            if output
            else _("δ of the hidden layer {layer} ({activation}): {rule}")
        )
        table = Grid(
            title.format(layer=index, activation=layer.activation, rule=rule),
            self.sample_cols() + [Column("δ⁽ˡ⁾ᵢ = bptrace", "name"), Column(_("formula"), "text"), Column("δ", "num")],
        )
        cells = [(row, r) for row in self.reading_order() for r in range(layer.size)]
        for row, r in self.limited(cells, table, N_("neurons")):
            x = layer.neurons[r]
            name = f"{self.delta(index, r)} = delta_{x}{self.suffix(row)}"
            fp = Apply("f′", (self.zt(index, r),))  # f′(z⁽ˡ⁾ᵢ)
            by_numbers = Row.of(THEN, self.q(lt.dE_dout[row, r]), TIMES, self.q(lt.dout_dnet[row, r]))
            formula: Node
            if cancels:  # δ⁽ᴸ⁾ᵢ = a⁽ᴸ⁾ᵢ − tᵢ
                formula = Lines(
                    (
                        Row.of(self.at(index, r), MINUS, Indexed("t", "", (str(r + 1),))),
                        Row.of(THEN, self.q(lt.out[row, r]), MINUS, self.q(s.targets[row, r])),
                    )
                )
            elif output:  # δ⁽ᴸ⁾ᵢ = ∂E/∂a⁽ᴸ⁾ᵢ·f′(z⁽ᴸ⁾ᵢ)
                formula = Lines((Row.of(Deriv("E", self.at(index, r)), DOT, fp), by_numbers))
            else:  # δ⁽ˡ⁾ᵢ = (Σₖ W⁽ˡ⁺¹⁾ₖᵢ·δ⁽ˡ⁺¹⁾ₖ)·f′(z⁽ˡ⁾ᵢ)
                layer_above = s.layers[index]
                w_used = (
                    self.trace.layers[index].new_weights if self.trace.through_updated_weights else layer_above.weights
                )
                names: list[Node] = [
                    Row.of(self.wt(index + 1, q, r), DOT, self.deltat(index + 1, q)) for q in range(layer_above.size)
                ]
                nums: list[Node] = [
                    Row.of(self.q(w_used[q, r]), NUMBER_TIMES, self.q(self.trace.layers[index].delta[row, q]))
                    for q in range(layer_above.size)
                ]
                formula = Lines(
                    (
                        Row.of(Paren(_sum(names)), DOT, fp),
                        Row.of(THEN, Paren(_sum(nums)), TIMES, self.q(lt.dout_dnet[row, r])),
                        by_numbers,
                    )
                )
            table.rows.append(self.sample_cell(row) + [name, formula, self.n(lt.delta[row, r])])
            table.styles.append("")
        return table

    def gradients(self) -> Grid:
        s = self.s
        params = [p for p in s.parameters() if self.layer is None or p.layer == self.layer]
        how = (
            ""
            if self.m == 1 and not self.windowed
            else _(", the {mean} over the samples").format(mean=self.mean_word())
        )
        l2 = _(" (+ (λ/m)·W⁽ˡ⁾ᵢⱼ, the L2 term)") if s.l2 else ""
        table = Grid(
            _("Gradients: {rules}").format(rules=f"∂E/∂W⁽ˡ⁾ᵢⱼ = δ⁽ˡ⁾ᵢ·a⁽ˡ⁻¹⁾ⱼ{l2}, ∂E/∂b⁽ˡ⁾ᵢ = δ⁽ˡ⁾ᵢ{how}"),
            [Column("∂E/∂θ = bptrace", "name"), Column(_("formula"), "text"), Column("∂E/∂θ", "num")],
        )
        for p in self.limited(params, table, N_("parameters")):
            lt = self.trace.layers[p.layer - 1]
            per_sample = self.trace.sample_grad(p)
            head: Node
            products: dict[int, Node]
            if p.kind == "weight":  # ∂E/∂W⁽ˡ⁾ᵢⱼ = δ⁽ˡ⁾ᵢ·a⁽ˡ⁻¹⁾ⱼ
                r, c = p.row or 0, p.col or 0
                symbol, tree = self.w(p.layer, r, c), self.wt(p.layer, r, c)
                head = Row.of(self.deltat(p.layer, r), DOT, self.at(p.layer - 1, c))
                prev = self.trace.activations(p.layer - 1)
                products = {
                    row: Row.of(self.q(lt.delta[row, r]), TIMES, self.q(prev[row, c])) for row in self.reading_order()
                }
            elif (chain := factors.parameter(self.trace, p)).combine == "sum":  # a shared bias: Σᵢ δ⁽ˡ⁾ᵢ
                symbol, tree = self.b(p.layer, None), self.bt(p.layer, None)
                head = sentence(
                    _("{sum} (one bias shared by layer {layer})"),
                    sum=Row.of(Op("Σᵢ"), Text(" "), Indexed("delta", str(p.layer), ("i",))),
                    layer=str(p.layer),
                )
                products = {row: _sum([self.q(v) for v in chain.at(row)]) for row in self.reading_order()}
            else:  # ∂E/∂b⁽ˡ⁾ᵢ = δ⁽ˡ⁾ᵢ
                symbol, tree = self.b(p.layer, p.row), self.bt(p.layer, p.row)
                head = self.deltat(p.layer, p.row or 0)
                products = {row: self.q(lt.delta[row, p.row]) for row in self.reading_order()}
            name = f"∂E/∂{symbol} = dE/d{p.name}"
            # (1/m)·Σₛ with the count written, or Σₛ
            factor: Node = (
                Row.of(Frac(Const("1"), Const(str(self.m)), grouped=True), DOT, Op("Σₛ"))
                if s.reduction == "mean"
                else Op("Σₛ")
            )
            lines: list[Node]
            if self.windowed:
                lines = [sentence(_("{sum} {head}, through both windows"), sum=factor, head=head)]
                lines += [Row.of(Space(2), Text(f"{self.sample_cell(row)[0]}: "), v) for row, v in products.items()]
                lines += [
                    sentence(_("  sample {k}: x + x_c = {value}"), k=str(k + 1), value=self.q(per_sample[k]))
                    for k in range(self.m)
                ]
            elif self.m == 1:
                lines = [head, Row.of(THEN, products[0])]
            else:
                lines = [Row.of(factor, Text(" "), head)]
                lines += [
                    Row.of(Space(2), Text(f"s{k + 1}: "), products[k])
                    + (Row() if p.kind == "bias" and p.row is not None else Row.of(EQ, self.q(per_sample[k])))
                    for k in range(self.m)
                ]
            if s.l2 and p.kind == "weight":  # + (λ/m)·W⁽ˡ⁾ᵢⱼ
                l2_part = self.trace.l2_grad(p)
                lines.append(
                    Row.of(
                        Op("+ "),
                        Frac(Sym("lambda"), Sym("m"), grouped=True),
                        DOT,
                        tree,
                        EQ,
                        self.q(s.l2),
                        Op("/"),
                        Const(str(self.m)),
                        TIMES,
                        self.q(self.trace.value(p)),
                        EQ,
                        self.q(l2_part),
                    )
                )
            table.rows.append([name, Lines(tuple(lines)), self.n(self.trace.grad(p))])
            table.styles.append("")
        return table

    def updates(self) -> Grid:
        s = self.s
        params = [p for p in s.parameters() if self.layer is None or p.layer == self.layer]
        table = Grid(
            _("Updates: {rule}").format(rule=f"θ⁺ = θ − η·∂E/∂θ (η = {self.n(s.learning_rate)})"),
            [
                Column("θ = bptrace", "name"),
                Column("θ", "num"),
                Column("θ⁺ − θ = −η·∂E/∂θ", "num"),
                Column("θ⁺", "num"),
                Column("", "text"),
            ],
        )
        for p in self.limited(params, table, N_("parameters")):
            if p.kind == "weight":
                symbol = self.w(p.layer, p.row or 0, p.col or 0)
            else:
                symbol = self.b(p.layer, p.row)
            frozen = self.trace.frozen(p)
            step = self.trace.change(p)  # as the scalar table shows it
            table.rows.append(
                [
                    f"{symbol} = {p.name}",
                    self.n(self.trace.value(p)),
                    self.n(step),
                    self.n(self.trace.new_value(p)),
                    _("frozen (update_biases: false)") if frozen else "",
                ]
            )
            table.styles.append("")
        return table


def _sum(terms: Sequence[Node]) -> Row:
    """a + b + c, long sums summarised (the first terms, how many more, the last) as in the scalar tables."""
    if len(terms) > MAX_TERMS:
        more = Text(_("… ({n} more)").format(n=len(terms) - MAX_TERMS + 1))
        return join([*terms[: MAX_TERMS - 2], more, terms[-1]], PLUS)
    return join(terms, PLUS)


SAMPLE_GRADIENTS_LIMIT = 100_000  # per-sample gradient numbers per layer above which the JSON leaves them out


def _index_data(trace: Trace) -> dict[str, Any]:
    """Index notation as data: per neuron its z, a, f′ and δ for each sample; per layer W⁽ˡ⁾ᵢⱼ as matrices
    (row i − 1, column j − 1) with bptrace's names, gradients (batch and per sample) and updated values."""
    s = trace.scenario
    m = s.samples
    lay = IndexLayout(trace, DEFAULT_DIGITS, None, None)
    data: dict[str, Any] = {
        "notation": "index",
        "convention": "Backpropagation in Neural Networks (Towards Data Science): layer l from 1 (the first after "
        "the inputs), indices i, j, k from 1; "
        "delta = dE_s/dz per pass (one per sample; max_margin: x then x_c, see passes); "
        "W[i-1][j-1] holds W(l)ij",
        "m": m,
        "passes": pass_labels(trace),
        "reduction": s.reduction,
        "learning_rate": s.learning_rate,
        "l2": s.l2,
        "inputs": [{"symbol": lay.a(0, j), "scalar": x} for j, x in enumerate(s.input_names)],
        "loss": {"E": trace.loss, "samples": [float(v) for v in trace.sample_losses], "penalty": trace.penalty},
        "layers": [],
    }
    for layer, lt in zip(s.layers, trace.layers):
        index = layer.index
        params = [p for p in s.parameters() if p.layer == index]
        weights = [p for p in params if p.kind == "weight"]
        biases = [p for p in params if p.kind == "bias"]
        rows, cols = layer.weights.shape
        sample_grads = None
        if m * rows * cols <= SAMPLE_GRADIENTS_LIMIT:
            # ∂E_s/∂W⁽ˡ⁾ᵢⱼ for each sample s, as the trace gives it (δ⁽ˡ⁾ᵢ·a⁽ˡ⁻¹⁾ⱼ of that sample)
            by_param = {(p.row, p.col): trace.sample_grad(p) for p in weights}
            sample_grads = [[[float(by_param[(r, c)][k]) for c in range(cols)] for r in range(rows)] for k in range(m)]
        entry: dict[str, Any] = {
            "layer": index,
            "activation": layer.activation,
            "neurons": [
                {
                    "i": r + 1,
                    "name": x,
                    "z": {"symbol": lay.z(index, r), "scalar": f"net_{x}", "samples": [float(v) for v in lt.net[:, r]]},
                    "a": {"symbol": lay.a(index, r), "scalar": f"out_{x}", "samples": [float(v) for v in lt.out[:, r]]},
                    "f_prime": {
                        "symbol": f"f′({lay.z(index, r)})",
                        "scalar": f"dout_{x}/dnet_{x}",
                        "samples": [float(v) for v in lt.dout_dnet[:, r]],
                    },
                    "delta": {
                        "symbol": lay.delta(index, r),
                        "scalar": f"delta_{x}",
                        "samples": [float(v) for v in lt.delta[:, r]],
                    },
                }
                for r, x in enumerate(layer.neurons)
            ],
            "W": {
                "symbol": f"W{layer_sup(index)}ᵢⱼ",
                "gradient_symbol": f"∂E/∂W{layer_sup(index)}ᵢⱼ",
                "shape": [rows, cols],
                "names": [[layer.weight_name(r, c) for c in range(cols)] for r in range(rows)],
                "values": [[float(v) for v in row] for row in layer.weights],
                "gradient": [[float(v) for v in row] for row in lt.grad_weights],
                "gradient_samples": sample_grads,
                "new_values": [[float(v) for v in row] for row in lt.new_weights],
            },
            "b": None,
        }
        if biases:
            shared = layer.bias_mode == "shared"
            entry["b"] = {
                "symbol": f"b{layer_sup(index)}" + ("" if shared else "ᵢ"),
                "shared": shared,
                "names": [p.name for p in biases],
                "values": [trace.value(p) for p in biases],
                "gradient": [trace.grad(p) for p in biases],
                "gradient_samples": [[float(trace.sample_grad(p)[k]) for p in biases] for k in range(m)],
                "new_values": [trace.new_value(p) for p in biases],
                "updated": s.update_biases,
            }
        data["layers"].append(entry)
    return data
