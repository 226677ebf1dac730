"""The JSON API (docs/service.md has its reference): `Authorization: Bearer TOKEN`.

    GET  /healthz                      200 once submissions are accepted
    POST /api/submissions              202 {id, status, position}; 401, 404, 408, 413, 422, 429 (+Retry-After)
    GET  /api/submissions              the caller's submissions (the instructor's: everyone's)
    GET  /api/submissions/ID           one submission with its result; anyone else's id: 404
    GET  /api/submissions/ID/report    its HTML report
    GET  /api/grades                   instructor only: grades.csv's rows (JSON, or CSV for Accept: text/csv)
    POST /api/overrides                instructor only: {student, exercise, score, comment}

A browser's session cookie is accepted for the GET requests (the pages read status with it);
a POST needs the bearer token.
"""
from __future__ import annotations

import io
import json
import math
import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from .. import gradesheet
from .auth import BadToken, Caller, caller_of
from .core import Service
from .gradebook import Decided, class_rows
from .uploads import UploadError, read_body

SUBMISSION_ID = re.compile(r"^[0-9a-f]{16}$")
#: The report is the student's own text drawn by the grader: shown with no script, in a sandbox.
REPORT_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
                 "form-action 'none'; frame-ancestors 'self'; sandbox")
MAX_COMMENT = 2000


def problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="autograder"'}


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


async def authenticated(request: Request, cookies: bool = True) -> Caller | JSONResponse:
    service = service_of(request)
    try:
        found = await run_in_threadpool(caller_of, request, service.store, service.instructor_hash, cookies)
    except BadToken:
        return problem(401, "the token is not valid", UNAUTHORIZED)
    if found is None:
        return problem(401, "sign in: send Authorization: Bearer TOKEN", UNAUTHORIZED)
    return found


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def create_submission(request: Request) -> Response:
    caller = await authenticated(request, cookies=False)
    if isinstance(caller, JSONResponse):
        return caller
    try:
        accepted = await service_of(request).submit(request, caller, csrf=None)
    except UploadError as error:
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else None
        return problem(error.status, error.detail, headers)
    return JSONResponse({"id": accepted.id, "status": "queued", "position": accepted.position}, status_code=202,
                        headers={"Location": f"/api/submissions/{accepted.id}"})


async def list_submissions(request: Request) -> Response:
    caller = await authenticated(request)
    if isinstance(caller, JSONResponse):
        return caller
    service = service_of(request)
    rows = await run_in_threadpool(service.store.submissions, None if caller.instructor else caller.student)
    decided = await run_in_threadpool(Decided.read, service.store, None if caller.instructor else caller.student)
    views = []
    for row in rows:
        row["result"] = None
        view = service.view(row, caller, decided)
        view.pop("result")
        views.append(view)
    return JSONResponse({"submissions": views})


async def _owned(request: Request, blobs: bool = False) -> tuple[Caller, dict[str, Any]] | Response:
    caller = await authenticated(request)
    if isinstance(caller, JSONResponse):
        return caller
    identifier = request.path_params["id"]
    if not SUBMISSION_ID.match(identifier):
        return problem(404, "no such submission")
    service = service_of(request)
    row = await run_in_threadpool(service.store.submission, identifier, None if caller.instructor else caller.student,
                                  blobs)
    if row is None:  # someone else's reads exactly as one that does not exist
        return problem(404, "no such submission")
    return caller, row


async def get_submission(request: Request) -> Response:
    found = await _owned(request)
    if isinstance(found, Response):
        return found
    caller, row = found
    service = service_of(request)
    decided = await run_in_threadpool(Decided.read, service.store, row["student"])
    return JSONResponse(service.view(row, caller, decided))


async def get_report(request: Request) -> Response:
    found = await _owned(request, blobs=True)
    if isinstance(found, Response):
        return found
    _, row = found
    if not row.get("report"):
        return problem(404, "no report yet: the submission is " + row["status"])
    return HTMLResponse(row["report"], headers={"Content-Security-Policy": REPORT_POLICY})


async def get_grades(request: Request) -> Response:
    caller = await authenticated(request)
    if isinstance(caller, JSONResponse):
        return caller
    if not caller.instructor:
        return problem(403, "only the instructor reads the class's grades")
    service = service_of(request)
    rows = await run_in_threadpool(class_rows, service.course, service.store)
    if "text/csv" in request.headers.get("accept", ""):
        return csv_response(rows)
    header = [str(name) for name in rows[0]]
    return JSONResponse({"columns": header, "grades": [dict(zip(header, row)) for row in rows[1:]]})


def csv_response(rows: list[list[object]]) -> Response:
    text = io.StringIO()
    gradesheet.write_rows(rows, text)
    return Response(text.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="grades.csv"'})


async def create_override(request: Request) -> Response:
    caller = await authenticated(request, cookies=False)
    if isinstance(caller, JSONResponse):
        return caller
    if not caller.instructor:
        return problem(403, "only the instructor overrides scores")
    service = service_of(request)
    try:
        body = json.loads(await read_body(request, 64 * 1024, service.course.upload_timeout_s))
    except UploadError as error:
        return problem(error.status, error.detail)
    except (ValueError, UnicodeDecodeError):
        return problem(422, "send JSON: {\"student\", \"exercise\", \"score\", \"comment\"}")
    outcome = await run_in_threadpool(record_override, service, body, caller.who)
    return outcome


def record_override(service: Service, body: object, by: str) -> Response:
    """An override from the instructor: the student's final score for the exercise, with a comment."""
    if not isinstance(body, dict):
        return problem(422, "send a JSON object: {\"student\", \"exercise\", \"score\", \"comment\"}")
    student, exercise, score, comment = (body.get(k) for k in ("student", "exercise", "score", "comment"))
    if not isinstance(student, str) or student not in service.store.roster():
        return problem(404, "no such student")
    if exercise not in service.course.exercises:
        return problem(404, "unknown exercise")
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score) or score < 0:
        return problem(422, "score must be a number of points, 0 or more")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        return problem(422, f"comment must be text of at most {MAX_COMMENT} characters")
    number = service.store.decide("override", student, by, exercise=exercise, score=float(score), text=comment)
    return JSONResponse({"id": number, "student": student, "exercise": exercise, "score": float(score),
                         "comment": comment or ""}, status_code=201)
