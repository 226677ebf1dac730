"""Throughput of `autograder grade` with one job and with two, on the same class.

    .venv/bin/python benchmarks/bulk.py [--count 24] [--data FASHION_NPZ]

Prints, for --jobs 1 and --jobs 2: wall time, submissions per minute and the
peak memory (PSS) of the whole process tree: grader, slots, kernels, evaluator.

For comparison with nbgrader, `benchmarks/compare_nbgrader.py` grades the same
kind of class with `nbgrader autograde` in the same run.
"""
from __future__ import annotations

import sys

from common import ROOT, class_in_scratch, measure


def main() -> None:
    with class_in_scratch(__doc__) as (args, work):
        for jobs in (1, 2):
            command = [sys.executable, "-m", "autograder", "grade", str(work / "class"), "--out",
                       str(work / f"out{jobs}"), "--jobs", str(jobs)]
            if args.data:
                command += ["--data", args.data]
            elapsed, peak, completed = measure(command, ROOT)
            status = "ok" if completed.returncode in (0, 1) else f"exit {completed.returncode}"
            print(f"--jobs {jobs}: {elapsed:6.1f} s wall, {60 * args.count / elapsed:5.1f} submissions/min, "
                  f"peak tree memory {peak / 2**20:6.0f} MiB ({status})")


if __name__ == "__main__":
    main()
