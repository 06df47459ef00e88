"""What a newcomer tripped on: each is a one-line message with the way out, exit 2 (issue: output that fits)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main

NET = "inputs: [0.1]\ntargets: [{target}]\n{extra}layers:\n  - activation: {activation}\n    weights: [[0.3]]\n"


def _run(tmp_path: Path, text: str, *args: str) -> tuple[int, str]:
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["run", str(path), *args])
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("key", "meant"),
    [("lr", "learning_rate"), ("eta", "learning_rate"), ("alpha", "learning_rate"), ("lambda", "l2"), ("cost", "loss")],
)
def test_a_key_other_texts_use_gets_did_you_mean(tmp_path: Path, key: str, meant: str) -> None:
    code, err = _run(tmp_path, NET.format(target=0.5, extra=f"{key}: 0.1\n", activation="sigmoid"))
    assert code == 2
    assert err.strip().endswith(f"s.yaml:3:1: {key}: unknown key '{key}' (did you mean {meant}?)")


def test_cross_entropy_with_one_sigmoid_output_suggests_bce(tmp_path: Path) -> None:
    code, err = _run(tmp_path, NET.format(target=1, extra="loss: cross_entropy\n", activation="sigmoid"))
    assert code == 2 and "write loss: bce" in err and "softmax (it is" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("name", "close"), [("w9", "w8"), ("dE/dw9", "dE/dw8"), ("b3", "b2"), ("w9+", "w8+")])
def test_every_unknown_name_gets_did_you_mean(name: str, close: str) -> None:
    result = CliRunner().invoke(main, ["explain", name])
    assert result.exit_code == 2
    assert "did you mean" in result.stderr and close in result.stderr and "Traceback" not in result.stderr


def test_repeated_vary_is_refused_not_silently_dropped() -> None:
    args = ["compare", "mazur", "--vary", "learning_rate=0.5,0.1", "--vary", "biases=frozen,shared"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "--vary given 2 times (learning_rate, biases)" in result.stderr
    assert "once for each --vary" in result.stderr


def test_the_documented_defaults_are_the_defaults() -> None:
    import re

    from bptrace.model.scenario import loads

    s = loads("inputs: [0.1]\ntargets: [0.5]\nlayers:\n  - activation: sigmoid\n    weights: [[0.3]]\n")
    doc = (Path(__file__).parent.parent / "docs" / "scenarios.md").read_text(encoding="utf-8")
    assert re.search(rf"^loss: {s.loss} +# default {s.loss}\b", doc, re.M)
    assert re.search(rf"^learning_rate: {s.learning_rate:g} +# default {s.learning_rate:g}\b", doc, re.M)
    assert re.search(rf"^update_biases: true +# default {str(s.update_biases).lower()}\b", doc, re.M)
    assert re.search(rf"^reduction: mean +# default {s.reduction}\b", doc, re.M)
