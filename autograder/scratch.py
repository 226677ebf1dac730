"""Scratch folders of a run, and the removal of those a killed run left behind.

Each folder holds a lock file that its process keeps locked (flock) until it removes the folder.
A grader killed with SIGKILL (the OOM killer, `kill -9`, a Dask worker's nanny) removes nothing:
its folders keep copies of the lesson data, the notebook's model files and job folders. The lock
dies with the process, so the next run can tell a left-behind folder from a live one, however
old either is, and removes only the first (`sweep`): the first scratch folder a process makes
sweeps first, so every path (check, grade, a Dask worker's tasks) cleans up after a killed one.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
import threading
import time
import weakref
from pathlib import Path

#: Prefixes of the folders made here, and so swept: nothing else under the temporary directory is.
PREFIXES = ("autograder-grade-", "autograder-slot-", "autograder-run-")
LOCK_NAME = ".autograder-lock"
#: A folder younger than this is left alone: its maker may not have locked it yet.
MIN_AGE_S = 60.0


class ScratchFolder:
    """A new folder under the temporary directory, locked as in use until `cleanup`."""

    def __init__(self, prefix: str) -> None:
        if prefix not in PREFIXES:
            raise ValueError(f"{prefix!r} is not a scratch prefix (PREFIXES)")
        _sweep_once()
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self._lock: int | None = None
        try:
            self._lock = os.open(self.path / LOCK_NAME, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
            fcntl.flock(self._lock, fcntl.LOCK_EX)  # new and private: nothing else holds it
        except BaseException:
            self.cleanup()
            raise
        # A folder its owner forgot (an exception between making and using it) goes with the object.
        self._finalizer = weakref.finalize(self, _remove, self.path, self._lock, os.getpid())

    @property
    def name(self) -> str:  # as tempfile.TemporaryDirectory's
        return str(self.path)

    def cleanup(self) -> None:
        finalizer = getattr(self, "_finalizer", None)
        if finalizer is not None:
            finalizer.detach()
        _remove(self.path, self._lock, os.getpid())
        self._lock = None

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc_info) -> None:
        self.cleanup()


def _remove(path: Path, lock: int | None, owner: int) -> None:
    if os.getpid() != owner:
        return  # a forked copy of the object ending: the folder is its maker's
    shutil.rmtree(path, ignore_errors=True)
    if lock is not None:  # unlocked only once removed: a sweep never meets a folder half gone
        os.close(lock)


def sweep(root: str | None = None, min_age: float = MIN_AGE_S) -> int:
    """Remove the scratch folders under `root` (the temporary directory) that no live process
    holds: made by this user, with our prefixes and lock file, and unlocked. Returns how many."""
    root = root or tempfile.gettempdir()
    removed = 0
    try:
        entries = list(os.scandir(root))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(PREFIXES):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or time.time() - info.st_mtime < min_age:
            continue  # another user's, or a link, or perhaps not locked yet
        try:
            # Not blocking: a FIFO planted under our lock file's name would hang every later run.
            lock = os.open(os.path.join(entry.path, LOCK_NAME), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            continue  # no lock file: not one of ours to judge
        try:
            held = os.fstat(lock)
            if not stat.S_ISREG(held.st_mode) or held.st_uid != os.geteuid():
                continue  # not a lock file this user made
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its process lives
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
        finally:
            os.close(lock)
    return removed


_swept = threading.Event()
_sweeping = threading.Lock()


def _sweep_once() -> None:
    with _sweeping:
        if not _swept.is_set():
            sweep()
            _swept.set()
