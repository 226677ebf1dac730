"""The evaluator's predictions are model.predict's, without its per-model tracing."""
from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("layers", ["dense", "unflattened"])
def test_the_evaluator_predicts_what_model_predict_does(layers, tmp_path):
    import keras

    from autograder.grading.evaluation import _predict

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


def test_a_layer_named_like_a_sentence_is_still_measured(tmp_path):
    # model.predict refuses a layer name that is not a TensorFlow scope name ("hidden layer"):
    # the student's accuracy went unmeasured. The evaluator calls the model itself.
    import keras

    from autograder.grading.evaluation import predict_all

    keras.utils.set_random_seed(3)
    keras.Sequential([keras.Input((784,)), keras.layers.Dense(10, activation="relu", name="hidden layer"),
                      keras.layers.Dense(3, activation="softmax", name="output (3 classes)")]).save(
        tmp_path / "model.keras")
    images = np.random.default_rng(0).random((7, 28, 28))
    np.savez(tmp_path / "test.npz", test_data=images)
    reply = predict_all({"1": str(tmp_path / "model.keras")}, str(tmp_path / "test.npz"))["1"]
    assert "error" not in reply, reply
    assert np.asarray(reply["predictions"]).shape == (7, 3)
