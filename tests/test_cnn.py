"""keras-cnn, the lesson's convolutional network: its solution passes, the usual CNN mistakes fail
the checks that name them, and the report pictures a CNN (layer shapes, first-layer filters)."""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest

from autograder import modelfile
from autograder.grading import evaluation, facts
from autograder.report import model as report_model, plots
from corpus import CNN_LAYERS as LESSON_LAYERS, CNN_LOAD, cnn_cells

# The lesson's CNN as an exercise declares it (autograder/exercise/files/keras-cnn.toml).
CNN_LAYERS = [
    {"type": "Conv2D", "filters": 10, "kernel_size": 3, "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Conv2D", "filters": 10, "kernel_size": 3, "activation": "relu"},
    {"type": "MaxPooling2D", "pool_size": 2},
    {"type": "Flatten"},
    {"type": "Dense", "units": 3, "activation": "softmax"},
]


def test_the_model_diff_gives_conv_and_pooling_layers_their_output_shapes_and_weights():
    rows = report_model.layer_rows([None, 28, 28, 1], CNN_LAYERS)
    assert [(r["kind"], r["shape"], r["params"]) for r in rows] == [
        ("Input", [None, 28, 28, 1], 0),
        ("Conv2D(10, 3x3)", [None, 26, 26, 10], 100),   # 3*3*1 weights + 1 bias, per filter
        ("MaxPooling2D(2x2)", [None, 13, 13, 10], 0),
        ("Conv2D(10, 3x3)", [None, 11, 11, 10], 910),   # 3*3*10 + 1, per filter
        ("MaxPooling2D(2x2)", [None, 5, 5, 10], 0),     # 11 // 2: the last row and column are dropped
        ("Flatten", [None, 250], 0),
        ("Dense(3)", [None, 3], 753),
    ]
    assert [r["activation"] for r in rows][1:4] == ["relu", None, "relu"]


def test_the_model_diff_follows_kernel_forms_padding_strides_and_activation_layers():
    rows = report_model.layer_rows([None, 28, 28, 1], [
        {"type": "Conv2D", "filters": 4, "kernel_size": [5, 3], "padding": "same", "activation": "linear"},
        {"type": "ReLU", "activation": "relu"},
        {"type": "MaxPool2D", "pool_size": [2, 2], "strides": 1},
        {"type": "Conv2D", "filters": 2, "kernel_size": 3, "strides": [2, 2]},
        {"type": "Dropout", "rate": 0.25},
    ])
    assert [(r["kind"], r["shape"], r["activation"]) for r in rows[1:]] == [
        ("Conv2D(4, 5x3)", [None, 28, 28, 4], "relu"),
        ("MaxPooling2D(2x2)", [None, 27, 27, 4], None),
        ("Conv2D(2, 3x3)", [None, 13, 13, 2], "linear"),
        ("Dropout(0.25)", [None, 13, 13, 2], None),
    ]
    assert rows[1]["note"] == "activation from the ReLU layer after it" and rows[1]["params"] == (5 * 3 + 1) * 4


def test_a_saved_config_with_impossible_sizes_is_drawn_without_them():
    # A student's get_config can save any number: a stride of 0 divided the output shapes by
    # zero, and an input of 10**1000 pixels made numbers Python would not print.
    rows = report_model.layer_rows([None, 28, 28, 1], [
        {"type": "MaxPooling2D", "pool_size": 2, "strides": [0, 0]},
        {"type": "Conv2D", "filters": 2, "kernel_size": 0, "strides": -1},
        {"type": "Flatten"}, {"type": "Dense", "units": 3, "activation": "softmax"}])
    assert [r["shape"] for r in rows[1:3]] == [[None, 14, 14, 1], [None, None, None, 2]]  # pooling's default stride
    huge = {"class_name": "Sequential", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None] + [10**1000] * 5}},
        {"class_name": "Flatten", "config": {}},
        {"class_name": "Dense", "config": {"units": 10**1000, "activation": "softmax"}},
        {"class_name": "MaxPooling2D", "config": {"pool_size": [2, 2], "strides": [0, 0]}}]}}
    structure = modelfile.describe(huge)
    assert structure.input_shape != [None] + [10**1000] * 5
    assert [layer.get("units") for layer in structure.layers if layer["class"] == "Dense"] == [None]
    assert [layer.get("strides") for layer in structure.layers if layer["class"] == "MaxPooling2D"] == [None]
    assert "a layer has over 2**31 units, more than the grader loads (100000)" in modelfile.screen(huge)


