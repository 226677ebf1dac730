"""The self-check's execute stage: the student's own kernel, recorded as it works.

`autograder check` runs a notebook in a sandbox and reads back a RunRecord.
The self-check cells of a student's notebook (see `autograder.student`) have
no notebook to run: the student is running it. So this module installs the
same probe in the student's kernel (once per kernel), notes each cell's
outcome the way the sandbox's runner does, and on request turns what has been
recorded so far into a RunRecord. From there the stages are `check`'s own:
facts, the grader's measurement in a separate evaluator process, checks.

The student's kernel is the student's own process; nothing here grades
anyone. What it records is exactly as trustworthy as the student wants it to
be, which is why the grade always comes from `check` or `grade`.
"""
from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from .. import data as data_module
from ..protocol import MODEL_FILE
from ..sandbox import probe as probe_module
from ..sandbox.records import MAX_EVENT_LINE, RunRecord, json_lines
from .evaluation import Evaluator

LIVE_MAX_EVENTS = 200_000  # a whole working session, with many re-runs, keeps being recorded


def _error_line(error: BaseException, count: int, filenames: dict) -> int | None:
    """The line of the cell run as In [count] where `error` was raised, from its traceback."""
    line, frame = None, error.__traceback__
    while frame is not None:
        if filenames.get(frame.tb_frame.f_code.co_filename) == count:
            line = frame.tb_lineno
        frame = frame.tb_next
    return line if line is not None else getattr(error, "lineno", None)


