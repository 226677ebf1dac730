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
