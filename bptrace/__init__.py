"""bptrace: trace one training step of backpropagation the way a textbook derivation does.

    >>> import bptrace
    >>> scenario = bptrace.load("mazur")          # a bundled name or a path to a .yaml file
    >>> trace = bptrace.run(scenario)             # every quantity of one step, as data (a Trace)
    >>> bptrace.show(trace)                       # rich tables (display in Jupyter, or print with rich)

The API mirrors the command line (`bptrace run`); the modules bptrace.trace and bptrace.render hold
the Trace data class and the renderers.

Importing bptrace is cheap: numpy and SymPy are loaded only when something needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["load", "loads", "run", "show", "to_json", "verify_trace", "Scenario", "Trace", "BptraceError"]

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.errors import BptraceError
    from bptrace.model.scenario import Scenario


def load(name: str) -> Scenario:
    """Load a scenario by bundled name ("mazur") or by path ("scenarios/mazur.yaml")."""
    from bptrace.model.scenario import load as _load

    return _load(name)


def loads(text: str, file: str = "<string>") -> Scenario:
    """Load a scenario from YAML or JSON text."""
    from bptrace.model.scenario import loads as _loads

    return _loads(text, file)


def run(scenario: Scenario | str) -> Trace:
    """One training step of `scenario` (a Scenario, a bundled name or a path) as a Trace."""
    from bptrace.engine.step import trace as _trace

    return _trace(load(scenario) if isinstance(scenario, str) else scenario)


def show(trace: Trace, digits: int = 9, **options: Any) -> Any:
    """The trace as a rich renderable: print it with rich, or leave it last in a Jupyter cell."""
    from bptrace.render.terminal import TraceView

    return TraceView(trace, digits=digits, **options)


def to_json(trace: Trace, **options: Any) -> str:
    """The trace as JSON text (byte-identical for the same input)."""
    from bptrace.render.json_out import trace_json

    return trace_json(trace, **options)


def verify_trace(trace: Trace, mode: str | None = None) -> Any:
    """Check every gradient of the trace independently (SymPy and finite differences)."""
    from bptrace.verify.verification import verify as _verify

    return _verify(trace, mode=mode)


def __getattr__(name: str) -> Any:
    if name == "Scenario":
        from bptrace.model.scenario import Scenario

        return Scenario
    if name == "Trace":
        from bptrace.engine.trace import Trace

        return Trace
    if name == "BptraceError":
        from bptrace.errors import BptraceError

        return BptraceError
    raise AttributeError(name)
