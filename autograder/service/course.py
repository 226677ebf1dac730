"""A course's settings: DIR/course.toml, written by `course init` and read by every command.

    title = "Keras lesson"
    exercises = ["keras-dense", "exercises/dense-32-16.toml"]  # built-in ids or files, relative to DIR
    data = "/srv/course/fashion.npz"        # optional: the built-in stand-in without it
    submissions_per_hour = 5                 # per student and exercise
    deadline = "2026-06-01T23:59:00+02:00"   # ISO 8601 with its time zone; "" for none
    late_penalty_per_day = 0.1               # fraction of the score per day (or part of one) late
    cutoff = ""                              # after it (plus a student's extension) submissions are refused

    [extensions]                             # per student: a new deadline, or days added to it
    alice = "2026-06-03T23:59:00+02:00"
    bob = 2

Everything a student sends is checked against these, the instructor's word; nothing a
submission holds changes them. A bad value is refused with a one-line reason naming its key.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..batch.desk import policy_keys
from ..errors import UsageError
from ..exercise import registry as exercise_catalogue
from ..exercise.registry import Exercise
from ..grading.settings import Request

COURSE_FILE = "course.toml"
INSTRUCTOR_TOKEN_FILE = "instructor.token"
DATABASE_FILE = "course.sqlite"
EXERCISE_FOLDER = "exercises"

DEFAULT_SUBMISSIONS_PER_HOUR = 10
DEFAULT_LATE_PENALTY = policy_keys.DEFAULT_LATE_PENALTY
DEFAULT_MAX_UPLOAD_MB = 20.0
DEFAULT_UPLOAD_TIMEOUT_S = 60.0
#: A student id: what a roster may hold (shown in pages and files, always escaped there).
MAX_STUDENT_ID = 200
STUDENT_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class CourseError(UsageError):
    """course.toml, or something it names, is unusable: exit 2 with this line."""


@dataclass(frozen=True)
class Course:
    root: Path
    title: str
    #: The exercises as course.toml names them (built-in ids, or files relative to root), by id.
    exercises: dict[str, Exercise]
    exercise_sources: dict[str, str]
    data: str | None = None
    holdout: str | None = None
    threshold: float | None = None
    hide_threshold: bool = False
    show_holdout: bool = False
    timeout_s: float | None = None
    submissions_per_hour: int = DEFAULT_SUBMISSIONS_PER_HOUR
    deadline: dt.datetime | None = None
    cutoff: dt.datetime | None = None
    late_penalty_per_day: float = DEFAULT_LATE_PENALTY
    #: Per student: their own deadline (course.toml's extensions, resolved to a time).
    extensions: dict[str, dt.datetime] = field(default_factory=dict)
    max_upload_bytes: int = int(DEFAULT_MAX_UPLOAD_MB * 2**20)
    upload_timeout_s: float = DEFAULT_UPLOAD_TIMEOUT_S
    database: str | None = None

    @property
    def instructor_token_file(self) -> Path:
        return self.root / INSTRUCTOR_TOKEN_FILE

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.root / DATABASE_FILE}"

    def request(self, exercise_id: str) -> Request:
        """What `grade --exercise ...` would be asked for this exercise of the course."""
        source = self.exercise_sources[exercise_id]
        if exercise_catalogue.is_file_reference(source):
            source = str(self.root / source)
        values: dict[str, Any] = {"exercise": source, "data": self.data, "holdout": self.holdout,
                                  "threshold": self.threshold, "timeout_s": self.timeout_s,
                                  "hide_threshold": self.hide_threshold or None,
                                  "show_holdout": self.show_holdout or None}
        return Request.from_options(values)


def _fail(key: str, reason: str) -> CourseError:
    return CourseError(f"{COURSE_FILE}: {key}: {reason}")


def parse_time(value: object, key: str) -> dt.datetime | None:
    """An ISO 8601 time with its zone (a TOML datetime or a string); "" for none."""
    try:
        return policy_keys.parse_time(value, key)
    except policy_keys.PolicyKeyError as error:
        raise CourseError(f"{COURSE_FILE}: {error}") from None


def _number(table: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _fail(key, f"must be a number from {low:g} to {high:g}")
    return float(value)


def student_id_problem(student: str) -> str | None:
    """Why a roster's student id cannot be used, or None."""
    if not STUDENT_ID.match(student) or student != student.strip():
        return (f"student id {student[:40]!r} must be 1 to {MAX_STUDENT_ID} characters, without control "
                "characters or spaces around it")
    return None


def read_extensions(table: object, deadline: dt.datetime | None) -> dict[str, dt.datetime]:
    try:
        return policy_keys.read_extensions(table, deadline)
    except policy_keys.PolicyKeyError as error:
        raise CourseError(f"{COURSE_FILE}: {error}") from None


