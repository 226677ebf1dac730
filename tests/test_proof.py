"""Proving an exercise (`autograder exercise prove`, autograder/proof/): the mutants and equivalents
made from solutions in every form a student writes (pure syntax-tree work), the statistics of
the calibration, the verdicts on recorded results (a sound rubric, and each weakness refused for
its own reason), the proof document's schema, and (slow) keras-dense proven end to end.
"""
from __future__ import annotations

import ast
import copy
import functools
import json
from pathlib import Path

import nbformat
import pytest

from autograder import cli, notebook
from autograder.exercise import file as exercise_file, registry as exercises
from autograder.proof import calibration as calibration_module, document, report, verdicts
from autograder.proof.calibration import Calibration
from autograder.proof.equivalents import equivalents
from autograder.proof.mutants import Solution, mutants
from autograder.proof.source import Code, parse
from conftest import ROOT, write_notebook
from reports import result_of
from test_exercise_files import CNN, CNN_SOLUTION, WIDER, WIDER_SOLUTION

DENSE = exercises.get("keras-dense")
LOAD = WIDER_SOLUTION[0]

# The lesson in the functional API, with an imported alias, positional arguments everywhere,
# an IPython magic, and an f-string that uses the variables.
FUNCTIONAL = [
    "%matplotlib inline\n" + LOAD,
    "import numpy as np\nX_train = train_data.reshape(-1, 784)\nX_test = np.reshape(test_data, (100, 784))",
    "from tensorflow.keras.layers import Dense as D, Input\nfrom tensorflow.keras.models import Model\n"
    "inp = Input(shape=(784,))\nh = D(10, 'relu')(inp)\nout = D(3, activation='softmax')(h)\nclf = Model(inp, out)\n"
    "clf.compile('adam', 'categorical_crossentropy', metrics=['accuracy'])",
    "clf.fit(X_train, train_labels, 10, 10, validation_split=0.2)",
    "print(f'accuracy {clf.evaluate(X_test, test_labels)[1]:.2f}')",
]


def solution_of(cells: list[str], exercise, tmp_path: Path) -> Solution:
    return Solution(notebook.read(write_notebook(tmp_path / "solution.ipynb", cells)), exercise)


def lesson_solution(name: str = "keras-dense") -> Solution:
    return Solution(notebook.read(ROOT / "solutions" / f"{name}.ipynb"), exercises.get(name))


def changed(variant, solution: Solution) -> str:
    """The code of the cells a variant changed, joined."""
    return "\n".join(new.source for old, new in zip(solution.notebook.cells, variant.notebook.cells)
                     if old.source != new.source)


def made(solution: Solution) -> dict:
    variants, skipped = mutants(solution)
    return {variant.id: variant for variant in variants} | {s.id: s for s in skipped}


# --- mutants ----------------------------------------------------------------------------


def test_every_expectation_of_the_lessons_file_and_every_usual_mistake_has_a_mutant():
    solution = lesson_solution()
    variants, skipped = mutants(solution)
    assert not skipped, skipped
    ids = [v.id for v in variants]
    assert ids == ["units-1", "units-2", "activation-1", "sigmoid-output", "input-shape", "loss-mse", "optimizer-sgd",
                   "no-metrics", "epochs", "batch-size", "validation-split", "missing-layer", "extra-layer",
                   "swapped-layers", "no-flattening", "sparse-loss", "trained-on-test", "never-trained",
                   "never-evaluated"]
    by_id = {v.id: changed(v, solution) for v in variants}
    assert "Dense(20, input_shape=(784,), activation='relu')" in by_id["units-1"]
    assert "Dense(10, activation='softmax')" in by_id["units-2"]
    assert "model.add(Dense(10, input_shape=(784,)))" in by_id["activation-1"]
    assert "activation='sigmoid'" in by_id["sigmoid-output"]
    assert "input_shape=(1,)" in by_id["input-shape"]
    assert "loss='sparse_categorical_crossentropy'" in by_id["sparse-loss"]
    assert "model.compile(loss='categorical_crossentropy', optimizer='adam')" in by_id["no-metrics"]
    assert "epochs" not in by_id["epochs"] and "batch_size" not in by_id["batch-size"]
    assert "validation_split" not in by_id["validation-split"]
    assert "train_data_1d = train_data\n" in by_id["no-flattening"]
    assert "model.fit(test_data_1d, test_labels" in by_id["trained-on-test"]
    assert ".fit(" not in by_id["never-trained"]
    assert "test_loss, test_accuracy = [0.0, 0.0]" in by_id["never-evaluated"]
    # The layer that held the input shape hands it on; a swap keeps it on the first layer.
    assert "Dense(10" not in by_id["missing-layer"] and "Dense(3, activation='softmax', input_shape=(784,))" in \
        by_id["missing-layer"]
    assert by_id["swapped-layers"].index("Dense(3, activation='softmax', input_shape=(784,))") < \
        by_id["swapped-layers"].index("model.add(Dense(10, activation='relu'))")
    assert by_id["extra-layer"].count("Dense(10") == 2
    for variant in variants:  # one mistake each: everything else stays as written
        assert variant.notebook.cells[0] == solution.notebook.cells[0]
        assert all(parse(cell.source) is not None for cell in variant.notebook.cells if cell.cell_type == "code")
        assert variant.requirements and all(r.checks for r in variant.requirements)


