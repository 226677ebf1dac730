"""Mutants: the solution with one typical mistake each.

Every expectation of the exercise file is broken in turn (each layer's units or filters,
kernel and pool sizes, dropout rate, each activation, the input shape, the loss, the
optimizer, the metrics, epochs, batch size, validation split, and the layers' types and
order), and the lesson's usual mistakes are added (no flattening, a sigmoid output, a
sparse loss on one-hot labels, training on the test images, never training, never
evaluating). Each mutant says which check must catch it (`Requirement`): a check that
fails but is worth no points, or a threshold an untrained model reaches, leaves that
mistake unpunished, and the proof says so.

Mutants are made from the solution's syntax tree (source.py, forms.py), on whatever form the
solution has; one the solution gives no place for is skipped with the reason.
"""
from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial

import nbformat

from ..exercise.model import POOLING, WEIGHTED, Exercise, LayerSpec, size_text
from .forms import LayerSite, declared_layers, input_shape
from .source import (
    Code,
    Edit,
    Site,
    SourceError,
    apply,
    argument,
    expression,
    input_keywords,
    insert_before,
    parse,
    remove_statement,
    replace,
    unparse,
    with_arguments,
    without_input,
)
from .variant import Requirement, Skipped, Variant

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth")
#: Calls that flatten an array: `images.reshape(...)`, `np.reshape(images, ...)`, `.flatten()`.
FLATTENING = ("reshape", "flatten", "ravel")
MODULES = ("np", "numpy", "tf", "tensorflow", "ops")
#: Keras' defaults, which a student who leaves an argument out gets.
DEFAULT_EPOCHS = 1
DEFAULT_BATCH_SIZE = 32


@dataclass
class Solution:
    """The solution notebook as the mutants and equivalents read it."""

    notebook: nbformat.NotebookNode
    exercise: Exercise
    code: Code = field(init=False)
    _layers: list[LayerSite] | None = field(init=False, default=None)
    _layers_error: SourceError | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.code = Code(self.notebook)
        try:
            self._layers = declared_layers(self.code, self.exercise)
        except SourceError as error:
            self._layers_error = error

    def layers(self) -> list[LayerSite]:
        if self._layers is None:
            assert self._layers_error is not None
            raise self._layers_error
        return self._layers

    def last(self, method: str) -> Site:
        calls = self.code.method_calls(method)
        if not calls:
            raise SourceError(f"the solution never calls `.{method}(...)`")
        return calls[-1]


@dataclass
class Candidate:
    """A mutant before it is made: its edits are computed when it is made, and a SourceError
    then skips it with the reason."""

    id: str
    description: str
    requirements: tuple[Requirement, ...]
    edits: Callable[[], list[Edit]]


def _ordinal(number: int) -> str:
    return ORDINALS[number] if number < len(ORDINALS) else f"{number + 1}th"


def _layer_name(exercise: Exercise, index: int) -> str:
    """'the second Dense layer' among the declared layers of its type; 'the output layer' for the last."""
    if index == len(exercise.layers) - 1:
        return "the output layer"
    kind = exercise.layers[index].type
    number = sum(1 for layer in exercise.layers[:index] if layer.type == kind)
    return f"the {_ordinal(number)} {kind} layer"


def _key(index: int, name: str) -> str:
    return f"model.layers[{index}].{name}"


def _call_edit(site: Site, changes: dict[str, ast.expr | None]) -> Edit:
    """The call written anew with some arguments set or removed (source.with_arguments)."""
    return replace(site.cell, site.call, unparse(with_arguments(site.call, site.kind, changes)))


def _set(solution: Solution, index: int, changes: dict[str, ast.expr | None]) -> list[Edit]:
    return [_call_edit(solution.layers()[index].site, changes)]


def _number(pattern: object) -> str:
    return rf"(?<![\d.]){re.escape(str(pattern))}(?![\d.])"


# --- the exercise file's expectations ----------------------------------------------------


