"""`bptrace run --format markdown|latex|html`: each document parsed back (or compiled) and its numbers checked.

* Markdown is parsed with markdown-it-py's CommonMark + GFM tables: every Grid is one table with the right
  number of columns and rows, cells keep their text (| escaped, line breaks as <br>).
* HTML is parsed with html.parser (and, where Chromium is installed, rendered headless and read back).
* LaTeX is compiled with pdflatex for every bundled scenario and notation, and the PDF's text read back with
  pdftotext. A test whose tool is absent skips saying so, and fails in CI (tests/tools.py).
"""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import markdown_it  # markdown-it-py: the [test] extra (and rich's own dependency)
import pytest
import tools
from click.testing import CliRunner
from mazur_reference import published

import bptrace
from bptrace import formula
from bptrace.cli.main import main
from bptrace.model.scenario import bundled_names
from bptrace.render.export import export
from bptrace.render.latex import tex
from bptrace.render.layout import Column, Grid, Para, TraceLayout

MAZUR_NUMBERS = [published("out_o1"), published("w5+")]  # as Mazur prints them
NOTATIONS = ["scalar", "matrix", "index"]


def run(*args: str) -> str:
    result = CliRunner().invoke(main, ["run", *args, "--verify", "off"])
    assert result.exit_code == 0, result.output + (result.stderr if result.stderr_bytes else "")
    return result.stdout


def mazur_grids() -> list[Grid]:
    return [b for b in TraceLayout(bptrace.run("mazur")).blocks() if isinstance(b, Grid)]


# A grid with everything that needs escaping in some format.
NASTY = [
    Para("Title with ∂E/∂θ", "title"),
    Para("- not a list | not a cell *not emphasis* <b>not bold</b> & $x$ # 1. _x_ \\ {braces} ~ ^ % [link](x)"),
    Para("two\n  lines, the second indented", "dim"),
    Para("a mistake", "bad"),
    Grid(
        "δ⁽ˡ⁾ᵢ = (Σₖ W⁽ˡ⁺¹⁾ₖᵢ·δ⁽ˡ⁺¹⁾ₖ)·f′(z⁽ˡ⁾ᵢ) | pipes & <tags>",
        [Column("name", "name"), Column("formula | x", "text"), Column("value", "num"), Column("", "text")],
        [
            ["w5", "a|b\n= ½(t − out)² → ⊙ ᵀ √2 × · −", "-0.0190491183", ""],
            ["[x]", "* star\n[bracket] --rows N, 50% of $5 & #1 ~ ^ _ \\", "3.5e-05", "jack床长 café"],
            ["x²ᵢ⁺ ≤ ≥ ≈ θ⁺ η σ", "e^(−net) / Σ e^net", "1", "✓ ✗ … ─"],
        ],
        caption="… 3 more neurons not shown (use --rows N)",
        styles=["", "bad", "dim"],
    ),
]


# ---------------------------------------------------------------------------------------------------
# Markdown


def md_tables(text: str) -> list[dict[str, Any]]:
    """Tables of a Markdown document: header cells (with alignment) and body rows, as markdown-it parses them."""
    tokens = markdown_it.MarkdownIt("commonmark").enable("table").parse(text)
    tables: list[dict[str, Any]] = []
    section = ""
    for k, t in enumerate(tokens):
        if t.type == "table_open":
            tables.append({"header": [], "align": [], "rows": []})
        elif t.type in ("thead_open", "tbody_open"):
            section = t.type
        elif t.type == "tr_open" and section == "tbody_open":
            tables[-1]["rows"].append([])
        elif t.type in ("th_open", "td_open"):
            content = tokens[k + 1].content if tokens[k + 1].type == "inline" else ""
            if t.type == "th_open":
                tables[-1]["header"].append(content)
                tables[-1]["align"].append((t.attrs or {}).get("style", ""))
            else:
                tables[-1]["rows"][-1].append(content)
    return tables