@pytest.mark.parametrize("name", sorted(exercises.EXERCISES))
def test_every_built_in_solution_gives_every_mutant_and_equivalent(name):
    """What CI proves end to end for keras-dense is made, at least, for every built-in exercise."""
    solution = lesson_solution(name)
    variants, skipped = mutants(solution)
    forms, skipped_forms = equivalents(solution)
    assert not skipped and not skipped_forms, skipped + skipped_forms
    assert len(variants) >= 19 and len(forms) == 5
    for made_one in variants + forms:
        cells = [cell for cell in made_one.notebook.cells if cell.cell_type == "code"]
        assert all(parse(cell.source) is not None for cell in cells), made_one.id
        assert made_one.notebook.cells != solution.notebook.cells, made_one.id


def test_mutants_are_made_on_a_list_of_layers_with_keras_input_and_objects(tmp_path):
    wider = exercise_file.parse(WIDER, "wider.toml")
    solution = solution_of(WIDER_SOLUTION, wider, tmp_path)
    variants = made(solution)
    text = {key: changed(v, solution) for key, v in variants.items() if hasattr(v, "notebook")}
    assert "keras.layers.Dense(64, activation='relu')" in text["units-1"]
    assert "keras.layers.Dense(32, activation='relu'), keras.layers.Dense(3" in text["units-2"]
    assert "keras.Input(shape=(1,))" in text["input-shape"]
    assert "optimizer='sgd'" in text["optimizer-sgd"]  # the RMSprop object replaced
    assert "keras.Input(shape=(784,)), keras.layers.Dense(16, activation='relu'), keras.layers.Dense(3" in \
        text["missing-layer"]
    assert text["extra-layer"].count("keras.layers.Dense(32, activation='relu')") == 2
    assert "train_flat = train_data\n" in text["no-flattening"]
    assert "epochs=5" not in text["epochs"] and "validation_split" not in text["validation-split"]


def test_mutants_are_made_on_the_functional_api_with_aliases_positional_arguments_and_magics(tmp_path):
    solution = solution_of(FUNCTIONAL, DENSE, tmp_path)
    variants = made(solution)
    text = {key: changed(v, solution) for key, v in variants.items() if hasattr(v, "notebook")}
    assert text["units-1"].count("h = D(20, 'relu')(inp)") == 1
    assert "h = D(10)(inp)" in text["activation-1"]  # a positional activation dropped
    assert "inp = Input(shape=(1,))" in text["input-shape"]
    assert "clf.compile('sgd', 'categorical_crossentropy'" in text["optimizer-sgd"]
    assert "clf.compile('adam', 'mean_squared_error'" in text["loss-mse"]
    assert "clf.fit(X_train, train_labels, 10, validation_split=0.2)" in text["epochs"]  # the last positional
    assert "clf.fit(X_train, train_labels, None, 10, validation_split=0.2)" in text["batch-size"]  # Keras' default
    assert "h = inp" in text["missing-layer"]
    assert "h = D(10, 'relu')(D(10, 'relu')(inp))" in text["extra-layer"]
    assert "h = D(3, activation='softmax')(inp)" in text["swapped-layers"] and "out = D(10, 'relu')(h)" in \
        text["swapped-layers"]
    assert "X_train = train_data\n" in text["no-flattening"] and "X_test = test_data" in text["no-flattening"]
    assert "clf.fit(X_test, test_labels, 10, 10" in text["trained-on-test"]
    assert "[0.0, 0.0][1]" in text["never-evaluated"]
    assert variants["units-1"].notebook.cells[0].source.startswith("%matplotlib inline\n")