def layer_settings(solution: Solution) -> Iterator[Candidate]:
    """Units or filters of every weighted layer; the first kernel size, pool size and dropout rate."""
    exercise = solution.exercise
    classes = len(exercise.classes)
    first_of: set[str] = set()
    for index, layer in enumerate(exercise.layers):
        name = _layer_name(exercise, index)
        last = index == len(exercise.layers) - 1
        if layer.type == "Dense" and layer.units:
            wrong = (10 if classes != 10 else classes + 1) if last else layer.units * 2
            why = " (Fashion-MNIST's ten classes)" if last and wrong == 10 else ""
            checks = ("model.output_layer", "model.architecture") if last else ("model.architecture",)
            yield Candidate(f"units-{index + 1}", f"{name} has {wrong} units{why} instead of {layer.units}",
                            (Requirement(checks, _key(index, "units"), _number(wrong)),),
                            partial(_set, solution, index, {"units": ast.Constant(wrong)}))
        if layer.type == "Conv2D" and layer.filters:
            wrong = layer.filters * 2
            yield Candidate(f"filters-{index + 1}", f"{name} has {wrong} filters instead of {layer.filters}",
                            (Requirement(("model.architecture",), _key(index, "filters"), _number(wrong)),),
                            partial(_set, solution, index, {"filters": ast.Constant(wrong)}))
        if layer.type in first_of:
            continue
        first_of.add(layer.type)
        if layer.type == "Conv2D" and layer.kernel_size:
            side = layer.kernel_size[0] + 2
            yield Candidate(f"kernel-size-{index + 1}", f"{name} has kernel_size={side} instead of "
                            f"{size_text(layer.kernel_size)}",
                            (Requirement(("model.architecture",), _key(index, "kernel_size"), rf"kernel_size={side}"),),
                            partial(_set, solution, index, {"kernel_size": ast.Constant(side)}))
        if layer.type in POOLING and layer.pool_size:
            side = layer.pool_size[0] + 1
            yield Candidate(f"pool-size-{index + 1}", f"{name} pools over {side} instead of "
                            f"{size_text(layer.pool_size)}",
                            (Requirement(("model.architecture",), _key(index, "pool_size"), _number(side)),),
                            partial(_set, solution, index, {"pool_size": ast.Constant(side)}))
        if layer.type == "Dropout" and layer.rate is not None:
            rate = 0.5 if abs(layer.rate - 0.5) > 1e-9 else 0.25
            yield Candidate(f"dropout-rate-{index + 1}", f"{name} drops {rate:g} instead of {layer.rate:g}",
                            (Requirement(("model.architecture",), _key(index, "rate"), _number(f"{rate:g}")),),
                            partial(_set, solution, index, {"rate": ast.Constant(rate)}))


def _activation_edits(solution: Solution, index: int, wanted: str | None) -> list[Edit]:
    """Give a layer another activation (`wanted`), or none (None): on the layer's own argument,
    or on the Activation layer after it that applies it."""
    layer = solution.layers()[index]
    site = layer.site
    if argument(site.call, "activation", site.kind) is None and layer.activation is not None:
        after = layer.activation
        if after.kind != "Activation":
            raise SourceError(f"{_layer_name(solution.exercise, index)}'s activation is a {after.kind} layer")
        return [_call_edit(after, {"activation": ast.Constant(wanted or "linear")})]
    return [_call_edit(site, {"activation": ast.Constant(wanted) if wanted else None})]


def activations(solution: Solution) -> Iterator[Candidate]:
    """Each hidden layer without its activation (or with relu, if it declares none); the output
    layer with sigmoid (the lesson's mistake) or, if it declares sigmoid, softmax."""
    exercise = solution.exercise
    weighted = [index for index, layer in enumerate(exercise.layers) if layer.type in WEIGHTED]
    for index in weighted[:-1]:
        declared = exercise.layers[index].activation or "linear"
        wrong = None if declared != "linear" else "relu"
        shown = wrong or "no activation"
        yield Candidate(f"activation-{index + 1}", f"{_layer_name(exercise, index)} has {shown} instead of {declared}",
                        (Requirement(("model.hidden_activation",), _key(index, "activation"),
                                     r"linear|no activation" if wrong is None else rf"\b{wrong}\b"),),
                        partial(_activation_edits, solution, index, wrong))
    last = len(exercise.layers) - 1
    declared = exercise.output_activation
    wrong_output = "sigmoid" if declared != "sigmoid" else "softmax"
    yield Candidate("sigmoid-output" if wrong_output == "sigmoid" else "output-activation",
                    f"the output layer applies {wrong_output} instead of {declared}",
                    (Requirement(("model.output_layer",), _key(last, "activation"), rf"\b{wrong_output}\b"),),
                    lambda: _activation_edits(solution, last, wrong_output))


