"""The instructor's class summary, on hand-built result documents that follow DESIGN.md's contract
(with `causes`, and older ones without): what to reteach, unstarted templates, summary.json.

test_batch.py grades a real class and checks the same files it writes."""
from __future__ import annotations

import json
import statistics

from autograder.batch.collect import Problem, Submission
from autograder.batch.outputs import OutputFolder
from autograder.batch.run import BatchReport, GradedSubmission
from autograder.exercise.registry import get
from autograder.report import summary

DENSE = get("keras-dense")
IDS = DENSE.check_ids


def result(failed: dict[str, str] | None = None, causes: list[dict] | None = None, *, cells=(), models=1,
           gap_p: float | None = None, status: str = "graded") -> dict:
    """A result document: `failed` maps the failed check ids to their diagnosis ("" for the default);
    `causes` is DESIGN.md's list (None: a result from before causes existed, with no key)."""
    failed = failed or {}
    checks = []
    for check_id in IDS:
        title = DENSE.check_title(check_id)
        diagnosis = failed.get(check_id)
        entry = {"id": check_id, "title": title, "passed": diagnosis is None, "points": 0.0 if diagnosis is not None
                 else 10.0, "max_points": 10.0, "message": "", "hint": "",
                 "diagnosis": "" if diagnosis is None else diagnosis or f"not done: {title.lower()}"}
        if causes is not None:
            entry["cause"] = next((c["id"] for c in causes if check_id in c["checks"]), None)
        checks.append(entry)
    document = {"schema": "autograder.result/1", "exercise": "keras-dense", "notebook": "n.ipynb",
                "status": status, "score": sum(c["points"] for c in checks), "max_score": 140.0,
                "checks": checks, "cells": list(cells), "duration_s": 1.0, "isolation": "bubblewrap",
                "metrics": {"test_accuracy": 0.9, "holdout_accuracy": 0.7, "holdout_gap": 0.2,
                            "holdout_gap_p": gap_p} if gap_p is not None else {},
                "details": {"models_seen": models}}
    if causes is not None:
        document["causes"] = causes
    return document


def cause(kind: str, title: str, checks: list[str], cell: int = 4) -> dict:
    return {"id": "c1", "cell": cell, "line": 1, "kind": kind, "title": title, "message": "...",
            "next_step": "...", "checks": checks}


NOT_FLAT = ["data.reshape", "fit.called", "evaluate.called", "accuracy.threshold"]
UNSTARTED_CELLS = [{"index": 4, "status": "error", "ename": "NotImplementedError", "evalue": ""},
                   {"index": 7, "status": "error", "ename": "NameError", "evalue": "name 'train_data' ..."}]
EVERY_CHECK = {check_id: "" for check_id in IDS}


def batch(results: dict[str, dict], problems=()) -> BatchReport:
    report = BatchReport(problems=list(problems), seconds=10.0)
    report.outcomes = [GradedSubmission(Submission(student, f"{student}.ipynb", b"{}"), "keras-dense", document)
                       for student, document in results.items()]
    return report


def written(tmp_path, report: BatchReport) -> tuple[str, dict]:
    folder = OutputFolder(tmp_path)
    summary.write(report, folder.summary, folder.summary_json, folder.report_link)
    return folder.summary.read_text(), json.loads(folder.summary_json.read_text())


def test_each_student_is_counted_once_under_their_first_root_cause(tmp_path):
    flat = {check_id: "" for check_id in NOT_FLAT}
    report = batch({
        # Not flattening fails four checks, but it is one thing to reteach: one row, two students.
        "ann": result(flat, [cause("unflattened-input", "The images were not flattened", NOT_FLAT)]),
        "ben": result(flat, [cause("unflattened-input", "The images were not flattened", NOT_FLAT)]),
        "bo": result(flat, [cause("unflattened-input", "The images were not flattened", NOT_FLAT, cell=6)]),
        # The import is ben's and cy's first cause; cy's later causes do not count again.
        "cy": result({**flat, "model.architecture": ""},
                     [cause("NameError", "`Dense` is not defined", ["model.architecture"]),
                      {**cause("unflattened-input", "The images were not flattened", NOT_FLAT), "id": "c2"}]),
        "dee": result(),  # full marks: nothing to reteach
        # Graded before the cause analysis: its first failed check, in rubric order.
        "eve": result({"compile.optimizer": "optimizer sgd", "fit.settings": "other epochs or batch size"}),
        # A failed check with no deeper cause ("cause": null) is the mistake itself.
        "fay": result({"compile.optimizer": "optimizer sgd"}, []),
        "gus": result(status="invalid"),
    })
    html, document = written(tmp_path, report)
    rows = [(row["kind"], row["title"], row["count"], row["students"]) for row in document["reteach"]]
    assert rows == [("unflattened-input", "The images were not flattened", 3, ["ann", "ben", "bo"]),
                    ("compile.optimizer", "optimizer sgd", 2, ["eve", "fay"]),
                    ("NameError", "`Dense` is not defined", 1, ["cy"])]
    assert [row["source"] for row in document["reteach"]] == ["cause", "check", "cause"]
    assert document["students"] == 8 and document["graded"] == 7 and document["invalid"] == 1
    assert document["invalid_students"] == ["gus"]
    assert sum(row["count"] for row in document["reteach"]) == 6  # everyone who lost points, once
    assert "What to reteach" in html and "Most common mistakes" not in html
    assert "<code>Dense</code> is not defined" in html  # the title's code span, as code
    reteach = html[html.index("What to reteach"):]  # the student table above names each one's first mistake
    assert reteach.index("The images were not flattened") < reteach.index("optimizer sgd") < \
        reteach.index("is not defined")


