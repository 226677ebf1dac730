"""Find the submissions of a class: folders, nbgrader's layout and LMS zip downloads.

Whose file is whose comes only from what the instructor handed in:
- a notebook given by path, or at the top of a folder: its file name (an LMS's naming,
  e.g. Canvas' `smithalice_12345_67890_keras-dense.ipynb`, or just `alice.ipynb`);
- a folder at the top of a folder: one student's (`<student>/...`, nbgrader's
  `submitted/<student>/<assignment>/`, Moodle's `Alice Smith_4242_assignsubmission_file_/`);
- a zip given by path: an LMS download, whose top-level entries are read the same way.
Anything deeper is the student's own material. A zip inside a student's folder or
submission is never opened: it cannot hand in, or replace, another student's notebook.

Every input ends up either as a Submission (a student id and the notebook's bytes) or as a
Problem (a file and the reason it is not graded). Nothing here raises for a bad input.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .. import identity
from ..notebook import MAX_NOTEBOOK_BYTES

MAX_ARCHIVE_ENTRIES = 5000
MAX_ARCHIVE_BYTES = 2 * 2**30
MAX_COMPRESSION_RATIO = 200
MAX_STUDENT_ID = 200
SKIPPED_DIRS = {".ipynb_checkpoints", "__MACOSX", ".git"}
# Canvas: "smithalice_12345_67890_keras-dense.ipynb"; late ones with "_late" (or "_LATE") after the name.
CANVAS = re.compile(r"^(?P<student>[^_]+?)(?P<late>_late)?_(?P<user>\d+)_(?P<submission>\d+)_(?P<file>.+)$",
                    re.IGNORECASE | re.ASCII)
# Moodle: "Alice Smith_12345_assignsubmission_file_keras-dense.ipynb", or a folder of that name
# ending in "_assignsubmission_file_".
MOODLE = re.compile(r"^(?P<student>.+?)_(?P<user>\d+)_assignsubmission_(?:file|onlinetext)_(?P<file>.*)$", re.ASCII)
NBGRADER = "submitted"


@dataclass(frozen=True)
class LmsName:
    """What a name in the instructor's layout says: whose it is and the LMS's own ids."""

    student: str
    file: str  # the rest of the name: the file as the student uploaded it
    lms: str | None = None  # "canvas", "moodle", or None for a plain name
    user_id: str | None = None
    submission_id: str | None = None
    late: bool | None = None  # None when the name cannot say

    @property
    def order(self) -> tuple[int, ...]:
        """The LMS's own order of a student's submissions: a later one has a larger number."""
        return (int(self.submission_id),) if self.submission_id else ()


@dataclass
class Submission:
    student: str
    origin: str  # where it came from, for the instructor: a path, or archive!entry
    content: bytes
    name: LmsName = field(default_factory=lambda: LmsName("", ""))
    exercise_hint: str | None = None  # the exercise the instructor's names give (released file, assignment)
    notes: list[str] = field(default_factory=list)  # what the instructor should look at; graded anyway
    #: The seed its kernel fixes, when not the plan's: set only by the instructor's own tools
    #: (`exercise prove` trains the solution with several seeds), never from a submission.
    seed: int | None = None

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


def student_from_name(name: str) -> LmsName:
    """Whose a top-level file or folder is, from its name, with the LMS's ids when it has them."""
    match = CANVAS.match(name)
    if match:
        return LmsName(match["student"], match["file"], "canvas", match["user"], match["submission"],
                       bool(match["late"]))
    match = MOODLE.match(name)
    if match:
        return LmsName(match["student"].strip(), match["file"], "moodle", match["user"])
    return LmsName(PurePosixPath(name).stem if name.endswith(".ipynb") else name, name)


def _exercise_hint(name: str, known: tuple[str, ...]) -> str | None:
    stem = PurePosixPath(name).stem.lower()
    # the longest id first: "keras-deeper" must not be read as "keras-dense"
    for exercise in sorted(known, key=len, reverse=True):
        if exercise in stem:
            return exercise
    return None


@dataclass(frozen=True)
class Place:
    """A notebook's place in the instructor's layout: whose it is (with the LMS's ids, and its
    order only for a file right at the top) and the name that may give the exercise."""

    name: LmsName
    hint_name: str