def _wrong_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """A wrong input shape: one number per image for flat rows (`train_data.shape[-1]`, the
    lesson's slip), three colour channels for images."""
    if len(shape) == 1:
        return (1,)
    if len(shape) == 3:
        return (*shape[:-1], shape[-1] + 2)
    return (*shape, 1)


def _input_shape_edits(solution: Solution, wrong: tuple[int, ...]) -> list[Edit]:
    given = input_shape(solution.code, solution.layers())
    if given is None:
        raise SourceError("the solution gives its model no input shape")
    keyword = next((k.arg for k in given.site.call.keywords if k.value is given.node), None)
    if keyword == "input_dim":
        if len(wrong) != 1:
            raise SourceError("the solution gives its input shape as input_dim")
        text = str(wrong[0])
    elif keyword in ("batch_input_shape", "batch_shape"):
        text = repr((None, *wrong))
    else:
        text = repr(wrong)
    return [replace(given.site.cell, given.node, text)]


def input_shapes(solution: Solution) -> Iterator[Candidate]:
    exercise = solution.exercise
    wrong = _wrong_shape(exercise.input_shape)
    shown = "(None, " + ", ".join(map(str, wrong)) + ")"
    yield Candidate("input-shape", f"the model takes inputs of shape {shown} instead of {exercise.batch_shape_text}",
                    (Requirement(("model.input_shape",), "model.input_shape", re.escape(shown)),),
                    lambda: _input_shape_edits(solution, wrong))


def _compile_edits(solution: Solution, changes: dict[str, ast.expr | None]) -> list[Edit]:
    return [_call_edit(solution.last("compile"), changes)]


def compile_settings(solution: Solution) -> Iterator[Candidate]:
    exercise = solution.exercise
    loss = "mean_squared_error" if exercise.loss != "mean_squared_error" else "categorical_crossentropy"
    yield Candidate("loss-mse" if loss == "mean_squared_error" else "loss-categorical",
                    f"the loss is {loss} instead of {exercise.loss}",
                    (Requirement(("compile.loss",), "compile.loss", loss.replace("_", "[_ ]")),),
                    lambda: _compile_edits(solution, {"loss": ast.Constant(loss)}))
    optimizer = "sgd" if exercise.optimizer != "sgd" else "adam"
    yield Candidate(f"optimizer-{optimizer}", f"the optimizer is {optimizer} instead of {exercise.optimizer}",
                    (Requirement(("compile.optimizer",), "compile.optimizer", rf"\b{optimizer}\b"),),
                    lambda: _compile_edits(solution, {"optimizer": ast.Constant(optimizer)}))
    if exercise.metrics:
        yield Candidate("no-metrics", f"compile is given no metrics, not {', '.join(exercise.metrics)}",
                        (Requirement(("compile.metrics",), "compile.metrics", r"metric"),),
                        lambda: _compile_edits(solution, {"metrics": None}))


def _fit_edits(solution: Solution, changes: dict[str, ast.expr | None]) -> list[Edit]:
    return [_call_edit(solution.last("fit"), changes)]


def fit_settings(solution: Solution) -> Iterator[Candidate]:
    """Epochs and batch size left out (Keras' defaults), the validation split left out or added."""
    exercise = solution.exercise
    if exercise.epochs != DEFAULT_EPOCHS:
        epochs_change: ast.expr | None = None
        epochs, how = DEFAULT_EPOCHS, "epochs left out (Keras trains 1 epoch)"
    else:
        epochs, how = 2, "2 epochs"
        epochs_change = ast.Constant(2)
    yield Candidate("epochs", f"{how} instead of {exercise.epochs}",
                    (Requirement(("fit.settings",), "fit.epochs", rf"epochs={epochs}\b"),),
                    lambda: _fit_edits(solution, {"epochs": epochs_change}))
    if exercise.batch_size != DEFAULT_BATCH_SIZE:
        batch_change: ast.expr | None = None
        how = "batch_size left out (Keras uses 32)"
    else:
        batch_change, how = ast.Constant(16), "batches of 16"
    yield Candidate("batch-size", f"{how} instead of {exercise.batch_size}",
                    (Requirement(("fit.settings",), "fit.batch_size", r"batch_size (was not given|=16\b)"),),
                    lambda: _fit_edits(solution, {"batch_size": batch_change}))
    if exercise.validation_split:
        yield Candidate("validation-split", f"no validation data held out instead of {exercise.validation_split:g}",
                        (Requirement(("fit.validation",), "fit.validation_split", r"validation"),),
                        lambda: _fit_edits(solution, {"validation_split": None, "validation_data": None}))
    else:
        yield Candidate("validation-split", "validation_split=0.2 where the exercise holds nothing out",
                        (Requirement(("fit.validation",), "fit.validation_split", r"validation|held out"),),
                        lambda: _fit_edits(solution, {"validation_split": ast.Constant(0.2)}))


