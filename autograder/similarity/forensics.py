"""What a notebook file records about the run and the editor that made it, beyond its code.

None of it can coincide between two students who worked apart:
- the random id nbformat and Jupyter give every new cell (cells of the released notebook keep
  the released ids, and those are base);
- the times Jupyter records when a cell runs, to the microsecond, and Colab's run records (its
  timestamps, ids, and the account that ran the cell);
- in stored outputs, what differs from run to run even with seeded training: per-step timings
  (`11ms/step`, `ETA: 2s`, `Wall time`), memory addresses (`<History at 0x7f05...>`) and the
  time stamps of TensorFlow's log lines. The losses a seeded run prints do coincide between
  honest students, so they are never evidence;
- the same file, byte for byte (weak alone: two untouched templates are the same file).

Execution counts are not used: students who run the same template's cells in the same order
leave the same irregular counts.

Each is a feature (kind, value): the same feature in two notebooks is evidence, unless the base
has it or many notebooks do (grouping.py).
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from .reading import Cell, ReadNotebook

#: Weight of one shared feature of each kind, and the most each kind can weigh in a pair.
WEIGHTS = {"cell id": 6.0, "run time": 4.0, "editor account": 10.0, "run id": 6.0, "output": 6.0,
           "timing": 2.0, "file": 4.0}
CAPS = {"cell id": 18.0, "run time": 20.0, "editor account": 10.0, "run id": 12.0, "output": 18.0,
        "timing": 16.0, "file": 4.0}
MAX_TIMING_STEPS = 4  # informative timings counted in one output: 2 points each
MAX_FEATURES = 1000  # of one notebook: more cells than that carry nothing more


@dataclass(frozen=True)
class Feature:
    kind: str
    weight: float
    shown: str  # the value as the evidence quotes it
    cell: int | None = None


_HEX_ID = re.compile(r"[0-9a-f]{8,}(?:-[0-9a-f]{4,}){0,4}", re.IGNORECASE)
_TOKEN_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")
_WORDY_ID = re.compile(r"[A-Za-z]+(?:[-_][A-Za-z]+)*(?:[-_]?\d{1,4})?")


def random_looking(value: str) -> bool:
    """Is this id random (nbformat's 8 hex digits, a UUID, Colab's ids), not a name like
    `cell-3` or `load` that anyone's tool could give?"""
    if _HEX_ID.fullmatch(value):
        return not value.isalpha() or len(value) >= 12  # "deadbeef" and "facade12" aside
    if not _TOKEN_ID.fullmatch(value) or _WORDY_ID.fullmatch(value):
        return False
    return any(c.isdigit() for c in value) and sum(c.isalpha() for c in value) >= 3


_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3,}")
_ADDRESS = re.compile(r"\bat 0x[0-9a-f]{8,16}\b")
_LOG_STAMP = re.compile(r"\b\d{10}\.\d{6}\s+\d+\b")  # absl's `I0000 00:00:1796652062.384425   23837`
_TIMING = re.compile(r"\d+(?:\.\d+)?\s?(?:ms|us|µs|ns|s)/(?:step|sample|epoch)|ETA: ?[\d:]+s?|"
                     r"\d+(?:\.\d+)?\s?it/s|Wall time: [^\n]{1,40}|CPU times: [^\n]{1,80}")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def cell_features(cell: Cell) -> list[tuple[str, Feature]]:
    """Features of one cell: its id, its metadata's run records, its stored outputs'."""
    found: list[tuple[str, Feature]] = []
    if cell.id and random_looking(cell.id):
        found.append((f"id:{cell.id}", Feature("cell id", WEIGHTS["cell id"], cell.id, cell.index)))
    for key, value in cell.metadata:
        lowered = key.lower()
        if _ISO_TIME.match(value) or (lowered.endswith("timestamp") and value.isdigit() and len(value) >= 12):
            found.append((f"time:{value}", Feature("run time", WEIGHTS["run time"], value, cell.index)))
        elif lowered.endswith(("userid", "user.displayname", "user.photourl")) and len(value.strip()) >= 4:
            found.append((f"user:{value}", Feature("editor account", WEIGHTS["editor account"], value, cell.index)))
        elif lowered.endswith("outputid") and random_looking(value):
            found.append((f"run:{value}", Feature("run id", WEIGHTS["run id"], value, cell.index)))
        elif lowered.split(".")[-1] == "id" and random_looking(value) and value != cell.id:
            found.append((f"id:{value}", Feature("cell id", WEIGHTS["cell id"], value, cell.index)))
    found.extend(output_features(cell))
    return found


def output_features(cell: Cell) -> list[tuple[str, Feature]]:
    text = _ANSI.sub("", cell.output)
    if not text:
        return []
    found = []
    for match in _ADDRESS.finditer(text):
        found.append((f"out:{match.group()}", Feature("output", WEIGHTS["output"], match.group(), cell.index)))
    for match in _LOG_STAMP.finditer(text):
        value = " ".join(match.group().split())
        found.append((f"out:{value}", Feature("output", WEIGHTS["output"], value, cell.index)))
    timings = [" ".join(m.split()) for m in _TIMING.findall(text)]
    if timings:
        informative = len(timings) - Counter(timings).most_common(1)[0][1]
        if informative >= 2:
            shown = ", ".join(timings[:6]) + (", …" if len(timings) > 6 else "")
            weight = WEIGHTS["timing"] * min(informative, MAX_TIMING_STEPS)
            found.append(("timing:" + "|".join(timings), Feature("timing", weight, shown, cell.index)))
    return found


def notebook_features(notebook: ReadNotebook, digest: str) -> dict[str, Feature]:
    found: dict[str, Feature] = {f"file:{digest}": Feature("file", WEIGHTS["file"], digest[:12])}
    for cell in notebook.cells:
        for key, feature in cell_features(cell):
            if len(found) >= MAX_FEATURES:
                break
            found.setdefault(key, feature)
    return found
