"""accuracy.threshold: measured by the grader, on its own copy of the test data."""
from __future__ import annotations

from .. import gapstat
from ..exercises import Exercise
from ..facts import Facts, split_of
from ..modelfile import StructureRecord
from ..phrasing import TRANSFORMED_NOTE, join, model_subject
from .needs import readable_model
from .registry import Outcome, check


@check("accuracy.threshold", needs=readable_model)
def accuracy(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    threshold = exercise.threshold
    measured = facts.test_accuracy
    subject = model_subject(facts, facts.graded_model)
    if measured is None:
        error = (facts.graded["load_error"] if facts.graded else None) or "its file could not be read"
        measured_thing = subject.lower() if subject.startswith("Your") else subject
        return Outcome(False, f"The grader could not measure {measured_thing} on the test images: {error}.",
                       "Fix the model's input shape and layers first; the accuracy is measured once the "
                       "model can take the test images in its input shape.")
    required = "the required accuracy" if exercise.hide_threshold else f"{threshold:.2f}"
    if facts.holdout_accuracy is not None:
        return _on_holdout(facts, exercise, measured, facts.holdout_accuracy, required)
    if measured >= threshold:
        return Outcome(True, f"The grader measured a test accuracy of {measured:.2f} on its own copy of "
                             f"the test images, which reaches {required}.")
    return Outcome(False, join(f"The grader measured a test accuracy of {measured:.2f} on its own copy of "
                               f"the test images; it must reach {required}.", _training_advice(facts, exercise)),
                   LOW_HINT, diagnosis="test accuracy below the threshold")


LOW_HINT = ("Fix the other failing checks first (layers, activations, loss, training settings); the lesson's "
            "network reaches about 0.89.")


def _training_advice(facts: Facts, exercise: Exercise) -> str:
    fit = facts.main_fit
    if fit is None or not fit["finished"]:
        classes = len(exercise.classes)
        return (f"The model was not fully trained, so it is close to guessing (about {1 / classes:.2f} for "
                f"{classes} classes).")
    if split_of(fit)[1]:
        return TRANSFORMED_NOTE
    return ""


def _on_holdout(facts: Facts, exercise: Exercise, measured: float, hidden: float, required: str) -> Outcome:
    """With a hidden holdout the verdict is its accuracy (`hidden`); students see its number only if allowed."""
    size = facts.holdout_size
    seen = f"The grader measured a test accuracy of {measured:.2f} on its own copy of the test images"
    if hidden >= exercise.threshold:
        if exercise.show_holdout:
            return Outcome(True, f"{seen}, and {hidden:.2f} on {size} images your notebook never saw, which "
                                 f"reaches {required}.")
        return Outcome(True, f"{seen}; on images your notebook never saw it also reaches {required}.")
    if exercise.show_holdout:
        found = f"{seen}, but {hidden:.2f} on {size} images your notebook never saw; it must reach {required} there."
    else:
        found = f"{seen}, but on images your notebook never saw it does not reach {required}."
    if gapstat.suspicious(measured, len(facts.data["test_classes"]), hidden, size or 0):
        return Outcome(False, join(found, "A model that does much better on the test images than on new ones "
                                          "has usually learned the test images themselves."),
                       "Train only on the training data (train_data and train_labels); the test images are "
                       "for measuring the finished model, never for training it.",
                       diagnosis="far less accurate on unseen images than on the test images")
    return Outcome(False, join(found, _training_advice(facts, exercise)), LOW_HINT,
                   diagnosis="accuracy on unseen images below the threshold")