# --- the layers' types and order -------------------------------------------------------


def _context(site: Site) -> tuple[str, ast.AST]:
    """How a layer call is used: ('add', its statement), ('list', the list), ('applied', the application)."""
    parent = site.cell.parent(site.call)
    if isinstance(parent, ast.Call) and parent.func is site.call:
        return "applied", parent
    if isinstance(parent, (ast.List, ast.Tuple)):
        return "list", parent
    if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute) and parent.func.attr == "add":
        statement = site.cell.parent(parent)
        if isinstance(statement, ast.Expr):
            return "add", statement
    raise SourceError("a layer of the solution is neither added to a Sequential model, listed, nor applied")


def _with_input_of(call: ast.Call, donor: ast.Call) -> str:
    """`call` without its own input shape and with `donor`'s, as code."""
    changed = without_input(call)
    changed.keywords = changed.keywords + input_keywords(donor)
    return unparse(changed)


def _remove_layer(solution: Solution, index: int) -> list[Edit]:
    layers = solution.layers()
    layer = layers[index]
    site = layer.site
    edits: list[Edit] = []
    if input_keywords(site.call):  # the next layer takes over the input shape
        following = layers[index + 1].site
        edits.append(replace(following.cell, following.call, _with_input_of(following.call, site.call)))
    how, node = _context(site)
    if how == "add":
        assert isinstance(node, ast.stmt)
        edits.append(remove_statement(site.cell, node))
        if layer.activation is not None and _context(layer.activation)[0] == "add":
            statement = _context(layer.activation)[1]
            assert isinstance(statement, ast.stmt)
            edits.append(remove_statement(layer.activation.cell, statement))
    elif how == "list":
        assert isinstance(node, (ast.List, ast.Tuple))
        elements = node.elts
        position = next(i for i, element in enumerate(elements) if element is site.call)
        if len(elements) < 2:
            raise SourceError("the layer list has a single layer")
        cell = site.cell
        if position + 1 < len(elements):
            start, _ = cell.span(elements[position])
            end, _ = cell.span(elements[position + 1])
        else:
            _, start = cell.span(elements[position - 1])
            _, end = cell.span(elements[position])
        edits.append(Edit(cell.index, start, end, ""))
    else:
        assert isinstance(node, ast.Call)
        edits.append(replace(site.cell, node, site.cell.text(node.args[0]) if node.args else "None"))
    return edits


def _insert_copy(solution: Solution, index: int) -> list[Edit]:
    """A copy of layer `index` (without an input shape) right after it."""
    site = solution.layers()[index].site
    copied = unparse(without_input(site.call))
    how, node = _context(site)
    if how == "add":
        assert isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
        assert isinstance(node.value.func, ast.Attribute)
        receiver = site.cell.text(node.value.func.value)
        _, end = site.cell.span(node)
        return [Edit(site.cell.index, end, end, "\n" + site.cell.indent(node) + f"{receiver}.add({copied})")]
    if how == "list":
        _, end = site.cell.span(site.call)
        return [Edit(site.cell.index, end, end, f", {copied}")]
    return [replace(site.cell, node, f"{copied}({site.cell.text(node)})")]


def _swap(solution: Solution, index: int) -> list[Edit]:
    first, second = solution.layers()[index].site, solution.layers()[index + 1].site
    return [replace(first.cell, first.call, _with_input_of(second.call, first.call)),
            replace(second.cell, second.call, _with_input_of(first.call, second.call))]


def top_statement(site: Site) -> ast.stmt:
    node: ast.AST = site.call
    while True:
        parent = site.cell.parent(node)
        if parent is None or isinstance(parent, ast.Module):
            assert isinstance(node, ast.stmt)
            return node
        node = parent


