"""`autograder course init`, `autograder course students` and `autograder serve`."""
from __future__ import annotations

import csv
import io
import logging
import os
import stat
import sys
from pathlib import Path

from ..batch import sheets as gradesheet
from ..errors import UsageError
from . import course as course_module, tokens
from .course import CourseError, student_id_problem

#: Largest roster file read.
MAX_ROSTER_BYTES = 16 * 2**20
#: Requests served at once; more wait in the kernel's queue rather than in memory.
MAX_CONNECTIONS = 1000


def init(directory: str, exercise_names: list[str], data: str | None) -> str:
    """Write the course; returns what to tell the instructor."""
    from .store import Store

    root = Path(directory)
    course = course_module.write_new(root, exercise_names, data)
    token_file = course.instructor_token_file
    if token_file.exists():
        raise CourseError(f"{token_file} exists already; remove it to make a new instructor token")
    tokens.write_private(token_file, tokens.new(tokens.INSTRUCTOR_PREFIX))
    Store(course.database_url).close()
    return (f"wrote {course.root / course_module.COURSE_FILE} ({', '.join(course.exercises)}); the instructor's "
            f"token is in {token_file} (mode 0600). Next: autograder course students {directory} ROSTER.csv")


def read_roster(path: str) -> list[str]:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_ROSTER_BYTES + 1)
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from None
    if len(raw) > MAX_ROSTER_BYTES:
        raise UsageError(f"{path} is over {MAX_ROSTER_BYTES // 2**20} MiB; is it really a roster?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "student" not in [name.strip() for name in reader.fieldnames]:
        raise UsageError(f"{path} has no 'student' column (the first line names the columns)")
    names: list[str] = []
    for number, row in enumerate(reader, start=2):
        found = next((value for key, value in row.items() if key is not None and key.strip() == "student"), None)
        name = (found or "").strip()
        if not name:
            continue
        problem = student_id_problem(name)
        if problem is not None:
            raise UsageError(f"{path}, line {number}: {problem}")
        if name not in names:
            names.append(name)
    return names


def students(directory: str, roster: str) -> str:
    """Tokens for the roster's new students, as "student,token" CSV (shown once; stored hashed)."""
    from .store import Store

    course = course_module.load(directory)
    names = read_roster(roster)
    store = Store(course.database_url)
    try:
        added = store.add_students(names)
    finally:
        store.close()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["student", "token"])
    for name, token in added:
        writer.writerow([gradesheet.cell(name), token])
    known = len(names) - len(added)
    if known:
        print(f"autograder: {known} student(s) of {roster} were on the roster already; their tokens are unchanged",
              file=sys.stderr)
    return out.getvalue()


def instructor_token(course: course_module.Course) -> str:
    path = course.instructor_token_file
    try:
        mode = path.stat().st_mode
        token = tokens.read_private(path)
    except OSError as error:
        raise CourseError(f"cannot read the instructor's token {path}: {error.strerror or error}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CourseError(f"{path} can be read by others (mode {stat.S_IMODE(mode):o}); chmod 600 it")
    if not token.startswith(tokens.INSTRUCTOR_PREFIX) or len(token) > tokens.MAX_TOKEN:
        raise CourseError(f"{path} does not hold an instructor token")
    return token


def serve(directory: str, host: str, port: int, jobs: int, scheduler: str | None) -> None:
    """Run the service until it is stopped (Ctrl-C or SIGTERM stop it cleanly; SIGKILL loses nothing)."""
    import uvicorn

    from .. import scratch
    from ..grading.plan import make_plan
    from .app import build
    from .core import Service
    from .grading import Grader
    from .store import Store

    course = course_module.load(directory)
    secret = instructor_token(course)
    plans = {exercise: make_plan(course.request(exercise)) for exercise in course.exercises}
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    log = logging.getLogger("autograder.service")
    store = Store(course.database_url)
    again = store.recover()
    if again:
        log.info("%d submission(s) a stopped server was grading are queued again", again)
    scratch.sweep()  # what a killed server left in the temporary folder
    grader = Grader(store, plans, jobs, scheduler)
    service = Service(course, store, grader, tokens.digest(secret))
    app = build(service)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="info", proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"), server_header=False,
        timeout_keep_alive=5, limit_concurrency=MAX_CONNECTIONS, h11_max_incomplete_event_size=64 * 1024,
        timeout_graceful_shutdown=10)
    log.info("course %s: %s; %d student(s); grading %s", course.title, ", ".join(course.exercises),
             len(store.roster()), f"on {scheduler}" if scheduler else f"{jobs} at once on this machine")
    try:
        uvicorn.Server(config).run()
    except SystemExit as stopped:  # uvicorn's way of saying it could not listen (its log says why)
        if stopped.code not in (0, None):
            raise UsageError(f"could not serve on {host}:{port} (the line above says why)") from None
    finally:
        grader.close()  # idempotent after the lifespan's close
        store.close()
