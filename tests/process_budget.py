"""The suite's process budget: what the fast design allows it to start, checked on every run.

Most of the suite's CPU goes to starting TensorFlow (6-7 s a process): in cold kernels, in
evaluators, in fork servers and in each `autograder` process a test starts. Each test
worker lends one warm grader to every test (warm_grader.py), and each class is graded once
(graded_classes.py). A new test that starts its own grader, kernel or cluster is counted
here: when a run starts more than BUDGET allows, the run fails and says what grew, so
that the suite stays within CI's time as capabilities are added. Raise a figure only with
a reason in the commit that does it.

Counted in the test processes (summed over xdist workers):
- `slots`: fork servers (autograder.sandbox.slots.Slot), one per worker and few more;
- `evaluators`: evaluator processes (autograder.grading.evaluation), including restarts;
- `cold_kernels`: notebooks run in a cold sandbox of their own (autograder.sandbox.cold);
- `cli_graders`: `autograder check`/`grade`/`gradescope` processes started by conftest.run_cli
  or by hand (each holds a kernel or a slot and an evaluator of its own).
"""
from __future__ import annotations

import functools
import threading

import pytest

# Measured on the full suite (-n 3, 2026-12-07, 877 tests): slots 6, evaluators 14, cold kernels 20 (the
# corpus's cold runs only for what a cold sandbox alone shows), CLI processes 35 (of which a dozen misuse
# runs that stop before grading, and the plugin's, nbgrader's, Gradescope's and the service's own
# processes, whose paths are under test).
BUDGET = {"slots": 8, "evaluators": 16, "cold_kernels": 24, "cli_graders": 42}

COUNTS: dict[str, int] = dict.fromkeys(BUDGET, 0)
_LOCK = threading.Lock()


def count(kind: str, number: int = 1) -> None:
    with _LOCK:
        COUNTS[kind] += number


def _counted(owner, name: str, kind: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        count(kind)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def pytest_configure(config):
    from autograder.grading import evaluation
    from autograder.sandbox import cold, slots

    _counted(slots.Slot, "__init__", "slots")
    _counted(evaluation._Process, "__init__", "evaluators")
    _counted(cold, "_prepare", "cold_kernels")
    config._process_totals = dict.fromkeys(BUDGET, 0)


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller adds them up
        workeroutput["process_counts"] = dict(COUNTS)
        return
    totals = session.config._process_totals
    if not hasattr(session.config, "workerinput") and not any(totals.values()):
        totals.update(COUNTS)  # no xdist: this process ran every test
    over = {kind: totals[kind] for kind in BUDGET if totals[kind] > BUDGET[kind]}
    if over and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    session.config._process_over = over


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    counts = getattr(node, "workeroutput", {}).get("process_counts", {})
    for kind, number in counts.items():
        node.config._process_totals[kind] += number


def pytest_terminal_summary(terminalreporter, config):
    totals = config._process_totals
    if not any(totals.values()):
        totals = COUNTS
    figures = ", ".join(f"{kind} {totals[kind]}/{BUDGET[kind]}" for kind in BUDGET)
    terminalreporter.write_line(f"process budget (tests/process_budget.py): {figures}")
    over = getattr(config, "_process_over", {})
    if over:
        terminalreporter.write_line(
            "FAILED: the suite started more grader processes than its budget allows: "
            + ", ".join(f"{kind} {number} > {BUDGET[kind]}" for kind, number in over.items())
            + ". Grade on the session's warm grader (tests/warm_grader.py) or raise the budget with a reason.",
            red=True)
