"""pytest plugin for course CI: one test per check id per notebook.

    pytest --autograder submissions/ [--exercise keras-dense] [--autograder-data fashion.npz] \
        --junitxml results.xml

Each notebook is graded once, by the same pipeline as `autograder check` (in its own
sandbox, never in pytest's process), the first time one of its tests runs; every check is
then a test named after its id that passes or fails with the check's message and hint,
so JUnit XML readers (GitHub Actions, GitLab, Jenkins) list per-check results.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .result import ResultDocument

# The grading settings this plugin accepts, under pytest flags (settings.py declares them).
FLAGS = {"exercise": "--exercise", "data": "--autograder-data", "timeout_s": "--autograder-timeout"}


def pytest_addoption(parser) -> None:
    from . import settings

    group = parser.getgroup("autograder", "grading Keras lesson notebooks")
    group.addoption("--autograder", action="append", default=[], metavar="PATH", dest="autograder_paths",
                    help="grade the notebooks at PATH (a notebook or a folder of them): one test per check")
    settings.add_pytest_options(group, FLAGS)


def pytest_configure(config) -> None:
    paths = config.getoption("autograder_paths")
    if not paths:
        return
    missing = [path for path in paths if not Path(path).exists()]
    if missing:
        raise pytest.UsageError(f"--autograder: no such file or folder: {', '.join(missing)}")
    config.addinivalue_line("markers", "autograder(check_id): a check of a graded notebook")
    # Grade these paths instead of the project's own tests (testpaths), or as well as the
    # paths given on the command line.
    if config.args_source == pytest.Config.ArgsSource.ARGS:
        config.args.extend(paths)
    else:
        config.args[:] = list(paths)
    config.pluginmanager.register(_Grader(config), "autograder-grader")


class _Grader:
    """Holds what every notebook shares: the grading plan, made once, when first needed."""

    def __init__(self, config):
        from . import settings

        self.roots = [Path(path).resolve() for path in config.getoption("autograder_paths")]
        self.request = settings.from_pytest(config, tuple(FLAGS))
        self._plan = None

    def plan(self):
        """The plan, made on first use; a misused option raises UsageError for every notebook."""
        from .plan import make_plan

        if self._plan is None:
            self._plan = make_plan(self.request)
        return self._plan

    def wants(self, path: Path) -> bool:
        path = path.resolve()
        return path.suffix == ".ipynb" and ".ipynb_checkpoints" not in path.parts and any(
            path == root or root in path.parents for root in self.roots)

    @pytest.hookimpl
    def pytest_collect_file(self, file_path: Path, parent):
        if self.wants(file_path):
            return GradedNotebook.from_parent(parent, path=file_path, grader=self)
        return None


class GradedNotebook(pytest.File):
    """A notebook: its tests are the exercise's check ids."""

    def __init__(self, *args, grader: _Grader, **kwargs):
        super().__init__(*args, **kwargs)
        self.grader = grader
        self._result: ResultDocument | None = None

    def collect(self):
        from . import exercises, notebook

        named = self.grader.request.exercise  # a built-in id or an exercise file
        try:
            exercise: exercises.Exercise | None = exercises.get(named) if named is not None else \
                exercises.EXERCISES.get(notebook.exercise_of(notebook.read(str(self.path))) or "")
        except (exercises.UsageError, notebook.NotebookError):
            exercise = None
        if exercise is None:  # graded anyway, so that the reason is a failing test, not a crash
            yield CheckItem.from_parent(self, name="notebook", check_id=None)
            return
        for check_id in exercise.check_ids:
            item = CheckItem.from_parent(self, name=check_id, check_id=check_id)
            item.add_marker(pytest.mark.xdist_group(str(self.path)))  # one notebook, one worker
            yield item

    def result(self) -> ResultDocument:
        if self._result is None:
            import time

            from . import pipeline
            from .errors import UsageError

            try:
                self._result = pipeline.grade_notebook(str(self.path), self.grader.plan())
            except UsageError as error:
                self._result = pipeline.invalid_result(str(self.path), str(error), None, time.monotonic())
        return self._result


class CheckNotPassed(Exception):
    """A check that did not pass, as a pytest failure: its message and hint are the whole report."""


class CheckItem(pytest.Item):
    def __init__(self, *args, check_id: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.check_id = check_id

    def runtest(self) -> None:
        from .result import verdict_of

        notebook = self.parent
        assert isinstance(notebook, GradedNotebook)  # CheckItems are collected only by GradedNotebook
        result = notebook.result()
        self.user_properties.append(("status", result.get("status")))
        if self.check_id is None and result.get("status") != "invalid":
            raise CheckNotPassed("the notebook names no exercise this grader knows; pass --exercise")
        for check in result.get("checks", []):
            if check["id"] == self.check_id:
                self.user_properties.append(("points", f"{check['points']:g}/{check['max_points']:g}"))
        passed, text = verdict_of(result, self.check_id or self.name)
        if not passed:
            raise CheckNotPassed(text)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckNotPassed):
            return str(excinfo.value)  # the student's terms, not a traceback of ours
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{self.name}"
