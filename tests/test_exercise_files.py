"""Exercise files: parsing and validation, the checks generalised over a declared model,
the Gradescope archive carrying a file, authoring from a solution, and (slow) a TOML-only
exercise graded for real on a notebook that solves it and on the lesson's solution.

The fast model tests save real Keras models and read them back as the grader does
(modelfile), then put that structure into recorded facts of a real run
(tests/recorded/reference.json): the checks are pure functions of facts.
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder import cli, modelfile
from autograder.errors import UsageError
from autograder.exercise import file as exercise_file, registry as exercises
from autograder.grading import checks
from autograder.grading.facts import Facts
from autograder.grading.plan import make_plan
from autograder.grading.result import CheckEntry
from autograder.grading.settings import Request
from autograder.proof import authoring
from conftest import IN_PROCESS_KERAS, ROOT, Imported, run_cli, write_notebook

RECORDINGS = Path(__file__).parent / "recorded"

# DESIGN.md's example, as an instructor writes it: another network, optimizer and fit settings.
WIDER = """\
id = "dense-32-16"
title = "A wider dense network"
classes = ["t-shirt", "dress", "shoe"]
threshold = 0.70

[model]
input_shape = [784]
layers = [
  { type = "Dense", units = 32, activation = "relu" },
  { type = "Dense", units = 16, activation = "relu" },
  { type = "Dense", units = 3, activation = "softmax" },
]

[compile]
loss = "categorical_crossentropy"
optimizer = "rmsprop"
metrics = ["accuracy"]

[fit]
epochs = 5
batch_size = 20
validation_split = 0.1

