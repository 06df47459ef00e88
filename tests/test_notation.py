"""--notation matrix (Ng) and --notation index ("Backpropagation in Neural Networks"): the same numbers as the
scalar trace and its JSON.

Blocks are rendered with 17 significant digits, which round-trip float64 exactly, and read back cell by cell:
every matrix entry, δ and gradient must be the trace's own number (==, not approximately). The mathematics the
notations state is checked separately with numpy: W[l+1]ᵀ·dZ[l+1] is the trace's ∂E/∂out, dW = dZ·A[l−1]ᵀ/m
(+ (λ/m)·W with L2), db the row sums of dZ / m, and the batch dW is the mean of the per-sample dW.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from mazur_reference import published
from strategies import random_scenario_yaml

import bptrace
from bptrace.cli.main import main
from bptrace.fmt import num
from bptrace.model.scenario import bundled_names
from bptrace.render.blocks import cell_text
from bptrace.render.layout import Grid, TraceLayout
from bptrace.render.notation import MAX_COLS, notation_blocks, notation_data, pass_labels

EXACT = 17  # significant digits that round-trip float64
RANDOM_SEEDS = list(range(30))


def bundled_traces() -> list[tuple[str, Any]]:
    return [(name, bptrace.run(name)) for name in bundled_names()]


def random_trace(seed: int) -> Any:
    """Random matrix-form networks (tests/strategies.py); every other one may carry an L2 penalty."""
    return bptrace.run(bptrace.loads(random_scenario_yaml(seed, l2=seed % 2 == 1), f"<random {seed}>"))


def window_yaml(seed: int) -> str:
    """A random max-margin scenario (the CS224n-style hinge): one linear score neuron, 1 to 3 samples."""
    rng = np.random.default_rng(seed)
    n_in, hidden, m = int(rng.integers(2, 5)), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    windows = [
        f"  - {{inputs: {rng.uniform(-1, 1, n_in).round(3).tolist()}, "
        f"corrupt: {rng.uniform(-1, 1, n_in).round(3).tolist()}}}"
        for _ in range(m)
    ]
    return (
        "\n".join(
            [
                "loss: max_margin",
                f"margin: {rng.uniform(0.2, 2):.2f}",
                "samples:",
                *windows,
                "layers:",
                f"  - {{activation: tanh, weights: {rng.uniform(-1, 1, (hidden, n_in)).round(3).tolist()}, "
                f"biases: {rng.uniform(-0.5, 0.5, hidden).round(3).tolist()}}}",
                f"  - {{activation: linear, weights: {rng.uniform(-1, 1, (1, hidden)).round(3).tolist()}}}",
                "learning_rate: 0.3",
                f"l2: {0.1 if seed % 2 else 0}",
            ]
        )
        + "\n"
    )


def all_traces() -> list[Any]:
    return (
        [pytest.param(name, id=name) for name in bundled_names()]
        + [pytest.param(seed, id=f"random{seed}") for seed in RANDOM_SEEDS]
        + [pytest.param(-seed, id=f"window{seed}") for seed in range(1, 5)]
    )


def trace_of(which: str | int) -> Any:
    if isinstance(which, str):
        return bptrace.run(which)
    if which < 0:
        return bptrace.run(bptrace.loads(window_yaml(-which), f"<window {-which}>"))
    return random_trace(which)


def grids(blocks: list[Any]) -> list[Grid]:
    return [b for b in blocks if isinstance(b, Grid)]


def find(blocks: list[Any], prefix: str) -> Grid:
    found = [g for g in grids(blocks) if cell_text(g.title).startswith(prefix)]
    assert len(found) == 1, (prefix, [cell_text(g.title) for g in grids(blocks)])
    return found[0]


def cells(grid: Grid) -> dict[tuple[str, str], float]:
    """{(row label, column header): number} of a matrix grid ('…' cells skipped)."""
    out = {}
    for row in grid.rows:
        for column, text in zip(grid.columns[1:], row[1:]):
            if text not in ("…", ""):
                out[(row[0], column.header)] = float(text)
    return out


def assert_matrix(grid: Grid, expected: np.ndarray, row_labels: list[str], col_labels: list[str]) -> None:
    """Every shown entry of the grid is exactly the expected array's entry; at least one entry per row."""
    got = cells(grid)
    rows = {label: i for i, label in enumerate(row_labels)}
    cols = {label: j for j, label in enumerate(col_labels)}
    assert got
    for (r, c), value in got.items():
        assert value == float(expected[rows[r], cols[c]]), (cell_text(grid.title), r, c)


