"""`bptrace run`, `explain`, `check` and `template` on recurrent scenarios: the numbers shown against the
independent oracle (tests/rnn_oracle.py), every format, the misconceptions, and bad input (one located line,
exit 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.fmt import num
from bptrace.model.scenario import BUNDLED_DIR, bundled_names, bundled_rnn_names
from bptrace.rnn import engine, model
from tests.rnn_oracle import oracle_for

RNNS = bundled_rnn_names()
TINY = (BUNDLED_DIR / "rnn_tiny.yaml").read_text(encoding="utf-8")


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_bundled_rnns_are_listed_apart_from_the_networks() -> None:
    assert RNNS == ["rnn_last_truncated", "rnn_tiny"]
    assert not set(RNNS) & set(bundled_names())
    code, out, _ = run("scenarios")
    assert code == 0 and "rnn_tiny" in out and "A tiny RNN" in out


@pytest.mark.parametrize("name", RNNS)
def test_run_verifies_every_bundled_rnn(name: str) -> None:
    code, out, err = run("run", name)
    assert code == 0, err
    assert "All checks agree." in out
    s = model.load(name)
    oracle = oracle_for((BUNDLED_DIR / f"{name}.yaml").read_text(encoding="utf-8")).named()
    for key, value in oracle.items():  # every gradient shown, to 9 digits, is the oracle's
        assert re.search(rf"{re.escape(key)} .* {re.escape(num(value))} ", out), key
    assert f"delta_h1@t{s.steps}" in out and "dE/dh1@t0" in out


def test_run_json_is_the_oracle_and_documented_keys() -> None:
    code, out, err = run("run", "rnn_tiny", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["kind"] == "rnn" and data["verification"]["ok"] and data["verification"]["sympy"] == "all"
    oracle = oracle_for(TINY)
    assert data["loss"]["total"] == pytest.approx(oracle.total_loss(), rel=1e-12)
    for p in data["parameters"]:
        want = oracle.named()[f"dE/d{p['name']}"]
        assert p["grad"] == pytest.approx(want, rel=1e-8)
        assert p["grad"] == pytest.approx(sum(p["terms"]), rel=1e-13)
        assert p["new_value"] == p["value"] - 0.1 * p["grad"]
    assert data["quantities"]["dE/dW_hh_1_2"] == data["parameters"][3]["grad"]
    assert [b["t"] for b in data["backward"]] == [3, 2, 1]
    docs = (Path(__file__).parent.parent / "docs" / "json.md").read_text(encoding="utf-8")
    for key in ("per_loss", "from_next_state", "dropped_by_truncation", "dE_dh0", "quantities"):
        assert key in docs, key


@pytest.mark.parametrize("width", ["60", "200"])
def test_terminal_fits_the_width(width: str) -> None:
    code, out, _ = run("run", "rnn_last_truncated", "--verify", "off", env={"COLUMNS": width})
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= int(width), width
    assert "Truncated BPTT, k = 2" in out and "What the truncation (k = 2) drops" in out


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_documents(fmt: str, tmp_path: Path) -> None:
    target = tmp_path / f"out.{fmt}"
    code, _out, err = run("run", "rnn_tiny", "--verify", "off", "--format", fmt, "-o", str(target))
    assert code == 0, err
    text = target.read_text(encoding="utf-8")
    assert "0.257626406" in text.replace("−", "-")  # −∂E/∂W_hh_1_2's digits, in every format


def test_explain_the_sum_over_the_steps() -> None:
    code, out, err = run("explain", "dE/dW_hh_1_2", "-s", "rnn_tiny", env={"COLUMNS": "120"})
    assert code == 0, err
    t = engine.trace(model.load("rnn_tiny"))
    terms = [num(v) for v in t.contributions["W_hh_1_2"][1:]]
    assert "one term per time step" in out and "All checks agree." in out
    for term in terms:
        assert term in out
    assert num(t.grads["W_hh_1_2"]) in out
    code, out, _ = run("explain", "dE/dW_hh_1_2", "-s", "rnn_tiny", "--format", "json")
    data = json.loads(out)
    assert [x["term"] for x in data["terms"]] == [float(v) for v in t.contributions["W_hh_1_2"][1:]]


def test_explain_a_delta_shows_each_losss_share() -> None:
    code, out, _ = run("explain", "δ_h1@t1", "-s", "rnn_tiny", env={"COLUMNS": "120"})
    assert code == 0
    t = engine.trace(model.load("rnn_tiny"))
    assert sum(float(t.e[(k, 1)][0]) for k in (1, 2, 3)) == pytest.approx(t.delta_h[1][0], rel=1e-14)
    for k in (1, 2, 3):
        assert num(float(t.e[(k, 1)][0])) in out


def test_explain_an_unknown_name() -> None:
    code, _out, err = run("explain", "dE/dW_hh_9", "-s", "rnn_tiny")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "did you mean" in err


def _sheet(tmp_path: Path, answers: dict[str, str], scenario: str = "rnn_tiny") -> str:
    path = tmp_path / "sheet.yaml"
    body = "\n".join(f"  {k}: {v}" for k, v in answers.items())
    path.write_text(f"scenario: {scenario}\nstudent: Ada\nanswers:\n{body}\n", encoding="utf-8")
    return str(path)


def test_template_then_check_and_the_misconceptions(tmp_path: Path) -> None:
    code, out, _ = run("template", "rnn_tiny")
    assert code == 0 and "dE/dW_hh_1_2:" in out and "delta_h1@t3:" in out and "W_hh_1_2+:" in out
    s = model.load("rnn_tiny")
    t = engine.trace(s)
    last = engine.trace(s, "last-step-only").grads["W_xh_1_1"]
    norec = engine.trace(s, "no-recurrent-path").quantities()["delta_h1@t2"]
    sheet = _sheet(
        tmp_path,
        {
            "dE/dW_hh_1_2": num(t.grads["W_hh_1_2"]),
            "dE/dW_xh_1_1": num(last),
            "delta_h1@t2": num(norec),
            "W_hh_1_2+": num(t.new_values["W_hh_1_2"]),
        },
    )
    code, out, err = run("check", sheet, "--format", "json")
    assert code == 1, err
    marks = {a["key"]: a for a in json.loads(out)[0]["answers"]}
    assert marks["dE/dW_hh_1_2"]["correct"] and marks["W_hh_1_2+"]["correct"]
    assert "last-step-only" in marks["dE/dW_xh_1_1"]["diagnoses"]
    assert "no-recurrent-path" in marks["delta_h1@t2"]["diagnoses"]
    code, out, _ = run("check", sheet, env={"COLUMNS": "150"})
    assert code == 1 and "only the last step's term" in out


def test_truncation_mistakes_are_named(tmp_path: Path) -> None:
    s = model.load("rnn_last_truncated")
    wrong = engine.trace(s, "no-truncation").grads["W_xh_1_1"]
    short = engine.trace(s, "truncate-short").grads["W_xh_1_1"]
    sheet = _sheet(tmp_path, {"dE/dW_xh_1_1": num(wrong), "dE/dW_xh_2_1": "1"}, "rnn_last_truncated")
    code, out, _ = run("check", sheet, "--format", "json")
    marks = {a["key"]: a for a in json.loads(out)[0]["answers"]}
    assert code == 1 and "no-truncation" in marks["dE/dW_xh_1_1"]["diagnoses"]
    assert short != engine.trace(s).grads["W_xh_1_1"]


# ---- bad input ----

BAD = [
    ("", "targets: [0.5, -0.5, 0.25]", "targets: [0.5]", "targets has 1 entries for 3 time steps"),
    ("", "W_hh: [[0.25, -0.5], [0.5, 0.25]]", "W_hh: [[0.25], [0.5]]", "W_hh must be square"),
    ("", "activation: tanh", "activation: tanhh", "did you mean tanh?"),
    ("", "loss_at: every", "loss_at: sometimes", "loss_at must be every or last"),
    ("", "learning_rate: 0.1", "learning_rate: 0.1\ntruncate: 0", "truncate must be a whole number"),
    ("", "learning_rate: 0.1", "learning_rate: 0.1\nwindow: 2", "unknown key 'window'"),
    ("", "inputs: [1.0, 0.5, -1.0]", "inputs: [" + ", ".join(["0.5"] * 11) + "]", "at most 10"),
    ("", "W_xh: [[0.5], [-0.25]]", "W_xh: [[0.5, 1], [-0.25, 1]]", "expected 1"),
    ("", "loss: half_sse", "loss: bce", "bce needs outputs between 0 and 1"),
    ("", "b_h: [0.0, 0.0]", "b_h: [0.0, zero]", "expected a number"),
]


@pytest.mark.parametrize(("_pre", "old", "new", "message"), BAD, ids=[b[3][:24] for b in BAD])
def test_bad_input_is_one_located_line(tmp_path: Path, _pre: str, old: str, new: str, message: str) -> None:
    assert old in TINY
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace(old, new, 1), encoding="utf-8")
    for command in (["run", str(path)], ["explain", "dE/dW_hh_1_1", "-s", str(path)], ["template", str(path)]):
        code, out, err = run(*command)
        assert code == 2, (command, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert message in lines[0], lines[0]
        assert re.match(rf"bptrace: error: {re.escape(str(path))}:\d+:\d+: ", lines[0]) or re.match(
            rf"bptrace: error: {re.escape(str(path))}:\d+: ", lines[0]
        ), lines[0]
        assert "Traceback" not in err


def test_a_network_command_refuses_an_rnn_with_the_way_out() -> None:
    code, _out, err = run("compare", "rnn_tiny", "--vary", "loss=sse,mse")
    assert code == 2 and "kind: rnn" in err and len(err.strip().splitlines()) == 1


def test_notation_is_refused() -> None:
    code, _out, err = run("run", "rnn_tiny", "--notation", "matrix")
    assert code == 2 and "--notation matrix" in err


# ---- Chinese ----


@pytest.mark.parametrize(
    "args",
    [
        ["run", "rnn_last_truncated"],
        ["run", "rnn_tiny", "--verify", "off"],
        ["explain", "dE/dW_hh_1_2", "-s", "rnn_tiny"],
        ["explain", "delta_h1@t1", "-s", "rnn_tiny", "--no-checks"],
        ["template", "rnn_tiny"],
    ],
)
def test_chinese_has_no_english_prose(args: list[str]) -> None:
    from tests.i18n_tools import prose_lines

    code, out, err = run(*args, "--lang", "zh", env={"COLUMNS": "120"})
    assert code == 0, err
    # the source's English article title stands inside 《》 (a wrapped line may hold part of it)
    lines = [line for line in out.splitlines() if "《" not in line and "》" not in line]
    assert prose_lines("\n".join(lines)) == [], out
    assert re.search(r"[\u4e00-\u9fff]", out)


def test_chinese_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace("loss_at: every", "loss_at: sometimes"), encoding="utf-8")
    code, _out, err = run("run", str(path), "--lang", "zh")
    assert code == 2 and "loss_at 必须是 every 或 last" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: rnn\ninputs: [1, 2\n", "invalid YAML"),
        ("kind: rnn\ninputs: [1]\ninputs: [2]\n", "duplicate key"),
        ("kind: rnn\ninputs: !!python/object:os.system [1]\n", "is not allowed"),
        ("kind: rnn\ninputs: [1]\ntargets: [1]\nloss: half_sse\noutput: {activation: linear, W_hy: [[1]]}\n", "hidden"),
    ],
)
def test_broken_files_are_one_located_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    code, _out, err = run("run", str(path))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and message in err and f"{path}:" in err


def test_the_schema_knows_rnn_files() -> None:
    import jsonschema
    import yaml

    schema = json.loads((BUNDLED_DIR.parent / "scenario.schema.json").read_text(encoding="utf-8"))
    texts = [(BUNDLED_DIR / f"{n}.yaml").read_text(encoding="utf-8") for n in RNNS]
    texts += [p.read_text(encoding="utf-8") for p in sorted((Path(__file__).parent / "data" / "rnn").glob("*.yaml"))]
    for text in texts:
        jsonschema.validate(yaml.safe_load(text), schema)
        model.loads(text)
    for old, new in (("loss_at: every", "loss_at: sometimes"), ("learning_rate: 0.1", "window: 2"), ("tanh", "tan")):
        data = yaml.safe_load(TINY.replace(old, new))
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(data, schema)


def test_explain_a_steps_term_an_update_and_a_forward_value() -> None:
    t = engine.trace(model.load("rnn_tiny"))
    code, out, _ = run("explain", "dE/dW_hh_1_2@t3", "-s", "rnn_tiny")
    assert code == 0
    assert (
        f"= delta_h1@t3·h2@t2 = ({num(t.delta_h[3][0])})·{num(t.h[2][1])} = {num(t.contributions['W_hh_1_2'][3])}"
        in out
    )
    code, out, _ = run("explain", "W_hh_1_2⁺", "-s", "rnn_tiny")
    assert code == 0 and f"= -0.5 - 0.1·({num(t.grads['W_hh_1_2'])}) = {num(t.new_values['W_hh_1_2'])}" in out
    code, out, _ = run("explain", "h1@t2", "-s", "rnn_tiny")
    assert code == 0 and f"tanh({num(t.net_h[2][0])}) = {num(t.h[2][0])}" in out
    code, out, _ = run("explain", "--list", "-s", "rnn_tiny")
    assert code == 0 and "dE/dW_hh_1_2@t3" in out.splitlines() and "delta_h2@t1" in out.splitlines()


@pytest.mark.parametrize(
    "args", [["run", "rnn_last_truncated", "--verify", "off"], ["explain", "dE/dW_hh_1_1", "-s", "rnn_tiny"]]
)
def test_ascii_output_is_ascii(args: list[str]) -> None:
    code, out, _ = run(*args, "--ascii")
    assert code == 0 and out.isascii(), sorted({c for c in out if not c.isascii()})


# ---- numbers float64 cannot hold (found by the attack of 2026-12-02) ----

OVERFLOWS = [
    # W_hy·h overflows in the backward pass only: numpy's RuntimeWarnings on stderr, then exit 1 ("SymPy's value
    # of the loss is inf") instead of one line and exit 2
    ("W_hy: [[1.0, -1.0]]", "W_hy: [[1e200, 1e200]]"),
    ("W_hy: [[1.0, -1.0]]", "W_hy: [[1e308, -1e308]]"),
    # the forward pass overflows: the message named no file
    ("W_hh: [[0.25, -0.5], [0.5, 0.25]]", "W_hh: [[1e308, -1e308], [1e308, 1e308]]"),
    # the update overflows: θ − η·∂E/∂θ beyond float64
    ("learning_rate: 0.1", "learning_rate: 1e308\n# and a large gradient:"),
]


@pytest.mark.parametrize(("old", "new"), OVERFLOWS, ids=[f"overflow{i}" for i in range(len(OVERFLOWS))])
def test_numbers_beyond_float64_are_one_line_naming_the_file(tmp_path: Path, old: str, new: str) -> None:
    assert old in TINY
    text = TINY.replace(old, new, 1)
    if "learning_rate: 1e308" in new:
        text = text.replace("W_hy: [[1.0, -1.0]]", "W_hy: [[30.0, -30.0]]")
    path = tmp_path / "big.yaml"
    path.write_text(text, encoding="utf-8")
    for command in (["run", str(path)], ["explain", "dE/dW_hh_1_1", "-s", str(path)]):
        code, out, err = run(*command)
        assert code == 2, (command, code, out[-300:], err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"bptrace: error: {path}: "), lines
        assert "float64" in lines[0] and "Warning" not in err and "internal error" not in err, lines[0]


def test_a_saturated_output_under_bce_names_the_file(tmp_path: Path) -> None:
    """σ(1000·h) is exactly 1 in float64: bce's log of 0 was one line naming no file."""
    text = (
        TINY.replace("activation: linear", "activation: sigmoid")
        .replace("loss: half_sse", "loss: bce")
        .replace("targets: [0.5, -0.5, 0.25]", "targets: [0.5, 0.5, 0.25]")
        .replace("W_hy: [[1.0, -1.0]]", "W_hy: [[1e3, -1e3]]")
    )
    path = tmp_path / "sat.yaml"
    path.write_text(text, encoding="utf-8")
    code, out, err = run("run", str(path))
    assert (code, out) == (2, "")
    assert err.startswith(f"bptrace: error: {path}: the output at step 1 is exactly 0 or 1") and err.count("\n") == 1


