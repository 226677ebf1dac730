"""fit.called, fit.settings, fit.validation and evaluate.called."""
from __future__ import annotations

from collections.abc import Mapping

from ...exercise.registry import Exercise
from .. import corroboration
from ..facts import Facts, RecordedCall, origin, split_of, validation_fraction
from ..phrasing import (
    TRANSFORMED_NOTE,
    array_phrase,
    call_location,
    explain_error,
    join,
    model_name,
    model_subject,
    stopped_sentence,
    why_missing,
)
from .data import takes
from .registry import Outcome, check


def fit_hint(exercise: Exercise) -> str:
    """The training call the exercise asks for, with its declared settings."""
    images, data = (("training images as loaded", "train_data") if exercise.convolutional
                    else ("flattened training images", "train_data_1d"))
    split = f", validation_split={exercise.validation_split:g}" if exercise.validation_split else ""
    return (f"Train the model on the {images} and their labels: `model.fit({data}, train_labels, "
            f"epochs={exercise.epochs}, batch_size={exercise.batch_size}{split})`.")


def evaluate_hint(exercise: Exercise) -> str:
    data = "test_data" if exercise.convolutional else "test_data_1d"
    return ("After training, measure the model on data it has not seen: "
            f"`model.evaluate({data}, test_labels, batch_size={exercise.batch_size})`.")


def _failure(facts: Facts, call: RecordedCall, verb: str, exercise: Exercise | None = None) -> str:
    """Why a call did not finish: its error, or the timeout or dead kernel that cut it short."""
    where = call_location(facts, call)
    error = call["error"]
    if call["finished"] is False and error:
        given = (f"You passed {array_phrase(call['x'])} to `{verb}` ({where}), which raised "
                 if exercise is not None and call["x"] and "shape" in call["x"] and not takes(call["x"], exercise)
                 else f"`{verb}` ({where}) raised ")
        return f"{given}{error['ename']}: {explain_error(error['ename'], error['evalue'])}."
    stopped = stopped_sentence(facts)
    progress = ""
    if verb == "fit":
        requested = call["settings"].get("epochs")
        progress = f" It had completed {call['epochs_run']}" + (
            f" of {requested} epochs." if isinstance(requested, int) else " epochs.")
    return join(f"`{verb}` ({where}) never finished.", stopped, progress)


def _training_split(fit: RecordedCall, facts: Facts) -> tuple[bool, str]:
    """Is the fit's data the training set (all of it, or a manual train/validation split)?"""
    x, y = fit["x"], fit["y"]
    kind, train_rows, test_rows = origin(x)
    n_train = (facts.data["shapes"].get("train_data") or [600])[0]
    labels: Mapping[str, object] = (y.get("labels") if y else None) or {}
    if kind == "test":
        return False, (f"You trained on {array_phrase(x)}, which holds the {test_rows} test images. The "
                       "model must learn from the training data and be judged on test images it has "
                       "never seen.")
    if kind == "mixed":
        return False, (f"The data you trained on, {array_phrase(x)}, mixes {train_rows} training and "
                       f"{test_rows} test images (or other rows); train on the training images only.")
    if kind == "unknown" and labels.get("split") != "train":
        return False, (f"The data you trained on, {array_phrase(x)}, does not hold the images of "
                       "train_data (its values differ from fashion.npz's).")
    if kind == "none":
        return False, "The training call was given no images."
    if labels.get("form") == "class-ids" and labels.get("matches"):
        pass  # integer labels of the right images are still the right labels
    elif labels.get("matches") is False or (labels.get("split") and labels.get("split") != "train"):
        return False, (f"The labels you trained with, {array_phrase(y)}, are not the labels of those "
                       "images: pass train_labels (in the same order as the images).")
    elif not labels:
        return False, (f"The labels you trained with, {array_phrase(y)}, are not train_labels.")
    held_out = validation_fraction(fit)
    if kind == "train" and train_rows < n_train and not held_out:
        return False, (f"You trained on {train_rows} of the {n_train} training images; use all of "
                       "them (validation_split sets some aside for you).")
    return True, ""