def md_inline_text(cell: str) -> str:
    """What a reader sees in a cell: backslash escapes and entities resolved, <br> as a line break."""
    html = markdown_it.MarkdownIt("commonmark").renderInline(cell)
    return _unhtml(html.replace("<br>", "\n"))


def _unhtml(html: str) -> str:
    import html as html_module

    return html_module.unescape(re.sub(r"<[^>]+>", "", html))


def test_markdown_every_grid_is_a_table_with_its_shape_and_numbers() -> None:
    out = run("mazur", "--format", "markdown")
    grids = mazur_grids()
    tables = md_tables(out)
    assert len(tables) == len(grids)
    for grid, table in zip(grids, tables):
        assert len(table["header"]) == len(grid.columns)
        assert len(table["rows"]) == len(grid.rows)
        assert all(len(row) == len(grid.columns) for row in table["rows"])
        for column, align in zip(grid.columns, table["align"]):
            assert ("right" in align) == (column.kind == "num")
    cells = " ".join(c for t in tables for row in t["rows"] for c in row)
    for number in MAZUR_NUMBERS:
        assert number in cells
    assert out.startswith("# Mazur: A Step by Step Backpropagation Example\n")
    assert out.count("Mazur: A Step by Step Backpropagation Example") == 1  # the title paragraph is the heading


def test_markdown_cells_round_trip_escapes_and_line_breaks() -> None:
    text = export(NASTY, "markdown", title="T", math="unicode")
    tables = md_tables(text)
    assert len(tables) == 1
    grid = NASTY[-1]
    assert isinstance(grid, Grid)
    table = tables[0]
    assert len(table["header"]) == 4 and len(table["rows"]) == 3
    assert md_inline_text(table["header"][1]) == "formula | x"
    for row, expected in zip(table["rows"], grid.rows):
        for cell, want in zip(row, expected):
            assert md_inline_text(cell).strip() == want.replace("\n  ", "\n\u00a0\u00a0").strip()
    # a paragraph that looks like a list, a table row, emphasis, html or maths stays literal text
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    assert "<ul>" not in html and "<em>not emphasis</em>" not in html and "<b>" not in html
    assert "- not a list | not a cell *not emphasis* &lt;b&gt;not bold&lt;/b&gt; &amp; $x$" in html


def test_markdown_fragment_has_no_document_heading(tmp_path: Path) -> None:
    out = run("mazur", "--format", "markdown", "--fragment")
    assert not out.startswith("# ")
    assert "## Mazur" in out
    target = tmp_path / "mazur.md"
    assert run("mazur", "--format", "markdown", "-o", str(target)) == ""
    assert target.read_text(encoding="utf-8") == run("mazur", "--format", "markdown")


# ---------------------------------------------------------------------------------------------------
# HTML