def test_a_kink_crossed_by_the_finite_difference_is_said_in_chinese_too(tmp_path: Path) -> None:
    # relu units at net = 0 (inputs and biases 0): the finite difference crosses the kink and is not judged;
    # the reason named the kink in English inside the Chinese sentence
    path = tmp_path / "kink.yaml"
    path.write_text(
        "kind: rnn\ninputs: [0.0, 0.0, 0.0]\ntargets: [0.5, -0.5, 0.25]\nh0: [0, 0]\n"
        "hidden:\n  activation: relu\n  W_xh: [[0.5], [-0.25]]\n  W_hh: [[0.25, -0.5], [0.5, 0.25]]\n"
        "  b_h: [0.0, 0.0]\noutput:\n  activation: linear\n  W_hy: [[1.0, -1.0]]\n  b_y: [0.0]\n"
        "loss: half_sse\nlearning_rate: 0.1\n",
        encoding="utf-8",
    )
    english = CliRunner().invoke(main, ["run", str(path), "--lang", "en"], env={"COLUMNS": "200"})
    assert "crosses a kink of an activation" in english.output
    chinese = CliRunner().invoke(main, ["run", str(path), "--lang", "zh"], env={"COLUMNS": "200"})
    assert "跨过了某个激活函数的不可导点" in chinese.output and "a kink of" not in chinese.output


def test_a_recurrent_sheet_after_a_network_sheet_says_to_check_them_apart(tmp_path: Path) -> None:
    runner = CliRunner()
    net = runner.invoke(main, ["template", "mazur"]).output
    rnn = runner.invoke(main, ["template", "rnn_tiny"]).output
    (tmp_path / "net.yaml").write_text(net, encoding="utf-8")
    (tmp_path / "rnn.yaml").write_text(rnn, encoding="utf-8")
    sheets = [str(tmp_path / "net.yaml"), str(tmp_path / "rnn.yaml")]
    result = runner.invoke(main, ["check", *sheets, "--lang", "en"])
    assert result.exit_code == 2
    assert "check marks their sheets in a command of its own, not with networks' sheets" in result.output
