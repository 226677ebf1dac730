"""The report model: one plain description of a graded notebook that every
rendering (terminal, Markdown, HTML) draws from.

It is built from the result document alone, plus the grader's copy of the test
images for the gallery of mistakes, so a report can be rendered again later
from a stored result. It holds only what a student may see: the student's own
code and errors, their model, their training curves, their test predictions;
never the grader's paths, internals or a threshold the instructor hid.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..data import CLASS_NAMES
from ..exercise.registry import Exercise
from ..grading.facts import FirstLayer
from ..grading.phrasing import key_line
from ..grading.result import (
    GRADER_FAULT,
    SUBMISSION_FILES,
    CellEntry,
    CheckEntry,
    Details,
    ResultDocument,
    graded_with_text,
    grading_notice,
)
from ..grading.shapes import (  # noqa: F401 - layer_rows: the report's names
    compare_layers,
    difference_notes,
    expected_layers,
    layer_rows,
    student_layers,
)

MAX_GALLERY = 24
MAX_FAILING_CELLS = 5
#: Epochs a learning curve needs before it is read aloud: fewer say nothing about a trend.
MIN_EPOCHS_READ = 3
#: Columns of the confusion matrix shown; a model with more outputs has the rest summed in one.
MAX_CONFUSION_COLUMNS = 8


UNTRAINED = ("Your model never trained: its weights are still the random ones Keras starts with, so what it "
             "predicts for the test images says nothing about your network yet. Its predictions are shown here "
             "once it trains: fix what keeps `fit` from training it first.")


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
    #: How the layers differ, in words, above the table.
    layer_notes: list[str] = field(default_factory=list)
    #: The graded model never trained: its predictions say nothing, and are not drawn.
    untrained: bool = False
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
    # One form whatever leads: what to fix first, then where it is in the notebook's words.
    if causes:
        first = causes[0]
        costs = len(first["checks"])
        place = f" ({first['where']})" if first["cell"] is not None else ""
        return (stopped + f"{failed}. Start here: {first['title']}{place}; fixing it should fix "
                f"{costs} check{'s' if costs != 1 else ''}.")
    first_check = next(c for c in _ordered(result) if not c["passed"])
    return stopped + f"{failed}. Start here: {first_check['title']} (check {first_check['id']})."


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
        report.layer_notes = difference_notes(report.layers)
    report.history = details["history"] if details else None
    report.curve_notes = read_curves(report.history)
    # An untrained model's predictions and filters are those of the random weights it started with:
    # not drawn, the report says so instead.
    report.untrained = details is not None and details.get("trained") is False and report.accuracy is not None
    if report.untrained:
        return report
    if details and details["confusion_matrix"]:
        report.confusion, report.class_names = bounded_confusion(details["confusion_matrix"], report.class_names)
    report.mistakes, report.mistakes_total = _mistakes(details, test_images)
    report.first_layer = details.get("first_layer") if details else None
    if report.first_layer and test_images is not None and 0 <= report.first_layer["image"] < len(test_images):
        report.first_layer_image = test_images[report.first_layer["image"]]
    return report
