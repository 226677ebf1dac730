"""The course's grades: each submission's standing under the course's policy and decisions,
and the class's rows as `grade` writes grades.csv.

The grader's score is kept as it was graded (`auto_score`); what people and the policy
decide is applied on top, at read time, from the decisions table and course.toml: an
extension granted later makes an earlier submission on time, and an override holds through
any later regrade. The final `score` is the override when there is one, else the grader's
score less the late penalty.

The class's rows are gradesheet.grade_rows' (the columns of grades.csv), of each student's
latest finished submission per exercise, with `auto_score`, `override`, `late_penalty` (the
points taken off) and `comment` after `score`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .. import gradesheet
from ..batch import GradedSubmission
from ..collect import LmsName, Submission
from . import policy
from .course import Course
from .store import Store

if TYPE_CHECKING:
    from ..result import ResultDocument

DECISION_COLUMNS = ["auto_score", "override", "late_penalty", "comment"]


@dataclass(frozen=True)
class Decided:
    """The decisions in force, by student (and exercise)."""

    extensions: dict[str, float]  # student -> their deadline, granted at the desk
    overrides: dict[tuple[str, str], dict[str, Any]]  # (student, exercise) -> the latest override

    @classmethod
    def read(cls, store: Store, student: str | None = None) -> Decided:
        extensions: dict[str, float] = {}
        overrides: dict[tuple[str, str], dict[str, Any]] = {}
        for decision in store.decisions(student=student):
            if decision["kind"] == "extension" and decision["until"] is not None:
                extensions[decision["student"]] = decision["until"]
            elif decision["kind"] == "override" and decision["exercise"]:
                overrides[(decision["student"], decision["exercise"])] = decision
        return cls(extensions, overrides)


@dataclass(frozen=True)
class Standing:
    due: float | None
    days_late: int
    auto_score: float | None
    late_penalty: float  # points taken off
    score: float | None  # after the late penalty (before any override)

    @property
    def late(self) -> bool:
        return self.days_late > 0


def standing(course: Course, decided: Decided, row: dict[str, Any]) -> Standing:
    due = policy.due(course, row["student"], decided.extensions.get(row["student"]))
    days = policy.days_late(row["submitted_at"], due)
    auto = row.get("score")
    penalty = 0.0 if auto is None else round(auto * policy.late_fraction(days, course.late_penalty_per_day), 4)
    return Standing(due, days, auto, penalty, None if auto is None else round(auto - penalty, 4))


def class_rows(course: Course, store: Store) -> list[list[object]]:
    """The header and one row per student and exercise: their latest finished submission."""
    decided = Decided.read(store)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in store.results():  # oldest first: the latest replaces the rest
        latest[(row["student"], row["exercise"])] = row
    outcomes: list[GradedSubmission] = []
    extra: list[list[object]] = []
    for (student, exercise), row in sorted(latest.items()):
        standing_now = standing(course, decided, row)
        document = json.loads(row["result"]) if row["result"] else {"status": "invalid", "reason": row["reason"]}
        document.setdefault("status", "invalid")
        if standing_now.score is not None:
            document["score"] = standing_now.score
        name = LmsName(student, row["filename"], late=standing_now.late)
        outcomes.append(GradedSubmission(Submission(student, row["filename"], b"", name), exercise,
                                         cast("ResultDocument", document)))
        override = decided.overrides.get((student, exercise))
        extra.append(["" if standing_now.auto_score is None else standing_now.auto_score,
                      "" if override is None else override["score"],
                      standing_now.late_penalty if standing_now.late else "",
                      "" if override is None else override["text"] or ""])
        if override is not None:
            document["score"] = override["score"]
    rows = gradesheet.grade_rows(outcomes)
    at = rows[0].index("score") + 1
    rows[0][at:at] = DECISION_COLUMNS
    for line, added in zip(rows[1:], extra):
        line[at:at] = added
    return rows
