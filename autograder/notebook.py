"""Read a submitted notebook: bounded, validated, converted to nbformat 4.

Whatever the file holds, the result is either a clean NotebookNode or a
NotebookError with a one-line reason a student can act on. Stored outputs and
attachments are dropped while the file is read (the grader runs the notebook
afresh), so a notebook made large by what it printed or drew is graded, within
a bound on the whole file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat

from .errors import NotGradable

#: Bytes a notebook file may have, stored outputs included (they are dropped while reading).
MAX_NOTEBOOK_BYTES = 200 * 2**20
#: Bytes of what is left once the outputs are dropped: code, text and metadata.
MAX_CONTENT_BYTES = 20 * 2**20
MAX_CELLS = 2000
MAX_DEPTH = 64


class NotebookError(NotGradable):
    """The file is not a notebook we can grade; the message says why in one line."""


def _depth(value, limit: int) -> int:
    """Nesting depth of JSON data, stopping early once past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _without_outputs(item: dict) -> dict:
    """A JSON object as read, emptied of a cell's stored outputs and attachments: they are let go
    as soon as each cell is read, so a file's outputs never all stand in memory as objects."""
    if "cell_type" in item:
        if "outputs" in item:
            item["outputs"] = []
        item.pop("attachments", None)
    return item


def parse(raw: bytes, name: str = "notebook") -> nbformat.NotebookNode:
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{name} is {len(raw) // 2**20} MiB; a notebook may be at most "
                            f"{MAX_NOTEBOOK_BYTES // 2**20} MiB (clear large outputs and resubmit)")
    # Past here the file is within bounds; its outputs are dropped while it is read.
    if not raw.strip():
        raise NotebookError(f"{name} is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise NotebookError(f"{name} is not UTF-8 text (byte {error.start}); is it really a .ipynb file?") from None
    try:
        data = json.loads(text, object_hook=_without_outputs)
    except RecursionError:
        raise NotebookError(f"{name} is nested too deeply to be a notebook") from None
    except json.JSONDecodeError as error:
        raise NotebookError(f"{name} is not valid JSON ({error.msg.removesuffix(' at')} at line {error.lineno}); "
                            "it may be truncated or corrupt") from None
    except ValueError:  # e.g. an integer literal longer than Python converts
        raise NotebookError(f"{name} holds a number too long to read; it may be corrupt") from None
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        raise NotebookError(f"{name} is JSON but not a Jupyter notebook (no cells)")
    if "cells" in data and not isinstance(data["cells"], list):
        raise NotebookError(f"{name} is not a valid notebook: its cells are not a list")
    if _depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise NotebookError(f"{name} is nested too deeply to be a notebook")
    content = len(json.dumps(data))
    if content > MAX_CONTENT_BYTES:
        raise NotebookError(f"{name} holds {content // 2**20} MiB of code, text and metadata besides its "
                            f"outputs; a notebook may hold at most {MAX_CONTENT_BYTES // 2**20} MiB")
    major = data.get("nbformat")
    if major is None and isinstance(data.get("cells"), list):
        major = data["nbformat"] = 4  # hand-made files often leave the version out
    if not isinstance(major, int) or major not in (3, 4):
        shown = repr(major) if len(repr(major)) <= 40 else repr(major)[:37] + "..."
        raise NotebookError(f"{name} has notebook format {shown}; only formats 3 and 4 can be graded")
    try:
        node = nbformat.from_dict(data)
        if major == 3:
            node = nbformat.convert(node, 4)
        node = _repair(node)
        nbformat.validate(node, relax_add_props=True)
        nbformat.writes(node)  # what the runner and the reports will do with it
    except RecursionError:
        raise NotebookError(f"{name} is nested too deeply to be a notebook") from None
    except Exception as error:  # noqa: BLE001 - nbformat fails on odd input in many ways (even assert)
        lines = str(error).splitlines()
        reason = lines[0][:200] if lines and lines[0].strip() else type(error).__name__
        raise NotebookError(f"{name} is not a valid notebook: {reason}") from None
    if len(node.cells) > MAX_CELLS:
        raise NotebookError(f"{name} has {len(node.cells)} cells; at most {MAX_CELLS} can be graded")
    return node


def _repair(node: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Fill in what editors often leave out, so that a sloppy notebook is still graded.

    Missing outputs, execution counts, metadata or cell ids and sources given
    as lists are normal in hand-edited or converted files.
    """
    node.setdefault("metadata", nbformat.NotebookNode())
    node.nbformat, node.nbformat_minor = 4, max(int(node.get("nbformat_minor", 5) or 0), 5)
    cells = []
    for number, cell in enumerate(node.get("cells", [])):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            continue  # unknown cell types carry nothing we could run or grade
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(part) for part in source)
        cell["source"] = str(source)
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = nbformat.NotebookNode()
        if "attachments" in cell and not isinstance(cell["attachments"], dict):
            del cell["attachments"]  # nothing we grade, and nbformat cannot write a malformed one
        if not isinstance(cell.get("id"), str) or not cell["id"]:
            cell["id"] = f"cell-{number}"
        if cell["cell_type"] == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        cells.append(nbformat.from_dict(cell))
    node["cells"] = cells
    ids = [c["id"] for c in cells]
    if len(set(ids)) != len(ids):
        for number, cell in enumerate(cells):
            cell["id"] = f"cell-{number}"
    return node


def read(path: str | os.PathLike) -> nbformat.NotebookNode:
    """Read and validate the notebook at `path`."""
    path = Path(path)
    try:
        if not path.is_file():
            raise NotebookError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            raise NotebookError(f"{path.name} is {size // 2**20} MiB; a notebook may be at most "
                                f"{MAX_NOTEBOOK_BYTES // 2**20} MiB")
        raw = path.read_bytes()
    except OSError as error:
        raise NotebookError(f"cannot read {path}: {error.strerror or error}") from None
    return parse(raw, path.name)


def exercise_of(node: nbformat.NotebookNode) -> str | None:
    """The exercise id the notebook's metadata names, if any."""
    meta = node.get("metadata", {}).get("autograder", {})
    exercise = meta.get("exercise") if isinstance(meta, dict) else None
    return exercise if isinstance(exercise, str) else None


def code_sources(node: nbformat.NotebookNode) -> dict[int, str]:
    return {index: cell.source for index, cell in enumerate(node.cells) if cell.cell_type == "code"}


#: Characters of a heading kept to name a cell.
MAX_HEADING = 80


def headings(node: nbformat.NotebookNode) -> dict[int, str]:
    """The nearest markdown heading above each code cell, by the cell's index, to name cells the way
    a student finds them (the lesson's step titles are headings)."""
    found: dict[int, str] = {}
    current = ""
    for index, cell in enumerate(node.cells):
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.lstrip().startswith("#"):
                    title = line.strip().lstrip("#").strip()
                    if title:
                        current = title if len(title) <= MAX_HEADING else title[:MAX_HEADING - 1] + "…"
        elif cell.cell_type == "code" and current:
            found[index] = current
    return found