def load(root: Path | str) -> Course:
    """Read DIR/course.toml and every exercise it names; CourseError with a one-line reason."""
    root = Path(root).resolve()
    path = root / COURSE_FILE
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CourseError(f"{root} is not a course: no {COURSE_FILE} "
                          "(make one with `autograder course init`)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise CourseError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{path} is not valid TOML: {error}") from None
    sources = table.get("exercises")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) and s for s in sources):
        raise _fail("exercises", "must list at least one exercise id or file")
    found: dict[str, Exercise] = {}
    named: dict[str, str] = {}
    for source in sources:
        exercise = _exercise(root, source)
        if exercise.id in found:
            raise _fail("exercises", f"exercise id {exercise.id!r} is named twice")
        found[exercise.id], named[exercise.id] = exercise, source
    deadline = parse_time(table.get("deadline"), "deadline")
    per_hour = table.get("submissions_per_hour", DEFAULT_SUBMISSIONS_PER_HOUR)
    if isinstance(per_hour, bool) or not isinstance(per_hour, int) or not 1 <= per_hour <= 10_000:
        raise _fail("submissions_per_hour", "must be a whole number from 1 to 10000")
    text = {key: table.get(key) for key in ("title", "data", "holdout", "database")}
    for key, value in text.items():
        if value is not None and not isinstance(value, str):
            raise _fail(key, "must be a string")
    flags = {key: table.get(key, False) for key in ("hide_threshold", "show_holdout")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise _fail(key, "must be true or false")
    return Course(
        root=root, title=text["title"] or root.name, exercises=found, exercise_sources=named,
        data=_beside(root, text["data"]), holdout=_beside(root, text["holdout"]),
        threshold=_number(table, "threshold", -1, -1, 1) if "threshold" in table else None,
        hide_threshold=flags["hide_threshold"], show_holdout=flags["show_holdout"],
        timeout_s=_number(table, "timeout", 0, 1, 86400) if "timeout" in table else None,
        submissions_per_hour=per_hour, deadline=deadline, cutoff=parse_time(table.get("cutoff"), "cutoff"),
        late_penalty_per_day=_number(table, "late_penalty_per_day", DEFAULT_LATE_PENALTY, 0, 1),
        extensions=read_extensions(table.get("extensions", {}), deadline),
        max_upload_bytes=int(_number(table, "max_upload_mb", DEFAULT_MAX_UPLOAD_MB, 0.01, 200) * 2**20),
        upload_timeout_s=_number(table, "upload_timeout_s", DEFAULT_UPLOAD_TIMEOUT_S, 1, 3600),
        database=text["database"] or None)


def _beside(root: Path, value: str | None) -> str | None:
    return None if not value else str(root / value) if not os.path.isabs(value) else value


def _exercise(root: Path, source: str) -> Exercise:
    try:
        if exercise_catalogue.is_file_reference(source):
            return exercise_catalogue.from_file(root / source)
        return exercise_catalogue.get(source)
    except UsageError as error:
        raise _fail("exercises", str(error)) from None


TEMPLATE = """\
# The course's settings (autograder course init). `autograder serve` reads them when it starts.
title = {title}
# Built-in exercise ids, or exercise files relative to this folder.
exercises = [{exercises}]
{data}
# Accepted submissions per student and exercise in any hour (over it: 429 with Retry-After).
submissions_per_hour = {per_hour}
# ISO 8601 with its time zone, e.g. "2026-06-01T23:59:00+02:00"; "" for none.
deadline = ""
# Fraction of the score taken off per day, or part of one, after the deadline (0 to 1).
late_penalty_per_day = {penalty}
# After this time (plus a student's extension) submissions are refused; "" for none.
cutoff = ""

[extensions]
# One line per student: a new deadline, or days added to the course's.
# alice = "2026-06-03T23:59:00+02:00"
# bob = 2
"""


def toml_string(text: str) -> str:
    """A TOML basic string (its escapes are JSON's, for what we write)."""
    import json

    return json.dumps(text, ensure_ascii=False)


def write_new(root: Path, exercise_names: list[str], data: str | None) -> Course:
    """`course init`: check every exercise and the data, copy exercise files into DIR/exercises/,
    write course.toml; refuses a folder that already has one (its tokens would no longer match)."""
    from ..grading.plan import load_lesson

    root = root.resolve()
    if (root / COURSE_FILE).exists():
        raise CourseError(f"{root / COURSE_FILE} exists already; edit it, or choose another folder")
    sources: list[str] = []
    copies: dict[str, str] = {}
    seen: set[str] = set()
    for name in exercise_names:
        exercise = exercise_catalogue.get(name)
        if exercise.id in seen:
            raise CourseError(f"exercise {exercise.id!r} is given twice")
        seen.add(exercise.id)
        if exercise_catalogue.is_file_reference(name):
            relative = f"{EXERCISE_FOLDER}/{exercise.id}.toml"
            copies[relative] = Path(name).read_text(encoding="utf-8")
            sources.append(relative)
        else:
            sources.append(exercise.id)
    if data is not None:
        load_lesson(data)  # a bad file is refused now, not when the first student submits
        data = os.path.abspath(data)
    # Only its owner may read the course: its database holds every notebook and the tokens' hashes.
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for relative, text in copies.items():
        (root / relative).parent.mkdir(exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    (root / COURSE_FILE).write_text(TEMPLATE.format(
        title=toml_string(root.name), exercises=", ".join(toml_string(s) for s in sources),
        data=f"data = {toml_string(data)}" if data else "# data = \"fashion.npz\"  (default: the built-in stand-in)",
        per_hour=DEFAULT_SUBMISSIONS_PER_HOUR, penalty=DEFAULT_LATE_PENALTY), encoding="utf-8")
    return load(root)
