"""`autograder grade --scheduler ADDRESS`: the notebooks run on a Dask cluster's workers.

The grading machine keeps everything that decides or records a grade other than the
run itself: it collects the class, splits off what the gradebook already has, draws the
reports and is the gradebook's only writer (run.py's loop, as with --jobs). What moves to the
cluster is stage 1-3 of the pipeline for one submission: read, run in the sandbox,
measure with the evaluator, check. Each task returns a result document.

- The plan (lesson data, holdout, exercise, limits) travels once to each worker inside
  a worker plugin, `GradingPlugin`; a worker that joins later gets it from the scheduler
  on arrival. The worker checks the data against the plan's digests before it grades,
  and each task names the digest it expects, so a stale plugin grades nothing. Workers
  read no file of the grading machine: submissions travel in the task, results back.
- The plugin keeps the worker's warm slot (a fork server for `nthreads` jobs side by
  side, each isolated exactly as with --jobs) and its evaluator for every task, and
  closes them at teardown. A task leaves the worker's thread pool (secede) once its
  notebook has run, so the next notebook starts while this one is measured. The slot's
  bubblewrap dies with the worker thread that started it (--die-with-parent), so a
  killed worker takes its sandboxes with it; the evaluator ends when its stdin, the
  worker's pipe, closes.
- Only a cluster no one else can join is used (cluster_access.py): TLS with the course's
  certificates, or plain TCP on the loopback only, checked on the scheduler (where it
  listens, as it says itself) and by the plugin on every worker and its nanny, including
  workers that join later. `--insecure` is the instructor's acceptance of anything else.
- Every worker grades in bubblewrap: the plugin refuses the plan on a worker without it.
- Results cross as data: each task returns its result document as JSON text, which the
  grading machine checks field by field before recording it (remote_result.py); while the
  grading is connected, Dask's transport may unpickle nothing but plain values and
  exceptions in this process (cluster_access.refusing_pickles). A task never raises for a
  failure of its own: it answers with the reason, as data.
- Each task's key names the student, so two students' byte-identical notebooks are two
  tasks. A worker that dies mid-notebook loses that attempt; the scheduler runs it again
  elsewhere. After `distributed.scheduler.allowed-failures` deaths (3 by default) the
  submission is a grader fault, graded again by the next run, and the batch goes on: Dask
  counts a worker's death against every task the worker held, so it cannot tell the notebook
  that killed a machine (a sandboxed one hardly can) from its neighbours or from a machine
  that failed on its own, and no student's grade may rest on another's notebook or on the
  cluster's health.

Dask is imported only here, and this module only when --scheduler is given.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import json
import os
import re
import secrets
import threading
from collections.abc import Callable
from typing import Any

import distributed
from distributed.diagnostics.plugin import WorkerPlugin

from .. import processes
from ..errors import GraderFault, UsageError
from ..grading import pipeline
from ..grading.plan import GradingPlan
from ..grading.result import ResultDocument
from ..sandbox import RunRecord, isolation, run_notebook
from ..sandbox.slots import SlotError, warm_path_available
from . import cluster_access, remote_result, run as batch
from .collect import Submission
from .workers import Workers

#: Seconds to reach the scheduler, and to wait for its first worker.
CONNECT_TIMEOUT_S = 30
WORKER_WAIT_S = 120


class WorkerSlot(Workers):
    """workers.Workers on a Dask worker, without the fall-back to a cold run once the slot has
    stopped: here it stops when the grading is torn down (Ctrl-C, or its end), and a notebook
    started then would run for nobody. Such a task fails with SlotError (a grader fault: an
    internal-error row, graded again by the next run)."""

    def run(self, on_cells_over: Callable[[], None] | None = None) -> Callable[..., RunRecord]:
        if not self.warm:
            return super().run()

        def run_in_slot(*args: Any, **kwargs: Any) -> RunRecord:
            self.slot_ready.wait()
            if self.closing.is_set():
                raise SlotError("the grading was torn down on this worker")
            if self.slot is None:  # no slot could start on this worker: grade cold, as --jobs does
                return run_notebook(*args, **kwargs)
            return self.slot.run(*args, **{**kwargs, "on_cells_over": on_cells_over})

        return run_in_slot


class GradingPlugin(WorkerPlugin):
    """One grading's plan and warm workers on one Dask worker, for all of that grading's tasks.

    `guard_listeners`: refuse a worker that, or whose nanny, takes plain TCP on an address other
    than the loopback (anyone reaching it could run code on it). A refusal travels back as a
    RuntimeError, a class the grading machine may unpickle, with the reason in its message."""

    def __init__(self, name: str, plan: GradingPlan, guard_listeners: bool = True):
        self.name = name
        self.plan = plan
        self.guard_listeners = guard_listeners
        self.workers: WorkerSlot | None = None

    def setup(self, worker: distributed.Worker) -> None:
        """Check this worker's sandbox and listeners and what arrived against the plan's digests,
        then warm up."""
        problem = self.refusal(worker)
        if problem:
            raise RuntimeError(problem)
        # Jobs side by side in the slot: as many as the worker runs tasks at once.
        self.workers = WorkerSlot(warm_path_available(), worker.state.nthreads)

    def refusal(self, worker: distributed.Worker) -> str | None:
        plan = self.plan
        if not isolation.bubblewrap_works():
            return ("this worker cannot run bubblewrap (install it: apt-get install bubblewrap; it must be able to "
                    "make namespaces), and grading on a cluster needs it on every worker")
        if self.guard_listeners:
            exposed = cluster_access.exposures(worker_listeners(worker))
            if exposed:
                return cluster_access.refusal(exposed)
        if plan.lesson.digest() != plan.lesson_digest:
            return "the lesson data arrived damaged on this worker (its digest differs)"
        if plan.holdout is not None and _holdout_digest(plan) != plan.holdout.digest:
            return "the holdout arrived damaged on this worker (its digest differs)"
        return None

    def teardown(self, worker: distributed.Worker) -> None:
        if self.workers is not None:
            self.workers.close()


def worker_listeners(worker: distributed.Worker) -> dict[str, list[str]]:
    """Where this worker and its nanny take connections: the worker's listeners as Dask has
    them, and the nanny's (this process's parent) as the system sees its listening sockets,
    with the worker's scheme (a nanny shares its worker's security)."""
    import psutil

    name = f"worker {worker.name}"
    found = {name: [listener.listen_address for listener in worker.listeners]}
    if worker.nanny:
        scheme = cluster_access.split_address(found[name][0])[0] if found[name] else "tcp"
        try:
            sockets = psutil.Process(os.getppid()).net_connections(kind="inet")
        except psutil.Error as error:
            found[f"the nanny of {name}"] = [f"{scheme}://unknown (its sockets could not be read: {error})"]
        else:
            found[f"the nanny of {name}"] = [
                f"{scheme}://{_host_port(c.laddr.ip, c.laddr.port)}" for c in sockets if c.status == psutil.CONN_LISTEN]
    return found


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _holdout_digest(plan: GradingPlan) -> str:
    import hashlib

    assert plan.holdout is not None
    both = plan.holdout.test_data.tobytes() + plan.holdout.test_labels.tobytes()
    return hashlib.sha256(both).hexdigest()[:16]  # as data.load_holdout computes it


def grade_on_worker(plugin_name: str, lesson_digest: str, submission: Submission, exercise: str | None) -> str:
    """The Dask task: stages 1-3 of one submission on this worker's warm slot and evaluator.

    Returns JSON text, `{"result": DOCUMENT}` or `{"fault": REASON}` (remote_result.py): plain
    data that the grading machine checks, never an object of ours nor an exception to unpickle."""
    try:
        document = _grade_here(plugin_name, lesson_digest, submission, exercise)
        return json.dumps({"result": document}, allow_nan=False)
    except Exception as error:  # noqa: BLE001 - said to the grading machine as data: a grader's fault
        reason = str(error) if isinstance(error, GraderFault) else f"{type(error).__name__}: {error}"
        return json.dumps({"fault": reason[:remote_result.MAX_FAULT]})


def _grade_here(plugin_name: str, lesson_digest: str, submission: Submission, exercise: str | None) -> ResultDocument:
    plugin = distributed.get_worker().plugins.get(plugin_name)
    if not isinstance(plugin, GradingPlugin) or plugin.workers is None:
        raise GraderFault("this worker has not received the grading's plan")
    if plugin.plan.lesson_digest != lesson_digest:
        raise GraderFault("this worker holds another grading's data")
    started = batch.start_one(submission, exercise, plugin.plan, plugin.workers)
    if isinstance(started, pipeline.NotebookJob):
        # The notebook is done with its slot: leave the worker's pool, so that the next task
        # starts a notebook while this one is measured and checked (as --jobs' finisher pool).
        distributed.secede()
        return pipeline.finish(started, plugin.workers.shared_evaluator())
    return started


def killed_workers_fault(error: BaseException) -> GraderFault:
    """A notebook whose every attempt ended with its worker's death: the grader's fault, not a
    verdict on the notebook (its neighbours on a dying worker are counted the same)."""
    attempts = getattr(error, "allowed_failures", None)
    counted = f" ({attempts + 1})" if isinstance(attempts, int) else ""
    return GraderFault(f"every attempt to run this notebook{counted}"
                       " ended with the death of the grading worker running it (its machine failed, or another "
                       "notebook on it did); it is graded again by the next run")


def _readable(error: BaseException) -> str:
    """What an exception from a worker says, in a few words. Dask hands over one it could not (or
    was not allowed to) unpickle as Exception(the pickle's bytes): those are not worth showing."""
    if error.args and isinstance(error.args[0], (bytes, bytearray)):
        return "its exception could not be read safely"
    return str(error)[:300]


def task_key(token: str, number: int, student: str) -> str:
    """A key that names the student: identical notebooks of two students are two tasks."""
    return f"autograder-{token}-{number}-{re.sub(r'[^A-Za-z0-9_.-]', '_', student)[:80]}"


class ClusterStarter:
    """Hands submissions to the cluster; each becomes a concurrent.futures.Future that the
    batch's loop waits on as it waits on a local slot's, resolved the moment Dask has it."""

    def __init__(self, cluster: ClusterWorkers, plan: GradingPlan):
        self.cluster = cluster
        self.plan = plan
        self.count = 0
        self.lock = threading.Lock()
        self.in_flight: dict[str, distributed.Future] = {}
        self.stopping = False

    @property
    def capacity(self) -> int:
        # Everything at once: the scheduler queues the tasks and feeds workers as they free up.
        return 1 << 30

    def submit(self, submission: Submission, exercise: str | None) -> concurrent.futures.Future[Any]:
        bridge: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self.count += 1
        key = task_key(self.cluster.token, self.count, submission.student)
        remote = self.cluster.client.submit(grade_on_worker, self.cluster.plugin_name, self.plan.lesson_digest,
                                            submission, exercise, key=key, retries=0)
        with self.lock:
            self.in_flight[key] = remote

        def arrived(done: distributed.Future) -> None:
            try:
                answer = done.result()
            except distributed.client.FutureCancelledError as error:
                if self.stopping:  # our own Ctrl-C: not recorded, as with --jobs
                    bridge.set_exception(processes.Stopped("grading was interrupted"))
                else:  # the scheduler dropped it (it restarted, or lost us): graded again next run
                    bridge.set_exception(GraderFault(f"the Dask scheduler dropped this task ({error})"))
            except distributed.KilledWorker as error:
                bridge.set_exception(killed_workers_fault(error))
            except Exception as error:  # noqa: BLE001 - our tasks answer faults as data: this is not ours
                bridge.set_exception(GraderFault(f"the grading worker's task failed without an answer "
                                                 f"({type(error).__name__}: {_readable(error)})"))
            else:
                try:
                    bridge.set_result(remote_result.read(answer, batch.notebook_name(submission),
                                                         self.plan.known_exercise(exercise)))
                except GraderFault as error:  # a fault the worker reported, or a forged answer
                    bridge.set_exception(error)
            finally:
                with self.lock:
                    self.in_flight.pop(key, None)  # the scheduler may forget it now

        remote.add_done_callback(arrived)
        return bridge

    def stop(self) -> None:
        """Ctrl-C: cancel every task still queued or running; none of them is recorded."""
        self.stopping = True
        with self.lock:
            running = list(self.in_flight.values())
        self.cluster.client.cancel(running)

    def close(self) -> None:
        """Nothing to release here: the tasks end with the grading (ClusterWorkers.close)."""


@dataclasses.dataclass(frozen=True)
class Access:
    """How `grade` reaches the cluster: its certificates for tls:// (None: Dask's configuration,
    distributed.comm.tls.*), and whether the instructor accepts a cluster others could join."""

    tls_ca_file: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    insecure: bool = False

    def security(self, scheme: str) -> distributed.Security | None:
        """The certificates to connect with; refuses a tls:// scheduler without any (Dask would
        fail deep inside) and certificates for a plain one."""
        if not (self.tls_ca_file or self.tls_cert or self.tls_key):
            if scheme in cluster_access.SECURE_SCHEMES:
                configured = distributed.Security()
                if not (getattr(configured, "tls_ca_file", None) and getattr(configured, "tls_client_cert", None)):
                    raise UsageError(f"a {scheme}:// scheduler needs the course's certificates: --tls-ca-file, "
                                     "--tls-cert and --tls-key (or Dask's distributed.comm.tls configuration)")
            return None
        if scheme not in cluster_access.SECURE_SCHEMES:
            raise UsageError(f"--tls-* are for a tls:// scheduler, not {scheme}://")
        if not (self.tls_ca_file and self.tls_cert and self.tls_key):
            raise UsageError("--tls-ca-file, --tls-cert and --tls-key go together: the course's CA, and this "
                             "machine's certificate and key signed by it")
        for path in (self.tls_ca_file, self.tls_cert, self.tls_key):
            if not os.path.isfile(path):
                raise UsageError(f"cannot read {path}: no such file")
        return distributed.Security(tls_ca_file=self.tls_ca_file, tls_client_cert=self.tls_cert,
                                    tls_client_key=self.tls_key, require_encryption=True)


class ClusterWorkers:
    """The batch's workers when they are a Dask cluster's: checked, connected, given the plan,
    warmed (batch.RemoteWorkers); closing removes the plan and the warm slots from every worker."""

    def __init__(self, address: str, plan: GradingPlan, access: Access | None = None):
        access = access or Access()
        try:
            scheme = cluster_access.split_address(address)[0]
        except ValueError as error:
            raise UsageError(f"--scheduler {error}") from None
        exposed = cluster_access.exposure(address)
        if exposed and not access.insecure:
            raise UsageError(cluster_access.refusal([f"the scheduler: {exposed}"]))
        security = access.security(scheme)
        self.unpickling = contextlib.ExitStack()  # closed last, with the connection
        self.unpickling.enter_context(cluster_access.refusing_pickles())
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False,
                                             security=security, direct_to_workers=False)
        except (OSError, TimeoutError, ValueError, TypeError) as error:
            self.unpickling.close()
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        self.plugin_name = ""
        self.registered = False
        try:
            for topic in ("print", "warn"):  # workers' prints and warnings: pickles we have no use for
                self.client.unsubscribe_topic(topic)
            if not access.insecure:
                self._refuse_an_open_scheduler(address)
            try:
                self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
            except TimeoutError:
                raise UsageError(f"the Dask scheduler at {address} has no workers") from None
            if not access.insecure:  # before any worker warms up (the plugin checks those that join later)
                self._refuse_open_workers()
            self.token = secrets.token_hex(4)
            self.plugin_name = f"keras-autograder-{self.token}"
            # Workers grade in bubblewrap, whatever this machine has (the plugin refuses a worker without it).
            sent = dataclasses.replace(plan, isolation=isolation.BUBBLEWRAP)
            try:
                self.client.register_plugin(GradingPlugin(self.plugin_name, sent, not access.insecure))
                self.registered = True
            except Exception as error:  # noqa: BLE001 - a worker's refusal (RuntimeError), or Dask's failure
                raise UsageError(f"a worker of {address} cannot grade: {error}") from None
        except BaseException:
            self.close()
            raise

    def _refuse_an_open_scheduler(self, address: str) -> None:
        """Refuse a scheduler that takes connections others could make: where it says it is (its
        identity) and every address it listens on."""
        try:
            said = self.client.scheduler_info(n_workers=0).get("address", "")
            # A lambda travels by value: the scheduler needs no copy of this package to run it.
            listened = self.client.run_on_scheduler(
                lambda dask_scheduler: [listener.listen_address for listener in dask_scheduler.listeners])
        except Exception as error:  # noqa: BLE001 - a scheduler that will not say is not known to be closed
            raise UsageError(f"the Dask scheduler at {address} would not say where it listens ({error}); "
                             "--insecure grades there anyway") from None
        if not isinstance(listened, list) or not all(isinstance(item, str) for item in listened):
            raise UsageError(f"the Dask scheduler at {address} gave no list of the addresses it listens on")
        exposed = cluster_access.exposures({"the scheduler": [str(said), *listened]})
        if exposed:
            raise UsageError(cluster_access.refusal(exposed))

    def _refuse_open_workers(self) -> None:
        """Refuse workers, or their nannies, that take connections others could make."""
        listened: dict[str, list[str]] = {}
        for kind, nanny in (("worker", False), ("the nanny of worker", True)):
            try:
                found = self.client.run(
                    lambda dask_worker: [listener.listen_address for listener in dask_worker.listeners], nanny=nanny)
            except Exception as error:  # noqa: BLE001 - a worker that will not say is not known to be closed
                raise UsageError(f"the Dask workers would not say where they listen ({error}); --insecure grades "
                                 "there anyway") from None
            for address, addresses in dict(found).items():
                listened[f"{kind} {address}"] = [str(item) for item in addresses]
        exposed = cluster_access.exposures(listened)
        if exposed:
            raise UsageError(cluster_access.refusal(exposed))

    @property
    def nthreads(self) -> int:
        return sum(self.client.nthreads().values())

    def starter(self, plan: GradingPlan) -> ClusterStarter:
        return ClusterStarter(self, plan)

    def __enter__(self) -> ClusterWorkers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Tear the plugin down on every worker (slots and evaluators stop), then disconnect."""
        try:
            if self.plugin_name:
                try:
                    self.client.unregister_worker_plugin(self.plugin_name)
                except Exception:
                    if self.registered:  # else: a worker refused it, and the others drop it here
                        raise
        finally:
            try:
                self.client.close()
            finally:
                self.unpickling.close()
