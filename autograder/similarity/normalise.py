"""Code cells made into normalised statements, so that formatting never counts.

Each cell is parsed (IPython's magics and shell lines set aside), keyword arguments are put in
one order, and every statement is printed back by `ast.unparse`: spaces, line breaks, brackets,
quotes and comments no longer differ. A statement becomes a tuple of tokens in which the
student's own variables are marked (`$name`), so that a later stage can rename them
(fingerprint.py); names the student did not bind (Keras' and NumPy's, attributes, keyword
names) stay as they are. A compound statement (def, for, if, with...) is its header; the
statements of its body follow as statements of their own.

A cell Python cannot parse is read line by line with a tolerant tokenizer instead. Comments,
docstrings and the text of string literals are kept apart as prose (text.py compares them).
"""
from __future__ import annotations

import ast
import copy
import functools
import io
import keyword
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..grading.dataflow import (
    PARSING,  # CPython 3.11 parses one AST per interpreter at a time (see grading/dataflow.py)
)

#: The most code parsed per cell and per notebook (half the grader's own parse, grading/causes.py: a
#: lesson's notebook has a few KB): beyond, cells are read by the line tokenizer only (the first
#: MAX_PARSED_CELL characters), and at most MAX_STATEMENTS statements are kept.
MAX_PARSED_CELL = 64 * 1024
MAX_PARSED_NOTEBOOK = 256 * 1024
MAX_STATEMENTS = 1000
MAX_TOKENS = 200  # of one statement; a longer one is cut (a 10,000-element list literal)
CACHED_CELL = 8 * 1024  # cells up to this size are read once per class, however many notebooks have them
VARIABLE = "$"  # prefix of a token that is one of the student's own variables


@dataclass
class Statement:
    tokens: tuple[str, ...]
    cell: int  # the cell's index in the notebook
    first: int  # 1-based lines of the cell the statement spans
    last: int


@dataclass
class Code:
    """A notebook's code as the comparison sees it."""

    statements: list[Statement] = field(default_factory=list)
    bound: set[str] = field(default_factory=set)  # names the notebook's code binds
    defined: set[str] = field(default_factory=set)  # names of the functions and classes it defines at the top
    methods: set[str] = field(default_factory=set)  # names of methods its classes define (Keras' hooks)
    prose: list[tuple[int, str]] = field(default_factory=list)  # (cell, text) of comments and strings


@dataclass(frozen=True)
class _Raw:
    """A statement's tokens before variables are marked, and the positions that are names a
    notebook may bind (not attributes, keyword names or Python's keywords)."""

    tokens: tuple[str, ...]
    names: frozenset[int]
    first: int
    last: int


@dataclass(frozen=True)
class CellCode:
    """One cell's code, read: the same whatever the rest of the notebook holds, so a class's
    many identical cells (the released notebook's, the lesson's) are read once (`read_cell`)."""

    statements: tuple[_Raw, ...]
    bound: frozenset[str]
    defined: frozenset[str]
    methods: frozenset[str]
    prose: tuple[str, ...]


_MAGIC = re.compile(r"^\s*(%|!|\?)|^\s*\w[\w.]*\?\??\s*$")
_TIMING_MAGIC = re.compile(r"\s*%%(time|timeit|capture|prun)\b")


def _without_magics(source: str) -> tuple[str, list[_Raw]]:
    """The cell with IPython's magic and shell lines blanked (line numbers kept); each becomes a
    statement of two tokens, MAGIC and its text. A cell magic (%%time) blanks its own line;
    %%bash and the like turn the whole cell into such lines."""
    lines = source.split("\n")
    whole_cell = bool(lines) and lines[0].lstrip().startswith("%%") and not _TIMING_MAGIC.match(lines[0])
    kept, magics = [], []
    for number, line in enumerate(lines, 1):
        if whole_cell or _MAGIC.match(line):
            text = " ".join(line.split())
            if text:
                magics.append(_Raw(("MAGIC", text), frozenset(), number, number))
            kept.append("")
        else:
            kept.append(line)
    return "\n".join(kept), magics


class _Canonical(ast.NodeTransformer):
    """One way to write what can be written several: keyword arguments in one order (by name;
    **kwargs last), so `fit(x, y, epochs=10, batch_size=10)` is `fit(x, y, batch_size=10,
    epochs=10)`; and an assignment of several names at once, `a, b = x, y`, as one per name."""

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        node.keywords.sort(key=lambda k: (k.arg is None, k.arg or ""))
        return node

    def visit_Assign(self, node: ast.Assign) -> ast.stmt | list[ast.stmt]:
        self.generic_visit(node)
        target, value = node.targets[0], node.value
        if (len(node.targets) == 1 and isinstance(target, (ast.Tuple, ast.List))
                and isinstance(value, (ast.Tuple, ast.List)) and len(target.elts) == len(value.elts)
                and not any(isinstance(e, ast.Starred) for e in (*target.elts, *value.elts))):
            return [ast.copy_location(ast.Assign(targets=[name], value=part), node)
                    for name, part in zip(target.elts, value.elts)]
        return node


