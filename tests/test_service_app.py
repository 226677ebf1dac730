"""The course service's application in this process (Starlette's TestClient), with no grader:
every refusal, header, cookie and escape of the API and the pages, in milliseconds. What needs
grading and a real server process is in test_service.py."""
from __future__ import annotations

import csv
import io
import json
import logging
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from starlette.testclient import TestClient

from autograder.service import app as app_module, commands, course as course_module, policy, tokens
from autograder.service.core import Service, for_student
from autograder.service.store import Store
from service_course import HOSTILE_ID, configure, iso, make_course

STUDENTS = ["alice", "bob", "carol", "dave", HOSTILE_ID]


def notebook_bytes(source: str = "print('hello')") -> bytes:
    return nbformat.writes(new_notebook(cells=[new_code_cell(source)])).encode()


@pytest.fixture
def course(tmp_path):
    folder, student_tokens, instructor = make_course(tmp_path, STUDENTS, submissions_per_hour=2, max_upload_mb=0.1,
                                                     upload_timeout_s=2)
    return folder, student_tokens, instructor


def client_for(folder, instructor) -> tuple[TestClient, Store]:
    loaded = course_module.load(folder)
    store = Store(loaded.database_url)
    service = Service(loaded, store, None, tokens.digest(instructor))
    return TestClient(app_module.build(service), base_url="http://testserver"), store


@pytest.fixture
def client(course):
    folder, _, instructor = course
    client, store = client_for(folder, instructor)
    with client:
        yield client
    store.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def submit(client, token, exercise="keras-dense", content=None, filename="mine.ipynb", **extra):
    files = {"notebook": (filename, notebook_bytes() if content is None else content, "application/x-ipynb+json")}
    return client.post("/api/submissions", headers=bearer(token), data={"exercise": exercise, **extra}, files=files)


# -- course init, students, course.toml ------------------------------------------------------------

def test_init_writes_the_settings_and_a_private_instructor_token(course):
    folder, student_tokens, instructor = course
    loaded = course_module.load(folder)
    assert list(loaded.exercises) == ["keras-dense"] and loaded.submissions_per_hour == 2
    assert loaded.deadline is None and loaded.late_penalty_per_day == 0.1 and loaded.extensions == {}
    assert (folder / "instructor.token").stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o077 == 0  # the database inside holds every notebook
    assert instructor.startswith("in_") and len(instructor) > 40
    assert sorted(student_tokens) == sorted(STUDENTS) and len(set(student_tokens.values())) == len(STUDENTS)
    database = (folder / "course.sqlite").read_bytes()
    for token in [instructor, *student_tokens.values()]:  # stored only hashed
        assert token.encode() not in database
    assert tokens.digest(student_tokens["alice"]).encode() in database


def test_students_prints_tokens_for_new_students_only(course, tmp_path, capsys):
    from autograder import cli

    folder, _, _ = course
    roster = tmp_path / "more.csv"
    roster.write_text("email,student\nx@y,alice\nz@y,erin\n,\nq@y,erin\n")
    assert cli.main(["course", "students", str(folder), str(roster)]) == 0
    printed = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(printed.out)))
    assert [row["student"] for row in rows] == ["erin"] and rows[0]["token"].startswith("st_")
    assert "1 student(s)" in printed.err


@pytest.mark.parametrize("roster, says", [("name\nalice\n", "no 'student' column"),
                                          ("student\n\x07bell\n", "line 2")])
def test_a_bad_roster_is_refused_in_one_line(course, tmp_path, capsys, roster, says):
    from autograder import cli

    path = tmp_path / "bad.csv"
    path.write_text(roster)
    assert cli.main(["course", "students", str(course[0]), str(path)]) == 2
    error = capsys.readouterr().err
    assert says in error and len(error.strip().splitlines()) == 1


def test_init_refuses_an_existing_course_and_an_unknown_exercise(course, tmp_path, capsys):
    from autograder import cli

    assert cli.main(["course", "init", str(course[0]), "--exercise", "keras-dense"]) == 2
    assert "exists already" in capsys.readouterr().err
    assert cli.main(["course", "init", str(tmp_path / "other"), "--exercise", "keras-nope"]) == 2
    assert "unknown exercise" in capsys.readouterr().err
    assert not (tmp_path / "other" / "course.toml").exists()


@pytest.mark.parametrize("setting, says", [
    ({"deadline": '"tomorrow"'}, "deadline: 'tomorrow' is not an ISO 8601 time"),
    ({"deadline": '"2026-06-01T23:59:00"'}, "deadline: give the time zone"),
    ({"submissions_per_hour": "0"}, "submissions_per_hour"),
    ({"late_penalty_per_day": "2"}, "late_penalty_per_day"),
    ({"extensions": {"alice": "3"}}, "extensions.alice: days of extension need a course deadline"),
])
def test_course_toml_mistakes_name_their_key(course, setting, says):
    configure(course[0], **setting)
    with pytest.raises(course_module.CourseError, match=says):
        course_module.load(course[0])


def test_an_instructor_token_others_can_read_is_refused(course):
    folder = course[0]
    (folder / "instructor.token").chmod(0o644)
    with pytest.raises(course_module.CourseError, match="chmod 600"):
        commands.instructor_token(course_module.load(folder))


