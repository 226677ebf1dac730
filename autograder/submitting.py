"""Send a notebook to the course service: what `ex.submit()` does from inside the notebook.

Standard library only (it runs in the student's kernel, which may have nothing else). The
server and the token come from the environment (AUTOGRADER_SERVER, AUTOGRADER_TOKEN), or
from a file `.autograder-service.toml` in the notebook's folder or the home folder:

    server = "https://grader.example.edu"
    token = "st_..."

The notebook sent is the saved file of the running notebook (Jupyter names it in the
kernel's JPY_SESSION_NAME; VS Code in `__vsc_ipynb_file__`), or the path given.
"""
from __future__ import annotations

import json
import os
import secrets
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SETTINGS_FILE = ".autograder-service.toml"
TIMEOUT_S = 60.0


class SubmitError(Exception):
    """The notebook could not be sent, or the server refused it: the message says why, in one line."""


@dataclass(frozen=True)
class Service:
    server: str
    token: str


def find_service(environ: dict[str, str] | None = None, places: list[Path] | None = None) -> Service:
    environ = dict(os.environ) if environ is None else environ
    server, token = environ.get("AUTOGRADER_SERVER"), environ.get("AUTOGRADER_TOKEN")
    for folder in places if places is not None else [Path.cwd(), Path.home()]:
        if server and token:
            break
        path = folder / SETTINGS_FILE
        if path.is_file():
            try:
                settings = tomllib.loads(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
                raise SubmitError(f"{path} could not be read ({error})") from None
            server = server or settings.get("server")
            token = token or settings.get("token")
    if not isinstance(server, str) or not server or not isinstance(token, str) or not token:
        raise SubmitError(f"no course service set: give AUTOGRADER_SERVER and AUTOGRADER_TOKEN, or write "
                          f"{SETTINGS_FILE} with server = \"...\" and token = \"...\"")
    if not server.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
        raise SubmitError(f"{server} is not https: your token would cross the network in clear text")
    return Service(server.rstrip("/"), token.strip())


def running_notebook(user_namespace: dict[str, Any] | None = None) -> Path | None:
    """The saved file of the notebook this kernel runs, when the front end says which."""
    named = os.environ.get("JPY_SESSION_NAME")
    if not named and user_namespace is not None:
        named = user_namespace.get("__vsc_ipynb_file__")
    if isinstance(named, str) and named.endswith(".ipynb") and Path(named).is_file():
        return Path(named)
    return None


def _request(service: Service, path: str, body: bytes | None = None,
             content_type: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {service.token}", "Accept": "application/json"}
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(service.server + path, data=body, headers=headers,
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310 - https or loopback only
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read()).get("detail") or error.reason
        except (ValueError, AttributeError):
            detail = error.reason
        wait = error.headers.get("Retry-After")
        raise SubmitError(f"the server refused it ({error.code}): {detail}"
                          + (f" (try again in {wait} s)" if wait and error.code == 429 else "")) from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise SubmitError(f"the server {service.server} could not be reached ({error})") from None


def send(service: Service, exercise: str, notebook: Path) -> dict[str, Any]:
    """POST the notebook: the server's answer, {"id", "status", "position"}."""
    try:
        content = notebook.read_bytes()
    except OSError as error:
        raise SubmitError(f"cannot read {notebook}: {error.strerror or error}") from None
    boundary = "autograder-" + secrets.token_hex(12)
    name = notebook.name.replace('"', "").replace("\r", "").replace("\n", "")
    body = b"".join([
        f'--{boundary}\r\nContent-Disposition: form-data; name="exercise"\r\n\r\n{exercise}\r\n'.encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="notebook"; filename="{name}"\r\n'
        "Content-Type: application/x-ipynb+json\r\n\r\n".encode(),
        content, f"\r\n--{boundary}--\r\n".encode()])
    return _request(service, "/api/submissions", body, f"multipart/form-data; boundary={boundary}")


def status(service: Service, identifier: str) -> dict[str, Any]:
    return _request(service, f"/api/submissions/{identifier}")


def wait_graded(service: Service, identifier: str, timeout: float = 900.0, every: float = 2.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        shown = status(service, identifier)
        if shown.get("status") in ("graded", "not-graded") or time.monotonic() > deadline:
            return shown
        time.sleep(every)
