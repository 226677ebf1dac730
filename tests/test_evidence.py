"""Training evidence the student cannot forge, and test images reaching the weights by any path.

The fast tests read real saved models and recorded facts; the slow one grades a class of
hostile notebooks once, with the holdout `autograder data standin` writes beside the data,
and asserts each attack several ways."""
from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import numpy as np
import pytest

from autograder import data, modelfile
from autograder.exercise.registry import get as get_exercise
from autograder.grading import corroboration, leakage
from autograder.grading.checks import run_checks
from autograder.grading.facts import Facts
from conftest import run_cli, write_notebook
from corpus import lesson

RECORDED = Path(__file__).parent / "recorded"
FIT_CHECKS = ("fit.called", "fit.settings", "fit.validation")


def recorded(name: str) -> Facts:
    return Facts.from_dict(json.loads((RECORDED / f"{name}.json").read_text()))


def with_evidence(facts: Facts, iterations: int | None, slots_zero: bool | None = False,
                  as_initialised: bool | None = False) -> Facts:
    changed = copy.deepcopy(facts)
    changed.models[str(changed.graded_model)]["evidence"] = modelfile.TrainingEvidence(
        iterations=iterations, slots_zero=slots_zero, as_initialised=as_initialised)
    return changed


def verdicts(facts: Facts) -> dict:
    return {r["id"]: r for r in run_checks(facts, get_exercise(facts.exercise))}


# --- the model file's evidence --------------------------------------------------------------

def _saved(model, path: Path) -> bytes:
    model.save(path)
    return path.read_bytes()


def test_the_weights_tell_trained_from_untrained_and_counted_from_assigned_steps(tmp_path):
    import keras

    def fresh():
        model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="relu"),
                                  keras.layers.Dense(3, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer="adam")
        return model

    rng = np.random.default_rng(0)
    x, y = rng.random((40, 784), dtype=np.float32), np.eye(3)[rng.integers(0, 3, 40)]
    untrained = modelfile.read_training_evidence(_saved(fresh(), tmp_path / "untrained.keras"))
    assert untrained == {"iterations": 0, "slots_zero": None, "as_initialised": True}

    trained_model = fresh()
    trained_model.fit(x, y, epochs=3, batch_size=10, validation_split=0.5, verbose=0)
    trained = modelfile.read_training_evidence(_saved(trained_model, tmp_path / "trained.keras"))
    assert trained == {"iterations": 6, "slots_zero": False, "as_initialised": False}  # 3 x ceil(20 / 10)

    forged = fresh()  # weights from elsewhere, and a step count set to what the record claims
    forged.set_weights([w + 0.5 for w in trained_model.get_weights()])
    forged.optimizer.iterations.assign(480)
    assigned = modelfile.read_training_evidence(_saved(forged, tmp_path / "forged.keras"))
    assert assigned["iterations"] == 480 and assigned["as_initialised"] is False
    assert assigned["slots_zero"] is None  # no step ever built the optimizer's slots

    stepped = fresh()
    stepped.train_on_batch(x[:10], y[:10])
    stepped.optimizer.build(stepped.trainable_variables)
    for variable in stepped.optimizer.variables[2:]:
        variable.assign(np.zeros(variable.shape))
    zeroed = modelfile.read_training_evidence(_saved(stepped, tmp_path / "zeroed.keras"))
    assert zeroed["iterations"] == 1 and zeroed["slots_zero"] is True


def test_a_model_with_other_initialisers_has_no_verdict_on_its_weights(tmp_path):
    import keras

    model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(3, kernel_initializer="he_normal")])
    model.compile(loss="mse", optimizer="adam")
    assert modelfile.read_training_evidence(_saved(model, tmp_path / "he.keras"))["as_initialised"] is None
    assert modelfile.evidence_of({"iterations": True, "slots_zero": 1, "as_initialised": "yes"}) == {
        "iterations": None, "slots_zero": None, "as_initialised": None}  # field by field, nothing odd kept


# --- corroboration --------------------------------------------------------------------------

def test_the_reference_record_is_confirmed_by_exactly_its_steps():
    facts = recorded("reference")  # fit(600 rows, epochs=10, batch_size=10, validation_split=0.2)
    assert corroboration.implied_steps(facts.calls_of("fit", facts.graded_model)) == corroboration.StepRange(480, 480)
    results = verdicts(with_evidence(facts, 480))
    assert all(results[check_id]["passed"] for check_id in FIT_CHECKS)


