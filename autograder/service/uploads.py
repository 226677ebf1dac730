"""An upload, bounded and checked before anything is stored.

The body is read with a limit on its size (a declared Content-Length over it is refused before
a byte is read; a chunked body is cut off as it crosses it) and on its time (a client that
trickles its upload is cut off, so slow uploads cannot hold the server's connections for ever),
then parsed as multipart form data with at most one file. The notebook is read with the
grader's own reader (notebook.parse): only a file it accepts is queued, and a refused one gets
that reader's one-line reason.

The file name the browser sends is kept for display only: its last component, without control
characters, cut to 200 characters, and escaped wherever it is shown. It names no file.
"""
from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request

from .. import notebook

#: Bytes the multipart wrapping may add to the notebook (boundaries, headers, the small fields).
FORM_OVERHEAD = 64 * 1024
MAX_FIELD_BYTES = 1024


class UploadError(Exception):
    """A refused request: its HTTP status and one-line reason (and when to try again, for 429)."""

    def __init__(self, status: int, detail: str, retry_after: int | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True)
class Upload:
    exercise: str
    filename: str
    content: bytes

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


def shown_name(name: str | None) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in base if ch.isprintable())[:200].strip()
    return base or "notebook.ipynb"


async def read_body(request: Request, limit: int, timeout: float) -> bytes:
    """The request's body, at most `limit` bytes (else 413), within `timeout` seconds (else 408)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise UploadError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise UploadError(413, f"the upload is {int(declared) // 1024} KiB; at most {limit // 1024} KiB "
                                   "may be sent (clear large outputs and submit again)")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise UploadError(413, f"the upload is over {limit // 1024} KiB, the most that may be sent "
                                           "(clear large outputs and submit again)")
                chunks.append(chunk)
    except TimeoutError:
        raise UploadError(408, f"the upload took longer than {timeout:g} s; try again") from None
    return b"".join(chunks)


async def read_form(request: Request, limit: int, timeout: float, exercises: dict) -> tuple[dict[str, str], Upload]:
    """The submission form (`exercise`, `notebook`, and any small text fields such as `csrf`):
    404 for an exercise the course does not have, 413 for a notebook over `limit`, 422 for a
    form without one. The notebook itself is checked by `check_notebook`."""
    body = await read_body(request, limit + FORM_OVERHEAD, timeout)
    delivered = False

    async def replay() -> dict:
        nonlocal delivered
        if delivered:
            return {"type": "http.disconnect"}
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise UploadError(422, "send the notebook as multipart/form-data with the fields exercise and notebook")
    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=8, max_part_size=MAX_FIELD_BYTES)
    except Exception as error:  # noqa: BLE001 - any malformed form is the client's, said in one line
        raise UploadError(422, f"the form could not be read ({type(error).__name__})") from None
    fields = {key: value for key, value in form.multi_items() if isinstance(value, str)}
    exercise = fields.get("exercise")
    upload = form.get("notebook")
    try:
        if exercise is None:
            raise UploadError(422, "no exercise: name it in the field 'exercise'")
        if exercise not in exercises:
            raise UploadError(404, f"unknown exercise {exercise[:60]!r}; this course has "
                                   f"{', '.join(sorted(exercises))}")
        if not isinstance(upload, UploadFile):
            raise UploadError(422, "no notebook: send the file in the field 'notebook'")
        content = await upload.read()
        filename = shown_name(upload.filename)
    finally:
        await form.close()
    if len(content) > limit:
        raise UploadError(413, f"the notebook is {len(content) // 1024} KiB; at most {limit // 1024} KiB")
    return fields, Upload(exercise, filename, content)


async def check_notebook(upload: Upload) -> None:
    """422 with the grader's own one-line reason unless the file reads as a notebook."""
    try:
        await run_in_threadpool(notebook.parse, upload.content, "the file")
    except notebook.NotebookError as error:
        raise UploadError(422, str(error)) from None