def scale(s: Any) -> float:
    return 1.0 / s.samples if s.reduction == "mean" else 1.0


# ---------------------------------------------------------------------------------------------------
# The numbers shown are the trace's


@pytest.mark.parametrize("which", all_traces())
def test_matrix_blocks_show_the_trace_numbers_exactly(which: str | int) -> None:
    t = trace_of(which)
    s = t.scenario
    blocks = notation_blocks(t, "matrix", digits=EXACT, rows=None)
    passes = pass_labels(t)
    assert_matrix(find(blocks, "X = A[0]"), s.all_inputs().T, list(s.input_names), passes)
    for layer, lt in zip(s.layers, t.layers):
        l = layer.index
        neurons = list(layer.neurons)
        sources = list(s.layer_names(l - 1))
        assert_matrix(find(blocks, f"Z[{l}] ="), lt.net.T, neurons, passes)
        assert_matrix(find(blocks, f"A[{l}] ="), lt.out.T, neurons, passes)
        assert_matrix(find(blocks, f"dZ[{l}] ="), lt.delta.T, neurons, passes)
        assert_matrix(find(blocks, f"dW[{l}] ="), lt.grad_weights, neurons, sources)
        w_grid = find(blocks, f"W[{l}], shape")
        assert_matrix(w_grid, np.hstack([layer.weights, layer.bias_vector()[:, None]]), neurons, sources + [f"b[{l}]"])
        assert_matrix(
            find(blocks, f"W[{l}] := "),
            np.hstack([lt.new_weights, _new_bias_column(layer, lt)]),
            neurons,
            sources + [f"b[{l}]"],
        )
        if layer.bias_mode == "none":
            assert not [g for g in grids(blocks) if cell_text(g.title).startswith(f"db[{l}]")]
        else:
            labels = [layer.bias_names[0]] if layer.bias_mode == "shared" else neurons
            assert_matrix(find(blocks, f"db[{l}] ="), lt.grad_biases[:, None], labels, [f"db[{l}]"])
        if l < len(s.layers):
            assert_matrix(find(blocks, f"dA[{l}] = W[{l + 1}]ᵀ·dZ[{l + 1}]"), lt.dE_dout.T, neurons, passes)
        if l < len(s.layers) or not _cancels(s):
            assert_matrix(find(blocks, f"g[{l}]′(Z[{l}])"), lt.dout_dnet.T, neurons, passes)


def _new_bias_column(layer: Any, lt: Any) -> np.ndarray:
    if layer.bias_mode == "none":
        return np.zeros((layer.size, 0))
    b = lt.new_biases
    return np.repeat(b[:, None], layer.size, axis=0) if layer.bias_mode == "shared" else b[:, None]


def _cancels(s: Any) -> bool:
    from bptrace.functions import cancels_derivative

    return cancels_derivative(s.output_layer.activation, s.loss)


def index_gradients(blocks: list[Any]) -> dict[str, float]:
    """{parameter name: batch gradient} from the index notation's gradient table (rows '∂E/∂W⁽²⁾₁₁ = dE/dw5')."""
    table = find(blocks, "Gradients: ")
    return {row[0].split(" = dE/d")[1]: float(row[-1]) for row in table.rows}


def scalar_gradients(t: Any) -> dict[str, float]:
    table = [
        g for g in grids(TraceLayout(t, digits=EXACT, rows=None).blocks()) if cell_text(g.title).startswith("Gradients")
    ]
    return {row[0]: float(row[-1]) for row in table[0].rows}


