"""Recorded facts: everything the checks may look at, as plain data.

This stage turns what the sandbox left (cell reports, probe events, model
files) and what the grader measured itself (each model's structure and its
predictions on the pristine test set) into one JSON-able Facts object. The
checks are pure functions of it, so they can be tested on recorded facts
without running a kernel.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

CALL_KINDS = ("compile", "fit", "evaluate", "predict")


@dataclass
class Facts:
    exercise: str
    status: str  # how execution ended: completed | timeout | kernel_died | error
    isolation: str = ""
    execution: str = "cold"  # "warm": a kernel forked by a fork server; "cold": a fresh process
    limits: dict = field(default_factory=dict)
    cells: list[dict] = field(default_factory=list)  # one per code cell, in notebook order
    loads: list[dict] = field(default_factory=list)
    calls: list[dict] = field(default_factory=list)
    models: dict[str, dict] = field(default_factory=dict)
    graded_model: int | None = None
    namespace: dict | None = None
    data: dict = field(default_factory=dict)  # shapes of the lesson arrays, test class ids
    probe_ready: bool = False
    export_ok: bool = False
    runner_error: str | None = None
    test_accuracy: float | None = None
    predicted: list[int] | None = None
    probabilities: list[list[float]] | None = None
    confusion: list[list[int]] | None = None
    holdout_accuracy: float | None = None  # on the instructor's hidden images, when given
    holdout_size: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Facts":
        return cls(**data)

    # --- views the checks share ------------------------------------------

    def calls_of(self, kind: str, model: int | None = None) -> list[dict]:
        return [c for c in self.calls if c["kind"] == kind and (model is None or c["model"] == model)]

    @property
    def graded(self) -> dict | None:
        return self.models.get(str(self.graded_model)) if self.graded_model is not None else None

    def cell(self, index: int | None) -> dict | None:
        for cell in self.cells:
            if cell["index"] == index:
                return cell
        return None

    def source_line(self, index: int | None, line: int | None) -> str | None:
        cell = self.cell(index)
        if cell is None or line is None:
            return None
        lines = cell.get("source", "").splitlines()
        return lines[line - 1].strip() if 0 < line <= len(lines) else None


def _merge_calls(events: list[dict], cell_of) -> list[dict]:
    """Pair each *_start event with its *_end (none if the run ended during the call)."""
    calls, open_calls = [], {}
    for event in events:
        kind = str(event.get("kind", ""))
        base, _, phase = kind.rpartition("_")
        if base not in CALL_KINDS or phase not in ("start", "end"):
            if kind == "epoch" and event.get("model") in open_calls and event.get("epoch") is not None:
                open_calls[event["model"]]["epochs_run"] = event["epoch"] + 1
            continue
        model = event.get("model")
        if not isinstance(model, int):
            continue
        if phase == "start":
            call = {
                "kind": base, "model": model, "seq": event.get("seq"),
                "cell": cell_of(event.get("exec")), "line": event.get("line"),
                "model_names": list(event.get("model_names") or [])[:3],
                "x": event.get("x"), "y": event.get("y"),
                "validation_data": event.get("validation_data"),
                "settings": event.get("settings") or {},
                "finished": None, "error": None, "epochs_run": 0,
            }
            calls.append(call)
            if base == "fit":
                open_calls[model] = call
            else:
                open_calls[(base, model)] = call
        else:
            key = model if base == "fit" else (base, model)
            call = open_calls.pop(key, None)
            if call is None:
                continue
            call["finished"] = bool(event.get("ok"))
            call["error"] = event.get("error")
            call["seconds"] = event.get("seconds")
            if base == "fit" and isinstance(event.get("history"), dict):
                call["history"] = event["history"]
                lengths = [len(v) for v in event["history"].values() if isinstance(v, list)]
                call["epochs_run"] = max(lengths, default=call["epochs_run"])
            if base == "evaluate":
                call["returned"] = event.get("returned")
    return calls


def _model_activity(calls: list[dict]) -> dict[int, dict]:
    """How far each model got: compiled, fit attempted, fit finished on training data."""
    activity: dict[int, dict] = {}
    for call in calls:
        entry = activity.setdefault(call["model"], {"compiled": False, "fit_tried": False,
                                                    "fit_done": False, "fit_on_train": False,
                                                    "last": 0})
        entry["last"] = max(entry["last"], call.get("seq") or 0)
        if call["kind"] == "compile" and call["finished"]:
            entry["compiled"] = True
        if call["kind"] == "fit":
            entry["fit_tried"] = True
            if call["finished"]:
                entry["fit_done"] = True
                rows = ((call.get("x") or {}).get("rows") or {})
                entry["fit_on_train"] = bool(rows.get("train"))
    return activity


def select_graded_model(models: dict[str, dict], calls: list[dict], units: list[int]) -> int | None:
    """The model the student meant to hand in, whatever its variable name.

    The furthest along wins: trained on the training data, then trained at
    all, then a training attempt, then compiled, then merely built. Among
    equals, one with the exercise's layer sizes wins (a notebook may also hold
    the other part's model), then the most recent.
    """
    activity = _model_activity(calls)
    best, best_key = None, None
    for key, model in models.items():
        serial = int(key)
        if not model.get("saved"):
            continue
        act = activity.get(serial, {})
        structure = model.get("structure") or {}
        matches = [b.get("units") for b in structure.get("blocks", [])] == units
        rank = (act.get("fit_on_train", False), act.get("fit_done", False), act.get("fit_tried", False),
                act.get("compiled", False), matches, act.get("last", 0), serial)
        if best_key is None or rank > best_key:
            best, best_key = serial, rank
    return best


def confusion_matrix(true: list[int], predicted: list[int], classes: int) -> list[list[int]]:
    width = max([classes, *[p + 1 for p in predicted]])
    matrix = np.zeros((classes, width), dtype=int)
    for t, p in zip(true, predicted):
        matrix[t, p] += 1
    return matrix.tolist()


def build(exercise, run, sources: dict[int, str], data_shapes: dict, test_classes: list[int],
          model_reports: dict[int, dict]) -> Facts:
    """Assemble the facts of one graded notebook and choose the graded model.

    `run` is the sandbox's RunRecord; `model_reports` maps model serials to the
    screened structure of their files. The grader's own measurement is added
    afterwards by `measure`.
    """
    count_to_cell = {c.get("execution_count"): c["index"] for c in run.cells
                     if isinstance(c.get("execution_count"), int)}
    reported = {c["index"]: c for c in run.cells}
    cells = []
    for index, source in sorted(sources.items()):
        record = dict(reported.get(index) or {"index": index, "status": "not_run"})
        record.pop("event", None)
        record["source"] = source
        cells.append(record)

    def cell_of(count):
        return count_to_cell.get(count)

    events = run.events
    facts = Facts(exercise=exercise.id, status=run.status, isolation=run.isolation, limits=run.limits,
                  cells=cells, data={"shapes": data_shapes}, execution="warm" if run.warm else "cold")
    facts.probe_ready = any(e.get("kind") == "probe_ready" for e in events)
    facts.export_ok = any(e.get("kind") == "export_done" for e in events)
    facts.runner_error = next((str(r.get("error"))[:500] for r in run.runner
                               if r.get("event") in ("limit", "runner_error", "kernel_failed")), None)
    facts.loads = [{"file": e.get("file"), "key": e.get("key"), "shape": e.get("shape"),
                    "dtype": e.get("dtype"), "cell": cell_of(e.get("exec")), "line": e.get("line"),
                    "requested": e.get("requested")}
                   for e in events if e.get("kind") == "load"][:200]
    facts.calls = _merge_calls(events, cell_of)
    names: dict[int, list[str]] = {}
    for event in events:  # the last note of the namespace wins; the final one has the models
        if event.get("kind") == "namespace":
            facts.namespace = {"arrays": event.get("arrays") or [], "models": event.get("models") or {}}
            for key, value in (event.get("models") or {}).items():
                if str(key).isdigit():
                    names[int(key)] = list(value)[:3]
    classes = {e.get("model"): e.get("cls") for e in events if e.get("kind") == "model"}
    for call in facts.calls:
        names.setdefault(call["model"], [])
        for name in call["model_names"]:
            if name not in names[call["model"]]:
                names[call["model"]].append(name)
    serials = {s for s in set(model_reports) | set(classes) if isinstance(s, int)}
    for serial in sorted(serials):
        report = model_reports.get(serial, {})
        facts.models[str(serial)] = {
            "serial": serial, "class": classes.get(serial), "names": names.get(serial, [])[:3],
            "saved": serial in model_reports, "problems": report.get("problems", []),
            "structure": report.get("structure"), "iterations": report.get("iterations"),
            "load_error": report.get("error"),
        }
    facts.graded_model = select_graded_model(facts.models, facts.calls, exercise.units)
    facts.data["test_classes"] = list(test_classes)
    return facts


def measure(facts: Facts, evaluated: dict, test_classes: list[int]) -> None:
    """Record the evaluator's verdict on the graded model: predictions, accuracy, confusion matrix."""
    model = facts.graded
    if model is None:
        return
    iterations = evaluated.get("iterations")
    model["iterations"] = iterations if isinstance(iterations, int) and not isinstance(iterations, bool) else None
    if "predictions" not in evaluated:
        model["load_error"] = model.get("load_error") or evaluated.get("error") or "it could not be evaluated"
        return
    probabilities = np.asarray(evaluated["predictions"], dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != len(test_classes) or probabilities.shape[1] == 0:
        model["load_error"] = "its predictions did not have one row per test image"
        return
    predicted = probabilities.argmax(axis=1).tolist()
    facts.probabilities = np.round(probabilities, 4).tolist()
    facts.predicted = predicted
    facts.test_accuracy = round(float(np.mean(np.asarray(predicted) == np.asarray(test_classes))), 4)
    facts.confusion = confusion_matrix(test_classes, predicted, 3)
    model["accuracy"] = facts.test_accuracy


def measure_holdout(facts: Facts, evaluated: dict, classes: list[int]) -> None:
    """The graded model's accuracy on the hidden holdout, or nothing if it could not be measured."""
    probabilities = np.asarray(evaluated.get("predictions", []), dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != len(classes) or probabilities.shape[1] == 0:
        return
    predicted = probabilities.argmax(axis=1)
    facts.holdout_accuracy = round(float(np.mean(predicted == np.asarray(classes))), 4)
    facts.holdout_size = len(classes)
