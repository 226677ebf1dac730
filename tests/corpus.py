"""Notebooks written the way students write them, each with its exact expected verdicts.

A case lists its cells and the check ids expected to FAIL; every other check
of its exercise is expected to pass. `says` pins the diagnosis: a piece of
text the named check's message (or hint) must contain.
"""
from __future__ import annotations

from dataclasses import dataclass, field

LOAD = """\
import numpy as np
fashion = np.load('fashion.npz')
train_data = fashion['train_data']
train_labels = fashion['train_labels']
test_data = fashion['test_data']
test_labels = fashion['test_labels']"""

FLATTEN = """\
train_data_1d = train_data.reshape((train_data.shape[0], -1))
test_data_1d = test_data.reshape((test_data.shape[0], -1))"""

BUILD = """\
from keras.models import Sequential
from keras.layers import Dense
model = Sequential()
model.add(Dense(10, input_shape=(784,), activation='relu'))
model.add(Dense(3, activation='softmax'))"""

BUILD_DEEPER = """\
from keras.models import Sequential
from keras.layers import Dense
model = Sequential()
model.add(Dense(10, input_shape=(784,), activation='relu'))
model.add(Dense(10, activation='relu'))
model.add(Dense(3, activation='softmax'))"""

COMPILE = "model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])"
FIT = "model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)"
EVALUATE = "model.evaluate(test_data_1d, test_labels, batch_size=10)"

STEPS = {"load": LOAD, "flatten": FLATTEN, "build": BUILD, "compile": COMPILE, "fit": FIT,
         "evaluate": EVALUATE}

ALL_FIT = {"fit.called", "fit.settings", "fit.validation"}

# The lesson's convolutional network (keras-cnn), cell by cell: load, (a preparation cell,) build,
# compile, fit and evaluate on the images as loaded.
CNN_LOAD = """\
import numpy as np
fashion = np.load('fashion.npz')
train_data, train_labels = fashion['train_data'], fashion['train_labels']
test_data, test_labels = fashion['test_data'], fashion['test_labels']"""
CNN_IMPORTS = "from keras.models import Sequential\nfrom keras.layers import Conv2D, MaxPooling2D, Flatten, Dense"
CNN_FIT = "model.fit({x}, train_labels, epochs=10, batch_size=10, validation_split=0.2)"
CNN_EVALUATE = "model.evaluate({x}, test_labels, batch_size=10)"
CNN_LAYERS = ["Conv2D(10, kernel_size=3, input_shape=(28, 28, 1), activation='relu')", "MaxPooling2D(2)",
              "Conv2D(10, kernel_size=3, activation='relu')", "MaxPooling2D(2)", "Flatten()",
              "Dense(3, activation='softmax')"]


def cnn_cells(layers: list[str], train: str = "train_data", test: str = "test_data", prepare: str = "") -> list[str]:
    """The CNN lesson's cells with the given layers (each `model.add`ed on its own line, from line 4 of
    the build cell), trained on `train` and evaluated on `test`."""
    build = "\n".join([CNN_IMPORTS, "model = Sequential()", *[f"model.add({layer})" for layer in layers]])
    return [CNN_LOAD, *([prepare] if prepare else []), build, COMPILE, CNN_FIT.format(x=train),
            CNN_EVALUATE.format(x=test)]


ALL_MODEL = {"model.input_shape", "model.architecture", "model.hidden_activation", "model.output_layer"}
ALL_COMPILE = {"compile.loss", "compile.optimizer", "compile.metrics"}


def lesson(*, before: dict[str, str] | None = None, after: dict[str, str] | None = None,
           **replaced: str | None) -> list[str]:
    """The reference cells, with steps replaced (None drops one) and cells added around them."""
    cells = []
    for name, source in STEPS.items():
        if before and name in before:
            cells.append(before[name])
        if name in replaced:
            source = replaced[name]
        if source is not None:
            cells.append(source)
        if after and name in after:
            cells.append(after[name])
    return cells