def matrix_gradients(t: Any) -> dict[str, float]:
    blocks = notation_blocks(t, "matrix", digits=EXACT, rows=None)
    out = {}
    s = t.scenario
    for layer in s.layers:
        l = layer.index
        got = cells(find(blocks, f"dW[{l}] ="))
        for r in range(layer.size):
            for c, source in enumerate(s.layer_names(l - 1)):
                out[layer.weight_name(r, c)] = got[(layer.neurons[r], source)]
        if layer.bias_mode != "none":
            got = cells(find(blocks, f"db[{l}] ="))
            for (label, _), value in got.items():
                name = label if layer.bias_mode == "shared" else layer.bias_names[layer.neurons.index(label)]
                out[name] = value
    return out


@pytest.mark.parametrize("which", all_traces())
def test_scalar_matrix_index_and_json_give_the_same_numbers(which: str | int) -> None:
    t = trace_of(which)
    s = t.scenario
    expected = {p.name: t.grad(p) for p in s.parameters()}
    assert scalar_gradients(t) == expected
    assert matrix_gradients(t) == expected
    assert index_gradients(notation_blocks(t, "index", digits=EXACT, rows=None)) == expected
    # the JSON (notation_data, and the CLI's --format json) carries the same floats
    matrix = notation_data(t, "matrix")
    index = notation_data(t, "index")
    for layer, lt, mj, ij in zip(s.layers, t.layers, matrix["layers"], index["layers"]):
        assert mj["dW"]["values"] == lt.grad_weights.tolist() == ij["W"]["gradient"]
        assert mj["dZ"]["values"] == lt.delta.T.tolist()
        assert mj["Z"]["values"] == lt.net.T.tolist() and mj["A"]["values"] == lt.out.T.tolist()
        assert mj["dA"]["values"] == lt.dE_dout.T.tolist() and mj["g_prime"]["values"] == lt.dout_dnet.T.tolist()
        assert mj["W"]["values"] == layer.weights.tolist() == ij["W"]["values"]
        assert mj["W_new"]["values"] == lt.new_weights.tolist() == ij["W"]["new_values"]
        assert [n["delta"]["samples"] for n in ij["neurons"]] == lt.delta.T.tolist()
        assert [n["z"]["samples"] for n in ij["neurons"]] == lt.net.T.tolist()
        for r in range(layer.size):
            for c in range(layer.weights.shape[1]):
                assert ij["W"]["names"][r][c] == layer.weight_name(r, c)
        if layer.bias_mode == "none":
            assert mj["db"] is None and ij["b"] is None
        else:
            assert [v for (v,) in mj["db"]["values"]] == lt.grad_biases.tolist() == ij["b"]["gradient"]
        if ij["W"]["gradient_samples"] is not None:
            params = [p for p in s.parameters() if p.layer == layer.index and p.kind == "weight"]
            for p in params:
                per = [sample[p.row][p.col] for sample in ij["W"]["gradient_samples"]]
                assert per == t.sample_grad(p).tolist()
    json.dumps(matrix, allow_nan=False)
    json.dumps(index, allow_nan=False)


