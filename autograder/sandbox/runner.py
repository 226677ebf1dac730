"""Drives one notebook through nbclient, inside the sandbox.

Cold path: started by the grader (`python -m autograder.sandbox.runner`) with
its job (a RunnerJob, see job.py) on stdin. Warm path: the fork server's job
process calls `prepare` and `run_job` itself (see forkserver.py). Either way
the runner drops privileges, applies the resource limits, has a kernel with
the probe, runs every code cell (going on after errors), asks the probe to
export, and reports each cell as a JSON line on a private channel that the
kernel cannot write to. The grader reads that channel as untrusted data.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import sys
import time
from queue import Empty

from ..protocol import ANSI_ESCAPE
from . import kernel
from .isolation import MARKER_VARIABLE, become_user, loopback_up
from .job import JobError, RunnerJob, read_job

KERNEL_NAME = "autograder-python"
EXPORT_TIMEOUT = 10.0
INTERRUPT_GRACE = 3.0
TEXT_TAIL = 4000


class Channel:
    """JSON lines to the grader on a descriptor the kernel does not inherit."""

    def __init__(self, fd: int):
        self.fd = fd

    def send(self, event: str, **fields) -> bool:
        """Whether the line was written whole."""
        fields["event"] = event
        data = (json.dumps(fields, default=str) + "\n").encode("utf-8", "replace")
        while data:
            try:
                written = os.write(self.fd, data)
            except OSError:
                return False  # the grader has gone, or its disk is full; nothing more to say
            data = data[written:]
        return True


def private_channel(log_path: str, channel_path: str | None = None) -> Channel:
    """Keep the channel to the grader for ourselves; the kernel's stdout and stderr go to a log.

    The channel is our stdout (cold path) or a file opened before privileges are
    dropped (warm path); either way the kernel does not inherit it.
    """
    if channel_path is None:
        fd = os.dup(1)
    else:
        fd = os.open(channel_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    os.set_inheritable(fd, False)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    return Channel(fd)


def _prctl(option: int, value: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def confine(job: RunnerJob) -> None:
    """Become the sandbox user and apply the limits; everything started later inherits them."""
    uid, gid = job.uid, job.gid
    if uid is not None and gid is not None and os.geteuid() == 0:
        become_user(uid, gid, [*job.python_paths, job.home, job.probe_dir, job.runtime_dir])
    # Not dumpable: the kernel, same user or not, cannot ptrace this process
    # or open its descriptors through /proc.
    _prctl(PR_SET_DUMPABLE, 0)
    # Orphans of the kernel's children become ours, so none outlives the run.
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    for name, value in job.rlimits.items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass


def write_kernel_spec(runtime_dir: str) -> None:
    spec_dir = os.path.join(runtime_dir, "data", "kernels", KERNEL_NAME)
    os.makedirs(spec_dir, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-m", "autograder.sandbox.kernel", "-f", "{connection_file}",
                 "--HistoryManager.enabled=False"],
        "display_name": "Python 3 (autograder)",
        "language": "python",
        "interrupt_mode": "signal",
    }
    with open(os.path.join(spec_dir, "kernel.json"), "w") as handle:
        json.dump(spec, handle)
    # Only our spec and no user configuration: the notebook's own kernelspec
    # (a conda env, R, ...) is never used.
    os.environ["JUPYTER_PATH"] = os.path.join(runtime_dir, "data")
    os.environ["JUPYTER_DATA_DIR"] = os.path.join(runtime_dir, "data")
    os.environ["JUPYTER_CONFIG_DIR"] = os.path.join(runtime_dir, "config")
    os.environ["JUPYTER_RUNTIME_DIR"] = os.path.join(runtime_dir, "runtime")
    os.environ["IPYTHONDIR"] = os.path.join(runtime_dir, "ipython")


def error_line(traceback_lines: list[str], execution_count) -> int | None:
    """The line of this cell that raised, from IPython's 'Cell In[n], line k' frames."""
    line = None
    for text in traceback_lines:
        for match in re.finditer(r"Cell In\s*\[(\d+)\], line (\d+)", ANSI_ESCAPE.sub("", text)):
            if execution_count is None or int(match.group(1)) == execution_count:
                line = int(match.group(2))
    return line


