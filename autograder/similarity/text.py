"""The words students write: comments, docstrings, printed messages and markdown cells.

Two students whose comments say the same dozen words in the same order, where neither the lesson
nor the released notebook says them, wrote them once. Text is compared by shingles, runs of
SHINGLE words (case and punctuation ignored); the base's shingles (the released notebook's prose,
the usual comments on the lesson's steps) are subtracted, and so is every run of fewer words.
"""
from __future__ import annotations

import hashlib
import re

SHINGLE = 4
MAX_SHINGLES = 2000  # of one notebook
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _hash(run: tuple[str, ...]) -> int:
    digest = hashlib.blake2b(" ".join(run).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def shingles(text: str) -> set[int]:
    found = words(text)
    return {_hash(tuple(found[i:i + SHINGLE])) for i in range(len(found) - SHINGLE + 1)}


def shingles_of(texts: list[str]) -> set[int]:
    found: set[int] = set()
    for piece in texts:
        found |= shingles(piece)
    return found


def own_text(texts: list[str], base: set[int]) -> dict[int, str]:
    """The shingles of a notebook's text that the base does not have, each with the piece of text
    it came from (to quote)."""
    found: dict[int, str] = {}
    for piece in texts:
        for value in shingles(piece) - base:
            if len(found) >= MAX_SHINGLES:
                return found
            found.setdefault(value, piece)
    return found
