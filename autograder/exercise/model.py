"""What an exercise declares: the frozen `Exercise` (its model as LayerSpecs, compile and
fit settings, threshold and points), the check ids and their default points, and the
check titles and step hints worded from the declared values.

Exercise files (file.py) are read into these; registry.py names the built-in
ones and finds an exercise by id or path.

Check ids are a contract (see DESIGN.md): they keep their meaning across
exercises, and every result lists every check of its exercise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

#: Every check id, in rubric order, with its default points (DESIGN.md's table).
DEFAULT_POINTS = {
    "data.load": 5.0,
    "data.reshape": 10.0,
    "model.input_shape": 10.0,
    "model.architecture": 10.0,
    "model.hidden_activation": 5.0,
    "model.output_layer": 10.0,
    "compile.loss": 5.0,
    "compile.optimizer": 5.0,
    "compile.metrics": 5.0,
    "fit.called": 10.0,
    "fit.settings": 5.0,
    "fit.validation": 5.0,
    "evaluate.called": 5.0,
    "accuracy.threshold": 10.0,
}
CHECK_IDS = tuple(DEFAULT_POINTS)

# The lesson's steps, as the notebook's self-check cells name them, and the checks of
# each: `ex.check("build")` runs exactly these. Every check id belongs to one step.
TASKS = {
    "load": ("data.load",),
    "reshape": ("data.reshape",),
    "build": ("model.input_shape", "model.architecture", "model.hidden_activation", "model.output_layer"),
    "compile": ("compile.loss", "compile.optimizer", "compile.metrics"),
    "fit": ("fit.called", "fit.settings", "fit.validation"),
    "evaluate": ("evaluate.called", "accuracy.threshold"),
}

TASK_TITLES = {
    "load": "Load the data",
    "reshape": "Shape the pictures for the model",
    "build": "Build the network",
    "compile": "Compile the network",
    "fit": "Train the network",
    "evaluate": "Evaluate on the test pictures",
}

#: Layer types an exercise may declare, by Keras class name; aliases map to these names.
LAYER_TYPES = ("Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D", "Flatten", "Dropout")
LAYER_ALIASES = {"MaxPool2D": "MaxPooling2D", "AvgPool2D": "AveragePooling2D", "Convolution2D": "Conv2D"}
#: Layers with weights and an activation: the ones "hidden layers" and "the output layer" mean.
WEIGHTED = ("Dense", "Conv2D")
POOLING = ("MaxPooling2D", "AveragePooling2D")
#: How optimizers are spelled in prose, by the lower-case name Keras saves them under.
OPTIMIZER_NAMES = {"adam": "Adam", "sgd": "SGD", "rmsprop": "RMSprop", "adagrad": "Adagrad",
                   "adadelta": "Adadelta", "adamax": "Adamax", "nadam": "Nadam", "adamw": "AdamW",
                   "ftrl": "Ftrl", "lion": "Lion", "adafactor": "Adafactor", "lamb": "Lamb"}
LESSON_CLASSES = ("t-shirt", "dress", "shoe")


@dataclass(frozen=True)
class LayerSpec:
    """One declared layer: its Keras type and the settings the exercise asks for."""

    type: str
    units: int | None = None  # Dense
    filters: int | None = None  # Conv2D
    kernel_size: tuple[int, int] | None = None  # Conv2D
    pool_size: tuple[int, int] | None = None  # pooling
    rate: float | None = None  # Dropout
    activation: str | None = None  # Dense and Conv2D ("linear" for none)

    def text(self) -> str:
        """How code would write it: 'Dense(10)', 'Conv2D(10, kernel_size=3)', 'MaxPooling2D(2)'."""
        if self.type == "Dense":
            return f"Dense({self.units})"
        if self.type == "Conv2D":
            return f"Conv2D({self.filters}, kernel_size={size_text(self.kernel_size)})"
        if self.type in POOLING:
            return f"{self.type}({size_text(self.pool_size)})"
        if self.type == "Dropout":
            return f"Dropout({self.rate:g})"
        return f"{self.type}()"


def size_text(size: tuple[int, ...] | list[int] | None) -> str:
    """A kernel or pool size as code writes it: 3 for (3, 3), (3, 5) otherwise."""
    if not size:
        return "?"
    return str(size[0]) if len(set(size)) == 1 else "(" + ", ".join(str(s) for s in size) + ")"


def shape_tuple(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def loss_words(name: str) -> str:
    """'categorical_crossentropy' as prose: 'categorical cross-entropy'."""
    return name.replace("crossentropy", "cross-entropy").replace("_", " ")


@dataclass(frozen=True)
class Exercise:
    """One exercise, as its file declares it, with the grading policy of the command applied."""

    id: str
    title: str
    layers: tuple[LayerSpec, ...]
    input_shape: tuple[int, ...] = (784,)
    classes: tuple[str, ...] = LESSON_CLASSES
    loss: str = "categorical_crossentropy"
    optimizer: str = "adam"  # the lower-case name Keras saves it under
    metrics: tuple[str, ...] = ("accuracy",)
    epochs: int = 10
    batch_size: int = 10
    validation_split: float = 0.2
    threshold: float = 0.80
    hide_threshold: bool = False  # reports then say "the required accuracy", never the number
    show_holdout: bool = False  # may students see the accuracy measured on a hidden holdout?
    points: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_POINTS))

    # --- the declared model, as the checks read it --------------------------

    @property
    def units(self) -> list[int]:
        """The units of the Dense layers, in order."""
        return [layer.units or 0 for layer in self.layers if layer.type == "Dense"]

    @property
    def output_units(self) -> int:
        return self.layers[-1].units or 0

    @property
    def output_activation(self) -> str:
        return self.layers[-1].activation or "linear"

    @property
    def weighted(self) -> list[LayerSpec]:
        return [layer for layer in self.layers if layer.type in WEIGHTED]

    @property
    def hidden_activations(self) -> list[str]:
        """The distinct activations the hidden (weighted, not last) layers apply, in order."""
        seen: list[str] = []
        for layer in self.weighted[:-1]:
            if (layer.activation or "linear") not in seen:
                seen.append(layer.activation or "linear")
        return seen

    @property
    def convolutional(self) -> bool:
        """Does the model take whole images (n, 28, 28, 1), rather than flat rows?"""
        return len(self.input_shape) > 1

    @property
    def flat_size(self) -> int:
        return math.prod(self.input_shape)

    @property
    def batch_shape_text(self) -> str:
        """'(None, 784)': the input shape Keras reports, batch axis first."""
        return "(None, " + ", ".join(map(str, self.input_shape)) + ")"

    @property
    def class_list(self) -> str:
        return ", ".join(self.classes)

    @property
    def optimizer_name(self) -> str:
        return OPTIMIZER_NAMES.get(self.optimizer, self.optimizer)

    def declares(self, layer_type: str) -> bool:
        return any(layer.type == layer_type for layer in self.layers)

    def layers_text(self) -> str:
        return ", ".join(layer.text() for layer in self.layers)

    # --- the rubric --------------------------------------------------------

    @property
    def check_ids(self) -> list[str]:
        return list(self.points)

    @property
    def max_score(self) -> float:
        return float(sum(self.points.values()))

    def check_title(self, check_id: str) -> str:
        """The check's title in this exercise's own values."""
        return self._titles().get(check_id, check_id)

    def _titles(self) -> dict[str, str]:
        dense_only = all(layer.type == "Dense" for layer in self.layers)
        hidden = self.hidden_activations
        wanted_split = self.validation_split
        return {
            "data.load": "Load the four arrays from fashion.npz",
            "data.reshape": (f"Flatten the images to (n, {self.flat_size})" if not self.convolutional
                             else f"Give fit and evaluate the images as (n, {', '.join(map(str, self.input_shape))})"),
            "model.input_shape": f"The model takes inputs of shape {self.batch_shape_text}",
            "model.architecture": (f"Dense layers of {_and(self.units)} units" if dense_only
                                   else f"The layers {self.layers_text()}"),
            "model.hidden_activation": (f"Hidden layers use {' and '.join(hidden)}" if hidden
                                        else "No hidden layers"),
            "model.output_layer": f"Output layer: {self.output_units} units with {self.output_activation}",
            "compile.loss": f"Loss: {loss_words(self.loss)}",
            "compile.optimizer": f"Optimizer: {self.optimizer_name}",
            "compile.metrics": f"Track {' and '.join(self.metrics)}" if self.metrics else "Metrics",
            "fit.called": ("Train on the flattened training data" if not self.convolutional
                           else "Train on the training images"),
            "fit.settings": f"Train for {self.epochs} epochs with batches of {self.batch_size}",
            "fit.validation": (f"Hold out {wanted_split:.0%} of the training data for validation" if wanted_split
                               else "Train on all the training data, holding none out"),
            "evaluate.called": "Evaluate on the test data",
            "accuracy.threshold": "Test accuracy reaches the threshold",
        }

    def task_hint(self, step: str) -> str:
        """A further hint for `ex.hint(step)`: the pattern to follow, not the answer."""
        shape = ", ".join(map(str, self.input_shape))
        images = f"(n, {shape})"
        if step == "load":
            return ("`np.load('fashion.npz')` returns an archive that behaves like a dictionary: take each of "
                    "the four arrays out by its name, e.g. `train_data = fashion['train_data']`. Print their "
                    "`.shape` to see (600, 28, 28, 1) images and (600, 3) one-hot labels.")
        if step == "reshape":
            if self.convolutional:
                return (f"This network takes whole images, {images}: the arrays of fashion.npz already have "
                        "that shape, so pass train_data and test_data as they are, without flattening them "
                        "or dropping their last (channel) axis.")
            return ("`reshape` keeps the number of rows and lets -1 work out the rest: "
                    f"`images.reshape((images.shape[0], -1))` turns (n, 28, 28, 1) into (n, {self.flat_size}). "
                    "Do it for both train_data and test_data and keep the results under new names.")
        if step == "build":
            return (f"A Sequential model is a list of layers applied in order: this exercise asks for "
                    f"{self.layers_text()}. The first layer needs `input_shape={shape_tuple(self.input_shape)}` "
                    f"so that it knows the shape of one sample; the last layer has one unit per class "
                    f"({len(self.classes)}) and `activation='{self.output_activation}'`. `model.summary()` "
                    "shows what you built.")
        if step == "compile":
            return (f"`model.compile(loss=..., optimizer=..., metrics=[...])`: this exercise uses "
                    f"loss='{self.loss}', the '{self.optimizer}' optimizer and metrics="
                    f"{list(self.metrics)!r}.")
        if step == "fit":
            data = "the training images as they are" if self.convolutional else "the flattened training images"
            return (f"`model.fit(training_images, training_labels, epochs=..., batch_size=..., "
                    f"validation_split=...)`: train on {data}, for {self.epochs} epochs with batches of "
                    f"{self.batch_size}, holding out {self.validation_split:g} of the data for validation.")
        return ("`model.evaluate(test_images, test_labels)` returns the loss and the accuracy on pictures the "
                "model never trained on. If the accuracy is low, check the earlier steps first: the input "
                "shape, the activations, the loss, and the training settings.")


def _and(items: list[int]) -> str:
    texts = [str(i) for i in items]
    return ", ".join(texts[:-1]) + (" and " if len(texts) > 1 else "") + (texts[-1] if texts else "no")