_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")


def _header(node: ast.stmt) -> str:
    """A compound statement's own line(s): the statement printed with every body emptied."""
    shell = copy.copy(node)
    for name in _BODIES:
        if isinstance(getattr(shell, name, None), list) and getattr(shell, name):
            setattr(shell, name, [] if name in ("handlers", "cases") else [ast.Pass()])
    text = ast.unparse(shell)
    return "\n".join(line for line in text.split("\n") if line.strip() not in ("pass", ""))


def _children(node: ast.stmt) -> list[ast.stmt]:
    found: list[ast.stmt] = []
    for name in _BODIES:
        value = getattr(node, name, None)
        if isinstance(value, list):
            for child in value:
                if isinstance(child, ast.stmt):
                    found.append(child)
                elif isinstance(child, (ast.ExceptHandler, ast.match_case)):
                    found.extend(child.body)
    return found


def _is_compound(node: ast.stmt) -> bool:
    return any(isinstance(getattr(node, name, None), list) and getattr(node, name) for name in _BODIES)


_SKIPPED = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER,
            tokenize.ENCODING)
_FSTRING = tuple(getattr(tokenize, name) for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
                 if hasattr(tokenize, name))  # Python 3.12 splits f-strings into pieces


def _raw_tokens(text: str) -> tuple[tuple[str, ...], frozenset[int]]:
    """The tokens of printed code (numbers as values, strings as printed) and which are names a
    notebook may bind: attribute and keyword-argument names never are."""
    out: list[str] = []
    names: set[int] = set()
    depth = 0
    previous = ""
    pending: list[str] = []
    try:
        stream = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return _loose_tokens(text)
    for index, token in enumerate(stream):
        kind, string = token.type, token.string
        if kind in _SKIPPED:
            continue
        if kind in _FSTRING or pending:
            pending.append(string)
            if _FSTRING and kind == _FSTRING[-1]:
                out.append("".join(pending))
                pending = []
            continue
        if kind == tokenize.NAME and not keyword.iskeyword(string):
            following = stream[index + 1].string if index + 1 < len(stream) else ""
            keyword_argument = depth > 0 and following == "=" and previous in ("(", ",")
            if previous != "." and not keyword_argument:
                names.add(len(out))
        elif kind == tokenize.NUMBER:
            string = _number(string)
        elif kind == tokenize.OP:
            depth += string in "([{"
            depth -= string in ")]}"
        out.append(string)
        previous = token.string
        if len(out) >= MAX_TOKENS:
            break
    return tuple(out), frozenset(names)


def _number(text: str) -> str:
    """A number as its value prints, so `10`, `10.0` and `1_0` are one token."""
    plain = text.replace("_", "").lower()
    try:
        value: float = int(plain, 0) if not any(c in plain for c in ".ej") or plain.startswith("0x") else float(plain)
    except ValueError:
        return text
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    return repr(value) if not isinstance(value, int) or value.bit_length() < 64 else text


_LOOSE = re.compile(r"[A-Za-z_]\w*|\d[\w.]*|'(?:\\.|[^'\\])*'|\"(?:\\.|[^\"\\])*\"|\S")


def _loose_tokens(text: str) -> tuple[tuple[str, ...], frozenset[int]]:
    """Tokens of a line Python cannot tokenize (an unclosed bracket, a stray quote)."""
    out: list[str] = []
    names: set[int] = set()
    previous = ""
    for string in _LOOSE.findall(text.split("#", 1)[0] if "'" not in text and '"' not in text else text):
        if (string[0].isalpha() or string[0] == "_") and previous != "." and not keyword.iskeyword(string):
            names.add(len(out))
            out.append(string)
        elif string[0].isdigit():
            out.append(_number(string))
        elif string[0] in "'\"":
            out.append(repr(string[1:-1]))
        else:
            out.append(string)
        previous = string
        if len(out) >= MAX_TOKENS:
            break
    return tuple(out), frozenset(names)


