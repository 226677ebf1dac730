"""The self-check in the student's own notebook: `ex.check(step)` on the live kernel.

Each test runs a real notebook in a real IPython kernel, as Jupyter would (no
sandbox: this is the student's own kernel), and reads what the self-check cells
showed.
"""
from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from autograder.exercise.registry import TASKS
from conftest import ROOT, kernel_environment
from corpus import CASES
from record_facts import LIVE, LIVE_PREFIX

RECORDINGS = Path(__file__).parent / "recorded"

VERDICT = re.compile(r'data-check="([^"]+)" data-verdict="(passed|failed)"')


def execute(path, data_file):
    """Run the notebook top to bottom in a fresh kernel next to a copy of the data; return it."""
    shutil.copyfile(data_file, path.parent / "fashion.npz")
    node = nbformat.read(path, as_version=4)
    NotebookClient(node, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute(env=kernel_environment())
    return node


def seconds(cell) -> float:
    """The wall time of an executed cell, as the kernel reported it (nbclient's timestamps)."""
    timing = cell.metadata["execution"]
    started, ended = (datetime.fromisoformat(timing[key].replace("Z", "+00:00"))
                      for key in ("iopub.execute_input", "shell.execute_reply"))
    return (ended - started).total_seconds()


def stderr(cell) -> str:
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")


def stdout(cell) -> str:
    """What the cell printed: one print may arrive as several stream messages on a busy machine."""
    return "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stdout")


def shown(cell) -> tuple[str, str]:
    """The rich HTML and the plain text a self-check cell displayed."""
    html = "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
    text = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
    return html, text


def assert_no_traceback_of_ours(node):
    for cell in node.cells:
        if cell.cell_type != "code" or "ex." not in cell.source and "Exercise" not in cell.source:
            continue
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source
        assert not [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"], cell.source


def filled_release(tmp_path, exercise):
    """The released exercise as a student gets it, with the solution's code typed into each step."""
    released = nbformat.read(ROOT / "exercises" / f"{exercise}.ipynb", as_version=4)
    solution = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source
                for c in nbformat.read(ROOT / "solutions" / f"{exercise}.ipynb", as_version=4).cells}
    for cell in released.cells:
        metadata = cell.metadata.get("nbgrader", {})
        if metadata.get("solution"):
            cell.source = solution[metadata["grade_id"]].replace("### BEGIN SOLUTION\n", "").replace(
                "\n### END SOLUTION", "")
    path = tmp_path / f"{exercise}.ipynb"
    nbformat.write(released, path)
    return path


def step_cells(node):
    return {c.metadata["nbgrader"]["grade_id"]: c for c in node.cells
            if c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("selfcheck-")}


@pytest.mark.slow
@pytest.mark.parametrize("exercise", ["keras-dense"])
def test_released_exercise_filled_with_the_solution_passes_every_step(tmp_path, standin_file, exercise):
    path = filled_release(tmp_path, exercise)
    filled = nbformat.read(path, as_version=4)
    for cell in filled.cells:  # note whether the first check of the student's work started the evaluator
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "selfcheck-load":
            cell.source += ("\nfrom autograder.grading import live\n"
                            "started_by = 'load' if live._recorder.evaluator else None")
    filled.cells.append(nbformat.v4.new_code_cell("print('EVALUATOR STARTED BY', started_by)"))
    nbformat.write(filled, path)
    node = execute(path, standin_file)
    cells = step_cells(node)
    assert set(cells) >= {f"selfcheck-{step}" for step in TASKS} | {"selfcheck-setup", "selfcheck-all"}
    for step, check_ids in TASKS.items():
        html, text = shown(cells[f"selfcheck-{step}"])
        assert f'data-step="{step}" data-state="passed"' in html, (step, text)
        assert dict(VERDICT.findall(html)) == {check_id: "passed" for check_id in check_ids}
        assert text.startswith("✓") and "passed" in text.splitlines()[0]
    html, text = shown(cells["selfcheck-all"])
    assert "100 of 100 points" in text and "Test accuracy measured by the grader" in text
    assert set(VERDICT.findall(html)) == {(check_id, "passed") for ids in TASKS.values() for check_id in ids}
    assert_no_traceback_of_ours(node)  # TensorFlow's start-up log included: the setup cell is silent
    # The student's own warnings stay: Keras' advice on `input_shape` in their build cell
    # (Keras 3 gives it to every Sequential model built so, with or without the self-check).
    build = next(c for c in node.cells if c.cell_type == "code" and "input_shape" in c.source)
    assert "UserWarning" in stderr(build) and "input_shape" in stderr(build)
    assert "advice, not an error" in shown(cells["selfcheck-build"])[1]  # and the build check says what it means
    # The evaluator was started by the first check of the student's work, so its TensorFlow
    # import overlaps their training, and checking the evaluation takes less than that training
    # (benchmarks/selfcheck.py measures by how much).
    fit = next(c for c in node.cells if c.cell_type == "code" and "model.fit(" in c.source)
    assert stdout(node.cells[-1]) == "EVALUATOR STARTED BY load\n"
    assert seconds(cells["selfcheck-evaluate"]) < seconds(fit), (seconds(cells["selfcheck-evaluate"]), seconds(fit))


