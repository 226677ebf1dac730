"""Recorded facts: everything the checks may look at, as typed plain data.

This stage turns what the sandbox left (cell reports, probe events, model
files) and what the grader measured itself (each model's structure and its
predictions on the pristine test set) into one JSON-able Facts object. The
checks are pure functions of it, so they can be tested on recorded facts
without running a kernel.

The records inside Facts are TypedDicts: plain dicts on disk and at run time
(tests/recorded/*.json holds them as they are), with their fields named here.
Facts' methods and properties are the views the checks share (the graded
model, its main training call, ...); the functions at the end of this module
read one recorded array or call.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NotRequired, Protocol, TypedDict, cast

import numpy as np

from ..exercise.registry import Exercise
from ..modelfile import StructureRecord, TrainingEvidence, evidence_of
from ..protocol import CALL_KINDS, CALL_PHASES

#: Where an array's rows come from: the lesson's training or test images, a mix, other values, no array.
Split = Literal["train", "test", "mixed", "unknown", "none"]


class Rows(TypedDict):
    """Which rows of the lesson's image arrays an array holds."""

    #: Runs [start, end) of train_data's rows.
    train: list[list[int]]
    #: Runs [start, end) of test_data's rows.
    test: list[list[int]]
    #: How many rows are none of the lesson's images.
    unknown: int


class Labels(TypedDict):
    """What the probe recognised in an array of labels."""

    #: "one-hot", "class-ids" or "other".
    form: str
    #: Whether they are the labels of the images passed with them, in the same order.
    matches: NotRequired[bool]
    #: The split ("train" or "test") whose labels they are.
    split: NotRequired[str]


class ArrayInfo(TypedDict):
    """What the probe saw of a value given to fit/evaluate/predict or left in the namespace."""

    #: The value's type name ("ndarray", "list", ...).
    type: str
    #: Up to three of the student's variable names bound to it.
    names: list[str]
    #: Its shape, when it is an array.
    shape: NotRequired[list[int]]
    #: Its dtype, when it is an array.
    dtype: NotRequired[str]
    #: Which of the lesson's image rows it holds, when it holds images.
    rows: NotRequired[Rows]
    #: What kind of labels it holds, when it holds labels.
    labels: NotRequired[Labels]


class ValidationData(TypedDict):
    """The validation_data a fit call was given."""

    #: Its images.
    x: ArrayInfo | None
    #: Its labels.
    y: ArrayInfo | None
    #: The type of the value given (a tuple, a list, ...).
    type: str | None


class RecordedError(TypedDict):
    """An exception the student's code raised, without colour codes."""

    #: The exception's class name.
    ename: str
    #: Its message.
    evalue: str


class CellError(RecordedError):
    """The exception that ended a cell."""

    #: The 1-based line of the cell it was raised from, when known.
    line: NotRequired[int | None]
    #: The traceback as text (not kept in tests/recorded/).
    traceback: NotRequired[str]


class CellOutcome(TypedDict):
    """How one code cell of the notebook ran, and its source."""

    #: The cell's 0-based index in the notebook's `cells` list.
    index: int
    #: One of protocol.CELL_STATUSES.
    status: str
    #: The cell's code as the notebook holds it.
    source: str
    #: Wall time the cell took.
    seconds: NotRequired[float | int | None]
    #: The kernel's execution count, which probe events refer to.
    execution_count: NotRequired[int | None]
    #: How Jupyter labelled the cell ("In [12]"), in a live self-check where only that is known.
    label: NotRequired[str]
    #: Whether its output was cut at the output limit.
    truncated: NotRequired[bool]
    #: What it raised, for status "error".
    error: NotRequired[CellError]
    #: The time limit it ran under, for status "timeout".
    limit: NotRequired[float | int]
    #: Whether the notebook's limit, not the cell's, stopped it.
    notebook_limit_reached: NotRequired[bool]
    #: Whether the runner interrupted it.
    interrupted: NotRequired[bool]
    #: The end of what it printed (not kept in tests/recorded/).
    stream_tail: NotRequired[str]


