"""Every query on the course database, behind one object: the roster, sessions, the queue of
submissions with their results, and the people's decisions.

The database is SQLite in WAL mode in the course folder by default (course.toml's `database`
may name another SQLAlchemy URL, e.g. PostgreSQL), migrated to the newest schema with Alembic
when it is opened. SQLite is opened with synchronous=FULL: a commit is on disk when it
returns, so a 202 survives a power cut, not only a killed process.

Exactly once: a submission is claimed (queued -> running, its attempt counted) and its result
recorded (running -> graded) each in one transaction, the second only if the attempt is still
the one that claimed it. A server that stops mid-grade leaves the row running; the next one
puts it back in the queue (recover), and only a finished attempt ever records a result.
"""
from __future__ import annotations

import json
import math
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.engine import Connection

from . import tokens
from .schema import decisions, events, sessions, students, submissions

#: A submission whose grading a server's stop interrupted this many times is given up, with a reason:
#: a notebook that brings the server down must not do so for ever.
MAX_ATTEMPTS = 3
DAY_S = 86400.0
SESSION_S = 12 * 3600.0

#: The columns of a submission other than its blobs (notebook, result, report).
SUMMARY = [submissions.c[name] for name in ("seq", "id", "student", "exercise", "filename", "digest", "submitted_at",
                                            "status", "attempts", "started_at", "graded_at", "score", "max_score",
                                            "reason")]


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Bring the database to the newest schema (a new one is created)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("autograder.service").joinpath("migrations")))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


@dataclass(frozen=True)
class Session:
    role: str  # "student" or "instructor"
    student: str | None
    csrf: str


@dataclass(frozen=True)
class Accepted:
    id: str
    position: int


@dataclass(frozen=True)
class Limited:
    retry_after: int


