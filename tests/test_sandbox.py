"""The sandbox's guarantees, checked from inside real notebooks in real kernels."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.sandbox import Limits, isolation, run_notebook
from conftest import WAITING

pytestmark = pytest.mark.slow
MODES = ["bubblewrap", "rlimits"]


def run(cells, data_file, tmp_path, mode, **limits):
    if mode == "bubblewrap" and not isolation.bubblewrap_works():
        pytest.skip("bubblewrap is not available here")
    nb = new_notebook(cells=[new_code_cell(c) for c in cells])
    models = tmp_path / "models"
    models.mkdir(exist_ok=True)
    return run_notebook(nb, data_file, Limits(**{"timeout_s": 120, **limits}), models, isolation=mode)


def printed(record, index):
    cell = next(c for c in record.cells if c["index"] == index)
    return cell.get("stream_tail", "")


PROBE_ENVIRONMENT = """
import json, os, socket
facts = {"uid": os.getuid(), "cwd": os.getcwd(), "home_files": sorted(os.listdir('.'))}
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    facts["network"] = True
except OSError as error:
    facts["network"] = False
facts["sees_grader_files"] = os.path.exists(GRADER_FILE)
writable = {}
for place in ('/usr/autograder-probe', '/etc/autograder-probe', 'home-file', '/tmp/tmp-file'):
    try:
        with open(place, 'w') as handle:
            handle.write('x')
        writable[place] = True
    except OSError:
        writable[place] = False
