"""The runner's job crosses into a process the grader does not control: it survives the trip
unchanged, and anything else is refused with a reason."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from autograder.protocol import DATA_NAME
from autograder.sandbox import Limits, RunnerJob, isolation as iso
from autograder.sandbox.job import MAX_JOB_BYTES, JobError, read_job, read_notebook, runner_job


def a_job(uid: int | None = 1234, notebook: dict | None = None) -> RunnerJob:
    layout = iso.Layout(iso.BUBBLEWRAP, host_out=Path("/nowhere"), home=iso.SANDBOX_HOME, out=iso.SANDBOX_OUT,
                        runtime=iso.SANDBOX_RUNTIME, uid=uid, gid=uid)
    notebook = {"cells": [], "nbformat": 4} if notebook is None else notebook
    return runner_job(notebook or None, layout, Limits(timeout_s=60, memory_mb=512, threads=2), 7, "m")


def test_a_job_survives_the_trip_unchanged():
    job = a_job()
    assert RunnerJob.from_json(job.to_json()) == job
    assert read_job(io.BytesIO(job.to_json().encode())) == job
    assert job.data_path == f"{iso.SANDBOX_HOME}/{DATA_NAME}"
    assert (job.timeout_s, job.cell_timeout_s, job.seed, job.threads) == (60, 180.0, 7, 2)
    assert job.rlimits["RLIMIT_AS"] == 512 * 2**20 and "RLIMIT_NPROC" in job.rlimits
    assert "RLIMIT_NPROC" not in a_job(uid=None).rlimits  # counted per user: only for a user of our own


def test_a_spare_job_has_no_notebook_and_reads_the_one_sent_later_within_its_bound():
    spare = a_job(notebook={})
    assert spare.notebook is None and RunnerJob.from_json(spare.to_json()) == spare
    assert read_notebook(io.BytesIO(b'{"cells": [], "nbformat": 4}')) == {"cells": [], "nbformat": 4}
    with pytest.raises(JobError, match="not an object"):
        read_notebook(io.BytesIO(b"[]"))
    with pytest.raises(JobError, match="not JSON"):
        read_notebook(io.BytesIO(b"{"))
    with pytest.raises(JobError, match="larger than"):
        read_notebook(io.BytesIO(b" " * (MAX_JOB_BYTES + 10)))


@pytest.mark.parametrize("change, reason", [
    (lambda d: [d], "not an object"),
    (lambda d: {k: v for k, v in d.items() if k != "seed"}, "missing ['seed']"),
    (lambda d: {**d, "kernel_env": {}}, "unknown ['kernel_env']"),
    (lambda d: {**d, "seed": True}, "'seed' is not an integer"),
    (lambda d: {**d, "notebook": []}, "'notebook' is not an object or null"),
    (lambda d: {**d, "timeout_s": "60"}, "'timeout_s' is not a number"),
    (lambda d: {**d, "uid": 1.5}, "'uid' is not an integer or null"),
    (lambda d: {**d, "rlimits": {"RLIMIT_AS": None}}, "'rlimits' is not an object of integers"),
    (lambda d: {**d, "python_paths": "/usr"}, "'python_paths' is not a list of strings"),
])
def test_anything_else_is_refused_with_a_reason(change, reason):
    data = json.loads(a_job().to_json())
    with pytest.raises(JobError, match=re.escape(reason)):
        RunnerJob.from_json(json.dumps(change(data)))


def test_unreadable_and_oversized_jobs_are_refused():
    with pytest.raises(JobError, match="not JSON"):
        RunnerJob.from_json(b"{")
    with pytest.raises(JobError, match="larger than"):
        read_job(io.BytesIO(b" " * (MAX_JOB_BYTES + 10)))


def test_limits_record_their_one_name_each():
    assert Limits().recorded() == {"timeout_s": 240.0, "cell_timeout_s": 180.0, "memory_mb": 6144, "output_kb": 2048}
