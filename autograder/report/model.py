"""The report model: one plain description of a graded notebook that every
rendering (terminal, Markdown, HTML) draws from.

It is built from the result document alone, plus the grader's copy of the test
images for the gallery of mistakes, so a report can be rendered again later
from a stored result. It holds only what a student may see: the student's own
code and errors, their model, their training curves, their test predictions;
never the grader's paths, internals or a threshold the instructor hid.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..data import CLASS_NAMES
from ..exercises import Exercise
from ..facts import FirstLayer
from ..modelfile import StructureRecord
from ..phrasing import key_line
from ..result import (
    GRADER_FAULT,
    SUBMISSION_FILES,
    CellEntry,
    CheckEntry,
    Details,
    ResultDocument,
    graded_with_text,
    grading_notice,
)

MAX_GALLERY = 24
MAX_FAILING_CELLS = 5
#: Epochs a learning curve needs before it is read aloud: fewer say nothing about a trend.
MIN_EPOCHS_READ = 3
#: Columns of the confusion matrix shown; a model with more outputs has the rest summed in one.
MAX_CONFUSION_COLUMNS = 8


@dataclass
class Report:
    notebook: str
    exercise: str | None
    status: str
    score: float
    max_score: float
    verdict: str
    checks: list[CheckEntry]
    passed: int
    accuracy: float | None = None
    threshold: float | None = None
    threshold_hidden: bool = False
    holdout_accuracy: float | None = None  # only when the instructor lets students see it
    layers: list[dict] = field(default_factory=list)  # your layer beside the expected one
    history: dict | None = None
    curve_notes: list[str] = field(default_factory=list)
    confusion: list[list[int]] | None = None
    class_names: tuple = CLASS_NAMES
    mistakes: list[dict] = field(default_factory=list)
    mistakes_total: int = 0
    failing_cells: list[dict] = field(default_factory=list)
    #: Failing cells not shown, past MAX_FAILING_CELLS.
    failing_cells_more: int = 0
    #: The root causes, most upstream first, each with the checks it costs and its code.
    causes: list[dict] = field(default_factory=list)
    not_graded: list[str] = field(default_factory=list)
    isolation: str | None = None
    #: Which data graded it ("data: fashion.npz (…), holdout: …"), and the line said when no holdout did.
    graded_with: str | None = None
    holdout_notice: str | None = None
    duration: float = 0.0
    first_layer: FirstLayer | None = None  # a first Conv2D's filters and feature maps, to picture
    first_layer_image: object = None  # the test image its feature maps are of, when known

    @property
    def first_layer_filters(self) -> int:
        return len(self.first_layer["kernels"]) if self.first_layer else 0

    @property
    def total(self) -> int:
        return len(self.checks)

    @property
    def own_failures(self) -> list[CheckEntry]:
        """Failed checks no cause explains: each keeps its own card."""
        return [c for c in self.checks if not c["passed"] and not c.get("cause")]

    @property
    def passed_checks(self) -> list[CheckEntry]:
        return [c for c in self.checks if c["passed"]]


Shape = list  # a layer's output shape, batch axis first: [None, 13, 13, 10]
POOLING = ("MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AveragePool2D")
ACTIVATION_ONLY = ("Activation", "ReLU", "Softmax", "LeakyReLU", "ELU", "PReLU")


def _pair(value) -> tuple[int, int] | None:
    """A kernel, pool or stride size as (height, width): Keras takes an int or a pair, of at least 1."""
    def size(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    if size(value):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(size(v) for v in value):
        return value[0], value[1]
    return None


def _slide(size: int | None, window: int, stride: int, padding: str) -> int | None:
    """Positions a window of `window` pixels takes over `size` pixels, as Keras computes them."""
    if not isinstance(size, int):
        return None
    if padding == "same":
        return -(-size // stride)
    return max((size - window) // stride + 1, 0)


def _grid_row(kind: str, settings: dict, shape: Shape | None) -> tuple[dict, Shape | None]:
    """A Conv2D or pooling layer's row and output shape, from its settings and its input shape."""
    is_pool = kind in POOLING
    window = _pair(settings.get("pool_size" if is_pool else "kernel_size"))
    stride = _pair(settings.get("strides")) or (window if is_pool else (1, 1))
    dilation = _pair(settings.get("dilation_rate")) or (1, 1)
    padding = str(settings.get("padding") or "valid").lower()
    name = "MaxPooling2D" if kind == "MaxPool2D" else "AveragePooling2D" if kind == "AveragePool2D" else kind
    filters = settings.get("filters")
    size = "?" if window is None else f"{window[0]}x{window[1]}"
    row: dict = {"kind": f"{name}({size})" if is_pool else f"{name}({filters}, {size})",
                 "activation": None if is_pool else settings.get("activation") or "linear", "params": 0}
    grid = shape is not None and len(shape) == 4
    if window is None or stride is None or not grid:
        row.update(shape=[None, None, None, None if is_pool else filters], params=None)
        return row, row["shape"]
    assert shape is not None  # for the type checker: `grid` says so
    spans = [(window[axis] - 1) * (1 if is_pool else dilation[axis]) + 1 for axis in (0, 1)]
    height, width = (_slide(shape[1 + axis], spans[axis], stride[axis], padding) for axis in (0, 1))
    channels = shape[3]
    if is_pool:
        row["shape"] = [None, height, width, channels]
    else:
        row["shape"] = [None, height, width, filters]
        bias = 0 if settings.get("use_bias") is False else 1
        row["params"] = (window[0] * window[1] * channels + bias) * filters \
            if isinstance(channels, int) and isinstance(filters, int) else None
    return row, row["shape"]


