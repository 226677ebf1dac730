"""How the solution builds its model: which of its layer calls are the exercise's declared
layers, where the input shape is given, and how the layers are put together.

`declared_layers` matches the solution's layer calls, in the order the model applies them,
with the exercise's declared sequence: the last run of calls whose types are exactly the
declared ones (Activation and Input calls, and a Dropout or Flatten the exercise does not
declare, are not counted), so that an earlier attempt in the notebook does not count.

`model_definition` reads the three forms a student writes,
`model = Sequential()` with `model.add(...)`, `model = Sequential([...])`, and the
functional API ending in `model = Model(inputs, outputs)`, into one `ModelDefinition`
that equivalents.py writes back in another form.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass, field

from ..exercise.model import WEIGHTED, Exercise, LayerSpec
from .source import ACTIVATION_CALLS, INPUT_CALLS, Code, CodeCell, Site, SourceError, argument, input_keywords


@dataclass
class LayerSite:
    """A declared layer and the solution's call that makes it."""

    spec: LayerSpec
    site: Site
    #: An Activation layer right after it that applies its activation, if the solution does so.
    activation: Site | None = None


def _counted(kind: str, exercise: Exercise) -> bool:
    if kind in ("Flatten", "Dropout"):
        return exercise.declares(kind)
    return kind in ("Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D")


def declared_layers(code: Code, exercise: Exercise) -> list[LayerSite]:
    """The solution's call for each declared layer, in order; SourceError when they cannot be matched."""
    every = code.layers()
    counted = [(position, site) for position, site in enumerate(every) if _counted(site.kind, exercise)]
    wanted = [layer.type for layer in exercise.layers]
    kinds = [site.kind for _, site in counted]
    for start in range(len(counted) - len(wanted), -1, -1):
        if kinds[start:start + len(wanted)] == wanted:
            window = counted[start:start + len(wanted)]
            break
    else:
        shown = ", ".join(kinds) or "none"
        raise SourceError(f"the solution's layer calls ({shown}) are not the exercise's "
                          f"({', '.join(wanted)}), in order")
    matched = []
    for number, (position, site) in enumerate(window):
        following = None
        end = window[number + 1][0] if number + 1 < len(window) else len(every)
        if site.kind in WEIGHTED:
            following = next((s for s in every[position + 1:end] if s.kind in ACTIVATION_CALLS), None)
        matched.append(LayerSite(exercise.layers[number], site, following))
    return matched


@dataclass
class InputShape:
    """Where the solution gives its model's input shape."""

    #: The call holding it: the first layer (`input_shape=`, `input_dim=`) or an Input / InputLayer.
    site: Site
    #: The expression to change for another shape (a keyword's value, or Input's shape).
    node: ast.expr
    #: The shape as an expression in the solution's own words, e.g. '(784,)'.
    text: str


def input_shape(code: Code, layers: list[LayerSite]) -> InputShape | None:
    """The input shape of the model whose layers are `layers`: given to the first layer, or by
    the Input layer closest before it."""
    first = layers[0].site
    for keyword in input_keywords(first.call):
        value = first.cell.text(keyword.value)
        if keyword.arg == "input_dim":
            return InputShape(first, keyword.value, f"({value},)")
        if keyword.arg in ("batch_input_shape", "batch_shape"):
            return InputShape(first, keyword.value, f"tuple({value})[1:]")
        return InputShape(first, keyword.value, value)
    before = [site for site in code.layers() if site.kind in INPUT_CALLS and site.position() < first.position()]
    if before:
        site = before[-1]
        shape = argument(site.call, "shape", site.kind) or argument(site.call, "input_shape", site.kind)
        if shape is not None:
            return InputShape(site, shape, site.cell.text(shape))
    return None


@dataclass
class ModelDefinition:
    """The statements that build the model, read as one definition."""

    #: The model's variable.
    name: str
    #: "add" (Sequential() and .add), "list" (Sequential([...])) or "functional".
    form: str
    #: The statement a new definition takes the place of.
    anchor: tuple[CodeCell, ast.stmt]
    #: The layer calls, in order, Input layers included for the Sequential forms.
    layers: list[Site] = field(default_factory=list)
    #: The other statements of the definition, removed when it is written in another form.
    others: list[tuple[CodeCell, ast.stmt]] = field(default_factory=list)


def _assigned_call(statement: ast.stmt) -> tuple[str, ast.Call] | None:
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and \
            isinstance(statement.targets[0], ast.Name) and isinstance(statement.value, ast.Call):
        return statement.targets[0].id, statement.value
    return None


