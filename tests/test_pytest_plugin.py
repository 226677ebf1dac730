"""`pytest --autograder PATH`: one test per check id per notebook, JUnit XML for course CI."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

from autograder.exercises import get
from conftest import write_notebook
from corpus import CASES
from process_budget import count

pytestmark = pytest.mark.slow


def test_every_check_is_a_test_with_the_verdict_of_check(tmp_path, standin_file):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("reference", "sigmoid-output"):
        write_notebook(folder / f"{name}.ipynb", CASES[name].cells, exercise="keras-dense")
    (folder / "corrupt.ipynb").write_text("{ not json")
    report = tmp_path / "junit.xml"
    # Run from an empty folder, as a course repository would: no project conftest or ini.
    count("cli_graders")
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--autograder", str(folder), "--exercise", "keras-dense",
         "--autograder-data", str(standin_file), "--junitxml", str(report), "-p", "no:cacheprovider"],
        capture_output=True, text=True, cwd=tmp_path, timeout=900)
    assert completed.returncode == 1, completed.stdout[-3000:] + completed.stderr[-3000:]

    cases = ElementTree.parse(report).getroot().iter("testcase")
    failed: dict[str, set[str]] = {}
    seen: dict[str, set[str]] = {}
    for case in cases:
        notebook = case.get("classname").split(".")[-2]  # class.NAME.ipynb
        seen.setdefault(notebook, set()).add(case.get("name"))
        if case.find("failure") is not None:
            failed.setdefault(notebook, set()).add(case.get("name"))
            message = case.find("failure").text or ""
            assert "Traceback" not in message and case.get("name") in message
    ids = set(get("keras-dense").check_ids)
    assert seen == {"reference": ids, "sigmoid-output": ids, "corrupt": ids}
    assert failed.get("reference", set()) == set()
    assert failed["sigmoid-output"] == set(CASES["sigmoid-output"].failing)
    assert failed["corrupt"] == ids  # not graded: every check fails with the reason
    assert "Next step:" in completed.stdout and "not graded:" in completed.stdout


def test_without_the_option_nothing_is_graded(tmp_path):
    write_notebook(tmp_path / "lonely.ipynb", CASES["reference"].cells, exercise="keras-dense")
    completed = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q"],
                               capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert completed.returncode == 5 and "lonely" not in completed.stdout  # no tests: notebooks are left alone
