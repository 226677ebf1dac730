"""A tiny nbgrader course built from our solution notebook, for tests and benchmarks."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from process_budget import count

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "keras-dense"


def course(root: Path, data: Path, source_cells=None, graded_outside_kernel: bool = False) -> Path:
    """An nbgrader course whose assignment keras-dense is our solution notebook, or the
    cells `source_cells(cells)` makes of it; `graded_outside_kernel`: autograded by
    autograder.nbgrader_grading, as the README configures it, in place of nbgrader's kernel."""
    source = root / "source" / ASSIGNMENT
    source.mkdir(parents=True)
    node = nbformat.read(ROOT / "solutions" / f"{ASSIGNMENT}.ipynb", as_version=4)
    if source_cells is not None:
        node.cells = source_cells(node.cells)
    nbformat.write(node, source / f"{ASSIGNMENT}.ipynb")
    shutil.copyfile(data, source / "fashion.npz")
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'keras-lesson'\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        "c.ExecutePreprocessor.timeout = 240\n")
    if graded_outside_kernel:
        grade_outside_kernel(root)
    return root


def grade_outside_kernel(root: Path) -> None:
    """Configure the course as `autograder release` does: our preprocessor in nbgrader's autograde."""
    from autograder.exercise.release import write_nbgrader_config

    write_nbgrader_config(root / "nbgrader_config.py")


def scripts_on_path() -> dict[str, str]:
    """This environment with this Python's scripts first on PATH: nbgrader runs `alembic`
    by name, which a virtual environment that is not activated would not find. This checkout's
    package comes first on sys.path: nbgrader runs in the course's folder, where an installed
    copy of the package would be imported instead."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return dict(os.environ, PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
                PYTHONPATH=path)


def nbgrader(root: Path, *arguments: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """`nbgrader ARGUMENTS...` in the course."""
    if arguments and arguments[0] == "autograde":
        count("cli_graders")  # our preprocessor grades each notebook with a kernel and an evaluator
    return subprocess.run([sys.executable, "-m", "nbgrader", *arguments], cwd=root, env=scripts_on_path(),
                          capture_output=True, text=True, timeout=timeout)


def submit(root: Path, student: str, data: Path, edit=None) -> Path:
    """A submission in nbgrader's layout: the released notebook filled in with the
    solution's code, changed by `edit(code)` if given."""
    released = nbformat.read(root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    solution = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
                for c in nbformat.read(root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4).cells}
    node = nbformat.from_dict(json.loads(json.dumps(released)))
    for cell in node.cells:
        metadata = cell.metadata.get("nbgrader", {})
        if metadata.get("solution"):
            code = solution[metadata["grade_id"]].replace("### BEGIN SOLUTION\n", "").replace("\n### END SOLUTION", "")
            cell.source = edit(code) if edit else code
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    path = folder / f"{ASSIGNMENT}.ipynb"
    nbformat.write(node, path)
    shutil.copyfile(data, folder / "fashion.npz")
    return path
