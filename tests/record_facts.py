"""Record the facts of real runs, for the fast unit tests of the checks.

    python tests/record_facts.py            # re-record every case in RECORDED
    python tests/record_facts.py NAME ...   # only these

Each case of corpus.py named in RECORDED is graded for real (sandboxed kernel,
TensorFlow, the built-in stand-in data) and the Facts the checks saw are
written to tests/recorded/NAME.json. test_checks.py runs the checks on them;
test_recorded_facts_are_current re-records one and compares.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

RECORDED = [
    "reference", "lesson-as-printed", "fixed-after-failed-attempt", "functional-api",
    "separate-activation-layers", "sigmoid-output", "never-trained", "trained-on-test-data",
    "timeout-before-training", "kernel-dies-after-compile", "manual-validation-split",
    "deeper-with-two-part-notebook", "name-error-dense-not-imported", "unfinished-exercise-steps",
    "context-manager-load-and-predict", "ten-unit-output", "sparse-loss-with-one-hot",
    "wrong-epochs-and-batch", "evaluated-on-training-data",
]
# Timings, progress bars and tracebacks (which name install paths) differ from run to run.
VOLATILE = {"seconds", "stream_tail", "traceback"}


def stable(value):
    """Facts without the timings that differ from run to run."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def record(name: str, work: Path) -> dict:
    from autograder import pipeline
    from autograder.plan import make_plan
    from autograder.settings import Request
    from conftest import write_notebook
    from corpus import CASES

    case = CASES[name]
    notebook = write_notebook(work / f"{name}.ipynb", case.cells)
    captured = {}
    plan = make_plan(Request.from_options({"exercise": case.exercise, "timeout_s": case.timeout}))
    pipeline.grade_notebook(str(notebook), plan, on_facts=lambda facts: captured.update(facts=facts))
    return stable(captured["facts"].to_dict())


def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as work:
        for name in names or RECORDED:
            facts = record(name, Path(work))
            (HERE / "recorded" / f"{name}.json").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
            print(f"recorded {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
