"""`autograder grade`: a whole class, in parallel, resumable, into a gradebook.

Each submission goes through the same pipeline as `autograder check`, in its
own sandbox. Results are committed to the gradebook the moment they are
ready; a re-run skips what is already graded with the same notebook, exercise
and rubric. Bad inputs are listed, never fatal.
"""
from __future__ import annotations

import dataclasses
import functools
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from .. import identity, notebook, processes
from ..errors import AutograderError, GraderFault, NotGradable, internal_error
from ..grading import pipeline, result as result_module
from ..grading.plan import GradingPlan
from ..grading.result import ResultDocument
from ..report import documents, model as report_model
from ..sandbox import RunRecord
from ..sandbox.slots import once
from . import sheets as gradesheet
from .collect import Collection, Problem, Submission, collect
from .desk import decisions, feedback, overrides, policy as desk_policy
from .gradebook import NO_EXERCISE, Gradebook
from .outputs import OutputFolder
from .progress import counts_line
from .workers import Workers

if TYPE_CHECKING:
    from ..similarity.base import GivenBase

GRADED_STATUSES = ("graded", "timeout", "kernel_died")


@dataclass
class GradedSubmission:
    """One submission's result in the batch; `reused` when the gradebook already had it."""

    submission: Submission
    exercise: str | None
    result: ResultDocument
    reused: bool = False
    #: From the gradebook, not among this run's submissions: a student graded on an earlier run,
    #: kept in the class files when another is regraded alone.
    kept: bool = False


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
    #: The instructor's overrides, late policy, submission times and feedback zips (desk/).
    desk: Desk | None = None


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
    #: The whole class with the instructor's decisions applied (desk.decisions.Final), as the
    #: class files show it; `outcomes` are the same, their results' `score` the final grade.
    finals: list = field(default_factory=list)
    overrides_recorded: int = 0
    feedback: dict = field(default_factory=dict)  # LMS -> desk.feedback.Written

    @property
    def this_run(self) -> list[GradedSubmission]:
        """The outcomes of this run's submissions (graded now or unchanged), not those kept from earlier runs."""
        return [o for o in self.outcomes if not o.kept]

    def counts(self) -> str:
        return counts_line(self)

    @property
    def all_graded(self) -> bool:
        return not self.problems and not self.interrupted and all(
            o.result["status"] in GRADED_STATUSES for o in self.this_run)


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
            # A file that is not a notebook says so first: no exercise could have graded it.
            try:
                notebook.parse(submission.content, name)
            except NotGradable as error:
                return pipeline.invalid_result(str(path), str(error), None, started)
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
        key = exercise or NO_EXERCISE
        rubric = plan.with_seed(submission.seed).rubric(plan.known_exercise(key))
        stored = None if regrade else book.done(submission.student, key, submission.digest, rubric)
        if stored is not None:
            done.append(GradedSubmission(submission, exercise, stored, reused=True))
        else:
            todo.append(InFlight(submission, exercise, rubric))
    return done, todo


def run(grading: Grading) -> BatchReport:
    """Grade every submission found in `grading.inputs` into `grading.out`; its `progress` hears of
    each one.

    The class files (grades.csv, the Canvas file, the summary, the feedback zips) are written
    from the whole gradebook, with the instructor's decisions applied: grading one student, or a
    few, into an existing `out` rewrites them for the whole class."""
    from ..report import summary
    from ..sandbox.slots import warm_path_available

    started = time.monotonic()
    plan, jobs, remote, early = grading.plan, grading.jobs, grading.remote, grading.early
    folder = OutputFolder(grading.out)
    folder.create()
    collection = collect(grading.inputs, plan.exercise_ids)
    for submission in collection.submissions:
        submission.seed = (grading.seeds or {}).get(submission.student)
    book = Gradebook(folder.gradebook)
    desk = grading.desk or Desk()
    # The class files an earlier run wrote are written again: one student regraded alone must
    # not leave the Canvas file or the feedback zip as they were.
    formats, canvas_assignment = remembered_formats(book, grading.formats, grading.canvas_assignment)
    if desk.policy is None:  # the late policy given before holds until another is given
        desk = dataclasses.replace(desk, policy=desk_policy.Policy.from_data(book.remembered("policy")))
    else:
        book.remember("policy", desk.policy.as_data())
    report = BatchReport(problems=list(collection.problems), jobs=jobs)
    done, todo = split_done(collection, plan, book, grading.regrade)
    try:  # the instructor's overrides are checked against the class before anyone is graded
        report.overrides_recorded = desk.record(book, [*done, *((item.submission, item.exercise) for item in todo)])
        for outcome in done:  # a time given on this run; one given before stays otherwise
            if outcome.submission.student in desk.times:
                book.set_time(outcome.submission.student, outcome.exercise or NO_EXERCISE,
                              desk.times[outcome.submission.student])
    except BaseException:
        book.close()
        raise
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
                _drain(_Flight(grading, starter, finisher, finish, folder, book, report, workers, desk.times), todo)
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
    entries, decided = whole_class(folder.gradebook, report.outcomes)
    report.finals = desk.finals(entries, decided)
    report.outcomes = [cast(GradedSubmission, final.outcome) for final in report.finals]
    gradesheet.write_table(decisions.rows(report.finals), folder.grades)
    if "canvas" in formats:
        report.canvas_left_out = gradesheet.write_canvas(report.outcomes, folder.canvas_grades, canvas_assignment)
    if "moodle-feedback" in formats:
        report.feedback["moodle"] = feedback.write_moodle(report.finals, folder.feedback("moodle"), folder.report)
    if grading.reports:  # a proof's batch is one solution and its mutants: nothing to compare for copies
        report.similar, report.similar_error = compare_submissions(report.outcomes, plan, grading.base)
    summary.write(report, folder.summary, folder.summary_json, folder.report_link)
    return report


