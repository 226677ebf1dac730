"""The base code of an exercise: what every student has without having seen anyone else's work.

As MOSS's base files, it is subtracted before submissions are compared:
- the lesson's code, as printed, with its usual variants and mistakes, and the public tutorials
  students borrow from (commonplace.py);
- the exercise's own expected code, written from its exercise file (the units, loss, optimizer,
  epochs... an instructor's exercise asks for), so that a custom exercise's right answer is base;
- for a built-in exercise, its released notebook and its solution (exercises/ and solutions/ of
  the project, shipped inside the package as released.json: scripts/similarity_base.py writes it
  again, and tests/test_similarity.py checks that it is current);
- whatever the instructor gives with `grade --base FILE` (the released notebook of a custom
  exercise, starter code; notebooks or .py files): its code, its cells' ids, its text and
  the stored outputs it came with.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ..errors import UsageError
from ..exercise.registry import Exercise
from . import commonplace, forensics, text
from .fingerprint import Base
from .normalise import read_code
from .reading import Cell, ReadNotebook, Unreadable, read

RELEASED = "released.json"
LESSON_PRIORITY, VARIANT_PRIORITY = 0.5, 0.25
#: The project's folders whose notebooks released.json holds (relative to the project's root).
RELEASED_FOLDERS = ("exercises", "solutions", "examples")


@dataclass
class ExerciseBase:
    """Everything subtracted before one exercise's submissions are compared."""

    code: Base = field(default_factory=Base)
    cell_ids: set[str] = field(default_factory=set)
    prose: set[int] = field(default_factory=set)  # text.py's shingles
    #: forensics.py's features of the base notebooks (an instructor's released notebook may come
    #: with its own run's outputs, times and ids, which every student then has)
    records: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class GivenBase:
    """A file the instructor gave as base code (`grade --base`), read."""

    path: str
    notebook: ReadNotebook


def read_given(paths: list[str]) -> list[GivenBase]:
    """The instructor's base files; UsageError with a one-line reason for one that cannot be read."""
    given = []
    for path in paths:
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            raise UsageError(f"--base {path}: cannot be read ({error.strerror or error})") from None
        if path.endswith(".py"):
            try:
                source = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise UsageError(f"--base {path}: not UTF-8 text") from None
            notebook = ReadNotebook([Cell(0, "code", "", source)])
        else:
            try:
                notebook = read(raw)
            except Unreadable as error:
                raise UsageError(f"--base {path}: {error} (give a notebook, .ipynb, or Python code, .py)") from None
        given.append(GivenBase(path, notebook))
    return given


def exercise_code(exercise: Exercise) -> str:
    """The code an exercise asks for, written as the lesson writes it."""
    lines = ["model = Sequential()"]
    for number, layer in enumerate(exercise.layers):
        arguments = []
        if layer.type == "Dense":
            arguments.append(str(layer.units))
        elif layer.type == "Conv2D":
            size = layer.kernel_size or (3, 3)
            arguments += [str(layer.filters), f"kernel_size={size[0] if size[0] == size[1] else size}"]
        elif layer.type in ("MaxPooling2D", "AveragePooling2D"):
            size = layer.pool_size or (2, 2)
            arguments.append(str(size[0] if size[0] == size[1] else size))
        elif layer.type == "Dropout":
            arguments.append(repr(layer.rate))
        if number == 0:
            arguments.append(f"input_shape={tuple(exercise.input_shape)!r}")
        if layer.activation and layer.activation != "linear":
            arguments.append(f"activation={layer.activation!r}")
        lines.append(f"model.add({layer.type}({', '.join(arguments)}))")
    flat = "train_data_1d" if len(exercise.input_shape) == 1 else "train_data"
    test = "test_data_1d" if len(exercise.input_shape) == 1 else "test_data"
    lines += [f"model.compile(loss={exercise.loss!r}, optimizer={exercise.optimizer!r}, "
              f"metrics={list(exercise.metrics)!r})",
              f"model.fit({flat}, train_labels, epochs={exercise.epochs}, batch_size={exercise.batch_size}, "
              f"validation_split={exercise.validation_split!r})",
              f"history = model.fit({flat}, train_labels, epochs={exercise.epochs}, "
              f"batch_size={exercise.batch_size}, validation_split={exercise.validation_split!r})",
              f"model.evaluate({test}, test_labels, batch_size={exercise.batch_size})"]
    return "\n".join(lines) + "\n"


def released_cells(exercise_id: str) -> list[dict]:
    """The cells of a built-in exercise's released notebook and solution, as shipped."""
    shipped = json.loads(resources.files(__package__).joinpath(RELEASED).read_text(encoding="utf-8"))
    return shipped.get(exercise_id, []) + shipped.get("*", [])


def build(exercise: Exercise | None, given: list[GivenBase]) -> ExerciseBase:
    """The base of one exercise: built in, written from its exercise file, and given."""
    base = ExerciseBase()
    cells: list[Cell] = []
    sources = [*commonplace.LESSON, *commonplace.SNIPPETS, *commonplace.TUTORIALS]
    if exercise is not None:
        sources.append(exercise_code(exercise))
        for number, cell in enumerate(released_cells(exercise.id)):
            cells.append(Cell(number, cell["cell_type"], cell["id"], cell["source"]))
    for item in given:
        cells.extend(item.notebook.cells)
    # How much each source's variables say what a student's are (fingerprint.translation).
    priorities = [LESSON_PRIORITY] * len(commonplace.LESSON)
    priorities += [VARIANT_PRIORITY] * (len(commonplace.SNIPPETS) + len(commonplace.TUTORIALS))
    priorities += [1.0] * (len(sources) - len(priorities))
    code_cells = [(number, source) for number, source in enumerate(sources)]
    code_cells += [(len(sources) + number, cell.source) for number, cell in enumerate(cells) if cell.kind == "code"]
    code = read_code(code_cells)
    for statement in sorted(code.statements, key=lambda s: -_priority(priorities, s.cell)):
        base.code.add(statement.tokens, _priority(priorities, statement.cell))
    base.cell_ids = {cell.id for cell in cells if cell.id}
    words = [body for _, body in code.prose] + commonplace.COMMENTS.splitlines()
    words += [cell.source for cell in cells if cell.kind != "code"]
    base.prose = text.shingles_of(words)
    base.records = {key for cell in cells for key, _ in forensics.cell_features(cell)}
    return base


def _priority(priorities: list[float], cell: int) -> float:
    return priorities[cell] if cell < len(priorities) else 1.0


def released_from(root: Path) -> dict[str, list[dict]]:
    """What released.json holds: the cells of the project's released notebooks and solutions, by
    exercise; a notebook that names no exercise (the lesson as printed) under "*"."""
    found: dict[str, list[dict]] = {}
    for folder in RELEASED_FOLDERS:
        for path in sorted((root / folder).glob("*.ipynb")):
            notebook = json.loads(path.read_text(encoding="utf-8"))
            exercise = (notebook.get("metadata", {}).get("autograder", {}) or {}).get("exercise") \
                if folder != "examples" else None
            cells = found.setdefault(exercise or "*", [])
            for cell in notebook["cells"]:
                entry = {"cell_type": cell["cell_type"], "id": cell.get("id", ""),
                         "source": "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]}
                if entry not in cells:
                    cells.append(entry)
    return found


def render_released(root: Path) -> str:
    return json.dumps(released_from(root), indent=1, sort_keys=True, ensure_ascii=False) + "\n"

