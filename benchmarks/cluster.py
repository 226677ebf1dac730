"""Throughput of `autograder grade --jobs 2` and of `grade --scheduler` on a local Dask
cluster of two single-threaded workers, on the same class, in one run.

    .venv/bin/python benchmarks/cluster.py [--count 24] [--data FASHION_NPZ]

The cluster (a scheduler on 127.0.0.1 and two `dask worker --nthreads 1`) is started and
connected before its clock starts, as a standing cluster would be; what is timed is the
grading, the workers' warm-up (their fork servers and evaluators) included. Prints both
throughputs, their ratio, the cost of one notebook on one worker (the figure
docs/cluster.md scales from), the grading machine's own CPU time per submission (what the
single writer spends) and whether both runs gave every student the same verdicts.
"""
from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

from common import ROOT, class_in_scratch, measure, verdicts


def results(out: Path) -> dict[str, tuple]:
    return {path.stem: verdicts(json.loads(path.read_text())) for path in (out / "results").glob("*.json")}


def main() -> None:
    from dask_cluster import LocalCluster

    with class_in_scratch(__doc__) as (args, work):
        data = ["--data", args.data] if args.data else []
        grade = [sys.executable, "-m", "autograder", "grade", str(work / "class"), *data]

        elapsed, _, completed = measure([*grade, "--out", str(work / "jobs"), "--jobs", "2"], ROOT)
        local_rate = 60 * args.count / elapsed
        print(f"--jobs 2:              {elapsed:6.1f} s wall, {local_rate:5.1f} submissions/min "
              f"(exit {completed.returncode})")

        cluster = LocalCluster(work / "dask")
        try:
            for name in ("w1", "w2"):
                cluster.start_worker(name)
            cluster.wait_for_workers(2)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            elapsed, _, completed = measure([*grade, "--out", str(work / "cluster"), "--scheduler",
                                             cluster.address], ROOT)
            # The workers are still running: this is the grading machine's own process alone.
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        finally:
            cluster.close()
        cluster_rate = 60 * args.count / elapsed
        print(f"--scheduler (2 x 1):   {elapsed:6.1f} s wall, {cluster_rate:5.1f} submissions/min "
              f"(exit {completed.returncode})")
        print(f"cluster / --jobs 2:    {cluster_rate / local_rate:.2f}")
        print(f"one notebook on one worker: {2 * elapsed / args.count:.1f} s (wall time x workers / submissions)")
        grader_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        print(f"grading machine (collect, record, reports): {grader_cpu / args.count:.2f} s CPU per submission")
        same = results(work / "jobs") == results(work / "cluster") and len(results(work / "cluster")) == args.count
        print(f"verdicts: {'identical' if same else 'DIFFERENT'} for all {args.count} submissions")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
