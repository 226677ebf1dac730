"""A class of notebooks for the similarity tests, with the stored outputs and cell ids a real run leaves.

Each student works in a session of their own (`Session`): their own clock, machine speed and
kernel, so their notebook records what a real Jupyter run records (nbclient's and JupyterLab's
execution timestamps, Keras 3's progress lines with per-step timings, TensorFlow's log stamps,
`<History at 0x...>`), while the seeded losses of the same code coincide as they really do.
The outputs' format is copied from a notebook run with nbclient in this project's venv.

- `HONEST`: students who each typed the lesson's code (their own names, comments, formatting,
  cell order, extras; in the released notebook or a fresh one), students with their own styles,
  students who make the usual mistakes (two of them each: the lesson as printed, a sigmoid
  output, the sparse loss, five epochs), and students who add what tutorials and libraries
  give everyone (the TensorFlow tutorial's plots, scikit-learn's reports, the functional API, a
  function that builds the model), two or more each;
- `PLANTED`: a copy of the file; a copy renamed and reworded; a copy re-typed into a fresh notebook
  keeping an odd helper; a shared unusual mistake and a shared misspelling; a group of three.

`honest_student(seed)` draws a lesson-typer at random, for the benchmark's large honest classes.
"""
from __future__ import annotations

import copy
import hashlib
import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parent.parent
EXERCISE = "keras-dense"
BOLD, GREEN, GREY, RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
KERNEL = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
          "language_info": {"name": "python", "version": "3.11.9"}}


def _losses(settings: str, epochs: int) -> list[tuple[float, float, float, float]]:
    """Seeded training's numbers: the same code gives the same numbers in every honest run."""
    rng = random.Random(hashlib.sha256(settings.encode()).digest())
    loss, accuracy = rng.uniform(0.75, 0.95), rng.uniform(0.5, 0.65)
    rows = []
    for _ in range(epochs):
        loss *= rng.uniform(0.55, 0.85)
        accuracy = min(0.99, accuracy + rng.uniform(0.02, 0.2) * (1 - accuracy) * 2)
        rows.append((round(accuracy, 4), round(loss, 4), round(min(0.99, accuracy + rng.uniform(-0.05, 0.05)), 4),
                     round(loss * rng.uniform(0.9, 1.2), 4)))
    return rows


class Session:
    """One student's Jupyter session: when they ran their cells, how fast their machine is, what
    addresses their kernel gives objects."""

    def __init__(self, seed: str):
        self.rng = random.Random(seed)
        self.clock = datetime(2026, 3, 2, 8, 0) + timedelta(minutes=self.rng.randint(0, 60 * 24 * 10),
                                                            microseconds=self.rng.randint(0, 999_999))
        self.slow = self.rng.uniform(0.7, 3.0)  # the machine: per-step times scale with it
        self.count = 0
        self.pid = self.rng.randint(1000, 99999)
        self.imported = False

    def _stamp(self, seconds: float) -> tuple[str, str]:
        begin = self.clock + timedelta(seconds=self.rng.uniform(2, 90))
        end = begin + timedelta(seconds=seconds)
        self.clock = end
        return (begin.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), end.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))

    def run(self, cell, output: tuple, rerun: bool = False) -> None:
        """Give a code cell what running it leaves: count, timing metadata, outputs."""
        if rerun:
            self.count += self.rng.randint(1, 3)
        self.count += 1
        cell.execution_count = self.count
        kind, *details = output
        outputs, seconds = [], self.rng.uniform(0.005, 0.2)
        source = cell.source
        if not self.imported and ("keras" in source or "tensorflow" in source):
            self.imported = True
            seconds += self.rng.uniform(2, 6)
            stamp = (self.clock - datetime(1970, 1, 1)).total_seconds() + 3
            outputs.append(new_output("stream", name="stderr", text=(
                "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
                f"I0000 00:00:{stamp:.6f}   {self.pid} port.cc:153] oneDNN custom operations are on. You may "
                "see slightly different numerical results due to floating-point round-off errors from different "
                "computation orders. To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n")))
        if kind == "print":
            outputs.append(new_output("stream", name="stdout", text=details[0]))
        elif kind == "result":
            outputs.append(new_output("execute_result", data={"text/plain": details[0]}, execution_count=self.count))
        elif kind == "fit":
            settings, epochs, returned = details
            outputs += self._fit(settings, epochs)
            seconds += epochs * self.slow
            if returned:
                address = f"0x7f{self.rng.getrandbits(40):010x}"
                outputs.append(new_output("execute_result", execution_count=self.count, data={
                    "text/plain": f"<keras.src.callbacks.history.History at {address}>"}))
        elif kind == "evaluate":
            settings, shown = details
            accuracy, loss, _, _ = _losses(settings, 10)[-1]
            outputs.append(new_output("stream", name="stdout", text=self._progress(10, 10, accuracy, loss) + "\n"))
            if shown == "result":
                outputs.append(new_output("execute_result", execution_count=self.count,
                                          data={"text/plain": f"[{loss * 1.07!r}, {accuracy - 0.01!r}]"}))
            elif shown:
                outputs.append(new_output("stream", name="stdout", text=shown.format(acc=accuracy - 0.01,
                                                                                     loss=loss * 1.07)))
        elif kind == "error":
            ename, evalue, line = details
            outputs.append(new_output("error", ename=ename, evalue=evalue, traceback=[
                f"\x1b[0;31m{'-' * 75}\x1b[0m", f"\x1b[0;31m{ename}\x1b[0m Traceback (most recent call last)",
                f"Cell \x1b[0;32mIn[{self.count}], line {line}\x1b[0m", f"\x1b[0;31m{ename}\x1b[0m: {evalue}"]))
        elif kind == "warning":
            outputs.append(new_output("stream", name="stderr", text=(
                "/home/student/.venv/lib/python3.11/site-packages/keras/src/layers/core/dense.py:107: UserWarning: "
                "Do not pass an `input_shape`/`input_dim` argument to a layer.\n")))
        elif kind == "image":
            outputs.append(new_output("display_data", data={"image/png": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAA"
                                                                         "fFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
                                                            "text/plain": "<Figure size 900x200 with 6 Axes>"}))
        begin, end = self._stamp(seconds)
        cell.metadata["execution"] = {"iopub.execute_input": begin, "iopub.status.busy": begin,
                                      "iopub.status.idle": end, "shell.execute_reply": end}
        cell.outputs = outputs

    def _progress(self, step: int, steps: int, accuracy: float, loss: float, tail: str = "") -> str:
        done = 20 * step // steps
        bar = f"{GREEN}{'━' * done}{RESET}{GREY}{'━' * (20 - done)}{RESET}"
        if step == 1:
            timing = f"{self.rng.randint(1, 9)}s {int(self.rng.uniform(20, 200) * self.slow)}ms/step"
        else:
            timing = f"{self.rng.choice(['0s', '0s', '1s'])} {max(1, int(self.rng.uniform(1, 6) * self.slow))}ms/step"
        return f"{BOLD}{step:>2}/{steps}{RESET} {bar} {BOLD}{timing.split()[0]}{RESET} {timing.split()[1]} - " \
               f"accuracy: {accuracy:.4f} - loss: {loss:.4f}{tail}"

    def _fit(self, settings: str, epochs: int) -> list:
        outputs = []
        for epoch, (accuracy, loss, val_accuracy, val_loss) in enumerate(_losses(settings, epochs), 1):
            outputs.append(new_output("stream", name="stdout", text=f"Epoch {epoch}/{epochs}\n"))
            outputs.append(new_output("stream", name="stdout", text="\r" + self._progress(1, 48, accuracy, loss)))
            outputs.append(new_output("stream", name="stdout", text="\b" * 73 + "\r" + self._progress(
                self.rng.randint(20, 40), 48, accuracy, loss)))
            outputs.append(new_output("stream", name="stdout", text="\b" * 73 + "\r" + self._progress(
                48, 48, accuracy, loss, f" - val_accuracy: {val_accuracy:.4f} - val_loss: {val_loss:.4f}\n")))
        return outputs


