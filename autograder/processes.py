"""The child processes grading started, so that an interrupted batch stops them all at once."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from typing import IO

_LOCK = threading.Lock()
_RUNNING: set[subprocess.Popen[bytes]] = set()
STOPPING = threading.Event()


class Stopped(RuntimeError):
    """Grading was interrupted; nothing from this submission may be recorded."""


def started(process: subprocess.Popen[bytes]) -> None:
    with _LOCK:
        _RUNNING.add(process)
    if STOPPING.is_set():
        kill(process)


def finished(process: subprocess.Popen[bytes]) -> None:
    with _LOCK:
        _RUNNING.discard(process)


def kill(process: subprocess.Popen[bytes]) -> None:
    """Kill a process and its session (every child we start leads its own session)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        try:
            process.kill()
        except OSError:
            pass


def stop_all() -> None:
    """Stop every grading in flight; later ones refuse to start."""
    STOPPING.set()
    with _LOCK:
        running = list(_RUNNING)
    for process in running:
        kill(process)


def pipes(process: subprocess.Popen[bytes]) -> tuple[IO[bytes], IO[bytes]]:
    """The stdin and stdout of a process started with both as pipes."""
    if process.stdin is None or process.stdout is None:
        raise ValueError("the process was not started with stdin and stdout as pipes")
    return process.stdin, process.stdout


def check_not_stopping() -> None:
    if STOPPING.is_set():
        raise Stopped("grading was interrupted")