class RecordedCall(TypedDict):
    """One call of a Keras model method (protocol.CALL_KINDS), from its start to its end event."""

    #: One of protocol.CALL_KINDS.
    kind: str
    #: The serial number of the model it was called on.
    model: int
    #: The probe's sequence number of its start event: calls are ordered by it.
    seq: int
    #: The index of the cell it ran in, when known.
    cell: int | None
    #: The 1-based line of that cell, when known.
    line: int | None
    #: Up to three variable names of the model at the call.
    model_names: list[str]
    #: Its images (x).
    x: ArrayInfo | None
    #: Its labels (y).
    y: ArrayInfo | None
    #: fit's validation_data, if given.
    validation_data: ValidationData | None
    #: Its keyword settings (epochs, batch_size, validation_split, loss, ...), as the student gave them.
    settings: dict[str, object]
    #: True when it returned, False when it raised, None when the run ended during the call.
    finished: bool | None
    #: What it raised.
    error: RecordedError | None
    #: Epochs completed (fit).
    epochs_run: int
    #: Wall time of the call, once it ended (not kept in tests/recorded/).
    seconds: NotRequired[float | int | None]
    #: The metrics per epoch, once a fit call ended.
    history: NotRequired[dict[str, list[float | int | None]] | None]
    #: What an evaluate call returned.
    returned: NotRequired[object]
    #: The steps the model's optimizer had counted when a compile call began and ended (corroboration.py).
    steps_before: NotRequired[int | None]
    optimizer_steps: NotRequired[int | None]


class DataLoad(TypedDict):
    """One array read from a .npz file."""

    #: The file's name.
    file: str | None
    #: The array's key in it.
    key: str | None
    #: The array's shape.
    shape: list[int] | None
    #: The array's dtype.
    dtype: str | None
    #: The index of the cell that read it.
    cell: int | None
    #: The 1-based line of that cell.
    line: int | None
    #: The path the notebook asked for, when it was not the lesson's file and the probe gave that instead.
    requested: str | None


#: One model the notebook built ("class" is a Python keyword, hence this form).
ModelEntry = TypedDict("ModelEntry", {
    #: Its serial number (its key in Facts.models, as a string).
    "serial": int,
    #: Its Keras class name.
    "class": str | None,
    #: Up to three variable names of it.
    "names": list[str],
    #: Whether its file was saved for grading.
    "saved": bool,
    #: Why its file may not be loaded (custom classes, lambdas, ...); empty when it is safe.
    "problems": list[str],
    #: Its architecture and compile settings, read from its file.
    "structure": StructureRecord | None,
    #: Optimizer steps its file records.
    "iterations": int | None,
    #: What its file's weights say about its training, once the evaluator read them.
    "evidence": NotRequired[TrainingEvidence],
    #: Why it could not be read or measured.
    "load_error": str | None,
    #: The grader's measured test accuracy, once measured.
    "accuracy": NotRequired[float],
})


class FirstLayer(TypedDict):
    """The graded model's first layer, when it is a Conv2D on the images, as the evaluator read it
    from the model file's weights (evaluation._first_convolution); the report pictures it."""

    #: The test image the feature maps are of (its index in the test data).
    image: int
    #: Each filter's weights on the first input channel: filters x height x width.
    kernels: list[list[list[float]]]
    #: What each filter makes of that image, after the layer's activation: filters x height x width.
    maps: list[list[list[float]]]


#: Filters a FirstLayer shows at most; kernels wider than MAX_PICTURED_KERNEL are not pictured (the
#: picture is of small filters such as 3x3), nor feature maps wider than MAX_PICTURED_MAP.
MAX_PICTURED_FILTERS = 16
MAX_PICTURED_KERNEL = 9
MAX_PICTURED_MAP = 64


