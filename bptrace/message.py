"""Text that is English as a string and translated where it is shown: for words the JSON carries too.

Some sentences are made far from where they are shown and are also written into the JSON, which is English
in every language (docs/translating.md): a finite difference's reason for not being judged, a kink's
convention. Such a sentence is a `Message`: a `str` whose value is the English text (so the JSON, equality
and every existing use see the English), which also remembers its marked template and its parts, so that a
renderer can show it in the reader's language with `tr()`:

    reason = Message(N_("the stencil θ ± 2h (h = {h}) crosses {crossed}"), h="1e-04", crossed=place)
    json["reason"] = reason          # English
    Para(tr(reason))                 # Chinese under --lang zh; a part that is a Message is translated too

A plain `str` passes through `tr()` unchanged (it is a name, a number or already translated).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar, overload

T = TypeVar("T")


class Message(str):
    """An English sentence (the str's value) that knows its template and parts, to be translated on display."""

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, /, **params: object) -> Message:
        self = super().__new__(cls, template.format(**params) if params else template)
        self.template = template
        self.params = params
        return self

    def translated(self) -> str:
        """The sentence in the current language (its parts that are Messages translated too)."""
        from bptrace.i18n import _

        text = _(self.template)
        return text.format(**{k: tr(v) for k, v in self.params.items()}) if self.params else text

    def __reduce__(
        self,
    ) -> tuple[
        Callable[..., Message], tuple[str, dict[str, object]]
    ]:  # pickling (multiprocessing) keeps the template and the parts
        return (_rebuild, (self.template, self.params))


def _rebuild(template: str, params: dict[str, object]) -> Message:
    return Message(template, **params)


@overload
def tr(text: str) -> str: ...
@overload
def tr(text: T) -> T | str: ...
def tr(text: object) -> object:
    """A Message in the current language; anything else unchanged."""
    return text.translated() if isinstance(text, Message) else text
