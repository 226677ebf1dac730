"""The one pipeline: read notebook -> execute in sandbox -> recorded facts -> checks ->
causes -> result. Every entry point (`check`, `grade`, the pytest plugin, the Gradescope archive,
the self-check) makes a GradingPlan once (plan.make_plan) and calls these stages.

`grade_notebook` runs the three stages in a row. `grade` runs them apart: `prepare`
and `execute` on a thread that owns a sandbox slot, `finish` on another, so that a slot
is free for the next notebook while this one's facts are measured.
"""
from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import numpy as np

from .. import data, modelfile, notebook
from ..exercise import registry as exercises
from ..sandbox import RunRecord, run_notebook
from ..scratch import ScratchFolder
from . import causes, checks, facts as facts_stage, leakage, result
from .evaluation import Evaluator, EvaluatorError
from .plan import GradingPlan


def invalid_result(path: str, reason: str, exercise: exercises.Exercise | None,
                   started: float, submission_problem: bool = False) -> result.ResultDocument:
    """The result of a notebook that could not be graded. `submission_problem`: the reason is about
    the files handed in (none, or several notebooks), not about a notebook that could not be read."""
    document = result.build(exercise, Path(path).name, None,
                            checks.not_graded(exercise, f"The notebook could not be graded: {reason}.")
                            if exercise else [],
                            time.monotonic() - started, status="invalid", reason=reason)
    if submission_problem and document.get("causes"):
        document["causes"] = [result.submission_cause(reason, document["causes"][0]["checks"])]
    return document


def not_run(exercise: exercises.Exercise, notebook_name: str, reason: str, isolation: str,
            duration: float) -> result.ResultDocument:
    """The result of a notebook the grader could not run: every check undecided, one cause, the
    grader's fault named (the result is not final: `grade` grades it again)."""
    outcomes = checks.undecided(exercise, f"Not decided: {reason}; the grader failed, not the notebook.")
    document = result.build(exercise, notebook_name, None, outcomes, duration, status="kernel_died")
    document["causes"] = [result.grader_cause(reason, [c["id"] for c in outcomes])]
    document["checks"] = [result.with_cause(c, "c1") for c in outcomes]
    document["isolation"] = isolation
    document["grader_fault"] = reason
    return document


def analyse_models(paths: dict[int, str]) -> dict[int, dict[str, Any]]:
    """Screen and describe each saved model file, without loading any code.

    Only the JSON config is read here; the binary weights (HDF5) are parsed by the
    evaluator process, where a malformed file can crash nothing but that process.
    """
    reports: dict[int, dict[str, Any]] = {}
    for serial, path in paths.items():
        raw = Path(path).read_bytes()
        try:
            config = modelfile.read_config(raw)
        except modelfile.ModelFileError as error:
            reports[serial] = {"error": str(error), "problems": [str(error)]}
            continue
        problems = modelfile.screen(config)
        report: dict[str, Any] = {"problems": problems}
        try:
            report["structure"] = modelfile.describe(config).to_dict()
        except modelfile.ModelFileError as error:
            problems.append(str(error))
        except Exception as error:  # noqa: BLE001 - an odd config is a verdict, not a crash
            problems.append(f"its configuration could not be read ({type(error).__name__})")
        reports[serial] = report
    return reports


@dataclass
class NotebookJob:
    """One notebook between the stages: read and ready to run, then run, then finished."""

    path: str
    node: nbformat.NotebookNode
    exercise: exercises.Exercise
    plan: GradingPlan
    started: float
    work: ScratchFolder
    record: RunRecord | None = None

    @property
    def folder(self) -> Path:
        return Path(self.work.name)


def prepare(path: str, plan: GradingPlan,
            exercise: exercises.Exercise | None = None) -> NotebookJob | result.ResultDocument:
    """Stage 1: read the notebook and lay out its work folder; an unreadable one is a result already.

    The exercise is `exercise`, else the plan's, else the one the notebook's metadata names.
    """
    started = time.monotonic()
    exercise = exercise or plan.exercise
    try:
        node = notebook.read(path)
    except notebook.NotebookError as error:
        return invalid_result(path, str(error), exercise, started)
    exercise = exercise or plan.exercise_for(notebook.exercise_of(node))
    job = NotebookJob(path, node, exercise, plan, started, ScratchFolder("autograder-grade-"))
    try:
        plan.lesson.save(job.folder / "fashion.npz")
        np.savez(job.folder / "test.npz", test_data=plan.lesson.test_data)
        if plan.holdout is not None:  # the grader's folder: only fashion.npz is copied into the sandbox
            plan.holdout.save_images(job.folder / "holdout.npz")
        (job.folder / "models").mkdir()
    except BaseException:
        job.work.cleanup()  # a full disk: nothing of this submission is left behind
        raise
    return job


def execute(job: NotebookJob, run: Callable[..., RunRecord] = run_notebook) -> NotebookJob:
    """Stage 2: run the notebook in the sandbox (a fresh one, or a warm slot's)."""
    try:
        job.record = run(job.node, job.folder / "fashion.npz", job.plan.limits, job.folder / "models",
                         isolation=job.plan.isolation, seed=job.plan.seed)
    except BaseException:
        job.work.cleanup()
        raise
    return job


