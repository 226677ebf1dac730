"""compile.loss, compile.optimizer, compile.metrics, read from the saved model's compile settings."""
from __future__ import annotations

from ...exercise.model import Exercise, loss_words
from ...modelfile import StructureRecord
from ..facts import Facts
from ..phrasing import upper_first
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


def _loss_hint(exercise: Exercise) -> str:
    if exercise.loss == "categorical_crossentropy":
        return ("Use `loss='categorical_crossentropy'` (or keras.losses.CategoricalCrossentropy()): it "
                "compares the predicted probabilities with one-hot labels.")
    return f"Use `loss='{exercise.loss}'`, as the exercise asks."


@check("compile.loss", needs=compiled_model)
def loss(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    loss = structure["loss"]
    name = loss["name"] if loss else None
    written = (loss["as_written"] if loss else None) or name
    wanted = exercise.loss
    hint = _loss_hint(exercise)
    from_logits = bool(loss and loss.get("from_logits"))
    if name == wanted and not from_logits:
        fits = ", right for one-hot labels and a softmax output" if wanted == "categorical_crossentropy" else ""
        return Outcome(True, f"The loss is {loss_words(wanted)} ({written}){fits}.")
    if name == wanted:
        last = structure["blocks"][-1]["activation"] if structure["blocks"] else None
        if last == "softmax":
            return Outcome(False, "The loss has from_logits=True, which tells Keras the outputs are raw "
                                  "scores, but your output layer already applies softmax.", hint)
        return Outcome(False, f"The loss has from_logits=True; the exercise uses a {exercise.output_activation} "
                              f"output and the plain {loss_words(wanted)}.", hint)
    if name is None:
        return Outcome(False, "The model was compiled without a loss.", hint)
    why = LOSS_WHY.get(name) if wanted == "categorical_crossentropy" else None
    return Outcome(False, f"The loss is {written!s}" + (f": {why}." if why else
                                                       f"; the exercise uses {loss_words(wanted)}."), hint,
                   diagnosis=f"loss {name.replace('_', ' ')}")


@check("compile.optimizer", needs=compiled_model)
def optimizer(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    found = structure["optimizer"]
    name, written = (found["name"], found["as_written"]) if found else (None, None)
    wanted = exercise.optimizer_name
    if name == exercise.optimizer:
        shown = "" if str(written).lower() == wanted.lower() else f" ({written})"
        return Outcome(True, f"The optimizer is {wanted}{shown}.")
    return Outcome(False, f"The optimizer is {written or 'not set'}; the exercise uses {wanted}.",
                   hint=f"Use `optimizer='{exercise.optimizer}'` (or keras.optimizers.{wanted}()).",
                   diagnosis=f"optimizer {name or 'not set'}")


def _tracked(wanted: str, names: list[str]) -> bool:
    return bool(ACCURACY_NAMES & set(names)) if wanted in ACCURACY_NAMES else wanted in names


@check("compile.metrics", needs=compiled_model)
def metrics(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    names = structure["metrics"]
    objects = structure["metric_objects"]
    wanted = list(exercise.metrics)
    hint = (f"Pass `metrics={wanted!r}` to compile, so that training and evaluation report "
            f"{' and '.join(wanted)}.")
    missing = [metric for metric in wanted if not _tracked(metric, names)]
    if missing:
        if not names:
            return Outcome(False, "No metrics were given to compile, so Keras reports only the loss, not "
                                  f"{' and '.join(missing)}.", hint, diagnosis="no metrics")
        return Outcome(False, f"The metrics are {', '.join(names)}, which do not include "
                              f"{' and '.join(missing)}.", hint)
    if not wanted:
        return Outcome(True, "The exercise asks for no particular metric.")
    if "Accuracy" in objects and "categorical_accuracy" not in names and "CategoricalAccuracy" not in objects:
        return Outcome(True, "Accuracy is tracked with keras.metrics.Accuracy(). Note: that metric "
                             "compares outputs and labels exactly, so with probabilities it reads near 0; "
                             "'accuracy' or CategoricalAccuracy() measure what you mean.")
    verb = "is" if len(wanted) == 1 else "are"
    return Outcome(True, f"{upper_first(' and '.join(wanted))} {verb} tracked during training and evaluation.")