def place_of(parts: tuple[str, ...], known: tuple[str, ...], in_submitted: bool = False) -> Place:
    """Whose the notebook at `parts` (relative to a folder or an LMS download) is.
    `in_submitted`: the folder handed in is nbgrader's submitted/ itself."""
    if in_submitted:
        parts = (NBGRADER, *parts)
    if NBGRADER in parts[:-2]:  # nbgrader: submitted/<student>/<assignment>/.../<notebook>.ipynb
        position = parts.index(NBGRADER)
        assignment = parts[position + 2] if position + 3 < len(parts) else ""
        # nbgrader's assignment folder is the instructor's name for the exercise
        hint = assignment if assignment in known else parts[-1]
        return Place(LmsName(parts[position + 1], parts[-1]), hint)
    if len(parts) == 1:
        name = student_from_name(parts[0])
        return Place(name, name.file)
    owner = student_from_name(parts[0])  # <student>/... : one folder per student
    return Place(LmsName(owner.student, parts[-1], owner.lms, owner.user_id), parts[-1])


def _nested_archive(owner: str) -> str:
    return (f"an archive inside {identity.shown(owner)}'s own submission, not opened: it is that student's "
            "material at most, never a source of other students' submissions")


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
    in_submitted = folder.resolve().name == NBGRADER
    for directory, subdirs, files in os.walk(folder, followlinks=False):
        subdirs[:] = sorted(d for d in subdirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            path = Path(directory) / name
            parts = PurePosixPath(path.relative_to(folder).as_posix()).parts
            if name.startswith(".") and not name.endswith(".ipynb"):
                continue  # .DS_Store and other hidden clutter
            if name.endswith(".zip"):
                owner = place_of(parts, known, in_submitted).name
                if len(parts) == 1 and owner.lms is None:
                    found.problems.append(Problem(str(path), "an archive inside a folder, not opened: give an "
                                                             "LMS download on the command line itself"))
                else:
                    found.problems.append(Problem(str(path), _nested_archive(owner.student)))
                continue
            if not name.endswith(".ipynb"):
                if len(parts) == 1:  # a stray file among the notebooks
                    found.problems.append(Problem(str(path), "not a notebook (.ipynb)"))
                continue  # in a student's own folder: their data or notes, not a submission
            content, reason = _read_file(path)
            if content is None:
                found.problems.append(Problem(str(path), reason or "cannot be read"))
                continue
            notebooks += 1
            _add(found, place_of(parts, known, in_submitted), str(path), content, known)
    if notebooks == 0 and not any(p.origin.startswith(str(folder)) for p in found.problems):
        found.problems.append(Problem(str(folder), "an empty folder: no notebooks in it"))


def _add(found: Collection, place: Place, origin: str, content: bytes, known: tuple[str, ...]) -> None:
    found.submissions.append(Submission(place.name.student, origin, content, place.name,
                                        _exercise_hint(place.hint_name, known)))


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
    """An LMS download the instructor handed in: its top-level entries are the students."""
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
            if reason is None and info.filename.endswith(".zip"):
                reason = _nested_archive(place_of(parts, known).name.student)
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
            _add(found, place_of(parts, known), origin, content, known)
        if notebooks == 0:
            found.problems.append(Problem(str(path), "an archive with no notebooks in it"))


def valid_student_id(student: str) -> str | None:
    """Why a (normalised) student id cannot be used, or None when it can."""
    if not student:
        return "no student id could be read from its name"
    if len(student) > MAX_STUDENT_ID:
        return f"its name gives a student id of {len(student)} characters; at most {MAX_STUDENT_ID} are used"
    return None


def _read_inputs(inputs: list[str], known: tuple[str, ...], found: Collection) -> None:
    for item in inputs:
        path = Path(item)
        try:
            if path.is_dir():
                _collect_folder(path, known, found)
            elif path.suffix == ".zip" and path.is_file():
                _collect_zip(path, known, found)
            elif path.suffix == ".ipynb" and path.is_file():
                content, reason = _read_file(path)
                if content is None:
                    found.problems.append(Problem(str(path), reason or "cannot be read"))
                    continue
                _add(found, place_of((path.name,), known), str(path), content, known)
            elif path.exists():
                found.problems.append(Problem(str(path), "not a notebook, a folder or a zip archive"))
            else:
                found.problems.append(Problem(str(path), "does not exist"))
        except OSError as error:
            found.problems.append(Problem(str(path), f"cannot be read ({error.strerror or error})"))
        except Exception as error:  # noqa: BLE001 - an input we did not foresee is a problem, not a crash
            found.problems.append(Problem(str(path), f"cannot be read ({type(error).__name__}: "
                                                     f"{str(error)[:200]})".replace("\n", " ")))


def _identities(found: Collection) -> dict[str, list[Submission]]:
    """Normalise every id; submissions by final id, with ids that collide told apart and flagged."""
    by_id: dict[str, dict[tuple[str, str | None], list[Submission]]] = defaultdict(lambda: defaultdict(list))
    for submission in found.submissions:
        raw = submission.student
        student = identity.normalise(raw)
        reason = valid_student_id(student)
        if reason:
            found.problems.append(Problem(submission.origin, reason))
            continue
        if student != raw:
            submission.notes.append(f"its name {identity.shown(raw)} was read as the id {identity.shown(student)} "
                                    "(invisible, direction-changing or compatibility characters)")
        submission.student = student
        by_id[student][(raw, submission.name.user_id)].append(submission)
    final: dict[str, list[Submission]] = {}
    for student, people in by_id.items():
        if len(people) == 1:
            final[student] = next(iter(people.values()))
            continue
        # Two people (different names, or the same name with different LMS user ids) read as one id:
        # never merged, never one replacing the other; each gets an id of their own. A name that was
        # the id already keeps it: a lookalike cannot take an honest student's id away.
        plain = [key for key in people if key[0] == student]
        for (raw, user), submissions in people.items():
            suffix = user or hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
            apart = student if plain == [(raw, user)] else f"{student}~{suffix}"
            others = ", ".join(identity.shown(r) + (f" (LMS user {u})" if u else "") for r, u in people
                               if (r, u) != (raw, user))
            for submission in submissions:
                submission.notes.append(f"{identity.shown(raw)}{f' (LMS user {user})' if user else ''} and "
                                        f"{others} read as one id {identity.shown(student)}: graded apart as "
                                        f"{identity.shown(apart)}; check who is who")
                submission.student = apart
            final[apart] = submissions
    return final


def _choose(student: str, candidates: list[Submission], found: Collection) -> Submission:
    """One notebook of a student: the LMS's latest by its own numbering; every other is listed."""
    ordered = sorted(candidates, key=lambda s: (s.name.order, s.origin))
    kept = ordered[-1]
    by_lms = all(s.name.order for s in candidates) and len({s.name.order for s in candidates}) == len(candidates)
    # The kept file's name is in the reason, which is one line: a stored name may hold newlines.
    kept_shown = identity.shown(kept.origin)
    for other in ordered[:-1]:
        if by_lms:
            reason = (f"replaced by a later submission of {identity.shown(student)} ({kept_shown}), "
                      "by the LMS's own submission number")
        else:
            reason = (f"another notebook of {identity.shown(student)}; {kept_shown} was graded, not this one "
                      "(nothing from the LMS says which is newer: grade this one alone to use it)")
        found.problems.append(Problem(other.origin, reason))
    return kept


def _flag_lookalikes(submissions: list[Submission]) -> None:
    looks: dict[str, list[Submission]] = defaultdict(list)
    for submission in submissions:
        looks[identity.skeleton(submission.student)].append(submission)
        mixed = sorted(identity.scripts(submission.student))
        if len(mixed) > 1:
            submission.notes.append(f"its id {identity.shown(submission.student)} mixes {' and '.join(mixed)} "
                                    "letters: a lookalike of another id?")
    for alike in looks.values():
        if len(alike) > 1:
            for submission in alike:
                others = ", ".join(identity.shown(s.student) for s in alike if s is not submission)
                submission.notes.append(f"its id {identity.shown(submission.student)} looks like {others}")


def collect(inputs: list[str], known_exercises: tuple[str, ...]) -> Collection:
    """All submissions under the given files, folders and archives: one per student, and every
    file that is not graded with the reason."""
    found = Collection()
    _read_inputs(inputs, known_exercises, found)
    chosen = [_choose(student, candidates, found) for student, candidates in _identities(found).items()]
    _flag_lookalikes(chosen)
    found.submissions = sorted(chosen, key=lambda s: s.student)
    return found
