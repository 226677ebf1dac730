"""`grade --overrides FILE.csv`: the instructor's scores and comments, read and checked line by line.

Columns `student`, `exercise`, `score`, `comment` (any order; `exercise` may be left blank
for a student with one exercise, `score` blank for a comment alone). Every line is checked
before anything is graded or recorded: a bad file is one line naming the file and its line,
exit 2, and nothing of it is kept. Recording is idempotent: a line whose decision is already
the one in force is not recorded again, so a re-run with the same file adds nothing.
"""
from __future__ import annotations

import csv
import getpass
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ...errors import UsageError
from .decisions import NO_EXERCISE, Decided, DecisionSource

COLUMNS = ("student", "exercise", "score", "comment")
MAX_COMMENT = 4000
MAX_LINES = 100_000
MAX_SCORE = 1e6


@dataclass(frozen=True)
class Override:
    line: int  # in the file, 1-based, the header being line 1
    student: str
    exercise: str  # "" when the file left it blank: the student's only exercise
    score: float | None  # None: a comment alone
    comment: str


def _fail(path: Path, line: int, reason: str) -> UsageError:
    return UsageError(f"{path}, line {line}: {reason}")


def read(path: Path | str) -> list[Override]:
    """The lines of an overrides file; UsageError naming the line of the first bad one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # Excel writes a byte-order mark
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    reader = csv.reader(text.splitlines())
    try:
        header = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as error:
        raise _fail(path, 1, f"not CSV ({error})") from None
    missing = [name for name in ("student", "score") if name not in header]
    if missing:
        raise _fail(path, 1, f"the header must name the columns {', '.join(COLUMNS)} (missing: {', '.join(missing)})")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise _fail(path, 1, f"unknown column {unknown[0][:40]!r}; the columns are {', '.join(COLUMNS)}")
    found: list[Override] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        for number, values in enumerate(reader, start=2):
            if number > MAX_LINES:
                raise _fail(path, number, f"more than {MAX_LINES} lines")
            if not any(value.strip() for value in values):
                continue
            if len(values) > len(header):
                raise _fail(path, number, f"{len(values)} values for {len(header)} columns")
            row = dict(zip(header, [value.strip() for value in values], strict=False))
            override = _line(path, number, row)
            key = (override.student, override.exercise)
            if key in seen:
                raise _fail(path, number, f"{override.student[:60]!r} is given twice (line {seen[key]} too)")
            seen[key] = number
            found.append(override)
    except csv.Error as error:
        raise _fail(path, reader.line_num, f"not CSV ({error})") from None
    return found


def _line(path: Path, number: int, row: dict[str, str]) -> Override:
    student, exercise = row.get("student", ""), row.get("exercise", "")
    text, comment = row.get("score", ""), row.get("comment", "")
    if not student:
        raise _fail(path, number, "no student")
    if any(ord(c) < 32 or ord(c) == 127 for c in student + exercise):
        raise _fail(path, number, "control characters in the student or exercise")
    score: float | None = None
    if text:
        try:
            score = float(text)
        except ValueError:
            raise _fail(path, number, f"score {text[:40]!r} is not a number") from None
        if not math.isfinite(score) or not 0 <= score <= MAX_SCORE:
            raise _fail(path, number, f"score {text[:40]!r} must be a number from 0 up")
    elif not comment:
        raise _fail(path, number, "neither a score nor a comment")
    if len(comment) > MAX_COMMENT:
        raise _fail(path, number, f"a comment of {len(comment)} characters; at most {MAX_COMMENT}")
    return Override(number, student, exercise, score, comment)


def resolve(path: Path | str, overrides: Iterable[Override],
            classes: dict[str, set[str]]) -> list[Override]:
    """Each line with its exercise, checked against the class (`classes`: student -> their
    exercises, in this run and in the gradebook). A student or exercise not in the class is a
    mistake in the file (a typo would otherwise grade no one): UsageError naming the line."""
    resolved = []
    for override in overrides:
        theirs = classes.get(override.student)
        if not theirs:
            raise _fail(Path(path), override.line, f"no student {override.student[:60]!r} in the class "
                                                    "(this run's submissions and the gradebook)")
        exercise = override.exercise
        if not exercise:
            if len(theirs) != 1:
                raise _fail(Path(path), override.line, f"{override.student[:60]!r} has {len(theirs)} exercises "
                                                        f"({', '.join(sorted(theirs))}): name one")
            exercise = next(iter(theirs))
        elif exercise not in theirs:
            shown = ", ".join(sorted(e if e != NO_EXERCISE else "one that named no exercise: leave it blank"
                                     for e in theirs))
            raise _fail(Path(path), override.line, f"{override.student[:60]!r} has no submission of exercise "
                                                    f"{exercise[:60]!r} (theirs: {shown})")
        resolved.append(Override(override.line, override.student, exercise, override.score, override.comment))
    return resolved


def who() -> str:
    """Who records a decision from the command line: the OS user, else "instructor"."""
    try:
        return getpass.getuser() or "instructor"
    except (KeyError, OSError):  # no user name for this uid (a container)
        return "instructor"


class DecisionBook(DecisionSource, Protocol):
    """Where decisions are recorded: the service's Store, `grade`'s Gradebook."""

    def decide(self, kind: str, student: str, by: str, *, exercise: str | None = None,
               score: float | None = None, until: float | None = None, text: str | None = None) -> int: ...


def record(book: DecisionBook, overrides: Iterable[Override], by: str | None = None) -> int:
    """Record each line whose decision is not already the one in force; how many were recorded."""
    by = by or who()
    recorded = 0
    for override in overrides:
        decided = Decided.read(book, override.student)
        key = (override.student, override.exercise)
        if override.score is not None:
            now = decided.overrides.get(key)
            if now is not None and now["score"] == override.score and (now["text"] or "") == override.comment:
                continue
            book.decide("override", override.student, by, exercise=override.exercise, score=override.score,
                        text=override.comment or None)
        else:
            if decided.comments.get(key, "") == override.comment:
                continue
            book.decide("comment", override.student, by, exercise=override.exercise, text=override.comment)
        recorded += 1
    return recorded
