"""The instructor's files for `grade`'s late policy: --policy FILE.toml and --times FILE.csv.

Each is read whole and checked before anything is graded: a bad one is a one-line reason
naming the file (and the line or key), exit 2.
"""
from __future__ import annotations

import csv
import datetime as dt
import tomllib
from pathlib import Path

from ...errors import UsageError
from . import policy_keys
from .policy import Policy


def read_policy(path: Path | str) -> Policy:
    """The late policy in a TOML file: course.toml itself, or a file with only its policy keys
    (`deadline`, `cutoff`, `late_penalty_per_day`, `[extensions]`), read as the service reads
    them. UsageError with a one-line reason naming the file and the key."""
    path = Path(path)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"{path} is not valid TOML: {error}") from None
    try:
        deadline = policy_keys.parse_time(table.get("deadline"), "deadline")
        per_day = policy_keys.late_penalty_per_day(table.get("late_penalty_per_day", policy_keys.DEFAULT_LATE_PENALTY))
        return Policy(deadline, policy_keys.parse_time(table.get("cutoff"), "cutoff"), per_day,
                      policy_keys.read_extensions(table.get("extensions", {}), deadline))
    except policy_keys.PolicyKeyError as error:  # its reason starts with the key: name the file given
        raise UsageError(f"{path}: {error}") from None


def read_times(path: Path | str) -> dict[str, float]:
    """`grade --times FILE.csv`: when each student submitted, as the instructor's LMS says (columns
    `student` and `submitted_at`, an ISO 8601 time with its zone), in seconds since the epoch.
    UsageError naming the line of the first bad one. Never read from a notebook: a student
    could write any time there."""
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
