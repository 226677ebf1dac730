"""Grading the proof's notebooks: one class for `grade`'s batch, on its warm slots or a Dask cluster.

The calibration runs, mutants and equivalents are written as a folder of notebooks, one per
student id, and graded by batch.run like any class: in parallel, each in its own sandbox, the
seed of each calibration run given to its kernel (batch.Grading's `seeds`). Nothing is kept: the
folder and the gradebook are temporary; the result documents come back by id.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import nbformat

from ..batch import run as batch
from ..batch.workers import Workers
from ..errors import GraderFault
from ..grading.plan import GradingPlan


@dataclass(frozen=True)
class Job:
    """One notebook to grade: its id (its file's name) and the seed its kernel fixes."""

    id: str
    notebook: nbformat.NotebookNode
    seed: int = 0


def grade_all(jobs: list[Job], plan: GradingPlan, parallel: int, progress, *, warm: bool = True,
              early: Workers | None = None, remote: batch.RemoteWorkers | None = None) -> dict[str, dict[str, Any]]:
    """Every job's result document, by id. Raises KeyboardInterrupt when the grading was
    interrupted, GraderFault when a notebook got no result."""
    with tempfile.TemporaryDirectory(prefix="autograder-proof-") as folder:
        notebooks = Path(folder) / "notebooks"
        notebooks.mkdir()
        for job in jobs:
            nbformat.write(job.notebook, notebooks / f"{job.id}.ipynb")
        report = batch.run(batch.Grading([str(notebooks)], Path(folder) / "graded", plan, parallel, progress,
                                         regrade=True, warm=warm, remote=remote, early=early,
                                         seeds={job.id: job.seed for job in jobs}, reports=False))
    if report.interrupted:
        raise KeyboardInterrupt
    results = {outcome.submission.student: cast(dict[str, Any], outcome.result) for outcome in report.outcomes}
    missing = [job.id for job in jobs if job.id not in results]
    if missing or report.problems:
        reasons = "; ".join(f"{p.origin}: {p.reason}" for p in report.problems)
        raise GraderFault(f"the proof's notebooks {', '.join(missing) or ''} were not graded{': ' if reasons else ''}"
                          f"{reasons}")
    return results
