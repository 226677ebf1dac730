"""Where an array's rows come from: which of the lesson's images it holds, and whether its labels
belong to them. Pure numpy, no Keras and no I/O beyond reading the lesson file once.

The recorder (recorder.py) runs this in the student's kernel on every array given to `fit`,
`evaluate` and `predict`, and on the images arrays the notebook's names refer to: the
checks read from it whether the model was trained on the training images and evaluated on
the test images. A row is known by a digest of its pixels as float32, so a copy, a slice
or a reordering of the lesson's images is still known, and a scaled or otherwise changed
one is not.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, TypedDict

import numpy as np

from ..protocol import FLAT_SIZE

#: Arrays longer than this are not matched row by row (their rows stay unknown): it bounds the
#: time a recorded call costs the student's run.
MAX_ROWS_MATCHED = 20000
SPLITS = ("train", "test")


class Pristine(TypedDict):
    """The lesson's images and labels as the data file holds them, before the student's code runs."""

    #: The digest of every image's pixels -> (split, row number); the first row wins for duplicates.
    rows: dict[bytes, tuple[str, int]]
    train_labels: np.ndarray | None
    test_labels: np.ndarray | None


def ranges(indices: Iterable[int]) -> list[list[int]]:
    """[0, 1, 2, 5] -> [[0, 3], [5, 6]]: compact half-open runs of row numbers."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][1] == index:
            runs[-1][1] = index + 1
        else:
            runs.append([index, index + 1])
    return runs


def row_key(row: np.ndarray) -> bytes:
    """The digest a row of pixels is known by."""
    return hashlib.blake2b(row.tobytes(), digest_size=12).digest()


def index_lesson(arrays: Mapping[str, np.ndarray]) -> Pristine:
    """The lesson's rows and labels, from its arrays (`train_data`, `test_labels`, ...)."""
    rows: dict[bytes, tuple[str, int]] = {}
    for split in SPLITS:
        images = arrays.get(f"{split}_data")
        if images is None:
            continue
        flat = np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.float32)
        for index, row in enumerate(flat):
            rows.setdefault(row_key(row), (split, index))
    return Pristine(rows=rows, train_labels=arrays.get("train_labels"), test_labels=arrays.get("test_labels"))


def load_lesson(path: str) -> Pristine | None:
    """The lesson's rows from its data file; None when it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception:  # noqa: BLE001 - in the student's kernel: anything may be broken
        return None
    return index_lesson(arrays)


def match_rows(array: np.ndarray, pristine: Pristine) -> dict[str, Any] | None:
    """Which lesson rows a flat images array holds, as runs per split, and how many rows are unknown.

    `_index` keeps the row numbers themselves, for match_labels; strip_index drops it before
    anything is recorded. None for an array too long to match, or not of numbers.
    """
    if len(array) > MAX_ROWS_MATCHED or not np.issubdtype(array.dtype, np.number):
        return None
    flat = np.ascontiguousarray(array.reshape(len(array), FLAT_SIZE), dtype=np.float32)
    found: dict[str, list[int]] = {"train": [], "test": []}
    unknown = 0
    for row in flat:
        where = pristine["rows"].get(row_key(row))
        if where is None:
            unknown += 1
        else:
            found[where[0]].append(where[1])
    return {"train": ranges(found["train"]), "test": ranges(found["test"]), "unknown": unknown, "_index": found}


def match_labels(array: np.ndarray, images: Mapping[str, Any] | None, pristine: Pristine) -> dict[str, Any]:
    """Do these labels belong to the images they were given with (`images`: what describe said of them)?"""
    result: dict[str, Any] = {"form": "other"}
    if array.ndim == 2 and array.shape[1] == 3:
        result["form"] = "one-hot"
    elif (array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)) and np.issubdtype(array.dtype, np.number):
        result["form"] = "class-ids"
    rows = (images or {}).get("rows") or {}
    index = rows.get("_index") or {}
    if result["form"] == "other":
        return result
    for split in SPLITS:
        labels = pristine["train_labels"] if split == "train" else pristine["test_labels"]
        if labels is None:
            continue
        if index.get(split) and len(index[split]) == len(array):
            expected = labels[index[split]]  # the labels of exactly those images
        elif not any(index.values()) and len(labels) == len(array):
            expected = labels  # images of unknown origin: compare with the whole set
        else:
            continue
        if result["form"] == "class-ids":
            expected, got = expected.argmax(axis=1), array.reshape(-1)
        else:
            got = array
        try:
            matches = bool(np.array_equal(got.astype(np.float64), expected.astype(np.float64)))
        except Exception:  # noqa: BLE001 - the student's array: anything may be in it
            matches = False
        if matches or "split" not in result:
            result.update(matches=matches, split=split)
    return result


def describe(value: object, names: list[str], pristine: Pristine | None,
             images: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """Shape, dtype, the variable names given and, for images, which lesson rows they hold; for
    labels (`images`: what was said of the images they came with), whether they belong to them."""
    if value is None:
        return None
    info: dict[str, Any] = {"type": type(value).__name__, "names": names}
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - in the student's kernel: anything may be broken
        return info
    if array.dtype == object:
        return info
    info.update(shape=list(array.shape), dtype=str(array.dtype))
    if pristine is None or array.ndim == 0:
        return info
    if images is None:
        if array.ndim >= 2 and int(np.prod(array.shape[1:])) == FLAT_SIZE:
            info["rows"] = match_rows(array, pristine)
    else:
        info["labels"] = match_labels(array, images, pristine)
    return info


def strip_index(info: Any) -> Any:
    """Drop the row-index lists kept for matching labels; runs stay."""
    if isinstance(info, dict):
        return {k: strip_index(v) for k, v in info.items() if k != "_index"}
    return info
