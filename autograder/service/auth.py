"""Who is asking: a bearer token (scripts, CI, `ex.submit()`), or a browser's session cookie.

- A token is looked up by its hash; the instructor's is compared in constant time. A token
  is accepted only in the Authorization header, never in a URL (which proxies and logs keep).
- A browser signs in once with its token (POST /signin) and gets a session cookie: a random
  key, HttpOnly (no script reads it), SameSite=Strict (no other site's page sends it), Secure
  behind TLS, expiring; the server keeps only its hash, beside the session's CSRF token.
- Every form that changes something carries that CSRF token, and its Origin, when the browser
  sends one, must be this server's. The sign-in form, before any session, carries the value
  of a pre-session cookie instead (double submit). The JSON API takes cookies only for GET:
  a state change through the API needs the bearer token, which no other site can send.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from . import tokens
from .store import SESSION_S, Store

SESSION_COOKIE = "autograder_session"
PRESESSION_COOKIE = "autograder_signin"


@dataclass(frozen=True)
class Caller:
    role: str  # "student" or "instructor"
    student: str | None
    csrf: str | None = None  # a browser session's; None for a bearer token
    session_key: str | None = None

    @property
    def instructor(self) -> bool:
        return self.role == "instructor"

    @property
    def who(self) -> str:
        return "instructor" if self.instructor else str(self.student)


class BadToken(Exception):
    """An Authorization header was sent, and it signs no one in: 401, whatever cookie came with it."""


def from_token(store: Store, instructor_hash: str, token: str) -> Caller | None:
    token = token.strip()
    if not token or len(token) > tokens.MAX_TOKEN:
        return None
    if hmac.compare_digest(tokens.digest(token), instructor_hash):
        return Caller("instructor", None)
    student = store.student_of(token)
    return Caller("student", student) if student is not None else None


def caller_of(request: Request, store: Store, instructor_hash: str, cookies: bool = True) -> Caller | None:
    """The caller, or None for nobody; BadToken for a bearer token that is wrong. Runs queries:
    call it on a worker thread."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        found = from_token(store, instructor_hash, token) if scheme.lower() == "bearer" else None
        if found is None:
            raise BadToken()
        return found
    key = request.cookies.get(SESSION_COOKIE)
    if not cookies or not key or len(key) > tokens.MAX_TOKEN:
        return None
    session = store.session(key)
    if session is None:
        return None
    return Caller(session.role, session.student, session.csrf, key)


def same_origin(request: Request) -> bool:
    """A form's Origin (when the browser sends one) is this server's own."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return origin.split("://", 1)[-1] == host


def csrf_ok(request: Request, expected: str | None, given: str | None) -> bool:
    return (expected is not None and given is not None and same_origin(request)
            and hmac.compare_digest(expected.encode(), given.encode()))


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")


def presession(request: Request) -> tuple[str, bool]:
    """The sign-in form's CSRF value, and whether the cookie holding it must be set."""
    value = request.cookies.get(PRESESSION_COOKIE)
    if value and 20 <= len(value) <= 100:
        return value, False
    return secrets.token_urlsafe(24), True


def start_session(request: Request, response: Response, store: Store, caller: Caller) -> None:
    key, _ = store.new_session(caller.role, caller.student)
    set_cookie(request, response, SESSION_COOKIE, key, int(SESSION_S))
    response.delete_cookie(PRESESSION_COOKIE, path="/")
