"""`bptrace explain TARGET` and bptrace.explain: the worked derivation of one quantity.

Oracles: Mazur's published numbers (tests/data/mazur_reference.yaml), names.value (the vocabulary's own lookup of
every quantity in the trace), SymPy's derivative of each local factor, finite differences, pdflatex.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from decimal import Decimal

import pytest
import tools
from click.testing import CliRunner
from mazur_reference import ERRATA, exact, published

import bptrace
import bptrace.model.scenario
from bptrace.cli.main import main
from bptrace.engine.quantities import value as quantity_value
from bptrace.explain.derivation import Explanation, explain
from bptrace.model import names
from bptrace.model.scenario import bundled_names
from bptrace.render.explain_latex import explanation_latex, explanation_markdown
from bptrace.render.explain_text import sections

NUMBER = re.compile(r"-?\d+\.\d+(?:e-?\d+)?")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def shows(out: str, number: str) -> bool:
    """`number` (as published) appears in `out` to its printed decimals, ± one unit in the last place.

    Mazur prints 9 decimals, sometimes from rounded intermediates (−0.019049119 is one unit from the exact
    −0.0190491183); bptrace prints 9 significant digits. Compare to the digits published, ± one unit in the
    last place (tests/data/mazur_reference.yaml).
    """
    target = Decimal(number.replace("−", "-"))
    ulp = Decimal(1).scaleb(target.as_tuple().exponent)  # type: ignore[arg-type]
    for text in NUMBER.findall(out):
        if "e" in text or len(text.split(".")[1]) < -int(target.as_tuple().exponent):
            continue
        if abs(Decimal(text).quantize(ulp) - target) <= ulp:
            return True
    return False


@pytest.fixture(scope="module")
def mazur() -> bptrace.Trace:
    return bptrace.run("mazur")


# ---- Mazur's post, number by number ----


def test_explain_w5_shows_mazurs_numbers() -> None:
    code, out, err = run("explain", "w5")
    assert code == 0, err
    # the post's numbers that bptrace's nine significant digits print exactly as published
    for name in ("dE/dout_o1", "dout_o1/dnet_o1", "out_h1", "w5+", "delta_o1"):
        assert published(name) in out, name
    # ∂E_total/∂w5: the post prints 0.082167041 (9 decimals), bptrace 0.0821670406 (9 significant digits)
    assert f"{float(exact('dE/dw5')):.9g}" in out
    assert shows(out, published("dE/dw5"))
    assert "w5 ──► net_o1 ──► out_o1 ──► E_o1 ──► E_total" in out
    assert "∂E_total/∂w5 = ∂E_total/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5" in out
    assert "∂E_total/∂w5 = 0.74136507 × 0.186815602 × 0.593269992 = 0.0821670406" in out
    assert "w5⁺ = w5 - η·∂E_total/∂w5 = 0.4 - 0.5 × 0.0821670406 = 0.35891648" in out  # one minus sign: ASCII
    assert "derived by SymPy" in out


def test_explain_w1_writes_out_the_sum_over_paths() -> None:
    code, out, err = run("explain", "w1")
    assert code == 0, err
    for name in ("dout_h1/dnet_h1", "w1+"):
        assert published(name) in out, name
    assert "0.05" in out  # i1
    for name in ("dE_o1/dout_h1", "dE_o2/dout_h1", "dE/dout_h1", "dE/dw1"):
        assert shows(out, published(name)), name
    # both paths, and each term of the sum with its δ·w
    assert "w1 ──► net_h1 ──► out_h1 ──► net_o1 ──► out_o1 ──► E_o1 ──► E_total" in out
    assert "w1 ──► net_h1 ──► out_h1 ──► net_o2 ──► out_o2 ──► E_o2 ──► E_total" in out
    assert "∂E_o1/∂out_h1 = δ_o1·w5 = (0.74136507 × 0.186815602) × 0.4 = 0.138498562 × 0.4 = 0.0553994247" in out
    assert "∂E_o2/∂out_h1 = δ_o2·w7 =" in out and "= -0.0190491183" in out
    assert "∂E_total/∂out_h1 = 0.0553994247 + (-0.0190491183) = 0.0363503064" in out
    assert "∂E_total/∂w1 = 0.0363503064 × 0.241300709 × 0.05 = 0.000438567734" in out


def test_explain_frozen_bias_says_it_is_not_updated() -> None:
    code, out, _ = run("explain", "b2")
    assert code == 0
    assert "not updated" in out
    assert "b2⁺ = b2 = 0.6" in out
    assert "δ_o1 + δ_o2" in out


def test_intermediates_of_mazur(mazur: bptrace.Trace) -> None:
    # each value as bptrace prints it: the reference's exact value to nine significant digits
    for target, value in (
        *[(name, exact(name)) for name in ("net_h1", "out_o1", "E_o1", "E_total", "dE/dout_h1", "dE_o1/dout_h1")],
        ("dnet_o1/dw5", exact("out_h1")),
        ("dout_o1/dnet_o1", exact("dout_o1/dnet_o1")),
        ("E_total@1", ERRATA["E_total@1"]["exact"]),  # the post's own rule (it prints the erratum)
    ):
        value = f"{float(value):.9g}"
        code, out, err = run("explain", target)
        assert code == 0, (target, err)
        assert f"= {value}" in out.splitlines()[1], (target, out.splitlines()[:2])


def test_aliases_explain_the_same_quantity(mazur: bptrace.Trace) -> None:
    a = explain(mazur, "dE_total/dw5", checks=False)
    b = explain(mazur, "dE/dw5", checks=False)
    assert a.target == b.target == "dE/dw5"
    assert a.value == b.value == mazur.grad(mazur.scenario.parameter("w5"))
    assert explain(mazur, "dE/dnet_h1", checks=False).value == explain(mazur, "delta_h1", checks=False).value


# ---- every name of every bundled scenario ----


def _spellings(s: bptrace.Scenario) -> list[str]:
    """Every name, with the first and last sample (and corrupt window) where a name has one per sample."""
    m = s.samples
    out = []
    for name in names.all_names(s):
        if names.parse_or_none(name, s) is not None:
            out.append(name)
        if m > 1 or s.max_margin:
            out += [f"{name}:1", f"{name}:{m}"]
        if s.max_margin:
            out += [f"{name}:1c", f"{name}:{m}c"]
    return list(dict.fromkeys(out))


@pytest.mark.parametrize("scenario", bundled_names())
def test_every_name_explains_to_its_value(scenario: str) -> None:
    """Each explanation arrives, by its own arithmetic, at names.value of the quantity."""
    t = bptrace.run(scenario)
    s = t.scenario
    count = 0
    for spelled in _spellings(s):
        q = names.parse_or_none(spelled, s)
        if q is None:
            continue
        ex = explain(t, q, symbolic=False, checks=False)
        expected = quantity_value(q, t)
        assert math.isclose(ex.value, expected, rel_tol=1e-12, abs_tol=1e-15), (spelled, ex.value, expected)
        text = explanation_markdown(ex)
        assert ex.target in text.replace("\\_", "_")
        count += 1
    assert count >= len(s.parameters())


def _one_of_each_kind(s: bptrace.Scenario) -> list[str]:
    chosen: dict[tuple[str, bool], str] = {}
    for spelled in _spellings(s):
        q = names.parse_or_none(spelled, s)
        if q is not None and q.kind != "after":
            chosen.setdefault((q.kind, q.sample is None), spelled)
    return list(chosen.values())


@pytest.mark.parametrize("scenario", bundled_names())
def test_sympy_derives_each_factor_as_the_engine_computes_it(scenario: str) -> None:
    t = bptrace.run(scenario)
    for spelled in _one_of_each_kind(t.scenario):
        ex = explain(t, spelled, checks=False)
        derivations = [st.derivative for st in ex.steps if st.derivative is not None]
        derivations += [term.derivative for st in ex.steps for term in st.terms if term.derivative is not None]
        for d in derivations:
            assert d.agrees is True, (spelled, d.of.text, d.value)
            assert d.pretty and d.latex and d.pretty_ascii.isascii()
        sections(ex)  # the terminal layout renders


@pytest.mark.parametrize("scenario", bundled_names())
def test_checks_agree_for_a_weight_and_a_hidden_delta(scenario: str) -> None:
    t = bptrace.run(scenario)
    params = t.scenario.parameters()
    for target in (params[0].name, params[-1].name):
        ex = explain(t, target)
        assert [c.method for c in ex.checks] == ["chain rule", "SymPy", "finite difference"]
        assert ex.ok, ex.checks
    if len(t.scenario.layers) > 1:
        x = t.scenario.layers[0].neurons[0]
        window = ":1" if t.scenario.max_margin else ""  # max_margin: delta has one value per window
        ex = explain(t, f"delta_{x}{window}")
        assert ex.ok and ex.checks[-1].method == "finite difference", ex.checks


@pytest.mark.parametrize("name,target", [("mazur", "w1"), ("learner_004_l2", "W1_1_2"), ("cs224n_window", "W1_1_9")])
def test_checks_are_the_verifications_own(name: str, target: str, verified) -> None:
    """explain shows the same SymPy and finite-difference values as `run`'s verification table."""
    t, v = verified(name)  # computed once per session (conftest.py)
    row = v.check(target)
    ex = explain(t, target)
    assert ex.ok
    assert [c.value for c in ex.checks] == [row.chain_rule, row.sympy, row.finite_difference]


