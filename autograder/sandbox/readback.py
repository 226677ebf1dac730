"""Validation of everything read back from the sandbox.

The runner's cell reports and the probe's events come from processes that
ran student code, so they may hold anything. Each record is rebuilt here from
the fields we know, each field checked for type and bounded in size; the rest
is dropped. Later stages can then rely on the shapes of the data.
"""
from __future__ import annotations

import math
from typing import Any

from ..protocol import ANSI_ESCAPE, CELL_STATUSES, EVENT_KINDS

MAX_TEXT = 2000
MAX_NAMES = 3
MAX_RUNS = 2000
MAX_DIMS = 8
MAX_HISTORY = 1000
SETTING_KEYS = {"epochs", "batch_size", "validation_split", "shuffle", "initial_epoch", "steps_per_epoch",
                "loss", "optimizer", "metrics"}


def scrub_paths(value, replacements: list[tuple[str, str]]):
    """Replace the grading machine's paths in every string of a record (reports must not show them)."""
    if isinstance(value, str):
        for path, placeholder in replacements:
            value = value.replace(path, placeholder)
        return value
    if isinstance(value, list):
        return [scrub_paths(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: scrub_paths(v, replacements) for k, v in value.items()}
    return value


def one_of(value, allowed) -> str | None:
    """`value` if it is one of the allowed strings (never hashing an arbitrary object)."""
    return value if isinstance(value, str) and value in allowed else None


def integer(value, low: int = -2**31, high: int = 2**31) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def number(value) -> float | int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def text(value, limit: int = MAX_TEXT) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def names(value) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v[:100] for v in value if isinstance(v, str)][:MAX_NAMES]


def shape(value) -> list[int] | None:
    if not isinstance(value, list) or len(value) > MAX_DIMS:
        return None
    dims = [d for d in (integer(v, 0) for v in value) if d is not None]
    return dims if len(dims) == len(value) else None


def runs(value) -> list[list[int]]:
    if not isinstance(value, list):
        return []
    kept = []
    for item in value[:MAX_RUNS]:
        if isinstance(item, list) and len(item) == 2:
            start, end = integer(item[0], 0), integer(item[1], 0)
            if start is not None and end is not None and start < end:
                kept.append([start, end])
    return kept


def array_info(value) -> dict | None:
    """What the probe said about an array passed to fit/evaluate/predict."""
    if not isinstance(value, dict):
        return None
    info: dict[str, Any] = {"type": text(value.get("type"), 100) or "value", "names": names(value.get("names"))}
    if shape(value.get("shape")) is not None:
        info["shape"] = shape(value.get("shape"))
        info["dtype"] = text(value.get("dtype"), 50) or ""
    rows = value.get("rows")
    if isinstance(rows, dict):
        info["rows"] = {"train": runs(rows.get("train")), "test": runs(rows.get("test")),
                        "unknown": integer(rows.get("unknown"), 0) or 0}
    labels = value.get("labels")
    if isinstance(labels, dict):
        cleaned: dict[str, Any] = {"form": one_of(labels.get("form"), ("one-hot", "class-ids")) or "other"}
        if isinstance(labels.get("matches"), bool):
            cleaned["matches"] = labels["matches"]
        if one_of(labels.get("split"), ("train", "test")):
            cleaned["split"] = labels["split"]
        info["labels"] = cleaned
    return info


def _setting(value, depth: int = 0):
    if isinstance(value, (bool, type(None))):
        return value
    if isinstance(value, (int, float)):
        return number(value)
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, list) and depth < 2:
        return [_setting(v, depth + 1) for v in value[:20]]
    if isinstance(value, dict) and depth < 2:
        return {str(k)[:100]: _setting(v, depth + 1) for k, v in list(value.items())[:20]}
    return None


def settings(value) -> dict:
    if not isinstance(value, dict):
        return {}
    return {key: _setting(value[key]) for key in SETTING_KEYS if key in value}


