"""The graded model read against the exercise before any error of `fit` is: the mistakes in the
model's declared layers and in the shapes flowing through them that make training fail later.

An output layer of 10 units on 3-class labels, a Dense layer on feature maps with no Flatten
before it, a 2-D `input_shape` on a Conv2D, feature maps that a kernel no longer fits in, flat
rows given to a Conv2D: each raises, if at all, in a later cell (`fit`) or in Keras' own words.
Here each is found where it was made, as a `Finding` the cause analysis (causes.py) turns into
the root cause; the errors it explains become its consequences.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass

from ..exercise.model import Exercise, shape_tuple
from .dataflow import parse_line
from .facts import Facts, RecordedCall
from .phrasing import shape_text, upper_first
from .shapes import POOLING, expected_layers, student_layers

#: Errors of `fit`/`evaluate` about the labels against the model's output.
OUTPUT_ERROR = re.compile(r"`target` and `output`|target\.shape|logits and labels|Shapes .* are incompatible|"
                          r"must have the same (shape|rank)", re.I)
#: Keras' words for a Conv2D given images without their channel axis.
NO_CHANNEL_ERROR = re.compile(r"expected (min_)?ndim=4, found ndim=([23])")
#: Keras' words for `input_shape=(784)`: a number where a tuple goes.
NOT_A_SHAPE_ERROR = re.compile(r"Cannot convert '?\(?(\d+)\)?'? to a shape", re.I)
#: Keras' words for a window that no longer fits in the maps it slides over.
VANISHED_ERROR = re.compile(r"output size would be (zero or )?negative|Negative dimension size", re.I)
#: Words of the code that builds a model.
LAYER_WORDS = (".add(", "Sequential(", "Model(", "Dense(", "Conv2D(", "layers.")
RESTART = "then use Kernel > Restart & Run All to check that the notebook runs from the top"


@dataclass
class Finding:
    """A mistake in the model, where it was made, in words, with the checks it explains."""

    cell: int | None
    line: int | None
    kind: str
    title: str
    message: str
    next_step: str
    #: Failed checks it explains, besides those of the cells whose errors follow from it.
    explains: frozenset[str] = frozenset()


def _code_line(source: str, number: int) -> str:
    lines = source.splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""


def lines_with(source: str, word: str) -> list[int]:
    """The lines of `source` that hold `word` outside a comment."""
    return [number for number, text in enumerate(source.splitlines(), start=1)
            if word in text.split("#", 1)[0]]


def build_cell(facts: Facts) -> int | None:
    """The cell that builds the graded model: the last cell with layer code before its first call."""
    calls = [c["cell"] for c in facts.calls if c["model"] == facts.graded_model and c["cell"] is not None]
    first_call = min(calls, default=None)
    found = None
    for cell in facts.cells:
        if first_call is not None and cell["index"] >= first_call and found is not None:
            break
        if any(word in cell["source"] for word in LAYER_WORDS):
            found = cell["index"]
    return found


def label_width(facts: Facts, exercise: Exercise) -> int:
    """How many numbers each label has: the one-hot rows given to fit, else one per class."""
    fit = facts.main_fit
    shape = fit["y"].get("shape") if fit and fit["y"] else None
    return shape[-1] if shape and len(shape) == 2 and isinstance(shape[-1], int) else len(exercise.classes)


def raised(call: RecordedCall | None, pattern: re.Pattern[str]) -> bool:
    error = call["error"] if call else None
    return bool(call and call["finished"] is False and error and pattern.search(error["evalue"] or ""))


def _grid(shape: list) -> str:
    return f"{shape[1]}x{shape[2]}" if len(shape) == 4 else shape_text(shape)


def _journey(rows: list[dict]) -> str:
    """'28x28 → 16x16 after Conv2D(10, 13x13) → 8x8 after MaxPooling2D(2x2)': the maps' sizes through the
    layers, up to the first that leaves none."""
    parts = [_grid(rows[0]["shape"])] if rows and rows[0]["shape"] else []
    for row in rows[1:]:
        shape = row["shape"]
        if not shape or len(shape) != 4 or not all(isinstance(d, int) and d > 0 for d in shape[1:3]):
            break
        parts.append(f"{_grid(shape)} after {row['kind']}")
    return " → ".join(parts)


def _expected_journey(exercise: Exercise) -> str:
    rows = [row for row in expected_layers(exercise) if row["shape"] and len(row["shape"]) == 4]
    return " → ".join(_grid(row["shape"]) for row in rows)


class ModelReading:
    """The graded model's layers and shapes against the exercise, for one analysis."""

    def __init__(self, facts: Facts, exercise: Exercise, where: Callable[[int | None, int | None], str]):
        self.facts = facts
        self.exercise = exercise
        self.where = where
        self.structure = facts.graded_structure
        self.rows = student_layers(self.structure) if self.structure else []
        self.build = build_cell(facts)
        cell = facts.cell(self.build)
        self.source = cell["source"] if cell else ""

    @property
    def convolutional(self) -> bool:
        return self.exercise.convolutional or any(
            str(row["kind"]).startswith(("Conv2D", *POOLING)) for row in self.rows)

    def _training_failed(self, pattern: re.Pattern[str]) -> bool:
        return raised(self.facts.main_fit, pattern) or raised(self.facts.main_evaluation, pattern)

    # --- the output the labels are compared with -------------------------------------------

    def output_finding(self) -> Finding | None:
        """A model whose output cannot be compared with the labels, when training or evaluation
        failed on exactly that: feature maps with no Flatten, or an output layer of other units."""
        if len(self.rows) < 2 or not self._training_failed(OUTPUT_ERROR):
            return None
        output = self.rows[-1]["shape"]
        if not output:
            return None
        if len(output) > 2:
            return self._missing_flatten(output)
        width = label_width(self.facts, self.exercise)
        units = output[-1]
        if isinstance(units, int) and units != width:
            return self._output_units(units, width)
        return None

    def _missing_flatten(self, output: list) -> Finding:
        dense = lines_with(self.source, "Dense(")
        line = dense[0] if dense else None
        wanted = self.exercise.output_units
        last_grid = next((row for row in reversed(self.rows[:-1]) if row["shape"] and len(row["shape"]) > 2), None)
        maps = shape_text(last_grid["shape"]) if last_grid else "feature maps"
        where = self.where(self.build, line)
        if self.convolutional:
            pooling = [n for n in (lines_with(self.source, "MaxPooling2D(") + lines_with(self.source, "MaxPool2D("))
                       if line is None or n < line]
            after = f"after line {max(pooling)}, " if pooling else ""
            return Finding(
                self.build, line, "missing-flatten",
                "There is no Flatten between the last pooling layer and the Dense layer",
                f"{upper_first(where)} adds a Dense layer to feature maps of shape {maps}. Without a Flatten layer "
                f"before it, the Dense layer runs on every position of the maps, so the model's output is "
                f"{shape_text(output)} rather than one row of {wanted} class scores per image, and `fit` cannot "
                f"compare it with labels of shape (n, {wanted}).",
                f"Add `model.add(Flatten())` {after}just before the Dense layer (line {line or '?'}), and import it "
                f"with `from keras.layers import Flatten`; then re-run that cell and the ones after it.")
        return Finding(
            self.build, line, "missing-flatten",
            f"The model's output is {shape_text(output)}, not one row of {wanted} class scores per image",
            f"{upper_first(where)}: the model takes whole images, {shape_text(self.rows[0]['shape'])}, and a Dense "
            f"layer works on the last axis only, so every row of pixels gets its own output and `fit` cannot compare "
            f"them with labels of shape (n, {wanted}).",
            f"Flatten the images before the model, `train_data_1d = train_data.reshape((train_data.shape[0], -1))` "
            f"and the same for test_data, give the first layer `input_shape={shape_tuple(self.exercise.input_shape)}`, "
            f"and pass the flat arrays to fit and evaluate; {RESTART}.")

    def _output_units(self, units: int, width: int) -> Finding:
        dense = lines_with(self.source, "Dense(")
        line = dense[-1] if dense else None
        activation = self.exercise.output_activation
        classes = f"{width} classes ({self.exercise.class_list})" if width == len(self.exercise.classes) \
            else f"{width} numbers per label"
        ten = (" 10 units is the full Fashion-MNIST's ten classes; this data set keeps three of them."
               if units == 10 and width != 10 else "")
        return Finding(
            self.build, line, "output-units",
            f"The output layer has {units} units, but the labels have {classes}",
            f"{upper_first(self.where(self.build, line))} ends the model with {units} outputs per image, while each "
            f"label is a one-hot row of {width}: `fit` compares the two and fails.{ten}",
            f"Make the last layer `Dense({width}, activation='{activation}')`, one unit per class, on line "
            f"{line or '?'}; then re-run that cell and the ones after it.",
            explains=frozenset({"model.output_layer"}))

    # --- the build cell's own errors --------------------------------------------------------

    def build_error_finding(self, index: int, line: int | None, evalue: str) -> Finding | None:
        """A build cell that raised because of the shapes: a 2-D input_shape on a Conv2D, or maps a
        kernel or pooling window no longer fits in."""
        if index != self.build:
            return None
        source = self.facts.cell(index)
        text = _code_line(source["source"], line) if source and line else ""
        not_a_shape = NOT_A_SHAPE_ERROR.search(evalue)
        if not_a_shape:
            return self._not_a_tuple(index, line, text, not_a_shape.group(1))
        flat = NO_CHANNEL_ERROR.search(evalue)
        if flat and flat.group(2) == "2":
            return self._flat_into_conv(index, line, text)
        if flat:
            return self._no_channel(index, line, text)
        if VANISHED_ERROR.search(evalue):
            return self._vanished(index, line, text, evalue)
        return None

    def _no_channel(self, index: int, line: int | None, text: str) -> Finding:
        wanted = shape_tuple(self.exercise.input_shape) if self.exercise.convolutional else "(28, 28, 1)"
        written = re.search(r"(input_shape|shape)\s*=\s*(\([^)]*\)|\[[^\]]*\])", text)
        given = written.group(2) if written else "(28, 28)"
        keyword = written.group(1) if written else "input_shape"
        return Finding(
            index, line, "input-shape-without-channel",
            f"`{keyword}={given}` has no channel axis: a Conv2D needs {wanted}",
            f"{upper_first(self.where(index, line))} gives the first Conv2D images of {given}. A Conv2D takes "
            f"(height, width, channels), even for grey images with their one channel, so Keras refuses the layer; "
            "the model is left without it and the layers after it, and training it fails too.",
            f"Write `{keyword}={wanted}` on line {line or '?'}: the images of fashion.npz already have that shape; "
            f"{RESTART}.")

    def _not_a_tuple(self, index: int, line: int | None, text: str, number: str) -> Finding:
        written = re.search(r"(input_shape|shape)\s*=\s*\(\s*\d+\s*\)", text)
        keyword = written.group(1) if written else "input_shape"
        wanted = shape_tuple(self.exercise.input_shape)
        return Finding(
            index, line, "input-shape-not-a-tuple",
            f"`{keyword}=({number})` is the number {number}, not a shape: a one-item tuple needs a comma",
            f"{upper_first(self.where(index, line))}: in Python `({number})` is just {number} in brackets; a shape "
            f"is a tuple, and a tuple of one item is written with a comma, `({number},)`. Keras refuses the layer, "
            "so the model is left without it and the layers after it.",
            f"Write `{keyword}={wanted}` on line {line or '?'}; {RESTART}.")

    def _flat_into_conv(self, index: int, line: int | None, text: str) -> Finding:
        wanted = shape_tuple(self.exercise.input_shape) if self.exercise.convolutional else "(28, 28, 1)"
        written = re.search(r"(input_shape|shape)\s*=\s*(\([^)]*\)|\[[^\]]*\])", text)
        given = written.group(2) if written else "a flat row"
        keyword = written.group(1) if written else "input_shape"
        return Finding(
            index, line, "flattened-input",
            f"`{keyword}={given}` is a flat row, but a Conv2D takes whole images {wanted}",
            f"{upper_first(self.where(index, line))} gives the first Conv2D each image as one flat row. A Conv2D "
            "slides its kernel over neighbouring pixels, so it needs each image whole, as fashion.npz holds it; "
            "Keras refuses the layer, and the model is left without it and the layers after it.",
            f"Write `{keyword}={wanted}` on line {line or '?'} and give fit and evaluate the images as loaded, "
            f"`train_data` and `test_data`; {RESTART}.")

    def _vanished(self, index: int, line: int | None, text: str, evalue: str) -> Finding:
        layer, size = _layer_on_line(text)
        if size is None:
            kernel = re.search(r"kernel shape=\((\d+), (\d+)", evalue)
            size = f"{kernel.group(1)}x{kernel.group(2)}" if kernel else "?"
        received = re.search(r"inputs?[. ]shape=[(\[]None,? (\d+),? (\d+)", evalue)
        journey = _journey(self.rows)
        maps = f"{received.group(1)}x{received.group(2)}" if received else \
            (journey.rsplit(" → ", 1)[-1].split(" ")[0] if journey else "small")
        what = "pooling window" if layer in POOLING else "kernel"
        expected = _expected_journey(self.exercise)
        return Finding(
            index, line, "maps-vanish",
            f"The feature maps vanish: {maps} maps are too small for the {size} {what} of this {layer}",
            f"{upper_first(self.where(index, line))}: each Conv2D shrinks the maps by its kernel's size less one, "
            f"and each pooling layer divides them; here they go {journey or maps}, and a {size} {what} no longer "
            "fits in them, so Keras refuses the layer and the model is left without it and the layers after it.",
            f"Use the exercise's layers, {self.exercise.layers_text()}"
            + (f", whose maps go {expected} before Flatten" if expected else "")
            + f"; {RESTART}.")

    # --- the data given to a convolutional model ------------------------------------------

    def flattened_input_finding(self, defined: Callable[[str, int], str]) -> Finding | None:
        """Flat rows given to a model of Conv2D layers: the dense exercise's habit."""
        if not self.exercise.convolutional:
            return None
        for call in (self.facts.main_fit, self.facts.main_evaluation):
            x = call["x"] if call else None
            shape = x.get("shape") if x else None
            if call is None or not shape or len(shape) != 2:
                continue
            name = f"`{x['names'][0]}`" if x and x["names"] else "the images"
            origin = defined(x["names"][0], call["cell"] or 0) if x and x["names"] else ""
            wanted = shape_tuple(self.exercise.input_shape)
            return Finding(
                call["cell"], call["line"], "flattened-input",
                f"{upper_first(name)} is flattened, {shape_text(shape)}, but the Conv2D layers take whole images",
                f"{upper_first(self.where(call['cell'], call['line']))} gives `{call['kind']}` {name}"
                + (f" (made {origin})" if origin else "")
                + f", each image as one row of {shape[1]} numbers. A Conv2D slides its kernel over neighbouring "
                f"pixels, so it needs each image whole, (n, {', '.join(map(str, self.exercise.input_shape))}), as "
                "fashion.npz holds them.",
                f"Pass the images as loaded: `model.fit(train_data, train_labels, ...)` and "
                f"`model.evaluate(test_data, test_labels, ...)` (each image {wanted}); this network needs no "
                f"reshape; {RESTART}.")
        return None


def _layer_on_line(text: str) -> tuple[str, str | None]:
    """The layer type a line adds and its kernel or pool size ('13x13'), read from its code."""
    tree = parse_line(text)
    for node in ast.walk(tree) if tree is not None else []:
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name not in ("Conv2D", "Convolution2D", *POOLING):
            continue
        keyword = "kernel_size" if name in ("Conv2D", "Convolution2D") else "pool_size"
        position = 1 if keyword == "kernel_size" else 0
        value = next((k.value for k in node.keywords if k.arg == keyword), None)
        if value is None and len(node.args) > position:
            value = node.args[position]
        try:
            size = ast.literal_eval(value) if value is not None else (2 if keyword == "pool_size" else None)
        except ValueError:
            size = None
        if isinstance(size, int):
            return name, f"{size}x{size}"
        if isinstance(size, (tuple, list)) and len(size) == 2:
            return name, f"{size[0]}x{size[1]}"
        return name, None
    return "layer", None

