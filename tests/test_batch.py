"""`autograder grade` on a class: same verdicts as `check`, nothing lost, nothing done twice."""
from __future__ import annotations

import csv
import html
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile

import psutil
import pytest

from autograder.exercise.registry import get
from conftest import ROOT, write_notebook
from corpus import CASES
from process_budget import count

pytestmark = pytest.mark.slow

CLASS = {"alice": "reference", "bob": "lesson-as-printed", "carol": "mse-loss", "dave": "never-trained",
         "frank": "sigmoid-output", "grace": "functional-api"}
UNSTARTED = ("heidi", "ivan")  # the released template handed in as it was handed out


def expected_failing(student):
    return CASES[CLASS[student]].failing


def make_class(root):
    folder = root / "folder"
    folder.mkdir()
    for student in ("alice", "bob", "carol"):
        write_notebook(folder / f"{student}.ipynb", CASES[CLASS[student]].cells, exercise="keras-dense")
    for student in UNSTARTED:
        shutil.copyfile(ROOT / "exercises" / "keras-dense.ipynb", folder / f"{student}.ipynb")
    (folder / "stray.txt").write_text("my notes")
    (folder / "erin.ipynb").write_text('{"cells": [')  # a corrupt notebook
    nbgrader = root / "course" / "submitted" / "dave" / "keras-dense"
    nbgrader.mkdir(parents=True)
    write_notebook(nbgrader / "keras-dense.ipynb", CASES[CLASS["dave"]].cells)
    archive = root / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for number, student in enumerate(("frank", "grace")):
            path = write_notebook(root / f"{student}.ipynb", CASES[CLASS[student]].cells)
            z.write(path, f"{student}_100{number}_200{number}_keras-dense.ipynb")
        z.writestr("../../escape.ipynb", "{}")
    return [str(folder), str(root / "course" / "submitted"), str(archive)]


def test_a_class_is_graded_like_check_would(tmp_path, standin_file, warm_grader):
    inputs = make_class(tmp_path)
    out = tmp_path / "out"
    step_summary = tmp_path / "step-summary.md"
    completed = warm_grader.main("grade", *inputs, "--out", str(out), "--jobs", "2", "--data", str(standin_file),
                                 "--exercise", "keras-dense", env={"GITHUB_STEP_SUMMARY": str(step_summary)})
    assert completed.returncode == 1, completed.stderr  # erin and the stray files were not graded
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [row["student_id"] for row in rows] == sorted([*CLASS, *UNSTARTED, "erin"])
    ids = get("keras-dense").check_ids
    for row in rows:
        if row["student_id"] == "erin":
            assert row["status"] == "invalid" and row["score"] == "" and "not valid JSON" in row["reason"]
            continue
        failing = {check_id for check_id in ids if float(row[check_id]) == 0}
        assert failing == (set(ids) if row["student_id"] in UNSTARTED else expected_failing(row["student_id"]))
        result = json.loads((out / "results" / f"{row['student_id']}.json").read_text())
        assert result["student"] == row["student_id"] and result["score"] == float(row["score"])
        assert (out / "reports" / f"{row['student_id']}.html").exists()
    summary = (out / "summary.html").read_text()
    for bad in ("stray.txt", "not a notebook", "erin", "not valid JSON", "escape.ipynb", "leaves the archive"):
        assert bad in summary
    # What to reteach: everyone who lost points once, under their first mistake; both untouched
    # templates on one line; summary.json has the page's counts.
    document = json.loads((out / "summary.json").read_text())
    assert (document["students"], document["graded"], document["invalid"]) == (len(rows), len(rows) - 1, 1)
    losing = sorted(row["student_id"] for row in rows if row["status"] != "invalid" and float(row["score"]) < 100)
    assert sorted(student for row in document["reteach"] for student in row["students"]) == losing
    assert [row["students"] for row in document["reteach"] if row["source"] == "not-started"] == [list(UNSTARTED)]
    assert summary[summary.index("What to reteach"):].count("Not started") == 1  # one line to reteach
    bob = json.loads((out / "results" / "bob.json").read_text())
    bob_row = next(row for row in document["reteach"] if "bob" in row["students"])
    if "causes" in bob:  # the cause analysis names the root cause
        assert bob_row["title"] == bob["causes"][0]["title"]
    else:  # before it, the first failed check: not flattening the images
        assert (bob_row["kind"], bob_row["title"]) == ("data.reshape", next(
            c["diagnosis"] for c in bob["checks"] if c["id"] == "data.reshape"))
    # the summary shows the title's `code` spans as <code>: compare the words
    assert html.escape(bob_row["title"].replace("`", ""), quote=False) in re.sub(r"</?code>", "", summary)
    rates = {c["id"]: (c["passed"], c["total"]) for c in document["checks"]}
    # data.reshape passes for everyone graded but bob and the templates
    assert rates["data.reshape"] == (len(rows) - 1 - len(UNSTARTED) - 1, len(rows) - 1)
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM results").fetchone()[0] == len(rows)
    # In GitHub Actions: a row per student in the job summary, an ::error per student who
    # lost points, a ::warning per file that could not be read.
    text = step_summary.read_text()
    for row in rows:
        score = "-" if row["status"] == "invalid" else f"{float(row['score']):g}/100"
        assert f"| {row['student_id']} | {score} | {row['status']} |" in text
    assert "| stray.txt | not a notebook (.ipynb) |" in text
    errors = [line for line in completed.stdout.splitlines() if line.startswith("::error ")]
    losing = [row["student_id"] for row in rows if row["status"] == "invalid" or float(row["score"]) < 100]
    assert sorted(line.split("title=")[1].split("%3A")[0] for line in errors) == sorted(losing)
    assert any(line.startswith("::warning ") and "stray.txt" in line for line in completed.stdout.splitlines())


