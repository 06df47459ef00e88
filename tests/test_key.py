"""The teacher's key: `bptrace key` writes one that reads back, follows its JSON Schema, and bad keys exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import bptrace
from bptrace.cli.main import main
from bptrace.errors import KeyFileError
from bptrace.grading import key as key_mod
from bptrace.grading.answers import derivation
from bptrace.model.scenario import bundled_names, load

SCHEMA = json.loads((Path(bptrace.__file__).parent / "key.schema.json").read_text(encoding="utf-8"))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("name", bundled_names())
def test_a_written_key_reads_back_and_follows_the_schema(name: str, tmp_path: Path) -> None:
    import jsonschema

    code, text, err = run("key", name)
    assert code == 0 and err == ""
    jsonschema.validate(yaml.safe_load(text), SCHEMA)
    path = tmp_path / "key.yaml"
    path.write_text(text, encoding="utf-8")
    k = key_mod.read(path)
    s = load(name)
    # every quantity of the derivation, in its order, 1 point each, the default rules
    assert [q.quantity.name for q in k.questions] == [n for _, _, n in derivation(s)]
    assert all(q.points == 1 for q in k.questions)
    assert k.rules == key_mod.Rules()
    assert k.scenario.title == s.title


def test_key_only_and_relative_scenario_path(tmp_path: Path) -> None:
    ex = tmp_path / "ex.yaml"
    ex.write_text(run("new", "--seed", "3")[1], encoding="utf-8")
    (tmp_path / "keys").mkdir()
    out = tmp_path / "keys" / "k.yaml"
    assert run("key", str(ex), "--only", "updates", "-o", str(out))[0] == 0
    text = out.read_text(encoding="utf-8")
    assert "scenario: ../ex.yaml" in text
    k = key_mod.read(out)
    assert {q.quantity.kind for q in k.questions} == {"updated", "after"}


def test_rules_and_points_are_read(tmp_path: Path) -> None:
    path = tmp_path / "k.yaml"
    path.write_text(
        "exercise: {scenario: mazur}\n"
        "rules: {min_digits: 4, rtol: 1e-6, tolerance: 0.001, accept: [delta-sign-convention],\n"
        "        follow_through: 0.5, misconceptions: {missing-learning-rate: 0.25}, diagnose: false}\n"
        "questions:\n  out_o1: 2\n  w5+: {points: 3, tolerance: 1e-4}\n  ∂E/∂w5:\n",
        encoding="utf-8",
    )
    k = key_mod.read(path)
    assert k.rules == key_mod.Rules(
        4, 1e-6, 0.001, frozenset({"delta-sign-convention"}), 0.5, {"missing-learning-rate": 0.25}, False
    )
    assert [(q.quantity.name, q.points, q.tolerance) for q in k.questions] == [
        ("out_o1", 2.0, None),
        ("w5+", 3.0, 1e-4),
        ("dE/dw5", 1.0, None),
    ]
    assert k.max_points == 6


BAD_KEYS = [
    ("questions: {out_o1: 1}\n", "k.yaml:1:1: exercise: the key needs exercise: {scenario: NAME}"),
    (
        "exercise: {scenario: mazur}\nrule: {}\nquestions: {out_o1: 1}\n",
        "k.yaml:2:1: rule: unknown key 'rule' (did you mean rules?)",
    ),
    (
        "exercise: {scenario: mazur}\nquestions:\n  out_o1: 1\n  w9+: 1\n",
        "k.yaml:4:3: questions.w9+: unknown quantity 'w9+'",
    ),
    (
        "exercise: {scenario: mazur}\nrules: {accept: [delta-sign]}\nquestions: {out_o1: 1}\n",
        "k.yaml:2:18: rules.accept[0]: unknown diagnosis code 'delta-sign' (did you mean delta-sign-convention?)",
    ),
    (
        "exercise: {scenario: mazur}\nrules: {follow_through: 2}\nquestions: {out_o1: 1}\n",
        "k.yaml:2:9: rules.follow_through: a share of the points is from 0 to 1, got 2",
    ),
    (
        "exercise: {scenario: mazur}\nquestions: {out_o1: -1}\n",
        "k.yaml:2:13: questions.out_o1: points must not be negative, got -1",
    ),
    ("exercise: {scenario: nope}\nquestions: {out_o1: 1}\n", "k.yaml:1:12: exercise.scenario: no bundled scenario"),
    ("exercise: {scenario: mazur}\nquestions: {}\n", "k.yaml:2:1: questions: questions must map each quantity"),
]


@pytest.mark.parametrize(("text", "message"), BAD_KEYS)
def test_bad_keys_exit_2_with_file_line_column(text: str, message: str, tmp_path: Path) -> None:
    import jsonschema

    path = tmp_path / "k.yaml"
    path.write_text(text, encoding="utf-8")
    sheet = tmp_path / "s.yaml"
    sheet.write_text("answers: {out_o1: 0.75136507}\n", encoding="utf-8")
    with pytest.raises(KeyFileError):
        key_mod.read(path)
    code, out, err = run("check", str(sheet), "--key", str(path))
    assert code == 2 and out == ""
    assert err.startswith("bptrace: error: ") and message in err.replace(str(tmp_path) + "/", ""), err
    assert "Traceback" not in err
    if "nope" not in text and "w9+" not in text:  # the schema knows no scenario's names
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(yaml.safe_load(text), SCHEMA)