def test_l2_penalty_enters_the_gradient_and_the_loss() -> None:
    text = (bptrace.model.scenario.BUNDLED_DIR / "mazur.yaml").read_text(encoding="utf-8") + "\nl2: 0.1\n"
    t = bptrace.run(bptrace.loads(text, "mazur_l2.yaml"))
    ex = explain(t, "w5")
    # ∂E_total/∂w5 = chain rule + (λ/m)·w5 = 0.0821670406 + 0.1 × 0.4
    assert ex.penalty is not None and ex.penalty.value == pytest.approx(0.0821670405642 + 0.04, rel=1e-12)
    assert ex.update is not None and ex.update.grad == t.grad(t.scenario.parameter("w5"))
    assert ex.ok, ex.checks
    assert explain(t, "E_total", checks=False).value == pytest.approx(t.loss, rel=1e-15)


def test_per_sample_targets_and_batch_means() -> None:
    code, out, _ = run("explain", "net_h1_1:2", "-s", "ng_shallow")
    assert code == 0 and "sample 2:" in out
    code, out, _ = run("explain", "W1_1_1", "-s", "deep_general_delta")
    assert code == 0
    assert "sample 1:" in out and "sample 3:" in out
    assert "Over the batch (the mean over the 3 samples)" in out
    assert "∂E_total/∂W1_1_1 = (1/m)·Σ_s ∂E_s/∂W1_1_1" in out
    t = bptrace.run("ng_shallow")
    per_sample = explain(t, "dE/dW2_1_1:3", checks=False)
    assert per_sample.update is None  # one sample's gradient updates nothing on its own
    assert per_sample.value == float(t.sample_grad(t.scenario.parameter("W2_1_1"))[2])


