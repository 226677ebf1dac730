"""Same submission, same grade: five gradings of each of several submissions agree exactly,
including one whose accuracy sits exactly on the threshold, and the warm batch agrees
with a cold `check` of each."""
from __future__ import annotations

import json

import pytest

from conftest import grade, run_cli, write_notebook
from corpus import CASES

pytestmark = pytest.mark.slow

SUBMISSIONS = ["reference", "wrong-epochs-and-batch", "sigmoid-output", "deeper-missing-hidden-layer"]
EDGE = "wrong-epochs-and-batch"  # graded with its own accuracy as the threshold
RUNS = 5


def fingerprint(result: dict) -> dict:
    return {"status": result["status"], "score": result["score"],
            "verdicts": {c["id"]: (c["passed"], c["points"], c["message"]) for c in result["checks"]},
            "accuracy": result["metrics"]["test_accuracy"],
            "probabilities": result["details"]["predicted_probabilities"],
            "history": result["details"]["history"]}


def test_five_gradings_agree_exactly_even_on_the_threshold(tmp_path, standin_file):
    sources = tmp_path / "sources"
    sources.mkdir()
    cold = {}
    for name in SUBMISSIONS:
        case = CASES[name]
        notebook = write_notebook(sources / f"{name}.ipynb", case.cells, case.exercise)
        _, cold[name] = grade(notebook, tmp_path, "--data", str(standin_file))
    edge = cold[EDGE]["metrics"]["test_accuracy"]
    assert 0.4 < edge < 1.0  # a real edge: one more wrong prediction fails it

    for name, threshold in ((EDGE, edge), (EDGE, round(edge + 0.01, 2))):
        _, again = grade(sources / f"{name}.ipynb", tmp_path, "--data", str(standin_file),
                         "--threshold", str(threshold))
        accuracy = next(c for c in again["checks"] if c["id"] == "accuracy.threshold")
        assert accuracy["passed"] == (threshold == edge), (threshold, accuracy["message"])

    submissions = tmp_path / "class"
    submissions.mkdir()
    for name in SUBMISSIONS:
        for run in range(RUNS):
            (submissions / f"{name}--{run}.ipynb").write_bytes((sources / f"{name}.ipynb").read_bytes())
    out = tmp_path / "out"
    completed = run_cli("grade", str(submissions), "--out", str(out), "--data", str(standin_file), "--jobs", "2",
                        "--threshold", str(edge), timeout=1200)
    assert completed.returncode in (0, 1), completed.stderr[-3000:]
    for name in SUBMISSIONS:
        results = [json.loads((out / "results" / f"{name}--{run}.json").read_text()) for run in range(RUNS)]
        assert all(r["execution"] == "warm" for r in results) or results[0]["isolation"] == "rlimits"
        prints = [fingerprint(r) for r in results]
        assert all(p == prints[0] for p in prints), name
        expected = fingerprint(cold[name])
        assert prints[0]["probabilities"] == expected["probabilities"], name
        assert prints[0]["accuracy"] == expected["accuracy"], name
        # The batch's threshold is the edge submission's accuracy, not the default.
        assert {k: v[0] for k, v in prints[0]["verdicts"].items() if k != "accuracy.threshold"} == \
               {k: v[0] for k, v in expected["verdicts"].items() if k != "accuracy.threshold"}, name
    edge_results = [json.loads((out / "results" / f"{EDGE}--{run}.json").read_text()) for run in range(RUNS)]
    assert all(next(c for c in r["checks"] if c["id"] == "accuracy.threshold")["passed"] for r in edge_results)
