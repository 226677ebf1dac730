"""The result of grading one notebook, as DESIGN.md's `autograder.result/1` document."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import NotRequired, TypedDict

from . import gapstat
from .checks import CheckResult
from .exercises import Exercise
from .facts import CellOutcome, Facts, FirstLayer, RunLimits
from .modelfile import StructureRecord
from .phrasing import explain_error, stopped_sentence

SCHEMA = "autograder.result/1"
RUN_STATUS = {"completed": "graded", "timeout": "timeout", "kernel_died": "kernel_died",
              "error": "kernel_died"}
# Bounds on one result document, whatever the notebook holds (it is stored in the gradebook
# and read by every report): at most about half a megabyte.
MAX_SOURCE = 5000
#: Code cells recorded, in notebook order; the rest are counted in `cells_left_out`.
MAX_RECORDED_CELLS = 200
#: Failing cells recorded with their source (the reports show the first few).
MAX_SOURCED_CELLS = 20
#: Characters of an error message recorded.
MAX_EVALUE = 2000
#: Scores per image recorded for the reports; a model with more outputs keeps only its classes.
MAX_RECORDED_CLASSES = 16


class CheckEntry(TypedDict):
    """One check's verdict."""

    #: The check's id (DESIGN.md's table).
    id: str
    #: What it checks, in a few words.
    title: str
    #: Whether it passed.
    passed: bool
    #: Points earned: all of max_points or none.
    points: float
    #: Points it is worth.
    max_points: float
    #: What was found and what was expected.
    message: str
    #: The next step, for a failed check.
    hint: str
    #: A short name of the mistake, the same for every student who makes it ("" when passed).
    diagnosis: str


class Metrics(TypedDict, total=False):
    """What the grader measured (empty when the notebook was not graded)."""

    #: Accuracy on the grader's own copy of the test images.
    test_accuracy: float | None
    #: The accuracy required; None when the instructor hides it.
    threshold: float | None
    #: Present (True) when the threshold is hidden from students.
    threshold_hidden: bool
    #: Accuracy on the instructor's hidden holdout images, when there are some.
    holdout_accuracy: float
    #: How many holdout images.
    holdout_size: int | None
    #: test_accuracy minus holdout_accuracy.
    holdout_gap: float | None
    #: One-sided p-value of that gap under "the model does as well on both" (gapstat.py).
    holdout_gap_p: float | None
    #: Whether students may see holdout_accuracy.
    holdout_shown: bool


class CellEntry(TypedDict):
    """How one code cell ran, for the reports."""

    #: The cell's 0-based index in the notebook's `cells` list.
    index: int
    #: One of protocol.CELL_STATUSES.
    status: str
    #: Wall time the cell took.
    seconds: NotRequired[float | int]
    #: The exception's class name, for a cell that raised.
    ename: NotRequired[str]
    #: Its message.
    evalue: NotRequired[str]
    #: The 1-based line it was raised from.
    line: NotRequired[int | None]
    #: Its message in plain words.
    explanation: NotRequired[str]
    #: The time limit the cell ran out of, for status "timeout".
    limit_s: NotRequired[float | int | None]
    #: The student's code, for a cell that raised, timed out or killed the kernel.
    source: NotRequired[str]
    #: Present (True) when its output was cut at the output limit.
    output_truncated: NotRequired[bool]


class GradedModel(TypedDict):
    """The graded model, for the reports."""

    #: Its variable names.
    names: list[str]
    #: Its architecture and compile settings.
    structure: StructureRecord | None
    #: Why it may not be loaded, if it may not.
    problems: list[str]
    #: Optimizer steps its file records.
    iterations: int | None


