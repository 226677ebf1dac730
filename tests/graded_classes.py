"""The corpus, graded once per session and asserted many ways.

Every case of corpus.py runs once in a real sandbox, as part of one of four classes, each
graded by `grade` on one xdist worker (so that no single class is the critical path):

- `corpus-1`, `corpus-2`, `corpus-3`: the equivalent forms, the usual mistakes and the attacks
  on what the grader reads back, dealt round, on the session's warm grader; each with two cases
  handed in twice (the copies must be graded exactly alike: same verdicts, probabilities and
  history; and the summary lists a copy of a notebook with code of its own as similar, never
  one of the lesson's code);
- `corpus-hostile`: the attacks on the grading machine, a notebook that leaves daemons behind,
  an honest student and an archive built to escape, through the real `autograder grade`
  process with a temporary folder of its own, so that nothing a submission leaves behind can
  hide.

test_corpus.py checks every case's verdicts from these results; test_adversarial.py what the
hostile class may not do to the machine or to the honest student; test_determinism.py that
copies agree, and that the warm batch agrees with a cold `check`.
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from conftest import hostile_archive, run_cli, write_notebook
from corpus import CASES, EQUIVALENT, HOST_MARKERS, HOSTILE, MISTAKES, lesson

HOSTILE_CLASS = "corpus-hostile"
#: The attacks on the grading machine (its processes, disk, temporary folder and files), graded
#: by the real `grade` process; the other hostile cases attack what the grader reads back and
#: are graded warm with the rest.
ON_THE_MACHINE = ("allocates-64-gib", "prints-a-million-lines", "writes-fake-results", "overwrites-the-data-file",
                  "forks-until-refused", "fills-the-disk", "lambda-layer-runs-code", "custom-layer-class",
                  "kills-every-process-it-can")
WARM_CLASSES = ("corpus-1", "corpus-2", "corpus-3")
_WARM_CASES = [case.name for case in EQUIVALENT + MISTAKES + HOSTILE
               if case.timeout is None and case.name not in ON_THE_MACHINE]
MEMBERS = {group: _WARM_CASES[index::len(WARM_CLASSES)] for index, group in enumerate(WARM_CLASSES)}
MEMBERS[HOSTILE_CLASS] = list(ON_THE_MACHINE)
#: Cases handed in twice in their class, under another student's name: the first and the last of
#: each (an equivalent form, and a mistake or an attack on the records).
COPIES = {group: (MEMBERS[group][0], MEMBERS[group][-1]) for group in WARM_CLASSES}
COPY_SUFFIX = "--copy"

GROUP_OF = {name: group for group, names in MEMBERS.items() for name in names}


def daemon_notebook(token: str) -> list[str]:
    """Processes meant to outlive grading: a new session, a double fork, and one that ignores SIGTERM."""
    return lesson(after={"evaluate": f"""\
import os, signal, subprocess
subprocess.Popen(['sleep', '3600.{token}1'], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.execvp('sleep', ['sleep', '3600.{token}2'])
    os._exit(0)
subprocess.Popen(['nohup', 'sleep', '3600.{token}3'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                 preexec_fn=os.setpgrp)
print('daemons started')"""})


def survivors(token: str) -> list[str]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if token in line:
            found.append(line)
    return found


def write_class(folder: Path, names: list[str], copies: tuple[str, ...] = ()) -> None:
    folder.mkdir(parents=True)
    for name in [*names, *(f"{name}{COPY_SUFFIX}" for name in copies)]:
        case = CASES[name.removesuffix(COPY_SUFFIX)]
        write_notebook(folder / f"{name}.ipynb", case.cells, exercise=case.exercise,
                       markdown_first=case.markdown_first)


@dataclass
class ClassRun:
    """A class of the corpus as `grade` left it: each student's result, and the class summary."""

    results: dict[str, dict]
    summary: dict = field(default_factory=dict)
    summary_html: str = ""


def grade_warm(group: str, root: Path, standin_file: Path, warm_grader) -> ClassRun:
    """A class of the corpus graded by `grade --jobs 2` on the session's warm grader."""
    write_class(root / "class", MEMBERS[group], COPIES.get(group, ()))
    graded = warm_grader.grade(str(root / "class"), "--data", str(standin_file), out=root / "out")
    assert graded.status in (0, 1), graded.printed[-3000:]
    return ClassRun(graded.results, graded.summary, (root / "out" / "summary.html").read_text())


@dataclass
class HostileRun(ClassRun):
    """The hostile class as `autograder grade` left it, and what was looked at right after."""

    alone: dict = field(default_factory=dict)  # the honest student's notebook, checked alone in a cold kernel
    token: str = ""
    survivors: list[str] = field(default_factory=list)
    left_in_scratch: list[str] = field(default_factory=list)
    markers_before: list[str] = field(default_factory=list)
    markers_after: list[str] = field(default_factory=list)
    escaped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def grade_hostile(root: Path, standin_file: Path, warm_grader) -> HostileRun:
    token = str(secrets.randbelow(10**9)).zfill(9)
    folder = root / "class"
    write_class(folder, MEMBERS[HOSTILE_CLASS])
    honest = write_notebook(folder / "honest.ipynb", lesson(), "keras-dense")
    write_notebook(folder / "leaves-daemons.ipynb", daemon_notebook(token), "keras-dense")
    _, alone = warm_grader.check(honest, None, "--data", str(standin_file), cold=True)
    good = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode()
    # an LMS download is opened only when the instructor names it (batch/collect.py), so it is given apart
    download = hostile_archive(root / "lms-download.zip", good, bomb_mib=8)
    scratch = root / "grader-tmp"  # the grader's own temporary folder, to see what is left in it
    scratch.mkdir()
    markers_before = [marker for marker in HOST_MARKERS if Path(marker).exists()]
    out = root / "out"
    started = time.monotonic()
    completed = run_cli("grade", str(folder), str(download), "--out", str(out), "--data", str(standin_file),
                        "--jobs", "2", env={"TMPDIR": str(scratch)}, timeout=1800)
    seconds = time.monotonic() - started
    assert completed.returncode in (0, 1), completed.stderr[-3000:]
    time.sleep(1.0)
    return HostileRun(
        results={path.stem: json.loads(path.read_text()) for path in (out / "results").glob("*.json")},
        summary=json.loads((out / "summary.json").read_text()),
        summary_html=(out / "summary.html").read_text(), alone=alone, token=token,
        survivors=survivors(token), left_in_scratch=[p.name for p in scratch.iterdir()],
        markers_before=markers_before, markers_after=[m for m in HOST_MARKERS if Path(m).exists()],
        escaped=[str(p) for pattern in ("passwd.ipynb", "olute.ipynb") for p in root.rglob(pattern)],
        seconds=seconds)