def test_max_margin_windows() -> None:
    t = bptrace.run("cs224n_window")
    ex = explain(t, "dE/dout_o1:1c")
    assert ex.value == 1.0 and ex.ok
    code, out, _ = run("explain", "W2_1_2", "-s", "cs224n_window", "--no-checks")
    assert code == 0
    assert "sample 1, x_c:" in out and "each sample's two windows added" in out


# ---- the command line ----


@pytest.mark.parametrize(
    ("target", "hint"), [("w55", "did you mean w5"), ("deltah1", "did you mean delta_h1"), ("wx", "docs/quantities.md")]
)
def test_unknown_target_exits_2_with_suggestions(target: str, hint: str) -> None:
    code, out, err = run("explain", target)
    assert code == 2
    assert out == ""
    assert err.startswith(f"bptrace: error: unknown quantity '{target}'")
    assert hint in err
    assert "Traceback" not in err


def test_per_sample_name_without_sample_exits_2() -> None:
    code, _, err = run("explain", "out_h1_1", "-s", "ng_shallow")
    assert code == 2 and "has one value per sample" in err


def test_usage_errors_exit_2() -> None:
    assert run("explain")[0] == 2
    code, _, err = run("explain", "w5", "--standalone")
    assert code == 2 and "--format latex" in err
    code, _, err = run("explain", "w5", "-s", "no_such_scenario")
    assert code == 2 and "no bundled scenario" in err


