"""Marking: the precision of an answer is read from the text written, and the digits rule is applied to it.

The exact values come from bptrace's engine; the expectations here are written from the rules in
docs/answer-sheets.md (round the exact value to the digits written, ± one unit in the last place, at
least --min-digits digits) and checked against Python's own decimal formatting.
"""

from __future__ import annotations

import json
from pathlib import Path

import mazur_reference
import pytest

import bptrace
from bptrace.engine import step as engine
from bptrace.engine.quantities import value as quantity_value
from bptrace.errors import AnswerSheetError
from bptrace.grading import answers, diagnose
from bptrace.grading import marking as check
from bptrace.model import names

MAZUR = bptrace.load("mazur")
LAB = diagnose.Lab(MAZUR)


def exact(name: str) -> float:
    return quantity_value(names.parse(name, MAZUR), engine.trace(MAZUR))


# ---------------------------------------------------------------------------------------------------
# Numbers as written


@pytest.mark.parametrize(
    ("text", "digits", "place"),
    [
        ("0.511301270", 9, -9),  # the trailing zero is a digit
        ("0.51130127", 8, -8),
        ("3.51e-5", 3, -7),
        ("0.0000351085", 6, -10),
        ("3.5101878e-05", 8, -12),
        ("-0.019049119", 8, -9),
        ("\u22120.019049119", 8, -9),  # a Unicode minus, as typeset
        ("100", 3, 0),
        ("1e2", 1, 2),
        (".5", 1, -1),
        ("0.750", 3, -3),
        ("0", 0, 0),
        ("0.000", 0, -3),
    ],
)
def test_significant_digits_are_read_from_the_text(text: str, digits: int, place: int) -> None:
    w = check.read_number(text)
    assert w is not None
    assert (w.digits, w.place) == (digits, place)


@pytest.mark.parametrize("text", ["0x1F", "1_000", "one", "1.2.3", "", "1e", "--1", "nan", "inf"])
def test_non_numbers_are_refused(text: str) -> None:
    assert check.read_number(text) is None


def _judge(text: str, x: float, **kw: object) -> check.Judgement:
    w = check.read_number(text)
    assert w is not None
    return check.judge(w, x, **kw)  # type: ignore[arg-type]


def test_digits_rule_with_one_unit_in_the_last_place() -> None:
    x = exact("out_o1")  # 0.751365069552...
    assert f"{x:.4f}" == "0.7514"
    assert _judge("0.7514", x).ok
    assert _judge("0.7513", x).ok and _judge("0.7515", x).ok  # ± one unit
    assert not _judge("0.7512", x).ok and not _judge("0.7516", x).ok
    assert _judge(mazur_reference.published("out_o1"), x).ok
    assert not _judge(mazur_reference.ERRATA["retelling"]["published"], x).ok  # a retelling's transcription slip


def test_a_trailing_zero_counts() -> None:
    x = exact("out_o1")
    assert _judge("0.751", x).ok
    assert not _judge("0.7510", x).ok  # four digits now: 0.7514 ± 1, and 0.7510 is not


def test_too_few_digits_are_not_correct_unless_exact() -> None:
    x = exact("w5+")  # 0.358916479718
    verdict = _judge("0.4", x)
    assert not verdict.ok and verdict.reason == "few-digits"
    assert not _judge("0.36", x).ok
    assert _judge("0.359", x).ok
    assert _judge("0.36", x, min_digits=2).ok
    # the exact value is correct however it is written: b1 is not updated in Mazur's example
    assert _judge("0.35", exact("b1+")).ok
    assert _judge("0", 0.0).ok and not _judge("0", 1e-3).ok


def test_e_notation_and_small_numbers() -> None:
    x = float(mazur_reference.ERRATA["E_total@10000"]["after_10000"])  # Mazur's loss after 10,000 updates
    assert _judge("3.51e-5", x).ok
    assert _judge("3.51e-05", x).ok
    assert _judge("0.0000351", x).ok
    assert not _judge("3.5e-5", x).ok  # two digits
    assert not _judge(mazur_reference.ERRATA["E_total@10000"]["published"], x).ok  # published, six digits, wrong


