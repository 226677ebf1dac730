"""nbgrader's points from a grading that ran outside the student's kernel.

nbgrader's own `Execute` step runs the submitted notebook in a kernel and scores each test
cell by its output. A cell that runs in the student's kernel, after the student's code, can be
made to pass by that code (an environment variable, a patched module, a look-alike package
beside the notebook, an IPython input transformer). So our points never sit on such a cell:
each check's points sit on a markdown task cell of the autograder section (release.verdict_cells),
which nbgrader itself never scores, and the section's one test cell, which students run for
feedback, is worth nothing.

Under `nbgrader autograde`, `GradeOutsideKernel` takes `Execute`'s place: no kernel runs. It
grades the sanitized submission (nbgrader has already restored the locked cells from the
instructor's source) with our own pipeline, in our sandbox, as `autograder check` does; it
writes the verdicts as the test cell's output, for the feedback, and `SaveVerdicts`, in place
of nbgrader's SaveAutoGrades, records each check's points on its cell. A graded code cell that
is not ours gets an error (no points): nothing here runs it. A notebook the grader could not
grade because of its own failure (its sandbox or evaluator) is not recorded: nbgrader reports
it as an error, and `nbgrader autograde` run again grades it.

In the course's nbgrader_config.py (`autograder release` writes this):

    from autograder.nbgrader_grading import autograde_preprocessors
    c.Autograde.autograde_preprocessors = autograde_preprocessors()
    c.GradeOutsideKernel.data = "/path/to/fashion.npz"  # default: the assignment's source folder's

Without it, nbgrader's own autograde gives the autograder's checks no points (each asks for a
manual grade) and the test cell fails: a course that forgot the configuration gives nothing a
student could forge.

The exercise is `c.GradeOutsideKernel.exercise` when set, else the one the instructor's
source notebook names in its metadata; never the submission's.
"""
from __future__ import annotations

import atexit
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, SaveAutoGrades
from traitlets import Unicode

from . import notebook
from .errors import GraderFault, UsageError
from .exercise import registry as exercises, release
from .grading.result import CheckEntry, ResultDocument, verdict_of
from .grading.settings import ISOLATION_CHOICES, Request

if TYPE_CHECKING:
    from .batch.workers import Workers
    from .grading.plan import GradingPlan

#: The error name nbgrader's autograded and feedback notebooks show on a failed check.
FAILED = "VerdictFailed"


#: Where GradeOutsideKernel leaves the points of our cells for SaveVerdicts, in nbgrader's resources.
POINTS = "autograder_points"


def autograde_preprocessors() -> list[Any]:
    """nbgrader's own autograde steps, with `GradeOutsideKernel` in place of `Execute` and
    `SaveVerdicts` in place of `SaveAutoGrades`."""
    from nbgrader.converters import Autograde

    steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    for theirs, ours in ((Execute, GradeOutsideKernel), (SaveAutoGrades, SaveVerdicts)):
        if theirs not in steps:
            raise RuntimeError(f"this nbgrader's autograde has no {theirs.__name__} step to replace; "
                               f"its steps are {[getattr(s, '__name__', s) for s in steps]}")
        steps[steps.index(theirs)] = ours
    return steps


def points_of_cells(exercise: exercises.Exercise) -> dict[str, str]:
    """The grade ids of the cells that hold our checks' points, each with its check id."""
    return {release.points_id(check_id): check_id for check_id in exercise.check_ids}


def verdict_outputs(result: ResultDocument, check_id: str) -> list[nbformat.NotebookNode]:
    """A test cell's outputs for one check, as a notebook released with one test cell per check
    holds them: printed text for a pass, an error for no points, the points as the cell's value
    for part of them (what nbgrader's determine_grade reads, were the cell worth points)."""
    passed, text = verdict_of(result, check_id)
    check: CheckEntry | None = next((c for c in result.get("checks", []) if c["id"] == check_id), None)
    points = check["points"] if check is not None else 0.0
    if passed and check is not None and points >= check["max_points"]:
        return [new_output("stream", name="stdout", text=text + "\n")]
    if points > 0:
        return [new_output("stream", name="stdout", text=text + "\n"),
                new_output("execute_result", data={"text/plain": f"{points:g}"}, execution_count=1)]
    return [new_output("error", ename=FAILED, evalue=text, traceback=[f"{FAILED}: {text}"])]


def feedback_outputs(result: ResultDocument, exercise: exercises.Exercise) -> list[nbformat.NotebookNode]:
    """The test cell's outputs: every verdict printed, and an error naming those that did not pass,
    as `in_nbgrader.verdicts` shows them in the student's kernel."""
    shown = [verdict_of(result, check_id) for check_id in exercise.check_ids]
    outputs = [new_output("stream", name="stdout", text="".join(text + "\n" for passed, text in shown if passed))]
    failed = [text for passed, text in shown if not passed]
    if failed:
        text = f"{len(failed)} of {len(shown)} checks did not pass:\n\n" + "\n\n".join(failed)
        outputs.append(new_output("error", ename=FAILED, evalue=text, traceback=[f"{FAILED}: {text}"]))
    return outputs


def not_ours_outputs(grade_id: str) -> list[nbformat.NotebookNode]:
    text = (f"{grade_id} is not one of the autograder's checks, and under the autograder's preprocessor "
            "no kernel runs it: give it no points, or grade it by hand")
    return [new_output("error", ename="NotGradedHere", evalue=text, traceback=[text])]


_workers: Workers | None = None


