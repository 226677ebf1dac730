"""The course service under a deadline burst: every student of a class submits at once
through the HTTP API, while each waits for their report by asking for its status.

    .venv/bin/python benchmarks/service.py [--count 24] [--data FASHION_NPZ] [--jobs N]

Prints, in the same run and on the same notebooks:
- `grade --jobs N`'s wall time and submissions per minute (its start, TensorFlow imports
  included, as an instructor waits for it);
- the service's time from the first submission to the last report, and its submissions per
  minute (the server started and warm before the burst, as it is at a deadline);
- the p50 and p95 of the status requests made meanwhile, and of submit-to-report times.

Traffic goes to 127.0.0.1 only; the run is bounded by the class's size and a timeout.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from common import ROOT, class_in_scratch, measure

sys.path.insert(0, str(ROOT))  # this tree's autograder, as the commands run from ROOT import it
TIMEOUT_S = 3600.0


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=20)
    return f"p50 {statistics.median(values):.3f} s, p95 {cuts[-1]:.3f} s"


def make_course(work: Path, students: list[str], data: str | None) -> tuple[Path, dict[str, str]]:
    from autograder import cli

    course = work / "course"
    argv = ["course", "init", str(course), "--exercise", "keras-dense", *(["--data", data] if data else [])]
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(argv) == 0
    roster = work / "roster.csv"
    roster.write_text("student\n" + "\n".join(students) + "\n")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert cli.main(["course", "students", str(course), str(roster)]) == 0
    return course, {row["student"]: row["token"] for row in csv.DictReader(io.StringIO(printed.getvalue()))}


def burst(url: str, tokens: dict[str, str], notebooks: dict[str, Path]) -> tuple[float, list[float], list[float]]:
    """Every student submits at once, then asks for their status every half second until graded.
    Returns the time from the first submission to the last report, the status requests' times and
    the submit-to-report times."""
    import httpx

    statuses: list[float] = []
    reports: list[float] = []
    lock = threading.Lock()
    started = time.monotonic()

    def one(student: str) -> None:
        headers = {"Authorization": f"Bearer {tokens[student]}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            sent = time.monotonic()
            answer = client.post("/api/submissions", data={"exercise": "keras-dense"},
                                 files={"notebook": (f"{student}.ipynb", notebooks[student].read_bytes())})
            answer.raise_for_status()
            identifier = answer.json()["id"]
            while time.monotonic() - started < TIMEOUT_S:
                asked = time.monotonic()
                shown = client.get(f"/api/submissions/{identifier}").json()
                with lock:
                    statuses.append(time.monotonic() - asked)
                if shown["status"] in ("graded", "not-graded"):
                    with lock:
                        reports.append(time.monotonic() - sent)
                    return
                time.sleep(0.5)

    with ThreadPoolExecutor(max_workers=len(notebooks)) as pool:
        list(pool.map(one, notebooks))
    return time.monotonic() - started, statuses, reports


def main() -> None:
    sys.argv, jobs_argument = _take_jobs(sys.argv)
    with class_in_scratch(__doc__) as (args, work):
        jobs = jobs_argument or os.cpu_count() or 1
        command = [sys.executable, "-m", "autograder", "grade", str(work / "class"), "--out", str(work / "out"),
                   "--jobs", str(jobs), "--exercise", "keras-dense", *(["--data", args.data] if args.data else [])]
        elapsed, _, completed = measure(command, ROOT)
        print(f"grade --jobs {jobs}: {elapsed:6.1f} s wall, {60 * args.count / elapsed:5.1f} submissions/min "
              f"(exit {completed.returncode}, start included)")

        notebooks = {path.stem: path for path in sorted((work / "class").glob("*.ipynb"))}
        course, tokens = make_course(work, list(notebooks), args.data)
        sys.path.insert(0, str(ROOT / "tests"))
        from service_course import free_port

        port = free_port()
        log = open(work / "server.log", "wb")  # noqa: SIM115 - closed below
        server = subprocess.Popen([sys.executable, "-m", "autograder", "serve", str(course), "--port", str(port),
                                   "--jobs", str(jobs)], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_warm(url, tokens, notebooks)
            took, statuses, reports = burst(url, tokens, notebooks)
            print(f"serve --jobs {jobs}: {took:6.1f} s from the first submission to the last report, "
                  f"{60 * len(notebooks) / took:5.1f} submissions/min (warm before the burst)")
            print(f"  status requests during the burst ({len(statuses)}): {percentiles(statuses)}")
            print(f"  submit to report ({len(reports)}): {percentiles(reports)}")
        finally:
            server.terminate()
            server.wait(timeout=120)
            log.close()


def _wait_warm(url: str, tokens: dict[str, str], notebooks: dict[str, Path]) -> None:
    """Up, and its slot and evaluator warm: healthz answers (the slot warms in the background;
    a burst at a deadline meets a server that has run for hours)."""
    import httpx

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                time.sleep(20)  # the fork server's and the evaluator's TensorFlow imports
                return
        time.sleep(0.3)
    raise SystemExit("the server did not start")


def _take_jobs(argv: list[str]) -> tuple[list[str], int | None]:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--jobs", type=int)
    known, rest = parser.parse_known_args(argv[1:])
    return [argv[0], *rest], known.jobs


if __name__ == "__main__":
    main()