def test_cnn_mutants_change_filters_kernels_pooling_and_flatten_the_images(tmp_path):
    cnn = exercise_file.parse(CNN, "cnn.toml")
    solution = solution_of(CNN_SOLUTION, cnn, tmp_path)  # MaxPool2D, a Dropout the file does not declare
    variants = made(solution)
    text = {key: changed(v, solution) for key, v in variants.items() if hasattr(v, "notebook")}
    assert {"filters-1", "kernel-size-1", "pool-size-2", "filters-3", "units-6", "pooling-type",
            "flattened-images"} <= set(text)
    assert "Conv2D(10, 5, activation='relu')" in text["kernel-size-1"]
    assert "from keras.layers import AveragePooling2D\nmodel = keras.Sequential([keras.Input((28, 28, 1)), " \
        "Conv2D(10, (3, 3), activation='relu'), AveragePooling2D(2)," in text["pooling-type"]
    assert "keras.Input((28, 28, 3))" in text["input-shape"]
    assert "model.fit(train_data.reshape(train_data.shape[0], -1)" in text["flattened-images"]
    assert "Dropout(0.25)" in text["units-6"]  # what the file does not declare is left alone


def test_a_mutant_the_code_gives_no_place_is_skipped_with_the_reason(tmp_path):
    looped = [LOAD, "train_flat = train_data.reshape((600, -1))\ntest_flat = test_data.reshape((100, -1))",
              "import keras\nmodel = keras.Sequential([keras.Input((784,))])\nfor units, act in [(10, 'relu'), "
              "(3, 'softmax')]:\n    model.add(keras.layers.Dense(units, activation=act))\n"
              "model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])",
              "model.fit(train_flat, train_labels, epochs=10, batch_size=10, validation_split=0.2)",
              "model.evaluate(test_flat, test_labels)"]
    variants = made(solution_of(looped, DENSE, tmp_path))
    assert not hasattr(variants["units-1"], "notebook") and "not the exercise's" in variants["units-1"].reason
    assert hasattr(variants["loss-mse"], "notebook") and hasattr(variants["never-trained"], "notebook")


def test_a_magic_line_keeps_the_positions_of_the_code_after_it():
    code = Code(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("%time x = 1\n!ls\nmodel.fit(a, b)")]))
    (site,) = code.method_calls("fit")
    assert site.text == "model.fit(a, b)"


# --- equivalents -------------------------------------------------------------------------


def test_the_lessons_solution_has_each_other_form(tmp_path):
    solution = lesson_solution()
    variants, skipped = equivalents(solution)
    assert not skipped, skipped
    text = {v.id: changed(v, solution) for v in variants}
    assert set(text) == {"form-list", "form-functional", "keras-input", "renamed", "objects"}
    assert "model = keras.Sequential([\n    Dense(10, activation='relu', input_shape=(784,)),\n" in text["form-list"]
    assert "inputs = keras.Input(shape=(784,))" in text["form-functional"] and \
        "model = keras.Model(inputs=inputs, outputs=outputs)" in text["form-functional"]
    assert "model.add(keras.Input(shape=(784,)))\nmodel.add(Dense(10, activation='relu'))" in text["keras-input"]
    assert "keras.losses.CategoricalCrossentropy()" in text["objects"] and \
        "activation=keras.activations.relu" in text["objects"]
    renamed = next(v for v in variants if v.id == "renamed")
    for cell in renamed.notebook.cells:
        if cell.cell_type == "code" and (tree := parse(cell.source)) is not None:
            stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
            assert not stored & {"model", "train_data", "train_data_1d", "history"}, stored