[points]
"model.architecture" = 20
"""

# The lesson's convolutional network (DESIGN.md), as a file.
CNN = """\
id = "cnn-file"
[model]
input_shape = [28, 28, 1]
layers = [
  { type = "Conv2D", filters = 10, kernel_size = 3, activation = "relu" },
  { type = "MaxPooling2D", pool_size = 2 },
  { type = "Conv2D", filters = 10, kernel_size = 3, activation = "relu" },
  { type = "MaxPooling2D", pool_size = 2 },
  { type = "Flatten" },
  { type = "Dense", units = 3, activation = "softmax" },
]
"""


def write(tmp_path: Path, text: str, name: str = "exercise.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- parsing and validation ------------------------------------------------------

def test_builtin_exercises_are_the_shipped_files_with_the_lessons_values():
    dense, deeper = exercises.get("keras-dense"), exercises.get("keras-deeper")
    assert dense.units == [10, 3] and deeper.units == [10, 10, 3]
    for exercise in (dense, deeper):
        assert exercise.input_shape == (784,) and exercise.loss == "categorical_crossentropy"
        assert (exercise.optimizer, exercise.epochs, exercise.batch_size, exercise.validation_split,
                exercise.threshold) == ("adam", 10, 10, 0.2, 0.80)
        assert exercise.points == exercises.DEFAULT_POINTS
    shipped = {p.stem for p in (ROOT / "autograder" / "exercise" / "files").glob("*.toml")}
    assert shipped >= {"keras-dense", "keras-deeper"} and shipped == set(exercises.EXERCISES)
    assert '"exercise/files/*.toml"' in (ROOT / "pyproject.toml").read_text()  # installed as package data


def test_designs_example_file_is_read_with_its_values_and_defaults(tmp_path):
    wider = exercises.get(str(write(tmp_path, WIDER)))
    assert (wider.id, wider.units, wider.optimizer, wider.epochs, wider.batch_size, wider.validation_split,
            wider.threshold) == ("dense-32-16", [32, 16, 3], "rmsprop", 5, 20, 0.1, 0.70)
    assert wider.points["model.architecture"] == 20 and wider.points["data.load"] == 5
    assert wider.check_ids == list(exercises.CHECK_IDS)
    cnn = exercises.get(str(write(tmp_path, CNN, "cnn.toml")))
    assert cnn.input_shape == (28, 28, 1) and cnn.convolutional and cnn.layers[0].kernel_size == (3, 3)
    assert (cnn.title, cnn.optimizer, cnn.epochs, cnn.threshold) == ("cnn-file", "adam", 10, 0.80)  # defaults
    aliased = exercises.get(str(write(tmp_path, CNN.replace('"MaxPooling2D"', '"MaxPool2D"')
                                      .replace("kernel_size = 3", "kernel_size = [3, 3]"), "alias.toml")))
    assert aliased.layers == cnn.layers


def test_titles_use_the_declared_values(tmp_path):
    wider = exercises.get(str(write(tmp_path, WIDER)))
    titles = {check_id: wider.check_title(check_id) for check_id in wider.check_ids}
    assert "32, 16 and 3" in titles["model.architecture"] and "RMSprop" in titles["compile.optimizer"]
    assert "5 epochs" in titles["fit.settings"] and "batches of 20" in titles["fit.settings"]
    assert "10%" in titles["fit.validation"]
    cnn = exercises.get(str(write(tmp_path, CNN, "cnn.toml")))
    cnn_text = " ".join(cnn.check_title(c) for c in cnn.check_ids) + " ".join(cnn.task_hint(s) for s in
                                                                             exercises.TASKS)
    assert "784" not in cnn_text and "(None, 28, 28, 1)" in cnn_text and "MaxPooling2D(2)" in cnn_text


BAD_FILES = [  # (what is wrong, the file's text, what the one-line reason names)
    ("not TOML", "id = \n", "not valid TOML"),
    ("an unknown key", WIDER.replace('title = "A wider', 'titel = "A wider'), "titel: unknown key"),
    ("an unknown key in a table", WIDER.replace("epochs = 5", "epoch = 5"), "fit.epoch: unknown key"),
    ("an unknown layer type", CNN.replace('"Flatten"', '"Flattten"'), "model.layers[4].type: unknown layer type"),
    ("an unknown layer setting", WIDER.replace("units = 32,", "units = 32, kernel = 3,"),
     "model.layers[0].kernel: unknown key"),
    ("an unknown check id", WIDER.replace('"model.architecture" = 20', '"model.layers" = 20'),
     "points.model.layers: unknown key"),
    ("points that are not a number", WIDER.replace('"model.architecture" = 20', '"model.architecture" = "20"'),
     "points.'model.architecture': must be a number"),
    ("output units and classes disagree", WIDER.replace("units = 3,", "units = 10,"),
     "model.layers[2].units: the output layer has 10 units but classes names 3"),
    ("a threshold above 1", WIDER.replace("threshold = 0.70", "threshold = 80"), "threshold: must be between 0 and 1"),
    ("a negative threshold", WIDER.replace("threshold = 0.70", "threshold = -0.1"), "threshold: must be between"),
    ("zero epochs", WIDER.replace("epochs = 5", "epochs = 0"), "fit.epochs: must be from 1 to"),
    ("a negative batch size", WIDER.replace("batch_size = 20", "batch_size = -1"), "fit.batch_size: must be from 1 to"),
    ("epochs that are not whole", WIDER.replace("epochs = 5", "epochs = 2.5"), "fit.epochs: must be a whole number"),
    ("a split of 1", WIDER.replace("validation_split = 0.1", "validation_split = 1.0"),
     "fit.validation_split: must be in [0, 1)"),
    ("no id", WIDER.replace('id = "dense-32-16"\n', ""), "id: must be a non-empty string"),
    ("no model", CNN.split("[model]")[0], "model: missing"),
    ("an unknown optimizer", WIDER.replace('"rmsprop"', '"adamm"'), "compile.optimizer: 'adamm' is not one of"),
    ("a Conv2D on flat input", CNN.replace("[28, 28, 1]", "[784]"), "model.layers[0]: a Conv2D layer needs images"),
    ("a Dense layer on images", CNN.replace('  { type = "Flatten" },\n', ""), "declare a Flatten layer before it"),
    ("an input of another size", WIDER.replace("[784]", "[100]"), "model.input_shape: [100] holds 100 values"),
    ("a built-in's id", WIDER.replace('"dense-32-16"', '"keras-dense"'), "id: 'keras-dense' is a built-in"),
    # Numbers and nesting a file may use to overflow a score or crash the grader, each refused in one line.
    ("points of 1e308", WIDER.replace('"model.architecture" = 20', '"model.architecture" = 1e308'),
     "points.'model.architecture': must be from 0 to 1000"),
    ("points summing past a float", WIDER.replace('"model.architecture" = 20', "".join(
        f'"{c}" = 1e300\n' for c in ("model.architecture", "fit.called"))), "must be from 0 to 1000"),
    ("a huge number of units", WIDER.replace("units = 32,", f"units = {10**18},"),
     "model.layers[0].units: must be from 1 to 100000, not a number of 19 digits"),
    ("epochs beyond reason", WIDER.replace("epochs = 5", "epochs = 99999999"), "fit.epochs: must be from 1 to 10000"),
    ("a kernel larger than an image", CNN.replace("kernel_size = 3", "kernel_size = 1000", 1),
     "kernel_size: must be from 1 to 28"),
    ("a title of a megabyte", WIDER.replace('title = "A wider', 'title = "' + "x" * 300 + 'A wider'),
     "title: must be at most 200 characters"),
    ("arrays nested ten thousand deep", WIDER + "\nextra = " + "[" * 10000 + "]" * 10000 + "\n",
     "nested too deeply"),
    ("tables nested ten thousand deep", WIDER + "\nextra = " + "{a=" * 10000 + "1" + "}" * 10000 + "\n",
     "nested too deeply"),
    ("a thousand layers", WIDER.replace('  { type = "Dense", units = 32, activation = "relu" },\n',
                                        '  { type = "Dense", units = 32, activation = "relu" },\n' * 1000),
     "model.layers: must list at most 100 layers"),
]


@pytest.mark.parametrize("text,reason", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_a_broken_exercise_file_is_refused_with_exit_2_and_a_reason_naming_the_key(tmp_path, capsys, text, reason):
    path = write(tmp_path, text)
    assert cli.main(["exercise", "validate", str(path)]) == 2
    error = capsys.readouterr().err
    assert reason in error and str(path) in error, error
    assert error.count("\n") == 1  # one line


def test_check_and_grade_refuse_a_broken_file_before_grading(tmp_path, capsys):
    notebook = write_notebook(tmp_path / "alice.ipynb", ["x = 1"])
    broken = write(tmp_path, WIDER.replace("threshold = 0.70", "threshold = 1.5"))
    completed = run_cli("check", str(notebook), "--exercise", str(broken), "--json", str(tmp_path / "r.json"))
    assert completed.returncode == 2 and "threshold: must be between 0 and 1" in completed.stderr
    assert json.loads((tmp_path / "r.json").read_text())["status"] == "invalid"
    assert cli.main(["grade", str(notebook), "--out", str(tmp_path / "out"), "--exercise", str(broken)]) == 2
    assert "threshold" in capsys.readouterr().err
    assert cli.main(["exercise", "validate", str(tmp_path / "missing.toml")]) == 2


def test_a_notebooks_metadata_may_name_built_in_exercises_only():
    plan = make_plan(Request())
    assert plan.exercise_for("keras-deeper").id == "keras-deeper"
    with pytest.raises(UsageError, match="unknown exercise"):
        plan.exercise_for(str(RECORDINGS / "exercise.toml"))  # a file the student names is never read


# --- the checks, generalised over the declared model ------------------------------

keras = Imported("keras")
L = Imported("keras", "layers")


def recorded(name: str = "reference") -> Facts:
    return Facts.from_dict(json.loads((RECORDINGS / f"{name}.json").read_text()))


def with_model(model, tmp_path: Path, compile_args: dict | None = None) -> Facts:
    """The reference run's facts with `model` (compiled, saved and read back as data) as the graded model."""
    model.compile(**(compile_args or dict(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])))
    path = tmp_path / "model.keras"
    model.save(path)
    structure = modelfile.describe(modelfile.read_config(path.read_bytes())).to_dict()
    facts = recorded()
    facts.models[str(facts.graded_model)]["structure"] = structure
    return facts


