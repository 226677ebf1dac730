"""The warm path: a fork server that imports TensorFlow once and forks a
fresh, isolated kernel for every submission.

A *slot* is one long-lived bubblewrap sandbox (no network, read-only system
and Python, run as root inside so that it may make namespaces) whose only
process is this server. The server never runs student code. For each job it
forks a child that gets namespaces of its own, nested in the slot's:

    server (root, TensorFlow imported, no threads, no job data)
      └─ job process: new mount, PID, network, IPC and UTS namespaces
           └─ PID 1 of the job: fresh tmpfs home (a new copy of the data) and
              /tmp, the job's own output folder, every other job's folder
              unmounted; drops to an unprivileged user, then forks
                └─ the kernel (PID 2), which runs the student's code

So each submission sees no file and no process of any other, and when its
PID 1 exits the kernel and everything it started die with the namespace.
Fork safety: the server imports but never runs TensorFlow (no eager context,
no thread pools) and checks that it has a single thread before serving;
`preload()` raises if that ever stops being true.

Protocol on the server's stdin/stdout, one line each: `run JOB_DIR` ->
`done JOB_DIR STATUS`; `kill JOB_DIR`. The job (a RunnerJob, see job.py) is
read from JOB_DIR/job.json by the job process after the fork, so no job's
notebook is ever in the server's memory for a later job to inherit.

A job may start before its notebook is known (a *spare*, see slots.py): its
job.json has no notebook, and its kernel starts while the grader's other jobs
run. When the grader has the notebook, it writes it into JOB_DIR/notebook.json
and then a line to the FIFO JOB_DIR/go; PID 1 opened both, as root, before it
dropped privileges and unmounted every job's folder, and its kernel inherits
neither.

The runner drives the kernel as on the cold path, through nbclient; since the
kernel is already running (forked by PID 1, not started from a kernel spec),
`adopt_kernel` gives nbclient a kernel manager that adopts it.
"""
from __future__ import annotations

import asyncio
import ctypes
import gc
import importlib
import os
import select
import shutil
import signal
import sys
from typing import TYPE_CHECKING

# Brings up `lo` in each job's new network namespace: the kernel talks to its runner on it.
from .isolation import loopback_up

if TYPE_CHECKING:
    from jupyter_client.connect import KernelConnectionInfo

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
SLOTS_ROOT = "/run/autograder-slots"

_libc = ctypes.CDLL(None, use_errno=True)
# The server's environment as the slot started it (isolation.sandbox_env), before its imports:
# each job starts from it, with its own marker.
_slot_environment: dict[str, str] = {}


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {target}")


def unmount(target: str) -> None:
    _check(_libc.umount2(target.encode(), MNT_DETACH), f"umount {target}")


