"""Write screenshots of the HTML report of a passing and a failing notebook.

    .venv/bin/python scripts/screenshot_reports.py [OUT_DIR]     (default: out/screenshots)

Grades solutions/keras-dense.ipynb and examples/lesson-as-printed.ipynb against
the built-in stand-in data, renders both HTML reports, and photographs them
in headless Chromium (Debian's chromium at /usr/bin/chromium, driven by
Playwright) at desktop and phone width. Needs `pip install playwright` and
the chromium package; downloads nothing.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {"passing": ROOT / "solutions" / "keras-dense.ipynb",
             "failing": ROOT / "examples" / "lesson-as-printed.ipynb"}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    for name, notebook in NOTEBOOKS.items():
        html = out / f"{name}.html"
        subprocess.run([sys.executable, "-m", "autograder", "check", str(notebook), "--exercise", "keras-dense",
                        "--html", str(html), "--quiet"], check=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name in NOTEBOOKS:
            for width, label in ((1280, "desktop"), (390, "phone")):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto((out / f"{name}.html").as_uri())
                page.screenshot(path=str(out / f"{name}-{label}.png"), full_page=True)
                page.close()
                print(f"wrote {out / f'{name}-{label}.png'}")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "out" / "screenshots")
