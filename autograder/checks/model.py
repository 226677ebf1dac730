"""model.input_shape, model.architecture, model.hidden_activation, model.output_layer.

All four read the structure of the graded model's saved file, never what the
notebook printed or claimed.
"""
from __future__ import annotations

from . import Outcome, check
from .explain import join, model_subject, related_error, shape_text, why_missing

MODEL_WORDS = ("Sequential", "Dense", "Model(", "Input", "model")
ACTIVATION_WHY = {
    "linear": "no activation (a Dense layer's default is linear)",
    "sigmoid": "sigmoid",
}


def structure_or_reason(facts) -> tuple[dict | None, str]:
    """The graded model's structure, or a sentence saying why there is none."""
    model = facts.graded
    if model is None:
        if any(not m.get("saved") for m in facts.models.values()):
            return None, "A model was built, but it could not be saved for grading."
        return None, join("No Keras model was found in the notebook.", why_missing(facts, MODEL_WORDS))
    name = model_subject(facts, facts.graded_model)
    if model.get("problems"):
        return None, (f"{name} cannot be graded safely "
                      f"because {' and '.join(model['problems'])}; use Keras' built-in layers and "
                      "activations, named by string (for example activation='relu').")
    if not model.get("structure"):
        return None, f"{name} could not be read back."
    return model["structure"], ""


def no_model(reason: str) -> Outcome:
    return Outcome(False, reason, "Build the network with keras' Sequential model and Dense layers, "
                                  "as in the lesson.")


def graded_structure(facts) -> tuple[dict | None, Outcome | None]:
    """For `needs=`: the graded model's structure, or the failing outcome when there is none."""
    structure, reason = structure_or_reason(facts)
    return (structure, None) if structure is not None else (None, no_model(reason))


def describe_units(blocks: list[dict]) -> str:
    units = [str(b.get("units")) for b in blocks]
    if not units:
        return "no Dense layers"
    return "Dense layers of " + ", ".join(units[:-1]) + (" and " if len(units) > 1 else "") + units[-1] + " units"


@check("model.input_shape", needs=graded_structure)
def input_shape(facts, exercise, structure) -> Outcome:
    shape = structure.get("input_shape")
    name = model_subject(facts, facts.graded_model)
    hint = ("Give the first layer `input_shape=(784,)` (or start with `keras.Input(shape=(784,))`): "
            "one flat row of 784 pixels per image.")
    if shape == [None, 784]:
        return Outcome(True, f"{name} takes inputs of shape (None, 784): one flat row of 784 pixels per image.")
    if shape is None:
        return Outcome(False, join(f"{name} never got an input shape: its first layer has no input_shape "
                                   "and it was never trained, so Keras never built it.",
                                   related_error(facts, MODEL_WORDS)), hint)
    train_shape = facts.data.get("shapes", {}).get("train_data") or [600, 28, 28, 1]
    if shape == [None, 1] and train_shape[-1] == 1:
        return Outcome(False, f"{name} takes inputs of shape (None, 1): one number per image. "
                              "`input_shape=(train_data.shape[-1],)` reads the last axis of the 4-D "
                              f"train_data {shape_text(train_shape)}, which is the single colour channel, "
                              "not the 784 pixels.",
                       "Use `input_shape=(784,)`, or take the size from the flattened array: "
                       "`input_shape=(train_data_1d.shape[1],)`.",
                       diagnosis="input shape (1,): the channel axis of the 4-D images")
    if len(shape) > 2:
        flatten = " and flattens them itself with a Flatten layer" if structure.get("reshaping") else ""
        return Outcome(False, f"{name} takes whole images of shape {shape_text(shape)}{flatten}; this "
                              "exercise flattens the data before the model, which then takes inputs of "
                              "shape (None, 784).", hint, diagnosis="model takes unflattened images")
    return Outcome(False, f"{name} takes inputs of shape {shape_text(shape)}, but each flattened image "
                          "has 784 values.", hint)


@check("model.architecture", needs=graded_structure)
def architecture(facts, exercise, structure) -> Outcome:
    blocks = structure.get("blocks", [])
    units = [b.get("units") for b in blocks]
    expected = exercise.units
    wanted = describe_units([{"units": u} for u in expected])
    hint = ("Use " + ", then ".join(f"Dense({u})" for u in expected) + f": {len(expected) - 1} hidden "
            f"layer{'s' if len(expected) > 2 else ''} of 10 units and an output layer with one unit per class.")
    others = structure.get("other_layers", [])
    name = model_subject(facts, facts.graded_model)
    if units == expected and not others:
        return Outcome(True, f"{name} has {wanted}.")
    found = describe_units(blocks)
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
    return Outcome(False, join(*problems), hint, diagnosis=diagnosis if units != expected else "layers the exercise does not use")


@check("model.hidden_activation", needs=graded_structure)
def hidden_activation(facts, exercise, structure) -> Outcome:
    hidden = structure.get("blocks", [])[:-1]
    hint = "Give every hidden Dense layer `activation='relu'`."
    if not hidden:
        return Outcome(False, join("The model has no hidden layer, so there is no hidden activation to check.",
                                   related_error(facts, MODEL_WORDS)), hint)
    wrong = [b for b in hidden if b.get("activation") != "relu"]
    if not wrong:
        return Outcome(True, f"Every hidden layer applies relu ({', '.join(b['name'] for b in hidden)}).")
    parts = []
    for block in wrong:
        what = ACTIVATION_WHY.get(block.get("activation"), block.get("activation"))
        parts.append(f"hidden layer `{block['name']}` ({block.get('units')} units) applies {what}")
    message = "In your model, " + "; ".join(parts) + "; the lesson uses relu."
    diagnosis = f"hidden layer with {wrong[0].get('activation')} instead of relu"
    if any(b.get("activation") == "linear" for b in wrong):
        message += " Without a non-linear activation, stacked Dense layers can only learn what one layer can."
    return Outcome(False, message, hint, diagnosis=diagnosis)


@check("model.output_layer", needs=graded_structure)
def output_layer(facts, exercise, structure) -> Outcome:
    blocks = structure.get("blocks", [])
    hint = f"End with `Dense({exercise.output_units}, activation='softmax')`: one output per class, as probabilities."
    if not blocks:
        return Outcome(False, join("The model has no Dense layer, so no output layer.",
                                   related_error(facts, MODEL_WORDS)), hint)
    last = blocks[-1]
    units, activation = last.get("units"), last.get("activation")
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
        loss = structure.get("loss") or {}
        if activation == "linear" and loss.get("from_logits"):
            problems.append("(With from_logits=True the loss applies softmax for you, but the exercise "
                            "asks for softmax in the model.)")
    diagnosis = (f"output layer with {units} units" if units != exercise.output_units
                 else f"output layer with {activation} instead of softmax")
    return Outcome(False, join(*problems), hint, diagnosis=diagnosis)