def test_list_shows_every_name() -> None:
    code, out, _ = run("explain", "--list", "-s", "ng_shallow")
    assert code == 0
    lines = out.splitlines()
    assert "dE/dW2_1_1" in lines and "net_h1_1:k" in lines


def test_scenario_by_path_and_by_name_agree() -> None:
    a = run("explain", "W1_1_1", "-s", "scenarios/ng_shallow.yaml", "--no-checks")
    b = run("explain", "W1_1_1", "-s", "ng_shallow", "--no-checks")
    assert a[0] == b[0] == 0
    assert a[1] == b[1] and "W1_1_1 ──► net_h1_1" in a[1]
    code, _, err = run("explain", "w1", "-s", "scenarios/ng_shallow.yaml")  # automatic names: W1_1_1, not w1
    assert code == 2 and "unknown quantity 'w1'" in err


def test_markdown_has_headings_and_tables() -> None:
    code, out, _ = run("explain", "w5", "--format", "markdown", "--math", "unicode")
    assert code == 0
    assert out.startswith("# w5 · weight from h1 to o1")
    for heading in ("## Where w5 sits", "## Chain rule", "## Product", "## Update (η = 0.5)", "## Checks"):
        assert heading in out, heading
    assert "| check | value | agrees | how |" in out
    assert "| ∂E\\_total/∂out\\_o1 | 0.74136507 |" in out
    assert out.count("```") % 2 == 0


def test_json_is_the_derivation_as_data() -> None:
    code, out, _ = run("explain", "w5", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert data["target"] == "w5" and data["value"] == 0.4
    assert data["update"]["grad"] == pytest.approx(0.0821670405642, rel=1e-12)
    assert data["update"]["new_value"] == pytest.approx(0.358916479718, rel=1e-12)
    assert [st["name"] for st in data["steps"]] == ["dE/dout_o1", "dout_o1/dnet_o1", "dnet_o1/dw5"]
    assert data["steps"][1]["derivative"]["latex"].startswith(r"\frac{e^{- \mathrm{net}_{o1}}}")
    assert data["ok"] is True


def test_output_file_takes_its_format_from_the_suffix(tmp_path) -> None:
    for suffix, start in ((".md", "# w5"), (".tex", "% bptrace explain w5"), (".json", "{")):
        path = tmp_path / f"w5{suffix}"
        code, out, _ = run("explain", "w5", "--no-checks", "-o", str(path))
        assert code == 0 and out == ""
        assert path.read_text(encoding="utf-8").startswith(start)


def test_ascii_output_is_ascii() -> None:
    code, out, _ = run("explain", "w1", "--ascii")
    assert code == 0
    assert out.isascii(), [line for line in out.splitlines() if not line.isascii()][:3]
    assert "dE_total/dw1 = dE_total/dout_h1 * dout_h1/dnet_h1 * dnet_h1/dw1" in out


def test_importing_explain_does_not_import_sympy() -> None:
    code = "import sys, bptrace.explain.derivation, bptrace.cli.explain; print('sympy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# ---- LaTeX ----

LATEX_TARGETS = [
    ("mazur", "w5"),
    ("mazur", "w1"),
    ("mazur", "b2"),
    ("mazur", "delta_h1"),
    ("mazur", "w5@3"),
    ("mazur", "E_total@1"),
    ("softmax_classifier", "W2_1_1"),
    ("softmax_classifier", "out_o1:2"),
    ("deep_general_delta", "W1_1_1"),
    ("deep_general_delta", "dout_h2_1/dnet_h2_1:2"),
    ("ng_shallow", "dE/dW2_1_1:3"),
    ("learner_004", "b2_1"),
    ("cs224n_window", "dE/dout_o1:1c"),
]


def _latex_fragments() -> list[str]:
    out = []
    for scenario, target in LATEX_TARGETS:
        out.append(explanation_latex(explain(bptrace.run(scenario), target)))
    return out


def test_latex_fragment_is_ascii_and_says_it_needs_amsmath() -> None:
    for fragment in _latex_fragments():
        assert fragment.isascii()
        assert "amsmath" in fragment.splitlines()[1]
        assert fragment.count(r"\begin{align*}") == fragment.count(r"\end{align*}") > 0
        assert r"\documentclass" not in fragment


def _pdflatex(tmp_path, name: str, text: str) -> None:
    pdflatex = tools.need("pdflatex")  # skips where it is absent, fails in CI
    (tmp_path / f"{name}.tex").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", f"{name}.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / f"{name}.pdf").exists()


