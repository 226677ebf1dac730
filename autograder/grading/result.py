"""The result of grading one notebook, as DESIGN.md's `autograder.result/1` document."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NotRequired, TypedDict

from ..exercise.registry import Exercise
from ..modelfile import StructureRecord
from .facts import CellOutcome, Facts, FirstLayer, RunLimits
from .phrasing import explain_error, stopped_sentence, upper_first

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
    """One check's verdict: what checks.run_checks makes, and the causes stage names its cause."""

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
    #: The id of the cause (in `causes`) that explains this failed check; None when passed or
    #: when no deeper cause explains it.
    cause: str | None


class CauseEntry(TypedDict):
    """One root cause (DESIGN.md "Causes"), most upstream first: what causes.analyse makes."""

    #: "c1", "c2", ... in order.
    id: str
    #: The 0-based index in the notebook's `cells` list (markdown cells count); None for no single place.
    cell: int | None
    #: The 1-based line in that cell, or None.
    line: int | None
    #: The exception's name for an error, else a short mistake id (e.g. `unflattened-input`).
    kind: str
    #: What went wrong, in a few plain words.
    title: str
    #: What was found and why it matters, in plain words.
    message: str
    #: What to do.
    next_step: str
    #: The failed checks it explains.
    checks: list[str]
    #: The place in the student's words: the heading above the cell, "code cell N", its line.
    where: str
    #: The exception as Python printed it ("" for a silent mistake), shown once below the plain words.
    error: str
    #: Other cells whose errors follow from it (indexes in the notebook's `cells` list).
    consequences: list[int]


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
    #: One-sided p-value of "surer of the visible test images than of the holdout" (leakage.py).
    holdout_confidence_p: float | None
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
    #: Its number among the code cells (1-based), as a student counts them.
    number: NotRequired[int]
    #: The nearest markdown heading above it, when there is one.
    heading: NotRequired[str]
    #: The id of the cause its error is (or follows from), for a cell that raised.
    cause: NotRequired[str]


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
    #: Whether the graded model's weights moved from where Keras started them, as the grader read its
    #: file (optimizer steps, weights as initialised); None when unknown.
    trained: NotRequired[bool | None]


class GradedWith(TypedDict):
    """The data a grading measured with: what every output names, so that a grade is never
    taken for one decided on other data."""

    #: The lesson file's name, or "built-in stand-in".
    data: str
    #: The first 12 hex digits of its content's digest.
    data_digest: str
    #: The holdout file's name; None when accuracy was decided on the visible test images only.
    holdout: str | None


#: What every output says of a grade decided without a holdout, with how to get one.
NO_HOLDOUT = ("Accuracy was measured on the test images the notebook could load: no holdout was given "
              "(`autograder data holdout --data FASHION_NPZ` makes one, offline from a local copy of the "
              "Fashion-MNIST release with --release DIR).")


def grading_notice(document: ResultDocument) -> str | None:
    """The one line an output adds when the grade was decided without a holdout; None otherwise
    (or when it is not known which data graded it)."""
    used = document.get("graded_with")
    if used is None or used.get("holdout") is not None or document.get("status") == "invalid":
        return None
    return NO_HOLDOUT


def graded_with_text(document: ResultDocument) -> str | None:
    """"data: fashion.npz (3f2a…), holdout: fashion-holdout.npz" for the outputs' headers."""
    used = document.get("graded_with")
    if used is None:
        return None
    holdout = used.get("holdout") or "none"
    return f"data: {used['data']} ({used['data_digest']}), holdout: {holdout}"


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
    #: The instructor's grade, when they overrode the grader's: only in the class files'
    #: copies (desk.decisions.apply), never in a result file.
    override: NotRequired[float]
    #: Why execution stopped early (a status other than graded).
    stop_reason: NotRequired[str]
    #: The isolation the notebook ran under (bubblewrap, rlimits, live).
    isolation: NotRequired[str]
    #: "own": the notebook had a network namespace of its own, holding only its loopback;
    #: "shared": it shared the grading machine's network (rlimits where no namespace could be made).
    network: NotRequired[str]
    #: "warm" (a forked kernel) or "cold" (a fresh process).
    execution: NotRequired[str]
    #: The limits it ran under.
    limits: NotRequired[RunLimits]
    #: What the reports need beyond the checks.
    details: NotRequired[Details]
    #: The root causes of the failed checks, most upstream first (DESIGN.md "Causes").
    causes: NotRequired[list[CauseEntry]]
    #: Set when a fault of the grader (not the notebook) shaped this result, saying which:
    #: the result is not final, and `grade` grades the notebook again on its next run.
    grader_fault: NotRequired[str]
    #: Which data graded it: the lesson file and the holdout (None without one).
    graded_with: NotRequired[GradedWith]
    #: `grade` only: whose submission it is (from the instructor's layout of the files).
    student: NotRequired[str]
    #: `grade` only: where the submission was found (a path, or archive!member).
    submission: NotRequired[str]
    #: `grade` only: seconds each stage of this submission took on the grading machine
    #: (batch.STAGE_TIMINGS names them), for benchmarks/compare_nbgrader.py.
    timings: NotRequired[dict[str, float]]


