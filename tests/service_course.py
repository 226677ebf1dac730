"""Courses for the service's tests: made with the contract's own commands (`course init`,
`course students`), settings written into course.toml as an instructor edits it, and a real
`autograder serve` process on a free loopback port (`Server`)."""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from conftest import ROOT

#: A roster with a student whose id is markup: every page must show it as text.
HOSTILE_ID = '<img src=x onerror="alert(1)">'


def iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="seconds")


def make_course(root: Path, students: list[str], exercises: tuple[str, ...] = ("keras-dense",),
                **settings: object) -> tuple[Path, dict[str, str], str]:
    """A course in root/course made by `course init` and `course students`, with course.toml's
    settings replaced by `settings` (TOML values as text, e.g. deadline='"2026-..."');
    returns the folder, the students' tokens and the instructor's."""
    from autograder import cli

    course = root / "course"
    argv = ["course", "init", str(course)]
    for exercise in exercises:
        argv += ["--exercise", exercise]
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(argv) == 0
    roster = root / "roster.csv"
    with open(roster, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "email"])
        writer.writerows([name, f"{len(name)}@example.org"] for name in students)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["course", "students", str(course), str(roster)]) == 0
    tokens = {row["student"]: row["token"] for row in csv.DictReader(io.StringIO(printed.getvalue()))}
    configure(course, **settings)
    return course, tokens, (course / "instructor.token").read_text().strip()


def configure(course: Path, extensions: dict[str, str] | None = None, **settings: object) -> None:
    text = (course / "course.toml").read_text()
    for key, value in settings.items():
        line = f"{key} = {value}"
        text, found = re.subn(rf"(?m)^{key} = .*$", line, text)
        if not found:
            text = text.replace("\n[extensions]", f"\n{line}\n\n[extensions]")
    for student, value in (extensions or {}).items():
        text += f'"{student}" = {value}\n'
    (course / "course.toml").write_text(text)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """`autograder serve COURSE` as an instructor runs it, on a free loopback port."""

    course: Path
    log: Path
    jobs: int = 1
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    port: int = 0
    started: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> Server:
        import httpx

        from process_budget import count

        count("cli_graders")  # a fork server and an evaluator of its own
        self.port = free_port()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "autograder", "serve", str(self.course), "--port", str(self.port),
                 "--jobs", str(self.jobs)], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                start_new_session=True, env={**os.environ, **self.env})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server ended: {self.log.read_text()[-3000:]}"
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise AssertionError(f"the server did not answer in {timeout} s: {self.log.read_text()[-3000:]}")

    def descendants(self) -> list[psutil.Process]:
        assert self.process is not None
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def kill(self) -> list[psutil.Process]:
        """SIGKILL the server alone (as the OOM killer or a power cut would end it); returns what
        it had started, to be checked gone."""
        assert self.process is not None
        left = self.descendants()
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        return left

    def stop(self) -> list[psutil.Process]:
        assert self.process is not None
        left = self.descendants()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return left


def gone(processes: list[psutil.Process], timeout: float = 30) -> list[psutil.Process]:
    """Those of `processes` still running after `timeout` seconds (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                    alive.append(process)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)
