"""bptrace: trace one training step of backpropagation the way a textbook derivation does.

    >>> import bptrace
    >>> scenario = bptrace.load("mazur")          # a bundled name or a path to a .yaml file
    >>> trace = bptrace.run(scenario)             # every quantity of one step, as data (a Trace)
    >>> bptrace.show(trace)                       # the tables, printed (or displayed in a notebook)
    >>> trace                                     # in a notebook: the tables; in a REPL: one line
    >>> bptrace.derive(trace, "w5")               # the worked derivation of `explain` (an Explanation)
    >>> bptrace.check("answers.yaml")             # a marked sheet (a SheetResult); key= marks with a key
    >>> bptrace.train(scenario, epochs=10000)     # the loss curve and the trained parameters

The API mirrors the command line (`bptrace run`, `explain` as derive, `check`, `train`). Every object it returns
shows itself: `bptrace.show(obj)` or `rich.print(obj)` prints its tables, a notebook cell displays them,
and its repr is one line (bptrace/display.py). `bptrace.set_language("zh")` speaks Chinese.

Importing bptrace is cheap: numpy and SymPy are loaded only when something needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bptrace.version import __version__ as __version__

__all__ = [
    "load",
    "loads",
    "run",
    "derive",
    "check",
    "train",
    "show",
    "to_json",
    "verify_trace",
    "set_language",
    "Scenario",
    "Trace",
    "BptraceError",
]

if TYPE_CHECKING:
    from bptrace.engine.trace import Trace
    from bptrace.engine.train import TrainingResult
    from bptrace.errors import BptraceError
    from bptrace.explain.derivation import Explanation
    from bptrace.grading.marking import SheetResult
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


def derive(trace: Trace | Scenario | str, quantity: str, digits: int = 9) -> Explanation:
    """(`bptrace explain`; named derive because bptrace.explain is the package of derivations.)
    The worked derivation of `quantity` ("w5", "delta_h1", "w5+", ...) in a trace, scenario or name."""
    from bptrace.engine.trace import Trace as _Trace
    from bptrace.explain.derivation import explain as _explain

    return _explain(trace if isinstance(trace, _Trace) else run(trace), quantity, digits=digits)


def check(sheet: str, scenario: str | None = None, key: str | None = None) -> SheetResult:
    """Mark an answer sheet (a path): as its student would (`bptrace check SHEET`), or with a teacher's key
    file (`--key`), whose rules then decide the points and tolerances, never the sheet's own."""
    from bptrace.grading import sheets

    if key is None:
        return sheets.self_check(sheet, scenario)
    from bptrace.grading.key import read as read_key

    return sheets.mark_with_key(sheet, read_key(key, scenario))


def train(scenario: Scenario | str, epochs: int, **options: Any) -> TrainingResult:
    """Train for `epochs` epochs (options as bptrace.engine.train.train: batch_size, seed, every, ...)."""
    from bptrace.engine.train import train as _train

    return _train(load(scenario) if isinstance(scenario, str) else scenario, epochs, **options)


def show(obj: Any, digits: int = 9, **options: Any) -> None:
    """Print what the API returned (a Trace, Verification, Explanation, SheetResult, or a view) as
    `bptrace` would: in a terminal or a plain script it prints; in a Jupyter notebook it displays.
    For a Trace, `digits` and the options of TraceView (layer, rows, verification, ...) apply."""
    from bptrace.display import show as _show

    if hasattr(obj, "layers") and hasattr(obj, "scenario"):  # a Trace, with its view's options
        from bptrace.render.terminal import TraceView

        obj = TraceView(obj, digits=digits, **options)
    _show(obj)


def set_language(lang: str | None) -> str:
    """Speak "en" or "zh" (None: from BPTRACE_LANG or the locale). Returns the language chosen."""
    from bptrace.i18n import set_language as _set

    return _set(lang)


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
