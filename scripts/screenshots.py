#!/usr/bin/env python3
"""Make the README's pictures with bptrace's own commands: the lesson page (headless Chromium) and
`bptrace run scenarios/mazur.yaml` at an 80-column terminal (rich's SVG export of the same output).

    python scripts/screenshots.py            # writes docs/images/lesson.png and docs/images/terminal-80.svg
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def terminal_svg(path: Path, width: int = 80) -> None:
    """`bptrace run scenarios/mazur.yaml --verify off` as an 80-column terminal shows it, exported as SVG."""
    import os

    from rich.console import Console
    from rich.text import Text

    env = dict(os.environ, COLUMNS=str(width), FORCE_COLOR="1", TERM="xterm-256color")
    done = subprocess.run(
        [sys.executable, "-m", "bptrace", "run", "scenarios/mazur.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    console = Console(record=True, width=width, file=open(os.devnull, "w"), force_terminal=True)  # noqa: SIM115
    console.print(Text.from_ansi(done.stdout))
    console.save_svg(str(path), title=f"bptrace run scenarios/mazur.yaml  (COLUMNS={width})")


def lesson_png(path: Path) -> None:
    """`bptrace lesson scenarios/mazur.yaml`, stepped to the first weight update, in headless Chromium."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("needs Debian's chromium (apt install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        page_file = Path(tmp) / "lesson.html"
        subprocess.run(
            [sys.executable, "-m", "bptrace", "lesson", "scenarios/mazur.yaml", "-o", str(page_file)],
            cwd=ROOT,
            check=True,
        )
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 700})
            page.goto(page_file.as_uri())
            total = page.locator(".slide").count()
            headings = [page.locator(".slide").nth(k).get_attribute("data-heading") for k in range(total)]
            target = next(k for k, h in enumerate(headings) if h == "w5")  # the gradient of w5
            for _ in range(target):
                page.keyboard.press("ArrowRight")
            page.screenshot(path=str(path))
            browser.close()


if __name__ == "__main__":
    IMAGES.mkdir(parents=True, exist_ok=True)
    terminal_svg(IMAGES / "terminal-80.svg")
    lesson_png(IMAGES / "lesson.png")
    print(f"wrote {IMAGES / 'terminal-80.svg'} and {IMAGES / 'lesson.png'}")
