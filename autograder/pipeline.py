"""The one pipeline: read notebook -> execute in sandbox -> recorded facts ->
checks -> result. `check`, `grade` and every other entry point call `grade_notebook`."""
from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import checks, data, exercises, facts as facts_stage, modelfile, notebook, result
from .evaluation import Evaluator, EvaluatorError
from .sandbox import Limits, RunRecord, run_notebook

DEFAULT_TIMEOUT = 240.0
DEFAULT_CELL_TIMEOUT = 180.0


class UsageError(ValueError):
    """The command was misused (unknown exercise, bad data file, ...): exit status 2."""


@dataclass(frozen=True)
class Options:
    exercise: str | None = None
    data: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    cell_timeout: float | None = None
    threshold: float | None = None
    hide_threshold: bool = False
    isolation: str = "auto"
    memory_mb: int | None = None
    seed: int = 0
    data_digest: str = ""  # which data the verdicts were measured on (for the gradebook)
    holdout: str | None = None  # the instructor's hidden test images (see resolve_holdout)
    show_holdout: bool = False  # may students see the accuracy on the holdout?
    holdout_digest: str = ""

    def limits(self) -> Limits:
        if self.timeout <= 0:
            raise UsageError(f"--timeout must be positive, not {self.timeout}")
        cell = self.cell_timeout or min(DEFAULT_CELL_TIMEOUT, self.timeout)
        extra = {"memory_mb": self.memory_mb} if self.memory_mb else {}
        return Limits(timeout_s=float(self.timeout), cell_timeout_s=float(min(cell, self.timeout)), **extra)


def resolve_holdout(options: Options) -> data.Holdout | None:
    """The hidden holdout, read and validated, once it is certain no notebook can read it.

    Only bubblewrap hides the grader's files from a notebook, and only those outside the
    folders it shows (the system's and Python's): anywhere else the holdout would not be hidden.
    """
    if options.holdout is None:
        return None
    from .sandbox import isolation

    try:
        chosen = isolation.choose(options.isolation)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if chosen != isolation.BUBBLEWRAP:
        raise UsageError("--holdout needs bubblewrap isolation: without it a notebook can read every file "
                         "the grader can, the holdout too")
    visible = isolation.sandbox_readable(options.holdout)
    if visible:
        raise UsageError(f"the holdout file {options.holdout} is inside {visible}, which notebooks can read; "
                         "keep it somewhere else")
    return _load_holdout(os.path.realpath(options.holdout))


@functools.lru_cache(maxsize=4)
def _load_holdout(path: str) -> data.Holdout:
    try:
        return data.load_holdout(path)
    except data.DataError as error:
        raise UsageError(str(error)) from None


def resolve_exercise(options: Options, node) -> exercises.Exercise:
    exercise_id = options.exercise or (notebook.exercise_of(node) if node is not None else None)
    if not exercise_id:
        raise UsageError("no exercise given: pass --exercise (keras-dense or keras-deeper), or name it in "
                         "the notebook's metadata")
    try:
        return exercises.get(exercise_id).with_threshold(options.threshold, options.hide_threshold,
                                                          options.show_holdout)
    except (exercises.UnknownExercise, ValueError) as error:
        raise UsageError(str(error)) from None


def resolve_data(path: str | None) -> data.LessonData:
    if path is None:
        return data.make_standin()
    try:
        return data.load(path)
    except data.DataError as error:
        raise UsageError(str(error)) from None


def invalid_result(path: str, reason: str, exercise: exercises.Exercise | None, started: float) -> dict:
    return result.build(exercise, Path(path).name, None,
                        checks.not_graded(exercise, f"The notebook could not be graded: {reason}.")
                        if exercise else [],
                        time.monotonic() - started, status="invalid", reason=reason)


def analyse_models(paths: dict[int, str]) -> dict[int, dict]:
    """Screen and describe each saved model file, without loading any code.

    Only the JSON config is read here; the binary weights (HDF5) are parsed by the
    evaluator process, where a malformed file can crash nothing but that process.
    """
    reports = {}
    for serial, path in paths.items():
        raw = Path(path).read_bytes()
        try:
            config = modelfile.read_config(raw)
        except modelfile.ModelFileError as error:
            reports[serial] = {"error": str(error), "problems": [str(error)]}
            continue
        report = {"problems": modelfile.screen(config)}
        try:
            report["structure"] = modelfile.describe(config).to_dict()
        except Exception as error:  # noqa: BLE001 - an odd config is a verdict, not a crash
            report["problems"].append(f"its configuration could not be read ({type(error).__name__})")
        reports[serial] = report
    return reports