@check("fit.called")
def fit_called(facts: Facts, exercise: Exercise) -> Outcome:
    hint = fit_hint(exercise)
    fit = facts.main_fit
    name = model_name(facts, facts.graded_model)
    if fit is None:
        others = [c for c in facts.calls if c["kind"] == "fit"]
        if others:
            if model_name(facts, others[-1]["model"]) == name:
                return Outcome(False, f"The model that is graded ({name}) was never trained: `fit` ran on "
                                      "another model of the same name, built before it.", hint)
            return Outcome(False, f"You trained another model, but not {name}, the one that is graded.",
                           hint)
        return Outcome(False, join(f"{model_subject(facts, facts.graded_model)} was never trained "
                                   "(no call to `fit` ran).", why_missing(facts, ("fit(",))), hint,
                       diagnosis="never trained")
    if not fit["finished"]:
        return Outcome(False, _failure(facts, fit, "fit", exercise), hint,
                       diagnosis="training raised an error" if fit["error"] else "training cut short")
    ok, problem = _training_split(fit, facts)
    if not ok:
        return Outcome(False, problem, hint, diagnosis="trained on the wrong data"
                       if "test images" not in problem else "trained on the test data")
    mismatch = corroboration.contradiction(facts)
    if mismatch:
        return Outcome(False, mismatch, hint, diagnosis="training record not confirmed")
    epochs = fit["epochs_run"]
    return Outcome(True, join(f"{model_subject(facts, facts.graded_model)} was trained on "
                              f"{array_phrase(fit['x'])} and {array_phrase(fit['y'])} "
                              f"({call_location(facts, fit)}), for {epochs} epoch{'s' if epochs != 1 else ''}.",
                              TRANSFORMED_NOTE if split_of(fit)[1] else ""))


def _recorded_training(facts: Facts, what: str, hint: str) -> RecordedCall | Outcome:
    """The training call to read settings from, or the failure when there is none or its record is false."""
    fit = facts.main_fit
    if fit is None:
        return Outcome(False, join(f"There was no training call, so no {what} to check.",
                                   why_missing(facts, ("fit(",))), hint)
    mismatch = corroboration.contradiction(facts)
    return Outcome(False, mismatch, hint) if mismatch else fit


@check("fit.settings")
def fit_settings(facts: Facts, exercise: Exercise) -> Outcome:
    hint = f"Pass `epochs={exercise.epochs}, batch_size={exercise.batch_size}` to `fit`."
    fit = _recorded_training(facts, "epochs or batch size", hint)
    if isinstance(fit, Outcome):
        return fit
    settings = fit["settings"]
    epochs, batch = settings.get("epochs"), settings.get("batch_size")
    problems = []
    if epochs != exercise.epochs:
        problems.append(f"epochs={epochs}" + (" (Keras' default, as epochs was not given)" if epochs == 1 else ""))
    if batch != exercise.batch_size:
        problems.append("batch_size was not given, so Keras used its default of 32" if batch is None
                        else f"batch_size={batch}")
    if problems:
        return Outcome(False, f"Training ({call_location(facts, fit)}) used {' and '.join(problems)}; the "
                              f"exercise asks for epochs={exercise.epochs} and batch_size={exercise.batch_size}.",
                       hint, diagnosis="other epochs or batch size")
    if not fit["finished"]:  # the settings were right, but no training happened with them
        return Outcome(True, f"`fit` ({call_location(facts, fit)}) was given epochs={epochs} and "
                             f"batch_size={batch}, as the exercise asks (it did not finish training).")
    return Outcome(True, f"Training used epochs={epochs} and batch_size={batch}.")