def _flattened(shape: Shape | None) -> Shape:
    size: int | None = 1
    for dim in (shape or [None, None])[1:]:
        size = size * dim if isinstance(dim, int) and isinstance(size, int) else None
    return [None, size]


def layer_rows(input_shape: Shape | None, layers: list[dict]) -> list[dict]:
    """Rows of a network: Input, then each layer with its output shape and weight count.

    `layers` are dicts with a "type" (Dense, Conv2D, MaxPooling2D, Flatten, Dropout, ...) and the
    layer's settings under Keras' names (units, filters, kernel_size, pool_size, strides, padding,
    activation): the exercise's declared layers and the student's recorded ones alike."""
    shape = list(input_shape) if input_shape else None
    rows: list[dict] = [{"kind": "Input", "shape": shape, "activation": None, "params": 0}]
    for layer in layers:
        kind = str(layer.get("type"))
        if kind == "Dense":
            units = layer.get("units")
            inputs = shape[-1] if shape and len(shape) > 1 else None
            shape = (shape[:-1] if shape else [None]) + [units]
            rows.append({"kind": f"Dense({units})", "shape": shape, "activation": layer.get("activation") or "linear",
                         "params": (inputs + 1) * units if isinstance(inputs, int) and isinstance(units, int)
                         else None})
        elif kind == "Conv2D" or kind in POOLING:
            row, shape = _grid_row(kind, layer, shape)
            rows.append(row)
        elif kind == "Flatten":
            shape = _flattened(shape)
            rows.append({"kind": kind, "shape": shape, "activation": None, "params": 0})
        elif kind in ACTIVATION_ONLY:
            applied = layer.get("activation")
            last = rows[-1]
            if last["kind"].startswith(("Dense(", "Conv2D(")) and last["activation"] == "linear":
                last.update(activation=applied, note=f"activation from the {kind} layer after it")
            else:
                rows.append({"kind": kind, "shape": shape, "activation": applied, "params": 0})
        elif kind == "Dropout":
            rate = layer.get("rate")
            rows.append({"kind": f"Dropout({rate:g})" if isinstance(rate, (int, float)) else "Dropout",
                         "shape": shape, "activation": None, "params": 0})
        else:
            rows.append({"kind": kind, "shape": shape, "activation": layer.get("activation"), "params": 0})
    return rows


def expected_layers(exercise: Exercise) -> list[dict]:
    """The exercise's declared network as rows: Input, then its layers with output shapes and weights."""
    declared = [{key: value for key, value in asdict(layer).items() if value is not None} for layer in exercise.layers]
    return layer_rows([None, *exercise.input_shape], declared)


def student_layers(structure: StructureRecord | None) -> list[dict]:
    """The student's layers with output shapes and weight counts, worked out from the config."""
    if not structure:
        return []
    layers = [{**layer, "type": layer["class"]} for layer in structure["layers"] if layer["class"] != "InputLayer"]
    return layer_rows(structure["input_shape"], layers)


def _layer_type(row: dict) -> str:
    return str(row["kind"]).split("(")[0]