def test_equivalents_of_a_list_and_of_a_functional_model(tmp_path):
    wider = solution_of(WIDER_SOLUTION, exercise_file.parse(WIDER, "wider.toml"), tmp_path)
    variants, _ = equivalents(wider)
    text = {v.id: changed(v, wider) for v in variants}
    assert {"form-add", "form-functional", "input-shape-argument", "renamed", "objects"} <= set(text)
    assert "net.add(keras.layers.Dense(32, activation='relu'))" in text["form-add"]
    assert "keras.layers.Dense(32, activation='relu', input_shape=(784,))" in text["input-shape-argument"]
    assert "optimizer=keras.optimizers.RMSprop()" in text["objects"]  # an object already: kept
    functional = solution_of(FUNCTIONAL, DENSE, tmp_path)
    variants, _ = equivalents(functional)
    text = {v.id: changed(v, functional) for v in variants}
    assert "clf = keras.Sequential([\n    keras.Input(shape=(784,)),\n    D(10, 'relu'),\n" in text["form-list"]
    assert "inp = " not in text["form-add"]  # the functional statements are gone
    assert "print(f'accuracy {my_clf.evaluate(my_X_test, my_test_labels)[1]:.2f}')" in text["renamed"]
    assert "clf.compile(keras.optimizers.Adam(), keras.losses.CategoricalCrossentropy()" in text["objects"]


# --- the calibration's statistics ---------------------------------------------------------


def test_the_false_fail_chance_and_the_suggested_threshold():
    sound = Calibration((0.89, 0.90, 0.88, 0.91, 0.89, 0.90, 0.88, 0.89), 0.80, 100)
    assert sound.holds and sound.false_fail_rate < 1e-6
    assert sound.suggested_threshold == 0.87  # mean 0.8925 + half an image - 2.33 * spread, in hundredths
    assert calibration_module.chance_below(sound.suggested_threshold, sound.mean, sound.spread, sound.step) <= 0.01
    assert calibration_module.chance_below(sound.suggested_threshold + 0.01, sound.mean, sound.spread,
                                           sound.step) > 0.01
    half = Calibration((0.92, 0.93, 0.91, 0.94), 0.93, 100)  # reached half the time
    assert not half.holds and half.below == 2 and 0.3 < half.false_fail_rate < 0.7
    assert half.suggested_threshold <= half.lowest
    agreeing = Calibration((0.93, 0.93), 0.93, 100)  # two runs that agree do not make a spread of 0
    assert agreeing.spread == pytest.approx(0.01) and agreeing.false_fail_rate > 0.3
    assert Calibration((0.9,), 0.8, 100).holds and not Calibration((), 0.8, 100).holds


def test_the_untrained_side_of_the_threshold():
    lesson = Calibration((0.9, 0.91), 0.80, 100, untrained=(0.33, 0.25))
    assert lesson.protects and lesson.untrained_pass_rate < 0.001
    low = Calibration((0.9, 0.91), 0.30, 100, untrained=(0.33, 0.25))
    assert not low.protects and low.untrained_reached == 1
    close = Calibration((0.9, 0.91), 0.40, 100, untrained=(0.33, 0.25))  # no run reached it; luck would
    assert close.untrained_reached == 0 and not close.protects
    assert 0.40 < close.lowest_protecting_threshold <= close.suggested_threshold
    assert close.untrained_chance(close.lowest_protecting_threshold) <= close.untrained_level


# --- verdicts on recorded results ------------------------------------------------------------


@functools.cache
def lesson_mutants() -> tuple:
    return tuple(mutants(lesson_solution())[0])


def variant(mutant_id: str):
    return next(v for v in lesson_mutants() if v.id == mutant_id)


# Recorded notebooks that make one mutant's mistake, as the grader graded them.
RECORDED_MUTANTS = {"sigmoid-output": "sigmoid-output", "sparse-loss": "sparse-loss-with-one-hot",
                    "trained-on-test": "trained-on-test-data", "no-flattening": "cascade-unflattened",
                    "never-trained": "never-trained", "units-2": "ten-unit-output", "loss-mse": "live-mse-loss",
                    "validation-split": "live-no-validation-split", "batch-size": "wrong-epochs-and-batch"}


