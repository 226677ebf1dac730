"""The class at a glance, for the instructor's page: per exercise, a grid of students by check,
each failed check coloured by the root cause that explains it (the result file's `causes`),
each student's first mistake (`causes[0]`), and who is stuck where (the same check failing in
their last STUCK_AFTER finished submissions).

Pure functions of the finished submissions' rows (store.latest_results) and the decisions in force;
the page (pages.py) draws what this returns, escaped.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .course import Course
from .gradebook import Decided, standing

#: The same check failing in this many finished submissions in a row (the latest among them) is "stuck".
STUCK_AFTER = 3
#: Distinct colours for the most common causes; the rest share one.
PALETTE = 8


@dataclass
class Cell:
    check: str
    state: str  # passed, failed, missing (not in the result: the notebook was not graded)
    css: str
    cause: str = ""  # the root cause's title, for the tooltip
    kind: str = ""


@dataclass
class Row:
    student: str
    submission: str | None = None
    report: str | None = None
    status: str = ""
    score: float | None = None
    max_score: float | None = None
    late: bool = False
    override: float | None = None
    cells: list[Cell] = field(default_factory=list)
    first_mistake: str = ""
    where: str = ""
    kind: str = ""
    css: str = ""
    stuck: str = ""  # the check id failing in a row
    stuck_title: str = ""
    stuck_times: int = 0


@dataclass
class ExerciseView:
    exercise: str
    checks: list[str]
    titles: dict[str, str]
    rows: list[Row]


@dataclass
class ClassView:
    exercises: list[ExerciseView]
    legend: list[dict[str, Any]]  # {kind, css, count, title}: the causes' colours

    @property
    def stuck(self) -> list[tuple[str, Row]]:
        return [(view.exercise, row) for view in self.exercises for row in view.rows if row.stuck]


def _document(row: dict[str, Any]) -> dict[str, Any]:
    if not row.get("result"):
        return {"status": "invalid", "reason": row.get("reason") or "", "checks": [], "causes": []}
    document: dict[str, Any] = json.loads(row["result"])
    return document


def _failed(document: dict[str, Any]) -> set[str]:
    return {check["id"] for check in document.get("checks") or [] if not check.get("passed")}


def _where(cause: dict[str, Any]) -> str:
    if cause.get("where"):
        return str(cause["where"])
    if cause.get("cell") is not None:
        line = f", line {cause['line']}" if cause.get("line") is not None else ""
        return f"cell {cause['cell']}{line}"
    return ""


def class_view(course: Course, roster: list[str], finished: list[dict[str, Any]], decided: Decided) -> ClassView:
    """finished: store.latest_results(STUCK_AFTER) (oldest first, with each result document)."""
    history: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in finished:
        history.setdefault((row["student"], row["exercise"]), []).append(row)
    documents = {row["id"]: _document(row) for rows in history.values() for row in rows[-STUCK_AFTER:]}
    kinds: Counter[str] = Counter()
    examples: dict[str, str] = {}  # a cause's title for each kind, for the legend
    for rows in history.values():
        for cause in documents[rows[-1]["id"]].get("causes") or []:
            kinds[cause.get("kind") or "mistake"] += 1
            examples.setdefault(cause.get("kind") or "mistake", cause.get("title") or "")
    css = {kind: f"cause-{index}" for index, (kind, _) in enumerate(kinds.most_common(PALETTE))}
    views = []
    for exercise_id, exercise in course.exercises.items():
        checks = exercise.check_ids
        titles = {check: exercise.check_title(check) for check in checks}
        grid = []
        for student in roster:
            grid.append(_row(course, decided, student, exercise_id, checks, history.get((student, exercise_id), []),
                             documents, css))
        views.append(ExerciseView(exercise_id, checks, titles, grid))
    legend = [{"kind": kind, "css": css.get(kind, "cause-other"), "count": count, "title": examples.get(kind, "")}
              for kind, count in kinds.most_common()]
    return ClassView(views, legend)


def _row(course: Course, decided: Decided, student: str, exercise: str, checks: list[str],
         rows: list[dict[str, Any]], documents: dict[str, dict[str, Any]], css: dict[str, str]) -> Row:
    override = decided.overrides.get((student, exercise))
    shown = Row(student, override=None if override is None else override["score"])
    if not rows:
        shown.cells = [Cell(check, "missing", "") for check in checks]
        return shown
    latest = rows[-1]
    document = documents[latest["id"]]
    now = standing(course, decided, latest)
    shown.submission, shown.status, shown.late = latest["id"], latest["status"], now.late
    shown.report = f"/api/submissions/{latest['id']}/report"
    shown.score = now.score if override is None else override["score"]
    shown.max_score = latest["max_score"]
    causes = {cause["id"]: cause for cause in document.get("causes") or []}
    results = {check["id"]: check for check in document.get("checks") or []}
    for check in checks:
        found = results.get(check)
        if found is None:
            shown.cells.append(Cell(check, "missing", "missing"))
        elif found.get("passed"):
            shown.cells.append(Cell(check, "passed", "passed"))
        else:
            cause = causes.get(found.get("cause") or "")
            if cause is None:
                shown.cells.append(Cell(check, "failed", "failed", found.get("title") or ""))
            else:
                kind = cause.get("kind") or "mistake"
                shown.cells.append(Cell(check, "failed", css.get(kind, "cause-other"), cause.get("title") or "", kind))
    first = (document.get("causes") or [None])[0]
    if first is not None:
        shown.kind = first.get("kind") or "mistake"
        shown.first_mistake, shown.where = first.get("title") or shown.kind, _where(first)
        shown.css = css.get(shown.kind, "cause-other")
    elif document.get("status") == "invalid":
        shown.first_mistake = str(document.get("reason") or latest.get("reason") or "not graded")
    elif _failed(document):
        failed = next(check for check in checks if check in _failed(document))
        shown.first_mistake = str(results[failed].get("message") or results[failed].get("title") or failed)
    _stuck(shown, checks, [documents[row["id"]] for row in rows[-STUCK_AFTER:]])
    return shown


def _stuck(shown: Row, checks: list[str], recent: list[dict[str, Any]]) -> None:
    """The most upstream check that failed in every one of the last STUCK_AFTER submissions."""
    if len(recent) < STUCK_AFTER:
        return
    failing = set.intersection(*(_failed(document) for document in recent))
    for check in checks:
        if check in failing:
            shown.stuck, shown.stuck_times = check, len(recent)
            shown.stuck_title = next((c.get("title") or check for c in recent[-1].get("checks") or []
                                      if c["id"] == check), check)
            return