# What each kind of cell prints. `("fit", SETTINGS, EPOCHS, RETURNED)`: SETTINGS says which seeded run it is.
SILENT = ("silent",)
SHAPES = ("print", "(600, 784) (100, 784)\n")
LESSON_RUN = "dense-10-3 adam cce e10 b10 v0.2"


def fit_out(settings: str = LESSON_RUN, epochs: int = 10, returned: bool = False) -> tuple:
    return ("fit", settings, epochs, returned)


def eval_out(settings: str = LESSON_RUN, shown: str = "result") -> tuple:
    return ("evaluate", settings, shown)


class Student:
    """A notebook being written: its cells and the session that runs them."""

    def __init__(self, name: str, template: bool = False, seed: str | None = None):
        self.name = name
        self.session = Session(seed or name)
        self.rng = self.session.rng
        if template:
            self.node = nbformat.read(ROOT / "exercises" / f"{EXERCISE}.ipynb", as_version=4)
        else:
            self.node = new_notebook(metadata=copy.deepcopy(KERNEL))
            self.node.metadata["autograder"] = {"exercise": EXERCISE}
        self.answers = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in self.node.cells
                        if c.metadata.get("nbgrader", {}).get("solution")}
        self.outputs: dict[str, tuple] = {}  # cell id -> what running it prints
        self.done = False

    def markdown(self, text: str) -> Student:
        self.node.cells.append(new_markdown_cell(text))
        return self

    def code(self, source: str, output: tuple = SILENT, step: str | None = None) -> Student:
        """A code cell: the template's answer cell of `step` when there is one, else a new cell."""
        cell = self.answers.pop(step, None) if step else None
        if cell is None:
            cell = new_code_cell(source)
            self.node.cells.append(cell)
        else:
            cell.source = source
        self.outputs[cell.id] = output
        return self

    def finish(self) -> nbformat.NotebookNode:
        """Run the cells from the top, as the student did (now and then a cell twice)."""
        if not self.done:
            self.done = True
            for cell in self.node.cells:
                if cell.cell_type != "code" or "NotImplementedError" in cell.source:
                    continue
                output = self.outputs.get(cell.id) or (("print", "✓ looks right\n") if "ex.check" in cell.source
                                                       else SILENT)
                self.session.run(cell, output, rerun=self.rng.random() < 0.15)
        return self.node

    def bytes(self) -> bytes:
        return nbformat.writes(self.finish()).encode()


