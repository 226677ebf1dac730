"""Issue 12: one submission's failure is never another's, and every stage after the sandbox
has a budget. Each hostile submission is built here and graded for real."""
from __future__ import annotations

import base64
import io
import json
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import psutil
import pytest

from autograder import cli, modelfile, notebook
from autograder.batch import progress, run as batch, workers
from autograder.data import make_standin
from autograder.exercise import registry as exercises
from autograder.grading import evaluation, facts as facts_stage, pipeline, result
from autograder.grading.facts import Facts
from autograder.grading.plan import make_plan
from autograder.grading.settings import Request
from autograder.report import model as report_model, plots
from autograder.report.documents import render_html
from autograder.sandbox.slots import SlotError
from conftest import run_cli, write_notebook
from corpus import lesson
from reports import judged

# A compiled, never-trained model whose predict takes far longer than the budget: many
# convolutions on test images upsampled eightfold.
SLOW_MODEL = """\
from keras import Sequential, layers
model = Sequential([layers.Input((784,)), layers.Reshape((28, 28, 1)), layers.UpSampling2D(8),
                    *[layers.Conv2D(16, 3, padding='same', activation='relu') for _ in range(8)],
                    layers.GlobalAveragePooling2D(), layers.Dense(3, activation='softmax')])
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])"""


def grade_class(inputs: list[str], out: Path, standin_file: Path, jobs: int = 2,
                early: workers.Workers | None = None) -> batch.BatchReport:
    """`grade --jobs N --exercise keras-dense` in this process (so a test can set the grader's budgets)."""
    plan = make_plan(Request(exercise="keras-dense", data=str(standin_file)))
    return batch.run(batch.Grading(inputs, out, plan, jobs, progress.LogProgress(io.StringIO()), early=early))


@pytest.mark.slow
def test_a_slow_model_fails_only_itself(tmp_path, standin_file, warm_grader):
    """On the session's slot, with an evaluator of its own whose budget is 5 s."""
    budget = 5.0
    folder = tmp_path / "class"
    folder.mkdir()
    write_notebook(folder / "alice.ipynb", lesson())
    write_notebook(folder / "mallory.ipynb", lesson(build=SLOW_MODEL, fit=None, evaluate=None))
    write_notebook(folder / "bob.ipynb", lesson())
    out = tmp_path / "out"
    with evaluation.Evaluator(budget=budget) as evaluator:
        report = grade_class([str(folder)], out, standin_file, early=warm_grader.with_evaluator(evaluator))
    results = {o.submission.student: o.result for o in report.outcomes}
    for honest in ("alice", "bob"):
        assert results[honest]["score"] == 100.0, json.dumps(results[honest]["checks"], indent=1)
        assert "grader_fault" not in results[honest]
    accuracy = next(c for c in results["mallory"]["checks"] if c["id"] == "accuracy.threshold")
    assert not accuracy["passed"]
    assert f"could not be measured within {budget:g} s" in accuracy["message"]
    assert "grader_fault" not in results["mallory"]  # the model's own verdict: kept as final


def test_a_result_shaped_by_a_grader_fault_is_graded_again(tmp_path):
    from autograder.batch.gradebook import Gradebook

    book = Gradebook(tmp_path / "gradebook.sqlite")
    final = {"status": "graded", "score": 90.0}
    book.record("alice", "keras-dense", "hash-a", "rubric", "alice.ipynb", final)  # type: ignore[arg-type]
    faulty = {**final, "grader_fault": "the evaluator stopped twice while measuring this model"}
    book.record("bob", "keras-dense", "hash-b", "rubric", "bob.ipynb", faulty)  # type: ignore[arg-type]
    assert book.done("alice", "keras-dense", "hash-a", "rubric") == final
    assert book.done("bob", "keras-dense", "hash-b", "rubric") is None
    book.close()


def keras_file(config: dict) -> bytes:
    """A .keras archive holding this config.json (and no weights: the grader reads only the config)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps(config))
    return buffer.getvalue()


def dense_config(units: list[int], metrics: list) -> dict:
    layers = [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [None, 784]}}]
    layers += [{"module": "keras.layers", "class_name": "Dense",
                "config": {"name": f"dense_{i}", "units": n, "activation": "relu"}} for i, n in enumerate(units)]
    return {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": layers},
            "compile_config": {"loss": "categorical_crossentropy", "optimizer": "adam", "metrics": metrics}}


def read_model(raw: bytes) -> tuple[list[str], dict | None]:
    """What the grader reads of a model file: its problems and its structure."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model-1.keras"
        path.write_bytes(raw)
        report = pipeline.analyse_models({1: str(path)})[1]
    return report["problems"], report.get("structure")