def model_definition(code: Code, layers: list[LayerSite]) -> ModelDefinition:
    """How the model made of the declared `layers` is defined; SourceError for a form not read here."""
    first = layers[0].site
    definitions: list[ModelDefinition] = []
    for cell in code.parsed:
        assert cell.tree is not None
        for statement in cell.tree.body:
            assigned = _assigned_call(statement)
            if assigned is None:
                continue
            name, call = assigned
            callee = code.callee(call)
            if callee == "Sequential":
                definitions.append(_sequential(code, cell, statement, name, call))
            elif callee in ("Model", "Functional"):
                definition = _functional(code, cell, statement, name, call)
                if definition is not None:
                    definitions.append(definition)
    for definition in reversed(definitions):
        if any(site.call is first.call for site in definition.layers):
            return definition
    raise SourceError("the solution's model is not built in a form the proof can rewrite (a Sequential model "
                      "with add or a list of layers, or the functional API)")


def _sequential(code: Code, cell: CodeCell, statement: ast.stmt, name: str, call: ast.Call) -> ModelDefinition:
    given = argument(call, "layers", "Sequential") or (call.args[0] if call.args else None)
    if isinstance(given, (ast.List, ast.Tuple)) and given.elts:
        sites = [Site(cell, element, code.layer_kind(element) or "")
                 for element in given.elts if isinstance(element, ast.Call)]
        return ModelDefinition(name, "list", (cell, statement), sites)
    definition = ModelDefinition(name, "add", (cell, statement))
    started = False
    for later in code.parsed:
        assert later.tree is not None
        for other in later.tree.body:
            if later is cell and other is statement:
                started = True
                continue
            if not started:
                continue
            if _assigned_call(other) is not None and _assigned_call(other)[0] == name:  # type: ignore[index]
                return definition  # the name is bound to another model from here on
            added = _added_layer(other, name)
            if added is not None:
                definition.layers.append(Site(later, added, code.layer_kind(added) or ""))
                definition.others.append((later, other))
    return definition


def _added_layer(statement: ast.stmt, name: str) -> ast.Call | None:
    """The layer call of a statement `name.add(Layer(...))`."""
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call):
        call = statement.value
        if isinstance(call.func, ast.Attribute) and call.func.attr == "add" and \
                isinstance(call.func.value, ast.Name) and call.func.value.id == name and \
                len(call.args) == 1 and isinstance(call.args[0], ast.Call):
            return call.args[0]
    return None


def _functional(code: Code, cell: CodeCell, statement: ast.stmt, name: str,
                call: ast.Call) -> ModelDefinition | None:
    """A functional model: follow its outputs back through `t = Layer(...)(s)` statements (or
    nested applications) to an `Input(...)`."""
    outputs = argument(call, "outputs", "Model") or (call.args[1] if len(call.args) > 1 else None)
    if outputs is None:
        return None
    definition = ModelDefinition(name, "functional", (cell, statement))
    sites: list[Site] = []
    current: ast.expr = outputs
    where, before = cell, statement
    for _ in range(200):  # a chain of layers, not a graph: a bound on a malformed loop
        if isinstance(current, ast.Name):
            found = _assignment_before(code, current.id, where, before)
            if found is None:
                return None
            where, before, current = found
            definition.others.append((where, before))
            continue
        if isinstance(current, ast.Call) and isinstance(current.func, ast.Call) and code.layer_kind(current.func) \
                and len(current.args) == 1:
            sites.append(Site(where, current.func, code.layer_kind(current.func) or ""))
            current = current.args[0]
            continue
        if isinstance(current, ast.Call) and code.layer_kind(current) in INPUT_CALLS:
            sites.append(Site(where, current, code.layer_kind(current) or ""))
            definition.layers = list(reversed(sites))
            return definition
        return None
    return None


def _assignment_before(code: Code, name: str, cell: CodeCell,
                       statement: ast.stmt) -> tuple[CodeCell, ast.stmt, ast.expr] | None:
    found = None
    for candidate in code.parsed:
        if candidate.index > cell.index:
            break
        assert candidate.tree is not None
        for other in candidate.tree.body:
            if candidate is cell and other.lineno >= statement.lineno:
                break
            if isinstance(other, ast.Assign) and len(other.targets) == 1 and \
                    isinstance(other.targets[0], ast.Name) and other.targets[0].id == name:
                found = (candidate, other, other.value)
    return found
