"""Saved model files read as data: real Keras saves, screened and described without loading code."""
from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from autograder import modelfile
from conftest import IN_PROCESS_KERAS, Imported

keras = Imported("keras")
# Every test here saves a real Keras model in this process: all on the worker that imports Keras.
pytestmark = IN_PROCESS_KERAS


def saved(model, tmp_path, compile=None, train=False):
    if compile:
        model.compile(**compile)
    if train:
        x = np.zeros((20, 784), dtype=np.float32)
        y = np.eye(3)[np.arange(20) % 3]
        model.fit(x, y, epochs=2, batch_size=10, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    return path.read_bytes()


def dense_model(*layers):
    return keras.Sequential([keras.Input((784,)), *layers])


def test_reference_model_is_described(tmp_path):
    raw = saved(dense_model(keras.layers.Dense(10, activation="relu"), keras.layers.Dense(3, activation="softmax")),
                tmp_path, compile=dict(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"]),
                train=True)
    config = modelfile.read_config(raw)
    assert modelfile.screen(config) == []
    structure = modelfile.describe(config)
    assert structure.input_shape == [None, 784]
    assert structure.units == [10, 3]
    assert [b.activation for b in structure.blocks] == ["relu", "softmax"]
    assert structure.loss["name"] == "categorical_crossentropy"
    assert structure.optimizer["name"] == "adam"
    assert structure.metrics == ["accuracy"]
    evidence = modelfile.read_training_evidence(raw)  # 2 epochs of 2 batches
    assert evidence == {"iterations": 4, "slots_zero": False, "as_initialised": False}


def test_equivalent_forms_describe_alike(tmp_path):
    inputs = keras.Input((784,))
    hidden = keras.layers.Activation("relu")(keras.layers.Dense(10)(inputs))
    functional = keras.Model(inputs, keras.layers.Dense(3)(hidden))
    functional = keras.Sequential([functional, keras.layers.Softmax()])
    structure = modelfile.describe(modelfile.read_config(saved(functional, tmp_path, compile=dict(
        loss=keras.losses.CategoricalCrossentropy(), optimizer=keras.optimizers.Adam(0.01),
        metrics=[keras.metrics.CategoricalAccuracy()]))))
    assert structure.input_shape == [None, 784]
    assert [(b.units, b.activation) for b in structure.blocks] == [(10, "relu"), (3, "softmax")]
    assert structure.loss["name"] == "categorical_crossentropy" and not structure.loss["from_logits"]
    assert structure.optimizer["name"] == "adam" and structure.metrics == ["categorical_accuracy"]


@pytest.mark.parametrize("loss, name", [
    ("mse", "mean_squared_error"),
    (lambda: keras.losses.categorical_crossentropy, "categorical_crossentropy"),
    (lambda: keras.losses.SparseCategoricalCrossentropy(), "sparse_categorical_crossentropy"),
    ("binary_crossentropy", "binary_crossentropy"),
], ids=["mse", "function", "object", "binary"])
def test_losses_are_named_canonically(tmp_path, loss, name):
    loss = loss() if callable(loss) else loss  # Keras is imported when the test runs, not when it is collected
    raw = saved(dense_model(keras.layers.Dense(3)), tmp_path, compile=dict(loss=loss, optimizer="sgd"))
    structure = modelfile.describe(modelfile.read_config(raw))
    assert structure.loss["name"] == name
    assert structure.optimizer["name"] == "sgd" and structure.metrics == []


def test_lesson_input_shape_and_unbuilt_models(tmp_path):
    printed = keras.Sequential([keras.layers.Dense(10, input_shape=(1,)), keras.layers.Dense(3)])
    assert modelfile.describe(modelfile.read_config(saved(printed, tmp_path))).input_shape == [None, 1]
    unbuilt = keras.Sequential([keras.layers.Dense(10), keras.layers.Dense(3)])
    structure = modelfile.describe(modelfile.read_config(saved(unbuilt, tmp_path)))
    assert structure.input_shape is None and structure.units == [10, 3] and not structure.compiled


def test_images_model_reports_its_flatten_layer(tmp_path):
    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(3)])
    structure = modelfile.describe(modelfile.read_config(saved(model, tmp_path)))
    assert structure.input_shape == [None, 28, 28, 1] and structure.reshaping == ["Flatten"]


def test_lambdas_and_custom_classes_are_refused(tmp_path):
    with_lambda = dense_model(keras.layers.Lambda(lambda x: x * 2), keras.layers.Dense(3))
    assert any("Lambda" in p for p in modelfile.screen(modelfile.read_config(saved(with_lambda, tmp_path))))
    lambda_activation = dense_model(keras.layers.Dense(3, activation=lambda x: x))
    assert modelfile.screen(modelfile.read_config(saved(lambda_activation, tmp_path)))

    class Doubling(keras.layers.Layer):
        def call(self, x):
            return x * 2

    custom = dense_model(Doubling(), keras.layers.Dense(3))
    assert any("Doubling" in p for p in modelfile.screen(modelfile.read_config(saved(custom, tmp_path))))


def test_screen_refuses_modules_outside_keras():
    config = {"class_name": "Sequential", "module": "keras", "config": {"layers": [
        {"class_name": "system", "module": "os", "config": {"command": "id"}}]}}
    assert modelfile.screen(config) == ["it uses the custom class 'system'"]


def test_broken_archives_are_errors_not_crashes():
    with pytest.raises(modelfile.ModelFileError, match="not a .keras archive"):
        modelfile.read_config(b"garbage")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(modelfile.ModelFileError, match="not valid JSON"):
        modelfile.read_config(buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(modelfile.MAX_ZIP_ENTRIES + 1):
            archive.writestr(f"entry{index}", "x")
    with pytest.raises(modelfile.ModelFileError, match="entries"):
        modelfile.read_config(buffer.getvalue())
    assert modelfile.read_training_evidence(b"garbage")["iterations"] is None