# Names a student may give the lesson's arrays and model (the lesson's first).
NAMES = [
    dict(train="train_data", test="test_data", ytrain="train_labels", ytest="test_labels", flat="train_data_1d",
         tflat="test_data_1d", model="model", data="fashion"),
    dict(train="X_train_raw", test="X_test_raw", ytrain="y_train", ytest="y_test", flat="X_train", tflat="X_test",
         model="model", data="data"),
    dict(train="train_images", test="test_images", ytrain="train_labels", ytest="test_labels", flat="train_flat",
         tflat="test_flat", model="net", data="npz"),
    dict(train="x_tr", test="x_te", ytrain="y_tr", ytest="y_te", flat="x_tr_1d", tflat="x_te_1d", model="clf",
         data="f"),
    dict(train="train_data", test="test_data", ytrain="train_labels", ytest="test_labels", flat="flat_train",
         tflat="flat_test", model="network", data="arrays"),
]
LOADS = [
    """import numpy as np
{data} = np.load('fashion.npz')
{train} = {data}['train_data']
{ytrain} = {data}['train_labels']
{test} = {data}['test_data']
{ytest} = {data}['test_labels']""",
    """import numpy as np
{data} = np.load("fashion.npz")
{train}, {ytrain} = {data}["train_data"], {data}["train_labels"]
{test}, {ytest} = {data}["test_data"], {data}["test_labels"]""",
    """import numpy as np

with np.load('fashion.npz') as {data}:
    {train}, {ytrain} = {data}['train_data'], {data}['train_labels']
    {test}, {ytest} = {data}['test_data'], {data}['test_labels']""",
]
FLATTENS = [
    "{flat} = {train}.reshape(({train}.shape[0], -1))\n{tflat} = {test}.reshape(({test}.shape[0], -1))",
    "{flat} = {train}.reshape(600, 784)\n{tflat} = {test}.reshape(100, 784)",
    "{flat} = {train}.reshape(-1, 784)\n{tflat} = {test}.reshape(-1, 784)",
    "{flat} = {train}.reshape(len({train}), -1)\n{tflat} = {test}.reshape(len({test}), -1)",
    "{flat} = np.reshape({train}, ({train}.shape[0], -1))\n{tflat} = np.reshape({test}, ({test}.shape[0], -1))",
]
BUILDS = [
    """from keras.models import Sequential
from keras.layers import Dense
{model} = Sequential()
{model}.add(Dense(10, input_shape=(784,), activation='relu'))
{model}.add(Dense(3, activation='softmax'))""",
    """from keras.models import Sequential
from keras.layers import Dense

{model} = Sequential()
{model}.add(Dense(10, activation="relu", input_shape=(784,)))
{model}.add(Dense(3, activation="softmax"))""",
    """from keras.models import Sequential
from keras.layers import Dense
{model} = Sequential([
    Dense(10, activation='relu', input_shape=(784,)),
    Dense(3, activation='softmax'),
])""",
    """import keras
from keras import layers
{model} = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(10, activation='relu'),
                          layers.Dense(3, activation='softmax')])""",
    """from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense
{model} = Sequential()
{model}.add(Dense(10, input_dim=784, activation='relu'))
{model}.add(Dense(3, activation='softmax'))""",
]
COMPILES = [
    "{model}.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])",
    "{model}.compile(optimizer='adam',\n              loss='categorical_crossentropy',\n"
    "              metrics=['accuracy'])",
    '{model}.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])',
]
FITS = [
    ("{model}.fit({flat}, {ytrain}, epochs=10, batch_size=10, validation_split=0.2)", True),
    ("history = {model}.fit({flat}, {ytrain}, epochs=10, batch_size=10, validation_split=0.2)", False),
    ("hist = {model}.fit({flat}, {ytrain}, validation_split=0.2, epochs=10, batch_size=10)", False),
    ("{model}.fit({flat}, {ytrain},\n          epochs=10,\n          batch_size=10,\n          validation_split=0.2)",
     True),
]
EVALUATES = [
    ("{model}.evaluate({tflat}, {ytest}, batch_size=10)", "result"),
    ("test_loss, test_acc = {model}.evaluate({tflat}, {ytest}, batch_size=10)\nprint('Test accuracy:', test_acc)",
     "Test accuracy: {acc}\n"),
    ("loss, accuracy = {model}.evaluate({tflat}, {ytest}, batch_size=10)\nprint(f'accuracy {{accuracy:.3f}}')",
     "accuracy {acc:.3f}\n"),
    ("score = {model}.evaluate({tflat}, {ytest}, batch_size=10)\nprint(score)", "[{loss}, {acc}]\n"),
]
COMMENTS = ["# load the data", "# Load the dataset", "# flatten the images", "# Flatten the images",
            "# build the model", "# Build the model", "# compile", "# Compile the model", "# train",
            "# Train the model", "# evaluate", "# Evaluate the model on the test data", "# reshape the data"]
# Words a student's own notes are made of: each honest student's notes are their own draws.
WORDS = ("the network learns quickly but the validation loss stops falling after a few epochs which suggests "
         "more data would help and shoes are the easiest class while dresses and shirts get confused more often "
         "because their shapes look alike in such small grey pictures I think a wider hidden layer could help "
         "too although ten units already reach good accuracy on this little data set").split()


def _notes(rng: random.Random) -> str:
    start = rng.randrange(len(WORDS) - 12)
    picked = WORDS[start:start + rng.randint(6, 12)]
    rng.shuffle(picked)
    return " ".join(picked).capitalize() + "."


# The usual mistakes, as (step, code) a student may type instead of the lesson's.
USUAL_MISTAKES = [
    ("build", BUILDS[0].replace("activation='softmax'", "activation='sigmoid'")),
    ("compile", COMPILES[0].replace("'categorical_crossentropy'", "'sparse_categorical_crossentropy'")),
    ("compile", COMPILES[0].replace("'adam'", "'sgd'")),
    ("compile", "{model}.compile(loss='mse', optimizer='adam', metrics=['accuracy'])"),
    ("fit", "{model}.fit({flat}, {ytrain}, epochs=5)"),
    ("fit", "{model}.fit({flat}, {ytrain}, epochs=10, batch_size=10)"),
    ("fit", "{model}.fit({train}, {ytrain}, epochs=10, batch_size=10, validation_split=0.2)"),
    ("build", BUILDS[0].replace("(784,)", "(28, 28, 1)")),
    ("evaluate", "{model}.evaluate({flat}, {ytrain}, batch_size=10)"),
]


