"""GitHub Actions output: workflow commands that GitHub parses as intended."""
from __future__ import annotations

from autograder import github


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
