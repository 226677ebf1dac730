"""data.load and data.reshape."""
from __future__ import annotations

from ...data import KEYS
from ...exercise.registry import Exercise
from ..facts import ArrayInfo, DataLoad, Facts, origin
from ..phrasing import array_name, array_phrase, call_location, join, shape_text, why_missing
from .registry import Outcome, check

LOAD_HINT = ("Load the file and take each array by name: `fashion = np.load('fashion.npz')`, then "
             "`train_data = fashion['train_data']`, and the same for train_labels, test_data and "
             "test_labels.")


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


def takes(info: ArrayInfo | None, exercise: Exercise) -> bool:
    """Whether an array holds images in the shape the exercise's model takes: (n, *input_shape)."""
    shape = info.get("shape", []) if info else []
    return len(shape) >= 2 and list(shape[1:]) == list(exercise.input_shape)


def _namespace_ready(facts: Facts, split: str, exercise: Exercise) -> ArrayInfo | None:
    """An array of one split's images in the model's input shape among the student's variables."""
    for info in facts.namespace["arrays"] if facts.namespace else []:
        if takes(info, exercise) and origin(info)[0] == split:
            return info
    return None


def reshape_hint(exercise: Exercise) -> str:
    if exercise.convolutional:
        shape = ", ".join(map(str, exercise.input_shape))
        return (f"A Conv2D layer takes whole images with a channel axis, (n, {shape}), which is how fashion.npz "
                "holds them: pass train_data and test_data to fit and evaluate as loaded, without reshape "
                "or flatten.")
    size = exercise.flat_size
    return (f"Flatten each set of images into rows of {size} numbers: "
            f"`train_data_1d = train_data.reshape((train_data.shape[0], -1))` gives (600, {size}); do "
            "the same for test_data, then pass the flat arrays to fit and evaluate.")


def _wrong_shape(shapes: list[list[int]], exercise: Exercise) -> tuple[str, str]:
    """Why arrays of these shapes do not fit the model, and the diagnosis."""
    per_image = [list(shape[1:]) for shape in shapes]
    if not exercise.convolutional:
        if any(len(dims) >= 2 for dims in per_image):
            return (f"Those are whole 28x28 images, but a Dense layer needs each image as one flat row of "
                    f"{exercise.flat_size} numbers.", "images not flattened")
        return f"Each row should hold one whole image: {exercise.flat_size} numbers.", \
            "images flattened into the wrong shape"
    wanted = list(exercise.input_shape)
    if any(len(dims) == 1 for dims in per_image):
        return ("Those images were flattened into rows, but a Conv2D layer needs each image whole, "
                f"{shape_text(tuple(wanted))}, to slide its kernel over neighbouring pixels.",
                "flattened images for a convolutional model")
    if any(dims == wanted[:-1] for dims in per_image):
        return (f"Those images have lost their channel axis: a Conv2D layer needs (height, width, channels), "
                f"{shape_text(tuple(wanted))}, even for grey images with one channel.", "channel axis dropped")
    return f"The model takes images of shape {shape_text(tuple(wanted))}.", "images in the wrong shape"


def _made_flat(facts: Facts, exercise: Exercise) -> Outcome | None:
    """The verdict when the student made flat copies of both splits but gave fit or evaluate the images
    as loaded: the step is done if one of them used a flat copy (the other call's own check fails for
    what it was given); else the copies were never used, and the verdict says to pass them."""
    train, test = _namespace_ready(facts, "train", exercise), _namespace_ready(facts, "test", exercise)
    if train is None or test is None:
        return None
    calls = [call for call in (facts.main_fit, facts.main_evaluation) if call is not None]
    wrong = [call for call in calls if not takes(call["x"], exercise)]
    made = f"{array_phrase(train)} for training and {array_phrase(test)} for testing"
    given = " and ".join(f"{array_phrase(call['x'])} to {call['kind']} ({call_location(facts, call)})"
                         for call in wrong)
    if len(wrong) < len(calls):
        return Outcome(True, f"Flattened the images: {made}. (But you passed {given}: see that step's check.)")
    flat = {"fit": array_name(train), "evaluate": array_name(test), "predict": array_name(test)}
    why, _ = _wrong_shape([call["x"]["shape"] for call in wrong if call["x"] and "shape" in call["x"]], exercise)
    return Outcome(False, join(f"You flattened the images ({made}), but never used the flat arrays: you passed "
                               f"{given}.", why),
                   "Pass the flat arrays you made: " + " and ".join(f"{flat.get(call['kind'], 'them')} to "
                                                                     f"{call['kind']}" for call in wrong) + ".",
                   diagnosis="flat arrays made but not used")


@check("data.reshape")
def data_reshape(facts: Facts, exercise: Exercise) -> Outcome:
    fit, evaluation = facts.main_fit, facts.main_evaluation
    hint = reshape_hint(exercise)
    problems: list[str] = []
    shapes: list[list[int]] = []
    for call in (fit, evaluation):
        x = call["x"] if call is not None else None
        if call is None or not x or "shape" not in x:
            continue
        if not takes(x, exercise):
            shapes.append(x["shape"])
            problems.append(f"You passed {array_phrase(x)} to {call['kind']} ({call_location(facts, call)}).")
    if problems and not exercise.convolutional:
        made = _made_flat(facts, exercise)
        if made is not None:
            return made
    if problems:
        why, diagnosis = _wrong_shape(shapes, exercise)
        return Outcome(False, join(*problems, why), hint, diagnosis=diagnosis)
    train = (fit["x"] if fit and takes(fit["x"], exercise) else None) or _namespace_ready(facts, "train", exercise)
    test = (evaluation["x"] if evaluation and takes(evaluation["x"], exercise) else None) or \
        _namespace_ready(facts, "test", exercise)
    done = "Flattened the images" if not exercise.convolutional else "Gave the model whole images"
    wanted = f"shape (n, {', '.join(map(str, exercise.input_shape))})"
    words = ("reshape", "flatten") if not exercise.convolutional else ("fit(", "evaluate(")
    if train and test:
        return Outcome(True, f"{done}: {array_phrase(train)} for training and {array_phrase(test)} for testing.")
    if train:
        return Outcome(False, join(f"The training images are in the model's {wanted} ({array_phrase(train)}), "
                                   "but no such copy of the test images was found.",
                                   why_missing(facts, (words[0], "test_data"))), hint)
    if test:
        return Outcome(False, join(f"The test images are in the model's {wanted} ({array_phrase(test)}), but no "
                                   "such copy of the training images was found.",
                                   why_missing(facts, (words[0], "train_data"))), hint)
    return Outcome(False, join(f"No copy of the images in the model's {wanted} was found.",
                               why_missing(facts, words)), hint)
