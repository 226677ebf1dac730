"""Without bubblewrap, a grader running as root runs the notebook as a user of the run's own.

Graded for real as root with `--isolation rlimits`: a hostile notebook that also does the
lesson tries to write into the grader's installed package and its own scratch folder's
neighbours, and to read a root-only file beside a file anyone may read.
"""
from __future__ import annotations

import json
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

import autograder
from autograder.sandbox import isolation
from conftest import write_notebook
from corpus import lesson

pytestmark = pytest.mark.skipif(not isolation.running_as_root(), reason="the user switch happens only for root")

PACKAGE = Path(autograder.__file__).resolve().parent


def attack(secret: Path, readable: Path, planted: Path) -> tuple[str, ...]:
    """Each attempt in a cell of its own, so that each one's error is recorded."""
    return f"""\
import os
print('uid', os.getuid(), 'gid', os.getgid(), 'groups', os.getgroups())
open({str(readable)!r}).read()  # the same folder is reachable: only the mode stops the next one
""", f"open({str(secret)!r}).read()", f"open({str(planted)!r}, 'w').write('pwned')", """\
import os, pathlib
scratch = pathlib.Path(os.getcwd()).parent
print(sorted(os.listdir(scratch)))"""


@pytest.mark.slow
def test_a_hostile_notebook_graded_as_root_without_bubblewrap_is_an_unprivileged_user(tmp_path, standin_file,
                                                                                       warm_grader):
    folder = Path(tempfile.mkdtemp(prefix="autograder-root-files-"))
    folder.chmod(0o755)
    secret, readable = folder / "secret.txt", folder / "public.txt"
    secret.write_text("root only")
    secret.chmod(0o600)
    readable.write_text("anyone")
    readable.chmod(0o644)
    planted = PACKAGE / f"planted-{secrets.token_hex(4)}.py"
    try:
        cells = list(attack(secret, readable, planted))
        notebook = write_notebook(tmp_path / "hostile.ipynb", cells + lesson())
        status, result = warm_grader.check(notebook, tmp_path, "--exercise", "keras-dense", "--data",
                                           str(standin_file), "--isolation", "rlimits")
    finally:
        secret.unlink()
        readable.unlink()
        folder.rmdir()
    assert not planted.exists(), "the notebook wrote into the grader's installed package"
    assert result["isolation"] == "rlimits" and result["status"] == "graded"
    assert status == 0 and result["score"] == result["max_score"], json.dumps(result["checks"], indent=1)
    cells = {cell["index"]: cell for cell in result["cells"]}
    assert cells[0]["status"] == "ok", cells[0]  # a file anyone may read, in the same folder: reachable
    for index in (1, 2, 3):  # root's 0600 file, the package, the scratch folder's listing
        assert cells[index]["status"] == "error" and cells[index]["ename"] == "PermissionError", cells[index]


@pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux setpriv makes the container's limits")
def test_rlimits_as_root_is_refused_when_no_unprivileged_user_could_run_python(monkeypatch, tmp_path):
    """As in a container that grants root no CAP_SYS_ADMIN (Docker's default): this machine's
    Python lives under /root (0700) and no mount namespace can cover it, so no other user could
    start it. The grader says so instead of running the notebook as root."""
    assert isolation.choose("rlimits") == "rlimits"  # here, with a mount namespace to cover /root
    if not isolation._closed_ancestors(isolation.python_paths(), isolation.job_user()):
        pytest.skip("this machine's Python is reachable by any user: nothing to cover")
    contained = tmp_path / "python"
    contained.write_text(f'#!/bin/sh\nexec setpriv --bounding-set=-sys_admin "{sys.executable}" "$@"\n')
    contained.chmod(0o755)
    monkeypatch.setattr(isolation.sys, "executable", str(contained))
    isolation.unprivileged_python_problem.cache_clear()
    try:
        with pytest.raises(ValueError, match="needs an unprivileged user.*mount namespace.*readable by all"):
            isolation.choose("rlimits")
    finally:
        monkeypatch.undo()
        isolation.unprivileged_python_problem.cache_clear()