def compare_layers(yours: list[dict], expected: list[dict]) -> list[dict]:
    """Pair the rows and name the fields that differ, so renderings can mark them.

    Rows are aligned by layer type (difflib), so that a missing or extra layer shows as a row
    with one side empty and the layers after it still meet their counterparts."""
    from difflib import SequenceMatcher

    pairs: list[tuple[dict | None, dict | None]] = []
    matcher = SequenceMatcher(None, [_layer_type(r) for r in yours], [_layer_type(r) for r in expected],
                              autojunk=False)
    for _tag, mine_start, mine_end, theirs_start, theirs_end in matcher.get_opcodes():
        mine, theirs = yours[mine_start:mine_end], expected[theirs_start:theirs_end]
        # "equal" pairs all; "replace" (other types in the same place) pairs what it can; the rest,
        # and "delete"/"insert", stand alone
        common = min(len(mine), len(theirs))
        pairs += list(zip(mine[:common], theirs[:common], strict=True))
        pairs += [(row, None) for row in mine[common:]] + [(None, row) for row in theirs[common:]]
    rows = []
    for mine_row, theirs_row in pairs:
        differs = ["layer"] if mine_row is None or theirs_row is None else \
            [key for key in ("kind", "shape", "activation", "params") if mine_row.get(key) != theirs_row.get(key)]
        rows.append({"yours": mine_row, "expected": theirs_row, "differs": differs})
    return rows


def _accuracy_key(history: dict) -> str | None:
    for key in history:
        if "acc" in key and not key.startswith("val_"):
            return key
    return None


def read_curves(history: dict | None) -> list[str]:
    """A short plain reading of the learning curves."""
    if not history or not history.get("loss"):
        return []
    loss = [v for v in history["loss"] if v is not None]
    val = [v for v in history.get("val_loss") or [] if v is not None]
    if len(loss) < MIN_EPOCHS_READ or len(val) < MIN_EPOCHS_READ:
        return []  # one or two points, or no validation data: nothing to read in them
    notes = []
    if len(loss) >= 2 and loss[-1] >= loss[0] * 0.98:
        notes.append("The training loss did not fall: the network is not learning. Check the loss, the "
                     "output layer's activation and the data you train on.")
    if len(val) >= 3 and len(val) == len(loss):
        best = min(range(len(val)), key=val.__getitem__)
        if best < len(val) - 2 and val[-1] > val[best] * 1.05 and loss[-1] < loss[best]:
            notes.append(f"The validation loss was lowest after epoch {best + 1} and rose afterwards while the "
                         "training loss kept falling: the network started to over-fit, learning the training "
                         "images rather than what makes a shoe a shoe.")
        elif not notes and val[-1] <= min(val) * 1.001 and loss[-1] < loss[-2]:
            notes.append("Both losses were still falling at the last epoch: more epochs might still help.")
    key = _accuracy_key(history)
    if key and history.get(key) and history.get(f"val_{key}"):  # a callback can empty either
        train, valid = history[key][-1], history[f"val_{key}"][-1]
        if train is not None and valid is not None and train - valid > 0.1:
            notes.append(f"Training accuracy ({train:.2f}) is well above validation accuracy ({valid:.2f}): "
                         "the network does better on images it has seen than on new ones.")
    if not notes:
        notes.append("Training and validation loss fell together: the network learned without over-fitting.")
    return notes


def _verdict(result: ResultDocument, passed: int) -> str:
    """The headline: the first root cause in words with its place, else the first failed check."""
    total = len(result["checks"])
    if result["status"] == "invalid" and result.get("causes"):
        first = (result.get("causes") or [])[0]
        if first["kind"] == SUBMISSION_FILES:  # the files handed in, not the notebook: say what is wrong
            return f"Not graded: {first['title']}."
        return "Not graded: the grader could not read this file."
    if result["status"] == "invalid":
        return f"Not graded: {result.get('reason', 'the notebook could not be read')}."
    if any(cause["kind"] == GRADER_FAULT for cause in (result.get("causes") or [])[:1]):
        return "Not decided: the grader could not run the notebook (its own fault, not the notebook's)."
    stopped = {"timeout": "The notebook ran out of time. ",
               "kernel_died": "The notebook's Python kernel died. "}.get(result["status"], "")
    if result.get("stop_reason") and "wrote more than" in result["stop_reason"]:
        stopped = result["stop_reason"] + " "
    if passed == total:
        return stopped + f"All {total} checks passed."
    causes = result.get("causes") or []
    failed = f"{total - passed} of {total} checks failed"
    if causes:
        first = causes[0]
        costs = len(first["checks"])
        place = f" ({first['where']})" if first["cell"] is not None else ""
        return (stopped + f"{failed}. Start here: {first['title']}{place}; fixing it should fix "
                f"{costs} check{'s' if costs != 1 else ''}.")
    first_check = next(c for c in _ordered(result) if not c["passed"])
    return stopped + f"{failed}; start with “{first_check['title']}”."