def test_the_migrations_build_exactly_the_schema(tmp_path):
    """Alembic's comparison of the migrated database with schema.py finds nothing to change."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from autograder.service.schema import metadata

    store = Store(f"sqlite:///{tmp_path / 'new.sqlite'}")
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL: a 202 survives power loss
    store.close()


# -- policy ----------------------------------------------------------------------------------------

def test_late_days_penalty_extensions_and_cutoff(course):
    folder = course[0]
    configure(folder, deadline='"2026-06-01T12:00:00+00:00"', cutoff='"2026-06-04T12:00:00+00:00"',
              extensions={"alice": "2", "bob": '"2026-06-02T12:00:00Z"', "dave": "{ days = 3 }"})
    loaded = course_module.load(folder)
    deadline = loaded.deadline.timestamp()
    assert policy.due(loaded, "carol") == deadline
    assert policy.due(loaded, "alice") == deadline + 2 * policy.DAY_S
    assert policy.due(loaded, "bob") == deadline + policy.DAY_S
    assert policy.due(loaded, "dave") == deadline + 3 * policy.DAY_S
    assert policy.due(loaded, "bob", granted=deadline + 5) == deadline + 5  # the desk's word is the latest
    assert policy.days_late(deadline, deadline) == 0
    assert policy.days_late(deadline + 1, deadline) == 1  # a second late is a day late
    assert policy.days_late(deadline + policy.DAY_S + 1, deadline) == 2
    assert policy.late_fraction(3, 0.1) == pytest.approx(0.3) and policy.late_fraction(30, 0.1) == 1.0
    assert policy.cutoff(loaded, policy.due(loaded, "carol")) == loaded.cutoff.timestamp()
    assert policy.cutoff(loaded, policy.due(loaded, "alice")) == loaded.cutoff.timestamp() + 2 * policy.DAY_S


def test_the_limit_frees_a_submission_an_hour_after_it():
    now = 10_000.0
    assert policy.retry_after([], 2, now) is None
    assert policy.retry_after([now - 100], 2, now) is None
    assert policy.retry_after([now - 100, now - 50], 2, now) == 3500
    assert policy.retry_after([now - 4000, now - 100, now - 50], 2, now) == 3500  # older than an hour: not counted


def test_a_student_never_sees_the_holdout_accuracy():
    document = {"metrics": {"test_accuracy": 0.9, "holdout_accuracy": 0.7, "holdout_size": 500, "holdout_gap": 0.2,
                            "holdout_gap_p": 0.01, "holdout_confidence_p": 0.5, "holdout_shown": False},
                "timings": {"cells": 3.0}}
    shown = for_student(document, show_holdout=False)
    assert shown["metrics"] == {"test_accuracy": 0.9, "holdout_shown": False} and "timings" not in shown
    assert "holdout_accuracy" not in for_student(document, show_holdout=True)["metrics"]  # its grading hid it
    allowed = {**document, "metrics": {**document["metrics"], "holdout_shown": True}}
    assert for_student(allowed, show_holdout=True)["metrics"]["holdout_accuracy"] == 0.7
    assert "holdout_accuracy" not in for_student(allowed, show_holdout=False)["metrics"]
    assert document["metrics"]["holdout_accuracy"] == 0.7  # the instructor's copy is untouched


# -- the API ---------------------------------------------------------------------------------------

def test_a_submission_is_accepted_stored_and_committed(client, course):
    folder, student_tokens, _ = course
    content = notebook_bytes("x = 1")
    answer = submit(client, student_tokens["alice"], content=content)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert set(body) == {"id", "status", "position"} and body["status"] == "queued" and body["position"] == 1
    assert answer.headers["location"] == f"/api/submissions/{body['id']}"
    other = Store(course_module.load(folder).database_url)  # another connection: committed, not in a transaction
    assert other.notebook(body["id"]) == content
    assert [e["event"] for e in other.events_of(body["id"])] == ["accepted"]
    other.close()
    shown = client.get(f"/api/submissions/{body['id']}", headers=bearer(student_tokens["alice"])).json()
    assert {"id", "student", "exercise", "status", "score", "max_score", "submitted_at", "late", "result"} <= set(shown)
    assert shown["student"] == "alice" and shown["status"] == "queued" and shown["result"] is None
    assert shown["submitted_at"].endswith("Z") and shown["late"] is False


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer st_nope"}, {"Authorization": "Basic abc"},
                                     {"Authorization": "Bearer " + "x" * 5000}, {"Authorization": "Bearer "}])
def test_no_valid_token_is_401(client, headers):
    answer = client.post("/api/submissions", headers=headers, data={"exercise": "keras-dense"},
                         files={"notebook": ("a.ipynb", notebook_bytes())})
    assert answer.status_code == 401 and answer.headers["www-authenticate"].startswith("Bearer")
    assert client.get("/api/submissions", headers=headers).status_code == 401
    assert client.get("/api/grades", headers=headers).status_code == 401


def test_an_unknown_exercise_is_404(client, course):
    answer = submit(client, course[1]["alice"], exercise="keras-secret")
    assert answer.status_code == 404 and "unknown exercise" in answer.json()["detail"]


def test_too_large_is_413_whether_declared_or_streamed(client, course):
    token = course[1]["alice"]
    big = notebook_bytes("x = '" + "a" * 200_000 + "'")
    assert submit(client, token, content=big).status_code == 413

    def chunks():  # no Content-Length: cut off as it crosses the limit
        boundary = b"--b\r\nContent-Disposition: form-data; name=\"notebook\"; filename=\"a.ipynb\"\r\n\r\n"
        yield boundary
        for _ in range(400):
            yield b"a" * 1024
    streamed = {**bearer(token), "Content-Type": "multipart/form-data; boundary=b"}
    answer = client.post("/api/submissions", headers=streamed, content=chunks())
    assert answer.status_code == 413
    assert client.get("/api/submissions", headers=bearer(token)).json()["submissions"] == []


@pytest.mark.parametrize("content, says", [
    (b"", "empty"), (b"{\"cells\": [", "not valid JSON"), (b"\xff\xfe", "not UTF-8"),
    (b"{\"a\": 1}", "not a Jupyter notebook"), (b"PK\x03\x04zip", "not valid JSON"),
])
def test_not_a_notebook_is_422_with_one_line(client, course, content, says):
    answer = submit(client, course[1]["alice"], content=content)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["detail"]
    assert says in detail and "\n" not in detail
    assert client.get("/api/submissions", headers=bearer(course[1]["alice"])).json()["submissions"] == []


def test_a_form_without_its_fields_is_422(client, course):
    token = course[1]["alice"]
    assert client.post("/api/submissions", headers=bearer(token), data={"exercise": "keras-dense"}).status_code == 422
    assert client.post("/api/submissions", headers=bearer(token), json={"exercise": "keras-dense"}).status_code == 422
    answer = client.post("/api/submissions", headers=bearer(token), files={"notebook": ("a.ipynb", notebook_bytes())})
    assert answer.status_code == 422 and "exercise" in answer.json()["detail"]


def test_over_the_limit_is_429_with_retry_after_per_student_and_exercise(client, course):
    alice, bob = course[1]["alice"], course[1]["bob"]
    assert [submit(client, alice).status_code for _ in range(2)] == [202, 202]
    refused = submit(client, alice)
    assert refused.status_code == 429 and 3590 <= int(refused.headers["retry-after"]) <= 3600
    assert "2 submissions per hour" in refused.json()["detail"]
    assert submit(client, alice, content=b"broken").status_code == 429  # refused before the file is even read
    assert submit(client, bob).status_code == 202  # the limit is each student's own
    assert len(client.get("/api/submissions", headers=bearer(alice)).json()["submissions"]) == 2


def test_the_limit_holds_under_concurrent_submissions(client, course):
    """Many submissions at once from one student: exactly the limit is accepted."""
    from concurrent.futures import ThreadPoolExecutor

    token = course[1]["carol"]
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: submit(client, token).status_code, range(8)))
    assert sorted(codes) == [202, 202] + [429] * 6


def test_a_student_sees_only_their_own_submissions(client, course):
    alice, bob, instructor = course[1]["alice"], course[1]["bob"], course[2]
    mine = submit(client, alice).json()["id"]
    theirs = submit(client, bob).json()["id"]
    for path in (f"/api/submissions/{theirs}", f"/api/submissions/{theirs}/report", "/api/submissions/0000000000000000",
                 "/api/submissions/..%2F..%2Fetc%2Fpasswd", f"/api/submissions/{theirs}%00"):
        assert client.get(path, headers=bearer(alice)).status_code == 404, path
    for path in (f"/api/submissions/{theirs}", f"/api/submissions/{theirs}/report"):
        # someone else's reads exactly as one that is not there
        assert client.get(path, headers=bearer(alice)).json() == {"detail": "no such submission"}
    assert [s["id"] for s in client.get("/api/submissions", headers=bearer(alice)).json()["submissions"]] == [mine]
    assert client.get(f"/api/submissions/{mine}", headers=bearer(alice)).status_code == 200
    everyone = client.get("/api/submissions", headers=bearer(instructor)).json()["submissions"]
    assert sorted(s["id"] for s in everyone) == sorted([mine, theirs])
    assert client.get(f"/api/submissions/{theirs}", headers=bearer(instructor)).json()["student"] == "bob"
    assert client.get(f"/api/submissions/{mine}/report", headers=bearer(alice)).status_code == 404  # not graded yet


def test_the_instructor_cannot_submit_and_students_cannot_read_grades_or_override(client, course):
    alice, instructor = course[1]["alice"], course[2]
    assert submit(client, instructor).status_code == 403
    assert client.get("/api/grades", headers=bearer(alice)).status_code == 403
    override = {"student": "alice", "exercise": "keras-dense", "score": 100, "comment": "mine"}
    assert client.post("/api/overrides", headers=bearer(alice), json=override).status_code == 403
    assert client.post("/api/overrides", json=override).status_code == 401


def test_grades_are_json_or_csv_for_the_instructor_only(client, course):
    instructor = course[2]
    as_json = client.get("/api/grades", headers=bearer(instructor))
    assert as_json.status_code == 200 and as_json.json()["grades"] == []
    assert {"student_id", "exercise", "score", "auto_score", "override", "late_penalty", "comment", "late",
            "status"} <= set(as_json.json()["columns"])
    as_csv = client.get("/api/grades", headers={**bearer(instructor), "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert next(csv.reader(io.StringIO(as_csv.text)))[:3] == ["student_id", "exercise", "score"]


def test_an_override_is_recorded_with_who_and_when(client, course):
    instructor = course[2]
    sent = {"student": "alice", "exercise": "keras-dense", "score": 87.5, "comment": "=cmd|' /C calc'!A0"}
    answer = client.post("/api/overrides", headers=bearer(instructor), json=sent)
    assert answer.status_code == 201 and answer.json()["score"] == 87.5
    store = client.app.state.service.store
    decision = store.decisions("override")[0]
    assert decision["by"] == "instructor" and time.time() - decision["at"] < 60 and decision["text"] == sent["comment"]
    for bad, status in (({**sent, "student": "zed"}, 404), ({**sent, "exercise": "x"}, 404),
                        ({**sent, "score": "lots"}, 422), ({**sent, "score": float("nan")}, 422), ([1], 422)):
        assert client.post("/api/overrides", headers=bearer(instructor),
                           content=json.dumps(bad).encode()).status_code == status


def test_after_the_cutoff_submissions_are_refused_with_the_reason(course):
    folder, student_tokens, instructor = course
    past = time.time() - 3600
    configure(folder, deadline=f'"{iso(past - 7200)}"', cutoff=f'"{iso(past)}"', extensions={"bob": "1"})
    client, store = client_for(folder, instructor)
    with client:
        refused = submit(client, student_tokens["alice"])
        assert refused.status_code == 403 and "cut-off" in refused.json()["detail"]
        assert submit(client, student_tokens["bob"]).status_code == 202  # his extension moves his cut-off too
        late = client.get("/api/submissions", headers=bearer(student_tokens["bob"])).json()["submissions"][0]
        assert late["late"] is False  # a day's extension: still on time
    store.close()


# -- headers, cookies, CSRF and escaping ------------------------------------------------------------

def test_every_page_has_a_strict_content_security_policy(client, course):
    for path in ("/", "/healthz", "/api/submissions", "/instructor"):
        headers = client.get(path).headers
        policy_text = headers["content-security-policy"]
        assert "default-src 'none'" in policy_text and "script-src 'self'" in policy_text
        assert "unsafe-inline" not in policy_text and "frame-ancestors 'none'" in policy_text
        assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin"
        assert headers["cache-control"] == "no-store"


def sign_in(client, token: str):
    page = client.get("/")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    return client.post("/signin", data={"token": token, "csrf": csrf}, follow_redirects=False)


def test_sign_in_sets_an_httponly_samesite_session_cookie_and_no_token_travels_in_a_url(client, course, caplog):
    caplog.set_level(logging.DEBUG)
    token = course[1]["alice"]
    answer = sign_in(client, token)
    assert answer.status_code == 303 and answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "autograder_session=" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert token not in cookie and token not in answer.headers["location"]
    page = client.get("/")
    assert "Your submissions" in page.text and token not in page.text
    assert token not in caplog.text
    database = (course[0] / "course.sqlite").read_bytes() + (course[0] / "course.sqlite-wal").read_bytes()
    assert client.cookies["autograder_session"].encode() not in database  # stored hashed, as tokens are


def test_a_token_in_the_url_signs_no_one_in(client, course):
    token = course[1]["alice"]
    assert client.get(f"/api/submissions?token={token}").status_code == 401
    assert "Sign in" in client.get(f"/?token={token}").text


def test_sign_in_without_its_csrf_value_or_from_another_site_is_refused(client, course):
    token = course[1]["alice"]
    client.get("/")
    assert client.post("/signin", data={"token": token, "csrf": "forged"}, follow_redirects=False).status_code == 403
    csrf = client.get("/").text.split('name="csrf" value="')[1].split('"')[0]
    crossed = client.post("/signin", data={"token": token, "csrf": csrf}, headers={"Origin": "https://evil.example"},
                          follow_redirects=False)
    assert crossed.status_code == 403 and "autograder_session" not in client.cookies
    assert client.post("/signin", data={"token": "st_wrong", "csrf": csrf}, follow_redirects=False).status_code == 401


def test_the_submit_form_needs_the_sessions_csrf_token(client, course):
    sign_in(client, course[1]["alice"])
    files = {"notebook": ("a.ipynb", notebook_bytes())}
    refused = client.post("/submit", data={"exercise": "keras-dense", "csrf": "forged"}, files=files)
    assert refused.status_code == 403 and "expired" in refused.text
    page = client.get("/")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    crossed = client.post("/submit", data={"exercise": "keras-dense", "csrf": csrf}, files=files,
                          headers={"Origin": "https://evil.example"})
    assert crossed.status_code == 403
    assert client.get("/api/submissions").json()["submissions"] == []  # the cookie reads; it does not write
    assert client.post("/api/submissions", data={"exercise": "keras-dense"}, files=files).status_code == 401
    accepted = client.post("/submit", data={"exercise": "keras-dense", "csrf": csrf}, files=files,
                           follow_redirects=False)
    assert accepted.status_code == 303
    assert len(client.get("/api/submissions").json()["submissions"]) == 1


def test_the_instructors_forms_need_the_csrf_token_and_record_the_decision(client, course):
    sign_in(client, course[2])
    page = client.get("/instructor")
    assert page.status_code == 200 and "The class" in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    form = {"student": "bob", "exercise": "keras-dense", "score": "55", "comment": "see me"}
    assert client.post("/instructor/override", data={**form, "csrf": "forged"}).status_code == 403
    assert client.post("/instructor/override", data={**form, "csrf": csrf}, follow_redirects=False).status_code == 303
    assert client.post("/instructor/extension", data={"student": "bob", "until": "2030-01-01T00:00:00Z", "csrf": csrf},
                       follow_redirects=False).status_code == 303
    kinds = [(d["kind"], d["student"], d["by"]) for d in client.app.state.service.store.decisions()]
    assert kinds == [("override", "bob", "instructor"), ("extension", "bob", "instructor")]
    assert client.get("/instructor/grades.csv").headers["content-type"].startswith("text/csv")


def test_student_strings_are_escaped_on_every_page(client, course):
    """A file name and a student id made of markup show as text: on the student's page and the instructor's."""
    hostile = course[1][HOSTILE_ID]
    name = '"><svg onload=alert(1)>.ipynb'
    assert submit(client, hostile, filename=name).status_code == 202
    sign_in(client, hostile)
    page = client.get("/").text
    assert "<svg" not in page and "&lt;svg onload=alert(1)&gt;.ipynb" in page
    assert "<img src=x" not in page and "&lt;img src=x" in page
    client.cookies.clear()
    sign_in(client, course[2])
    page = client.get("/instructor").text
    assert "<img src=x" not in page and "&lt;img src=x" in page
    grades = client.get("/instructor/grades.csv").text
    assert "<img" not in grades or "'" not in grades  # CSV cells are neutralised, not HTML


def test_a_path_in_the_file_name_names_nothing(client, course):
    token = course[1]["alice"]
    answer = submit(client, token, filename="../../../../tmp/pwned.ipynb")
    shown = client.get(f"/api/submissions/{answer.json()['id']}", headers=bearer(token)).json()
    assert shown["filename"] == "pwned.ipynb"
    assert not list(course[0].rglob("pwned*"))


# -- the queue -------------------------------------------------------------------------------------

def test_one_at_a_time_per_student_and_the_least_served_first(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'queue.sqlite'}")
    store.add_students(["alice", "bob", "carol"])
    sent = [store.accept(student, "keras-dense", "n.ipynb", b"{}", "d", 100).id
            for student in ["alice", "alice", "alice", "bob", "carol"]]
    first = store.claim_next()
    assert first["id"] == sent[0] and first["attempts"] == 1
    claimed = [store.claim_next()["student"], store.claim_next()["student"]]
    assert claimed == ["bob", "carol"] and store.claim_next() is None  # alice's next waits for her first
    assert store.record(first["id"], 1, {"status": "graded", "score": 50.0, "max_score": 100.0}, "<p>r</p>")
    assert store.claim_next()["id"] == sent[1]
    store.close()


def test_a_result_is_recorded_once_and_only_by_the_attempt_that_holds_it(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'once.sqlite'}")
    store.add_students(["alice"])
    identifier = store.accept("alice", "keras-dense", "n.ipynb", b"{}", "d", 100).id
    document = {"status": "graded", "score": 80.0, "max_score": 100.0}
    store.claim_next()
    assert store.recover() == 1  # the server stopped while attempt 1 ran
    again = store.claim_next()
    assert again["attempts"] == 2
    assert not store.record(identifier, 1, document, None)  # the stopped attempt's late result is refused
    assert store.record(identifier, 2, document, None)
    assert not store.record(identifier, 2, document, None)  # and nothing is recorded twice
    assert [e["event"] for e in store.events_of(identifier)] == ["accepted", "started", "requeued", "started",
                                                                  "graded"]
    store.close()


def test_a_submission_that_keeps_stopping_the_server_is_given_up(tmp_path):
    from autograder.service.store import MAX_ATTEMPTS

    store = Store(f"sqlite:///{tmp_path / 'poison.sqlite'}")
    store.add_students(["alice"])
    identifier = store.accept("alice", "keras-dense", "n.ipynb", b"{}", "d", 100).id
    for _ in range(MAX_ATTEMPTS):
        assert store.claim_next()["id"] == identifier
        store.recover()
    row = store.submission(identifier)
    assert row["status"] == "not-graded" and "interrupted 3 times" in row["reason"]
    assert store.claim_next() is None
    store.close()


# -- ex.submit() -----------------------------------------------------------------------------------

@pytest.fixture
def live_server(course):
    """The application on a real loopback port (uvicorn in a thread), for clients that are not ours."""
    import threading

    import uvicorn

    from service_course import free_port

    folder, _, instructor = course
    loaded = course_module.load(folder)
    store = Store(loaded.database_url)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app_module.build(Service(loaded, store, None, tokens.digest(instructor))),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    store.close()


def test_ex_submit_sends_the_running_notebook(live_server, course, tmp_path, monkeypatch, capsys):
    from autograder import submitting
    from autograder.student import Exercise

    path = tmp_path / "keras-dense.ipynb"
    path.write_bytes(notebook_bytes("x = 1"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    monkeypatch.delenv("AUTOGRADER_SANDBOX", raising=False)
    (tmp_path / submitting.SETTINGS_FILE).write_text(f'server = "{live_server}"\ntoken = "{course[1]["alice"]}"\n')
    monkeypatch.chdir(tmp_path)
    exercise = Exercise.__new__(Exercise)  # the recorder is not needed to submit
    exercise.id, exercise._in_grader = "keras-dense", False
    exercise.submit(wait=False)
    assert "queued (number 1)" in capsys.readouterr().out
    service = submitting.find_service(environ={})
    listed = submitting._request(service, "/api/submissions")["submissions"]
    assert [(s["student"], s["filename"], s["status"]) for s in listed] == [("alice", "keras-dense.ipynb", "queued")]
    assert submitting.status(service, listed[0]["id"])["status"] == "queued"
    with pytest.raises(submitting.SubmitError, match="refused it \\(404\\)"):
        submitting.send(service, "keras-nope", path)
    with pytest.raises(submitting.SubmitError, match="not https"):
        submitting.find_service(environ={"AUTOGRADER_SERVER": "http://grader.example.edu", "AUTOGRADER_TOKEN": "t"},
                                places=[])
    with pytest.raises(submitting.SubmitError, match="no course service"):
        submitting.find_service(environ={}, places=[])


def test_a_student_on_the_instructors_pages_is_403(client, course):
    alice = course[1]["alice"]
    for path in ("/instructor", "/instructor/grades.csv"):
        answer = client.get(path, headers=bearer(alice))
        assert answer.status_code == 403 and "bob" not in answer.text
    assert client.get("/instructor").status_code == 401  # nobody: the sign-in form
    sign_in(client, alice)
    csrf = client.get("/").text.split('name="csrf" value="')[1].split('"')[0]
    form = {"student": "alice", "exercise": "keras-dense", "score": "100", "csrf": csrf}
    assert client.post("/instructor/override", data=form).status_code == 403
    assert client.app.state.service.store.decisions() == []


# -- the instructor's desk: extensions, regrade requests, the class by check ------------------------

HOSTILE_TEXT = '</blockquote><script>alert(1)</script><img src=x onerror="alert(2)">'


def graded(store: Store, student: str, recorded: str = "cascade-missing-import", at: float | None = None) -> str:
    """A submission of `student` graded with a recorded result (no grader here): its id."""
    from reports import result_of

    identifier = store.accept(student, "keras-dense", "n.ipynb", b"{}", "d", 100, now=at).id
    claimed = store.claim_next()
    assert claimed is not None and claimed["id"] == identifier
    document, _ = result_of(recorded)
    assert store.record(identifier, claimed["attempts"], dict(document), "<p>report</p>")
    return identifier


def test_a_regrade_request_is_a_students_own_and_the_instructor_answers_it(client, course):
    student_tokens, instructor = course[1], course[2]
    alice, bob = student_tokens["alice"], student_tokens["bob"]
    store = client.app.state.service.store
    mine = graded(store, "alice")
    auto = client.get(f"/api/submissions/{mine}", headers=bearer(alice)).json()["auto_score"]
    asked = {"submission": mine, "reason": "my Dense import is in cell 2"}
    assert client.post("/api/regrade-requests", json=asked).status_code == 401
    theirs = client.post("/api/regrade-requests", headers=bearer(bob), json=asked)
    assert theirs.status_code == 404 and theirs.json() == {"detail": "no such submission"}  # as an unknown id
    assert client.post("/api/regrade-requests", headers=bearer(instructor), json=asked).status_code == 403
    for bad, status in (({**asked, "submission": "0" * 16}, 404), ({**asked, "submission": "../x"}, 404),
                        ({**asked, "reason": "  "}, 422), ({**asked, "reason": "x" * 2001}, 422), ([asked], 422)):
        assert client.post("/api/regrade-requests", headers=bearer(alice), json=bad).status_code == status, bad
    filed = client.post("/api/regrade-requests", headers=bearer(alice), json=asked)
    assert filed.status_code == 201, filed.text
    request = filed.json()
    assert request["status"] == "open" and request["reason"] == asked["reason"] and request["exercise"] == "keras-dense"
    again = client.post("/api/regrade-requests", headers=bearer(alice), json=asked)
    assert again.status_code == 409 and "open request" in again.json()["detail"]
    queued = submit(client, alice).json()["id"]
    assert client.post("/api/regrade-requests", headers=bearer(alice),
                       json={**asked, "submission": queued}).status_code == 409  # not graded yet
    assert [r["id"] for r in client.get("/api/regrade-requests", headers=bearer(alice)).json()["requests"]] \
        == [request["id"]]
    assert client.get("/api/regrade-requests", headers=bearer(bob)).json()["requests"] == []
    assert client.get("/api/regrade-requests").status_code == 401

    answer = {"text": "Right: 90 points.", "score": 90}
    path = f"/api/regrade-requests/{request['id']}/answer"
    assert client.post(path, headers=bearer(alice), json=answer).status_code == 403  # a student answers nothing
    assert client.post(path, json=answer).status_code == 401
    assert client.post("/api/regrade-requests/999/answer", headers=bearer(instructor), json=answer).status_code == 404
    assert client.post("/api/regrade-requests/x1/answer", headers=bearer(instructor), json=answer).status_code == 404
    assert client.post(path, headers=bearer(instructor), json={"text": ""}).status_code == 422
    assert client.post(path, headers=bearer(instructor), json={**answer, "score": -1}).status_code == 422
    answered = client.post(path, headers=bearer(instructor), json=answer)
    assert answered.status_code == 201 and answered.json()["answer"]["score"] == 90.0
    assert client.post(path, headers=bearer(instructor), json=answer).status_code == 409
    seen = client.get("/api/regrade-requests", headers=bearer(alice)).json()["requests"][0]
    assert seen["status"] == "answered" and seen["answer"]["text"] == answer["text"] and seen["answer"]["by"] == \
        "instructor"
    # the answer's score is an override: the final score changes, the grader's does not
    shown = client.get(f"/api/submissions/{mine}", headers=bearer(alice)).json()
    assert shown["score"] == 90.0 and shown["auto_score"] == auto and auto != 90.0
    assert shown["override"] == 90.0 and shown["comment"] == answer["text"]
    row = client.get("/api/grades", headers=bearer(instructor)).json()["grades"][0]
    assert (row["score"], row["auto_score"], row["override"], row["comment"]) == (90.0, auto, 90.0, answer["text"])
    kinds = [(d["kind"], d["by"]) for d in store.decisions()]
    assert kinds == [("regrade-request", "alice"), ("regrade-answer", "instructor"), ("override", "instructor")]
    assert all(time.time() - d["at"] < 60 for d in store.decisions())
    # a new request on the same submission may be filed once the first is answered
    assert client.post("/api/regrade-requests", headers=bearer(alice), json=asked).status_code == 201


def test_regrade_requests_are_limited_per_day(client, course):
    from autograder.service.api import REGRADE_REQUESTS_PER_DAY

    carol = course[1]["carol"]
    store = client.app.state.service.store
    mine = [graded(store, "carol") for _ in range(REGRADE_REQUESTS_PER_DAY + 1)]
    codes = [client.post("/api/regrade-requests", headers=bearer(carol),
                         json={"submission": s, "reason": "please"}).status_code for s in mine]
    assert codes == [201] * REGRADE_REQUESTS_PER_DAY + [429]
    refused = client.post("/api/regrade-requests", headers=bearer(carol), json={"submission": mine[-1], "reason": "x"})
    assert 86000 < int(refused.headers["retry-after"]) <= 86400 and "24 hours" in refused.json()["detail"]
    assert client.post("/api/regrade-requests", headers=bearer(course[1]["dave"]),
                       json={"submission": mine[-1], "reason": "x"}).status_code == 404  # carol's, not dave's


def test_an_extension_moves_the_deadline_and_the_late_penalty_with_it(course):
    folder, student_tokens, instructor = course
    now = time.time()
    configure(folder, deadline=f'"{iso(now - 2 * 86400 - 60)}"', late_penalty_per_day="0.25")
    client, store = client_for(folder, instructor)
    with client:
        late = graded(store, "bob")
        shown = client.get(f"/api/submissions/{late}", headers=bearer(student_tokens["bob"])).json()
        assert shown["late"] is True and shown["late_days"] == 3
        assert shown["late_penalty"] == pytest.approx(shown["auto_score"] * 0.75)
        assert shown["score"] == pytest.approx(shown["auto_score"] * 0.25)
        assert shown["override"] is None and shown["comment"] is None
        grant = {"student": "bob", "exercise": None, "until": iso(now + 86400), "comment": "ill, with a note"}
        assert client.post("/api/extensions", json=grant).status_code == 401
        assert client.post("/api/extensions", headers=bearer(student_tokens["bob"]), json=grant).status_code == 403
        for bad, status in (({**grant, "student": "zed"}, 404), ({**grant, "exercise": "keras-nope"}, 404),
                            ({**grant, "until": "tomorrow"}, 422), ({**grant, "until": "2030-01-01T00:00:00"}, 422),
                            ({**grant, "until": 5}, 422), ({**grant, "comment": 3}, 422)):
            assert client.post("/api/extensions", headers=bearer(instructor), json=bad).status_code == status, bad
        granted = client.post("/api/extensions", headers=bearer(instructor), json=grant)
        assert granted.status_code == 201 and granted.json()["until"].endswith("Z")
        decision = store.decisions("extension")[0]
        assert decision["by"] == "instructor" and decision["text"] == grant["comment"]
        on_time = client.get(f"/api/submissions/{late}", headers=bearer(student_tokens["bob"])).json()
        assert on_time["late"] is False and on_time["late_penalty"] == 0.0 and on_time["score"] == on_time["auto_score"]
        row = client.get("/api/grades", headers=bearer(instructor)).json()["grades"][0]
        assert row["late"] is False and row["late_penalty"] == ""
        for_one = {**grant, "exercise": "keras-dense"}
        assert client.post("/api/extensions", headers=bearer(instructor), json=for_one).json()["exercise"] == \
            "keras-dense"
    store.close()


def test_decisions_survive_a_new_server_on_the_same_course(course):
    folder, student_tokens, instructor = course
    client, store = client_for(folder, instructor)
    with client:
        mine = graded(store, "alice")
        override = {"student": "alice", "exercise": "keras-dense", "score": 42, "comment": "see me"}
        assert client.post("/api/overrides", headers=bearer(instructor), json=override).status_code == 201
        assert client.post("/api/regrade-requests", headers=bearer(student_tokens["alice"]),
                           json={"submission": mine, "reason": "why?"}).status_code == 201
    store.close()
    client, store = client_for(folder, instructor)
    with client:
        shown = client.get(f"/api/submissions/{mine}", headers=bearer(student_tokens["alice"])).json()
        assert (shown["score"], shown["override"], shown["comment"]) == (42.0, 42.0, "see me")
        assert shown["auto_score"] != 42.0
        assert client.get("/api/regrade-requests", headers=bearer(instructor)).json()["requests"][0]["reason"] == "why?"
    store.close()


def test_the_instructors_page_shows_the_class_by_check_and_root_cause(client, course):
    from autograder.service.classview import STUCK_AFTER

    store = client.app.state.service.store
    graded(store, "alice", "reference")
    graded(store, "bob", "reference")  # long ago: the view reads only the last STUCK_AFTER of each
    for _ in range(STUCK_AFTER):
        graded(store, "bob", "cascade-missing-import")
    assert [row["student"] for row in store.latest_results(STUCK_AFTER)].count("bob") == STUCK_AFTER
    graded(store, "carol", "cascade-unflattened")
    graded(store, HOSTILE_ID, "cascade-missing-import")
    sign_in(client, course[2])
    page = client.get("/instructor").text
    grid = page.split('id="checks-1"')[1].split("</section>")[0]

    def row(student):
        return grid.split(f'data-student="{student}"')[1].split("</tr>")[0]

    assert row("alice").count("✓") == 14 and "✗" not in row("alice")
    bob = row("bob")
    assert 'data-check="model.architecture"' in bob and "`Dense` is not defined" in bob  # the first mistake
    architecture = bob.split('data-check="model.architecture"')[0].rsplit("<td", 1)[1]
    assert "cause-0" in architecture  # the most common cause has the first colour
    assert "cause-" in row("carol") and "cause-0" not in row("carol").split("mistake")[0]  # another cause, colour
    assert "NameError" in page.split('id="legend"')[1].split("</p>")[0]
    stuck = page.split('id="stuck"')[1].split("</section>")[0]
    assert "bob" in stuck and f"last {STUCK_AFTER} submissions" in stuck and "alice" not in stuck
    assert 'data-refresh="/instructor"' in page  # app.js keeps it live
    assert "<img src=x" not in page and "&lt;img src=x" in page


def test_the_request_and_answer_forms_need_csrf_and_escape_every_reason(client, course):
    hostile, instructor = course[1][HOSTILE_ID], course[2]
    store = client.app.state.service.store
    mine = graded(store, HOSTILE_ID)
    sign_in(client, hostile)
    page = client.get("/")
    assert 'id="regrade"' in page.text and f'value="{mine}"' in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    form = {"submission": mine, "reason": HOSTILE_TEXT}
    assert client.post("/regrade", data={**form, "csrf": "forged"}).status_code == 403
    assert client.post("/regrade", data={**form, "csrf": csrf}, headers={"Origin": "https://evil.example"}
                       ).status_code == 403
    assert store.regrade_requests() == []
    assert client.post("/regrade", data={**form, "csrf": csrf}, follow_redirects=False).status_code == 303
    again = client.post("/regrade", data={**form, "csrf": csrf})
    assert again.status_code == 409 and "open request" in again.text
    page = client.get("/").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert client.post("/instructor/answer", data={"request": "1", "text": "no", "csrf": csrf}).status_code == 403
    client.cookies.clear()
    sign_in(client, instructor)
    page = client.get("/instructor").text
    requests = page.split('id="requests"')[1].split("</section>")[0]
    assert "<script>alert(1)" not in requests and "&lt;script&gt;alert(1)" in requests and "&lt;img src=x" in requests
    number = store.regrade_requests()[0]["seq"]
    csrf = page.split('name="csrf" value="')[1].split('"')[0]
    answer = {"request": str(number), "text": "Looked again: 75.", "score": "75"}
    assert client.post("/instructor/answer", data={**answer, "csrf": "forged"}).status_code == 403
    assert client.post("/instructor/answer", data={**answer, "score": "lots", "csrf": csrf}).status_code == 422
    assert client.post("/instructor/answer", data={**answer, "csrf": csrf}, follow_redirects=False).status_code == 303
    assert store.regrade_requests()[0]["answer"]["score"] == 75.0
    assert client.post("/instructor/answer", data={**answer, "csrf": csrf}).status_code == 409
    extension = {"student": "bob", "exercise": "", "until": "2030-01-01T00:00:00Z", "comment": HOSTILE_TEXT}
    assert client.post("/instructor/extension", data={**extension, "csrf": csrf},
                       follow_redirects=False).status_code == 303
    assert store.decisions("extension")[0]["exercise"] is None
