"""A grader killed with SIGKILL leaves its scratch folders behind; the next run removes them,
and nothing of a live run's, another prefix's or a link's."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

from autograder import scratch

HOLD = """
import sys, time
from autograder.scratch import ScratchFolder
folders = [ScratchFolder(prefix) for prefix in sys.argv[1:]]
(folders[0].path / "fashion.npz").write_bytes(b"data")
print(" ".join(str(folder.path) for folder in folders), flush=True)
time.sleep(60)
"""


def hold(tmp_path, *prefixes):
    process = subprocess.Popen([sys.executable, "-c", HOLD, *prefixes], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(tmp_path)})
    assert process.stdout is not None
    return process, process.stdout.readline().split()


def test_only_the_folders_a_killed_run_left_are_swept(tmp_path):
    killed, left = hold(tmp_path, "autograder-grade-", "autograder-slot-", "autograder-run-")
    live, kept = hold(tmp_path, "autograder-grade-")
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        unlocked = tmp_path / "autograder-grade-nolock"  # not made here: no lock file, never judged
        unlocked.mkdir()
        (tmp_path / "autograder-slot-link").symlink_to(unlocked)
        (tmp_path / "other").mkdir()
        assert scratch.sweep(str(tmp_path)) == 0  # all younger than MIN_AGE_S: perhaps not locked yet
        assert scratch.sweep(str(tmp_path), min_age=0) == 3
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
            [os.path.basename(kept[0]), "autograder-grade-nolock", "autograder-slot-link", "other"])
        assert all(not os.path.exists(folder) for folder in left)
    finally:
        live.kill()
        live.wait()
    assert scratch.sweep(str(tmp_path), min_age=0) == 1  # now that its run is gone too


def test_a_folder_is_gone_when_its_run_cleans_up(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    with scratch.ScratchFolder("autograder-run-") as path:
        assert (path / scratch.LOCK_NAME).exists()
        assert scratch.sweep(str(tmp_path), min_age=0) == 0  # held by this process
    assert list(tmp_path.iterdir()) == []


def test_a_planted_fifo_or_foreign_file_neither_hangs_nor_misleads_the_sweep(tmp_path):
    # A FIFO opened for reading blocks until a writer comes: every later run would have hung.
    for name in ("autograder-grade-fifo", "autograder-slot-dir"):
        (tmp_path / name).mkdir()
    os.mkfifo(tmp_path / "autograder-grade-fifo" / scratch.LOCK_NAME)
    (tmp_path / "autograder-slot-dir" / scratch.LOCK_NAME).mkdir()
    old = 1_000_000_000
    for name in ("autograder-grade-fifo", "autograder-slot-dir"):
        os.utime(tmp_path / name, (old, old))
    assert scratch.sweep(str(tmp_path)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["autograder-grade-fifo", "autograder-slot-dir"]


def test_a_folder_its_maker_forgot_goes_with_it(tmp_path, monkeypatch):
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    folder = scratch.ScratchFolder("autograder-grade-")
    assert folder.path.exists()
    del folder  # an exception between making and using it: no cleanup() call
    assert list(tmp_path.iterdir()) == []
