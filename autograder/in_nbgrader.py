"""Our checks as nbgrader autograder-test cells.

The solution notebooks end with one locked, graded cell per check id:

    from autograder.in_nbgrader import verdict
    verdict("keras-dense", "model.architecture")   # or verdict("my-exercise.toml", ...)

Under `nbgrader autograde` the first such cell grades the submitted notebook file with
`autograder check` (in its own sandbox, started as a subprocess, on a fresh run of the
notebook) and every cell then passes or raises with that check's message, so nbgrader's
gradebook holds our per-check points.

nbgrader scores a test cell 0 when it writes to stderr, so nothing here may: the grading
output is captured, Python warnings are silenced and file descriptor 2 (where TensorFlow's
C++ logging goes, from any thread of the student's kernel) points at /dev/null while a
verdict is computed.

What this cannot defend: these cells run in the student's kernel, after the student's
code, so a student who replaces this module in `sys.modules` can forge the cells' outcome
(nbgrader's own limit). `autograder check` and `grade` do not have it.
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
    from .result import ResultDocument

_results: dict[str, ResultDocument] = {}  # notebook content digest -> result document


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


def _notebook(exercise_id: str) -> Path:
    """The notebook being graded: in nbgrader's autograde folder (the kernel's working
    directory), the one whose metadata names this exercise."""
    candidates = []
    for path in sorted(Path.cwd().glob("*.ipynb")):
        try:
            metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        except (OSError, ValueError):
            continue
        if (metadata.get("autograder") or {}).get("exercise") == exercise_id:
            candidates.append(path)
    if len(candidates) != 1:
        raise VerdictFailed(f"expected one notebook for exercise {exercise_id} in {Path.cwd().name}, "
                          f"found {len(candidates)}")
    return candidates[0]


def _declared_id(exercise: str) -> str:
    """The id an exercise file declares (notebooks' metadata names that), or the built-in id given."""
    from . import exercises

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


def verdict(exercise_id: str, check_id: str) -> None:
    """Pass (print the check's message) or raise VerdictFailed with its message and hint."""
    if os.environ.get("AUTOGRADER_SANDBOX"):
        print("(graded by the autograder itself; this cell does nothing here)")
        return
    from .result import verdict_of

    with _no_stderr():
        result = _grade(_notebook(_declared_id(exercise_id)), exercise_id)
    passed, text = verdict_of(result, check_id)
    if not passed:
        raise VerdictFailed(text)
    print(text)