def verdicts(facts: Facts, exercise: exercises.Exercise) -> dict[str, CheckEntry]:
    return {r["id"]: r for r in checks.run_checks(facts, exercise)}


MODEL_CHECKS = ("model.input_shape", "model.architecture", "model.hidden_activation", "model.output_layer")


def cnn_reference():
    return keras.Sequential([L.Conv2D(10, kernel_size=3, input_shape=(28, 28, 1), activation="relu"),
                             L.MaxPooling2D(2), L.Conv2D(10, kernel_size=3, activation="relu"), L.MaxPooling2D(2),
                             L.Flatten(), L.Dense(3, activation="softmax")])


def cnn_functional():
    inputs = keras.Input(shape=(28, 28, 1))
    x = L.Conv2D(10, (3, 3))(inputs)
    x = L.ReLU()(x)
    x = L.MaxPool2D(pool_size=(2, 2))(x)
    x = L.Conv2D(filters=10, kernel_size=[3, 3], activation=keras.activations.relu)(x)
    x = L.MaxPool2D()(x)
    x = L.Dropout(0.25)(L.Flatten()(x))
    return keras.Model(inputs, L.Softmax()(L.Dense(3)(x)))


@IN_PROCESS_KERAS
@pytest.mark.parametrize("build", [cnn_reference, cnn_functional], ids=["lesson", "functional-aliases-objects"])
def test_a_cnn_and_its_equivalent_forms_pass_the_model_checks(tmp_path, build):
    cnn = exercise_file.parse(CNN, "cnn.toml")
    results = verdicts(with_model(build(), tmp_path, dict(loss=keras.losses.CategoricalCrossentropy(),
                                                          optimizer=keras.optimizers.Adam(),
                                                          metrics=[keras.metrics.CategoricalAccuracy()])), cnn)
    for check_id in (*MODEL_CHECKS, "compile.loss", "compile.optimizer", "compile.metrics"):
        assert results[check_id]["passed"], (check_id, results[check_id]["message"])
    assert "(None, 28, 28, 1)" in results["model.input_shape"]["message"]


