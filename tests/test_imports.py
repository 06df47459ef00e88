"""The import graph between bptrace's modules is acyclic, and the layers point one way (docs/architecture.md).

Every import counts, at module level and inside functions (a lazy import inside a function is still a
dependency: it only moves the cycle to run time). Only imports under `if TYPE_CHECKING:` are left out: they
never run. The graph is read with `ast` from the source of every module in bptrace/, so a new module is
covered the day it is added.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bptrace"

# Lazy imports allowed to close a cycle, each with its reason (start-up speed only). None is needed today;
# an entry is (importer, imported).
ALLOWED_CYCLE_EDGES: dict[tuple[str, str], str] = {}

# The layers, lowest first: a module may import its own layer and those below it, never one above.
# (The package's API, bptrace/__init__.py, is the top: it reaches everything, lazily.)
BELOW_THE_ENGINE = (
    "bptrace.model",
    "bptrace.functions",
    "bptrace.formula",  # the formula tree and its printers: the registry writes its formulas in it
    "bptrace.objective",
    "bptrace.fmt",
    "bptrace.errors",
)
ABOVE_THE_ENGINE = ("bptrace.render", "bptrace.explain", "bptrace.grading", "bptrace.cli", "bptrace.quiz")


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skip.update(id(n) for n in ast.walk(inner))
    return skip


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> dict[str, int]:
    """The bptrace modules `name` imports (module or function level, not TYPE_CHECKING), with a line each.
    `from bptrace.engine import factors` is an import of bptrace.engine.factors; `from bptrace.x import y`
    (y not a module) one of bptrace.x."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = _type_checking_nodes(tree)
    found: dict[str, int] = {}
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names]
        for target in targets:
            if target in modules and target != name:
                found.setdefault(target, node.lineno)
    return found


@cache
def graph() -> dict[str, dict[str, int]]:
    modules = _modules()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _describe(component: list[str], edges: dict[str, dict[str, int]]) -> str:
    inside = [f"{a} -> {b} (line {line})" for a in component for b, line in sorted(edges[a].items()) if b in component]
    return "; ".join(inside)


def test_the_import_graph_is_acyclic() -> None:
    edges = {a: {b: line for b, line in out.items() if (a, b) not in ALLOWED_CYCLE_EDGES} for a, out in graph().items()}
    found = cycles(edges)
    assert not found, "import cycles: " + " | ".join(_describe(c, edges) for c in found)


def test_the_allowed_lazy_imports_exist() -> None:
    """Each allowed edge is still an import (a stale entry would let a new cycle through unseen)."""
    for importer, imported in ALLOWED_CYCLE_EDGES:
        assert imported in graph()[importer], (importer, imported)


def _in(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def below_the_engine_violations(edges: dict[str, dict[str, int]]) -> list[str]:
    core = BELOW_THE_ENGINE + ("bptrace.i18n", "bptrace.message", "bptrace.display", "bptrace.output")
    return [
        f"{a} -> {b} (line {line})"
        for a, out in edges.items()
        if _in(a, BELOW_THE_ENGINE)
        for b, line in out.items()
        if not _in(b, core)
    ]


def test_the_vocabulary_and_the_registry_sit_below_the_engine() -> None:
    """model/ (the scenario, the vocabulary names.py), functions.py, objective.py, fmt.py and errors.py
    import nothing of the engine or above it: the engine is built on them, not the other way round."""
    assert below_the_engine_violations(graph()) == []


def test_the_engine_and_verification_import_no_renderer_grader_or_cli() -> None:
    """engine/ and verify/ compute; only a data object's `_view` (the display protocol, bptrace/display.py)
    reaches up to its renderer, lazily, when it is shown."""
    wrong = [
        f"{a} -> {b} (line {line})"
        for a, out in graph().items()
        if _in(a, ("bptrace.engine", "bptrace.verify"))
        for b, line in out.items()
        if _in(b, ABOVE_THE_ENGINE) and not _is_view(a, line)
    ]
    assert wrong == []


def _is_view(module: str, line: int) -> bool:
    """Whether the import on `line` of `module` is inside a `_view` method (the display protocol)."""
    tree = ast.parse(_modules()[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.FunctionDef)
            and node.name == "_view"
            and node.lineno <= line <= (node.end_lineno or node.lineno)
        ):
            return True
    return False


def test_nothing_below_the_cli_imports_it() -> None:
    wrong = [
        f"{a} -> {b}"
        for a, out in graph().items()
        if a != "bptrace" and not _in(a, ("bptrace.cli", "bptrace.__main__"))
        for b in out
        if _in(b, ("bptrace.cli",))
    ]
    assert wrong == []


@pytest.mark.parametrize(
    "edges, expected",
    [
        ({"a": {"b": 1}, "b": {"a": 2}}, [["a", "b"]]),
        ({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}, [["a", "b", "c"]]),
        ({"a": {"b": 1}, "b": {}, "c": {"b": 1}}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(edges: dict[str, dict[str, int]], expected: list[list[str]]) -> None:
    assert cycles(edges) == expected


def test_the_graph_sees_function_level_imports(tmp_path: Path) -> None:
    """A lazy import inside a function is an edge; one under TYPE_CHECKING is not."""
    source = tmp_path / "m.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from bptrace.engine import trace\n"
        "def f():\n    from bptrace.engine import step\n    import bptrace.fmt\n"
    )
    modules = _modules()
    found = imports_of("bptrace.model.m", source, modules)
    assert set(found) == {"bptrace.engine.step", "bptrace.fmt"}
    # and the vocabulary, were it to import the engine lazily again (θ@N once did), would be caught
    edges = dict(graph())
    edges["bptrace.model.names"] = {**edges["bptrace.model.names"], "bptrace.engine.step": 350}
    assert below_the_engine_violations(edges) == ["bptrace.model.names -> bptrace.engine.step (line 350)"]
