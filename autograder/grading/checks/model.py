"""model.input_shape, model.architecture, model.hidden_activation, model.output_layer.

All four read the structure of the graded model's saved file, never what the
notebook printed or claimed, and compare it with the exercise's declared model:
its input shape, its layer sequence (types; units, filters, kernel and pool sizes;
Flatten and Dropout where declared), and its activations.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass

from ...exercise.model import LAYER_ALIASES, WEIGHTED, Exercise, LayerSpec, size_text
from ...modelfile import ACTIVATION_LAYERS, PASS_THROUGH, RESHAPING, StructureRecord
from ..facts import Facts
from ..phrasing import join, model_subject, related_error, shape_text
from .needs import MODEL_WORDS, readable_model
from .registry import Outcome, check

ACTIVATION_WHY = {
    "linear": "no activation (a layer's default is linear)",
    "sigmoid": "sigmoid",
}
ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")


@dataclass
class FoundLayer:
    """One layer of the student's model as the exercise compares it: activation layers folded
    into the layer before them, layers the exercise does not declare and that change nothing
    (Dropout, Flatten where the exercise has none) left out."""

    type: str
    name: str
    units: int | None = None
    filters: int | None = None
    kernel_size: list[int] | None = None
    pool_size: list[int] | None = None
    rate: float | None = None
    activation: str | None = None
    folded: bool = False  # its activation came from an Activation/ReLU/Softmax layer after it


def found_layers(structure: StructureRecord, exercise: Exercise) -> list[FoundLayer]:
    """The graded model's layers, in the terms of the exercise's declared sequence."""
    found: list[FoundLayer] = []
    for layer in structure["layers"]:
        cls = LAYER_ALIASES.get(layer["class"], layer["class"])
        if cls == "InputLayer":
            continue
        if cls == "Activation" or cls in ACTIVATION_LAYERS:
            applied = layer.get("activation") or ACTIVATION_LAYERS.get(cls, "linear")
            previous = found[-1] if found else None
            if previous and previous.type in WEIGHTED and previous.activation == "linear" and not previous.folded:
                previous.activation, previous.folded = applied, True
                continue
            found.append(FoundLayer("Activation", layer["name"], activation=applied))
            continue
        if cls in RESHAPING:  # a Reshape (adding a channel axis, say) is the input shape's business
            if cls == "Flatten" and exercise.declares("Flatten"):
                found.append(FoundLayer("Flatten", layer["name"]))
            continue
        if cls in PASS_THROUGH and not (cls == "Dropout" and exercise.declares("Dropout")):
            continue
        found.append(FoundLayer(cls, layer["name"], units=layer.get("units"), filters=layer.get("filters"),
                                kernel_size=layer.get("kernel_size"), pool_size=layer.get("pool_size"),
                                rate=layer.get("rate"), activation=layer.get("activation")))
    return found


def describe_units(units: list[int | None]) -> str:
    """'Dense layers of 10 and 3 units'."""
    units_text = [str(u) for u in units]
    if not units_text:
        return "no Dense layers"
    return ("Dense layers of " + ", ".join(units_text[:-1]) + (" and " if len(units_text) > 1 else "")
            + units_text[-1] + " units")


def _ordinal(position: int) -> str:
    return ORDINALS[position] if position < len(ORDINALS) else f"{position + 1}th"


def _nth(types: list[str], index: int) -> str:
    """'the second Conv2D': layer `index` of a sequence, counted among those of its type."""
    kind = types[index]
    return f"the {_ordinal(types[:index].count(kind))} {kind}"


def _where(declared: list[str], index: int) -> str:
    """Where declared layer `index` goes: 'after the first Conv2D', or 'at the start'."""
    return f"after {_nth(declared, index - 1)}" if index > 0 else "at the start of the model"


def _setting_problems(found: FoundLayer, wanted: LayerSpec, label: str) -> list[tuple[str, str]]:
    """(sentence, diagnosis) for each setting of a layer of the right type that differs."""
    problems: list[tuple[str, str]] = []
    if wanted.units is not None and found.units != wanted.units:
        problems.append((f"{label} has {found.units} units, the exercise asks for {wanted.units}.",
                         "wrong numbers of units"))
    if wanted.filters is not None and found.filters != wanted.filters:
        problems.append((f"{label} has {found.filters} filters, the exercise asks for {wanted.filters}.",
                         "wrong numbers of filters"))
    if wanted.kernel_size is not None and found.kernel_size is not None and \
            list(found.kernel_size) != list(wanted.kernel_size):
        problems.append((f"{label} has kernel_size={size_text(found.kernel_size)}, the exercise asks for "
                         f"kernel_size={size_text(wanted.kernel_size)}.", "wrong kernel size"))
    if wanted.pool_size is not None and found.pool_size is not None and \
            list(found.pool_size) != list(wanted.pool_size):
        problems.append((f"{label} pools over {size_text(found.pool_size)}, the exercise asks for "
                         f"pool_size={size_text(wanted.pool_size)}.", "wrong pool size"))
    if wanted.rate is not None and (found.rate is None or abs(found.rate - wanted.rate) > 1e-6):
        problems.append((f"{label} drops {found.rate if found.rate is not None else '?'} of its inputs, the "
                         f"exercise asks for rate={wanted.rate:g}.", "wrong dropout rate"))
    return problems


def sequence_problems(found: list[FoundLayer], exercise: Exercise) -> list[tuple[str, str]]:
    """How the found layers differ from the declared ones, each as (sentence, diagnosis), upstream first."""
    declared = [layer.type for layer in exercise.layers]
    types = [layer.type for layer in found]
    problems: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=types, b=declared, autojunk=False)
    for tag, a_start, a_end, b_start, b_end in matcher.get_opcodes():
        if tag == "equal":
            for offset in range(a_end - a_start):
                index = b_start + offset
                label = upper(_nth(declared, index)) + " layer"
                problems.extend(_setting_problems(found[a_start + offset], exercise.layers[index], label))
        elif tag == "insert":
            for index in range(b_start, b_end):
                problems.append((f"{upper(_a(declared[index]))} layer is missing {_where(declared, index)}.",
                                 f"{declared[index]} missing"))
        elif tag == "delete":
            for index in range(a_start, a_end):
                where = f" after {_nth(types, index - 1)}" if index > 0 else " at the start"
                problems.append((f"There is {_a(types[index])} layer{where} that the exercise does not have.",
                                 f"extra {types[index]}"))
        else:
            extra = ", ".join(types[a_start:a_end])
            missing = ", ".join(declared[b_start:b_end])
            problems.append((f"Where the exercise has {missing} ({_where(declared, b_start)}), the model has "
                             f"{extra}.", f"{missing} replaced by {extra}"))
    return problems


def _a(word: str) -> str:
    return f"{'an' if word[:1] in 'AEIOU' else 'a'} {word}"


def upper(text: str) -> str:
    return text[:1].upper() + text[1:]


@check("model.input_shape", needs=readable_model)
def input_shape(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    shape = structure["input_shape"]
    name = model_subject(facts, facts.graded_model)
    wanted = list(exercise.input_shape)
    declared = shape_text(tuple(wanted))
    per_image = (f"one flat row of {exercise.flat_size} pixels per image" if not exercise.convolutional
                 else f"whole images of {'x'.join(map(str, wanted))}")
    hint = (f"Give the first layer `input_shape={declared}` (or start with `keras.Input(shape={declared})`): "
            f"{per_image}.")
    if shape == [None, *wanted]:
        return Outcome(True, f"{name} takes inputs of shape {exercise.batch_shape_text}: {per_image}.")
    if shape is None and not structure["layers"]:
        return Outcome(False, join(f"{name} has no layers, so it has no input shape.",
                                   related_error(facts, MODEL_WORDS)), hint)
    if shape is None:
        return Outcome(False, join(f"{name} never got an input shape: its first layer has no input_shape "
                                   "and it was never trained, so Keras never built it.",
                                   related_error(facts, MODEL_WORDS)), hint)
    train_shape = facts.data["shapes"].get("train_data") or [600, 28, 28, 1]
    if shape == [None, 1] and train_shape[-1] == 1 and wanted != [1]:
        return Outcome(False, f"{name} takes inputs of shape (None, 1): one number per image. "
                              "`input_shape=(train_data.shape[-1],)` reads the last axis of the 4-D "
                              f"train_data {shape_text(train_shape)}, which is the single colour channel, "
                              f"not the {exercise.flat_size} pixels.",
                       f"Use `input_shape={declared}`" + (", or take the size from the flattened array: "
                                                          "`input_shape=(train_data_1d.shape[1],)`."
                                                          if not exercise.convolutional else "."),
                       diagnosis="input shape (1,): the channel axis of the 4-D images")
    if not exercise.convolutional and len(shape) > 2:
        flatten = " and flattens them itself with a Flatten layer" if structure["reshaping"] else ""
        return Outcome(False, f"{name} takes whole images of shape {shape_text(shape)}{flatten}; this "
                              "exercise flattens the data before the model, which then takes inputs of "
                              f"shape {exercise.batch_shape_text}.", hint, diagnosis="model takes unflattened images")
    if exercise.convolutional and len(shape) == 2:
        return Outcome(False, f"{name} takes flat rows of shape {shape_text(shape)}, but its convolutions need "
                              f"whole images: inputs of shape {exercise.batch_shape_text}.", hint,
                       diagnosis="convolutional model given flat input")
    if exercise.convolutional and len(shape) == len(wanted) and shape[1:] == wanted[:-1]:
        return Outcome(False, f"{name} takes inputs of shape {shape_text(shape)}, without the channel axis; "
                              f"a Conv2D layer needs (height, width, channels): {exercise.batch_shape_text}.",
                       hint, diagnosis="input shape without the channel axis")
    return Outcome(False, f"{name} takes inputs of shape {shape_text(shape)}, but the exercise's model takes "
                          f"{exercise.batch_shape_text}.", hint)


@check("model.architecture", needs=readable_model)
def architecture(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    found = found_layers(structure, exercise)
    name = model_subject(facts, facts.graded_model)
    dense_only = all(layer.type == "Dense" for layer in exercise.layers)
    if dense_only:
        hidden = exercise.layers[:-1]
        hint = ("Use " + ", then ".join(layer.text() for layer in exercise.layers) + f": {len(hidden)} hidden "
                f"layer{'s' if len(hidden) != 1 else ''} and an output layer with one unit per class.")
    else:
        hint = f"Build the layers in this order: {exercise.layers_text()}."
    problems = sequence_problems(found, exercise)
    if not problems:
        wanted = describe_units(list(exercise.units)) if dense_only else f"the layers {exercise.layers_text()}"
        return Outcome(True, f"{name} has {wanted}.")
    units: list[int | None] = [layer.units for layer in found if layer.type == "Dense"]
    expected: list[int | None] = list(exercise.units)
    sentences: list[str] = []
    if dense_only and all(layer.type == "Dense" for layer in found):
        sentences.append(f"{name} has {describe_units(units)}; the exercise asks for {describe_units(expected)}.")
        if len(units) == len(expected) + 1 and units[-len(expected):] == expected:
            sentences.append("It looks like a deeper model than this exercise's.")
        elif len(units) + 1 == len(expected):
            sentences.append(f"It is missing a hidden layer of {expected[0]} units.")
        elif len(units) == len(expected):
            sentences.extend(sentence for sentence, _ in problems)
    else:
        found_text = ", ".join(layer.type for layer in found) or "no layers"
        sentences.append(f"{name} has {found_text}; the exercise asks for {exercise.layers_text()}.")
        sentences.extend(sentence for sentence, _ in problems)
    sentences.append(related_error(facts, MODEL_WORDS))
    classes = len(exercise.classes)
    if units and units[-1] == 10 and classes != 10:
        sentences.append(f"The last layer has 10 units, as for the full Fashion-MNIST with ten classes, but this "
                         f"data set has only {classes} classes ({exercise.class_list}).")
        diagnosis = "10-unit output layer"
    elif dense_only and len(units) != len(expected) and all(layer.type == "Dense" for layer in found):
        diagnosis = "a hidden layer missing or extra"
    else:
        diagnosis = problems[0][1]
    return Outcome(False, join(*sentences), hint, diagnosis=diagnosis)


def _weighted(found: list[FoundLayer]) -> list[FoundLayer]:
    return [layer for layer in found if layer.type in WEIGHTED]


def _hidden_wanted(exercise: Exercise, hidden: list[FoundLayer]) -> list[str]:
    """The activation each found hidden layer should apply: layer by layer when the counts
    match the declared model, else any of the declared hidden activations."""
    declared = exercise.weighted[:-1]
    if len(declared) == len(hidden):
        return [layer.activation or "linear" for layer in declared]
    return [" or ".join(exercise.hidden_activations)] * len(hidden)


@check("model.hidden_activation", needs=readable_model)
def hidden_activation(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    hidden = _weighted(found_layers(structure, exercise))[:-1]
    declared = exercise.hidden_activations
    kinds = " and ".join(sorted({layer.type for layer in exercise.weighted[:-1]})) or "Dense"
    hint = (f"Give every hidden {kinds} layer `activation='{declared[0]}'`." if len(declared) == 1 else
            "Give each hidden layer the activation the exercise declares: "
            + ", ".join(f"{layer.text()} with {layer.activation}" for layer in exercise.weighted[:-1]) + ".")
    if not declared:
        if not hidden:
            return Outcome(True, "The exercise's model has no hidden layer, and neither has yours.")
        return Outcome(False, "Your model has hidden layers; the exercise's has none.", hint)
    if not hidden:
        return Outcome(False, join("The model has no hidden layer, so there is no hidden activation to check.",
                                   related_error(facts, MODEL_WORDS)), hint)
    wanted = _hidden_wanted(exercise, hidden)
    wrong = [(layer, want) for layer, want in zip(hidden, wanted)
             if (layer.activation or "linear") not in want.split(" or ")]
    if not wrong:
        return Outcome(True, f"Every hidden layer applies {' and '.join(declared)} "
                             f"({', '.join(layer.name for layer in hidden)}).")
    parts = []
    for layer, want in wrong:
        what = ACTIVATION_WHY.get(layer.activation or "linear", layer.activation or "linear")
        size = f"{layer.units} units" if layer.type == "Dense" else f"{layer.filters} filters"
        parts.append(f"hidden layer `{layer.name}` ({layer.type}, {size}) applies {what}, the exercise asks for "
                     f"{want}")
    message = "In your model, " + "; ".join(parts) + "."
    first = wrong[0][0].activation or "linear"
    diagnosis = f"hidden layer with {first} instead of {wrong[0][1]}"
    if any((layer.activation or "linear") == "linear" for layer, _ in wrong):
        message += " Without a non-linear activation, stacked layers can only learn what one layer can."
    return Outcome(False, message, hint, diagnosis=diagnosis)


@check("model.output_layer", needs=readable_model)
def output_layer(facts: Facts, exercise: Exercise, structure: StructureRecord) -> Outcome:
    weighted = _weighted(found_layers(structure, exercise))
    wanted_units, wanted_activation = exercise.output_units, exercise.output_activation
    classes = f"{len(exercise.classes)} classes ({exercise.class_list})"
    hint = (f"End with `Dense({wanted_units}, activation='{wanted_activation}')`: one output per class"
            + (", as probabilities." if wanted_activation == "softmax" else "."))
    if not weighted or weighted[-1].type != "Dense":
        return Outcome(False, join("The model does not end with a Dense layer, so it has no output layer.",
                                   related_error(facts, MODEL_WORDS)), hint)
    last = weighted[-1]
    units, activation = last.units, last.activation or "linear"
    if units == wanted_units and activation == wanted_activation:
        return Outcome(True, f"The output layer `{last.name}` has {units} units with {activation}: one "
                             f"{'probability' if activation == 'softmax' else 'output'} per class "
                             f"({exercise.class_list}).")
    problems = []
    if units != wanted_units:
        problems.append(f"The output layer `{last.name}` has {units} units, but there are {classes}: one unit "
                        "per class.")
    if activation != wanted_activation:
        if wanted_activation != "softmax":
            problems.append(f"It applies {activation}; the exercise's output layer applies {wanted_activation}.")
        elif activation == "sigmoid":
            problems.append("It applies sigmoid, which scores each class on its own; softmax makes the "
                            "class scores probabilities that sum to 1, which categorical cross-entropy expects.")
        elif activation == "linear":
            problems.append("It has no activation (linear), so its outputs are raw scores, not "
                            "probabilities.")
        else:
            problems.append(f"It applies {activation}; the output layer needs softmax to give class "
                            "probabilities.")
        loss = structure["loss"]
        if activation == "linear" and loss and loss.get("from_logits"):
            problems.append(f"(With from_logits=True the loss applies softmax for you, but the exercise "
                            f"asks for {wanted_activation} in the model.)")
    diagnosis = (f"output layer with {units} units" if units != wanted_units
                 else f"output layer with {activation} instead of {wanted_activation}")
    return Outcome(False, join(*problems), hint, diagnosis=diagnosis)

