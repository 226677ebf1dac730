"""The pages: `/` for students (sign in, submit, the queue and live status, the report, the
history, regrade requests and their answers) and `/instructor` (the class live: a grid of
students by check coloured by root cause, first mistakes, who is stuck; overrides, extensions,
answers to regrade requests; grades.csv).

Rendered with Jinja2 with autoescaping on: every string a student controls (their file name,
a reason quoting their notebook, their id) is escaped. No page has inline script or style
(app.PAGE_POLICY forbids them); app.js follows a submission's status through the API.
Every form carries the session's CSRF token (auth.py); a refused form changes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any
from urllib.parse import parse_qs

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from . import auth, classview, policy
from .api import (
    MAX_COMMENT,
    csv_response,
    file_regrade_request,
    record_answer,
    record_extension,
    record_override,
    request_view,
    service_of,
)
from .auth import BadToken, Caller
from .core import Service
from .gradebook import Decided, class_rows, standing
from .uploads import UploadError, read_body

TEMPLATES = Environment(loader=PackageLoader("autograder.service", "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))
MAX_FORM = 32 * 1024  # a reason or comment of MAX_COMMENT characters, percent-encoded


def shown_time(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    service = service_of(request)
    return HTMLResponse(TEMPLATES.get_template(name).render(course=service.course, **context), status_code=status)


async def caller_of(request: Request) -> Caller | None:
    service = service_of(request)
    try:
        return await run_in_threadpool(auth.caller_of, request, service.store, service.instructor_hash)
    except BadToken:
        return None


async def small_form(request: Request) -> dict[str, str]:
    body = await read_body(request, MAX_FORM, service_of(request).course.upload_timeout_s)
    try:
        parsed = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise UploadError(422, "the form could not be read") from None
    return {key: values[0] for key, values in parsed.items()}


def forbidden(request: Request, caller: Caller) -> HTMLResponse:
    """A student on an instructor's page: 403, and nothing of the class."""
    return render(request, "message.html.j2", 403, caller=caller if caller.session_key else None,
                  error="This page is the instructor's.", link="/")


def signin_page(request: Request, error: str | None = None, status: int = 200) -> HTMLResponse:
    value, fresh = auth.presession(request)
    response = render(request, "signin.html.j2", status, csrf=value, error=error, caller=None)
    if fresh:
        auth.set_cookie(request, response, auth.PRESESSION_COOKIE, value, 3600)
    return response


async def home(request: Request) -> Response:
    caller = await caller_of(request)
    if caller is None:
        return signin_page(request)
    if caller.instructor:
        return RedirectResponse("/instructor", status_code=303)
    return await student_page(request, caller)


async def student_page(request: Request, caller: Caller, error: str | None = None, status: int = 200) -> Response:
    service = service_of(request)
    context = await run_in_threadpool(student_context, service, caller)
    return render(request, "student.html.j2", status, caller=caller, error=error, **context)


def student_context(service: Service, caller: Caller) -> dict[str, Any]:
    course, student = service.course, str(caller.student)
    decided = Decided.read(service.store, student)
    now = time.time()
    rows = service.store.submissions(student)
    views = []
    for row in rows:
        found = standing(course, decided, row)
        views.append({**row, "score": found.score, "late": found.late, "late_days": found.days_late,
                      "late_penalty": found.late_penalty, "submitted": shown_time(row["submitted_at"]),
                      "report": f"/api/submissions/{row['id']}/report" if row["status"] in ("graded", "not-graded")
                      else None})
    active = []
    for view in views:
        if view["status"] in ("queued", "running"):
            found_row = service.store.submission(view["id"], student)
            active.append({**view, "position": (found_row or {}).get("position", 0)})
    exercises = []
    for exercise_id, exercise in course.exercises.items():
        recent = service.store.recent_times(student, exercise_id, now)
        wait = policy.retry_after(recent, course.submissions_per_hour, now)
        used = len(recent)
        exercises.append({"id": exercise_id, "title": exercise.title or exercise_id, "wait": wait,
                          "next_allowed": shown_time(now + wait) if wait else "",
                          "left": max(0, course.submissions_per_hour - used)})
    due = policy.due(course, student, decided.extensions.get(student))
    overrides = [o for (who, _), o in decided.overrides.items() if who == student]
    requests = [{**request_view(r), "filed": shown_time(r["at"]),
                 "answered": shown_time(r["answer"]["at"]) if r["answer"] else ""}
                for r in reversed(service.store.regrade_requests(student))]
    finished = [v for v in views if v["status"] in ("graded", "not-graded")]
    return {"requests": requests, "finished": finished, "max_comment": MAX_COMMENT,
            "submissions": views, "active": active, "latest": views[0] if views else None, "exercises": exercises,
            "due": shown_time(due), "cutoff": shown_time(policy.cutoff(course, due)),
            "late_penalty": f"{course.late_penalty_per_day:.0%}" if course.late_penalty_per_day else "",
            "max_upload": f"{course.max_upload_bytes / 2**20:g} MiB", "overrides": overrides}