@pytest.mark.parametrize("name", bundled_names())
@pytest.mark.parametrize("notation", ["matrix", "index"])
def test_cli_json_carries_the_notation(name: str, notation: str) -> None:
    result = CliRunner().invoke(main, ["run", name, "--format", "json", "--notation", notation, "--verify", "off"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["notation"] == json.loads(json.dumps(notation_data(bptrace.run(name), notation)))
    by_name = {p["name"]: p["grad"] for p in data["parameters"]}
    if notation == "matrix":
        for layer, entry in zip(bptrace.load(name).layers, data["notation"]["layers"]):
            for r in range(layer.size):
                for c in range(layer.weights.shape[1]):
                    assert entry["dW"]["values"][r][c] == by_name[layer.weight_name(r, c)]


# ---------------------------------------------------------------------------------------------------
# The mathematics the notations state (numpy, independently of the engine's own arithmetic)


@pytest.mark.parametrize("which", all_traces())
def test_the_matrix_formulas_hold(which: str | int) -> None:
    t = trace_of(which)
    s = t.scenario
    m = s.samples
    for k, (layer, lt) in enumerate(zip(s.layers, t.layers)):
        A_prev = t.activations(k).T
        dZ = lt.delta.T
        tol = dict(rtol=1e-12, atol=1e-14 * (1 + np.abs(lt.grad_weights).max()))
        # dW[l] = dZ[l]·A[l−1]ᵀ/m (+ (λ/m)·W[l])
        dW = scale(s) * dZ @ A_prev.T + (s.l2 / m * layer.weights if s.l2 else 0)
        np.testing.assert_allclose(lt.grad_weights, dW, **tol)
        # the batch dW is the mean (or sum) of the per-sample dW (+ the L2 term)
        for p in s.parameters():
            if p.layer == layer.index:
                per = t.sample_grad(p)
                batch = per.mean() if s.reduction == "mean" else per.sum()
                np.testing.assert_allclose(t.grad(p), batch + t.l2_grad(p), **tol)
        # db[l] = np.sum(dZ[l], axis=1, keepdims=True)/m; a shared bias sums over the layer too
        if layer.bias_mode == "neuron":
            np.testing.assert_allclose(lt.grad_biases[:, None], scale(s) * dZ.sum(axis=1, keepdims=True), **tol)
        elif layer.bias_mode == "shared":
            np.testing.assert_allclose(lt.grad_biases, [scale(s) * dZ.sum()], **tol)
        # dA[l] = W[l+1]ᵀ·dZ[l+1]: the value shown (the trace's ∂E/∂out) is the numpy product
        if k + 1 < len(s.layers):
            product = s.layers[k + 1].weights.T @ t.layers[k + 1].delta.T
            np.testing.assert_allclose(lt.dE_dout.T, product, rtol=1e-12, atol=1e-15 * (1 + np.abs(product).max()))
            # dZ[l] = dA[l] ⊙ g′(Z[l])  (element-wise)
            np.testing.assert_allclose(dZ, lt.dE_dout.T * lt.dout_dnet.T, rtol=1e-12, atol=1e-300)
        elif _cancels(s):
            # dZ[L] = A[L] − Y where the loss cancels g′
            np.testing.assert_allclose(dZ, lt.out.T - s.targets.T, rtol=1e-9, atol=1e-12)


def test_ng_shallow_matrix_shows_dz_dw_db_for_both_layers_with_shapes() -> None:
    result = CliRunner().invoke(main, ["run", "ng_shallow", "--notation", "matrix", "--verify", "off"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    flat = " ".join(out.split())  # the terminal wraps long table titles
    for text in [
        "X = A[0], shape (n[0], m) = (2, 4)",
        "Z[1] = W[1]·X + b[1], shape (n[1], m) = (4, 4)",
        "dZ[2] = A[2] − Y, shape (n[2], m) = (1, 4)",
        "dW[2] = dZ[2]·A[1]ᵀ/m, shape (n[2], n[1]) = (1, 4)",
        "db[2] = Σₛ dZ[2]/m, shape (n[2], 1) = (1, 1)",
        "dA[1] = W[2]ᵀ·dZ[2], shape (n[1], m) = (4, 4)",
        "g[1]′(Z[1]) = 1 − A[1]², shape (n[1], m) = (4, 4)",
        "dZ[1] = W[2]ᵀ·dZ[2] ⊙ g[1]′(Z[1]), shape (n[1], m) = (4, 4)",
        "dW[1] = dZ[1]·Xᵀ/m, shape (n[1], n[0]) = (4, 2)",
        "db[1] = Σₛ dZ[1]/m, shape (n[1], 1) = (4, 1)",
        "np.sum(dZ[1], axis=1, keepdims=True)/m",
        "the batch dW[1] equals the mean of the per-sample dW",
    ]:
        assert text.replace("−", "-") in flat, text  # the terminal writes one minus sign, ASCII
    t = bptrace.run("ng_shallow")
    for p in t.scenario.parameters():  # every gradient of the scalar trace is there
        assert num(t.grad(p)) in out, p.name
    for value in t.layers[0].delta.ravel():  # and every δ of the hidden layer, as dZ[1]
        assert num(value) in out


def test_mazur_in_every_notation_names_the_same_quantities() -> None:
    t = bptrace.run("mazur")
    index = notation_blocks(t, "index")
    text = "\n".join(cell_text(cell) for g in grids(index) for row in g.rows for cell in row)
    for mapping in [
        "δ⁽²⁾₁ = delta_o1",
        "δ⁽¹⁾₂ = delta_h2",
        "W⁽²⁾₁₁ = w5",
        "∂E/∂W⁽²⁾₁₁ = dE/dw5",
        "b⁽¹⁾ = b1",
        "z⁽²⁾₁ = net_o1",
        "a⁽¹⁾₁ = out_h1",
    ]:
        assert mapping in text, mapping
    assert f"δ⁽²⁾₁·a⁽¹⁾₁\n= {published('delta_o1')} × {published('out_h1')}" in text
    assert "(W⁽²⁾₁₁·δ⁽²⁾₁ + W⁽²⁾₂₁·δ⁽²⁾₂)·f′(z⁽¹⁾₁)" in text
    matrix = notation_blocks(t, "matrix")
    titles = [cell_text(g.title) for g in grids(matrix)]
    assert "dZ[2] = dA[2] ⊙ g[2]′(Z[2]), shape (n[2], m) = (2, 1)" in titles  # squared error: not A − Y
    assert "db[2] = Σ dZ[2]/m, shape (1, 1) = (1, 1)" in titles  # b2 is shared by the layer


def test_softmax_says_why_a_minus_y_holds() -> None:
    t = bptrace.run("softmax_classifier")
    for notation in ("matrix", "index"):
        blocks = notation_blocks(t, notation)
        text = " ".join(cell_text(b.title) if isinstance(b, Grid) else b.text for b in blocks)
        assert "targets sum to 1" in text


def test_sum_reduction_has_no_one_over_m_and_no_bias_says_so() -> None:
    yaml = """
samples:
  - {inputs: [1.0, -0.5], targets: [0.2]}
  - {inputs: [0.3, 0.8], targets: [0.9]}
layers:
  - {activation: tanh, weights: [[0.1, -0.2], [0.3, 0.4]]}
  - {activation: sigmoid, weights: [[0.5, -0.6]], bias: 0.1}
loss: half_sse
reduction: sum
"""
    t = bptrace.run(bptrace.loads(yaml))
    blocks = notation_blocks(t, "matrix")
    titles = [cell_text(g.title) for g in grids(blocks)]
    assert "dW[2] = dZ[2]·A[1]ᵀ, shape (n[2], n[1]) = (1, 2)" in titles
    text = " ".join(b.text for b in blocks if not isinstance(b, Grid))
    assert "layer 1 has no bias: no db[1]" in text
    assert "no 1/m: the reduction is sum" in text
    assert "the batch dW[2] equals the sum of the per-sample dW" in text


# ---------------------------------------------------------------------------------------------------
# Rows, layer, big matrices; every output format


def test_rows_and_layer_are_respected() -> None:
    t = bptrace.run("deep_general_delta")
    blocks = notation_blocks(t, "matrix", rows=2, layer=2)
    titles = [cell_text(g.title) for g in grids(blocks)]
    assert not any(title.startswith(("W[1]", "Z[1]", "dW[1]", "dW[3]", "Y")) for title in titles)
    assert any(title.startswith("dW[2]") for title in titles)
    for grid in grids(blocks):
        shown = [row for row in grid.rows if row[0] != "…"]
        assert len(shown) <= 2
        if len(shown) < {"A[1]": 4}.get(cell_text(grid.title).split(",")[0], 0):
            assert "not shown" in grid.caption
    index = notation_blocks(t, "index", rows=3, layer=1)
    for grid in grids(index):
        assert len(grid.rows) <= 3
        assert "⁽²⁾ᵢ and" not in cell_text(grid.title) and "⁽³⁾" not in cell_text(grid.title).split(":")[0]
    assert all("not shown" in g.caption for g in grids(index) if cell_text(g.title).startswith(("Forward", "δ")))


def test_big_matrices_are_summarised_never_printed_whole() -> None:
    rng = np.random.default_rng(7)
    n_in, hidden = 40, 30
    yaml = (
        f"samples:\n  - {{inputs: {rng.uniform(0, 1, n_in).round(3).tolist()}, targets: [1, 0]}}\n"
        f"  - {{inputs: {rng.uniform(0, 1, n_in).round(3).tolist()}, targets: [0, 1]}}\n"
        f"layers:\n  - {{activation: relu, weights: {rng.normal(0, 0.1, (hidden, n_in)).round(4).tolist()}}}\n"
        f"  - {{activation: softmax, weights: {rng.normal(0, 0.1, (2, hidden)).round(4).tolist()}}}\n"
        "loss: cross_entropy\n"
    )
    t = bptrace.run(bptrace.loads(yaml))
    blocks = notation_blocks(t, "matrix", rows=6)
    w1 = find(blocks, "W[1], shape")
    assert len(w1.columns) == 1 + MAX_COLS + 1  # label, 7 first columns, "…", the last
    assert [c.header for c in w1.columns][-2:] == ["…", "x40"]
    assert len(w1.rows) == 7 and w1.rows[-2][0] == "…" and w1.rows[-1][0] == "h1_30"
    assert w1.caption == "… 24 of 30 rows and 32 of 40 columns not shown (use --rows N, --layer N or --format json)"
    assert cells(w1)[("h1_30", "x40")] == float(num(t.scenario.layers[0].weights[-1, -1]))
    for grid in grids(blocks):
        assert len(grid.rows) <= 7 and len(grid.columns) <= MAX_COLS + 2


FORMATS = ["terminal", "markdown", "latex", "html", "json"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("notation", ["matrix", "index"])
@pytest.mark.parametrize("name", ["mazur", "ng_shallow", "cs224n_window"])
def test_every_format_supports_the_notation(name: str, notation: str, fmt: str) -> None:
    result = CliRunner().invoke(main, ["run", name, "--format", fmt, "--notation", notation, "--verify", "off"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    t = bptrace.run(name)
    p = t.scenario.parameters()[0]  # the first rows are shown whatever --rows cuts
    if fmt == "json":
        assert json.loads(out)["notation"]["notation"] == notation
        return
    assert num(abs(t.grad(p))) in out  # (LaTeX writes the minus sign in maths)
    marker = {"matrix": "dW[1]", "index": "W⁽¹⁾"}[notation]
    if fmt == "latex":  # the matrix's title is a formula tree: dW^{[1]} in LaTeX's mathematics
        marker = {"matrix": "dW^{[1]}", "index": r"W\ensuremath{^{(1)}"}[notation]
    elif fmt == "markdown":
        marker = {"matrix": "dW^{[1]}", "index": "W⁽¹⁾"}[notation]
    assert marker in out


def test_ascii_terminal_output_of_the_matrix_notation_is_plain_ascii() -> None:
    import io

    from rich.console import Console

    from bptrace.render.terminal import BlocksView

    for name in ("mazur", "ng_shallow", "cs224n_window", "softmax_classifier"):
        buffer = io.StringIO()
        Console(file=buffer, width=160).print(BlocksView(notation_blocks(bptrace.run(name), "matrix"), ascii=True))
        bad = sorted({ch for ch in buffer.getvalue() if not ch.isascii()})
        assert not bad, (name, bad)


def test_unknown_notation_is_refused() -> None:
    t = bptrace.run("mazur")
    with pytest.raises(ValueError, match="unknown notation"):
        notation_blocks(t, "tensor")
    with pytest.raises(ValueError, match="unknown notation"):
        notation_data(t, "tensor")


def test_max_margin_has_two_columns_per_sample() -> None:
    t = bptrace.run("cs224n_window")
    blocks = notation_blocks(t, "matrix", digits=EXACT, rows=None)
    dz = find(blocks, f"dZ[{len(t.scenario.layers)}] =")
    assert [c.header for c in dz.columns[1:]] == ["s1 x", "s2 x", "s1 x_c", "s2 x_c"]
    text = " ".join(b.text for b in blocks if not isinstance(b, Grid))
    assert "2m columns" in text and "J_s = max(0, Δ + s_c − s)" in text
    assert re.search(r"shape \(n\[1\], 2m\) = \(8, 4\)", " ".join(cell_text(g.title) for g in grids(blocks)))
