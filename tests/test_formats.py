"""Every command in every format: check (one sheet, several, with a key and the class view), train, scenarios
and compare write terminal, JSON, Markdown, LaTeX and HTML from one document model (render/blocks.py).

The LaTeX is compiled (pdflatex, or xelatex with ctex when it has Chinese) and its log read: no error, no
overfull box; the HTML is opened in headless Chromium: it renders, fetches nothing, and shows the numbers of
the command's own JSON. Scenarios: bundled ones and one written here that nobody has seen (a batch of three,
a softplus hidden layer, mse summed over the samples). `template` of a batch asks for each sample's δ, and
check marks them against HIPS autograd, independently of bptrace's chain rule.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tools
import yaml
from click.testing import CliRunner

from bptrace.cli.main import main
from bptrace.fmt import num
from bptrace.model.scenario import load

ROOT = Path(__file__).resolve().parent.parent

UNSEEN = """\
title: A hand-written batch nobody has seen (softplus hidden layer, mse, summed)
samples:
  - {inputs: [0.3, -1.1], targets: [0.2, 0.9]}
  - {inputs: [1.4, 0.25], targets: [0.7, 0.1]}
  - {inputs: [-0.6, 0.8], targets: [0.5, 0.4]}
layers:
  - activation: softplus
    weights: [[0.2, -0.4], [0.7, 0.1], [-0.3, 0.5]]
    biases: [0.1, -0.2, 0.05]
  - activation: sigmoid
    weights: [[0.3, -0.6, 0.2], [-0.1, 0.4, 0.8]]
    biases: [0.0, 0.1]
loss: mse
reduction: sum
learning_rate: 0.3
update_biases: true
"""

# a second one, in Chinese, with tanh and half_sse over two samples
UNSEEN_ZH = """\
title: Two samples through tanh
title_zh: 两个样本经过 tanh 的网络（手写的新例子）
samples:
  - {inputs: [0.5, -0.2, 0.9], targets: [0.1]}
  - {inputs: [-1.0, 0.4, 0.3], targets: [0.6]}
layers:
  - activation: tanh
    weights: [[0.15, -0.25, 0.35], [-0.45, 0.05, 0.2]]
    biases: [0.0, 0.1]
  - activation: sigmoid
    weights: [[0.6, -0.7]]
    biases: [0.2]
loss: half_sse
learning_rate: 0.8
update_biases: true
"""


def invoke(*args: str, lang: str = "en") -> Any:
    result = CliRunner(env={"COLUMNS": "100", "NO_COLOR": "1"}).invoke(main, [*args, "--lang", lang])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The unseen scenarios and answer sheets for them and for bundled scenarios."""
    root = tmp_path_factory.mktemp("formats")
    (root / "unseen.yaml").write_text(UNSEEN, encoding="utf-8")
    (root / "unseen_zh.yaml").write_text(UNSEEN_ZH, encoding="utf-8")
    for name in SCENARIOS:
        _sheet(root, name, "Ada Lovelace", wrong=False)
        _sheet(root, name, "李华", wrong=True)
    return root


SCENARIOS = ["mazur", "ng_shallow", "softmax_classifier", "unseen", "unseen_zh"]


def _ref(root: Path, name: str) -> str:
    return str(root / f"{name}.yaml") if name.startswith("unseen") else name


def _quantities(ref: str) -> dict[str, float]:
    result = invoke("run", ref, "--format", "json", "--verify", "off")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["quantities"]  # type: ignore[no-any-return]


