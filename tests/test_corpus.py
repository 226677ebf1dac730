"""Every equivalent form, listed mistake and hostile trick, graded for real:
a notebook in a sandboxed kernel with TensorFlow, through `autograder check`."""
from __future__ import annotations

import pytest

from autograder.exercises import get
from corpus import CASES
from conftest import grade, write_notebook

pytestmark = pytest.mark.slow

# A few cases again without bubblewrap: the fallback must give the same verdicts.
PLAIN_PROCESS = ["reference", "lesson-as-printed", "timeout-after-training", "kernel-dies-after-compile",
                 "allocates-64-gib", "writes-fake-results"]


def verify(case, exit_status: int, result: dict) -> None:
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
    all_passed = all(verdicts.values())
    assert exit_status == (0 if all_passed and case.status == "graded" else 1)


def _grade_case(name, tmp_path, data_file, *extra):
    case = CASES[name]
    notebook = write_notebook(tmp_path / f"{name}.ipynb", case.cells, markdown_first=case.markdown_first)
    options = ["--exercise", case.exercise, "--data", str(data_file), *extra]
    if case.timeout:
        options += ["--timeout", str(case.timeout)]
    return case, *grade(notebook, tmp_path, *options)


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name, tmp_path, standin_file):
    case, status, result = _grade_case(name, tmp_path, standin_file)
    verify(case, status, result)
    assert result["isolation"] in ("bubblewrap", "rlimits")


@pytest.mark.parametrize("name", PLAIN_PROCESS)
def test_case_without_bubblewrap(name, tmp_path, standin_file):
    case, status, result = _grade_case(name, tmp_path, standin_file, "--isolation", "rlimits")
    verify(case, status, result)
    assert result["isolation"] == "rlimits"
