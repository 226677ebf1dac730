"""`autograder grade`: a whole class, in parallel, resumable, into a gradebook.

Each submission goes through the same pipeline as `autograder check`, in its
own sandbox. Results are committed to the gradebook the moment they are
ready; a re-run skips what is already graded with the same notebook, exercise
and rubric. Bad inputs are listed, never fatal.
"""
from __future__ import annotations

import functools
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from . import gradesheet, identity, notebook, pipeline, processes, result as result_module
from .collect import Collection, Problem, Submission, collect
from .errors import AutograderError, GraderFault, internal_error
from .gradebook import Gradebook
from .outputs import OutputFolder
from .plan import GradingPlan
from .report import documents, model as report_model
from .result import ResultDocument
from .sandbox import RunRecord
from .sandbox.slots import once
from .workers import Workers

if TYPE_CHECKING:
    from .similarity.base import GivenBase

GRADED_STATUSES = ("graded", "timeout", "kernel_died")


@dataclass
class GradedSubmission:
    """One submission's result in the batch; `reused` when the gradebook already had it."""

    submission: Submission
    exercise: str | None
    result: ResultDocument
    reused: bool = False


@dataclass
class Grading:
    """A class to grade, and how: what `run` takes (from `grade`'s options, or a proof's)."""

    #: Folders of notebooks, nbgrader's submitted/ folder, LMS zip downloads, notebooks.
    inputs: list[str]
    #: Where the gradebook, the results, the reports and the class files go.
    out: Path
    plan: GradingPlan
    #: Notebooks graded at once here; with `remote`, reports drawn at once.
    jobs: int
    #: Hears of each submission (progress.py).
    progress: Any
    #: Grade again what the gradebook already has.
    regrade: bool = False
    #: Fork kernels from a warm server (when this machine can), rather than start each from scratch.
    warm: bool = True
    #: Class files to write besides grades.csv: "canvas" (its column `canvas_assignment`).
    formats: tuple[str, ...] = ()
    canvas_assignment: str | None = None
    #: Run the notebooks on other machines' workers (a Dask cluster's, cluster.py); everything is
    #: still recorded and written here, as without it.
    remote: RemoteWorkers | None = None
    #: Warm workers the caller started before reading the class (Workers.started_early): used if the
    #: batch grades warm here, else closed at once; the caller closes them too, in case `run` raises
    #: before (closing twice does nothing).
    early: Workers | None = None
    #: A seed of their own for some students' notebooks instead of the plan's, by student id (the
    #: proof of an exercise trains its solution with several).
    seeds: Mapping[str, int] | None = None
    #: Draw each student's HTML report. Without them the results, the gradebook and the class files
    #: are written as ever, and the summary's links to reports lead nowhere (a proof reads only results).
    reports: bool = True
    #: Code every student was given besides the exercise's own (`grade --base`), left out when
    #: submissions are compared.
    base: tuple[GivenBase, ...] = ()


@dataclass
class InFlight:
    """One submission on its way through the batch: the exercise and rubric it is graded under, and
    its stage: "run" in a sandbox slot, then "finish" (facts, checks, report) on the finisher."""

    submission: Submission
    exercise: str | None
    rubric: str
    stage: str = "run"


@dataclass
class BatchReport:
    outcomes: list[GradedSubmission] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    interrupted: bool = False
    seconds: float = 0.0
    jobs: int = 1
    execution: str = "cold"
    canvas_left_out: int | None = None  # students with no Canvas user id, when a Canvas file was asked for
    #: Submissions of an exercise that share what honest students cannot (similarity.compare), for
    #: the instructor's summary only; `similar_error` says why the comparison could not be made.
    similar: list[dict] = field(default_factory=list)
    similar_error: str | None = None

    @property
    def all_graded(self) -> bool:
        return not self.problems and not self.interrupted and all(
            o.result["status"] in GRADED_STATUSES for o in self.outcomes)


