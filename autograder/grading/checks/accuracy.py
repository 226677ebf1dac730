"""accuracy.threshold: measured by the grader, on its own copy of the test data."""
from __future__ import annotations

from ...exercise.registry import Exercise
from ...modelfile import StructureRecord
from .. import leakage
from ..facts import Facts, origin, split_of
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
                               f"the test images; it must reach {required}.", _training_advice(facts)),
                   LOW_HINT, diagnosis="test accuracy below the threshold")


LOW_HINT = ("Fix the other failing checks first (layers, activations, loss, training settings); the lesson's "
            "network reaches about 0.89.")


def _training_advice(facts: Facts) -> str:
    fit = facts.main_fit
    if fit is None or not fit["finished"]:
        return "Its training did not run to the end, so it has not learned what it could."
    if split_of(fit)[1]:
        return TRANSFORMED_NOTE
    return ""


LEAK_HINT = ("Train only on the training data (train_data and train_labels), with `fit` alone; the test "
             "images are for measuring the finished model, never for training it (not by `fit`, "
             "`train_on_batch`, a custom loop, nor mixed into the training arrays).")


def _on_holdout(facts: Facts, exercise: Exercise, measured: float, hidden: float, required: str) -> Outcome:
    """With a hidden holdout the verdict is its accuracy (`hidden`), unless the model learned the test
    images: its record shows them given to `fit`, or it is much surer of them than of unseen ones
    (grading/leakage.py). Then it fails even when it reaches the threshold. Students see the holdout's
    number only if allowed."""
    size = facts.holdout_size
    seen = f"The grader measured a test accuracy of {measured:.2f} on its own copy of the test images"
    reached = hidden >= exercise.threshold
    if exercise.show_holdout:
        found = f"{seen}, and {hidden:.2f} on {size} images your notebook never saw" + (
            f", which reaches {required}" if reached else f"; it must reach {required} there")
    else:
        found = (f"{seen}; on images your notebook never saw it "
                 f"{'also reaches' if reached else 'does not reach'} {required}")
    trained_on_test = max((origin(fit["x"])[2] for fit in facts.calls_of("fit", facts.graded_model)
                           if fit["epochs_run"] > 0), default=0)
    if trained_on_test:
        return Outcome(False, join(f"{found}.", f"But the model was trained on {trained_on_test} of the test "
                                   "images, so its test accuracy measures memory, not skill, and cannot count."),
                       LEAK_HINT, diagnosis="trained on the test data")
    comparison = facts.holdout_comparison
    if comparison is not None and (leakage.decisive(comparison) or (not reached and leakage.suspicious(comparison))):
        return Outcome(False, join(f"{found}.", "But it does much better on the test images than on images it "
                                   f"never saw: it is sure of {comparison['confident_visible']:.0%} of the test "
                                   "images, far more than chance allows on unseen ones. The likely cause: the "
                                   "model was trained on the test images, so its test accuracy measures "
                                   "memory, not skill."),
                       LEAK_HINT, diagnosis="far less accurate on unseen images than on the test images")
    if reached:
        return Outcome(True, f"{found}.")
    return Outcome(False, join(f"{found}.", _training_advice(facts)), LOW_HINT,
                   diagnosis="accuracy on unseen images below the threshold")