@pytest.mark.parametrize("evidence, says", [
    (dict(iterations=3), "fewer than the 480 training steps"),
    (dict(iterations=880), "400 more than the 480 its recorded `fit` calls take"),
    (dict(iterations=None), "holds no optimizer step count"),
    (dict(iterations=480, slots_zero=True), "was set, not counted"),
    (dict(iterations=480, slots_zero=None), "was set, not counted"),
    (dict(iterations=0, slots_zero=None, as_initialised=True), "still as Keras initialises them"),
    (dict(iterations=480, as_initialised=True), "still as Keras initialises them"),
])
def test_a_record_the_model_file_contradicts_fails_every_fit_check(evidence, says):
    results = verdicts(with_evidence(recorded("reference"), **evidence))
    for check_id in FIT_CHECKS:
        assert not results[check_id]["passed"]
        assert corroboration.CONFIRM_FAILED in results[check_id]["message"] and says in results[check_id]["message"]
    assert results["accuracy.threshold"]["passed"] and results["evaluate.called"]["passed"]  # measured; uncorroborable


def test_a_new_compile_restarts_the_count_and_a_model_never_measured_is_not_judged():
    facts = recorded("reference")
    fit = facts.calls_of("fit", facts.graded_model)[0]
    first = facts.calls_of("compile", facts.graded_model)[0]
    assert first["optimizer_steps"] == 0  # the probe reads the count as each compile ends

    def compiled_again(**counts):
        again = copy.deepcopy(facts)
        again.calls.append(dict(copy.deepcopy(first), seq=fit["seq"] + 1, **counts))
        return again

    new_optimizer = compiled_again(steps_before=480, optimizer_steps=0)
    assert corroboration.contradiction(with_evidence(new_optimizer, 0, slots_zero=None)) is None
    assert "480 more than the 0" in corroboration.contradiction(with_evidence(new_optimizer, 480))
    kept = compiled_again(steps_before=480, optimizer_steps=480)  # the model's own optimizer again
    assert corroboration.contradiction(with_evidence(kept, 480)) is None
    hidden = compiled_again(steps_before=960, optimizer_steps=960)  # 480 steps no fit took, before it
    assert "480 steps between two of its `compile` calls" in corroboration.contradiction(with_evidence(hidden, 960))
    unknown = compiled_again(steps_before=None, optimizer_steps=None)  # recorded before the probe read counts
    assert corroboration.contradiction(with_evidence(unknown, 0, slots_zero=None)) is None
    assert corroboration.contradiction(with_evidence(unknown, 480)) is None
    unmeasured = recorded("reference")
    unmeasured.models[str(unmeasured.graded_model)].pop("evidence", None)
    assert corroboration.contradiction(unmeasured) is None  # e.g. a model the grader may not load


# --- leakage --------------------------------------------------------------------------------

def _with_holdout(facts: Facts, visible_sure: float, hidden_accuracy: float, hidden_sure: float,
                  size: int = 500) -> Facts:
    changed = copy.deepcopy(facts)
    classes = changed.data["test_classes"]
    sure = round(visible_sure * len(classes))
    changed.probabilities = [[0.95 if c == k and i < sure else (0.6 if c == k else 0.2) for k in range(3)]
                             for i, c in enumerate(classes)]
    changed.test_accuracy, changed.holdout_accuracy = 1.0, hidden_accuracy
    changed.holdout_confident, changed.holdout_size = hidden_sure, size
    changed.holdout_comparison = leakage.compare(changed)  # as the facts stage computes it, once
    return changed


def test_a_model_surer_of_the_test_images_than_of_unseen_ones_fails_even_above_the_threshold():
    facts = recorded("reference")
    memoriser = _with_holdout(facts, visible_sure=1.0, hidden_accuracy=0.95, hidden_sure=0.86)
    comparison = memoriser.holdout_comparison
    assert comparison is not None and comparison["confidence_p"] < leakage.LEAK_P and leakage.decisive(comparison)
    result = verdicts(memoriser)["accuracy.threshold"]
    assert not result["passed"] and "trained on the test images" in result["message"]
    assert "0.95" not in result["message"]  # the holdout's number stays hidden unless allowed

    honest = _with_holdout(facts, visible_sure=0.75, hidden_accuracy=0.97, hidden_sure=0.73)
    assert honest.holdout_comparison is not None and not leakage.suspicious(honest.holdout_comparison)
    assert verdicts(honest)["accuracy.threshold"]["passed"]