def test_a_long_metrics_list_is_read_in_linear_time():
    # 2.4 MB of metrics, nested as Keras nests them per output: quadratic reading took 73 s.
    metrics = [["accuracy", {"module": "keras.metrics", "class_name": "AUC", "config": {"name": "auc"}}]
               for _ in range(30_000)]
    raw = keras_file(dense_config([10, 3], metrics))
    assert len(json.dumps(metrics)) > 2_400_000
    started = time.process_time()  # CPU time: load on a shared machine must not fail it
    problems, structure = read_model(raw)
    assert time.process_time() - started < 10
    assert problems == ["the model configuration is too large"]  # so it is never loaded
    assert structure is not None and structure["metrics"][:2] == ["accuracy", "auc"]
    assert len(structure["metrics"]) == modelfile.MAX_METRICS
    flat = ["accuracy"] * 400_000  # quadratic, this alone took minutes
    started = time.process_time()
    names, _ = modelfile.metric_names([{"class_name": "AUC", "module": "keras.metrics"}, flat])
    assert time.process_time() - started < 2
    assert names[:2] == ["auc", "accuracy"] and len(names) == modelfile.MAX_METRICS


def test_models_beyond_the_caps_on_layers_and_units_are_not_loaded():
    problems, _ = read_model(keras_file(dense_config([10, 3] * 600, ["accuracy"])))
    assert problems == [f"the model has 1201 layers, more than the grader reads ({modelfile.MAX_LAYERS})"]
    problems, _ = read_model(keras_file(dense_config([10, 5_000_000], ["accuracy"])))
    assert problems == [f"a layer has 5000000 units, more than the grader loads ({modelfile.MAX_UNITS})"]


def recorded(name: str) -> tuple[Facts, exercises.Exercise]:
    facts = Facts.from_dict(json.loads((Path(__file__).parent / "recorded" / f"{name}.json").read_text()))
    return facts, exercises.get(facts.exercise)


def test_a_huge_output_layer_is_reported_within_bounds():
    # What a 5,000-unit output layer's predictions make of the facts; drawing them took 3.6 GB and 40 s.
    facts, exercise = recorded("reference")
    images = make_standin().test_data
    render_html(report_model.build(result.build(exercise, "honest.ipynb", facts, [], 1.0), exercise, images))
    scores = np.random.default_rng(0).random((len(facts.data["test_classes"]), 5000))
    facts_stage.measure(facts, {"predictions": scores.tolist()}, facts.data["test_classes"])
    document = judged(exercise, "wide.ipynb", facts, 1.0)
    assert document["details"]["predicted_probabilities"] is None  # 500,000 scores are not stored
    assert len(json.dumps(document)) < 200_000
    started = time.process_time()
    built = report_model.build(document, exercise, images)
    page = render_html(built)
    assert time.process_time() - started < 10  # after an honest report (matplotlib loaded): 2 s; it took 40 s
    assert len(built.confusion[0]) == report_model.MAX_CONFUSION_COLUMNS
    assert "other outputs (7-" in page and 'id="confusion-matrix"' in page
    assert len(page) < 2_000_000
    assert plots.confusion_matrix([[1] * 5000] * 3, ("a", "b", "c")) is None  # too many to draw: a table


def test_a_result_records_a_bounded_number_of_cells():
    facts, exercise = recorded("reference")
    template = facts.cells[0]
    facts.cells = [{**template, "index": i, "status": "error", "source": "x" * 10_000 + f"\nraise ValueError({i})",
                    "error": {"ename": "ValueError", "evalue": "y" * 50_000, "line": 2}} for i in range(2000)]
    document = judged(exercise, "bloat.ipynb", facts, 1.0)
    assert len(document["cells"]) == result.MAX_RECORDED_CELLS
    assert document["cells_left_out"] == 2000 - result.MAX_RECORDED_CELLS
    assert sum("source" in c for c in document["cells"]) == result.MAX_SOURCED_CELLS
    assert len(json.dumps(document)) < 1_000_000  # 1,990 failing cells made 14 MB
    report = report_model.build(document, exercise)
    assert len(report.failing_cells) == report_model.MAX_FAILING_CELLS


