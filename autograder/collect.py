"""Find the submissions of a class: folders, nbgrader's layout and LMS zip downloads.

Every input ends up either as a Submission (a student id and the notebook's
bytes) or as a Problem (a file and the reason it cannot be graded). Nothing
here raises for a bad input: a batch must survive whatever it is given.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .notebook import MAX_NOTEBOOK_BYTES

MAX_ARCHIVE_ENTRIES = 5000
MAX_ARCHIVE_BYTES = 2 * 2**30
MAX_COMPRESSION_RATIO = 200
SKIPPED_DIRS = {".ipynb_checkpoints", "__MACOSX", ".git"}
# Canvas: "smithalice_12345_67890_keras-dense.ipynb", late ones with "_LATE" after the name.
CANVAS = re.compile(r"^(?P<student>[^_]+?)(?:_LATE)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$")
# Moodle: "Alice Smith_12345_assignsubmission_file_keras-dense.ipynb"
MOODLE = re.compile(r"^(?P<student>.+?)_(?P<user>\d+)_assignsubmission_file_(?P<file>.+)$")


@dataclass
class Submission:
    student: str
    origin: str  # where it came from, for the instructor: a path, or archive!entry
    content: bytes
    order: tuple = ()  # later is newer, to choose among a student's duplicates
    exercise_hint: str | None = None  # an exercise id named in the file name, if any

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass
class Problem:
    origin: str
    reason: str


@dataclass
class Collection:
    submissions: list[Submission] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def student_from_name(file_name: str) -> tuple[str, tuple, str]:
    """(student id, ordering key, remaining file name) from an LMS download's file name."""
    match = CANVAS.match(file_name)
    if match:
        return match["student"], (int(match["submission"]),), match["file"]
    match = MOODLE.match(file_name)
    if match:
        return match["student"].strip(), (int(match["user"]),), match["file"]
    return PurePosixPath(file_name).stem, (), file_name


def _exercise_hint(name: str, known: tuple[str, ...]) -> str | None:
    stem = PurePosixPath(name).stem.lower()
    # the longest id first: "keras-deeper" must not be read as "keras-dense"
    for exercise in sorted(known, key=len, reverse=True):
        if exercise in stem:
            return exercise
    return None


def _student_of(relative: PurePosixPath) -> tuple[str, tuple, str]:
    """Student id for a notebook at `relative` inside a submissions folder."""
    parts = relative.parts
    if "submitted" in parts[:-1]:  # nbgrader: submitted/<student>/<assignment>/<notebook>.ipynb
        position = parts.index("submitted")
        if position + 1 < len(parts) - 1:
            return parts[position + 1], (), parts[-1]
    if len(parts) == 1:
        return student_from_name(parts[0])
    return parts[0], (), parts[-1]  # <student>/... : one folder per student


def _read_file(path: Path) -> tuple[bytes | None, str | None]:
    try:
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            return None, "a symbolic link, not a file"
        if info.st_size > MAX_NOTEBOOK_BYTES:
            return None, f"{info.st_size // 2**20} MiB, more than a notebook may be ({MAX_NOTEBOOK_BYTES // 2**20} MiB)"
        return path.read_bytes(), None
    except OSError as error:
        return None, f"cannot be read ({error.strerror or error})"


def _collect_folder(folder: Path, known: tuple[str, ...], found: Collection) -> None:
    notebooks = 0
    for directory, subdirs, files in os.walk(folder, followlinks=False):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            path = Path(directory) / name
            relative = PurePosixPath(path.relative_to(folder).as_posix())
            if name.startswith(".") and not name.endswith(".ipynb"):
                continue  # .DS_Store and other hidden clutter
            if name.endswith(".zip"):
                _collect_zip(path, known, found)
                continue
            if not name.endswith(".ipynb"):
                if len(relative.parts) == 1:  # a stray file among the notebooks
                    found.problems.append(Problem(str(path), "not a notebook (.ipynb)"))
                continue  # in a student's own folder: their data or notes, not a submission
            content, reason = _read_file(path)
            if content is None:
                found.problems.append(Problem(str(path), reason or "cannot be read"))
                continue
            notebooks += 1
            student, order, file_name = _student_of(relative)
            try:
                mtime = path.stat().st_mtime
            except OSError:
                mtime = 0.0
            found.submissions.append(Submission(student, str(path), content, order + (mtime,),
                                                _exercise_hint(file_name, known)))
    if notebooks == 0 and not any(p.origin.startswith(str(folder)) for p in found.problems):
        found.problems.append(Problem(str(folder), "an empty folder: no notebooks in it"))


