"""Record the facts of real runs, for the fast unit tests of the checks.

    python tests/record_facts.py            # re-record every case in RECORDED and LIVE
    python tests/record_facts.py NAME ...   # only these (live-NAME for the self-check's, live-cascade-NAME
                                            # for a cascade of cascades.py)

Each case of corpus.py named in RECORDED is graded for real (sandboxed kernel,
TensorFlow, the built-in stand-in data) and the Facts the checks saw are
written to tests/recorded/NAME.json. test_checks.py runs the checks on them;
test_recorded_facts_are_current re-records one and compares.

Each case named in LIVE is run as a student runs it, in a plain IPython kernel with the
self-check set up first (autograder.student), and the Facts its `ex.check_all()` saw are
written to tests/recorded/live-NAME.json. test_student.py holds them to the corpus's expected
verdicts; test_live_facts_are_current re-records one and compares.
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
# The self-check's parity with `check`: mistakes and equivalent forms, each with every check's
# expected verdict.
LIVE = ["keras-input-layer", "lesson-as-printed", "sigmoid-output", "mse-loss", "no-validation-split",
        "never-trained", "evaluated-on-training-data", "name-error-dense-not-imported",
        "deeper-missing-hidden-layer", "trained-on-test-data"]
#: Cascades (cascades.py) the self-check records too: its root causes must be `check`'s.
LIVE_CASCADES = ["cascade-syntax-error-in-load"]
LIVE_PREFIX = "live-"
# Timings, progress bars and tracebacks (which name install paths) differ from run to run.
VOLATILE = {"seconds", "stream_tail", "traceback"}


def stable(value):
    """Facts without the timings that differ from run to run."""
    if isinstance(value, dict):
        return {k: stable(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def record(name: str, work: Path, evaluator=None) -> dict:
    from autograder.grading import pipeline
    from autograder.grading.plan import make_plan
    from autograder.grading.settings import Request
    from conftest import write_notebook
    from corpus import CASES

    case = CASES[name]
    notebook = write_notebook(work / f"{name}.ipynb", case.cells)
    captured = {}
    plan = make_plan(Request.from_options({"exercise": case.exercise, "timeout_s": case.timeout}))
    pipeline.grade_notebook(str(notebook), plan, on_facts=lambda facts: captured.update(facts=facts),
                            evaluator=evaluator)
    return stable(captured["facts"].to_dict())


DUMP_FACTS = """\
import json
(_facts, _results), _problem = ex._outcomes(measure=True)
with open({path!r}, "w") as _out:
    json.dump(_facts.to_dict(), _out)"""


def record_live(name: str, work: Path) -> dict:
    """The facts of `ex.check_all()` at the end of the case's notebook, run in a plain kernel
    beside the stand-in data, as a student runs it."""
    import nbformat
    from nbclient import NotebookClient

    from autograder.data import make_standin
    from conftest import kernel_environment, write_notebook
    from corpus import CASES, Case

    if name.startswith("cascade-"):
        from cascades import CASCADES

        cascade = CASCADES[name.removeprefix("cascade-")]
        case = Case(name, cascade.cells, exercise=cascade.exercise)
    else:
        case = CASES[name]
    folder = work / f"live-{name}"
    folder.mkdir()
    make_standin().save(folder / "fashion.npz")
    dumped = folder / "facts.json"
    setup = f"from autograder.student import Exercise\nex = Exercise({case.exercise!r})"
    path = write_notebook(folder / f"{name}.ipynb", [setup, *case.cells, "ex.check_all()",
                                                     DUMP_FACTS.format(path=str(dumped))], case.exercise)
    node = nbformat.read(path, as_version=4)
    NotebookClient(node, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(folder)}}).execute(env=kernel_environment())
    if not dumped.exists():
        raise RuntimeError(f"{name}: the self-check recorded nothing: {node.cells[-1].outputs}")
    return stable(json.loads(dumped.read_text()))


def main(names: list[str]) -> None:
    with tempfile.TemporaryDirectory() as work:
        for name in names or [*RECORDED, *(LIVE_PREFIX + live for live in [*LIVE, *LIVE_CASCADES])]:
            live = name.removeprefix(LIVE_PREFIX) if name.startswith(LIVE_PREFIX) else None
            facts = record_live(live, Path(work)) if live else record(name, Path(work))
            (HERE / "recorded" / f"{name}.json").write_text(json.dumps(facts, indent=1, sort_keys=True) + "\n")
            print(f"recorded {name}")


if __name__ == "__main__":
    main(sys.argv[1:])