class LiveRecorder:
    """The probe and a cell log in one live kernel; `snapshot()` is the RunRecord so far."""

    def __init__(self, shell, data_path: str, seed: int = 0) -> None:
        self.shell = shell
        self.folder = Path(tempfile.mkdtemp(prefix="autograder-selfcheck-"))
        atexit.register(shutil.rmtree, self.folder, True)
        self.models = self.folder / "models"
        self.models.mkdir()
        self.events_path = self.folder / "events.jsonl"
        fd = os.open(self.events_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.probe = probe_module.install(str(self.models), fd, os.path.abspath(data_path), seed)
        self.probe.max_events = LIVE_MAX_EVENTS
        self.probe.attach(shell)
        self.cells: list[dict] = []
        self.check_cells: set[int] = set()  # the self-check's own cells: not the student's work
        self.checking = False  # the running cell called the self-check
        self.evaluator: Evaluator | None = None
        self._lesson: tuple[tuple, data_module.LessonData | str] | None = None
        shell.events.register("post_run_cell", self.after_cell)

    # --- what each cell did ---------------------------------------------------

    def after_cell(self, result=None) -> None:
        try:
            count = getattr(result, "execution_count", None)
            if not isinstance(count, int):
                return
            info = getattr(result, "info", None)
            error = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
            record = {"index": count, "execution_count": count, "label": f"In [{count}]",
                      "status": "error" if error is not None else "ok",
                      "source": str(getattr(info, "raw_cell", "") or "")}
            if error is not None:
                filenames = getattr(self.shell.compile, "_filename_map", {})
                record["error"] = {"ename": type(error).__name__, "evalue": str(error)[:2000],
                                   "line": _error_line(error, count, filenames)}
            self.cells.append(record)
            if self.checking:
                self.check_cells.add(count)
        except Exception:  # noqa: BLE001 - noting a cell must never disturb the student
            pass
        finally:
            self.checking = False

    def mark_check_cell(self) -> None:
        self.checking = True  # noted against the cell's number once it has finished

    def use_data(self, data_path: str) -> None:
        """Another Exercise(...) in the same kernel named another data file: use that one."""
        path = os.path.abspath(data_path)
        if path != self.probe.data_path:
            self.probe.data_path = path
            with self.probe.unrecorded():
                self.probe.pristine = self.probe.load_pristine(path)

    def last_work_cell(self) -> dict | None:
        """The student's most recent cell before this self-check, if any."""
        for record in reversed(self.cells):
            if record["index"] not in self.check_cells:
                return record
        return None

    # --- the lesson's data, as the student's kernel sees it -----------------------

    @property
    def data_path(self) -> str:
        return self.probe.data_path

    def lesson(self) -> data_module.LessonData | str:
        """The data file the student works with, validated; or why it cannot be used."""
        path = Path(self.data_path)
        try:
            key = (str(path), path.stat().st_mtime_ns, path.stat().st_size)
        except OSError:
            return (f"{path.name} was not found next to the notebook ({path.parent}); put the lesson's "
                    "file there, or give its path: Exercise(..., data='path/to/fashion.npz')")
        if self._lesson is None or self._lesson[0] != key:
            try:
                with self.probe.unrecorded():
                    lesson = data_module.load(path)
                np.savez(self.folder / "test.npz", test_data=lesson.test_data)
                loaded: data_module.LessonData | str = lesson
            except data_module.DataError as error:
                loaded = str(error)
            self._lesson = (key, loaded)
        return self._lesson[1]

    # --- the record ---------------------------------------------------------------

    def snapshot(self) -> RunRecord:
        """Everything recorded so far, with every model the kernel still holds saved now.

        Only the models the student's variables name are offered for grading when
        there are any: a model replaced by re-running the build cell is history, even
        if it was trained and Keras still keeps it alive.
        """
        self.probe.export()
        raw = self.events_path.read_bytes()
        events = json_lines(raw, MAX_EVENT_LINE)
        saved = {int(m.group(1)): str(path) for path in self.models.iterdir()
                 if (m := MODEL_FILE.fullmatch(path.name))}
        named = set()
        for event in events:
            if event.get("kind") == "namespace" and event.get("final"):
                named = {int(k) for k in (event.get("models") or {}) if str(k).isascii() and str(k).isdigit()}
        if named & set(saved):
            saved = {serial: path for serial, path in saved.items() if serial in named}
        return RunRecord(status="completed", isolation="live", cells=list(self.cells), events=events,
                         models=saved)

    def sources(self) -> dict[int, str]:
        return {record["index"]: record["source"] for record in self.cells}

    def measuring_evaluator(self) -> Evaluator:
        """The evaluator process, started on first use and kept: it never runs the student's code."""
        if self.evaluator is None or self.evaluator.process.poll() is not None:
            self.evaluator = Evaluator()
            atexit.register(self.evaluator.close)
        return self.evaluator

    def warm_up(self) -> None:
        """Start the evaluator early (its TensorFlow import takes seconds), without waiting for it."""
        try:
            self.measuring_evaluator()
        except Exception:  # noqa: BLE001 - measuring later will say what is wrong
            pass


_recorder: LiveRecorder | None = None


def quiet_tensorflow_startup() -> None:
    """Keep TensorFlow's start-up log out of the student's setup cell.

    Installing the probe imports Keras, and so TensorFlow, whose C++ side then logs its
    CPU features and the like (INFO lines, in red under the first cell, before the student
    has written anything). TF_CPP_MIN_LOG_LEVEL=2 keeps its errors; it is read once, when
    TensorFlow loads, so it is set only if TensorFlow is not loaded yet and the student has
    not chosen a level. Python warnings, the student's own included, are untouched.
    """
    if "tensorflow" not in sys.modules:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def recorder(data_path: str, seed: int = 0) -> LiveRecorder | None:
    """This kernel's recorder, installed on first use; None outside IPython.

    Creating a second `Exercise` (re-running the setup cell) keeps the first
    recorder: Keras can be instrumented only once, and what it recorded stays.
    """
    global _recorder
    if _recorder is not None:
        _recorder.use_data(data_path)
    else:
        try:
            from IPython import get_ipython
        except ImportError:
            return None
        shell = get_ipython()
        if shell is None:
            return None
        quiet_tensorflow_startup()
        _recorder = LiveRecorder(shell, data_path, seed)
    return _recorder
