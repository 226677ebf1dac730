"""Checks: pure functions from recorded facts to a verdict a student can act on.

Each check registers itself under its DESIGN.md id with `@check(id)`. A check
receives the Facts and the Exercise and returns an Outcome: whether it
passed, what was found and expected (message), and the next step (hint).
Adding a check is adding a function; nothing else needs to know about it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from ..exercises import CHECK_TITLES, Exercise
from ..facts import Facts


@dataclass
class Outcome:
    passed: bool
    message: str
    hint: str = ""
    diagnosis: str = ""  # a short name of the mistake, the same for every student who makes it


@dataclass
class CheckResult:
    id: str
    title: str
    passed: bool
    points: float
    max_points: float
    message: str
    hint: str
    diagnosis: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


CheckFunction = Callable[[Facts, Exercise], Outcome]
REGISTRY: dict[str, CheckFunction] = {}


def check(check_id: str, needs: Callable | None = None) -> Callable[[Callable], Callable]:
    """Register a check. With `needs`, the check runs only when `needs(facts)` returns
    (value, None), and receives the value; otherwise needs' failing Outcome is the verdict."""
    def register(function: Callable) -> Callable:
        if needs is None:
            REGISTRY[check_id] = function
        else:
            def guarded(facts: Facts, exercise: Exercise) -> Outcome:
                value, failed = needs(facts)
                return failed if failed is not None else function(facts, exercise, value)

            REGISTRY[check_id] = guarded
        return function

    return register


def run_checks(facts: Facts, exercise: Exercise) -> list[CheckResult]:
    """Every check of the exercise, in rubric order; a check that breaks fails, it never crashes."""
    results = []
    for check_id, max_points in exercise.points.items():
        function = REGISTRY.get(check_id)
        try:
            outcome = function(facts, exercise) if function else Outcome(False, "This check is not implemented.")
        except Exception as error:  # noqa: BLE001 - a grader bug must not hide the other verdicts
            outcome = Outcome(False, f"The grader could not decide this check ({type(error).__name__}); "
                                     "please report it to your instructor.")
        title = CHECK_TITLES.get(check_id, check_id)
        results.append(CheckResult(check_id, title, outcome.passed, max_points if outcome.passed else 0.0,
                                   max_points, outcome.message, outcome.hint if not outcome.passed else "",
                                   "" if outcome.passed else (outcome.diagnosis or f"not done: {title.lower()}")))
    return results


def not_graded(exercise: Exercise, reason: str) -> list[CheckResult]:
    """Every check failed with the same reason: the notebook could not be run at all."""
    return [CheckResult(check_id, CHECK_TITLES.get(check_id, check_id), False, 0.0, points, reason, "",
                        "notebook not graded") for check_id, points in exercise.points.items()]


# Registration happens on import.
from . import data, model, compiling, training, accuracy  # noqa: E402,F401
