"""Instructors on nbgrader keep it: our solution is an nbgrader source notebook whose autograder
section holds our checks' points, and `nbgrader autograde`, with autograder.nbgrader_grading in
place of nbgrader's kernel, records our per-check points from a grading the student's code cannot
reach. Without our preprocessor, nbgrader's own autograde gives those checks no points at all:
no cell that a kernel runs is worth any, whatever the student's cells set."""
from __future__ import annotations

import json

import nbformat
import pytest

from autograder.exercise import registry as exercises
from autograder.exercise.release import FEEDBACK_ID, points_id, verdict_cells
from conftest import ROOT
from nbgrader_course import course, grade_outside_kernel, nbgrader, submit


def test_solutions_end_with_the_autograder_section():
    from autograder import notebook

    for path in (ROOT / "solutions").glob("*.ipynb"):
        node = notebook.read(path)
        exercise = exercises.get(notebook.exercise_of(node))
        expected = verdict_cells(exercise)
        tail = node.cells[-len(expected):]
        assert [(c.source, c.metadata["nbgrader"]) for c in tail] == \
               [(c.source, c.metadata["nbgrader"]) for c in expected], \
               f"{path.name}: update it with autograder.exercise.release.with_verdict_cells"
        assert sum(c.metadata["nbgrader"].get("points", 0) for c in node.cells) == exercise.max_score


def test_no_cell_a_kernel_runs_is_worth_a_point():
    """nbgrader's own autograde scores code cells by what the kernel printed, and the student's code
    runs first in that kernel: every point of ours sits on a markdown task cell, which nbgrader
    never scores (it asks for a manual grade), and the one test cell is worth nothing."""
    from nbformat.v4 import new_output
    from nbgrader.utils import determine_grade, is_grade, is_task

    for path in (ROOT / "exercises").glob("*.ipynb"):  # the notebooks students get
        released = nbformat.read(path, as_version=4)
        ours = [c for c in released.cells if str(c.metadata.get("nbgrader", {}).get("grade_id", "")).startswith(
            ("test-", "autograder-"))]
        worth = [c for c in ours if c.metadata["nbgrader"].get("points")]
        assert worth and all(c.cell_type == "markdown" and is_task(c) and not is_grade(c) for c in worth)
        code = [c for c in released.cells if c.cell_type == "code" and is_grade(c)]
        assert [c.metadata["nbgrader"]["grade_id"] for c in code] == [FEEDBACK_ID]
        for forged in ([], [new_output("stream", name="stdout", text="passed\n")],
                       [new_output("execute_result", data={"text/plain": "100"}, execution_count=1)]):
            code[0].outputs = forged
            try:
                assert determine_grade(code[0])[0] == 0.0
            except ValueError:  # "partial credit cannot be greater than maximum points": nothing recorded
                pass


def test_nbgrader_scores_the_verdicts_as_the_checks_scored_them():
    """What GradeOutsideKernel writes and SaveVerdicts records, and, for a notebook released with a
    test cell per check, scored by nbgrader's own rule (utils.determine_grade)."""
    from nbformat.v4 import new_code_cell
    from nbgrader.utils import determine_grade

    from autograder.nbgrader_grading import feedback_outputs, points_of_cells, verdict_outputs

    def check(check_id, points, max_points):
        return {"id": check_id, "title": check_id, "passed": points == max_points, "points": points,
                "max_points": max_points, "message": "found this", "hint": "do that"}

    exercise = exercises.get("keras-dense")
    assert points_of_cells(exercise) == {points_id(c): c for c in exercise.check_ids}
    result = {"status": "graded", "exercise": "keras-dense",
              "checks": [check("data.load", 5.0, 5.0), check("fit.called", 0.0, 10.0), check("fit.settings", 2.5, 5.0)]}
    invalid = {"status": "invalid", "exercise": "keras-dense", "reason": "not a notebook", "checks": []}
    for document, check_id, worth, expected in ((result, "data.load", 5, 5.0), (result, "fit.called", 10, 0.0),
                                                (result, "fit.settings", 5, 2.5), (invalid, "data.load", 5, 0.0)):
        cell = new_code_cell("", metadata={"nbgrader": {"grade": True, "solution": False, "points": worth,
                                                        "grade_id": "x", "locked": True}})
        cell.outputs = verdict_outputs(document, check_id)
        assert determine_grade(cell)[0] == expected, (check_id, cell.outputs)
    shown = feedback_outputs(result, exercise)
    assert "data.load: passed" in shown[0]["text"] and shown[-1]["output_type"] == "error"
    assert "fit.called (0/10): found this" in shown[-1]["evalue"]