def _metadata_exercise(submission: Submission) -> str | None:
    try:
        return notebook.exercise_of(notebook.parse(submission.content, submission.origin))
    except Exception:  # noqa: BLE001 - an unreadable notebook names nothing; it fails on its own when graded
        return None


def exercise_for(submission: Submission, plan: GradingPlan) -> tuple[str | None, list[str]]:
    """The exercise a submission is graded against, and notes on any source that disagrees.

    The instructor's sources win: --exercise, else the released file's name (or nbgrader's
    assignment folder). The notebook's metadata, which the student can edit, is used only when
    neither names one; when it names another exercise, that is noted, never followed.
    """
    sources = [("--exercise", plan.exercise.id if plan.exercise is not None else None),
               ("the released file name", submission.exercise_hint),
               ("the notebook's metadata", _metadata_exercise(submission))]
    named = [(where, exercise) for where, exercise in sources if exercise]
    if not named:
        return None, []
    source, chosen = named[0]
    notes = [f"{where} names {identity.shown(other[:60])}; graded as {chosen} (from {source})"
             for where, other in named[1:] if other != chosen]
    return chosen, notes


class Starter(Protocol):
    """Starts the grading of each submission; its future holds a Job to finish or a result."""

    @property
    def capacity(self) -> int: ...  # submissions in flight at once

    def submit(self, submission: Submission, exercise: str | None) -> Future: ...

    def stop(self) -> None: ...  # Ctrl-C: drop what is queued and running

    def close(self) -> None: ...


class RemoteWorkers(Protocol):
    """Workers on other machines that return finished results (cluster.ClusterWorkers); the
    caller opens and closes them."""

    def starter(self, plan: GradingPlan) -> Starter: ...