@pytest.mark.parametrize("mutant_id", sorted(RECORDED_MUTANTS))
def test_a_sound_rubric_catches_each_mistake_and_names_it(mutant_id):
    document, _ = result_of(RECORDED_MUTANTS[mutant_id])
    entry, problems = verdicts.judge_mutant(variant(mutant_id), document)
    assert entry["ok"] and not problems, problems
    assert entry["failed_checks"] and entry["score"] < entry["max_score"]


def test_a_check_worth_no_points_leaves_its_mistake_unpunished():
    for mutant_id, check, key in (("loss-mse", "compile.loss", "compile.loss"),
                                  ("sigmoid-output", "model.output_layer", "model.layers[1].activation"),
                                  ("sparse-loss", "compile.loss", "compile.loss")):
        document, _ = result_of(RECORDED_MUTANTS[mutant_id], points={**DENSE.points, check: 0.0})
        entry, problems = verdicts.judge_mutant(variant(mutant_id), document)
        assert not entry["ok"]
        (problem,) = problems
        assert problem.expectation == key and f"{check} catches it but is worth 0 points" in problem.what
        assert f'[points] "{check}"' in problem.fix


def test_a_threshold_an_untrained_model_reaches_is_refused():
    document, _ = result_of("never-trained", threshold=0.3)  # measured 0.33 untrained
    calibration = Calibration((0.92, 0.93), 0.3, 100, untrained=(0.33, 0.25))
    entry, problems = verdicts.judge_mutant(variant("never-trained"), document, calibration)
    assert not entry["ok"]
    (problem,) = problems
    assert problem.expectation == "threshold" and "untrained" in problem.what
    assert "raise `threshold` to at least" in problem.fix
    (calibrated,) = verdicts.judge_calibration(calibration)
    assert calibrated.expectation == "threshold" and "in 1 of 2 runs" in calibrated.what


def test_a_mistake_no_check_catches_is_reported():
    document, _ = result_of("reference")
    entry, problems = verdicts.judge_mutant(variant("loss-mse"), document)
    assert not entry["ok"] and "still passes" in problems[0].what


def test_a_threshold_the_solution_reaches_half_the_time_is_refused():
    (problem,) = verdicts.judge_calibration(Calibration((0.92, 0.93), 0.93, 100))
    assert problem.expectation == "threshold" and "1 of 2 correct notebooks (2 runs of the solution" in problem.what
    assert "lower `threshold` to 0.9" in problem.fix


def test_a_solution_that_does_not_meet_its_own_file_is_refused():
    wider_units = exercises.LayerSpec("Dense", units=32, activation="relu")
    document, _ = result_of("reference", layers=(wider_units, DENSE.layers[1]))
    problems = verdicts.judge_solution([document, document])
    (problem,) = problems  # once, whatever the number of runs
    assert problem.expectation == "model.layers" and "does not meet its own file" in problem.what
    assert not verdicts.judge_solution([result_of("reference")[0]])


def test_an_equivalent_needs_full_marks():
    renamed = next(v for v in equivalents(lesson_solution())[0] if v.id == "renamed")
    entry, problems = verdicts.judge_equivalent(renamed, result_of("reference")[0])
    assert entry["ok"] and not problems
    entry, problems = verdicts.judge_equivalent(renamed, result_of("sigmoid-output")[0])
    assert not entry["ok"] and problems[0].expectation == "model.layers (the last one)"
    sigmoid, _ = result_of("sigmoid-output")  # a solution that fails its own file: said once, for the solution
    assert verdicts.judge_equivalent(renamed, sigmoid, solution_fails=verdicts.solution_fails([sigmoid]))[0]["ok"]
    low, _ = result_of("reference", threshold=0.95)  # below the threshold: not full marks, said by the calibration
    calibration = Calibration((0.92, 0.93), 0.95, 100, others=(0.92,))
    entry, problems = verdicts.judge_equivalent(renamed, low, calibration)
    assert not entry["ok"] and not problems and "below the threshold" in entry["why"][0]
    (problem,) = verdicts.judge_calibration(calibration)
    assert "3 of 3 correct notebooks (2 runs of the solution and 1 equivalent forms" in problem.what


