"""The chain-rule factors of every gradient are decided once (bptrace/engine/factors.py): the terminal's gradient
table, the JSON and `explain` show the same factors, by name and value, for every bundled scenario and for loss
variants; and the factors multiply (or, for a shared bias, add) to the engine's own per-pass gradient."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np
import pytest

import bptrace
from bptrace.engine import factors
from bptrace.engine.step import trace as run_trace
from bptrace.explain.derivation import explain
from bptrace.fmt import num
from bptrace.formula import unicode
from bptrace.model.scenario import bundled_names
from bptrace.render.json_out import trace_json
from bptrace.render.layout import Grid, TraceLayout

VARIANTS = [(name, None) for name in bundled_names()] + [
    ("mazur", "bce"),  # sigmoid output: the loss cancels f′, the three factors are still written
    ("mazur", "mse"),
    ("ng_shallow", "bce"),
    ("softmax_classifier", "cross_entropy"),
]


def _scenario(name: str, loss: str | None) -> Any:
    s = bptrace.load(name)
    return s if loss is None else s.with_changes(loss=loss)


def canonical(symbol: str) -> str:
    """One spelling for a factor's symbol: ASCII, E for E_s/E_total, and δ_x for ∂E/∂net_x."""
    text = factors.key(symbol.strip()).replace("dE_total/", "dE/").replace("dE_s/", "dE/")
    return re.sub(r"^dE/dnet_(\w+)$", r"delta_\1", text)


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r" [×·+] ", text)]


def _terminal(layout: TraceLayout, p: Any) -> tuple[list[str], list[list[str]]]:
    """The factor names and, per pass, the factor numbers of the gradient table's cell."""
    body = unicode(layout.gradient_cells(p)[1])  # the cell is a formula tree: as the terminal prints it
    head, *lines = body.split("\n")
    formula = head.split(" = ", 1)[1].split(", ")[0]
    values = []
    for line in lines:
        if "x + x_c" in line:
            continue
        line = line.strip().removeprefix("= ")
        line = line.split(": ", 1)[1] if ": " in line else line
        values.append(_split(line.split(" = ")[0]))
    return [canonical(n) for n in _split(formula)], values


@pytest.mark.parametrize(("name", "loss"), VARIANTS, ids=[f"{n}-{loss or 'bundled'}" for n, loss in VARIANTS])
def test_terminal_json_and_explain_show_the_same_factors(name: str, loss: str | None) -> None:
    s = _scenario(name, loss)
    t = run_trace(s)
    layout = TraceLayout(t)
    data = json.loads(trace_json(t))
    entries = {e["name"]: e for e in data["parameters"]}
    order = layout.samples()
    params = s.parameters()
    # every layer's first and last parameter (the whole list for small networks)
    chosen = params if len(params) <= 40 else [p for p in params if p.row in (0, None) and p.col in (0, None)]
    for p in chosen:
        chain = factors.parameter(t, p)
        entry = entries[p.name]["factors"]
        json_names = [[canonical(n.split(":")[0]) for n in e["names"]] for e in entry]
        assert all(names == [canonical(f.symbol) for f in chain.factors] for names in json_names)
        assert [e["combine"] for e in entry] == [chain.combine] * s.passes
        # the oracle: the factors combine to the engine's own per-pass gradient δ·a (Trace.pass_grad)
        for i, e in enumerate(entry):
            combined = math.prod(e["values"]) if chain.combine == "product" else math.fsum(e["values"])
            assert combined == pytest.approx(float(t.pass_grad(p)[i]), rel=1e-12, abs=1e-300)
            assert e[chain.combine] == pytest.approx(combined, rel=1e-12, abs=1e-300)
        shown = [layout.p(v) for v in entry[0]["values"]]
        names, values = _terminal(layout, p)
        if "…" in names:  # a long sum is summarised in the table; its shown terms still agree
            continue
        assert names == json_names[0], p.name
        assert values == [[layout.p(v) for v in entry[i]["values"]] for i in order], p.name
        ex = explain(t, p.name, symbolic=False, checks=False)
        assert ex.product_formula is not None
        assert [canonical(n) for n in _split(ex.product_formula.text)] == names, p.name
        if s.samples == 1 and not s.max_margin:
            assert _split(ex.product[0].stages[0].text) == shown, p.name