def test_the_test_cell_fails_closed_under_autograde_whatever_a_cell_set(monkeypatch):
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute, SaveAutoGrades

    from autograder import in_nbgrader
    from autograder.nbgrader_grading import GradeOutsideKernel, SaveVerdicts, autograde_preprocessors

    steps = autograde_preprocessors()
    nbgraders_own = Autograde.class_traits()["autograde_preprocessors"].default()
    assert Execute not in steps and steps.index(GradeOutsideKernel) == nbgraders_own.index(Execute)
    assert SaveAutoGrades not in steps and steps.index(SaveVerdicts) == nbgraders_own.index(SaveAutoGrades)
    # A course that forgot the configuration: nbgrader's own kernel runs the test cell, after a
    # student's cell that set what makes it do nothing inside our own sandbox. It fails.
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setenv("AUTOGRADER_SANDBOX", "1")
    for run in (lambda: in_nbgrader.verdicts("keras-dense"), lambda: in_nbgrader.verdict("keras-dense", "data.load")):
        with pytest.raises(in_nbgrader.VerdictFailed, match="decides no grade"):
            run()


def test_the_test_cell_finds_the_running_notebook_beside_a_copy(tmp_path, monkeypatch, capsys):
    """Jupyter's "Make a Copy" leaves a second notebook of the exercise in the folder: the test
    cell grades the one Jupyter says is running (JPY_SESSION_NAME), or says plainly what it saw."""
    from autograder import in_nbgrader

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("AUTOGRADER_SANDBOX", raising=False)
    released = (ROOT / "exercises" / "keras-dense.ipynb").read_text()
    for name in ("keras-dense.ipynb", "keras-dense-Copy1.ipynb"):
        (tmp_path / name).write_text(released)
    graded = []

    def grade(notebook, exercise_id):  # the subprocess `autograder check`, which other tests run
        graded.append(notebook.name)
        return {"status": "graded", "exercise": exercise_id, "checks": [
            {"id": c, "title": c, "passed": True, "points": 1.0, "max_points": 1.0, "message": "fine", "hint": ""}
            for c in exercises.get(exercise_id).check_ids]}

    monkeypatch.setattr(in_nbgrader, "_grade", grade)
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "keras-dense-Copy1.ipynb"))  # jupyter_server 2
    in_nbgrader.verdicts("keras-dense")
    monkeypatch.setenv("JPY_SESSION_NAME", "course/keras-dense.ipynb")  # relative to the server's root
    in_nbgrader.verdicts("keras-dense")
    assert graded == ["keras-dense-Copy1.ipynb", "keras-dense.ipynb"]
    assert "accuracy.threshold: passed" in capsys.readouterr().out

    monkeypatch.delenv("JPY_SESSION_NAME")
    with pytest.raises(in_nbgrader.VerdictFailed) as failed:
        in_nbgrader.verdicts("keras-dense")
    assert "2 notebooks of exercise keras-dense are in this folder (keras-dense-Copy1.ipynb, keras-dense.ipynb)" \
        in str(failed.value) and "move the copies" in str(failed.value)
    assert failed.traceback[-1].name == "verdicts"  # raised where the cell called us, not deep in the grader


def test_release_writes_the_courses_nbgrader_config(tmp_path):
    from autograder.exercise.release import write_nbgrader_config

    fresh = tmp_path / "fresh" / "nbgrader_config.py"
    assert write_nbgrader_config(fresh).startswith("wrote")
    config = tmp_path / "nbgrader_config.py"
    config.write_text("c = get_config()\nc.CourseDirectory.course_id = 'mine'\n")
    assert write_nbgrader_config(config).startswith("added")
    assert write_nbgrader_config(config).endswith("already grades with the autograder's preprocessor")
    text = config.read_text()
    assert text.startswith("c = get_config()\nc.CourseDirectory.course_id = 'mine'\n")  # the instructor's, kept
    assert text.count("c.Autograde.autograde_preprocessors = autograde_preprocessors()") == 1
    assert fresh.read_text() in text


#: Answer cells that only try to make the test cells pass, each as a student would write it.
ENVIRONMENT_ATTACK = "import os\nos.environ['AUTOGRADER_SANDBOX'] = '1'\nos.environ.pop('NBGRADER_EXECUTION', None)"
MODULE_ATTACK = """\
import sys, types
fake = types.ModuleType('autograder.in_nbgrader')
fake.verdict = fake.verdicts = lambda *arguments: print('passed')
sys.modules['autograder.in_nbgrader'] = fake"""
#: IPython runs nothing of a cell that mentions the autograder: every test cell is empty, so passes.
TRANSFORMER_ATTACK = """\
get_ipython().input_transformers_cleanup.append(
    lambda lines: [] if any('autograder' in line for line in lines) else lines)"""
