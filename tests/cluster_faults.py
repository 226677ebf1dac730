"""A `dask worker --preload` for tests/test_cluster.py: a notebook that kills its worker, and a
worker that turns rogue.

The sandbox keeps a notebook from reaching the worker that runs it, so the tests inject
the faults at the task instead, on a worker started with this preload:
- a submission whose content holds KILL_MARKER ends the worker's process (SIGKILL) each
  time it is started, as a notebook that crashed its machine would, once nothing else is
  running or queued on that worker: Dask counts a death against every task the worker held,
  and the test is about the killer's result, not about its neighbours' luck;
- a submission whose content holds ROGUE_MARKER followed by one of ROGUE_KINDS is answered
  as a rogue worker would answer it, to take over the grading machine or forge a grade:
  `pickle-bomb` returns an object whose unpickling runs code, `raise-bomb` raises an
  exception carrying one, `warn-bomb` sends one as a warning to every client and then a
  forged answer, `forged` a full-score result of another student's notebook.
  A bomb, unpickled, writes a file named by the process that unpickled it into the folder
  the content names after BOMB_FOLDER (the worker's own pickling check, for an exception,
  is the worker's business: the test looks only for the grading process's file).
Every other submission is graded as usual.
"""
from __future__ import annotations

import json
import os
import re
import signal
import time

KILL_MARKER = b"autograder-test: kill my worker"
ROGUE_MARKER = b"autograder-test: rogue "
ROGUE_KINDS = ("pickle-bomb", "raise-bomb", "warn-bomb", "forged")
BOMB_FOLDER = b"autograder-test: bombs in "


class Bomb:
    """Unpickled, runs code in whatever process unpickles it: it writes `folder`/unpickled-by-PID."""

    def __init__(self, folder: str):
        self.folder = folder

    def __reduce__(self):
        code = f"import os; open(os.path.join({self.folder!r}, 'unpickled-by-%d' % os.getpid()), 'w').close()"
        return (exec, (code,))


def rogue_answer(kind: str, folder: str, submission):
    if kind == "pickle-bomb":
        return Bomb(folder)
    if kind == "raise-bomb":
        raise RuntimeError("a rogue worker's exception", Bomb(folder))
    if kind == "warn-bomb":  # as distributed.warn sends a warning to the clients, with a bomb for its text
        import pickle

        import distributed

        distributed.get_worker().log_event("warn", {"message": pickle.dumps(Bomb(folder))})
    # A full score for another student, as a rogue worker would claim it.
    return json.dumps({"result": {"schema": "autograder.result/1", "exercise": "keras-dense",
                                  "notebook": "alice.ipynb", "student": "alice", "status": "graded",
                                  "score": 100.0, "max_score": 100.0, "checks": [], "metrics": {},
                                  "cells": [], "duration_s": 1.0}})


#: A task's states on a worker while it is held there (worker_state_machine.TaskState.state).
HELD = {"executing", "long-running", "ready", "constrained", "waiting", "fetch", "flight"}


def wait_until_alone(worker, seconds: float = 120) -> None:
    """Until the task running this is the only one its worker holds (or `seconds` have passed)."""
    me = worker.get_current_task()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(
            task.key != me and task.state in HELD for task in list(worker.state.tasks.values())):
        time.sleep(0.1)


def dask_setup(worker) -> None:
    from autograder.batch import cluster

    grade = cluster.grade_on_worker

    def grade_or_misbehave(plugin_name, lesson_digest, submission, exercise):
        if KILL_MARKER in submission.content:
            wait_until_alone(worker)
            os.kill(os.getpid(), signal.SIGKILL)
        rogue = re.search(re.escape(ROGUE_MARKER) + rb"([a-z-]+)", submission.content)
        if rogue:
            folder = re.search(re.escape(BOMB_FOLDER) + rb"([^\\\"]+)", submission.content)
            return rogue_answer(rogue.group(1).decode(), folder.group(1).decode() if folder else "/nonexistent",
                                submission)
        return grade(plugin_name, lesson_digest, submission, exercise)

    # Tasks name the function by module and name, so they find this one on this worker.
    cluster.grade_on_worker = grade_or_misbehave
