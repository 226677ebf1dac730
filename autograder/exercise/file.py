"""Exercise files: read a TOML exercise (DESIGN.md "Exercise files") into an Exercise.

`parse` reads with the standard library's tomllib and validates everything before any
notebook is graded: a file that does not parse, has a key this format does not know, a
layer type the checks cannot judge, a check id that does not exist, points that are not
numbers, a threshold outside [0, 1], non-positive epochs or batch size, a split outside
[0, 1), or a model that cannot work (an output layer whose units differ from the number
of classes, a Conv2D on flat input, a Dense layer on images without a Flatten) is refused
with an ExerciseFileError: a UsageError (exit 2) whose one line names the file and key.
Every number, list and string is bounded (MAX_*) and nesting too, so that a file can only
be refused, never overflow a score or crash a grading.
"""
from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..modelfile import LOSS_ALIASES
from .model import (
    CHECK_IDS,
    DEFAULT_POINTS,
    LAYER_ALIASES,
    LAYER_TYPES,
    LESSON_CLASSES,
    OPTIMIZER_NAMES,
    POOLING,
    Exercise,
    LayerSpec,
)

#: The lesson's images: whatever shape an exercise declares, one image is 28x28x1 values.
IMAGE_VALUES = 28 * 28 * 1
IMAGE_SIDE = 28  # the largest kernel or pooling window an image can take
MAX_FILE_BYTES = 256 * 1024
# Bounds on what a file may declare: far above any lesson's, low enough that no sum, product or
# rendering of them overflows, and that a file is refused in one line rather than crashing a grading.
MAX_POINTS = 1000.0  # a check's points
MAX_UNITS = 100_000  # a layer's units or filters
MAX_EPOCHS = 10_000
MAX_BATCH_SIZE = 1_000_000
MAX_LAYERS = 100
MAX_CLASSES = 1000
MAX_TEXT = 200  # an id, a title, a class name
MAX_METRICS = 16
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

TOP_KEYS = ("id", "title", "classes", "threshold", "model", "compile", "fit", "points")
MODEL_KEYS = ("input_shape", "layers")
COMPILE_KEYS = ("loss", "optimizer", "metrics")
FIT_KEYS = ("epochs", "batch_size", "validation_split")
#: The settings each layer type may declare (besides `type`).
LAYER_KEYS = {
    "Dense": ("units", "activation"),
    "Conv2D": ("filters", "kernel_size", "activation"),
    "MaxPooling2D": ("pool_size",),
    "AveragePooling2D": ("pool_size",),
    "Flatten": (),
    "Dropout": ("rate",),
}
ACTIVATIONS = ("relu", "softmax", "sigmoid", "tanh", "linear", "elu", "selu", "gelu", "silu", "swish",
               "softplus", "softsign", "exponential", "leaky_relu", "relu6", "hard_sigmoid", "hard_silu",
               "mish", "log_softmax")
LOSSES = ("categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy",
          "mean_squared_error", "mean_absolute_error", "kl_divergence", "categorical_hinge", "hinge",
          "squared_hinge", "poisson", "huber", "log_cosh", "categorical_focal_crossentropy")
METRICS = ("accuracy", "categorical_accuracy", "top_k_categorical_accuracy", "precision", "recall", "auc",
           "mean_squared_error", "mean_absolute_error")


class ExerciseFileError(UsageError):
    """An exercise file that cannot be graded with; the message names the file and the key."""


