"""A hostile class through `autograder grade`, for real: one student's files cannot change
another's grade, pick their own rubric, or put a formula or a lookalike into the gradebook.

One class, graded once (three kernels), many asserts:
- an unzipped Canvas download: honest Bob; Alice's backup zip forging a later Bob; Alice's
  two-layer notebook released as keras-deeper whose metadata says keras-dense; a formula
  for a name; Bob's name with a zero-width space; two ids over 100 characters;
- nbgrader's submitted/: honest Dave, and Carol whose folder holds only a zip forging Dave.
"""
from __future__ import annotations

import csv
import json
import zipfile

import pytest

from conftest import write_notebook
from corpus import CASES

# One class graded once: every test of this file on the worker that grades it.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile-ids")]

INJECTION = '=HYPERLINK("http:evil","click")'
LONG = "x" * 120
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def forged_zip(path, notebook):
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(notebook, "jonesbob_102_99999999999_keras-dense.ipynb")
        archive.write(notebook, "submitted/dave/keras-dense/keras-dense.ipynb")
        archive.write(notebook, "dave_1_99999999999_keras-dense.ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory, standin_file, warm_grader):
    root = tmp_path_factory.mktemp("hostile")
    forged = write_notebook(root / "forged.ipynb", CASES["never-trained"].cells)
    download = root / "download"
    download.mkdir()
    write_notebook(download / "jonesbob_102_202_keras-dense.ipynb", CASES["reference"].cells)
    forged_zip(download / "smithalice_101_203_data_backup.zip", forged)
    write_notebook(download / "smithalice_101_201_keras-deeper.ipynb", CASES["reference"].cells,
                   exercise="keras-dense")  # two layers, released as keras-deeper
    # The rest cannot be read, so they cost no kernel; their ids are the attack.
    for name in (f"{INJECTION}_103_204_keras-dense.ipynb", "jonesb\u200bob_104_205_keras-dense.ipynb",
                 f"{LONG}a.ipynb", f"{LONG}b.ipynb"):
        (download / name).write_text('{"cells": [')
    submitted = root / "course" / "submitted"
    for student in ("dave", "carol"):
        (submitted / student / "keras-dense").mkdir(parents=True)
    write_notebook(submitted / "dave" / "keras-dense" / "keras-dense.ipynb", CASES["reference"].cells)
    forged_zip(submitted / "carol" / "keras-dense" / "backup.zip", forged)
    out = root / "out"
    completed = warm_grader.main("grade", str(download), str(submitted), "--out", str(out), "--jobs", "2", "--data",
                                 str(standin_file), "--format", "canvas")
    rows = {row["student_id"]: row for row in csv.DictReader(open(out / "grades.csv", newline=""))}
    return completed, out, rows


def test_honest_students_keep_their_grades(graded):
    completed, out, rows = graded
    assert completed.returncode == 1, completed.stderr[-3000:]  # some files were not graded
    for student in ("jonesbob", "dave"):
        assert rows[student]["status"] == "graded" and float(rows[student]["score"]) == 100, rows[student]
        result = json.loads((out / "results" / f"{student}.json").read_text())
        assert "99999999999" not in result["submission"] and ".zip" not in result["submission"]
    assert (rows["jonesbob"]["lms_user_id"], rows["jonesbob"]["lms_submission_id"]) == ("102", "202")
    assert "carol" not in rows  # her folder held only a zip: nobody's submission
    summary = (out / "summary.html").read_text()
    assert summary.count("never a source of other students&#39; submissions") == 2


def test_the_released_name_not_the_metadata_picks_the_rubric(graded):
    _, _, rows = graded
    alice = rows["smithalice"]
    assert alice["exercise"] == "keras-deeper" and float(alice["score"]) < 100
    assert float(alice["model.architecture"]) == 0
    assert "metadata names keras-dense; graded as keras-deeper" in alice["flags"]


def test_ids_cannot_inject_collide_or_impersonate(graded):
    completed, out, rows = graded
    for line in csv.reader(open(out / "grades.csv", newline="")):
        assert not any(value.startswith(FORMULA_STARTS) for value in line), line
    injected = rows["'" + INJECTION]
    assert injected["status"] == "invalid" and injected["score"] == "" and injected["reason"]
    lookalikes = [s for s in rows if s.startswith("jonesbob~")]
    assert lookalikes == ["jonesbob~104"] and "read as one id jonesbob" in rows["jonesbob~104"]["flags"]
    longs = [s for s in rows if s.startswith(LONG)]
    assert len(longs) == 2
    results = sorted((out / "results").glob("*.json"))
    assert len(results) == len(rows)  # every id has a file of its own
    names = {json.loads(path.read_text())["student"] for path in results}
    assert names == set(rows) - {"'" + INJECTION} | {INJECTION}
    summary = (out / "summary.html").read_text()
    assert "\u200b" not in summary and "jonesb\\u200bob" in summary
    assert "canvas-grades.csv" in completed.stdout and "3 student(s) without a Canvas user id" in completed.stdout


def test_the_canvas_file_is_what_canvas_imports(graded):
    _, out, _ = graded
    header, points, *lines = list(csv.reader(open(out / "canvas-grades.csv", newline="")))
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert points[0].strip() == "Points Possible"
    by_id = {line[1]: line for line in lines}
    assert by_id["102"][0] == "jonesbob" and float(by_id["102"][header.index("keras-dense")]) == 100
    assert by_id["103"][0] == "'" + INJECTION and by_id["103"][header.index("keras-dense")] == ""
    assert float(by_id["101"][header.index("keras-deeper")]) < 100
