"""How the suite is spread over xdist workers: the tests of one `xdist_group` share a costly
session fixture (a graded class, a Dask cluster) and must all run on one worker, or each
worker builds its own copy and CI takes several times as long."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

GROUPED = '''
import os
import pytest

@pytest.mark.xdist_group("shared")
@pytest.mark.parametrize("index", range(4))
def test_grouped(index):
    with open(os.environ["WORKERS_FILE"], "a") as out:
        out.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
'''


def test_an_xdist_group_runs_on_one_worker(tmp_path: Path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    workers = tmp_path / "workers.txt"
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-q", "-p", "no:cacheprovider",
         "-p", "no:autograder", "test_grouped.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**__import__("os").environ, "WORKERS_FILE": str(workers)})
    assert completed.returncode == 0, completed.stdout[-2000:]
    seen = workers.read_text().split()
    assert len(seen) == 4 and len(set(seen)) == 1, f"one group ran on workers {sorted(set(seen))}"