#: A look-alike package beside the notebook, found first from the kernel's working folder.
LOOKALIKE = {"autograder/__init__.py": "",
             "autograder/in_nbgrader.py": "def verdict(*arguments):\n    print('passed')\nverdicts = verdict\n"}
ATTACKS = {"environment": ENVIRONMENT_ATTACK, "module": MODULE_ATTACK, "transformer": TRANSFORMER_ATTACK}


def recorded(root, students):
    """Each student's recorded grade of each check's cell (score, auto_score, needs_manual_grade), of
    the test cell, and in total."""
    from nbgrader.api import Gradebook

    exercise = exercises.get("keras-dense")
    found = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as book:
        for student in students:
            grades = {check_id: book.find_grade(points_id(check_id), "keras-dense", "keras-dense", student)
                      for check_id in exercise.check_ids}
            found[student] = ({c: (g.score, g.auto_score, g.needs_manual_grade) for c, g in grades.items()},
                              book.find_grade(FEEDBACK_ID, "keras-dense", "keras-dense", student).score,
                              book.find_submission("keras-dense", student).score)
    return found


@pytest.mark.slow
def test_a_released_notebook_gives_points_only_for_what_our_grader_decided(tmp_path, standin_file, warm_grader):
    """One course: nbgrader's own autograde (a course without our preprocessor), where the attacks
    forge every test cell the student's kernel runs and still get no point; then the course
    configured as `autograder release` configures it, where each check gets the points our
    sandboxed grading gave it and the attacks get nothing."""
    root = course(tmp_path / "course", standin_file)
    completed = nbgrader(root, "generate_assignment", "keras-dense", "--force", "--create")
    assert completed.returncode == 0, completed.stderr[-3000:]
    for student, attack in ATTACKS.items():
        forger = submit(root, student, standin_file, lambda code, attack=attack: attack)
        if student == "module":
            for name, text in LOOKALIKE.items():
                (forger.parent / name).parent.mkdir(exist_ok=True)
                (forger.parent / name).write_text(text)

    completed = nbgrader(root, "autograde", "keras-dense", "--force", "--create")  # nbgrader's own kernel
    assert completed.returncode == 0, completed.stderr[-3000:]
    autograded = nbformat.read(root / "autograded" / "transformer" / "keras-dense" / "keras-dense.ipynb",
                               as_version=4)
    test_cell = next(c for c in autograded.cells if c.metadata.get("nbgrader", {}).get("grade_id") == FEEDBACK_ID)
    assert not any(o["output_type"] == "error" for o in test_cell.outputs)  # the attack did forge the cell...
    for student, (grades, test_cell_score, total) in recorded(root, ATTACKS).items():
        assert all(auto is None and manual for _, auto, manual in grades.values()), student
        assert test_cell_score == 0 and total == 0, student  # ...which is worth nothing

    grade_outside_kernel(root)  # as `autograder release` writes it
    # A wrong submission whose Keras code also warns on stderr in the student's own cells.
    wrong = submit(root, "wrong", standin_file,
                   lambda code: code.replace("softmax')", "sigmoid')").replace(
                       "model = Sequential()", "import warnings\nwarnings.warn('noise')\nmodel = Sequential()"))
    submit(root, "right", standin_file)
    # The new students, and the forger who also left a look-alike package beside the notebook.
    completed = nbgrader(root, "autograde", "keras-dense", "--force", "--create", "--student=[rwm]*")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "Grading keras-dense/keras-dense with the autograder, outside any kernel" in completed.stderr

    _, alone = warm_grader.check(wrong, tmp_path, "--exercise", "keras-dense", "--data", str(standin_file))
    assert alone["score"] < 100
    exercise = exercises.get("keras-dense")
    expected = {"right": exercise.points, "wrong": {c["id"]: c["points"] for c in alone["checks"]},
                "module": dict.fromkeys(exercise.check_ids, 0.0)}
    for student, (grades, test_cell_score, total) in recorded(root, expected).items():
        assert {check_id: score for check_id, (score, _, _) in grades.items()} == expected[student], student
        assert not any(manual for _, _, manual in grades.values()), student
        assert test_cell_score == 0 and total == sum(expected[student].values()), student
    feedback = nbformat.read(root / "autograded" / "wrong" / "keras-dense" / "keras-dense.ipynb", as_version=4)
    shown = json.dumps([c.outputs for c in feedback.cells if c.get("outputs")])
    assert "model.output_layer (0/10)" in shown  # the student's feedback, written without a kernel