def test_interrupted_batch_resumes_without_regrading(tmp_path, standin_file, warm_grader):
    """Ctrl-C on the real `grade` process; the runs that resume it use the session's grader."""
    folder = tmp_path / "class"
    folder.mkdir()
    for number in range(6):
        write_notebook(folder / f"student{number}.ipynb", CASES["reference"].cells, exercise="keras-dense")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "autograder", "grade", str(folder), "--out", str(out), "--jobs", "2",
               "--data", str(standin_file)]
    count("cli_graders")
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    database = out / "gradebook.sqlite"
    deadline = time.monotonic() + 300
    done = 0
    while time.monotonic() < deadline and done < 2:
        time.sleep(0.5)
        if database.exists():
            try:
                with sqlite3.connect(database) as db:
                    done = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.Error:
                pass
    assert done >= 2
    in_flight = psutil.Process(process.pid).children(recursive=True)
    assert in_flight  # sandboxes are running when the interrupt comes
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    with sqlite3.connect(database) as db:
        first = dict(db.execute("SELECT student, graded_at FROM results").fetchall())
    assert 2 <= len(first) < 6
    time.sleep(1)
    assert [p.pid for p in in_flight if p.is_running() and p.status() != psutil.STATUS_ZOMBIE] == []
    completed = warm_grader.main("grade", str(folder), "--out", str(out), "--jobs", "2", "--data", str(standin_file))
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr.count(", already graded)") == len(first)
    with sqlite3.connect(database) as db:
        second = dict(db.execute("SELECT student, graded_at FROM results").fetchall())
    assert len(second) == 6
    assert all(second[student] == stamp for student, stamp in first.items())  # not graded again
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert len(rows) == 6 and all(float(row["score"]) == 100 for row in rows)
    changed = folder / "student0.ipynb"
    write_notebook(changed, CASES["mse-loss"].cells, exercise="keras-dense")
    completed = warm_grader.main("grade", str(folder), "--out", str(out), "--data", str(standin_file))
    assert completed.stderr.count(", already graded)") == 5  # only the changed notebook is graded again
