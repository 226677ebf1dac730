"""A hidden holdout: accuracy.threshold decided on images the notebook never sees."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from autograder import data
from autograder.errors import UsageError
from autograder.grading import plan
from autograder.report import documents, model as report_model
from autograder.sandbox import isolation
from conftest import write_notebook
from corpus import lesson


@pytest.fixture(scope="module")
def holdouts(tmp_path_factory):
    """A fair holdout (new images from the stand-in's generator) and one whose labels are all
    wrong, which no model can pass: the verdict then shows which images decided it."""
    folder = tmp_path_factory.mktemp("holdout")
    fresh = data.make_standin(seed=99)
    np.savez(folder / "fair.npz", test_data=fresh.test_data, test_labels=fresh.test_labels)
    np.savez(folder / "mislabelled.npz", test_data=fresh.test_data,
             test_labels=np.roll(fresh.test_labels, 1, axis=1))
    return folder


def test_holdout_files_are_validated(tmp_path):
    np.savez(tmp_path / "labels-only.npz", test_labels=np.eye(3)[[0, 1, 2]])
    with pytest.raises(data.DataError, match="missing arrays test_data"):
        data.load_holdout(tmp_path / "labels-only.npz")
    np.savez(tmp_path / "bytes.npz", test_data=np.zeros((3, 28, 28, 1), np.uint8), test_labels=np.eye(3))
    with pytest.raises(data.DataError, match="dtype uint8"):
        data.load_holdout(tmp_path / "bytes.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(data.DataError, match="not a readable npz"):
        data.load_holdout(tmp_path / "text.npz")
    with pytest.raises(data.DataError, match="cannot read holdout file"):
        data.load_holdout(tmp_path / "missing.npz")


def test_a_holdout_the_sandbox_could_read_is_refused(tmp_path):
    import autograder

    assert isolation.sandbox_readable("/usr/share/holdout.npz") == "/usr"
    assert isolation.sandbox_readable(tmp_path / "holdout.npz") is None
    inside = str(autograder.__file__)
    assert isolation.sandbox_readable(inside) is not None
    with pytest.raises(UsageError, match="notebooks can read"):
        plan.load_holdout(inside, isolation.BUBBLEWRAP)
    with pytest.raises(UsageError, match="needs bubblewrap"):
        plan.load_holdout(str(tmp_path / "h.npz"), isolation.RLIMITS)


def _accuracy_check(result):
    return next(c for c in result["checks"] if c["id"] == "accuracy.threshold")


@pytest.mark.slow
def test_the_verdict_comes_from_the_holdout_and_students_see_only_what_is_allowed(tmp_path, standin_file,
                                                                                  holdouts, warm_grader):
    notebook = write_notebook(tmp_path / "student.ipynb", lesson(), "keras-dense")
    status, fair = warm_grader.check(notebook, tmp_path, "--data", str(standin_file),
                                     "--holdout", str(holdouts / "fair.npz"))
    assert status == 0 and fair["metrics"]["holdout_accuracy"] >= 0.8 and fair["metrics"]["holdout_size"] == 100
    assert "never saw it also reaches 0.80" in _accuracy_check(fair)["message"]

    status, wrong = warm_grader.check(notebook, tmp_path, "--data", str(standin_file),
                          "--holdout", str(holdouts / "mislabelled.npz"))
    assert status == 1 and wrong["score"] == 90.0
    check = _accuracy_check(wrong)
    assert not check["passed"] and "does not reach 0.80" in check["message"]
    assert wrong["metrics"]["test_accuracy"] == fair["metrics"]["test_accuracy"]  # the same model
    gap = wrong["metrics"]["holdout_gap"]
    assert wrong["metrics"]["holdout_gap_p"] < 1e-6  # a gap of 0.9 on 100 images is no accident
    assert gap > 0.5 and check["diagnosis"] == "far less accurate on unseen images than on the test images"
    hidden_number = f"{wrong['metrics']['holdout_accuracy']:.2f}"
    report = report_model.build(wrong)
    assert f"never saw: <strong>{hidden_number}" not in documents.render_html(report)
    assert hidden_number not in check["message"]

    status, shown = warm_grader.check(notebook, tmp_path, "--data", str(standin_file),
                          "--holdout", str(holdouts / "mislabelled.npz"), "--show-holdout")
    assert f"{hidden_number} on 100 images your notebook never saw" in _accuracy_check(shown)["message"]
    assert f"never saw: <strong>{hidden_number}</strong>" in documents.render_html(report_model.build(shown))


@pytest.mark.slow
def test_a_notebook_cannot_find_the_holdout_and_the_class_gets_both_accuracies(tmp_path, standin_file,
                                                                              holdouts, warm_grader):
    """The holdout stays out of every sandbox: a notebook looking for it by its path and in its
    folder finds nothing (finding it would cost it its training data). The instructor's
    gradebook lists both accuracies."""
    secret = holdouts / "fair.npz"
    peek = (f"import os\nfound = os.path.exists({str(secret)!r}) or os.path.exists({str(secret.parent)!r})\n"
            "print('found the holdout:', found)\nif found:\n    del train_data_1d")
    submissions = tmp_path / "class"
    submissions.mkdir()
    write_notebook(submissions / "peeker.ipynb", lesson(before={"fit": peek}), "keras-dense")
    write_notebook(submissions / "honest.ipynb", lesson(), "keras-dense")
    out = tmp_path / "out"
    completed = warm_grader.main("grade", str(submissions), "--out", str(out), "--data", str(standin_file),
                                 "--holdout", str(secret), "--jobs", "2")
    assert completed.returncode == 0, completed.stderr[-2000:]
    rows = {row["student_id"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    for student in ("peeker", "honest"):
        assert rows[student]["score"] == "100.0"
        assert float(rows[student]["holdout_accuracy"]) >= 0.8 and rows[student]["test_accuracy"]
    assert "Holdout accuracy" in (out / "summary.html").read_text()
    result = json.loads((out / "results" / "peeker.json").read_text())
    assert result["metrics"]["holdout_accuracy"] == float(rows["peeker"]["holdout_accuracy"])


@pytest.mark.slow
def test_every_output_names_the_data_that_graded_and_says_when_no_holdout_did(tmp_path, warm_grader):
    """`check` without --data grades with the fashion.npz beside the notebook (and the holdout
    beside that); a grade decided without a holdout says so in one line, with how to get one, in
    the result, the terminal, the reports, the class summary and `grade`'s last lines."""
    from autograder.grading.result import NO_HOLDOUT

    home = tmp_path / "home"
    home.mkdir()
    assert warm_grader.main("data", "standin", "--out", str(home / "fashion.npz")).returncode == 0
    notebook = write_notebook(home / "alice.ipynb", lesson(), "keras-dense")
    completed = warm_grader.main("check", str(notebook), "--json", str(tmp_path / "alice.json"))
    result = json.loads((tmp_path / "alice.json").read_text())
    assert completed.returncode == 0, completed.stderr
    assert result["graded_with"]["data"] == "fashion.npz" and result["graded_with"]["holdout"] == "fashion-holdout.npz"
    assert result["metrics"]["holdout_size"] and NO_HOLDOUT not in completed.stdout
    assert "holdout: fashion-holdout.npz" in completed.stdout

    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "fashion.npz").write_bytes((home / "fashion.npz").read_bytes())  # no holdout beside it
    write_notebook(bare / "bob.ipynb", lesson(), "keras-dense")
    completed = warm_grader.main("check", str(bare / "bob.ipynb"), "--json", str(tmp_path / "bob.json"),
                                 "--markdown", str(tmp_path / "bob.md"), "--html", str(tmp_path / "bob.html"))
    result = json.loads((tmp_path / "bob.json").read_text())
    assert result["graded_with"] == {"data": "fashion.npz", "data_digest": result["graded_with"]["data_digest"],
                                     "holdout": None}
    said = " ".join(completed.stdout.split())
    assert "holdout: none" in said and NO_HOLDOUT in said
    assert "autograder data holdout" in (tmp_path / "bob.md").read_text()
    assert "autograder data holdout" in (tmp_path / "bob.html").read_text()

    out = tmp_path / "out"
    graded = warm_grader.main("grade", str(bare / "bob.ipynb"), "--data", str(bare / "fashion.npz"), "--out", str(out))
    assert graded.returncode == 0 and NO_HOLDOUT in graded.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["holdout_notice"] == NO_HOLDOUT and summary["graded_with"][0].startswith("data: fashion.npz")
    assert "no holdout was given" in (out / "summary.html").read_text()
