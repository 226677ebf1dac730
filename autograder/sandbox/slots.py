"""The grader's side of the warm path: a slot, one bubblewrap sandbox running
the fork server (see forkserver.py), shared by every notebook of a batch.

Jobs run side by side in the slot, each in namespaces of its own and as a
user of its own, so one job sees no file, process, socket or signal of
another; TensorFlow's pages, imported once by the server, are shared by all.
`Slot.run` has the same contract as `run_notebook`: it returns a RunRecord
read back, validated and bounded, from the job's own folder.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from .. import processes
from ..errors import GraderFault
from ..protocol import DATA_NAME
from . import isolation as iso
from .forkserver import SLOTS_ROOT
from .isolation import Limits
from .job import runner_job
from .records import MAX_CHANNEL_BYTES, MAX_LINE_BYTES, RunRecord, collect, json_lines, read_untrusted
from .supervision import EXPORT_GRACE, RunProcesses, supervise

STARTUP_TIMEOUT = 180.0


class SlotError(GraderFault):
    """The slot could not start or stopped answering; the caller falls back to a cold run."""


def warm_path_available() -> bool:
    """The warm path needs bubblewrap and root (it makes namespaces inside the slot)."""
    return iso.running_as_root() and iso.bubblewrap_works()


class Slot:
    def __init__(self, limits: Limits | None = None, capacity: int = 1,
                 abandon: threading.Event | None = None):
        """Start the fork server and wait until it is ready; `abandon` being set stops the wait
        (and the server): the slot is then not made (SlotError) and leaves nothing behind."""
        self.limits = limits or Limits()
        self.lock = threading.Lock()
        self.pending: dict[str, list] = {}  # job -> [event, exit status]
        first_user = iso.job_user()
        self.free_users = [first_user + index for index in range(capacity)]  # one user per job at once
        self.root = Path(tempfile.mkdtemp(prefix="autograder-slot-"))
        self.env = iso.sandbox_env(iso.SANDBOX_HOME, "/tmp", "warm-slot", self.limits.threads)
        command = iso.slot_command(self.root, SLOTS_ROOT, self.limits, self.env)
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        processes.started(self.process)
        self.requests, self.replies = processes.pipes(self.process)
        self.ready = threading.Event()
        self.stopped = False
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.ready.wait(0.2):
            if (abandon is not None and abandon.is_set()) or time.monotonic() > deadline:
                break
        if not self.ready.is_set() or self.stopped:
            self.close()
            raise SlotError("the fork server did not start")

    def _read(self) -> None:
        """Hand each `done JOB STATUS` line to the thread waiting for that job."""
        for raw in self.replies:
            parts = raw.decode("utf-8", "replace").split()
            if parts == ["ready"]:
                self.ready.set()
            elif len(parts) == 3 and parts[0] == "done":
                with self.lock:
                    waiting = self.pending.get(parts[1])
                if waiting is not None:
                    waiting[1] = int(parts[2]) if parts[2].lstrip("-").isdigit() else -1
                    waiting[0].set()
        self.stopped = True
        self.ready.set()
        with self.lock:
            for waiting in self.pending.values():
                waiting[0].set()

    def _send(self, line: str) -> None:
        try:
            with self.lock:
                self.requests.write((line + "\n").encode())
                self.requests.flush()
        except (BrokenPipeError, OSError, ValueError):
            raise SlotError("the fork server has stopped") from None

    def _wait_done(self, job: str, timeout: float) -> int | None:
        with self.lock:
            waiting = self.pending[job]
        if not waiting[0].wait(timeout):
            return None
        if waiting[1] is None:
            raise SlotError("the fork server has stopped")
        return waiting[1]

    def run(self, notebook: dict, data_path, limits: Limits, models_dir, isolation: str = "bubblewrap",
            seed: int = 0) -> RunRecord:
        """Run one notebook in a fresh job of this slot (same contract as run_notebook)."""
        processes.check_not_stopping()
        if self.stopped:
            raise SlotError("the fork server has stopped")
        started = time.monotonic()
        token = secrets.token_hex(12)
        job_dir = self.root / token
        out = job_dir / "out"
        (out / "models").mkdir(parents=True)
        with self.lock:
            user = self.free_users.pop(0)
        os.chown(out / "models", user, user)
        shutil.copyfile(data_path, job_dir / DATA_NAME)
        layout = iso.Layout(iso.BUBBLEWRAP, host_out=out, home=iso.SANDBOX_HOME, out=iso.SANDBOX_OUT,
                            runtime=iso.SANDBOX_RUNTIME, uid=user, gid=user)
        (job_dir / "job.json").write_text(runner_job(notebook, layout, limits, seed, marker=token).to_json())
        inside = f"{SLOTS_ROOT}/{token}"
        with self.lock:
            self.pending[inside] = [threading.Event(), None]
        try:
            self._send(f"run {inside}")
            stopped = supervise(lambda step: self._wait_done(inside, step) is not None,
                                time.monotonic() + limits.timeout_s + EXPORT_GRACE, [out], limits,
                                RunProcesses(user=user))  # every process of a job runs as its user
            if stopped is not None:
                self._send(f"kill {inside}")
                if self._wait_done(inside, 30) is None:
                    raise SlotError("the fork server did not stop a job in time")
            processes.check_not_stopping()
            raw = read_untrusted(out / "runner.jsonl", MAX_CHANNEL_BYTES) or b""
            record = collect(json_lines(raw, MAX_LINE_BYTES), out, Path(models_dir), iso.BUBBLEWRAP, stopped,
                             job_dir, limits)
            record.seconds = round(time.monotonic() - started, 3)
            record.limits = limits.recorded()
            record.warm = True
            return record
        finally:
            with self.lock:
                self.pending.pop(inside, None)
                self.free_users.append(user)
            shutil.rmtree(job_dir, ignore_errors=True)

    def close(self) -> None:
        processes.kill(self.process)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        processes.finished(self.process)
        shutil.rmtree(self.root, ignore_errors=True)