def make_client_class():
    from nbclient import NotebookClient

    class SandboxClient(NotebookClient):
        """nbclient with an output cap: past it, outputs are dropped, not stored."""

        output_cap: int  # bytes, set from the job
        cell_output_cap: int

        def reset_execution_trackers(self):
            super().reset_execution_trackers()
            self.output_bytes = 0
            self.cell_bytes: dict[int, int] = {}
            self.truncated: set[int] = set()
            self.replies: dict[int, dict] = {}

        def output(self, outs, msg, display_id, cell_index):
            size = len(json.dumps(msg.get("content", {}), default=str))
            self.output_bytes += size
            self.cell_bytes[cell_index] = self.cell_bytes.get(cell_index, 0) + size
            if self.output_bytes > self.output_cap or self.cell_bytes[cell_index] > self.cell_output_cap:
                if cell_index not in self.truncated:
                    self.truncated.add(cell_index)
                    from nbformat.v4 import new_output

                    outs.append(new_output("stream", name="stderr",
                                           text="\n[output truncated by the grader]\n"))
                return None
            return super().output(outs, msg, display_id, cell_index)

        async def async_start_new_kernel_client(self):
            # jupyter_client's wait_for_ready ends by draining IOPub until it has been quiet
            # for 0.2 s, idle time on every notebook. nbclient matches IOPub messages to the
            # request that caused them, so a stale one cannot land in a cell; wait for the
            # kernel_info reply and proof that IOPub is connected, no longer.
            if self.km is None:  # nbclient sets it before asking for a client
                raise RuntimeError("no kernel manager to make a client from")
            self.kc = self.km.client()
            try:
                self.kc.start_channels()
                await wait_for_ready(self.kc, self.startup_timeout)
            except Exception:
                await self._async_cleanup_kernel()
                raise
            self.kc.allow_stdin = False
            return self.kc

    return SandboxClient


async def wait_for_ready(kc, timeout: float) -> None:
    """The kernel answers kernel_info, and its IOPub messages reach us (ZeroMQ drops what a
    subscriber sends before it is connected, so wait for the request's status message)."""
    deadline = time.monotonic() + timeout
    while True:
        kc.kernel_info()
        try:
            reply = await kc.shell_channel.get_msg(timeout=1)
        except Empty:
            reply = None
        if reply is not None and reply["msg_type"] == "kernel_info_reply":
            try:
                await kc.iopub_channel.get_msg(timeout=0.2)
                kc._handle_kernel_info_reply(reply)  # as jupyter_client does: protocol version
                return
            except Empty:
                pass  # IOPub not connected yet: ask again
        if not await kc.is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")


def cell_record(index: int, cell, status: str, reply: dict | None, seconds: float,
                truncated: bool) -> dict:
    content = (reply or {}).get("content", {})
    record = {"index": index, "status": status, "seconds": round(seconds, 3),
              "execution_count": content.get("execution_count"), "truncated": truncated}
    if status == "ok" and content.get("status") == "error":
        record["status"] = "error"
    if record["status"] == "error" and content:
        traceback = [ANSI_ESCAPE.sub("", line) for line in content.get("traceback", [])][:200]
        record["error"] = {
            "ename": str(content.get("ename", ""))[:200],
            "evalue": str(content.get("evalue", ""))[:2000],
            "line": error_line(content.get("traceback", []), content.get("execution_count")),
            "traceback": "\n".join(traceback)[-TEXT_TAIL * 2:],
        }
    streams = [out.get("text", "") for out in cell.get("outputs", []) if out.get("output_type") == "stream"]
    text = "".join(streams)
    if text:
        record["stream_tail"] = ANSI_ESCAPE.sub("", text[-TEXT_TAIL:])
    return record


async def run_code(client, code: str, timeout: float) -> dict | None:
    """Run code outside the notebook's history; its reply, or None if none came in time."""
    msg_id = client.kc.execute(code, silent=True, store_history=False)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            msg = await client.kc.shell_channel.get_msg(timeout=left)
        except Empty:
            return None
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg.get("content", {})
    return None


async def launch_kernel(client, job: RunnerJob, events_fd: int) -> None:
    """Start a fresh kernel process from our kernel spec (the cold path)."""
    client.km = client.create_kernel_manager()
    await client.async_start_new_kernel(cwd=job.home, pass_fds=(events_fd,))