def honest_student(name: str, seed: str | None = None, mistakes: float = 0.0) -> Student:
    """A student who typed the lesson's code: their own names, formatting, comments, cell order
    and extras, drawn at random; with chance `mistakes`, one of the usual mistakes."""
    rng = random.Random(seed or name)
    names = rng.choice(NAMES)
    student = Student(name, template=rng.random() < 0.4, seed=seed)
    mistake = rng.choice(USUAL_MISTAKES) if rng.random() < mistakes else None

    def said(text: str) -> str:
        return text.format(**names)

    def commented(text: str) -> str:
        return (rng.choice(COMMENTS) + "\n" + text) if rng.random() < 0.5 else text

    fit, returned = rng.choice(FITS)
    evaluate, shown = rng.choice(EVALUATES)
    steps = [("load", said(rng.choice(LOADS)), SILENT), ("reshape", said(rng.choice(FLATTENS)), SILENT),
             ("build", said(rng.choice(BUILDS)), ("warning",)), ("compile", said(rng.choice(COMPILES)), SILENT),
             ("fit", said(fit), fit_out(returned=returned)), ("evaluate", said(evaluate), eval_out(shown=shown))]
    if mistake is not None:
        steps = [(step, said(mistake[1]) if step == mistake[0] else text, out) for step, text, out in steps]
    if rng.random() < 0.3:  # one cell for building and compiling
        steps[2:4] = [("build", steps[2][1] + "\n" + steps[3][1], ("warning",))]
    if rng.random() < 0.3 and not student.answers:  # imports first
        imports = [line for _, text, _ in steps for line in text.split("\n") if line.startswith(("import", "from"))]
        steps = [(step, "\n".join(line for line in text.split("\n") if not line.startswith(("import", "from"))).strip(),
                  out) for step, text, out in steps]
        steps.insert(0, ("imports", "\n".join(dict.fromkeys(imports)), SILENT))
    if not student.answers and rng.random() < 0.6:
        student.markdown(rng.choice(["# Keras lesson", "# Fashion MNIST with Keras", "## Exercise: dense network",
                                     "# My notebook"]))
    for step, text, out in steps:
        student.code(commented(text), out, step=step)
        if step == "reshape" and rng.random() < 0.5:
            student.code(said("print({flat}.shape, {tflat}.shape)"), SHAPES)
        if step == "build" and rng.random() < 0.4:
            student.code(said("{model}.summary()"), ("print", "Model: \"sequential\"\n...\n"))
    extras = [said("print({train}.shape, {test}.shape)"),
              said("import matplotlib.pyplot as plt\nplt.imshow({train}[0, :, :, 0], cmap='gray')\nplt.show()"),
              said("predictions = {model}.predict({tflat})\nprint(predictions[:5])")]
    for extra in rng.sample(extras, rng.randint(0, 2)):
        student.code(extra, ("image",) if "imshow" in extra else ("print", "[[0.9 0.05 0.05]]\n"))
    if rng.random() < 0.5:
        student.markdown(_notes(rng))
    return student


def _lesson_with(names: dict, **changed: str) -> list[str]:
    """The lesson's steps in `names`, with some replaced."""
    steps = {"load": LOADS[0], "reshape": FLATTENS[0], "build": BUILDS[0], "compile": COMPILES[0],
             "fit": FITS[0][0], "evaluate": EVALUATES[0][0]}
    steps.update(changed)
    return [steps[k].format(**names) for k in ("load", "reshape", "build", "compile", "fit", "evaluate")]


def mistaken(name: str, names: dict, template: bool, outputs: dict, **changed: str) -> Student:
    """A student making one of the usual mistakes, otherwise typing the lesson in their own way."""
    student = Student(name, template=template)
    for step, source in zip(("load", "reshape", "build", "compile", "fit", "evaluate"), _lesson_with(names, **changed)):
        default = {"build": ("warning",), "fit": fit_out(returned=True), "evaluate": eval_out()}.get(step, SILENT)
        student.code(source, outputs.get(step, default), step=step)
    return student


AS_PRINTED_BUILD = """from keras.models import Sequential
from keras.layers import Dense
{model} = Sequential()
{model}.add(Dense(10, input_shape=({train}.shape[-1],), activation='relu'))
{model}.add(Dense(3, activation='softmax'))"""
AS_PRINTED_ERROR = ("error", "ValueError", "Input 0 of layer \"dense\" is incompatible with the layer: expected axis "
                    "-1 "
                    "of input shape to have value 1, but received input with shape (10, 28, 28, 1)", 1)


