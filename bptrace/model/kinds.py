"""What the readers of the kinds with their own files share (graph/model.py, rnn/model.py, layers/model.py):
the keys every such file may have, a bundled scenario's text in the language bptrace speaks, a text value
read, and a scenario file's document found by its kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bptrace.errors import ScenarioError
from bptrace.i18n import _
from bptrace.model import source
from bptrace.model.source import Document, Yaml, brief

COMMON_KEYS = ("kind", "title", "source", "description", "title_zh", "source_zh")  # first in each kind's TOP_KEYS


def shown(text: str) -> str:
    """A scenario's title or source in the language bptrace speaks (a bundled one translated, else as written)."""
    return _(text) if text else text


def text_value(doc: Document, data: Mapping[str, Yaml], key: str, default: str) -> str:
    """The text under `key` (default where the file leaves it out); anything else is an error at the key."""
    value = data.get(key, default)
    if not isinstance(value, str):
        raise doc.error((key,), _("{key} must be text, got {value}").format(key=key, value=brief(value)))
    return value


def read_document(name: str, could_be: Callable[[str], bool]) -> Document | None:
    """The parsed document of scenario `name` (a bundled name or a path); None for a name that is neither (the
    network loader reports it) or a text that `could_be` (a cheap test before the parse) rules out."""
    from bptrace.model.scenario import BUNDLED_DIR, is_path_like, resolve

    if not is_path_like(name) and not (BUNDLED_DIR / f"{name}.yaml").is_file():
        return None
    path, shown_name = resolve(name)
    text = source.read_text(path, ScenarioError)
    if not could_be(text):
        return None
    return source.parse(text, shown_name, ScenarioError)


def document_of_kind(name: str, kind: str, could_be: Callable[[str], bool]) -> Document | None:
    """read_document's document when it is a mapping that says `kind: KIND`, else None."""
    doc = read_document(name, could_be)
    if doc is None or not isinstance(doc.data, dict) or doc.data.get("kind") != kind:
        return None
    return doc
