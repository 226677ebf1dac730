"""Instructors on nbgrader keep it: our solution is an nbgrader source notebook whose test
cells are our checks, and `nbgrader autograde` records our per-check points."""
from __future__ import annotations

import pytest

from autograder import exercises
from autograder.release import verdict_cells
from conftest import ROOT, grade
from nbgrader_course import course, nbgrader, submit


def test_solutions_end_with_one_verdict_cell_per_check():
    from autograder import notebook

    for path in (ROOT / "solutions").glob("*.ipynb"):
        node = notebook.read(path)
        exercise = exercises.get(notebook.exercise_of(node))
        expected = verdict_cells(exercise)
        tail = node.cells[-len(expected):]
        assert [(c.source, c.metadata["nbgrader"]) for c in tail] == \
               [(c.source, c.metadata["nbgrader"]) for c in expected], f"{path.name}: run the release helper"
        assert sum(c.metadata["nbgrader"].get("points", 0) for c in node.cells) == exercise.max_score


@pytest.mark.slow
def test_nbgrader_autograde_records_the_verdicts_of_check(tmp_path, standin_file):
    from nbgrader.api import Gradebook

    root = course(tmp_path / "course", standin_file)
    completed = nbgrader(root, "generate_assignment", "keras-dense", "--force", "--create")
    assert completed.returncode == 0, completed.stderr[-3000:]
    # A wrong submission whose Keras code also warns on stderr in the student's own cells.
    wrong = submit(root, "wrong", standin_file,
                   lambda code: code.replace("softmax')", "sigmoid')").replace(
                       "model = Sequential()", "import warnings\nwarnings.warn('noise')\nmodel = Sequential()"))
    submit(root, "right", standin_file)
    completed = nbgrader(root, "autograde", "keras-dense", "--force", "--create")
    assert completed.returncode == 0, completed.stderr[-3000:]

    _, alone = grade(wrong, tmp_path, "--exercise", "keras-dense", "--data", str(standin_file))
    expected = {c["id"]: c["points"] for c in alone["checks"]}
    assert alone["score"] < 100
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as book:
        for student, points in (("right", None), ("wrong", expected)):
            recorded = {}
            for check_id in exercises.get("keras-dense").check_ids:
                cell = f"test-{check_id.replace('.', '-')}"
                recorded[check_id] = book.find_grade(cell, "keras-dense", "keras-dense", student).score
            if points is None:
                assert recorded == exercises.get("keras-dense").points, student
            else:
                assert recorded == points, student
        assert book.find_submission("keras-dense", "wrong").score == alone["score"]