class Details(TypedDict):
    """What the reports need beyond the checks."""

    #: The graded model, if there is one.
    graded_model: GradedModel | None
    #: The metrics per epoch of its main training call.
    history: dict[str, list[float | int | None]] | None
    #: Rows: true classes; columns: predicted classes.
    confusion_matrix: list[list[int]] | None
    #: The class predicted for each test image.
    predicted_classes: list[int] | None
    #: The probabilities predicted for each test image.
    predicted_probabilities: list[list[float]] | None
    #: The true class of each test image.
    test_classes: list[int]
    #: How many models the notebook built.
    models_seen: int
    #: The graded model's first layer, when it is a Conv2D on the images (for the report's picture).
    first_layer: NotRequired[FirstLayer | None]


class ResultDocument(TypedDict):
    """DESIGN.md's result file: the outcome of grading one notebook."""

    #: Always SCHEMA.
    schema: str
    #: The exercise's id; None when it could not be resolved.
    exercise: str | None
    #: The notebook's file name.
    notebook: str
    #: graded, timeout, kernel_died or invalid.
    status: str
    #: Points earned.
    score: float
    #: Points possible.
    max_score: float
    #: Every check of the exercise, in rubric order.
    checks: list[CheckEntry]
    #: What the grader measured.
    metrics: Metrics
    #: The code cells, in notebook order (at most MAX_RECORDED_CELLS).
    cells: list[CellEntry]
    #: Wall time of the grading.
    duration_s: float
    #: Code cells not recorded in `cells`, to keep the document small.
    cells_left_out: NotRequired[int]
    #: Why the notebook could not be graded (status invalid).
    reason: NotRequired[str]
    #: Why execution stopped early (a status other than graded).
    stop_reason: NotRequired[str]
    #: The isolation the notebook ran under (bubblewrap, rlimits, live).
    isolation: NotRequired[str]
    #: "warm" (a forked kernel) or "cold" (a fresh process).
    execution: NotRequired[str]
    #: The limits it ran under.
    limits: NotRequired[RunLimits]
    #: What the reports need beyond the checks.
    details: NotRequired[Details]
    #: Set when a fault of the grader (not the notebook) shaped this result, saying which:
    #: the result is not final, and `grade` grades the notebook again on its next run.
    grader_fault: NotRequired[str]
    #: `grade` only: whose submission it is (from the instructor's layout of the files).
    student: NotRequired[str]
    #: `grade` only: where the submission was found (a path, or archive!member).
    submission: NotRequired[str]


def check_entry(check: CheckResult) -> CheckEntry:
    return CheckEntry(id=check.id, title=check.title, passed=check.passed, points=check.points,
                      max_points=check.max_points, message=check.message, hint=check.hint,
                      diagnosis=check.diagnosis)


def build(exercise: Exercise | None, notebook: str, facts: Facts | None, checks: list[CheckResult],
          duration: float, status: str | None = None, reason: str | None = None) -> ResultDocument:
    score = round(sum(c.points for c in checks), 2)
    result = ResultDocument(
        schema=SCHEMA,
        exercise=exercise.id if exercise else None,
        notebook=notebook,
        status=status or RUN_STATUS.get(facts.status if facts else "", "invalid"),
        score=score,
        max_score=exercise.max_score if exercise else 0.0,
        checks=[check_entry(c) for c in checks],
        metrics={},
        cells=[],
        duration_s=round(duration, 2),
    )
    if reason:
        result["reason"] = reason
    if facts is None or exercise is None:
        return result
    result["metrics"] = {"test_accuracy": facts.test_accuracy,
                         "threshold": None if exercise.hide_threshold else exercise.threshold}
    if exercise.hide_threshold:
        result["metrics"]["threshold_hidden"] = True
    if facts.holdout_accuracy is not None:  # for the instructor; reports show it only if allowed
        metrics = result["metrics"]
        metrics["holdout_accuracy"] = facts.holdout_accuracy
        metrics["holdout_size"] = facts.holdout_size
        metrics["holdout_gap"] = (None if facts.test_accuracy is None
                                  else round(facts.test_accuracy - facts.holdout_accuracy, 4))
        metrics["holdout_gap_p"] = (None if facts.test_accuracy is None else round(gapstat.gap_p_value(
            facts.test_accuracy, len(facts.data["test_classes"]), facts.holdout_accuracy, facts.holdout_size or 0), 6))
        metrics["holdout_shown"] = exercise.show_holdout
    if facts.status != "completed":
        result["stop_reason"] = stopped_sentence(facts)
    result["cells"] = recorded_cells(facts.cells)
    if len(facts.cells) > MAX_RECORDED_CELLS:
        result["cells_left_out"] = len(facts.cells) - MAX_RECORDED_CELLS
    result["isolation"] = facts.isolation
    result["execution"] = facts.execution
    result["limits"] = facts.limits
    result["details"] = details(facts)
    return result


