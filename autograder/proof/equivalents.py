"""Equivalents: the solution rewritten in other correct forms, each of which must get full marks.

- the model in the forms the solution does not use: `Sequential([...])`, `Sequential()` with
  `add`, the functional API (`keras.Input` ... `keras.Model`);
- the input shape given the other way: a `keras.Input` layer instead of `input_shape=`, or
  `input_shape=` instead of an Input layer;
- other variable names throughout the notebook;
- objects instead of strings: `keras.losses.CategoricalCrossentropy()`,
  `keras.optimizers.Adam()`, `keras.metrics.CategoricalAccuracy()`, `keras.activations.relu`.

The model is rewritten from the solution's own layer calls (every argument kept), in its
own variable, at the place it was defined; the rest of the notebook is left as written.
"""
from __future__ import annotations

import ast
import re
from functools import partial

from ..exercise.model import OPTIMIZER_NAMES
from .forms import ModelDefinition, input_shape, model_definition
from .mutants import Candidate, Solution, made, top_statement
from .source import (
    INPUT_CALLS,
    Code,
    CodeCell,
    Edit,
    Site,
    SourceError,
    argument,
    expression,
    insert_before,
    remove_statement,
    replace,
    unparse,
    with_arguments,
    without_input,
)
from .variant import Skipped, Variant

LOSS_CLASSES = {
    "categorical_crossentropy": "CategoricalCrossentropy", "sparse_categorical_crossentropy":
    "SparseCategoricalCrossentropy", "binary_crossentropy": "BinaryCrossentropy",
    "mean_squared_error": "MeanSquaredError", "mse": "MeanSquaredError", "mean_absolute_error":
    "MeanAbsoluteError", "mae": "MeanAbsoluteError", "kl_divergence": "KLDivergence", "categorical_hinge":
    "CategoricalHinge", "hinge": "Hinge", "squared_hinge": "SquaredHinge", "poisson": "Poisson", "huber": "Huber",
    "log_cosh": "LogCosh", "categorical_focal_crossentropy": "CategoricalFocalCrossentropy",
}
#: Activations Keras saves by the same name whether given as a string or as keras.activations' function.
ACTIVATION_FUNCTIONS = ("relu", "softmax", "sigmoid", "tanh", "elu", "selu", "gelu", "softplus", "softsign",
                        "exponential", "linear", "relu6", "hard_sigmoid", "mish")
FORMS = {"add": "Sequential() with add", "list": "Sequential([...])", "functional": "the functional API"}


def _definition(solution: Solution) -> ModelDefinition:
    return model_definition(solution.code, solution.layers())


def _body(definition: ModelDefinition) -> list[Site]:
    """The model's layers without its Input layer."""
    return [site for site in definition.layers if site.kind not in INPUT_CALLS]


def _shape(solution: Solution) -> str | None:
    given = input_shape(solution.code, solution.layers())
    return given.text if given is not None else None


def _items(solution: Solution, definition: ModelDefinition, with_input_layer: bool) -> list[str]:
    """The layers as code: after a `keras.Input`, or the first one given `input_shape=`."""
    shape = _shape(solution)
    body = [without_input(site.call) for site in _body(definition)]
    if not body:
        raise SourceError("the model has no layers")
    if with_input_layer:
        if shape is None:
            raise SourceError("the solution gives its model no input shape")
        return [f"keras.Input(shape={shape})"] + [unparse(call) for call in body]
    if shape is not None:
        body[0].keywords.append(ast.keyword(arg="input_shape", value=expression(shape)))
    return [unparse(call) for call in body]


def _lines(solution: Solution, definition: ModelDefinition, form: str, with_input_layer: bool) -> list[str]:
    name = definition.name
    if form == "functional":
        shape = _shape(solution)
        if shape is None:
            raise SourceError("the solution gives its model no input shape")
        inputs = solution.code.fresh("inputs")
        flow = solution.code.fresh("hidden", {inputs})
        outputs = solution.code.fresh("outputs", {inputs, flow})
        lines = ["import keras", f"{inputs} = keras.Input(shape={shape})"]
        body = _body(definition)
        previous = inputs
        for number, site in enumerate(body):
            target = outputs if number == len(body) - 1 else flow
            lines.append(f"{target} = {unparse(without_input(site.call))}({previous})")
            previous = target
        return lines + [f"{name} = keras.Model(inputs={inputs}, outputs={outputs})"]
    items = _items(solution, definition, with_input_layer)
    if form == "list":
        return ["import keras", f"{name} = keras.Sequential(["] + [f"    {item}," for item in items] + ["])"]
    return ["import keras", f"{name} = keras.Sequential()"] + [f"{name}.add({item})" for item in items]


