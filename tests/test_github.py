"""GitHub Actions output: workflow commands that GitHub parses as intended."""
from __future__ import annotations

from autograder.report import github


def test_annotations_encode_what_would_end_or_split_the_command():
    line = github.annotation("error", "sub/a,b:c.ipynb", "fit.settings (0/10)", "100% wrong\nNext step: x")
    assert line == ("::error file=sub/a%2Cb%3Ac.ipynb,title=fit.settings (0/10)::100%25 wrong%0ANext step: x")
    assert "\n" not in line


def test_a_notebook_that_could_not_be_graded_is_one_error(tmp_path):
    document = {"status": "invalid", "reason": "not valid JSON", "checks": [{"id": "data.load", "passed": False}]}
    assert github.check_annotations(document, "x.ipynb") == ["::error file=x.ipynb,title=not graded::not valid JSON"]


def test_summary_is_appended_and_only_when_asked(tmp_path, monkeypatch):
    path = tmp_path / "summary.md"
    monkeypatch.delenv(github.SUMMARY_VARIABLE, raising=False)
    assert not github.active()
    github.append_summary("ignored")
    assert not path.exists()
    monkeypatch.setenv(github.SUMMARY_VARIABLE, str(path))
    github.append_summary("# one")
    github.append_summary("# two\n")
    assert path.read_text() == "# one\n\n# two\n\n"


def test_a_notebook_graded_without_bubblewrap_is_a_warning():
    document = {"status": "graded", "isolation": "rlimits", "checks": [{"id": "data.load", "passed": True}]}
    lines = github.check_annotations(document, "x.ipynb")
    assert len(lines) == 1 and lines[0].startswith("::warning file=x.ipynb,title=isolation%3A rlimits::")
    assert "bubblewrap" in lines[0]
    assert github.check_annotations({**document, "isolation": "bubblewrap"}, "x.ipynb") == []


def test_one_annotation_per_mistake_not_per_check_it_fails():
    """A missing import fails most of the checks: one ::error names it, where it was made and
    the fix, with the checks it costs; a check no cause explains keeps an ::error of its own."""
    from autograder.report.escaping import workflow_property
    from reports import result_of

    document, _ = result_of("cascade-missing-import")
    failed = [c for c in document["checks"] if not c["passed"]]
    causes = [cause for cause in document["causes"] if cause["checks"]]
    own = [c for c in failed if c["cause"] is None]
    lines = [line for line in github.check_annotations(document, "x.ipynb") if line.startswith("::error")]
    assert len(failed) > len(causes) + len(own) and len(lines) == len(causes) + len(own)
    first = causes[0]
    title = lines[0].split(",title=", 1)[1].split("::", 1)[0]
    lost = sum(c["max_points"] - c["points"] for c in failed if c["cause"] == first["id"])
    assert lost > 0 and title == workflow_property(f"{first['where']}: {first['title']}") + f" (-{lost:g} points)"
    assert "Next step%3A " not in lines[0] and "%0ANext step: " in lines[0]
    assert all(check_id in lines[0] for check_id in first["checks"])