# --- the proof document ------------------------------------------------------------------------

ENTRY_KEYS = {"id", "description", "score", "max_score", "failed_checks", "causes", "ok"}


def proof_from_recorded(monkeypatch, tmp_path, threshold: float = 0.8) -> dict:
    """`prove` on the lesson's solution with each notebook 'graded' from a recorded result:
    the solution's runs and the equivalents as the reference, the mutants as their recorded
    mistake (or the reference, uncaught, for those without one)."""
    import autograder.proof as proof
    from autograder.grading.plan import make_plan
    from autograder.grading.settings import Request

    reference, _ = result_of("reference", threshold=threshold)
    calls = {}

    def recorded(jobs, plan, parallel, progress, **options):
        calls.update(jobs=jobs, parallel=parallel)
        results = {}
        for job in jobs:
            name = job.id.removeprefix("mutant-")
            source = RECORDED_MUTANTS.get(name) or ("never-trained" if job.id.startswith("untrained-") else None)
            results[job.id] = result_of(source, threshold=threshold)[0] if source else copy.deepcopy(reference)
        return results

    monkeypatch.setattr(proof, "grade_all", recorded)
    plan = make_plan(Request(exercise="keras-dense", threshold=threshold))
    result = proof.prove(str(ROOT / "solutions" / "keras-dense.ipynb"), plan, 3, 2, None)
    seeds = {job.id: job.seed for job in calls["jobs"]}
    assert seeds["calibration-0"] == 0 and seeds["calibration-2"] == 2 and seeds["untrained-1"] == 1
    return result


def test_the_proof_document_follows_its_schema(monkeypatch, tmp_path):
    proof = proof_from_recorded(monkeypatch, tmp_path)
    assert proof["schema"] == "autograder.proof/1" and proof["exercise"] == "keras-dense"
    calibration = proof["calibration"]
    assert {"runs", "accuracies", "threshold", "false_fail_rate", "suggested_threshold"} <= set(calibration)
    assert calibration["runs"] == 3 and calibration["accuracies"] == [0.92, 0.92, 0.92]
    assert calibration["untrained_accuracies"] == [0.33, 0.33, 0.33]
    for kind in ("mutants", "equivalents"):
        assert proof[kind] and all(ENTRY_KEYS <= set(entry) for entry in proof[kind])
        assert all(isinstance(entry["ok"], bool) and isinstance(entry["failed_checks"], list) for entry in proof[kind])
    caught = {entry["id"] for entry in proof["mutants"] if entry["ok"]}
    assert caught == set(RECORDED_MUTANTS)
    uncaught = {p["proof"] for p in proof["problems"]}
    assert uncaught == {entry["id"] for entry in proof["mutants"] if not entry["ok"]}
    assert not proof["holds"] and all(p["fix"] for p in proof["problems"])
    assert all(entry["ok"] for entry in proof["equivalents"])
    written = tmp_path / "proof.json"
    document.write(proof, written)
    assert json.loads(written.read_text()) == proof


def test_the_proof_report_escapes_what_it_shows(monkeypatch, tmp_path):
    proof = proof_from_recorded(monkeypatch, tmp_path)
    proof["mutants"][0]["description"] = "<script>alert(1)</script>"
    proof["problems"][0]["what"] = "\x1b[31m<b>red</b>"
    html = report.render_html(proof)
    assert "<script>alert" not in html and "&lt;script&gt;" in html and "&lt;b&gt;red" in html
    terminal = report.render_terminal(proof)
    assert "\x1b" not in terminal and "What to fix:" in terminal and "Mutants caught:" in terminal
    markdown = report.render_markdown(proof)
    assert "<b>" not in markdown and "What to fix:" in markdown
    (first, *_) = report.problem_annotations(proof, "exercise.toml")
    assert first.startswith("::error file=exercise.toml,title=Unprotected%3A ") and "\x1b" not in first


# --- the command line ----------------------------------------------------------------------------


