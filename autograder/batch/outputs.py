"""The output folder of `grade`: where each file goes and what it is called.

One object owns the layout, so the batch that writes the files and the summary
that links to them agree without importing each other.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

MAX_STEM = 80


def file_stem(student: str) -> str:
    """A file name for a student id: readable, and distinct for distinct ids of any length or case."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", student).strip("._") or "student"
    # A hash whenever the name is not the id itself: cleaned, cut, or differing only in case
    # from another id on a file system that ignores case (macOS, Windows).
    if cleaned != student or len(cleaned) > MAX_STEM or cleaned != cleaned.lower():
        cleaned = cleaned[:MAX_STEM] + "-" + hashlib.sha256(student.encode()).hexdigest()[:10]
    return cleaned


@dataclass(frozen=True)
class OutputFolder:
    root: Path

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.sqlite"

    @property
    def grades(self) -> Path:
        return self.root / "grades.csv"

    @property
    def canvas_grades(self) -> Path:
        """Canvas' gradebook import file (grade --format canvas)."""
        return self.root / "canvas-grades.csv"

    def feedback(self, lms: str) -> Path:
        """The students' reports as the LMS's bulk feedback upload takes them (desk/feedback.py)."""
        return self.root / f"feedback-{lms}.zip"

    @property
    def summary(self) -> Path:
        return self.root / "summary.html"

    @property
    def summary_json(self) -> Path:
        """The class summary for other tools (README.md, "summary.json")."""
        return self.root / "summary.json"

    def result(self, student: str) -> Path:
        return self.root / "results" / f"{file_stem(student)}.json"

    def report(self, student: str) -> Path:
        return self.root / self.report_link(student)

    @staticmethod
    def report_link(student: str) -> str:
        """The student's report, relative to the folder (as summary.html links to it)."""
        return f"reports/{file_stem(student)}.html"

    def create(self) -> None:
        for folder in (self.root, self.root / "results", self.root / "reports"):
            folder.mkdir(parents=True, exist_ok=True)
