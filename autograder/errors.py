"""The grader's own exceptions: one tree, so that callers catch what they mean.

- `UsageError`: the command was misused (an unknown exercise, a bad data file, an
  unusable output folder). `check` and `grade` stop with exit status 2 and its one line.
- `NotGradable`: one submission cannot be graded (an unreadable notebook). It becomes
  that submission's "invalid" result; a batch goes on.
- `GraderFault`: a part of the grader outside the student's code failed (the sandbox could
  not start, the evaluator died). Not the student's mistake: never cached as final.

Anything else raised while grading is a bug of ours: `check` reports it as an internal
error (exit status 2), and `grade` records it for that one submission and goes on.
Each class also derives from the builtin it behaves like, so generic callers still work.
"""
from __future__ import annotations


class AutograderError(Exception):
    """Base of every exception the grader raises on purpose."""


class UsageError(AutograderError, ValueError):
    """The command was misused: exit status 2 with this one-line reason."""


class NotGradable(AutograderError, ValueError):
    """One submission cannot be graded at all: its result is "invalid" with this reason."""


class GraderFault(AutograderError, RuntimeError):
    """A part of the grader (the sandbox, the evaluator) failed, not the student's code."""


INTERNAL_ERROR = "internal error in the grader ({kind}: {error}); please report it"


def internal_error(error: BaseException) -> str:
    """The one-line reason shown for an exception that is a bug of ours."""
    text = str(error).splitlines()[0][:300] if str(error) else ""
    return INTERNAL_ERROR.format(kind=type(error).__name__, error=text)


def is_internal_error(reason: str) -> bool:
    """Whether a result's reason is `internal_error`'s: a bug of ours, not the notebook's doing."""
    return reason.startswith(INTERNAL_ERROR.split("{", 1)[0])
