"""Finding a class's submissions: folders, nbgrader's layout, LMS archives, and every bad input."""
from __future__ import annotations

import os
import zipfile

import pytest

from autograder.batch.collect import MAX_ARCHIVE_ENTRIES, collect, student_from_name
from autograder.batch.gradebook import Gradebook, GradebookError
from autograder.exercise import registry as exercises
from autograder.grading.plan import make_plan
from autograder.grading.settings import Request
from conftest import hostile_archive

KNOWN = tuple(exercises.EXERCISES)
NOTEBOOK = b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}'


def reasons(found):
    return {os.path.basename(p.origin.split("!")[-1]): p.reason for p in found.problems}


def test_lms_file_names_give_student_ids_and_the_lms_ids():
    canvas = student_from_name("smithalice_12345_67890_keras-dense.ipynb")
    assert (canvas.student, canvas.lms, canvas.user_id, canvas.submission_id, canvas.late, canvas.file) == \
        ("smithalice", "canvas", "12345", "67890", False, "keras-dense.ipynb")
    late = student_from_name("smithalice_late_12345_67891_keras-dense.ipynb")
    assert (late.student, late.order, late.late) == ("smithalice", (67891,), True)
    assert student_from_name("smithalice_LATE_12345_67891_x.ipynb").late is True
    moodle = student_from_name("Alice Smith_4242_assignsubmission_file_lesson.ipynb")
    assert (moodle.student, moodle.lms, moodle.user_id, moodle.order, moodle.late) == \
        ("Alice Smith", "moodle", "4242", (), None)
    assert student_from_name("Alice Smith_4242_assignsubmission_file_").student == "Alice Smith"  # a folder
    plain = student_from_name("bob.ipynb")
    assert (plain.student, plain.lms, plain.user_id, plain.late) == ("bob", None, None, None)
    assert student_from_name("x_\u0661\u0662_\u0663_y.ipynb").lms is None  # ids are ASCII digits only


def test_folder_nbgrader_layout_and_per_student_folders(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "alice.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "flat" / "notes.txt").write_text("hello")
    (tmp_path / "flat" / ".DS_Store").write_text("junk")
    nb = tmp_path / "course" / "submitted" / "bob" / "keras-deeper"
    nb.mkdir(parents=True)
    (nb / "lesson.ipynb").write_bytes(NOTEBOOK)
    (nb / ".ipynb_checkpoints").mkdir()
    (nb / ".ipynb_checkpoints" / "lesson-checkpoint.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "byfolder" / "carol").mkdir(parents=True)
    (tmp_path / "byfolder" / "carol" / "whatever.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "empty").mkdir()
    found = collect([str(tmp_path / name) for name in ("flat", "course", "byfolder", "empty", "absent")], KNOWN)
    assert [s.student for s in found.submissions] == ["alice", "bob", "carol"]
    assert found.submissions[1].exercise_hint == "keras-deeper"  # nbgrader's assignment folder names it
    assert found.submissions[2].exercise_hint is None  # a student's own folder names nothing
    problems = reasons(found)
    assert problems["notes.txt"] == "not a notebook (.ipynb)"
    assert "empty folder" in problems["empty"] and problems["absent"] == "does not exist"
    assert ".DS_Store" not in problems


def test_duplicates_keep_the_lms_latest_and_list_every_replaced_file(tmp_path):
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("alice_111_5001_keras-dense.ipynb", NOTEBOOK.replace(b"[]", b"[ ]"))
        z.writestr("alice_111_5000_keras-dense.ipynb", NOTEBOOK)
        z.writestr("alice_111_4999_keras-dense.ipynb", NOTEBOOK)
    found = collect([str(archive)], KNOWN)
    assert len(found.submissions) == 1 and found.submissions[0].origin.endswith("5001_keras-dense.ipynb")
    assert found.submissions[0].exercise_hint == "keras-dense"
    assert sorted(reasons(found)) == ["alice_111_4999_keras-dense.ipynb", "alice_111_5000_keras-dense.ipynb"]
    assert all("replaced by a later submission of alice" in p.reason for p in found.problems)


def test_hostile_archives_are_refused_entry_by_entry(tmp_path):
    archive = hostile_archive(tmp_path / "evil.zip", NOTEBOOK)
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("dave_1_2_keras-deeper.ipynb", NOTEBOOK)
    found = collect([str(archive)], KNOWN)
    assert [s.student for s in found.submissions] == ["dave"]
    assert found.submissions[0].exercise_hint == "keras-deeper"
    problems = reasons(found)
    assert problems["passwd.ipynb"] == "a path that leaves the archive"
    assert problems["olute.ipynb"] == "a path that leaves the archive"
    assert problems["link.ipynb"] == "a symbolic link"
    assert "zip bomb" in problems["bomb.ipynb"]
    assert not (tmp_path / "etc").exists()  # nothing is ever unpacked to disk


def test_archives_with_too_many_entries_or_garbage(tmp_path):
    many = tmp_path / "many.zip"
    with zipfile.ZipFile(many, "w") as z:
        for index in range(MAX_ARCHIVE_ENTRIES + 1):
            z.writestr(f"s{index}.ipynb", b"")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really")
    problems = reasons(collect([str(many), str(broken)], KNOWN))
    assert "at most" in problems["many.zip"] and "not a readable zip" in problems["broken.zip"]


def test_symlinked_notebooks_are_not_followed(tmp_path):
    (tmp_path / "secret.txt").write_text("secret")
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "mallory.ipynb").symlink_to(tmp_path / "secret.txt")
    found = collect([str(tmp_path / "class")], KNOWN)
    assert not found.submissions and "symbolic link" in found.problems[0].reason


def test_gradebook_knows_what_is_done(tmp_path):
    book = Gradebook(tmp_path / "book.sqlite")
    grading = make_plan(Request())
    rubric = grading.rubric(exercises.get("keras-dense"))
    result = {"status": "graded", "score": 80.0, "checks": []}
    book.record("alice", "keras-dense", "abc", rubric, "alice.ipynb", result)
    assert book.done("alice", "keras-dense", "abc", rubric) == result
    assert book.done("alice", "keras-dense", "changed", rubric) is None
    assert book.done("alice", "keras-dense", "abc", grading.rubric(exercises.get("keras-deeper"))) is None
    stricter = make_plan(Request(threshold=0.9, exercise="keras-dense"))
    assert rubric != stricter.rubric(stricter.exercise_for("keras-dense"))
    assert rubric != make_plan(Request(timeout_s=100)).rubric(exercises.get("keras-dense"))
    book.close()
    again = Gradebook(tmp_path / "book.sqlite")
    assert again.count() == 1
    again.db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    again.db.commit()
    again.close()
    with pytest.raises(GradebookError, match="newer grader"):
        Gradebook(tmp_path / "book.sqlite")
    (tmp_path / "other.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(GradebookError):
        Gradebook(tmp_path / "other.sqlite")
