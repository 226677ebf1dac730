"""The report model and its Markdown and HTML renderings (fast: built from recorded facts)."""
from __future__ import annotations

import re
import sys

import pytest

from autograder import exercises
from autograder.report import documents, model, terminal
from reports import report_of, result_of

FAILING = "lesson-as-printed"
PASSING = "reference"


def test_passing_report_holds_everything_a_student_reads():
    report = report_of(PASSING)
    assert report.score == 100 and report.passed == report.total == 14
    assert report.verdict == "All 14 checks passed."
    assert report.history and set(report.history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert sum(map(sum, report.confusion)) == 100
    wrong = 100 - sum(report.confusion[i][i] for i in range(3))
    assert report.mistakes_total == wrong and len(report.mistakes) == min(wrong, model.MAX_GALLERY)
    assert all(m["true"] != m["predicted"] for m in report.mistakes)
    assert [row["differs"] for row in report.layers] == [[], [], []]


def test_failing_report_puts_failures_first_and_shows_the_failing_line():
    report = report_of(FAILING)
    assert [c["passed"] for c in report.checks] == sorted(c["passed"] for c in report.checks)
    assert "5 of 14 checks failed" in report.verdict
    cell = report.failing_cells[0]
    assert [line["marked"] for line in cell["lines"]].count(True) == 1
    assert cell["error"].startswith("ValueError: Invalid input shape")
    assert "input shape is (None, 1)" in cell["explanation"]
    first, dense = report.layers[0], report.layers[1]
    assert first["differs"] == ["shape"] and first["yours"]["shape"] == [None, 1]
    assert dense["differs"] == ["params"] and dense["yours"]["params"] == 20 and dense["expected"]["params"] == 7850


def test_deeper_model_is_compared_with_three_dense_layers():
    document, _ = result_of("deeper-with-two-part-notebook")
    report = model.build(document, exercises.get("keras-deeper"))
    assert [row["expected"]["kind"] for row in report.layers] == ["Input", "Dense(10)", "Dense(10)", "Dense(3)"]
    assert all(not row["differs"] for row in report.layers)


def test_what_was_not_graded_is_said():
    timeout = report_of("timeout-before-training")
    assert any("stopped after" in note for note in timeout.not_graded)
    assert any("did not run" in note for note in timeout.not_graded)
    died = report_of("kernel-dies-after-compile")
    assert any("kernel died" in note for note in died.not_graded)
    assert died.verdict.startswith("The notebook's Python kernel died.")


@pytest.mark.parametrize("history, expected", [
    ({"loss": [1.0, 0.6, 0.4, 0.35, 0.3, 0.25], "val_loss": [1.0, 0.7, 0.5, 0.55, 0.65, 0.8]}, "over-fit"),
    ({"loss": [1.1, 1.1, 1.1], "val_loss": [1.1, 1.1, 1.1]}, "not learning"),
    ({"loss": [1.0, 0.8, 0.6], "val_loss": [1.0, 0.8, 0.6]}, "more epochs"),
    ({"loss": [1.0, 0.5, 0.3, 0.3], "val_loss": [1.0, 0.6, 0.5, 0.5], "accuracy": [0.5, 0.8, 0.95, 0.97],
      "val_accuracy": [0.5, 0.7, 0.8, 0.8]}, "well above validation accuracy"),
])
def test_learning_curves_are_read_aloud(history, expected):
    assert any(expected in note for note in model.read_curves(history))


def test_markdown_has_every_check_and_the_tables():
    for name in (PASSING, FAILING):
        report = report_of(name)
        text = documents.render_markdown(report)
        for entry in report.checks:
            assert f"`{entry['id']}`" in text
        assert "| true \\ predicted |" in text or not report.confusion
    failing = documents.render_markdown(report_of(FAILING))
    assert ">> model.fit(train_data" in failing and "(None, 1) ≠" in failing


def test_html_is_self_contained_small_and_complete():
    for name in (PASSING, FAILING):
        report = report_of(name)
        html = documents.render_html(report)
        assert len(html.encode()) < 2 * 2**20
        assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", html), "an external reference"
        assert "http://" not in html and "https://" not in html and "<script" not in html
        for entry in report.checks:
            assert f"<code>{entry['id']}</code>" in html
    passing = documents.render_html(report_of(PASSING))
    assert 'id="learning-curves" src="data:image/png;base64,' in passing
    assert 'id="confusion-matrix" src="data:image/png;base64,' in passing
    assert passing.count('class="mistake"') == len(report_of(PASSING).mistakes)


def test_reports_never_show_grader_paths_or_a_hidden_threshold():
    report = report_of(PASSING, threshold=0.85, hide_threshold=True)
    html = documents.render_html(report) + documents.render_markdown(report) + terminal.render(report)
    assert "0.85" not in html and "the required accuracy" in html
    for path in {sys.prefix, sys.base_prefix, "/tmp/autograder", "/work/"}:
        assert path not in html


def test_terminal_summary_comes_from_the_same_model():
    text = terminal.render(report_of(FAILING), width=90)
    lines = [line for line in text.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(lines) == 14 and lines[0].startswith("FAIL") and lines[-1].startswith("PASS")
    assert "Next step:" in text and "\x1b[" not in text
    assert "\x1b[" in terminal.render(report_of(FAILING), color=True)
