"""Mutations of valid inputs for fuzzing: drop, duplicate, retype and corrupt keys and values, truncate, insert bytes.

Used by tests/test_fuzz.py (a bounded number of examples) and scripts/fuzz.py (a long run).
"""

from __future__ import annotations

import math
import random
from typing import Any

import yaml

ODD_VALUES: list[Any] = [
    None,
    True,
    "",
    "oops",
    "nan",
    ".inf",
    -1,
    0,
    1e308,
    -1e308,
    1e-320,
    [],
    {},
    [[]],
    [1, "x"],
    {"a": 1},
    10**400,
    "sigmoid",
    "relu",
    "softmax",
    "cross_entropy",
    "bce",
    [0.1] * 50,
    -0.0,
    1e150,  # its square overflows float64
    -1e200,
    [[1e200]],
    3,
    "0.5",
    "W1_1_1",
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        node = node[p]
    return node


def nudge(value: float, factor: float) -> float:
    """value * factor, where a product beyond float64 (10**400 * 1e6 raises OverflowError) is infinity."""
    try:
        return value * factor
    except OverflowError:
        return math.inf if (value > 0) == (factor > 0) else -math.inf


def mutate_data(data: Any, rng: random.Random) -> Any:
    """One structural mutation of a parsed document (returns a new document)."""
    import copy

    data = copy.deepcopy(data)
    paths = [p for p in _paths(data) if p]
    if not paths:
        return rng.choice(ODD_VALUES)
    path = rng.choice(paths)
    parent = _get(data, path[:-1])
    key = path[-1]
    action = rng.randrange(6)
    if action == 0:  # drop
        del parent[key]
    elif action == 1:  # retype / corrupt the value
        parent[key] = rng.choice(ODD_VALUES)
    elif action == 2 and isinstance(parent, dict):  # rename the key (a typo)
        value = parent.pop(key)
        parent[str(key)[:-1] + rng.choice("xz_1") if str(key) else "k"] = value
    elif action == 3 and isinstance(parent, list):  # duplicate an item
        parent.insert(key, copy.deepcopy(parent[key]))
    elif action == 4:  # nudge a number
        if isinstance(parent[key], (int, float)) and not isinstance(parent[key], bool):
            parent[key] = nudge(parent[key], rng.choice([-1, 0, 1e6, 1e300, float("nan")]))
        else:
            parent[key] = rng.choice(ODD_VALUES)
    else:  # add an unknown key
        if isinstance(parent, dict):
            parent[rng.choice(["layer", "lerning_rate", "bias", "biases", "samples", "extra"])] = 1
    return data


def mutate_text(text: str, rng: random.Random) -> bytes:
    """One textual mutation: truncate, insert or delete characters or bytes, duplicate a line, nest brackets."""
    raw = text.encode()
    action = rng.randrange(7)
    if action == 0:
        return raw[: rng.randrange(len(raw) + 1)]
    pos = rng.randrange(len(raw) + 1)
    if action == 6:  # brackets nested deeply (libyaml's composer recursed in C: 100,000 levels crashed Python)
        depth = rng.choice([3, 50, 101, 2000, 20000])
        return raw[:pos] + b"[" * depth + b"1" + b"]" * depth + raw[pos:]
    if action == 1:
        return raw[:pos] + bytes([rng.randrange(256)]) + raw[pos:]
    if action == 2:
        token = rng.choice([b":", b"[", b"]", b"{", b"-", b"\t", b"&a", b"*a", b"!!", b"'", b"\n  "])
        return raw[:pos] + token + raw[pos:]
    if action == 3:
        return raw[:pos] + raw[pos + rng.randrange(1, 8) :]
    lines = text.splitlines(keepends=True)
    if not lines:
        return raw
    i = rng.randrange(len(lines))
    if action == 4:
        lines.insert(i, lines[i])
    else:
        lines[i] = "  " + lines[i]
    return "".join(lines).encode()


def mutate(text: str, rng: random.Random) -> bytes:
    """A random mutation of a valid YAML document: structural (through the data) or textual."""
    if rng.random() < 0.5:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            return mutate_text(text, rng)
        for _ in range(rng.randrange(1, 3)):
            data = mutate_data(data, rng)
        try:
            return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()
        except (yaml.YAMLError, OverflowError):
            return mutate_text(text, rng)
    return mutate_text(text, rng)