def cnn_without(*dropped: int, **replaced):
    layers = [L.Conv2D(10, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(10, 3, activation="relu"),
              L.MaxPooling2D(2), L.Flatten(), L.Dense(3, activation="softmax")]
    for index, layer in replaced.items():
        layers[int(index[1:])] = layer
    return keras.Sequential([keras.Input((28, 28, 1)), *[layer for i, layer in enumerate(layers) if i not in dropped]])


CNN_MISTAKES = [  # (name, model, the failing model checks, what architecture or the check says)
    ("no pooling after the first Conv2D", lambda: cnn_without(1), {"model.architecture"},
     "A MaxPooling2D layer is missing after the first Conv2D"),
    ("no Flatten", lambda: cnn_without(4), {"model.architecture"},
     "A Flatten layer is missing after the second MaxPooling2D"),
    ("kernel size 5", lambda: cnn_without(l0=L.Conv2D(10, 5, activation="relu")), {"model.architecture"},
     "The first Conv2D layer has kernel_size=5, the exercise asks for kernel_size=3"),
    ("16 filters", lambda: cnn_without(l2=L.Conv2D(16, 3, activation="relu")), {"model.architecture"},
     "The second Conv2D layer has 16 filters, the exercise asks for 10"),
    ("10 output units", lambda: cnn_without(l5=L.Dense(10, activation="softmax")),
     {"model.architecture", "model.output_layer"}, "3 classes (t-shirt, dress, shoe)"),
    ("a sigmoid output", lambda: cnn_without(l5=L.Dense(3, activation="sigmoid")), {"model.output_layer"}, "sigmoid"),
    ("a linear convolution", lambda: cnn_without(l0=L.Conv2D(10, 3)), {"model.hidden_activation"},
     "applies no activation"),
    ("no channel axis", lambda: keras.Sequential([keras.Input((28, 28)), L.Reshape((28, 28, 1)),
                                                  *cnn_without().layers]),
     {"model.input_shape"}, "without the channel axis"),
    ("the dense lesson's model", lambda: keras.Sequential([keras.Input((784,)), L.Dense(10, activation="relu"),
                                                           L.Dense(3, activation="softmax")]),
     {"model.input_shape", "model.architecture"}, "its convolutions need whole images"),
]


@IN_PROCESS_KERAS
@pytest.mark.parametrize("build,failing,says", [c[1:] for c in CNN_MISTAKES], ids=[c[0] for c in CNN_MISTAKES])
def test_cnn_mistakes_fail_the_right_model_checks_and_say_what_differs(tmp_path, build, failing, says):
    results = verdicts(with_model(build(), tmp_path), exercise_file.parse(CNN, "cnn.toml"))
    assert {c for c in MODEL_CHECKS if not results[c]["passed"]} == failing
    assert any(says in results[c]["message"] for c in failing), [results[c]["message"] for c in failing]


@IN_PROCESS_KERAS
def test_a_dense_exercise_names_the_layer_whose_units_differ(tmp_path):
    wider = exercise_file.parse(WIDER, "wider.toml")
    model = keras.Sequential([keras.Input((784,)), L.Dense(32, activation="relu"), L.Dense(8, activation="relu"),
                              L.Dense(3, activation="softmax")])
    result = verdicts(with_model(model, tmp_path), wider)["model.architecture"]
    assert not result["passed"] and "The second Dense layer has 8 units, the exercise asks for 16." in result["message"]
    dropout = keras.Sequential([keras.Input((784,)), L.Dense(32, activation="relu"), L.Dropout(0.5),
                                L.Dense(16, activation="relu"), L.Dense(3, activation="softmax")])
    assert verdicts(with_model(dropout, tmp_path), wider)["model.architecture"]["passed"]  # not declared: harmless


def images_passed(facts: Facts, train: list[int], test: list[int]) -> Facts:
    changed = copy.deepcopy(facts)
    for call in changed.calls:
        if call["kind"] in ("fit", "evaluate") and call["x"]:
            call["x"]["shape"] = train if call["kind"] == "fit" else test
    return changed


def test_data_reshape_follows_the_declared_input(tmp_path):
    cnn = exercise_file.parse(CNN, "cnn.toml")
    dense = exercises.get("keras-dense")
    flat, whole, no_channel = ([600, 784], [100, 784]), ([600, 28, 28, 1], [100, 28, 28, 1]), \
        ([600, 28, 28], [100, 28, 28])
    reshape = {name: {e.id: verdicts(images_passed(recorded(), *shapes), e)["data.reshape"] for e in (cnn, dense)}
               for name, shapes in (("flat", flat), ("whole", whole), ("no channel", no_channel))}
    assert reshape["flat"]["keras-dense"]["passed"] and reshape["whole"]["cnn-file"]["passed"]
    assert not reshape["flat"]["cnn-file"]["passed"] and "flattened into rows" in reshape["flat"]["cnn-file"]["message"]
    assert reshape["flat"]["cnn-file"]["diagnosis"] == "flattened images for a convolutional model"
    assert not reshape["no channel"]["cnn-file"]["passed"] and "lost their channel axis" in \
        reshape["no channel"]["cnn-file"]["message"]
    whole = reshape["whole"]["keras-dense"]
    assert not whole["passed"] and "flat row of 784" in whole["message"]


def test_compile_and_fit_checks_use_the_declared_values(tmp_path):
    wider = exercise_file.parse(WIDER, "wider.toml")
    lesson = verdicts(recorded(), wider)  # the lesson's reference run: adam, 10 epochs of 10, 20% held out
    optimizer = lesson["compile.optimizer"]
    assert not optimizer["passed"] and "the exercise uses RMSprop" in optimizer["message"]
    assert "optimizer='rmsprop'" in lesson["compile.optimizer"]["hint"]
    assert not lesson["fit.settings"]["passed"] and "epochs=5 and batch_size=20" in lesson["fit.settings"]["message"]
    assert not lesson["fit.validation"]["passed"] and "asks for 10%" in lesson["fit.validation"]["message"]
    assert lesson["compile.loss"]["passed"] and lesson["compile.metrics"]["passed"]
    assert lesson["model.architecture"]["max_points"] == 20
    facts = recorded()
    fit = facts.main_fit
    assert fit is not None
    fit["settings"].update(epochs=5, batch_size=20, validation_split=0.1)
    fit["epochs_run"] = 5
    graded = facts.graded
    assert graded is not None and graded.get("evidence") is not None
    # The saved model's optimizer took what those settings imply: 5 epochs of ceil(540 / 20) steps,
    # so the training record is confirmed and only the settings decide.
    graded["evidence"]["iterations"] = 5 * 27
    adjusted = verdicts(facts, wider)
    assert adjusted["fit.settings"]["passed"] and adjusted["fit.validation"]["passed"]
    none_held = exercise_file.parse(WIDER.replace("validation_split = 0.1", "validation_split = 0.0"), "w.toml")
    assert not verdicts(recorded(), none_held)["fit.validation"]["passed"]


# --- the Gradescope archive and authoring ----------------------------------------

def test_the_gradescope_archive_carries_the_exercise_file(tmp_path):
    source = write(tmp_path, WIDER)
    archive = tmp_path / "autograder.zip"
    assert cli.main(["gradescope", "--exercise", str(source), "--out", str(archive)]) == 0
    unpacked = tmp_path / "source"
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(unpacked)
    rubric = json.loads((unpacked / "rubric.json").read_text())
    assert rubric["request"]["exercise"] == "exercise.toml" and str(tmp_path) not in json.dumps(rubric)
    assert exercises.get(str(unpacked / "exercise.toml")) == exercises.get(str(source))
    listing = subprocess.run([sys.executable, "-c",
                              "from autograder.exercise import registry; print(registry.EXERCISES)"],
                             cwd=tmp_path, env={"PYTHONPATH": str(unpacked)}, capture_output=True, text=True)
    assert "keras-dense" in listing.stdout, listing.stderr  # the archived package ships its built-in files


def test_an_exercise_written_from_recorded_facts_reads_back_as_the_lesson(tmp_path):
    facts = recorded()
    facts.test_accuracy = 0.913
    values = authoring.describe_solution(facts, "dense-again", "Again", authoring.THRESHOLD_MARGIN)
    written = exercise_file.parse(authoring.render(values), "written.toml")
    dense = exercises.get("keras-dense")
    assert written.threshold == 0.86  # 0.913 - 0.05, rounded down to hundredths
    for name in ("layers", "input_shape", "classes", "loss", "optimizer", "metrics", "epochs", "batch_size",
                 "validation_split", "points"):
        assert getattr(written, name) == getattr(dense, name), name
    cnn_facts = with_model(cnn_functional(), tmp_path)
    cnn_facts.test_accuracy = 0.9
    made = exercise_file.parse(authoring.render(authoring.describe_solution(cnn_facts, "c", "C", 0.05)), "c.toml")
    assert made.layers[:-1] == exercise_file.parse(CNN, "cnn.toml").layers[:-1] + (exercises.LayerSpec(
        "Dropout", rate=0.25),)
    untrained = recorded("never-trained")
    with pytest.raises(UsageError, match="not trained"):
        authoring.describe_solution(untrained, "x", "x", 0.05)


# --- slow: a TOML-only exercise graded for real -------------------------------------

WIDER_SOLUTION = [
    "import numpy as np\nfashion = np.load('fashion.npz')\ntrain_data = fashion['train_data']\n"
    "train_labels = fashion['train_labels']\ntest_data = fashion['test_data']\ntest_labels = fashion['test_labels']",
    "train_flat = train_data.reshape((len(train_data), -1))\ntest_flat = test_data.reshape((len(test_data), -1))",
    "import keras\nnet = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(32, activation='relu'),\n"
    "    keras.layers.Dense(16, activation='relu'), keras.layers.Dense(3, activation='softmax')])\n"
    "net.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.RMSprop(), metrics=['accuracy'])",
    "net.fit(train_flat, train_labels, epochs=5, batch_size=20, validation_split=0.1)",
    "net.evaluate(test_flat, test_labels)",
]
DIFFERING = {"model.architecture", "compile.optimizer", "fit.settings", "fit.validation"}


@pytest.mark.slow
def test_a_toml_only_exercise_grades_its_solution_and_fails_the_lessons_where_they_differ(tmp_path, warm_grader):
    exercise = write(tmp_path, WIDER)
    solves = write_notebook(tmp_path / "solves.ipynb", WIDER_SOLUTION)
    lesson = ROOT / "solutions" / "keras-dense.ipynb"
    status, solved = warm_grader.check(solves, tmp_path, "--exercise", str(exercise))
    assert status == 0, [(c["id"], c["message"]) for c in solved["checks"] if not c["passed"]]
    assert solved["exercise"] == "dense-32-16" and solved["max_score"] == 110.0
    titles = {c["id"]: c["title"] for c in solved["checks"]}
    assert "RMSprop" in titles["compile.optimizer"] and "5 epochs" in titles["fit.settings"]
    status, other = warm_grader.check(lesson, tmp_path, "--exercise", str(exercise))
    failed = {c["id"] for c in other["checks"] if not c["passed"]}
    assert status == 1 and DIFFERING <= failed and failed - DIFFERING <= {"accuracy.threshold"}, failed


CNN_SOLUTION = [
    WIDER_SOLUTION[0],
    "from tensorflow import keras\nfrom keras.layers import Conv2D, MaxPool2D, Flatten, Dense, Dropout\n"
    "model = keras.Sequential([keras.Input((28, 28, 1)), Conv2D(10, (3, 3), activation='relu'), MaxPool2D(2),\n"
    "    Conv2D(10, kernel_size=3, activation='relu'), MaxPool2D(), Flatten(), Dropout(0.25),\n"
    "    Dense(3, activation='softmax')])\n"
    "model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])",
    "model.fit(train_data, train_labels, epochs=10, batch_size=10, validation_split=0.2)",
    "model.evaluate(test_data, test_labels, batch_size=10)",
]
CNN_FLATTENED = [CNN_SOLUTION[0], WIDER_SOLUTION[1], CNN_SOLUTION[1],
                 "model.fit(train_flat, train_labels, epochs=10, batch_size=10, validation_split=0.2)",
                 "model.evaluate(test_flat, test_labels, batch_size=10)"]


@pytest.mark.slow
def test_grade_takes_a_cnn_exercise_file_for_a_class(tmp_path, warm_grader):
    """`grade --exercise FILE` (the batch path): the CNN passes with aliases and a Dropout the file does not
    declare; flattening the images for it fails data.reshape and what follows, saying why."""
    exercise = write(tmp_path, CNN)
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    write_notebook(submissions / "ada.ipynb", CNN_SOLUTION)
    write_notebook(submissions / "ben.ipynb", CNN_FLATTENED)
    out = tmp_path / "out"
    completed = warm_grader.main("grade", str(submissions), "--out", str(out), "--exercise", str(exercise),
                                 "--jobs", "2")
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = {path.stem: json.loads(path.read_text()) for path in (out / "results").glob("*.json")}
    failed = {name: {c["id"] for c in result["checks"] if not c["passed"]} for name, result in results.items()}
    assert set(results) == {"ada", "ben"} and all(r["exercise"] == "cnn-file" for r in results.values())
    assert failed["ada"] == set(), [c["message"] for c in results["ada"]["checks"] if not c["passed"]]
    assert failed["ben"] == {"data.reshape", "fit.called", "evaluate.called", "accuracy.threshold"}
    reshape = next(c for c in results["ben"]["checks"] if c["id"] == "data.reshape")
    assert "flattened into rows" in reshape["message"] and "(600, 784)" in reshape["message"]
    assert "784" not in " ".join(c["title"] for c in results["ada"]["checks"])