@dataclass
class Job:
    """One notebook between the stages: read and ready to run, then run, then finished."""

    path: str
    node: object
    exercise: exercises.Exercise
    limits: Limits
    lesson: data.LessonData
    started: float
    work: tempfile.TemporaryDirectory
    holdout: data.Holdout | None = None
    record: RunRecord | None = None

    @property
    def folder(self) -> Path:
        return Path(self.work.name)


def prepare(path: str, options: Options, lesson: data.LessonData | None = None) -> Job | dict:
    """Stage 1: read the notebook and lay out its work folder; an unreadable one is a result already."""
    started = time.monotonic()
    try:
        node = notebook.read(path)
    except notebook.NotebookError as error:
        exercise = resolve_exercise(options, None) if options.exercise else None
        return invalid_result(path, str(error), exercise, started)
    exercise = resolve_exercise(options, node)
    job = Job(path, node, exercise, options.limits(), lesson or resolve_data(options.data), started,
              tempfile.TemporaryDirectory(prefix="autograder-grade-"), resolve_holdout(options))
    job.lesson.save(job.folder / "fashion.npz")
    np.savez(job.folder / "test.npz", test_data=job.lesson.test_data)
    if job.holdout is not None:  # the grader's folder: only fashion.npz is copied into the sandbox
        job.holdout.save_images(job.folder / "holdout.npz")
    (job.folder / "models").mkdir()
    return job


def execute(job: Job, options: Options, run: Callable = run_notebook) -> Job:
    """Stage 2: run the notebook in the sandbox (a fresh one, or a warm slot's)."""
    try:
        job.record = run(job.node, job.folder / "fashion.npz", job.limits, job.folder / "models",
                         isolation=options.isolation, seed=options.seed)
    except BaseException:
        job.work.cleanup()
        raise
    return job


def assess(exercise: exercises.Exercise, record: RunRecord, sources: dict[int, str], lesson: data.LessonData,
           evaluator: Evaluator | None, test_file: str | None,
           holdout: tuple[data.Holdout, str] | None = None) -> facts_stage.Facts:
    """The facts of one run, and, given an evaluator, the grader's own measurement of the graded
    model on `test_file` (the pristine test images) and on the holdout's images, if there is
    one. Reads model files as data only."""
    reports = analyse_models(record.models)
    test_classes = lesson.test_labels.argmax(axis=1).tolist()
    facts = facts_stage.build(exercise, record, sources, lesson.shapes(), test_classes, reports)
    graded = facts.graded_model
    if evaluator is None or graded is None or reports.get(graded, {}).get("problems"):
        return facts

    def evaluated(images: str) -> dict:
        try:
            return evaluator.evaluate({graded: record.models[graded]}, images).get(graded, {})
        except EvaluatorError as error:
            return {"error": str(error)}

    facts_stage.measure(facts, evaluated(test_file), test_classes)
    if holdout is not None and facts.test_accuracy is not None:
        hidden, images = holdout
        facts_stage.measure_holdout(facts, evaluated(images), hidden.classes)
    return facts


def finish(job: Job, evaluator: Evaluator,
           on_facts: Callable[[facts_stage.Facts], None] | None = None) -> dict:
    """Stage 3: facts, the grader's own measurement, checks, result. Never runs student code."""
    try:
        holdout = (job.holdout, str(job.folder / "holdout.npz")) if job.holdout is not None else None
        facts = assess(job.exercise, job.record, notebook.code_sources(job.node), job.lesson, evaluator,
                       str(job.folder / "test.npz"), holdout)
    finally:
        job.work.cleanup()
    if on_facts is not None:
        on_facts(facts)
    outcomes = checks.run_checks(facts, job.exercise)
    return result.build(job.exercise, Path(job.path).name, facts, outcomes, time.monotonic() - job.started)


def grade_notebook(path: str, options: Options, lesson: data.LessonData | None = None,
                   on_facts: Callable[[facts_stage.Facts], None] | None = None,
                   run: Callable = run_notebook, evaluator: Evaluator | None = None) -> dict:
    """Grade one notebook file: the three stages in a row. Always returns a result document.

    UsageError is raised only for a misused command (unknown exercise, bad data file).
    `on_facts` is called with the recorded facts before the checks run. `run` executes the
    notebook; `evaluator` may be a warm one, otherwise one is started here, early, so that its
    TensorFlow import overlaps the notebook's run.
    """
    job = prepare(path, options, lesson)
    if isinstance(job, dict):
        return job
    with (Evaluator() if evaluator is None else contextlib.nullcontext(evaluator)) as evaluator:
        return finish(execute(job, options, run), evaluator, on_facts)
