"""The Gradescope archive, run in a temporary tree laid out like Gradescope's /autograder."""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from autograder.exercise.registry import get
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
    """The archive grades as check does, with the holdout it carries deciding accuracy.threshold
    (where bubblewrap can hide it: labels no model can match, so the check fails on them)."""
    from autograder import data
    from autograder.sandbox import isolation

    options = ["--data", str(standin_file), "--visibility", "after_published"]
    if isolation.bubblewrap_works():
        fresh = data.make_standin(seed=99)
        np.savez(tmp_path / "mislabelled.npz", test_data=fresh.test_data,
                 test_labels=np.roll(fresh.test_labels, 1, axis=1))
        options += ["--holdout", str(tmp_path / "mislabelled.npz")]
    root = gradescope_tree(tmp_path, *options)
    case = CASES["sigmoid-output"]
    write_notebook(root / "submission" / "my-work.ipynb", case.cells)
    results = run_autograder(root)
    validate(results, "after_published")
    failed = {t["tags"][0] for t in results["tests"] if t["status"] == "failed"}
    assert failed == set(case.failing) | ({"accuracy.threshold"} if "--holdout" in options else set())
    assert all("Next step:" in t["output"] for t in results["tests"] if t["status"] == "failed")
    assert str(root) not in json.dumps(results)  # no path of the grading machine
    assert "requirements.txt" in os.listdir(root / "source")


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
    assert results["extra_data"]["isolation"] == "rlimits" and "Isolation: rlimits." in results["output"]
    assert results["extra_data"]["graded_with"]["data"] == "fashion.npz"
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
    assert results["extra_data"] == {"isolation": "rlimits", "graded_with": None}
    assert "Isolation: rlimits." in results["output"]


def test_results_json_says_when_no_holdout_decided_the_grade():
    from autograder.gradescope import results_json
    from autograder.grading.result import NO_HOLDOUT

    used = {"data": "fashion.npz", "data_digest": "abc", "holdout": None}
    document = {"status": "graded", "score": 100.0, "isolation": "bubblewrap", "checks": [], "graded_with": used}
    assert NO_HOLDOUT in results_json(document, "# report", "visible", 3.0)["output"]
    with_holdout = {**document, "graded_with": {**used, "holdout": "holdout.npz"}}
    assert NO_HOLDOUT not in results_json(with_holdout, "# report", "visible", 3.0)["output"]


def unpacked(tmp_path, request, **options):
    """An archive built in this process (no grader process) and unpacked as Gradescope does."""
    from autograder.gradescope import build_archive

    archive, holdout = build_archive(request, tmp_path / "autograder.zip", **options)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(archive) as unpacked:
        unpacked.extractall(root / "source")
    (root / "submission").mkdir()
    return root, holdout


def test_the_archive_carries_the_holdout_beside_the_data_and_pins_what_was_tested(tmp_path):
    from packaging.utils import canonicalize_name

    from autograder import data
    from autograder.gradescope import HOLDOUT_FILE
    from autograder.grading.settings import Request

    lesson = data.make_standin()
    lesson.save(tmp_path / "fashion.npz")
    data.make_standin_holdout(lesson).save(data.holdout_path(tmp_path / "fashion.npz"))  # as `data holdout` does
    root, holdout = unpacked(tmp_path, Request(exercise="keras-dense", data=str(tmp_path / "fashion.npz")))
    assert holdout == str(tmp_path / "fashion-holdout.npz")
    assert json.loads((root / "source" / "rubric.json").read_text())["request"]["holdout"] == HOLDOUT_FILE
    assert (root / "source" / HOLDOUT_FILE).read_bytes() == (tmp_path / "fashion-holdout.npz").read_bytes()
    (tmp_path / "without").mkdir()
    left_out, none = unpacked(tmp_path / "without", Request(exercise="keras-dense", data=str(tmp_path / "fashion.npz")),
                              with_holdout=False)  # gradescope --no-holdout
    assert none is None and not (left_out / "source" / HOLDOUT_FILE).exists()

    pins = (root / "source" / "requirements.txt").read_text().splitlines()
    installed = {canonicalize_name(line.split("==")[0]): line.split("==")[1].split(";")[0].strip()
                 for line in pins if "==" in line}
    for name in ("numpy", "keras", "nbclient", "h5py", "protobuf"):  # ours, and TensorFlow's own
        assert installed[name] == importlib.metadata.version(name), name
    assert "; platform_machine" not in next(line for line in pins if line.lower().startswith("ml"))  # keras needs it
    tensorflow = "tensorflow-cpu" if platform.machine() == "x86_64" else "tensorflow"
    assert installed[tensorflow] == importlib.metadata.version(tensorflow)
    assert all(line.startswith("#") or "==" in line or "not installed where" in line for line in pins)


def test_two_notebooks_are_not_graded_and_the_headline_says_why(tmp_path):
    from autograder.gradescope import run
    from autograder.grading.settings import Request

    root, _ = unpacked(tmp_path, Request(exercise="keras-dense"))
    for name in ("my-work.ipynb", "my-work-Copy1.ipynb"):
        write_notebook(root / "submission" / name, CASES["reference"].cells)
    results = run(root)
    validate(results, "visible")
    reason = "2 notebooks were submitted; submit one, or name it keras-dense.ipynb"
    headline = next(line for line in results["output"].splitlines() if line.strip() and not line.startswith("#"))
    assert reason in headline and "could not be read" not in results["output"], results["output"]
    assert results["score"] == 0 and all(reason in test["output"] for test in results["tests"])
    assert "Download the notebook again" not in json.dumps(results)


def fake_tools(folder, python_version: str):
    """A PATH of stand-ins: apt-get that installs no Python, and a python3 of the given version."""
    folder.mkdir()
    (folder / "apt-get").write_text('#!/bin/sh\ncase "$*" in *python3.1*) exit 100;; esac\nexit 0\n')
    major, minor = (int(part) for part in python_version.split(".")[:2])
    (folder / "python3").write_text(f"""#!/bin/sh
if [ "$1" = "--version" ]; then echo "Python {python_version}"; exit 0; fi
if [ "$1" = "-c" ]; then exit {int((major, minor) < (3, 11))}; fi
echo "a python3 asked to do more than report its version" >&2; exit 3
""")
    for tool in folder.iterdir():
        tool.chmod(0o755)
    return folder


def test_setup_and_run_refuse_a_python_older_than_the_package_needs(tmp_path):
    from autograder.gradescope import RUN, SETUP

    tools = fake_tools(tmp_path / "bin", "3.10.12")
    (tmp_path / "setup.sh").write_text(SETUP)
    completed = subprocess.run(["/bin/bash", str(tmp_path / "setup.sh")], capture_output=True, text=True,
                               env={"PATH": str(tools)}, timeout=60)
    assert completed.returncode == 1, completed.stderr
    assert "needs Python 3.11 or newer, and this image has Python 3.10.12" in " ".join(completed.stderr.split())

    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source" / "run_autograder").write_text(RUN)
    completed = subprocess.run(["/bin/bash", str(root / "source" / "run_autograder")], capture_output=True,
                               text=True, env={"PATH": str(tools), "GRADESCOPE_AUTOGRADER_ROOT": str(root)},
                               timeout=60)
    assert completed.returncode == 1 and "needs Python 3.11 or newer, and python3 is Python 3.10.12" in \
        " ".join(completed.stderr.split()), completed.stderr
