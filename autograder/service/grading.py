"""The service's grading: the queue's dispatcher on the warm workers of `grade --jobs`.

One dispatcher thread claims submissions from the store (store.claim_next: one per student
at a time, fair between students) while fewer than the workers' capacity are in flight,
and grades each on a thread of a pool with batch/run.py's own stages: `start_one` runs the
notebook in the warm slot (its cells wait for one of `jobs` turns and give it back as soon
as they are over), `complete_one` measures, checks and draws the report. The slot and the
evaluator are started once and kept warm for every submission of the server's life.

With `--scheduler` the notebooks run on a Dask cluster's workers instead (batch/cluster.py, one
registration per exercise), and only the report is drawn here.

A result is recorded only by the attempt that claimed the submission (store.record). A
server stopped mid-grade records nothing for what was in flight: the next start puts it back
in the queue. A grading the grader itself failed (its `grader_fault`: the evaluator died, the
report could not be drawn) is queued again, up to store.MAX_ATTEMPTS.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .. import processes, scratch
from ..batch import run as batch
from ..batch.collect import LmsName, Submission
from ..batch.workers import Workers
from ..errors import AutograderError, GraderFault, internal_error
from ..grading import pipeline
from ..grading.plan import GradingPlan
from .store import MAX_ATTEMPTS, Store

log = logging.getLogger("autograder.service")

#: Seconds between looks at the queue when nothing wakes the dispatcher (a safety net only).
POLL_S = 1.0
#: Seconds between sweeps of the scratch folders killed graders left (scratch.sweep).
SWEEP_S = 600.0


def as_submission(row: dict[str, Any]) -> Submission:
    """A claimed row as batch/run.py's Submission. Its name is the submission's id, never the file
    name the student uploaded: nothing the student chose names anything the grader makes."""
    origin = f"{row['id']}.ipynb"
    return Submission(student=row["student"], origin=origin, content=row["notebook"],
                      name=LmsName(row["student"], origin), exercise_hint=row["exercise"])


class Grader:
    def __init__(self, store: Store, plans: dict[str, GradingPlan], jobs: int, scheduler: str | None = None,
                 warm: bool = True):
        self.store = store
        self.plans = plans
        self.jobs = jobs
        self.stopping = threading.Event()
        self.wakeup = threading.Event()
        self.in_flight = 0
        self.lock = threading.Lock()
        self.workers: Workers | None = None
        self.clusters: list[Any] = []
        self.starters: dict[str, Any] = {}
        if scheduler is None:
            from ..sandbox.slots import warm_path_available

            self.workers = Workers(warm and warm_path_available(), jobs)
            self.cells = threading.Semaphore(jobs)
            self.capacity = 2 * jobs if self.workers.warm else jobs
        else:
            from ..batch.cluster import ClusterWorkers

            try:
                for exercise, plan in plans.items():
                    cluster = ClusterWorkers(scheduler, plan)
                    self.clusters.append(cluster)
                    self.starters[exercise] = cluster.starter(plan)
            except BaseException:
                self._close_clusters()
                raise
            self.capacity = max(1, self.clusters[0].nthreads) + jobs
        self.pool = ThreadPoolExecutor(max_workers=self.capacity, thread_name_prefix="grading")
        self.dispatcher = threading.Thread(target=self._dispatch, name="dispatcher", daemon=True)

    def start(self) -> None:
        from ..report import documents

        documents.warm_up()
        self.dispatcher.start()

    def wake(self) -> None:
        self.wakeup.set()

    def _dispatch(self) -> None:
        swept = time.monotonic()
        while not self.stopping.is_set():
            self.wakeup.clear()
            if time.monotonic() - swept > SWEEP_S:
                scratch.sweep()  # what a killed server left, once old enough to be sure of it
                swept = time.monotonic()
            while not self.stopping.is_set():
                with self.lock:
                    if self.in_flight >= self.capacity:
                        break
                try:
                    row = self.store.claim_next()
                except Exception:  # noqa: BLE001 - a database hiccup must not end the dispatcher
                    log.exception("could not read the queue")
                    break
                if row is None:
                    break
                with self.lock:
                    self.in_flight += 1
                future = self.pool.submit(self._grade, row)
                future.add_done_callback(self._done)
            self.wakeup.wait(POLL_S)

    def _done(self, _future: Future) -> None:
        with self.lock:
            self.in_flight -= 1
        self.wake()

    def _grade(self, row: dict[str, Any]) -> None:
        identifier, attempt, exercise = row["id"], row["attempts"], row["exercise"]
        submission = as_submission(row)
        plan = self.plans.get(exercise)
        started = time.monotonic()
        try:
            if plan is None:  # the exercise left course.toml after it was accepted
                document: dict[str, Any] = dict(pipeline.invalid_result(
                    submission.origin, f"exercise {exercise!r} is no longer part of the course", None, started))
                html = None
            else:
                document, html = self._run(submission, exercise, plan)
        except processes.Stopped:
            return  # the server is stopping: the next start queues it again
        except Exception as error:  # noqa: BLE001 - one submission's failure is not the service's
            if self.stopping.is_set():
                return
            reason = str(error) if isinstance(error, AutograderError) else internal_error(error)
            if isinstance(error, GraderFault) or not isinstance(error, AutograderError):
                log.warning("submission %s: the grader failed (%s); queued again", identifier, reason)
                self.store.requeue(identifier, attempt, reason)
                return
            document, html = dict(pipeline.invalid_result(submission.origin, reason, None, started)), None
        if self.stopping.is_set():
            return
        if document.get("grader_fault") and attempt < MAX_ATTEMPTS:
            log.warning("submission %s: %s; queued again", identifier, document["grader_fault"])
            self.store.requeue(identifier, attempt, str(document["grader_fault"]))
            return
        if not self.store.record(identifier, attempt, dict(document), html):
            log.warning("submission %s: attempt %s no longer holds it; its result is dropped", identifier, attempt)

    def _run(self, submission: Submission, exercise: str, plan: GradingPlan) -> tuple[dict[str, Any], str]:
        if self.workers is not None:
            begun = batch.start_one(submission, exercise, plan, self.workers, self.cells)
        else:
            begun = self.starters[exercise].submit(submission, exercise).result()
        document, html = batch.complete_one(submission, exercise, begun, plan, self.workers)
        return dict(document), html

    def close(self) -> None:
        """Stop: what is in flight is dropped (the next start grades it), the slot, the evaluator and
        every sandbox are stopped, and nothing is left running. Closing again does nothing."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.wake()
        processes.stop_all()
        if self.workers is not None:
            self.workers.close()
        for starter in self.starters.values():
            starter.stop()
        self.pool.shutdown(wait=True, cancel_futures=True)
        self._close_clusters()
        if self.dispatcher.is_alive():
            self.dispatcher.join(timeout=5)

    def _close_clusters(self) -> None:
        for cluster in self.clusters:
            cluster.close()