class LocalStarter:
    """Runs stages 1 and 2 of each submission on threads of its own, the cells of `jobs`
    notebooks at once (cluster.ClusterStarter is the same on a Dask cluster's workers). Warm,
    as many more may be ending meanwhile: a notebook's slot job says when its cells are over
    (Slot.run), and the next notebook's cells start then, while that job's namespaces are
    torn down and its record read."""

    def __init__(self, workers: Workers, plan: GradingPlan):
        self.workers = workers
        self.plan = plan
        self.capacity = 2 * workers.jobs if workers.warm else workers.jobs
        self.cells = threading.Semaphore(workers.jobs)
        self.pool = ThreadPoolExecutor(max_workers=self.capacity)

    def submit(self, submission: Submission, exercise: str | None) -> Future:
        return self.pool.submit(start_one, submission, exercise, self.plan, self.workers, self.cells)

    def stop(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        self.pool.shutdown(wait=True)


def start_one(submission: Submission, exercise: str | None, plan: GradingPlan, workers: Workers,
              cells: threading.Semaphore | None = None):
    """Stages 1 and 2 of the pipeline: read, then run the notebook. With `cells`, they start
    once it lets one more notebook's cells run, and let it go when those are over.

    Returns a Job to finish, or a finished (invalid) result document.
    """
    if cells is None:
        return _start_one(submission, exercise, plan, workers.run())
    while not cells.acquire(timeout=0.5):
        processes.check_not_stopping()
    cells_over = once(cells.release)
    try:
        return _start_one(submission, exercise, plan, workers.run(on_cells_over=cells_over))
    finally:
        cells_over()


def notebook_name(submission: Submission) -> str:
    """The file name a submission's result names (its `notebook`)."""
    return Path(submission.origin.split("!")[-1]).name or "submission.ipynb"


def _start_one(submission: Submission, exercise: str | None, plan: GradingPlan, run: Callable[..., RunRecord]):
    started = time.monotonic()
    plan = plan.with_seed(submission.seed)
    name = notebook_name(submission)
    with tempfile.TemporaryDirectory(prefix="autograder-submission-") as work:
        path = Path(work) / name
        path.write_bytes(submission.content)
        if exercise is None or plan.known_exercise(exercise) is None:
            reason = (f"unknown exercise {exercise!r}" if exercise else
                      "no exercise: the notebook's metadata does not name one; pass --exercise")
            return pipeline.invalid_result(str(path), reason, None, started)
        job = pipeline.prepare(str(path), plan, plan.exercise_for(exercise))
    if not isinstance(job, pipeline.NotebookJob):
        return job
    return pipeline.execute(job, run)


#: The stages a graded submission's `timings` names, in the order they happen: the wait for a
#: kernel (none when the slot's spare had started it while the notebook before ran), the
#: student's cells and the export with the kernel's teardown (from the run's own record),
#: then on the grading machine: stage 1 plus any wait for a finishing thread, the facts with
#: the evaluator's round trip, the checks with the result, and the HTML report.
STAGE_TIMINGS = ("kernel_start", "cells", "export_teardown", "prepare_wait", "evaluate", "checks", "report")


def run_timings(record: RunRecord) -> dict[str, float]:
    """The wait for a kernel, the cells, and the rest of the run (the export and the kernel's teardown),
    from the run's record: numbers the sandbox reported, shown in benchmarks and deciding nothing."""
    kernel_start = sum(number for r in record.runner if r.get("event") == "kernel_ready"
                       and isinstance(number := r.get("seconds"), (int, float)))
    cells = sum(number for c in record.cells if isinstance(number := c.get("seconds"), (int, float)))
    return {"kernel_start": kernel_start, "cells": cells,
            "export_teardown": max(record.seconds - kernel_start - cells, 0.0)}


def finish_one(submission: Submission, exercise: str | None, started: pipeline.NotebookJob | ResultDocument,
               plan: GradingPlan, out: OutputFolder, workers: Workers, draw: bool = True) -> ResultDocument:
    """Stage 3 and the reports, on another thread, so the slot is free for the next notebook;
    the report and the result written into `out`. Without `draw`, no HTML report is drawn (a
    caller that reads only the results)."""
    document, _ = complete_one(submission, exercise, started, plan, workers,
                               write_report=out.report(submission.student).write_text, draw=draw)
    result_module.write(document, out.result(submission.student))
    return document


def complete_one(submission: Submission, exercise: str | None, started: pipeline.NotebookJob | ResultDocument,
                 plan: GradingPlan, workers: Workers | None, write_report: Callable[[str], object] | None = None,
                 draw: bool = True) -> tuple[ResultDocument, str]:
    """Stage 3 and the HTML report of one submission: its result document and report (the
    course service stores both; `grade` writes them as files, the report through `write_report`
    before the result is complete, so that its timings count the writing). A graded
    submission's result keeps the seconds each stage took (STAGE_TIMINGS). `started` may be a
    finished result already (an invalid notebook, or one graded on a Dask worker). Without
    `draw`, no report is drawn and the one returned is empty."""
    began = time.monotonic()
    timings: dict[str, float] = {}
    if isinstance(started, pipeline.NotebookJob):
        assert workers is not None, "a notebook run here is measured by this machine's evaluator"
        if started.record is not None:
            timings = run_timings(started.record)
            timings["prepare_wait"] = max(began - started.started - started.record.seconds, 0.0)
        assessed: list[float] = []
        document = pipeline.finish(started, workers.shared_evaluator(),
                                   on_facts=lambda _facts: assessed.append(time.monotonic()))
        timings.update(evaluate=assessed[0] - began, checks=time.monotonic() - assessed[0])  # finish() calls on_facts
    else:
        document = started
    processes.check_not_stopping()  # an interrupted grading is never recorded
    document["student"] = submission.student
    document["submission"] = submission.origin
    drawing = time.monotonic()  # the report first, then the result: its timings include the drawing
    try:
        html = ""
        if draw:
            report = report_model.build(document, plan.known_exercise(exercise), plan.lesson.test_data)
            html = documents.render_html(report)
            if write_report is not None:
                write_report(html)
    except Exception as error:  # noqa: BLE001 - the grade stands without its report, and is graded again
        document.setdefault("grader_fault", f"the report could not be drawn: {internal_error(error)}")
        html = documents.MISSING_REPORT
        if write_report is not None:
            write_report(html)
    if timings:
        if draw:
            timings["report"] = time.monotonic() - drawing
        document["timings"] = {stage: round(seconds, 3) for stage, seconds in timings.items()}
    return document, html


def split_done(collection: Collection, plan: GradingPlan, book: Gradebook,
               regrade: bool) -> tuple[list[GradedSubmission], list[InFlight]]:
    """Split the submissions into those already graded (and unchanged) and those to grade."""
    done: list[GradedSubmission] = []
    todo: list[InFlight] = []
    for submission in collection.submissions:
        exercise, notes = exercise_for(submission, plan)
        submission.notes.extend(notes)
        key = exercise or "?"
        rubric = plan.with_seed(submission.seed).rubric(plan.known_exercise(key))
        stored = None if regrade else book.done(submission.student, key, submission.digest, rubric)
        if stored is not None:
            done.append(GradedSubmission(submission, exercise, stored, reused=True))
        else:
            todo.append(InFlight(submission, exercise, rubric))
    return done, todo


def run(grading: Grading) -> BatchReport:
    """Grade every submission found in `grading.inputs` into `grading.out`; its `progress` hears of
    each one."""
    from .report import summary
    from .sandbox.slots import warm_path_available

    started = time.monotonic()
    plan, jobs, remote, early = grading.plan, grading.jobs, grading.remote, grading.early
    folder = OutputFolder(grading.out)
    folder.create()
    collection = collect(grading.inputs, plan.exercise_ids)
    for submission in collection.submissions:
        submission.seed = (grading.seeds or {}).get(submission.student)
    book = Gradebook(folder.gradebook)
    report = BatchReport(problems=list(collection.problems), jobs=jobs)
    done, todo = split_done(collection, plan, book, grading.regrade)
    local: Workers | None = None
    workers: Workers | RemoteWorkers
    wanted = remote is None and grading.warm and bool(todo) and (early is not None or warm_path_available())
    if early is not None and not (wanted and early.jobs == jobs):
        early.close()  # nothing to grade here, or not warm after all: its server is stopped mid-start
        early = None
    make_starter: Callable[[], Starter]
    if remote is None:
        # Warm up while the progress bar starts: the fork server and the evaluator take seconds.
        workers = local = early or Workers(wanted, jobs)
        make_starter = functools.partial(LocalStarter, local, plan)
        if todo and grading.reports:
            documents.warm_up()
    else:
        workers = remote  # each of its workers keeps a warm slot of its own
        make_starter = functools.partial(remote.starter, plan)
    report.execution = "cold" if local is not None and not local.warm else "warm"
    report.outcomes.extend(done)
    progress = grading.progress
    progress.start(total=len(done) + len(todo), reused=len(done))
    for outcome in done:
        progress.advance(outcome)
    try:
        starter = make_starter()
        with ThreadPoolExecutor(max_workers=jobs) as finisher:
            try:
                finish = functools.partial(finish_one, draw=grading.reports)
                _drain(_Flight(grading, starter, finisher, finish, folder, book, report, workers), todo)
            except KeyboardInterrupt:
                # Stop what is in flight now, rather than waiting for it: it is not recorded.
                report.interrupted = True
                processes.stop_all()
                starter.stop()
                finisher.shutdown(wait=True, cancel_futures=True)
            finally:
                starter.close()
    finally:
        if local is not None:
            local.close()
        book.close()
        report.seconds = round(time.monotonic() - started, 2)
        progress.finish(report)
    report.outcomes.sort(key=lambda o: o.submission.student)
    gradesheet.write_grades(report.outcomes, folder.grades)
    if "canvas" in grading.formats:
        report.canvas_left_out = gradesheet.write_canvas(report.outcomes, folder.canvas_grades,
                                                         grading.canvas_assignment)
    if grading.reports:  # a proof's batch is one solution and its mutants: nothing to compare for copies
        report.similar, report.similar_error = compare_submissions(report.outcomes, plan, grading.base)
    summary.write(report, folder.summary, folder.summary_json, folder.report_link)
    return report


def compare_submissions(outcomes: list[GradedSubmission], plan: GradingPlan,
                        base: tuple[GivenBase, ...] = ()) -> tuple[list[dict], str | None]:
    """Each exercise's submissions compared with one another (similarity.compare), on their files
    only; the groups, or none and the reason when the comparison itself failed (the grades and
    the rest of the summary stand without it)."""
    from . import similarity

    submitted = [similarity.Submitted(o.submission.student, o.exercise, o.submission.content)
                 for o in outcomes if o.exercise]
    try:
        return similarity.compare(submitted, plan.known_exercise, base), None
    except Exception as error:  # noqa: BLE001 - a fault of the comparison must not cost the class its summary
        return [], internal_error(error)


@dataclass
class _Flight:
    """A batch while it runs: what it grades, its two pools (the starter's sandbox slots and the
    finisher's threads) and where each result goes."""

    grading: Grading
    starter: Starter
    finisher: ThreadPoolExecutor
    finish: Callable[..., ResultDocument]
    folder: OutputFolder
    book: Gradebook
    report: BatchReport
    workers: Workers | RemoteWorkers


def _drain(flight: _Flight, todo: list[InFlight]) -> None:
    """Keep the starter's capacity of notebooks running; finish each on the other pool (facts,
    measurement, checks, reports) while its slot runs the next; record each result the
    moment it is ready."""
    starter, finisher, finish, plan = flight.starter, flight.finisher, flight.finish, flight.grading.plan
    running: dict[Future, InFlight] = {}
    queue = list(todo)
    while queue or running:
        in_slots = sum(1 for item in running.values() if item.stage == "run")
        while queue and in_slots < starter.capacity:
            item = queue.pop(0)
            running[starter.submit(item.submission, item.exercise)] = item
            in_slots += 1
        finished, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
        for future in finished:
            item = running.pop(future)
            submission, exercise = item.submission, item.exercise
            try:
                value = future.result()
            except processes.Stopped:
                continue
            except Exception as error:  # noqa: BLE001 - one submission's failure is not the batch's
                reason = str(error) if isinstance(error, AutograderError) else internal_error(error)
                value = pipeline.invalid_result(submission.origin, reason, None, time.monotonic())
                if isinstance(error, GraderFault) or not isinstance(error, AutograderError):
                    value["grader_fault"] = reason  # not the submission's doing: graded again next run
                if item.stage == "run":
                    follow = finisher.submit(finish, submission, exercise, value, plan, flight.folder, flight.workers)
                    running[follow] = InFlight(submission, exercise, item.rubric, "finish")
                    continue
            if item.stage == "run":
                follow = finisher.submit(finish, submission, exercise, value, plan, flight.folder, flight.workers)
                running[follow] = InFlight(submission, exercise, item.rubric, "finish")
                continue
            try:
                flight.book.record(submission.student, exercise or "?", submission.digest, item.rubric,
                                   submission.origin, value)
            except Exception as error:  # noqa: BLE001 - a result the gradebook refuses ends only this one
                reason = internal_error(error)
                value = pipeline.invalid_result(submission.origin, reason, None, time.monotonic())
                value["grader_fault"] = reason  # not recorded: graded again on the next run
                value["student"] = submission.student
            outcome = GradedSubmission(submission, exercise, value)
            flight.report.outcomes.append(outcome)
            flight.grading.progress.advance(outcome)