class _Reader:
    """Validates one file's values, naming the key of each problem."""

    def __init__(self, origin: str):
        self.origin = origin

    def fail(self, key: str, reason: str) -> ExerciseFileError:
        return ExerciseFileError(f"exercise file {self.origin}: {key}: {reason}")

    def table(self, value: object, key: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, not {_kind(value)}")
        for name in value:
            if name not in allowed:
                raise self.fail(f"{key}.{name}" if key else name,
                                f"unknown key; {'this table' if key else 'an exercise file'} takes "
                                f"{', '.join(allowed)}")
        return value

    def text(self, value: object, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, not {_kind(value)}")
        if len(value) > MAX_TEXT:
            raise self.fail(key, f"must be at most {MAX_TEXT} characters, not {len(value)}")
        return value

    def whole(self, value: object, key: str, maximum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, not {_kind(value)}")
        if not 0 < value <= maximum:
            raise self.fail(key, f"must be from 1 to {maximum}, not {_shown(value)}")
        return value

    def number(self, value: object, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(key, f"must be a number, not {_kind(value)}")
        return float(value)

    def listed(self, value: object, key: str, most: int, what: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.fail(key, f"must be a non-empty list of {what}, not {_kind(value)}")
        if len(value) > most:
            raise self.fail(key, f"must list at most {most} {what}, not {len(value)}")
        return value

    def size(self, value: object, key: str) -> tuple[int, int]:
        """A kernel or pool size: 3 or [3, 3]."""
        if isinstance(value, list):
            if len(value) != 2:
                raise self.fail(key, f"must be a number or a pair of numbers, not a list of {len(value)}")
            first, second = (self.whole(v, key, IMAGE_SIDE) for v in value)
            return first, second
        side = self.whole(value, key, IMAGE_SIDE)
        return side, side

    def choice(self, value: object, key: str, known: tuple[str, ...]) -> str:
        name = self.text(value, key)
        if name not in known:
            raise self.fail(key, f"{name!r} is not one of {', '.join(known)}")
        return name


def _shown(number: int | float) -> str:
    """A number as a reason quotes it: a huge one by its size (Python will not print 10**5000)."""
    if isinstance(number, int) and abs(number) >= 10**12:
        return f"a number of {len(str(abs(number))) if abs(number) < 10**4000 else 'thousands of'} digits"
    return f"{number:g}" if isinstance(number, float) else str(number)


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"the number {_shown(value)}"
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) < 40 else "a string"
    if isinstance(value, list):
        return "a list"
    return "a table" if isinstance(value, dict) else type(value).__name__


def _layer(reader: _Reader, value: object, key: str) -> LayerSpec:
    if not isinstance(value, dict):
        raise reader.fail(key, f"must be a table such as {{ type = \"Dense\", units = 10 }}, not {_kind(value)}")
    given = reader.text(value.get("type"), f"{key}.type")
    kind = LAYER_ALIASES.get(given, given)
    if kind not in LAYER_TYPES:
        raise reader.fail(f"{key}.type", f"unknown layer type {given!r}; the checks know "
                                         f"{', '.join(LAYER_TYPES)} (and {', '.join(LAYER_ALIASES)})")
    settings = reader.table({k: v for k, v in value.items() if k != "type"}, key, LAYER_KEYS[kind])
    activation = None
    if "activation" in LAYER_KEYS[kind]:
        activation = reader.choice(settings.get("activation", "linear"), f"{key}.activation", ACTIVATIONS)
    if kind == "Dense":
        return LayerSpec(kind, units=reader.whole(settings.get("units"), f"{key}.units", MAX_UNITS),
                         activation=activation)
    if kind == "Conv2D":
        return LayerSpec(kind, filters=reader.whole(settings.get("filters"), f"{key}.filters", MAX_UNITS),
                         kernel_size=reader.size(settings.get("kernel_size"), f"{key}.kernel_size"),
                         activation=activation)
    if kind in POOLING:
        return LayerSpec(kind, pool_size=reader.size(settings.get("pool_size", 2), f"{key}.pool_size"))
    if kind == "Dropout":
        rate = reader.number(settings.get("rate"), f"{key}.rate")
        if not 0 <= rate < 1:
            raise reader.fail(f"{key}.rate", f"must be in [0, 1), not {rate:g}")
        return LayerSpec(kind, rate=rate)
    return LayerSpec(kind)


def _check_shapes(reader: _Reader, input_shape: tuple[int, ...], layers: tuple[LayerSpec, ...]) -> None:
    """Follow the declared input through the layers: each must be able to take what it is given."""
    shape = input_shape
    for index, layer in enumerate(layers):
        key = f"model.layers[{index}]"
        if layer.type in ("Conv2D", *POOLING):
            if len(shape) != 3:
                raise reader.fail(key, f"a {layer.type} layer needs images (height, width, channels), but it "
                                       f"gets {_shape(shape)}")
            window = layer.kernel_size if layer.type == "Conv2D" else layer.pool_size
            assert window is not None  # _layer sets it for these types
            if layer.type == "Conv2D":
                height, width = shape[0] - window[0] + 1, shape[1] - window[1] + 1
                shape = (height, width, layer.filters or 0)
            else:
                height, width = shape[0] // window[0], shape[1] // window[1]
                shape = (height, width, shape[2])
            if height <= 0 or width <= 0:
                raise reader.fail(key, f"its window {window} is larger than its input")
        elif layer.type == "Flatten":
            shape = (math.prod(shape),)
        elif layer.type == "Dense":
            if len(shape) != 1:
                raise reader.fail(key, f"a Dense layer here gets {_shape(shape)}; declare a Flatten layer "
                                       "before it")
            shape = (layer.units or 0,)


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _model(reader: _Reader, value: object) -> tuple[tuple[int, ...], tuple[LayerSpec, ...]]:
    model = reader.table(value, "model", MODEL_KEYS)
    raw_shape = model.get("input_shape", [IMAGE_VALUES])
    if not isinstance(raw_shape, list) or not raw_shape or len(raw_shape) > 3:
        raise reader.fail("model.input_shape", "must be a list of 1 to 3 whole numbers, e.g. [784] or [28, 28, 1]")
    input_shape = tuple(reader.whole(v, "model.input_shape", IMAGE_VALUES) for v in raw_shape)
    if math.prod(input_shape) != IMAGE_VALUES:
        raise reader.fail("model.input_shape", f"{list(input_shape)} holds {math.prod(input_shape)} values, but "
                                               f"each lesson image has {IMAGE_VALUES} (28x28x1)")
    raw_layers = reader.listed(model.get("layers"), "model.layers", MAX_LAYERS, "layers")
    layers = tuple(_layer(reader, layer, f"model.layers[{i}]") for i, layer in enumerate(raw_layers))
    if layers[-1].type != "Dense":
        raise reader.fail(f"model.layers[{len(layers) - 1}]", f"the last layer must be the Dense output "
                                                              f"layer, not {layers[-1].type}")
    _check_shapes(reader, input_shape, layers)
    return input_shape, layers


def _points(reader: _Reader, value: object) -> dict[str, float]:
    given = reader.table(value, "points", CHECK_IDS)
    points = dict(DEFAULT_POINTS)
    for check_id, amount in given.items():
        number = reader.number(amount, f"points.{check_id!r}")
        if not 0 <= number <= MAX_POINTS:
            raise reader.fail(f"points.{check_id!r}", f"must be from 0 to {MAX_POINTS:g}, not {number:g}")
        points[check_id] = number
    if sum(points.values()) <= 0:
        raise reader.fail("points", "the checks are worth no points at all")
    return points


def parse(text: str, origin: str) -> Exercise:
    """The exercise a file's text declares; ExerciseFileError (exit 2) names what is wrong."""
    reader = _Reader(origin)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ExerciseFileError(f"exercise file {origin}: not valid TOML: {error}") from None
    except RecursionError:  # arrays or tables nested thousands deep
        raise ExerciseFileError(f"exercise file {origin}: nested too deeply to be an exercise file") from None
    reader.table(document, "", TOP_KEYS)
    exercise_id = reader.text(document.get("id"), "id")
    if not ID_PATTERN.fullmatch(exercise_id):
        raise reader.fail("id", f"{exercise_id!r} must be 1 to 64 letters, digits, '.', '_' or '-', starting "
                                "with a letter or digit")
    if "model" not in document:
        raise reader.fail("model", "missing; declare [model] with input_shape and layers")
    input_shape, layers = _model(reader, document["model"])
    raw_classes = document.get("classes", list(LESSON_CLASSES))
    if not isinstance(raw_classes, list) or not 2 <= len(raw_classes) <= MAX_CLASSES:
        raise reader.fail("classes", f"must be a list of 2 to {MAX_CLASSES} class names, in label-column order")
    classes = tuple(reader.text(c, "classes") for c in raw_classes)
    if layers[-1].units != len(classes):
        raise reader.fail(f"model.layers[{len(layers) - 1}].units",
                          f"the output layer has {layers[-1].units} units but classes names {len(classes)}")
    threshold = reader.number(document.get("threshold", 0.80), "threshold")
    if not 0 <= threshold <= 1:
        raise reader.fail("threshold", f"must be between 0 and 1, not {threshold:g}")
    compiled = reader.table(document.get("compile", {}), "compile", COMPILE_KEYS)
    loss = reader.text(compiled.get("loss", "categorical_crossentropy"), "compile.loss")
    loss = reader.choice(LOSS_ALIASES.get(loss, loss), "compile.loss", LOSSES)
    optimizer = reader.choice(str(compiled.get("optimizer", "adam")).lower(), "compile.optimizer",
                              tuple(OPTIMIZER_NAMES))
    raw_metrics = compiled.get("metrics", ["accuracy"])
    if not isinstance(raw_metrics, list):
        raise reader.fail("compile.metrics", f"must be a list of metric names, not {_kind(raw_metrics)}")
    if len(raw_metrics) > MAX_METRICS:
        raise reader.fail("compile.metrics", f"must list at most {MAX_METRICS} metrics, not {len(raw_metrics)}")
    metrics = tuple(reader.choice({"acc": "accuracy"}.get(m, m), "compile.metrics", METRICS) for m in raw_metrics)
    fit = reader.table(document.get("fit", {}), "fit", FIT_KEYS)
    split = reader.number(fit.get("validation_split", 0.2), "fit.validation_split")
    if not 0 <= split < 1:
        raise reader.fail("fit.validation_split", f"must be in [0, 1), not {split:g}")
    return Exercise(id=exercise_id, title=reader.text(document.get("title", exercise_id), "title"),
                    layers=layers, input_shape=input_shape, classes=classes, loss=loss, optimizer=optimizer,
                    metrics=metrics, epochs=reader.whole(fit.get("epochs", 10), "fit.epochs", MAX_EPOCHS),
                    batch_size=reader.whole(fit.get("batch_size", 10), "fit.batch_size", MAX_BATCH_SIZE),
                    validation_split=split, threshold=threshold, points=_points(reader, document.get("points", {})))


def load(path: Path) -> Exercise:
    """The exercise in the file at `path`."""
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise ExerciseFileError(f"cannot read exercise file {path}: {error.strerror or error}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ExerciseFileError(f"exercise file {path}: larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ExerciseFileError(f"exercise file {path}: not UTF-8 text") from None
    return parse(text, str(path))
