"""The report model and its Markdown and HTML renderings (fast: built from recorded facts)."""
from __future__ import annotations

import re
import subprocess
import sys
import threading

import pytest

from autograder.exercise import registry as exercises
from autograder.grading.phrasing import key_line
from autograder.report import documents, model, plots, terminal
from reports import RECORDINGS, report_of, result_of

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


def test_failing_report_leads_with_the_root_causes_and_marks_their_lines():
    report = report_of(FAILING)
    assert report.verdict.startswith("5 of 14 checks failed. Start here: `input_shape=(train_data.shape[-1],)`")
    assert "(code cell 2, line 4)" in report.verdict
    first, second = report.causes
    assert [line["marked"] for line in first["lines"]].count(True) == 1
    assert first["lines"][3]["marked"] and "input_shape=(train_data.shape[-1],)" in first["lines"][3]["text"]
    assert [c["id"] for c in first["costs"]] == ["model.input_shape", "fit.called", "evaluate.called",
                                                 "accuracy.threshold"]
    assert [c["id"] for c in second["costs"]] == ["data.reshape"] and second["kind"] == "unflattened-input"
    assert report.own_failures == [] and report.failing_cells == []  # every failure is under its cause
    assert len(report.passed_checks) == 9
    layer, dense = report.layers[0], report.layers[1]
    assert layer["differs"] == ["shape"] and layer["yours"]["shape"] == [None, 1]
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


@pytest.mark.parametrize("history", [
    {"loss": [1.0]},  # one epoch: a single dot
    {"loss": [1.0, 0.8, 0.6, 0.5]},  # no validation data
    {"loss": [1.0, 0.8], "val_loss": [1.0, 0.9]},  # two epochs
])
def test_learning_curves_are_not_read_without_enough_to_read(history):
    assert model.read_curves(history) == []


def test_markdown_has_every_check_and_the_tables():
    for name in (PASSING, FAILING):
        report = report_of(name)
        text = documents.render_markdown(report)
        for entry in report.checks:
            assert f"`{entry['id']}`" in text
        assert "| true \\ predicted |" in text or not report.confusion
    failing = documents.render_markdown(report_of(FAILING))
    assert ">> model.add(Dense(10, input_shape=(train_data.shape[-1],)" in failing and "(None, 1) ≠" in failing
    assert failing.index("What to fix") < failing.index("Passed: 9 of 14")


def sentences(markdown: str) -> list[str]:
    """The prose sentences of a Markdown report (not its tables or code)."""
    prose = [line for line in markdown.splitlines() if line.strip() and not line.startswith(("|", "   ", ">> ", "```"))]
    found = []
    for line in prose:
        found += [s.strip() for s in re.split(r"(?<=[.!?])\s+", line) if len(s.split()) >= 4]
    return found


@pytest.mark.parametrize("name", sorted(p.stem for p in RECORDINGS.glob("*.json")))
def test_no_sentence_repeats_in_the_markdown(name):
    text = documents.render_markdown(report_of(name))
    said = sentences(text)
    repeated = {s for s in said if said.count(s) > 1}
    assert not repeated, repeated


def test_passed_optimizer_is_not_named_twice():
    text = documents.render_markdown(report_of(PASSING))
    assert "The optimizer is Adam." in text and "Adam (Adam)" not in text and "Adam (adam)" not in text


def test_a_long_error_is_cut_at_a_word_and_said_once():
    evalue = "Invalid input " + "shape of a tensor that is far too long " * 20 + "<class 'ellipsis'>"
    line = key_line(evalue)
    assert line.endswith("…") and len(line) <= 300 and line[:-1].split()[-1] in evalue.split()


def test_many_failed_cells_end_with_and_n_more():
    document, exercise = result_of("reference")
    cell = {"index": 0, "status": "error", "ename": "RuntimeError", "evalue": "boom", "line": 1, "source": "x()"}
    document["cells"] = [{**cell, "index": i, "number": i + 1, "evalue": f"boom number {i}"} for i in range(8)]
    report = model.build(document, exercise)
    assert len(report.failing_cells) == model.MAX_FAILING_CELLS and report.failing_cells_more == 3
    assert "and 3 more failed cells" in documents.render_markdown(report)


