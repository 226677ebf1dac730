"""model.input_shape, model.architecture, model.hidden_activation, model.output_layer.

All four read the structure of the graded model's saved file, never what the
notebook printed or claimed.
"""
from __future__ import annotations

from ..exercises import Exercise
from ..facts import Facts
from ..modelfile import BlockRecord, StructureRecord
from ..phrasing import join, model_subject, related_error, shape_text
from ..protocol import FLAT_SIZE
from .needs import MODEL_WORDS, readable_model
from .registry import Outcome, check

ACTIVATION_WHY = {
    "linear": "no activation (a Dense layer's default is linear)",
    "sigmoid": "sigmoid",
}


def describe_units(units: list[int | None]) -> str:
    """'Dense layers of 10 and 3 units'."""
    units_text = [str(u) for u in units]
    if not units_text:
        return "no Dense layers"
    return ("Dense layers of " + ", ".join(units_text[:-1]) + (" and " if len(units_text) > 1 else "")
            + units_text[-1] + " units")


@check("model.input_shape", needs=readable_model)
def input_shape(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    shape = structure["input_shape"]
    name = model_subject(facts, facts.graded_model)
    hint = (f"Give the first layer `input_shape=({FLAT_SIZE},)` (or start with "
            f"`keras.Input(shape=({FLAT_SIZE},))`): one flat row of {FLAT_SIZE} pixels per image.")
    if shape == [None, FLAT_SIZE]:
        return Outcome(True, f"{name} takes inputs of shape (None, {FLAT_SIZE}): one flat row of {FLAT_SIZE} "
                             "pixels per image.")
    if shape is None and not structure["layers"]:
        return Outcome(False, join(f"{name} has no layers, so it has no input shape.",
                                   related_error(facts, MODEL_WORDS)), hint)
    if shape is None:
        return Outcome(False, join(f"{name} never got an input shape: its first layer has no input_shape "
                                   "and it was never trained, so Keras never built it.",
                                   related_error(facts, MODEL_WORDS)), hint)
    train_shape = facts.data["shapes"].get("train_data") or [600, 28, 28, 1]
    if shape == [None, 1] and train_shape[-1] == 1:
        return Outcome(False, f"{name} takes inputs of shape (None, 1): one number per image. "
                              "`input_shape=(train_data.shape[-1],)` reads the last axis of the 4-D "
                              f"train_data {shape_text(train_shape)}, which is the single colour channel, "
                              f"not the {FLAT_SIZE} pixels.",
                       f"Use `input_shape=({FLAT_SIZE},)`, or take the size from the flattened array: "
                       "`input_shape=(train_data_1d.shape[1],)`.",
                       diagnosis="input shape (1,): the channel axis of the 4-D images")
    if len(shape) > 2:
        flatten = " and flattens them itself with a Flatten layer" if structure["reshaping"] else ""
        return Outcome(False, f"{name} takes whole images of shape {shape_text(shape)}{flatten}; this "
                              "exercise flattens the data before the model, which then takes inputs of "
                              f"shape (None, {FLAT_SIZE}).", hint, diagnosis="model takes unflattened images")
    return Outcome(False, f"{name} takes inputs of shape {shape_text(shape)}, but each flattened image "
                          f"has {FLAT_SIZE} values.", hint)


@check("model.architecture", needs=readable_model)
def architecture(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    units = [b["units"] for b in structure["blocks"]]
    expected: list[int | None] = list(exercise.units)
    wanted = describe_units(expected)
    hint = ("Use " + ", then ".join(f"Dense({u})" for u in expected) + f": {len(expected) - 1} hidden "
            f"layer{'s' if len(expected) > 2 else ''} of 10 units and an output layer with one unit per class.")
    others = structure["other_layers"]
    name = model_subject(facts, facts.graded_model)
    if units == expected and not others:
        return Outcome(True, f"{name} has {wanted}.")
    found = describe_units(units)
    problems = []
    if units != expected:
        problems.append(f"{name} has {found}; the exercise asks for {wanted}.")
        problems.append(related_error(facts, MODEL_WORDS))
        if len(units) == len(expected) + 1 and units[-len(expected):] == expected and exercise.id == "keras-dense":
            problems.append("It looks like the deeper model; this exercise is the two-layer network.")
        elif len(units) + 1 == len(expected):
            problems.append(f"It is missing a hidden layer of {expected[0]} units.")
        if units and units[-1] == 10:
            problems.append("The last layer has 10 units, as for the full Fashion-MNIST with ten classes, "
                            "but this data set has only 3 classes (t-shirt, dress, shoe).")
    if others:
        problems.append(f"It also has layers this exercise does not use: {', '.join(others)}.")
    diagnosis = ("10-unit output layer" if units and units[-1] == 10 else
                 "a hidden layer missing or extra" if len(units) != len(expected) else "wrong numbers of units")
    return Outcome(False, join(*problems), hint,
                   diagnosis=diagnosis if units != expected else "layers the exercise does not use")


@check("model.hidden_activation", needs=readable_model)
def hidden_activation(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    hidden = structure["blocks"][:-1]
    hint = "Give every hidden Dense layer `activation='relu'`."
    if not hidden:
        return Outcome(False, join("The model has no hidden layer, so there is no hidden activation to check.",
                                   related_error(facts, MODEL_WORDS)), hint)
    wrong: list[BlockRecord] = [b for b in hidden if b["activation"] != "relu"]
    if not wrong:
        return Outcome(True, f"Every hidden layer applies relu ({', '.join(b['name'] for b in hidden)}).")
    parts = []
    for block in wrong:
        what = ACTIVATION_WHY.get(block["activation"], block["activation"])
        parts.append(f"hidden layer `{block['name']}` ({block['units']} units) applies {what}")
    message = "In your model, " + "; ".join(parts) + "; the lesson uses relu."
    diagnosis = f"hidden layer with {wrong[0]['activation']} instead of relu"
    if any(b["activation"] == "linear" for b in wrong):
        message += " Without a non-linear activation, stacked Dense layers can only learn what one layer can."
    return Outcome(False, message, hint, diagnosis=diagnosis)


@check("model.output_layer", needs=readable_model)
def output_layer(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    blocks = structure["blocks"]
    hint = f"End with `Dense({exercise.output_units}, activation='softmax')`: one output per class, as probabilities."
    if not blocks:
        return Outcome(False, join("The model has no Dense layer, so no output layer.",
                                   related_error(facts, MODEL_WORDS)), hint)
    last = blocks[-1]
    units, activation = last["units"], last["activation"]
    if units == exercise.output_units and activation == "softmax":
        return Outcome(True, f"The output layer `{last['name']}` has 3 units with softmax: one probability "
                             "per class (t-shirt, dress, shoe).")
    problems = []
    if units != exercise.output_units:
        problems.append(f"The output layer `{last['name']}` has {units} units, but there are "
                        f"{exercise.output_units} classes (t-shirt, dress, shoe): one unit per class.")
    if activation != "softmax":
        if activation == "sigmoid":
            problems.append("It applies sigmoid, which scores each class on its own; softmax makes the "
                            "three scores probabilities that sum to 1, which categorical cross-entropy expects.")
        elif activation == "linear":
            problems.append("It has no activation (linear), so its outputs are raw scores, not "
                            "probabilities.")
        else:
            problems.append(f"It applies {activation}; the output layer needs softmax to give class "
                            "probabilities.")
        loss = structure["loss"]
        if activation == "linear" and loss and loss.get("from_logits"):
            problems.append("(With from_logits=True the loss applies softmax for you, but the exercise "
                            "asks for softmax in the model.)")
    diagnosis = (f"output layer with {units} units" if units != exercise.output_units
                 else f"output layer with {activation} instead of softmax")
    return Outcome(False, join(*problems), hint, diagnosis=diagnosis)