def test_prove_is_refused_for_misuse_with_exit_2(tmp_path, capsys):
    solution = str(ROOT / "solutions" / "keras-dense.ipynb")
    assert cli.main(["exercise", "prove", "no-such-exercise", "--solution", solution]) == 2
    assert "unknown exercise" in capsys.readouterr().err
    assert cli.main(["exercise", "prove", "keras-dense", "--solution", str(tmp_path / "missing.ipynb"),
                     "--isolation", "rlimits"]) == 2
    with pytest.raises(SystemExit) as exited:
        cli.main(["exercise", "prove", "keras-dense", "--solution", solution, "--runs", "0"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        cli.main(["exercise", "prove", "keras-dense", "--solution", solution, "--jobs", "2", "--scheduler", "x"])
    assert exited.value.code == 2


def test_validate_prints_the_total_points(tmp_path, capsys):
    path = tmp_path / "wider.toml"
    path.write_text(WIDER)
    assert cli.main(["exercise", "validate", str(path)]) == 0
    assert "110 points in all" in capsys.readouterr().out



# --- slow: proven end to end -------------------------------------------------------------------


@pytest.mark.slow
def test_keras_dense_is_proven_end_to_end(tmp_path, warm_grader):
    """The built-in exercise and its solution, through the command line on the lent warm
    workers: every mutant caught for its own reason, every equivalent given full marks."""
    written, page = tmp_path / "proof.json", tmp_path / "proof.html"
    solution = ROOT / "solutions" / "keras-dense.ipynb"
    ran = warm_grader.main("exercise", "prove", "keras-dense", "--solution", str(solution), "--runs", "2",
                           "--json", str(written), "--html", str(page))
    proof = json.loads(written.read_text())
    assert ran.returncode == 0, ran.stdout + json.dumps(proof["problems"], indent=1)
    assert proof["holds"] and not proof["problems"] and not proof["skipped"] and proof["solution_meets_file"]
    mutants_by_id = {m["id"]: m for m in proof["mutants"]}
    assert len(mutants_by_id) == 19 and all(m["ok"] and m["score"] < m["max_score"] for m in proof["mutants"])
    assert [c["kind"] for c in mutants_by_id["no-flattening"]["causes"]] == ["unflattened-input"]
    assert "loss-does-not-fit-labels" in [c["kind"] for c in mutants_by_id["sparse-loss"]["causes"]]
    assert mutants_by_id["loss-mse"]["failed_checks"] == ["compile.loss"]
    assert len(proof["equivalents"]) == 5 and all(e["score"] == e["max_score"] for e in proof["equivalents"])
    calibration = proof["calibration"]
    assert calibration["runs"] == 2 and len(calibration["accuracies"]) == 2 and calibration["ok"]
    assert calibration["false_fail_rate"] < 0.01 and 0.8 <= calibration["suggested_threshold"] <= calibration["lowest"]
    assert all(a < calibration["threshold"] for a in calibration["untrained_accuracies"]) and calibration["protects"]
    # Each seed reached its kernel: the untrained model's random weights differ (0.33 and 0.25 on the stand-in).
    assert len(set(calibration["untrained_accuracies"])) == 2
    assert "Mutants caught: 19 of 19" in ran.stdout and "Equivalents with full marks: 5 of 5" in ran.stdout
    assert "Every proof holds" in page.read_text()


@pytest.mark.slow
def test_exercise_new_sets_its_threshold_from_runs_with_several_seeds(tmp_path, warm_grader):
    made = tmp_path / "made.toml"
    ran = warm_grader.main("exercise", "new", "--from-solution", str(ROOT / "solutions" / "keras-deeper.ipynb"),
                           "--out", str(made), "--id", "deeper-again", "--runs", "2")
    assert ran.returncode == 0, ran.stderr
    assert "over 2 run(s) with different seeds" in ran.stdout and "a chance of" in ran.stdout
    written = exercise_file.parse(made.read_text(), "made.toml")
    deeper = exercises.get("keras-deeper")
    assert (written.layers, written.loss, written.epochs) == (deeper.layers, deeper.loss, deeper.epochs)
    low, high = (float(x) for x in ran.stdout.split("measured ")[1].split(" over")[0].split("-"))
    assert 0.5 < written.threshold <= low <= high