def test_tolerances_widen_never_narrow() -> None:
    x = exact("w5+")
    assert _judge("0.3580", x, rtol=1e-2).ok
    assert not _judge("0.3580", x).ok
    assert _judge("0.3580", x, atol=1e-3).ok
    assert _judge(mazur_reference.published("w5+"), x, rtol=1e-12).ok  # the digits rule still applies


# ---------------------------------------------------------------------------------------------------
# Sheets


def write(tmp_path: Path, text: str, name: str = "sheet.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def mark_text(tmp_path: Path, text: str, **options: object) -> check.SheetResult:
    sheet = answers.read(write(tmp_path, text))
    s, _ = answers.resolve_scenario(sheet)
    return check.mark(sheet, answers.bind(sheet, s), diagnose.Lab(s), check.Options(**options))  # type: ignore[arg-type]


def test_a_sheet_with_points_tolerance_and_an_empty_answer(tmp_path: Path) -> None:
    result = mark_text(
        tmp_path,
        """
scenario: mazur
student: Ada
answers:
  out_o1: 0.75136507
  w5+: {value: 0.3580, points: 2, tolerance: 1e-3}
  w6+: {value: 0.4, points: 3}
  dE_total/dw5: 0.0821670406
  dE/dw1:
""",
    )
    by = {r.quantity: r for r in result.results}
    assert result.student == "Ada"
    assert by["w5+"].correct and by["w5+"].earned == 2
    assert by["w6+"].status == "few-digits" and by["w6+"].earned == 0
    assert by["dE/dw5"].correct and by["dE/dw5"].answer.key == "dE_total/dw5"  # another spelling
    assert by["dE/dw1"].status == "unanswered"
    s = result.summary
    assert (s.total, s.answered, s.correct, s.points, s.max_points) == (5, 4, 3, 4.0, 8.0)
    assert not s.all_correct
    # the derivation's order: the forward pass, then the backward pass, then the updates
    assert [r.quantity for r in result.results] == ["out_o1", "dE/dw5", "dE/dw1", "w5+", "w6+"]


def test_the_literal_text_is_kept_through_yaml_and_json(tmp_path: Path) -> None:
    yaml_result = mark_text(
        tmp_path,
        "scenario: mazur\nanswers:\n  w7+: 0.511301270\n  E_total@1: 2.91027774e-1\n"
        "  dE/dw5: '8.2167e-2'\n  dE_o2/dout_h1: \u22120.019049119\n",
    )
    assert {r.answer.written.text: r.answer.written.digits for r in yaml_result.results if r.answer.written} == {
        "0.511301270": 9,
        "2.91027774e-1": 9,
        "8.2167e-2": 5,
        "-0.019049119": 8,
    }
    assert yaml_result.summary.all_correct
    text = json.dumps({"scenario": "mazur", "answers": {"w7+": 0.51130127, "out_h1": 0.593269992}})
    path = write(tmp_path, text.replace("0.51130127", "0.511301270"), "sheet.json")
    sheet = answers.read(path)
    assert [r.written.text for r in sheet.raw if r.written] == ["0.511301270", "0.593269992"]


def test_early_rounding_is_counted_correct_with_a_note(tmp_path: Path) -> None:
    # ∂E/∂w5 worked by hand with every intermediate rounded to 3 significant digits
    import math

    def r3(x: float) -> float:
        return float(f"{x:.2e}")

    def sigma(z: float) -> float:
        return 1 / (1 + math.exp(-z))

    out_h1 = r3(sigma(r3(0.15 * 0.05 + 0.20 * 0.10 + 0.35)))
    out_h2 = r3(sigma(r3(0.25 * 0.05 + 0.30 * 0.10 + 0.35)))
    out_o1 = r3(sigma(r3(0.40 * out_h1 + 0.45 * out_h2 + 0.60)))
    delta_o1 = r3(r3(out_o1 - 0.01) * r3(out_o1 * (1 - out_o1)))
    worked = f"{r3(delta_o1 * out_h1):.3g}"
    x = exact("dE/dw5")
    assert not _judge(worked, x).ok  # the digits rule alone does not forgive the drift
    result = mark_text(tmp_path, f"scenario: mazur\nanswers:\n  dE/dw5: {worked}\n  dE/dw6: 0.0812\n")
    by = {r.quantity: r for r in result.results}
    assert by["dE/dw5"].correct and by["dE/dw5"].codes == ["rounding"]
    assert "rounded to 3 significant digits" in by["dE/dw5"].explanation
    assert not by["dE/dw6"].correct  # 0.0812 is not what early rounding gives for w6
    assert "1 answer differs only by early rounding (accepted)" in result.summary.narrative


def test_accept_makes_a_convention_count(tmp_path: Path) -> None:
    text = f"scenario: mazur\nanswers:\n  delta_o1: {-exact('delta_o1'):.9g}\n"
    plain = mark_text(tmp_path, text)
    # alone, a negated δ is also what a sign error in ∂E/∂out gives
    assert not plain.summary.all_correct and plain.results[0].codes == ["sign-error", "delta-sign-convention"]
    # accepted only when the convention alone explains it: alone, the sign error is as good a reading
    accept = frozenset({"delta-sign-convention", "rounding"})
    assert not mark_text(tmp_path, text, accept=accept).summary.all_correct
    # with ∂E/∂out_o1 right on the sheet the sign error is ruled out, and the convention is accepted
    both = text + f"  dE/dout_o1: {exact('dE/dout_o1'):.9g}\n"
    accepted = mark_text(tmp_path, both, accept=accept)
    assert accepted.summary.all_correct and accepted.results[-1].codes == ["delta-sign-convention"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "scenario: mazur\nanswers:\n  out_o1: 0.75\n  w9+: 0.3\n",
            "sheet.yaml:4:3: answers.w9+: unknown quantity 'w9+' (did you mean w8+ or w7+ or w6+?)",
        ),
        (
            "answers:\n  out_o1: 0.75\n",
            "sheet.yaml:1: the sheet names no scenario (add 'scenario: NAME' (a bundled name or a path relative to "
            "the sheet), or pass -s SCENARIO)",
        ),
        ("scenario: mazr\nanswers:\n  out_o1: 0.75\n", "sheet.yaml:1:1: scenario: no bundled scenario named 'mazr'"),
        ("scenario: nowhere/x.yaml\nanswers:\n  out_o1: 0.75\n", "sheet.yaml:1:1: scenario: no scenario file"),
        (
            "scenario: mazur\nanswers:\n  out_o1: oops\n",
            "sheet.yaml:3:3: answers.out_o1: expected a number, got 'oops' (write a plain decimal number such as "
            "0.75136507 or 3.51e-5)",
        ),
        (
            "scenario: mazur\nanswers:\n  out_o1: [1, 2]\n",
            "sheet.yaml:3:3: answers.out_o1: expected a number, got list",
        ),
        (
            "scenario: mazur\nanswers:\n  out_o1: {value: 0.75, point: 2}\n",
            "sheet.yaml:3:25: answers.out_o1.point: unknown key 'point' (did you mean points?)",
        ),
        (
            "scenario: mazur\nanswers:\n  out_o1: {value: 0.75, points: -1}\n",
            "answers.out_o1.points: points must not be negative",
        ),
        (
            "scenario: mazur\nanswerz:\n  out_o1: 0.75\n",
            "sheet.yaml:2:1: answerz: unknown key 'answerz' (did you mean answers?)",
        ),
        (
            "scenario: mazur\nanswers:\n  dE/dw5: 0.08\n  dE_total/dw5: 0.08\n",
            "sheet.yaml:4:3: answers.dE_total/dw5: 'dE_total/dw5' is the same quantity as 'dE/dw5' (line 3)",
        ),
        ("scenario: mazur\nanswers:\n  out_o1: 0.7\n  out_o1: 0.8\n", "duplicate key 'out_o1'"),
        ("scenario: mazur\nanswers: [0.75]\n", "answers must be a mapping"),
        ("scenario: mazur\nanswers:\n  out_o1: 0.75\n   bad: [\n", "sheet.yaml:4"),
    ],
)
def test_bad_sheets_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AnswerSheetError) as info:
        sheet = answers.read(write(tmp_path, text))
        s, _ = answers.resolve_scenario(sheet)
        answers.bind(sheet, s)
    assert message in str(info.value)