def cell_title(cell: CellEntry) -> str:
    """A cell as a student finds it: 'code cell 5 (under “Train”), `model.fit(...)`'."""
    number = cell.get("number")
    text = f"code cell {number}" if number is not None else "a cell"
    if cell.get("heading"):
        text += f" (under “{cell['heading']}”)"
    first = next((line.strip() for line in (cell.get("source") or "").splitlines() if line.strip()), "")
    if first:
        text += f", `{first if len(first) <= 60 else first[:59] + '…'}`"
    return text


def _code_lines(source: str, marked: int | None) -> list[dict]:
    return [{"number": n, "text": text, "marked": n == marked}
            for n, text in enumerate(source.splitlines() or [""], start=1)]


def _causes(result: ResultDocument) -> list[dict]:
    """Each cause with its checks (title and points) and the code of its cell, the line marked."""
    by_id = {c["id"]: c for c in result["checks"]}
    cells = {c["index"]: c for c in result.get("cells", [])}
    shown = []
    for cause in result.get("causes") or []:
        cell = cells.get(cause["cell"]) if cause["cell"] is not None else None
        source = cell.get("source") if cell else None
        consequences = [cell_title(cells[i]) for i in cause["consequences"] if i in cells]
        shown.append({**cause, "costs": [by_id[i] for i in cause["checks"] if i in by_id],
                      "points": sum(by_id[i]["max_points"] - by_id[i]["points"] for i in cause["checks"] if i in by_id),
                      "lines": _code_lines(source, cause["line"]) if source else [],
                      "also": consequences})
    return shown


def _ordered(result: ResultDocument) -> list[CheckEntry]:
    checks = result["checks"]
    return [c for c in checks if not c["passed"]] + [c for c in checks if c["passed"]]


def _failing_cells(result: ResultDocument) -> tuple[list[dict], int]:
    """The failing cells no cause already shows (at most MAX_FAILING_CELLS), and how many more."""
    cells = []
    for cell in result["cells"]:
        if cell["status"] not in ("error", "timeout", "died") or "source" not in cell or cell.get("cause"):
            continue
        marked = cell.get("line") if cell["status"] == "error" else None
        line = ""
        if cell["status"] == "error":
            line = key_line(cell.get("evalue") or "")
            error = f"{cell.get('ename')}: {line}" if line else str(cell.get("ename"))
            explanation = cell.get("explanation") or ""
        elif cell["status"] == "timeout":
            error = "Time limit reached"
            explanation = f"the cell was still running after {cell.get('limit_s') or '?'} s"
        else:
            error, explanation = "Kernel died", "the Python process running the notebook stopped during this cell"
        cells.append({"number": cell.get("number", cell["index"] + 1), "title": cell_title(cell),
                      "status": cell["status"], "lines": _code_lines(cell["source"], marked), "error": error,
                      "explanation": explanation if explanation not in (error, line) else ""})
    return cells[:MAX_FAILING_CELLS], max(0, len(cells) - MAX_FAILING_CELLS)


def _not_graded(result: ResultDocument) -> list[str]:
    if result["status"] == "invalid":
        return [] if result.get("causes") else [result.get("reason", "the notebook could not be read")]
    notes = []
    cells = result["cells"]
    limits = result.get("limits", {})
    for cell in cells:
        number = cell.get("number", cell["index"] + 1)
        if cell["status"] == "timeout":
            notes.append(f"Code cell {number} was stopped after {cell.get('limit_s') or '?'} s "
                         f"(the notebook may take {limits.get('timeout_s', '?'):g} s in all).")
        if cell["status"] == "died":
            notes.append(f"The Python kernel died while running code cell {number}; it may have run out "
                         f"of memory (the limit is {limits.get('memory_mb', '?')} MB) or exited the process.")
    skipped = [str(c.get("number", c["index"] + 1)) for c in cells if c["status"] == "not_run"]
    if skipped:
        listed = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        notes.append(f"Code cells {listed} did not run, so nothing they would have done was graded."
                     if len(skipped) > 1 else f"Code cell {skipped[0]} did not run, so nothing it would have "
                                               "done was graded.")
    if any(c.get("output_truncated") for c in cells):
        notes.append("Some output was cut short: the grader keeps at most "
                     f"{limits.get('output_kb', '?')} KB of printed output.")
    return notes


