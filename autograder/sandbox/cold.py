"""The cold path: one notebook in a fresh sandbox, with a fresh runner and kernel.

`run_notebook` prepares a scratch directory with a fresh copy of the data,
starts the runner under the chosen isolation with its job on stdin, enforces
the wall-clock and disk limits from outside, removes every process the
notebook started, and reads back what the run left (see records.py).
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from .. import processes
from ..protocol import DATA_NAME
from ..scratch import ScratchFolder
from . import isolation as iso
from .isolation import Limits
from .job import runner_job
from .records import ChannelReader, RunRecord, collect
from .supervision import EXPORT_GRACE, RunProcesses, supervise


def run_notebook(notebook: dict, data_path: str | os.PathLike, limits: Limits,
                 models_dir: str | os.PathLike, isolation: str = "auto", seed: int = 0) -> RunRecord:
    """Run every cell of `notebook` in a fresh sandboxed kernel and collect what it left.

    Model files are copied into `models_dir`, which the caller owns.
    """
    processes.check_not_stopping()
    chosen = iso.choose(isolation)
    started = time.monotonic()
    folder = ScratchFolder("autograder-run-")
    scratch = folder.path
    marker = secrets.token_hex(16)
    try:
        layout = _prepare(scratch, chosen, Path(data_path))
        tmp = "/tmp" if chosen == iso.BUBBLEWRAP else str(scratch / "tmp")
        env = iso.sandbox_env(layout.home, tmp, marker, limits.threads)
        job = runner_job(notebook, layout, limits, seed, marker)
        data_fd = os.open(data_path, os.O_RDONLY)
        try:
            if chosen == iso.BUBBLEWRAP:
                command = iso.bubblewrap_command(layout, limits, data_fd, DATA_NAME, env)
                process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=None if os.environ.get("AUTOGRADER_DEBUG") else subprocess.DEVNULL,
                                           pass_fds=(data_fd,), start_new_session=True)
            else:
                process = subprocess.Popen(iso.plain_command(), stdin=subprocess.PIPE,
                                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                           cwd=layout.home, env=env, start_new_session=True)
        finally:
            os.close(data_fd)
        processes.started(process)
        try:
            job_pipe, channel = processes.pipes(process)
            reader = ChannelReader(channel)
            reader.start()
            try:
                job_pipe.write(job.to_json().encode())
                job_pipe.close()
            except BrokenPipeError:
                pass
            hard_deadline = max(time.monotonic() + 1.0, started + limits.timeout_s + EXPORT_GRACE)
            # Without bubblewrap the home folder is on the grader's disk too.
            written = [layout.host_out] if chosen == iso.BUBBLEWRAP else [scratch]
            watched = RunProcesses(root=process.pid, user=layout.uid)
            stopped = supervise(lambda step: _exited(process, step), hard_deadline, written, limits, watched)
        finally:  # also on Ctrl-C: the runner leads its own session and would live on
            _stop(process, marker)
            processes.finished(process)
        reader.join(timeout=5)
        processes.check_not_stopping()
        record = collect(reader.records, layout.host_out, Path(models_dir), chosen, stopped, scratch, limits)
        record.seconds = round(time.monotonic() - started, 3)
        record.limits = limits.recorded()
        return record
    finally:
        folder.cleanup()


def _prepare(scratch: Path, isolation: str, data_path: Path) -> iso.Layout:
    """The run's folders, and its user when the grader is root (see isolation.py).

    Without bubblewrap the run's folders are on the host: the run's user owns its home, /tmp
    and runtime folders (0700, so no other run's user can look in), and may pass through the
    scratch folder (0711) but not list it; the probe's folder stays root's but for `models`.
    """
    out = scratch / "out"
    out.mkdir()
    (out / "models").mkdir()  # the only place the kernel saves to; events.jsonl stays the runner's
    if isolation == iso.BUBBLEWRAP:
        layout = iso.Layout(isolation, host_out=out, home=iso.SANDBOX_HOME,
                            out=iso.SANDBOX_OUT, runtime=iso.SANDBOX_RUNTIME)
        owned = [out / "models"]
    else:
        home = scratch / "home"
        owned = [out / "models", home, scratch / "tmp", scratch / "run"]
        for folder in owned[1:]:
            folder.mkdir(mode=0o700)
        shutil.copyfile(data_path, home / DATA_NAME)
        layout = iso.Layout(isolation, host_out=out, home=str(home), out=str(out),
                            runtime=str(scratch / "run"))
    if iso.running_as_root():
        layout.uid = layout.gid = iso.job_user()
        if isolation != iso.BUBBLEWRAP:
            scratch.chmod(0o711)
        for folder in owned:
            os.chown(folder, layout.uid, layout.gid)
    return layout


def _exited(process: subprocess.Popen, seconds: float) -> bool:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


def _stop(process: subprocess.Popen, marker: str) -> None:
    """Kill the runner's whole session and anything else that carries our marker."""
    processes.kill(process)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    _kill_marked(marker)


def _kill_marked(marker: str) -> None:
    """Kill every process carrying this run's marker in its environment (no-namespace mode)."""
    import psutil

    for process in psutil.process_iter(["pid"]):
        try:
            if process.pid != os.getpid() and process.environ().get(iso.MARKER_VARIABLE) == marker:
                process.kill()
        except (psutil.Error, OSError):
            continue