def _bound_by(tree: ast.AST) -> set[str]:
    """The names code binds: assigned, defined, loop and with targets, arguments, aliases. Names
    imported without an alias are Keras' and NumPy's own and are not the student's."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.alias) and node.asname:
            bound.add(node.asname)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


_ASSIGNED = re.compile(r"^\s*([A-Za-z_]\w*(?:\s*,\s*[A-Za-z_]\w*)*)\s*=[^=]", re.MULTILINE)
_COMMENT = re.compile(r"#+\s*(.*)$", re.MULTILINE)


def _prose_of(source: str, tree: ast.AST | None) -> list[str]:
    """Comments, docstrings and the text of string literals of a few words: what a student writes
    in words inside code."""
    if tree is None:
        return [match.group(1).strip() for match in _COMMENT.finditer(source) if len(match.group(1).split()) >= 2]
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                text = token.string.lstrip("#").strip()
                if len(text.split()) >= 2:
                    found.append(text)
    except (tokenize.TokenError, SyntaxError, IndentationError):
        pass
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value.split()) >= 3:
            found.append(node.value)
    return found


def _statements_of(tree: ast.Module) -> list[_Raw] | None:
    """The statements of a parsed cell, compound ones as their headers; None if the tree is too
    deep to put in order."""
    try:
        _Canonical().visit(tree)  # the tree is this module's own: changed in place
    except RecursionError:
        return None
    found: list[_Raw] = []
    stack = list(reversed(tree.body))
    while stack and len(found) < MAX_STATEMENTS:
        node = stack.pop()
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring or a bare string: prose, not code
        compound = _is_compound(node)
        try:
            text = _header(node) if compound else ast.unparse(node)
        except (RecursionError, ValueError, MemoryError):
            continue
        tokens, names = _raw_tokens(text)
        if tokens:
            body = _children(node) if compound else []
            last = (body[0].lineno - 1) if body else (node.end_lineno or node.lineno)
            found.append(_Raw(tokens, names, node.lineno, max(node.lineno, last)))
        if compound:
            stack.extend(reversed(_children(node)))
    return found


def _lines_of(source: str) -> list[_Raw]:
    found: list[_Raw] = []
    for number, line in enumerate(source.split("\n"), 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and len(found) < MAX_STATEMENTS:
            tokens, names = _loose_tokens(stripped)
            if tokens:
                found.append(_Raw(tokens, names, number, number))
    return found


def read_cell(source: str, parse: bool = True) -> CellCode:
    """One cell's code, read once per distinct small cell (`_read_small`)."""
    if len(source) <= CACHED_CELL:
        return _read_small(source, parse)
    return _read(source, parse)


@functools.lru_cache(maxsize=4096)
def _read_small(source: str, parse: bool) -> CellCode:
    return _read(source, parse)


def _read(source: str, parse: bool) -> CellCode:
    cleaned, magics = _without_magics(source)
    tree = None
    if parse:
        try:
            with PARSING:
                tree = ast.parse(cleaned)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None
    statements = _statements_of(tree) if tree is not None else None
    if tree is None or statements is None:
        bound = {name.strip() for match in _ASSIGNED.finditer(cleaned) for name in match.group(1).split(",")}
        return CellCode(tuple(magics + _lines_of(cleaned)), frozenset(bound), frozenset(), frozenset(),
                        tuple(_prose_of(cleaned, None)))
    defined = {node.name for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    methods = {item.name for node in ast.walk(tree) if isinstance(node, ast.ClassDef) for item in node.body
               if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))}
    return CellCode(tuple(magics + statements), frozenset(_bound_by(tree)), frozenset(defined),
                    frozenset(methods), tuple(_prose_of(cleaned, tree)))


def read_code(cells: list[tuple[int, str]], variables: Iterable[str] = ()) -> Code:
    """The statements of a notebook's code cells, given as (index, source). `variables`: names
    that are variables wherever they appear (the base's: the released notebook's own cells use
    the lesson's names without binding them in a student's notebook). Cells past the notebook's
    budgets (MAX_PARSED_NOTEBOOK characters parsed, MAX_STATEMENTS statements) are not read."""
    code = Code(bound=set(variables))
    read: list[tuple[int, CellCode]] = []
    budget, statements = MAX_PARSED_NOTEBOOK, 0
    for index, source in cells:
        if statements >= MAX_STATEMENTS:
            break
        parse = len(source) <= MAX_PARSED_CELL and len(source) <= budget
        budget -= len(source) if parse else 0
        cell = read_cell(source if parse else source[:MAX_PARSED_CELL], parse)
        statements += len(cell.statements)
        read.append((index, cell))
        code.bound |= cell.bound
        code.defined |= cell.defined
        code.methods |= cell.methods
        code.prose.extend((index, text) for text in cell.prose)
    for index, cell in read:
        for raw in cell.statements:
            if len(code.statements) >= MAX_STATEMENTS:
                return code
            tokens = tuple(VARIABLE + token if position in raw.names and token in code.bound else token
                           for position, token in enumerate(raw.tokens))
            code.statements.append(Statement(tokens, index, raw.first, raw.last))
    return code