@dataclass
class Case:
    name: str
    cells: list[str]
    failing: set[str] = field(default_factory=set)
    exercise: str = "keras-dense"
    status: str = "graded"
    says: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None
    markdown_first: bool = False


EQUIVALENT = [
    Case("reference", lesson()),
    Case("keras-input-layer", lesson(build="""\
import keras
from keras import layers
model = keras.Sequential([
    keras.Input(shape=(784,)),
    layers.Dense(10, activation='relu'),
    layers.Dense(3, activation='softmax'),
])""")),
    Case("input-dim", lesson(build="""\
from keras.models import Sequential
from keras.layers import Dense
model = Sequential()
model.add(Dense(10, input_dim=784, activation='relu'))
model.add(Dense(3, activation='softmax'))""")),
    Case("functional-api", lesson(build="""\
from keras import Input, Model
from keras.layers import Dense
inputs = Input(shape=(784,))
hidden = Dense(10, activation='relu')(inputs)
outputs = Dense(3, activation='softmax')(hidden)
model = Model(inputs=inputs, outputs=outputs)""")),
    Case("tf-keras-imports", lesson(build="""\
import tensorflow as tf
model = tf.keras.models.Sequential()
model.add(tf.keras.layers.Dense(10, input_shape=(784,), activation=tf.nn.relu))
model.add(tf.keras.layers.Dense(3, activation=tf.nn.softmax))""")),
    Case("sequential-list-objects-keywords", lesson(
        build="""\
from tensorflow import keras
net = keras.Sequential([keras.layers.Dense(10, activation='relu', input_shape=(784,)),
                        keras.layers.Dense(units=3, activation='softmax')])""",
        compile="""\
net.compile(loss=keras.losses.CategoricalCrossentropy(),
            optimizer=keras.optimizers.Adam(learning_rate=0.001),
            metrics=[keras.metrics.CategoricalAccuracy()])""",
        fit="history = net.fit(x=X_train, y=y_train, batch_size=10, epochs=10, validation_split=0.2, verbose=0)",
        evaluate="loss, acc = net.evaluate(x=X_test, y=y_test, batch_size=10, verbose=0)\nprint(acc)",
        flatten="""\
X_train = np.reshape(train_data, (600, 784))
X_test = np.reshape(test_data, (100, 28 * 28))
y_train, y_test = train_labels, test_labels""")),
    Case("separate-activation-layers", lesson(build="""\
from keras.models import Sequential
from keras.layers import Dense, Activation, Softmax, Input
model = Sequential([Input((784,)), Dense(10), Activation('relu'), Dense(3), Softmax()])""")),
    Case("fixed-after-failed-attempt", lesson(
        build="""\
from keras.models import Sequential
from keras.layers import Dense
model = Sequential()
model.add(Dense(10, input_shape=(train_data.shape[-1],), activation='relu'))
model.add(Dense(3, activation='softmax'))""",
        fit="model.fit(train_data, train_labels, epochs=10, batch_size=10, validation_split=0.2)",
        after={"fit": """\
# second try: flatten first and size the input from the flat array
model = Sequential()
model.add(Dense(10, input_shape=(train_data_1d.shape[1],), activation='relu'))
model.add(Dense(3, activation='softmax'))
model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])
model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)"""})),
    Case("context-manager-load-and-predict", lesson(
        load="""\
import numpy as np
with np.load('fashion.npz') as data:
    train_data, train_labels = data['train_data'], data['train_labels']
    test_data, test_labels = data['test_data'], data['test_labels']""",
        evaluate="""\
predictions = model.predict(test_data_1d, verbose=0)
print('accuracy', (predictions.argmax(axis=1) == test_labels.argmax(axis=1)).mean())""")),
    Case("data-loaded-from-a-colab-drive-path", lesson(load=LOAD.replace(
        "np.load('fashion.npz')", "np.load('/content/drive/MyDrive/keras-lesson/fashion.npz')")),
        says={"data.load": "/content/drive/MyDrive"}),
    Case("manual-validation-split", lesson(fit="""\
model.fit(train_data_1d[:480], train_labels[:480], epochs=10, batch_size=10,
          validation_data=(train_data_1d[480:], train_labels[480:]))""")),
    Case("deeper-reference", lesson(build=BUILD_DEEPER), exercise="keras-deeper"),
    Case("time-magic-positional-fit", lesson(
        fit="%%time\nmodel.fit(train_data_1d, train_labels, 10, 10, validation_split=0.2)")),
    Case("attribute-access-to-npz", lesson(load="""\
import numpy as np
f = np.load('fashion.npz')
train_data, train_labels = f.f.train_data, f.f.train_labels
test_data, test_labels = f.f.test_data, f.f.test_labels""")),
    Case("metric-and-loss-functions", lesson(compile="""\
import tensorflow as tf
model.compile(optimizer=tf.keras.optimizers.Adam(), loss=tf.keras.losses.categorical_crossentropy,
              metrics=[tf.keras.metrics.categorical_accuracy])""")),
    Case("dropout-between-layers", lesson(build=BUILD.replace(
        "model.add(Dense(3", "from keras.layers import Dropout\nmodel.add(Dropout(0.2))\nmodel.add(Dense(3")),
        markdown_first=True),
    Case("input-layer-positional-activations", lesson(build="""\
import tensorflow as tf
model = tf.keras.Sequential([tf.keras.layers.InputLayer(input_shape=(784,)),
                             tf.keras.layers.Dense(10, 'relu'), tf.keras.layers.Dense(3, 'softmax')])""")),
    Case("model-built-in-a-function", lesson(build="""\
from keras.models import Sequential
from keras.layers import Dense
def build_network(hidden=10):
    network = Sequential()
    network.add(Dense(hidden, input_shape=(784,), activation='relu'))
    network.add(Dense(3, activation='softmax'))
    return network
model = build_network()""")),
    Case("typo-in-loss-then-fixed", lesson(
        compile="model.compile(loss='categorical_crossentrophy', optimizer='adam', metrics=['accuracy'])",
        after={"compile": COMPILE})),
    Case("labels-rebuilt-with-to-categorical", lesson(after={"load": """\
from keras.utils import to_categorical
train_labels = to_categorical(train_labels.argmax(axis=1), 3)
test_labels = to_categorical(test_labels.argmax(axis=1))"""})),
    Case("deeper-with-two-part-notebook", lesson(
        after={"evaluate": BUILD_DEEPER + "\n" + COMPILE + "\n" + FIT + "\n" + EVALUATE}),
        exercise="keras-deeper"),
]

