"""`autograder grade --scheduler`: a class graded on a real Dask cluster on this machine
(a `dask scheduler` and two single-threaded `dask worker`s), interrupted and resumed, gets
the verdicts --jobs 2 gives; a worker killed mid-class loses nothing; a notebook that kills its worker every
time becomes a graded result; `grade` without --scheduler never imports Dask."""
from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from distributed import KilledWorker

from autograder.batch import cluster, cluster_access, remote_result
from autograder.batch.collect import Submission
from autograder.errors import GraderFault, UsageError
from autograder.exercise.registry import get
from autograder.grading.plan import make_plan
from autograder.grading.settings import Request
from cluster_faults import BOMB_FOLDER, KILL_MARKER, ROGUE_KINDS, ROGUE_MARKER
from conftest import ROOT, write_notebook
from corpus import CASES
from dask_cluster import LocalCluster
from process_budget import count

CLASS = {"alice": "reference", "bob": "lesson-as-printed", "carol": "reference", "dave": "mse-loss"}
# One cluster (a scheduler, two workers, each worker's slot and evaluator) for the whole file.
pytestmark = pytest.mark.xdist_group("dask-cluster")


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    # The scheduler gives up on a task after its second worker death rather than its fourth: the
    # same path to the grader's fault, with two fewer workers to restart and warm up. Dask's
    # own statistical profiler (a sample every 10 ms) and event-loop checks (every 20 ms) are off
    # or slowed: idle, each worker spent 6% of a core on them beside the notebooks graded meanwhile.
    local = LocalCluster(tmp_path_factory.mktemp("dask"), preload=ROOT / "tests" / "cluster_faults.py",
                         config={"DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
                                 "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
                                 "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s"})
    try:
        for name in ("w1", "w2"):
            local.start_worker(name)
        local.wait_for_workers(2)
        yield local
    finally:
        local.close()


@pytest.fixture(scope="module")
def class_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    for student, case in CLASS.items():
        write_notebook(folder / f"{student}.ipynb", CASES[case].cells, exercise="keras-dense")
    return folder


def verdicts(out: Path) -> dict[str, tuple]:
    """Each student's status, score and every check's verdict, from the result files."""
    found = {}
    for path in sorted((out / "results").glob("*.json")):
        document = json.loads(path.read_text())
        found[document["student"]] = (document["status"], document["score"],
                                      sorted((c["id"], c["passed"]) for c in document["checks"]))
    return found


def gradebook_rows(out: Path) -> list[str]:
    """The students the gradebook has, read-only (the grading may still be writing it)."""
    path = out / "gradebook.sqlite"
    if not path.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as book:
        try:
            return [row[0] for row in book.execute("SELECT student FROM results ORDER BY student")]
        except sqlite3.OperationalError:  # not made yet
            return []


def expected_verdicts() -> dict[str, tuple]:
    """What `verdicts` must read for the class: each case's expected verdicts (corpus.py), which the
    corpus's classes graded with --jobs 2 are held to (test_corpus.py), and the points they give."""
    exercise = get("keras-dense")
    expected = {}
    for student, name in CLASS.items():
        case = CASES[name]
        passed = {check_id: check_id not in case.failing for check_id in exercise.check_ids}
        score = float(sum(points for check_id, points in exercise.points.items() if passed[check_id]))
        expected[student] = (case.status, score, sorted(passed.items()))
    return expected


