"""Every equivalent form, listed mistake and hostile trick, graded for real: notebooks in
sandboxed kernels with TensorFlow.

The whole corpus goes through one `autograder grade` batch (the warm path, as an
instructor grades a class); a selection also goes through `autograder check` one at a
time in a cold kernel, with and without bubblewrap. Both must give each notebook exactly
its expected verdicts, which also makes the warm and cold paths agree.
"""
from __future__ import annotations

import json

import pytest

from autograder.exercises import get
from conftest import grade, run_cli, write_notebook
from corpus import CASES

pytestmark = pytest.mark.slow

# Graded one at a time with `check`: the cases with their own time limit, and a
# sample of every kind (forms, mistakes, hostile notebooks).
COLD = ["timeout-after-training", "timeout-before-training", "reference", "lesson-as-printed",
        "kernel-dies-after-compile", "breaks-builtins", "allocates-64-gib", "writes-fake-results",
        "fake-model-object", "sequential-list-objects-keywords", "deeper-with-two-part-notebook",
        "data-loaded-from-a-colab-drive-path", "syntax-error-in-model-cell", "pixels-scaled-twice",
        "forks-until-refused", "fills-the-disk", "lambda-layer-runs-code", "kills-every-process-it-can"]
# And again without bubblewrap: the fallback must give the same verdicts.
PLAIN_PROCESS = ["reference", "lesson-as-printed", "timeout-after-training", "kernel-dies-after-compile",
                 "allocates-64-gib", "writes-fake-results", "kills-every-process-it-can"]
IN_BATCH = sorted(name for name, case in CASES.items() if case.timeout is None)


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


def _check_case(name, tmp_path, data_file, *extra):
    case = CASES[name]
    notebook = write_notebook(tmp_path / f"{name}.ipynb", case.cells, markdown_first=case.markdown_first)
    options = ["--exercise", case.exercise, "--data", str(data_file), *extra]
    if case.timeout:
        options += ["--timeout", str(case.timeout)]
    return case, *grade(notebook, tmp_path, *options)


@pytest.fixture(scope="session")
def corpus_batch(tmp_path_factory, standin_file):
    """The whole corpus graded as one class, two notebooks at a time."""
    folder = tmp_path_factory.mktemp("corpus")
    for name in IN_BATCH:
        case = CASES[name]
        write_notebook(folder / f"{name}.ipynb", case.cells, exercise=case.exercise,
                       markdown_first=case.markdown_first)
    out = tmp_path_factory.mktemp("corpus-out")
    completed = run_cli("grade", str(folder), "--out", str(out), "--jobs", "2", "--data", str(standin_file),
                        timeout=1800)
    assert completed.returncode in (0, 1), completed.stderr[-3000:]
    return {path.stem: json.loads(path.read_text()) for path in (out / "results").glob("*.json")}


@pytest.mark.xdist_group("corpus-batch")
@pytest.mark.timeout(1800)  # the first case waits for the whole class: its grade call may take as long
@pytest.mark.parametrize("name", IN_BATCH)
def test_case_in_a_batch(name, corpus_batch):
    result = corpus_batch[name]
    verify(CASES[name], result)
    assert result["execution"] == "warm" or result["isolation"] == "rlimits"


@pytest.mark.parametrize("name", COLD)
def test_case_checked_alone(name, tmp_path, standin_file):
    case, status, result = _check_case(name, tmp_path, standin_file)
    verify(case, result, status)
    assert result["execution"] == "cold" and result["isolation"] in ("bubblewrap", "rlimits")


@pytest.mark.parametrize("name", PLAIN_PROCESS)
def test_case_without_bubblewrap(name, tmp_path, standin_file):
    case, status, result = _check_case(name, tmp_path, standin_file, "--isolation", "rlimits")
    verify(case, result, status)
    assert result["isolation"] == "rlimits"