class Tables(HTMLParser):
    """Collects the tables of a page: cells with their tag, class, style and text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[list[dict[str, str]]]] = []
        self.tags: list[str] = []
        self.cell: dict[str, str] | None = None
        self.meta: list[dict[str, str | None]] = []
        self.html_attrs: dict[str, str | None] = {}
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        for key in ("src", "href"):
            if a.get(key):
                self.external.append(str(a[key]))
        if tag == "html":
            self.html_attrs = a
        elif tag == "meta":
            self.meta.append(a)
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = {"tag": tag, "class": a.get("class") or "", "style": a.get("style") or "", "text": ""}
            self.tables[-1][-1].append(self.cell)
        elif tag == "br" and self.cell is not None:
            self.cell["text"] += "\n"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell["text"] += data


def parse_html(text: str) -> Tables:
    parser = Tables()
    parser.feed(text)
    parser.close()
    return parser


def test_html_page_is_self_contained_with_right_aligned_numbers() -> None:
    out = run("mazur", "--format", "html")
    page = parse_html(out)
    assert out.startswith("<!DOCTYPE html>")
    assert page.html_attrs.get("lang") == "en"
    assert {"charset": "utf-8"} in page.meta
    assert "script" not in page.tags and "link" not in page.tags and not page.external
    assert re.search(r"td\.num[^{]*\{[^}]*text-align:\s*right", out)
    grids = mazur_grids()
    assert len(page.tables) == len(grids)
    for grid, table in zip(grids, page.tables):
        header, body = table[0], table[1:]
        assert [c["text"] for c in header] == [c.header for c in grid.columns]
        assert len(body) == len(grid.rows)
        for row, cells in zip(grid.rows, body):
            texts = [c["text"].replace("\u00a0", " ") for c in cells]
            # text cells as they are; a formula cell is MathML, holding every number of the formula
            assert [t for t, v in zip(texts, row) if isinstance(v, str)] == [v for v in row if isinstance(v, str)]
            for t, v in zip(texts, row):
                if not isinstance(v, str):
                    numbers = re.findall(r"\d+(?:\.\d+)?(?:e-\d+)?", formula.unicode(v))
                    assert numbers and all(n in t for n in numbers), (t, v)
            for cell, column in zip(cells, grid.columns):
                assert ("num" in cell["class"].split()) == (column.kind == "num")
    numbers = [c["text"] for t in page.tables for row in t for c in row if c["class"] == "num"]
    for number in MAZUR_NUMBERS:
        assert number in numbers


def test_html_fragment_carries_its_styles_and_escapes_everything() -> None:
    out = export(NASTY, "html", title="T <x>", standalone=False)
    assert "<html" not in out and "<head" not in out and "<style" not in out
    page = parse_html(out)
    (table,) = page.tables
    header, body = table[0], table[1:]
    assert header[1]["text"] == "formula | x"
    assert body[0][1]["text"] == "a|b\n= ½(t − out)² → ⊙ ᵀ √2 × · −"
    assert body[1][1]["text"] == "* star\n[bracket] --rows N, 50% of $5 & #1 ~ ^ _ \\"
    for cell in body[0]:
        if cell["class"] == "num":
            assert "text-align:right" in cell["style"] and "white-space:nowrap" in cell["style"]
    assert "<b>not bold</b>" not in out and "&lt;b&gt;not bold&lt;/b&gt;" in out
    page_out = export(NASTY, "html", title="T <x>")
    assert "<title>T &lt;x&gt;</title>" in page_out


def test_html_renders_in_headless_chromium(tmp_path: Path, chromium: str) -> None:
    page = tmp_path / "mazur.html"
    run("mazur", "--format", "html", "-o", str(page))
    browser = chromium
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    dom = subprocess.run(
        [browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    parsed = parse_html(dom)
    assert len(parsed.tables) == len(mazur_grids())
    texts = [c["text"] for t in parsed.tables for row in t for c in row]
    for number in MAZUR_NUMBERS:
        assert number in texts
    shot = tmp_path / "mazur.png"
    subprocess.run(
        [browser, *flags, f"--screenshot={shot}", "--window-size=1200,2000", page.as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    assert shot.exists() and shot.stat().st_size > 10_000  # something was drawn


# ---------------------------------------------------------------------------------------------------
# LaTeX


# pdflatex, or a skip that says it is missing (a failure in CI): conftest.py's fixture, tests/tools.py
needs_tex = pytest.mark.usefixtures("pdflatex")


def compile_tex(source: Path) -> Path:
    """Compile with pdflatex (twice, so longtables settle) and return the PDF; fail with the TeX error."""
    for _ in range(2):
        done = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", source.name],
            cwd=source.parent,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=180,
        )
        if done.returncode != 0:
            errors = [line for line in done.stdout.splitlines() if line.startswith("!") or line.startswith("l.")]
            pytest.fail(f"pdflatex failed on {source.name}: {errors[:6]}")
    pdf = source.with_suffix(".pdf")
    assert pdf.exists()
    return pdf


def pdf_text(pdf: Path) -> str:
    """The PDF's text, read back with pdftotext (skipped where it is absent, failed in CI)."""
    return subprocess.run(
        [tools.need("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def test_tex_maps_every_symbol_to_ascii() -> None:
    from bptrace.fmt import ASCII

    symbols = "".join(chr(c) for c in ASCII) + "ᵢⱼₖ₁₂⁽⁾ˡᴸ¹²√⊙ᵀ→½⁺−·×∂δσηΣ′"
    out = tex(symbols)
    assert out.isascii(), [ch for ch in out if not ch.isascii()]
    assert tex("δ⁽ˡ⁾ᵢ") == r"\ensuremath{\delta ^{(l)}_{i}}"
    assert tex("x²ᵢ⁺") == r"x\ensuremath{^{2}_{i}{}^{+}}"  # never a double superscript
    assert tex("--rows") == "-{}-rows"  # no en-dash ligature
    assert tex("jack床长") == r"jack\bptraceforeign{床长}"
    assert tex("a_b & 50% #1 $") == r"a\_b \& 50\% \#1 \$"


@needs_tex
def test_latex_tricky_text_compiles(tmp_path: Path) -> None:
    (tmp_path / "nasty.tex").write_text(export(NASTY, "latex", title="Title: ∂E/∂θ & 100% δ⁽ˡ⁾ᵢ"), encoding="utf-8")
    text = pdf_text(compile_tex(tmp_path / "nasty.tex"))
    assert "0.0190491183" in text and "3.5e-05" in text


@needs_tex
@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize("name", bundled_names())
def test_latex_compiles_for_every_bundled_scenario(tmp_path: Path, name: str, notation: str) -> None:
    source = tmp_path / f"{name}.tex"
    run(name, "--format", "latex", "--notation", notation, "-o", str(source))
    text = source.read_text(encoding="utf-8")
    assert text.startswith(r"\documentclass") and text.rstrip().endswith(r"\end{document}")
    assert all(ch.isascii() for line in text.splitlines() if "bptraceforeign{" not in line for ch in line)
    pdf = compile_tex(source)
    if name == "mazur":
        words = pdf_text(pdf)
        for number in MAZUR_NUMBERS if notation != "index" else [published("out_o1")]:
            assert number in words


@needs_tex
@pytest.mark.parametrize(
    "args",
    [
        ["run", "mazur", "--format", "latex"],  # with the verification table
        ["run", "ng_shallow", "--format", "latex", "--notation", "matrix", "--digits", "17", "--verify", "off"],
        ["compare", "mazur", "--vary", "hidden=original,updated", "--format", "latex"],  # rows styled "bad"
    ],
    ids=["verified", "digits17", "compare"],
)
def test_latex_of_other_documents_compiles(tmp_path: Path, args: list[str]) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    (tmp_path / "doc.tex").write_text(result.stdout, encoding="utf-8")
    compile_tex(tmp_path / "doc.tex")


@needs_tex
def test_latex_fragment_compiles_inside_a_document_twice(tmp_path: Path) -> None:
    fragment = run("mazur", "--format", "latex", "--fragment")
    assert r"\documentclass" not in fragment and r"\begin{document}" not in fragment
    assert fragment.startswith("% bptrace LaTeX fragment")
    packages = re.search(r"\\usepackage\{([^}]*)\}", fragment)
    assert packages is not None
    (tmp_path / "part.tex").write_text(fragment, encoding="utf-8")
    (tmp_path / "host.tex").write_text(
        "\\documentclass{article}\n\\usepackage{" + packages.group(1) + "}\n\\begin{document}\n"
        "\\input{part}\n\\input{part}\n\\end{document}\n",
        encoding="utf-8",
    )
    words = pdf_text(compile_tex(tmp_path / "host.tex"))
    for number in MAZUR_NUMBERS:
        assert number in words


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_every_format_shows_the_mazur_numbers(fmt: str) -> None:
    out = run("mazur", "--format", fmt)
    for number in MAZUR_NUMBERS:
        assert number in out


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export([], "rtf")
