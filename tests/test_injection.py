"""A real notebook whose file name, code, layer name and error carry injection attempts,
graded by `autograder check` inside GitHub Actions: nothing it wrote escapes into the
terminal, the Markdown report, the job summary, the workflow commands or the HTML report."""
from __future__ import annotations

import json
import re

import pytest

import hostile
from autograder.report import escaping
from conftest import write_notebook
from corpus import lesson

pytestmark = pytest.mark.slow

BUILD = f'''\
from keras.models import Sequential
from keras.layers import Dense
layer_name = r"""{hostile.EVERYTHING.replace("/", "")}"""  # Keras refuses only `/`
model = Sequential()
model.add(Dense(10, input_shape=(784,), activation='relu'))
model.add(Dense(4, activation='softmax', name=layer_name))'''

RAISE = f'''\
# {hostile.FENCE.replace(chr(10), " ")}
payload = r"""{hostile.EVERYTHING}"""
raise ValueError(payload)'''


CELLS = lesson(build=BUILD, after={"evaluate": RAISE})


def test_a_notebook_full_of_injections_changes_nothing_but_its_own_text(tmp_path, standin_file, warm_grader):
    notebook = write_notebook(tmp_path / f"{hostile.STUDENT}.ipynb", CELLS)
    paths = {kind: tmp_path / f"report.{kind}" for kind in ("md", "html", "json")}
    summary = tmp_path / "step-summary.md"
    completed = warm_grader.main("check", str(notebook), "--markdown", str(paths["md"]), "--html", str(paths["html"]),
                                 "--json", str(paths["json"]), "--data", str(standin_file), "--exercise", "keras-dense",
                                 env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary), "NO_COLOR": None})
    document = json.loads(paths["json"].read_text())
    assert document["status"] == "graded", completed.stderr[-2000:]
    failed = {c["id"]: c for c in document["checks"] if not c["passed"]}
    assert "model.output_layer" in failed and "set-output" in failed["model.output_layer"]["message"]
    assert any(c.get("ename") == "ValueError" for c in document["cells"])

    hostile.assert_terminal_safe(completed.stdout)
    hostile.assert_terminal_safe(completed.stderr)
    commands = [line for line in completed.stdout.splitlines() if line.lstrip().startswith("::")]
    # one annotation per mistake (a root cause, or a failed check no cause explains), and nothing else
    causes = {c["cause"] for c in failed.values() if c.get("cause")}
    assert len(commands) == len(causes) + sum(1 for c in failed.values() if not c.get("cause"))
    for line in commands:  # the command and its properties are ours; the student's text is data
        assert re.fullmatch(r"::error file=[^:,]*,title=[^:,]*::.*", line), line
    assert any("::set-output" in line.split("::", 2)[2] for line in commands)  # shown, as the message

    title = escaping.visible(f"{hostile.STUDENT}.ipynb · keras-dense")
    headings = [title, "What to fix, first things first", "Other checks that failed",
                f"Passed: {14 - len(failed)} of 14 checks", "Other cells that failed",
                "Your model beside the expected one (≠ marks a difference)",
                # The grader measures the model although its layer's name is no TensorFlow scope
                # name: it calls the model itself, where model.predict refused the name.
                "Test predictions"]
    assert document["metrics"]["test_accuracy"] is not None
    markdown = paths["md"].read_text()
    # fit and evaluate fail too (four units for three classes), quoting the layer's name
    hostile.assert_markdown_inert(markdown, headings, code_blocks=2)
    assert summary.read_text().strip() == markdown.strip()
    hostile.assert_html_inert(paths["html"].read_text())
    assert "\u202e" not in markdown + paths["html"].read_text()


def test_grade_in_github_actions_shows_a_hostile_student_as_text(tmp_path, standin_file, warm_grader):
    folder = tmp_path / "class"
    folder.mkdir()
    write_notebook(folder / f"{hostile.STUDENT}.ipynb", CELLS)
    # graded too: identity.py drops the escape codes from its id, which the summary spells out
    write_notebook(folder / f"{hostile.NAME}.ipynb", CELLS)
    summary = tmp_path / "step-summary.md"
    completed = warm_grader.main("grade", str(folder), "--out", str(tmp_path / "out"), "--jobs", "2", "--data",
                                 str(standin_file), "--exercise", "keras-dense",
                                 env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert completed.returncode == 0, completed.stderr[-2000:]
    hostile.assert_terminal_safe(completed.stdout)
    hostile.assert_terminal_safe(completed.stderr)
    for stream in (completed.stdout, completed.stderr):
        for line in stream.splitlines():
            if line.lstrip().startswith("::"):
                assert re.fullmatch(r"::(error|warning) file=[^:,]*,title=[^:,]*::.*", line), line
    assert sum(line.startswith("::") for line in completed.stdout.splitlines()) == 2  # one per student
    assert "2 submission(s): 2 graded, 0 could not be read or graded." in summary.read_text()
    hostile.assert_markdown_inert(summary.read_text(), ["autograder grade"])
    hostile.assert_html_inert((tmp_path / "out" / "summary.html").read_text())
