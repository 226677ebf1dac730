"""The student notebooks are nbgrader's release of the solutions, and stay in step with them."""
from __future__ import annotations

import nbformat
import pytest

from autograder import notebook
from autograder.exercise.release import ReleaseError, release_all
from conftest import ROOT, run_cli


def test_committed_exercises_match_a_fresh_release(tmp_path):
    written = release_all(ROOT / "solutions", tmp_path)
    assert {p.name for p in written} == {"keras-dense.ipynb", "keras-deeper.ipynb", "keras-cnn.ipynb"}
    for path in written:
        committed = ROOT / "exercises" / path.name
        assert committed.read_text() == path.read_text(), (
            f"exercises/{path.name} differs from a fresh release: run `autograder release`")


def test_release_removes_solutions_and_keeps_the_teaching():
    for path in (ROOT / "exercises").glob("*.ipynb"):
        released = notebook.read(path)
        solution = notebook.read(ROOT / "solutions" / path.name)
        text = nbformat.writes(released)
        assert "BEGIN SOLUTION" not in text and "model.fit(" not in text
        stubs = [c for c in released.cells if c.cell_type == "code" and "raise NotImplementedError()" in c.source]
        assert len(stubs) == sum("### BEGIN SOLUTION" in c.source for c in solution.cells)
        assert [c.source for c in released.cells if c.cell_type == "markdown"] == \
               [c.source for c in solution.cells if c.cell_type == "markdown"]
        assert notebook.exercise_of(released) == path.stem


def test_release_refuses_notebooks_without_an_exercise(tmp_path):
    source = tmp_path / "solutions"
    source.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), source / "untitled.ipynb")
    with pytest.raises(ReleaseError, match="does not name its exercise"):
        release_all(source, tmp_path / "out")
    with pytest.raises(ReleaseError, match="no solution notebooks"):
        release_all(tmp_path / "empty", tmp_path / "out")


def test_release_command(tmp_path):
    config = tmp_path / "course" / "nbgrader_config.py"
    completed = run_cli("release", "--solutions", str(ROOT / "solutions"), "--out", str(tmp_path),
                        "--nbgrader-config", str(config))
    assert completed.returncode == 0 and (tmp_path / "keras-dense.ipynb").exists()
    assert "autograde_preprocessors()" in config.read_text() and f"wrote {config}" in completed.stdout