def own_styles() -> dict[str, Student]:
    """Honest students who write the lesson in their own way, each differently."""
    styles = {}
    tara = Student("tara")
    tara.markdown("# Classifying clothes\nI tried the functional API because I like naming every layer.")
    tara.code("import numpy as np\nimport keras\nfrom keras import layers\n\n"
              "arrays = np.load('fashion.npz')\n"
              "images_train, onehot_train = arrays['train_data'], arrays['train_labels']\n"
              "images_test, onehot_test = arrays['test_data'], arrays['test_labels']")
    tara.code("pixels_train = images_train.reshape(len(images_train), -1)\n"
              "pixels_test = images_test.reshape(len(images_test), -1)\nprint(pixels_train.shape)", SHAPES)
    tara.code("inputs = keras.Input(shape=(784,), name='pixels')\n"
              "hidden = layers.Dense(10, activation='relu', name='hidden')(inputs)\n"
              "outputs = layers.Dense(3, activation='softmax', name='clothes')(hidden)\n"
              "classifier = keras.Model(inputs, outputs, name='tara_net')\n"
              "classifier.compile(optimizer=keras.optimizers.Adam(), loss='categorical_crossentropy', "
              "metrics=['accuracy'])")
    tara.code("log = classifier.fit(pixels_train, onehot_train, epochs=10, batch_size=10, validation_split=0.2)",
              fit_out("functional"))
    tara.code("for epoch, (a, va) in enumerate(zip(log.history['accuracy'], log.history['val_accuracy']), 1):\n"
              "    print(f'{epoch:2d}: train {a:.2f}  validation {va:.2f}')", ("print", " 1: train 0.60 ...\n"))
    tara.code("classifier.evaluate(pixels_test, onehot_test, batch_size=10)", eval_out("functional"))
    styles["tara"] = tara

    uma = Student("uma", template=True)
    uma.code("import numpy as np\nimport tensorflow as tf\n\nfashion = np.load('fashion.npz')\n"
             "train_data = fashion['train_data']\ntrain_labels = fashion['train_labels']\n"
             "test_data = fashion['test_data']\ntest_labels = fashion['test_labels']\n"
             "tf.random.set_seed(7)", step="load")
    uma.code("def flatten_all(*arrays):\n    return [a.reshape(a.shape[0], -1) for a in arrays]\n\n"
             "train_data_1d, test_data_1d = flatten_all(train_data, test_data)", step="reshape")
    uma.code("model = tf.keras.Sequential()\n"
             "model.add(tf.keras.layers.Dense(10, input_shape=(784,), activation='relu'))\n"
             "model.add(tf.keras.layers.Dense(3, activation='softmax'))", ("warning",), step="build")
    uma.code("model.compile(loss=tf.keras.losses.CategoricalCrossentropy(), optimizer=tf.keras.optimizers.Adam(), "
             "metrics=['accuracy'])", step="compile")
    uma.code("history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2, "
             "verbose=1)", fit_out(), step="fit")
    uma.code("test_loss, test_accuracy = model.evaluate(test_data_1d, test_labels, batch_size=10)\n"
             "print('test accuracy:', test_accuracy)", eval_out(shown="test accuracy: {acc}\n"), step="evaluate")
    uma.code("import matplotlib.pyplot as plt\nplt.plot(history.history['loss'], label='train')\n"
             "plt.plot(history.history['val_loss'], label='validation')\nplt.legend()\nplt.show()", ("image",))
    styles["uma"] = uma

    vic = Student("vic")
    vic.code("%matplotlib inline\nimport numpy as np, matplotlib.pyplot as plt\n"
             "from tensorflow import keras\nD = np.load('fashion.npz')\nXtr = D['train_data'].reshape(600, -1)\n"
             "Xte = D['test_data'].reshape(100, -1)\nYtr, Yte = D['train_labels'], D['test_labels']")
    vic.code("counts = Ytr.sum(axis=0)\nfor label, count in zip(['top', 'dress', 'shoe'], counts):\n"
             "    print(label.ljust(6), int(count))", ("print", "top    190\ndress  199\nshoe   211\n"))
    vic.code("m = keras.models.Sequential([keras.layers.Dense(10, 'relu', input_shape=(784,)), "
             "keras.layers.Dense(3, 'softmax')])\n"
             "m.compile('adam', 'categorical_crossentropy', ['accuracy'])", ("warning",))
    vic.code("m.fit(Xtr, Ytr, batch_size=10, epochs=10, validation_split=.2, verbose=2)", fit_out("vic"))
    vic.code("wrong = np.flatnonzero(m.predict(Xte).argmax(1) != Yte.argmax(1))\nprint(len(wrong), 'mistakes:', wrong)",
             ("print", "9 mistakes: [ 3 17 22 40 51 63 77 80 95]\n"))
    vic.code("m.evaluate(Xte, Yte, batch_size=10)", eval_out("vic"))
    styles["vic"] = vic

    wes = Student("wes", template=True)
    wes.code("import numpy as np\nnpz_file = np.load('fashion.npz')\ntrain_data = npz_file['train_data']\n"
             "train_labels = npz_file['train_labels']\ntest_data = npz_file['test_data']\n"
             "test_labels = npz_file['test_labels']\nassert train_data.shape == (600, 28, 28, 1)", step="load")
    wes.code("n_pixels = int(np.prod(train_data.shape[1:]))\n"
             "train_data_1d = train_data.reshape(-1, n_pixels)\ntest_data_1d = test_data.reshape(-1, n_pixels)",
             step="reshape")
    wes.code("from keras.models import Sequential\nfrom keras.layers import Dense, Input\n\nmodel = Sequential()\n"
             "model.add(Input(shape=(n_pixels,)))\nmodel.add(Dense(10, activation='relu'))\n"
             "model.add(Dense(3, activation='softmax'))\nmodel.summary()", ("print", "Model: \"sequential\"\n"),
             step="build")
    wes.code("model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])", step="compile")
    wes.code("model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)",
             fit_out(returned=True), step="fit")
    wes.code("model.evaluate(test_data_1d, test_labels, batch_size=10)", eval_out(), step="evaluate")
    styles["wes"] = wes
    return styles


def common_mistakes() -> dict[str, Student]:
    """Two students each for four usual mistakes, made independently (their own names, files, runs)."""
    lesson, ours = NAMES[0], NAMES[2]
    unflat_fit = "{model}.fit({train}, {ytrain}, epochs=10, batch_size=10, validation_split=0.2)"
    unflat_eval = "{model}.evaluate({test}, {ytest}, batch_size=10)"
    printed = dict(build=AS_PRINTED_BUILD, fit=unflat_fit, evaluate=unflat_eval)
    failed = {"fit": AS_PRINTED_ERROR, "evaluate": AS_PRINTED_ERROR}
    sigmoid = BUILDS[0].replace("activation='softmax'", "activation='sigmoid'")
    sparse = COMPILES[0].replace("'categorical_crossentropy'", "'sparse_categorical_crossentropy'")
    sparse_error = ("error", "ValueError", "Arguments `target` and `output` must have the same shape up until the "
                    "last dimension: target.shape=(None, 3), output.shape=(None, 3)", 1)
    five = "{model}.fit({flat}, {ytrain}, epochs=5)"
    return {
        "abby": mistaken("abby", lesson, True, failed, **printed),
        "ben": mistaken("ben", NAMES[3], False, failed, **printed),
        "cleo": mistaken("cleo", ours, False, {"fit": fit_out("sigmoid", returned=True)}, build=sigmoid),
        "dev": mistaken("dev", NAMES[4], True, {"fit": fit_out("sigmoid", returned=True)}, build=sigmoid),
        "ema": mistaken("ema", NAMES[1], False, {"fit": sparse_error, "evaluate": sparse_error}, compile=sparse),
        "finn": mistaken("finn", lesson, True, {"fit": sparse_error, "evaluate": sparse_error}, compile=sparse),
        "gus": mistaken("gus", ours, True, {"fit": fit_out("five", 5, True)}, fit=five),
        "hana": mistaken("hana", NAMES[3], False, {"fit": fit_out("five", 5, True)}, fit=five),
    }


