"""Student text through every renderer: terminal, progress lines, Markdown, HTML, GitHub.

Fast: the hostile text is put into a recorded result document, which is then rendered
as `check` and `grade` render it.
"""
from __future__ import annotations

import copy
import io
import re
from types import SimpleNamespace

import pytest

import hostile
import reports
from autograder.batch import progress
from autograder.batch.run import BatchReport
from autograder.exercise import registry as exercises
from autograder.report import documents, escaping, github, model, terminal
from reports import result_of

OUR_HEADINGS = ["What was not graded", "What to fix, first things first", "Other checks that failed",
                "Passed: 9 of 14 checks", "Other cells that failed",
                "Your model beside the expected one (≠ marks a difference)", "Training"]


def hostile_result() -> dict:
    """The failing lesson notebook's result, with hostile text wherever a notebook puts text."""
    document, _ = result_of("lesson-as-printed")
    document = copy.deepcopy(document)
    document["notebook"] = hostile.NAME + ".ipynb"
    failing = [cell for cell in document["cells"] if cell["status"] == "error"]
    failing[0]["source"] = f"{hostile.FENCE}\nmodel.fit(x)  # {hostile.EVERYTHING}\n{hostile.HEADING}"
    failing[0]["ename"] = hostile.NAME
    failing[0]["evalue"] = hostile.EVERYTHING.replace("\n", " ")
    failing[0]["explanation"] = hostile.EVERYTHING
    failing[0].pop("cause")  # shown as a failed cell of its own, not only as a cause's code
    document["cells"].append({"index": 40, "status": "timeout", "limit_s": 5, "source": hostile.EVERYTHING})
    failed = next(check for check in document["checks"] if not check["passed"])
    failed["message"] = f"your loss `{hostile.NAME}` {hostile.EVERYTHING}"
    failed["hint"] = hostile.EVERYTHING
    failed["cause"] = None  # shown on a card of its own, with its message
    layers = document["details"]["graded_model"]["structure"]["layers"]
    layers[1]["activation"] = hostile.EVERYTHING
    document["details"]["history"] = {"loss": [1.0, 0.5], hostile.NAME: [0.5, 0.7]}
    return document


@pytest.fixture(scope="module")
def report() -> model.Report:
    return model.build(hostile_result(), exercises.get("keras-dense"), reports.test_images())


@pytest.mark.parametrize("text, shown", [
    ("plain text, é 中 🙂", "plain text, é 中 🙂"),
    ("a\x1b[31mred\x1b[0m", "a[31mred[0m"),
    ("safe\u202eevil\u2066x\u2069", "safeevilx"),
    ("zero\u200bwidth\ufeff\u00ad", "zerowidth"),
    ("line\rover\x85\u2028written", "lineoverwritten"),
    ("tab\tand\nnewline", "tab\tand\nnewline"),
])
def test_visible_text_is_what_it_says(text, shown):
    assert escaping.visible(text) == shown
    assert escaping.visible(text, one_line=True) == shown.replace("\n", " ").replace("\t", " ")


def test_a_fence_is_longer_than_any_backtick_run():
    assert escaping.fence("print(1)") == "```"
    assert escaping.fence("a ```` b\n```") == "`````"
    assert escaping.markdown_code("``x|y") == "``` ``x|y ```"
    assert escaping.markdown_code("x|y", in_table=True) == "`x\\|y`"


def test_markdown_text_renders_as_itself():
    from markdown_it import MarkdownIt

    for text in (hostile.EVERYTHING, hostile.NAME, "1. not a list", "12) nor this", "- nor this", "+ this",
                 "---", "> quote", "a *b* _c_ ~~d~~ &amp; $x$ [x]: y", "    indented", "<div>", "Next step: x"):
        for line in (escaping.markdown_text(text), "- " + escaping.markdown_text(text)):
            page = MarkdownIt("commonmark").enable("table").enable("strikethrough").render(line)
            shown = _html(escaping.visible(text, one_line=True).strip())
            assert page in (f"<p>{shown}</p>\n", f"<ul>\n<li>{shown}</li>\n</ul>\n"), (text, page)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def test_our_messages_keep_their_code_spans():
    assert escaping.markdown_message("- the loss `a|b` is *wrong*: see `x`.") == \
        "\\- the loss `a|b` is \\*wrong\\*: see `x`."
    assert escaping.markdown_message("`a|b`", in_table=True) == "`a\\|b`"


def test_terminal_summary_shows_student_text_without_its_escapes(report):
    for colour in (False, True):
        text = terminal.render(report, color=colour, width=90)
        hostile.assert_terminal_safe(text, colours=colour)
    assert "[31m" in text and "set-output" in text  # shown, as text


def test_no_terminal_line_is_a_github_workflow_command(report):
    commands = copy.deepcopy(report)
    commands.checks[0] = {**commands.checks[0], "message": " ".join(["::stop-commands::x"] * 50),
                          "hint": "::add-mask::y", "cause": None}
    commands.not_graded = [" ".join(["::error::z"] * 50)]
    for colour in (False, True):
        lines = terminal.render(commands, color=colour, width=90).splitlines()
        assert sum("stop-commands" in line for line in lines) > 5
        assert not any(line.lstrip().startswith("::") for line in lines)
    assert escaping.not_a_command("   ::x::y") == "   %3A%3Ax::y" and escaping.not_a_command("a ::b") == "a ::b"