def _retype(solution: Solution, index: int, kind: str) -> list[Edit]:
    """The layer as another class from the same module: `layers.MaxPooling2D(2)` becomes
    `layers.AveragePooling2D(2)`; an imported `MaxPool2D(2)` becomes `AveragePooling2D(2)`,
    imported from where it was."""
    site = solution.layers()[index].site
    changed = with_arguments(site.call, site.kind, {})
    func = site.call.func
    edits = []
    if isinstance(func, ast.Attribute):
        changed.func = ast.Attribute(value=func.value, attr=kind, ctx=ast.Load())
    else:
        module = solution.code.imported_from(func.id if isinstance(func, ast.Name) else "")
        changed.func = expression(kind if module else f"keras.layers.{kind}")
        line = f"from {module} import {kind}" if module else "import keras"
        edits.append(insert_before(site.cell, top_statement(site), [line]))
    return [replace(site.cell, site.call, unparse(changed)), *edits]


def structure(solution: Solution) -> Iterator[Candidate]:
    """A declared layer missing, one too many, two swapped, a pooling layer of the other kind."""
    exercise = solution.exercise
    layers = exercise.layers
    weighted = [index for index, layer in enumerate(layers) if layer.type in WEIGHTED]
    others = [index for index, layer in enumerate(layers) if layer.type not in WEIGHTED]
    missing = weighted[0] if len(weighted) > 1 else (others[0] if others else None)
    if missing is not None:
        yield Candidate("missing-layer", f"{_layer_name(exercise, missing)}, {layers[missing].text()}, is left out",
                        (Requirement(("model.architecture",), "model.layers"),),
                        lambda: _remove_layer(solution, missing))
    if len(weighted) > 1:
        extra = weighted[0]
        yield Candidate("extra-layer", f"one more {layers[extra].text()} after {_layer_name(exercise, extra)}",
                        (Requirement(("model.architecture",), "model.layers"),),
                        lambda: _insert_copy(solution, extra))
    pair = next((i for i in range(len(layers) - 1) if _differ(layers[i], layers[i + 1])), None)
    if pair is not None:
        yield Candidate("swapped-layers", f"{_layer_name(exercise, pair)} and the layer after it swapped "
                        f"({layers[pair + 1].text()} before {layers[pair].text()})",
                        (Requirement(("model.architecture", "model.output_layer"), "model.layers"),),
                        lambda: _swap(solution, pair))
    pooling = next((i for i, layer in enumerate(layers) if layer.type in POOLING), None)
    if pooling is not None:
        other = "AveragePooling2D" if layers[pooling].type == "MaxPooling2D" else "MaxPooling2D"
        yield Candidate("pooling-type", f"{_layer_name(exercise, pooling)} is an {other}",
                        (Requirement(("model.architecture",), _key(pooling, "type"), other),),
                        lambda: _retype(solution, pooling, other))


def _differ(first: LayerSpec, second: LayerSpec) -> bool:
    return (first.text(), first.activation) != (second.text(), second.activation)


# --- the lesson's usual mistakes ------------------------------------------------------


def _flattening_calls(solution: Solution, data: ast.expr, site: Site) -> list[tuple[Site, ast.Call]]:
    """The reshape/flatten calls that made the array `data` given to `site`'s call."""
    def found_in(cell, node: ast.AST) -> list[tuple[Site, ast.Call]]:
        return [(Site(cell, call, "reshape"), call) for call in ast.walk(node)
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr in FLATTENING]

    inline = found_in(site.cell, data)
    if inline:
        return inline[:1]
    if isinstance(data, ast.Name):
        assigned = solution.code.last_assignment(data.id, site)
        if assigned is not None:
            cell, _, value = assigned
            return found_in(cell, value)[:1]
    return []


def _unflattened(site: Site, call: ast.Call) -> Edit:
    func = call.func
    assert isinstance(func, ast.Attribute)
    if isinstance(func.value, ast.Name) and func.value.id in MODULES and call.args:
        return replace(site.cell, call, site.cell.text(call.args[0]))
    return replace(site.cell, call, site.cell.text(func.value))


def _no_flattening(solution: Solution) -> list[Edit]:
    edits: dict[tuple[int, int, int], Edit] = {}
    for method in ("fit", "evaluate"):
        site = solution.last(method)
        data = argument(site.call, "x", method)
        if data is None:
            raise SourceError(f"the solution's {method} is given no images")
        for where, call in _flattening_calls(solution, data, site):
            edit = _unflattened(where, call)
            edits[(edit.cell, edit.start, edit.end)] = edit
    if not edits:
        raise SourceError("no reshape or flatten call of the solution makes the images it trains and evaluates on")
    return list(edits.values())


