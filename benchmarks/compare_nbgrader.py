"""autograder grade against nbgrader autograde, on the same submissions, in one run.

    .venv/bin/python benchmarks/compare_nbgrader.py [--count 24] [--jobs 2] [--data FASHION_NPZ]

Builds an nbgrader course whose source notebook is our solution
(solutions/keras-dense.ipynb, a valid nbgrader source notebook) plus one
autograded test cell, releases it with `nbgrader generate_assignment`, makes
COUNT submissions from the released notebook (mostly the solution, some with
the usual mistakes), grades them with `nbgrader autograde` (one at a time, as
nbgrader does) and with `autograder grade --jobs N`, and prints for each:
wall time, seconds per submission, submissions per minute and peak memory
(PSS) of the whole process tree; then the throughput ratio, the grading
overhead (autograder's wall time divided by the time the students' own cells
took: their recorded execution time, divided by the number of jobs) and where
each notebook's time went, stage by stage (the results' `timings`).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from common import ROOT, cross_check, machine, measure

from nbgrader_course import course, submit

MISTAKES = {  # what some students hand in instead of the solution's lines
    "softmax')": "sigmoid')",
    "loss='categorical_crossentropy'": "loss='mse'",
    "epochs=10, batch_size=10": "epochs=10",
}
TEST_CELL = """# autograder test: accuracy on the test images
assert test_accuracy > 0.8"""


def without_our_verdicts(cells):
    """The solution with one test cell of the kind instructors write, instead of our own
    verdict cells (autograder/in_nbgrader.py) and self-check cells (autograder/student.py):
    the first would grade the notebook again with autograder inside nbgrader's run, the
    second would record and check the kernel as it goes, and the baseline is nbgrader alone."""
    ours = ("autograder-", "selfcheck-", "test-")  # the autograder section (release.verdict_cells), the self-check
    kept = [c for c in cells if "autograder.in_nbgrader" not in c.source
            and not str(c.metadata.get("nbgrader", {}).get("grade_id", "")).startswith(ours)]
    test = nbformat.v4.new_code_cell(TEST_CELL, metadata={"nbgrader": {
        "grade": True, "grade_id": "test-accuracy", "locked": True, "points": 10, "schema_version": 3,
        "solution": False, "task": False}})
    test.id = "test-accuracy"
    return [*kept, test]


def submissions(root: Path, count: int, data: Path) -> Path:
    """COUNT submissions in nbgrader's layout; every sixth makes one of the usual mistakes."""
    mistakes = list(MISTAKES.items())
    for number in range(count):
        edit = None
        if number % 6 == 5:
            old, new = mistakes[(number // 6) % len(mistakes)]
            edit = lambda code, old=old, new=new: code.replace(old, new)  # noqa: E731
        submit(root, f"student{number:02d}", data, edit)
    return root / "submitted"


STAGE_NAMES = {  # batch.STAGE_TIMINGS, as printed
    "kernel_start": "wait for a kernel", "cells": "the student's cells", "export_teardown": "export + kernel teardown",
    "prepare_wait": "stage 1 + waits for a thread", "evaluate": "facts + evaluator round trip",
    "checks": "checks + result", "report": "report drawing"}


def gradebook_seconds(results: dict[str, dict], path: Path) -> float:
    """Mean seconds of one gradebook write (one committed transaction), the batch's results
    written again into a fresh gradebook: `grade` does not time its own writes."""
    from autograder.batch.gradebook import Gradebook

    book = Gradebook(path)
    try:
        started = time.perf_counter()
        for student, result in results.items():
            book.record(student, "keras-dense", student, "rubric", student, result)
        return (time.perf_counter() - started) / max(len(results), 1)
    finally:
        book.close()


def stage_lines(results: dict[str, dict], gradebook: Path) -> list[str]:
    """Where each graded notebook's time went, mean seconds per stage (from the results' `timings`)."""
    timed = [r["timings"] for r in results.values() if r.get("timings")]
    lines = [f"where the time goes, mean seconds per notebook ({len(timed)} timed):"]
    for stage, name in STAGE_NAMES.items():
        values = [t[stage] for t in timed if stage in t]
        if values:
            lines.append(f"  {name:<30}{sum(values) / len(values):7.3f}")
    lines.append(f"  {'gradebook write (re-measured)':<30}{gradebook_seconds(results, gradebook):7.3f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=24)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--data", help="fashion.npz (default: the built-in stand-in)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autograder-compare-") as work:
        work = Path(work)
        data = Path(args.data) if args.data else work / "fashion.npz"
        if not args.data:
            from autograder.data import make_standin

            make_standin().save(data)
        root = course(work / "course", data, without_our_verdicts)
        nbgrader = [sys.executable, "-m", "nbgrader"]
        measure([*nbgrader, "generate_assignment", "keras-dense", "--force", "--create"], root)
        submitted = submissions(root, args.count, data)
        print(f"{args.count} submissions of keras-dense; {machine()}")

        elapsed, peak, completed = measure(nbgrader + ["autograde", "keras-dense", "--force", "--create"], root)
        graded = len(list((root / "autograded").glob("*/keras-dense/keras-dense.ipynb")))
        nb_rate = 60 * graded / elapsed
        print(f"nbgrader autograde : {elapsed:6.1f} s, {elapsed / max(graded, 1):5.2f} s per submission, "
              f"{nb_rate:5.1f} per minute, peak {peak / 2**20:5.0f} MiB ({graded} graded)")

        out = work / "autograder-out"
        command = [sys.executable, "-m", "autograder", "grade", str(submitted), "--out", str(out),
                   "--jobs", str(args.jobs), "--data", str(data)]
        elapsed, peak, completed = measure(command, ROOT)
        if completed.returncode not in (0, 1):  # 1: some submissions failed checks, as intended
            sys.exit(f"autograder grade failed (exit {completed.returncode}):\n{completed.stderr[-3000:]}")
        results = {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}
        cells = sum(c.get("seconds") or 0 for r in results.values() for c in r.get("cells", []))
        rate = 60 * len(results) / elapsed
        print(f"autograder --jobs {args.jobs}: {elapsed:6.1f} s, {elapsed / max(len(results), 1):5.2f} s per "
              f"submission, {rate:5.1f} per minute, peak {peak / 2**20:5.0f} MiB ({len(results)} graded)")
        print(f"throughput ratio (autograder / nbgrader): {rate / nb_rate:.2f}x")
        print(f"grading overhead (wall / (students' cell time / jobs)): {elapsed / (cells / args.jobs):.2f} "
              f"(cells took {cells:.1f} s in all)")
        for line in stage_lines(results, work / "gradebook.sqlite"):
            print(line)
        notebooks = {path.parent.parent.name: path for path in submitted.glob("*/keras-dense/keras-dense.ipynb")}
        differences = cross_check(notebooks, results, data, work)
        print(f"verdicts: {'identical to' if not differences else 'DIFFERENT from'} a cold `autograder check` "
              f"of each distinct submission")
        for line in differences:
            print("  " + line)
        if differences:
            sys.exit(1)


if __name__ == "__main__":
    main()
