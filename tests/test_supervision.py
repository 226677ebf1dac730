"""Watching a run from outside finds every process of its user, however it hides, and all the memory it holds."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import time

import psutil
import pytest

from autograder.sandbox.isolation import job_user
from autograder.sandbox.supervision import TABLE_AGE, RunProcesses, processes_of, proportional_bytes, resident_bytes

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
        time.sleep(TABLE_AGE)  # the watchers' shared look at the machine is at most this old
        assert RunProcesses(user=user).members() == {hider.pid}
        assert hider.pid not in processes_of(user + 1) and os.getpid() not in processes_of(user)
    finally:
        hider.kill()
        hider.wait()
    assert processes_of(user) == []


HOLD_IN_A_THREAD = """
import ctypes, threading, time
def hold():
    block = bytearray(300 * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1  # touched, so resident
    print('holding', flush=True)
    time.sleep(60)
threading.Thread(target=hold).start()
time.sleep(2)
ctypes.CDLL(None).syscall(60, 0)  # SYS_exit: only the main thread ends; the process lives on
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the exit system call's number is x86_64's")
def test_memory_held_by_a_thread_after_the_main_thread_ended_is_counted():
    # The main thread's own /proc files read zeros once it has exited, so a run could hold
    # memory beyond its cap in many such processes unseen.
    holder = subprocess.Popen([sys.executable, "-c", HOLD_IN_A_THREAD], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        time.sleep(3)  # the main thread has exited by now
        assert psutil.Process(holder.pid).memory_info().rss == 0  # what the process itself says
        assert resident_bytes(holder.pid) > 290 * 2**20
        assert proportional_bytes(holder.pid) > 290 * 2**20
        assert RunProcesses(root=holder.pid).exceed(200 * 2**20)
        assert not RunProcesses(root=holder.pid).exceed(2 * 2**30)
    finally:
        holder.kill()
        holder.wait()