def _flattened(solution: Solution) -> list[Edit]:
    edits = []
    for method in ("fit", "evaluate"):
        site = solution.last(method)
        data = argument(site.call, "x", method)
        if data is None:
            raise SourceError(f"the solution's {method} is given no images")
        text = site.cell.text(data)
        array = text if isinstance(data, ast.Name) else f"({text})"
        edits.append(replace(site.cell, data, f"{array}.reshape({array}.shape[0], -1)"))
    return edits


def _on_test_data(solution: Solution) -> list[Edit]:
    fit, evaluation = solution.last("fit"), solution.last("evaluate")
    images, labels = argument(evaluation.call, "x", "evaluate"), argument(evaluation.call, "y", "evaluate")
    if images is None or labels is None:
        raise SourceError("the solution's evaluate is not given test images and labels")
    return [_call_edit(fit, {"x": images, "y": labels})]


def _never(solution: Solution, method: str) -> list[Edit]:
    """Every call of `.method(...)` gone: its statement removed, or for a value that is used
    (`loss, accuracy = model.evaluate(...)`), zeros in its place."""
    calls = solution.code.method_calls(method)
    if not calls:
        raise SourceError(f"the solution never calls `.{method}(...)`")
    edits = []
    for site in calls:
        statement = site.cell.statement(site.call)
        if isinstance(statement, ast.Expr) and statement.value is site.call or method == "fit":
            edits.append(remove_statement(site.cell, statement))
        else:
            targets = statement.targets if isinstance(statement, ast.Assign) else []
            count = len(targets[0].elts) if targets and isinstance(targets[0], (ast.Tuple, ast.List)) else 2
            edits.append(replace(site.cell, site.call, "[" + ", ".join(["0.0"] * count) + "]"))
    return edits


def lesson_mistakes(solution: Solution) -> Iterator[Candidate]:
    exercise = solution.exercise
    if not exercise.convolutional:
        yield Candidate("no-flattening", "the images are given to fit and evaluate unflattened, (n, 28, 28, 1)",
                        (Requirement(("data.reshape",), "data.reshape", r"unflattened|not flattened|flat"),),
                        lambda: _no_flattening(solution))
    else:
        yield Candidate("flattened-images", "the images are flattened to rows before fit and evaluate",
                        (Requirement(("data.reshape",), "data.reshape", r"flatten"),),
                        lambda: _flattened(solution))
    if exercise.loss == "categorical_crossentropy":
        yield Candidate("sparse-loss", "sparse_categorical_crossentropy on the one-hot labels",
                        (Requirement(("compile.loss",), "compile.loss", r"sparse|class number"),),
                        lambda: _compile_edits(solution, {"loss": ast.Constant("sparse_categorical_crossentropy")}))
    yield Candidate("trained-on-test", "the model is trained on the test images and labels",
                    (Requirement(("fit.called",), "fit.called", r"test"),),
                    lambda: _on_test_data(solution))
    yield Candidate("never-trained", "the model is built and compiled but never trained (no fit)",
                    (Requirement(("fit.called",), "fit.called", r"never trained|no call to `?fit"),
                     Requirement(("accuracy.threshold",), "threshold")),
                    lambda: _never(solution, "fit"))
    yield Candidate("never-evaluated", "the model is never evaluated (no evaluate)",
                    (Requirement(("evaluate.called",), "evaluate.called", r"never evaluated|no call to `?evaluate"),),
                    lambda: _never(solution, "evaluate"))


MAKERS: tuple[Callable[[Solution], Iterator[Candidate]], ...] = (
    layer_settings, activations, input_shapes, compile_settings, fit_settings, structure, lesson_mistakes)


def made(solution: Solution, candidate: Candidate) -> Variant:
    """The candidate's notebook; SourceError when its edits cannot be made or do not parse."""
    edits = candidate.edits()
    notebook = apply(solution.notebook, edits)
    for index in {edit.cell for edit in edits}:
        if parse(notebook.cells[index].source) is None:
            raise SourceError("the changed code does not parse")
    return Variant(candidate.id, candidate.description, notebook, candidate.requirements)


def mutants(solution: Solution) -> tuple[list[Variant], list[Skipped]]:
    """Every mutant of the solution, and those its code gives no place for."""
    made_ones: list[Variant] = []
    skipped: list[Skipped] = []
    for maker in MAKERS:
        for candidate in maker(solution):
            try:
                made_ones.append(made(solution, candidate))
            except SourceError as error:
                skipped.append(Skipped(candidate.id, candidate.description, str(error)))
    return made_ones, skipped
