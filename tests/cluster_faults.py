"""A `dask worker --preload` for tests/test_cluster.py: a notebook that kills its worker.

The sandbox keeps a notebook from reaching the worker that runs it, so the tests inject
the fault at the task instead: on a worker started with this preload, a submission whose
content holds KILL_MARKER ends the worker's process (SIGKILL) each time it is started,
as a notebook that crashed its machine would. Every other submission is graded as usual.
"""
from __future__ import annotations

import os
import signal

KILL_MARKER = b"autograder-test: kill my worker"


def dask_setup(worker) -> None:
    from autograder import cluster

    grade = cluster.grade_on_worker

    def grade_or_die(plugin_name, lesson_digest, submission, exercise):
        if KILL_MARKER in submission.content:
            os.kill(os.getpid(), signal.SIGKILL)
        return grade(plugin_name, lesson_digest, submission, exercise)

    # Tasks name the function by module and name, so they find this one on this worker.
    cluster.grade_on_worker = grade_or_die