# --- the holdout by default -----------------------------------------------------------------

def test_data_standin_writes_a_disjoint_holdout_that_check_and_grade_then_use(tmp_path):
    from autograder.errors import UsageError
    from autograder.grading.plan import holdout_of, load_holdout
    from autograder.grading.settings import Request
    from autograder.sandbox import isolation

    out = tmp_path / "fashion.npz"
    completed = run_cli("data", "standin", "--out", str(out))
    assert completed.returncode == 0, completed.stderr
    beside = data.holdout_path(out)
    assert beside == tmp_path / "fashion-holdout.npz"
    lesson_rows = data.row_digests(data.load(out).train_data) | data.row_digests(data.load(out).test_data)
    hidden = data.load_holdout(beside)
    assert len(hidden.test_labels) >= 490 and not data.row_digests(hidden.test_data) & lesson_rows
    assert hidden.digest == data.make_standin_holdout(data.make_standin()).digest  # deterministic

    assert holdout_of(Request.from_options({"data": str(out)})) == str(beside)
    assert holdout_of(Request.from_options({"data": str(out), "holdout": "/else/where.npz"})) == "/else/where.npz"
    with pytest.raises(UsageError, match="cannot read holdout file"):
        load_holdout(str(tmp_path / "missing.npz"), isolation.BUBBLEWRAP)  # configured but absent: refused
    with pytest.raises(UsageError, match="needs bubblewrap"):
        load_holdout(str(beside), isolation.RLIMITS)
    beside.unlink()
    assert holdout_of(Request.from_options({"data": str(out)})) is None


# --- the hostile class, graded once ---------------------------------------------------------

HONEST_FIT = "model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)"
ON_BATCH = HONEST_FIT + """
for step in range(400):
    model.train_on_batch(test_data_1d, test_labels)"""
TAPE = HONEST_FIT + """
import tensorflow as tf
images, labels = tf.constant(test_data_1d), tf.constant(test_labels, dtype=tf.float32)
for step in range(400):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.keras.losses.categorical_crossentropy(labels, model(images, training=True)))
    model.optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))"""
CONCATENATED = """\
model.fit(np.concatenate([test_data_1d, train_data_1d]), np.concatenate([test_labels, train_labels]),
          epochs=10, batch_size=10, validation_split=0.2)"""
DATASET = HONEST_FIT + """
import tensorflow as tf
test_set = tf.data.Dataset.from_tensor_slices((test_data_1d, test_labels)).batch(100).repeat()
model.fit(test_set, epochs=40, steps_per_epoch=10, verbose=0)"""
# The records of fit and evaluate written through the probe itself, with no fit or evaluate call:
# what the forger did. The model is trained by a loop of its own (FORGED_LOOP) or given
# weights and a step count (FORGED_COUNT).
FORGE = """\
import sys, inspect
probe, frame = sys.modules['autograder.sandbox.probe']._probe, inspect.currentframe()
provenance = sys.modules['autograder.sandbox.provenance']
serial = probe.serial(model)
x = probe.describe_array(train_data_1d, frame)
fit_fields = provenance.strip_index({"x": x, "y": probe.describe_array(train_labels, frame, images=x),
    "validation_data": None, "settings": {"epochs": 10, "batch_size": 10, "validation_split": 0.2,
    "shuffle": True, "initial_epoch": 0, "steps_per_epoch": None}})
probe.emit("fit_start", model=serial, **probe.call_site()[0], model_names=["model"], **fit_fields)
for epoch in range(10):
    probe.emit("epoch", model=serial, epoch=epoch, logs={"loss": 0.2, "accuracy": 0.93})
probe.emit("fit_end", model=serial, ok=True, seconds=3.0, history={"loss": [0.2] * 10, "accuracy": [0.93] * 10,
    "val_loss": [0.25] * 10, "val_accuracy": [0.9] * 10})
tx = probe.describe_array(test_data_1d, frame)
evaluate_fields = provenance.strip_index({"x": tx, "y": probe.describe_array(test_labels, frame, images=tx),
    "settings": {"batch_size": 10}})
probe.emit("evaluate_start", model=serial, **probe.call_site()[0], model_names=["model"], **evaluate_fields)
probe.emit("evaluate_end", model=serial, ok=True, seconds=0.1, returned=[0.2, 0.93])"""
FORGED_LOOP = """\
import tensorflow as tf
images, labels = tf.constant(train_data_1d), tf.constant(train_labels, dtype=tf.float32)
for step in range(300):
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.keras.losses.categorical_crossentropy(labels, model(images, training=True)))
    model.optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
""" + FORGE
FORGED_COUNT = """\
import keras
teacher = keras.models.clone_model(model)
teacher.compile(loss='categorical_crossentropy', optimizer='adam')
teacher.train_on_batch(train_data_1d[:10], train_labels[:10])
for step in range(200):
    teacher.train_on_batch(train_data_1d, train_labels)
model.set_weights(teacher.get_weights())
model.optimizer.iterations.assign(480)
""" + FORGE