LESSON_TYPERS = ("lina", "marc", "nora", "omar", "pia", "raj", "sara", "theo")

# What students add to the lesson from the tutorials and libraries everyone finds: each of these
# is written by two or more students apart, in their own words.
LOAD, FLAT = LOADS[0].format(**NAMES[0]), FLATTENS[0].format(**NAMES[0])
BUILD, COMPILE = BUILDS[0].format(**NAMES[0]), COMPILES[0].format(**NAMES[0])
FIT = "history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)"
EVALUATE = ("test_loss, test_acc = model.evaluate(test_data_1d, test_labels, batch_size=10)\n"
            "print('Test accuracy:', test_acc)")
PLOT = ("import matplotlib.pyplot as plt\nplt.plot(history.history['accuracy'], label='accuracy')\n"
        "plt.plot(history.history['val_accuracy'], label = 'val_accuracy')\nplt.xlabel('Epoch')\n"
        "plt.ylabel('Accuracy')\nplt.ylim([0.5, 1])\nplt.legend(loc='lower right')\nplt.show()")
GRID = ("import matplotlib.pyplot as plt\nclass_names = ['t-shirt', 'dress', 'shoe']\nplt.figure(figsize=(10,10))\n"
        "for i in range(25):\n    plt.subplot(5,5,i+1)\n    plt.xticks([])\n    plt.yticks([])\n    plt.grid(False)\n"
        "    plt.imshow(train_data[i].squeeze(), cmap=plt.cm.binary)\n"
        "    plt.xlabel(class_names[np.argmax(train_labels[i])])\nplt.show()")
FUNCTIONAL = ("from keras import Input, Model\nfrom keras.layers import Dense\ninputs = Input(shape=(784,))\n"
              "x = Dense(10, activation='relu')(inputs)\noutputs = Dense(3, activation='softmax')(x)\n"
              "model = Model(inputs=inputs, outputs=outputs)\nmodel.summary()")
REPORT = ("from sklearn.metrics import confusion_matrix, classification_report\n"
          "y_pred = np.argmax(model.predict(test_data_1d), axis=1)\ny_true = np.argmax(test_labels, axis=1)\n"
          "print(confusion_matrix(y_true, y_pred))\n"
          "print(classification_report(y_true, y_pred, target_names=['t-shirt', 'dress', 'shoe']))")
HEATMAP = ("import matplotlib.pyplot as plt\nfrom sklearn.metrics import confusion_matrix\nimport seaborn as sns\n"
           "preds = model.predict(test_data_1d).argmax(axis=1)\ntruth = test_labels.argmax(axis=1)\n"
           "cm = confusion_matrix(truth, preds)\n"
           "sns.heatmap(cm, annot=True, fmt='d', xticklabels=['t-shirt','dress','shoe'], "
           "yticklabels=['t-shirt','dress','shoe'])\nplt.xlabel('Predicted')\nplt.ylabel('True')\nplt.show()")
BUILDER = ("from keras.models import Sequential\nfrom keras.layers import Dense\n\n"
           "def build_model(hidden_units=10):\n    m = Sequential()\n"
           "    m.add(Dense(hidden_units, input_shape=(784,), activation='relu'))\n"
           "    m.add(Dense(3, activation='softmax'))\n"
           "    m.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])\n"
           "    return m\n\nmodel = build_model()")


def _renamed(cells: list[str], renames: dict[str, str]) -> list[str]:
    for old, new in renames.items():
        cells = [cell.replace(old, new) for cell in cells]
    return cells


ADDITIONS = {
    "ada": [LOAD, "print(train_data.shape, train_labels.shape)\nprint(test_data.shape, test_labels.shape)", FLAT, BUILD,
            COMPILE, FIT, EVALUATE],
    "bea": _renamed([LOAD, FLAT, BUILD, COMPILE, FIT, EVALUATE, PLOT],
                    {"train_data_1d": "X_train", "test_data_1d": "X_test"}),
    "cai": [LOAD, GRID, FLAT, BUILD, COMPILE, FIT, EVALUATE, PLOT],
    "dot": [LOAD, FLAT, FUNCTIONAL, COMPILE, FIT, EVALUATE, PLOT],
    "eli": _renamed([LOAD, FLAT, FUNCTIONAL, COMPILE, FIT, EVALUATE, PLOT],
                    {"inputs": "inp", "outputs": "out", "x = ": "h = ", "(x)": "(h)"}),
    "fox": [LOAD, FLAT, BUILD, COMPILE, FIT, EVALUATE, REPORT],
    "gil": _renamed([LOAD, FLAT, BUILD, COMPILE, FIT, EVALUATE, REPORT], {"y_pred": "predicted", "y_true": "actual"}),
    "hal": [LOAD, FLAT, BUILD, COMPILE, FIT, EVALUATE, HEATMAP],
    "ike": [LOAD, FLAT, BUILDER, FIT, EVALUATE],
    "jo": _renamed([LOAD, FLAT, BUILDER, FIT, EVALUATE],
                   {"hidden_units": "n_hidden", "m.": "net.", "m = ": "net = ", "return m": "return net"}),
}


def plain(name: str, cells: list[str], template: bool = False) -> Student:
    """A student whose cells print nothing but their training."""
    student = Student(name, template=template)
    for cell in cells:
        student.code(cell, fit_out(returned=True) if ".fit(" in cell else SILENT)
    return student


