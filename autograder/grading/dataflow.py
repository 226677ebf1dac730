"""The data-flow of names across a notebook's cells: where each name is defined and used.

A mistake often raises nothing where it is made: `trian_data_1d = ...` runs, and only the later
`model.fit(train_data_1d, ...)` fails. Reading the cells' code tells where a name the failing
line uses was defined, or defined under another spelling; the cause analysis (causes.py) and the
checks' words (phrasing.py) then point at that place rather than at the line that failed.

The code is the student's: it is parsed, never run, within the bounds below. A cell Python
cannot parse (the student's syntax error) is read line by line, so that the names it would have
defined are still known.
"""
from __future__ import annotations

import ast
import builtins
import difflib
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: `grade` finishes submissions on several threads, and CPython 3.11's AST conversion keeps its
#: recursion depth per interpreter, not per thread: two parses at once failed one of them with
#: "SystemError: AST constructor recursion depth mismatch" (seen in CI on a class of 57), so a
#: submission became an internal error. One parse at a time.
PARSING = threading.Lock()

#: The most code the grader parses for names, per cell and per notebook. The parse is the grader's
#: own work on the student's text, and a 4 MiB cell of `a=1` lines took it 2.6 GB and 28 s (a
#: notebook may hold 20 MiB), while a lesson's cells are a few KB. Cells beyond are not read.
MAX_PARSED_CELL = 64 * 1024
MAX_PARSED_NOTEBOOK = 512 * 1024
#: How alike two names must be (difflib's ratio) to be offered as one misspelt for the other.
CLOSE = 0.75
#: The targets of `name = ...`, `a, b = ...` on a line that does not parse on its own.
_TARGETS = re.compile(r"[A-Za-z_(\[][\w\s,()\[\]]*")
#: The longest line read for names when its cell does not parse (the student's text: bounded work).
MAX_LINE = 1000
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_BUILTINS = frozenset(dir(builtins))


@dataclass
class CellNames:
    """The names one cell defines and uses, each with its lines."""

    #: Each name the cell binds, with the first line that binds it.
    defined: dict[str, int] = field(default_factory=dict)
    #: Each name the cell binds, with every line that binds it.
    bound: dict[str, list[int]] = field(default_factory=dict)
    #: Each name the cell reads, with every line that reads it.
    used: dict[str, list[int]] = field(default_factory=dict)
    #: Whether Python could parse the whole cell (False: read line by line, or not at all).
    parsed: bool = True

    def bind(self, name: str, line: int) -> None:
        self.defined.setdefault(name, line)
        self.bound.setdefault(name, []).append(line)


def _collect(tree: ast.AST, names: CellNames, line_offset: int = 0) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            line = node.lineno + line_offset
            if isinstance(node.ctx, ast.Store):
                names.bind(node.id, line)
            elif isinstance(node.ctx, ast.Load):
                names.used.setdefault(node.id, []).append(line)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                if name != "*":
                    names.bind(name, node.lineno + line_offset)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.bind(node.name, node.lineno + line_offset)


class _TooDeep(Exception):
    """Code nested too deeply for the parser: not read at all."""


def _parse(source: str) -> ast.AST | None:
    """The code's tree, None when it is not valid Python; _TooDeep when it is too deep to read."""
    try:
        with PARSING:
            return ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    except (RecursionError, MemoryError):
        # A cell Python cannot parse is the student's to fix (the kernel failed it the same
        # way), not the grader's fault: `1 + 1 + ...` 150,000 terms long ends in RecursionError.
        raise _TooDeep from None


def parse_line(text: str) -> ast.AST | None:
    """One line of the student's code as a tree, or None (too long to read, or not valid Python)."""
    if len(text) > MAX_LINE:
        return None
    try:
        return _parse(text.strip())
    except _TooDeep:
        return None


def _assigned(text: str) -> list[str]:
    """The names a line assigns, read without parsing it: `a, b = ...` gives a and b."""
    if len(text) > MAX_LINE:
        return []
    head, equals, tail = text.partition("=")
    if not equals or tail.startswith("=") or head.rstrip()[-1:] in tuple("!<>+-*/%&|^:@") or not \
            _TARGETS.fullmatch(head.strip()):
        return []
    return _IDENTIFIER.findall(head)


def cell_names(source: str | None) -> CellNames:
    """The names a cell defines and uses; line by line when the cell does not parse as a whole."""
    if source is None:
        return CellNames(parsed=False)  # too long to read: as if it could not be parsed
    names = CellNames()
    try:
        tree = _parse(source)
    except _TooDeep:
        return CellNames(parsed=False)
    if tree is not None:
        _collect(tree, names)
        return names
    names.parsed = False
    for number, text in enumerate(source.splitlines(), start=1):
        stripped = text.strip()
        if not stripped or stripped.startswith(("#", "%", "!")):
            continue
        line_tree = parse_line(stripped)
        if line_tree is not None:
            _collect(line_tree, names, number - 1)
            continue
        for name in _assigned(text):  # the first line of a statement spread over several
            names.bind(name, number)
    return names