FAILED_COMPILE = """\
try:
    model.compile(loss='categorical_crossentropy', optimizer='no-such-optimizer', metrics=['accuracy'])
except ValueError as error:
    print('not compiled again:', error)"""

# Compiling again after training is honest: with a new optimizer the saved one has taken no
# step since, with the model's own it has taken all of them (grading/corroboration.py reads which).
EQUIVALENT += [
    Case("recompiles-after-training", lesson(after={"fit": COMPILE})),
    Case("recompiles-with-its-own-optimizer", lesson(after={"fit": COMPILE.replace(
        "optimizer='adam'", "optimizer=model.optimizer")})),
    Case("numpy-batch-size", lesson(fit=FIT.replace("batch_size=10", "batch_size=np.int64(10)"))),
    # A compile that raised before replacing the optimizer leaves its count (the probe reads it).
    Case("recompile-that-raised", lesson(after={"fit": FAILED_COMPILE})),
    Case("returns-to-its-first-optimizer", lesson(after={"fit": """\
first = model.optimizer
model.compile(loss='categorical_crossentropy', optimizer='sgd', metrics=['accuracy'])
model.compile(loss='categorical_crossentropy', optimizer=first, metrics=['accuracy'])"""})),
]

MISTAKES = [
    Case("lesson-as-printed", lesson(
        flatten=None,
        build="""\
from keras.models import Sequential
from keras.layers import Dense
model = Sequential()
model.add(Dense(10, input_shape=(train_data.shape[-1],), activation='relu'))
model.add(Dense(3, activation='softmax'))""",
        fit="model.fit(train_data, train_labels, epochs=10, batch_size=10, validation_split=0.2)",
        evaluate="model.evaluate(test_data, test_labels, batch_size=10)"),
        failing={"data.reshape", "model.input_shape", "fit.called", "evaluate.called", "accuracy.threshold"},
        says={"model.input_shape": "(None, 1)", "fit.called": "whole images"}),
    Case("unflattened-images", lesson(
        fit="model.fit(train_data, train_labels, epochs=10, batch_size=10, validation_split=0.2)",
        evaluate="model.evaluate(test_data, test_labels, batch_size=10)"),
        failing={"data.reshape", "fit.called", "evaluate.called", "accuracy.threshold"},
        says={"data.reshape": "(600, 28, 28, 1)"}),
    Case("flatten-layer-inside-the-model", lesson(flatten=None, build="""\
import keras
model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28, 1)),
                          keras.layers.Dense(10, activation='relu'), keras.layers.Dense(3, activation='softmax')])""",
        fit="model.fit(train_data, train_labels, epochs=10, batch_size=10, validation_split=0.2)",
        evaluate="model.evaluate(test_data, test_labels, batch_size=10)"),
        failing={"data.reshape", "model.input_shape"}, says={"model.input_shape": "Flatten layer"}),
    Case("flattened-into-one-long-row", lesson(flatten="""\
train_data_1d = train_data.flatten()
test_data_1d = test_data.flatten()"""),
        failing={"data.reshape", "fit.called", "evaluate.called", "accuracy.threshold"},
        says={"fit.called": "different numbers of rows"}),
    Case("pixels-scaled-twice", lesson(flatten="""\
train_data_1d = train_data.reshape(600, 784) / 255.0
test_data_1d = test_data.reshape(100, 784) / 255.0"""),
        failing={"accuracy.threshold"}, says={"accuracy.threshold": "scaled again"}),
    Case("trained-in-two-halves", lesson(fit="""\
model.fit(train_data_1d, train_labels, epochs=5, batch_size=10, validation_split=0.2)
model.fit(train_data_1d, train_labels, epochs=5, batch_size=10, validation_split=0.2)"""),
        failing={"fit.settings"}, says={"fit.settings": "epochs=5"}),
    Case("sigmoid-output", lesson(build=BUILD.replace("Dense(3, activation='softmax')",
                                                      "Dense(3, activation='sigmoid')")),
         failing={"model.output_layer"}, says={"model.output_layer": "sigmoid"}),
    Case("linear-output", lesson(build=BUILD.replace("Dense(3, activation='softmax')", "Dense(3)")),
         failing={"model.output_layer", "accuracy.threshold"}, says={"model.output_layer": "linear"}),
    Case("ten-unit-output", lesson(build=BUILD.replace("Dense(3, activation='softmax')",
                                                       "Dense(10, activation='softmax')")),
         failing={"model.architecture", "model.output_layer", "fit.called", "evaluate.called",
                  "accuracy.threshold"},
         says={"model.output_layer": "10 units", "model.architecture": "3 classes"}),
    Case("mse-loss", lesson(compile="model.compile(loss='mse', optimizer='adam', metrics=['accuracy'])"),
         failing={"compile.loss"}, says={"compile.loss": "mean squared error"}),
    Case("sparse-loss-with-one-hot", lesson(
        compile="model.compile(loss='sparse_categorical_crossentropy', optimizer='adam', metrics=['accuracy'])"),
        failing={"compile.loss", "fit.called", "evaluate.called", "accuracy.threshold"},
        says={"compile.loss": "class number"}),
    Case("no-metrics", lesson(compile="model.compile(loss='categorical_crossentropy', optimizer='adam')"),
         failing={"compile.metrics"}, says={"compile.metrics": "No metrics"}),
    Case("sgd-optimizer",
         lesson(compile="model.compile(loss='categorical_crossentropy', optimizer='sgd', metrics=['accuracy'])"),
         failing={"compile.optimizer"}, says={"compile.optimizer": "SGD"}),
    Case("no-validation-split", lesson(fit="model.fit(train_data_1d, train_labels, epochs=10, batch_size=10)"),
         failing={"fit.validation"}, says={"fit.validation": "no validation"}),
    Case("wrong-epochs-and-batch", lesson(fit="model.fit(train_data_1d, train_labels, epochs=5, validation_split=0.2)"),
         failing={"fit.settings"}, says={"fit.settings": "default of 32"}),
    Case("never-trained", lesson(fit=None), failing=ALL_FIT | {"accuracy.threshold"},
         says={"fit.called": "never trained"}),
    Case("trained-on-test-data",
         lesson(fit="model.fit(test_data_1d, test_labels, epochs=10, batch_size=10, validation_split=0.2)"),
         failing={"fit.called"}, says={"fit.called": "test images"}),
    Case("evaluated-on-training-data", lesson(evaluate="model.evaluate(train_data_1d, train_labels, batch_size=10)"),
         failing={"evaluate.called"}, says={"evaluate.called": "training images"}),
    Case("syntax-error-in-model-cell", lesson(build=BUILD.replace("activation='relu'))", "activation='relu')")),
         failing=ALL_MODEL | ALL_COMPILE | ALL_FIT | {"evaluate.called", "accuracy.threshold"},
         says={"model.architecture": "line 4", "model.input_shape": "was never closed"}),
    # The empty Sequential() is built and compiled with the right settings before the
    # NameError stops the cell: those settings are right, the layers are missing.
    Case("name-error-dense-not-imported", lesson(build=BUILD.replace("from keras.layers import Dense\n", "")),
         failing=ALL_MODEL | {"fit.called", "evaluate.called", "accuracy.threshold"},
         says={"model.architecture": "from keras.layers import Dense", "fit.called": "no layers"}),
    Case("deeper-missing-hidden-layer", lesson(), exercise="keras-deeper",
         failing={"model.architecture"}, says={"model.architecture": "missing a hidden layer"}),
    Case("hidden-layer-without-activation", lesson(build=BUILD_DEEPER.replace(
        "model.add(Dense(10, activation='relu'))", "model.add(Dense(10))")), exercise="keras-deeper",
         failing={"model.hidden_activation"}, says={"model.hidden_activation": "linear"}),
    # It waits rather than spins: the limit is the same for both, and a spinning cell (test_sandbox)
    # would take the run's whole minute of CPU from the notebooks graded beside it.
    Case("timeout-after-training", lesson(after={"evaluate": "import time\nwhile True:\n    time.sleep(0.1)"}),
         status="timeout", timeout=60, says={}),
    Case("timeout-before-training", lesson(before={"fit": "import time\nwhile True:\n    time.sleep(0.1)"}),
         status="timeout", timeout=40, failing=ALL_FIT | {"evaluate.called", "accuracy.threshold"},
         says={"fit.called": "time limit"}),
    Case("kernel-dies-after-compile", lesson(before={"fit": "import os\nos._exit(1)"}),
         status="kernel_died", failing=ALL_FIT | {"evaluate.called", "accuracy.threshold"},
         says={"fit.called": "kernel died"}),
    Case("unfinished-exercise-steps", lesson(flatten="# YOUR CODE HERE\nraise NotImplementedError()"),
         failing={"data.reshape", "evaluate.called", "accuracy.threshold"} | ALL_FIT,
         says={"data.reshape": "NotImplementedError"}),
]

