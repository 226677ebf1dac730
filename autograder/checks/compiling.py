"""compile.loss, compile.optimizer, compile.metrics, read from the saved model's compile settings."""
from __future__ import annotations

from ..exercises import Exercise
from ..facts import Facts
from ..modelfile import StructureRecord
from .needs import compiled_model
from .registry import Outcome, check

LOSS_WHY = {
    "mean_squared_error": "mean squared error treats the three outputs as numbers to match, which "
                          "learns slowly and gives no sense of probability",
    "mean_absolute_error": "mean absolute error treats the three outputs as numbers to match",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy expects each label as a class "
                                       "number (0, 1 or 2), but train_labels holds one-hot rows of 3",
    "binary_crossentropy": "binary_crossentropy is for yes/no outputs; with three exclusive classes it "
                           "scores each class on its own",
}
ACCURACY_NAMES = {"accuracy", "categorical_accuracy"}


@check("compile.loss", needs=compiled_model)
def loss(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    loss = structure["loss"]
    name = loss["name"] if loss else None
    written = (loss["as_written"] if loss else None) or name
    hint = ("Use `loss='categorical_crossentropy'` (or keras.losses.CategoricalCrossentropy()): it "
            "compares the predicted probabilities with one-hot labels.")
    from_logits = bool(loss and loss.get("from_logits"))
    if name == "categorical_crossentropy" and not from_logits:
        return Outcome(True, f"The loss is categorical cross-entropy ({written}), right for one-hot "
                             "labels and a softmax output.")
    if name == "categorical_crossentropy":
        last = structure["blocks"][-1]["activation"] if structure["blocks"] else None
        if last == "softmax":
            return Outcome(False, "The loss has from_logits=True, which tells Keras the outputs are raw "
                                  "scores, but your output layer already applies softmax.", hint)
        return Outcome(False, "The loss has from_logits=True; the exercise uses a softmax output and "
                              "the plain categorical cross-entropy.", hint)
    if name is None:
        return Outcome(False, "The model was compiled without a loss.", hint)
    why = LOSS_WHY.get(name)
    return Outcome(False, f"The loss is {written!s}" + (f": {why}." if why else
                                                       "; the exercise uses categorical cross-entropy."), hint,
                   diagnosis=f"loss {name.replace('_', ' ')}")


@check("compile.optimizer", needs=compiled_model)
def optimizer(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    found = structure["optimizer"]
    name, written = (found["name"], found["as_written"]) if found else (None, None)
    if name == "adam":
        shown = "" if str(written).lower() == "adam" else f" ({written})"
        return Outcome(True, f"The optimizer is Adam{shown}.")
    return Outcome(False, f"The optimizer is {written or 'not set'}; the lesson uses Adam.",
                   hint="Use `optimizer='adam'` (or keras.optimizers.Adam()).",
                   diagnosis=f"optimizer {name or 'not set'}")


@check("compile.metrics", needs=compiled_model)
def metrics(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    names = structure["metrics"]
    objects = structure["metric_objects"]
    hint = "Pass `metrics=['accuracy']` to compile, so that training and evaluation report accuracy."
    if not ACCURACY_NAMES & set(names):
        if not names:
            return Outcome(False, "No metrics were given to compile, so Keras reports only the loss, not "
                                  "how many images are classified correctly.", hint, diagnosis="no metrics")
        return Outcome(False, f"The metrics are {', '.join(names)}, which do not include accuracy.", hint)
    if "Accuracy" in objects and "categorical_accuracy" not in names and "CategoricalAccuracy" not in objects:
        return Outcome(True, "Accuracy is tracked with keras.metrics.Accuracy(). Note: that metric "
                             "compares outputs and labels exactly, so with probabilities it reads near 0; "
                             "'accuracy' or CategoricalAccuracy() measure what you mean.")
    return Outcome(True, "Accuracy is tracked during training and evaluation.")
