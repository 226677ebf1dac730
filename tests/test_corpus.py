"""Every equivalent form, listed mistake and hostile trick, graded for real: notebooks in
sandboxed kernels with TensorFlow.

The whole corpus is graded once, as classes through `grade` (graded_classes.py: the warm
path, as an instructor grades a class). A selection also goes through `check` one at a time
in a cold kernel of its own, with and without bubblewrap: the cases whose limits only a cold
kernel shows (time, processes, disk) and the attacks on the machine and the files a run
leaves. Both must give each notebook exactly its expected verdicts, which also makes the warm
and cold paths agree.
"""
from __future__ import annotations

import pytest

from autograder.exercise.registry import get
from conftest import WAITING, write_notebook
from corpus import CASES
from graded_classes import GROUP_OF

pytestmark = pytest.mark.slow

# Graded one at a time in a cold kernel: the cases with their own time limit, and those whose
# limits a cold sandbox enforces apart from the warm slot (processes, disk). Attacks on what the
# grader reads back are the same code warm or cold: graded in their class (graded_classes.py).
# A cold sandbox's memory cap and a dying kernel are proven in both sandboxes on small notebooks
# that need no TensorFlow (test_sandbox.py); the lesson around them is graded in the classes.
COLD = ["timeout-after-training", "timeout-before-training", "forks-until-refused", "fills-the-disk"]
# And without bubblewrap, where the notebook's processes share the machine's process table: the
# fallback must give the same verdicts. (Its time limit, memory cap and a dying kernel:
# test_sandbox.py.)
PLAIN_PROCESS = ["writes-fake-results", "kills-every-process-it-can"]
IN_BATCH = sorted(GROUP_OF)


def verify(case, result: dict, exit_status: int | None = None) -> None:
    verdicts = {c["id"]: c["passed"] for c in result["checks"]}
    expected = {check_id: check_id not in case.failing for check_id in get(case.exercise).check_ids}
    assert result["status"] == case.status, result.get("reason") or result["cells"]
    wrong = {k: verdicts.get(k) for k in expected if verdicts.get(k) != expected[k]}
    assert not wrong, {k: next(c["message"] for c in result["checks"] if c["id"] == k) for k in wrong}
    for check_id, text in case.says.items():
        entry = next(c for c in result["checks"] if c["id"] == check_id)
        assert text in entry["message"] + " " + entry["hint"], entry
    for entry in result["checks"]:
        assert entry["message"], entry
        if not entry["passed"]:
            assert entry["hint"], entry  # every failure says what to do next
    if exit_status is not None:
        assert exit_status == (0 if all(verdicts.values()) and case.status == "graded" else 1)


def _check_case(name, tmp_path, data_file, warm_grader, *extra):
    case = CASES[name]
    notebook = write_notebook(tmp_path / f"{name}.ipynb", case.cells, markdown_first=case.markdown_first)
    options = ["--exercise", case.exercise, "--data", str(data_file), *extra]
    if case.timeout:
        options += ["--timeout", str(case.timeout)]
    return case, *warm_grader.check(notebook, tmp_path, *options, cold=True)


@pytest.mark.timeout(1800)  # the first case of a class waits for the whole class
@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.xdist_group(GROUP_OF[name]))
                                  for name in IN_BATCH])
def test_case_in_a_batch(name, corpus_class):
    result = corpus_class(GROUP_OF[name]).results[name]
    verify(CASES[name], result)
    assert result["execution"] == "warm" or result["isolation"] == "rlimits"


@pytest.mark.parametrize("name", [pytest.param(name, marks=[WAITING] if CASES[name].timeout else [])
                                  for name in COLD])
def test_case_checked_alone(name, tmp_path, standin_file, warm_grader):
    case, status, result = _check_case(name, tmp_path, standin_file, warm_grader)
    verify(case, result, status)
    assert result["execution"] == "cold" and result["isolation"] in ("bubblewrap", "rlimits")


@pytest.mark.parametrize("name", PLAIN_PROCESS)
def test_case_without_bubblewrap(name, tmp_path, standin_file, warm_grader):
    case, status, result = _check_case(name, tmp_path, standin_file, warm_grader, "--isolation", "rlimits")
    verify(case, result, status)
    assert result["isolation"] == "rlimits"
