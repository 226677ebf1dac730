"""The adversarial suite: every attack of docs/security.md as a real submission.

The hostile notebooks of the corpus, plus ones that leave processes behind and an
archive built to escape, are graded as one class next to an honest student, then
graded again. No attack may change a verdict (each gets exactly its expected
one), the honest student's grade must be what it is alone, nothing of a
submission may survive (no process, no file in the grader's temporary folder, no
file the attacks aim at the grader's machine), and the regrade must be identical.
"""
from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import psutil
import pytest

from conftest import ROOT, grade, hostile_archive, run_cli, write_notebook
from corpus import CASES, HOST_MARKERS, HOSTILE, lesson
from test_corpus import verify

SECURITY = ROOT / "docs" / "security.md"


def test_every_proof_in_the_threat_model_exists():
    """docs/security.md names a test or a corpus case for each attack; each must exist."""
    text = SECURITY.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Attack")
            and not line.startswith("| ---")]
    assert len(rows) >= 20
    tests = {path.name: path.read_text() for path in (ROOT / "tests").glob("test_*.py")}
    for row in rows:
        proof = row.rstrip(" |").rsplit("|", 1)[-1]
        named = re.findall(r"`([^`]+)`", proof)
        assert named, f"no proof named for: {row}"
        for name in named:
            if name.endswith(".py") or ".py::" in name:
                module, _, test = name.partition("::")
                assert module in tests, f"{module} (in {row[:60]}...) does not exist"
                assert not test or f"def {test.split('[')[0]}(" in tests[module], f"{name} does not exist"
            elif name.startswith("timeout-*"):
                assert any(case.startswith("timeout-") for case in CASES)
            else:
                assert name in CASES, f"corpus case {name!r} (in {row[:60]}...) does not exist"


CODE_CARRYING = {"pickle", "cPickle", "dill", "joblib", "cloudpickle", "shelve", "marshal", "eval", "exec"}
UNSAFE_KEYWORDS = {("allow_pickle", "True"), ("safe_mode", "False")}


def test_the_grader_loads_no_code_carrying_format():
    """No module of the grader names a loader that can run code, or turns Keras' or numpy's
    safety off (tokens, so comments and messages may still mention them)."""
    import io
    import tokenize

    for path in sorted((ROOT / "autograder").rglob("*.py")):
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
                  if t.type in (tokenize.NAME, tokenize.OP)]
        names = {t.string for t in tokens if t.type == tokenize.NAME}
        assert not names & CODE_CARRYING, f"{path.name} uses {names & CODE_CARRYING}"
        for first, second, third in zip(tokens, tokens[1:], tokens[2:]):
            assert (second.string != "=" or (first.string, third.string) not in UNSAFE_KEYWORDS), \
                f"{path.name} line {first.start[0]}: {first.string}={third.string}"


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


def fingerprint(result: dict) -> dict:
    return {"status": result["status"], "score": result["score"],
            "verdicts": {c["id"]: (c["passed"], c["points"]) for c in result["checks"]},
            "accuracy": result["metrics"].get("test_accuracy")}


@pytest.mark.slow
def test_a_hostile_class_changes_no_verdict_harms_nothing_and_regrades_the_same(tmp_path, standin_file):
    token = str(secrets.randbelow(10**9)).zfill(9)
    honest = write_notebook(tmp_path / "honest.ipynb", lesson(), "keras-dense")
    _, alone = grade(honest, tmp_path, "--data", str(standin_file))

    submissions = tmp_path / "class"
    submissions.mkdir()
    hostile = [case for case in HOSTILE if case.timeout is None]
    for case in hostile:
        write_notebook(submissions / f"{case.name}.ipynb", case.cells, case.exercise)
    write_notebook(submissions / "leaves-daemons.ipynb", daemon_notebook(token), "keras-dense")
    (submissions / "honest.ipynb").write_bytes(honest.read_bytes())
    good = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}).encode()
    # an LMS download is opened only when the instructor names it (collect.py), so it is given apart
    download = hostile_archive(tmp_path / "lms-download.zip", good, bomb_mib=8)
    scratch = tmp_path / "grader-tmp"  # the grader's own temporary folder, to see what is left in it
    scratch.mkdir()
    before_markers = [marker for marker in HOST_MARKERS if Path(marker).exists()]

    out = tmp_path / "out"
    rounds = []
    for extra in ([], ["--regrade"]):
        started = time.monotonic()
        completed = run_cli("grade", str(submissions), str(download), "--out", str(out), "--data", str(standin_file),
                            "--jobs", "2", *extra, env={"TMPDIR": str(scratch)}, timeout=1800)
        assert completed.returncode in (0, 1), completed.stderr[-3000:]
        assert time.monotonic() - started < 600
        results = {path.stem: json.loads(path.read_text()) for path in (out / "results").glob("*.json")}
        rounds.append({name: fingerprint(result) for name, result in results.items()})

        for case in hostile:
            verify(case, results[case.name])
        daemons = results["leaves-daemons"]
        assert daemons["score"] == 100.0 and all(c["status"] == "ok" for c in daemons["cells"]), daemons["cells"]
        assert fingerprint(results["honest"]) == fingerprint(alone)
        assert results["honest"]["details"]["predicted_probabilities"] == alone["details"]["predicted_probabilities"]
        summary = (out / "summary.html").read_text()
        for reason in ("a path that leaves the archive", "a symbolic link", "zip bomb"):
            assert reason in summary

        # Nothing survives: no process, nothing in the grader's temporary folder, nothing escaped.
        time.sleep(1.0)
        assert survivors(token) == []
        assert list(scratch.iterdir()) == []
        assert [marker for marker in HOST_MARKERS if Path(marker).exists()] == before_markers
        assert not list(tmp_path.rglob("passwd.ipynb")) and not list(tmp_path.rglob("olute.ipynb"))
    first, second = rounds
    assert first == second
