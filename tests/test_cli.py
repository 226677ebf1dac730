"""`autograder check` as a user meets it: exit statuses, one-line reasons, result files."""
from __future__ import annotations

import json

import pytest

from autograder.exercise import registry as exercises
from conftest import REAL_DATA, ROOT, grade, run_cli, write_notebook
from corpus import CASES, lesson
from test_corpus import verify


def check_invalid(completed, result_file=None, exercise=None):
    assert completed.returncode == 2
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("autograder: "), completed.stderr
    assert "Traceback" not in completed.stderr + completed.stdout
    if result_file is not None:
        result = json.loads(result_file.read_text())
        assert result["status"] == "invalid" and result["schema"] == "autograder.result/1"
        assert result["reason"] in lines[0]
        if exercise:
            assert [c["id"] for c in result["checks"]] == exercises.get(exercise).check_ids
            assert not any(c["passed"] for c in result["checks"])
        return result


@pytest.mark.parametrize("content, reason", [
    (b"", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00binary", "not UTF-8"),
    (b'{"cells": [', "not valid JSON"),
    (b'{"name": "package", "version": "1.0"}', "not a Jupyter notebook"),
])
def test_unreadable_notebooks_exit_2_with_a_result(tmp_path, content, reason):
    notebook = tmp_path / "submission.ipynb"
    notebook.write_bytes(content)
    out = tmp_path / "result.json"
    completed = run_cli("check", str(notebook), "--exercise", "keras-dense", "--json", str(out))
    result = check_invalid(completed, out, "keras-dense")
    assert reason in result["reason"]


def test_missing_notebook_and_directory(tmp_path):
    check_invalid(run_cli("check", str(tmp_path / "absent.ipynb"), "--exercise", "keras-dense"))
    check_invalid(run_cli("check", str(tmp_path), "--exercise", "keras-dense"))


def test_misuse_exits_2(tmp_path):
    notebook = write_notebook(tmp_path / "nb.ipynb", lesson())
    out = tmp_path / "result.json"
    result = check_invalid(run_cli("check", str(notebook), "--exercise", "keras-wide", "--json", str(out)), out)
    assert "unknown exercise 'keras-wide'" in result["reason"]
    result = check_invalid(run_cli("check", str(notebook), "--json", str(out)), out)
    assert "no exercise given" in result["reason"]
    result = check_invalid(run_cli("check", str(notebook), "--exercise", "keras-dense", "--data",
                                   str(tmp_path / "missing.npz"), "--json", str(out)), out)
    assert "cannot read data file" in result["reason"]
    bad_data = tmp_path / "bad.npz"
    bad_data.write_bytes(b"nonsense")
    result = check_invalid(run_cli("check", str(notebook), "--exercise", "keras-dense", "--data",
                                   str(bad_data), "--json", str(out)), out)
    assert "not a readable npz" in result["reason"]
    assert run_cli("check", str(notebook), "--timeout", "-3").returncode == 2
    assert run_cli("check").returncode == 2


def test_data_commands(tmp_path):
    out = tmp_path / "standin.npz"
    assert run_cli("data", "standin", "--out", str(out)).returncode == 0
    completed = run_cli("data", "validate", str(out))
    assert completed.returncode == 0 and "valid" in completed.stdout
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"x")
    completed = run_cli("data", "validate", str(bad))
    assert completed.returncode == 2 and completed.stderr.startswith("autograder: ")


@pytest.mark.slow
def test_exercise_from_metadata_reports_and_exit_0(tmp_path, standin_file):
    """The real `autograder check` process, once: its own cold sandbox and evaluator, the
    reference's verdicts, the reports, exit 0."""
    assert lesson() == CASES["reference"].cells
    notebook = write_notebook(tmp_path / "alice.ipynb", lesson(), exercise="keras-dense")
    markdown, html = tmp_path / "report.md", tmp_path / "report.html"
    status, result = grade(notebook, tmp_path, "--data", str(standin_file), "--markdown", str(markdown),
                           "--html", str(html))
    assert status == 0 and result["exercise"] == "keras-dense" and result["score"] == 100.0
    verify(CASES["reference"], result, status)
    assert result["execution"] == "cold" and result["isolation"] in ("bubblewrap", "rlimits")
    assert result["notebook"] == "alice.ipynb"
    assert set(result) >= {"schema", "exercise", "notebook", "status", "score", "max_score", "checks",
                           "metrics", "cells", "duration_s"}
    for entry in result["checks"]:
        assert set(entry) >= {"id", "title", "passed", "points", "max_points", "message", "hint"}
    assert 0.8 <= result["metrics"]["test_accuracy"] <= 1.0
    assert "accuracy.threshold" in markdown.read_text() and "accuracy.threshold" in html.read_text()