def test_scenario_paths_are_relative_to_the_sheet(tmp_path: Path) -> None:
    (tmp_path / "ex").mkdir()
    (tmp_path / "ex" / "net.yaml").write_text(answers.random_exercise(3, [2, 2, 1]), encoding="utf-8")
    sheet = answers.read(write(tmp_path / "ex", "scenario: net.yaml\nanswers:\n  E_total: 0.5\n"))
    s, key = answers.resolve_scenario(sheet)
    assert key == str((tmp_path / "ex" / "net.yaml").resolve())
    assert s.title.startswith("Random exercise 2-2-1")
    # -s overrides the sheet's scenario
    s2, _ = answers.resolve_scenario(sheet, "mazur")
    assert s2.title.startswith("Mazur")


# ---------------------------------------------------------------------------------------------------
# Templates and new exercises


@pytest.mark.parametrize("name", ["mazur", "ng_shallow", "softmax_classifier", "cs224n_window"])
def test_every_template_name_parses_and_the_exact_values_mark_full(tmp_path: Path, name: str) -> None:
    s = bptrace.load(name)
    text = answers.template_text(s, name)
    sheet = answers.read(write(tmp_path, text))
    bound = answers.bind(sheet, s)  # raises if a name does not parse
    assert len(bound) == len(answers.derivation(s)) > 10
    assert all(a.written is None for a in bound)
    # filled with the exact values, every answer is right
    t = engine.trace(s)
    filled = (
        "scenario: "
        + name
        + "\nanswers:\n"
        + "".join(f"  {json.dumps(a.key)}: {quantity_value(a.quantity, t)!r}\n" for a in bound)
    )
    result = mark_text(tmp_path, filled)
    assert result.summary.all_correct, [r.quantity for r in result.results if not r.correct]


