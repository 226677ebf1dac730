"""Whose file is whose, and what reaches grades.csv: the attacks of issue 12, at the level of
the functions that decide (fast). test_hostile_class.py grades such a class for real."""
from __future__ import annotations

import csv
import json
import zipfile

import pytest

from autograder import identity
from autograder.batch.collect import LmsName, Submission, collect
from autograder.batch.outputs import file_stem
from autograder.batch.run import GradedSubmission, exercise_for
from autograder.batch.sheets import cell, write_canvas, write_grades
from autograder.exercise import registry as exercises
from autograder.grading.plan import make_plan
from autograder.grading.settings import Request

KNOWN = tuple(exercises.EXERCISES)
NOTEBOOK = b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}'
FORGED = b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [], "forged": true}'


def forged_backup(path):
    """Alice's backup: a notebook named as if Canvas had it from Bob, with a huge submission id."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("bob_1_99999999999_keras-dense.ipynb", FORGED)
        archive.writestr("submitted/bob/keras-dense/keras-dense.ipynb", FORGED)
    return path


def by_student(found):
    return {s.student: s for s in found.submissions}


def test_a_zip_in_a_students_nbgrader_folder_cannot_replace_another_student(tmp_path):
    submitted = tmp_path / "course" / "submitted"
    for student in ("alice", "bob"):
        (submitted / student / "keras-dense").mkdir(parents=True)
        (submitted / student / "keras-dense" / "keras-dense.ipynb").write_bytes(NOTEBOOK)
    forged_backup(submitted / "alice" / "keras-dense" / "data_backup.zip")
    for given in (submitted, tmp_path / "course"):
        found = collect([str(given)], KNOWN)
        students = by_student(found)
        assert sorted(students) == ["alice", "bob"] and students["bob"].content == NOTEBOOK
        assert not any(b"forged" in s.content for s in found.submissions)
        [problem] = found.problems
        assert problem.origin.endswith("data_backup.zip")
        assert "inside alice's own submission" in problem.reason
        assert "never a source of other students' submissions" in problem.reason


def test_a_zip_in_an_unzipped_canvas_download_is_its_owners_material_only(tmp_path):
    download = tmp_path / "download"
    download.mkdir()
    (download / "alice_11_21_keras-dense.ipynb").write_bytes(NOTEBOOK)
    (download / "bob_12_22_keras-dense.ipynb").write_bytes(NOTEBOOK)
    forged_backup(download / "alice_11_23_data_backup.zip")
    forged_backup(download / "extra.zip")  # not the LMS's naming: not an LMS download either
    found = collect([str(download)], KNOWN)
    assert by_student(found)["bob"].content == NOTEBOOK and len(found.submissions) == 2
    problems = {p.origin.rsplit("/", 1)[-1]: p.reason for p in found.problems}
    assert "inside alice's own submission" in problems["alice_11_23_data_backup.zip"]
    assert "give an LMS download on the command line" in problems["extra.zip"]


def test_a_zip_inside_an_lms_download_is_not_opened(tmp_path):
    download = tmp_path / "canvas.zip"
    backup = forged_backup(tmp_path / "backup.zip")
    with zipfile.ZipFile(download, "w") as archive:
        archive.writestr("alice_11_21_keras-dense.ipynb", NOTEBOOK)
        archive.writestr("bob_12_22_keras-dense.ipynb", NOTEBOOK)
        archive.write(backup, "alice_11_23_data_backup.zip")
    found = collect([str(download)], KNOWN)
    assert by_student(found)["bob"].content == NOTEBOOK
    assert "inside alice's own submission" in found.problems[0].reason


def test_duplicates_without_the_lms_numbering_are_listed_not_guessed_by_date(tmp_path):
    folder = tmp_path / "class" / "carol"
    folder.mkdir(parents=True)
    (folder / "keras-dense.ipynb").write_bytes(NOTEBOOK)
    (folder / "zz-copy.ipynb").write_bytes(FORGED)
    found = collect([str(tmp_path / "class")], KNOWN)
    [kept] = found.submissions
    [problem] = found.problems
    assert problem.origin != kept.origin
    assert "nothing from the LMS says which is newer" in problem.reason


def test_ids_are_normalised_and_collisions_graded_apart_and_flagged(tmp_path):
    download = tmp_path / "download"
    download.mkdir()
    names = {"bob_12_22_keras-dense.ipynb": "bob",  # the real Bob
             "b\u200bob_13_24_keras-dense.ipynb": "zero-width",
             "\u202ebob_14_25_keras-dense.ipynb": "bidi override",
             "ａｌｉｃｅ.ipynb": "fullwidth",
             "\u0430lice_15_26_keras-dense.ipynb": "cyrillic a",
             "smithjohn_16_27_keras-dense.ipynb": "one John Smith",
             "smithjohn_17_28_keras-dense.ipynb": "another"}
    for name, text in names.items():
        (download / name).write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                                                 "cells": [], "who": text}))
    found = collect([str(download)], KNOWN)
    students = by_student(found)
    assert not found.problems  # nobody replaced anybody
    assert len(students) == len(names)
    assert "alice" in students and "was read as the id alice" in students["alice"].notes[0]
    bobs = sorted(s for s in students if s.startswith("bob"))
    assert bobs == ["bob", "bob~13", "bob~14"]  # the real Bob keeps his id
    assert json.loads(students["bob"].content)["who"] == "bob"
    assert all("read as one id bob" in " ".join(students[b].notes) for b in bobs)
    assert students["bob~13"].name.user_id == "13" and "\\u200b" in " ".join(students["bob~13"].notes)
    cyrillic = students["\u0430lice"]
    assert any("mixes CYRILLIC and LATIN" in note for note in cyrillic.notes)
    assert any("looks like alice" in note for note in cyrillic.notes)
    assert any("looks like \\u0430lice" in note for note in students["alice"].notes)
    assert sorted(s for s in students if s.startswith("smithjohn")) == ["smithjohn~16", "smithjohn~17"]
    assert all(identity.normalise(s) == s for s in students)
    assert all(not any(ch in s for ch in "\u200b\u202e") for s in students)


def test_normalise_removes_what_prints_as_nothing():
    assert identity.normalise("\ufeffal\u2066ice\u200d \u3164 \u00a0smith\ufe0f") == "alice smith"
    assert identity.normalise("ＢＯＢ") == "BOB"
    assert identity.visible("a\u202eb") == "a\\u202eb" and identity.visible("Zoë") == "Zoë"
    assert identity.skeleton("Аlісе") == identity.skeleton("alice")


def test_overlong_and_case_only_ids_get_files_of_their_own(tmp_path):
    long_a, long_b = "x" * 150 + "a", "x" * 150 + "b"
    assert len({file_stem(long_a), file_stem(long_b), file_stem("Bob"), file_stem("bob")}) == 4
    assert {file_stem(s).lower() for s in ("Bob", "bob", "BOB")}.__len__() == 3  # case-insensitive disks
    assert file_stem("alice") == "alice" and all(len(file_stem(s)) < 100 for s in (long_a, long_b))
    with zipfile.ZipFile(tmp_path / "download.zip", "w") as archive:
        archive.writestr("y" * 250 + ".ipynb", NOTEBOOK)
    found = collect([str(tmp_path / "download.zip")], KNOWN)
    assert not found.submissions and "at most 200" in found.problems[0].reason


def plan_for(exercise=None):
    return make_plan(Request(exercise=exercise))


def submission(hint, metadata):
    meta = {"autograder": {"exercise": metadata}} if metadata else {}
    content = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": meta, "cells": []}).encode()
    return Submission("alice", "alice.ipynb", content, exercise_hint=hint)


@pytest.mark.parametrize("flag, hint, metadata, chosen, noted", [
    (None, "keras-deeper", "keras-dense", "keras-deeper", ["the notebook's metadata names keras-dense"]),
    ("keras-dense", "keras-deeper", "keras-cnn", "keras-dense", ["released file name names keras-deeper",
                                                                  "metadata names keras-cnn"]),
    (None, None, "keras-deeper", "keras-deeper", []),
    (None, "keras-dense", "keras-dense", "keras-dense", []),
    (None, None, None, None, []),
])
def test_the_instructors_source_picks_the_exercise_and_metadata_is_only_noted(flag, hint, metadata, chosen,
                                                                              noted):
    exercise, notes = exercise_for(submission(hint, metadata), plan_for(flag))
    assert exercise == chosen
    assert len(notes) == len(noted) and all(n in note for n, note in zip(noted, notes))
    assert all(f"graded as {chosen}" in note for note in notes)


def test_a_notebook_no_reader_survives_names_no_exercise():
    broken = Submission("x", "x.ipynb", b'{"cells": [' + b"9" * 5000, exercise_hint=None)
    assert exercise_for(broken, plan_for()) == (None, [])


@pytest.mark.parametrize("value, written", [
    ("=HYPERLINK(\"http://evil\")", "'=HYPERLINK(\"http://evil\")"), ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", " x"), ("\r=1", "' =1"), ("  @x", "'  @x"),
    ("alice", "alice"),
    ("two\nlines", "two lines"), (-2.5, -2.5), (0, 0), (None, ""), (True, "yes"),
])
def test_cells_are_never_formulas_and_numbers_stay_numbers(value, written):
    assert cell(value) == written


def test_a_huge_text_cell_is_cut_so_that_the_file_stays_readable():
    cut = cell("=" + "x" * 500_000)
    assert isinstance(cut, str) and cut.startswith("'=") and len(cut) < 1100 and "499001 more characters" in cut


def outcome(student, status, score, name=None, notes=(), exercise="keras-dense", reason=None):
    document = {"status": status, "score": score, "max_score": 100.0, "metrics": {"test_accuracy": 0.9},
                "checks": [{"id": "fit.called", "points": score / 10}]}
    if reason:
        document["reason"] = reason
    found = Submission(student, f"/class/{student}.ipynb", NOTEBOOK, name or LmsName(student, ""),
                       notes=list(notes))
    return GradedSubmission(found, exercise, document)


def test_grades_csv_is_safe_to_open_and_keeps_the_lms_ids(tmp_path):
    outcomes = [
        outcome("=HYPERLINK(\"http://x\",\"y\")", "graded", 80.0, notes=["@SUM(1+1)"]),
        outcome("smithalice", "graded", 100.0, LmsName("smithalice", "k.ipynb", "canvas", "111", "222", True)),
        outcome("erin", "invalid", 0.0, reason="=not valid JSON"),
        outcome("Alice Smith", "timeout", 40.0, LmsName("Alice Smith", "k.ipynb", "moodle", "4242")),
    ]
    path = tmp_path / "grades.csv"
    write_grades(outcomes, path)
    rows = list(csv.DictReader(open(path, newline="")))
    for raw in csv.reader(open(path, newline="")):
        assert not any(value.startswith(("=", "+", "-", "@", "\t", "\r")) for value in raw)
    hostile, alice, erin, moodle = rows
    assert hostile["student_id"] == "'=HYPERLINK(\"http://x\",\"y\")" and hostile["flags"] == "'@SUM(1+1)"
    assert float(hostile["score"]) == 80.0 and float(hostile["fit.called"]) == 8.0
    assert (alice["lms"], alice["lms_user_id"], alice["lms_submission_id"], alice["late"]) == \
        ("canvas", "111", "222", "yes")
    assert erin["score"] == "" and erin["fit.called"] == "" and erin["status"] == "invalid"
    assert erin["reason"] == "'=not valid JSON"
    assert (moodle["lms"], moodle["lms_user_id"], moodle["late"], moodle["status"]) == ("moodle", "4242", "", "timeout")
    assert moodle["reason"] == "timeout" and moodle["score"] == "40.0"


def test_the_canvas_file_has_canvas_columns_and_only_canvas_students(tmp_path):
    outcomes = [
        outcome("smithalice", "graded", 90.0, LmsName("smithalice", "k.ipynb", "canvas", "111", "222", False)),
        outcome("=evil", "invalid", 0.0, LmsName("=evil", "k.ipynb", "canvas", "333", "444", False)),
        outcome("bob", "graded", 70.0),
    ]
    path = tmp_path / "canvas.csv"
    assert write_canvas(outcomes, path, "Keras dense (4321)") == 1  # bob has no Canvas user id
    header, points, *rows = list(csv.reader(open(path, newline="")))
    assert header == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Keras dense (4321)"]
    assert points == ["    Points Possible", "", "", "", "", "100.0"]
    assert rows == [["smithalice", "111", "", "", "", "90.0"], ["'=evil", "333", "", "", "", ""]]
    write_canvas(outcomes, path)
    assert next(csv.reader(open(path, newline="")))[-1] == "keras-dense"
