"""The students' reports handed back: a zip an LMS's bulk feedback upload takes.

Moodle ("Upload multiple feedback files in a zip", mod/assign/feedback/file/importziplib.php):
each file sits in a folder named as the submissions download names a student's,
`<full name>_<participant id>_assignsubmission_file`, and Moodle finds the student by the
number after the first underscore. Moodle splits the folder name at underscores, so the name
part must hold none. A student whose file did not come from a Moodle download has no
participant id: they are left out and counted (their report is in reports/ all the same).

Every name in the zip is made here from the instructor's download, never taken as given:
a name is cut to letters, digits, spaces, dots and dashes, a participant id is digits only,
so no entry can leave the folder it is unpacked into.
"""
from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import decisions

MOODLE_FOLDER = "{name}_{participant}_assignsubmission_file"
MAX_NAME = 100


@dataclass(frozen=True)
class Written:
    path: Path
    students: int
    left_out: list[str]  # students with no Moodle participant id


def safe_name(name: str) -> str:
    """A student's name as an entry of the zip: no separators, no underscores (Moodle's field
    separator), no dots alone; never empty."""
    cleaned = re.sub(r"[^\w .-]+|_", " ", name, flags=re.UNICODE)
    cleaned = re.sub(r"\s+", " ", cleaned).strip(" .")
    return cleaned[:MAX_NAME] or "student"


def grade_note(final: decisions.Final) -> str:
    """The grade as the instructor decided it, for the student: a small HTML page beside the report."""
    result = final.outcome.result
    score = result.get("override", result.get("score"))
    shown = "not graded" if score is None else f"{score:g}"
    lines = [f"<p>Your grade for {html.escape(final.outcome.exercise or 'this exercise')}: "
             f"<strong>{shown}</strong> of {result.get('max_score', 0):g}.</p>"]
    if final.auto_score is not None and final.auto_score != score:
        lines.append(f"<p>The autograder's score was {final.auto_score:g}.</p>")
    if final.late_penalty is not None:
        lines.append(f"<p>{final.late_penalty:g} points were taken off for lateness.</p>")
    if final.comment:
        lines.append(f"<p>Your instructor's comment:</p><blockquote>{html.escape(final.comment)}</blockquote>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Your grade</title></head><body>"
            + "".join(lines) + "</body></html>\n")


def write_moodle(finals: Sequence[decisions.Final], path: Path, report_of: Callable[[str], Path]) -> Written:
    """feedback-moodle.zip: per Moodle student, their report and their grade note."""
    temporary = path.with_name(path.name + ".partial")
    left_out: list[str] = []
    students = 0
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as archive:
        for final in finals:
            submission = final.outcome.submission
            name = submission.name
            if name.lms != "moodle" or not name.user_id or not name.user_id.isascii() or not name.user_id.isdigit():
                left_out.append(submission.student)
                continue
            folder = MOODLE_FOLDER.format(name=safe_name(name.student), participant=name.user_id)
            exercise = safe_name(final.outcome.exercise or "exercise").replace(" ", "-")
            report = report_of(submission.student)
            if report.is_file():
                archive.write(report, f"{folder}/report-{exercise}.html")
            archive.writestr(f"{folder}/grade-{exercise}.html", grade_note(final))
            students += 1
    temporary.replace(path)
    return Written(path, students, left_out)
