"""The autograder's test cell in an nbgrader notebook, for the student's own feedback.

The solution notebooks end with an autograder section (release.verdict_cells): one locked
markdown cell per check, holding that check's points, then one locked test cell

    from autograder.in_nbgrader import verdicts
    verdicts("keras-dense")   # or verdicts("my-exercise.toml")

Run by the student (or by `nbgrader validate`), it grades the saved notebook file with
`autograder check` (in its own sandbox, started as a subprocess, on a fresh run of the
notebook), prints every check's verdict and fails when one did not pass.

This cell is feedback, never a grade: it runs in the student's kernel, after the student's
code, which can make it say anything (set an environment variable, replace this module in
`sys.modules`, rewrite the cell before IPython runs it). So it is worth no points, and the
points sit on markdown cells that no kernel runs: nbgrader's own autograde never scores them
(it asks for a manual grade), and `autograder.nbgrader_grading`, which grades outside the
student's kernel, gives them our points. Under `nbgrader autograde` the cell also fails at
once (NBGRADER_EXECUTION, which nbgrader sets for the kernel it starts, is checked first).

nbgrader scores a test cell 0 when it writes to stderr, so nothing here may: the grading
output is captured, Python warnings are silenced and file descriptor 2 (where TensorFlow's
C++ logging goes, from any thread of the student's kernel) points at /dev/null while a
verdict is computed.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from .grading.result import ResultDocument

_results: dict[str, ResultDocument] = {}  # notebook content digest -> result document


#: Why the test cell fails when nbgrader's own kernel runs it under `nbgrader autograde`.
NOT_A_GRADE = ("this cell is feedback, run in the student's kernel, and decides no grade: the course's "
               "nbgrader_config.py must grade with autograder.nbgrader_grading, outside the kernel "
               "(`autograder release` writes it)")


class VerdictFailed(AssertionError):
    """The check did not pass; the message says what was found and what to do."""


@contextlib.contextmanager
def _no_stderr():
    saved_stream, saved_fd = sys.stderr, None
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
    except (OSError, ValueError, AttributeError):
        saved_fd = None
    sys.stderr = io.StringIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        sys.stderr = saved_stream
        if saved_fd is not None:
            os.dup2(saved_fd, 2)
            os.close(saved_fd)


def _names_exercise(path: Path, exercise_id: str) -> bool:
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return False
    return isinstance(metadata, dict) and (metadata.get("autograder") or {}).get("exercise") == exercise_id


def _running_notebook() -> Path | None:
    """The notebook this kernel runs, as Jupyter tells its kernels (JPY_SESSION_NAME: a path, absolute
    or relative to the server's root), when that file is in the kernel's working folder."""
    session = os.environ.get("JPY_SESSION_NAME")
    if not session or not session.endswith(".ipynb"):
        return None
    named = Path(session)
    for path in ((named,) if named.is_absolute() else (Path.cwd() / named, Path.cwd() / named.name)):
        if path.is_file():
            return path
    return None


def _notebook(exercise_id: str) -> Path:
    """The notebook being graded: the one Jupyter says is running, else the only notebook in the
    kernel's working folder whose metadata names this exercise."""
    running = _running_notebook()
    if running is not None and _names_exercise(running, exercise_id):
        return running
    candidates = [path for path in sorted(Path.cwd().glob("*.ipynb")) if _names_exercise(path, exercise_id)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise VerdictFailed(f"no saved notebook of exercise {exercise_id} is in this notebook's folder "
                            f"({Path.cwd().name}): save the notebook (File > Save), then run this cell again")
    names = ", ".join(path.name for path in candidates)
    raise VerdictFailed(f"{len(candidates)} notebooks of exercise {exercise_id} are in this folder ({names}), and "
                        "Jupyter did not say which one is running: move the copies to another folder (or "
                        "rename the one you work on so that it is the only one), then run this cell again")


def _declared_id(exercise: str) -> str:
    """The id an exercise file declares (notebooks' metadata names that), or the built-in id given."""
    from .exercise import registry as exercises

    if not exercises.is_file_reference(exercise):
        return exercise
    try:
        return exercises.get(exercise).id
    except exercises.UsageError as error:
        raise VerdictFailed(str(error)) from None


def _grade(notebook: Path, exercise_id: str) -> ResultDocument:
    digest = hashlib.sha256(notebook.read_bytes()).hexdigest()
    if digest not in _results:
        command = [sys.executable, "-m", "autograder", "check", str(notebook), "--exercise", exercise_id,
                   "--quiet"]
        data = os.environ.get("AUTOGRADER_DATA") or ("fashion.npz" if Path("fashion.npz").exists() else None)
        if data:
            command += ["--data", data]
        with tempfile.TemporaryDirectory() as scratch:
            result_file = Path(scratch) / "result.json"
            completed = subprocess.run([*command, "--json", str(result_file)], capture_output=True, text=True,
                                       stdin=subprocess.DEVNULL, check=False)
            if not result_file.exists():
                reason = (completed.stderr.strip().splitlines() or ["no result"])[-1]
                raise VerdictFailed(f"the autograder could not grade {notebook.name}: {reason}")
            _results[digest] = cast("ResultDocument", json.loads(result_file.read_text()))
    return _results[digest]


def _result(exercise_id: str) -> ResultDocument:
    """The result of the saved notebook, or VerdictFailed saying why there is none; fails at once
    under `nbgrader autograde` (see the module's docstring), does nothing inside our own sandbox."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":  # before anything a student's cell may set
        raise VerdictFailed(NOT_A_GRADE)
    with _no_stderr():
        return _grade(_notebook(_declared_id(exercise_id)), exercise_id)


def _graded_elsewhere() -> bool:
    """Inside `autograder check` and `grade` the cell does nothing: the grade comes from the run."""
    return bool(os.environ.get("AUTOGRADER_SANDBOX")) and os.environ.get("NBGRADER_EXECUTION") != "autograde"


def verdicts(exercise_id: str) -> None:
    """Print every check's verdict; raise VerdictFailed naming the checks that did not pass (feedback:
    see the module's docstring)."""
    from .exercise import registry as exercises
    from .grading.result import verdict_of

    if _graded_elsewhere():
        print("(graded by the autograder itself; this cell does nothing here)")
        return
    try:
        result = _result(exercise_id)
        check_ids = [c["id"] for c in result.get("checks", [])] or exercises.get(exercise_id).check_ids
    except (VerdictFailed, exercises.UsageError) as error:
        message = str(error)
    else:
        shown = [verdict_of(result, check_id) for check_id in check_ids]
        failed = [text for passed, text in shown if not passed]
        print("\n".join(text for passed, text in shown if passed))
        if not failed:
            return
        message = f"{len(failed)} of {len(shown)} checks did not pass:\n\n" + "\n\n".join(failed)
    raise VerdictFailed(message) from None  # raised here: the student sees this message, not our frames


def verdict(exercise_id: str, check_id: str) -> None:
    """One check's verdict: the test cell of notebooks released before `verdicts` (one cell per check).
    Pass (print the check's message) or raise VerdictFailed with its message and hint."""
    from .grading.result import verdict_of

    if _graded_elsewhere():
        print("(graded by the autograder itself; this cell does nothing here)")
        return
    try:
        passed, text = verdict_of(_result(exercise_id), check_id)
    except VerdictFailed as error:
        passed, text = False, str(error)
    if not passed:
        raise VerdictFailed(text) from None
    print(text)
