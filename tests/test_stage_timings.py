"""The per-stage timings `grade` keeps in each result, for benchmarks/compare_nbgrader.py."""
from __future__ import annotations

from autograder.batch.run import STAGE_TIMINGS, run_timings
from autograder.sandbox import RunRecord


def test_run_timings_split_the_run_into_kernel_start_cells_and_export():
    record = RunRecord(status="ok", isolation="bubblewrap", seconds=4.0,
                       cells=[{"index": 0, "status": "ok", "seconds": 1.0},
                              {"index": 1, "status": "ok", "seconds": 2.25}],
                       runner=[{"event": "kernel_ready", "status": None, "error": None, "seconds": 0.5},
                               {"event": "done", "status": "ok", "error": None, "seconds": None}])
    assert run_timings(record) == {"kernel_start": 0.5, "cells": 3.25, "export_teardown": 0.25}
    assert set(run_timings(record)) <= set(STAGE_TIMINGS)


def test_run_timings_ignore_what_is_not_a_number_and_never_go_negative():
    # A sandbox's reports are untrusted: a missing or odd figure is left out, and cells that
    # claim more time than the run took leave no negative remainder.
    record = RunRecord(status="ok", isolation="bubblewrap", seconds=1.0,
                       cells=[{"index": 0, "status": "ok", "seconds": None},
                              {"index": 1, "status": "ok", "seconds": 5.0}],
                       runner=[{"event": "kernel_ready", "status": None, "error": None, "seconds": "soon"}])
    assert run_timings(record) == {"kernel_start": 0, "cells": 5.0, "export_teardown": 0.0}
