"""Trace -> JSON text: every number exact (shortest float64 repr), byte-identical for the same input."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from bptrace.engine import factors
from bptrace.version import __version__

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.model.scenario import Parameter
    from bptrace.objective import Objective

QUANTITIES_LIMIT = 5000  # parameters above which the flat `quantities` map is left out (it would be huge)


class Lazy:
    """A JSON list produced item by item, so a 100,000-parameter trace is never held as Python objects.

    `items` gives plain data (trace_data); `text_items`, if given, the same items with parts already
    written as JSON text (Raw), for trace_json_chunks."""

    def __init__(
        self, items: Callable[[], Iterator[Any]], text_items: Callable[[], Iterator[Any]] | None = None
    ) -> None:
        self.items = items
        self.text_items = text_items or items


class Raw:
    """A value already written as JSON text at its depth (dumps_indented copies it)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def trace_data(trace: Trace, verification: Any = None, notation: str = "scalar") -> dict[str, Any]:
    """The trace as plain JSON-ready data (see docs/json.md for the fields)."""
    data = _trace_data(trace, verification, notation)
    return {key: list(value.items()) if isinstance(value, Lazy) else value for key, value in data.items()}


def _trace_data(trace: Trace, verification: Any, notation: str) -> dict[str, Any]:
    from bptrace.engine.quantities import value as quantity_value
    from bptrace.model import names

    s = trace.scenario
    m = s.samples
    data: dict[str, Any] = {
        "bptrace": __version__,
        "scenario": {
            "title": s.title,
            "file": s.file,
            "loss": s.loss,
            "learning_rate": s.learning_rate,
            "update_biases": s.update_biases,
            "reduction": s.reduction,
            "samples": m,
            "l2": s.l2,
            **({"margin": s.margin} if s.objective.scores else {}),
            "inputs": list(s.input_names),
            "layers": [
                {
                    "layer": layer.index,
                    "activation": layer.activation,
                    "neurons": list(layer.neurons),
                    "bias_mode": layer.bias_mode,
                    "bias_names": list(layer.bias_names),
                }
                for layer in s.layers
            ],
        },
        "through_updated_weights": trace.through_updated_weights,
        "loss": {
            "function": s.loss,
            "reduction": s.reduction,
            "total": trace.loss,
            "after_update": trace.loss_after,
            "l2": s.l2,
            "penalty": trace.penalty,
            "penalty_after": trace.penalty_after,
            "samples": [float(v) for v in trace.sample_losses],
            "terms": [
                {"name": f"E_{o}", "sample": i + 1, "value": float(trace.loss_terms[i, j])}
                for i in range(m)
                for j, o in enumerate(s.output_layer.neurons)
            ],
        },
        "neurons": [],
        "paths": [],
        "parameters": [],
    }
    objective = s.objective
    for index, (layer, lt) in enumerate(zip(s.layers, trace.layers), start=1):
        paths = [factors.paths(trace, index, r) for r in range(layer.size)] if index < len(s.layers) else []
        for i in range(s.passes):
            for r, x in enumerate(layer.neurons):
                data["neurons"].append(
                    {
                        "name": x,
                        "layer": index,
                        "row": r,
                        "sample": i % m + 1,
                        **_window(objective, i),
                        "net": float(lt.net[i, r]),
                        "out": float(lt.out[i, r]),
                        "dE_dout": float(lt.dE_dout[i, r]),
                        "dout_dnet": float(lt.dout_dnet[i, r]),
                        "delta": float(lt.delta[i, r]),
                        "differentiable": not bool(lt.kink[i, r]),
                    }
                )
                if index < len(s.layers):
                    data["paths"] += [
                        {
                            "name": chain.key,
                            "sample": i % m + 1,
                            "value": float(chain.values[i]),
                            **_window(objective, i),
                            "factors": {"names": [f.key for f in chain.factors], "values": chain.at(i)},
                        }
                        for chain in paths[r]
                    ]
    checks = {}
    if verification is not None:
        checks = {row.name: row for row in verification.parameters}
    data["parameters"] = Lazy(
        lambda: _parameter_entries(trace, checks), lambda: _parameter_entries(trace, checks, text=True)
    )
    if verification is not None:
        data["verification"] = verification_summary(verification)
    if s.parameter_count() <= QUANTITIES_LIMIT:
        flat: dict[str, float] = {}
        for name in names.all_names(s):
            for spelled in names.spellings(name, s):
                q = names.parse(spelled, s)
                flat[q.name] = quantity_value(q, trace)
        data["quantities"] = flat
    if notation != "scalar":
        from bptrace.render.notation import notation_data

        data["notation"] = notation_data(trace, notation)
    return data


