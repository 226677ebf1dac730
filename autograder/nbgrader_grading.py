"""nbgrader's points from a grading that ran outside the student's kernel.

nbgrader's own `Execute` step runs the submitted notebook in a kernel and scores each test
cell by its output. Our verdict cells would run there after the student's code, in the
student's kernel, where the student's own cells can make them pass (an environment
variable, a patched module, a look-alike package beside the notebook). So for grades,
nbgrader runs no kernel at all: `GradeOutsideKernel` takes `Execute`'s place in
`nbgrader autograde`. It grades the sanitized submission (nbgrader has already restored
the locked cells from the instructor's source) with our own pipeline, in our sandbox, as
`autograder check` does, and writes each verdict cell's outcome as that cell's output:
a pass is printed, a fail is an error, partial points an execute_result, which is what
nbgrader's SaveAutoGrades turns into points. A graded cell that is not one of our checks
gets an error (no points): nothing here runs it.

In the course's nbgrader_config.py:

    from autograder.nbgrader_grading import autograde_preprocessors
    c.Autograde.autograde_preprocessors = autograde_preprocessors()
    c.GradeOutsideKernel.data = "/path/to/fashion.npz"  # default: the assignment's source folder's

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
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import Execute, NbGraderPreprocessor
from traitlets import Unicode

from . import exercises, notebook, release
from .errors import UsageError
from .result import CheckEntry, ResultDocument, verdict_of
from .settings import ISOLATION_CHOICES, Request

if TYPE_CHECKING:
    from .evaluation import Evaluator
    from .plan import GradingPlan

#: The error name nbgrader's autograded and feedback notebooks show on a failed check.
FAILED = "VerdictFailed"


def autograde_preprocessors() -> list[Any]:
    """nbgrader's own autograde steps, with `GradeOutsideKernel` in place of `Execute`."""
    from nbgrader.converters import Autograde

    steps = list(Autograde.class_traits()["autograde_preprocessors"].default())
    if Execute not in steps:
        raise RuntimeError("this nbgrader's autograde has no Execute step to replace; "
                           f"its steps are {[getattr(s, '__name__', s) for s in steps]}")
    steps[steps.index(Execute)] = GradeOutsideKernel
    return steps


def check_of_cell(exercise: exercises.Exercise) -> dict[str, str]:
    """Our verdict cells' nbgrader grade ids, each with the check id it stands for."""
    cells = [cell for cell in release.verdict_cells(exercise) if cell.cell_type == "code"]
    return {cell.metadata["nbgrader"]["grade_id"]: check_id for cell, check_id in zip(cells, exercise.check_ids)}


def verdict_outputs(result: ResultDocument, check_id: str) -> list[nbformat.NotebookNode]:
    """A verdict cell's outputs, scored by nbgrader as the check was: printed text for a pass,
    an error for no points, the points as the cell's value for part of them."""
    passed, text = verdict_of(result, check_id)
    check: CheckEntry | None = next((c for c in result.get("checks", []) if c["id"] == check_id), None)
    points = check["points"] if check is not None else 0.0
    if passed and check is not None and points >= check["max_points"]:
        return [new_output("stream", name="stdout", text=text + "\n")]
    if points > 0:
        return [new_output("stream", name="stdout", text=text + "\n"),
                new_output("execute_result", data={"text/plain": f"{points:g}"}, execution_count=1)]
    return [new_output("error", ename=FAILED, evalue=text, traceback=[f"{FAILED}: {text}"])]


def not_ours_outputs(grade_id: str) -> list[nbformat.NotebookNode]:
    text = (f"{grade_id} is not one of the autograder's checks, and under the autograder's preprocessor "
            "no kernel runs it: give it no points, or grade it by hand")
    return [new_output("error", ename="NotGradedHere", evalue=text, traceback=[text])]


_evaluator: Evaluator | None = None


def shared_evaluator() -> Evaluator:
    """One evaluator for every notebook `nbgrader autograde` grades in this process: its TensorFlow
    import (seconds) is paid once, not per submission. It never runs student code, and replaces its
    own process after a failure (evaluation.Evaluator)."""
    global _evaluator
    if _evaluator is None or _evaluator.closed:
        from .evaluation import Evaluator

        _evaluator = Evaluator()
        atexit.register(_evaluator.close)
    return _evaluator


class GradeOutsideKernel(NbGraderPreprocessor):
    """Grades the notebook in our sandbox and writes every graded code cell's outcome."""

    exercise = Unicode("", help="exercise id or TOML file; default: the one the instructor's source "
                                "notebook names in its metadata").tag(config=True)
    data = Unicode("", help="the lesson's fashion.npz; default: fashion.npz in the assignment's source "
                            "folder, else the autograder's stand-in").tag(config=True)
    isolation = Unicode("auto", help=f"the sandbox: one of {', '.join(ISOLATION_CHOICES)}").tag(config=True)

    def preprocess(self, nb: nbformat.NotebookNode, resources: dict) -> tuple[nbformat.NotebookNode, dict]:
        from . import pipeline  # here, not at the top: every nbgrader command reads the config importing us

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
            result = pipeline.grade_notebook(str(path), plan, evaluator=shared_evaluator())
        checks = check_of_cell(exercise)
        for cell in nb.cells:
            if cell.cell_type != "code" or not utils.is_grade(cell) or utils.is_solution(cell):
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            cell.outputs = verdict_outputs(result, checks[grade_id]) if grade_id in checks else \
                not_ours_outputs(grade_id)
        return nb, resources

    def _plan(self, source: Path, notebook_id: str) -> GradingPlan:
        from .plan import make_plan

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
