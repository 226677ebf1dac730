"""`pytest --autograder PATH`: one test per check id per notebook, JUnit XML for course CI.

The folder graded is the students': pytest must never import or read anything in it
(a conftest.py, a test_*.py, a package's __init__.py, a pytest.ini), whatever it holds."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from autograder.exercise.registry import get
from conftest import ROOT, write_notebook
from corpus import CASES
from process_budget import count

#: A student's files that would take over the instructor's pytest if it imported them: each leaves
#: a marker when imported, and the conftest.py also turns every test's report into a pass.
HOSTILE_FILES = {
    "conftest.py": """\
import pathlib, pytest
pathlib.Path(__file__).with_name("imported-conftest").write_text("ran as the instructor")

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"

def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.skip(reason="rewritten by a student"))
""",
    "test_x.py": "import pathlib\npathlib.Path(__file__).with_name('imported-test').write_text('ran')\n"
                 "def test_x():\n    pass\n",
    "__init__.py": "import pathlib\npathlib.Path(__file__).with_name('imported-init').write_text('ran')\n",
}


def hostile_class(folder, notebooks: dict[str, list[str]]):
    folder.mkdir()
    for name, text in HOSTILE_FILES.items():
        (folder / name).write_text(text)
    for name, cells in notebooks.items():
        write_notebook(folder / f"{name}.ipynb", cells, exercise="keras-dense")
    return folder


def imported(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("imported-"))


def pytest_process(*arguments, cwd, timeout=900):
    """`python -m pytest ARGUMENTS` in `cwd`, with this checkout's package first on sys.path, and
    without the options given to this suite's own run (PYTEST_ADDOPTS: -x, --durations, plugins)."""
    environment = {**{k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *arguments],
                          capture_output=True, text=True, cwd=cwd, env=environment, timeout=timeout)


@pytest.mark.slow
def test_a_hostile_class_is_graded_as_check_grades_it_and_nothing_in_its_folder_runs(tmp_path, standin_file,
                                                                                     warm_grader):
    """One run of the real plugin, started in this project's own checkout (its pyproject.toml,
    testpaths and conftest.py: where the docs' command once failed every check), on a class folder
    holding a student's conftest.py, test_x.py and __init__.py beside the notebooks, with a holdout
    (where bubblewrap can hide it) and a threshold of the instructor's."""
    from autograder import data
    from autograder.sandbox import isolation

    folder = hostile_class(tmp_path / "class", {"reference": CASES["reference"].cells,
                                                "sigmoid-output": CASES["sigmoid-output"].cells,
                                                "did-nothing": ["print('done!')"]})
    (folder / "corrupt.ipynb").write_text("{ not json")
    options = ["--exercise", "keras-dense", "--threshold", "0.55"]  # the same for check and the plugin
    if isolation.bubblewrap_works():  # labels that no model can match: accuracy.threshold fails on them
        fresh = data.make_standin(seed=99)
        np.savez(tmp_path / "mislabelled.npz", test_data=fresh.test_data,
                 test_labels=np.roll(fresh.test_labels, 1, axis=1))
        options += ["--holdout", str(tmp_path / "mislabelled.npz")]
    report = tmp_path / "junit.xml"
    count("cli_graders")
    completed = pytest_process(f"--autograder={folder}", f"--autograder-data={standin_file}", *options,
                               "--junitxml", str(report), cwd=ROOT)
    assert completed.returncode == 1, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert imported(folder) == []  # nothing of the folder was imported, so nothing rewrote a report

    verdicts: dict[str, dict[str, str]] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        notebook = case.get("classname").split(".")[-2]  # ...class.NAME.ipynb
        failure = case.find("failure")
        assert case.find("error") is None and case.find("skipped") is None
        verdicts.setdefault(notebook, {})[case.get("name")] = "" if failure is None else failure.text or "?"
        assert failure is None or ("Traceback" not in failure.text and case.get("name") in failure.text)
    ids = get("keras-dense").check_ids
    assert set(verdicts) == {"reference", "sigmoid-output", "did-nothing", "corrupt"}
    assert all(list(tests) == ids for tests in verdicts.values())
    assert all(verdicts["corrupt"].values())  # not graded: every check fails with the reason
    assert all(verdicts["did-nothing"].values())  # no work, no passing test

    for name in ("reference", "sigmoid-output", "did-nothing"):
        _, expected = warm_grader.check(folder / f"{name}.ipynb", None, "--data", str(standin_file), *options)
        failed = {c["id"] for c in expected["checks"] if not c["passed"]}
        assert {i for i, text in verdicts[name].items() if text} == failed, name
        for check in expected["checks"]:
            assert check["passed"] or check["message"] in verdicts[name][check["id"]]
    accuracy = verdicts["reference"]["accuracy.threshold"]
    assert ("does not reach 0.55" in accuracy) == ("--holdout" in options)  # the holdout decided it
    assert "0.55" in accuracy or not accuracy  # the instructor's threshold, not the exercise's 0.80


