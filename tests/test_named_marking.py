"""grading/named.py, the one marking of a sheet of named values (graphs, RNNs, layer stacks), on a made-up kind:
three quantities with exact values written here, one mistake, a sign slip. The verdicts are the digits rule's
(docs/answer-sheets.md), worked out by hand for these numbers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bptrace.errors import AnswerSheetError, UnknownNameError
from bptrace.grading import answers
from bptrace.grading.named import SIGN_SLIP, NamedSheetResult, mark_named, sheet_text

EXACT = {"a": 0.3, "b": 2.0, "c": -1.25}
MISTAKE = {"a": 0.35, "b": 2.0, "c": -1.1}  # the made-up mistake "off": a and c differ


def parse(key: str) -> str:
    if key.strip() not in EXACT:
        raise UnknownNameError(f"unknown quantity {key!r}", hint="a, b or c")
    return key.strip()


def mark(
    tmp_path: Path, body: str, short_rounds: bool = True, calls: list[str] | None = None
) -> NamedSheetResult[str, str]:
    path = tmp_path / "sheet.yaml"
    path.write_text("scenario: made_up\nstudent: Ann\nanswers:\n" + body, encoding="utf-8")
    asked = [] if calls is None else calls

    def mistaken(code: str) -> Callable[[str], float | None]:
        asked.append(code)
        return MISTAKE.get

    return mark_named(
        answers.read(path),
        "made_up",
        parse=parse,
        exact=EXACT.get,
        mistakes=("off",),
        mistaken=mistaken,
        sign_slip=lambda q: -EXACT[q],
        short_rounds=short_rounds,
    )


def test_each_verdict_and_the_score(tmp_path: Path) -> None:
    r = mark(tmp_path, "  a: 0.300\n  b:\n  c: 1.25\n")
    reasons = {m.key: (m.correct, m.reason, m.diagnoses) for m in r.marks}
    assert reasons == {
        "a": (True, "exact", ()),
        "b": (False, "unanswered", ()),
        "c": (False, "wrong", (SIGN_SLIP,)),  # 1.25 is −c
    }
    assert (r.score, r.total, r.all_correct, r.student, r.scenario) == (1.0, 3.0, False, "Ann", "made_up")


def test_a_mistake_is_named_and_its_values_asked_once(tmp_path: Path) -> None:
    calls: list[str] = []
    r = mark(tmp_path, "  a: 0.350\n  c: -1.10\n", calls=calls)
    assert [m.diagnoses for m in r.marks] == [("off",), ("off",)]
    assert calls == ["off"]


def test_a_short_answer_rounds_exactly_or_is_wrong_unless_the_kind_says_otherwise(tmp_path: Path) -> None:
    # c = −1.25: "-1" is −1.25 rounded to units (few digits); "-2" is one unit off (the digits rule's slack)
    strict = mark(tmp_path, "  c: -1\n")
    assert strict.marks[0].reason == "few-digits"
    assert mark(tmp_path, "  c: -2\n").marks[0].reason == "wrong"
    assert mark(tmp_path, "  c: -2\n", short_rounds=False).marks[0].reason == "few-digits"
    # the mistake's c = −1.1: "-1" explains it when short answers round, and not otherwise (two digits short)
    assert mark(tmp_path, "  c: -1\n").marks[0].diagnoses == ("off",)
    assert mark(tmp_path, "  c: -1\n", short_rounds=False).marks[0].diagnoses == ()


def test_a_key_twice_or_unknown_is_an_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(AnswerSheetError, match=r"'a ' is the same quantity as 'a' \(line 4\)"):
        mark(tmp_path, "  a: 0.3\n  'a ': 0.3\n")
    with pytest.raises(AnswerSheetError, match="unknown quantity 'z'") as info:
        mark(tmp_path, "  z: 1\n")
    assert info.value.line == 4


def test_a_blank_sheet_lists_each_section(tmp_path: Path) -> None:
    text = sheet_text("T", "made_up", [("first", ["a", "b"]), ("then", ["c"])])
    assert text.splitlines()[2:] == [
        "scenario: made_up",
        "student:",
        "answers:",
        "  # first",
        "  a:",
        "  b:",
        "  # then",
        "  c:",
    ]
