"""The gradebook: every graded submission, kept in SQLite as soon as it is graded.

One row per (student, exercise) with the notebook's content hash and the
rubric's hash, so a re-run knows what is already done: the same notebook
under the same rubric is not graded again; a changed notebook or rubric is.
Each result is committed on its own, so an interruption loses at most the
submissions that were being graded at that moment.

Each row keeps what the class files are rebuilt from (the submission's name in the LMS's
download, its notes, the notebook itself, its time when the instructor gave one), so that
grading one student into an existing gradebook rewrites grades.csv, the Canvas file and the
summary for the whole class, not for that student alone.

The decisions table holds the instructor's decisions (desk/decisions.py), with the fields of
the course service's: kind, student, exercise, submission, score, until, text, by, at. A
regrade replaces a result, never a decision.
"""
from __future__ import annotations

import json
import sqlite3
import time
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..errors import UsageError
from .collect import LmsName, Submission
from .desk.decisions import NO_EXERCISE

if TYPE_CHECKING:
    from ..grading.result import ResultDocument

SCHEMA_VERSION = 2
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    student TEXT NOT NULL,
    exercise TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    rubric_hash TEXT NOT NULL,
    origin TEXT NOT NULL,
    status TEXT NOT NULL,
    score REAL NOT NULL,
    result TEXT NOT NULL,
    graded_at REAL NOT NULL,
    PRIMARY KEY (student, exercise)
);
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    student TEXT NOT NULL,
    exercise TEXT,
    submission TEXT,
    score REAL,
    until REAL,
    text TEXT,
    by TEXT NOT NULL,
    at REAL NOT NULL
);
"""
#: Schema 2's columns of `results`, added to a schema 1 gradebook (NULL for its rows: a class
#: file names what is known of them).
ADDED_COLUMNS = (("name", "TEXT"), ("notes", "TEXT"), ("content", "BLOB"), ("submitted_at", "REAL"))
COLUMNS = ("student, exercise, content_hash, rubric_hash, origin, status, score, result, graded_at, "
           "name, notes, content, submitted_at")


class GradebookError(UsageError):
    """The gradebook file is unusable (another program's database, a newer schema, ...)."""


class Gradebook:
    def __init__(self, path: Path):
        self.path = path
        try:
            self.db = sqlite3.connect(path, timeout=30)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.executescript(SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as error:
            raise GradebookError(f"{path} is not a gradebook this grader can use ({error})") from None
        if row is not None and int(row[0]) > SCHEMA_VERSION:
            raise GradebookError(f"{path} was written by a newer grader (schema {row[0]}); "
                                 f"this one reads schema {SCHEMA_VERSION}")
        have = {column[1] for column in self.db.execute("PRAGMA table_info(results)")}
        with self.db:
            for column, kind in ADDED_COLUMNS:
                if column not in have:
                    self.db.execute(f"ALTER TABLE results ADD COLUMN {column} {kind}")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def done(self, student: str, exercise: str, content_hash: str, rubric: str) -> ResultDocument | None:
        """The stored result if this exact notebook was graded under this exact rubric
        (see GradingPlan.rubric) and that result is final: one a fault of the grader shaped
        (its `grader_fault`) is graded again."""
        row = self.db.execute(
            "SELECT result FROM results WHERE student = ? AND exercise = ? AND content_hash = ? "
            "AND rubric_hash = ?", (student, exercise, content_hash, rubric)).fetchone()
        if row is None:
            return None
        stored = cast("ResultDocument", json.loads(row[0]))
        return None if stored.get("grader_fault") else stored

    def record(self, student: str, exercise: str, content_hash: str, rubric: str, origin: str,
               result: ResultDocument, submission: Submission | None = None,
               submitted_at: float | None = None) -> None:
        """Keep a result (and what the class files need of its submission), replacing the student's
        earlier one of this exercise, and any row of theirs that was the same notebook under
        another exercise or one that named none: the instructor's latest word on which it is."""
        name = notes = content = None
        if submission is not None:
            name, notes = json.dumps(asdict(submission.name)), json.dumps(submission.notes)
            content = zlib.compress(submission.content)
        with self.db:  # one transaction per submission: committed as soon as it is graded
            if submitted_at is None:  # a time given on an earlier run stays with the student's row
                before = self.db.execute("SELECT submitted_at FROM results WHERE student = ? AND exercise = ?",
                                         (student, exercise)).fetchone()
                submitted_at = before[0] if before else None
            self.db.execute("DELETE FROM results WHERE student = ? AND exercise != ? AND "
                            "(content_hash = ? OR exercise = ?)", (student, exercise, content_hash, NO_EXERCISE))
            self.db.execute(
                f"INSERT OR REPLACE INTO results ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (student, exercise, content_hash, rubric, origin, result["status"], float(result["score"]),
                 json.dumps(result), time.time(), name, notes, content, submitted_at))

    def set_time(self, student: str, exercise: str, submitted_at: float | None) -> None:
        """The submission's time, as the instructor gave it on this run (a result reused unchanged)."""
        with self.db:
            self.db.execute("UPDATE results SET submitted_at = ? WHERE student = ? AND exercise = ?",
                            (submitted_at, student, exercise))

    def remembered(self, key: str) -> object:
        """A setting an earlier run kept (None when none did)."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (f"setting.{key}",)).fetchone()
        return None if row is None else json.loads(row[0])

    def remember(self, key: str, value: object) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (f"setting.{key}", json.dumps(value)))

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def keys(self) -> list[tuple[str, str]]:
        """(student, exercise) of every result kept."""
        return [(row[0], row[1]) for row in self.db.execute("SELECT student, exercise FROM results")]

    def kept(self) -> list[tuple[Submission, str, ResultDocument, float | None]]:
        """Every result kept, by student and exercise: the submission as far as it was kept (a
        schema 1 row has no notebook or LMS name), its exercise, its result and its time."""
        found = []
        for (student, exercise, origin, result, name, notes, content, submitted_at) in self.db.execute(
                "SELECT student, exercise, origin, result, name, notes, content, submitted_at FROM results "
                "ORDER BY student, exercise"):
            lms = LmsName(**json.loads(name)) if name else LmsName(student, origin)
            submission = Submission(student, origin, zlib.decompress(content) if content else b"", lms,
                                    notes=json.loads(notes) if notes else [])
            found.append((submission, exercise, cast("ResultDocument", json.loads(result)), submitted_at))
        return found

    # -- decisions (the instructor's desk) -------------------------------------------------------
    def decide(self, kind: str, student: str, by: str, *, exercise: str | None = None,
               score: float | None = None, until: float | None = None, text: str | None = None) -> int:
        with self.db:
            cursor = self.db.execute(
                "INSERT INTO decisions (kind, student, exercise, submission, score, until, text, by, at) "
                "VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?)", (kind, student, exercise, score, until, text, by, time.time()))
            return int(cursor.lastrowid or 0)

    def decisions(self, kind: str | None = None, student: str | None = None) -> list[dict[str, Any]]:
        """The decisions, oldest first, as dicts of the service's decision fields."""
        query, values = "SELECT * FROM decisions WHERE 1 = 1", cast("list[object]", [])
        if kind is not None:
            query, values = query + " AND kind = ?", [*values, kind]
        if student is not None:
            query, values = query + " AND student = ?", [*values, student]
        cursor = self.db.execute(query + " ORDER BY seq", values)
        columns = [entry[0] for entry in cursor.description]
        return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]

    def close(self) -> None:
        self.db.close()