HOSTILE = [
    Case("allocates-64-gib", lesson(after={"load": "big = np.ones(64 * 2**30 // 8)"})),
    Case("prints-a-million-lines", lesson(after={"evaluate": "for i in range(1_000_000):\n    print(i)"})),
    Case("patches-model-evaluate", lesson(before={"evaluate": """\
import keras
keras.Model.evaluate = lambda self, *args, **kwargs: [0.0, 1.0]"""}),
         failing={"evaluate.called"}),
    Case("fake-model-object", [LOAD, FLATTEN, """\
class FakeModel:
    def fit(self, *args, **kwargs): pass
    def evaluate(self, *args, **kwargs): return [0.0, 0.99]
model = FakeModel()
model.fit(train_data_1d, train_labels, epochs=10, batch_size=10, validation_split=0.2)
print(model.evaluate(test_data_1d, test_labels))"""],
         failing=ALL_MODEL | ALL_COMPILE | ALL_FIT | {"evaluate.called", "accuracy.threshold"}),
    Case("overwrites-the-data-file", lesson(before={"load": """\
import os
import numpy as np
real = dict(np.load('fashion.npz'))
real['test_data'] = real['train_data'][:100]
real['test_labels'] = real['train_labels'][:100]
os.remove('fashion.npz')
np.savez('fashion.npz', **real)"""}), failing={"evaluate.called"}, says={"evaluate.called": "training images"}),
    Case("writes-fake-results", lesson(fit=None, after={"evaluate": """\
import json, os
fake = {"kind": "fit_start", "model": 1, "exec": 4, "line": 1, "settings": {"epochs": 10, "batch_size": 10,
        "validation_split": 0.2}, "x": {"shape": [600, 784], "rows": {"train": [[0, 600]], "test": [], "unknown": 0}}}
for folder in ('/run/autograder', '.', os.environ.get('HOME', '.')):
    try:
        with open(os.path.join(folder, 'events.jsonl'), 'a') as handle:
            handle.write(json.dumps(fake) + '\\n')
            handle.write(json.dumps({"kind": "fit_end", "model": 1, "ok": True}) + '\\n')
    except OSError as error:
        print('refused:', error)
json.dump({"score": 100, "status": "graded"}, open('result.json', 'w'))"""}),
         failing=ALL_FIT | {"accuracy.threshold"}),
    # Any history a callback writes reaches the report: +-1e308 once crashed its drawing.
    Case("forges-its-history", lesson(before={"fit": """\
import keras
class Forge(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.model.history.history['loss'] = [1e308, -1e308]"""},
        fit=FIT.replace(")", ", callbacks=[Forge()])"))),
    Case("breaks-builtins", lesson(after={"evaluate": """\
import builtins
builtins.len = lambda *args: 0
builtins.open = None
builtins.isinstance = lambda *args: False"""})),
]

