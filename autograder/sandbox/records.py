"""What a sandboxed run left, read back as untrusted data.

The runner's channel (its cell reports and how the run ended), the probe's
event log, the kernel's log and the saved model files all come from folders
and pipes that student code could write to. Everything is read here without
following links, bounded in size, and each record is rebuilt by readback.py;
`collect` turns what is left into a RunRecord, the same on both paths.
"""
from __future__ import annotations

import json
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..protocol import MAX_MODELS, MODEL_FILE, RUN_STATUSES
from . import isolation as iso, readback
from .isolation import Limits
from .supervision import MAX_WRITTEN_FILES

#: Bytes of the runner's channel kept, and of one line of it.
MAX_CHANNEL_BYTES = 16 * 2**20
MAX_LINE_BYTES = 4 * 2**20
#: Bytes of the probe's event log read, and of one event.
MAX_EVENTS_BYTES = 8 * 2**20
MAX_EVENT_LINE = 512 * 2**10
#: Bytes of one saved model file; a larger one is not read back.
MAX_MODEL_BYTES = 64 * 2**20
#: Bytes of the kernel's log read, and characters of its end kept in the record.
MAX_LOG_BYTES = 4 * 2**20
MAX_LOG_TAIL = 8000


@dataclass
class RunRecord:
    """What one sandboxed execution left behind, as plain data."""

    #: How the run ended: one of protocol.RUN_STATUSES.
    status: str
    #: The isolation it ran under (isolation.BUBBLEWRAP, isolation.RLIMITS, or "live" for the self-check).
    isolation: str
    #: The runner's cell reports, rebuilt by readback.cell.
    cells: list[dict[str, Any]] = field(default_factory=list)
    #: The probe's events, rebuilt by readback.event.
    events: list[dict[str, Any]] = field(default_factory=list)
    #: The runner's other reports (kernel started, export, done, a limit reached).
    runner: list[dict[str, Any]] = field(default_factory=list)
    #: Saved model files by the model's serial number, each a copy in a folder the grader owns.
    models: dict[int, str] = field(default_factory=dict)
    #: The end of the kernel's own output (stdout and stderr).
    kernel_log: str = ""
    #: Wall-clock seconds the run took, export and cleanup included.
    seconds: float = 0.0
    #: The limits it ran under, as Limits.recorded gives them.
    limits: dict[str, float] = field(default_factory=dict)
    #: Run by a fork server's job (the warm path) rather than a fresh kernel process.
    warm: bool = False
    #: isolation.OWN_NETWORK (a network namespace of its own) or SHARED_NETWORK (the machine's);
    #: "" for the self-check, which runs in the student's own kernel.
    network: str = ""


def read_untrusted(path: Path, limit: int) -> bytes | None:
    """A regular file's first `limit` bytes, never following a symlink planted by the notebook."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def json_lines(raw: bytes, max_line: int) -> list[dict[str, Any]]:
    """The JSON objects among the lines of `raw`; longer lines and anything else are dropped."""
    records = []
    for line in raw.splitlines():
        if not line or len(line) > max_line:
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class ChannelReader(threading.Thread):
    """Drains the runner's stdout (the cold path's channel), keeping at most MAX_CHANNEL_BYTES of it."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.records: list[dict[str, Any]] = []
        self.kept = 0

    def run(self) -> None:
        while True:
            line = self.stream.readline(MAX_LINE_BYTES)
            if not line:
                return
            self.kept += len(line)
            if self.kept <= MAX_CHANNEL_BYTES:
                self.records.extend(json_lines(line, MAX_LINE_BYTES))


def _grader_paths(scratch: Path) -> list[tuple[str, str]]:
    """Paths of this machine that may appear in messages, longest first, with what to show instead."""
    import autograder

    pairs = {str(scratch / "home"): iso.SANDBOX_HOME, str(scratch): "/sandbox",
             os.path.dirname(os.path.abspath(autograder.__file__)): "<grader>"}
    for path in iso.python_paths():
        pairs.setdefault(path, "<python>")
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def collect(channel: list[dict[str, Any]], host_out: Path, models_dir: Path, isolation: str,
            stopped: str | None, scratch: Path, limits: Limits) -> RunRecord:
    """The record of a run from its channel and its output folder (`host_out`, as the grader sees it).

    `stopped` is why the grader stopped the run (see supervision.supervise), None if it ended
    by itself; model files are copied into `models_dir`, which the caller owns.
    """
    channel = readback.scrub_paths(channel, _grader_paths(scratch))
    cells = [c for c in (readback.cell(r) for r in channel if r.get("event") == "cell") if c]
    runner: list[dict[str, Any]] = [
        {"event": r.get("event"), "status": r.get("status"), "error": readback.text(r.get("error"), 500),
         "seconds": readback.number(r.get("seconds"))}
        for r in channel if r.get("event") != "cell" and isinstance(r.get("event"), str)]
    done = [r for r in runner if r.get("event") == "done"]
    status = done[-1].get("status") if done else None
    if stopped == "disk":
        status = "kernel_died"
        runner.append({"event": "limit", "status": None, "seconds": None,
                       "error": f"the notebook wrote more than {limits.disk_bytes // 2**20} MiB of files, or more "
                                f"than {MAX_WRITTEN_FILES} files, where the grader collects its results"})
    elif stopped == "memory":
        status = "kernel_died"
        runner.append({"event": "limit", "status": None, "seconds": None,
                       "error": f"the notebook's processes together used more than {limits.memory_mb} MiB of "
                                "memory"})
    elif status not in RUN_STATUSES:
        # No word from the runner at the end: it was killed at the hard limit, or
        # something in the sandbox killed it.
        status = "timeout" if stopped else "kernel_died"
    raw_events = read_untrusted(host_out / "events.jsonl", MAX_EVENTS_BYTES) or b""
    events = [e for e in (readback.event(r) for r in json_lines(raw_events, MAX_EVENT_LINE)) if e]
    events = readback.scrub_paths(events, _grader_paths(scratch))
    models: dict[int, str] = {}
    try:
        names = sorted(os.listdir(host_out / "models"))
    except OSError:
        names = []
    for name in names:
        match = MODEL_FILE.fullmatch(name)
        if not match or len(models) >= MAX_MODELS * 2:
            continue
        content = read_untrusted(host_out / "models" / name, MAX_MODEL_BYTES + 1)
        if content is None or len(content) > MAX_MODEL_BYTES:
            continue
        target = models_dir / name
        target.write_bytes(content)
        models[int(match.group(1))] = str(target)
    log = read_untrusted(host_out / "kernel.log", MAX_LOG_BYTES) or b""
    return RunRecord(status=status, isolation=isolation, cells=cells, events=events, runner=runner,
                     models=models, kernel_log=log[-MAX_LOG_TAIL:].decode("utf-8", "replace"),
                     network=iso.network_of(isolation))
