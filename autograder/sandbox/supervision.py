"""Watching a run from outside: its wall clock, its processes' memory all together, and
what it writes on the grader's disk.

Both paths wait for their run with `supervise`: the runner's own limits stop a
notebook that runs too long, this stops a runner that does not. RLIMIT_AS caps each
process; only out here can the memory of all of them together be capped (four forked
children of 2 GiB each are within a 6 GiB per-process cap).
"""
from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from .isolation import Limits

#: Seconds a run may take beyond its notebook's limit: the probe's export, kernel shutdown, cleanup.
EXPORT_GRACE = 20.0
#: Files and folders a run may leave where the grader collects its results.
MAX_WRITTEN_FILES = 10_000
#: Seconds between looks at what a run has written.
DISK_POLL = 0.25
#: Seconds the watchers of concurrent runs share one look at the machine's processes.
TABLE_AGE = 0.2


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


@dataclass(frozen=True)
class RunProcesses:
    """How to find a run's processes from outside: the tree under its first process, and every
    process of the user it runs as (a process that left the tree, and the warm path's jobs)."""

    root: int | None = None
    user: int | None = None

    def members(self) -> set[int]:
        found: set[int] = set()
        if self.root is not None:
            try:
                first = psutil.Process(self.root)
                found.add(first.pid)
                found.update(child.pid for child in first.children(recursive=True))
            except psutil.Error:
                pass
        if self.user is not None:
            found.update(USERS_PROCESSES.of(self.user))
        return found

    def exceed(self, cap: int) -> bool:
        """Whether the run's processes hold more than `cap` bytes of memory together.

        Counted as each one's proportional share (PSS) of what it maps, so pages shared after
        a fork count once in all; PSS is slow to read, so only when the resident sizes, an
        upper bound read cheaply, add up to more than the cap."""
        members = self.members()
        if sum(map(resident_bytes, members)) <= cap:
            return False
        return sum(map(proportional_bytes, members)) > cap


def processes_of(user: int) -> list[int]:
    """Every process whose real or effective user is `user` (see processes_by_user)."""
    return processes_by_user().get(user, [])


def processes_by_user() -> dict[int, list[int]]:
    """Every process on the machine under its real and its effective user, from the Uid line of
    each one's /proc/PID/status, as psutil reads it (it holds even for a process that made itself
    non-dumpable, whose other /proc files then belong to root), without building an object per
    process on the machine: psutil's process_iter did, and looking 4 times a second for each
    job cost a twentieth of a core in a batch."""
    found: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status", "rb") as handle:
                status = handle.read()
            start = status.index(b"\nUid:") + len(b"\nUid:")
            real, effective = status[start:status.index(b"\n", start)].split()[:2]
            for user in {int(real), int(effective)}:
                found.setdefault(user, []).append(int(name))
        except (OSError, ValueError):
            continue  # it ended meanwhile
    return found


class SharedProcessTable:
    """processes_by_user, read at most once every TABLE_AGE seconds for all the runs being
    watched at once: each watcher looked 4 times a second on its own, and the look was still a
    sixth of the grader's own CPU in a batch of two jobs (py-spy). A process is seen at most
    TABLE_AGE later than with a look of its own, well within the memory cap's DISK_POLL."""

    def __init__(self, age: float) -> None:
        self.age = age
        self._lock = threading.Lock()
        self._read_at = -math.inf
        self._table: dict[int, list[int]] = {}

    def of(self, user: int) -> list[int]:
        with self._lock:
            if time.monotonic() - self._read_at >= self.age:
                self._table = processes_by_user()
                self._read_at = time.monotonic()
            return list(self._table.get(user, ()))


USERS_PROCESSES = SharedProcessTable(TABLE_AGE)

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def _memory_files(pid: int, name: str):
    """/proc/PID/NAME, then the same file of each of its threads. A process can end its main
    thread and keep its memory in another: its own statm then reads zeros and its smaps_rollup
    fails, and only a live thread's still tell what the process holds (they share one memory)."""
    yield f"/proc/{pid}/{name}"
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    yield from (f"/proc/{pid}/task/{tid}/{name}" for tid in threads if tid != str(pid))


def _first_nonzero(pid: int, name: str, parse: Callable[[bytes], int]) -> int:
    for path in _memory_files(pid, name):
        try:
            with open(path, "rb") as handle:
                value = parse(handle.read())
        except (OSError, ValueError, IndexError, StopIteration):
            continue  # that thread, or the process, ended meanwhile
        if value:
            return value
    return 0


def resident_bytes(pid: int) -> int:
    """Bytes the process holds in memory (RSS), an upper bound of its share, read cheaply."""
    return _first_nonzero(pid, "statm", lambda statm: int(statm.split()[1]) * PAGE_BYTES)


def proportional_bytes(pid: int) -> int:
    """The process's proportional share of the memory it maps (PSS): pages shared by n processes
    count 1/n in each."""
    def pss(rollup: bytes) -> int:
        line = next(line for line in rollup.splitlines() if line.startswith(b"Pss:"))
        return int(line.split()[1]) * 1024

    return _first_nonzero(pid, "smaps_rollup", pss)


def supervise(finished: Callable[[float], bool], deadline: float, written: list[Path],
              limits: Limits, watched: RunProcesses | None = None) -> str | None:
    """Wait for a run to end, watching the clock, the memory of its processes together and the
    folders it can write on the grader's disk: None when it ended by itself, else why it must be
    stopped ("timeout", "memory" or "disk").

    `finished(seconds)` waits up to that long and says whether the run has ended. Files are
    capped one by one (RLIMIT_FSIZE) inside the run, and memory process by process (RLIMIT_AS);
    only out here can their totals be.
    """
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "timeout"
        if finished(min(DISK_POLL, left)):
            return None
        if watched is not None and watched.exceed(limits.memory_mb * 2**20):
            return "memory"
        used, entries = disk_usage(written)
        if used > limits.disk_bytes or entries > MAX_WRITTEN_FILES:
            return "disk"
