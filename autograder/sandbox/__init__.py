"""Execute a notebook in a sandbox and read back what it left, as untrusted data.

`run_notebook` is the grader's side of the sandbox: it prepares a scratch
directory with a fresh copy of the data, starts the runner under the chosen
isolation, enforces the wall-clock limit from outside, removes every process
the notebook started, and reads back the runner's cell reports, the probe's
events and the saved model files, each validated and bounded in size.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import processes
from . import isolation as iso
from . import readback
from .isolation import Limits

MAX_CHANNEL_BYTES = 16 * 2**20
MAX_LINE_BYTES = 4 * 2**20
MAX_EVENTS_BYTES = 8 * 2**20
MAX_EVENT_LINE = 512 * 2**10
MAX_MODEL_BYTES = 64 * 2**20
MAX_MODELS = 8
MAX_LOG_TAIL = 8000
# Beyond the notebook's own limit: the probe's export, kernel shutdown, cleanup.
EXPORT_GRACE = 20.0
MAX_WRITTEN_FILES = 10_000
DISK_POLL = 0.25  # seconds between looks at what a run has written
MODEL_FILE = re.compile(r"model-(\d{1,6})\.keras")
DATA_NAME = "fashion.npz"


@dataclass
class RunRecord:
    """What one sandboxed execution left behind, as plain data."""

    status: str  # completed | timeout | kernel_died | error
    isolation: str
    cells: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    runner: list[dict] = field(default_factory=list)
    models: dict[int, str] = field(default_factory=dict)  # serial -> path owned by the grader
    kernel_log: str = ""
    seconds: float = 0.0
    limits: dict = field(default_factory=dict)
    warm: bool = False  # run by a fork server's job rather than a fresh kernel process


def _read_untrusted(path: Path, limit: int) -> bytes | None:
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


def _json_lines(raw: bytes, max_line: int) -> list[dict]:
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


class _ChannelReader(threading.Thread):
    """Drains the runner's stdout, keeping at most MAX_CHANNEL_BYTES of it."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream = stream
        self.records: list[dict] = []
        self.kept = 0

    def run(self) -> None:
        while True:
            line = self.stream.readline(MAX_LINE_BYTES)
            if not line:
                return
            self.kept += len(line)
            if self.kept <= MAX_CHANNEL_BYTES:
                self.records.extend(_json_lines(line, MAX_LINE_BYTES))


def _kill_marked(marker: str) -> None:
    """Kill every process carrying this run's marker in its environment (no-namespace mode)."""
    import psutil

    for process in psutil.process_iter(["pid"]):
        try:
            if process.pid != os.getpid() and process.environ().get("AUTOGRADER_SANDBOX") == marker:
                process.kill()
        except (psutil.Error, OSError):
            continue


def _prepare(scratch: Path, isolation: str, data_path: Path) -> iso.Layout:
    out = scratch / "out"
    out.mkdir()
    (out / "models").mkdir()  # the only place the kernel saves to; events.jsonl stays the runner's
    dropped = iso.running_as_root() and isolation == iso.BUBBLEWRAP
    if isolation == iso.BUBBLEWRAP:
        layout = iso.Layout(isolation, host_out=out, home=iso.SANDBOX_HOME,
                            out=iso.SANDBOX_OUT, runtime=iso.SANDBOX_RUNTIME)
    else:
        home = scratch / "home"
        home.mkdir()
        (scratch / "tmp").mkdir()
        shutil.copyfile(data_path, home / DATA_NAME)
        layout = iso.Layout(isolation, host_out=out, home=str(home), out=str(out),
                            runtime=str(scratch / "run"))
    if dropped:
        layout.uid = layout.gid = iso.job_user()
        os.chown(out / "models", layout.uid, layout.gid)
    return layout