@pytest.mark.parametrize(("name", "loss"), VARIANTS, ids=[f"{n}-{loss or 'bundled'}" for n, loss in VARIANTS])
def test_path_terms_are_delta_times_weight_and_sum_to_dE_dout(name: str, loss: str | None) -> None:
    t = run_trace(_scenario(name, loss))
    data = json.loads(trace_json(t))
    paths = iter(data["paths"])
    for index in range(1, len(t.layers)):
        for row in range(t.scenario.layers[index - 1].size):
            chains = factors.paths(t, index, row)
            total = sum(c.values for c in chains)
            np.testing.assert_allclose(total, t.layers[index - 1].dE_dout[:, row], rtol=1e-12, atol=1e-15)
            for c in chains:
                np.testing.assert_allclose(c.factors[0].values * c.factors[1].values, c.values, rtol=1e-12)
    for index, layer in enumerate(t.scenario.layers[:-1], start=1):
        for i in range(t.scenario.passes):
            for row in range(layer.size):
                for c in factors.paths(t, index, row):
                    e = next(paths)
                    assert e["name"] == c.key
                    assert e["factors"] == {"names": [f.key for f in c.factors], "values": c.at(i)}
                    assert e["value"] == float(c.values[i])


def test_a_shared_bias_is_a_sum_in_every_output() -> None:
    t = run_trace(bptrace.load("mazur"))
    b1 = t.scenario.parameter("b1")
    chain = factors.parameter(t, b1)
    assert chain.combine == "sum" and chain.formula() == "δ_h1 + δ_h2"
    entry = next(e for e in json.loads(trace_json(t))["parameters"] if e["name"] == "b1")["factors"][0]
    assert "product" not in entry and entry["combine"] == "sum"
    assert entry["sum"] == pytest.approx(t.layers[0].delta[0].sum(), rel=1e-15)
    cell = unicode(TraceLayout(t).gradient_cells(b1)[1])
    assert cell.startswith("∂E/∂b1 = δ_h1 + δ_h2\n= ") and " × " not in cell


def test_bce_with_a_sigmoid_output_has_three_factors_everywhere() -> None:
    """The defect of issue 13: the terminal showed 2 factors (δ × ∂net/∂w) and the JSON 3."""
    t = run_trace(bptrace.load("mazur").with_changes(loss="bce"))
    w5 = t.scenario.parameter("w5")
    head = unicode(TraceLayout(t).gradient_cells(w5)[1]).split("\n")[0]
    assert head == "∂E/∂w5 = ∂E/∂out_o1 × ∂out_o1/∂net_o1 × ∂net_o1/∂w5"
    entry = next(e for e in json.loads(trace_json(t))["parameters"] if e["name"] == "w5")["factors"][0]
    assert entry["names"] == ["dE/dout_o1", "dout_o1/dnet_o1", "dnet_o1/dw5"]
    # the cancellation: ∂E/∂out × ∂out/∂net = out − t
    out, target = t.layers[-1].out[0, 0], t.scenario.targets[0, 0]
    assert entry["values"][0] * entry["values"][1] == pytest.approx(out - target, rel=1e-12)
    assert num(entry["product"]) == num(t.grad(w5))


def test_gradient_table_headers_are_distinct() -> None:
    for s in (bptrace.load("mazur"), bptrace.load("learner_004_l2")):
        grid = next(b for b in TraceLayout(run_trace(s)).blocks() if isinstance(b, Grid) and "Gradients" in b.title)
        headers = [c.header for c in grid.columns]
        assert len(set(headers)) == len(headers), headers