class Store:
    def __init__(self, url: str):
        self.engine = make_engine(url)
        migrate(self.engine)
        # One writer decides at a time in this process: the limit's count and the insert it allows
        # are one step, and so are a claim's choice and its update.
        self.writing = threading.Lock()

    def close(self) -> None:
        self.engine.dispose()

    # -- the roster ----------------------------------------------------------------------------
    def add_students(self, names: Iterable[str]) -> list[tuple[str, str]]:
        """Tokens for the students not yet on the roster, in the order given: (student, token)."""
        added: list[tuple[str, str]] = []
        with self.writing, self.engine.begin() as db:
            known = set(db.scalars(select(students.c.student)))
            for name in names:
                if name in known:
                    continue
                token = tokens.new(tokens.STUDENT_PREFIX)
                db.execute(students.insert().values(student=name, token_hash=tokens.digest(token),
                                                    added_at=time.time()))
                known.add(name)
                added.append((name, token))
        return added

    def student_of(self, token: str) -> str | None:
        with self.engine.connect() as db:
            return db.scalar(select(students.c.student).where(students.c.token_hash == tokens.digest(token)))

    def roster(self) -> list[str]:
        with self.engine.connect() as db:
            return list(db.scalars(select(students.c.student).order_by(students.c.student)))

    # -- browser sessions ---------------------------------------------------------------------------
    def new_session(self, role: str, student: str | None) -> tuple[str, Session]:
        key = tokens.new(tokens.SESSION_PREFIX)
        made = Session(role, student, secrets.token_urlsafe(32))
        now = time.time()
        with self.engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.expires_at < now))
            db.execute(sessions.insert().values(key_hash=tokens.digest(key), role=role, student=student,
                                                csrf=made.csrf, created_at=now, expires_at=now + SESSION_S))
        return key, made

    def session(self, key: str) -> Session | None:
        with self.engine.connect() as db:
            row = db.execute(select(sessions).where(sessions.c.key_hash == tokens.digest(key),
                                                    sessions.c.expires_at > time.time())).first()
        return None if row is None else Session(row.role, row.student, row.csrf)

    def end_session(self, key: str) -> None:
        with self.engine.begin() as db:
            db.execute(sessions.delete().where(sessions.c.key_hash == tokens.digest(key)))

    # -- accepting submissions ------------------------------------------------------------------------
    def accept(self, student: str, exercise: str, filename: str, content: bytes, digest: str, per_hour: int,
               now: float | None = None) -> Accepted | Limited:
        """Store a checked notebook and queue it, unless the student is over the limit for this
        exercise. Committed (and on disk) when this returns Accepted."""
        from .policy import HOUR_S, retry_after

        now = time.time() if now is None else now
        with self.writing, self.engine.begin() as db:
            recent = list(db.scalars(select(submissions.c.submitted_at).where(
                submissions.c.student == student, submissions.c.exercise == exercise,
                submissions.c.submitted_at > now - HOUR_S)))
            wait = retry_after(recent, per_hour, now)
            if wait is not None:
                return Limited(wait)
            identifier = secrets.token_hex(8)
            db.execute(submissions.insert().values(
                id=identifier, student=student, exercise=exercise, filename=filename, notebook=content,
                digest=digest, submitted_at=now, status="queued", attempts=0))
            db.execute(events.insert().values(submission=identifier, event="accepted", at=now))
            return Accepted(identifier, self._position(db, identifier))

    @staticmethod
    def _position(db: Connection, identifier: str) -> int:
        """1 for the next to be graded among the queued, 0 once it is no longer queued."""
        row = db.execute(select(submissions.c.seq, submissions.c.status).where(submissions.c.id == identifier)).first()
        if row is None or row.status != "queued":
            return 0
        return int(db.scalar(select(func.count()).select_from(submissions).where(
            submissions.c.status == "queued", submissions.c.seq <= row.seq)) or 0)

    def recent_times(self, student: str, exercise: str, now: float) -> list[float]:
        from .policy import HOUR_S

        with self.engine.connect() as db:
            return list(db.scalars(select(submissions.c.submitted_at).where(
                submissions.c.student == student, submissions.c.exercise == exercise,
                submissions.c.submitted_at > now - HOUR_S)))

    # -- reading submissions ------------------------------------------------------------------------
    def submission(self, identifier: str, student: str | None = None, blobs: bool = False) -> dict[str, Any] | None:
        """One submission, with its result (and report, with `blobs`); None when there is none,
        or when it is not `student`'s (anyone else's id reads as unknown)."""
        columns = [*SUMMARY, submissions.c.result, *([submissions.c.report] if blobs else [])]
        query = select(*columns).where(submissions.c.id == identifier)
        if student is not None:
            query = query.where(submissions.c.student == student)
        with self.engine.connect() as db:
            row = db.execute(query).first()
            if row is None:
                return None
            found = dict(row._mapping)
            found["position"] = self._position(db, identifier)
        return found

    def submissions(self, student: str | None = None) -> list[dict[str, Any]]:
        """Submissions without their blobs, newest first: a student's, or everyone's."""
        query = select(*SUMMARY).order_by(submissions.c.seq.desc())
        if student is not None:
            query = query.where(submissions.c.student == student)
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def results(self) -> list[dict[str, Any]]:
        """Every finished submission with its result document, oldest first (for the gradebook)."""
        query = (select(*SUMMARY, submissions.c.result).where(submissions.c.status.in_(("graded", "not-graded")))
                 .order_by(submissions.c.seq))
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def latest_results(self, per_student_exercise: int) -> list[dict[str, Any]]:
        """The last `per_student_exercise` finished submissions of each student and exercise, with
        their result documents, oldest first: the class view reads these every few seconds, so it
        does not read every result the class ever had."""
        finished = submissions.c.status.in_(("graded", "not-graded"))
        rank = func.row_number().over(partition_by=(submissions.c.student, submissions.c.exercise),
                                      order_by=submissions.c.seq.desc()).label("rank")
        ranked = select(submissions.c.seq, rank).where(finished).subquery()
        query = (select(*SUMMARY, submissions.c.result).join(ranked, ranked.c.seq == submissions.c.seq)
                 .where(ranked.c.rank <= per_student_exercise).order_by(submissions.c.seq))
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def notebook(self, identifier: str) -> bytes | None:
        with self.engine.connect() as db:
            return db.scalar(select(submissions.c.notebook).where(submissions.c.id == identifier))

    def events_of(self, identifier: str) -> list[dict[str, Any]]:
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(
                select(events).where(events.c.submission == identifier).order_by(events.c.seq))]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as db:
            return {status: count for status, count in db.execute(
                select(submissions.c.status, func.count()).group_by(submissions.c.status))}

    # -- the queue ----------------------------------------------------------------------------------
    def recover(self) -> int:
        """At start: every submission a stopped server left running goes back to the queue (or,
        after MAX_ATTEMPTS interrupted gradings, is given up with a reason). Returns how many."""
        now = time.time()
        with self.writing, self.engine.begin() as db:
            left = list(db.execute(select(submissions.c.id, submissions.c.attempts)
                                   .where(submissions.c.status == "running")))
            for row in left:
                if row.attempts >= MAX_ATTEMPTS:
                    reason = (f"its grading was interrupted {row.attempts} times (the server stopped while it "
                              "ran); it was not tried again")
                    db.execute(update(submissions).where(submissions.c.id == row.id).values(
                        status="not-graded", reason=reason, graded_at=now))
                    db.execute(events.insert().values(submission=row.id, event="given-up", at=now, detail=reason))
                else:
                    db.execute(update(submissions).where(submissions.c.id == row.id).values(status="queued"))
                    db.execute(events.insert().values(submission=row.id, event="requeued", at=now,
                                                      detail="the server stopped while it was graded"))
        return len(left)

    def claim_next(self) -> dict[str, Any] | None:
        """The next submission to grade, now marked running: one per student at a time; an
        interrupted one first; then between students, the one served longest ago first (then
        the oldest submission).
        A student who submits often waits behind the others, not the other way round."""
        now = time.time()
        with self.writing, self.engine.begin() as db:
            busy = set(db.scalars(select(submissions.c.student).where(submissions.c.status == "running")))
            queued = [row for row in db.execute(
                select(submissions.c.id, submissions.c.student, submissions.c.seq, submissions.c.attempts)
                .where(submissions.c.status == "queued").order_by(submissions.c.seq))
                if row.student not in busy]
            if not queued:
                return None
            waiting = {row.student for row in queued}
            served = dict(db.execute(select(submissions.c.student, func.max(submissions.c.started_at))
                                     .where(submissions.c.student.in_(waiting))
                                     .group_by(submissions.c.student)).all())
            # A grading a stopped server interrupted goes first: it was already its turn.
            chosen = min(queued, key=lambda row: (row.attempts == 0, served.get(row.student) or 0.0, row.seq))
            claimed = db.execute(update(submissions).where(
                submissions.c.id == chosen.id, submissions.c.status == "queued").values(
                status="running", started_at=now, attempts=submissions.c.attempts + 1)).rowcount
            if not claimed:  # another server on the same database took it first
                return None
            db.execute(events.insert().values(submission=chosen.id, event="started", at=now))
            row = db.execute(select(submissions.c.id, submissions.c.student, submissions.c.exercise,
                                    submissions.c.notebook, submissions.c.attempts)
                             .where(submissions.c.id == chosen.id)).one()
            return dict(row._mapping)

    def record(self, identifier: str, attempt: int, document: dict[str, Any], report: str | None) -> bool:
        """The attempt's result, if that attempt still holds the submission: True when recorded."""
        status = "not-graded" if document.get("status") == "invalid" else "graded"
        now = time.time()
        with self.engine.begin() as db:
            changed = db.execute(update(submissions).where(
                submissions.c.id == identifier, submissions.c.status == "running",
                submissions.c.attempts == attempt).values(
                status=status, graded_at=now, score=None if status == "not-graded" else float(document["score"]),
                max_score=float(document.get("max_score") or 0.0), result=json.dumps(document), report=report,
                reason=document.get("reason") or document.get("stop_reason"))).rowcount
            if changed:
                db.execute(events.insert().values(submission=identifier, event="graded", at=now,
                                                  detail=f"attempt {attempt}: {document.get('status')}"))
        return bool(changed)

    def requeue(self, identifier: str, attempt: int, why: str) -> None:
        """A grading the grader failed (not the student): back in the queue, or given up after MAX_ATTEMPTS."""
        now = time.time()
        with self.engine.begin() as db:
            if attempt >= MAX_ATTEMPTS:
                db.execute(update(submissions).where(
                    submissions.c.id == identifier, submissions.c.status == "running",
                    submissions.c.attempts == attempt).values(status="not-graded", graded_at=now, reason=why))
                db.execute(events.insert().values(submission=identifier, event="given-up", at=now, detail=why))
                return
            db.execute(update(submissions).where(
                submissions.c.id == identifier, submissions.c.status == "running",
                submissions.c.attempts == attempt).values(status="queued"))
            db.execute(events.insert().values(submission=identifier, event="requeued", at=now, detail=why))

    # -- decisions (the instructor's desk) ----------------------------------------------------------
    def decide(self, kind: str, student: str, by: str, *, exercise: str | None = None,
               submission: str | None = None, score: float | None = None, until: float | None = None,
               text: str | None = None) -> int:
        with self.engine.begin() as db:
            return int(db.execute(decisions.insert().values(
                kind=kind, student=student, exercise=exercise, submission=submission, score=score, until=until,
                text=text, by=by, at=time.time())).inserted_primary_key[0])  # type: ignore[index]

    def decisions(self, kind: str | None = None, student: str | None = None) -> list[dict[str, Any]]:
        """Decisions, oldest first: the latest of a kind for a student and exercise is the one in force."""
        query = select(decisions).order_by(decisions.c.seq)
        if kind is not None:
            query = query.where(decisions.c.kind == kind)
        if student is not None:
            query = query.where(decisions.c.student == student)
        with self.engine.connect() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    # -- regrade requests (a student asks, the instructor answers) ------------------------------------
    # A request is a `regrade-request` decision on one submission (`by` the student, `text` their
    # reason); its answer is the first `regrade-answer` on the same submission after it. A student
    # may have one open request per submission, so the pairing is never in doubt; an answer with a
    # score also records an override, in the same transaction.
    def file_request(self, student: str, submission: str, reason: str, per_day: int,
                     now: float | None = None) -> RequestFiled:
        """File a student's request on their own finished submission, unless one is open on it or
        they are over `per_day` requests in any 24 hours."""
        now = time.time() if now is None else now
        with self.writing, self.engine.begin() as db:
            row = db.execute(select(submissions.c.exercise, submissions.c.status).where(
                submissions.c.id == submission, submissions.c.student == student)).first()
            if row is None:  # someone else's reads as one that does not exist
                return RequestFiled("unknown")
            if row.status not in ("graded", "not-graded"):
                return RequestFiled("not-finished")
            mine = [dict(r._mapping) for r in db.execute(
                select(decisions).where(decisions.c.student == student,
                                        decisions.c.kind.in_(("regrade-request", "regrade-answer")))
                .order_by(decisions.c.seq))]
            if any(r["open"] for r in _paired(mine) if r["submission"] == submission):
                return RequestFiled("open")
            recent = sorted(r["at"] for r in mine if r["kind"] == "regrade-request" and now - r["at"] < DAY_S)
            if len(recent) >= per_day:
                frees = recent[len(recent) - per_day] + DAY_S  # the oldest that counts leaves the window
                return RequestFiled("limited", retry_after=max(1, math.ceil(frees - now)))
            number = int(db.execute(decisions.insert().values(
                kind="regrade-request", student=student, exercise=row.exercise, submission=submission, text=reason,
                by=student, at=now)).inserted_primary_key[0])  # type: ignore[index]
            return RequestFiled("filed", number=number)

    def regrade_requests(self, student: str | None = None) -> list[dict[str, Any]]:
        """Requests, oldest first, each with its `answer` (a decision, or None while open)."""
        query = (select(decisions).where(decisions.c.kind.in_(("regrade-request", "regrade-answer")))
                 .order_by(decisions.c.seq))
        if student is not None:
            query = query.where(decisions.c.student == student)
        with self.engine.connect() as db:
            rows = [dict(row._mapping) for row in db.execute(query)]
        return _paired(rows)

    def answer_request(self, number: int, by: str, text: str, score: float | None) -> RequestAnswered:
        """The instructor's answer to request `number`; with a score, an override of that exercise too."""
        now = time.time()
        with self.writing, self.engine.begin() as db:
            request = db.execute(select(decisions).where(decisions.c.seq == number,
                                                         decisions.c.kind == "regrade-request")).first()
            if request is None:
                return RequestAnswered("unknown")
            answered = db.scalar(select(func.count()).select_from(decisions).where(
                decisions.c.kind == "regrade-answer", decisions.c.submission == request.submission,
                decisions.c.seq > number))
            if answered:
                return RequestAnswered("answered")
            answer = int(db.execute(decisions.insert().values(
                kind="regrade-answer", student=request.student, exercise=request.exercise,
                submission=request.submission, score=score, text=text, by=by, at=now)).inserted_primary_key[0])  # type: ignore[index]
            override = None
            if score is not None:
                override = int(db.execute(decisions.insert().values(
                    kind="override", student=request.student, exercise=request.exercise,
                    submission=request.submission, score=score, text=text, by=by,
                    at=now)).inserted_primary_key[0])  # type: ignore[index]
            return RequestAnswered("answered-now", answer=answer, override=override, student=request.student,
                                   exercise=request.exercise, submission=request.submission)


@dataclass(frozen=True)
class RequestFiled:
    outcome: str  # filed, unknown, not-finished, open, limited
    number: int | None = None
    retry_after: int | None = None


@dataclass(frozen=True)
class RequestAnswered:
    outcome: str  # answered-now, unknown, answered (before)
    answer: int | None = None
    override: int | None = None
    student: str | None = None
    exercise: str | None = None
    submission: str | None = None


def _paired(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Requests (from request and answer decisions, oldest first), each with its `answer`: the
    first answer on the same submission after it; `open` while there is none."""
    requests: list[dict[str, Any]] = []
    waiting: dict[str, dict[str, Any]] = {}  # submission -> its open request
    for row in rows:
        if row["kind"] == "regrade-request":
            request = {**row, "answer": None, "open": True}
            requests.append(request)
            waiting[row["submission"]] = request
        elif row["kind"] == "regrade-answer" and row["submission"] in waiting:
            request = waiting.pop(row["submission"])
            request["answer"], request["open"] = row, False
    return requests
