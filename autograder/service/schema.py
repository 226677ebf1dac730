"""The course's database: one table per kind of thing, shared by the service, the
instructor's desk and similarity. Migrations (migrations/versions/) create and change it;
tests/test_service_store.py checks that they build exactly these tables.

- students: the roster, each with the hash of their token;
- sessions: a signed-in browser (the hash of its cookie, and its CSRF token);
- submissions: every accepted notebook, its bytes, and its grading from queue to report;
- events: what happened to each submission and when (accepted, started, graded, requeued),
  so that "graded exactly once" can be shown, not just claimed;
- decisions: every decision of a person, with who made it and when: overrides, comments,
  extensions, regrade requests and their answers (the instructor's desk);
- similar: groups of submissions that look copied, with their evidence (similarity).

Times are seconds since the epoch (UTC), as floats: the same in SQLite and PostgreSQL.
"""
from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

students = Table(
    "students", metadata,
    Column("student", String(200), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("added_at", Float, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("role", String(20), nullable=False),  # "student" or "instructor"
    Column("student", String(200), ForeignKey("students.student"), nullable=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
)

submissions = Table(
    "submissions", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the order they were accepted in
    Column("id", String(32), nullable=False, unique=True),  # random: says nothing of the class
    Column("student", String(200), ForeignKey("students.student"), nullable=False),
    Column("exercise", String(200), nullable=False),
    Column("filename", String(200), nullable=False),  # as uploaded, for display only (escaped)
    Column("notebook", LargeBinary, nullable=False),
    Column("digest", String(64), nullable=False),  # sha256 of the notebook's bytes
    Column("submitted_at", Float, nullable=False),
    # queued -> running -> graded | not-graded; a server that stops mid-grade requeues its running ones
    Column("status", String(20), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("started_at", Float, nullable=True),
    Column("graded_at", Float, nullable=True),
    Column("score", Float, nullable=True),  # the grader's score (auto_score): decisions apply on top
    Column("max_score", Float, nullable=True),
    Column("result", Text, nullable=True),  # the result document (JSON)
    Column("report", Text, nullable=True),  # the HTML report
    Column("reason", Text, nullable=True),  # why it was not graded
    Index("ix_submissions_status", "status"),
    Index("ix_submissions_student_exercise", "student", "exercise", "submitted_at"),
)

events = Table(
    "events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("submission", String(32), ForeignKey("submissions.id"), nullable=False),
    Column("event", String(20), nullable=False),  # accepted, started, graded, requeued, given-up
    Column("at", Float, nullable=False),
    Column("detail", Text, nullable=True),
    Index("ix_events_submission", "submission"),
)

decisions = Table(
    "decisions", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    # override, comment, extension, regrade-request, regrade-answer
    Column("kind", String(30), nullable=False),
    Column("student", String(200), ForeignKey("students.student"), nullable=False),
    Column("exercise", String(200), nullable=True),  # None: every exercise (an extension)
    Column("submission", String(32), ForeignKey("submissions.id"), nullable=True),
    Column("score", Float, nullable=True),  # an override's score
    Column("until", Float, nullable=True),  # an extension's new deadline
    Column("text", Text, nullable=True),  # a comment, a request's reason, an answer
    Column("by", String(200), nullable=False),  # "instructor", or the student who asked
    Column("at", Float, nullable=False),
    Index("ix_decisions_student", "student", "exercise"),
)

similar = Table(
    "similar", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("exercise", String(200), nullable=False),
    Column("submissions", Text, nullable=False),  # JSON list of submission ids
    Column("students", Text, nullable=False),  # JSON list of student ids
    Column("score", Float, nullable=False),  # 0..1
    Column("evidence", Text, nullable=False),  # JSON list of reasons in words
    Column("found_at", Float, nullable=False),
)
