"""Instructors on nbgrader keep it: our solution is an nbgrader source notebook whose test
cells are our checks, and `nbgrader autograde`, with autograder.nbgrader_grading in place of
nbgrader's kernel, records our per-check points from a grading the student's code cannot reach."""
from __future__ import annotations

import pytest

from autograder import exercises
from autograder.release import verdict_cells
from conftest import ROOT
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


def test_nbgrader_scores_each_verdict_as_the_check_scored_it():
    """What GradeOutsideKernel writes, scored by nbgrader's own rule (utils.determine_grade)."""
    from nbformat.v4 import new_code_cell
    from nbgrader.utils import determine_grade

    from autograder.nbgrader_grading import verdict_outputs

    def check(check_id, points, max_points):
        return {"id": check_id, "title": check_id, "passed": points == max_points, "points": points,
                "max_points": max_points, "message": "found this", "hint": "do that"}

    result = {"status": "graded", "exercise": "keras-dense",
              "checks": [check("data.load", 5.0, 5.0), check("fit.called", 0.0, 10.0), check("fit.settings", 2.5, 5.0)]}
    invalid = {"status": "invalid", "exercise": "keras-dense", "reason": "not a notebook", "checks": []}
    for document, check_id, worth, expected in ((result, "data.load", 5, 5.0), (result, "fit.called", 10, 0.0),
                                                (result, "fit.settings", 5, 2.5), (invalid, "data.load", 5, 0.0)):
        cell = new_code_cell("", metadata={"nbgrader": {"grade": True, "solution": False, "points": worth,
                                                        "grade_id": "x", "locked": True}})
        cell.outputs = verdict_outputs(document, check_id)
        assert determine_grade(cell)[0] == expected, (check_id, cell.outputs)


def test_autograde_runs_our_grading_in_place_of_nbgrader_kernel_and_cells_fail_closed_there(monkeypatch):
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from autograder import in_nbgrader
    from autograder.nbgrader_grading import GradeOutsideKernel, autograde_preprocessors

    steps = autograde_preprocessors()
    nbgraders_own = Autograde.class_traits()["autograde_preprocessors"].default()
    assert Execute not in steps and steps.index(GradeOutsideKernel) == nbgraders_own.index(Execute)
    # A course that forgot the configuration: nbgrader's own kernel runs the verdict cells. They fail.
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.delenv("AUTOGRADER_SANDBOX", raising=False)
    with pytest.raises(in_nbgrader.VerdictFailed, match="feedback"):
        in_nbgrader.verdict("keras-dense", "data.load")


#: Answer cells that only try to make the verdict cells pass, each as a student would write it.
ENVIRONMENT_ATTACK = "import os\nos.environ['AUTOGRADER_SANDBOX'] = '1'"
MODULE_ATTACK = """\
import sys, types
fake = types.ModuleType('autograder.in_nbgrader')
fake.verdict = lambda *arguments: print('passed')
sys.modules['autograder.in_nbgrader'] = fake"""
#: A look-alike package beside the notebook, found first from the kernel's working folder.
LOOKALIKE = {"autograder/__init__.py": "",
             "autograder/in_nbgrader.py": "def verdict(*arguments):\n    print('passed')\n"}


@pytest.mark.slow
def test_nbgrader_autograde_records_the_verdicts_of_check_and_forged_verdicts_get_nothing(tmp_path, standin_file,
                                                                                         warm_grader):
    from nbgrader.api import Gradebook

    root = course(tmp_path / "course", standin_file, graded_outside_kernel=True)
    completed = nbgrader(root, "generate_assignment", "keras-dense", "--force", "--create")
    assert completed.returncode == 0, completed.stderr[-3000:]
    # A wrong submission whose Keras code also warns on stderr in the student's own cells.
    wrong = submit(root, "wrong", standin_file,
                   lambda code: code.replace("softmax')", "sigmoid')").replace(
                       "model = Sequential()", "import warnings\nwarnings.warn('noise')\nmodel = Sequential()"))
    submit(root, "right", standin_file)
    submit(root, "environment", standin_file, lambda code: ENVIRONMENT_ATTACK)
    forger = submit(root, "module", standin_file, lambda code: MODULE_ATTACK)
    for name, text in LOOKALIKE.items():
        (forger.parent / name).parent.mkdir(exist_ok=True)
        (forger.parent / name).write_text(text)
    completed = nbgrader(root, "autograde", "keras-dense", "--force", "--create")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Grading keras-dense/keras-dense with the autograder, outside any kernel" in completed.stderr

    _, alone = warm_grader.check(wrong, tmp_path, "--exercise", "keras-dense", "--data", str(standin_file))
    assert alone["score"] < 100
    exercise = exercises.get("keras-dense")
    nothing = dict.fromkeys(exercise.check_ids, 0.0)  # the attackers did none of the work
    expected = {"right": exercise.points, "wrong": {c["id"]: c["points"] for c in alone["checks"]},
                "environment": nothing, "module": nothing}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as book:
        for student, points in expected.items():
            recorded = {check_id: book.find_grade(f"test-{check_id.replace('.', '-')}", "keras-dense", "keras-dense",
                                                  student).score for check_id in exercise.check_ids}
            assert recorded == points, student
        assert book.find_submission("keras-dense", "wrong").score == alone["score"]
        assert book.find_submission("keras-dense", "environment").score == 0
        assert book.find_submission("keras-dense", "module").score == 0
