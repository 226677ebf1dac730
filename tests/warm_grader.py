"""One warm grader per test process, lent to every test that asserts on results.

`check` and `grade` start a fork server and an evaluator each, and each imports
TensorFlow (6-7 s of CPU). Most tests assert on what a notebook was graded, not
on the command line, so they grade through `WarmGrader`, which keeps one slot and
one evaluator for the whole session of its xdist worker and hands them to the very
functions the command line calls (`cli.check_document`, `cli.run_grade_with`).

Tests about the command line itself (exit status and one-line reasons, the
terminal, SIGINT and resume, a cold kernel's time, memory and process limits, the
fallback without bubblewrap, Gradescope, nbgrader, the pytest plugin, Dask) keep
the real `autograder` process (conftest.run_cli).

Every grader process this module starts is counted in `STARTED`, and
tests/test_suite_budget.py keeps the count within what the fast design needs.
"""
from __future__ import annotations

import copy
import functools
import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

from autograder import cli
from autograder.batch.workers import Workers
from autograder.grading import result as result_module

#: Warm workers started by this process (one, unless a test asks for another --jobs).
STARTED = {"workers": 0}
JOBS = 2


class LentWorkers(Workers):
    """Workers a batch or a check may use but not stop: the session stops them (shutdown)."""

    def close(self) -> None:  # batch.run closes its workers when it ends; these outlive it
        pass

    def shutdown(self) -> None:
        super().close()


@dataclass
class Graded:
    """What `autograder grade` left: its exit status, what it printed, and the results by student."""

    status: int
    printed: str
    out: Path

    @property
    def results(self) -> dict[str, dict]:
        return {path.stem: json.loads(path.read_text()) for path in (self.out / "results").glob("*.json")}

    @property
    def summary(self) -> dict:
        return json.loads((self.out / "summary.json").read_text())


@dataclass
class Invocation:
    """What one command line did: like subprocess.CompletedProcess, for an in-process run."""

    returncode: int
    stdout: str
    stderr: str


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


class WarmGrader:
    def __init__(self, jobs: int = JOBS):
        from autograder.sandbox.slots import warm_path_available

        self.workers = LentWorkers(warm_path_available(), jobs)
        STARTED["workers"] += 1

    def check(self, notebook: Path, out_dir: Path | None = None, *options: str,
              cold: bool = False) -> tuple[int, dict]:
        """`autograder check NOTEBOOK --json ... OPTIONS` graded on the lent slot and evaluator:
        its exit status and result document (also written to OUT_DIR when given, as `check` does).
        `cold` runs the notebook in a fresh sandbox of its own, as `check` does, for what only a
        cold kernel shows (its time, memory, process and disk limits)."""
        args = cli.build_parser().parse_args(["check", str(notebook), *options])
        workers = self.workers
        if cold:
            workers = copy.copy(workers)  # the same evaluator, without the slot
            workers.warm = False
        document, _ = cli.check_document(args, workers)
        if out_dir is not None:
            result_module.write(document, out_dir / (Path(notebook).stem + ".result.json"))
        return result_module.exit_code(document), document

    def grade(self, *arguments: str, out: Path) -> Graded:
        """`autograder grade ARGUMENTS --out OUT` on the lent workers: a whole batch, its
        gradebook, summary and results, as an instructor's run writes them."""
        args = cli.build_parser().parse_args(["grade", *arguments, "--out", str(out)])
        if args.jobs is None:
            args.jobs = self.workers.jobs
        printed = io.StringIO()
        with redirect_stdout(printed):
            status = cli.run_grade_with(args, self.workers)
        return Graded(status, printed.getvalue(), out)

    def main(self, *argv: str, env: dict[str, str | None] | None = None) -> Invocation:
        """`autograder ARGV...` through the command line's own `main`, in this process, with `check`,
        `grade` and `exercise new`/`prove` on the lent workers: its exit status and what it printed
        on stdout and stderr. `env` adds to (or, with None values, removes from) the environment meanwhile."""
        out, err = io.StringIO(), io.StringIO()
        saved = {name: os.environ.get(name) for name in env or {}}
        patched = {"check_document": functools.partial(cli.check_document, workers=self.workers),
                   "run_grade": functools.partial(cli.run_grade_with, lent=self.workers),
                   "run_exercise": functools.partial(cli.run_exercise_with, lent=self.workers)}
        originals = {name: getattr(cli, name) for name in patched}
        try:
            _set_environment(env or {})
            for name, value in patched.items():
                setattr(cli, name, value)
            with redirect_stdout(out), redirect_stderr(err):
                status = cli.main(list(argv))
        finally:
            for name, value in originals.items():
                setattr(cli, name, value)
            _set_environment(saved)
        return Invocation(status, out.getvalue(), err.getvalue())

    def with_evaluator(self, evaluator) -> Workers:
        """The lent slot with another evaluator (a test that changes the evaluator's budget)."""
        workers = copy.copy(self.workers)
        workers.evaluator = evaluator
        return workers

    def shutdown(self) -> None:
        self.workers.shutdown()
