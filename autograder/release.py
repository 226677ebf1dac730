"""`autograder release`: student notebooks from the instructor's solutions.

The student versions are produced by nbgrader's own preprocessors, in the
order `nbgrader generate_assignment` applies them (without its database),
so the solutions stay valid nbgrader source notebooks and what students get
is exactly what nbgrader would release.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

from . import notebook as notebook_module


class ReleaseError(RuntimeError):
    """A solution notebook cannot be released; the message names it and says why."""


def _preprocessors():
    from nbgrader.preprocessors import (CheckCellMetadata, ClearHiddenTests, ClearMarkScheme,
                                        ClearOutput, ClearSolutions, ComputeChecksums, LockCells)

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
        except Exception as error:  # nbgrader reports bad cell metadata with its own errors
            raise ReleaseError(f"{source.name}: nbgrader could not release it: {error}") from None
        target = out / source.name
        target.write_text(render(student))
        written.append(target)
    return written


VERDICT_HEADING = ("## Autograder tests\n\nThese cells grade the notebook above, one check each; "
                   "do not edit them. Run them to see how your work does.")


def _locked(grade_id: str, grade: bool = False, points: float | None = None) -> dict:
    """nbgrader metadata of a cell students may run but not edit."""
    metadata = {"grade": grade, "grade_id": grade_id, "locked": True, "schema_version": 3,
                "solution": False, "task": False}
    if points is not None:
        metadata["points"] = points
    return {"nbgrader": metadata}


def _with_ids(cells: list) -> list:
    for cell in cells:
        cell.id = cell.metadata["nbgrader"]["grade_id"]
    return cells


SELFCHECK_INTRO = ("### Checking your work as you go\n\n"
                   "Run the next cell first. After each step, run the check cell under it: it tells you "
                   "whether the step is right and, if not, what to change. `ex.hint('build')` (or any "
                   "other step's name) gives a further hint, and `ex.check_all()` at the end checks "
                   "everything, with the test accuracy measured by the grader.")
SELFCHECK_ALL = ("## Check everything\n\nThe grader runs your saved notebook from the top, so a good "
                 "last step is Kernel > Restart & Run All, then this cell.")


def selfcheck_cells(exercise) -> dict[str, list[nbformat.NotebookNode]]:
    """The self-check cells (see autograder/student.py), keyed by the grade_id of the cell
    they follow: the set-up after the introduction, one check after each step's cell,
    and the whole check after the closing words."""
    from nbformat.v4 import new_code_cell, new_markdown_cell

    from .exercises import TASKS

    cells = {"intro": _with_ids([
        new_markdown_cell(SELFCHECK_INTRO, metadata=_locked("selfcheck-intro")),
        new_code_cell(f"from autograder.student import Exercise\nex = Exercise({exercise.id!r})",
                      metadata=_locked("selfcheck-setup"))])}
    for step in TASKS:
        cells[step] = _with_ids([new_code_cell(f"ex.check({step!r})", metadata=_locked(f"selfcheck-{step}"))])
    cells["outro"] = _with_ids([new_markdown_cell(SELFCHECK_ALL, metadata=_locked("selfcheck-all-intro")),
                                new_code_cell("ex.check_all()", metadata=_locked("selfcheck-all"))])
    return cells


def add_selfcheck(solution: nbformat.NotebookNode, exercise) -> nbformat.NotebookNode:
    """The solution with its self-check cells in place (a copy; unchanged if they are there)."""
    node = nbformat.from_dict(solution)
    present = {c.metadata.get("nbgrader", {}).get("grade_id") for c in node.cells}
    cells = []
    for cell in node.cells:
        cells.append(cell)
        anchor = cell.metadata.get("nbgrader", {}).get("grade_id")
        cells.extend(c for c in selfcheck_cells(exercise).get(anchor, [])
                     if c.metadata["nbgrader"]["grade_id"] not in present)
    node.cells = cells
    return node


def verdict_cells(exercise) -> list[nbformat.NotebookNode]:
    """nbgrader autograder-test cells, one per check id, worth that check's points
    (see autograder/in_nbgrader.py)."""
    from nbformat.v4 import new_code_cell, new_markdown_cell

    nbgrader = _locked
    cells = [new_markdown_cell(VERDICT_HEADING, metadata=nbgrader("autograder-tests", False))]
    for check_id in exercise.check_ids:
        cell = new_code_cell(f"from autograder.in_nbgrader import verdict\n"
                             f"verdict({exercise.id!r}, {check_id!r})",
                             metadata=nbgrader(f"test-{check_id.replace('.', '-')}", True,
                                               exercise.points[check_id]))
        cells.append(cell)
    return _with_ids(cells)
