"""Answer sheets for layer stacks: blank sheets, marking, and the misconception behind a wrong answer (the
step re-run with each mistake of engine.MISTAKES, plus a sign slip).

A sheet is read by grading/answers.py (the format of docs/answer-sheets.md); its keys are the quantity names
of docs/quantities.md ("Layer stacks"): `a1_2_3:1`, `mu2_1`, `dE/dK1_1_2`, `dE/dx_2_2:1`, `K1_1_2+`.
Numbers are marked by grading/marking.py's digits rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bptrace.errors import UnknownNameError
from bptrace.fmt import DEFAULT_DIGITS
from bptrace.grading.answers import Sheet
from bptrace.grading.marking import DEFAULT_MIN_DIGITS
from bptrace.grading.named import SIGN_SLIP, SIGN_SLIP_WORDS, NamedMark, NamedSheetResult, mark_named, sheet_text
from bptrace.i18n import N_, _
from bptrace.layers import engine
from bptrace.layers.engine import LayersTrace
from bptrace.layers.model import LayersScenario
from bptrace.render.layout import Block

# code (the JSON's) -> what the misconception is, shown with _(DIAGNOSES[code])
DIAGNOSES = {
    "convolve": N_("convolving instead of correlating: the kernel flipped in the forward pass"),
    "unflipped": N_("the kernel not flipped in the input gradient (a correlation where a full convolution belongs)"),
    "no_variance_path": N_("batch normalization's path through σ² forgotten"),
    "avg_like_max": N_("average pooling's gradient routed like max pooling's, all to the largest input"),
    SIGN_SLIP: SIGN_SLIP_WORDS,
}


def quantities(t: LayersTrace) -> list[str]:
    """The quantities a student computes, in the derivation's order: the forward values (not the inputs or the
    parameters), the loss, the gradients backward, the updates."""
    return [ln.name for sec in (*t.forward, *t.backward, t.update) for ln in sec.lines]


def parse_quantity(key: str, t: LayersTrace) -> str:
    from bptrace.layers.explain import canonical
    from bptrace.model.source import did_you_mean

    text = key.strip().replace("∂", "d").replace("⁺", "+")
    name = canonical(text, t)
    if name is not None and text not in t.params:
        return name
    names = quantities(t)
    raise UnknownNameError(
        _("unknown quantity {key!r} for this stack").format(key=key),
        hint=did_you_mean(text, names)
        or _("e.g. {names} ('bptrace template' lists them)").format(names=", ".join(names[:4])),
    )


def template_text(s: LayersScenario, scenario_ref: str) -> str:
    """A blank answer sheet: every quantity with an empty value, grouped by layer and pass."""
    from bptrace.message import tr

    t = engine.trace(s)
    sections = [
        (" ".join(str(tr(sec.title)).split()), [ln.name for ln in sec.lines])
        for sec in (*t.forward, *t.backward, t.update)
    ]
    return sheet_text(s.display_title(), scenario_ref, sections)


# a marked answer (its quantity is the name) and a marked sheet of a layer stack (grading/named.py)
LayersMark = NamedMark[str]
LayersSheetResult = NamedSheetResult[LayersScenario, str]


def mark(
    sheet: Sheet, s: LayersScenario, min_digits: int = DEFAULT_MIN_DIGITS, diagnose: bool = True
) -> LayersSheetResult:
    """Mark every answer of the sheet; a wrong one gets the misconceptions that reproduce it. A short answer
    is marked by the digits rule alone (few-digits when it agrees to one unit), and explains a mistake's value
    only when it is that value exactly."""
    t = engine.trace(s)

    def mistaken(code: str) -> Callable[[str], float | None]:
        return engine.trace(s, code).values.get

    return mark_named(
        sheet,
        s,
        parse=lambda key: parse_quantity(key, t),
        exact=lambda q: t.values[q],
        mistakes=engine.MISTAKES,
        mistaken=mistaken,
        sign_slip=lambda q: _sign_slip(q, t),
        min_digits=min_digits,
        diagnose=diagnose,
        short_rounds=False,
    )


def _sign_slip(q: str, t: LayersTrace) -> float:
    if q.endswith("+") and q[:-1] in t.params:
        p = q[:-1]
        return t.params[p] + t.scenario.learning_rate * t.gradients[p]
    return -t.values[q]


def check_blocks(
    r: LayersSheetResult, digits: int = DEFAULT_DIGITS, ascii: bool = False, hide_expected: bool = False
) -> list[Block]:
    """A marked sheet: quantity | given | expected | ✓/✗ | the misconception that reproduces it."""
    from bptrace.render.marks import marks_blocks

    title = f"{r.student}: {r.scenario.display_title()}"
    return marks_blocks(title, r.marks, r.score, r.total, r.all_correct, DIAGNOSES, digits, ascii, hide_expected)


def check_data(r: LayersSheetResult, hide_expected: bool = False) -> dict[str, Any]:
    """A marked sheet as JSON-ready data."""
    from bptrace.render.marks import sheet_data

    return sheet_data("layers", r, hide_expected)