def _sheet(root: Path, name: str, student: str, wrong: bool) -> Path:
    """A sheet answering every quantity of the template with the run's own values (wrong: δ's doubled)."""
    ref = _ref(root, name)
    template = yaml.safe_load(invoke("template", ref).stdout)
    values = _quantities(ref)
    answers = {}
    for key in template["answers"]:
        x = values[key]
        answers[key] = repr(2 * x if wrong and key.startswith("delta_") else x)
    path = root / f"{name}_{'wrong' if wrong else 'right'}.yaml"
    sheet = {"scenario": ref, "student": student, "answers": answers}
    path.write_text(yaml.safe_dump(sheet, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# ---- the commands, each in a format ----------------------------------------------------------------


def command(kind: str, root: Path, name: str) -> list[str]:
    """The arguments of one command of each kind on scenario `name` (a bundled name or an unseen one)."""
    ref = _ref(root, name)
    right, wrong = str(root / f"{name}_right.yaml"), str(root / f"{name}_wrong.yaml")
    if kind == "check":
        return ["check", wrong]
    if kind == "check-many":
        return ["check", right, wrong]
    if kind == "check-key":
        key = root / f"{name}_key.yaml"
        if not key.exists():
            assert invoke("key", ref, "-o", str(key)).exit_code == 0
        return ["check", right, wrong, "--key", str(key)]
    if kind == "train":
        return ["train", ref, "--epochs", "50", "--every", "25"]
    if kind == "compare":
        return ["compare", ref, "--vary", "learning_rate=0.5,0.1"]
    assert kind == "scenarios"
    return ["scenarios"]


KINDS = ["check", "check-many", "check-key", "train", "compare", "scenarios"]


def output(args: list[str], fmt: str, root: Path, lang: str = "en") -> str:
    """The command's output in `fmt`, written with -o FILE (through bptrace.output)."""
    path = root / f"out_{abs(hash((tuple(args), fmt, lang)))}.{fmt}"
    result = invoke(*args, "--format", fmt, "-o", str(path), "--force", lang=lang)
    assert result.exit_code in (0, 1), result.output  # 1: a sheet has wrong answers
    return path.read_text(encoding="utf-8")


def numbers_of(kind: str, data: dict[str, Any]) -> set[str]:
    """The numbers the JSON of a command holds, as its documents print them (9 significant digits)."""
    if kind == "check":
        return {num(r["expected"], 9) for r in data["results"]} | {r["given"] for r in data["results"]}
    if kind == "check-many":
        return {num(r["expected"], 9) for sheet in data["sheets"] for r in sheet["results"]}
    if kind == "check-key":
        out = {num(a["expected"], 9) for st in data["students"] for a in st["answers"]}
        return out | {f"{st['score']:g}/{st['max_score']:g}" for st in data["students"]}
    if kind == "train":
        out = {num(p["initial"], 9) for p in data["parameters"]} | {num(p["final"], 9) for p in data["parameters"]}
        return out | {num(data["history"][0], 9), num(data["history"][-1], 9)}
    if kind == "compare":
        return {num(x, 9) for d in data["differences"] for x in d["values"] if x is not None}
    return {s["name"] for s in data["scenarios"]}


CASES = [(k, n) for k in KINDS if k != "scenarios" for n in SCENARIOS] + [("scenarios", "mazur")]  # takes none


@pytest.mark.parametrize(("kind", "name"), CASES)
def test_every_format_of_every_command_holds_the_json_numbers(folder: Path, kind: str, name: str) -> None:
    args = command(kind, folder, name)
    data = json.loads(output(args, "json", folder))
    numbers = numbers_of(kind, data)
    assert numbers
    terminal = output(args, "terminal", folder)
    markdown = output(args, "markdown", folder)
    html = output(args, "html", folder)
    latex = output(args, "latex", folder)
    cells = _html_cells(html)
    for number in numbers:
        assert number in terminal, number
        assert re.search(r"(?<![\d.])" + re.escape(number) + r"(?![\d])", markdown), number
        assert number in cells, number
        assert number in _plain(latex), number
    assert latex.rstrip().endswith(r"\end{document}") and html.startswith("<!DOCTYPE html>")


def _plain(latex: str) -> str:
    """LaTeX with its minus signs (mathematics) and break points (after a slash) read back as text."""
    return latex.replace(r"\ensuremath{-}", "-").replace(r"\allowbreak{}", "").replace(r"\_", "_")


def _html_cells(html: str) -> set[str]:
    return {re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)}


def test_a_quantity_is_mathematics_in_latex_and_markdown(folder: Path) -> None:
    args = command("check", folder, "mazur")
    latex, markdown = output(args, "latex", folder), output(args, "markdown", folder)
    for tex in (r"\partial E/\partial w_{5}", r"\delta_{o1}", r"\mathrm{out}_{h1}", r"w_{5}^{+}"):
        assert "\\ensuremath{" + tex + "}" in latex and "$" + tex + "$" in markdown, tex
    assert "dE/dw5" not in latex and "delta\\_o1 " not in latex  # no quantity as text with underscores
    train = output(command("train", folder, "unseen"), "latex", folder)
    assert r"\ensuremath{W_{2,1,3}}" in train  # a parameter of the training tables
    batch = output(command("check", folder, "ng_shallow"), "latex", folder)
    assert r"\ensuremath{\delta_{o1}^{(3)}}" in batch  # a sample's δ: its sample as a superscript


# ---- LaTeX: compiled, its log read ------------------------------------------------------------------


def compile_latex(text: str, folder: Path, stem: str) -> str:
    """Compile twice with the engine the document names (xelatex for Chinese) and return its log; the test
    fails on a TeX error or an overfull box."""
    engine = "xelatex" if text.startswith("% !TEX program = xelatex") else "pdflatex"
    where = folder / stem
    where.mkdir(exist_ok=True)
    (where / "doc.tex").write_text(text, encoding="utf-8")
    for _ in range(2):  # longtables settle their widths on the second run
        proc = subprocess.run(
            [tools.need(engine), "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
            cwd=where,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=600,
        )
        assert proc.returncode == 0, proc.stdout[-3000:]
    log = (where / "doc.log").read_text(errors="replace")
    assert "Overfull" not in log, [line for line in log.splitlines() if "Overfull" in line]
    return log


LATEX_CASES = [
    ("check", "mazur", "en"),
    ("check-many", "ng_shallow", "en"),
    ("check-key", "unseen", "en"),  # 李华 in the class table: xelatex
    ("check-key", "softmax_classifier", "zh"),
    ("train", "unseen", "en"),
    ("train", "ng_shallow", "zh"),
    ("compare", "unseen_zh", "zh"),
    ("scenarios", "mazur", "en"),
    ("scenarios", "mazur", "zh"),
]


@pytest.mark.parametrize(("kind", "name", "lang"), LATEX_CASES)
def test_latex_compiles_without_overfull_boxes(folder: Path, kind: str, name: str, lang: str) -> None:
    text = output(command(kind, folder, name), "latex", folder, lang)
    chinese = lang == "zh" or "李华" in text
    assert text.startswith("% !TEX program = xelatex") == chinese
    compile_latex(text, folder, f"{kind}-{name}-{lang}")
    pdf = subprocess.run(
        [tools.need("pdftotext"), str(folder / f"{kind}-{name}-{lang}" / "doc.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if kind == "check-key":
        assert "李华" in pdf
    if lang == "zh":
        assert re.search(r"[\u4e00-\u9fff]", pdf)


# ---- HTML in a real browser -----------------------------------------------------------------------

ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    chromium = tools.need("chromium")  # skips where absent, fails in CI (tests/tools.py)
    from playwright import sync_api  # a [test] dependency: never skipped

    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield b
        b.close()


@pytest.mark.parametrize(
    ("kind", "name", "lang"),
    [(k, n, "en") for k in KINDS for n in ("mazur", "unseen") if k != "scenarios" or n == "mazur"]
    + [("check-key", "unseen_zh", "zh"), ("train", "unseen_zh", "zh"), ("scenarios", "mazur", "zh")],
)
def test_html_renders_in_chromium_with_the_json_numbers(browser, folder: Path, kind: str, name: str, lang: str) -> None:  # type: ignore[no-untyped-def]
    args = command(kind, folder, name)
    numbers = numbers_of(kind, json.loads(output(args, "json", folder)))
    page_file = folder / f"page-{kind}-{name}-{lang}.html"
    page_file.write_text(output(args, "html", folder, lang), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    assert page.locator("table").count() >= 1
    shown = set(page.eval_on_selector_all("td", "cells => cells.map(c => c.innerText.trim())"))
    missing = sorted(numbers - shown)
    assert not missing, missing[:10]
    assert page.evaluate("document.documentElement.lang") == ("zh-CN" if lang == "zh" else "en")
    if lang == "zh":
        assert re.search(r"[\u4e00-\u9fff]", page.inner_text("th"))  # the headers are Chinese
    if kind != "scenarios":  # a number column (scenarios has none) is right-aligned and never wraps
        style = page.evaluate("getComputedStyle(document.querySelector('td.num'))")
        assert (style["whiteSpace"], style["textAlign"]) == ("nowrap", "right")
    if kind.startswith("check"):  # the wrong sheet's ✗ marks are red, its ✓ green
        colors = page.eval_on_selector_all(
            "td.text", "cells => cells.map(c => [c.innerText.trim(), getComputedStyle(c).color])"
        )
        assert {c for mark, c in colors if mark == "✗"} == {"rgb(164, 22, 26)"}
        assert {c for mark, c in colors if mark == "✓"} == {"rgb(29, 107, 44)"}
    assert all(url.startswith("file:") for url in requests), requests
    page.close()


# ---- Chinese in each format ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["terminal", "markdown", "latex", "html"])
@pytest.mark.parametrize("kind", KINDS)
def test_chinese_in_every_format(folder: Path, kind: str, fmt: str) -> None:
    args = command(kind, folder, "unseen_zh")
    text = output(args, fmt, folder, "zh")
    assert re.search(r"[\u4e00-\u9fff]", text), text[:500]
    english = output(args, fmt, folder, "en")
    for number in numbers_of(kind, json.loads(output(args, "json", folder))):
        assert number in _plain(text) and number in _plain(english), number  # the same numbers in both languages
    assert output(args, "json", folder, "zh") == output(args, "json", folder, "en")  # JSON stays English


# ---- template and check: each sample's δ in a batch ------------------------------------------------


def _textbook(name: str) -> Any:
    import autograd.numpy as anp

    return {
        "sigmoid": lambda z: 1 / (1 + anp.exp(-z)),
        "tanh": anp.tanh,
        "softplus": lambda z: anp.log(1 + anp.exp(z)),
        "relu": lambda z: anp.maximum(z, 0),
    }[name]


def _loss(name: str) -> Any:
    import autograd.numpy as anp

    return {
        "half_sse": lambda o, t: 0.5 * anp.sum((t - o) ** 2),
        "mse": lambda o, t: anp.sum((t - o) ** 2) / len(t),
        "bce": lambda o, t: -anp.sum(t * anp.log(o) + (1 - t) * anp.log(1 - o)),
    }[name]


def per_sample_deltas(ref: str) -> dict[str, float]:
    """δ_X:k = ∂E_k/∂net_X of sample k's own loss, by autograd through a textbook forward pass (written here,
    not bptrace's): a perturbation added to one layer's net is differentiated."""
    import autograd.numpy as anp
    from autograd import grad

    s = load(ref)
    layers = [(np.asarray(layer.weights), np.asarray(layer.biases), layer.activation) for layer in s.layers]
    names = [layer.neurons for layer in s.layers]
    out: dict[str, float] = {}
    for k, (x, t) in enumerate(zip(np.asarray(s.inputs), np.asarray(s.targets)), start=1):
        for at in range(len(layers)):

            def loss(eps: Any, at: int = at, x: Any = x, t: Any = t) -> Any:
                a = x
                for i, (w, b, act) in enumerate(layers):
                    z = anp.dot(w, a) + b + (eps if i == at else 0.0)
                    a = _textbook(act)(z)
                return _loss(s.loss)(a, t)

            for neuron, d in zip(names[at], grad(loss)(np.zeros(len(names[at])))):
                out[f"delta_{neuron}:{k}"] = float(d)
    return out


@pytest.mark.parametrize("name", ["ng_shallow", "deep_general_delta", "unseen", "unseen_zh"])
def test_template_of_a_batch_asks_each_samples_delta(folder: Path, name: str) -> None:
    ref = _ref(folder, name)
    s = load(ref)
    keys = list(yaml.safe_load(invoke("template", ref).stdout)["answers"])
    for layer in s.layers:
        for x in layer.neurons:
            wanted = [f"delta_{x}:{k}" for k in range(1, s.samples + 1)]
            at = keys.index(f"delta_{x}")
            assert keys[at - s.samples : at] == wanted  # each sample's δ, then their mean (or sum)
    key = yaml.safe_load(invoke("key", ref).stdout)
    assert f"delta_{s.output_layer.neurons[0]}:{s.samples}" in str(key)  # the key asks them too


def test_template_of_one_sample_asks_no_sample_delta() -> None:
    keys = list(yaml.safe_load(invoke("template", "mazur").stdout)["answers"])
    assert "delta_o1" in keys and not any(":" in k for k in keys)


@pytest.mark.parametrize("name", ["ng_shallow", "unseen", "unseen_zh"])
def test_check_marks_each_samples_delta_against_autograd(folder: Path, name: str) -> None:
    ref = _ref(folder, name)
    oracle = per_sample_deltas(ref)
    assert len(oracle) == load(ref).samples * sum(layer.size for layer in load(ref).layers)
    answers = {key: repr(value) for key, value in oracle.items()}
    first = next(iter(oracle))
    answers[first] = repr(oracle[first] * 1.01 + 1e-3)  # one wrong answer
    sheet = folder / f"{name}_deltas.yaml"
    sheet.write_text(yaml.safe_dump({"scenario": ref, "student": "Grace", "answers": answers}), encoding="utf-8")
    result = invoke("check", str(sheet), "--format", "json")
    assert result.exit_code == 1, result.output
    marks = {r["quantity"]: r for r in json.loads(result.stdout)["results"]}
    assert set(marks) == set(oracle)
    for key, value in oracle.items():
        assert marks[key]["expected"] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        assert marks[key]["correct"] is (key != first), key


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_a_graph_sheet_in_every_document_format(tmp_path: Path, fmt: str) -> None:
    sheet = tmp_path / "sheet.yaml"
    sheet.write_text("scenario: graph_circuit\nanswers:\n  q: 3\n  df/dx: 4\n", encoding="utf-8")
    data = json.loads(invoke("check", str(sheet), "--format", "json").stdout)
    text = output(["check", str(sheet)], fmt, tmp_path)
    expected = [a["expected"] for a in data[0]["answers"]]
    assert len(expected) == 2
    for x in expected:
        assert num(x, 9) in _plain(text), x
    if fmt == "latex":
        compile_latex(text, tmp_path, "graph")
    else:
        assert "the right number with the wrong sign" in text  # the diagnosis of df/dx = 4


def test_the_class_view_alone_in_a_document(folder: Path) -> None:
    """--summary: only the class view (students, questions, misconceptions, distribution), no sheet's table."""
    args = [*command("check-key", folder, "unseen"), "--summary"]
    data = json.loads(output(args, "json", folder))
    for fmt in ("markdown", "html", "latex"):
        text = _plain(output(args, fmt, folder))
        assert "Score distribution" in text and "Questions" in text
        assert "mazur_wrong.yaml" not in text and "unseen_wrong.yaml" in text  # the students table names the file
        for st in data["students"]:
            assert f"{st['score']:g}/{st['max_score']:g}" in text
        assert "diagnosis" not in text  # no sheet's table
    wrong = [q for q in data["summary"]["questions"] if q["not_right"]]
    assert wrong and all(q["quantity"].startswith("delta_") for q in wrong)  # the doubled δ, nothing else


@pytest.mark.parametrize("scenario", ["rnn_tiny", "layers_conv_pool", "graph_circuit"])
def test_the_sheets_of_every_kind_are_marked_in_documents(tmp_path: Path, scenario: str) -> None:
    """check of a recurrent network's, a layer stack's or a graph's sheet writes the document asked for (it
    printed the terminal table whatever --format said)."""
    sheet = tmp_path / "sheet.yaml"
    assert invoke("template", scenario, "-o", str(sheet)).exit_code == 0
    markdown = invoke("check", str(sheet), "--format", "markdown")
    assert markdown.exit_code == 1  # a blank sheet: every answer unanswered
    assert markdown.stdout.startswith("# bptrace check") and "| quantity | given | expected |" in markdown.stdout
    page = invoke("check", str(sheet), "--format", "html")
    assert page.stdout.startswith("<!DOCTYPE html>") and "<table" in page.stdout
    latex = invoke("check", str(sheet), "--format", "latex")
    assert r"\begin{document}" in latex.stdout