def run_notebook(notebook: dict, data_path: str | os.PathLike, limits: Limits,
                 models_dir: str | os.PathLike, isolation: str = "auto", seed: int = 0) -> RunRecord:
    """Run every cell of `notebook` in a fresh sandboxed kernel and collect what it left.

    Model files are copied into `models_dir`, which the caller owns.
    """
    processes.check_not_stopping()
    chosen = iso.choose(isolation)
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="autograder-"))
    models_dir = Path(models_dir)
    marker = secrets.token_hex(16)
    try:
        layout = _prepare(scratch, chosen, Path(data_path))
        tmp = "/tmp" if chosen == iso.BUBBLEWRAP else str(scratch / "tmp")
        env = iso.sandbox_env(layout.home, tmp, marker, limits.threads)
        env["AUTOGRADER_SEED"] = str(seed)
        job = {
            "notebook": notebook,
            "home": layout.home,
            "probe_dir": layout.out,
            "runtime_dir": layout.runtime,
            "data_name": DATA_NAME,
            "uid": layout.uid,
            "gid": layout.gid,
            "limits": limits.rlimits(dropped_user=layout.uid is not None),
            "notebook_timeout": limits.notebook_timeout,
            "cell_timeout": limits.cell_timeout,
            "output_cap": limits.output_bytes,
            "cell_output_cap": limits.cell_output_bytes,
        }
        data_fd = os.open(data_path, os.O_RDONLY)
        try:
            if chosen == iso.BUBBLEWRAP:
                command = iso.bubblewrap_command(layout, limits, data_fd, DATA_NAME, env)
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=None if os.environ.get("AUTOGRADER_DEBUG") else subprocess.DEVNULL, pass_fds=(data_fd,),
                                           start_new_session=True)
            else:
                process = subprocess.Popen(iso.plain_command(), stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                           cwd=layout.home, env=env, start_new_session=True)
        finally:
            os.close(data_fd)
        processes.started(process)
        try:
            reader = _ChannelReader(process.stdout)
            reader.start()
            try:
                process.stdin.write(json.dumps(job).encode())
                process.stdin.close()
            except BrokenPipeError:
                pass
            hard_deadline = max(time.monotonic() + 1.0, started + limits.notebook_timeout + EXPORT_GRACE)
            # Without bubblewrap the home folder is on the grader's disk too.
            written = [layout.host_out] if chosen == iso.BUBBLEWRAP else [scratch]
            stopped = supervise(lambda step: _exited(process, step), hard_deadline, written, limits)
        finally:  # also on Ctrl-C: the runner leads its own session and would live on
            _stop(process, marker)
            processes.finished(process)
        reader.join(timeout=5)
        processes.check_not_stopping()
        record = _collect(reader.records, layout, models_dir, chosen, stopped, scratch, limits.disk_bytes)
        record.seconds = round(time.monotonic() - started, 3)
        record.limits = {"notebook_timeout_s": limits.notebook_timeout,
                         "cell_timeout_s": limits.cell_timeout,
                         "memory_mb": limits.memory_bytes // 2**20,
                         "output_kb": limits.output_bytes // 2**10}
        return record
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _exited(process: subprocess.Popen, seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


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


def supervise(finished, deadline: float, written: list[Path], limits: Limits) -> str | None:
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


def _stop(process: subprocess.Popen, marker: str) -> None:
    """Kill the runner's whole session and anything else that carries our marker."""
    processes.kill(process)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    _kill_marked(marker)


def _grader_paths(scratch: Path) -> list[tuple[str, str]]:
    """Paths of this machine that may appear in messages, longest first, with what to show instead."""
    import autograder

    pairs = {str(scratch / "home"): iso.SANDBOX_HOME, str(scratch): "/sandbox",
             os.path.dirname(os.path.abspath(autograder.__file__)): "<grader>"}
    for path in iso.python_paths():
        pairs.setdefault(path, "<python>")
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def _collect(channel: list[dict], layout: iso.Layout, models_dir: Path, isolation: str,
             stopped: str | None, scratch: Path, disk_bytes: int = Limits().disk_bytes) -> RunRecord:
    channel = readback.scrub_paths(channel, _grader_paths(scratch))
    cells = [c for c in (readback.cell(r) for r in channel if r.get("event") == "cell") if c]
    runner = [{"event": r.get("event"), "status": r.get("status"), "error": readback.text(r.get("error"), 500), "seconds": readback.number(r.get("seconds"))}
              for r in channel if r.get("event") != "cell" and isinstance(r.get("event"), str)]
    done = [r for r in runner if r.get("event") == "done"]
    status = done[-1].get("status") if done else None
    if stopped == "disk":
        status = "kernel_died"
        runner.append({"event": "limit", "status": None, "seconds": None,
                       "error": f"the notebook wrote more than {disk_bytes // 2**20} MiB of files, or more than "
                                f"{MAX_WRITTEN_FILES} files, where the grader collects its results"})
    elif status not in ("completed", "timeout", "kernel_died", "error"):
        # No word from the runner at the end: it was killed at the hard limit, or
        # something in the sandbox killed it.
        status = "timeout" if stopped else "kernel_died"
    raw_events = _read_untrusted(layout.host_out / "events.jsonl", MAX_EVENTS_BYTES) or b""
    events = [e for e in (readback.event(r) for r in _json_lines(raw_events, MAX_EVENT_LINE)) if e]
    events = readback.scrub_paths(events, _grader_paths(scratch))
    models: dict[int, str] = {}
    try:
        names = sorted(os.listdir(layout.host_out / "models"))
    except OSError:
        names = []
    for name in names:
        match = MODEL_FILE.fullmatch(name)
        if not match or len(models) >= MAX_MODELS * 2:
            continue
        content = _read_untrusted(layout.host_out / "models" / name, MAX_MODEL_BYTES + 1)
        if content is None or len(content) > MAX_MODEL_BYTES:
            continue
        target = models_dir / name
        target.write_bytes(content)
        models[int(match.group(1))] = str(target)
    log = _read_untrusted(layout.host_out / "kernel.log", 4 * 2**20) or b""
    return RunRecord(status=status, isolation=isolation, cells=cells, events=events, runner=runner,
                     models=models, kernel_log=log[-MAX_LOG_TAIL:].decode("utf-8", "replace"))