def start_grading(out: Path, class_folder: Path, standin_file: Path, address: str) -> subprocess.Popen:
    count("cli_graders")
    return subprocess.Popen(
        [sys.executable, "-m", "autograder", "grade", str(class_folder), "--out", str(out), "--scheduler", address,
         "--data", str(standin_file), "--exercise", "keras-dense"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)


def worker_mid_class(local: LocalCluster, out: Path, recorded: list[str], grading: subprocess.Popen) -> str:
    """Once a result beyond `recorded` is in the gradebook (the grading's plugin is set up on every
    worker and notebooks are running), a worker with a sandbox running."""
    deadline = time.monotonic() + 600
    while len(gradebook_rows(out)) <= len(recorded):
        assert grading.poll() is None and time.monotonic() < deadline, "no result arrived"
        time.sleep(0.2)
    return next(name for name in local.workers
                if any(p.name() == "bwrap" for p in local.grading_processes(name)))


@pytest.mark.slow
def test_a_class_interrupted_then_resumed_through_a_worker_killed_mid_class_gets_the_verdicts_of_jobs_2(
        dask_cluster, class_folder, standin_file, tmp_path):
    """Two gradings of one class, each proving what it alone can: Ctrl-C partway records
    nothing in flight and stops the workers; the resumed grading loses nothing when a worker
    is killed mid-notebook (its sandboxes die with it), grades each submission once, and
    gets the verdicts --jobs 2 gives (each case's expected verdicts, held to in test_corpus.py)."""
    out = tmp_path / "out"
    # Ctrl-C partway: exit 130, what was in flight is not recorded, the workers stop grading.
    grading = start_grading(out, class_folder, standin_file, dask_cluster.address)
    try:
        deadline = time.monotonic() + 600
        while not gradebook_rows(out):  # the first submission recorded: the others are in flight
            assert grading.poll() is None and time.monotonic() < deadline, "nothing was recorded"
            time.sleep(0.2)
        grading.send_signal(signal.SIGINT)
        _, stderr = grading.communicate(timeout=300)
    finally:
        if grading.poll() is None:
            grading.kill()
    assert grading.returncode == 130, stderr
    recorded = gradebook_rows(out)
    assert 1 <= len(recorded) < len(CLASS)
    deadline = time.monotonic() + 60  # the grading's plugin is torn down: no sandbox, no evaluator left
    while any(dask_cluster.grading_processes(name) for name in dask_cluster.workers):
        assert time.monotonic() < deadline, "the workers kept grading after Ctrl-C"
        time.sleep(0.5)

    # Resume, and kill a worker mid-class, as a machine that fails.
    grading = start_grading(out, class_folder, standin_file, dask_cluster.address)
    try:
        victim = worker_mid_class(dask_cluster, out, recorded, grading)
        sandboxes = dask_cluster.grading_processes(victim)
        dask_cluster.kill_worker(victim)
        dask_cluster.start_worker(f"{victim}-again")
        # Its sandboxes (in sessions of their own) and its evaluator died with it (the evaluator
        # once its TensorFlow import is done and it reads the closed pipe).
        gone, alive = psutil.wait_procs(sandboxes, timeout=60)
        assert not alive, f"sandboxes outlived their worker: {alive}"
        stdout, stderr = grading.communicate(timeout=900)
    finally:
        if grading.poll() is None:
            grading.kill()
    assert grading.returncode == 0, stderr
    assert f"{len(recorded)} already graded" in stderr
    assert "4 submission(s): 4 graded" in stdout
    graded = verdicts(out)
    assert graded == expected_verdicts()
    assert set(graded) == set(CLASS)  # alice's and carol's identical notebooks: two tasks, two results
    assert graded["alice"][0:2] == ("graded", 100.0) and graded["bob"][1] < 100
    assert gradebook_rows(out) == sorted(CLASS)  # each graded once, none lost
    progress = re.findall(r"^\[\d+/4\] (\w+): (.*)$", stderr, re.MULTILINE)
    assert sorted(name for name, _ in progress) == sorted(CLASS)  # one line each, no repeats
    assert sorted(name for name, how in progress if "already graded" in how) == recorded
    assert [row["student_id"] for row in csv.DictReader(open(out / "grades.csv"))] == sorted(CLASS)
    assert all((out / "reports" / f"{student}.html").exists() for student in CLASS)
    # Every notebook ran in a warm slot on a worker, in bubblewrap as with --jobs.
    for student in CLASS:
        document = json.loads((out / "results" / f"{student}.json").read_text())
        assert (document["execution"], document["isolation"]) == ("warm", "bubblewrap")
    deadline = time.monotonic() + 60
    while any(dask_cluster.grading_processes(name) for name in dask_cluster.workers):
        assert time.monotonic() < deadline, "the workers kept their slots after the grading"
        time.sleep(0.5)


@pytest.mark.slow
def test_notebooks_that_kill_their_worker_or_answer_as_a_rogue_worker_change_only_their_own_result(
        dask_cluster, standin_file, tmp_path, capsys):
    """A worker listening on every interface (`dask worker`'s default) is refused before any
    grading. Then one class: a notebook that kills its worker every time it starts becomes the
    grader's fault once the scheduler gives up on it (graded again next run); workers that turn rogue
    answer with pickles that would run code, an exception and a warning carrying one, and a
    full score claimed for another student: none of it runs in the grading process, each is
    that submission's grader fault (graded again next run), and the honest student is graded
    as always."""
    dask_cluster.start_worker("open", loopback=False)
    try:
        dask_cluster.wait_for_workers(len(dask_cluster.workers))
        from autograder import cli

        capsys.readouterr()
        status = cli.main(["grade", str(tmp_path), "--out", str(tmp_path / "refused"), "--scheduler",
                           dask_cluster.address, "--exercise", "keras-dense"])
        refused = capsys.readouterr().err
    finally:
        dask_cluster.kill_worker("open")
    assert status == 2, refused
    assert refused.count("\n") == 1 and "refusing a Dask cluster that others could join" in refused
    assert "takes plain TCP on every interface" in refused
    # Refused before any worker warmed up.
    assert not any(dask_cluster.grading_processes(name) for name in dask_cluster.workers)

    bombs = tmp_path / "bombs"
    bombs.mkdir()
    folder = tmp_path / "class"
    folder.mkdir()
    write_notebook(folder / "alice.ipynb", CASES["reference"].cells, exercise="keras-dense")
    # Last in the class, so that it dies alone on its worker, not beside a notebook being graded.
    write_notebook(folder / "mallory.ipynb", [f"# {KILL_MARKER.decode()}", *CASES["reference"].cells],
                   exercise="keras-dense")
    for kind in ROGUE_KINDS:
        write_notebook(folder / f"eve-{kind}.ipynb", [f"# {ROGUE_MARKER.decode()}{kind}",
                                                      f"# {BOMB_FOLDER.decode()}{bombs}", *CASES["reference"].cells],
                       exercise="keras-dense")
    out = tmp_path / "out"
    grading = start_grading(out, folder, standin_file, dask_cluster.address)
    try:
        stdout, stderr = grading.communicate(timeout=900)
    finally:
        if grading.poll() is None:
            grading.kill()
    assert not (bombs / f"unpickled-by-{grading.pid}").exists(), "a worker's pickle ran code in grade"
    assert grading.returncode == 1, stderr  # some submissions could not be graded (by the grader's fault)
    assert json.loads((out / "results" / "alice.json").read_text())["score"] == 100.0
    # The worker-killer is no verdict (Dask counts a death against every notebook its worker held):
    # the grader's fault, graded again by the next run.
    mallory = json.loads((out / "results" / "mallory.json").read_text())
    assert mallory["status"] == "invalid" and mallory["score"] == 0, mallory
    assert "every attempt to run this notebook (2) ended with the death" in mallory["grader_fault"]
    for kind in ROGUE_KINDS:
        document = json.loads((out / "results" / f"eve-{kind}.json").read_text())
        assert document["status"] == "invalid" and document["score"] == 0, document
        assert document["grader_fault"] and document["student"] == f"eve-{kind}", document
    faults = {kind: json.loads((out / "results" / f"eve-{kind}.json").read_text())["grader_fault"]
              for kind in ROGUE_KINDS}
    assert "refused to unpickle builtins.exec" in faults["pickle-bomb"]
    assert "its exception could not be read" in faults["raise-bomb"] and "\\x80" not in faults["raise-bomb"]
    for kind in ("warn-bomb", "forged"):  # the warning never reached grade; the answer was refused
        assert "it names student, which only the grading machine records" in faults[kind]
    # Nothing of the rogue answers nor of the killer was recorded as final: the next run grades them again.
    assert f"{len(ROGUE_KINDS) + 1} of these results the grader failed to complete" in stdout
    assert gradebook_rows(out) == ["alice", *sorted(f"eve-{kind}" for kind in ROGUE_KINDS), "mallory"]


def test_identical_notebooks_of_two_students_are_two_tasks():
    first, second = (cluster.task_key("abcd", number, student) for number, student in ((1, "alice"), (2, "carol")))
    assert first != second and "alice" in first and "carol" in second
    assert cluster.task_key("abcd", 3, "o'brien; <x>") == "autograder-abcd-3-o_brien___x_"


def test_a_notebook_whose_every_worker_died_is_the_graders_fault_not_a_verdict():
    killed = KilledWorker("autograder-x-1-mallory", "tcp://10.0.0.7:4242", allowed_failures=3)
    fault = cluster.killed_workers_fault(killed)
    assert isinstance(fault, GraderFault)
    assert "every attempt to run this notebook (4) ended with the death" in str(fault)
    assert "graded again by the next run" in str(fault)
    assert "10.0.0.7" not in str(fault)  # the cluster's addresses are not the student's business


def test_grade_without_scheduler_does_not_import_dask(tmp_path):
    (tmp_path / "empty").mkdir()
    code = ("import sys; from autograder import cli; "
            f"cli.main(['grade', {str(tmp_path / 'empty')!r}, '--out', {str(tmp_path / 'out')!r}]); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                               env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "[]"
    assert (tmp_path / "out" / "grades.csv").exists()


# --- Who may join, and what the grading machine takes back (issue 24) -----------------------

def test_only_a_cluster_no_one_else_can_join_is_accepted():
    def names(table):
        return lambda host: table.get(host, [])

    resolver = names({"localhost": ["127.0.0.1", "::1"], "grader.example": ["10.1.2.3"],
                      "both.example": ["127.0.0.1", "10.1.2.3"]})
    for closed in ("tcp://127.0.0.1:8786", "127.0.0.1:8786", "tcp://127.3.4.5:8786", "tcp://[::1]:8786",
                   "tcp://localhost:8786", "tls://10.0.0.5:8786", "tls://grader.example:8786", "wss://10.0.0.5:1"):
        assert cluster_access.exposure(closed, resolver) is None, closed
    for open_, shown in (("tcp://10.0.0.5:8786", "plain TCP on 10.0.0.5"),
                         ("tcp://0.0.0.0:8786", "plain TCP on every interface"),
                         ("tcp://:8786", "plain TCP on every interface"), ("tcp://[::]:8786", "every interface"),
                         ("tcp://grader.example:8786", "grader.example"), ("tcp://both.example:8786", "both"),
                         ("tcp://nowhere.example:8786", "nowhere"), ("ws://127.0.0.1.nip.example:80", "WS"),
                         ("ucx://10.0.0.5:8786", "UCX"), ("udp://127.0.0.1:8786", "not a Dask address")):
        assert shown in (cluster_access.exposure(open_, resolver) or ""), open_
    reason = cluster_access.refusal(cluster_access.exposures(
        {"the scheduler": ["tcp://127.0.0.1:8786", "tcp://0.0.0.0:8786"], "worker w1": ["tcp://10.0.0.7:1"]}))
    assert "\n" not in reason and "the scheduler: tcp://0.0.0.0:8786" in reason and "(and 1 more)" in reason
    assert "tls://" in reason and "--insecure" in reason


class _Scheduler:
    """What ClusterWorkers asks a scheduler and its workers, answered as `dask scheduler` and
    `dask worker` do when started without --host: reached on 127.0.0.1, listening everywhere."""

    def __init__(self, said="tcp://192.0.2.2:8786", listened=("tcp://0.0.0.0:8786",), workers=None):
        self.said, self.listened, self.workers = said, list(listened), workers or {}

    def scheduler_info(self, n_workers=-1):
        return {"address": self.said}

    def run_on_scheduler(self, function):
        class Listener:
            def __init__(self, address):
                self.listen_address = address

        return function(dask_scheduler=type("S", (), {"listeners": [Listener(a) for a in self.listened]})())

    def run(self, function, nanny=False):
        return {address: listened for address, (kind, listened) in self.workers.items() if kind == nanny}


def test_a_scheduler_or_worker_reached_on_the_loopback_but_listening_on_the_network_is_refused():
    def asks(client):
        return type("Connected", (), {"client": client})()

    for client in (_Scheduler(), _Scheduler(said="tcp://127.0.0.1:8786"),
                   _Scheduler(said="tcp://127.0.0.1:8786", listened=["tcp://127.0.0.1:8786", "tcp://[::]:8786"])):
        with pytest.raises(UsageError, match="refusing a Dask cluster that others could join: the scheduler"):
            cluster.ClusterWorkers._refuse_an_open_scheduler(asks(client), "tcp://127.0.0.1:8786")
    closed = _Scheduler(said="tcp://127.0.0.1:8786", listened=["tcp://127.0.0.1:8786"])
    cluster.ClusterWorkers._refuse_an_open_scheduler(asks(closed), "tcp://127.0.0.1:8786")
    workers = {"tcp://127.0.0.1:4001": (False, ["tcp://0.0.0.0:4001"]),  # dask worker's default
               "tcp://127.0.0.1:4002": (True, ["tcp://127.0.0.1:4002"])}
    with pytest.raises(UsageError, match="worker tcp://127.0.0.1:4001: tcp://0.0.0.0:4001 takes plain TCP"):
        cluster.ClusterWorkers._refuse_open_workers(asks(_Scheduler(workers=workers)))
    workers["tcp://127.0.0.1:4001"] = (False, ["tcp://127.0.0.1:4001"])
    workers["tcp://127.0.0.1:4002"] = (True, ["tcp://10.0.0.9:4002"])
    with pytest.raises(UsageError, match="the nanny of worker tcp://127.0.0.1:4002"):
        cluster.ClusterWorkers._refuse_open_workers(asks(_Scheduler(workers=workers)))


def test_grade_refuses_an_open_scheduler_and_rlimits_on_a_cluster_before_connecting(tmp_path, capsys):
    from autograder import cli

    (tmp_path / "class").mkdir()
    common = ["grade", str(tmp_path / "class"), "--out", str(tmp_path / "out")]
    assert cli.main([*common, "--scheduler", "tcp://192.0.2.7:8786"]) == 2
    shown = capsys.readouterr().err
    assert shown.count("\n") == 1 and "refusing a Dask cluster that others could join" in shown
    assert "tcp://192.0.2.7:8786 takes plain TCP on 192.0.2.7" in shown
    assert cli.main([*common, "--scheduler", "tcp://127.0.0.1:8786", "--isolation", "rlimits"]) == 2
    assert "grades in bubblewrap on every worker" in capsys.readouterr().err
    assert cli.main([*common, "--insecure"]) == 2
    assert cli.main([*common, "--scheduler", "tls://127.0.0.1:8786", "--tls-ca-file", str(tmp_path)]) == 2
    assert "go together" in capsys.readouterr().err
    assert cli.main([*common, "--scheduler", "tls://127.0.0.1:8786"]) == 2
    assert "needs the course's certificates: --tls-ca-file" in capsys.readouterr().err
    assert cli.main([*common, "--scheduler", "tcp://127.0.0.1:8786", "--tls-ca-file", str(tmp_path)]) == 2
    assert "are for a tls:// scheduler" in capsys.readouterr().err


class _Listener:
    def __init__(self, address):
        self.listen_address = address


def test_a_worker_without_bubblewrap_or_listening_on_the_network_refuses_the_plan(standin_file, monkeypatch):
    """On each worker (also one that joins later), before it grades anything: a RuntimeError,
    which the grading machine may unpickle, carries the reason to the instructor."""
    plan = make_plan(Request(exercise="keras-dense", data=str(standin_file)))
    loopback = type("Worker", (), {"name": "w9", "nanny": None, "listeners": [_Listener("tcp://127.0.0.1:4001")]})()
    everywhere = type("Worker", (), {"name": "w9", "nanny": None, "listeners": [_Listener("tcp://0.0.0.0:4001")]})()
    plugin = cluster.GradingPlugin("p", plan)
    monkeypatch.setattr(cluster.isolation, "bubblewrap_works", lambda: True)
    assert plugin.refusal(loopback) is None
    assert "worker w9: tcp://0.0.0.0:4001 takes plain TCP on every interface" in plugin.refusal(everywhere)
    assert cluster.GradingPlugin("p", plan, guard_listeners=False).refusal(everywhere) is None  # --insecure
    monkeypatch.setattr(cluster.isolation, "bubblewrap_works", lambda: False)
    reason = plugin.refusal(loopback) or ""
    assert "cannot run bubblewrap" in reason and "needs it on every worker" in reason
    with pytest.raises(RuntimeError, match="cannot run bubblewrap"):
        plugin.setup(loopback)


def forged(document: dict, **changes) -> str:
    return json.dumps({"result": {**document, **changes}}, allow_nan=False)


def test_a_workers_answer_is_recorded_only_as_checked_data():
    from reports import result_of

    document, exercise = result_of("lesson-as-printed")
    document.update(isolation="bubblewrap", network="own")
    honest = json.dumps({"result": document})
    assert remote_result.read(honest, "lesson-as-printed.ipynb", exercise) == json.loads(honest)["result"]
    passed = [dict(check, passed=True, points=check["max_points"], cause=None) for check in document["checks"]]

    def refused(answer, match, notebook="lesson-as-printed.ipynb"):
        with pytest.raises(remote_result.ForgedResult, match=match):
            remote_result.read(answer, notebook, exercise)

    refused(honest, "not of 'mallory.ipynb'", notebook="mallory.ipynb")  # another student's result
    refused(forged(document, student="mallory"), "only the grading machine records")
    refused(forged(document, timings={"cells": 1.0}), "only the grading machine records")
    refused(forged(document, flag=True), "result's form at result: Additional properties")
    refused(forged(document, checks=passed), "not the sum of its checks' points")  # a full score, not the sum
    refused(forged(document, checks=passed[1:], score=95.0), "checks are not keras-dense's")
    refused(forged(document, score="100"), "result's form at result/score")
    refused(forged(document, exercise="keras-deeper"), "graded against 'keras-deeper'")
    refused(forged(document, isolation="rlimits"), "not graded in bubblewrap")
    refused(honest.replace('"duration_s": 9.5', '"duration_s": NaN'), "NaN is not a number")
    refused(honest.replace('"duration_s": 9.5', '"duration_s": 1e999'), "not a finite number")
    refused(honest.replace('"duration_s": 9.5', '"duration_s": ' + "9" * 30), "larger integer")
    refused(honest.replace('"index": 1,', '"index": 1.0,', 1), "result's form at result/cells/")
    refused(forged(document, reason="x" * (remote_result.MAX_TEXT + 1)), "more than a result holds")
    refused("[" * 100_000 + "]" * 100_000, "nested deeper|result's form")
    refused(json.loads(honest), "answered with dict")
    refused(b"\x80\x04", "answered with bytes")
    with pytest.raises(GraderFault, match="on the grading worker: the slot stopped") as fault:
        remote_result.read(json.dumps({"fault": "the slot stopped"}), "lesson-as-printed.ipynb", exercise)
    assert not isinstance(fault.value, remote_result.ForgedResult)
    # A submission of an exercise the grading machine does not know can only be invalid.
    unknown = forged(document, exercise=None, checks=[], score=0.0, max_score=0.0, status="invalid")
    assert remote_result.read(unknown, "lesson-as-printed.ipynb", None)["status"] == "invalid"
    refused(forged(document, exercise=None), "an exercise the grading machine did not ask for")


class _Bomb:
    def __init__(self, folder):
        self.folder = folder

    def __reduce__(self):
        return (os.mkdir, (str(self.folder / "unpickled"),))


def test_while_connected_the_grading_process_unpickles_plain_values_and_exceptions_only(tmp_path):
    import pickle

    import tblib.pickling_support

    bomb = pickle.dumps(_Bomb(tmp_path))
    try:
        raise ValueError("a task's own error")
    except ValueError as error:
        tblib.pickling_support.install(error)
        failure = pickle.dumps(error)
    killed = pickle.dumps(KilledWorker("autograder-x-1-mallory", "tcp://127.0.0.1:1", allowed_failures=3))
    with cluster_access.refusing_pickles():
        for payload in (bomb, pickle.dumps([1, "x", _Bomb(tmp_path)]), pickle.dumps(Submission("a", "a", b""))):
            with pytest.raises(cluster_access.RefusedPickle, match="refused to unpickle"):
                pickle.loads(payload)
        plain = {"result": "{}", "n": (1, 2.5, None), "s": {b"x"}}
        assert pickle.loads(pickle.dumps(plain)) == plain
        assert str(pickle.loads(failure)) == "a task's own error"
        assert isinstance(pickle.loads(killed), KilledWorker)
    assert not (tmp_path / "unpickled").exists()
    pickle.loads(bomb)  # the same pickle, outside: it is the guard that stopped it
    assert (tmp_path / "unpickled").exists()
    assert not cluster_access.allowed_global("builtins", "getattr")
    assert not cluster_access.allowed_global("builtins", "eval") and not cluster_access.allowed_global("os", "system")
    assert not cluster_access.allowed_global("autograder.batch.collect", "Submission")
    assert cluster_access.allowed_global("builtins", "RuntimeError")