def _unsafe_entry(info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) or ".." in PurePosixPath(name).parts \
            or "\\" in name:
        return "a path that leaves the archive"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if info.file_size > MAX_NOTEBOOK_BYTES:
        return f"{info.file_size // 2**20} MiB unpacked, more than a notebook may be"
    if info.compress_size and info.file_size / info.compress_size > MAX_COMPRESSION_RATIO:
        return "compressed suspiciously well (a zip bomb?)"
    return None


def _collect_zip(path: Path, known: tuple[str, ...], found: Collection) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        found.problems.append(Problem(str(path), f"not a readable zip archive ({error})"))
        return
    with archive:
        entries = archive.infolist()
        if len(entries) > MAX_ARCHIVE_ENTRIES:
            found.problems.append(Problem(str(path), f"{len(entries)} entries; at most "
                                                     f"{MAX_ARCHIVE_ENTRIES} are read from one archive"))
            return
        if sum(e.file_size for e in entries) > MAX_ARCHIVE_BYTES:
            found.problems.append(Problem(str(path), "unpacks to more than 2 GiB"))
            return
        notebooks = 0
        for info in entries:
            origin = f"{path}!{info.filename}"
            parts = PurePosixPath(info.filename).parts
            if not parts:
                found.problems.append(Problem(origin, "an entry without a name"))
                continue
            if info.is_dir() or any(p in SKIPPED_DIRS for p in parts) or parts[-1].startswith("."):
                continue
            reason = _unsafe_entry(info)
            if reason is None and not info.filename.endswith(".ipynb"):
                reason = "not a notebook (.ipynb)"
            if reason:
                found.problems.append(Problem(origin, reason))
                continue
            try:
                with archive.open(info) as handle:
                    content = handle.read(MAX_NOTEBOOK_BYTES + 1)
            except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as error:
                found.problems.append(Problem(origin, f"cannot be unpacked ({error})"))
                continue
            if len(content) > MAX_NOTEBOOK_BYTES:
                found.problems.append(Problem(origin, "larger than a notebook may be"))
                continue
            notebooks += 1
            student, order, file_name = _student_of(PurePosixPath(*parts))
            stamp = time.mktime(info.date_time + (0, 0, -1))
            found.submissions.append(Submission(student, origin, content, order + (stamp,),
                                                _exercise_hint(file_name, known)))
        if notebooks == 0:
            found.problems.append(Problem(str(path), "an archive with no notebooks in it"))


def valid_student_id(student: str) -> str | None:
    """Why a student id cannot be used, or None when it can."""
    if not student.strip():
        return "no student id could be read from its name"
    if len(student) > 200 or any(ord(ch) < 32 for ch in student):
        return "its name does not give a usable student id"
    return None


def collect(inputs: list[str], known_exercises: tuple[str, ...]) -> Collection:
    """All submissions under the given files, folders and archives; a student's latest wins."""
    found = Collection()
    for item in inputs:
        path = Path(item)
        try:
            if path.is_dir():
                _collect_folder(path, known_exercises, found)
            elif path.suffix == ".zip" and path.is_file():
                _collect_zip(path, known_exercises, found)
            elif path.suffix == ".ipynb" and path.is_file():
                content, reason = _read_file(path)
                if content is None:
                    found.problems.append(Problem(str(path), reason or "cannot be read"))
                    continue
                student, order, file_name = student_from_name(path.name)
                found.submissions.append(Submission(student, str(path), content, order,
                                                    _exercise_hint(file_name, known_exercises)))
            elif path.exists():
                found.problems.append(Problem(str(path), "not a notebook, a folder or a zip archive"))
            else:
                found.problems.append(Problem(str(path), "does not exist"))
        except OSError as error:
            found.problems.append(Problem(str(path), f"cannot be read ({error.strerror or error})"))
        except Exception as error:  # noqa: BLE001 - an input we did not foresee is a problem, not a crash
            found.problems.append(Problem(str(path), f"cannot be read ({type(error).__name__}: "
                                                     f"{str(error)[:200]})".replace("\n", " ")))
    kept: dict[str, Submission] = {}
    for submission in found.submissions:
        reason = valid_student_id(submission.student)
        if reason:
            found.problems.append(Problem(submission.origin, reason))
            continue
        other = kept.get(submission.student)
        if other is None:
            kept[submission.student] = submission
            continue
        newer, older = (submission, other) if submission.order > other.order else (other, submission)
        kept[submission.student] = newer
        found.problems.append(Problem(older.origin, f"a second submission of {submission.student}; "
                                                    f"the newer one ({newer.origin}) was graded"))
    found.submissions = sorted(kept.values(), key=lambda s: s.student)
    return found