def with_stored_outputs(path: Path, megabytes: int) -> Path:
    """The notebook at `path`, with `megabytes` MB of printed text and images stored as its outputs."""
    node = nbformat.read(path, as_version=4)
    text = ("epoch 1/10 - loss: 0.5 - accuracy: 0.8\n" * 1000)
    image = base64.b64encode(bytes(range(256)) * 3000).decode()
    per_cell = megabytes * 2**20 // len(node.cells)
    for cell in node.cells:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)
                        for _ in range(per_cell // 2 // len(text))]
        cell.outputs += [nbformat.v4.new_output("display_data", data={"image/png": image})
                         for _ in range(per_cell // 2 // len(image))]
    nbformat.write(node, path)
    return path


def test_stored_outputs_are_dropped_while_reading(tmp_path):
    path = with_stored_outputs(write_notebook(tmp_path / "big.ipynb", lesson()), 30)
    assert path.stat().st_size > 30 * 10**6
    node = notebook.read(path)
    assert [cell.source for cell in node.cells] == lesson()
    assert all(cell.outputs == [] for cell in node.cells)


@pytest.mark.slow
def test_a_notebook_large_only_by_its_outputs_is_graded(tmp_path, standin_file, warm_grader):
    path = with_stored_outputs(write_notebook(tmp_path / "big.ipynb", lesson(), exercise="keras-dense"), 30)
    status, document = warm_grader.check(path, tmp_path, "--data", str(standin_file))
    assert (status, document["status"], document["score"]) == (0, "graded", 100.0)  # it got exit 2 at 25 MB


def unreadable_class(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A class of two notebooks that cannot be read, and the empty folder this process's
    temporary files now go to: (scratch folder, class folder)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "erin.ipynb").write_text('{"cells": [')
    (folder / "fred.ipynb").write_text("")
    return scratch, folder


@pytest.mark.slow
def test_no_slot_folder_is_left_when_no_submission_was_readable(tmp_path, standin_file, monkeypatch):
    scratch, folder = unreadable_class(tmp_path, monkeypatch)
    report = grade_class([str(folder)], tmp_path / "out", standin_file)
    assert [o.result["status"] for o in report.outcomes] == ["invalid", "invalid"]
    assert report.execution == "warm"  # a slot was being started when the batch ended
    assert list(scratch.iterdir()) == []


@pytest.mark.slow
def test_grade_starts_its_one_slot_before_it_reads_the_class(tmp_path, standin_file, monkeypatch):
    scratch, folder = unreadable_class(tmp_path, monkeypatch)
    events = []
    start_slot, read_class = workers.Workers._keep_slot, batch.collect

    def keep_slot(self):
        events.append("slot")
        start_slot(self)

    def collect(*args):
        events.append("class")
        return read_class(*args)

    monkeypatch.setattr(workers.Workers, "_keep_slot", keep_slot)
    monkeypatch.setattr(batch, "collect", collect)
    status = cli.main(["grade", str(folder), "--out", str(tmp_path / "out"), "--jobs", "2", "--data",
                       str(standin_file), "--exercise", "keras-dense"])
    assert status == 1  # neither notebook can be read
    assert events == ["slot", "class"]  # the server imports TensorFlow while the class is read: one slot
    assert list(scratch.iterdir()) == []  # stopped mid-start: nothing to run


@pytest.mark.slow
@pytest.mark.parametrize("why", ["no data file", "no submissions"])
def test_a_grade_that_ends_before_grading_leaves_nothing_it_started_early(tmp_path, standin_file, why):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    folder = tmp_path / "class"
    folder.mkdir()
    data = tmp_path / "missing.npz" if why == "no data file" else standin_file
    completed = run_cli("grade", str(folder), "--out", str(tmp_path / "out"), "--data", str(data),
                        "--exercise", "keras-dense", env={"TMPDIR": str(scratch)})
    if why == "no data file":
        assert completed.returncode == 2 and "missing.npz" in completed.stderr, completed.stderr
    else:
        assert "\n0 submission(s): 0 graded, 0 could not be read or graded; 1 other file(s)" in completed.stdout
    assert list(scratch.iterdir()) == []
    assert not [p for p in psutil.process_iter(["environ"]) if (p.info["environ"] or {}).get("TMPDIR") == str(scratch)]


FORKED_MEMORY = """\
import os, time
for _ in range(4):
    if os.fork() == 0:  # each child holds 500 MB, well within the cap of one process
        held = b'x' * (500 * 2**20)
        time.sleep(120)
        os._exit(0)
time.sleep(120)"""


@pytest.mark.slow
def test_memory_spread_over_forked_processes_is_held_to_the_cap(tmp_path, standin_file, warm_grader):
    path = write_notebook(tmp_path / "forks.ipynb", [*lesson()[:2], FORKED_MEMORY, "print('after')"],
                          exercise="keras-dense")
    started = time.monotonic()
    # 2 GiB: the smallest cap a kernel with TensorFlow trains under (its address space is 1.1 GiB).
    status, document = warm_grader.check(path, tmp_path, "--data", str(standin_file), "--memory-mb", "2048",
                                         cold=True)
    assert time.monotonic() - started < 100  # stopped at the cap, not at the 120 s sleep
    assert document["status"] == "kernel_died" and status == 1
    assert [c["status"] for c in document["cells"]][:2] == ["ok", "ok"]
    assert document["cells"][-1]["status"] != "ok"  # the cell after it never ran


def test_a_notebook_large_by_its_code_or_metadata_is_still_refused():
    raw = json.dumps({"cells": [{"cell_type": "code", "source": "x = 1\n" * (4 * 2**20), "outputs": []}]}).encode()
    with pytest.raises(notebook.NotebookError, match="MiB of code, text and metadata besides its outputs"):
        notebook.parse(raw, "long.ipynb")


class ScriptedProcess:
    """Stands in for one evaluator process: answers with the next of `ScriptedProcess.answers`
    (b"" for a process that died under the request, None for one that ran out of budget)."""

    answers: list[bytes | None] = []
    started = 0

    def __init__(self) -> None:
        ScriptedProcess.started += 1
        self.popen = self
        self.alive = True

    def poll(self) -> int | None:
        return None if self.alive else -9

    def wait_ready(self) -> None:
        pass

    def ask(self, request: bytes, budget: float) -> bytes | None:
        answer = ScriptedProcess.answers.pop(0)
        self.alive = bool(answer)
        return answer

    def close(self) -> None:
        self.alive = False


@pytest.mark.parametrize(("answers", "outcome", "processes"), [
    ([b"", b'{"models": {"1": {"predictions": [[1.0]]}}}\n'], {1: {"predictions": [[1.0]]}}, 2),
    ([None], {1: {"error": evaluation.over_budget(120.0)}}, 1),
    ([b"", b""], evaluation.EvaluatorError, 2),
])
def test_a_request_whose_evaluator_died_is_sent_once_more_to_a_fresh_one(monkeypatch, answers, outcome, processes):
    monkeypatch.setattr(evaluation, "_Process", ScriptedProcess)
    monkeypatch.setattr(ScriptedProcess, "answers", list(answers))
    monkeypatch.setattr(ScriptedProcess, "started", 0)
    evaluator = evaluation.Evaluator(budget=120.0)
    if outcome is evaluation.EvaluatorError:
        with pytest.raises(evaluation.EvaluatorError, match="stopped twice"):
            evaluator.evaluate({1: "model-1.keras"}, "test.npz")
    else:
        assert evaluator.evaluate({1: "model-1.keras"}, "test.npz") == outcome
    assert ScriptedProcess.started == processes
    ScriptedProcess.answers = [b'{"models": {"2": {"predictions": [[0.5]]}}}\n']  # the next one is served
    assert evaluator.evaluate({2: "model-2.keras"}, "test.npz") == {2: {"predictions": [[0.5]]}}
    evaluator.close()


def test_a_submission_the_grader_failed_is_graded_again_on_the_next_run(tmp_path, standin_file, monkeypatch):
    calls = []

    def sandbox_that_fails(*args, **kwargs):
        calls.append(1)
        raise SlotError("the fork server has stopped")

    monkeypatch.setattr(workers, "run_notebook", sandbox_that_fails)
    folder = tmp_path / "class"
    folder.mkdir()
    write_notebook(folder / "alice.ipynb", lesson())
    plan = make_plan(Request(exercise="keras-dense", data=str(standin_file)))
    for _ in range(2):
        report = batch.run(batch.Grading([str(folder)], tmp_path / "out", plan, 1, progress.LogProgress(io.StringIO()),
                                         warm=False))
        (outcome,) = report.outcomes
        assert not outcome.reused and outcome.result["grader_fault"] == "the fork server has stopped"
    assert len(calls) == 2