def shared_workers() -> Workers:
    """One warm slot and one evaluator for every notebook `nbgrader autograde` grades in this
    process: their TensorFlow imports (seconds each) are paid once, not per submission, as
    `autograder grade` pays them once per class. The evaluator never runs student code and
    replaces its own process after a failure (evaluation.Evaluator); each notebook still runs in
    a sandbox of its own, forked from the slot (or cold, where the warm path is missing)."""
    global _workers
    if _workers is None or _workers.closed:
        from .batch.workers import Workers
        from .sandbox.slots import warm_path_available

        _workers = Workers(warm_path_available(), jobs=1)
        atexit.register(_workers.close)
    return _workers


class GradeOutsideKernel(NbGraderPreprocessor):
    """Grades the notebook in our sandbox and writes every graded code cell's outcome."""

    exercise = Unicode("", help="exercise id or TOML file; default: the one the instructor's source "
                                "notebook names in its metadata").tag(config=True)
    data = Unicode("", help="the lesson's fashion.npz; default: fashion.npz in the assignment's source "
                            "folder, else the autograder's stand-in").tag(config=True)
    isolation = Unicode("auto", help=f"the sandbox: one of {', '.join(ISOLATION_CHOICES)}").tag(config=True)

    def preprocess(self, nb: nbformat.NotebookNode, resources: dict) -> tuple[nbformat.NotebookNode, dict]:
        # Here, not at the top: every nbgrader command reads the config importing us.
        from .grading import pipeline
        from .sandbox import run_notebook
        from .sandbox.isolation import RLIMITS

        assignment, notebook_id = resources["nbgrader"]["assignment"], resources["nbgrader"]["notebook"]
        coursedir = CourseDirectory(config=self.config)
        source = Path(coursedir.format_path(coursedir.source_directory, ".", assignment))
        plan = self._plan(source, notebook_id)
        exercise = plan.exercise
        assert exercise is not None  # _plan names one or raises
        with tempfile.TemporaryDirectory(prefix="autograder-nbgrader-") as scratch:
            path = Path(scratch) / f"{notebook_id}.ipynb"
            nbformat.write(nb, path)
            self.log.info("Grading %s/%s with the autograder, outside any kernel", assignment, notebook_id)
            workers = shared_workers()
            # The course's `isolation = "rlimits"` has no warm path: each notebook starts cold.
            run = workers.run() if plan.isolation != RLIMITS else run_notebook
            result = pipeline.grade_notebook(str(path), plan, run=run, evaluator=workers.shared_evaluator())
        fault = result.get("grader_fault")
        if fault:  # not the student's result: nothing is recorded, and nbgrader reports the error
            raise GraderFault(f"the autograder failed to grade {assignment}/{notebook_id} (its own fault, not the "
                              f"notebook's): {fault}; run nbgrader autograde again")
        ours = points_of_cells(exercise)
        for cell in nb.cells:
            if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            if grade_id == release.FEEDBACK_ID:
                cell.outputs = feedback_outputs(result, exercise)
            elif grade_id in ours:  # a notebook released with a test cell per check, worth its points
                cell.outputs = verdict_outputs(result, ours[grade_id])
            else:
                cell.outputs = not_ours_outputs(grade_id)
        scored = {check["id"]: float(check["points"]) for check in result.get("checks", [])}
        resources[POINTS] = {grade_id: scored.get(check_id, 0.0) for grade_id, check_id in ours.items()}
        return nb, resources

    def _plan(self, source: Path, notebook_id: str) -> GradingPlan:
        from .grading.plan import make_plan

        exercise = self.exercise or self._source_exercise(source / f"{notebook_id}.ipynb")
        data = self.data or (str(source / "fashion.npz") if (source / "fashion.npz").is_file() else None)
        return make_plan(Request.from_options({"exercise": exercise, "data": data, "isolation": self.isolation}))

    @staticmethod
    def _source_exercise(path: Path) -> str:
        """The exercise the instructor's source notebook names: the submission's copy of it is the student's."""
        try:
            named = notebook.exercise_of(notebook.read(path))
        except (OSError, ValueError) as error:
            raise UsageError(f"cannot read the source notebook {os.fspath(path)}: {error}") from None
        if not named:
            raise UsageError(f"the source notebook {os.fspath(path)} names no exercise in its metadata; "
                             "set c.GradeOutsideKernel.exercise")
        return named


class SaveVerdicts(SaveAutoGrades):
    """nbgrader's SaveAutoGrades, with each of our checks' points recorded from our grading on the
    cell that holds them (a markdown task cell, which nbgrader itself never scores), whether or not
    the submission still has that cell. Without GradeOutsideKernel's points it records nothing."""

    def preprocess(self, nb: nbformat.NotebookNode, resources: dict) -> tuple[nbformat.NotebookNode, dict]:
        points = resources.get(POINTS)
        if points is None:
            raise GraderFault("SaveVerdicts records what GradeOutsideKernel decided, and it did not run: use "
                              "autograde_preprocessors() in nbgrader_config.py")
        nb, resources = super().preprocess(nb, resources)  # nbgrader's own, for every other cell
        with Gradebook(self.db_url) as gradebook:
            for grade_id, score in points.items():
                try:
                    grade = gradebook.find_grade(grade_id, self.notebook_id, self.assignment_id, self.student_id)
                except MissingEntry:
                    continue  # the instructor's source notebook has no cell for this check
                grade.auto_score = score
                grade.needs_manual_grade = grade.manual_score is not None  # as nbgrader marks a regrade
            gradebook.db.commit()
        return nb, resources