def history(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    return {str(key)[:100]: [number(v) for v in series[:MAX_HISTORY]]
            for key, series in list(value.items())[:20] if isinstance(series, list)}


def error(value) -> dict | None:
    return _error_fields(value) if isinstance(value, dict) else None


def _error_fields(value: dict) -> dict[str, Any]:
    return {"ename": text(value.get("ename"), 200) or "Error",
            "evalue": ANSI_ESCAPE.sub("", text(value.get("evalue")) or "")}


def event(raw) -> dict | None:
    """One probe event, rebuilt from known fields only; None if it is not one we know."""
    if not isinstance(raw, dict) or not one_of(raw.get("kind"), EVENT_KINDS):
        return None
    kind = raw["kind"]
    clean: dict[str, Any] = {"kind": kind, "seq": integer(raw.get("seq"), 0) or 0}
    for key in ("model", "exec", "line", "epoch"):
        if key in raw:
            clean[key] = integer(raw.get(key), 0)
    for key in ("x", "y"):
        if key in raw:
            clean[key] = array_info(raw.get(key))
    if "validation_data" in raw and isinstance(raw["validation_data"], dict):
        validation = raw["validation_data"]
        clean["validation_data"] = {"x": array_info(validation.get("x")), "y": array_info(validation.get("y")),
                                    "type": text(validation.get("type"), 100)}
    if "settings" in raw:
        clean["settings"] = settings(raw.get("settings"))
    if "model_names" in raw:
        clean["model_names"] = names(raw.get("model_names"))
    if kind.endswith("_end"):
        clean["ok"] = raw.get("ok") is True
        clean["error"] = error(raw.get("error"))
        clean["seconds"] = number(raw.get("seconds"))
        clean["history"] = history(raw.get("history"))
        clean["returned"] = _setting(raw.get("returned"))
    if kind in ("compile_start", "compile_end"):
        clean["optimizer_steps"] = integer(raw.get("optimizer_steps"), 0)
    if kind == "load":
        clean.update(file=text(raw.get("file"), 200), key=text(raw.get("key"), 100),
                     shape=shape(raw.get("shape")), dtype=text(raw.get("dtype"), 50),
                     requested=text(raw.get("requested"), 300))
    if kind == "model":
        clean["cls"] = text(raw.get("cls"), 100)
    if kind == "namespace":
        arrays: list[Any] = raw["arrays"] if isinstance(raw.get("arrays"), list) else []
        clean["arrays"] = [a for a in (array_info(a) for a in arrays[:50]) if a]
        models: dict[Any, Any] = raw["models"] if isinstance(raw.get("models"), dict) else {}
        clean["models"] = {k: names(v) for k, v in list(models.items())[:50]
                           if isinstance(k, str) and k.isascii() and k.isdigit() and len(k) < 9}
    if kind == "epoch":
        logs: dict[Any, Any] = raw["logs"] if isinstance(raw.get("logs"), dict) else {}
        clean["logs"] = {str(k)[:100]: number(v) for k, v in list(logs.items())[:20]}
    if kind in ("probe_error", "save_failed"):
        clean["error"] = text(raw.get("error"), 500)
    return clean


def cell(raw) -> dict | None:
    """One of the runner's cell reports."""
    if not isinstance(raw, dict) or not one_of(raw.get("status"), CELL_STATUSES):
        return None
    index = integer(raw.get("index"), 0, 100000)
    if index is None:
        return None
    clean = {"index": index, "status": raw["status"], "seconds": number(raw.get("seconds")),
             "execution_count": integer(raw.get("execution_count"), 0),
             "truncated": raw.get("truncated") is True}
    if isinstance(raw.get("error"), dict):
        clean["error"] = {**_error_fields(raw["error"]), "line": integer(raw["error"].get("line"), 0),
                          "traceback": text(raw["error"].get("traceback"), 8000) or ""}
    for key in ("limit",):
        if number(raw.get(key)) is not None:
            clean[key] = number(raw.get(key))
    for key in ("notebook_limit_reached", "interrupted"):
        if isinstance(raw.get(key), bool):
            clean[key] = raw[key]
    if text(raw.get("stream_tail"), 4000):
        clean["stream_tail"] = text(raw.get("stream_tail"), 4000)
    return clean