def test_the_model_diff_aligns_the_layers_around_a_missing_pooling_layer():
    no_pooling = [layer for index, layer in enumerate(CNN_LAYERS) if index != 1]
    compared = report_model.compare_layers(report_model.layer_rows([None, 28, 28, 1], no_pooling),
                                           report_model.layer_rows([None, 28, 28, 1], CNN_LAYERS))
    assert [((row["yours"] or {}).get("kind"), (row["expected"] or {}).get("kind"), row["differs"])
            for row in compared] == [
        ("Input", "Input", []),
        ("Conv2D(10, 3x3)", "Conv2D(10, 3x3)", []),
        (None, "MaxPooling2D(2x2)", ["layer"]),  # missing here, and the layers after it still pair up
        ("Conv2D(10, 3x3)", "Conv2D(10, 3x3)", ["shape"]),
        ("MaxPooling2D(2x2)", "MaxPooling2D(2x2)", ["shape"]),
        ("Flatten", "Flatten", ["shape"]),
        ("Dense(3)", "Dense(3)", ["params"]),  # 1440 inputs rather than 250
    ]
    assert compared[5]["yours"]["shape"] == [None, 1440] and compared[6]["yours"]["params"] == 1440 * 3 + 3


@pytest.fixture(scope="module")
def cnn_and_dense_files(tmp_path_factory):
    """A trained CNN and a dense model saved as Keras files, and the stand-in test images."""
    import keras

    from autograder.data import make_standin

    folder = tmp_path_factory.mktemp("models")
    data = make_standin(n_train=120, n_test=20)
    keras.utils.set_random_seed(1)
    cnn = keras.Sequential([keras.Input((28, 28, 1)), *[
        keras.layers.Conv2D(10, 3, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(10, 3, activation="relu"), keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")]])
    cnn.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    cnn.fit(data.train_data, data.train_labels, epochs=2, batch_size=10, verbose=0)
    dense = keras.Sequential([keras.Input((784,)), keras.layers.Dense(3, activation="softmax")])
    cnn.save(folder / "cnn.keras")
    dense.save(folder / "dense.keras")
    np.savez(folder / "test.npz", test_data=data.test_data)
    kernel, bias = (np.asarray(w) for w in cnn.layers[0].get_weights())
    return folder, data.test_data, kernel, bias


def _png_size(uri: str) -> tuple[int, int, np.ndarray]:
    from matplotlib.image import imread

    assert uri.startswith("data:image/png;base64,")
    pixels = imread(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), format="png")
    return pixels.shape[1], pixels.shape[0], pixels


def test_the_evaluator_reads_the_first_conv_layer_from_the_model_file_and_the_plot_draws_it(cnn_and_dense_files):
    folder, images, kernel, bias = cnn_and_dense_files
    replies = evaluation.predict_all({"1": str(folder / "cnn.keras"), "2": str(folder / "dense.keras")},
                                     str(folder / "test.npz"))
    assert "first_layer" not in replies["2"]  # a dense model has no filters to picture
    first = facts.first_layer_of(json.loads(json.dumps(replies["1"]["first_layer"])))  # as sent over the pipe
    assert first is not None and first["image"] == 0
    # The filters are the file's weights; the maps are relu(correlation + bias) of test image 0,
    # worked out here independently of Keras.
    assert np.allclose(first["kernels"], kernel[:, :, 0, :].transpose(2, 0, 1), atol=1e-4)
    windows = np.lib.stride_tricks.sliding_window_view(images[0, :, :, 0], (3, 3))  # (26, 26, 3, 3)
    expected = np.maximum(np.einsum("ijab,abf->fij", windows, kernel[:, :, 0, :]) + bias[:, None, None], 0)
    assert np.asarray(first["maps"]).shape == (10, 26, 26)
    assert np.allclose(first["maps"], expected, atol=1e-3)

    uri = plots.first_layer(first["kernels"], first["maps"], images[0])
    assert uri is not None
    width, height, pixels = _png_size(uri)
    assert width > 2.5 * height  # one column per filter, plus the test image
    assert pixels[..., :3].std() > 0.05  # something is drawn, not a blank figure


def test_only_a_first_layer_picture_of_the_drawn_shape_and_size_is_kept():
    kernels, maps = np.ones((10, 3, 3)).tolist(), np.ones((10, 26, 26)).tolist()
    assert facts.first_layer_of({"image": 0, "kernels": kernels, "maps": maps}) is not None
    for bad in ({"image": "0", "kernels": kernels, "maps": maps},
                {"image": 0, "kernels": kernels, "maps": maps[:9]},
                {"image": 0, "kernels": np.ones((17, 3, 3)).tolist(), "maps": np.ones((17, 26, 26)).tolist()},
                {"image": 0, "kernels": np.ones((10, 11, 11)).tolist(), "maps": maps},
                {"image": 0, "kernels": [[["nan"]]], "maps": [[[1.0]]]},
                {"image": 0, "kernels": [[[1.0, 2.0], [3.0]]], "maps": maps},
                {"image": 0, "kernels": [[[float("inf")]]], "maps": [[[1.0]]]},
                ["not", "a", "dict"]):
        assert facts.first_layer_of(bad) is None, bad


# --- graded end to end (needs kernels: slow) -------------------------------------------------

# The lesson's CNN, cell by cell (corpus.py): the class below changes one thing each.
LOAD, LESSON = CNN_LOAD, LESSON_LAYERS


# Each student of the class: their notebook, the checks it must fail (every other check passes), and
# words the first failing check's message must hold, naming the mistake.
CNN_CLASS = {
    # Equivalent forms: keras.Input, MaxPool2D with its default window, tuple kernels, a list of layers.
    "equivalent": ([LOAD, """import keras
net = keras.Sequential([keras.Input(shape=(28, 28, 1)),
                        keras.layers.Conv2D(10, (3, 3), activation='relu'), keras.layers.MaxPool2D(),
                        keras.layers.Conv2D(filters=10, kernel_size=(3, 3), activation='relu'),
                        keras.layers.MaxPool2D(pool_size=(2, 2)), keras.layers.Flatten(),
                        keras.layers.Dense(3, activation='softmax')])
net.compile(loss=keras.losses.CategoricalCrossentropy(), optimizer=keras.optimizers.Adam(),
            metrics=['accuracy'])
net.fit(train_data, train_labels, epochs=10, batch_size=10, validation_split=0.2)
net.evaluate(test_data, test_labels)"""], set(), ""),
    # The dense lesson's habit: flattened images, which a Conv2D cannot take.
    "flattened": (cnn_cells(LESSON, "train_data_1d", "test_data_1d", prepare=(
        "train_data_1d = train_data.reshape((train_data.shape[0], -1))\n"
        "test_data_1d = test_data.reshape((test_data.shape[0], -1))")),
        {"data.reshape", "fit.called", "evaluate.called", "accuracy.threshold"}, "were flattened into rows"),
    # Without Flatten the Dense layer runs over every pixel: outputs (None, 5, 5, 3), and fit fails.
    "no-flatten": (cnn_cells([layer for layer in LESSON if layer != "Flatten()"]),
                   {"model.architecture", "fit.called", "evaluate.called", "accuracy.threshold"}, "A Flatten"),
    # No pooling: it trains, but it is not the network asked for.
    "no-pooling": (cnn_cells([layer for layer in LESSON if not layer.startswith("MaxPooling2D")]),
                   {"model.architecture"}, "A MaxPooling2D layer is missing"),
    "kernel-5": (cnn_cells([layer.replace("kernel_size=3", "kernel_size=5") for layer in LESSON]),
                 {"model.architecture"}, "has kernel_size=5, the exercise asks for kernel_size=3"),
    # The channel axis dropped: (n, 28, 28) images for a model that takes (28, 28, 1). Keras 3 still
    # trains on them, so only the shape check can tell.
    "no-channel": (cnn_cells(LESSON, "train_images", "test_images", prepare=(
        "train_images = train_data[:, :, :, 0]\ntest_images = test_data.squeeze()")),
        {"data.reshape"}, "lost their channel axis"),
}


@pytest.mark.slow
def test_a_class_of_usual_cnn_mistakes_fails_the_checks_that_name_them(tmp_path, standin_file, warm_grader):
    """The class above graded once, as an instructor would: `grade --exercise keras-cnn`."""
    from conftest import write_notebook

    folder = tmp_path / "submissions"
    folder.mkdir()
    for student, (cells, _failing, _words) in CNN_CLASS.items():
        write_notebook(folder / f"{student}.ipynb", cells)
    out = tmp_path / "out"
    graded = warm_grader.grade(str(folder), "--data", str(standin_file), "--exercise", "keras-cnn", out=out)
    assert graded.status == 0, graded.printed[-3000:]  # every notebook graded (some fail checks)
    results = {student: json.loads((out / "results" / f"{student}.json").read_text()) for student in CNN_CLASS}
    wrong = {}
    for student, (_cells, expected, words) in CNN_CLASS.items():
        result = results[student]
        failed = [check for check in result["checks"] if not check["passed"]]
        if result["exercise"] != "keras-cnn" or {check["id"] for check in failed} != expected or \
                (failed and words not in failed[0]["message"]):
            wrong[student] = [(check["id"], check["message"]) for check in failed]
    assert not wrong, wrong

    # The report of a CNN: its layers beside the expected ones, and its first layer pictured.
    html = (out / "reports" / "no-pooling.html").read_text()
    assert 'id="first-layer"' in html and "What your first layer learned" in html
    first = results["no-pooling"]["details"]["first_layer"]
    assert np.asarray(first["kernels"]).shape == (10, 3, 3) and np.asarray(first["maps"]).shape == (10, 26, 26)
    rows = report_model.student_layers(results["no-pooling"]["details"]["graded_model"]["structure"])
    assert [(row["kind"], row["shape"]) for row in rows[1:4]] == [
        ("Conv2D(10, 3x3)", [None, 26, 26, 10]), ("Conv2D(10, 3x3)", [None, 24, 24, 10]), ("Flatten", [None, 5760])]
    assert "MaxPooling2D(2x2)" in html and "(None, 13, 13, 10)" in html  # the expected side
    assert "first-layer" not in (out / "reports" / "no-flatten.html").read_text()  # never measured: no picture


@pytest.mark.slow
def test_the_solution_scores_full_marks_through_check(tmp_path, standin_file, warm_grader):
    from conftest import ROOT

    solution = ROOT / "solutions" / "keras-cnn.ipynb"
    completed = warm_grader.main("check", str(solution), "--exercise", "keras-cnn", "--data", str(standin_file),
                                 "--json", str(tmp_path / "result.json"), "--html", str(tmp_path / "report.html"))
    status, result = completed.returncode, json.loads((tmp_path / "result.json").read_text())
    assert status == 0 and result["score"] == result["max_score"] == 100.0, \
        [(c["id"], c["message"]) for c in result["checks"] if not c["passed"]]
    assert result["metrics"]["test_accuracy"] >= 0.9  # the stand-in's measured range: 0.91-0.96
    html = (tmp_path / "report.html").read_text()
    assert 'id="first-layer"' in html and "(None, 26, 26, 10)" in html
    assert 'class="differs"' not in html.split('id="model-title"')[1].split("</table>")[0]  # as expected