def _mistakes(details: Details | None, test_images) -> tuple[list[dict], int]:
    if details is None:
        return [], 0
    predicted = details["predicted_classes"] or []
    true = details["test_classes"]
    probabilities = details["predicted_probabilities"] or []
    wrong = [i for i, (p, t) in enumerate(zip(predicted, true, strict=False)) if p != t]
    samples = []
    for index in wrong[:MAX_GALLERY]:
        label = predicted[index]
        confidence = probabilities[index][label] if index < len(probabilities) and \
            label < len(probabilities[index]) else None
        samples.append({
            "index": index,
            "true": CLASS_NAMES[true[index]],
            "predicted": CLASS_NAMES[label] if label < len(CLASS_NAMES) else f"class {label}",
            "confidence": confidence,
            "pixels": test_images[index] if test_images is not None and index < len(test_images) else None,
        })
    return samples, len(wrong)


def bounded_confusion(matrix: list[list[int]], class_names: tuple) -> tuple[list[list[int]], tuple]:
    """The matrix and its column names, with the columns past MAX_CONFUSION_COLUMNS summed in one
    ("other outputs"): a model with thousands of outputs is shown, and drawn, in a few columns."""
    names = tuple(class_names[i] if i < len(class_names) else f"class {i}" for i in range(len(matrix[0])))
    if len(names) <= MAX_CONFUSION_COLUMNS:
        return matrix, tuple(class_names)
    kept = MAX_CONFUSION_COLUMNS - 1
    folded = [[*row[:kept], sum(row[kept:])] for row in matrix]
    return folded, (*names[:kept], f"other outputs ({kept}-{len(names) - 1})")



def _isolation(result: ResultDocument) -> str | None:
    """How the notebook was isolated, in words: a run that shared the machine's network says so."""
    isolation = result.get("isolation")
    if isolation and result.get("network") == "shared":
        return f"{isolation}, sharing the grading machine's network"
    return isolation

def build(result: ResultDocument, exercise: Exercise | None = None, test_images=None) -> Report:
    """The report of one result document; `test_images` enables the gallery of mistakes."""
    checks = _ordered(result)
    passed = sum(1 for c in checks if c["passed"])
    metrics = result["metrics"]
    details = result.get("details")
    report = Report(notebook=result["notebook"], exercise=result["exercise"],
                    status=result["status"], score=result["score"],
                    max_score=result["max_score"], verdict=_verdict(result, passed), checks=checks,
                    passed=passed, accuracy=metrics.get("test_accuracy"), threshold=metrics.get("threshold"),
                    threshold_hidden=bool(metrics.get("threshold_hidden")), isolation=_isolation(result),
                    graded_with=graded_with_text(result), holdout_notice=grading_notice(result),
                    duration=result["duration_s"])
    if metrics.get("holdout_shown"):
        report.holdout_accuracy = metrics.get("holdout_accuracy")
    report.failing_cells, report.failing_cells_more = _failing_cells(result)
    report.causes = _causes(result)
    report.not_graded = _not_graded(result)
    graded = details["graded_model"] if details else None
    structure = graded["structure"] if graded else None
    if exercise is not None and (structure or result["status"] != "invalid"):
        report.layers = compare_layers(student_layers(structure), expected_layers(exercise))
    report.history = details["history"] if details else None
    report.curve_notes = read_curves(report.history)
    if details and details["confusion_matrix"]:
        report.confusion, report.class_names = bounded_confusion(details["confusion_matrix"], report.class_names)
    report.mistakes, report.mistakes_total = _mistakes(details, test_images)
    report.first_layer = details.get("first_layer") if details else None
    if report.first_layer and test_images is not None and 0 <= report.first_layer["image"] < len(test_images):
        report.first_layer_image = test_images[report.first_layer["image"]]
    return report