def honest_class() -> dict[str, bytes]:
    """Every honest student's notebook file."""
    students = {name: honest_student(name) for name in LESSON_TYPERS}
    students.update(own_styles())
    students.update(common_mistakes())
    students.update({name: plain(name, cells) for name, cells in ADDITIONS.items()})
    return {name: student.bytes() for name, student in students.items()}


# The planted copies: what each original has of its own, and how it was copied.
KIM = [
    "import numpy as np\nfashion = np.load('fashion.npz')\n"
    "train_data, train_labels = fashion['train_data'], fashion['train_labels']\n"
    "test_data, test_labels = fashion['test_data'], fashion['test_labels']",
    "def describe_split(label, images, onehot):\n"
    "    per_class = onehot.sum(axis=0).astype(int)\n"
    "    print(f'{label:>5}: {len(images)} images, mean pixel {images.mean():.3f}, per class {per_class}')\n"
    "\nfor label, images, onehot in (('train', train_data, train_labels), ('test', test_data, test_labels)):\n"
    "    describe_split(label, images, onehot)",
    "train_data_1d = train_data.reshape((train_data.shape[0], -1))\n"
    "test_data_1d = test_data.reshape((test_data.shape[0], -1))\n"
    "brightest = train_data_1d.max(axis=1).argsort()[-3:]\nprint('brightest pictures:', brightest)",
    BUILDS[0].format(**NAMES[0]) + "\n" + COMPILES[0].format(**NAMES[0]),
    "history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)\n"
    "best_epoch = int(np.argmin(history.history['val_loss'])) + 1\n"
    "print('lowest validation loss after epoch', best_epoch, 'of', len(history.history['val_loss']))",
    "model.evaluate(test_data_1d, test_labels, batch_size=10)\n"
    "confident = model.predict(test_data_1d, verbose=0).max(axis=1)\n"
    "print('least sure about test pictures', confident.argsort()[:5])",
]
KIM_OUTPUTS = [SILENT, ("print", "train: 600 images, mean pixel 0.286, per class [190 199 211]\n"),
               ("print", "brightest pictures: [ 12 408  77]\n"), ("warning",), fit_out(),
               eval_out(shown="least sure about test pictures [17 52  3 88 61]\n")]
# kim's notebook renamed and reworded by leo: every variable, the comments, the messages and the
# notes changed; two cells merged and two swapped; typed into a fresh notebook and run again.
LEO = [
    "import numpy as np\nnpz = np.load('fashion.npz')\nX, Y = npz['train_data'], npz['train_labels']\n"
    "Xt, Yt = npz['test_data'], npz['test_labels']\n"
    "Xf = X.reshape((X.shape[0], -1))\nXtf = Xt.reshape((Xt.shape[0], -1))\n"
    "top3 = Xf.max(axis=1).argsort()[-3:]\nprint('the three brightest:', top3)",
    "# summary of each part of the data\ndef summarize(part, imgs, labels):\n"
    "    counts = labels.sum(axis=0).astype(int)\n"
    "    print(f'{part:>5}: {len(imgs)} pictures, average brightness {imgs.mean():.3f}, counts {counts}')\n"
    "\nfor part, imgs, labels in (('train', X, Y), ('test', Xt, Yt)):\n"
    "    summarize(part, imgs, labels)",
    BUILDS[0].format(**NAMES[2]).replace("net", "clf") + "\n" + COMPILES[0].format(model="clf"),
    "clf.evaluate(Xtf, Yt, batch_size=10)\nsure = clf.predict(Xtf, verbose=0).max(axis=1)\n"
    "print('pictures it doubts most:', sure.argsort()[:5])",
    "h = clf.fit(Xf, Y, epochs=10, batch_size=10, validation_split=0.2)\n"
    "when = int(np.argmin(h.history['val_loss'])) + 1\n"
    "print('best validation loss at epoch', when, '/', len(h.history['val_loss']))",
]
MIA = [
    "import numpy as np\nimport matplotlib.pyplot as plt\nfashion = np.load('fashion.npz')\n"
    "train_data = fashion['train_data']\ntrain_labels = fashion['train_labels']\n"
    "test_data = fashion['test_data']\ntest_labels = fashion['test_labels']",
    "def squish(batch, gamma=0.8):\n    \"\"\"flatten a batch and lift the dark pixels a little\"\"\"\n"
    "    flat = batch.reshape(batch.shape[0], -1)\n    return np.power(flat, gamma).astype('float32')\n\n"
    "train_data_1d = squish(train_data)\ntest_data_1d = squish(test_data)",
    BUILDS[1].format(**NAMES[0]),
    COMPILES[0].format(**NAMES[0]),
    "history = model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)",
    "model.evaluate(test_data_1d, test_labels, batch_size=10)",
]
# mia's notebook re-typed by ned into a fresh notebook: his own formatting and comments, the helper kept.
NED = [
    "import numpy as np\nfashion=np.load(\"fashion.npz\")\ntrain_data=fashion[\"train_data\"]\n"
    "train_labels=fashion[\"train_labels\"]\ntest_data=fashion[\"test_data\"]\ntest_labels=fashion[\"test_labels\"]",
    "# make them flat\ndef squish( batch , gamma = 0.8 ):\n    flat = batch.reshape( batch.shape[0] , -1 )\n"
    "    return np.power( flat , gamma ).astype( \"float32\" )\ntrain_data_1d=squish(train_data)\n"
    "test_data_1d=squish(test_data)",
    BUILDS[0].format(**NAMES[0]) + "\n" + COMPILES[2].format(**NAMES[0]),
    "model.fit(train_data_1d,train_labels,epochs=10,batch_size=10,validation_split=0.2)",
    "model.evaluate(test_data_1d,test_labels,batch_size=10)",
]
TYPO_BUILD = """from keras.models import Sequential
from keras.layers import Dense
{model} = Sequential()
{model}.add(Dense(10, input_shape=(748,), activation='relu'))
{model}.add(Dense(3, activation='softmax'))"""
TYPO_ERROR = ("error", "ValueError", "Input 0 of layer \"dense\" is incompatible with the layer: expected axis -1 of "
              "input shape to have value 748, but received input with shape (10, 784)", 1)