def test_unstarted_templates_are_one_line_at_the_end(tmp_path):
    unstarted = {f"s{n}": result(EVERY_CHECK, [cause("NotImplementedError", "Step 1 is not written yet",
                                                       ["data.load"])], cells=UNSTARTED_CELLS, models=0)
                 for n in range(10)}
    loaded_only = {**EVERY_CHECK}
    del loaded_only["data.load"]  # loading done, nothing after it: still not started
    report = batch({**unstarted, "tom": result(loaded_only, None, cells=[
        {"index": 9, "status": "error", "ename": "NotImplementedError", "evalue": ""}], models=0),
        # Everything failed too, but a real error came first: a mistake to reteach, not "not started".
        "una": result(EVERY_CHECK, [cause("SyntaxError", "A bracket is not closed", list(IDS))],
                      cells=[{"index": 4, "status": "error", "ename": "SyntaxError", "evalue": "'(' was never closed"}],
                      models=0),
        "val": result({"compile.loss": "loss mean squared error"}, [])})
    html, document = written(tmp_path, report)
    rows = document["reteach"]
    assert [(row["source"], row["count"]) for row in rows] == [("cause", 1), ("check", 1), ("not-started", 11)]
    assert rows[-1]["students"] == [*unstarted, "tom"]
    assert html[html.index("What to reteach"):].count("Not started") == 1  # one line to reteach


def test_labels_keep_capitalisation_and_keras_names(tmp_path):
    """Checks without a specific diagnosis were labelled with their title lower-cased: "(none, 784)"."""
    _, document = written(tmp_path, batch({"ann": result({"model.input_shape": ""}),
                                           "ben": result({"compile.optimizer": ""})}))
    titles = {row["title"] for row in document["reteach"]}
    assert titles == {f"Not done: {DENSE.check_title(check_id)}"
                      for check_id in ("model.input_shape", "compile.optimizer")}
    assert any("(None, 784)" in title for title in titles) and any("Adam" in title for title in titles)


def test_summary_json_has_the_counts_of_the_page(tmp_path):
    low = {"accuracy.threshold": "test accuracy below the threshold", "fit.settings": "other epochs or batch size",
           "fit.validation": "no validation split", "compile.metrics": "no metrics"}
    report = batch({"ann": result(), "ben": result(low, gap_p=0.001),
                    "cy": result(gap_p=0.5)}, problems=[Problem("notes.txt", "not a notebook (.ipynb)")])
    html, document = written(tmp_path, report)
    assert document["schema"] == "autograder.summary/1" and document["not_graded_files"] == 1
    scores = document["scores"]
    assert scores["full_marks"] == 2 and scores["maximum"] == 140.0
    # 140, 100 and 140 points, in bins of 14: the eighth (98 to 112) and the last.
    assert [b["students"] for b in scores["bins"]] == [0, 0, 0, 0, 0, 0, 0, 1, 0, 2]
    assert scores["mean"] == statistics.mean([140, 100, 140]) and scores["median"] == 140
    threshold = next(c for c in document["checks"] if c["id"] == "accuracy.threshold")
    assert (threshold["passed"], threshold["total"], threshold["rate"]) == (2, 3, round(2 / 3, 4))
    assert f"{threshold['passed']} / {threshold['total']}" in html
    assert document["holdout_gap_flags"]["students"] == [{"student": "ben", "gap": 0.2, "p": 0.001}]
    assert "significantly better" in html


def test_a_title_with_hidden_characters_is_spelled_out_and_escaped(tmp_path):
    title = "`<script>x</script>` \u202e is not defined"
    html, document = written(tmp_path, batch({"ann": result({"model.architecture": ""},
                                                            [cause("NameError", title, ["model.architecture"])])}))
    assert "<script>x" not in html and "\u202e" not in html and "\u202e" not in json.dumps(document)
    assert "\\u202e" in document["reteach"][0]["title"]
