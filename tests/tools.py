"""System tools some tests need (pdflatex, xelatex, pdftotext, Chromium): found, or the test says which is missing.

Outside CI a test whose tool is absent skips, naming the tool and its package. With the environment variable CI
set (.ci/run sets CI=1), it fails instead: a CI run cannot pass without having compiled the LaTeX, read the PDF
back and rendered the HTML.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

IN_CI = bool(os.environ.get("CI"))

# tool -> (the commands that provide it, the Debian package .ci/run installs, what the tests do with it)
TOOLS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "pdflatex": (("pdflatex",), "texlive-latex-base texlive-latex-recommended", "to compile the LaTeX output"),
    "xelatex": (
        ("xelatex",),
        "texlive-xetex texlive-lang-chinese",
        "to compile the Chinese LaTeX output (ctex)",
    ),
    "pdftotext": (("pdftotext",), "poppler-utils", "to read the compiled PDF's text back"),
    "chromium": (
        ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"),
        "chromium",
        "to render the HTML export headless",
    ),
}


def _tex_install_running() -> bool:
    """This machine installs TeX in the background and logs to /tmp/apt.log, ending in "done" (or in the
    installer's exit status, "apt rc 0") when finished."""
    log = Path("/tmp/apt.log")
    try:
        last = log.read_text(errors="replace").rstrip().rpartition("\n")[2] if log.exists() else "done"
        return not (last.endswith("done") or last.startswith("apt rc "))
    except OSError:
        return False


def find(tool: str) -> str | None:
    """The path of `tool`, or None where it is not installed (or, for pdflatex, still being installed)."""
    commands, _, _ = TOOLS[tool]
    if tool in ("pdflatex", "xelatex") and _tex_install_running():
        return None
    return next((path for path in map(shutil.which, commands) if path), None)


def need(tool: str) -> str:
    """The path of `tool`; else skip the test saying what is missing, or, in CI, fail it."""
    path = find(tool)
    if path is not None:
        return path
    _, package, purpose = TOOLS[tool]
    message = f"{tool} is not installed (needed {purpose}; apt-get install {package})"
    if IN_CI:
        pytest.fail(f"CI: {message}", pytrace=False)
    pytest.skip(message)


def pdf_text(tex: str, folder: Path, engine: str = "xelatex") -> str:
    """Compile `tex` with `engine` in `folder` (the test fails with the log's tail if it does not compile) and
    return the PDF's text as pdftotext reads it."""
    import subprocess

    (folder / "doc.tex").write_text(tex, encoding="utf-8")
    proc = subprocess.run(
        [need(engine), "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    read = subprocess.run([need("pdftotext"), "doc.pdf", "-"], cwd=folder, capture_output=True, text=True)
    return read.stdout


def has_math(node: object) -> bool:
    """Whether a formula tree holds mathematics (a symbol, a number, an operator, a registry formula), not words
    only, and no formula smuggled in as one constant: a `Const` is a number or one name ("0.5", "m"), never
    "w5·out_h1 + b1" written as a string."""
    import re

    from bptrace import formula

    if isinstance(node, formula.Row):
        return any(has_math(x) for x in node.items)
    if isinstance(node, formula.Lines):
        return any(has_math(x) for x in node.lines)
    if isinstance(node, formula.Const):
        return re.fullmatch(r"[-−]?[\w.′]+", node.value) is not None
    return isinstance(node, formula.Node) and not isinstance(node, formula.Text)