def first_layer_of(value: object) -> FirstLayer | None:
    """The evaluator's FirstLayer, kept only when it has the shape and bounds the report draws."""
    if not isinstance(value, dict) or not isinstance(value.get("image"), int):
        return None
    try:
        kernels = np.asarray(value.get("kernels"), dtype=np.float64)
        maps = np.asarray(value.get("maps"), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if kernels.ndim != 3 or maps.ndim != 3 or len(kernels) != len(maps) or len(kernels) == 0 or \
            len(kernels) > MAX_PICTURED_FILTERS or max(kernels.shape[1:]) > MAX_PICTURED_KERNEL or \
            max(maps.shape[1:]) > MAX_PICTURED_MAP or \
            not (np.isfinite(kernels).all() and np.isfinite(maps).all()):
        return None
    return FirstLayer(image=value["image"], kernels=kernels.tolist(), maps=maps.tolist())


class Namespace(TypedDict):
    """What the student's variables held when the probe last looked."""

    #: The arrays (images and labels) bound to variables.
    arrays: list[ArrayInfo]
    #: Variable names of each model, by serial number (as a string).
    models: dict[str, list[str]]


class LessonFacts(TypedDict):
    """The lesson data the notebook was given."""

    #: The shape of each lesson array, by key (train_data, ...).
    shapes: dict[str, list[int]]
    #: The class id of each test image.
    test_classes: list[int]


class RunLimits(TypedDict, total=False):
    """The limits the notebook ran under (empty for a live self-check)."""

    #: Wall-clock limit of the whole notebook.
    timeout_s: float
    #: Wall-clock limit of one cell.
    cell_timeout_s: float
    #: Memory limit.
    memory_mb: int
    #: Output kept per notebook.
    output_kb: int


class RunOutcome(Protocol):
    """What the facts read of a sandbox's RunRecord."""

    status: str
    isolation: str
    cells: list[dict[str, Any]]
    events: list[dict[str, Any]]
    runner: list[dict[str, Any]]
    limits: dict[str, Any]
    warm: bool


class HoldoutComparison(TypedDict):
    """The graded model on the visible test images against the holdout (leakage.py)."""

    #: One-sided p-value of "more accurate on the visible test images than on the holdout" (gapstat.py).
    accuracy_p: float
    #: Share of the visible test images whose true class gets at least CONFIDENT.
    confident_visible: float
    #: The same share on the holdout.
    confident_hidden: float
    #: One-sided p-value of "surer of the visible test images than of the holdout".
    confidence_p: float


@dataclass
class Facts:
    """Everything recorded about one run of one notebook, and the grader's measurement."""

    exercise: str
    status: str  # how execution ended: one of protocol.RUN_STATUSES
    isolation: str = ""
    execution: str = "cold"  # "warm": a kernel forked by a fork server; "cold": a fresh process
    limits: RunLimits = field(default_factory=lambda: RunLimits())
    cells: list[CellOutcome] = field(default_factory=list)  # one per code cell, in notebook order
    loads: list[DataLoad] = field(default_factory=list)
    calls: list[RecordedCall] = field(default_factory=list)  # in the order they started
    models: dict[str, ModelEntry] = field(default_factory=dict)  # by serial number, as a string
    graded_model: int | None = None
    namespace: Namespace | None = None
    data: LessonFacts = field(default_factory=lambda: LessonFacts(shapes={}, test_classes=[]))
    probe_ready: bool = False
    export_ok: bool = False
    runner_error: str | None = None
    test_accuracy: float | None = None
    predicted: list[int] | None = None
    probabilities: list[list[float]] | None = None
    confusion: list[list[int]] | None = None
    holdout_accuracy: float | None = None  # on the instructor's hidden images, when given
    holdout_size: int | None = None
    holdout_confident: float | None = None  # share of holdout images whose true class gets >= 0.9
    #: The graded model on the visible test images against the holdout, computed once when the holdout
    #: is measured (leakage.compare); the accuracy check and the result's metrics both read it.
    holdout_comparison: HoldoutComparison | None = None
    first_layer: FirstLayer | None = None  # the graded model's first Conv2D, for the report's picture

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Facts:
        return cls(**data)

    # --- views the checks share ------------------------------------------

    def calls_of(self, kind: str, model: int | None = None) -> list[RecordedCall]:
        return [c for c in self.calls if c["kind"] == kind and (model is None or c["model"] == model)]

    @property
    def graded(self) -> ModelEntry | None:
        return self.models.get(str(self.graded_model)) if self.graded_model is not None else None

    @property
    def graded_structure(self) -> StructureRecord | None:
        """The graded model's architecture, when its file could be read."""
        graded = self.graded
        return graded["structure"] if graded is not None else None

    @property
    def main_fit(self) -> RecordedCall | None:
        """The training call that counts: the graded model's last finished fit, else its last attempt."""
        fits = self.calls_of("fit", self.graded_model)
        candidates = [f for f in fits if f["finished"]] or fits
        return candidates[-1] if candidates else None

    @property
    def main_evaluation(self) -> RecordedCall | None:
        """The graded model's last evaluation on test images, else its last evaluate/predict call."""
        calls = [c for c in self.calls
                 if c["model"] == self.graded_model and c["kind"] in ("evaluate", "predict")]
        candidates = [c for c in calls if c["finished"] and split_of(c)[0] == "test"] or calls
        return candidates[-1] if candidates else None

    def cell(self, index: int | None) -> CellOutcome | None:
        for cell in self.cells:
            if cell["index"] == index:
                return cell
        return None

    def source_line(self, index: int | None, line: int | None) -> str | None:
        cell = self.cell(index)
        if cell is None or line is None:
            return None
        lines = cell["source"].splitlines()
        return lines[line - 1].strip() if 0 < line <= len(lines) else None


# --- reading one recorded array or call --------------------------------------

def origin(info: ArrayInfo | None) -> tuple[Split, int, int]:
    """Where an array's rows came from, with its numbers of training and test rows."""
    rows = info.get("rows") if info else None
    if not rows:
        return ("unknown" if info and info.get("shape") else "none"), 0, 0
    train = sum(end - start for start, end in rows["train"])
    test = sum(end - start for start, end in rows["test"])
    unknown = rows["unknown"]
    if train and not test and not unknown:
        return "train", train, test
    if test and not train and not unknown:
        return "test", train, test
    if not train and not test:
        return "unknown", train, test
    return "mixed", train, test


def split_of(call: RecordedCall) -> tuple[Split, bool]:
    """Which lesson split a call's images are, and whether they were transformed (their
    values changed, recognised by their labels)."""
    kind, _, _ = origin(call["x"])
    labels = call["y"].get("labels") if call["y"] else None
    if kind == "unknown" and labels and labels.get("matches") and labels.get("split") in ("train", "test"):
        return ("train" if labels.get("split") == "train" else "test"), True
    return kind, False


def validation_fraction(fit: RecordedCall) -> float | None:
    """The fraction of training rows a fit call was given as validation_data, when they are training rows."""
    validation = fit["validation_data"]
    kind, rows, _ = origin(validation["x"] if validation else None)
    _, fit_rows, _ = origin(fit["x"])
    if kind != "train" or not fit_rows:
        return None
    return rows / (rows + fit_rows)


# --- building the facts ------------------------------------------------------

def _epochs_asked(settings: Mapping[str, Any]) -> int:
    """The epochs a fit call asked for (Keras' default 1), less its initial_epoch."""
    epochs, initial = settings.get("epochs"), settings.get("initial_epoch")
    epochs = epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else 1
    initial = initial if isinstance(initial, int) and not isinstance(initial, bool) else 0
    return max(epochs - initial, 0)


def _merge_calls(events: Sequence[Mapping[str, Any]], cell_of: Callable[[object], int | None]) -> list[RecordedCall]:
    """Pair each *_start event with its *_end (none if the run ended during the call)."""
    calls: list[RecordedCall] = []
    open_calls: dict[object, RecordedCall] = {}
    for event in events:
        kind = str(event.get("kind", ""))
        base, _, phase = kind.rpartition("_")
        if base not in CALL_KINDS or phase not in CALL_PHASES:
            if kind == "epoch" and event.get("model") in open_calls and event.get("epoch") is not None:
                # Counted, not read off the epoch's number: with initial_epoch=5, epoch 9 is the 5th.
                open_calls[event["model"]]["epochs_run"] += 1
            continue
        model = event.get("model")
        if not isinstance(model, int):
            continue
        if phase == "start":
            call = RecordedCall(
                kind=base, model=model, seq=event["seq"],
                cell=cell_of(event.get("exec")), line=event.get("line"),
                model_names=list(event.get("model_names") or [])[:3],
                x=event.get("x"), y=event.get("y"),
                validation_data=event.get("validation_data"),
                settings=event.get("settings") or {},
                finished=None, error=None, epochs_run=0,
            )
            if base == "compile":
                call["steps_before"] = event.get("optimizer_steps")
            calls.append(call)
            if base == "fit":
                open_calls[model] = call
            else:
                open_calls[(base, model)] = call
        else:
            key = model if base == "fit" else (base, model)
            ended = open_calls.pop(key, None)
            if ended is None:
                continue
            ended["finished"] = bool(event.get("ok"))
            ended["error"] = event.get("error")
            ended["seconds"] = event.get("seconds")
            history = event.get("history")
            if base == "fit" and isinstance(history, dict):
                ended["history"] = history
                # The epochs the probe saw end, not the history's length: a callback can pad the
                # history with a list of any length (one of 20 claimed 20 epochs, and the step
                # count then let 480 steps on the test images pass as training).
                if not ended["epochs_run"] and isinstance(history.get("loss"), list):
                    ended["epochs_run"] = min(len(history["loss"]), _epochs_asked(ended["settings"]))
            if base == "evaluate":
                ended["returned"] = event.get("returned")
            if base == "compile":
                ended["optimizer_steps"] = event.get("optimizer_steps")
    return calls


@dataclass
class _Progress:
    """How far one model got, to choose the graded model."""

    compiled: bool = False
    fit_tried: bool = False
    fit_done: bool = False
    fit_on_train: bool = False
    last: int = 0  # the sequence number of its last call


def _model_progress(calls: list[RecordedCall]) -> dict[int, _Progress]:
    progress: dict[int, _Progress] = {}
    for call in calls:
        entry = progress.setdefault(call["model"], _Progress())
        entry.last = max(entry.last, call["seq"])
        if call["kind"] == "compile" and call["finished"]:
            entry.compiled = True
        if call["kind"] == "fit":
            entry.fit_tried = True
            if call["finished"]:
                entry.fit_done = True
                rows = call["x"].get("rows") if call["x"] else None
                entry.fit_on_train = bool(rows and rows["train"])
    return progress


def select_graded_model(models: dict[str, ModelEntry], calls: list[RecordedCall], units: list[int]) -> int | None:
    """The model the student meant to hand in, whatever its variable name.

    The furthest along wins: trained on the training data, then trained at
    all, then a training attempt, then compiled, then merely built. Among
    equals, one with the exercise's layer sizes wins (a notebook may also hold
    the other part's model), then the most recent.
    """
    progress = _model_progress(calls)
    best: int | None = None
    best_rank: tuple[bool, bool, bool, bool, bool, int, int] | None = None
    for key, model in models.items():
        serial = int(key)
        if not model["saved"]:
            continue
        done = progress.get(serial, _Progress())
        structure = model["structure"]
        matches = [b["units"] for b in structure["blocks"]] == units if structure else units == []
        rank = (done.fit_on_train, done.fit_done, done.fit_tried, done.compiled, matches, done.last, serial)
        if best_rank is None or rank > best_rank:
            best, best_rank = serial, rank
    return best


def confusion_matrix(true: list[int], predicted: list[int], classes: int) -> list[list[int]]:
    width = max([classes, *[p + 1 for p in predicted]])
    matrix = np.zeros((classes, width), dtype=int)
    for t, p in zip(true, predicted, strict=False):
        matrix[t, p] += 1
    rows: list[list[int]] = matrix.tolist()
    return rows


def _cell_outcome(index: int, source: str, reported: dict[str, Any] | None) -> CellOutcome:
    """The runner's report of a cell with its source; a cell it did not report did not run."""
    record: dict[str, Any] = dict(reported or {"index": index, "status": "not_run"})
    record.pop("event", None)
    record["source"] = source
    return cast(CellOutcome, record)  # the reader (sandbox/readback.py) kept only CellOutcome's fields


def build(exercise: Exercise, run: RunOutcome, sources: dict[int, str], data_shapes: dict[str, list[int]],
          test_classes: list[int], model_reports: dict[int, dict[str, Any]]) -> Facts:
    """Assemble the facts of one graded notebook and choose the graded model.

    `run` is the sandbox's RunRecord; `model_reports` maps model serials to the
    screened structure of their files. The grader's own measurement is added
    afterwards by `measure`.
    """
    count_to_cell = {c.get("execution_count"): c["index"] for c in run.cells
                     if isinstance(c.get("execution_count"), int)}
    reported = {c["index"]: c for c in run.cells}
    cells = [_cell_outcome(index, source, reported.get(index)) for index, source in sorted(sources.items())]

    def cell_of(count: object) -> int | None:
        return count_to_cell.get(count)

    events = run.events
    facts = Facts(exercise=exercise.id, status=run.status, isolation=run.isolation,
                  limits=cast(RunLimits, run.limits), cells=cells,
                  data=LessonFacts(shapes=data_shapes, test_classes=list(test_classes)),
                  execution="warm" if run.warm else "cold")
    facts.probe_ready = any(e.get("kind") == "probe_ready" for e in events)
    facts.export_ok = any(e.get("kind") == "export_done" for e in events)
    facts.runner_error = next((str(r.get("error"))[:500] for r in run.runner
                               if r.get("event") in ("limit", "runner_error", "kernel_failed")), None)
    facts.loads = [DataLoad(file=e.get("file"), key=e.get("key"), shape=e.get("shape"), dtype=e.get("dtype"),
                            cell=cell_of(e.get("exec")), line=e.get("line"), requested=e.get("requested"))
                   for e in events if e.get("kind") == "load"][:200]
    facts.calls = _merge_calls(events, cell_of)
    names: dict[int, list[str]] = {}
    for event in events:  # the last note of the namespace wins; the final one has the models
        if event.get("kind") == "namespace":
            facts.namespace = Namespace(arrays=event.get("arrays") or [], models=event.get("models") or {})
            for key, value in (event.get("models") or {}).items():
                if str(key).isascii() and str(key).isdigit():  # "²".isdigit(), but int("²") fails
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
    return facts


def measure(facts: Facts, evaluated: dict[str, Any], test_classes: list[int]) -> None:
    """Record the evaluator's verdict on the graded model: predictions, accuracy, confusion matrix."""
    model = facts.graded
    if model is None:
        return
    evidence = evidence_of(evaluated.get("evidence"))
    if evidence is not None:
        model["evidence"] = evidence
        model["iterations"] = evidence["iterations"]
    if "predictions" not in evaluated:
        model["load_error"] = model["load_error"] or evaluated.get("error") or "it could not be evaluated"
        return
    probabilities = np.asarray(evaluated["predictions"], dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != len(test_classes) or probabilities.shape[1] == 0:
        model["load_error"] = "its predictions did not have one row per test image"
        return
    predicted: list[int] = probabilities.argmax(axis=1).tolist()
    facts.probabilities = np.round(probabilities, 4).tolist()
    facts.predicted = predicted
    facts.test_accuracy = round(float(np.mean(np.asarray(predicted) == np.asarray(test_classes))), 4)
    facts.confusion = confusion_matrix(test_classes, predicted, 3)
    model["accuracy"] = facts.test_accuracy
    facts.first_layer = first_layer_of(evaluated.get("first_layer"))


#: The probability of the true class from which a model is "sure" of an image (leakage.py
#: compares the share of such images on the visible test set and on the holdout).
CONFIDENT = 0.9


def confident_fraction(probabilities: np.ndarray, classes: list[int]) -> float:
    """The share of images whose true class gets at least CONFIDENT probability."""
    truth = probabilities[np.arange(len(classes)), np.asarray(classes)]
    return round(float(np.mean(truth >= CONFIDENT)), 4)


def measure_holdout(facts: Facts, evaluated: dict[str, Any], classes: list[int]) -> None:
    """The graded model's accuracy on the hidden holdout, or nothing if it could not be measured."""
    probabilities = np.asarray(evaluated.get("predictions", []), dtype=np.float64)
    if probabilities.ndim != 2 or len(probabilities) != len(classes) or probabilities.shape[1] == 0:
        return
    predicted = probabilities.argmax(axis=1)
    facts.holdout_accuracy = round(float(np.mean(predicted == np.asarray(classes))), 4)
    facts.holdout_size = len(classes)
    facts.holdout_confident = confident_fraction(probabilities, classes)
