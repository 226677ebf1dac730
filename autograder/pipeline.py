"""The one pipeline: read notebook -> execute in sandbox -> recorded facts ->
checks -> result. `check`, `grade` and every other entry point call `grade_notebook`."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from . import checks, data, exercises, facts as facts_stage, modelfile, notebook, result
from .evaluation import Evaluator, EvaluatorError
from .sandbox import Limits, run_notebook

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

    def limits(self) -> Limits:
        if self.timeout <= 0:
            raise UsageError(f"--timeout must be positive, not {self.timeout}")
        cell = self.cell_timeout or min(DEFAULT_CELL_TIMEOUT, self.timeout)
        extra = {"memory_bytes": self.memory_mb * 2**20} if self.memory_mb else {}
        return Limits(notebook_timeout=float(self.timeout), cell_timeout=float(min(cell, self.timeout)), **extra)


def resolve_exercise(options: Options, node) -> exercises.Exercise:
    exercise_id = options.exercise or (notebook.exercise_of(node) if node is not None else None)
    if not exercise_id:
        raise UsageError("no exercise given: pass --exercise (keras-dense or keras-deeper), or name it in "
                         "the notebook's metadata")
    try:
        return exercises.get(exercise_id).with_threshold(options.threshold, options.hide_threshold)
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
    """Screen and describe each saved model file, without loading any code."""
    reports = {}
    for serial, path in paths.items():
        raw = Path(path).read_bytes()
        try:
            config = modelfile.read_config(raw)
        except modelfile.ModelFileError as error:
            reports[serial] = {"error": str(error), "problems": [str(error)]}
            continue
        report = {"problems": modelfile.screen(config), "iterations": modelfile.read_iterations(raw)}
        try:
            report["structure"] = modelfile.describe(config).to_dict()
        except Exception as error:  # noqa: BLE001 - an odd config is a verdict, not a crash
            report["problems"].append(f"its configuration could not be read ({type(error).__name__})")
        reports[serial] = report
    return reports


def grade_notebook(path: str, options: Options, lesson: data.LessonData | None = None,
                   on_facts: Callable[[facts_stage.Facts], None] | None = None) -> dict:
    """Grade one notebook file; always returns a result document, never raises for bad input.

    UsageError is raised only for a misused command (unknown exercise, bad data file).
    `on_facts` is called with the recorded facts before the checks run.
    """
    started = time.monotonic()
    try:
        node = notebook.read(path)
    except notebook.NotebookError as error:
        exercise = None
        if options.exercise:
            exercise = resolve_exercise(options, None)
        return invalid_result(path, str(error), exercise, started)
    exercise = resolve_exercise(options, node)
    limits = options.limits()
    lesson = lesson or resolve_data(options.data)
    with tempfile.TemporaryDirectory(prefix="autograder-grade-") as work, Evaluator() as evaluator:
        work = Path(work)
        data_file = work / "fashion.npz"
        lesson.save(data_file)
        test_file = work / "test.npz"
        np.savez(test_file, test_data=lesson.test_data)
        models_dir = work / "models"
        models_dir.mkdir()
        run = run_notebook(node, data_file, limits, models_dir, isolation=options.isolation, seed=options.seed)
        reports = analyse_models(run.models)
        test_classes = lesson.test_labels.argmax(axis=1).tolist()
        facts = facts_stage.build(exercise, run, notebook.code_sources(node), lesson.shapes(),
                                  test_classes, reports)
        graded = facts.graded_model
        if graded is not None and not reports.get(graded, {}).get("problems"):
            try:
                predictions = evaluator.evaluate({graded: run.models[graded]}, str(test_file))
            except EvaluatorError as error:
                predictions = {graded: {"error": str(error)}}
            facts_stage.measure(facts, predictions.get(graded, {}), test_classes)
    if on_facts is not None:
        on_facts(facts)
    outcomes = checks.run_checks(facts, exercise)
    return result.build(exercise, Path(path).name, facts, outcomes, time.monotonic() - started)