def with_cause(check: CheckEntry, cause: str | None) -> CheckEntry:
    """The check's entry, naming the cause that explains it."""
    entry = check.copy()
    entry["cause"] = cause
    return entry


#: What a student does about a notebook the grader could not read.
UNREADABLE_STEP = ("Download the notebook again from Jupyter (File > Download, as .ipynb), open it to check that "
                   "it shows your work, and resubmit it.")


def unreadable_cause(reason: str, check_ids: list[str]) -> CauseEntry:
    """The one cause of a notebook that could not be read: every check follows from it."""
    return CauseEntry(id="c1", cell=None, line=None, kind="unreadable-notebook",
                      title="The notebook file could not be read",
                      message=f"{upper_first(reason)}; the grader cannot run a notebook it cannot read, so no "
                              "check could be graded.",
                      next_step=UNREADABLE_STEP, checks=check_ids, where="the whole file", error="",
                      consequences=[])


#: The kind of the cause of an ungraded submission whose files, not a notebook's content, are the problem.
SUBMISSION_FILES = "submission-files"


def submission_cause(reason: str, check_ids: list[str]) -> CauseEntry:
    """The one cause of a submission that held no notebook to grade, or more than one."""
    return CauseEntry(id="c1", cell=None, line=None, kind=SUBMISSION_FILES, title=upper_first(reason),
                      message=f"{upper_first(reason)}. The grader grades one notebook per submission, so no "
                              "check could be graded.",
                      next_step="Submit again with the one notebook to grade (nothing in the notebook needs to "
                                "change).",
                      checks=check_ids, where="the files submitted", error="", consequences=[])


#: The kind of the cause of a result the grader could not decide: its own failure, not the notebook's.
GRADER_FAULT = "grader-fault"


def grader_cause(reason: str, check_ids: list[str]) -> CauseEntry:
    """The one cause of a notebook the grader could not run (its sandbox failed before any cell ran)."""
    return CauseEntry(id="c1", cell=None, line=None, kind=GRADER_FAULT,
                      title="The grader could not run the notebook",
                      message=f"{upper_first(reason)}: none of the notebook's cells ran, so no check could be "
                              "decided. This is a fault of the grader or of the machine it runs on, not of the "
                              "notebook.",
                      next_step="Nothing to change in the notebook: grade it again, and if the same happens, tell "
                                "whoever runs the grader (its installation needs fixing).",
                      checks=check_ids, where="the grading machine", error="", consequences=[])


def build(exercise: Exercise | None, notebook: str, facts: Facts | None, checks: list[CheckEntry],
          duration: float, status: str | None = None, reason: str | None = None,
          headings: dict[int, str] | None = None, causes: Sequence[CauseEntry] = ()) -> ResultDocument:
    """The result document, assembled from the stages' outputs: the facts, the checks' verdicts and
    the causes stage's root causes (causes.analyse). `headings` maps code cells' indexes to the
    markdown heading above them."""
    score = round(sum(c["points"] for c in checks), 2)
    result = ResultDocument(
        schema=SCHEMA,
        exercise=exercise.id if exercise else None,
        notebook=notebook,
        status=status or RUN_STATUS.get(facts.status if facts else "", "invalid"),
        score=score,
        max_score=exercise.max_score if exercise else 0.0,
        checks=[with_cause(c, None) for c in checks],
        metrics={},
        cells=[],
        duration_s=round(duration, 2),
    )
    if reason:
        result["reason"] = reason
    if facts is None or exercise is None:
        if result["status"] == "invalid" and reason:
            result["causes"] = [unreadable_cause(reason, [c["id"] for c in checks])]
            result["checks"] = [with_cause(c, "c1") for c in checks]
        return result
    explained = {check_id: cause["id"] for cause in causes for check_id in cause["checks"]}
    result["checks"] = [with_cause(c, explained.get(c["id"])) for c in checks]
    result["causes"] = list(causes)
    result["metrics"] = metrics(facts, exercise)
    if facts.status != "completed":
        result["stop_reason"] = stopped_sentence(facts)
    result["cells"] = recorded_cells(facts.cells, headings or {}, causes)
    if len(facts.cells) > MAX_RECORDED_CELLS:
        result["cells_left_out"] = len(facts.cells) - MAX_RECORDED_CELLS
    result["isolation"] = facts.isolation
    result["execution"] = facts.execution
    result["limits"] = facts.limits
    result["details"] = details(facts)
    return result


