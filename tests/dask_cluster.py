"""A Dask cluster on this machine for the tests and benchmarks: a `dask scheduler` and named
single-threaded `dask worker`s (with their nannies), all bound to 127.0.0.1 so that nothing
beyond this machine can join, each in a session of its own so that a test can SIGKILL one
(nanny and worker) as a failing machine would."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / "dask"


class LocalCluster:
    """A scheduler and named workers, each in a session of its own, on 127.0.0.1 only."""

    def __init__(self, folder: Path, preload: Path | None = None, config: dict[str, str] | None = None):
        """`config`: Dask settings as DASK_* environment variables, for every process."""
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.preload = ["--preload", str(preload)] if preload is not None else []
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(config or {})}
        scheduler_file = folder / "scheduler.json"
        self.scheduler = subprocess.Popen(
            [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(scheduler_file)], cwd=folder, env=self.env, start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.workers: dict[str, subprocess.Popen] = {}
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        time.sleep(0.5)  # the file is written whole, but give the writer a moment
        self.scheduler_file = scheduler_file
        self.address = json.loads(scheduler_file.read_text())["address"]

    def start_worker(self, name: str, loopback: bool = True) -> None:
        """A worker (and its nanny) listening on 127.0.0.1 only; `loopback=False`: on every
        interface, `dask worker`'s default, which `grade` refuses (anyone could reach it)."""
        # Its own folder as working directory: a worker reads nothing of the grading machine's.
        host = ["--host", "127.0.0.1"] if loopback else []
        home = self.folder / name
        home.mkdir(exist_ok=True)
        self.workers[name] = subprocess.Popen(
            [str(DASK), "worker", "--scheduler-file", str(self.scheduler_file), "--nworkers", "1",
             "--nthreads", "1", "--name", name, "--no-dashboard", "--local-directory", str(home),
             "--death-timeout", "60", *host, *self.preload],
            cwd=home, env=self.env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=120)

    def grading_processes(self, name: str) -> list[psutil.Process]:
        """The sandboxes (bubblewrap) and evaluators a worker is running."""
        found = []
        for process in psutil.Process(self.workers[name].pid).children(recursive=True):
            try:
                if process.name() == "bwrap" or "autograder.grading.evaluation" in process.cmdline():
                    found.append(process)
            except psutil.NoSuchProcess:
                pass
        return found

    def kill_worker(self, name: str) -> None:
        """SIGKILL the worker and its nanny (their process group), as a machine that fails."""
        process = self.workers.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def close(self) -> None:
        for process in [*self.workers.values(), self.scheduler]:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait()