async def execute(job: RunnerJob, channel: Channel, start_kernel, delivery=None) -> str:
    """Run every code cell; `start_kernel(client)` gives the client its kernel manager and kernel.

    The notebook is the job's own, or, for a job started before its notebook was known (the warm
    path's spare jobs), what `delivery` (a forkserver.NotebookDelivery) brings once the kernel is
    ready. The notebook's time limit counts from the moment the grader handed it over, or from
    the job's start if that was later. A spare whose kernel ends before the notebook comes ends
    without a `kernel_ready` report, which tells the grader that nothing of the notebook ran.
    """
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    began = time.monotonic()
    cell_timeout = job.cell_timeout_s
    client_class = make_client_class()
    client_class.output_cap = job.output_bytes
    client_class.cell_output_cap = job.cell_output_bytes
    state = {"timeout": cell_timeout}
    client = client_class(
        nbformat.v4.new_notebook(), kernel_name=KERNEL_NAME, allow_errors=True,
        timeout_func=lambda cell: state["timeout"],
        startup_timeout=max(10, min(120, int(job.timeout_s))), iopub_timeout=4,
        record_timing=False, interrupt_on_timeout=False, shutdown_kernel="immediate",
        store_widget_state=False, coalesce_streams=True,
    )

    async def on_executed(cell, cell_index, execute_reply):
        client.replies[cell_index] = execute_reply

    client.on_cell_executed = on_executed
    status = "completed"
    try:
        client.reset_execution_trackers()
        await start_kernel(client)
        await client.async_start_new_kernel_client()
    except Exception as error:  # noqa: BLE001 - any failure here is reported, not raised
        channel.send("kernel_failed", error=f"{type(error).__name__}: {error}"[:2000])
        return "kernel_died"
    ready = time.monotonic()
    taken = False  # a spare's notebook, once delivered
    try:
        if delivery is None:
            notebook, started = job.notebook, began
        else:
            # The kernel is looked at again once the notebook is read: it may have died just before.
            if not (await notebook_while_kernel_lives(client, delivery)
                    and (delivered := delivery.read()) and await client.km.is_alive()):
                channel.send("kernel_failed", error="the kernel ended before its notebook came")
                return "kernel_died"
            notebook, handed = delivered
            started = min(max(handed, began), time.monotonic())
            taken = True
        nb = client.nb = nbformat.from_dict(notebook)
        deadline = started + job.timeout_s
        # The seconds the notebook waited for its kernel: none when the kernel was ready before it came.
        if not channel.send("kernel_ready", seconds=round(max(ready - started, 0.0), 3)):
            # Without this line the grader counts the notebook as never started and runs it
            # again elsewhere: no cell may run here then.
            return "error"
        alive = True
        for index, cell in enumerate(nb.cells):
            if cell.get("cell_type") != "code":
                continue
            if not cell.source.strip():
                channel.send("cell", index=index, status="empty")
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not alive:
                channel.send("cell", index=index, status="not_run")
                continue
            state["timeout"] = max(1, int(min(cell_timeout, remaining) + 0.999))
            began = time.monotonic()
            try:
                await client.async_execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
                record = cell_record(index, cell, "ok", client.replies.get(index),
                                     time.monotonic() - began, index in client.truncated)
            except CellTimeoutError:
                status = "timeout"
                record = cell_record(index, cell, "timeout", None, time.monotonic() - began,
                                     index in client.truncated)
                record["limit"] = state["timeout"]
                record["notebook_limit_reached"] = time.monotonic() >= deadline - 0.5
                await client.km.interrupt_kernel()
                alive = await run_code(client, "", INTERRUPT_GRACE) is not None
                record["interrupted"] = alive
            except DeadKernelError:
                status = "kernel_died"
                record = cell_record(index, cell, "died", None, time.monotonic() - began,
                                     index in client.truncated)
                alive = False
            channel.send("cell", **record)
        if alive and await client.kc.is_alive():
            reply = await run_code(
                client, "import autograder.sandbox.probe as _autograder_probe\n"
                        "_autograder_probe.export()\ndel _autograder_probe", EXPORT_TIMEOUT)
            if reply is None:
                channel.send("export", ok=False, error="the kernel did not answer in time")
            else:
                channel.send("export", ok=reply.get("status") == "ok",
                             error=f"{reply.get('ename', '')}: {reply.get('evalue', '')}"[:500]
                             if reply.get("status") != "ok" else None)
    finally:
        if taken:
            # Every other process of the job is killed and gone first; the grader may then hand
            # the next notebook to another job: what is left here is our own teardown.
            delivery.cells_over()
        try:
            await client._async_cleanup_kernel()
        except Exception:  # noqa: BLE001 - a kernel that will not stop is killed below
            pass
        kill_descendants()
    return status


