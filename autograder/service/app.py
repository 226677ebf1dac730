"""The ASGI application: routes, security headers, and the grader's life with the server's.

Every response carries a strict Content-Security-Policy (scripts and styles only from this
server's own files, no inline script, no framing, forms only to itself), nosniff, no
referrer, and no caching of what a person signed in to see. The report route sets a stricter
policy of its own (api.REPORT_POLICY).
"""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import api, pages
from .core import Service

PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    # Not no-referrer: with it, browsers send `Origin: null` on this site's own forms, which the
    # CSRF check (auth.same_origin) must refuse. same-origin sends nothing to any other site.
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class SecurityHeaders:
    """Adds the headers above to every response (a pure ASGI middleware: streaming untouched)."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith("/static/")

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", PAGE_POLICY.encode()))
                if b"cache-control" not in present and not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def build(service: Service) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if service.grader is not None:
            service.grader.start()
        try:
            yield
        finally:
            if service.grader is not None:
                service.grader.close()

    routes = [
        Route("/healthz", api.healthz),
        Route("/api/submissions", api.create_submission, methods=["POST"]),
        Route("/api/submissions", api.list_submissions, methods=["GET"]),
        Route("/api/submissions/{id}", api.get_submission, methods=["GET"]),
        Route("/api/submissions/{id}/report", api.get_report, methods=["GET"]),
        Route("/api/grades", api.get_grades, methods=["GET"]),
        Route("/api/overrides", api.create_override, methods=["POST"]),
        Route("/api/extensions", api.create_extension, methods=["POST"]),
        Route("/api/regrade-requests", api.create_regrade_request, methods=["POST"]),
        Route("/api/regrade-requests", api.list_regrade_requests, methods=["GET"]),
        Route("/api/regrade-requests/{id}/answer", api.answer_regrade_request, methods=["POST"]),
        *pages.routes(),
        Mount("/static", StaticFiles(directory=str(resources.files("autograder.service").joinpath("static"))),
              name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    app.add_middleware(SecurityHeaders)
    return app
