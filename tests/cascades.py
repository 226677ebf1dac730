"""Cascading notebooks: one mistake that makes later cells fail, each labelled with its root cause.

Each case is the lesson with one step changed, laid out as a student's notebook is: a
markdown heading above every code cell, so a cell's index in the notebook (markdown
included) differs from its number among the code cells. `cause` is where the root cause
is: the code step (0-based), its 1-based line, its kind, and the failed checks it must
explain.

    python tests/cascades.py          # re-record tests/recorded/cascade-*.json from real runs

test_causes.py grades the SLOW ones for real, once, as a class; its fast tests read the
recorded facts of all of them.
"""
from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import BUILD, CNN_LAYERS, EVALUATE, FIT, FLATTEN, LOAD, cnn_cells, lesson  # noqa: E402

STEP_TITLES = ["Load the data", "Flatten the images", "Build the model", "Compile the model", "Train the model",
               "Evaluate the model", "Try again"]
CNN_TITLES = ["Load the data", "Build the network", "Compile the network", "Train the network", "Evaluate the network"]
CNN_PREPARED_TITLES = [CNN_TITLES[0], "Prepare the images", *CNN_TITLES[1:]]
COMPILE = {"compile.loss", "compile.optimizer", "compile.metrics"}
MODEL = {"model.input_shape", "model.architecture", "model.hidden_activation", "model.output_layer"}
AFTER_FIT = {"fit.called", "evaluate.called", "accuracy.threshold"}
ALL_FIT = {"fit.called", "fit.settings", "fit.validation"}


@dataclass(frozen=True)
class Cascade:
    cells: list[str]
    #: The code step (0-based) of the root cause, its 1-based line and its kind.
    step: int
    line: int
    kind: str
    #: The failed checks the root cause must explain.
    checks: frozenset[str]
    exercise: str = "keras-dense"
    #: The heading above each code cell.
    titles: tuple[str, ...] = tuple(STEP_TITLES)

    @property
    def cell(self) -> int:
        """The root cause's index in the notebook's cells (a heading precedes every code cell)."""
        return 2 * self.step + 1