#: Seconds a spare waits for its notebook before it ends (the grader sends it, or ends the spare, long before).
SPARE_WAIT_S = 6 * 3600.0


async def notebook_while_kernel_lives(client, delivery) -> bool:
    """Wait until the notebook is there (True), looking every second that the kernel still lives."""
    loop = asyncio.get_running_loop()
    arrived = asyncio.Event()
    loop.add_reader(delivery.fileno(), arrived.set)
    deadline = time.monotonic() + SPARE_WAIT_S
    try:
        while not arrived.is_set():
            try:
                await asyncio.wait_for(arrived.wait(), 1.0)
            except TimeoutError:
                if not await client.km.is_alive() or time.monotonic() > deadline:
                    return False
        return True
    finally:
        loop.remove_reader(delivery.fileno())


def kill_descendants() -> None:
    """No process the notebook started may outlive it."""
    try:
        import psutil

        for child in psutil.Process().children(recursive=True):
            try:
                child.kill()
            except psutil.Error:
                pass
    except Exception:  # noqa: BLE001
        pass


def open_events(probe_dir: str) -> int:
    """The probe's event log, opened before privileges are dropped.

    When the grader runs as root, the file and its folder belong to root: the
    kernel writes through the descriptor it inherits, but student code cannot
    open, replace or delete the file by its name.
    """
    fd = os.open(os.path.join(probe_dir, "events.jsonl"),
                 os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o644)
    os.set_inheritable(fd, False)
    return fd


def prepare(job: RunnerJob, channel_path: str | None = None) -> tuple[Channel, int]:
    """Everything before the kernel, the same on both paths: the channel to the grader (see
    private_channel), the probe's event log, the user and limits, the kernel spec, the home folder.

    Returns the channel and the event log's descriptor, for the kernel to inherit.
    """
    channel = private_channel(os.path.join(job.probe_dir, "kernel.log"), channel_path)
    events_fd = open_events(job.probe_dir)
    # In a network namespace of the run's own (unshare --net, without bubblewrap) the loopback
    # the kernel's channels use starts down; bringing it up needs the privileges confine drops.
    try:
        loopback_up()
    except OSError as error:  # the kernel cannot start then: say why, and let it fail as it will
        channel.send("runner_error", error=f"the run's loopback interface could not be brought up: {error}")
    confine(job)
    os.environ[MARKER_VARIABLE] = job.marker
    os.makedirs(job.runtime_dir, exist_ok=True)
    write_kernel_spec(job.runtime_dir)
    os.chdir(job.home)
    return channel, events_fd


def main() -> None:
    try:
        job = read_job(sys.stdin.buffer)
    except JobError as error:  # said on the channel; no "done" follows, so the grader counts a dead run
        Channel(1).send("runner_error", error=f"the runner's job: {error}"[:2000])
        raise SystemExit(2) from None
    channel, events_fd = prepare(job)
    # The kernel is a process of its own here: it reads its settings from the environment (see kernel.main).
    os.environ.update(kernel.launch_environment(os.path.join(job.probe_dir, "models"), events_fd, job.data_path,
                                                job.seed, job.threads))
    run_job(job, channel, lambda client: launch_kernel(client, job, events_fd))


def run_job(job: RunnerJob, channel: Channel, start_kernel, delivery=None) -> None:
    """Execute the job's notebook (see `execute`) and report how it ended; the same on both paths."""
    channel.send("started", pid=os.getpid())
    try:
        status = asyncio.run(execute(job, channel, start_kernel, delivery))
    except Exception as error:  # noqa: BLE001 - reported to the grader as a failed run
        channel.send("runner_error", error=f"{type(error).__name__}: {error}"[:2000])
        status = "error"
    channel.send("done", status=status)


if __name__ == "__main__":
    main()