facts["writable"] = writable
facts["host_tmp_visible"] = os.path.exists(HOST_TMP_FILE)
print(json.dumps(facts))
"""


def test_bubblewrap_confines_the_notebook(tmp_path, standin_file):
    secret = tmp_path / "grader-secret.txt"
    secret.write_text("hidden")
    host_tmp = Path("/tmp") / f"autograder-host-{time.monotonic_ns()}"
    host_tmp.write_text("x")
    try:
        source = f"GRADER_FILE = {str(secret)!r}\nHOST_TMP_FILE = {str(host_tmp)!r}\n" + PROBE_ENVIRONMENT
        record = run([source], standin_file, tmp_path, "bubblewrap")
    finally:
        host_tmp.unlink()
    facts = json.loads(printed(record, 0).strip().splitlines()[-1])
    assert record.isolation == "bubblewrap" and record.status == "completed"
    assert facts["network"] is False
    assert facts["sees_grader_files"] is False and facts["host_tmp_visible"] is False
    assert facts["cwd"] == "/home/student" and "fashion.npz" in facts["home_files"]
    assert facts["writable"] == {"/usr/autograder-probe": False, "/etc/autograder-probe": False,
                                 "home-file": True, "/tmp/tmp-file": True}
    if psutil.Process().uids().effective == 0:
        assert facts["uid"] != 0  # root drops to an unprivileged user


LEAVE_PROCESSES = """
import subprocess, os, sys
subprocess.Popen(['sleep', '987'], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp('sleep', ['sleep', '988'])
    os._exit(0)
print('started')
"""


def leftovers():
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if process.info["cmdline"] in (["sleep", "987"], ["sleep", "988"]):
            found.append(process.pid)
    return found


@pytest.mark.parametrize("mode", MODES)
def test_no_process_outlives_grading(tmp_path, standin_file, mode):
    record = run([LEAVE_PROCESSES], standin_file, tmp_path, mode)
    assert "started" in printed(record, 0)
    time.sleep(0.5)
    assert leftovers() == []


@pytest.mark.parametrize("mode", MODES)
def test_memory_and_output_are_capped(tmp_path, standin_file, mode):
    record = run(["import numpy as np\nbig = np.ones(64 * 2**30 // 8)",
                  # 40,000 lines: over both caps below several times (300,000 cost 6 s of CPU)
                  "for i in range(40_000):\n    print('line', i)",
                  "print('still alive')"], standin_file, tmp_path, mode, output_bytes=256 * 1024,
                 cell_output_bytes=128 * 1024)
    first, flood, last = sorted(record.cells, key=lambda c: c["index"])
    assert first["status"] == "error" and first["error"]["ename"] == "MemoryError"
    assert flood["status"] == "ok" and flood["truncated"] is True
    assert "output truncated by the grader" in flood["stream_tail"]
    # past the notebook's total cap, later outputs are dropped too, but the cells still run
    assert last["status"] == "ok" and record.status == "completed"
    assert len(flood["stream_tail"]) <= 4000


@WAITING
@pytest.mark.parametrize("mode", MODES)
def test_wall_clock_limit_holds_even_when_sigint_is_ignored(tmp_path, standin_file, mode):
    # It sleeps rather than spins: a wall-clock limit must end it all the same, and a spinning
    # cell took its whole limit of CPU from the tests beside it.
    stubborn = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    time.sleep(0.1)"
    started = time.monotonic()
    # The cell's own limit ends the stuck cell (8 s, not the run's 25).
    record = run(["x = 1", stubborn, "y = 2"], standin_file, tmp_path, mode, timeout_s=25,
                 cell_timeout_s=8)
    elapsed = time.monotonic() - started
    assert record.status == "timeout"
    assert elapsed < 25 + 30, elapsed
    statuses = {c["index"]: c["status"] for c in record.cells}
    assert statuses[0] == "ok" and statuses[1] == "timeout" and statuses[2] == "not_run"


@pytest.mark.parametrize("mode", MODES)
def test_a_dead_kernel_is_reported(tmp_path, standin_file, mode):
    record = run(["x = 1", "import os\nos._exit(3)", "y = 2"], standin_file, tmp_path, mode)
    statuses = {c["index"]: c["status"] for c in record.cells}
    assert record.status == "kernel_died" and statuses == {0: "ok", 1: "died", 2: "not_run"}


def test_recorded_facts_are_current(tmp_path, warm_grader):
    """The facts the fast tests use still match what a real run records (in a cold kernel, as
    record_facts.py records them)."""
    from record_facts import record, stable

    fresh = stable(json.loads(json.dumps(record("reference", tmp_path, warm_grader.workers.shared_evaluator()))))
    stored = json.loads((Path(__file__).parent / "recorded" / "reference.json").read_text())
    assert differences(fresh, stored) == []


def differences(fresh, stored, where="facts") -> list[str]:
    """Where two recordings differ, floats compared to 4 significant digits: TensorFlow's CPU
    kernels differ in the last digits of a loss between processors, not in what a check reads."""
    if isinstance(fresh, float) and isinstance(stored, (int, float)) and not isinstance(stored, bool):
        return [] if math.isclose(fresh, stored, rel_tol=1e-4, abs_tol=1e-6) else [f"{where}: {fresh} != {stored}"]
    if isinstance(fresh, dict) and isinstance(stored, dict):
        if fresh.keys() != stored.keys():
            return [f"{where}: keys {sorted(fresh.keys() ^ stored.keys())} differ"]
        return [d for key in fresh for d in differences(fresh[key], stored[key], f"{where}.{key}")]
    if isinstance(fresh, list) and isinstance(stored, list):
        if len(fresh) != len(stored):
            return [f"{where}: {len(fresh)} items != {len(stored)}"]
        return [d for i, (a, b) in enumerate(zip(fresh, stored)) for d in differences(a, b, f"{where}[{i}]")]
    return [] if fresh == stored else [f"{where}: {fresh!r} != {stored!r}"]


def test_differences_compare_floats_to_four_digits():
    assert differences({"a": [0.3000001, "x"]}, {"a": [0.3, "x"]}) == []
    assert differences({"a": [0.31, "x"]}, {"a": [0.3, "x"]}) == ["facts.a[0]: 0.31 != 0.3"]
    assert differences({"a": 1}, {"b": 1}) == ["facts: keys ['a', 'b'] differ"]


def test_without_bubblewrap_a_notebook_cannot_reach_a_server_on_the_hosts_loopback(tmp_path, standin_file):
    """Without bubblewrap the notebook still gets a network namespace of its own (unshare --net):
    a TCP server on the grading machine's 127.0.0.1 (another kernel, a Dask scheduler) is out of
    its reach, while its own kernel still talks to the runner on the namespace's loopback."""
    import socket

    if isolation.network_of(isolation.RLIMITS) != isolation.OWN_NETWORK:
        pytest.skip("no network namespace can be made here (the grade refuses --jobs > 1 then)")
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0)
        port = server.getsockname()[1]
        reach = f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=5).sendall(b"the notebook got through")
    print("reached")
except OSError as error:
    print("refused", type(error).__name__)
"""
        record = run([reach, "print(1 + 1)"], standin_file, tmp_path, "rlimits")
        with pytest.raises(BlockingIOError):  # nobody knocked
            server.accept()
    assert record.isolation == "rlimits" and record.network == "own" and record.status == "completed"
    assert "refused" in printed(record, 0) and "reached" not in printed(record, 0)
    assert printed(record, 1).strip() == "2"
