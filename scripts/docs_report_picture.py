"""Regenerate docs/images/report.png, the picture of a report in the README and the students' guide.

    .venv/bin/python scripts/docs_report_picture.py [--data FASHION_NPZ] [--out docs/images/report.png]

Grades examples/lesson-as-printed.ipynb (the lesson exactly as printed, which fails as students
find it) with `autograder check --html`, opens the report in headless Chromium (Debian's
chromium at /usr/bin/chromium, driven by Playwright; nothing is downloaded) at a desktop width,
photographs its top down to the passed checks (the score, the headline and the root causes),
and saves it as a 256-colour PNG so that it stays small (under 150 KB). The committed picture was
made with the lesson's real fashion.npz; the stand-in data (the default) gives the same top of
the report, since the notebook never trains.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "lesson-as-printed.ipynb"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
WIDTH = 960
MAX_BYTES = 150 * 1024


def render(html: Path, data: str | None) -> None:
    command = [sys.executable, "-m", "autograder", "check", str(NOTEBOOK), "--exercise", "keras-dense",
               "--html", str(html), "--quiet"]
    if data:
        command += ["--data", data]
    # Exit status 1 is the point: the lesson as printed fails checks. 2 would mean no report.
    status = subprocess.run(command, check=False).returncode
    if status not in (0, 1) or not html.is_file():
        sys.exit(f"autograder check exited {status} without a report")


def photograph(html: Path, out: Path) -> None:
    from PIL import Image
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": WIDTH, "height": 800})
        page.goto(html.as_uri())
        # Down to the heading of the passed checks: the part a student reads first.
        bottom = page.evaluate("document.getElementById('passed-title').getBoundingClientRect().top")
        raw = out.with_suffix(".raw.png")
        page.screenshot(path=str(raw), clip={"x": 0, "y": 0, "width": WIDTH, "height": int(bottom) - 8},
                        full_page=True)
        browser.close()
    with Image.open(raw) as picture:
        picture.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
    raw.unlink()
    size = out.stat().st_size
    print(f"wrote {out}: {size // 1024} KB")
    if size > MAX_BYTES:
        sys.exit(f"{out} is {size // 1024} KB, more than {MAX_BYTES // 1024} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="the lesson's fashion.npz (default: the built-in stand-in)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "report.png")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        html = Path(scratch) / "report.html"
        render(html, args.data)
        photograph(html, args.out)


if __name__ == "__main__":
    main()