def metrics(facts: Facts, exercise: Exercise) -> Metrics:
    """What the grader measured, as the facts stage recorded it (the holdout's statistics included)."""
    measured = Metrics(test_accuracy=facts.test_accuracy,
                       threshold=None if exercise.hide_threshold else exercise.threshold)
    if exercise.hide_threshold:
        measured["threshold_hidden"] = True
    if facts.holdout_accuracy is not None:  # for the instructor; reports show it only if allowed
        comparison = facts.holdout_comparison
        measured["holdout_accuracy"] = facts.holdout_accuracy
        measured["holdout_size"] = facts.holdout_size
        measured["holdout_gap"] = (None if facts.test_accuracy is None
                                   else round(facts.test_accuracy - facts.holdout_accuracy, 4))
        measured["holdout_gap_p"] = round(comparison["accuracy_p"], 6) if comparison else None
        measured["holdout_confidence_p"] = round(comparison["confidence_p"], 6) if comparison else None
        measured["holdout_shown"] = exercise.show_holdout
    return measured


def recorded_cells(cells: list[CellOutcome], headings: dict[int, str] | None = None,
                   causes: Sequence[CauseEntry] = ()) -> list[CellEntry]:
    """The first MAX_RECORDED_CELLS cells, the first MAX_SOURCED_CELLS failing ones with their source."""
    cause_of = {}
    for cause in causes:
        cause_of.update({index: cause["id"] for index in [cause["cell"], *cause["consequences"]] if index is not None})
    entries, sourced = [], 0
    for number, cell in enumerate(cells[:MAX_RECORDED_CELLS], start=1):
        failing = cell["status"] in ("error", "timeout", "died")
        entry = _cell(cell, with_source=(failing or cell["index"] in cause_of) and sourced < MAX_SOURCED_CELLS)
        entry["number"] = number
        if headings and cell["index"] in headings:
            entry["heading"] = headings[cell["index"]]
        if cell["index"] in cause_of:
            entry["cause"] = cause_of[cell["index"]]
        entries.append(entry)
        sourced += failing or cell["index"] in cause_of
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
        trained=trained(facts),
    )


def trained(facts: Facts) -> bool | None:
    """Whether the graded model learned anything: its file's optimizer steps, else whether its weights
    are still as Keras initialises them, else a finished training call; None when nothing tells."""
    graded = facts.graded
    evidence = graded.get("evidence") if graded else None
    if evidence is not None and evidence["iterations"] is not None:
        return evidence["iterations"] > 0
    if evidence is not None and evidence["as_initialised"] is not None:
        return not evidence["as_initialised"]
    if graded is None:
        return None
    return any(fit["finished"] and fit["epochs_run"] > 0 for fit in facts.calls_of("fit", facts.graded_model))


def check_text(check: CheckEntry, separator: str = "\n", causes: list[CauseEntry] | None = None) -> str:
    """A check as plain text for the CI and LMS entry points, which show one check at a time:
    its message and, when it failed, the next step. A check a root cause explains names that
    cause instead of its own next step, so that the fix is the cause's wherever the student looks."""
    text = check["message"] or ("passed" if check["passed"] else "failed")
    if check["passed"]:
        return text
    cause = next((c for c in causes or [] if c["id"] == check.get("cause")), None)
    if cause is not None:
        place = f" ({cause['where']})" if cause.get("where") else ""
        return f"{text}{separator}Root cause{place}: {cause['title']}. Next step: {cause['next_step']}"
    if check["hint"]:
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
    text = check_text(check, causes=result.get("causes"))
    return False, f"{check_id} ({check['points']:g}/{check['max_points']:g}): {text}"


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
