"""Notebooks graded side by side never share a network unless the instructor accepts it.

Without bubblewrap each kernel still gets a network namespace of its own where `unshare --net`
works (proved for real in test_sandbox.py); where none can be made, `grade --jobs N` refuses
to run notebooks at once, and the result and the reports say the network was shared. These
tests stand in a machine without namespaces by replacing what `unshare` was found to allow."""
from __future__ import annotations

import pytest

from autograder import cli
from autograder.report import model, terminal
from autograder.sandbox import isolation
from reports import result_of


@pytest.fixture
def no_namespaces(monkeypatch):
    monkeypatch.setattr(isolation, "namespace_prefix", lambda: [])


def test_notebooks_side_by_side_without_a_network_of_their_own_need_the_instructors_word(no_namespaces):
    assert isolation.network_of(isolation.RLIMITS) == isolation.SHARED_NETWORK
    assert isolation.network_of(isolation.BUBBLEWRAP) == isolation.OWN_NETWORK
    problem = isolation.side_by_side_problem(isolation.RLIMITS, 2, accepted=False)
    assert problem and "\n" not in problem and "--shared-network" in problem and "--jobs 1" in problem
    assert isolation.side_by_side_problem(isolation.RLIMITS, 1, accepted=False) is None
    assert isolation.side_by_side_problem(isolation.RLIMITS, 4, accepted=True) is None
    assert isolation.side_by_side_problem(isolation.BUBBLEWRAP, 4, accepted=False) is None


def test_with_a_network_namespace_side_by_side_is_allowed(monkeypatch):
    monkeypatch.setattr(isolation, "namespace_prefix", lambda: ["unshare", "--pid", "--net"])
    assert isolation.side_by_side_problem(isolation.RLIMITS, 8, accepted=False) is None


def test_grade_refuses_jobs_on_a_shared_network_with_one_line_and_exit_2(no_namespaces, tmp_path, capsys):
    (tmp_path / "class").mkdir()
    common = ["grade", str(tmp_path / "class"), "--out", str(tmp_path / "out"), "--isolation", "rlimits"]
    assert cli.main([*common, "--jobs", "2"]) == 2
    shown = capsys.readouterr().err
    assert shown.count("\n") == 1 and "would share this machine's network" in shown
    assert not (tmp_path / "out").exists()  # refused before anything was written
    # Accepted, or one at a time: graded (an empty class here, which says it found nothing: exit 1).
    for accepted in (["--jobs", "2", "--shared-network"], ["--jobs", "1"]):
        assert cli.main([*common, *accepted]) == 1
        assert (tmp_path / "out" / "grades.csv").exists() and "share" not in capsys.readouterr().err


def test_a_result_graded_on_a_shared_network_says_so():
    document, exercise = result_of("reference")
    document.update(isolation="rlimits", network="shared")
    report = model.build(document, exercise, None)
    assert report.isolation == "rlimits, sharing the grading machine's network"
    assert "isolated with rlimits, sharing the grading machine's network" in terminal.render(report, color=False)
    document["network"] = "own"
    assert model.build(document, exercise, None).isolation == "rlimits"
