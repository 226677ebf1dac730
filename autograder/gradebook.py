"""The gradebook: every graded submission, kept in SQLite as soon as it is graded.

One row per (student, exercise) with the notebook's content hash and the
rubric's hash, so a re-run knows what is already done: the same notebook
under the same rubric is not graded again; a changed notebook or rubric is.
Each result is committed on its own, so an interruption loses at most the
submissions that were being graded at that moment.
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

from .errors import UsageError

if TYPE_CHECKING:
    from .result import ResultDocument

SCHEMA_VERSION = 1
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
"""


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
        if row is None:
            with self.db:
                self.db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise GradebookError(f"{path} was written by a newer grader (schema {row[0]}); "
                                 f"this one reads schema {SCHEMA_VERSION}")

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
               result: ResultDocument) -> None:
        with self.db:  # one transaction per submission: committed as soon as it is graded
            self.db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (student, exercise, content_hash, rubric, origin, result["status"], float(result["score"]),
                 json.dumps(result), time.time()))

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        self.db.close()
