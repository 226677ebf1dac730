"""Checks: pure functions from recorded facts to a verdict a student can act on.

Each check registers itself under its DESIGN.md id with `@check(id)`. A check
receives the Facts and the Exercise and returns an Outcome: whether it
passed, what was found and expected (message), and the next step (hint).
A check that can only judge something that may be missing (the graded model's
structure, its compile settings) names a precondition from `needs.py` with
`@check(id, needs=...)` and receives what it needs as a third argument.
Adding a check is adding a function; nothing else needs to know about it.
"""
from __future__ import annotations

# Each module registers its checks on import.
from . import accuracy, compiling, data, model, training  # noqa: F401
from .registry import REGISTRY, UNDECIDED, Outcome, check, not_graded, run_checks, undecided

__all__ = ["REGISTRY", "UNDECIDED", "Outcome", "check", "not_graded", "run_checks", "undecided"]