#: Odd calls of a student, after the released notebook: each is a note, not a traceback.
ODD_CALLS = [
    "from autograder.student import Exercise\nex = Exercise('keras-dense')",
    "ex.check('build')",  # nothing built yet
    "ex.check('buld')",
    "ex.hint('fit')",
    "import numpy as np\nfashion = np.load('fashion.npz')\n" + "\n".join(
        f"{k} = fashion[{k!r}]" for k in ("train_data", "train_labels", "test_data", "test_labels")),
    CASES["sigmoid-output"].cells[2],  # a model with a sigmoid output
    CASES["sigmoid-output"].cells[3],  # compiled
    "import time\nstarted = time.perf_counter()\nex.check('build')\nbuild_seconds = time.perf_counter() - started",
    "print(f'BUILD CHECK {build_seconds:.3f} s')",
    "Exercise('no-such-exercise').check('build')",
    "Exercise('keras-dense', data='missing/fashion.npz').check('load')",
]


@pytest.mark.slow
def test_released_exercise_as_handed_out_says_each_step_is_not_started_and_odd_calls_are_notes(
        tmp_path, standin_file):
    """...at once: with nothing to measure, no evaluator process is started (its TensorFlow
    import took 6-11 s of `ex.check('evaluate')`). Then, in the same kernel, an unknown step, a
    hint, a check before anything exists and a broken data path are notes, not tracebacks; a
    structure check on the live kernel takes well under a second."""
    path = tmp_path / "keras-dense.ipynb"
    released = nbformat.read(ROOT / "exercises" / "keras-dense.ipynb", as_version=4)
    released.cells.append(nbformat.v4.new_code_cell(
        "from autograder.grading import live\nprint('EVALUATOR', live._recorder.evaluator)"))
    odd = len(released.cells)
    released.cells.extend(nbformat.v4.new_code_cell(source) for source in ODD_CALLS)
    nbformat.write(released, path)
    node = execute(path, standin_file)
    cells = step_cells(node)
    for step in ("load", "reshape", "build", "compile", "fit", "evaluate"):
        html, text = shown(cells[f"selfcheck-{step}"])
        assert 'data-state="not_started"' in html, (step, text)
        assert "not done yet" in text and "raise NotImplementedError()" in text
        # Far below an evaluator's TensorFlow import (6-11 s), with room for a busy machine.
        assert seconds(cells[f"selfcheck-{step}"]) < 5.0, step
    html, text = shown(cells["selfcheck-all"])
    assert "0 of 100 points" in text
    assert stdout(node.cells[odd - 1]) == "EVALUATOR None\n"
    assert_no_traceback_of_ours(node)

    odd_cells = node.cells[odd:]
    html, text = shown(odd_cells[1])
    assert 'data-state="failed"' in html and "No Keras model was found" in text
    assert "no step called 'buld'" in shown(odd_cells[2])[1] and "load, reshape, build" in shown(odd_cells[2])[1]
    assert "validation_split" in shown(odd_cells[3])[1]
    html, text = shown(odd_cells[7])
    verdicts = dict(VERDICT.findall(html))
    assert verdicts == {"model.input_shape": "passed", "model.architecture": "passed",
                        "model.hidden_activation": "passed", "model.output_layer": "failed"}, text
    assert "sigmoid" in text
    build_seconds = float(re.search(r"BUILD CHECK ([0-9.]+) s", stdout(odd_cells[8])).group(1))
    assert build_seconds < 1.0
    assert "unknown exercise 'no-such-exercise'" in shown(odd_cells[9])[1]
    assert "fashion.npz was not found" in shown(odd_cells[10])[1] or "not found" in shown(odd_cells[10])[1]


@pytest.mark.parametrize("name", LIVE)
def test_check_all_gives_the_verdicts_of_autograder_check(name):
    """A student's notebook with the self-check set up first and `ex.check_all()` last shows
    exactly the corpus's expected verdicts, which `autograder check` is held to in test_corpus.
    The facts are those the self-check saw in a real kernel (record_facts.py, LIVE); the panel is
    the one that cell shows."""
    from autograder.exercise.registry import get
    from autograder.grading import checks
    from autograder.grading.facts import Facts
    from autograder.report import inline

    case = CASES[name]
    facts = Facts.from_dict(json.loads((RECORDINGS / f"{LIVE_PREFIX}{name}.json").read_text()))
    exercise = get(case.exercise)
    results = checks.run_checks(facts, exercise)
    panel = inline.all_panel(results, sum(r["points"] for r in results), exercise.max_score, facts.test_accuracy)
    verdicts = dict(VERDICT.findall(panel._repr_html_()))
    expected = {check_id: "failed" if check_id in case.failing else "passed" for check_id in exercise.check_ids}
    assert verdicts == expected, repr(panel)


@pytest.mark.slow
def test_live_facts_are_current(tmp_path):
    """The self-check's recorded facts still match what a real kernel records: one case, live."""
    from record_facts import record_live
    from test_sandbox import differences

    fresh = record_live("sigmoid-output", tmp_path)
    stored = json.loads((RECORDINGS / f"{LIVE_PREFIX}sigmoid-output.json").read_text())
    assert differences(fresh, stored) == []


@pytest.mark.slow
@pytest.mark.parametrize("exercise", ["keras-dense", "keras-deeper"])
def test_self_check_cells_do_nothing_when_the_autograder_grades_the_notebook(tmp_path, standin_file, warm_grader,
                                                                              exercise):
    """In the grader's sandbox the kernel is recorded by the grader; the self-check stays out of
    the way, so the notebook grades exactly as without it. (Each released exercise, filled with
    its solution: the self-check's own verdicts on the deeper exercise are held to `check`'s by
    the recorded live facts, test_check_all_gives_the_verdicts_of_autograder_check.)"""
    path = filled_release(tmp_path, exercise)
    status, result = warm_grader.check(path, tmp_path, "--data", str(standin_file))
    assert status == 0 and result["score"] == 100.0
    assert not [c for c in result["cells"] if c["status"] != "ok"]
