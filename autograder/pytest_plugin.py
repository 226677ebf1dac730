"""pytest plugin for course CI: one test per check id per notebook.

    pytest --autograder=submissions/ [--exercise keras-dense] [--autograder-data=fashion.npz] \
        [--holdout=hidden.npz] [--threshold 0.85] --junitxml results.xml

Each notebook is graded once, as `autograder check` grades it (cli.check_document: the same
plan, sandbox and pipeline, never in pytest's process), the first time one of its tests
runs; every check is then a test named after its id that passes or fails with the check's
message and hint, so JUnit XML readers (GitHub Actions, GitLab, Jenkins) list per-check
results. A check the grader itself could not decide (its sandbox or evaluator failed) is a
test *error* naming the grader's fault, never a failure blamed on the notebook.

A folder being graded is the students': pytest must never import or read anything from it.
pytest imports the Python files it collects (conftest.py, test_*.py, a package's
__init__.py) and reads its configuration (pytest.ini, pyproject.toml, tox.ini, setup.cfg)
from the folders it starts in and is given, as the user running it. So the graded folders
(a folder given to --autograder, or the folder of a notebook given) are never handed to
pytest's collection: this plugin finds the notebooks itself, reading nothing but .ipynb
files as data, and tells pytest's collection to leave those folders alone. pytest reads its
configuration before any plugin runs (from the folder it starts in, or beside any path on its
command line): one taken from a graded folder stops the run with a usage error, as does a path
inside one given to collect. Started inside a graded folder (or beside one named test*), pytest
is kept from loading any conftest.py, and the folder is taken off sys.path; a `python -m pytest`
started there has imported from it already, so start pytest elsewhere (docs/ci.md).
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .batch.workers import Workers
    from .grading.result import ResultDocument

# The grading settings this plugin accepts, under pytest flags (grading/settings.py declares them). The
# data and timeout flags carry a prefix: pytest-timeout owns --timeout.
FLAGS: dict[str, str | tuple[str, ...]] = {
    "exercise": "--exercise", "data": "--autograder-data", "timeout_s": "--autograder-timeout",
    "holdout": ("--holdout", "--autograder-holdout"), "threshold": ("--threshold", "--autograder-threshold"),
}


def pytest_addoption(parser) -> None:
    from .grading import settings

    group = parser.getgroup("autograder", "grading Keras lesson notebooks")
    group.addoption("--autograder", action="append", default=[], metavar="PATH", dest="autograder_paths",
                    help="grade the notebooks at PATH (a notebook or a folder of them): one test per check. "
                         "Start pytest outside the folders graded, and write --autograder=PATH: pytest reads "
                         "configuration files beside every path it sees on its command line")
    settings.add_pytest_options(group, FLAGS)


def graded_folders(paths: list[str], invocation: Path) -> list[Path]:
    """The folders whose contents are the students': each folder given, and each given notebook's own."""
    folders = []
    for given in paths:
        path = (invocation / given).resolve()
        folders.append(path if path.is_dir() else path.parent)
    return folders


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _collected_paths(config) -> list[Path]:
    """The paths pytest will collect and load its first conftest.py files from (as
    config._decide_args does): those on the command line, else the ini file's testpaths when
    started in the rootdir. Without either it starts from the folder it was started in."""
    import glob

    invocation = Path(config.invocation_params.dir)
    namespace = config.known_args_namespace
    given = [str(argument).split("::")[0] for argument in namespace.file_or_dir or []]
    if not given and invocation == Path(config.rootpath) and not namespace.pyargs:
        for pattern in config.getini("testpaths"):
            given.extend(sorted(glob.iglob(os.path.join(invocation, pattern), recursive=True)))
    return [(invocation / path).resolve() for path in given]


def refusal(config, folders: list[Path]) -> str | None:
    """Why pytest, as started, has already taken something of a graded folder (its configuration)
    or will import from it whatever the plugin does (a path to collect in it); None otherwise."""
    inipath = Path(config.inipath).resolve() if config.inipath else None
    how = ("Start pytest in a folder outside the submissions and give each path as --autograder=PATH (with "
           "'='): pytest looks for its configuration beside every path it sees on its command line")
    for folder in folders:
        if inipath is not None and _within(inipath, folder):
            return (f"pytest took its configuration from {inipath}, inside {folder}, which --autograder "
                    f"grades: a submission may not configure pytest. {how}, or name the course's own "
                    "configuration file with -c")
        for path in _collected_paths(config):
            if _within(path, folder):
                return (f"pytest was asked to collect {path}, inside {folder}, which --autograder grades: "
                        "its Python files would be imported; give the folder to --autograder only")
        for entry in config.getini("pythonpath"):
            if _within(Path(entry).resolve(), folder):
                return (f"pytest's pythonpath setting puts {entry} on sys.path, inside {folder}, which "
                        "--autograder grades")
    return None


def exposed_by_start(config, folders: list[Path]) -> Path | None:
    """The graded folder pytest would load conftest.py files from although no path in it was given
    to collect: the folder it was started in, or a test* subfolder of where it starts collecting,
    when that is (or is inside) a graded folder; None when there is none."""
    anchors = _collected_paths(config) or [Path(config.invocation_params.dir).resolve()]
    anchors += [child.resolve() for anchor in anchors if anchor.is_dir()
                for child in anchor.glob("test*") if child.is_dir()]
    for folder in folders:
        if _within(Path(config.rootpath).resolve(), folder) or any(_within(a, folder) for a in anchors):
            return folder
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args) -> None:
    """Before pytest loads any conftest.py: stop when it has already taken something of a graded
    folder, and keep it from loading the conftest.py files of one where it was started."""
    import sys

    paths = getattr(early_config.known_args_namespace, "autograder_paths", None)
    if not paths:
        return
    folders = graded_folders(paths, Path(early_config.invocation_params.dir))
    problem = refusal(early_config, folders)
    if problem:
        raise pytest.UsageError(problem)
    if exposed_by_start(early_config, folders) is not None:
        # pytest reads this right after, and keeps it for the run: no conftest.py at all is loaded.
        early_config.known_args_namespace.noconftest = True
        # `python -m pytest` put the folder it was started in on sys.path: nothing more comes from there.
        sys.path[:] = [entry for entry in sys.path
                       if not any(_within(Path(entry or ".").resolve(), folder) for folder in folders)]


def pytest_configure(config) -> None:
    paths = config.getoption("autograder_paths")
    if not paths:
        return
    invocation = Path(config.invocation_params.dir)
    missing = [path for path in paths if not (invocation / path).exists()]
    if missing:
        raise pytest.UsageError(f"--autograder: no such file or folder: {', '.join(missing)}")
    config.addinivalue_line("markers", "autograder(check_id): a check of a graded notebook")
    # Grade these paths instead of the project's own tests (testpaths, or the folder pytest was
    # started in), or besides the paths given on the command line; never by handing them to pytest.
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        config.args[:] = []
    config.pluginmanager.register(_Grader(config, paths), "autograder-grader")


class _Grader:
    """What every notebook shares: the request, the graded folders, and the warm workers
    (a fork server's slot and an evaluator), started when the first notebook is graded."""

    def __init__(self, config, paths: list[str]):
        from .errors import UsageError
        from .grading import settings
        from .grading.plan import make_plan

        invocation = Path(config.invocation_params.dir)
        self.request = settings.from_pytest(config, tuple(FLAGS))
        if self.request.data is not None:  # as the user typed it, from where pytest was started
            self.request = _replaced(self.request, data=str(invocation / self.request.data))
        if self.request.holdout is not None:
            self.request = _replaced(self.request, holdout=str(invocation / self.request.holdout))
        try:
            make_plan(self.request)  # a bad data file, holdout or exercise: one line, before any test
        except UsageError as error:
            raise pytest.UsageError(str(error)) from None
        self.paths = [(given, (invocation / given).resolve()) for given in paths]
        self.folders = graded_folders(paths, invocation)
        self.rootpath = Path(config.rootpath).resolve()
        self._workers: Workers | None = None

    def workers(self) -> Workers:
        if self._workers is None:
            from .batch.workers import Workers

            self._workers = Workers.started_early(1) or Workers(False, 1)
        return self._workers

    def pytest_unconfigure(self, config) -> None:
        if self._workers is not None:
            self._workers.close()

    @pytest.hookimpl(tryfirst=True)
    def pytest_ignore_collect(self, collection_path: Path, config) -> bool | None:
        """pytest's own collection never enters a graded folder (nor imports its conftest.py)."""
        path = Path(collection_path).resolve()
        return True if any(_within(path, folder) for folder in self.folders) else None

    @pytest.hookimpl(tryfirst=True)  # before -k and -m deselect items
    def pytest_collection_modifyitems(self, session, config, items) -> None:
        for path, nodeid in self.notebooks():
            notebook = GradedNotebook.from_parent(session, path=path, nodeid=nodeid, grader=self)
            items.extend(session.genitems(notebook))

    def notebooks(self) -> list[tuple[Path, str]]:
        """Every notebook to grade, found by walking the folders (links not followed) and read
        as data only later; each with its test id: relative to the rootdir, else as given."""
        from .batch.collect import SKIPPED_DIRS

        found: dict[Path, str] = {}
        for given, root in self.paths:
            if not root.is_dir():
                found.setdefault(root, self._nodeid(root, given, root))
                continue
            for directory, subdirs, files in os.walk(root, followlinks=False):
                subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
                for name in sorted(files):
                    if name.endswith(".ipynb"):
                        path = Path(directory) / name
                        found.setdefault(path, self._nodeid(path, given, root))
        return list(found.items())

    def _nodeid(self, path: Path, given: str, root: Path) -> str:
        if self.rootpath in path.parents:
            return path.relative_to(self.rootpath).as_posix()
        return (Path(given) / path.relative_to(root)).as_posix() if path != root else Path(given).as_posix()


def _replaced(request, **changes):
    import dataclasses

    return dataclasses.replace(request, **changes)


class GradedNotebook(pytest.File):
    """A notebook: its tests are the exercise's check ids."""

    def __init__(self, *args, grader: _Grader, **kwargs):
        super().__init__(*args, **kwargs)
        self.grader = grader
        self._result: ResultDocument | None = None

    def collect(self):
        from . import notebook
        from .exercise import registry as exercises

        named = self.grader.request.exercise  # a built-in id or an exercise file
        exercise: exercises.Exercise | None = None
        if named is not None:
            exercise = exercises.get(named)
        elif not self.path.is_symlink():
            try:
                exercise = exercises.EXERCISES.get(notebook.exercise_of(notebook.read(str(self.path))) or "")
            except notebook.NotebookError:
                exercise = None
        if exercise is None:  # graded anyway, so that the reason is a failing test, not a crash
            yield CheckItem.from_parent(self, name="notebook", check_id=None)
            return
        for check_id in exercise.check_ids:
            item = CheckItem.from_parent(self, name=check_id, check_id=check_id)
            item.add_marker(pytest.mark.xdist_group(str(self.path)))  # one notebook, one worker
            yield item

    def result(self) -> ResultDocument:
        """The notebook's result, as `autograder check` makes it (once)."""
        if self._result is None:
            import time

            from .cli import check_document
            from .grading import pipeline

            if self.path.is_symlink() and self.path != self._given():
                # A link inside a graded folder: never followed (it could point at anyone's file).
                self._result = pipeline.invalid_result(str(self.path), "a symbolic link, not a file", None,
                                                       time.monotonic())
            else:
                arguments = argparse.Namespace(notebook=str(self.path), **self.grader.request.to_dict())
                self._result, _ = check_document(arguments, self.grader.workers())
        return self._result

    def _given(self) -> Path | None:
        return next((root for _, root in self.grader.paths if root == self.path), None)


class CheckNotPassed(Exception):
    """A check that did not pass, as a pytest failure: its message and hint are the whole report."""


class GraderFailed(Exception):
    """The grader, not the notebook, failed to decide a check: a test error saying so."""


def grader_fault_of(result: ResultDocument, check_id: str | None) -> str | None:
    """Why the grader, not the notebook, is to blame for this check's failure, if it is: a check
    that failed while the grader faulted (its sandbox, its evaluator), or an internal error."""
    from .errors import is_internal_error

    reason = result.get("reason") or ""
    if result.get("status") == "invalid" and is_internal_error(reason):
        return reason
    fault = result.get("grader_fault")
    if not fault:
        return None
    check: Any = next((c for c in result.get("checks", []) if c["id"] == check_id), None)
    return fault if check is None or not check["passed"] else None


class CheckItem(pytest.Item):
    def __init__(self, *args, check_id: str | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.check_id = check_id

    def _notebook(self) -> GradedNotebook:
        notebook = self.parent
        assert isinstance(notebook, GradedNotebook)  # CheckItems are collected only by GradedNotebook
        return notebook

    def setup(self) -> None:
        result = self._notebook().result()
        fault = grader_fault_of(result, self.check_id)
        if fault is not None:  # an error in setup: pytest and JUnit report it as an error, not a failure
            raise GraderFailed(f"{self.name}: not decided: the grader failed, not the notebook: {fault}")

    def runtest(self) -> None:
        from .grading.result import graded_with_text, grading_notice, verdict_of

        result = self._notebook().result()
        self.user_properties.append(("status", result.get("status")))
        for name, said in (("graded_with", graded_with_text(result)), ("holdout_notice", grading_notice(result))):
            if said:  # in the JUnit report: which data decided it, and when no holdout did
                self.user_properties.append((name, said))
        if self.check_id is None and result.get("status") != "invalid":
            raise CheckNotPassed("the notebook names no exercise this grader knows; pass --exercise")
        for check in result.get("checks", []):
            if check["id"] == self.check_id:
                self.user_properties.append(("points", f"{check['points']:g}/{check['max_points']:g}"))
        passed, text = verdict_of(result, self.check_id or self.name)
        if not passed:
            raise CheckNotPassed(text)

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, CheckNotPassed | GraderFailed):
            return str(excinfo.value)  # the student's terms, or the grader's fault: not a traceback of ours
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"{self.path.name}::{self.name}"