def _parameter_entries(trace: Trace, checks: dict[str, Any], text: bool = False) -> Iterator[dict[str, Any]]:
    """Each parameter's entry; text=True: its factors already written as JSON text (the same bytes)."""
    factor_texts = _FactorTexts(trace) if text else None
    for p in trace.scenario.parameters():
        entry: dict[str, Any] = {
            "name": p.name,
            "kind": p.kind,
            "layer": p.layer,
            "row": p.row,
            "col": p.col,
            "value": trace.value(p),
            "grad": trace.grad(p),
            "factors": factor_texts(p) if factor_texts else _factors(trace, p),
            "new_value": trace.new_value(p),
            "updated": not trace.frozen(p),
            "l2_term": trace.l2_grad(p),
        }
        if p.name in checks:
            entry["verification"] = verification_entry(checks[p.name])
        yield entry


def verification_summary(v: Any) -> dict[str, Any]:
    """The top-level "verification": the mode, the verdict, and how many gradient checks were judged (docs/json.md)."""
    from bptrace.render.verification import closing_line

    return {
        "mode": v.mode,
        "ok": bool(v.ok),
        "checks": v.checks,
        "judged": v.judged,
        "not_judged": v.checks - v.judged,
        "summary": closing_line(v),
    }


def verification_entry(row: Any) -> dict[str, Any]:
    """A parameter's "verification": SymPy's value (null: not derived), the finite difference as
    {value, step, judged, agrees, reason}, ok (no judged check disagrees), and the kink it sits at, if any."""
    entry: dict[str, Any] = {"sympy": row.sympy}
    if row.finite_difference is None:
        entry["finite_difference"] = None
    else:
        fd: dict[str, Any] = {
            "value": row.finite_difference,
            "step": row.fd_step,
            "judged": row.fd_ok is not None,
            "agrees": row.fd_ok,
        }
        if row.fd_reason is not None:
            fd["reason"] = row.fd_reason
        entry["finite_difference"] = fd
    entry["ok"] = bool(row.ok)
    if row.kink is not None:
        entry["kink"] = row.kink
    return entry


def _window(objective: Objective, row: int) -> dict[str, str]:
    """{"window": "x"} or {"window": "x_c"} where a sample has several passes, else nothing."""
    window = objective.window(row)
    return {"window": window} if window is not None else {}


def _factors(trace: Trace, p: Parameter) -> list[dict[str, Any]]:
    """Per pass, the chain-rule factors of ∂E_s/∂θ by name and value, and their product (or, a shared bias, sum)."""
    s = trace.scenario
    m = s.samples
    chain = factors.parameter(trace, p)
    out = []
    objective = s.objective
    for i in range(s.passes):
        suffix = objective.suffix(i)  # the corrupt windows' rows (m…) have :kc
        entry: dict[str, Any] = {
            "sample": i % m + 1,
            "names": [f.key + suffix for f in chain.factors],
            "values": chain.at(i),
            "combine": chain.combine,
            chain.combine: float(chain.values[i]),
        }
        entry.update(_window(objective, i))
        out.append(entry)
    return out


_I1, _I2, _I3 = "\n    ", "\n     ", "\n      "  # the indentation of a factor entry, its keys, its lists
_MIDDLE = f'{_I2}],{_I2}"values": [{_I3}'  # between a factor entry's names and its values


class _FactorTexts:
    """_factors(trace, p) written as the JSON text dumps_indented gives it inside a parameter's entry (depth
    3), the same bytes, built column by column: a factor's names and values are written once per pass and
    reused by every parameter that shares the factor (a neuron's ∂E/∂out, a source activation)."""

    def __init__(self, trace: Trace) -> None:
        s = trace.scenario
        self.trace = trace
        self.m = s.samples
        objective = s.objective
        m = self.m
        self.suffixes = objective.suffixes()
        # each pass's text before the factors' names and after the combined value
        self.heads = [f'{{{_I2}"sample": {i % m + 1},{_I2}"names": [{_I3}' for i in range(s.passes)]
        windows = [objective.window(i) for i in range(s.passes)]
        window = [f',{_I2}"window": "{w}"' if w is not None else "" for w in windows]
        self.tails = [w + _I1 + "}" for w in window]
        self.names: dict[str, list[str]] = {}
        self.values: dict[bytes, list[str]] = {}

    def _names(self, key: str, keep: bool) -> list[str]:
        found = self.names.get(key)
        if found is None:
            stem = _encode_string(key)[:-1]  # '"dE/dout_h1' (a suffix such as :3c needs no escaping)
            found = [stem + suffix + '"' for suffix in self.suffixes]
            if keep:
                self.names[key] = found
        return found

    def _values(self, values: Any) -> list[str] | None:
        raw = values.tobytes()
        found = self.values.get(raw)
        if found is None:
            floats = values.tolist()
            if not all(map(math.isfinite, floats)):
                return None
            found = self.values[raw] = list(map(float.__repr__, floats))
        return found

    def __call__(self, p: Parameter) -> Any:
        chain = factors.parameter(self.trace, p)
        names = [self._names(f.key, not f.key.startswith("dnet_")) for f in chain.factors]
        values = [self._values(f.values) for f in chain.factors]
        combined = chain.values.tolist()
        if any(v is None for v in values) or not all(map(math.isfinite, combined)):
            return _factors(self.trace, p)  # json's own error for a value that is not finite
        word = _encode_string(chain.combine)
        combine = _I2 + "]," + _I2 + '"combine": ' + word + "," + _I2 + word + ": "
        between = "," + _I3
        entries = [
            f"{head}{between.join(n)}{_MIDDLE}{between.join(v)}{combine}{c}{tail}"
            for head, n, v, c, tail in zip(
                self.heads, zip(*names), zip(*values), map(float.__repr__, combined), self.tails
            )
        ]
        return Raw("[" + _I1 + ("," + _I1).join(entries) + "\n   ]")


