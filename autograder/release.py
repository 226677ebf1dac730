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
from .errors import UsageError


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