def _rewritten(solution: Solution, form: str, with_input_layer: bool) -> list[Edit]:
    definition = _definition(solution)
    cell, anchor = definition.anchor
    indent = cell.indent(anchor)
    edits = [replace(cell, anchor, ("\n" + indent).join(_lines(solution, definition, form, with_input_layer)))]
    edits += [remove_statement(other_cell, statement) for other_cell, statement in definition.others]
    return edits


def _uses_input_layer(definition: ModelDefinition) -> bool:
    return definition.form == "functional" or any(site.kind in INPUT_CALLS for site in definition.layers)


def model_forms(solution: Solution) -> list[Candidate]:
    """The model in each form the solution does not use, and its input shape given the other way."""
    try:
        definition = _definition(solution)
    except SourceError as error:
        return [Candidate(f"form-{form}", f"the model built with {words}", (), partial(_raise, error))
                for form, words in FORMS.items()]
    own = definition.form
    with_input = _uses_input_layer(definition)
    candidates = [Candidate(f"form-{form}", f"the model built with {words} instead of {FORMS[own]}", (),
                            partial(_rewritten, solution, form, with_input))
                  for form, words in FORMS.items() if form != own]
    container = own if own != "functional" else "list"
    if with_input:
        candidates.append(Candidate("input-shape-argument", "the input shape given to the first layer "
                                    "(input_shape=) instead of a keras.Input layer", (),
                                    lambda: _rewritten(solution, container, False)))
    else:
        candidates.append(Candidate("keras-input", "a keras.Input layer instead of the first layer's "
                                    "input_shape=", (), lambda: _rewritten(solution, container, True)))
    return candidates


def _raise(error: SourceError) -> list[Edit]:
    raise error


# --- other names ------------------------------------------------------------------------


def _bound_names(code: Code) -> set[str]:
    """Names the notebook binds at its top level by assignment, a for loop or `with ... as`."""
    bound: set[str] = set()
    for cell in code.parsed:
        assert cell.tree is not None
        pending: list[ast.AST] = list(cell.tree.body)
        while pending:
            node = pending.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue
            pending.extend(ast.iter_child_nodes(node))
    return bound


def _excluded_names(code: Code) -> set[str]:
    """Names that must keep their spelling: parameters, globals, imports, definitions, and any a
    cell Python cannot parse mentions."""
    excluded: set[str] = set()
    for cell in code.parsed:
        assert cell.tree is not None
        for node in ast.walk(cell.tree):
            if isinstance(node, ast.arg):
                excluded.add(node.arg)
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                excluded.update(node.names)
            elif isinstance(node, ast.alias):
                excluded.add((node.asname or node.name).split(".")[0])
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                excluded.add(node.name)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("globals", "locals", "vars", "eval", "exec"):
                raise SourceError("the solution looks names up by their spelling (globals, eval, ...)")
    words = {word for cell in code.cells if cell.tree is None for word in re.findall(r"\w+", cell.source)}
    return excluded | words


def _renamed(solution: Solution) -> list[Edit]:
    code = solution.code
    names = sorted(name for name in _bound_names(code) - _excluded_names(code)
                   if not name.startswith("__") and name != "_")
    if not names:
        raise SourceError("the solution binds no names of its own")
    taken: set[str] = set()
    renames: dict[str, str] = {}
    for name in names:
        renames[name] = code.fresh(f"my_{name}", taken)
        taken.add(renames[name])
    edits: list[Edit] = []
    for cell in code.parsed:
        assert cell.tree is not None
        edits.extend(_renames_in(cell, cell.tree, renames))
    return edits


