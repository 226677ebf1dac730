"""The course's grades: each submission's standing under the course's policy and decisions,
and the class's rows as `grade` writes grades.csv.

The decisions and their effect are batch/desk/decisions.py's, shared with `grade`: the grader's
score is kept as graded (`auto_score`) and the course's policy (course.toml) and the
decisions table are applied at read time. This module reads them out of the service's store.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from ..batch.collect import LmsName, Submission
from ..batch.desk import decisions as desk
from ..batch.desk.decisions import DECISION_COLUMNS, Decided, Standing, standing
from ..batch.run import GradedSubmission
from .course import Course
from .store import Store

if TYPE_CHECKING:
    from ..grading.result import ResultDocument

__all__ = ["DECISION_COLUMNS", "Decided", "Standing", "class_rows", "standing"]


def class_rows(course: Course, store: Store) -> list[list[object]]:
    """The header and one row per student and exercise: their latest finished submission."""
    decided = Decided.read(store)
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for row in store.results():  # oldest first: the latest replaces the rest
        latest[(row["student"], row["exercise"])] = row
    finals: list[desk.Final] = []
    for (student, exercise), row in sorted(latest.items()):
        standing_now = standing(course, decided, row)
        document = json.loads(row["result"]) if row["result"] else {"status": "invalid", "reason": row["reason"]}
        document.setdefault("status", "invalid")
        name = LmsName(student, row["filename"], late=standing_now.late)
        outcome = GradedSubmission(Submission(student, row["filename"], b"", name), exercise,
                                   cast("ResultDocument", document))
        finals.append(desk.apply(outcome, standing_now, decided))
    return desk.rows(finals)
