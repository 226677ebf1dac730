"""The evaluator's predictions are model.predict's, without its per-model tracing."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("layers", ["dense", "unflattened"])
def test_the_evaluator_predicts_what_model_predict_does(layers, tmp_path):
    import keras

    from autograder.evaluation import _predict

    keras.utils.set_random_seed(3)
    shape = (28, 28)
    stack = [keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"), keras.layers.Dropout(0.5),
             keras.layers.Dense(10, activation="softmax")] if layers == "dense" else [keras.layers.Dense(10)]
    keras.Sequential([keras.Input(shape), *stack]).save(tmp_path / "model.keras")
    model = keras.saving.load_model(tmp_path / "model.keras", compile=False, safe_mode=True)
    images = np.random.default_rng(0).random((250, *shape))  # not a whole number of batches
    expected = model.predict(images, batch_size=100, verbose=0)
    predicted = _predict(keras, model, images)
    assert predicted.shape == expected.shape  # (250, 10), or (250, 28, 10) for the unflattened model
    np.testing.assert_array_equal(predicted, expected)
