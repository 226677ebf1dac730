"""Writing an exercise file from a solution notebook (`autograder exercise new`).

The solution runs through the one pipeline, in the sandbox, like any submission; the
exercise is then read from what was recorded, never from the notebook's text: the graded
model's saved structure (its layers and input shape), its compile settings, the settings
of its training call, and the test accuracy the grader measured itself.

The threshold comes from several runs: a student's equivalent notebook starts from other
random weights (another layer order, another seed) and lands a few of the 100 test images
away, which must not fail it. The solution is trained `runs` times with different seeds (as
`exercise prove` calibrates, proof/calibration.py), and the threshold is the one a correct
notebook fails with a chance under 1%, or, given a `margin`, that far below the lowest run;
an untrained model (about one in the number of classes) stays far below.

The file written is parsed back with exercise_file.parse before it is kept, so what this
writes is always a file the grader accepts.
"""
from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from .. import data, notebook
from ..errors import UsageError
from ..exercise import file as exercise_file, registry as exercises
from ..exercise.model import LAYER_ALIASES, LAYER_TYPES, WEIGHTED, Exercise
from ..grading import pipeline
from ..grading.facts import Facts
from ..grading.plan import make_plan
from ..grading.settings import Request
from ..modelfile import ACTIVATION_LAYERS, PASS_THROUGH, LayerRecord, StructureRecord
from . import verdicts
from .calibration import Calibration

if TYPE_CHECKING:
    from ..batch.workers import Workers

#: How far below the solution's one measured accuracy describe_solution puts the threshold;
#: from_solution then sets it from the calibration (see the docstring).
THRESHOLD_MARGIN = 0.05
#: Runs of the solution, with different seeds, that `exercise new` sets the threshold from.
RUNS = 8
#: The exercise a solution is run against while its own is being made: it only names the
#: checks; nothing of it goes into the file.
PROVISIONAL = "keras-dense"


def _layer(record: LayerRecord) -> dict[str, object]:
    """One layer of the solution's saved model as an exercise file declares it."""
    kind = LAYER_ALIASES.get(record["class"], record["class"])
    if kind not in LAYER_TYPES:
        raise UsageError(f"the solution's model has a {record['class']} layer ({record['name']}); exercise files "
                         f"declare only {', '.join(LAYER_TYPES)}")
    if kind == "Dense":
        return {"type": kind, "units": record.get("units"), "activation": record.get("activation", "linear")}
    if kind == "Conv2D":
        size = record.get("kernel_size") or []
        return {"type": kind, "filters": record.get("filters"),
                "kernel_size": size[0] if len(set(size)) == 1 else size, "activation": record.get("activation")}
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        size = record.get("pool_size") or []
        return {"type": kind, "pool_size": size[0] if len(set(size)) == 1 else size}
    if kind == "Dropout":
        return {"type": kind, "rate": record.get("rate")}
    return {"type": kind}


def declared_layers(structure: StructureRecord) -> list[dict[str, object]]:
    """The solution's layers in order: activation layers folded into the layer before them."""
    layers: list[dict[str, object]] = []
    for record in structure["layers"]:
        cls = record["class"]
        if cls == "InputLayer":
            continue
        if cls == "Activation" or cls in ACTIVATION_LAYERS:
            applied = record.get("activation") or ACTIVATION_LAYERS.get(cls, "linear")
            if layers and layers[-1]["type"] in WEIGHTED and layers[-1].get("activation") == "linear":
                layers[-1]["activation"] = applied
                continue
            raise UsageError(f"the solution's model has an {cls} layer ({record['name']}) that no Dense or Conv2D "
                             "layer before it can take as its activation")
        if cls in PASS_THROUGH and cls != "Dropout":
            continue
        layers.append(_layer(record))
    return layers


def _value(value: object) -> str:
    """A TOML value: strings as basic strings (JSON's escapes are TOML's), numbers, lists."""
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6))
    return json.dumps(value) if isinstance(value, str) else str(value)


def _inline(table: dict[str, object]) -> str:
    return "{ " + ", ".join(f"{key} = {_value(value)}" for key, value in table.items() if value is not None) + " }"


def render(document: dict[str, object]) -> str:
    """An exercise file's text, in DESIGN.md's layout, from its values."""
    lines = [f"{key} = {_value(document[key])}" for key in ("id", "title", "classes", "threshold")]
    model = document["model"]
    compiled = document["compile"]
    fit = document["fit"]
    assert isinstance(model, dict) and isinstance(compiled, dict) and isinstance(fit, dict)
    lines += ["", "[model]", f"input_shape = {_value(model['input_shape'])}", "layers = ["]
    lines += [f"  {_inline(layer)}," for layer in model["layers"]]
    lines += ["]", "", "[compile]"] + [f"{key} = {_value(value)}" for key, value in compiled.items()]
    lines += ["", "[fit]"] + [f"{key} = {_value(value)}" for key, value in fit.items()]
    return "\n".join(lines) + "\n"


