"""The course's policy as pure functions of times: deadlines with extensions, lateness, the
late penalty, the hard cut-off and the submission limit. Times are seconds since the epoch.

Shared by `grade` (its --policy file, read by batch/desk/files.py) and the course service (its
course.toml): both read the same keys (`deadline`, `cutoff`, `late_penalty_per_day`,
`[extensions]`), with the service's own reader (service/course.py), so a class graded
either way is late alike.

The submission limit is what keeps the grader from being an oracle: a student who could
submit without bound could search for the hidden threshold or the holdout's answers.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

HOUR_S = 3600.0
DAY_S = 86400.0


class LatePolicy(Protocol):
    """What the policy reads of a course: service/course.Course is one, `Policy` another."""

    @property
    def deadline(self) -> dt.datetime | None: ...
    @property
    def cutoff(self) -> dt.datetime | None: ...
    @property
    def late_penalty_per_day(self) -> float: ...
    @property
    def extensions(self) -> Mapping[str, dt.datetime]: ...


@dataclass(frozen=True)
class Policy:
    """The late policy of a class graded with `grade` (--policy FILE.toml); none by default."""

    deadline: dt.datetime | None = None
    cutoff: dt.datetime | None = None
    late_penalty_per_day: float = 0.0
    extensions: Mapping[str, dt.datetime] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return self.deadline is not None or bool(self.extensions)

    def as_data(self) -> dict:
        """The policy as JSON data (the gradebook keeps the last one given, for later runs)."""
        return {"deadline": _iso(self.deadline), "cutoff": _iso(self.cutoff),
                "late_penalty_per_day": self.late_penalty_per_day,
                "extensions": {student: when.isoformat() for student, when in self.extensions.items()}}

    @classmethod
    def from_data(cls, data: object) -> Policy:
        """A policy `as_data` wrote; none when the data is not one."""
        if not isinstance(data, dict):
            return cls()
        try:
            return cls(_time(data.get("deadline")), _time(data.get("cutoff")), float(data["late_penalty_per_day"]),
                       {str(s): dt.datetime.fromisoformat(w) for s, w in dict(data.get("extensions") or {}).items()})
        except (KeyError, TypeError, ValueError):
            return cls()


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _time(text: object) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if isinstance(text, str) and text else None


def epoch(when: dt.datetime | None) -> float | None:
    return None if when is None else when.timestamp()


def due(course: LatePolicy, student: str, granted: float | None = None) -> float | None:
    """A student's deadline: an extension granted at the desk (`granted`), else course.toml's, else
    the course's own. None: no deadline."""
    if granted is not None:
        return granted
    own = course.extensions.get(student)
    return epoch(own if own is not None else course.deadline)


def cutoff(course: LatePolicy, student_due: float | None) -> float | None:
    """The student's hard cut-off: the course's, moved by as much as their deadline was extended."""
    hard = epoch(course.cutoff)
    deadline = epoch(course.deadline)
    if hard is None:
        return None
    if student_due is not None and deadline is not None and student_due > deadline:
        return hard + (student_due - deadline)
    return hard


def days_late(submitted_at: float, student_due: float | None) -> int:
    """Whole days late, a part of a day counting as one; 0 when on time or with no deadline."""
    if student_due is None or submitted_at <= student_due:
        return 0
    return math.ceil((submitted_at - student_due) / DAY_S)


def late_fraction(days: int, per_day: float) -> float:
    """The fraction of the score taken off for `days` late: at most all of it."""
    return min(1.0, days * per_day)


def retry_after(accepted_at: Sequence[float], per_hour: int, now: float) -> int | None:
    """Seconds until one more submission is allowed, given the times of the accepted ones
    (of one student and exercise); None when one is allowed now."""
    recent = sorted(t for t in accepted_at if now - t < HOUR_S)
    if len(recent) < per_hour:
        return None
    frees = recent[len(recent) - per_hour] + HOUR_S  # the oldest that still counts leaves the window
    return max(1, math.ceil(frees - now))