@check("fit.validation")
def fit_validation(facts: Facts, exercise: Exercise) -> Outcome:
    wanted = exercise.validation_split
    hint = (f"Pass `validation_split={wanted}` to `fit`: Keras then holds out the last {wanted:.0%} of the "
            "training data." if wanted else "Train on all the training data: give `fit` no validation_split "
                                            "and no validation_data.")
    fit = _recorded_training(facts, "validation data", hint)
    if isinstance(fit, Outcome):
        return fit
    split = fit["settings"].get("validation_split") or 0.0
    validation = fit["validation_data"]
    if isinstance(split, (int, float)) and abs(split - wanted) < 1e-9 and not fit["finished"]:
        return Outcome(True, f"`fit` was given validation_split={split}, as the exercise asks (it did not "
                             "finish training).")
    if not wanted:
        if not split and not validation:
            return Outcome(True, "Training used all the training data, as the exercise asks: nothing was held out.")
        return Outcome(False, f"Training ({call_location(facts, fit)}) held out validation data; this exercise "
                              "trains on all the training data.", hint, diagnosis="validation data held out")
    if isinstance(split, (int, float)) and abs(split - wanted) < 1e-9:
        return Outcome(True, f"validation_split={split}: {wanted:.0%} of the training data was held out "
                             "to watch for over-fitting.")
    if validation:
        kind, _, _ = origin(validation["x"])
        fraction = validation_fraction(fit)
        if fraction is not None and abs(fraction - wanted) <= 0.01:
            return Outcome(True, f"You held out {fraction:.0%} of the training images yourself as "
                                 "validation_data, which is what validation_split does.")
        if kind == "test":
            return Outcome(False, "You validated on the test images (validation_data): then the test set "
                                  "is no longer unseen, and the final evaluation is not a fair measure.", hint)
        if fraction is not None:
            return Outcome(False, f"Your validation_data holds {fraction:.0%} of the training images; the "
                                  f"exercise asks for {wanted:.0%}.", hint)
        return Outcome(False, "Your validation_data is not a part of the training images.", hint)
    if not split:
        return Outcome(False, f"Training ({call_location(facts, fit)}) held out no validation data, so "
                              "you cannot see whether the model over-fits.", hint, diagnosis="no validation split")
    return Outcome(False, f"validation_split={split} holds out {split:.0%} of the training data; the exercise "
                          f"asks for {wanted:.0%}.", hint)


@check("evaluate.called")
def evaluate_called(facts: Facts, exercise: Exercise) -> Outcome:
    hint = evaluate_hint(exercise)
    name = model_name(facts, facts.graded_model)
    call = facts.main_evaluation
    if call is None:
        others = [c for c in facts.calls if c["kind"] == "evaluate" and c["model"] != facts.graded_model]
        if others:
            other = model_name(facts, others[-1]["model"])
            if other == name:
                return Outcome(False, f"The model that is graded ({name}) was never evaluated: `evaluate` ran on "
                                      "another model of the same name.", hint)
            return Outcome(False, f"You evaluated a different model ({other}), not {name}, the one you trained.",
                           hint)
        return Outcome(False, join("The model was never evaluated (no call to `evaluate` ran).",
                                   why_missing(facts, ("evaluate(",))), hint, diagnosis="never evaluated")
    verb = call["kind"]
    if not call["finished"]:
        return Outcome(False, _failure(facts, call, verb, exercise), hint,
                       diagnosis="evaluation raised an error" if call["error"] else "evaluation cut short")
    kind, transformed = split_of(call)
    if kind == "train":
        return Outcome(False, f"You evaluated on {array_phrase(call['x'])}, the training images "
                              f"({call_location(facts, call)}). A model scores well on data it has "
                              "memorised; only the test images tell how it does on new clothes.", hint,
                       diagnosis="evaluated on the training data")
    if kind != "test":
        return Outcome(False, f"You evaluated on {array_phrase(call['x'])} "
                              f"({call_location(facts, call)}), which is not the test images.", hint)
    labels: Mapping[str, object] = (call["y"].get("labels") if call["y"] else None) or {}
    if verb == "evaluate" and (labels.get("matches") is False or labels.get("split") not in (None, "test")):
        return Outcome(False, f"The labels you evaluated with, {array_phrase(call['y'])}, are not "
                              "test_labels.", hint)
    fit = facts.main_fit
    if fit is not None and call["seq"] < fit["seq"]:
        return Outcome(False, f"You evaluated {name} before training it ({call_location(facts, call)}); "
                              "evaluate after `fit`.", hint)
    action = "evaluated" if verb == "evaluate" else "computed predictions for"
    return Outcome(True, join(f"You {action} {name} on {array_phrase(call['x'])} "
                              f"({call_location(facts, call)}).", TRANSFORMED_NOTE if transformed else ""))