def test_a_submission_folder_cannot_configure_pytest_nor_have_its_conftest_loaded(tmp_path):
    """pytest reads the configuration beside every path on its command line before any plugin runs:
    one in a graded folder stops the run, as does a path in it given to collect. Started in a graded
    folder, or beside one named test* (both make pytest load their conftest.py), the run goes on
    without loading any conftest.py. Nothing of the folder is imported either way."""
    configured = hostile_class(tmp_path / "class", {"student": CASES["reference"].cells})
    (configured / "pytest.ini").write_text("[pytest]\naddopts = -k nothing\n")
    elsewhere = tmp_path / "ci"
    elsewhere.mkdir()
    runs = {
        "configured": pytest_process("--autograder", str(configured), "--co", cwd=elsewhere),
        "collected too": pytest_process(f"--autograder={configured}", "--co", str(configured / "test_x.py"),
                                        cwd=elsewhere),
    }
    for why, completed in runs.items():
        assert completed.returncode == pytest.ExitCode.USAGE_ERROR, (why, completed.stdout, completed.stderr)
        assert f"inside {configured}, which --autograder grades" in completed.stderr, (why, completed.stderr)
    assert imported(configured) == []

    named_like_tests = hostile_class(tmp_path / "tests", {"student": CASES["reference"].cells})
    for given, cwd in (("tests", tmp_path), (".", named_like_tests), (str(configured), elsewhere)):
        completed = pytest_process(f"--autograder={given}", "--exercise", "keras-dense", "--co", "-q", cwd=cwd)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert "student.ipynb::data.load" in completed.stdout and "test_x" not in completed.stdout
    assert imported(configured) == imported(named_like_tests) == []


def test_without_the_option_nothing_is_graded(tmp_path):
    write_notebook(tmp_path / "lonely.ipynb", CASES["reference"].cells, exercise="keras-dense")
    completed = pytest_process("--collect-only", "-q", cwd=tmp_path, timeout=300)
    assert completed.returncode == 5 and "lonely" not in completed.stdout  # no tests: notebooks are left alone


def test_a_check_the_grader_could_not_decide_is_the_graders_error_not_a_failure(tmp_path):
    """A notebook whose kernel never became ready (the sandbox's Python could not start, as it once
    could not when the grader was run from inside its own checkout): no cell ran, so no verdict is
    the student's; reports say so, and the plugin reports each check as an error of the grader."""
    from autograder.grading import pipeline, result
    from autograder.pytest_plugin import grader_fault_of
    from autograder.report import model as report_model
    from autograder.sandbox import RunRecord

    exercise = get("keras-dense")
    failed = RunRecord(status="kernel_died", isolation="bubblewrap",
                       runner=[{"event": "kernel_failed", "error": "ModuleNotFoundError: No module named 'x'"}])
    reason = pipeline.never_ran(failed)
    assert reason == "the notebook's Python kernel could not start (ModuleNotFoundError: No module named 'x')"
    assert pipeline.never_ran(RunRecord(status="completed", isolation="bubblewrap",
                                        runner=[{"event": "kernel_ready", "seconds": 1.0}])) is None
    document = pipeline.not_run(exercise, "alice.ipynb", reason, "bubblewrap", 5.0)
    assert document["grader_fault"] == reason and document["score"] == 0
    assert [c["kind"] for c in document["causes"]] == [result.GRADER_FAULT]
    assert all(c["cause"] == "c1" and "the grader failed, not the notebook" in c["message"]
               for c in document["checks"])
    headline = report_model.build(document, exercise).verdict
    assert "grader could not run the notebook" in headline and "died" not in headline
    assert all(grader_fault_of(document, check_id) == reason for check_id in exercise.check_ids)
    # A fault beside verdicts that stand: only what failed is put down to the grader.
    graded = {"status": "graded", "grader_fault": "the evaluator died", "checks": [
        {"id": "data.load", "passed": True}, {"id": "accuracy.threshold", "passed": False}]}
    assert grader_fault_of(graded, "data.load") is None
    assert grader_fault_of(graded, "accuracy.threshold") == "the evaluator died"
    internal = {"status": "invalid", "reason": "internal error in the grader (KeyError: 'x'); please report it"}
    assert grader_fault_of(internal, "data.load") == internal["reason"]
    assert grader_fault_of({"status": "invalid", "reason": "not JSON"}, "data.load") is None
