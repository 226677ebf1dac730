"""The HTML reports opened in a real browser (headless Chromium, driven by Playwright)."""
from __future__ import annotations

import os
import shutil

import pytest

from autograder.report import documents
from reports import report_of

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "playwright is not installed"
    if reason is None and not os.path.exists(CHROMIUM):
        reason = f"no Chromium at {CHROMIUM}"
    if reason:
        if os.environ.get("AUTOGRADER_REQUIRE_BROWSER"):
            pytest.fail(f"the browser test must run here, but {reason}")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def open_report(browser, path, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    problems, outside = [], []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))

    def watch(route):
        url = route.request.url
        if url.startswith(("file://", "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    page.route("**/*", watch)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, problems, outside


@pytest.mark.parametrize("name", ["reference", "lesson-as-printed", "timeout-before-training",
                                  "cascade-missing-import", "cascade-lesson-half-fix"])
@pytest.mark.parametrize("width", [1100, 390])
def test_report_reads_well_in_a_browser(browser, tmp_path, name, width):
    report = report_of(name)
    path = tmp_path / f"{name}.html"
    documents.write_html(report, path)
    page, problems, outside = open_report(browser, path, width)
    assert problems == [] and outside == []
    score = page.locator("#score")
    assert score.is_visible() and f"{report.score:g} / {report.max_score:g}" in score.inner_text()
    for entry in report.checks:
        check = page.locator(f"[id='check-{entry['id']}']")
        assert check.is_visible()
        assert ("Passed" if entry["passed"] else "Failed") in check.inner_text()  # said in words, not colour
    images = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
    assert all(images)
    if report.history:
        assert page.locator("#learning-curves").is_visible() and page.locator("#confusion-matrix").is_visible()
        assert len(images) >= 3
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1  # no sideways scrolling
    if width == 1100:
        page.emulate_media(media="print")
        assert len(page.pdf()) > 10_000  # prints
    page.close()


def inside_its_box(page, selector: str) -> bool:
    """Whether every element matching `selector` lies within the page's width (nothing is cut off)."""
    return page.evaluate(f"""Array.from(document.querySelectorAll({selector!r})).every(e => {{
        const box = e.getBoundingClientRect();
        return box.left >= 0 && box.right <= document.documentElement.clientWidth + 1; }})""")


@pytest.mark.parametrize("width", [1100, 390])
def test_a_cascading_report_leads_with_its_cause_at_any_width(browser, tmp_path, width):
    report = report_of("cascade-lesson-half-fix")
    path = tmp_path / "cascade.html"
    documents.write_html(report, path)
    page, problems, outside = open_report(browser, path, width)
    assert problems == [] and outside == []
    first = page.locator("#cause-c1")
    assert first.is_visible() and "input_shape=(train_data.shape[-1],)" in first.inner_text()
    headings = page.locator("h2").all_inner_texts()
    assert headings[0] == "What to fix, first things first"  # before any check card or table
    marker = page.locator("#cause-c1 .marker")
    assert marker.count() == 1 and marker.is_visible() and inside_its_box(page, ".marker")  # never clipped
    assert inside_its_box(page, ".scroll, pre.cell, ol.causes > li")  # wide tables and code scroll inside
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    page.close()


def test_plots_stack_at_phone_width(browser, tmp_path):
    path = tmp_path / "reference.html"
    documents.write_html(report_of("reference"), path)
    for width, stacked in ((1100, False), (390, True)):
        page, _, _ = open_report(browser, path, width)
        boxes = page.evaluate("""Array.from(document.querySelectorAll('img.curve')).map(i => {
            const box = i.getBoundingClientRect(); return {top: box.top, width: box.width}; })""")
        tops, widths = [box["top"] for box in boxes], [box["width"] for box in boxes]
        assert len(tops) == 2 and (tops[1] > tops[0]) == stacked
        assert min(widths) >= (300 if stacked else 400)  # readable, not two 170 px thumbnails
        page.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_model_table_fits_a_phone_and_a_desktop(browser, tmp_path, width):
    """The expected layer, the answer, is on screen beside the student's at any width, no column is
    clipped, and the differences are said in words above the table."""
    report = report_of("cascade-cnn-no-flatten")
    path = tmp_path / "cnn.html"
    documents.write_html(report, path)
    page, problems, outside = open_report(browser, path, width)
    assert problems == [] and outside == []
    table = page.locator("table.layers")
    table.scroll_into_view_if_needed()
    assert page.locator("table.layers thead th").all_inner_texts() == ["#", "Your layer", "Expected layer"]
    assert inside_its_box(page, "table.layers th, table.layers td")  # every column within the page
    box = table.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
    differences = page.locator("#model-differences li").all_inner_texts()
    assert differences[0].startswith("Missing after MaxPooling2D(2x2): Flatten")
    page.close()