def trace_json_chunks(trace: Trace, verification: Any = None, notation: str = "scalar") -> Iterator[str]:
    """The JSON text in pieces, exactly as json.dumps(trace_data(...), indent=1) would write it."""
    data = _trace_data(trace, verification, notation)
    yield "{"
    for n, (key, value) in enumerate(data.items()):
        yield ("," if n else "") + "\n " + _dumps(key) + ": "
        if isinstance(value, Lazy):
            first = True
            for item in value.text_items():
                # an item of a list at depth 2: json.dumps indents its inner lines by 2 more spaces
                yield ("[\n  " if first else ",\n  ") + dumps_indented(item, "\n  ")
                first = False
            yield "[]" if first else "\n ]"
        else:
            yield dumps_indented(value, "\n ")
    yield "\n}\n"


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False)


def dumps_indented(value: Any, newline: str = "\n") -> str:
    """json.dumps(value, indent=1, ensure_ascii=False, allow_nan=False) with every newline written as `newline`
    (a value nested in a document), byte for byte, about five times as fast: json's encoder runs in Python
    whenever it indents, and a large trace's JSON is hundreds of megabytes of it."""
    parts: list[str] = []
    _encode(value, newline, parts)
    return "".join(parts)


def _encode(o: Any, newline: str, parts: list[str]) -> None:
    """Append o's JSON to parts; `newline` is the newline and indentation at o's depth."""
    text = _scalar(o)
    if text is not None:
        parts.append(text)
        return
    t = type(o)
    if t is Raw:
        parts.append(o.text)
    elif t is list or t is tuple:
        if not o:
            parts.append("[]")
            return
        inner = newline + " "
        kinds = set(map(type, o))
        if kinds == {float} and all(map(math.isfinite, o)):  # a row of numbers (factors' values)
            parts.append("[" + inner + ("," + inner).join(map(float.__repr__, o)) + newline + "]")
            return
        if kinds == {str}:  # a row of names
            parts.append("[" + inner + ("," + inner).join(map(_encode_string, o)) + newline + "]")
            return
        parts.append("[" + inner)
        for n, item in enumerate(o):
            if n:
                parts.append("," + inner)
            _encode(item, inner, parts)
        parts.append(newline + "]")
    elif t is dict and all(type(key) is str for key in o):
        if not o:
            parts.append("{}")
            return
        inner = newline + " "
        separator = "{" + inner
        for key, item in o.items():
            text = _scalar(item)
            if text is not None:
                parts.append(separator + _encode_string(key) + ": " + text)
            else:
                parts.append(separator + _encode_string(key) + ": ")
                _encode(item, inner, parts)
            separator = "," + inner
        parts.append(newline + "}")
    else:  # anything else (a subclass, a key that is not text): json's own rules
        parts.append(_dumps(o).replace("\n", newline))


def _scalar(o: Any) -> str | None:
    """The JSON of a str, float, int, bool or None exactly as json.dumps writes it; None for anything else."""
    t = type(o)
    if t is str:
        return _encode_string(o)
    if t is float:
        if not math.isfinite(o):
            raise ValueError("Out of range float values are not JSON compliant: " + repr(o))
        return float.__repr__(o)
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if t is int:
        return int.__repr__(o)
    return None


_INF = float("inf")


# the string encoder json.dumps uses with ensure_ascii=False (C-accelerated where CPython has it)
_encode_string: Callable[[str], str] = json.encoder.encode_basestring


def trace_json(trace: Trace, verification: Any = None, notation: str = "scalar") -> str:
    """JSON text of the trace; keys in a fixed order, floats as the shortest exact repr."""
    return "".join(trace_json_chunks(trace, verification, notation))
