"""data.load and data.reshape."""
from __future__ import annotations

from ..data import KEYS
from ..exercises import Exercise
from ..facts import ArrayInfo, DataLoad, Facts, is_flat, origin
from ..phrasing import array_phrase, call_location, join, shape_text, why_missing
from ..protocol import FLAT_SIZE
from .registry import Outcome, check

LOAD_HINT = ("Load the file and take each array by name: `fashion = np.load('fashion.npz')`, then "
             "`train_data = fashion['train_data']`, and the same for train_labels, test_data and "
             "test_labels.")
RESHAPE_HINT = (f"Flatten each set of images into rows of {FLAT_SIZE} numbers: "
                f"`train_data_1d = train_data.reshape((train_data.shape[0], -1))` gives (600, {FLAT_SIZE}); do "
                "the same for test_data, then pass the flat arrays to fit and evaluate.")


def assigned(facts: Facts, load: DataLoad) -> bool:
    """Whether the line that read an array finished: a cell that raised on that very line
    (a later key on it missing) never assigned what the line read."""
    cell = facts.cell(load["cell"])
    error = cell.get("error") if cell else None
    return not (error and load["line"] is not None and error.get("line") == load["line"])


@check("data.load")
def data_load(facts: Facts, exercise: Exercise) -> Outcome:
    expected = facts.data["shapes"]
    loaded: dict[str, list[int] | None] = {}
    for load in facts.loads:
        key = load["key"]
        if key in KEYS and key is not None and assigned(facts, load):
            loaded.setdefault(key, load["shape"])
    missing = [key for key in KEYS if key not in loaded]
    wrong = [key for key, shape in loaded.items() if expected.get(key) and shape != expected[key]]
    if not missing and not wrong:
        listing = ", ".join(f"{key} {shape_text(loaded[key])}" for key in KEYS)
        elsewhere = next((load["requested"] for load in facts.loads if load["requested"]), None)
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


def _namespace_flat(facts: Facts, split: str) -> ArrayInfo | None:
    """A flattened array of one split's images among the student's variables."""
    for info in facts.namespace["arrays"] if facts.namespace else []:
        if is_flat(info) and origin(info)[0] == split:
            return info
    return None


@check("data.reshape")
def data_reshape(facts: Facts, exercise: Exercise) -> Outcome:
    fit, evaluation = facts.main_fit, facts.main_evaluation
    problems, images = [], False
    for call in (fit, evaluation):
        x = call["x"] if call is not None else None
        if call is None or not x or "shape" not in x:
            continue
        if not is_flat(x):
            images = images or len(x["shape"]) >= 3
            problems.append(f"You passed {array_phrase(x)} to {call['kind']} ({call_location(facts, call)}).")
    if problems:
        why = (f"Those are whole 28x28 images, but a Dense layer needs each image as one flat row of {FLAT_SIZE} "
               "numbers." if images else f"Each row should hold one whole image: {FLAT_SIZE} numbers.")
        return Outcome(False, join(*problems, why), RESHAPE_HINT,
                       diagnosis="images not flattened" if images else "images flattened into the wrong shape")
    train_flat = (fit["x"] if fit and is_flat(fit["x"]) else None) or _namespace_flat(facts, "train")
    test_flat = (evaluation["x"] if evaluation and is_flat(evaluation["x"]) else None) or _namespace_flat(facts, "test")
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
    return Outcome(False, join(f"No flattened copy of the images, shape (n, {FLAT_SIZE}), was found.",
                               why_missing(facts, ("reshape", "flatten"))), RESHAPE_HINT)
