"""Watching a run from outside: its wall clock, and what it writes on the grader's disk.

Both paths wait for their run with `supervise`: the runner's own limits stop a
notebook that runs too long, this stops a runner that does not.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from .isolation import Limits

#: Seconds a run may take beyond its notebook's limit: the probe's export, kernel shutdown, cleanup.
EXPORT_GRACE = 20.0
#: Files and folders a run may leave where the grader collects its results.
MAX_WRITTEN_FILES = 10_000
#: Seconds between looks at what a run has written.
DISK_POLL = 0.25


def disk_usage(folders: list[Path]) -> tuple[int, int]:
    """Bytes allocated and entries found under the folders, stopping at MAX_WRITTEN_FILES entries."""
    used, entries, pending = 0, 0, [str(f) for f in folders]
    while pending and entries <= MAX_WRITTEN_FILES:
        try:
            listing = os.scandir(pending.pop())
        except OSError:
            continue
        with listing:
            for entry in listing:
                entries += 1
                try:
                    if entry.is_dir(follow_symlinks=False):
                        pending.append(entry.path)
                    else:
                        used += entry.stat(follow_symlinks=False).st_blocks * 512
                except OSError:
                    continue
    return used, entries


def supervise(finished: Callable[[float], bool], deadline: float, written: list[Path],
              limits: Limits) -> str | None:
    """Wait for a run to end, watching the clock and the folders it can write on the grader's
    disk: None when it ended by itself, else why it must be stopped ("timeout" or "disk").

    `finished(seconds)` waits up to that long and says whether the run has ended. Files are
    capped one by one (RLIMIT_FSIZE) inside the run; only out here can their total be.
    """
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        if finished(min(DISK_POLL, left)):
            return None
        used, entries = disk_usage(written)
        if used > limits.disk_bytes or entries > MAX_WRITTEN_FILES:
            return "disk"
