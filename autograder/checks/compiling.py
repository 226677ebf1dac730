"""compile.loss, compile.optimizer, compile.metrics, read from the saved model's compile settings."""
from __future__ import annotations

from . import Outcome, check
from .explain import call_location, explain_error, join, model_subject, why_missing
from .model import graded_structure

COMPILE_HINT = ("Compile before training: `model.compile(loss='categorical_crossentropy', "
                "optimizer='adam', metrics=['accuracy'])`.")
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


def compiled_structure(facts) -> tuple[dict | None, Outcome | None]:
    """The graded model's structure if it was compiled, else the failing outcome to return."""
    structure, failed = graded_structure(facts)
    if failed is not None:
        return None, failed
    if structure.get("compiled"):
        return structure, None
    compiles = facts.calls_of("compile", facts.graded_model)
    failed = [c for c in compiles if c["finished"] is False and c.get("error")]
    if failed:
        call, error = failed[-1], failed[-1]["error"]
        return None, Outcome(False, f"`compile` ({call_location(facts, call)}) raised "
                                    f"{error.get('ename')}: {explain_error(error.get('ename', ''), error.get('evalue', ''))}.",
                             COMPILE_HINT)
    return None, Outcome(False, join(f"{model_subject(facts, facts.graded_model)} was never compiled.",
                                     why_missing(facts, ("compile(",))), COMPILE_HINT)


@check("compile.loss", needs=compiled_structure)
def loss(facts, exercise, structure) -> Outcome:
    loss = structure.get("loss") or {}
    name = loss.get("name")
    written = loss.get("as_written") or name
    hint = ("Use `loss='categorical_crossentropy'` (or keras.losses.CategoricalCrossentropy()): it "
            "compares the predicted probabilities with one-hot labels.")
    if name == "categorical_crossentropy" and not loss.get("from_logits"):
        return Outcome(True, f"The loss is categorical cross-entropy ({written}), right for one-hot "
                             "labels and a softmax output.")
    if name == "categorical_crossentropy":
        last = (structure.get("blocks") or [{}])[-1].get("activation")
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


@check("compile.optimizer", needs=compiled_structure)
def optimizer(facts, exercise, structure) -> Outcome:
    found = structure.get("optimizer") or {}
    if found.get("name") == "adam":
        return Outcome(True, f"The optimizer is Adam ({found.get('as_written')}).")
    return Outcome(False, f"The optimizer is {found.get('as_written') or 'not set'}; the lesson uses Adam.",
                   hint="Use `optimizer='adam'` (or keras.optimizers.Adam()).",
                   diagnosis=f"optimizer {found.get('name') or 'not set'}")


@check("compile.metrics", needs=compiled_structure)
def metrics(facts, exercise, structure) -> Outcome:
    names = structure.get("metrics") or []
    objects = structure.get("metric_objects") or []
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
