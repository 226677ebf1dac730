"""The pages: `/` for students (sign in, submit, live status, report, history) and `/instructor`."""
from __future__ import annotations

from starlette.routing import Route


def routes() -> list[Route]:
    return []
