"""The Gradescope archive, run in a temporary tree laid out like Gradescope's /autograder."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder.exercises import get
from conftest import run_cli, write_notebook
from corpus import CASES, lesson
from process_budget import count

TEST_KEYS = {"name", "number", "score", "max_score", "status", "output", "output_format", "visibility", "tags"}


def gradescope_tree(tmp_path, *options):
    """Build the archive and unpack it as Gradescope does: into ROOT/source."""
    archive = tmp_path / "autograder.zip"
    completed = run_cli("gradescope", "--exercise", "keras-dense", "--out", str(archive), *options)
    assert completed.returncode == 0, completed.stderr
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(root / "source")
        modes = {info.filename: info.external_attr >> 16 for info in unpacked.infolist()}
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    for name in ("run_autograder", "setup.sh"):
        os.chmod(root / "source" / name, 0o755)  # extractall drops the mode; Gradescope keeps it
    (root / "submission").mkdir()
    return root


def run_autograder(root, path="/usr/bin:/bin"):
    # setup.sh's virtual environment stands in as ROOT/venv: its python is this environment's
    # (it has the dependencies setup.sh would install), and no python of ours is on PATH, so
    # the run works only through the venv. The package comes from the archive (PYTHONPATH).
    venv_python = root / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True, exist_ok=True)
    venv_python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    venv_python.chmod(0o755)
    env = {"PATH": path, "GRADESCOPE_AUTOGRADER_ROOT": str(root), "HOME": str(root)}
    count("cli_graders")  # Gradescope's run_autograder: an `autograder` process of its own
    completed = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True, text=True,
                               env=env, timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads((root / "results" / "results.json").read_text())


def validate(results: dict, visibility: str) -> None:
    assert set(results) >= {"score", "output", "tests", "visibility", "stdout_visibility"}
    assert results["visibility"] == visibility and results["output_format"] == "md"
    for test in results["tests"]:
        assert set(test) == TEST_KEYS and test["status"] in ("passed", "failed")
        assert 0 <= test["score"] <= test["max_score"] and test["visibility"] == visibility
    assert results["score"] == pytest.approx(sum(t["score"] for t in results["tests"]))
    assert [t["tags"][0] for t in results["tests"]] == get("keras-dense").check_ids


@pytest.mark.slow
def test_a_submission_is_graded_like_check_grades_it(tmp_path, standin_file):
    root = gradescope_tree(tmp_path, "--data", str(standin_file), "--visibility", "after_published")
    case = CASES["sigmoid-output"]
    write_notebook(root / "submission" / "my-work.ipynb", case.cells)
    results = run_autograder(root)
    validate(results, "after_published")
    failed = {t["tags"][0] for t in results["tests"] if t["status"] == "failed"}
    assert failed == set(case.failing)
    assert all("Next step:" in t["output"] for t in results["tests"] if t["status"] == "failed")
    assert str(root) not in json.dumps(results)  # no path of the grading machine
    assert "requirements.txt" in os.listdir(root / "source")
    assert any(line.startswith("tensorflow") for line in (root / "source" / "requirements.txt").read_text().split())


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="Gradescope runs the autograder as root")
def test_a_container_without_bubblewrap_grades_as_an_unprivileged_user_and_says_so(tmp_path, standin_file):
    """A Gradescope image where setup.sh's bubblewrap is missing: root runs the archive with
    no bwrap on PATH. A hostile student who also does the lesson is graded in full, as a user
    of the run's own: nothing written into the archive's package, the root-only file unread."""
    from test_unprivileged import attack

    root = gradescope_tree(tmp_path, "--data", str(standin_file))
    tools = tmp_path / "bin"  # what the run calls by name, and no bwrap
    tools.mkdir()
    for tool in ("bash", "unshare"):
        if shutil.which(tool):
            (tools / tool).symlink_to(shutil.which(tool))
    secret, readable = root / "secret.txt", root / "public.txt"
    secret.write_text("root only")
    secret.chmod(0o600)
    readable.write_text("anyone")
    planted = root / "source" / "autograder" / "planted.py"
    write_notebook(root / "submission" / "my-work.ipynb", [*attack(secret, readable, planted), *lesson()])
    results = run_autograder(root, path=str(tools))
    validate(results, "visible")
    assert results["extra_data"] == {"isolation": "rlimits"} and "Isolation: rlimits." in results["output"]
    assert results["score"] == get("keras-dense").max_score
    assert all(test["status"] == "passed" for test in results["tests"])
    assert not planted.exists() and "root only" not in json.dumps(results)


def test_no_notebook_submitted_is_a_zero_with_the_reason(tmp_path):
    root = gradescope_tree(tmp_path)
    (root / "submission" / "notes.txt").write_text("forgot the notebook")
    results = run_autograder(root)
    validate(results, "visible")
    assert results["score"] == 0 and "no notebook (.ipynb) was submitted" in json.dumps(results)


def test_bad_arguments_are_one_line(tmp_path):
    bad = tmp_path / "bad.npz"
    shutil.copyfile(__file__, bad)
    for arguments in (["--exercise", "nope"], ["--exercise", "keras-dense", "--data", str(bad)]):
        completed = run_cli("gradescope", *arguments, "--out", str(tmp_path / "a.zip"))
        assert completed.returncode == 2 and len(completed.stderr.strip().splitlines()) == 1, completed.stderr


def test_results_json_names_the_isolation():
    from autograder.gradescope import results_json

    document = {"status": "graded", "score": 100.0, "isolation": "rlimits", "checks": []}
    results = results_json(document, "# report", "visible", 3.0)
    assert results["extra_data"] == {"isolation": "rlimits"} and "Isolation: rlimits." in results["output"]
