"""The check registry: the verdict a check returns, `@check` to register one, and
`run_checks` to run an exercise's checks on recorded facts (see the package's docstring)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from ...exercise.registry import Exercise
from ..facts import Facts
from ..result import CheckEntry

Needed = TypeVar("Needed")


@dataclass
class Outcome:
    passed: bool
    message: str
    hint: str = ""
    diagnosis: str = ""  # a short name of the mistake, the same for every student who makes it


CheckFunction = Callable[[Facts, Exercise], Outcome]
#: A check that receives what its precondition found.
NeedingCheck = Callable[[Facts, Exercise, Needed], Outcome]
REGISTRY: dict[str, CheckFunction] = {}


@overload
def check(check_id: str) -> Callable[[CheckFunction], CheckFunction]: ...


@overload
def check(check_id: str, needs: Callable[[Facts], Needed | Outcome]
          ) -> Callable[[NeedingCheck[Needed]], NeedingCheck[Needed]]: ...


def check(check_id: str, needs: Callable[[Facts], Any] | None = None
          ) -> Callable[[Callable[..., Outcome]], Callable[..., Outcome]]:
    """Register a check. With `needs`, the check runs only when `needs(facts)` returns
    what it needs, and receives it; when `needs` returns an Outcome, that is the verdict."""
    def register(function: Callable[..., Outcome]) -> Callable[..., Outcome]:
        if needs is None:
            REGISTRY[check_id] = function
        else:
            def guarded(facts: Facts, exercise: Exercise) -> Outcome:
                value = needs(facts)
                return value if isinstance(value, Outcome) else function(facts, exercise, value)

            REGISTRY[check_id] = guarded
        return function

    return register


#: The diagnosis of a check that broke: the grader's fault, so its result is graded again (grading/pipeline.py).
UNDECIDED = "the grader could not decide"


def verdict(check_id: str, title: str, passed: bool, max_points: float, message: str, hint: str,
            diagnosis: str) -> CheckEntry:
    """A check's entry in the result: all of its points or none; no cause until the causes stage names one."""
    return CheckEntry(id=check_id, title=title, passed=passed, points=max_points if passed else 0.0,
                      max_points=max_points, message=message, hint=hint, diagnosis=diagnosis, cause=None)


def run_checks(facts: Facts, exercise: Exercise) -> list[CheckEntry]:
    """Every check of the exercise, in rubric order; a check that breaks fails, it never crashes."""
    results = []
    for check_id, max_points in exercise.points.items():
        function = REGISTRY.get(check_id)
        try:
            outcome = function(facts, exercise) if function else Outcome(False, "This check is not implemented.")
        except Exception as error:  # noqa: BLE001 - a grader bug must not hide the other verdicts
            outcome = Outcome(False, f"The grader could not decide this check ({type(error).__name__}); "
                                     "please report it to your instructor.", diagnosis=UNDECIDED)
        title = exercise.check_title(check_id)
        results.append(verdict(check_id, title, outcome.passed, max_points, outcome.message,
                               outcome.hint if not outcome.passed else "",
                               "" if outcome.passed else (outcome.diagnosis or f"not done: {title.lower()}")))
    return results


def undecided(exercise: Exercise, reason: str) -> list[CheckEntry]:
    """Every check undecided for the same reason: the grader could not run the notebook at all."""
    return [verdict(check_id, exercise.check_title(check_id), False, points, reason, "", UNDECIDED)
            for check_id, points in exercise.points.items()]


def not_graded(exercise: Exercise, reason: str) -> list[CheckEntry]:
    """Every check failed with the same reason: the notebook could not be run at all."""
    return [verdict(check_id, exercise.check_title(check_id), False, points, reason, "", "notebook not graded")
            for check_id, points in exercise.points.items()]