QUINN = [
    "import numpy as np\nfashion = np.load('fashion.npz')\n"
    "train_data, train_labels = fashion['train_data'], fashion['train_labels']\n"
    "test_data, test_labels = fashion['test_data'], fashion['test_labels']\n"
    "train_data_1d = train_data.reshape(600, 784)\ntest_data_1d = test_data.reshape(100, 784)",
    "from keras.models import Sequential\nfrom keras.layers import Dense\nfrom keras.callbacks import Callback\n\n"
    "class StopWhenGood(Callback):\n    def on_epoch_end(self, epoch, logs=None):\n"
    "        if logs['val_accuracy'] > 0.97:\n            print(' good enough at epoch', epoch)\n"
    "            self.model.stop_training = True",
    BUILDS[0].format(**NAMES[0]) + "\n" + COMPILES[0].format(**NAMES[0]),
    "model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2, "
    "callbacks=[StopWhenGood()])",
    "results = model.evaluate(test_data_1d, test_labels, batch_size=10)\n"
    "print('loss %.3f / accuracy %.3f' % tuple(results))",
]


def planted_class() -> dict[str, bytes]:
    """The planted copies' notebook files (to add to the honest class)."""
    files: dict[str, bytes] = {}
    # A copy of the file: jack typed the lesson plainly; ivy handed in his file.
    files["jack"] = honest_student("jack", seed="jack-plain").bytes()
    files["ivy"] = files["jack"]
    # Renamed and reworded, re-run in a fresh notebook.
    kim = Student("kim", template=True)
    steps = ("load", None, "reshape", "build", "fit", "evaluate")
    for source, out, step in zip(KIM, KIM_OUTPUTS, steps):
        kim.code(source, out, step=step)
    kim.markdown("I looked at which pictures the network is least sure about: mostly shirts that look like dresses.")
    files["kim"] = kim.bytes()
    leo = Student("leo").markdown("# Lab 3")
    for source, out in zip(LEO, [("print", "the three brightest: [ 12 408  77]\n"),
                                 ("print", "train: 600 pictures, average brightness 0.286\n"), ("warning",),
                                 eval_out(shown="pictures it doubts most: [17 52  3 88 61]\n"), fit_out()]):
        leo.code(source, out)
    leo.markdown("The model hesitates most on tops that resemble dresses.")
    files["leo"] = leo.bytes()
    # Re-typed into a fresh notebook, keeping the odd helper.
    mia = Student("mia")
    for source, out in zip(MIA, [SILENT, SILENT, ("warning",), SILENT, fit_out("gamma"), eval_out("gamma")]):
        mia.code(source, out)
    files["mia"] = mia.bytes()
    ned = Student("ned")
    for source, out in zip(NED, [SILENT, SILENT, ("warning",), fit_out("gamma", returned=True), eval_out("gamma")]):
        ned.code(source, out)
    files["ned"] = ned.bytes()
    # A shared unusual mistake, otherwise each in their own way (names, notebook, run).
    files["olga"] = mistaken("olga", NAMES[1], True, {"fit": TYPO_ERROR, "evaluate": TYPO_ERROR},
                             build=TYPO_BUILD).bytes()
    files["pete"] = mistaken("pete", NAMES[4], False, {"fit": TYPO_ERROR, "evaluate": TYPO_ERROR},
                             build=TYPO_BUILD.replace("Sequential()", "Sequential( )")).bytes()
    # A shared misspelling, otherwise the lesson, each in their own names.
    typo = COMPILE.replace("categorical_crossentropy", "categorical_crosentropy")
    files["uri"] = plain("uri", [LOAD, FLAT, BUILD, typo, FIT, EVALUATE]).bytes()
    files["val"] = plain("val", _renamed([LOAD, FLAT, BUILD, typo, FIT, EVALUATE],
                                         {"train_data_1d": "xtr", "model": "nn"})).bytes()
    # A group of three: quinn's notebook; rosa's is his file with her comments; sam re-typed it renamed.
    quinn = Student("quinn")
    outs = [SILENT, SILENT, ("warning",), fit_out("callback", returned=True),
            ("evaluate", "callback", "loss 0.245 / accuracy 0.920\n")]
    for source, out in zip(QUINN, outs):
        quinn.code(source, out)
    files["quinn"] = quinn.bytes()
    rosa = json.loads(files["quinn"])
    rosa["cells"][0]["source"] = "# loading everything\n" + "".join(rosa["cells"][0]["source"])
    rosa["cells"][2]["source"] = "".join(rosa["cells"][2]["source"]).replace("model", "rosa_model")
    rosa["cells"][3]["source"] = "".join(rosa["cells"][3]["source"]).replace("model", "rosa_model")
    rosa["cells"][4]["source"] = "".join(rosa["cells"][4]["source"]).replace("model", "rosa_model")
    files["rosa"] = json.dumps(rosa, indent=1).encode()
    sam = Student("sam")
    renamed = [s.replace("train_data_1d", "xs").replace("test_data_1d", "xs_test")
               .replace("StopWhenGood", "EarlyEnough") for s in QUINN]
    for source, out in zip(renamed, outs):
        sam.code(source, out)
    files["sam"] = sam.bytes()
    return files


PLANTED_PAIRS = [("ivy", "jack"), ("kim", "leo"), ("mia", "ned"), ("olga", "pete"), ("uri", "val")]
PLANTED_GROUP = ("quinn", "rosa", "sam")


def write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / f"{name}.ipynb").write_bytes(content)
    return folder
