"""grades.csv and Canvas' gradebook import: the class's grades as files a spreadsheet or an LMS opens.

Every text cell that a student can influence (ids from file names, exercise names, file
names, statuses, reasons) is neutralised for spreadsheets (OWASP's rule for CSV injection:
a cell starting with =, +, -, @, tab or CR, after any spaces, gets a leading single quote),
and has no line breaks and at most MAX_CELL characters. Numbers stay numbers. A submission
that could not be graded has a blank score, not 0, and says why.
"""
from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from ..grading.result import ResultDocument
from .collect import Submission

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: Longest text cell: spreadsheets and Python's csv reader refuse cells of 128 KiB and more.
MAX_CELL = 1000
#: Canvas' gradebook import: these columns, then one column per assignment, "Name (assignment id)".
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
#: Canvas' own exports carry this second row; its import reads it as the points possible.
CANVAS_POINTS_ROW = "    Points Possible"

Cell = str | int | float


class GradedSubmission(Protocol):
    """One student's outcome, as batch.GradedSubmission holds it."""

    @property
    def submission(self) -> Submission: ...
    @property
    def exercise(self) -> str | None: ...
    @property
    def result(self) -> ResultDocument: ...


def cell(value: object) -> Cell:
    """One CSV cell: numbers as they are; text on one line, never read as a formula."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return value
    text = "" if value is None else " ".join(str(value).splitlines())
    if len(text) > MAX_CELL:
        text = f"{text[:MAX_CELL]}… ({len(text) - MAX_CELL} more characters)"
    if text.lstrip(" ").startswith(FORMULA_STARTS):  # some spreadsheets trim leading spaces
        return "'" + text
    return text


def write_table(rows: Iterable[Sequence[object]], path: Path) -> None:
    """Rows as a CSV file, every cell as `cell` makes it, replaced whole (a reader never sees half a file)."""
    temporary = path.with_name(path.name + ".partial")
    with open(temporary, "w", newline="", encoding="utf-8") as handle:
        write_rows(rows, handle)
    os.replace(temporary, path)


def _score(outcome: GradedSubmission) -> float | str:
    """The final grade: blank for a notebook that could not be read, unless the instructor gave one."""
    if outcome.result.get("override") is not None:
        return outcome.result["override"]
    return "" if outcome.result["status"] == "invalid" else outcome.result.get("score", 0.0)


def reason(outcome: GradedSubmission) -> str:
    """Why a submission was not graded, or not to the end; empty when it was."""
    document = outcome.result
    if document["status"] == "invalid":
        return document.get("reason") or "the notebook could not be read"
    if document["status"] != "graded":
        return document.get("stop_reason") or document["status"]
    return ""


def write_grades(outcomes: Sequence[GradedSubmission], path: Path) -> None:
    """grades.csv: the rows of `grade_rows`."""
    write_table(grade_rows(outcomes), path)


def write_rows(rows: Iterable[Sequence[object]], handle) -> None:
    """Rows as CSV on an open text handle, every cell as `cell` makes it (the course service's /api/grades)."""
    writer = csv.writer(handle)
    for row in rows:
        writer.writerow([cell(value) for value in row])


def grade_rows(outcomes: Sequence[GradedSubmission]) -> list[list[object]]:
    """A header and one row per student: score (blank when not graded), status and why, the LMS's
    ids, accuracy, every check's points, and what the instructor should look at."""
    check_ids: list[str] = []
    for outcome in outcomes:
        for entry in outcome.result.get("checks", []):
            if entry["id"] not in check_ids:
                check_ids.append(entry["id"])
    holdout = any((o.result.get("metrics") or {}).get("holdout_accuracy") is not None for o in outcomes)
    accuracies = ["test_accuracy", *(["holdout_accuracy"] if holdout else [])]
    header: list[object] = ["student_id", "exercise", "score", "max_score", "status", "reason", "lms", "lms_user_id",
              "lms_submission_id", "late", "file", *accuracies, *check_ids, "isolation", "flags"]
    rows: list[list[object]] = [header]
    for outcome in outcomes:
        document, name = outcome.result, outcome.submission.name
        graded = document["status"] != "invalid"
        points = {c["id"]: c["points"] for c in document.get("checks", [])}
        metrics = document.get("metrics") or {}
        rows.append([outcome.submission.student, outcome.exercise or "", _score(outcome),
                     document.get("max_score", 0.0), document["status"], reason(outcome), name.lms or "",
                     name.user_id or "", name.submission_id or "", "" if name.late is None else name.late,
                     outcome.submission.origin,
                     *[metrics.get(key) if metrics.get(key) is not None else "" for key in accuracies],
                     *[points.get(check_id, 0.0) if graded else "" for check_id in check_ids],
                     document.get("isolation") or "", "; ".join(outcome.submission.notes)])
    return rows


def canvas_column(exercise: str, assignment: str | None) -> str:
    """The gradebook column of an exercise: the instructor's "Name (id)" of an existing Canvas
    assignment, or the exercise id (Canvas then offers to create an assignment of that name)."""
    return assignment or exercise


def write_canvas(outcomes: Sequence[GradedSubmission], path: Path, assignment: str | None = None) -> int:
    """Canvas' gradebook import file: a row per student with a Canvas user id (from the download's
    file names), matched by ID. Returns how many students had none and were left out."""
    exercises = sorted({o.exercise for o in outcomes if o.exercise})
    columns = [canvas_column(e, assignment if len(exercises) == 1 else None) for e in exercises]
    maximum = {e: max((o.result.get("max_score", 0.0) for o in outcomes if o.exercise == e), default=0.0)
               for e in exercises}
    rows: list[list[object]] = [[*CANVAS_COLUMNS, *columns],
                                [CANVAS_POINTS_ROW, "", "", "", "", *[maximum[e] for e in exercises]]]
    left_out = 0
    for outcome in outcomes:
        name = outcome.submission.name
        if name.lms != "canvas" or not name.user_id:
            left_out += 1
            continue
        scores = [_score(outcome) if outcome.exercise == e else "" for e in exercises]
        # Canvas matches on ID; the other identity columns may stay empty.
        rows.append([outcome.submission.student, int(name.user_id), "", "", "", *scores])
    write_table(rows, path)
    return left_out