def parsed_sources(cells: Iterable[Mapping]) -> dict[int, str | None]:
    """Each cell's source, or None once it or the notebook so far is over the parsing bounds."""
    sources: dict[int, str | None] = {}
    total = 0
    for cell in cells:
        source = cell["source"]
        total += len(source)
        sources[cell["index"]] = source if len(source) <= MAX_PARSED_CELL and total <= MAX_PARSED_NOTEBOOK else None
    return sources


def typo_distance(a: str, b: str) -> int:
    """Edits between two spellings, a swap of two neighbouring letters counting as one (the optimal
    string alignment distance): `trian` is one from `train`, `fashon` one from `fashion`."""
    previous_row: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous_row, row = previous_row, row, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(previous_row[j] + 1, row[j - 1] + 1, previous_row[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], before[j - 2] + 1)
    return row[len(b)]


def typo_of(name: str, other: str) -> bool:
    """Whether two names are one name misspelt (at most two slips, or one letter's case), not two names
    of their own: `train_data` and `train_data_1d` are the images and their flat copy."""
    if name.lower() == other.lower():
        return True
    shorter, longer = sorted((name, other), key=len)
    if longer.startswith(shorter) or longer.endswith(shorter):
        return len(longer) - len(shorter) == 1 and shorter[-1:].isalpha()
    return typo_distance(name, other) <= (1 if min(len(name), len(other)) <= 4 else 2)


@dataclass(frozen=True)
class Place:
    """A line of a cell."""

    cell: int
    line: int


@dataclass(frozen=True)
class Misspelling:
    """A name used but never defined, and the name the notebook defines instead."""

    #: The name as the failing line spells it.
    used: str
    #: The spelling the notebook defines.
    defined: str
    #: Where `defined` is defined.
    definition: Place
    #: True when the definition is the mistake (its spelling is read less often than the other):
    #: rename the definition; False when the use is (write `defined` there).
    at_definition: bool
    #: The lines that read the used spelling.
    uses: tuple[Place, ...]


class NameFlow:
    """The names of every cell of a notebook, in notebook (or execution) order."""

    def __init__(self, cells: Iterable[Mapping]):
        cells = list(cells)
        self.order = [cell["index"] for cell in cells]
        self.sources = parsed_sources(cells)
        self.cells = {index: cell_names(source) for index, source in self.sources.items()}

    @property
    def ever_defined(self) -> set[str]:
        return {name for names in self.cells.values() for name in names.defined}

    @property
    def identifiers(self) -> set[str]:
        """Every variable name the student's code mentions (defined or read), without builtins."""
        found = {name for names in self.cells.values() for name in (*names.defined, *names.used)}
        return found - _BUILTINS

    def definitions(self, name: str) -> list[Place]:
        return [Place(index, names.defined[name]) for index, names in self.cells.items() if name in names.defined]

    def uses(self, name: str) -> list[Place]:
        return [Place(index, line) for index, names in self.cells.items() for line in names.used.get(name, [])]

    def defined_before(self, name: str, cell: int, line: int | None = None) -> Place | None:
        """The last definition of `name` above a line (earlier cells, or earlier in the same cell)."""
        found = None
        for index in self.order:
            names = self.cells.get(index)
            if names is None or index > cell:
                break
            lines = [n for n in names.bound.get(name, []) if index < cell or (line is not None and n < line)]
            if lines:
                found = Place(index, max(lines))
        return found

    def close_names(self, name: str, among: Iterable[str] | None = None) -> list[str]:
        """Names of the student's code spelt like `name`, most alike first; never a name the notebook
        does not hold."""
        candidates = sorted(set(among if among is not None else self.identifiers) - {name} - _BUILTINS)
        return difflib.get_close_matches(name, candidates, n=3, cutoff=CLOSE)

    def misspelling(self, name: str, cell: int, line: int | None) -> Misspelling | None:
        """`name` is read at (cell, line) but never defined: the name defined above it that is spelt
        alike, and which of the two spellings is the mistake (the one read less often)."""
        defined_above = [candidate for candidate in self.ever_defined
                         if self.defined_before(candidate, cell, line) is not None and typo_of(name, candidate)]
        for candidate in self.close_names(name, defined_above):
            definition = self.defined_before(candidate, cell, line)
            if definition is None:
                continue
            uses = tuple(self.uses(name))
            read_elsewhere = [place for place in self.uses(candidate) if place != definition]
            return Misspelling(name, candidate, definition, at_definition=len(read_elsewhere) < len(uses), uses=uses)
        return None


_LAST: tuple[tuple[tuple[int, str], ...], NameFlow] | None = None


def flow_of(cells: Iterable[Mapping]) -> NameFlow:
    """The NameFlow of these cells, kept for the next call on the same cells: the checks' words ask
    for it once per failed check, and a notebook's parse is the slow part."""
    global _LAST
    cells = list(cells)
    key = tuple((cell["index"], cell["source"]) for cell in cells)
    last = _LAST
    if last is not None and last[0] == key:
        return last[1]
    flow = NameFlow(cells)
    _LAST = (key, flow)
    return flow
