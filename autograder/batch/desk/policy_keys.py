"""The late policy's keys as course.toml holds them (deadline, cutoff, late_penalty_per_day,
[extensions]), read the same way for the course service's course.toml and `grade --policy`.

A bad value is a PolicyKeyError whose text starts with the key; each reader names its own file.
"""
from __future__ import annotations

import datetime as dt

from ...errors import UsageError

DEFAULT_LATE_PENALTY = 0.1


class PolicyKeyError(UsageError):
    """A policy key's value that cannot be used: "KEY: reason"."""


def _fail(key: str, reason: str) -> PolicyKeyError:
    return PolicyKeyError(f"{key}: {reason}")


def parse_time(value: object, key: str) -> dt.datetime | None:
    """An ISO 8601 time with its zone (a TOML datetime or a string); "" for none."""
    if value == "" or value is None:
        return None
    if isinstance(value, str):
        text = value
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _fail(key, f"{text[:60]!r} is not an ISO 8601 time (e.g. 2026-06-01T23:59:00+02:00)") from None
    if not isinstance(value, dt.datetime):
        raise _fail(key, "must be an ISO 8601 time with its time zone, e.g. \"2026-06-01T23:59:00+02:00\"")
    if value.tzinfo is None:
        raise _fail(key, "give the time zone too (e.g. +02:00 or Z): a bare time means different moments "
                         "to the server and the students")
    return value


def late_penalty_per_day(value: object) -> float:
    """The fraction of the score a day late takes off, from 0 to 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise _fail("late_penalty_per_day", "must be a number from 0 to 1")
    return float(value)


def read_extensions(table: object, deadline: dt.datetime | None) -> dict[str, dt.datetime]:
    if not isinstance(table, dict):
        raise _fail("extensions", "must be a table of student = new deadline (or days)")
    resolved: dict[str, dt.datetime] = {}
    for student, value in table.items():
        key = f"extensions.{student}"
        if isinstance(value, dict):  # [extensions.alice] deadline = ... (or days = ...)
            value = next((value[name] for name in ("deadline", "until", "days") if name in value), "")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if deadline is None:
                raise _fail(key, "days of extension need a course deadline")
            if not 0 <= value <= 3650:
                raise _fail(key, "must be between 0 and 3650 days")
            resolved[student] = deadline + dt.timedelta(days=float(value))
        else:
            when = parse_time(value, key)
            if when is not None:
                resolved[student] = when
    return resolved