def _renames_in(cell: CodeCell, node: ast.AST, renames: dict[str, str]) -> list[Edit]:
    """Edits renaming the names under `node`; an f-string holding one is written anew (the
    positions of the names inside it are not reliable on every Python)."""
    if isinstance(node, ast.JoinedStr):
        inside = [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in renames]
        if not inside:
            return []
        copied = ast.parse(cell.text(node), mode="eval").body
        for name in ast.walk(copied):
            if isinstance(name, ast.Name) and name.id in renames:
                name.id = renames[name.id]
        return [replace(cell, node, unparse(copied))]
    if isinstance(node, ast.Name) and node.id in renames:
        return [replace(cell, node, renames[node.id])]
    edits = []
    for child in ast.iter_child_nodes(node):
        edits.extend(_renames_in(cell, child, renames))
    return edits


# --- objects instead of strings ----------------------------------------------------------


def _string(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _objects(solution: Solution) -> list[Edit]:
    exercise = solution.exercise
    edits: list[Edit] = []
    touched: dict[tuple[int, int], tuple[CodeCell, ast.stmt]] = {}

    def note(site: Site) -> None:
        statement = top_statement(site)
        touched[(site.cell.index, statement.lineno)] = (site.cell, statement)

    compiled = solution.last("compile")
    changes: dict[str, ast.expr | None] = {}
    loss = _string(argument(compiled.call, "loss", "compile"))
    if loss is not None and loss.lower() in LOSS_CLASSES:
        changes["loss"] = expression(f"keras.losses.{LOSS_CLASSES[loss.lower()]}()")
    optimizer = _string(argument(compiled.call, "optimizer", "compile"))
    if optimizer is not None and optimizer.lower() in OPTIMIZER_NAMES:
        changes["optimizer"] = expression(f"keras.optimizers.{OPTIMIZER_NAMES[optimizer.lower()]}()")
    metrics = argument(compiled.call, "metrics", "compile")
    if isinstance(metrics, (ast.List, ast.Tuple)) and exercise.loss == "categorical_crossentropy" and \
            any(_string(m) in ("accuracy", "acc") for m in metrics.elts):
        changes["metrics"] = ast.List([expression("keras.metrics.CategoricalAccuracy()")
                                       if _string(m) in ("accuracy", "acc") else m for m in metrics.elts],
                                      ast.Load())
    if changes:
        edits.append(replace(compiled.cell, compiled.call,
                             unparse(with_arguments(compiled.call, "compile", changes))))
        note(compiled)
    for layer in solution.layers():
        for site in (layer.site, layer.activation):
            if site is None:
                continue
            given = _string(argument(site.call, "activation", site.kind))
            if given in ACTIVATION_FUNCTIONS:
                edits.append(replace(site.cell, site.call, unparse(with_arguments(
                    site.call, site.kind, {"activation": expression(f"keras.activations.{given}")}))))
                note(site)
    if not edits:
        raise SourceError("the solution gives its loss, optimizer, metrics and activations as objects already")
    first_in_cell: dict[int, tuple[CodeCell, ast.stmt]] = {}
    for cell, statement in sorted(touched.values(), key=lambda pair: (pair[0].index, pair[1].lineno)):
        first_in_cell.setdefault(cell.index, (cell, statement))
    for cell, statement in first_in_cell.values():  # before the first statement that needs it, in each cell
        edits.append(insert_before(cell, statement, ["import keras"]))
    return edits


def equivalents(solution: Solution) -> tuple[list[Variant], list[Skipped]]:
    """Every equivalent of the solution, and those its code gives no place for."""
    candidates = model_forms(solution) + [
        Candidate("renamed", "every variable of the notebook under another name", (), lambda: _renamed(solution)),
        Candidate("objects", "loss, optimizer, metrics and activations as objects instead of strings", (),
                  lambda: _objects(solution)),
    ]
    made_ones: list[Variant] = []
    skipped: list[Skipped] = []
    for candidate in candidates:
        try:
            made_ones.append(made(solution, candidate))
        except SourceError as error:
            skipped.append(Skipped(candidate.id, candidate.description, str(error)))
    return made_ones, skipped