def fresh_tmp(size: int, python_paths: list[str]) -> None:
    """A new, empty /tmp for this job, keeping the read-only Python folders that live under it."""
    from .isolation import SANDBOX_OLD_TMP

    keep = [p for p in python_paths if p.startswith("/tmp/")]
    if keep:
        mount("/tmp", SANDBOX_OLD_TMP, None, MS_BIND | MS_REC)
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=1777")
    for path in keep:
        os.makedirs(path, exist_ok=True)
        mount(SANDBOX_OLD_TMP + path[len("/tmp"):], path, None, MS_BIND | MS_REC)
        mount("none", path, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    if keep:
        unmount(SANDBOX_OLD_TMP)


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


#: What every job needs, imported once by the server, in this order.
PRELOADED = ("numpy", "tensorflow", "keras", "h5py", "ipykernel.ipkernel", "ipykernel.kernelapp", "jupyter_client",
             "jupyter_client.connect", "nbclient", "nbformat", "zmq",
             # What lesson notebooks import besides Keras: plotting, with the kernel's inline backend.
             "matplotlib.pyplot", "matplotlib_inline.backend_inline",
             "autograder.sandbox.kernel", "autograder.sandbox.probe", "autograder.sandbox.runner")


def preload() -> None:
    """Import everything a job needs, and prove that nothing started a thread."""
    for name in PRELOADED:
        importlib.import_module(name)
    if thread_count() != 1:
        raise RuntimeError(f"the fork server has {thread_count()} threads after its imports; forking it "
                           "would not be safe")


# --- the job process and its PID 1 -----------------------------------------

def _job(job_dir: str, server_fds: tuple[int, ...]) -> None:
    """In the forked job process: new namespaces, then PID 1 runs the job. `server_fds` are
    the server's own descriptors (its wake-up pipe), closed first."""
    gc.enable()  # the job's processes collect their own garbage, never the frozen preload
    signal.set_wakeup_fd(-1)  # the server's wake-up pipe and SIGCHLD handler are not the job's
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in server_fds:
        os.close(fd)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)  # the server's protocol pipes are not the job's
    unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)
    pid = os.fork()  # the first child in the new PID namespace is its PID 1
    if pid == 0:
        try:
            _pid1(job_dir)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _pid1(job_dir: str) -> None:
    from . import kernel, runner
    from .job import read_job

    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the job process dies: so does this namespace
    with open(os.path.join(job_dir, "job.json"), "rb") as handle:
        job = read_job(handle)
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    fresh_tmp(job.tmp_bytes, job.python_paths)
    mount("tmpfs", job.home, "tmpfs", MS_NOSUID | MS_NODEV, f"size={job.home_bytes},mode=0777")
    shutil.copyfile(os.path.join(job_dir, job.data_name), job.data_path)  # a fresh copy for this job
    os.chmod(job.data_path, 0o644)
    mount(os.path.join(job_dir, "out"), job.probe_dir, None, MS_BIND)
    delivery = None if job.notebook is not None else NotebookDelivery(job_dir)
    unmount(SLOTS_ROOT)  # no other job's folder is reachable from here on
    _libc.sethostname(b"sandbox", 7)
    loopback_up()

    os.environ.clear()
    os.environ.update(_slot_environment)
    channel, events_fd = runner.prepare(job, os.path.join(job.probe_dir, "runner.jsonl"))
    from jupyter_client.connect import write_connection_file

    connection_file, info = write_connection_file(
        os.path.join(job.runtime_dir, "kernel.json"), ip="127.0.0.1", transport="tcp")
    kernel_pid = os.fork()
    if kernel_pid == 0:  # PID 2: the kernel
        try:
            keep = {0, 1, 2, events_fd}
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            for fd in map(int, os.listdir("/proc/self/fd")):
                if fd not in keep:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
            kernel.serve(os.path.join(job.probe_dir, "models"), events_fd, job.data_path, job.seed,
                         job.threads, ["-f", connection_file, "--HistoryManager.enabled=False"])
        finally:
            os._exit(0)
    os.close(events_fd)
    # The kernel runs as our user and could interrupt us as it may itself (a Python process
    # handles SIGINT); ignored from here on, after the fork, so the kernel still handles it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    runner.run_job(job, channel, adopt_kernel(kernel_pid, info, connection_file), delivery)
    runner.kill_descendants()
    try:
        os.kill(-1, signal.SIGKILL)  # as PID 1: every other process of this namespace
    except ProcessLookupError:
        pass


def end_every_other_process() -> None:
    """As the job's PID 1: kill every other process of its PID namespace, and wait until all
    are gone (each is our child or, orphaned, becomes ours). Killed again each round, so that
    a process forked while the first signal was sent ends too."""
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


class NotebookDelivery:
    """How a spare job's PID 1 gets its notebook: the FIFO JOB_DIR/go, on which the grader writes
    a line (time.monotonic() when it handed the notebook over) once the notebook is in
    JOB_DIR/notebook.json; and how it says that the notebook's cells are over: a byte on the
    FIFO JOB_DIR/cells-over (see Slot.run). All are opened as root before PID 1 unmounts the
    jobs' folders and drops privileges; the kernel, forked later, closes them (see _pid1)."""

    def __init__(self, job_dir: str):
        self.notebook = open(os.path.join(job_dir, "notebook.json"), "rb")  # closed by read()
        self.go = os.open(os.path.join(job_dir, "go"), os.O_RDONLY | os.O_NONBLOCK)
        self.over: int | None = os.open(os.path.join(job_dir, "cells-over"), os.O_WRONLY | os.O_NONBLOCK)

    def cells_over(self) -> None:
        """End every other process of the job, then say, once, that the notebook's cells and its
        export are over: the next notebook's cells start then, and no process of this one may
        run beside them (a kernel's children could spin once it is gone, and tearing down
        hundreds of them takes seconds)."""
        if self.over is None:
            return
        end_every_other_process()
        try:
            os.write(self.over, b"x")
        except OSError:
            pass  # the grader has gone; it learns that the job ended from the server
        finally:
            os.close(self.over)
            self.over = None

    def fileno(self) -> int:
        """Readable once the notebook is there (for select or an event loop)."""
        return self.go

    def read(self) -> tuple[dict, float]:
        """The notebook and when it was handed over; JobError if the grader sent no notebook."""
        from .job import JobError, read_notebook

        try:
            line = os.read(self.go, 64)
            if not line.endswith(b"\n"):
                raise JobError("no notebook came")
            return read_notebook(self.notebook), float(line)
        finally:
            os.close(self.go)
            self.notebook.close()


