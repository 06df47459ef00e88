"""Answer sheets for recurrent scenarios: the quantities, blank sheets, marking, and the misconception behind
a wrong answer (BPTT re-run with each mistake of engine.MISTAKES, plus a sign slip).

A sheet is read by grading/answers.py (the format of docs/answer-sheets.md); its keys are the names of
docs/quantities.md, 'Recurrent scenarios' (h1@t2, delta_h1@t3, dE/dW_hh_1_2@t3, dE/dW_hh_1_2, W_hh_1_2+).
"""

from __future__ import annotations

from collections.abc import Callable

from bptrace.grading.answers import Sheet
from bptrace.grading.marking import DEFAULT_MIN_DIGITS
from bptrace.grading.named import SIGN_SLIP, SIGN_SLIP_WORDS, NamedMark, NamedSheetResult, mark_named, sheet_text
from bptrace.i18n import _
from bptrace.rnn import engine, names
from bptrace.rnn.engine import RnnTrace
from bptrace.rnn.model import RnnScenario, shown

DIAGNOSES = {**engine.MISTAKES, SIGN_SLIP: SIGN_SLIP_WORDS}


def template_text(s: RnnScenario, scenario_ref: str) -> str:
    """A blank answer sheet: forward per step, BPTT from the last step back, each step's terms, the sums, the
    updates."""
    sections = [
        (_("forward: each step's nets, states, outputs and loss"), names.forward_names(s)),
        (_("backward through time, from the last step back (delta = dE/dnet)"), names.backward_names(s)),
        (_("each parameter's term at each step (dE/dPARAM@tN)"), names.contribution_names(s)),
        (_("the gradients: the sums of the terms over the steps"), names.gradient_names(s)),
        (_("the updates: NAME+ = NAME − η·gradient"), names.update_names(s)),
    ]
    return sheet_text(shown(s.title), scenario_ref, sections)


# a marked answer (its quantity is the name) and a marked sheet of a recurrent network (grading/named.py)
RnnMark = NamedMark[str]
RnnSheetResult = NamedSheetResult[RnnScenario, str]


def _sign_slip(name: str, t: RnnTrace, values: dict[str, float]) -> float:
    if name.endswith("+"):
        p = name[:-1]
        return t.values[p] + t.scenario.learning_rate * t.grads[p]
    return -values[name]


def mark(sheet: Sheet, s: RnnScenario, min_digits: int = DEFAULT_MIN_DIGITS, diagnose: bool = True) -> RnnSheetResult:
    t = engine.trace(s)
    values = t.quantities()

    def mistaken(code: str) -> Callable[[str], float | None]:
        return engine.trace(s, code).quantities().get

    return mark_named(
        sheet,
        s,
        parse=lambda key: names.parse(key, s),
        exact=values.get,
        mistakes=engine.MISTAKES,
        mistaken=mistaken,
        sign_slip=lambda q: _sign_slip(q, t, values),
        min_digits=min_digits,
        diagnose=diagnose,
    )