def recorded_cells(cells: list[CellOutcome]) -> list[CellEntry]:
    """The first MAX_RECORDED_CELLS cells, the first MAX_SOURCED_CELLS failing ones with their source."""
    entries, sourced = [], 0
    for cell in cells[:MAX_RECORDED_CELLS]:
        failing = cell["status"] in ("error", "timeout", "died")
        entries.append(_cell(cell, with_source=failing and sourced < MAX_SOURCED_CELLS))
        sourced += failing
    return entries


def _cell(cell: CellOutcome, with_source: bool) -> CellEntry:
    entry = CellEntry(index=cell["index"], status=cell["status"])
    seconds = cell.get("seconds")
    if seconds is not None:
        entry["seconds"] = seconds
    error = cell.get("error")
    if error:
        entry["ename"], entry["evalue"] = error["ename"], error["evalue"][:MAX_EVALUE]
        entry["line"] = error.get("line")
        entry["explanation"] = explain_error(error["ename"], entry["evalue"])
    if cell["status"] == "timeout":
        entry["limit_s"] = cell.get("limit")
    if with_source:
        entry["source"] = cell["source"][:MAX_SOURCE]  # the student's own code, for the reports
    if cell.get("truncated"):
        entry["output_truncated"] = True
    return entry


def details(facts: Facts) -> Details:
    """What the reports need beyond the checks: the graded model, its training and its predictions."""
    graded = facts.graded
    fit = facts.main_fit
    return Details(
        graded_model=GradedModel(names=graded["names"], structure=graded["structure"],
                                 problems=graded["problems"], iterations=graded["iterations"]) if graded else None,
        history=fit.get("history") if fit else None,
        confusion_matrix=facts.confusion,
        predicted_classes=facts.predicted,
        predicted_probabilities=facts.probabilities if facts.probabilities and \
        len(facts.probabilities[0]) <= MAX_RECORDED_CLASSES else None,
        test_classes=facts.data["test_classes"],
        models_seen=len(facts.models),
        first_layer=facts.first_layer,
    )


def check_text(check: CheckEntry, separator: str = "\n") -> str:
    """A check as plain text for the CI and LMS entry points: its message and, when it
    failed, the next step."""
    text = check["message"] or ("passed" if check["passed"] else "failed")
    if not check["passed"] and check["hint"]:
        text += f"{separator}Next step: {check['hint']}"
    return text


def verdict_of(result: ResultDocument, check_id: str) -> tuple[bool, str]:
    """Whether one check of a result passed, and what to tell the student about it."""
    if result["status"] == "invalid":
        return False, f"{check_id}: not graded: {result.get('reason')}"
    check = next((c for c in result["checks"] if c["id"] == check_id), None)
    if check is None:
        return False, f"{check_id} is not a check of {result['exercise']}"
    if check["passed"]:
        return True, f"{check_id}: passed. {check_text(check)}"
    return False, f"{check_id} ({check['points']:g}/{check['max_points']:g}): {check_text(check)}"


def exit_code(result: ResultDocument) -> int:
    if result["status"] == "invalid":
        return 2
    if result["status"] == "graded" and all(c["passed"] for c in result["checks"]):
        return 0
    return 1


def write(result: ResultDocument, path: str | os.PathLike[str]) -> None:
    """Write the result file whole or not at all."""
    target = Path(path)
    temporary = target.with_name(target.name + ".partial")
    temporary.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(temporary, target)
