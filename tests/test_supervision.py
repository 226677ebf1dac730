"""Watching a run from outside finds every process of its user, however it hides."""
from __future__ import annotations

import os
import subprocess

import pytest

from autograder.sandbox.isolation import job_user
from autograder.sandbox.supervision import RunProcesses, processes_of

HIDE_AND_WAIT = """
import ctypes, sys, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: most of /proc/PID now belongs to root
print('hidden', flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"),
                    reason="starting a process as another user needs root (and a system Python)")
def test_a_users_processes_are_found_even_when_not_dumpable():
    user = job_user()
    assert processes_of(user) == []
    # The system's Python: the project's may sit where another user cannot read it.
    hider = subprocess.Popen(["/usr/bin/python3", "-c", HIDE_AND_WAIT], user=user, group=user, cwd="/",
                             stdout=subprocess.PIPE, text=True)
    try:
        assert hider.stdout is not None and hider.stdout.readline().strip() == "hidden"
        assert processes_of(user) == [hider.pid]
        assert list(RunProcesses(user=user).members()) == [hider.pid]
        assert hider.pid not in processes_of(user + 1) and os.getpid() not in processes_of(user)
    finally:
        hider.kill()
        hider.wait()
    assert processes_of(user) == []
