"""The exercises: the built-in ones and those of instructors' files, found by id or path.

An exercise is data: an exercise file (TOML, see DESIGN.md "Exercise files") read by
file.py into a frozen `Exercise` (model.py). The built-in ones are such
files, shipped in autograder/exercise/files/; `get` takes a built-in id or the path of a
file, so that built-in and custom exercises are graded by one code path.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from . import file as exercise_file
from .model import (  # noqa: F401 - the exercise's vocabulary, as the rest of the package imports it
    CHECK_IDS,
    DEFAULT_POINTS,
    TASK_TITLES,
    TASKS,
    Exercise,
    LayerSpec,
)


class UnknownExercise(UsageError):
    def __init__(self, exercise_id: str):
        super().__init__(f"unknown exercise {exercise_id!r}; known exercises: {', '.join(sorted(EXERCISES))}, "
                         "or the path of an exercise file (.toml)")
        self.exercise_id = exercise_id


def is_file_reference(name: str) -> bool:
    """Does `--exercise NAME` name an exercise file rather than a built-in id?"""
    return name.endswith(".toml") or "/" in name or "\\" in name


def get(name: str) -> Exercise:
    """A built-in exercise by id, or the exercise a TOML file declares (UsageError if it is invalid)."""
    if is_file_reference(name):
        return from_file(Path(name))
    try:
        return EXERCISES[name]
    except KeyError:
        raise UnknownExercise(name) from None


def from_file(path: Path) -> Exercise:
    """The exercise an instructor's file declares, which must not take a built-in exercise's id."""
    exercise = exercise_file.load(path)
    if exercise.id in EXERCISES:
        raise exercise_file.ExerciseFileError(f"exercise file {path}: id: {exercise.id!r} is a built-in "
                                              "exercise's id; give yours its own")
    return exercise


def _builtins() -> dict[str, Exercise]:
    """The exercise files shipped in exercise/files/, by id."""
    from importlib import resources

    found: dict[str, Exercise] = {}
    for entry in sorted(resources.files(__package__).joinpath("files").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            exercise = exercise_file.parse(entry.read_text(encoding="utf-8"), entry.name)
            found[exercise.id] = exercise
    return found


EXERCISES: dict[str, Exercise] = _builtins()
