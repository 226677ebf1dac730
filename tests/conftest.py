"""Shared fixtures: the stand-in data set, the real lesson file when present,
and a helper that grades a notebook through the real command line."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

# The suite's process budget: what the fast design allows it to start (process_budget.py).
pytest_plugins = ["process_budget"]

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = Path(os.environ.get("AUTOGRADER_LESSON_DATA", ROOT.parent / "shared" / "data" / "fashion.npz"))


def kernel_environment() -> dict[str, str]:
    """This environment with this checkout's package first on sys.path, for a kernel started
    by a test: it runs in the notebook's folder, where `import autograder` would otherwise find
    an installed copy of the package (perhaps an older one) instead of the code under test."""
    path = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    return dict(os.environ, PYTHONPATH=path)


class Imported:
    """A module imported on first use rather than when the suite is collected: every xdist
    worker collects every file, and TensorFlow's import is 6-7 s of CPU."""

    def __init__(self, *path: str):
        self.path = path

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "pytestmark":  # what collection looks for
            raise AttributeError(name)
        import importlib

        module = importlib.import_module(self.path[0])
        for part in self.path[1:]:
            module = getattr(module, part)
        return getattr(module, name)


#: The longest units of work, longest first (measured on a quiet run of the suite): xdist hands
#: units to workers in collection order, and one of these started last would keep its worker
#: busy minutes after the others have finished. The tests that mostly wait ("waiting") start
#: beside the two busiest, which have the cores to themselves meanwhile.
HEAVY_FIRST = ("corpus-hostile", "dask-cluster", "waiting", "corpus-1", "corpus-2", "corpus-3", "service",
               "service-restart", "hostile-ids")


def pytest_collection_modifyitems(items):
    """The heaviest shared classes first, then the other slow tests, then the fast ones."""
    def weight(item) -> int:
        group = item.get_closest_marker("xdist_group")
        if group is not None:
            name = group.args[0] if group.args else group.kwargs.get("name")
            return HEAVY_FIRST.index(name) if name in HEAVY_FIRST else len(HEAVY_FIRST)
        return len(HEAVY_FIRST) + (1 if item.get_closest_marker("slow") else 2)

    items.sort(key=weight)


#: Tests that build Keras models in the test process itself: one worker imports Keras for all.
IN_PROCESS_KERAS = pytest.mark.xdist_group("keras-in-process")
#: Tests that mostly wait (time limits, kernels given time to start): one after another on one
#: worker, so that two of them never leave a core idle together (two time-limit cases side by
#: side left one of the 2 cores idle for 20 s).
WAITING = pytest.mark.xdist_group("waiting")


def write_notebook(path: Path, cells: list[str], exercise: str | None = None, markdown_first: bool = False) -> Path:
    nb_cells = [new_markdown_cell("# My lesson notebook")] if markdown_first else []
    nb_cells += [new_code_cell(source) for source in cells]
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    if exercise:
        metadata["autograder"] = {"exercise": exercise}
    nbformat.write(new_notebook(cells=nb_cells, metadata=metadata), path)
    return path


def run_cli(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    """`autograder ARGS...` as a user runs it; `env` adds to (or, with None values, removes
    from) this process's environment."""
    from process_budget import count

    if args and args[0] in ("check", "grade", "gradescope"):
        count("cli_graders")
    environment = {k: v for k, v in {**os.environ, **(env or {})}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=environment)


def grade(notebook: Path, out_dir: Path, *options: str) -> tuple[int, dict]:
    """`autograder check NOTEBOOK --json OUT ...options`: the exit status and the result."""
    out = out_dir / (notebook.stem + ".result.json")
    completed = run_cli("check", str(notebook), "--json", str(out), "--quiet", *options)
    assert out.exists(), f"no result file; stderr:\n{completed.stderr[-3000:]}"
    return completed.returncode, json.loads(out.read_text())


@pytest.fixture(scope="session")
def warm_grader():
    """The session's warm grader (one per xdist worker): a fork server and an evaluator lent to
    every test that asserts on results (warm_grader.py)."""
    from warm_grader import WarmGrader

    grader = WarmGrader()
    yield grader
    grader.shutdown()


@pytest.fixture(scope="session")
def corpus_class(tmp_path_factory, standin_file, warm_grader):
    """`corpus_class(GROUP)`: one class of the corpus, graded once on this worker
    (graded_classes.py); a test that uses it carries `xdist_group(GROUP)`."""
    import graded_classes

    graded: dict = {}

    def of(group: str):
        if group not in graded:
            root = tmp_path_factory.mktemp(group)
            if group == graded_classes.HOSTILE_CLASS:
                graded[group] = graded_classes.grade_hostile(root, standin_file, warm_grader)
            else:
                graded[group] = graded_classes.grade_warm(group, root, standin_file, warm_grader)
        return graded[group]

    return of


@pytest.fixture(scope="session")
def standin_file(tmp_path_factory) -> Path:
    from autograder.data import make_standin

    path = tmp_path_factory.mktemp("data") / "fashion.npz"
    make_standin().save(path)
    return path


@pytest.fixture(scope="session")
def real_data_file() -> Path:
    if not REAL_DATA.is_file():
        pytest.skip(f"the lesson's fashion.npz is not at {REAL_DATA}")
    return REAL_DATA


def hostile_archive(path: Path, notebook: bytes, bomb_mib: int = 5) -> Path:
    """An LMS download built to escape: entries that leave the archive, a link to the grader's
    files and a bomb; `notebook` is what the escaping entries hold."""
    import stat
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("../../etc/passwd.ipynb", notebook)
        archive.writestr("/abs/olute.ipynb", notebook)
        link = zipfile.ZipInfo("link.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/shadow")
        archive.writestr("bomb.ipynb", b"{" + b" " * (bomb_mib * 2**20) + b"}")
    return path
