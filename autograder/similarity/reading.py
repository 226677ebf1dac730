"""A submitted notebook as the comparison reads it: cells with their sources, ids, execution
counts and metadata, and a bounded excerpt of their stored outputs.

The grader itself drops stored outputs when it reads a notebook (notebook.py: it runs the
notebook afresh); the comparison needs them, because what a student's own run printed is
evidence (forensics.py). The file is read once, with each cell's outputs cut down to a bounded
excerpt as soon as that cell is read, so a notebook made large by its outputs costs no more
than its bound. Nothing here runs anything.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..notebook import MAX_CELLS, MAX_NOTEBOOK_BYTES

#: Characters of stored output text kept per cell, and per notebook: enough for a training log of
#: a hundred epochs; the rest of a huge output is not read.
MAX_OUTPUT_CELL = 64 * 1024
MAX_OUTPUT_NOTEBOOK = 1024 * 1024
#: Characters of source kept per cell and per notebook (the parser reads at most normalise.MAX_PARSED_*).
MAX_SOURCE_CELL = 256 * 1024
MAX_SOURCE_NOTEBOOK = 1024 * 1024
#: Metadata values read from one cell: enough for Jupyter's and Colab's timing records.
MAX_METADATA_VALUES = 64


class Unreadable(Exception):
    """The file is not a notebook the comparison can read (it is graded, or refused, on its own)."""


@dataclass
class Cell:
    index: int  # in the notebook's `cells` list, as results count them
    kind: str  # "code", "markdown" or "raw"
    id: str
    source: str
    execution_count: int | None = None
    #: (key, value) strings found in the cell's metadata: timestamps and ids of the editor.
    metadata: list[tuple[str, str]] = field(default_factory=list)
    #: The stored outputs' text (streams, plain-text results, tracebacks), cut at MAX_OUTPUT_CELL.
    output: str = ""


@dataclass
class ReadNotebook:
    cells: list[Cell]
    outputs_cut: bool = False  # some stored output was beyond the bounds and not read


def _text(value) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return value if isinstance(value, str) else ""


def _output_text(outputs) -> str:
    """The text a cell's stored outputs show, whatever their kind."""
    parts: list[str] = []
    size = 0
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict):
            continue
        kind = output.get("output_type")
        if kind == "stream":
            text = _text(output.get("text"))
        elif kind in ("execute_result", "display_data", "pyout"):
            data = output.get("data")
            text = _text(data.get("text/plain")) if isinstance(data, dict) else _text(output.get("text"))
        elif kind in ("error", "pyerr"):
            traceback = output.get("traceback")
            text = "\n".join(str(line) for line in traceback) if isinstance(traceback, list) else ""
            text += f"\n{_text(output.get('ename'))}: {_text(output.get('evalue'))}"
        else:
            continue
        parts.append(text[:MAX_OUTPUT_CELL - size])
        size += len(parts[-1])
        if size >= MAX_OUTPUT_CELL:
            break
    return "".join(parts)


def _metadata_values(metadata) -> list[tuple[str, str]]:
    """Scalar values of a cell's metadata with their dotted keys, depth-first, bounded."""
    found: list[tuple[str, str]] = []
    stack = [("", metadata)]
    while stack and len(found) < MAX_METADATA_VALUES:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{key}.{k}" if key else str(k), v) for k, v in list(value.items())[:MAX_METADATA_VALUES])
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            found.append((key, str(value)[:200]))
    return found


class _Reader:
    """json.loads' object_hook: each cell is cut down the moment it is read, so the outputs of one
    cell at most stand in memory as objects."""

    def __init__(self):
        self.output_budget = MAX_OUTPUT_NOTEBOOK
        self.cut = False

    def __call__(self, item: dict):
        if "cell_type" not in item:
            return item
        outputs = item.pop("outputs", None)
        item.pop("attachments", None)
        if outputs and self.output_budget > 0:
            text = _output_text(outputs)
            if len(text) > self.output_budget:
                text, self.cut = text[:self.output_budget], True
            self.output_budget -= len(text)
            item["_output"] = text
        elif outputs:
            self.cut = True
        return item


def read(raw: bytes) -> ReadNotebook:
    """The cells of a notebook file (format 4, or 3's worksheets); Unreadable if it is not one."""
    if len(raw) > MAX_NOTEBOOK_BYTES:
        raise Unreadable("larger than a notebook may be")
    reader = _Reader()
    try:
        data = json.loads(raw.decode("utf-8-sig"), object_hook=reader)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise Unreadable(f"not a notebook: {type(error).__name__}") from None
    if not isinstance(data, dict):
        raise Unreadable("not a notebook")
    raw_cells = data.get("cells")
    if raw_cells is None and isinstance(data.get("worksheets"), list):  # format 3
        raw_cells = [cell for sheet in data["worksheets"] if isinstance(sheet, dict)
                     for cell in (sheet.get("cells") or []) if isinstance(cell, dict)]
    if not isinstance(raw_cells, list):
        raise Unreadable("not a notebook: no cells")
    cells = []
    source_budget = MAX_SOURCE_NOTEBOOK
    for index, cell in enumerate(raw_cells[:MAX_CELLS]):
        if not isinstance(cell, dict):
            continue
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw", "heading"):
            continue
        source = _text(cell.get("source", cell.get("input", "")))[:min(MAX_SOURCE_CELL, max(source_budget, 0))]
        source_budget -= len(source)
        count = cell.get("execution_count", cell.get("prompt_number"))
        metadata = cell.get("metadata")
        cells.append(Cell(index=index, kind="markdown" if kind == "heading" else kind,
                          id=cell["id"] if isinstance(cell.get("id"), str) else "",
                          source=source,
                          execution_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
                          metadata=_metadata_values(metadata) if isinstance(metadata, dict) else [],
                          output=cell.get("_output", "")))
    return ReadNotebook(cells, reader.cut)
