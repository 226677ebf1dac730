"""The grader's side of the warm path: a slot, one bubblewrap sandbox running
the fork server (see forkserver.py), shared by every notebook of a batch.

Jobs run side by side in the slot, each in namespaces of its own and as a
user of its own, so one job sees no file, process, socket or signal of
another; TensorFlow's pages, imported once by the server, are shared by all.
`Slot.run` has the same contract as `run_notebook`: it returns a RunRecord
read back, validated and bounded, from the job's own folder.

The slot keeps spares: jobs started before their notebook is known, as many
as it runs at once, so a notebook's kernel has started while the one before
it ran (a third of a second of each notebook's slot time that a busy batch
spent waiting). A spare is started with the same settings as any job and
receives nothing before its notebook: no submission's code or data reaches it
earlier, and it is as isolated from the jobs running beside it as they are
from each other. A spare whose settings no longer match (another data file,
other limits) or that has ended is discarded, never used.

A job says when its notebook's cells and export are over and its other processes gone
(Slot.run's `on_cells_over`), so the caller may hand the next notebook to a spare while this
job's namespaces are torn down and its record read: up to `capacity` jobs may be ending
beside those running.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import select
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import processes
from ..errors import GraderFault
from ..protocol import DATA_NAME
from ..scratch import ScratchFolder
from . import isolation as iso
from .forkserver import SLOTS_ROOT
from .isolation import Limits
from .job import runner_job
from .records import MAX_CHANNEL_BYTES, MAX_LINE_BYTES, RunRecord, collect, json_lines, read_untrusted
from .supervision import EXPORT_GRACE, RunProcesses, supervise

STARTUP_TIMEOUT = 180.0
#: Seconds between looks, while a job runs, at whether it has ended without saying its cells are over.
CELLS_OVER_POLL = 0.5


class SlotError(GraderFault):
    """The slot could not start or stopped answering; the caller falls back to a cold run."""


def once(callback: Callable[[], None] | None) -> Callable[[], None]:
    """`callback`, called at most once however often, and from whichever thread, this is called."""
    lock = threading.Lock()
    called = False

    def call() -> None:
        nonlocal called
        with lock:
            if called or callback is None:
                return
            called = True
        callback()

    return call


def warm_path_available() -> bool:
    """The warm path needs bubblewrap and root (it makes namespaces inside the slot)."""
    return iso.running_as_root() and iso.bubblewrap_works()


@dataclass
class _Job:
    """A job of the slot: its folder, as the grader and as the server see it, its user, the
    grader's end of the FIFO on which it hears that its notebook is there, and the settings
    (data file, limits, seed) it was started with."""

    folder: Path
    inside: str
    user: int
    go: int  # opened read-write and held, so the byte written waits in the FIFO for the job
    settings: tuple
    cells_over: int  # the FIFO on which the job's PID 1 says that its notebook's cells are over


def _settings(data_path, limits: Limits, seed: int) -> tuple:
    """What a job is started with, to match spares to runs: the data file by its content (each
    notebook of a batch has a copy of its own), the limits and the seed."""
    with open(data_path, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    return (digest, limits, seed)


class Slot:
    def __init__(self, limits: Limits | None = None, capacity: int = 1,
                 abandon: threading.Event | None = None):
        """Start the fork server and wait until it is ready; `abandon` being set stops the wait
        (and the server): the slot is then not made (SlotError) and leaves nothing behind."""
        self.limits = limits or Limits()
        self.lock = threading.Lock()
        self.pending: dict[str, list] = {}  # job -> [event, exit status]
        self.capacity = capacity
        self.spares: list[_Job] = []  # started, waiting for a notebook, oldest first
        self.spares_starting = 0
        self.closed = False
        first_user = iso.job_user()
        # One user per job at once: `capacity` running, as many ending, as many spares.
        self.free_users = [first_user + index for index in range(3 * capacity)]
        self.scratch = ScratchFolder("autograder-slot-")
        self.root = self.scratch.path
        self.env = iso.sandbox_env(iso.SANDBOX_HOME, "/tmp", "warm-slot", self.limits.threads)
        command = iso.slot_command(self.root, SLOTS_ROOT, self.limits, self.env)
        try:
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            self.scratch.cleanup()
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
        with self.lock:  # a job registered from here on is refused (see _start), none waits forever
            self.stopped = True
            for waiting in self.pending.values():
                waiting[0].set()
        self.ready.set()

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
            seed: int = 0, on_cells_over: Callable[[], None] | None = None) -> RunRecord:
        """Run one notebook in a fresh job of this slot (same contract as run_notebook): a spare
        started with the same settings if one is ready, else a job started now.

        `on_cells_over` is called once, when the job's PID 1 says the notebook's cells and its
        export are over (or when the job has ended, if it never says so; not when this raises,
        as the caller may then run the notebook elsewhere): the caller may then
        hand the next notebook to another job while this one's namespaces are torn down and
        its record read. PID 1 says it through a FIFO only it holds open (the kernel closes
        every inherited descriptor and cannot reach PID 1's, see runner.confine), after the
        export, once it has killed every other process of the job and seen each one gone:
        what is left of the job then is our teardown, not the student's processes.
        """
        processes.check_not_stopping()
        if self.stopped:
            raise SlotError("the fork server has stopped")
        settings = _settings(data_path, limits, seed)
        spare = self._take_spare(settings)

        def top_up() -> None:
            self._top_up(data_path, limits, seed, settings)

        cells_over = once(on_cells_over)
        record = None
        if spare is not None:
            record = self._run(spare, notebook, limits, models_dir, top_up, cells_over)
            if not any(r.get("event") == "kernel_ready" for r in record.runner):
                # The spare ended without taking its notebook (its kernel died while it waited):
                # nothing of the notebook ran, so a job started now runs it.
                record = None
        if record is None:
            job = self._start(data_path, limits, seed, settings)
            record = self._run(job, notebook, limits, models_dir, top_up, cells_over)
        cells_over()  # a job that never said so has ended by now (after an error, the caller's turn)
        return record

    def _run(self, job: _Job, notebook: dict, limits: Limits, models_dir, top_up: Callable[[], None],
             on_cells_over: Callable[[], None] | None = None) -> RunRecord:
        """Hand the job its notebook, start the spares for the next ones, and supervise the job to its end."""
        try:
            started = time.monotonic()
            self._hand(job, notebook)
            if on_cells_over is not None:
                # A descriptor of the watcher's own: _end closes the job's, whose number may then be reused.
                fifo = os.dup(job.cells_over)
                threading.Thread(target=self._await_cells_over, args=(job, fifo, on_cells_over), daemon=True).start()
            top_up()
            out = job.folder / "out"
            stopped = supervise(lambda step: self._wait_done(job.inside, step) is not None,
                                started + limits.timeout_s + EXPORT_GRACE, [out], limits,
                                RunProcesses(user=job.user))  # every process of a job runs as its user
            if stopped is not None:
                self._send(f"kill {job.inside}")
                if self._wait_done(job.inside, 30) is None:
                    raise SlotError("the fork server did not stop a job in time")
            processes.check_not_stopping()
            raw = read_untrusted(out / "runner.jsonl", MAX_CHANNEL_BYTES) or b""
            record = collect(json_lines(raw, MAX_LINE_BYTES), out, Path(models_dir), iso.BUBBLEWRAP, stopped,
                             job.folder, limits)
            record.seconds = round(time.monotonic() - started, 3)
            record.limits = limits.recorded()
            record.warm = True
            return record
        finally:
            self._end(job)

    def _await_cells_over(self, job: _Job, fifo: int, cells_over: Callable[[], None]) -> None:
        """Call `cells_over` when the job's PID 1 writes to its FIFO (`fifo`, closed here); end,
        without calling it, when the job has ended without writing (the caller calls it then)."""
        try:
            while True:
                readable, _, _ = select.select([fifo], [], [], CELLS_OVER_POLL)
                if readable:
                    cells_over()
                    return
                with self.lock:
                    if self._ended(job):
                        return
        finally:
            os.close(fifo)

    def _start(self, data_path, limits: Limits, seed: int, settings: tuple) -> _Job:
        """Start a job whose notebook comes later (`_hand`): its kernel starts now."""
        with self.lock:
            if self.stopped or self.closed:
                raise SlotError("the fork server has stopped")
            if not self.free_users:
                raise SlotError("the slot has no free user for another job")
            user = self.free_users.pop(0)
        token = secrets.token_hex(12)
        folder = self.root / token
        job = None
        try:
            folder.mkdir()  # not its parent: a slot closed meanwhile has none, and stays gone
            out = folder / "out"
            (out / "models").mkdir(parents=True)
            os.chown(out / "models", user, user)
            shutil.copyfile(data_path, folder / DATA_NAME)
            layout = iso.Layout(iso.BUBBLEWRAP, host_out=out, home=iso.SANDBOX_HOME, out=iso.SANDBOX_OUT,
                                runtime=iso.SANDBOX_RUNTIME, uid=user, gid=user)
            (folder / "job.json").write_text(runner_job(None, layout, limits, seed, marker=token).to_json())
            (folder / "notebook.json").touch(mode=0o600)  # PID 1 opens both as root, before it drops privileges
            os.mkfifo(folder / "go", 0o600)
            os.mkfifo(folder / "cells-over", 0o600)
            job = _Job(folder, f"{SLOTS_ROOT}/{token}", user, os.open(folder / "go", os.O_RDWR | os.O_NONBLOCK),
                       settings, os.open(folder / "cells-over", os.O_RDWR | os.O_NONBLOCK))
            with self.lock:  # checked again: the server may have stopped, or the slot closed, meanwhile
                if self.stopped or self.closed:
                    raise SlotError("the fork server has stopped")
                self.pending[job.inside] = [threading.Event(), None]
        except BaseException:
            with self.lock:
                self.free_users.append(user)  # no process was started for it
            if job is not None:
                os.close(job.go)
                os.close(job.cells_over)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        try:
            self._send(f"run {job.inside}")
        except BaseException:
            self._end(job)
            raise
        return job

    def _hand(self, job: _Job, notebook: dict) -> None:
        """Give a started job its notebook: the file first, then the line that says it is there
        and since when (time.monotonic(); the notebook's time counts from then)."""
        with open(job.folder / "notebook.json", "r+b") as handle:  # the file PID 1 holds open
            handle.write(json.dumps(notebook).encode())
        os.write(job.go, f"{time.monotonic()!r}\n".encode())

    def _ended(self, job: _Job) -> bool:
        """Whether the server said the job ended (the caller holds the lock)."""
        waiting = self.pending.get(job.inside)
        return waiting is None or waiting[0].is_set()

    def _take_spare(self, settings: tuple) -> _Job | None:
        """The oldest running spare started with `settings`; spares that ended or were started with
        other settings are ended and dropped."""
        taken, unusable = None, []
        with self.lock:
            while self.spares and taken is None:
                spare = self.spares.pop(0)
                if spare.settings == settings and not self._ended(spare):
                    taken = spare
                else:
                    unusable.append(spare)
            if taken is not None:
                unusable += [spare for spare in self.spares if spare.settings != settings]
                self.spares = [spare for spare in self.spares if spare.settings == settings]
        for spare in unusable:
            self._end(spare)
        return taken

    def _top_up(self, data_path, limits: Limits, seed: int, settings: tuple) -> None:
        """Start spares with `settings` until there are as many as jobs run at once. A spare that
        cannot start is left out: it is a head start, and the job started for the next notebook
        instead says what is wrong, if anything still is."""
        while True:
            with self.lock:
                if self.closed or len(self.spares) + self.spares_starting >= self.capacity:
                    return
                self.spares_starting += 1
            try:
                spare = self._start(data_path, limits, seed, settings)
            except (OSError, SlotError):
                return
            finally:
                with self.lock:
                    self.spares_starting -= 1
            with self.lock:
                closed = self.closed
                if not closed:
                    self.spares.append(spare)
            if closed:
                self._end(spare)
                return

    def _end(self, job: _Job) -> None:
        """Make sure the job has ended, then free its folder and its user. A job the server did
        not confirm ended keeps its user out of use: a later job of that user would share its
        per-user limits and be charged for its processes."""
        with self.lock:
            if job.inside not in self.pending:
                return  # ended and freed already
            ended = self._ended(job)
        try:
            if not ended:
                self._send(f"kill {job.inside}")
                ended = self._wait_done(job.inside, 30) is not None
        except SlotError:
            ended = True  # the server stopped: its jobs went with it
        with self.lock:
            if self.pending.pop(job.inside, None) is None:
                return
            if ended:
                self.free_users.append(job.user)
        os.close(job.go)
        os.close(job.cells_over)
        shutil.rmtree(job.folder, ignore_errors=True)

    def close(self) -> None:
        """Stop the server, and with it every job and spare."""
        with self.lock:
            self.closed = True  # no spare is started from here on
        processes.kill(self.process)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        processes.finished(self.process)
        with self.lock:
            spares, self.spares = self.spares, []
        for spare in spares:
            os.close(spare.go)
            os.close(spare.cells_over)
        self.scratch.cleanup()
