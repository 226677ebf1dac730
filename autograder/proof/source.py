"""The solution's code as the proof rewrites it: each code cell parsed, the student's forms
found by their syntax, and edits made by position.

A mutant or an equivalent changes a few expressions or statements of the solution and
leaves every other character of it as written (its comments, its layout, its names), so
that it reads like a student's notebook with one difference. Each change is an `Edit`: a
span of one cell's source and the text that replaces it. A changed call is written back
with `ast.unparse`, so a layer or a `fit` keeps every argument the proof does not touch.

The forms are found in the syntax tree, whatever the student wrote: `model.add(Dense(...))`,
`Sequential([...])`, the functional API `Dense(...)(x)`; `Dense`, `layers.Dense`,
`keras.layers.Dense` or an imported alias; keyword or positional arguments. IPython's
`%magic` and `!shell` lines are hidden from the parser as comments of the same length,
so positions in a cell that has them stay true.
"""
from __future__ import annotations

import ast
import copy
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import nbformat

from ..exercise.model import LAYER_ALIASES, LAYER_TYPES

#: Keras layer classes the proof recognises, besides the declarable ones (LAYER_TYPES).
INPUT_CALLS = ("Input", "InputLayer")
ACTIVATION_CALLS = ("Activation", "ReLU", "Softmax", "LeakyReLU", "ELU", "PReLU")
OTHER_LAYERS = ("Reshape", "BatchNormalization", "GlobalAveragePooling2D", "GlobalMaxPooling2D")
#: Keyword arguments that give a layer its input shape (the first layer of a Sequential model).
INPUT_KEYWORDS = ("input_shape", "input_dim", "batch_input_shape", "batch_shape")

#: Where each argument goes when it is given by position, per callee (Keras 3's signatures).
POSITIONS: dict[str, dict[str, int]] = {
    "Dense": {"units": 0, "activation": 1},
    "Conv2D": {"filters": 0, "kernel_size": 1, "strides": 2, "padding": 3, "data_format": 4,
               "dilation_rate": 5, "groups": 6, "activation": 7},
    "MaxPooling2D": {"pool_size": 0, "strides": 1, "padding": 2},
    "AveragePooling2D": {"pool_size": 0, "strides": 1, "padding": 2},
    "Dropout": {"rate": 0},
    "Flatten": {},
    "Activation": {"activation": 0},
    "Input": {"shape": 0},
    "InputLayer": {"shape": 0},
    "compile": {"optimizer": 0, "loss": 1, "loss_weights": 2, "metrics": 3},
    "fit": {"x": 0, "y": 1, "batch_size": 2, "epochs": 3, "verbose": 4, "callbacks": 5,
            "validation_split": 6, "validation_data": 7},
    "evaluate": {"x": 0, "y": 1, "batch_size": 2},
}

_MAGIC = re.compile(r"^([ \t]*)[%!]", re.MULTILINE)


class SourceError(ValueError):
    """The solution's code does not have the form a change needs; the message says what is missing."""


def masked(source: str) -> str:
    """The cell with IPython's magic and shell lines turned into comments of the same length."""
    return _MAGIC.sub(lambda match: match.group(1) + "#", source)


def parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(masked(source))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


