"""The warm path: the fork server is safe to fork, its jobs are as isolated as cold
sandboxes and from each other. That it records exactly what a cold run records, to the last
probability, is test_determinism's `test_the_warm_batch_agrees_with_a_cold_check_to_the_last_probability`."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.grading.plan import make_plan
from autograder.grading.settings import Request
from autograder.sandbox import Limits
from autograder.sandbox.slots import Slot, warm_path_available
from conftest import ROOT, WAITING

pytestmark = [pytest.mark.slow, WAITING, pytest.mark.skipif(not warm_path_available(),
                                                   reason="the warm path needs bubblewrap and root")]


def plan_for(data_file):
    return make_plan(Request(exercise="keras-dense", data=str(data_file)))


def test_fork_server_has_one_thread_after_its_imports(slot, tmp_path, standin_file):
    """The session's own fork server, after its imports and a job: forking a process with other
    threads would copy locks that no thread of the child can ever release."""
    run(slot, ["x = 1"], standin_file, tmp_path)
    # bubblewrap's processes, then the server, then the jobs it forked: the server is the one
    # Python process whose parent is bubblewrap.
    servers = [p for p in psutil.Process(slot.process.pid).children(recursive=True)
               if p.name() != "bwrap" and p.parent().name() == "bwrap"]
    assert len(servers) == 1, [p.cmdline() for p in servers]
    assert servers[0].num_threads() == 1


def test_preload_refuses_to_serve_with_threads_running():
    probe = ("import threading, time; threading.Thread(target=time.sleep, args=(30,), daemon=True).start(); "
             "from autograder.sandbox import forkserver; forkserver.preload()")
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                               timeout=120, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"})
    assert completed.returncode != 0 and "would not be safe" in completed.stderr


@pytest.fixture(scope="module")
def slot(warm_grader):
    """The session's slot (warm_grader.py), which every batch of this worker uses too: what these
    tests do to it (killed spares, stuck and crashed jobs) must leave it serving the next notebook."""
    warm_grader.workers.slot_ready.wait()
    assert isinstance(warm_grader.workers.slot, Slot), "the session's slot did not start"
    return warm_grader.workers.slot


def run(slot, cells, data_file, tmp_path, **limits):
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    models = tmp_path / f"models-{time.monotonic_ns()}"
    models.mkdir()
    return slot.run(nb, data_file, Limits(**{"timeout_s": 120, **limits}), models)


def printed(record, index):
    return next(c for c in record.cells if c["index"] == index).get("stream_tail", "")


LEAVE_TRACES = """
import os, socket, subprocess, time
open('/tmp/first-secret', 'w').write('x')
open('mine.txt', 'w').write('x')
server = socket.socket(); server.bind(('127.0.0.1', 5555)); server.listen()
subprocess.Popen(['sleep', '9876'], start_new_session=True)
print('uid', os.getuid())
time.sleep(6)
"""

LOOK_AROUND = """
import json, os, socket
seen = {'tmp': os.path.exists('/tmp/first-secret'), 'home': sorted(os.listdir('.')),
        'slots': os.listdir('/run/autograder-slots') if os.path.isdir('/run/autograder-slots') else [],
        'uid': os.getuid(),
        'processes': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}
try:
    socket.create_connection(('127.0.0.1', 5555), timeout=1)
    seen['port'] = True
except OSError:
    seen['port'] = False
