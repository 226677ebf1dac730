"""The JSON API (docs/service.md has its reference): `Authorization: Bearer TOKEN`.

    GET  /healthz                      200 once submissions are accepted
    POST /api/submissions              202 {id, status, position}; 401, 404, 408, 413, 422, 429 (+Retry-After)
    GET  /api/submissions              the caller's submissions (the instructor's: everyone's)
    GET  /api/submissions/ID           one submission with its result; anyone else's id: 404
    GET  /api/submissions/ID/report    its HTML report
    GET  /api/grades                   instructor only: grades.csv's rows (JSON, or CSV for Accept: text/csv)
    POST /api/overrides                instructor only: {student, exercise, score, comment}
    POST /api/extensions               instructor only: {student, exercise or null, until, comment}
    POST /api/regrade-requests         a student, on their own finished submission: {submission, reason}
    GET  /api/regrade-requests         the caller's requests with their answers (the instructor's: everyone's)
    POST /api/regrade-requests/N/answer  instructor only: {text, score optional: an override too}

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

from ..batch import sheets as gradesheet
from .auth import BadToken, Caller, caller_of
from .core import Service, iso
from .course import parse_time
from .gradebook import Decided, class_rows
from .uploads import UploadError, read_body

SUBMISSION_ID = re.compile(r"^[0-9a-f]{16}$")
#: The report is the student's own text drawn by the grader: shown with no script, in a sandbox.
REPORT_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
                 "form-action 'none'; frame-ancestors 'self'; sandbox")
MAX_COMMENT = 2000
MAX_JSON = 64 * 1024
#: Regrade requests a student may file in any 24 hours (and one open request per submission):
#: enough to ask about every exercise, not enough to bury the instructor.
REGRADE_REQUESTS_PER_DAY = 3


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
        view = shown(service, row, caller, decided)
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
    return JSONResponse(shown(service, row, caller, decided))


def shown(service: Service, row: dict[str, Any], caller: Caller, decided: Decided) -> dict[str, Any]:
    """A submission with the decisions on it: `score` is the final score (the override when there
    is one, else the grader's less the late penalty); `auto_score` stays the grader's."""
    view = service.view(row, caller, decided)
    override = decided.overrides.get((row["student"], row["exercise"]))
    view["override"] = None if override is None else override["score"]
    view["comment"] = None if override is None else override["text"] or ""
    if override is not None and row["status"] in ("graded", "not-graded"):
        view["score"] = override["score"]
    return view


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
    caller = await instructor_only(request, "overrides scores")
    if isinstance(caller, JSONResponse):
        return caller
    service = service_of(request)
    body = await json_body(request, '{"student", "exercise", "score", "comment"}')
    if isinstance(body, Response):
        return body
    outcome = await run_in_threadpool(record_override, service, body, caller.who)
    return outcome


async def json_body(request: Request, fields: str) -> object:
    """The request's JSON (bounded in size and time), or the 4xx answer saying what to send."""
    try:
        return json.loads(await read_body(request, MAX_JSON, service_of(request).course.upload_timeout_s))
    except UploadError as error:
        return problem(error.status, error.detail)
    except (ValueError, UnicodeDecodeError):
        return problem(422, f"send JSON: {fields}")


def record_override(service: Service, body: object, by: str) -> Response:
    """An override from the instructor: the student's final score for the exercise, with a comment."""
    if not isinstance(body, dict):
        return problem(422, "send a JSON object: {\"student\", \"exercise\", \"score\", \"comment\"}")
    student, exercise, score, comment = (body.get(k) for k in ("student", "exercise", "score", "comment"))
    if not isinstance(student, str) or student not in service.store.roster():
        return problem(404, "no such student")
    if exercise not in service.course.exercises:
        return problem(404, "unknown exercise")
    if not valid_score(score):
        return problem(422, "score must be a number of points, 0 or more")
    assert isinstance(score, (int, float))
    if not valid_text(comment):
        return problem(422, f"comment must be text of at most {MAX_COMMENT} characters")
    number = service.store.decide("override", student, by, exercise=exercise, score=float(score), text=comment)
    return JSONResponse({"id": number, "student": student, "exercise": exercise, "score": float(score),
                         "comment": comment or ""}, status_code=201)


def valid_score(score: object) -> bool:
    return not isinstance(score, bool) and isinstance(score, (int, float)) and math.isfinite(score) and score >= 0


def valid_text(text: object, required: bool = False) -> bool:
    if text is None:
        return not required
    return isinstance(text, str) and len(text) <= MAX_COMMENT and (not required or bool(text.strip()))


async def instructor_only(request: Request, doing: str) -> Caller | JSONResponse:
    caller = await authenticated(request, cookies=False)
    if isinstance(caller, JSONResponse):
        return caller
    if not caller.instructor:
        return problem(403, f"only the instructor {doing}")
    return caller


# -- extensions -----------------------------------------------------------------------------------

async def create_extension(request: Request) -> Response:
    caller = await instructor_only(request, "grants extensions")
    if isinstance(caller, JSONResponse):
        return caller
    body = await json_body(request, '{"student", "exercise" (or null), "until", "comment"}')
    if isinstance(body, Response):
        return body
    return await run_in_threadpool(record_extension, service_of(request), body, caller.who)


def record_extension(service: Service, body: object, by: str) -> Response:
    """An extension from the instructor: the student's new deadline (for one exercise, or all),
    which replaces course.toml's; late penalties are read against it from now on."""
    if not isinstance(body, dict):
        return problem(422, 'send a JSON object: {"student", "exercise" (or null), "until", "comment"}')
    student, exercise, until, comment = (body.get(k) for k in ("student", "exercise", "until", "comment"))
    if not isinstance(student, str) or student not in service.store.roster():
        return problem(404, "no such student")
    if exercise is not None and exercise not in service.course.exercises:
        return problem(404, "unknown exercise")
    if not isinstance(until, str):
        return problem(422, "until must be an ISO 8601 time with its zone, e.g. 2026-06-03T23:59:00+02:00")
    try:
        when = parse_time(until, "until")
    except ValueError as error:
        return problem(422, str(error).removeprefix("course.toml: "))
    if when is None:
        return problem(422, "until must be an ISO 8601 time with its zone, e.g. 2026-06-03T23:59:00+02:00")
    if not valid_text(comment):
        return problem(422, f"comment must be text of at most {MAX_COMMENT} characters")
    number = service.store.decide("extension", student, by, exercise=exercise, until=when.timestamp(), text=comment)
    return JSONResponse({"id": number, "student": student, "exercise": exercise, "until": iso(when.timestamp()),
                         "comment": comment or ""}, status_code=201)


# -- regrade requests -----------------------------------------------------------------------------

def request_view(request: dict[str, Any]) -> dict[str, Any]:
    answer = request["answer"]
    return {"id": request["seq"], "student": request["student"], "exercise": request["exercise"],
            "submission": request["submission"], "reason": request["text"], "filed_at": iso(request["at"]),
            "status": "open" if answer is None else "answered",
            "answer": None if answer is None else {
                "text": answer["text"], "score": answer["score"], "by": answer["by"], "at": iso(answer["at"])}}


async def create_regrade_request(request: Request) -> Response:
    caller = await authenticated(request, cookies=False)
    if isinstance(caller, JSONResponse):
        return caller
    if caller.student is None:
        return problem(403, "only students file regrade requests; the instructor answers them")
    body = await json_body(request, '{"submission", "reason"}')
    if isinstance(body, Response):
        return body
    return await run_in_threadpool(file_regrade_request, service_of(request), body, caller.student)


def file_regrade_request(service: Service, body: object, student: str) -> Response:
    if not isinstance(body, dict):
        return problem(422, 'send a JSON object: {"submission", "reason"}')
    submission, reason = body.get("submission"), body.get("reason")
    if not isinstance(submission, str) or not SUBMISSION_ID.match(submission):
        return problem(404, "no such submission")
    if not valid_text(reason, required=True):
        return problem(422, f"give your reason: text of at most {MAX_COMMENT} characters")
    assert isinstance(reason, str)
    filed = service.store.file_request(student, submission, reason, REGRADE_REQUESTS_PER_DAY)
    if filed.outcome == "unknown":
        return problem(404, "no such submission")
    if filed.outcome == "not-finished":
        return problem(409, "that submission is not graded yet: ask once you have its report")
    if filed.outcome == "open":
        return problem(409, "you already have an open request on that submission: wait for its answer")
    if filed.outcome == "limited":
        return problem(429, f"at most {REGRADE_REQUESTS_PER_DAY} regrade requests in 24 hours; the next is allowed "
                            f"in {filed.retry_after} s", {"Retry-After": str(filed.retry_after)})
    found = next(r for r in service.store.regrade_requests(student) if r["seq"] == filed.number)
    return JSONResponse(request_view(found), status_code=201,
                        headers={"Location": f"/api/regrade-requests/{filed.number}"})


async def list_regrade_requests(request: Request) -> Response:
    caller = await authenticated(request)
    if isinstance(caller, JSONResponse):
        return caller
    found = await run_in_threadpool(service_of(request).store.regrade_requests,
                                    None if caller.instructor else caller.student)
    return JSONResponse({"requests": [request_view(r) for r in reversed(found)]})


async def answer_regrade_request(request: Request) -> Response:
    caller = await instructor_only(request, "answers regrade requests")
    if isinstance(caller, JSONResponse):
        return caller
    number = request.path_params["id"]
    if not number.isdigit() or len(number) > 12:
        return problem(404, "no such request")
    body = await json_body(request, '{"text", "score" (optional)}')
    if isinstance(body, Response):
        return body
    return await run_in_threadpool(record_answer, service_of(request), int(number), body, caller.who)


def record_answer(service: Service, number: int, body: object, by: str) -> Response:
    if not isinstance(body, dict):
        return problem(422, 'send a JSON object: {"text", "score" (optional)}')
    text, score = body.get("text"), body.get("score")
    if not valid_text(text, required=True):
        return problem(422, f"text must be the answer, at most {MAX_COMMENT} characters")
    if score is not None and not valid_score(score):
        return problem(422, "score must be a number of points, 0 or more (or left out)")
    assert isinstance(text, str)
    answered = service.store.answer_request(number, by, text, None if score is None else float(score))
    if answered.outcome == "unknown":
        return problem(404, "no such request")
    if answered.outcome == "answered":
        return problem(409, "that request has been answered already")
    found = next(r for r in service.store.regrade_requests(answered.student) if r["seq"] == number)
    return JSONResponse(request_view(found), status_code=201)