@pytest.mark.slow
def test_terminal_summary_and_github_annotations_list_the_failures(tmp_path, standin_file, warm_grader):
    """On a terminal: failures first. In GitHub Actions (GITHUB_STEP_SUMMARY set): the
    Markdown report appended to the job summary and one ::error per failed check."""
    notebook = write_notebook(tmp_path / "bob.ipynb", lesson(fit=None))
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    completed = warm_grader.main("check", str(notebook), "--exercise", "keras-dense", "--data", str(standin_file),
                                 "--json", str(tmp_path / "bob.json"), env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert completed.returncode == 1
    lines = [line for line in completed.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert len(lines) == 14 and lines[0].startswith("FAIL") and lines[-1].startswith("PASS")
    assert "Next step:" in completed.stdout

    result = json.loads((tmp_path / "bob.json").read_text())
    failed = [c for c in result["checks"] if not c["passed"]]
    errors = [line for line in completed.stdout.splitlines() if line.startswith("::error ")]
    # One per mistake: per root cause, and per failed check no cause explains.
    causes = [cause for cause in result.get("causes", []) if any(c["cause"] == cause["id"] for c in failed)]
    own = [c for c in failed if c.get("cause") is None]
    assert 0 < len(errors) == len(causes) + len(own) <= len(failed)
    for line in errors:
        assert line.startswith(f"::error file={notebook},title=")
        assert "\n" not in line and "%0ANext step%3A" not in line and "%0ANext step: " in line
    for line, check in zip(errors[len(causes):], own):
        assert line.startswith(f"::error file={notebook},title={check['id']} (0/")
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, never overwritten
    assert f"{result['score']:g}" in text and all(c["id"] in text for c in result["checks"])


@pytest.mark.slow
def test_nbformat_3_notebook_is_converted_and_graded(tmp_path, standin_file, warm_grader):
    cells = [{"cell_type": "code", "input": source, "language": "python", "outputs": [], "metadata": {}}
             for source in lesson()]
    notebook = tmp_path / "old.ipynb"
    notebook.write_text(json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
                                    "worksheets": [{"cells": cells, "metadata": {}}]}))
    status, result = warm_grader.check(notebook, tmp_path, "--exercise", "keras-dense", "--data", str(standin_file))
    assert status == 0 and result["status"] == "graded"


@pytest.mark.slow
@pytest.mark.parametrize("exercise", ["keras-dense", "keras-deeper"])
def test_shipped_solutions_pass_on_the_standin_and_the_real_lesson_data(tmp_path, standin_file, warm_grader,
                                                                        exercise):
    for data_file in (standin_file, *([REAL_DATA] if REAL_DATA.is_file() else [])):
        status, result = warm_grader.check(ROOT / "solutions" / f"{exercise}.ipynb", tmp_path, "--data", str(data_file))
        assert status == 0, [c for c in result["checks"] if not c["passed"]]
        assert result["metrics"]["test_accuracy"] >= 0.8


@pytest.mark.slow
def test_released_exercise_is_graded_as_not_done(tmp_path, standin_file, warm_grader):
    status, result = warm_grader.check(ROOT / "exercises" / "keras-dense.ipynb", tmp_path, "--data", str(standin_file))
    assert status == 1 and result["status"] == "graded" and result["score"] == 0
    assert "NotImplementedError" in next(c for c in result["checks"] if c["id"] == "data.load")["message"]


def test_a_report_that_cannot_be_drawn_costs_check_the_report_not_the_result(tmp_path, monkeypatch, capsys):
    from autograder import cli
    from autograder.grading import pipeline
    from autograder.report import model as report_model
    from reports import result_of

    graded = result_of("lesson-as-printed")[0]
    monkeypatch.setattr(pipeline, "grade_notebook", lambda path, plan: json.loads(json.dumps(graded)))

    def broken(*args, **kwargs):
        raise IndexError("a bug in drawing this report")

    monkeypatch.setattr(report_model, "build", broken)
    notebook = write_notebook(tmp_path / "alice.ipynb", ["print(1)"], exercise="keras-dense")
    status = cli.main(["check", str(notebook), "--json", str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html")])
    written = json.loads((tmp_path / "r.json").read_text())
    assert status == 1 and written["score"] == graded["score"] and written["checks"] == graded["checks"]
    assert written["grader_fault"].startswith("the report could not be drawn: internal error")
    assert not (tmp_path / "r.html").exists()
    printed = capsys.readouterr().err
    assert "could not be drawn" in printed and f"score {graded['score']:g}/100" in printed