def test_latex_fragments_compile_in_a_standard_article(tmp_path) -> None:
    body = "\n".join(_latex_fragments())
    document = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body + "\\end{document}\n"
    _pdflatex(tmp_path, "fragments", document)


def test_latex_standalone_compiles(tmp_path) -> None:
    code, out, _ = run("explain", "w1", "--format", "latex", "--standalone")
    assert code == 0 and out.startswith("\\documentclass")
    _pdflatex(tmp_path, "standalone", out)


def test_explanation_is_plain_data(mazur: bptrace.Trace) -> None:
    ex = explain(mazur, "w5")
    assert isinstance(ex, Explanation)
    assert ex.title == "w5 · weight from h1 to o1 · Mazur: A Step by Step Backpropagation Example"
    assert [p for p in ex.paths] == [["w5", "net_o1", "out_o1", "E_o1", "E_total"]]
    factors = [float(exact(n)) for n in ("dE/dout_o1", "dout_o1/dnet_o1", "out_h1")]
    assert [st.rows[0].value for st in ex.steps] == pytest.approx(factors)
    json.dumps(ex.to_data(), allow_nan=False)


def test_docs_show_the_real_output() -> None:
    """docs/explain.md's w5 example is what `bptrace explain w5` prints."""
    from pathlib import Path

    doc = (Path(__file__).parent.parent / "docs" / "explain.md").read_text(encoding="utf-8")
    block = doc.split("## Example: w5 in Mazur's network", 1)[1].split("```text\n", 1)[1].split("\n```", 1)[0]
    result = CliRunner().invoke(main, ["explain", "w5"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    assert result.stdout.rstrip() == block


def test_zero_updates_frozen_history_and_l2_change() -> None:
    """θ@0 is θ, E_total@0 is E_total; a frozen bias's history says 'not updated'; the change includes L2."""
    from bptrace.engine import step as engine
    from bptrace.explain.derivation import explain

    t = engine.trace(bptrace.load("mazur"))
    assert explain(t, "w5@0", symbolic=False).value == 0.4
    assert explain(t, "E_total@0", symbolic=False).value == t.loss
    code, out, _ = run("explain", "b2@3", "--no-checks")
    assert code == 0 and out.count("(not updated)") >= 3 and "0.5 ×" not in out
    t2 = engine.trace(bptrace.load("learner_004_l2"))
    code, out, _ = run("explain", "E_total@1", "-s", "learner_004_l2", "--no-checks")
    from bptrace.fmt import num

    assert f"change {num(t2.loss_after - t2.loss)}" in out
