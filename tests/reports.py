"""Result documents and reports built from recorded facts, for the report tests (no kernel needed)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from autograder.data import make_standin
from autograder.exercise import registry as exercises
from autograder.grading import causes, checks, result
from autograder.grading.facts import Facts
from autograder.report import model

RECORDINGS = Path(__file__).parent / "recorded"
_STANDIN = []


def test_images():
    if not _STANDIN:
        _STANDIN.append(make_standin().test_data)
    return _STANDIN[0]


def result_of(name: str, **exercise_options) -> tuple[dict, exercises.Exercise]:
    facts = Facts.from_dict(json.loads((RECORDINGS / f"{name}.json").read_text()))
    exercise = exercises.get(facts.exercise)
    if exercise_options:
        exercise = dataclasses.replace(exercise, **exercise_options)
    return judged(exercise, f"{name}.ipynb", facts), exercise


def judged(exercise: exercises.Exercise, name: str, facts: Facts, duration: float = 9.5,
           headings: dict[int, str] | None = None) -> result.ResultDocument:
    """The result of recorded facts: checks -> causes -> result, as pipeline.judge makes it, with a
    fixed duration."""
    outcomes = checks.run_checks(facts, exercise)
    found, _ = causes.analyse(facts, outcomes, exercise, headings)
    return result.build(exercise, name, facts, outcomes, duration, headings=headings, causes=found)


def report_of(name: str, **exercise_options) -> model.Report:
    document, exercise = result_of(name, **exercise_options)
    return model.build(document, exercise, test_images())
