"""The exercises and their rubrics: which checks, worth how many points.

Check ids are a contract (see DESIGN.md): they keep their meaning across
exercises, and every result lists every check of its exercise.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import UsageError

CHECK_TITLES = {
    "data.load": "Load the four arrays from fashion.npz",
    "data.reshape": "Flatten the images to (n, 784)",
    "model.input_shape": "The model takes inputs of shape (None, 784)",
    "model.architecture": "Dense layers with the right numbers of units",
    "model.hidden_activation": "Hidden layers use relu",
    "model.output_layer": "Output layer: 3 units with softmax",
    "compile.loss": "Loss: categorical cross-entropy",
    "compile.optimizer": "Optimizer: Adam",
    "compile.metrics": "Track accuracy",
    "fit.called": "Train on the flattened training data",
    "fit.settings": "Train for 10 epochs with batches of 10",
    "fit.validation": "Hold out 20% of the training data for validation",
    "evaluate.called": "Evaluate on the test data",
    "accuracy.threshold": "Test accuracy reaches the threshold",
}

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
    "reshape": "Flatten the pictures",
    "build": "Build the network",
    "compile": "Compile the network",
    "fit": "Train the network",
    "evaluate": "Evaluate on the test pictures",
}

# A further hint per step for `ex.hint(step)`: the pattern to follow, not the answer.
TASK_HINTS = {
    "load": ("`np.load('fashion.npz')` returns an archive that behaves like a dictionary: take each of "
             "the four arrays out by its name, e.g. `train_data = fashion['train_data']`. Print their "
             "`.shape` to see (600, 28, 28, 1) images and (600, 3) one-hot labels."),
    "reshape": ("`reshape` keeps the number of rows and lets -1 work out the rest: "
                "`images.reshape((images.shape[0], -1))` turns (n, 28, 28, 1) into (n, 784). Do it for "
                "both train_data and test_data and keep the results under new names."),
    "build": ("A Sequential model is a list of layers applied in order. The first Dense layer needs "
              "`input_shape=(784,)` so that it knows each sample is 784 numbers; hidden layers use "
              "`activation='relu'`, the last layer has one unit per class (3) and "
              "`activation='softmax'` so its outputs are probabilities. `model.summary()` shows what "
              "you built."),
    "compile": ("`model.compile(loss=..., optimizer=..., metrics=[...])`: one-hot labels with a softmax "
                "output go with 'categorical_crossentropy', the lesson uses the 'adam' optimizer, and "
                "metrics=['accuracy'] makes Keras report accuracy while it trains."),
    "fit": ("`model.fit(flat_training_images, training_labels, epochs=..., batch_size=..., "
            "validation_split=...)`: train on the flattened (600, 784) array, not the 4-D images, for "
            "10 epochs with batches of 10, holding out 0.2 of the data for validation."),
    "evaluate": ("`model.evaluate(flat_test_images, test_labels)` returns the loss and the accuracy on "
                 "pictures the model never trained on. If the accuracy is low, check the earlier steps "
                 "first: flattened data, relu and softmax, the loss, and 10 epochs of training."),
}


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    hidden_units: tuple[int, ...]
    output_units: int = 3
    epochs: int = 10
    batch_size: int = 10
    validation_split: float = 0.2
    threshold: float = 0.80
    hide_threshold: bool = False  # reports then say "the required accuracy", never the number
    show_holdout: bool = False  # may students see the accuracy measured on a hidden holdout?
    points: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_POINTS))

    @property
    def units(self) -> list[int]:
        return [*self.hidden_units, self.output_units]

    @property
    def check_ids(self) -> list[str]:
        return list(self.points)

    @property
    def max_score(self) -> float:
        return float(sum(self.points.values()))


EXERCISES = {
    "keras-dense": Exercise("keras-dense", "A dense network for three kinds of clothing", (10,)),
    "keras-deeper": Exercise("keras-deeper", "A deeper dense network: two hidden layers", (10, 10)),
}


class UnknownExercise(UsageError):
    def __init__(self, exercise_id: str):
        super().__init__(f"unknown exercise {exercise_id!r}; known exercises: {', '.join(sorted(EXERCISES))}")
        self.exercise_id = exercise_id


def get(exercise_id: str) -> Exercise:
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        raise UnknownExercise(exercise_id) from None