def test_template_sections() -> None:
    text = answers.template_text(MAZUR, "mazur", {"forward"})
    assert "out_o1:" in text and "delta_o1" not in text and "w5+" not in text
    text = answers.template_text(MAZUR, "mazur", {"updates"})
    assert "w5+:" in text and "E_total@1:" in text and "net_h1" not in text
    assert "# updates, layer 2 (η = 0.5)" in text


@pytest.mark.parametrize(
    ("seed", "shape", "loss"), [(1, [2, 2, 2], "half_sse"), (7, [3, 4, 2, 1], "bce"), (12, [2, 3, 3], "cross_entropy")]
)
def test_new_exercises_are_deterministic_and_load(seed: int, shape: list[int], loss: str) -> None:
    a = answers.random_exercise(seed, shape, loss=loss, samples=2)
    assert a == answers.random_exercise(seed, shape, loss=loss, samples=2)
    assert a != answers.random_exercise(seed + 1, shape, loss=loss, samples=2)
    s = bptrace.loads(a)
    assert [len(s.input_names)] + [layer.size for layer in s.layers] == shape
    assert s.loss == loss and s.samples == 2
    for layer in s.layers:  # two decimals, never 0
        for w in layer.weights.flat:
            assert w != 0 and round(w, 2) == w
    engine.trace(s)


def test_a_short_wrong_answer_is_wrong_not_merely_short() -> None:
    """0.5 for out_o1 = 0.75136507 is wrong, whatever its digits; 0.75 is right as far as it goes."""
    from bptrace.grading.marking import judge, read_number

    x = exact("out_o1")
    assert judge(read_number("0.5"), x, min_digits=3).reason == "wrong"
    assert judge(read_number("0.75"), x, min_digits=3).reason == "few-digits"