def test_an_unreadable_notebook_gets_one_message_with_what_to_do(tmp_path):
    from autograder.grading import pipeline
    from autograder.grading.plan import make_plan
    from autograder.grading.settings import Request

    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [{"cell_type": "code", "source": "x = 1"')  # cut off mid-download
    plan = make_plan(Request.from_options({"exercise": "keras-dense"}))
    document = pipeline.prepare(str(broken), plan)
    assert isinstance(document, dict) and document["status"] == "invalid"
    assert [c["cause"] for c in document["checks"]] == ["c1"] * 14
    text = documents.render_markdown(model.build(document, exercises.get("keras-dense")))
    assert text.count("not valid JSON") == 1 and "resubmit" in text
    assert not {s for s in sentences(text) if sentences(text).count(s) > 1}
    printed = terminal.render(model.build(document, exercises.get("keras-dense")))
    assert printed.count("not valid JSON") == 1 and "resubmit" in printed


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
    assert 'id="learning-curves" class="curve" src="data:image/png;base64,' in passing
    assert passing.count('class="curve"') == 2  # loss and accuracy drawn apart, so that a phone stacks them
    assert 'id="confusion-matrix" src="data:image/png;base64,' in passing
    assert "true \\ predicted" not in passing  # the matrix is shown once: drawn, its counts in the alt text
    assert passing.count('class="mistake"') == len(report_of(PASSING).mistakes)


def test_a_history_the_notebook_wrote_draws_what_it_can_and_tables_the_rest():
    # A callback can set any history: +-1e308 once made matplotlib's axis range overflow, an
    # internal error that cost the student the report and the grade (graded again every run).
    report = report_of(PASSING)
    report.history = {**report.history, "loss": [1e308, -1e308] + report.history["loss"][2:]}
    html = documents.render_html(report)
    assert html.count('class="curve"') == 2 and "could not be drawn" not in html
    assert "<td>1e+308</td>" in html and "<td>-1e+308</td>" in html  # the table keeps them, in a few characters


def test_curves_drawn_on_a_kept_figure_are_byte_for_byte_a_new_figures(monkeypatch):
    # Each drawing thread keeps its curve panel between reports: nothing of one student's
    # curves (their range, their series, their legend) may show in the next one's.
    histories = [report_of(PASSING).history, {"loss": [1e308, -1e308, 3.0], "val_loss": [2e38, None, -5.0]},
                 {"loss": [None, 2.0, 1.0], "acc": [0.1, 0.2, 0.3]}, {"loss": [float("nan")] * 3},
                 {"loss": [0.5] * 60, "val_loss": [0.4] * 60, "accuracy": [1.0] * 60}, {"loss": [5.0]},
                 {"loss": [float("nan")] * 3, "val_loss": [1.0, 2.0, 3.0]}, report_of(PASSING).history]
    kept = [plots.learning_curves(history) for history in histories]
    new = []
    for history in histories:
        monkeypatch.setattr(plots, "_drawing_thread", threading.local())
        new.append(plots.learning_curves(history))
    assert [len(images) for images in kept] == [2, 1, 2, 1, 2, 1, 1, 2]
    assert kept == new


@pytest.mark.parametrize("figure", ["learning_curves", "confusion_matrix"])
def test_a_figure_that_cannot_be_drawn_is_left_out_and_said_to_be(figure, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("cannot draw")

    monkeypatch.setattr(documents.plots, figure, broken)
    report = report_of(PASSING)
    html = documents.render_html(report)
    if figure == "learning_curves":
        assert 'class="curve"' not in html and 'id="curves-left-out"' in html
    else:  # the matrix falls back to its table, as for one too large to draw
        assert 'id="confusion-matrix"' not in html and "true \\ predicted" in html
    assert 'class="curve"' in html or 'id="confusion-matrix"' in html  # the other figure is still drawn
    assert html.count('class="mistake"') == len(report.mistakes)


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
    assert text.index("1. `input_shape=(train_data.shape[-1],)`") < text.index("FAIL  model.input_shape")
    assert "Next step:" in text and "\x1b[" not in text
    assert "\x1b[" in terminal.render(report_of(FAILING), color=True)


def test_a_history_a_callback_emptied_is_read_without_its_empty_series():
    history = {"loss": [1.0, 0.8, 0.6], "val_loss": [1.0, 0.9, 0.8], "accuracy": [], "val_accuracy": [0.5, 0.6, 0.7]}
    assert model.read_curves(history)  # an IndexError once cost the student the report
    report = report_of(PASSING)
    report.history = history
    assert "Training" in documents.render_html(report)


WARM_UP = """
import os, sys, threading
calls = []
set_priority = os.setpriority
os.setpriority = lambda *args: (calls.append(args), set_priority(*args))[1]
from autograder.report import documents
from autograder.report.templating import ENV
thread = documents.warm_up()
thread.join(120)
print(not thread.is_alive(), "matplotlib.figure" in sys.modules, "report.html.j2" in {key[1] for key in ENV.cache},
      calls == [(os.PRIO_PROCESS, thread.native_id, documents.WARM_UP_NICENESS)],
      os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0)
"""


def test_the_warm_up_draws_the_first_figures_and_template_on_a_thread_of_lower_priority():
    # In a fresh interpreter: here, earlier tests have drawn reports already.
    completed = subprocess.run([sys.executable, "-c", WARM_UP], capture_output=True, text=True, timeout=180)
    finished, drew, compiled, lowered, main_thread_kept = completed.stdout.split()
    assert (finished, drew, compiled, lowered, main_thread_kept) == ("True",) * 5, completed.stderr


def test_a_model_that_never_trained_says_so_instead_of_drawing_its_predictions():
    """Its confusion matrix and 'wrong' images are those of random weights: not shown, and said why."""
    for name in ("never-trained", "cascade-typo-at-definition"):
        report = report_of(name)
        assert report.untrained and report.confusion is None and report.mistakes == [] and report.accuracy is not None
        html, markdown = documents.render_html(report), documents.render_markdown(report)
        assert 'id="never-trained"' in html and 'id="confusion-matrix"' not in html and 'class="mistake"' not in html
        assert "never trained" in markdown and "misclassified" not in markdown
        assert "never trained" in terminal.render(report)
    trained = report_of(PASSING)
    assert not trained.untrained and trained.confusion and 'id="never-trained"' not in documents.render_html(trained)


def test_the_model_table_says_its_differences_in_words():
    report = report_of("cascade-cnn-no-flatten")
    assert report.layer_notes == [
        "Missing after MaxPooling2D(2x2): Flatten (the exercise has it; your model does not).",
        "Output: yours is (None, 5, 5, 3), the exercise's is (None, 3), one score per class for each image."]
    html, markdown = documents.render_html(report), documents.render_markdown(report)
    assert 'id="model-differences"' in html and all(note.split(":")[0] in html for note in report.layer_notes)
    assert "| # | Your layer | Expected layer |" in markdown and "- Missing after MaxPooling2D(2x2)" in markdown
    assert report_of(PASSING).layer_notes == []
    assert report_of("sigmoid-output").layer_notes == [
        "Layer 2, Dense(3): yours applies sigmoid, the exercise's applies softmax."]


def test_one_headline_form_with_or_without_a_cause():
    with_cause = report_of("ten-unit-output").verdict
    without = report_of("sigmoid-output").verdict
    assert with_cause.startswith("5 of 14 checks failed. Start here: The output layer has 10 units")
    assert with_cause.count("code cell") == 1
    assert without == ("1 of 14 checks failed. Start here: Output layer: 3 units with softmax "
                       "(check model.output_layer).")
