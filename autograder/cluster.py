"""`autograder grade --scheduler ADDRESS`: the notebooks run on a Dask cluster's workers.

The grading machine keeps everything that decides or records a grade other than the
run itself: it collects the class, splits off what the gradebook already has, draws the
reports and is the gradebook's only writer (batch.py's loop, as with --jobs). What moves to the
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
- Each task's key names the student, so two students' byte-identical notebooks are two
  tasks. A worker that dies mid-notebook loses that attempt; the scheduler runs it again
  elsewhere. After `distributed.scheduler.allowed-failures` deaths (3 by default) the
  submission gets a graded `kernel_died` result saying so, and the batch goes on.

Dask is imported only here, and this module only when --scheduler is given.
"""
from __future__ import annotations

import concurrent.futures
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import distributed
from distributed.diagnostics.plugin import WorkerPlugin

from . import batch, checks, pipeline, processes, result as result_module
from .collect import Submission
from .errors import GraderFault, UsageError
from .plan import GradingPlan, choose_isolation
from .result import ResultDocument
from .sandbox import RunRecord, run_notebook
from .sandbox.slots import SlotError, warm_path_available
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
    """One grading's plan and warm workers on one Dask worker, for all of that grading's tasks."""

    def __init__(self, name: str, plan: GradingPlan):
        self.name = name
        self.plan = plan
        self.workers: WorkerSlot | None = None

    def setup(self, worker: distributed.Worker) -> None:
        """Check what arrived against the plan's digests and this machine's sandbox, then warm up."""
        plan = self.plan
        if plan.lesson.digest() != plan.lesson_digest:
            raise GraderFault("the lesson data arrived damaged on this worker (its digest differs)")
        if plan.holdout is not None and _holdout_digest(plan) != plan.holdout.digest:
            raise GraderFault("the holdout arrived damaged on this worker (its digest differs)")
        if choose_isolation("auto") != plan.isolation:
            raise GraderFault(f"this worker cannot confine notebooks with {plan.isolation}, as the plan asks")
        # Jobs side by side in the slot: as many as the worker runs tasks at once.
        self.workers = WorkerSlot(warm_path_available(), worker.state.nthreads)

    def teardown(self, worker: distributed.Worker) -> None:
        if self.workers is not None:
            self.workers.close()


def _holdout_digest(plan: GradingPlan) -> str:
    import hashlib

    assert plan.holdout is not None
    both = plan.holdout.test_data.tobytes() + plan.holdout.test_labels.tobytes()
    return hashlib.sha256(both).hexdigest()[:16]  # as data.load_holdout computes it


def grade_on_worker(plugin_name: str, lesson_digest: str, submission: Submission,
                    exercise: str | None) -> ResultDocument:
    """The Dask task: stages 1-3 of one submission on this worker's warm slot and evaluator."""
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


def killed_workers_result(submission: Submission, exercise: str | None, plan: GradingPlan,
                          error: BaseException) -> ResultDocument:
    """The graded result of a notebook whose every attempt ended with its worker's death."""
    attempts = getattr(error, "allowed_failures", None)
    reason = ("every attempt to run this notebook" + (f" ({attempts + 1})" if isinstance(attempts, int) else "")
              + " ended with the death of the grading worker running it; it was not graded further")
    try:
        graded = plan.exercise_for(exercise)
    except UsageError:
        return pipeline.invalid_result(submission.origin, reason, None, time.monotonic())
    name = Path(submission.origin.split("!")[-1]).name
    return result_module.build(graded, name, None, checks.not_graded(graded, f"The notebook was not graded: {reason}."),
                               0.0, status="kernel_died", reason=reason)


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
                bridge.set_result(done.result())
            except distributed.client.FutureCancelledError as error:
                if self.stopping:  # our own Ctrl-C: not recorded, as with --jobs
                    bridge.set_exception(processes.Stopped("grading was interrupted"))
                else:  # the scheduler dropped it (it restarted, or lost us): graded again next run
                    bridge.set_exception(GraderFault(f"the Dask scheduler dropped this task ({error})"))
            except distributed.KilledWorker as error:
                bridge.set_result(killed_workers_result(submission, exercise, self.plan, error))
            except BaseException as error:  # noqa: BLE001 - the batch's loop judges it, as a local run's
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


class ClusterWorkers:
    """The batch's workers when they are a Dask cluster's: connected, given the plan, warmed
    (batch.RemoteWorkers); closing removes the plan and the warm slots from every worker."""

    def __init__(self, address: str, plan: GradingPlan):
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise UsageError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        try:
            self.client.wait_for_workers(1, timeout=WORKER_WAIT_S)
        except TimeoutError:
            self.client.close()
            raise UsageError(f"the Dask scheduler at {address} has no workers") from None
        self.token = secrets.token_hex(4)
        self.plugin_name = f"keras-autograder-{self.token}"
        try:
            self.client.register_plugin(GradingPlugin(self.plugin_name, plan))
        except GraderFault as error:  # a worker without the sandbox, or data that arrived damaged
            self.close()
            raise UsageError(f"a worker of {address} cannot grade: {error}") from None

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
            self.client.unregister_worker_plugin(self.plugin_name)
        finally:
            self.client.close()
