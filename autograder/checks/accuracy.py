"""accuracy.threshold: measured by the grader, on its own copy of the test data."""
from __future__ import annotations

from . import Outcome, check
from .explain import join, model_subject
from .model import graded_structure
from .training import TRANSFORMED_NOTE, main_fit, split_of


@check("accuracy.threshold", needs=graded_structure)
def accuracy(facts, exercise, structure) -> Outcome:
    threshold = exercise.threshold
    measured = facts.test_accuracy
    subject = model_subject(facts, facts.graded_model)
    if measured is None:
        error = (facts.graded or {}).get("load_error") or "its file could not be read"
        return Outcome(False, f"The grader could not measure {subject.lower() if subject.startswith('Your') else subject}"
                              f" on the test images: {error}.",
                       "Fix the model's input shape and layers first; the accuracy is measured once the "
                       "model can take the flattened test images.")
    required = "the required accuracy" if exercise.threshold_hidden else f"{threshold:.2f}"
    if measured >= threshold:
        return Outcome(True, f"The grader measured a test accuracy of {measured:.2f} on its own copy of "
                             f"the test images, which reaches {required}.")
    fit = main_fit(facts)
    advice = ""
    if fit is None or not fit.get("finished"):
        advice = "The model was not fully trained, so it is close to guessing (about 0.33 for three classes)."
    elif split_of(fit)[1]:
        advice = TRANSFORMED_NOTE
    return Outcome(False, join(f"The grader measured a test accuracy of {measured:.2f} on its own copy of "
                               f"the test images; it must reach {required}.", advice),
                   "Fix the other failing checks first (layers, activations, loss, training settings); "
                   "the lesson's network reaches about 0.89.", diagnosis="test accuracy below the threshold")