# Resource attacks whose verdicts show whether the limit held: a fork loop that is
# refused leaves the data in place for training; one that is not deletes it. A run
# that keeps writing files on the grader's disk is stopped before it evaluates.
HOSTILE += [
    Case("forks-until-refused", lesson(before={"fit": """import os, signal, time
refused, children = None, []
for attempt in range(2000):
    try:
        pid = os.fork()
    except OSError as error:
        refused = error
        break
    if pid == 0:
        time.sleep(3600)
        os._exit(0)
    children.append(pid)
print('forked', len(children), 'processes, then:', refused)
for pid in children:  # the limit is the user's: training needs its threads back
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
if refused is None:
    del train_data_1d"""})),
    Case("fills-the-disk", lesson(before={"evaluate": """import os
block = b'x' * 2**20
for folder in (os.path.expanduser('~'), '/tmp', '/run/autograder/models', '/run/autograder', '.'):
    for n in range(8):
        try:
            with open(os.path.join(folder, f'junk-{n}'), 'wb') as handle:
                for _ in range(400):
                    handle.write(block)
        except OSError as error:
            print('refused:', folder, error)
            break"""}), failing={"evaluate.called"}, status="kernel_died",
         says={"evaluate.called": "wrote more than"}),
]

# Code hidden in the model file for whoever loads it, and a notebook that kills every
# process it may signal. HOST_MARKERS are files the attacks try to create; the
# adversarial suite asserts that none appears on the grader's machine.
HOST_MARKERS = ("/tmp/autograder-pwned-lambda", "/tmp/autograder-pwned-custom")
HOSTILE += [
    Case("lambda-layer-runs-code", lesson(build=BUILD.replace(
        "model.add(Dense(3, activation='softmax'))",
        "from keras.layers import Lambda\n"
        "model.add(Lambda(lambda x: (__import__('pathlib').Path('/tmp/autograder-pwned-lambda').touch(), x)[1]))\n"
        "model.add(Dense(3, activation='softmax'))")),
         failing=ALL_MODEL | ALL_COMPILE | {"accuracy.threshold"}, says={"model.architecture": "lambda"}),
    Case("custom-layer-class", lesson(build="""\
import keras
from keras.models import Sequential
from keras.layers import Dense

@keras.saving.register_keras_serializable(package='student')
class Sneaky(Dense):
    def __init__(self, *args, **kwargs):
        __import__('pathlib').Path('/tmp/autograder-pwned-custom').touch()
        super().__init__(*args, **kwargs)

model = Sequential()
model.add(Sneaky(10, input_shape=(784,), activation='relu'))
model.add(Dense(3, activation='softmax'))"""), failing=ALL_MODEL | ALL_COMPILE | {"accuracy.threshold"},
         says={"model.architecture": "cannot be graded safely"}),
    # os.kill(-1) reaches every process its user may signal: in a PID namespace, only the
    # run's own. The guard keeps this test from harming a machine whose grader has none
    # (it then costs the notebook its test data, and the test fails).
    Case("kills-every-process-it-can", lesson(before={"evaluate": """\
import os, signal
if b'autograder' not in open('/proc/1/cmdline', 'rb').read():
    del test_data_1d
else:
    try:
        os.kill(-1, signal.SIGKILL)
    except ProcessLookupError:
        print('nothing else to kill')"""})),
]