async def signin(request: Request) -> Response:
    service = service_of(request)
    try:
        form = await small_form(request)
    except UploadError as error:
        return signin_page(request, error.detail, error.status)
    expected = request.cookies.get(auth.PRESESSION_COOKIE)
    if not auth.csrf_ok(request, expected, form.get("csrf")):
        return signin_page(request, "The sign-in form expired; please sign in again.", 403)
    found = await run_in_threadpool(auth.from_token, service.store, service.instructor_hash, form.get("token", ""))
    if found is None:
        return signin_page(request, "That token is not valid. Check it and try again.", 401)
    response = RedirectResponse("/instructor" if found.instructor else "/", status_code=303)
    await run_in_threadpool(auth.start_session, request, response, service.store, found)
    return response


async def signout(request: Request) -> Response:
    caller = await caller_of(request)
    try:
        form = await small_form(request)
    except UploadError:
        form = {}
    response = RedirectResponse("/", status_code=303)
    if caller is not None and caller.session_key and auth.csrf_ok(request, caller.csrf, form.get("csrf")):
        await run_in_threadpool(service_of(request).store.end_session, caller.session_key)
        response.delete_cookie(auth.SESSION_COOKIE, path="/")
    return response


async def submit(request: Request) -> Response:
    caller = await caller_of(request)
    if caller is None or caller.session_key is None:
        return signin_page(request, "Sign in to submit.", 401)
    if caller.instructor:
        return RedirectResponse("/instructor", status_code=303)
    try:
        await service_of(request).submit(request, caller, csrf=caller.csrf)
    except UploadError as error:
        response = await student_page(request, caller, error.detail, error.status)
        if error.retry_after is not None:
            response.headers["Retry-After"] = str(error.retry_after)
        return response
    return RedirectResponse("/", status_code=303)


async def instructor(request: Request) -> Response:
    caller = await caller_of(request)
    if caller is None:
        return signin_page(request, status=401)
    if not caller.instructor:
        return forbidden(request, caller)
    context = await run_in_threadpool(instructor_context, service_of(request))
    return render(request, "instructor.html.j2", caller=caller, error=None, **context)


def instructor_context(service: Service) -> dict[str, Any]:
    course, store = service.course, service.store
    decided = Decided.read(store)
    rows = store.submissions()
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    recent: list[dict[str, Any]] = []
    for row in rows:  # newest first
        found = standing(course, decided, row)
        view = {**row, "score": found.score, "late": found.late, "submitted": shown_time(row["submitted_at"]),
                "report": f"/api/submissions/{row['id']}/report" if row["status"] in ("graded", "not-graded")
                else None}
        latest.setdefault((row["student"], row["exercise"]), view)
        if len(recent) < 200:
            recent.append(view)
    grid = []
    for student in store.roster():
        cells = []
        for exercise in course.exercises:
            shown = latest.get((student, exercise))
            override = decided.overrides.get((student, exercise))
            if shown is None:
                cells.append({"text": "—", "css": "", "id": None, "override": None if override is None
                              else override["score"], "late": False})
                continue
            if shown["status"] == "graded":
                text = f"{shown['score']:g} / {shown['max_score']:g}"
                css = "passed" if shown["score"] >= shown["max_score"] else "failed"
            else:
                text, css = shown["status"], "invalid" if shown["status"] == "not-graded" else ""
            cells.append({"text": text, "css": css, "id": shown["id"], "report": shown["report"], "late": shown["late"],
                          "override": None if override is None else override["score"]})
        grid.append({"student": student, "cells": cells})
    roster = store.roster()
    by_check = classview.class_view(course, roster, store.latest_results(classview.STUCK_AFTER), decided)
    requests = [{**request_view(r), "filed": shown_time(r["at"])} for r in reversed(store.regrade_requests())]
    return {"counts": store.counts(), "grid": grid, "recent": recent, "exercises": list(course.exercises),
            "roster": roster, "view": by_check, "stuck_after": classview.STUCK_AFTER, "max_comment": MAX_COMMENT,
            "open_requests": [r for r in requests if r["status"] == "open"],
            "answered_requests": [r for r in requests if r["status"] != "open"][:50]}


