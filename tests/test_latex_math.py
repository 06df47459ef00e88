"""LaTeX typesets every quantity as mathematics and fits an A4 page: compiled with pdflatex, its log read."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import tools
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.model.scenario import bundled_names
from bptrace.render.latex import tex


@pytest.mark.parametrize(
    ("text", "latex"),
    [
        ("w1·i1 + b1", r"\ensuremath{w_{1}\cdot i_{1}} + \ensuremath{b_{1}}"),
        (
            "½(t_o1 − out_o1)²",
            r"\ensuremath{\tfrac{1}{2}}(\ensuremath{t_{o1}} \ensuremath{-} \ensuremath{\mathrm{out}_{o1}})"
            r"\ensuremath{^{2}}",
        ),
        ("E_total = E_o1 + E_o2", r"\ensuremath{E_{\mathrm{total}}} = \ensuremath{E_{o1}} + \ensuremath{E_{o2}}"),
        ("δ_o1·w5", r"\ensuremath{\delta_{o1}\cdot w_{5}}"),
        ("delta_h1 net_h1_2", r"\ensuremath{\delta_{h1}} \ensuremath{\mathrm{net}_{h1,2}}"),
        ("W2_1_3", r"\ensuremath{W_{2,1,3}}"),
        ("half_sse update_biases: Mazur 2015", r"half\_sse update\_biases: Mazur 2015"),  # words stay words
    ],
)
def test_quantities_are_mathematics(text: str, latex: str) -> None:
    assert tex(text) == latex


def _compile(tmp_path: Path, source: str) -> str:
    tools.need("pdflatex")  # skips where it is absent, fails in CI (tests/tools.py)
    (tmp_path / "doc.tex").write_text(source, encoding="utf-8")
    for _ in range(2):  # twice: longtables settle their widths
        done = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=180,
        )
        assert done.returncode == 0, done.stdout[-2000:]
    return (tmp_path / "doc.log").read_text(encoding="utf-8", errors="replace")


DOCUMENTS = [["run", name, "--format", "latex"] for name in bundled_names()] + [
    ["run", "mazur", "--format", "latex", "--notation", "matrix"],
    ["explain", "w5", "--format", "latex", "--standalone"],
    ["explain", "delta_h1_2", "-s", "deep_general_delta", "--format", "latex", "--standalone"],
    ["compare", "mazur", "--vary", "loss=half_sse,bce", "--format", "latex"],
]


@pytest.mark.parametrize("args", DOCUMENTS, ids=[" ".join(a[:2]) + " " + " ".join(a[2:4]) for a in DOCUMENTS])
def test_latex_fits_an_a4_page_without_overfull_boxes(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    log = _compile(tmp_path, result.stdout)
    overfull = [line for line in log.splitlines() if line.startswith("Overfull \\hbox")]
    assert overfull == []
    assert "a4paper" in result.stdout or args[0] == "explain"


def test_run_latex_has_no_quantity_written_as_text() -> None:
    out = CliRunner().invoke(main, ["run", "mazur", "--format", "latex", "--verify", "off"]).stdout
    body = out[out.index(r"\begin{document}") :]
    assert not re.findall(r"\b(?:E|t|out|net)\\_[a-z]\w*", body)
    assert r"\mathrm{out}_{h1}" in body and r"E_{\mathrm{total}}" in body


# ---- Markdown: $…$ mathematics, checked by compiling every formula it writes -------------------

MARKDOWN = [
    ["run", "mazur", "--format", "markdown", "--verify", "off"],
    ["run", "softmax_classifier", "--format", "markdown", "--verify", "off"],
    ["compare", "mazur", "--vary", "loss=half_sse,bce", "--format", "markdown"],
    ["explain", "w5", "--format", "markdown"],
    ["explain", "delta_h1_2", "-s", "deep_general_delta", "--format", "markdown"],
]


def _maths(markdown: str) -> list[str]:
    """Every $…$ and $$…$$ of a Markdown text, as written."""
    blocks = re.findall(r"\$\$\n(.*?)\n\$\$", markdown, re.S)
    rest = re.sub(r"\$\$\n.*?\n\$\$", "", markdown, flags=re.S)
    return blocks + re.findall(r"(?<![\\$])\$([^$\n]+?)\$", rest)


@pytest.mark.parametrize("args", MARKDOWN, ids=[" ".join(a[:2]) for a in MARKDOWN])
def test_markdown_mathematics_is_latex_that_compiles(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    maths = _maths(result.stdout)
    assert len(maths) > 5
    body = "\n".join(f"${m}$\\par" if "aligned" not in m else f"\\[{m}\\]" for m in maths)
    document = "\\documentclass{article}\\usepackage{amsmath,amssymb}\\begin{document}\n" + body + "\n\\end{document}\n"
    _compile(tmp_path, document)


def test_markdown_formula_cells_are_mathematics_and_numbers_stay_text() -> None:
    out = CliRunner().invoke(main, ["run", "mazur", "--format", "markdown", "--verify", "off"]).stdout
    row = next(line for line in out.splitlines() if line.startswith("| $o_{1}$"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1].startswith(r"$w_{5} \cdot \mathrm{out}_{h1}") and cells[2] == "1.10590597"
    unicode = CliRunner().invoke(main, ["run", "mazur", "--format", "markdown", "--verify", "off", "--math", "unicode"])
    assert "$" not in unicode.stdout and "| o1 | w5·out_h1 + w6·out_h2 + b2" in unicode.stdout