CASCADES = {
    "missing-import": Cascade(lesson(build=BUILD.replace("from keras.layers import Dense\n", "")), 2, 3, "NameError",
                              frozenset(MODEL | AFTER_FIT)),
    "lesson-half-fix": Cascade(lesson(build=BUILD.replace("input_shape=(784,)", "input_shape=(train_data.shape[-1],)")),
                               2, 4, "wrong-input-shape", frozenset({"model.input_shape"} | AFTER_FIT)),
    # The first fit (unflattened) raises; the second raises only because the first did: the first is the root.
    "fit-after-failed-fit": Cascade(lesson(fit=FIT.replace("train_data_1d", "train_data"), after={"fit": FIT}),
                                    4, 1, "ValueError", frozenset({"fit.called"})),
    "keyerror-on-arrays": Cascade(lesson(load=LOAD.replace("fashion['train_data']", "fashion['x_train']")),
                                  0, 3, "KeyError", frozenset({"data.load", "data.reshape"} | ALL_FIT | AFTER_FIT)),
    "unflattened": Cascade(lesson(fit=FIT.replace("train_data_1d", "train_data"),
                                  evaluate=EVALUATE.replace("test_data_1d", "test_data")),
                           4, 1, "unflattened-input", frozenset({"data.reshape"} | AFTER_FIT)),
    "package-not-installed": Cascade(["import pandas as pd\n" + LOAD, *lesson()[1:]], 0, 1, "ModuleNotFoundError",
                                     frozenset({"data.load", "data.reshape"} | ALL_FIT | AFTER_FIT)),
    "misspelt-module": Cascade(lesson(build=BUILD.replace("keras.models", "keras.model")), 2, 1,
                               "ModuleNotFoundError", frozenset(MODEL | ALL_FIT | AFTER_FIT | COMPILE)),
    "unclosed-bracket": Cascade(lesson(compile="model.compile(loss='categorical_crossentropy', optimizer='adam', "
                                               "metrics=['accuracy']"), 3, 1, "SyntaxError",
                                frozenset(COMPILE | AFTER_FIT)),
}
# Silent root causes: the mistake raises nothing where it is made, and the cells after it fail.
DOWNLOAD = """\
import numpy as np
import keras
(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
train_data, test_data = x_train[..., None] / 255.0, x_test[..., None] / 255.0
train_labels = keras.utils.to_categorical(y_train)
test_labels = keras.utils.to_categorical(y_test)"""
CASCADES.update({
    # A name misspelt where it is defined, spelt right where it is used: the definition is the mistake.
    "typo-at-definition": Cascade(lesson(flatten=FLATTEN.replace("train_data_1d =", "trian_data_1d =")), 1, 1,
                                  "misspelt-definition", frozenset(ALL_FIT | {"accuracy.threshold"})),
    "misspelt-npz-variable": Cascade(lesson(load=LOAD.replace("fashion = np.load", "fashon = np.load")), 0, 2,
                                     "misspelt-definition",
                                     frozenset({"data.load", "data.reshape"} | ALL_FIT | AFTER_FIT)),
    # Fashion-MNIST downloaded: grading has no internet.
    "download-keras-datasets": Cascade([DOWNLOAD, *lesson()[1:]], 0, 3, "download",
                                       frozenset({"data.load", "data.reshape"} | ALL_FIT | AFTER_FIT)),
    # Python cannot read the load cell: nothing in it runs, so every name it defines is missing later.
    "syntax-error-in-load": Cascade(lesson(load=LOAD.replace("fashion['train_labels']", "fashion['train_labels'")),
                                    0, 4, "SyntaxError",
                                    frozenset({"data.load", "data.reshape"} | ALL_FIT | AFTER_FIT)),
    # The flat arrays made, but the images passed to fit as loaded: the fit is the mistake, not the reshape
    # (data.reshape passes: evaluate was given the flat test images).
    "unflattened-fit-only": Cascade(lesson(fit=FIT.replace("train_data_1d", "train_data")), 4, 1,
                                    "unflattened-input", frozenset({"fit.called", "accuracy.threshold"})),
    # The CNN's shape mistakes.
    "cnn-no-flatten": Cascade(cnn_cells([layer for layer in CNN_LAYERS if layer != "Flatten()"]), 1, 8,
                              "missing-flatten", frozenset({"model.architecture", "fit.called", "evaluate.called",
                                                            "accuracy.threshold"}),
                              exercise="keras-cnn", titles=tuple(CNN_TITLES)),
    "cnn-2d-input-shape": Cascade(cnn_cells([CNN_LAYERS[0].replace("(28, 28, 1)", "(28, 28)"), *CNN_LAYERS[1:]]),
                                  1, 4, "input-shape-without-channel", frozenset(MODEL | AFTER_FIT),
                                  exercise="keras-cnn", titles=tuple(CNN_TITLES)),
    "cnn-flattened-input": Cascade(cnn_cells(CNN_LAYERS, "train_data_1d", "test_data_1d", prepare=FLATTEN), 4, 1,
                                   "flattened-input", frozenset({"data.reshape", "fit.called", "evaluate.called",
                                                                 "accuracy.threshold"}),
                                   exercise="keras-cnn", titles=tuple(CNN_PREPARED_TITLES)),
    "cnn-vanishing-maps": Cascade(cnn_cells([layer.replace("kernel_size=3", "kernel_size=13") for layer in CNN_LAYERS]),
                                  1, 6, "maps-vanish",
                                  frozenset({"model.architecture", "model.output_layer"} | AFTER_FIT),
                                  exercise="keras-cnn", titles=tuple(CNN_TITLES)),
})
#: The ones test_causes.py grades for real (the brief's set; the others are covered by recorded facts).
SLOW = ["missing-import", "lesson-half-fix", "fit-after-failed-fit", "keyerror-on-arrays", "unflattened"]


def write(path: Path, case: Cascade) -> Path:
    """The case as a notebook: a heading above every code cell."""
    import nbformat

    cells = []
    for number, source in enumerate(case.cells):
        cells.append(new_markdown_cell(f"## Step {number + 1}: {case.titles[min(number, len(case.titles) - 1)]}"))
        cells.append(new_code_cell(source))
    metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    nbformat.write(new_notebook(cells=cells, metadata=metadata), path)
    return path


def record(names: list[str]) -> None:
    from autograder.grading import pipeline
    from autograder.grading.plan import make_plan
    from autograder.grading.settings import Request
    from record_facts import stable

    with tempfile.TemporaryDirectory() as work:
        for name in names or CASCADES:
            captured: list = []
            plan = make_plan(Request.from_options({"exercise": CASCADES[name].exercise}))
            notebook = write(Path(work) / f"{name}.ipynb", CASCADES[name])
            pipeline.grade_notebook(str(notebook), plan, on_facts=captured.append)
            (HERE / "recorded" / f"cascade-{name}.json").write_text(
                json.dumps(stable(captured[0].to_dict()), indent=1, sort_keys=True) + "\n")
            print(f"recorded {name}")


if __name__ == "__main__":
    record(sys.argv[1:])