def describe_solution(facts: Facts, exercise_id: str, title: str, margin: float) -> dict[str, object]:
    """The exercise file's values from a solution's recorded facts."""
    structure = facts.graded_structure
    if structure is None:
        raise UsageError("the solution's model could not be read back: run it with `autograder check` to see why")
    shape = structure["input_shape"]
    if not shape or any(not isinstance(d, int) for d in shape[1:]):
        raise UsageError("the solution's model has no fixed input shape: give its first layer an input_shape")
    if not structure["compiled"] or structure["loss"] is None or structure["optimizer"] is None:
        raise UsageError("the solution's model was not compiled with a loss and an optimizer")
    fit = facts.main_fit
    if fit is None or not fit["finished"]:
        raise UsageError("the solution's model was not trained to the end (no finished call to fit)")
    if facts.test_accuracy is None:
        raise UsageError("the grader could not measure the solution's accuracy on the test images")
    settings = fit["settings"]
    split = settings.get("validation_split") or 0.0
    threshold = max(0.0, math.floor((facts.test_accuracy - margin) * 100) / 100)
    return {
        "id": exercise_id, "title": title, "classes": list(data.CLASS_NAMES), "threshold": threshold,
        "model": {"input_shape": list(shape[1:]), "layers": declared_layers(structure)},
        "compile": {"loss": structure["loss"]["name"], "optimizer": structure["optimizer"]["name"],
                    "metrics": list(dict.fromkeys(structure["metrics"]))},
        "fit": {"epochs": settings.get("epochs") or 1, "batch_size": settings.get("batch_size") or 32,
                "validation_split": float(split) if isinstance(split, (int, float)) else 0.0},
    }


def from_solution(solution: str, request: Request, exercise_id: str, title: str | None,
                  margin: float | None = None, runs: int = RUNS, workers: Workers | None = None, jobs: int = 1,
                  progress=None) -> tuple[str, Exercise, Calibration]:
    """Run a solution notebook in the sandbox and write its exercise: (file text, the exercise,
    the calibration its threshold comes from). The first run records what the exercise is
    made of; the other `runs - 1`, with other seeds, are graded as one batch (`workers`, when
    given, are warm ones the caller keeps: both use them).

    Raises UsageError when the solution cannot make an exercise (not trained, unreadable model,
    layers an exercise file cannot declare), with the reason.
    """
    from ..sandbox import run_notebook
    from ..sandbox.isolation import RLIMITS
    from .running import Job, grade_all

    plan = make_plan(replace(request, exercise=PROVISIONAL))
    recorded: list[Facts] = []
    warm = workers is not None and workers.warm and plan.isolation != RLIMITS
    document = pipeline.grade_notebook(solution, plan, on_facts=recorded.append,
                                       run=workers.run() if warm and workers is not None else run_notebook,
                                       evaluator=workers.shared_evaluator() if workers is not None else None)
    if document["status"] == "invalid" or not recorded:
        raise UsageError(f"the solution could not be run: {document.get('reason') or document['status']}")
    facts = recorded[0]
    values = describe_solution(facts, exercise_id, title or exercise_id, THRESHOLD_MARGIN if margin is None else margin)
    first = facts.holdout_accuracy if facts.holdout_accuracy is not None else facts.test_accuracy
    assert first is not None  # describe_solution refuses a solution without one
    accuracies = [first]
    if runs > 1:
        others = [Job(f"calibration-{seed}", notebook.read(solution), seed) for seed in range(1, runs)]
        graded = grade_all(others, plan, jobs, progress or _Quiet(), warm=plan.isolation != RLIMITS, early=workers)
        accuracies += [value for job in others if (value := verdicts.accuracy(graded[job.id])) is not None]
    images = len(plan.holdout.test_labels) if plan.holdout is not None else len(plan.lesson.test_labels)
    calibration = Calibration(tuple(accuracies), 0.0, images)
    threshold = (calibration.suggested_threshold if margin is None
                 else max(0.0, math.floor((calibration.lowest - margin) * 100 + 1e-9) / 100))
    values["threshold"] = threshold
    text = render(values)
    exercise = exercise_file.parse(text, f"the exercise made from {Path(solution).name}")
    if exercise.id in exercises.EXERCISES:
        raise UsageError(f"{exercise.id!r} is a built-in exercise's id; pass --id with another")
    return text, exercise, replace(calibration, threshold=threshold)


class _Quiet:
    """A batch's progress that shows nothing."""

    def start(self, total: int, reused: int) -> None: ...

    def advance(self, outcome) -> None: ...

    def finish(self, report) -> None: ...