async def instructor_form(request: Request) -> tuple[Caller, dict[str, str]] | Response:
    caller = await caller_of(request)
    if caller is None or caller.session_key is None:
        return signin_page(request, "Sign in as the instructor.", 401)
    if not caller.instructor:
        return forbidden(request, caller)
    try:
        form = await small_form(request)
    except UploadError as error:
        return await instructor_error(request, caller, error.detail, error.status)
    if not auth.csrf_ok(request, caller.csrf, form.get("csrf")):
        return await instructor_error(request, caller, "The form expired or came from another site; reload the page.",
                                      403)
    return caller, form


async def instructor_error(request: Request, caller: Caller, message: str, status: int) -> Response:
    context = await run_in_threadpool(instructor_context, service_of(request))
    return render(request, "instructor.html.j2", status, caller=caller, error=message, **context)


async def override(request: Request) -> Response:
    found = await instructor_form(request)
    if isinstance(found, Response):
        return found
    caller, form = found
    try:
        score: object = float(form.get("score", ""))
    except ValueError:
        score = None
    body = {"student": form.get("student"), "exercise": form.get("exercise"), "score": score,
            "comment": form.get("comment") or None}
    outcome = await run_in_threadpool(record_override, service_of(request), body, caller.who)
    return await instructor_outcome(request, caller, outcome)


async def extension(request: Request) -> Response:
    found = await instructor_form(request)
    if isinstance(found, Response):
        return found
    caller, form = found
    body = {"student": form.get("student", ""), "exercise": form.get("exercise") or None,
            "until": form.get("until", ""), "comment": form.get("comment") or None}
    outcome = await run_in_threadpool(record_extension, service_of(request), body, caller.who)
    return await instructor_outcome(request, caller, outcome)


async def answer(request: Request) -> Response:
    found = await instructor_form(request)
    if isinstance(found, Response):
        return found
    caller, form = found
    number = form.get("request", "")
    score: object = None
    if form.get("score", "").strip():
        try:
            score = float(form["score"])
        except ValueError:
            score = "not a number"
    if not number.isdigit() or len(number) > 12:
        return await instructor_error(request, caller, "no such request", 404)
    outcome = await run_in_threadpool(record_answer, service_of(request), int(number),
                                      {"text": form.get("text", ""), "score": score}, caller.who)
    return await instructor_outcome(request, caller, outcome)


async def instructor_outcome(request: Request, caller: Caller, outcome: Response) -> Response:
    """Back to the page after a decision the API's function recorded (201), or the page with its reason."""
    if outcome.status_code != 201:
        return await instructor_error(request, caller, json.loads(bytes(outcome.body))["detail"], outcome.status_code)
    return RedirectResponse("/instructor", status_code=303)


async def regrade(request: Request) -> Response:
    """A student's regrade request from their page: their own submission, with a reason."""
    caller = await caller_of(request)
    if caller is None or caller.session_key is None:
        return signin_page(request, "Sign in to ask for a regrade.", 401)
    if caller.student is None:
        return RedirectResponse("/instructor", status_code=303)
    try:
        form = await small_form(request)
    except UploadError as error:
        return await student_page(request, caller, error.detail, error.status)
    if not auth.csrf_ok(request, caller.csrf, form.get("csrf")):
        return await student_page(request, caller, "The form expired or came from another site; reload the page.",
                                  403)
    outcome = await run_in_threadpool(file_regrade_request, service_of(request),
                                      {"submission": form.get("submission", ""), "reason": form.get("reason", "")},
                                      caller.student)
    if outcome.status_code != 201:
        response = await student_page(request, caller, json.loads(bytes(outcome.body))["detail"], outcome.status_code)
        if "retry-after" in outcome.headers:
            response.headers["Retry-After"] = outcome.headers["retry-after"]
        return response
    return RedirectResponse("/#requests", status_code=303)


async def grades_csv(request: Request) -> Response:
    caller = await caller_of(request)
    if caller is None:
        return signin_page(request, "Sign in as the instructor.", 401)
    if not caller.instructor:
        return forbidden(request, caller)
    service = service_of(request)
    return csv_response(await run_in_threadpool(class_rows, service.course, service.store))


def routes() -> list[Route]:
    return [
        Route("/", home, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/submit", submit, methods=["POST"]),
        Route("/instructor", instructor, methods=["GET"]),
        Route("/instructor/override", override, methods=["POST"]),
        Route("/instructor/extension", extension, methods=["POST"]),
        Route("/instructor/answer", answer, methods=["POST"]),
        Route("/regrade", regrade, methods=["POST"]),
        Route("/instructor/grades.csv", grades_csv, methods=["GET"]),
    ]