# Training on the test images with as many steps as the recorded fits imply, after ordinary Keras
# calls that once made the step count agree: a new optimizer after the last fit (its count starts
# again), a callback padding the history (20 epochs claimed), a numpy batch size (recorded as a float,
# the count was not checked at all). The model file's step count gives each away.
TRAIN_ON_TEST_IMAGES = """\
steps = 10 * -(-int(len(train_data_1d) * 0.8) // 10)  # the recorded fit's steps
for step in range(steps):
    part = slice(step % 10 * 10, step % 10 * 10 + 10)
    model.train_on_batch(test_data_1d[part], test_labels[part])"""
NOT_CONFIRMED = {"fit.called", "fit.settings", "fit.validation"}
HOSTILE += [
    Case("recompiles-then-trains-on-test-images", lesson(after={"evaluate": COMPILE + "\n" + TRAIN_ON_TEST_IMAGES}),
         failing=NOT_CONFIRMED, says={"fit.called": "could not be confirmed"}),
    Case("pads-history-then-trains-on-test-images", lesson(
        before={"fit": """\
import keras
class Pad(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.model.history.history['pad'] = [0.0] * 20"""},
        fit=FIT.replace(")", ", callbacks=[Pad()])"), after={"evaluate": TRAIN_ON_TEST_IMAGES}),
         failing=NOT_CONFIRMED, says={"fit.called": "could not be confirmed"}),
    Case("recompiles-trains-on-test-images-then-fails-a-compile", lesson(
        after={"evaluate": COMPILE + "\n" + TRAIN_ON_TEST_IMAGES + "\n" + FAILED_COMPILE}),
         failing=NOT_CONFIRMED, says={"fit.called": "could not be confirmed"}),
    Case("numpy-batch-size-then-trains-on-test-images", lesson(
        fit=FIT.replace("batch_size=10", "batch_size=np.int64(10)"),
        after={"evaluate": "for step in range(50):\n    model.train_on_batch(test_data_1d, test_labels)"}),
         failing=NOT_CONFIRMED, says={"fit.called": "could not be confirmed"}),
]

CASES = {case.name: case for case in EQUIVALENT + MISTAKES + HOSTILE}
