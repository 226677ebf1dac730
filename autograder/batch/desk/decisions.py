"""The instructor's decisions applied to the grader's scores: one gradebook of decisions for
`grade` and the course service alike.

The grader's score is kept as it was graded (`auto_score`); what people and the policy
decide is applied on top, at read time: an extension granted later makes an earlier
submission on time, and an override holds through any later regrade. The final `score` is
the override when there is one, else the grader's score less the late penalty.

A decision is a plain dict with the fields of the service's `decisions` table and of
`grade`'s gradebook alike: kind (override, comment, extension, regrade-request,
regrade-answer), student, exercise, submission, score, until, text, by, at.

The class's rows are gradesheet.grade_rows' (the columns of grades.csv), with `auto_score`,
`override`, `late_penalty` (the points taken off) and `comment` after `score`.
"""
from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .. import sheets as gradesheet
from . import policy

if TYPE_CHECKING:
    from ..sheets import GradedSubmission

DECISION_COLUMNS = ["auto_score", "override", "late_penalty", "comment"]
#: The exercise of a notebook that named none (and could not be read): decisions about it use this.
NO_EXERCISE = "?"
KINDS = ("override", "comment", "extension", "regrade-request", "regrade-answer")


class DecisionSource(Protocol):
    """Where decisions are kept: the service's Store, `grade`'s Gradebook."""

    def decisions(self, kind: str | None = None, student: str | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Decided:
    """The decisions in force, by student (and exercise): the latest of each kind wins."""

    extensions: dict[str, float]  # student -> their deadline, granted at the desk
    overrides: dict[tuple[str, str], dict[str, Any]]  # (student, exercise) -> the latest override
    #: (student, exercise) -> the latest comment: a comment's text, or an override's
    comments: dict[tuple[str, str], str] = field(default_factory=dict)

    @classmethod
    def read(cls, source: DecisionSource, student: str | None = None) -> Decided:
        return cls.of(source.decisions(student=student))

    @classmethod
    def of(cls, decisions: Iterable[dict[str, Any]]) -> Decided:
        """The decisions in force among these, given oldest first."""
        extensions: dict[str, float] = {}
        overrides: dict[tuple[str, str], dict[str, Any]] = {}
        comments: dict[tuple[str, str], str] = {}
        for decision in decisions:
            key = (decision["student"], decision.get("exercise") or "")
            if decision["kind"] == "extension" and decision["until"] is not None:
                extensions[decision["student"]] = decision["until"]
            elif decision["kind"] == "override" and decision["exercise"]:
                overrides[key] = decision
                if decision.get("text"):
                    comments[key] = decision["text"]
            elif decision["kind"] == "comment" and decision.get("text"):
                comments[key] = decision["text"]
        return cls(extensions, overrides, comments)

    def comment(self, student: str, exercise: str) -> str:
        return self.comments.get((student, exercise)) or self.comments.get((student, ""), "")


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


def standing(course: policy.LatePolicy, decided: Decided, row: dict[str, Any]) -> Standing:
    """A submission's standing: `row` has its student, `submitted_at` (seconds since the epoch, or
    None when no time is known: never late) and the grader's `score` (None when not graded)."""
    due = policy.due(course, row["student"], decided.extensions.get(row["student"]))
    submitted = row.get("submitted_at")
    days = 0 if submitted is None else policy.days_late(submitted, due)
    auto = row.get("score")
    penalty = 0.0 if auto is None else round(auto * policy.late_fraction(days, course.late_penalty_per_day), 4)
    return Standing(due, days, auto, penalty, None if auto is None else round(auto - penalty, 4))


@dataclass(frozen=True)
class Final:
    """One submission with the decisions applied: its outcome (the result's `score` the final
    grade) and the decision columns of grades.csv."""

    outcome: GradedSubmission
    auto_score: float | None
    override: float | None
    late_penalty: float | None  # None when not late
    comment: str

    @property
    def columns(self) -> list[object]:
        return ["" if self.auto_score is None else self.auto_score,
                "" if self.override is None else self.override,
                "" if self.late_penalty is None else self.late_penalty, self.comment]


def apply(outcome: GradedSubmission, found: Standing, decided: Decided,
          rebuild: Any = None) -> Final:
    """The outcome with its final score: the override, else the grader's less the late penalty.
    The result document is copied, never changed; `rebuild(outcome, document)` makes the new
    outcome (default: a copy of the outcome with the copied document)."""
    student, exercise = outcome.submission.student, outcome.exercise or NO_EXERCISE
    document = copy.copy(outcome.result)
    override = decided.overrides.get((student, exercise))
    if found.score is not None:
        document["score"] = found.score
    if override is not None and override.get("score") is not None:
        document["score"] = float(override["score"])
        document["override"] = float(override["score"])  # a notebook that could not be read has a grade now
    made = rebuild(outcome, document) if rebuild is not None else _with_document(outcome, document)
    return Final(made, found.auto_score, None if override is None else override.get("score"),
                 found.late_penalty if found.late else None, decided.comment(student, exercise))


def _with_document(outcome: GradedSubmission, document: Any) -> GradedSubmission:
    duplicate = copy.copy(outcome)
    duplicate.result = document  # type: ignore[misc]
    return duplicate


def rows(finals: Sequence[Final]) -> list[list[object]]:
    """grades.csv's header and rows: gradesheet.grade_rows' with the decision columns after `score`."""
    table = gradesheet.grade_rows([final.outcome for final in finals])
    at = table[0].index("score") + 1
    table[0][at:at] = DECISION_COLUMNS
    for line, final in zip(table[1:], finals, strict=True):
        line[at:at] = final.columns
    return table
