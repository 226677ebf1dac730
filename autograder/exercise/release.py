"""`autograder release`: student notebooks from the instructor's solutions.

The student versions are produced by nbgrader's own preprocessors, in the
order `nbgrader generate_assignment` applies them (without its database),
so the solutions stay valid nbgrader source notebooks and what students get
is exactly what nbgrader would release.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from .. import notebook as notebook_module
from ..errors import UsageError


class ReleaseError(UsageError):
    """A solution notebook cannot be released; the message names it and says why."""


def _preprocessors():
    from nbgrader.preprocessors import (
        CheckCellMetadata,
        ClearHiddenTests,
        ClearMarkScheme,
        ClearOutput,
        ClearSolutions,
        ComputeChecksums,
        LockCells,
    )

    # The same sequence as nbgrader's GenerateAssignment converter, minus the
    # steps that need its database (SaveCells) or its course files (headers).
    return [LockCells(), ClearSolutions(), ClearOutput(), CheckCellMetadata(), ComputeChecksums(),
            ClearHiddenTests(), ClearMarkScheme(), ComputeChecksums(), CheckCellMetadata()]


def release_notebook(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    node = nbformat.from_dict(solution)  # a copy: the preprocessors edit in place
    resources: dict = {}
    for preprocessor in _preprocessors():
        node, resources = preprocessor.preprocess(node, resources)
    return node


def render(node: nbformat.NotebookNode) -> str:
    """Stable text of a notebook, so a fresh release compares equal to a committed one."""
    text = nbformat.writes(node, version=4)
    return text if text.endswith("\n") else text + "\n"


def release_all(solutions: Path, out: Path) -> list[Path]:
    sources = sorted(solutions.glob("*.ipynb"))
    if not sources:
        raise ReleaseError(f"no solution notebooks (*.ipynb) in {solutions}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for source in sources:
        try:
            solution = notebook_module.read(source)
        except notebook_module.NotebookError as error:
            raise ReleaseError(str(error)) from None
        if not notebook_module.exercise_of(solution):
            raise ReleaseError(f"{source.name} does not name its exercise in metadata.autograder.exercise")
        try:
            student = release_notebook(solution)
        except Exception as error:  # noqa: BLE001 - nbgrader reports bad cell metadata with its own errors
            raise ReleaseError(f"{source.name}: nbgrader could not release it: {error}") from None
        target = out / source.name
        target.write_text(render(student))
        written.append(target)
    return written


VERDICT_HEADING = ("## Autograder tests\n\nYour notebook is graded when you hand it in: the autograder runs it again "
                   "from the top, in a sandbox of its own, and gives each check below its points. Run the "
                   "last cell to see how your work does now; do not edit these cells.")
#: The grade id of the section's heading and of the cell students run for feedback.
HEADING_ID = "autograder-tests"
FEEDBACK_ID = "autograder-verdicts"


def points_id(check_id: str) -> str:
    """The grade id of the cell that holds one check's points (nbgrader's gradebook names it so)."""
    return f"test-{check_id.replace('.', '-')}"


def _locked(grade_id: str, grade: bool = False, points: float | None = None, task: bool = False) -> dict:
    """nbgrader metadata of a cell students may run but not edit."""
    metadata = {"grade": grade, "grade_id": grade_id, "locked": True, "schema_version": 3,
                "solution": False, "task": task}
    if points is not None:
        metadata["points"] = points
    return {"nbgrader": metadata}


def _with_ids(cells: list) -> list:
    for cell in cells:
        cell.id = cell.metadata["nbgrader"]["grade_id"]
    return cells


def verdict_cells(exercise) -> list[nbformat.NotebookNode]:
    """The notebook's autograder section: one cell per check holding its points, and one test cell
    that shows the student every verdict (see autograder/in_nbgrader.py).

    The points sit on markdown task cells, which no kernel runs: nbgrader's own autograde gives
    them no points (it asks for a manual grade), and only autograder.nbgrader_grading, which
    grades outside the student's kernel, scores them. The test cell runs in the student's kernel,
    after the student's code, which can make it print anything: it is worth no points."""
    from nbformat.v4 import new_code_cell, new_markdown_cell

    cells = [new_markdown_cell(VERDICT_HEADING, metadata=_locked(HEADING_ID))]
    for check_id in exercise.check_ids:
        points = exercise.points[check_id]
        cells.append(new_markdown_cell(f"**`{check_id}`**: {exercise.check_title(check_id)} ({points:g} points)",
                                       metadata=_locked(points_id(check_id), points=points, task=True)))
    cells.append(new_code_cell(f"from autograder.in_nbgrader import verdicts\nverdicts({exercise.id!r})",
                               metadata=_locked(FEEDBACK_ID, grade=True, points=0.0)))
    return _with_ids(cells)


def with_verdict_cells(solution: nbformat.NotebookNode, exercise) -> nbformat.NotebookNode:
    """The solution notebook with its autograder section, in this layout or an earlier one (a
    test cell per check, worth its points), replaced by this version's, at the end."""
    ours = {HEADING_ID, FEEDBACK_ID, *(points_id(check_id) for check_id in exercise.check_ids)}
    node = nbformat.from_dict(solution)
    node.cells = [cell for cell in node.cells
                  if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") not in ours] + verdict_cells(exercise)
    return node


#: What `autograder release` adds to the course's nbgrader_config.py.
NBGRADER_CONFIG = """\
# keras-autograder (written by `autograder release`): nbgrader autograde grades with the autograder,
# outside the student's kernel. Without these lines the notebooks' autograder points are never
# given (nbgrader asks for a manual grade of each check instead).
from autograder.nbgrader_grading import autograde_preprocessors

c = get_config()  # nbgrader's configuration loader provides get_config
c.Autograde.autograde_preprocessors = autograde_preprocessors()
# c.GradeOutsideKernel.data = "/path/to/fashion.npz"  # default: fashion.npz in the assignment's source folder
"""


def write_nbgrader_config(path: Path) -> str:
    """Make the course's nbgrader_config.py grade with our preprocessor: written when missing,
    appended to when it does not configure it yet, never overwritten. Says what it did."""
    try:
        existing = path.read_text() if path.exists() else None
    except OSError as error:
        raise ReleaseError(f"cannot read {path}: {error.strerror or error}") from None
    if existing is not None and "autograde_preprocessors()" in existing:
        return f"{path} already grades with the autograder's preprocessor"
    try:
        if existing is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(NBGRADER_CONFIG)
            return f"wrote {path}: nbgrader autograde grades with the autograder"
        with path.open("a") as config:
            config.write(("\n" if existing.endswith("\n") else "\n\n") + NBGRADER_CONFIG)
    except OSError as error:
        raise ReleaseError(f"cannot write {path}: {error.strerror or error}") from None
    return f"added the autograder's preprocessor to {path}: nbgrader autograde grades with it"