def remembered_formats(book: Gradebook, formats: tuple[str, ...], canvas_assignment: str | None
                       ) -> tuple[tuple[str, ...], str | None]:
    """The class files to write: this run's --format, and every one an earlier run into this
    gradebook asked for; the Canvas column given now, else the one given before."""
    before = book.remembered("formats")
    kept = tuple(str(f) for f in before) if isinstance(before, list) else ()
    wanted = tuple(dict.fromkeys((*kept, *formats)))
    if canvas_assignment is None:
        earlier = book.remembered("canvas_assignment")
        canvas_assignment = earlier if isinstance(earlier, str) else None
    book.remember("formats", list(wanted))
    book.remember("canvas_assignment", canvas_assignment)
    return wanted, canvas_assignment


def whole_class(gradebook: Path, this_run: list[GradedSubmission]
                ) -> tuple[list[tuple[GradedSubmission, float | None]], decisions.Decided]:
    """Every student and exercise of the gradebook, with their submission's time: this run's
    outcomes as they are, every other one as the gradebook kept it (`kept`); a result of this
    run the gradebook could not keep is listed too. By student, then exercise. And the
    decisions in force."""
    book = Gradebook(gradebook)
    try:
        stored = book.kept()
        decided = decisions.Decided.read(book)
    finally:
        book.close()
    now = {(o.submission.student, o.exercise or NO_EXERCISE): o for o in this_run}
    entries: dict[tuple[str, str], tuple[GradedSubmission, float | None]] = {}
    for submission, exercise, document, submitted_at in stored:
        key = (submission.student, exercise)
        outcome = now.pop(key, None)
        if outcome is None:
            outcome = GradedSubmission(submission, None if exercise == NO_EXERCISE else exercise, document,
                                       reused=True, kept=True)
        entries[key] = (outcome, submitted_at)
    for key, outcome in now.items():
        entries[key] = (outcome, None)
    return [entries[key] for key in sorted(entries)], decided


@dataclass
class Desk:
    """The instructor's desk for `grade` (docs/desk.md): overrides to record (already read and
    checked line by line, desk.overrides.read), the late policy, and each student's submission
    time from the instructor's LMS."""

    overrides: list[overrides.Override] = field(default_factory=list)
    overrides_file: str = ""
    #: None: the policy an earlier run gave (kept in the gradebook), or none
    policy: desk_policy.Policy | None = None
    times: Mapping[str, float] = field(default_factory=dict)
    by: str | None = None

    def record(self, book: Gradebook, submissions) -> int:
        """Check the overrides against the class (this run's submissions and the gradebook's) and
        record those not already in force; UsageError naming a bad line, before anything is recorded."""
        if not self.overrides:
            return 0
        classes: dict[str, set[str]] = {}
        for student, kept in book.keys():
            classes.setdefault(student, set()).add(kept)
        for item in submissions:
            submission, exercise = ((item.submission, item.exercise) if isinstance(item, GradedSubmission)
                                    else item)
            classes.setdefault(submission.student, set()).add(exercise or NO_EXERCISE)
        resolved = overrides.resolve(self.overrides_file, self.overrides, classes)
        return overrides.record(book, resolved, self.by)

    def finals(self, entries: list[tuple[GradedSubmission, float | None]],
               decided: decisions.Decided) -> list[decisions.Final]:
        """Each outcome with the decisions in force applied: late by the policy when its time is
        known (else as the LMS's file name says), overridden, commented."""
        return [self._final(outcome, submitted_at, decided) for outcome, submitted_at in entries]

    def _final(self, outcome: GradedSubmission, submitted_at: float | None,
               decided: decisions.Decided) -> decisions.Final:
        graded = outcome.result["status"] != "invalid"
        row = {"student": outcome.submission.student, "submitted_at": submitted_at,
               "score": outcome.result.get("score") if graded else None}
        found = decisions.standing(self.policy or desk_policy.Policy(), decided, row)
        submission = outcome.submission
        if submitted_at is not None:
            submission = dataclasses.replace(submission, name=dataclasses.replace(submission.name, late=found.late))
        return decisions.apply(outcome, found, decided, rebuild=lambda o, document: dataclasses.replace(
            o, submission=submission, result=document))


def compare_submissions(outcomes: list[GradedSubmission], plan: GradingPlan,
                        base: tuple[GivenBase, ...] = ()) -> tuple[list[dict], str | None]:
    """Each exercise's submissions compared with one another (similarity.compare), on their files
    only; the groups, or none and the reason when the comparison itself failed (the grades and
    the rest of the summary stand without it)."""
    from .. import similarity

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
    #: When each student submitted, from the instructor's LMS (desk.files.read_times).
    times: Mapping[str, float]


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
                flight.book.record(submission.student, exercise or NO_EXERCISE, submission.digest, item.rubric,
                                   submission.origin, value, submission, flight.times.get(submission.student))
            except Exception as error:  # noqa: BLE001 - a result the gradebook refuses ends only this one
                reason = internal_error(error)
                value = pipeline.invalid_result(submission.origin, reason, None, time.monotonic())
                value["grader_fault"] = reason  # not recorded: graded again on the next run
                value["student"] = submission.student
            outcome = GradedSubmission(submission, exercise, value)
            flight.report.outcomes.append(outcome)
            flight.grading.progress.advance(outcome)