# --- the kernel, adopted ----------------------------------------------------

def adopt_kernel(pid: int, info: KernelConnectionInfo, connection_file: str):
    """A kernel-starting step for the warm path: the kernel is already running (forked by
    PID 1); give nbclient a kernel manager that drives it through a provisioner of its own."""

    async def start(client) -> None:
        from jupyter_client import AsyncKernelManager
        from jupyter_client.kernelspec import KernelSpec

        from . import runner

        manager = AsyncKernelManager(kernel_name=runner.KERNEL_NAME)
        manager._kernel_spec = KernelSpec(argv=[], display_name="Python 3 (autograder)", language="python",
                                          interrupt_mode="signal")
        manager.load_connection_info(info)
        manager.connection_file = connection_file
        manager.provisioner = adopted_provisioner(pid, info, manager)
        manager._connect_control_socket()
        client.km = manager

    return start


def adopted_provisioner(pid: int, info: KernelConnectionInfo, manager):
    """A jupyter_client provisioner for a kernel that is our own child process."""
    from jupyter_client.provisioning import KernelProvisionerBase

    class AdoptedProvisioner(KernelProvisionerBase):
        exit_code: int | None = None

        @property
        def has_process(self) -> bool:
            return self.exit_code is None

        async def poll(self) -> int | None:
            if self.exit_code is None:
                try:
                    reaped, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    reaped, status = pid, 0
                if reaped:
                    self.exit_code = os.waitstatus_to_exitcode(status)
            return self.exit_code

        async def wait(self) -> int | None:
            while await self.poll() is None:
                await asyncio.sleep(0.05)
            return self.exit_code

        async def send_signal(self, signum: int) -> None:
            if self.exit_code is None:
                try:
                    os.kill(pid, signum)
                except ProcessLookupError:
                    pass

        async def kill(self, restart: bool = False) -> None:
            await self.send_signal(signal.SIGKILL)
            # Reaped here within milliseconds, it is found gone at once; jupyter_client would look
            # again only after 0.1 s, which every notebook's teardown spent idle.
            for _ in range(250):
                if await self.poll() is not None:
                    return
                await asyncio.sleep(0.002)

        async def terminate(self, restart: bool = False) -> None:
            await self.send_signal(signal.SIGTERM)

        async def launch_kernel(self, cmd, **kwargs):
            return info

        async def cleanup(self, restart: bool = False) -> None:
            pass

    return AdoptedProvisioner(kernel_id="adopted", kernel_spec=manager._kernel_spec, connection_info=info,
                              parent=manager)


# --- the server ------------------------------------------------------------

def serve() -> None:
    _slot_environment.update(os.environ)
    # CPython's advice for a server that forks without exec: no collections while loading,
    # then freeze what was loaded. Otherwise every kernel's collections walk the millions
    # of objects TensorFlow and matplotlib left in the server (measured: a 6-panel plot took
    # 0.29 s in a forked kernel against 0.06 s in a fresh one, and fit about 20% longer),
    # and writing their gc headers copies the pages the kernels would share.
    gc.disable()
    preload()
    gc.freeze()
    # A job that ends wakes the loop at once (its SIGCHLD writes a byte to `wake`), so the
    # grader hears "done" when the job ends, not at the loop's next look at its children
    # (0.05 s later on average, with a slot of the batch idle meanwhile).
    wake, wake_write = os.pipe()
    os.set_blocking(wake, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    jobs: dict[int, str] = {}
    out = sys.stdout
    print("ready", file=out, flush=True)
    buffer = b""
    while True:
        readable, _, _ = select.select([sys.stdin.buffer, wake], [], [], 1.0)
        if wake in readable:
            try:
                os.read(wake, 4096)
            except BlockingIOError:
                pass
        if sys.stdin.buffer in readable:
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                break  # the grader has gone
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                command, _, job_dir = line.decode().partition(" ")
                if command == "run":
                    pid = os.fork()
                    if pid == 0:
                        try:
                            _job(job_dir, (wake, wake_write))
                        finally:
                            os._exit(70)
                    jobs[pid] = job_dir
                elif command == "kill":
                    for pid, directory in list(jobs.items()):
                        if directory == job_dir:
                            os.kill(pid, signal.SIGKILL)
        while jobs:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            ended = jobs.pop(pid, None)
            if ended is not None:
                print(f"done {ended} {os.waitstatus_to_exitcode(status)}", file=out, flush=True)
    for pid in jobs:
        os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    serve()
