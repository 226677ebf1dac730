"""Tokens: random, shown once, stored only as their SHA-256.

A token carries 256 random bits, so a plain hash is enough to store it: nobody can
search that space, and the database alone signs no one in. The prefix says what a token
is (a leaked one is recognisable to secret scanners) and never starts a CSV cell with a
character a spreadsheet reads as a formula.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

STUDENT_PREFIX = "st_"
INSTRUCTOR_PREFIX = "in_"
SESSION_PREFIX = "se_"
#: Longest token accepted from a request: anything longer is refused before it is hashed.
MAX_TOKEN = 200


def new(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def write_private(path: Path, token: str) -> None:
    """A new file only its owner can read (mode 0600 from the start, never wider)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")


def read_private(path: Path) -> str:
    return path.read_text(encoding="utf-8").strip()