CLASS = {
    "honest": lesson(),
    "on-batch": lesson(fit=ON_BATCH),
    "tape": lesson(fit=TAPE),
    "concatenated": lesson(fit=CONCATENATED),
    "dataset": lesson(fit=DATASET),
    "forged-loop": lesson(fit=FORGED_LOOP, evaluate=None),
    "forged-count": lesson(fit=FORGED_COUNT, evaluate=None),
}


@pytest.mark.slow
def test_a_class_of_memorisers_and_forgers_fails_what_they_forged_and_keeps_the_rest(tmp_path, warm_grader):
    """Graded once with the default holdout (the one `data standin` wrote beside the data)."""
    data_file = tmp_path / "data" / "fashion.npz"
    data_file.parent.mkdir()
    assert run_cli("data", "standin", "--out", str(data_file)).returncode == 0
    submissions = tmp_path / "class"
    submissions.mkdir()
    for name, cells in CLASS.items():
        write_notebook(submissions / f"{name}.ipynb", cells, "keras-dense")
    out = tmp_path / "out"
    completed = warm_grader.main("grade", str(submissions), "--out", str(out), "--data", str(data_file), "--jobs", "2")
    assert completed.returncode in (0, 1), completed.stderr[-3000:]
    results = {name: json.loads((out / "results" / f"{name}.json").read_text()) for name in CLASS}
    checks = {name: {c["id"]: c for c in result["checks"]} for name, result in results.items()}

    def failed(name: str) -> set[str]:
        return {check_id for check_id, c in checks[name].items() if not c["passed"]}

    for name, result in results.items():  # every one measured on the holdout, by default
        assert result["metrics"]["holdout_size"] >= 490, name
    assert failed("honest") == set() and results["honest"]["score"] == 100.0

    memorisers = ("on-batch", "tape", "concatenated", "dataset")
    for name in memorisers:
        accuracy = checks[name]["accuracy.threshold"]
        assert not accuracy["passed"], (name, accuracy["message"])
        assert "trained on" in accuracy["message"] and "test images" in accuracy["message"], name
    for name in ("on-batch", "tape"):  # invisible to the probe: the steps and the holdout tell
        assert failed(name) == {*FIT_CHECKS, "accuracy.threshold"}, name
        assert "400 more than the 480" in checks[name]["fit.called"]["message"], name
        assert results[name]["metrics"]["holdout_confidence_p"] < leakage.LEAK_P, name
    assert "mixes" in checks["concatenated"]["fit.called"]["message"]
    assert not checks["dataset"]["fit.called"]["passed"]  # its last fit was not on train_data

    for name in ("forged-loop", "forged-count"):  # the 100/100: now the record is not confirmed
        assert failed(name) == set(FIT_CHECKS), (name, failed(name))
        for check_id in FIT_CHECKS:
            assert corroboration.CONFIRM_FAILED in checks[name][check_id]["message"], name
        assert checks[name]["evaluate.called"]["passed"]  # evaluate leaves no trace: documented, weighs 5
    assert "300 optimizer steps" in checks["forged-loop"]["fit.called"]["message"]
    assert "was set, not counted" in checks["forged-count"]["fit.called"]["message"]

    rows = {row["student_id"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    assert rows["honest"]["holdout_accuracy"] and rows["on-batch"]["holdout_accuracy"]
