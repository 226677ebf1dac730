"""GitHub Actions: the Markdown report in the job summary, mistakes as annotations.

Active only when the runner sets GITHUB_STEP_SUMMARY (GitHub Actions does, for every
step); elsewhere these functions do nothing, so `check` and `grade` print as usual.

Student names, file names and messages reach both: in the summary they are escaped
Markdown text (no heading, link, image, HTML or table cell of theirs), in a workflow
command they are encoded so that no `::set-output`, `::add-mask` or other command of
theirs can start (report/escaping.py).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .escaping import clip, markdown_text, visible, workflow_data, workflow_property

if TYPE_CHECKING:
    from ..grading.result import ResultDocument

SUMMARY_VARIABLE = "GITHUB_STEP_SUMMARY"


def active() -> bool:
    return bool(os.environ.get(SUMMARY_VARIABLE))


def append_summary(markdown: str) -> None:
    """Append to the job summary; a summary that cannot be written is said, not fatal."""
    path = os.environ.get(SUMMARY_VARIABLE)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown.rstrip("\n") + "\n\n")
    except OSError as error:
        print(f"autograder: cannot append to {SUMMARY_VARIABLE} ({visible(path, one_line=True)}): "
              f"{error.strerror or error}")


# GitHub shows an annotation's first lines only; a longer message is cut, not refused.
MAX_MESSAGE = 2000
MAX_CELL = 300


def annotation(level: str, file: str, title: str, message: str) -> str:
    return (f"::{level} file={workflow_property(clip(file, MAX_CELL))},"
            f"title={workflow_property(clip(title, MAX_CELL))}::{workflow_data(clip(message, MAX_MESSAGE))}")


def _points(result: ResultDocument) -> str:
    try:
        return f"{result.get('score', 0):g}/{result.get('max_score', 0):g}"
    except (TypeError, ValueError):
        return "?"


def check_annotations(document: ResultDocument, notebook: str) -> list[str]:
    """One ::error per mistake: per root cause (where it was made, what to do, the checks it
    costs), and per failed check no cause explains (its message and hint); or one for a
    notebook that could not be graded. GitHub shows a step's first few annotations only: one
    mistake must not fill them with the checks it fails."""
    from ..grading.result import check_text

    if document.get("status") == "invalid":
        return [annotation("error", notebook, "not graded", str(document.get("reason") or "not graded"))]
    lines = isolation_warnings([document.get("isolation")], notebook)
    failed = [check for check in document.get("checks", []) if not check.get("passed")]
    causes = document.get("causes") or []
    for cause in causes:
        explained = [check for check in failed if check.get("cause") == cause["id"]]
        if not explained:
            continue
        lost = sum(check.get("max_points", 0) - check.get("points", 0) for check in explained)
        place = f"{cause['where']}: " if cause.get("where") else ""
        title = f"{place}{cause['title']} (-{lost:g} points)"
        ids = ", ".join(check["id"] for check in explained)
        lines.append(annotation("error", notebook, title,
                                f"{cause['message']}\nNext step: {cause['next_step']}\nChecks it fails: {ids}"))
    known = {cause["id"] for cause in causes}
    for check in failed:
        if check.get("cause") not in known:
            title = f"{check['id']} ({check.get('points', 0):g}/{check.get('max_points', 0):g})"
            lines.append(annotation("error", notebook, title, check_text(check)))
    return lines


def _failed(result: ResultDocument) -> list[str]:
    return [str(c.get("id")) for c in result.get("checks") or [] if not c.get("passed")]


def batch_annotations(report) -> list[str]:
    """One ::error per student who did not pass everything (GitHub shows only the first few
    annotations of a step, so not one per check), one ::warning per unreadable file."""
    lines = []
    # This run's files only: a student kept from an earlier run has no file here to point at.
    this_run = [o for o in report.outcomes if not getattr(o, "kept", False)]
    for outcome in sorted(this_run, key=lambda o: o.submission.student):
        result = outcome.result
        failed = _failed(result)
        if result.get("status") == "invalid":
            message = str(result.get("reason") or "not graded")
        elif failed or result.get("status") != "graded":
            message = f"{result.get('status')}; failed: {', '.join(failed) or 'none'}"
        else:
            continue
        file = outcome.submission.origin.split("!")[0]  # inside an archive: the archive
        lines.append(annotation("error", file, f"{outcome.submission.student}: {_points(result)}", message))
    lines += [annotation("warning", p.origin.split("!")[0], "not graded", p.reason) for p in report.problems]
    return isolation_warnings([o.result.get("isolation") for o in report.outcomes], "grades.csv") + lines


WEAK_ISOLATION = ("graded with resource limits only, without bubblewrap: notebooks could read this machine's "
                  "files. Install bubblewrap for the sandbox.")


def isolation_warnings(isolations: list[str | None], file: str) -> list[str]:
    """One ::warning when any notebook ran without bubblewrap's sandbox."""
    weak = sorted({i for i in isolations if i and i != "bubblewrap"})
    return [annotation("warning", file, f"isolation: {', '.join(weak)}", WEAK_ISOLATION)] if weak else []


def batch_summary(report) -> str:
    """A class's results as Markdown: one row per student, then what could not be read."""
    rows = ["## autograder grade", "",
            f"{report.counts()}.", "",
            "| student | score | status | failed checks |", "| --- | --- | --- | --- |"]
    for outcome in sorted(report.outcomes, key=lambda o: o.submission.student):
        result = outcome.result
        failed = _failed(result)
        score = _points(result) if result.get("status") != "invalid" else "-"
        rows.append(f"| {_cell(outcome.submission.student)} | {score} | {_cell(result.get('status'))} | "
                    f"{_cell(', '.join(failed) or result.get('reason') or '')} |")
    if report.problems:
        rows += ["", "| file | why it was not graded |", "| --- | --- |"]
        rows += [f"| {_cell(Path(p.origin).name)} | {_cell(p.reason)} |" for p in report.problems]
    return "\n".join(rows)


def _cell(text: object) -> str:
    """Student text as one table cell of plain text."""
    return markdown_text(clip(visible(text, one_line=True), MAX_CELL))
