"""The grading plan: what the user asked for, resolved and checked once per command.

`make_plan(request)` reads the data and the holdout, chooses the isolation, fixes the
sandbox's limits and the exercise's policy (threshold, what students may see), and
returns a frozen GradingPlan. Every entry point (`check`, `grade`, the pytest plugin,
the Gradescope archive) makes one plan and hands it to the pipeline; nothing downstream
reads an option or a default of its own.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from .. import __version__, data
from ..errors import UsageError
from ..exercise import registry as exercises
from ..sandbox import isolation
from ..sandbox.isolation import Limits
from .result import GradedWith
from .settings import Request


@dataclass(frozen=True)
class GradingPlan:
    """Everything a grading follows, resolved: the same for every notebook of a command."""

    #: What the user asked for, as given.
    request: Request
    #: The exercise every notebook is graded against, policy applied; None: each notebook's own.
    exercise: exercises.Exercise | None
    #: The sandbox's limits for each notebook.
    limits: Limits
    #: The lesson data each notebook gets a fresh copy of (the grader keeps its own).
    lesson: data.LessonData
    #: Digest of the lesson data: verdicts measured on other data are not reused.
    lesson_digest: str
    #: The instructor's hidden test images, outside every sandbox; None when not given.
    holdout: data.Holdout | None
    #: The isolation chosen on this machine: bubblewrap or rlimits.
    isolation: str

    @property
    def seed(self) -> int:
        return self.request.seed

    def graded_with(self) -> GradedWith:
        """The data this plan grades with, as every result names it."""
        data_name = Path(self.request.data).name if self.request.data else self.lesson.source
        holdout = holdout_of(self.request) if self.holdout is not None else None
        return GradedWith(data=data_name, data_digest=self.lesson_digest[:12],
                          holdout=Path(holdout).name if holdout else None)

    def with_seed(self, seed: int | None) -> GradingPlan:
        """This plan with another seed for the kernels (None: this one)."""
        return self if seed is None or seed == self.seed else replace(self, request=replace(self.request, seed=seed))

    def exercise_for(self, named: str | None) -> exercises.Exercise:
        """The exercise of one notebook: the plan's own, else the one `named` (by the notebook
        or its file), with the plan's policy applied."""
        if self.exercise is not None:
            return self.exercise
        if not named:
            raise UsageError(f"no exercise given: pass --exercise ({', '.join(sorted(exercises.EXERCISES))} or an "
                             "exercise file), or name it in the notebook's metadata")
        if named not in exercises.EXERCISES:  # a notebook names built-in ids only: never a file to read
            raise exercises.UnknownExercise(named)
        return _with_policy(exercises.EXERCISES[named], self.request)

    def known_exercise(self, named: str | None) -> exercises.Exercise | None:
        """The exercise an id stands for in this plan (the plan's own, else a built-in), policy
        applied; None for an id this plan does not know."""
        if self.exercise is not None and named == self.exercise.id:
            return self.exercise
        builtin = exercises.EXERCISES.get(named or "")
        return _with_policy(builtin, self.request) if builtin is not None else None

    @property
    def exercise_ids(self) -> tuple[str, ...]:
        """Every exercise id this plan can grade: the built-in ones and the plan's own."""
        own = (self.exercise.id,) if self.exercise is not None and self.exercise.id not in exercises.EXERCISES else ()
        return (*exercises.EXERCISES, *own)

    def rubric(self, exercise: exercises.Exercise | None) -> str:
        """What a stored verdict depends on besides the notebook: a change grades it again."""
        material = {  # the exercise as graded: with this plan's threshold and what students may see
            "exercise": asdict(_with_policy(exercise, self.request)) if exercise is not None else None,
            "limits": asdict(self.limits),
            "seed": self.seed,
            "data": self.lesson_digest,
            "holdout": self.holdout.digest if self.holdout is not None else "",
            # A verdict of weaker isolation is not kept once bubblewrap is there, nor one of
            # another build of the grader (its version string changes less often than its code).
            "isolation": self.isolation,
            "grader": f"{__version__}+{grader_build()}",
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


@functools.cache
def grader_build() -> str:
    """A digest of the grader's own code, templates and built-in exercises, as installed."""
    package = Path(__file__).resolve().parent.parent  # the whole package: autograder/grading/plan.py
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".j2", ".toml"):
            digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def make_plan(request: Request) -> GradingPlan:
    """Resolve a request once: raises UsageError, with a one-line reason, for anything misused."""
    chosen = choose_isolation(request.isolation)
    exercise = _with_policy(exercises.get(request.exercise), request) if request.exercise else None
    lesson = load_lesson(request.data)
    return GradingPlan(request=request, exercise=exercise, limits=limits_of(request), lesson=lesson,
                       lesson_digest=lesson.digest(), holdout=load_holdout(holdout_of(request), chosen),
                       isolation=chosen)


def holdout_of(request: Request) -> str | None:
    """The holdout this request configures: `--holdout`, else the one `autograder data` wrote
    beside the data file (data.holdout_path), else none. A configured file that is missing
    or unreadable is refused by load_holdout, never skipped."""
    if request.holdout is not None:
        return request.holdout
    if request.data is None:
        return None
    beside = data.holdout_path(request.data)
    return str(beside) if beside.exists() else None


def choose_isolation(requested: str) -> str:
    try:
        return isolation.choose(requested)
    except ValueError as error:  # bubblewrap asked for but missing, or an unknown name
        raise UsageError(str(error)) from None


def limits_of(request: Request) -> Limits:
    cell = request.cell_timeout_s if request.cell_timeout_s is not None else Limits.cell_timeout_s
    return Limits(timeout_s=float(request.timeout_s), cell_timeout_s=float(min(cell, request.timeout_s)),
                  memory_mb=int(request.memory_mb))


def load_lesson(path: str | None) -> data.LessonData:
    if path is None:
        return data.make_standin()
    try:
        return data.load(path)
    except data.DataError as error:
        raise UsageError(str(error)) from None


def load_holdout(path: str | None, chosen_isolation: str) -> data.Holdout | None:
    """The hidden holdout, read and validated, once it is certain no notebook can read it.

    Only bubblewrap hides the grader's files from a notebook, and only those outside the
    folders it shows (the system's and Python's): anywhere else the holdout would not be hidden.
    """
    if path is None:
        return None
    if chosen_isolation != isolation.BUBBLEWRAP:
        raise UsageError(f"the holdout {path} needs bubblewrap isolation: without it a notebook can read every "
                         "file the grader can, the holdout too (grading without one: move it away from the "
                         "data file)")
    visible = isolation.sandbox_readable(path)
    if visible:
        raise UsageError(f"the holdout file {path} is inside {visible}, which notebooks can read; "
                         "keep it somewhere else")
    try:
        return data.load_holdout(os.path.realpath(path))
    except data.DataError as error:
        raise UsageError(str(error)) from None


def _with_policy(exercise: exercises.Exercise, request: Request) -> exercises.Exercise:
    threshold = exercise.threshold if request.threshold is None else request.threshold
    if not 0.0 <= threshold <= 1.0:
        raise UsageError(f"the accuracy threshold must be between 0 and 1, not {threshold}")
    return replace(exercise, threshold=threshold, hide_threshold=request.hide_threshold,
                   show_holdout=request.show_holdout)
