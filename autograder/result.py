"""The result of grading one notebook, as DESIGN.md's `autograder.result/1` document."""
from __future__ import annotations

import json
import os
from pathlib import Path

from .checks import CheckResult
from .checks.explain import explain_error, stopped_sentence
from .exercises import Exercise
from .facts import Facts

SCHEMA = "autograder.result/1"
RUN_STATUS = {"completed": "graded", "timeout": "timeout", "kernel_died": "kernel_died",
              "error": "kernel_died"}


def build(exercise: Exercise | None, notebook: str, facts: Facts | None, checks: list[CheckResult],
          duration: float, status: str | None = None, reason: str | None = None) -> dict:
    score = round(sum(c.points for c in checks), 2)
    result = {
        "schema": SCHEMA,
        "exercise": exercise.id if exercise else None,
        "notebook": notebook,
        "status": status or RUN_STATUS.get(facts.status if facts else "", "invalid"),
        "score": score,
        "max_score": exercise.max_score if exercise else 0.0,
        "checks": [c.to_dict() for c in checks],
        "metrics": {},
        "cells": [],
        "duration_s": round(duration, 2),
    }
    if reason:
        result["reason"] = reason
    if facts is None:
        return result
    result["metrics"] = {"test_accuracy": facts.test_accuracy,
                         "threshold": None if exercise.threshold_hidden else exercise.threshold}
    if exercise.threshold_hidden:
        result["metrics"]["threshold_hidden"] = True
    if facts.holdout_accuracy is not None:  # for the instructor; reports show it only if allowed
        result["metrics"].update(holdout_accuracy=facts.holdout_accuracy, holdout_size=facts.holdout_size,
                                 holdout_gap=None if facts.test_accuracy is None else
                                 round(facts.test_accuracy - facts.holdout_accuracy, 4),
                                 holdout_shown=exercise.holdout_shown)
    if facts.status != "completed":
        result["stop_reason"] = stopped_sentence(facts)
    result["cells"] = [_cell(c) for c in facts.cells]
    result["isolation"] = facts.isolation
    result["execution"] = facts.execution
    result["limits"] = facts.limits
    result["details"] = details(facts)
    return result


MAX_SOURCE = 5000


def _cell(cell: dict) -> dict:
    entry = {"index": cell["index"], "status": cell.get("status", "not_run")}
    if cell.get("seconds") is not None:
        entry["seconds"] = cell["seconds"]
    error = cell.get("error")
    if error:
        entry.update(ename=error.get("ename"), evalue=error.get("evalue"), line=error.get("line"),
                     explanation=explain_error(error.get("ename", ""), error.get("evalue", "")))
    if cell.get("status") == "timeout":
        entry["limit_s"] = cell.get("limit")
    if cell.get("status") in ("error", "timeout", "died"):
        entry["source"] = cell.get("source", "")[:MAX_SOURCE]  # the student's own code, for the reports
    if cell.get("truncated"):
        entry["output_truncated"] = True
    return entry


def details(facts: Facts) -> dict:
    """What the reports need beyond the checks: the graded model, its training and its predictions."""
    graded = facts.graded or {}
    fits = facts.calls_of("fit", facts.graded_model)
    finished = [f for f in fits if f["finished"]]
    history = (finished or fits or [{}])[-1].get("history")
    return {
        "graded_model": {
            "names": graded.get("names", []),
            "structure": graded.get("structure"),
            "problems": graded.get("problems", []),
            "iterations": graded.get("iterations"),
        } if graded else None,
        "history": history,
        "confusion_matrix": facts.confusion,
        "predicted_classes": facts.predicted,
        "predicted_probabilities": facts.probabilities,
        "test_classes": facts.data.get("test_classes"),
        "models_seen": len(facts.models),
    }


def check_text(check: dict, separator: str = "\n") -> str:
    """A check as plain text for the CI and LMS entry points: its message and, when it
    failed, the next step."""
    text = str(check.get("message") or ("passed" if check.get("passed") else "failed"))
    if not check.get("passed") and check.get("hint"):
        text += f"{separator}Next step: {check['hint']}"
    return text


def verdict_of(result: dict, check_id: str) -> tuple[bool, str]:
    """Whether one check of a result passed, and what to tell the student about it."""
    if result.get("status") == "invalid":
        return False, f"{check_id}: not graded: {result.get('reason')}"
    check = next((c for c in result.get("checks", []) if c["id"] == check_id), None)
    if check is None:
        return False, f"{check_id} is not a check of {result.get('exercise')}"
    if check["passed"]:
        return True, f"{check_id}: passed. {check_text(check)}"
    return False, f"{check_id} ({check['points']:g}/{check['max_points']:g}): {check_text(check)}"


def exit_code(result: dict) -> int:
    if result["status"] == "invalid":
        return 2
    if result["status"] == "graded" and all(c["passed"] for c in result["checks"]):
        return 0
    return 1


def write(result: dict, path: str | os.PathLike) -> None:
    path = Path(path)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(temporary, path)