def assess(exercise: exercises.Exercise, record: RunRecord, sources: dict[int, str], lesson: data.LessonData,
           evaluator: Evaluator | None, test_file: str | None,
           holdout: tuple[data.Holdout, str] | None = None, faults: list[str] | None = None) -> facts_stage.Facts:
    """The facts of one run, and, given an evaluator, the grader's own measurement of the graded
    model on `test_file` (the pristine test images) and on the holdout's images, if there is
    one. Reads model files as data only. A measurement the evaluator failed (not the model)
    is appended to `faults`, so that the result is not kept as final."""
    reports = analyse_models(record.models)
    test_classes = lesson.test_labels.argmax(axis=1).tolist()
    facts = facts_stage.build(exercise, record, sources, lesson.shapes(), test_classes, reports)
    graded = facts.graded_model
    if evaluator is None or test_file is None or graded is None or reports.get(graded, {}).get("problems"):
        return facts

    def evaluated(images: str) -> dict[str, Any]:
        try:
            reply: dict[str, Any] = evaluator.evaluate({graded: record.models[graded]}, images).get(graded, {})
            return reply
        except EvaluatorError as error:
            if faults is not None:
                faults.append(str(error))
            return {"error": str(error)}

    facts_stage.measure(facts, evaluated(test_file), test_classes)
    if holdout is not None and facts.test_accuracy is not None:
        hidden, images = holdout
        facts_stage.measure_holdout(facts, evaluated(images), hidden.classes)
        facts.holdout_comparison = leakage.compare(facts)  # once: the accuracy check and the metrics read it
    return facts


def never_ran(record: RunRecord) -> str | None:
    """Why nothing of the notebook ran, when nothing did: its kernel never became ready. No code
    of a notebook runs before then, so this is the grader's failure (its sandbox, its Python, the
    machine), never the notebook's: it must not read as "the kernel died" in the student's code."""
    if any(r.get("event") == "kernel_ready" for r in record.runner):
        return None
    error = next((str(r["error"]) for r in record.runner
                  if r.get("event") in ("kernel_failed", "runner_error") and r.get("error")), None)
    if error:
        return f"the notebook's Python kernel could not start ({error})"
    return "the sandbox ended before the notebook's Python kernel was ready"


def judge(exercise: exercises.Exercise, name: str, facts: facts_stage.Facts, started: float,
          headings: dict[int, str] | None = None) -> result.ResultDocument:
    """The stages after the measurement: checks -> causes -> result, on facts alone (`started`: when
    the grading began, time.monotonic())."""
    outcomes = checks.run_checks(facts, exercise)
    found, _ = causes.analyse(facts, outcomes, exercise, headings)
    return result.build(exercise, name, facts, outcomes, time.monotonic() - started, headings=headings,
                        causes=found)


def finish(job: NotebookJob, evaluator: Evaluator,
           on_facts: Callable[[facts_stage.Facts], None] | None = None) -> result.ResultDocument:
    """Stage 3: facts (with the grader's own measurement) -> checks -> causes -> result. Never runs
    student code."""
    if job.record is None:
        job.work.cleanup()
        raise RuntimeError("finish() needs a job that execute() has run")
    faults: list[str] = []
    try:
        holdout = (job.plan.holdout, str(job.folder / "holdout.npz")) if job.plan.holdout is not None else None
        facts = assess(job.exercise, job.record, notebook.code_sources(job.node), job.plan.lesson, evaluator,
                       str(job.folder / "test.npz"), holdout, faults)
    finally:
        job.work.cleanup()
    never = never_ran(job.record)
    if never is not None:
        return not_run(job.exercise, Path(job.path).name, never, job.record.isolation,
                       time.monotonic() - job.started)
    if on_facts is not None:
        on_facts(facts)
    document = judge(job.exercise, Path(job.path).name, facts, job.started, notebook.headings(job.node))
    if job.record.network:
        document["network"] = job.record.network
    undecided = [check["id"] for check in document["checks"] if check["diagnosis"] == checks.UNDECIDED]
    if undecided:
        faults.append(f"the grader could not decide {', '.join(undecided)}")
    if faults:
        document["grader_fault"] = faults[0]
    document["graded_with"] = job.plan.graded_with()
    return document


def grade_notebook(path: str, plan: GradingPlan, on_facts: Callable[[facts_stage.Facts], None] | None = None,
                   run: Callable[..., RunRecord] = run_notebook,
                   evaluator: Evaluator | None = None) -> result.ResultDocument:
    """Grade one notebook file: the three stages in a row. Always returns a result document.

    UsageError is raised only for a misused command (no exercise given or named). `on_facts`
    is called with the recorded facts before the checks run. `run` executes the notebook;
    `evaluator` may be a warm one, otherwise one is started here, early, so that its
    TensorFlow import overlaps the notebook's run.
    """
    job = prepare(path, plan)
    if not isinstance(job, NotebookJob):
        return job
    with (Evaluator() if evaluator is None else contextlib.nullcontext(evaluator)) as running:
        return finish(execute(job, run), running, on_facts)