@dataclass
class CodeCell:
    """One code cell: its index in the notebook's `cells`, its source and syntax tree (None
    when Python cannot parse it: it is then left as it is)."""

    index: int
    source: str
    tree: ast.Module | None
    line_starts: list[int] = field(default_factory=list)
    parents: dict[int, ast.AST] = field(default_factory=dict)

    def __post_init__(self) -> None:
        starts = [0]
        for line in self.source.splitlines(keepends=True):
            starts.append(starts[-1] + len(line))
        self.line_starts = starts
        if self.tree is not None:
            for parent in ast.walk(self.tree):
                for child in ast.iter_child_nodes(parent):
                    self.parents[id(child)] = parent

    def offset(self, line: int, column: int) -> int:
        """The character offset of an AST position (`column` counts UTF-8 bytes)."""
        start = self.line_starts[line - 1]
        text = self.source[start:self.line_starts[line] if line < len(self.line_starts) else len(self.source)]
        return start + len(text.encode("utf-8")[:column].decode("utf-8", errors="ignore"))

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),  # type: ignore[attr-defined]
                self.offset(node.end_lineno, node.end_col_offset))  # type: ignore[attr-defined]

    def text(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.source[start:end]

    def parent(self, node: ast.AST) -> ast.AST | None:
        return self.parents.get(id(node))

    def statement(self, node: ast.AST) -> ast.stmt:
        """The innermost statement holding `node`."""
        current: ast.AST | None = node
        while current is not None and not isinstance(current, ast.stmt):
            current = self.parent(current)
        if current is None:
            raise SourceError("a call outside any statement")
        return current

    def indent(self, statement: ast.stmt) -> str:
        start = self.line_starts[statement.lineno - 1]
        line = self.source[start:self.offset(statement.lineno, statement.col_offset)]
        return line if not line.strip() else " " * len(line)


@dataclass(frozen=True)
class Edit:
    """Replace characters `start`..`end` of notebook cell `cell` with `text`."""

    cell: int
    start: int
    end: int
    text: str


def apply(notebook: nbformat.NotebookNode, edits: list[Edit]) -> nbformat.NotebookNode:
    """A copy of the notebook with the edits made; SourceError when two of them overlap."""
    changed = copy.deepcopy(notebook)
    by_cell: dict[int, list[Edit]] = {}
    for edit in edits:
        by_cell.setdefault(edit.cell, []).append(edit)
    for index, cell_edits in by_cell.items():
        source = changed.cells[index].source
        ordered = sorted(cell_edits, key=lambda e: (e.start, e.end))
        for before, after in zip(ordered, ordered[1:]):
            if after.start < before.end or (after.start == before.end == after.end == before.start):
                raise SourceError("two changes of one mutant touch the same code")
        for edit in reversed(ordered):
            source = source[:edit.start] + edit.text + source[edit.end:]
        changed.cells[index].source = source
    return changed


def replace(cell: CodeCell, node: ast.AST, text: str) -> Edit:
    start, end = cell.span(node)
    return Edit(cell.index, start, end, text)


def remove_statement(cell: CodeCell, statement: ast.stmt) -> Edit:
    """Delete a statement: its whole lines when it stands alone on them, else `pass` in its place."""
    start, end = cell.span(statement)
    line_start = cell.line_starts[statement.lineno - 1]
    last_line = statement.end_lineno or statement.lineno
    line_end = cell.line_starts[last_line] if last_line < len(cell.line_starts) else len(cell.source)
    alone = not cell.source[line_start:start].strip() and not cell.source[end:line_end].strip()
    block = cell.parent(statement)
    body = getattr(block, "body", None) if block is not None else None
    if alone and not (isinstance(body, list) and len(body) == 1 and not isinstance(block, ast.Module)):
        return Edit(cell.index, line_start, line_end, "")
    return Edit(cell.index, start, end, "pass")


def insert_after(cell: CodeCell, statement: ast.stmt, lines: list[str]) -> Edit:
    """New statements after `statement`, at its indentation."""
    _, end = cell.span(statement)
    indent = cell.indent(statement)
    return Edit(cell.index, end, end, "".join("\n" + indent + line for line in lines))


def insert_before(cell: CodeCell, statement: ast.stmt, lines: list[str]) -> Edit:
    start, _ = cell.span(statement)
    indent = cell.indent(statement)
    return Edit(cell.index, start, start, "".join(line + "\n" + indent for line in lines))


def expression(text: str) -> ast.expr:
    return ast.parse(text, mode="eval").body


# --- calls and their arguments --------------------------------------------------------


def argument(call: ast.Call, name: str, kind: str) -> ast.expr | None:
    """The argument `name` of a call to `kind` (see POSITIONS), given by keyword or position."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    position = POSITIONS.get(kind, {}).get(name)
    if position is not None and position < len(call.args) and \
            not any(isinstance(a, ast.Starred) for a in call.args[:position + 1]):
        return call.args[position]
    return None


def with_arguments(call: ast.Call, kind: str, changes: dict[str, ast.expr | None]) -> ast.Call:
    """A copy of the call with arguments set (an expression) or removed (None): a keyword
    argument in place, a positional one in place (removed: dropped when last, else None,
    Keras' default), an argument not given as a new keyword."""
    changed = copy.deepcopy(call)
    positions = POSITIONS.get(kind, {})
    for name, value in changes.items():
        keyword = next((k for k in changed.keywords if k.arg == name), None)
        position = positions.get(name)
        if keyword is not None:
            if value is None:
                changed.keywords.remove(keyword)
            else:
                keyword.value = copy.deepcopy(value)
        elif position is not None and position < len(changed.args) and \
                not any(isinstance(a, ast.Starred) for a in changed.args[:position + 1]):
            if value is not None:
                changed.args[position] = copy.deepcopy(value)
            elif position == len(changed.args) - 1:
                changed.args.pop()
            else:
                changed.args[position] = ast.Constant(None)
        elif value is not None:
            changed.keywords.append(ast.keyword(arg=name, value=copy.deepcopy(value)))
    return changed


def without_input(call: ast.Call) -> ast.Call:
    """A copy of a layer call without the keyword arguments that give it an input shape."""
    changed = copy.deepcopy(call)
    changed.keywords = [k for k in changed.keywords if k.arg not in INPUT_KEYWORDS]
    return changed


def input_keywords(call: ast.Call) -> list[ast.keyword]:
    return [k for k in call.keywords if k.arg in INPUT_KEYWORDS]


def unparse(node: ast.AST) -> str:
    return ast.unparse(ast.fix_missing_locations(node))


# --- the notebook's code -------------------------------------------------------------


@dataclass
class Site:
    """One call in the solution: the cell it is in, the call, and the class or method it calls."""

    cell: CodeCell
    call: ast.Call
    kind: str

    @property
    def text(self) -> str:
        return self.cell.text(self.call)

    def position(self) -> tuple[int, int, int]:
        return (self.cell.index, self.call.lineno, self.call.col_offset)


class Code:
    """The solution's code cells, parsed, with what the proof looks for in them."""

    def __init__(self, notebook: nbformat.NotebookNode):
        self.notebook = notebook
        self.cells = [CodeCell(index, cell.source, parse(cell.source))
                      for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
        self.aliases: dict[str, str] = {}  # `from keras.layers import Dense as D`: D -> Dense
        for cell in self.parsed:
            assert cell.tree is not None
            for node in ast.walk(cell.tree):
                if isinstance(node, ast.ImportFrom):
                    for alias in node.names:
                        if alias.asname:
                            self.aliases[alias.asname] = alias.name

    def imported_from(self, name: str) -> str | None:
        """The module a name was imported from (`from keras.layers import Dense` -> 'keras.layers')."""
        for cell in self.parsed:
            assert cell.tree is not None
            for node in ast.walk(cell.tree):
                if isinstance(node, ast.ImportFrom) and node.module and \
                        any((alias.asname or alias.name) == name for alias in node.names):
                    return node.module
        return None

    @property
    def parsed(self) -> list[CodeCell]:
        return [cell for cell in self.cells if cell.tree is not None]

    def callee(self, call: ast.Call) -> str | None:
        """The class or function a call calls, by its own name: `layers.Dense(...)` -> 'Dense'."""
        func = call.func
        if isinstance(func, ast.Name):
            return self.aliases.get(func.id, func.id)
        if isinstance(func, ast.Attribute):
            return func.attr
        return None

    def layer_kind(self, call: ast.Call) -> str | None:
        """The Keras layer class a call constructs ('MaxPool2D' read as 'MaxPooling2D'), or None."""
        name = self.callee(call)
        if name is None:
            return None
        name = LAYER_ALIASES.get(name, name)
        if name in LAYER_TYPES or name in INPUT_CALLS or name in ACTIVATION_CALLS or name in OTHER_LAYERS:
            return name
        return None

    def layers(self) -> list[Site]:
        """Every layer constructed, in the order the model applies them (the functional API's
        `Dense(3)(Dense(10)(x))` applies the inner layer first)."""
        found: list[Site] = []
        for cell in self.parsed:
            assert cell.tree is not None
            for node in _applied_order(cell.tree, self):
                kind = self.layer_kind(node)
                if kind is not None:
                    found.append(Site(cell, node, kind))
        return found

    def method_calls(self, method: str) -> list[Site]:
        """Calls of `.method(...)` on anything (`model.fit`, `net.fit`), in notebook order."""
        found = []
        for cell in self.parsed:
            assert cell.tree is not None
            for node in ast.walk(cell.tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == method:
                    found.append(Site(cell, node, method))
        return sorted(found, key=Site.position)

    def names(self) -> set[str]:
        """Every identifier the code uses: a new name must be none of these."""
        used: set[str] = set()
        for cell in self.parsed:
            assert cell.tree is not None
            for node in ast.walk(cell.tree):
                if isinstance(node, ast.Name):
                    used.add(node.id)
                elif isinstance(node, ast.arg):
                    used.add(node.arg)
                elif isinstance(node, ast.alias):
                    used.add((node.asname or node.name).split(".")[0])
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    used.add(node.name)
        return used

    def fresh(self, wanted: str, taken: set[str] | None = None) -> str:
        used = self.names() | (taken or set())
        if wanted not in used:
            return wanted
        number = 2
        while f"{wanted}_{number}" in used:
            number += 1
        return f"{wanted}_{number}"

    def last_assignment(self, name: str, before: Site) -> tuple[CodeCell, ast.stmt, ast.expr] | None:
        """The last top-level statement before `before` that assigns `name`, and the value it assigns."""
        found = None
        for cell in self.parsed:
            if cell.index > before.cell.index:
                break
            assert cell.tree is not None
            for statement in cell.tree.body:
                if cell.index == before.cell.index and statement.lineno >= before.call.lineno:
                    break
                value = assigned_value(statement, name)
                if value is not None:
                    found = (cell, statement, value)
        return found


def assigned_value(statement: ast.stmt, name: str) -> ast.expr | None:
    """What `statement` assigns to `name` (`a = v`, `a, b = v, w`), or None."""
    if not isinstance(statement, ast.Assign):
        return None
    for target in statement.targets:
        if isinstance(target, ast.Name) and target.id == name:
            return statement.value
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(statement.value, (ast.Tuple, ast.List)) and \
                len(target.elts) == len(statement.value.elts):
            for element, value in zip(target.elts, statement.value.elts):
                if isinstance(element, ast.Name) and element.id == name:
                    return value
    return None


def _applied_order(tree: ast.AST, code: Code) -> Iterator[ast.Call]:
    """The calls under `tree` in the order their layers are applied: source order, except that in
    `Layer(...)(x)` the layers of `x` come before the layer."""
    def visit(node: ast.AST) -> Iterator[ast.Call]:
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Call) and code.layer_kind(node.func):
            for argument_node in [*node.args, *node.keywords]:
                yield from visit(argument_node)
            yield from visit(node.func)
            return
        if isinstance(node, ast.Call):
            yield node
        for child in ast.iter_child_nodes(node):
            yield from visit(child)

    yield from visit(tree)


def changed_lines(before: nbformat.NotebookNode, after: nbformat.NotebookNode, limit: int = 40) -> list[str]:
    """The lines a variant changed, as a diff ('-' removed, '+' added), at most `limit` of them."""
    lines: list[str] = []
    for old, new in zip(before.cells, after.cells):
        if old.source != new.source:
            lines += [line for line in difflib.unified_diff(old.source.splitlines(), new.source.splitlines(),
                                                            lineterm="", n=0)
                      if not line.startswith(("---", "+++", "@@"))]
    return lines[:limit] + ([f"({len(lines) - limit} more lines)"] if len(lines) > limit else [])
