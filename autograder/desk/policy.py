"""The course's policy as pure functions of times: deadlines with extensions, lateness, the
late penalty, the hard cut-off and the submission limit. Times are seconds since the epoch.

Shared by `grade` (its --policy file) and the course service (its course.toml): both read
the same keys (`deadline`, `cutoff`, `late_penalty_per_day`, `[extensions]`), with the
service's own reader (service/course.py), so a class graded either way is late alike.

The submission limit is what keeps the grader from being an oracle: a student who could
submit without bound could search for the hidden threshold or the holdout's answers.
"""
from __future__ import annotations

import datetime as dt
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..errors import UsageError

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


def read_policy(path: Path | str) -> Policy:
    """The late policy in a TOML file: course.toml itself, or a file with only its policy keys
    (`deadline`, `cutoff`, `late_penalty_per_day`, `[extensions]`), read as the service reads
    them. UsageError with a one-line reason naming the file and the key."""
    from ..service import course

    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML: {error}") from None
    try:
        deadline = course.parse_time(table.get("deadline"), "deadline")
        per_day = table.get("late_penalty_per_day", course.DEFAULT_LATE_PENALTY)
        if isinstance(per_day, bool) or not isinstance(per_day, (int, float)) or not 0 <= per_day <= 1:
            raise course.CourseError(f"{course.COURSE_FILE}: late_penalty_per_day: must be a number from 0 to 1")
        return Policy(deadline, course.parse_time(table.get("cutoff"), "cutoff"), float(per_day),
                      course.read_extensions(table.get("extensions", {}), deadline))
    except course.CourseError as error:  # its reason names course.toml: name the file given
        raise UsageError(f"{path}: {str(error).removeprefix(course.COURSE_FILE + ': ')}") from None


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


def read_times(path: Path | str) -> dict[str, float]:
    """`grade --times FILE.csv`: when each student submitted, as the instructor's LMS says (columns
    `student` and `submitted_at`, an ISO 8601 time with its zone), in seconds since the epoch.
    UsageError naming the line of the first bad one. Never read from a notebook: a student
    could write any time there."""
    import csv

    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    reader = csv.reader(lines)
    header = [name.strip().lower() for name in next(reader, [])]
    if "student" not in header or "submitted_at" not in header:
        raise UsageError(f"{path}, line 1: the header must name the columns student and submitted_at")
    times: dict[str, float] = {}
    for number, values in enumerate(reader, start=2):
        row = dict(zip(header, (value.strip() for value in values), strict=False))
        if not any(row.values()):
            continue
        student, text = row.get("student", ""), row.get("submitted_at", "")
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(f"{path}, line {number}: {text[:60]!r} is not an ISO 8601 time") from None
        if not student or when.tzinfo is None:
            raise UsageError(f"{path}, line {number}: a student and a time with its zone (e.g. +02:00 or Z) are needed")
        times[student] = when.timestamp()
    return times
