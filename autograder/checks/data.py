"""data.load and data.reshape."""
from __future__ import annotations

from ..data import KEYS
from . import Outcome, check
from .explain import array_phrase, call_location, is_flat, join, origin, shape_text, why_missing
from .training import main_evaluation, main_fit

LOAD_HINT = ("Load the file and take each array by name: `fashion = np.load('fashion.npz')`, then "
             "`train_data = fashion['train_data']`, and the same for train_labels, test_data and "
             "test_labels.")
RESHAPE_HINT = ("Flatten each set of images into rows of 784 numbers: "
                "`train_data_1d = train_data.reshape((train_data.shape[0], -1))` gives (600, 784); do "
                "the same for test_data, then pass the flat arrays to fit and evaluate.")


@check("data.load")
def data_load(facts, exercise) -> Outcome:
    expected = facts.data.get("shapes", {})
    loaded: dict[str, list] = {}
    for load in facts.loads:
        if load.get("key") in KEYS:
            loaded.setdefault(load["key"], load.get("shape"))
    missing = [key for key in KEYS if key not in loaded]
    wrong = [key for key, shape in loaded.items() if expected.get(key) and shape != expected[key]]
    if not missing and not wrong:
        listing = ", ".join(f"{key} {shape_text(loaded[key])}" for key in KEYS)
        elsewhere = next((load["requested"] for load in facts.loads if load.get("requested")), None)
        note = (f" Note: your notebook opens {elsewhere!r}, which does not exist where the grader runs; it "
                "gave it the lesson's copy. Load it by its plain name, np.load('fashion.npz'), so that the "
                "notebook runs anywhere." if elsewhere else "")
        return Outcome(True, f"Loaded {listing} from fashion.npz.{note}")
    if not loaded:
        return Outcome(False, join("No array was read from fashion.npz.",
                                   why_missing(facts, ("np.load", "fashion", "load("))), LOAD_HINT)
    parts = []
    if missing:
        parts.append(f"You loaded {', '.join(k for k in KEYS if k in loaded)} but not {', '.join(missing)}.")
    for key in wrong:
        parts.append(f"{key} came out with shape {shape_text(loaded[key])}, expected "
                     f"{shape_text(expected[key])}.")
    return Outcome(False, join(*parts, why_missing(facts, ("fashion[",))), LOAD_HINT)


def _namespace_flat(facts, split: str) -> dict | None:
    for info in (facts.namespace or {}).get("arrays", []):
        if is_flat(info) and origin(info)[0] == split:
            return info
    return None


@check("data.reshape")
def data_reshape(facts, exercise) -> Outcome:
    fit, evaluation = main_fit(facts), main_evaluation(facts)
    problems, images = [], False
    for call in (fit, evaluation):
        if call is None or not call.get("x") or "shape" not in call["x"]:
            continue
        x = call["x"]
        if not is_flat(x):
            images = images or len(x["shape"]) >= 3
            problems.append(f"You passed {array_phrase(x)} to {call['kind']} ({call_location(facts, call)}).")
    if problems:
        why = ("Those are whole 28x28 images, but a Dense layer needs each image as one flat row of 784 "
               "numbers." if images else "Each row should hold one whole image: 784 numbers.")
        return Outcome(False, join(*problems, why), RESHAPE_HINT,
                       diagnosis="images not flattened" if images else "images flattened into the wrong shape")
    train_flat = (fit and is_flat(fit.get("x")) and fit["x"]) or _namespace_flat(facts, "train")
    test_flat = (evaluation and is_flat(evaluation.get("x")) and evaluation["x"]) or _namespace_flat(facts, "test")
    if train_flat and test_flat:
        return Outcome(True, f"Flattened the images: {array_phrase(train_flat)} for training and "
                             f"{array_phrase(test_flat)} for testing.")
    if train_flat:
        return Outcome(False, join(f"The training images were flattened ({array_phrase(train_flat)}), but "
                                   "no flattened copy of the test images was found.",
                                   why_missing(facts, ("reshape", "test_data"))), RESHAPE_HINT)
    if test_flat:
        return Outcome(False, join(f"The test images were flattened ({array_phrase(test_flat)}), but no "
                                   "flattened copy of the training images was found.",
                                   why_missing(facts, ("reshape", "train_data"))), RESHAPE_HINT)
    return Outcome(False, join("No flattened copy of the images, shape (n, 784), was found.",
                               why_missing(facts, ("reshape", "flatten"))), RESHAPE_HINT)