print(json.dumps(seen))
"""


def test_jobs_side_by_side_cannot_see_each_other(slot, tmp_path, standin_file):
    records = {}

    def first():
        records["first"] = run(slot, [LEAVE_TRACES], standin_file, tmp_path)

    thread = threading.Thread(target=first)
    thread.start()
    time.sleep(4)  # the first job is running, with its files, port and process in place
    second = run(slot, [LOOK_AROUND], standin_file, tmp_path)
    thread.join()
    seen = json.loads(printed(second, 0).strip().splitlines()[-1])
    first_uid = int(printed(records["first"], 0).split("uid")[1].split()[0])
    assert seen["tmp"] is False and "mine.txt" not in seen["home"] and seen["slots"] == []
    assert seen["port"] is False
    assert seen["uid"] not in (0, first_uid)
    assert max(seen["processes"]) < 100  # its own PID namespace: a handful of its own processes
    time.sleep(0.5)
    assert not [p for p in psutil.process_iter(["cmdline"]) if p.info["cmdline"] == ["sleep", "9876"]]


def test_next_job_after_a_crash_finds_nothing_left(slot, tmp_path, standin_file):
    crashed = run(slot, ["open('/tmp/left-behind', 'w').write('x')", "import os\nos._exit(1)"],
                  standin_file, tmp_path)
    assert crashed.status == "kernel_died"
    after = run(slot, ["import os\nprint(os.path.exists('/tmp/left-behind'), sorted(os.listdir('.')))"],
                standin_file, tmp_path)
    assert after.status == "completed"
    assert printed(after, 0).strip() == "False ['fashion.npz']"


def test_a_stuck_job_is_killed_at_its_limit(slot, tmp_path, standin_file):
    # It sleeps rather than spins: a wall-clock limit must end it all the same, and a spinning
    # cell took its whole limit of CPU from the tests beside it.
    stubborn = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)"
    started = time.monotonic()
    record = run(slot, ["x = 1", stubborn], standin_file, tmp_path, timeout_s=15, cell_timeout_s=6)
    assert record.status == "timeout" and time.monotonic() - started < 15 + 30


def test_kernels_collect_their_garbage_but_not_the_frozen_preload(slot, tmp_path, standin_file):
    # A kernel with collection off would grow without bound on a student's cycles; one whose
    # collections walk TensorFlow's objects ran plots 5x and fit 20% slower than a cold kernel.
    record = run(slot, ["import gc\nprint(gc.isenabled(), gc.get_freeze_count() > 100_000)"],
                 standin_file, tmp_path)
    assert printed(record, 0).strip() == "True True"


def test_kernels_start_without_the_debugger_and_debugpy_still_imports(slot, tmp_path, standin_file):
    # ipykernel's debugger was 0.2 s of every kernel's start; a notebook that imports debugpy
    # itself must still get it.
    record = run(slot, ["import sys\nprint(sys.modules['ipykernel.debugger']._is_debugpy_available)",
                        "import debugpy\nprint(debugpy.__name__)"], standin_file, tmp_path)
    assert printed(record, 0).strip() == "False"
    assert printed(record, 1).strip() == "debugpy"


def kernel_wait(record):
    """The seconds the notebook waited for its kernel (none when a spare's kernel was ready)."""
    return next(r["seconds"] for r in record.runner if r["event"] == "kernel_ready")


def test_a_spare_kernel_is_ready_before_its_notebook_comes(slot, tmp_path, standin_file):
    run(slot, ["x = 1"], standin_file, tmp_path)
    assert len(slot.spares) == slot.capacity  # started for the next notebooks, with these settings
    time.sleep(10)  # time for their kernels to start, even on a busy machine
    record = run(slot, ["import os\nprint(sorted(os.listdir('.')))"], standin_file, tmp_path)
    assert record.status == "completed" and kernel_wait(record) == 0
    assert printed(record, 0).strip() == "['fashion.npz']"  # a spare's home holds its data, nothing else


def test_spares_started_with_other_settings_are_discarded(slot, tmp_path, standin_file):
    run(slot, ["x = 1"], standin_file, tmp_path)
    old = {spare.inside for spare in slot.spares}
    record = run(slot, ["print('ok')"], standin_file, tmp_path, timeout_s=100)
    assert record.status == "completed" and printed(record, 0).strip() == "ok"
    assert {spare.settings[1].timeout_s for spare in slot.spares} == {100}
    assert not old & ({spare.inside for spare in slot.spares} | slot.pending.keys())  # stopped, not kept


@pytest.mark.parametrize("killed", ["kernel", "job"])
def test_a_spare_that_ended_is_not_used(slot, tmp_path, standin_file, killed):
    # A spare whose kernel dies while it waits (killed here; the kernel alone, or the whole
    # job) must not become the next student's "kernel died".
    run(slot, ["x = 1"], standin_file, tmp_path)
    spare = slot.spares[0]
    time.sleep(5)  # its runner (PID 1) and kernel are up, as the job's user
    mine = [p for p in psutil.process_iter(["uids", "ppid"]) if p.info["uids"] and p.info["uids"].real == spare.user]
    pids = {p.pid for p in mine}
    for process in mine:
        if killed == "job" or process.info["ppid"] in pids:  # the kernel is the runner's child
            process.kill()
    deadline = time.monotonic() + 30
    while not slot.pending[spare.inside][0].is_set() and time.monotonic() < deadline:
        time.sleep(0.1)  # the spare ends itself: it looks at its kernel every second
    assert slot.pending[spare.inside][0].is_set()
    record = run(slot, ["print('ok')"], standin_file, tmp_path)
    assert record.status == "completed" and printed(record, 0).strip() == "ok", (record.runner, record.cells)
    assert spare not in slot.spares and spare.inside not in slot.pending


REACH_FOR_THE_CELLS_OVER_FIFO = """\
import os, glob
reached = []
for path in glob.glob('/proc/*/fd/*') + glob.glob('/proc/*/task/*/fd/*'):
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b'x')
        reached.append(path)
    except OSError:
        pass
print('reached', sorted(set(reached)))"""


def test_a_job_says_its_cells_are_over_once_after_the_last_cell_and_no_cell_can_say_it(slot, tmp_path, standin_file):
    said = []

    def cells_over():
        said.append(time.monotonic())

    nb = new_notebook(cells=[new_code_cell(REACH_FOR_THE_CELLS_OVER_FIFO), new_code_cell("import time; time.sleep(3)")])
    models = tmp_path / "models"
    models.mkdir()
    handed = time.monotonic()
    record = slot.run(nb, standin_file, Limits(timeout_s=120), models, on_cells_over=cells_over)
    returned = time.monotonic()
    assert [c["status"] for c in record.cells] == ["ok", "ok"]
    # Whatever the first cell wrote to (its own kernel's pipes), the grader heard nothing before
    # the last cell ended: once, after the 3 s cell, before the job's teardown was over.
    assert len(said) == 1 and handed + 3 <= said[0] <= returned


SPIN_ONCE_THE_KERNEL_IS_GONE = """\
import os, sys
spin = ("import os, time\\n"
        "parent = os.getppid()\\n"
        "while os.getppid() == parent: time.sleep(0.01)\\n"
        "while True: pass")
for _ in range(20):
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, '-c', spin, 'spins-once-the-kernel-is-gone'])"""


def test_no_process_of_a_job_runs_once_it_says_its_cells_are_over(slot, tmp_path, standin_file):
    left = []

    def cells_over():
        left.append([p.pid for p in psutil.process_iter(["cmdline"])
                     if "spins-once-the-kernel-is-gone" in (p.info["cmdline"] or [])])

    nb = new_notebook(cells=[new_code_cell(SPIN_ONCE_THE_KERNEL_IS_GONE), new_code_cell("import time; time.sleep(1)")])
    models = tmp_path / "models"
    models.mkdir()
    record = slot.run(nb, standin_file, Limits(timeout_s=120), models, on_cells_over=cells_over)
    assert [c["status"] for c in record.cells] == ["ok", "ok"]
    # Before, they were still there, waiting for the kernel's end to spin beside the next notebook.
    assert left == [[]]