def test_huge_messages_are_cut_on_the_terminal(report):
    huge = copy.deepcopy(report)
    huge.checks[0] = {**huge.checks[0], "message": "x" * 10**6, "cause": None}
    text = terminal.render(huge, width=90)
    assert len(text) < 20_000 and "more characters" in text


def test_huge_cells_and_messages_are_cut_in_the_documents(report):
    huge = copy.deepcopy(report)
    lines = [{"number": n, "text": "y" * 10**4, "marked": n == 900} for n in range(1, 10**4)]
    huge.failing_cells[0] = {**huge.failing_cells[0], "lines": lines, "explanation": "z" * 10**6}
    huge.checks[0] = {**huge.checks[0], "message": "x" * 10**6}
    for text in (documents.render_markdown(huge), documents.render_html(huge)):
        assert 4 * 10**5 < len(text) < 10**6  # 200 lines of 2,000 characters
        assert "(799 lines left out)" in text and "(9000 lines left out)" in text and "more characters" in text
    shown = documents.shown_lines(lines)
    assert len(shown) == documents.MAX_LINES + 2 and shown[1]["number"] == 800 and shown[101]["marked"]


def test_markdown_report_keeps_student_text_inside_code_and_text(report):
    text = documents.render_markdown(report)
    title = escaping.visible(f"{hostile.NAME}.ipynb · keras-dense")
    hostile.assert_markdown_inert(text, [title, *OUR_HEADINGS], code_blocks=4)
    assert "model.fit(x)" in text and "click me" in text  # still shown


def test_html_report_shows_hostile_text_inert(report):
    page = documents.render_html(report)
    hostile.assert_html_inert(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "\x1b" not in page and "\u202e" not in page


def _outcome(student: str, result: dict, origin: str | None = None):
    submission = SimpleNamespace(student=student, origin=origin or f"class/{student}.ipynb")
    return SimpleNamespace(submission=submission, result=result, reused=False, exercise="keras-dense")


def hostile_batch():
    honest, _ = result_of("reference")
    odd = {**honest, "score": "NaN", "max_score": None, "status": hostile.NAME, "checks": [{"id": hostile.NAME}],
           "duration_s": "slow"}
    invalid = {"status": "invalid", "reason": hostile.EVERYTHING * 1000, "checks": [], "score": 0, "max_score": 100}
    outcomes = [_outcome("honest", honest), _outcome(hostile.NAME, odd),
                _outcome("invalid" + hostile.BIDI, invalid, origin=f"x/{hostile.NAME}.zip!inner/{hostile.NAME}")]
    problems = [SimpleNamespace(origin=f"class/{hostile.NAME}.ipynb", reason=hostile.EVERYTHING)]
    return BatchReport(outcomes=outcomes, problems=problems)


def test_progress_lines_show_odd_results_without_escapes():
    stream = io.StringIO()
    lines = progress.LogProgress(stream)
    batch = hostile_batch()
    lines.start(len(batch.outcomes), 0)
    for outcome in batch.outcomes:
        lines.advance(outcome)
    lines.finish(batch)
    text = stream.getvalue()
    hostile.assert_terminal_safe(text)
    assert text.count("\n") == 1 + len(batch.outcomes)
    assert "honest: 100/100 pass (graded, " in text and ": NaN/None fail (" in text


def test_github_summary_of_a_hostile_class_is_one_plain_table():
    text = github.batch_summary(hostile_batch())
    hostile.assert_markdown_inert(text, ["autograder grade"])
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 3 + 2 + 1  # header, three students, header, one problem
    cells = [len(re.findall(r"(?<!\\)\|", line)) - 1 for line in rows]  # columns: unescaped bars - 1
    assert cells == [4] * 5 + [2] * 3
    assert len(text) < 10_000


@pytest.mark.parametrize("text", [hostile.EVERYTHING, hostile.NAME, hostile.WORKFLOW, "100% sure"])
def test_a_workflow_command_carries_student_text_as_data(text):
    line = github.annotation("error", f"dir/{text}.ipynb", f"{text}: 0/100", text)
    assert "\n" not in line and "\r" not in line
    hostile.assert_terminal_safe(line)
    head, message = line.split("::", 2)[1:]
    assert head.startswith("error file=dir/") and head.count(",") == 1 and ":" not in head
    assert _decode(message) == escaping.visible(text)
    title = escaping.clip(f"{text}: 0/100", github.MAX_CELL)
    assert _decode(head.split(",title=")[1]) == escaping.visible(title)


def _decode(data: str) -> str:
    return data.replace("%0A", "\n").replace("%0D", "\r").replace("%3A", ":").replace("%2C", ",") \
        .replace("%25", "%")


def test_annotations_of_a_hostile_class_are_one_line_each():
    batch = hostile_batch()
    lines = github.batch_annotations(batch)
    assert len(lines) == 3  # the two students who did not pass, the unreadable file
    for line in lines:
        assert line.startswith(("::error file=", "::warning file=")) and "\n" not in line
        hostile.assert_terminal_safe(line)
    assert all(len(line) < 3 * github.MAX_MESSAGE for line in lines)
