"""Proving an exercise before students see it (`autograder exercise prove`, DESIGN.md "Proving an exercise").

    calibration.py   the solution's accuracy over seeds: false-fail chance, suggested threshold
    source.py        the solution's code parsed, and edits made by position
    forms.py         which calls are the declared layers, how the model is put together
    mutants.py       the solution with one typical mistake each, and what must catch it
    equivalents.py   the solution in other correct forms
    running.py       all of them graded as one class, by batch.run (warm slots or Dask)
    verdicts.py      whether each proof held, and how to fix the file when one did not
    document.py      the proof document, autograder.proof/1
    report.py        the HTML report and the terminal summary

`prove` runs them in that order and returns the proof document; its `holds` is the exit status.
Beside them, authoring.py writes an exercise file from a solution (`autograder exercise new`),
its threshold calibrated as the proofs calibrate.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from .. import notebook
from ..batch import run as batch
from ..batch.workers import Workers
from ..errors import UsageError
from ..grading.plan import GradingPlan
from . import document as proof_document, verdicts
from .calibration import DEFAULT_RUNS, FALSE_FAIL_LEVEL, Calibration
from .equivalents import equivalents
from .mutants import Solution, mutants
from .running import Job, grade_all
from .source import changed_lines

__all__ = ["DEFAULT_RUNS", "FALSE_FAIL_LEVEL", "prove"]

#: The mutant that is trained never: what an untrained model reaches.
UNTRAINED = "never-trained"


def calibration_id(seed: int) -> str:
    return f"calibration-{seed}"


def untrained_id(seed: int) -> str:
    return f"untrained-{seed}"


def _distinct(problems: list[verdicts.Problem]) -> list[verdicts.Problem]:
    """The untrained side of the threshold said once: the untrained mutant (seed 0) and the
    untrained runs of the calibration (every seed) find the same weakness."""
    untrained_said = any(p.proof == UNTRAINED and p.expectation == "threshold" for p in problems)
    return [p for p in problems if not (untrained_said and p.proof == "calibration"
                                        and p.what.startswith("an untrained model"))]


def prove(solution_path: str, plan: GradingPlan, runs: int, parallel: int, progress, *, warm: bool = True,
          early: Workers | None = None, remote: batch.RemoteWorkers | None = None) -> dict[str, Any]:
    """The proof of the plan's exercise with this solution: the proof document (its `holds`
    says whether every proof held). UsageError when the solution cannot be read."""
    started = time.monotonic()
    exercise = plan.exercise
    if exercise is None:
        raise UsageError("exercise prove needs an exercise")
    if runs < 1:
        raise UsageError("--runs must be at least 1")
    try:
        solution_notebook = notebook.read(solution_path)
    except notebook.NotebookError as error:
        raise UsageError(str(error)) from None
    solution = Solution(solution_notebook, exercise)
    made_mutants, skipped_mutants = mutants(solution)
    made_equivalents, skipped_equivalents = equivalents(solution)
    jobs = [Job(calibration_id(seed), solution_notebook, seed) for seed in range(runs)]
    jobs += [Job(f"mutant-{variant.id}", variant.notebook) for variant in made_mutants]
    # Each equivalent is another correct notebook, with a seed of its own: a draw for the calibration.
    jobs += [Job(f"equivalent-{variant.id}", variant.notebook, runs + number)
             for number, variant in enumerate(made_equivalents)]
    untrained = next((variant for variant in made_mutants if variant.id == UNTRAINED), None)
    if untrained is not None:  # seed 0 is the mutant itself
        jobs += [Job(untrained_id(seed), untrained.notebook, seed) for seed in range(1, runs)]
    results = grade_all(jobs, plan, parallel, progress, warm=warm, early=early, remote=remote)

    runs_graded = [results[calibration_id(seed)] for seed in range(runs)]
    measured = [value for value in map(verdicts.accuracy, runs_graded) if value is not None]
    images = len(plan.holdout.test_labels) if plan.holdout is not None else len(plan.lesson.test_labels)
    untrained_runs = ([results[f"mutant-{UNTRAINED}"]] + [results[untrained_id(seed)] for seed in range(1, runs)]
                      if untrained is not None else [])
    others = [results[f"equivalent-{variant.id}"] for variant in made_equivalents]
    calibration = Calibration(tuple(measured), exercise.threshold, images, untrained=tuple(
        value for value in map(verdicts.accuracy, untrained_runs) if value is not None), others=tuple(
        value for value in map(verdicts.accuracy, others) if value is not None))
    problems = verdicts.judge_solution(runs_graded) + verdicts.judge_calibration(calibration)
    mutant_entries = []
    for variant in made_mutants:
        entry, found = verdicts.judge_mutant(variant, results[f"mutant-{variant.id}"], calibration)
        mutant_entries.append({**entry, "change": changed_lines(solution_notebook, variant.notebook)})
        problems += found
    equivalent_entries = []
    for variant in made_equivalents:
        entry, found = verdicts.judge_equivalent(variant, results[f"equivalent-{variant.id}"], calibration,
                                                 verdicts.solution_fails(runs_graded))
        equivalent_entries.append({**entry, "change": changed_lines(solution_notebook, variant.notebook)})
        problems += found
    if not made_mutants:
        problems.append(verdicts.Problem("mutants", "model", "no mutant could be made from the solution's code",
                                         "write the solution's model with Sequential, a list of layers or the "
                                         "functional API, and call compile, fit and evaluate on it"))
    problems = _distinct(problems)
    solution_ok = not any(p.proof == "solution" for p in problems)
    return {
        "schema": proof_document.SCHEMA,
        "exercise": exercise.id,
        "title": exercise.title,
        "solution": Path(solution_path).name,
        "holds": not problems,
        "max_score": exercise.max_score,
        "points": dict(exercise.points),
        "solution_meets_file": solution_ok,
        "calibration": {**calibration.to_dict(), "seeds": list(range(runs)),
                        "other_seeds": list(range(runs, runs + len(made_equivalents))),
                        "untrained_accuracy": calibration.untrained[0] if calibration.untrained else None,
                        "measured_on": "holdout" if plan.holdout is not None else "test"},
        "mutants": mutant_entries,
        "equivalents": equivalent_entries,
        "skipped": [{"id": s.id, "kind": kind, "description": s.description, "reason": s.reason}
                    for kind, group in (("mutant", skipped_mutants), ("equivalent", skipped_equivalents))
                    for s in group],
        "problems": [p.to_dict() for p in problems],
        "data": plan.lesson.source,
        "duration_s": round(time.monotonic() - started, 1),
    }
