"""One submission's odd data never stops `grade`: the class is written to the end.

Fast: the real batch (collection, gradebook, threads, grades.csv, reports, summary.html,
progress lines) runs on a class of notebooks, with the sandbox replaced by results that
a hostile notebook could produce, and by grader errors raised on one student's behalf.
"""
from __future__ import annotations

import csv
import io
import json

import pytest

import hostile
from autograder.batch import progress, run as batch, workers
from autograder.grading.plan import make_plan
from autograder.grading.settings import Request
from autograder.report import escaping
from autograder.sandbox.slots import SlotError
from conftest import write_notebook
from reports import result_of
from test_escaping import hostile_result


class _NoEvaluator:
    """Nothing here is measured: the stand-in results carry their measurements."""

    alive = True

    def close(self) -> None:
        pass


def _stand_in_for_the_sandbox(submission, exercise, plan, workers, cells=None):
    """What stages 1 and 2 hand to stage 3 for each student of the class below."""
    student = submission.student
    if student == "bob":  # a grader bug, with the student's text in its message
        raise RuntimeError(hostile.EVERYTHING * 100)
    if student == "carol":  # a reason of any size and content
        return {**result_of("lesson-as-printed")[0], "status": "invalid", "score": 0,
                "reason": hostile.EVERYTHING * 10_000, "checks": []}
    if student == "erin":  # numbers that are not
        return {**result_of("reference")[0], "duration_s": float("nan"),
                "metrics": {"test_accuracy": float("inf"), "holdout_accuracy": None}}
    if student == "dave":
        return {**result_of("reference")[0], "notebook": "dave-breaks-the-report.ipynb"}
    return hostile_result() if student.startswith("x") else result_of("reference")[0]


def grade_class(tmp_path, monkeypatch, stand_in=_stand_in_for_the_sandbox):
    folder = tmp_path / "class"
    folder.mkdir()
    students = ["alice", "bob", "carol", "dave", "erin", hostile.STUDENT, hostile.NAME]
    for student in students:
        write_notebook(folder / f"{student}.ipynb", ["print(1)"], exercise="keras-dense")
    monkeypatch.setattr(batch, "start_one", stand_in)
    monkeypatch.setattr(workers, "Evaluator", _NoEvaluator)
    build = batch.report_model.build

    def build_breaking_for_dave(document, *args):
        if document.get("notebook") == "dave-breaks-the-report.ipynb":
            raise ZeroDivisionError("a bug in drawing dave's report")
        return build(document, *args)

    monkeypatch.setattr(batch.report_model, "build", build_breaking_for_dave)
    stream = io.StringIO()
    plan = make_plan(Request(exercise="keras-dense"))
    report = batch.run(batch.Grading([str(folder)], tmp_path / "out", plan, 2, progress.LogProgress(stream),
                                     warm=False))
    return report, tmp_path / "out", stream.getvalue()


@pytest.fixture
def graded_class(tmp_path, monkeypatch):
    return grade_class(tmp_path, monkeypatch)


def test_the_batch_goes_on_past_every_odd_submission(graded_class):
    report, out, lines = graded_class
    rows = {row["student_id"]: row for row in csv.DictReader(open(out / "grades.csv", newline=""))}
    # NAME's escape codes are dropped from its id (autograder/identity.py): it is graded too
    assert len(rows) == 7 and len(report.outcomes) == 7 and not report.problems
    assert rows["alice"]["status"] == "graded" and float(rows["alice"]["score"]) == 100
    outcomes = {o.submission.student: o.result for o in report.outcomes}
    assert rows["bob"]["status"] == "invalid"  # a grader error while running: nothing to grade
    assert "internal error" in outcomes["bob"]["reason"].lower(), outcomes["bob"]["reason"][:200]
    # one while drawing dave's report costs the report, not the grade: kept, and graded again next run
    assert rows["dave"]["status"] == "graded" and float(rows["dave"]["score"]) == 100
    assert outcomes["dave"]["grader_fault"].startswith("the report could not be drawn: internal error")
    assert json.loads((out / "results" / "dave.json").read_text())["grader_fault"] == outcomes["dave"]["grader_fault"]
    assert "could not be drawn" in (out / batch.OutputFolder.report_link("dave")).read_text()
    stored = json.loads((out / "results" / "bob.json").read_text())
    assert stored["reason"] == outcomes["bob"]["reason"] and len(stored["reason"]) < 1000
    assert (out / "summary.html").stat().st_size < 2 * 2**20
    page = (out / "summary.html").read_text()
    hostile.assert_html_inert(page)
    assert "\x1b" not in page and "\u202e" not in page
    hostile.assert_terminal_safe(lines)
    assert lines.count("\n") == 1 + 7 and "onerror" in lines


def test_the_class_summary_for_github_survives_it(graded_class):
    from autograder.report import github

    report, _, _ = graded_class
    text = github.batch_summary(report)
    hostile.assert_markdown_inert(text, ["autograder grade"])
    assert escaping.markdown_text("alice") in text
    for line in github.batch_annotations(report):
        assert "\n" not in line and len(line) < 3 * github.MAX_MESSAGE
        hostile.assert_terminal_safe(line)


def test_a_result_the_gradebook_refuses_does_not_stop_the_batch(tmp_path, monkeypatch):
    def not_a_number(submission, *args):
        document = _stand_in_for_the_sandbox(submission, *args)
        return {**document, "score": float("nan")} if submission.student == "erin" else document

    report, out, _ = grade_class(tmp_path, monkeypatch, not_a_number)
    assert len(report.outcomes) == 7 and (out / "summary.html").exists()  # every student has a row
    erin = next(o.result for o in report.outcomes if o.submission.student == "erin")
    assert erin["status"] == "invalid" and "internal error" in erin["grader_fault"]  # graded again next run


class _SlotThatStops:
    """A slot whose server stops during a run: after the notebook's cells were over, or before."""

    def __init__(self, after_cells: bool):
        self.after_cells = after_cells

    def run(self, *args, on_cells_over=None, **kwargs):
        if self.after_cells:
            on_cells_over()
        raise SlotError("the fork server has stopped")


@pytest.mark.parametrize("after_cells", [False, True])
def test_a_notebook_whose_cells_ran_in_a_stopped_slot_is_not_run_again_cold(after_cells, monkeypatch):
    cold_runs = []
    monkeypatch.setattr(workers, "Evaluator", _NoEvaluator)
    monkeypatch.setattr(workers, "run_notebook", lambda *args, **kwargs: cold_runs.append(args) or "cold record")
    warm = workers.Workers(False, 1)
    warm.warm, warm.slot = True, _SlotThatStops(after_cells)
    warm.slot_ready.set()
    turns = []
    run = warm.run(on_cells_over=lambda: turns.append("given back"))
    if after_cells:  # its turn went to the next notebook: a grader fault, graded again next run
        with pytest.raises(SlotError):
            run("notebook")
        assert (cold_runs, turns) == ([], ["given back"])
    else:  # nothing of it ran: graded cold, still in its turn
        assert run("notebook") == "cold record"
        assert (cold_runs, turns) == ([("notebook",)], [])
