"""Cause analysis: the stage between the checks and the result that names each root cause once,
most upstream first, and says which failed checks each one explains. It makes the result's
`causes` entries itself (result.CauseEntry, declared once there).

One mistake often fails several checks and raises in several cells: a missing import
leaves a model without layers, which then fails to train and to evaluate. This stage
reads the cell outcomes, the recorded calls and the graded model, and traces each failure
back to where it started:

- the data-flow of names across cells (dataflow.py): a name a failed cell never defined, a
  name defined under another spelling (`trian_data_1d = ...`, then `train_data_1d` used:
  the definition is the mistake, and the fix renames it);
- the graded model read against the exercise before any error of `fit` is (modelflow.py):
  an output layer of other units than the classes, no Flatten before the Dense layer, a 2-D
  input_shape on a Conv2D, maps a kernel no longer fits in, flat rows given to a Conv2D;
- the data given to the model: unflattened images, or flat ones it cannot take;
- a download that failed because grading has no internet.

A silent root cause (its cell ran fine) is placed where it was made, so it leads when it is
the most upstream; the cells whose errors follow from a cause become its consequences, never
causes of their own. Each failed check is attached to the cause that explains it; a check no
cause explains keeps `cause` None: its own message is the explanation.
"""
from __future__ import annotations

import difflib
import io
import re
import tokenize
from collections.abc import Iterable

from ..data import KEYS
from ..exercise.model import Exercise
from ..protocol import ANSI_ESCAPE
from . import dataflow
from .facts import ArrayInfo, CellOutcome, Facts, RecordedCall
from .modelflow import LAYER_WORDS, OUTPUT_ERROR, Finding, ModelReading, lines_with
from .phrasing import (
    DOWNLOAD_HINT,
    IMPORT_HINTS,
    cell_name,
    clip_words,
    explain_error,
    is_network_error,
    key_line,
    location,
    shape_text,
    stopped_sentence,
    upper_first,
)
from .result import MAX_EVALUE, CauseEntry, CheckEntry

#: Modules students import in this lesson, to tell a misspelt module from a missing package.
KNOWN_MODULES = ("keras", "keras.models", "keras.layers", "keras.utils", "keras.optimizers", "keras.losses",
                 "keras.metrics", "keras.callbacks", "keras.datasets", "tensorflow", "tensorflow.keras",
                 "tensorflow.keras.models", "tensorflow.keras.layers", "tensorflow.keras.utils", "numpy",
                 "matplotlib", "matplotlib.pyplot")
#: Names students import from keras, to name the one a misspelt import means.
KERAS_NAMES = ("Sequential", "Dense", "Flatten", "Input", "Model", "Conv2D", "MaxPooling2D", "Dropout",
               "Activation", "to_categorical", "Adam", "SGD", "layers", "models", "utils", "optimizers")
#: Words of the cells whose failure can explain each check: the cell that produces its evidence.
EVIDENCE_WORDS = {
    "data.load": ("np.load", "fashion[", ".load(", "load_data(", "datasets", "urlretrieve", "get_file("),
    "data.reshape": ("reshape", "flatten", "train_data_1d", "test_data_1d"),
    "model": ("Sequential", "Dense", ".add(", "Model(", "Input(", "layers."),
    "compile": ("compile(",),
    "fit": ("fit(",),
    "evaluate": ("evaluate(", "predict("),
}
SHAPE_ERROR = re.compile(r"incompatible shape|Invalid input shape|expected axis|input shape|"
                         r"cardinality|must have the same shape|are incompatible", re.I)
#: Keras refusing the data given to a model for its input shape (not the labels for its output).
INPUT_ERROR = re.compile(r"Invalid input shape|expected axis|is incompatible with the layer|Expected shape", re.I)
LOSS_ERROR = re.compile(r"target|label|logits", re.I)
#: Keras refusing to use a model whose building failed part way.
HALF_BUILT = re.compile(r"already been configured to use input shape|has no layers|never been called|"
                        r"has not yet been built|isn't built", re.I)
#: Losses that need labels as class numbers, not the one-hot rows train_labels holds.
SPARSE_LOSSES = ("sparse_categorical_crossentropy",)
RESTART = "then use Kernel > Restart & Run All to check that the notebook runs from the top"


# For tests and callers of the earlier names.
MAX_PARSED_CELL = dataflow.MAX_PARSED_CELL
MAX_PARSED_NOTEBOOK = dataflow.MAX_PARSED_NOTEBOOK
_names_defined = dataflow.cell_names
_parsed_sources = dataflow.parsed_sources


def _line_with(source: str, words: Iterable[str]) -> int | None:
    for number, text in enumerate(source.splitlines(), start=1):
        if any(word in text for word in words) and not text.lstrip().startswith("#"):
            return number
    return None


def _unclosed_bracket(source: str) -> tuple[str, int] | None:
    """The first bracket the code opens and never closes, with its line."""
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.OP and token.string in "([{":
                stack.append((token.string, token.start[0]))
            elif token.type == tokenize.OP and token.string in pairs and stack and stack[-1][0] == pairs[token.string]:
                stack.pop()
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # tokenize stops at the end of input with brackets open: what is on the stack is the answer
    return stack[0] if stack else None


def place(facts: Facts, index: int | None, line: int | None, headings: dict[int, str]) -> str:
    """Where a student finds a cell: 'code cell 5 (under “Build the model”), line 2'."""
    if index is None:
        return "no single place"
    text = cell_name(facts, index)
    heading = headings.get(index)
    if heading:
        text += f" (under “{heading}”)"
    return text + (f", line {line}" if line else "")


def raw_error(ename: str, evalue: str) -> str:
    """The exception as a student would see it, on one line, without the kernel's file name."""
    line = re.sub(r"\s*\(\d+\.py, line \d+\)", "", key_line(evalue))
    return f"{ename}: {line}" if line else ename


def _default_exercise(facts: Facts) -> Exercise:
    from ..exercise import registry as exercises

    try:
        return exercises.get(facts.exercise)
    except exercises.UsageError:  # a file that is gone: the lesson's dense exercise reads the same mistakes
        return exercises.get("keras-dense")


class _Analysis:
    """The state of one analysis: the causes so far, which cell each failing cell follows from,
    and the names a failed cell never defined."""

    def __init__(self, facts: Facts, exercise: Exercise, headings: dict[int, str]):
        self.facts = facts
        self.exercise = exercise
        self.headings = headings
        self.causes: list[CauseEntry] = []
        #: The failed checks a cause explains besides those of the cells that follow from it (a model
        #: finding's), by the cause's id() (an entry is a dict: its own place in the result).
        self.explains: dict[int, frozenset[str]] = {}
        self.cell_cause: dict[int, CauseEntry] = {}
        self.undefined: dict[str, CauseEntry] = {}
        self.flow = dataflow.NameFlow(facts.cells)
        self.reading = ModelReading(facts, exercise, self.where)

    # --- making causes ---------------------------------------------------------

    def add(self, cell: int | None, line: int | None, kind: str, title: str, message: str, next_step: str,
            error: str = "") -> CauseEntry:
        """A cause, as the result's entry says it; its id and checks are given once every check is explained."""
        cause = CauseEntry(id="", cell=cell, line=line, kind=kind, title=title, message=message, next_step=next_step,
                           checks=[], where=place(self.facts, cell, line, self.headings), error=error,
                           consequences=[])
        self.causes.append(cause)
        return cause

    def add_finding(self, finding: Finding, error: str = "") -> CauseEntry:
        cause = self.add(finding.cell, finding.line, finding.kind, finding.title, finding.message,
                         finding.next_step, error)
        self.explains[id(cause)] = finding.explains
        return cause

    def follows(self, cell: CellOutcome, cause: CauseEntry) -> None:
        self.cell_cause[cell["index"]] = cause
        if cause["cell"] != cell["index"] and cell["index"] not in cause["consequences"]:
            cause["consequences"].append(cell["index"])

    def where(self, index: int | None, line: int | None) -> str:
        return location(self.facts, index, line)

    def defined_at(self, name: str, before: int, with_code: bool = True) -> str:
        """'in code cell 2, line 1: `train_data_1d = ...`': where a name was last defined above a cell."""
        place = self.flow.defined_before(name, before)
        if place is None:
            return ""
        return f"in {self.where(place.cell, place.line)}" if with_code else \
            f"in {cell_name(self.facts, place.cell)}, line {place.line}"

    def poison(self, cell: CellOutcome, from_line: int | None, cause: CauseEntry) -> None:
        """The names a failed cell defines at or after the line it stopped at were never defined."""
        names = self.flow.cells.get(cell["index"])
        if names is None:
            return
        for name, line in names.defined.items():
            if not names.parsed or from_line is None or line >= from_line:
                self.undefined.setdefault(name, cause)

    def by_kind(self, *kinds: str) -> CauseEntry | None:
        return next((c for c in self.causes if c["kind"] in kinds), None)

    # --- silent mistakes -------------------------------------------------------

    def silent_causes(self) -> None:
        """The mistakes that raise nothing where they are made: the model's input, its output against
        the labels, the loss against the labels, and the images given to fit and evaluate."""
        self._input_shape_cause()
        self._loss_cause()
        finding = self.reading.output_finding()
        if finding is not None:
            self.add_finding(finding)
        # Where the flat copy was made, not its code: a convolutional model is never shown reshape code.
        flattened = self.reading.flattened_input_finding(lambda name, cell: self.defined_at(name, cell, False))
        if flattened is not None:
            self.add_finding(flattened)
        self._unflattened_cause()
        self._badly_flattened_cause()
        self._class_number_labels_cause()

    def _input_shape_cause(self) -> None:
        facts, exercise = self.facts, self.exercise
        structure = facts.graded_structure
        shape = structure["input_shape"] if structure else None
        if exercise.convolutional or not shape or shape[1:] == list(exercise.input_shape):
            return
        if len(shape) != 2 and (structure and structure["reshaping"] or not self._call_raised(INPUT_ERROR)):
            return  # a model taking whole images that trains: model.input_shape says so on its own
        size = exercise.flat_size
        width = shape[1]
        cell, line = self._input_shape_place()
        source = facts.source_line(cell, line) or ""
        if width == 1 and "shape[-1]" in source:
            title = f"`input_shape=(train_data.shape[-1],)` is (1,), not ({size},)"
            message = (f"In {self.where(cell, line)}, `train_data.shape[-1]` is the last axis of the 4-D "
                       f"train_data {shape_text(facts.data['shapes'].get('train_data') or [600, 28, 28, 1])}: "
                       f"the single colour channel. So the model takes one number per image, while each "
                       f"flattened image has {size}; every later call with flat images fails.")
            next_step = (f"Write `input_shape=({size},)`, or take the size from the flattened array: "
                         f"`input_shape=(train_data_1d.shape[1],)`; then re-run that cell and the ones after it.")
        elif len(shape) != 2:
            title = f"The model takes inputs of shape {shape_text(shape)}, not (None, {size})"
            message = (f"In {self.where(cell, line)} the first layer is given inputs of {shape_text(shape[1:])}, "
                       f"but the flattened images are rows of {size} numbers, so `fit` cannot give them to it.")
            next_step = (f"Give the first layer `input_shape=({size},)`, then re-run that cell and the "
                         "ones after it.")
        else:
            title = f"The model takes inputs of shape (None, {width}), not (None, {size})"
            message = (f"In {self.where(cell, line)} the first layer is given an input of {width} values, "
                       f"but each flattened image has {size}.")
            next_step = (f"Give the first layer `input_shape=({size},)`, then re-run that cell and the "
                         "ones after it.")
        self.add(cell, line, "wrong-input-shape", title, message, next_step)

    def _call_raised(self, pattern: re.Pattern[str]) -> bool:
        calls = (self.facts.main_fit, self.facts.main_evaluation)
        return any(call is not None and call["finished"] is False and call["error"] is not None
                   and pattern.search(call["error"]["evalue"] or "") for call in calls)

    def _definition_of(self, info: ArrayInfo | None, before: int | None) -> tuple[str, dataflow.Place] | None:
        """The student's name for an array given to a call, and the line that made it."""
        names = info["names"] if info else []
        for name in names:
            place = self.flow.defined_before(name, before if before is not None else 10**9)
            if place is not None:
                return name, place
        return None

    def _badly_flattened_cause(self) -> None:
        """Images flattened into another shape than one row per image (`.flatten()`, `reshape(-1)`): the
        line that made them is the mistake, not the `fit` that fails on them."""
        facts, exercise = self.facts, self.exercise
        if exercise.convolutional:
            return
        size = exercise.flat_size
        for call in (facts.main_fit, facts.main_evaluation):
            x = call["x"] if call else None
            shape = x.get("shape") if x else None
            if call is None or not shape or len(shape) >= 4 or list(shape[1:]) == list(exercise.input_shape):
                continue
            made = self._definition_of(x, call["cell"])
            if made is None:
                continue
            name, place = made
            source = facts.source_line(place.cell, place.line) or ""
            if not re.search(r"reshape|flatten|ravel|squeeze", source):
                continue
            images = re.search(r"=\s*(?:np\.\w+\(\s*)?([A-Za-z_]\w*)", source)
            origin = images.group(1) if images else "train_data"
            if len(shape) == 1:
                what = (f"one long row of {shape[0]} numbers: every image's pixels in one row, so `{call['kind']}` "
                        f"sees {shape[0]} samples where there are far fewer labels")
            elif len(shape) == 2:
                what = f"{shape[0]} rows of {shape[1]} numbers, where each image should be one row of {size}"
            else:
                what = f"each image still {'x'.join(map(str, shape[1:]))}, where it should be one row of {size}"
            self.add(place.cell, place.line, "wrong-flattening",
                     f"`{name}` is {shape_text(shape)}, not one row of {size} numbers per image",
                     f"{upper_first(self.where(place.cell, place.line))} makes `{name}` {what}; "
                     f"{self.where(call['cell'], call['line'])} gives it to `{call['kind']}`, which fails on it.",
                     f"Keep one row per image: write `{name} = {origin}.reshape(({origin}.shape[0], -1))` on line "
                     f"{place.line} of {self.where(place.cell, None)}, which gives ({origin}.shape[0], {size}); "
                     f"{RESTART}.")
            return

    def _class_number_labels_cause(self) -> None:
        """Labels made into class numbers for a loss that compares one-hot rows."""
        facts, exercise = self.facts, self.exercise
        fit = facts.main_fit
        structure = facts.graded_structure
        loss = structure["loss"]["name"] if structure and structure["loss"] else exercise.loss
        y = fit["y"] if fit else None
        shape = y.get("shape") if y else None
        classes = len(exercise.classes)
        if fit is None or loss in SPARSE_LOSSES or not shape or list(shape[1:]) == [classes] or \
                not self._call_raised(OUTPUT_ERROR):
            return
        made = self._definition_of(y, fit["cell"])
        if made is None and len(shape) != 1:
            return
        cell, line = (made[1].cell, made[1].line) if made else (fit["cell"], fit["line"])
        name = made[0] if made else (y["names"][0] if y and y["names"] else "the labels")
        what = ("holds class numbers" if len(shape) == 1 else "is not one-hot rows of "
                f"{classes}" + (" (made one-hot a second time?)" if shape[-1] == 2 and len(shape) == 3 else ""))
        self.add(cell, line, "labels-not-one-hot",
                 f"`{name}` {what}, {shape_text(shape)}, but the loss compares one-hot rows of {classes}",
                 f"{upper_first(self.where(cell, line))} makes `{name}` of shape {shape_text(shape)}; "
                 f"{loss.replace('_', ' ')} compares each prediction, {classes} probabilities, with a "
                 f"one-hot row of {classes}, so `fit` fails.",
                 "Use the one-hot labels as fashion.npz holds them: `train_labels = fashion['train_labels']` and "
                 f"`test_labels = fashion['test_labels']` ({len(exercise.classes)} columns); {RESTART}.")

    def _loss_cause(self) -> None:
        structure = self.facts.graded_structure
        loss = structure["loss"] if structure else None
        if not loss or loss["name"] not in SPARSE_LOSSES:
            return
        cell, line = self._compile_place()
        self.add(cell, line, "loss-does-not-fit-labels",
                 "The loss expects class numbers, but the labels are one-hot",
                 f"{upper_first(self.where(cell, line))} uses {loss['name']}, which expects each label as a "
                 "class number (0, 1 or 2); train_labels holds one-hot rows of 3, so training and evaluation "
                 "cannot compare them with the model's output.",
                 f"Use `loss='{self.exercise.loss}'`, then re-run the cells from compile on.")

    def _unflattened_cause(self) -> None:
        """Whole images given to a dense model that takes flat rows (never said to a convolutional one)."""
        facts, exercise = self.facts, self.exercise
        structure = facts.graded_structure
        if exercise.convolutional or (structure and structure["input_shape"] and len(structure["input_shape"]) > 2):
            return
        unflat = [c for c in (facts.main_fit, facts.main_evaluation)
                  if c is not None and c["x"] and len(c["x"].get("shape", [])) >= 3]
        if not unflat:
            return
        call = unflat[0]
        x = call["x"]
        names = x["names"] if x else []
        name = f"`{names[0]}`" if names else "the images"
        size = exercise.flat_size
        message = (f"{upper_first(self.where(call['cell'], call['line']))} gives `{call['kind']}` whole 28x28 images, "
                   f"but the model's Dense layers take each image as one flat row of {size} numbers.")
        wrong = {c["kind"] for c in unflat}
        made = [(kind, flat, place) for kind, flat, place in self._flat_arrays() if kind in wrong]
        if made:
            passes = " and ".join(f"`{flat}` to `{kind}`" for kind, flat, _ in made)
            places = "; ".join(f"`{flat}` is made {place}" for _, flat, place in made if place)
            message += f" You already flattened them ({places})." if places else ""
            made_with = self._made_with(made[0][1])
            next_step = (f"Pass {passes} instead of the images as loaded"
                         + (f" (made with `{made_with}`)" if made_with else "") + f"; {RESTART}.")
        else:
            next_step = ("Flatten the images first, `train_data_1d = train_data.reshape((train_data.shape[0], -1))` "
                         "and the same for test_data, and pass the flat arrays to fit and evaluate.")
        shape = shape_text(x.get("shape") if x else None)
        self.add(call["cell"], call["line"], "unflattened-input",
                 f"{upper_first(name)} is passed to `{call['kind']}` unflattened, {shape}", message, next_step)

    def _flat_arrays(self) -> list[tuple[str, str, str]]:
        """(call kind, name, where it is made) of the student's arrays in the model's input shape, for
        each of fit and evaluate: the flat copies they made of each split."""
        from .facts import origin

        found = []
        arrays = self.facts.namespace["arrays"] if self.facts.namespace else []
        for kind, split in (("fit", "train"), ("evaluate", "test")):
            for info in arrays:
                shape = info.get("shape") or []
                if info["names"] and list(shape[1:]) == list(self.exercise.input_shape) and origin(info)[0] == split:
                    name = info["names"][0]
                    places = self.flow.definitions(name)
                    place = f"in {self.where(places[0].cell, places[0].line)}" if places else ""
                    found.append((kind, name, place))
                    break
        return found

    def _made_with(self, name: str) -> str:
        """The code that made a variable, from its definition line: `train_data.reshape(...)`."""
        places = self.flow.definitions(name)
        source = self.facts.source_line(places[0].cell, places[0].line) if places else None
        made = source.split("=", 1)[1].strip() if source and "=" in source else ""
        return made if len(made) <= 80 else ""

    def _compile_place(self) -> tuple[int | None, int | None]:
        compiles = self.facts.calls_of("compile", self.facts.graded_model)
        call = compiles[-1] if compiles else None
        return (call["cell"], call["line"]) if call else (None, None)

    def _input_shape_place(self) -> tuple[int | None, int | None]:
        """The build cell that set the graded model's input: the last one before its first call."""
        facts = self.facts
        first_call = min((c["cell"] for c in facts.calls_of("compile", facts.graded_model) +
                          facts.calls_of("fit", facts.graded_model) if c["cell"] is not None), default=None)
        found: tuple[int | None, int | None] = (None, None)
        for cell in facts.cells:
            if first_call is not None and cell["index"] > first_call:
                break
            line = _line_with(cell["source"], ("input_shape", "input_dim", "Input("))
            if line:
                found = (cell["index"], line)
        return found

    # --- errors ----------------------------------------------------------------

    def _calls_in(self, index: int) -> list[RecordedCall]:
        return [c for c in self.facts.calls if c["cell"] == index and c["kind"] in ("fit", "evaluate", "predict")]

    def error_cause(self, cell: CellOutcome, model_cause: CauseEntry | None) -> CauseEntry | None:
        """The cause of one failing cell: an earlier one it follows from, or a new root cause."""
        error = cell.get("error")
        if error is None:
            return None
        ename, evalue = error["ename"], ANSI_ESCAPE.sub("", error["evalue"] or "")
        line = error.get("line")
        index = cell["index"]
        raw = raw_error(ename, evalue)
        same = next((c for c in self.causes if c["error"] == raw), None)
        if same is not None:  # the same error again (evaluate after fit): the same cause
            return same
        loss_cause = self.by_kind("loss-does-not-fit-labels")
        if loss_cause is not None and LOSS_ERROR.search(evalue):
            return loss_cause
        output_cause = self.by_kind("missing-flatten", "output-units", "labels-not-one-hot")
        if output_cause is not None and OUTPUT_ERROR.search(evalue) and self._calls_in(index):
            return output_cause
        if ename == "NameError":
            return self._name_error(cell, evalue, line, raw)
        if ename in ("ModuleNotFoundError", "ImportError"):
            return self._import_error(index, line, ename, evalue, raw)
        if ename in ("SyntaxError", "IndentationError", "TabError"):
            return self._syntax_error(cell, line, ename, evalue, raw)
        if is_network_error(ename, evalue):
            return self._download(index, line, raw)
        if ename == "KeyError" and "is not a file in the archive" in evalue:
            return self._missing_key(index, line, evalue, raw)
        if "Creating variables on a non-first call" in evalue:
            return self._fit_again(index, line, raw)
        finding = self.reading.build_error_finding(index, line, evalue)
        if finding is not None:
            return self.add_finding(finding, raw)
        if model_cause is not None and model_cause is self.build_failure() and self._calls_in(index) and (
                HALF_BUILT.search(evalue) or OUTPUT_ERROR.search(evalue) or SHAPE_ERROR.search(evalue)):
            return model_cause  # the model's building failed part way: what it does later follows from that
        if "cannot be built because it has no layers" in evalue and model_cause is not None:
            return model_cause
        if "must call `compile()`" in evalue or "must compile" in evalue.lower():
            return self._not_compiled(index, line, raw)
        if SHAPE_ERROR.search(evalue):
            silent = self.by_kind("wrong-input-shape", "unflattened-input", "flattened-input", "wrong-flattening")
            if silent is not None:
                return silent
            if self._calls_in(index):
                return self._shape_error(index, line, ename, evalue, raw)
        if ename == "NotImplementedError":
            return self.add(index, line, ename, "This step is not done yet",
                            f"{upper_first(self.where(index, line))} still raises the exercise's placeholder.",
                            "Replace `raise NotImplementedError()` with your code.", raw)
        calls = self._calls_in(index)
        title = (f"`{calls[0]['kind']}` raised {ename}" if calls else
                 f"{ename}: {clip_words(key_line(evalue), 80)}" if key_line(evalue) else f"Python raised {ename}")
        return self.add(index, line, ename, title,
                        f"{upper_first(self.where(index, line))}: {explain_error(ename, evalue)}.",
                        f"Fix line {line or 1} of {self.where(index, None)}, {RESTART}.", raw)

    def _download(self, index: int, line: int | None, raw: str) -> CauseEntry:
        return self.add(index, line, "download", "Grading has no internet: the download failed",
                        f"{upper_first(self.where(index, line))} downloads data. Notebooks are graded without "
                        "internet access, so the download fails, and nothing that line and the lines after it "
                        "assign exists afterwards: the cells that use them fail too. The lesson's data is "
                        "fashion.npz, beside the notebook (three classes, already scaled, with a channel axis).",
                        f"{DOWNLOAD_HINT} {upper_first(RESTART)}.", raw)

    def _missing_key(self, index: int, line: int | None, evalue: str, raw: str) -> CauseEntry:
        key = re.search(r"'?(\S+) is not a file in the archive", evalue)
        wanted = key.group(1).strip("'\"") if key else "?"
        close = difflib.get_close_matches(wanted, KEYS, n=1, cutoff=0.5)
        # "Did you mean" offers only a name of the notebook's; the file's own name is said as such.
        suggestion = "" if not close else f"Did you mean `{close[0]}`? " if close[0] in self.flow.identifiers \
            else f"The file's array is `{close[0]}`. "
        return self.add(index, line, "KeyError", f"fashion.npz has no array named `{wanted}`",
                        f"{upper_first(self.where(index, line))} asks fashion.npz for "
                        f"`{wanted}`; the file holds exactly four arrays: {', '.join(KEYS)}. Nothing that "
                        "line and the lines after it assign exists afterwards.",
                        suggestion +
                        "Take each array by its name, e.g. `train_data = fashion['train_data']`; " + RESTART + ".",
                        raw)

    def _fit_again(self, index: int, line: int | None, raw: str) -> CauseEntry:
        images = "images as loaded" if self.exercise.convolutional else "flattened images"
        earlier = self._failed_fit_before(index)
        if earlier is not None:  # that failed fit is the root; this is Keras refusing to start again
            earlier["message"] += (f" Then {self.where(index, line)} ran `fit` again on the same model, which "
                                "Keras refuses after a failed `fit` (“Creating variables on a non-first call”).")
            earlier["next_step"] = ("Fix or remove that first `fit`, then re-run the cells that build and compile "
                                 f"the model (a fresh `Sequential()`) and run `fit` once, on the {images}.")
            return earlier
        return self.add(index, line, "ValueError", "`fit` was run again on a model whose first `fit` failed",
                        f"{upper_first(self.where(index, line))} trains a model that an earlier `fit` already tried "
                        "and failed to train; Keras cannot start that model's training again.",
                        "Re-run the cells that build and compile the model (a fresh `Sequential()`), then "
                        f"run `fit` once, on the {images}.", raw)

    def _not_compiled(self, index: int, line: int | None, raw: str) -> CauseEntry:
        compile_failure = next((self.cell_cause[c["index"]] for c in self.facts.cells
                                if c["index"] in self.cell_cause and "compile(" in c["source"]), None)
        if compile_failure is not None:
            return compile_failure
        return self.add(index, line, "never-compiled", "The model was never compiled",
                        f"{upper_first(self.where(index, line))} uses the model before `compile` ran on it.",
                        f"Run `model.compile(loss='{self.exercise.loss}', optimizer='{self.exercise.optimizer}', "
                        f"metrics={list(self.exercise.metrics)!r})` after building the model and before `fit`.", raw)

    def _shape_error(self, index: int, line: int | None, ename: str, evalue: str, raw: str) -> CauseEntry:
        call = self._calls_in(index)[0]
        structure = self.facts.graded_structure
        takes = structure["input_shape"] if structure else None
        x = call["x"]
        given = f" {shape_text(x['shape'])}" if x and x.get("shape") else ""
        wanted = f"(n, {', '.join(map(str, self.exercise.input_shape))})"
        step = (f"Give `{call['kind']}` images of shape {wanted}, as the exercise's model takes them"
                + (f" (yours takes {shape_text(takes)})" if takes and takes[1:] != list(self.exercise.input_shape)
                   else "") + f"; {RESTART}.")
        return self.add(index, line, ename, f"`{call['kind']}` was given data of a shape the model cannot take",
                        f"{upper_first(self.where(index, line))} passes data{given}: "
                        f"{explain_error(ename, evalue)}.", step, raw)

    def _failed_fit_before(self, index: int) -> CauseEntry | None:
        """The cause of an earlier `fit` that raised, in an earlier cell."""
        for call in self.facts.calls:
            if call["kind"] == "fit" and call["finished"] is False and call["cell"] is not None \
                    and call["cell"] < index and call["cell"] in self.cell_cause:
                return self.cell_cause[call["cell"]]
        return None

    def _name_error(self, cell: CellOutcome, evalue: str, line: int | None, raw: str) -> CauseEntry:
        match = re.search(r"name '([^']+)' is not defined", evalue)
        name = match.group(1) if match else "?"
        index = cell["index"]
        where = self.where(index, line)
        if name in self.undefined:
            return self.undefined[name]
        later = [place for place in self.flow.definitions(name) if place.cell > index]
        if later:
            return self.add(index, line, "NameError", f"`{name}` is used before the cell that defines it",
                            f"{upper_first(where)} uses `{name}`, but it is only defined further down, "
                            f"in {self.where(later[0].cell, later[0].line)}. In your session the "
                            "cells ran in another order; the grader runs them from the top.",
                            f"Move the cell that defines `{name}` above this one, {RESTART}.", raw)
        placeholder = self.by_kind("NotImplementedError")
        if placeholder is not None:
            return placeholder
        imported = next((cause for undefined, cause in self.undefined.items()
                         if cause["kind"] in ("ImportError", "ModuleNotFoundError")
                         and dataflow.typo_of(name, undefined)),
                        None)
        if imported is not None:  # `from keras.layers import dense` failed: `Dense` is missing because of it
            return imported
        if name in IMPORT_HINTS:
            return self.add(index, line, "NameError", f"`{name}` is not defined: it is never imported",
                            f"{upper_first(where)} uses `{name}`, but no cell imports it.",
                            f"Add `{IMPORT_HINTS[name]}` to the imports at the top, {RESTART}.", raw)
        misspelt = self.flow.misspelling(name, index, line)
        if misspelt is not None and misspelt.at_definition:
            return self._misspelt_definition(misspelt, index, line)
        if misspelt is not None:
            return self.add(index, line, "NameError", f"`{name}` is not defined: did you mean `{misspelt.defined}`?",
                            f"{upper_first(where)} uses `{name}`, which no cell defines; the notebook defines "
                            f"`{misspelt.defined}` {self.defined_at(misspelt.defined, index) or 'above it'}.",
                            f"Write `{misspelt.defined}` on line {line or '?'} (names must match exactly, capitals "
                            f"included), {RESTART}.", raw)
        return self.add(index, line, "NameError", f"`{name}` is not defined",
                        f"{upper_first(where)} uses `{name}`, which no cell defines.",
                        f"Define `{name}` in a cell above this one (or fix its spelling), {RESTART}.", raw)

    def _misspelt_definition(self, misspelt: dataflow.Misspelling, index: int, line: int | None) -> CauseEntry:
        """`fashon = np.load(...)`, then `fashion` used: the definition's spelling is the mistake."""
        place = misspelt.definition
        existing = next((c for c in self.causes if c["kind"] == "misspelt-definition"
                         and (c["cell"], c["line"]) == (place.cell, place.line)), None)
        if existing is not None:
            return existing
        source = self.facts.source_line(place.cell, place.line) or ""
        renamed = re.sub(rf"\b{re.escape(misspelt.defined)}\b", misspelt.used, source, count=1)
        others = len(misspelt.uses) - 1
        uses = f"{self.where(index, line)}" + (f" and {others} more line{'s' if others != 1 else ''}"
                                                 if others > 0 else "")
        cause = self.add(place.cell, place.line, "misspelt-definition",
                         f"`{misspelt.defined}` is defined, but the notebook uses `{misspelt.used}`",
                         f"{upper_first(self.where(place.cell, place.line))} defines `{misspelt.defined}`; {uses} "
                         f"use{'s' if others <= 0 else ''} `{misspelt.used}`, which no cell defines, so "
                         f"{'it fails' if others <= 0 else 'they fail'} with NameError. The two are one name, "
                         "spelt two ways: the definition is the one to fix.",
                         f"Rename the definition: write `{renamed.strip()}` on line {place.line} of "
                         f"{self.where(place.cell, None)} (names must match exactly), {RESTART}.")
        return cause

    def _import_error(self, index: int, line: int | None, ename: str, evalue: str, raw: str) -> CauseEntry:
        where = self.where(index, line)
        module = re.search(r"No module named '([^']+)'", evalue)
        if module:
            name = module.group(1)
            close = difflib.get_close_matches(name, KNOWN_MODULES, n=1, cutoff=0.8)
            if close:
                return self.add(index, line, ename, f"There is no module `{name}`; the module is `{close[0]}`",
                                f"{upper_first(where)} imports `{name}`, which does not exist.",
                                f"Write `{close[0]}`, {RESTART}.", raw)
            package = name.split(".")[0]
            return self.add(index, line, ename, f"`{package}` is not installed where your notebook is graded",
                            f"{upper_first(where)} imports `{package}`, which the grading environment "
                            "does not have; nothing that cell defines exists afterwards, so the cells that use it "
                            "fail too.",
                            f"This lesson needs only numpy and keras: remove `{package}` and the code that uses it, "
                            f"{RESTART}.", raw)
        imported = re.search(r"cannot import name '([^']+)' from '([^']+)'", evalue)
        if imported:
            name, source = imported.groups()
            close = difflib.get_close_matches(name, KERAS_NAMES, n=1, cutoff=0.7)
            return self.add(index, line, ename, f"`{source}` has no `{name}`" +
                            (f"; it is spelt `{close[0]}`" if close else ""),
                            f"{upper_first(where)} imports `{name}` from `{source}`, which has no such name.",
                            (f"Write `{close[0]}`" if close else "Check the name against the lesson") + f", {RESTART}.",
                            raw)
        return self.add(index, line, ename, "An import failed",
                        f"{upper_first(where)}: {key_line(evalue)}.", f"Fix the import, {RESTART}.", raw)

    def _syntax_error(self, cell: CellOutcome, line: int | None, ename: str, evalue: str, raw: str) -> CauseEntry:
        index = cell["index"]
        message = key_line(evalue)
        source = self.flow.sources.get(cell["index"])
        bracket = _unclosed_bracket(source) if source is not None else None
        if bracket and ("never closed" in message or "incomplete input" in message or "EOF" in message
                        or "invalid syntax" in message):
            opened, line = bracket
            closing = {"(": ")", "[": "]", "{": "}"}[opened]
            title = f"A bracket `{opened}` is opened and never closed"
            plain = (f"the `{opened}` opened on line {line} has no matching `{closing}`, so Python reads on "
                     "to the end of the cell looking for it and runs nothing in the cell")
            step = f"Add the missing `{closing}` on line {line}"
        else:
            plain, title, step = self._syntax_words(message, ename)
        where = self.where(index, line)
        return self.add(index, line, ename, title, f"Python could not read {where}: {plain}.",
                        f"{step}, {RESTART}.", raw)

    @staticmethod
    def _syntax_words(message: str, ename: str) -> tuple[str, str, str]:
        text = re.sub(r"\s*\(\d+\.py, line \d+\)", "", message)
        table = [
            ("unterminated string", "a string is not closed", "the quote that starts a string has no matching quote",
             "Close the string with the same quote it starts with"),
            ("unmatched", "a closing bracket has no opening one", "a `)`, `]` or `}` closes nothing",
             "Remove the extra closing bracket, or add the opening one"),
            ("expected ':'", "a colon is missing", "a line that starts a block (if, for, def, with) must end with `:`",
             "Add the `:` at the end of that line"),
            ("forgot a comma", "a comma is missing", "two items stand next to each other without a comma between them",
             "Add the comma"),
            ("unexpected indent", "a line is indented too far", "a line is indented more than the block it is in",
             "Line it up with the lines around it"),
            ("expected an indented block", "a block is empty",
             "the line after a `:` must be indented, as the body of the block", "Indent the body of the block"),
            ("unindent does not match", "indentation does not line up",
             "a line's indentation matches no block above it",
             "Use the same indentation (4 spaces) in the whole block"),
            ("invalid character", "an unusual character is in the code",
             "the line holds a character Python does not accept (often a curly quote or dash pasted from a document)",
             "Retype that character"),
        ]
        for needle, title, plain, step in table:
            if needle in text:
                return plain, f"Python could not read the code: {title}", step
        return (f"{text or 'invalid syntax'}", f"Python could not read the code ({ename})",
                "Fix the line Python points at")

    # --- putting it together ---------------------------------------------------

    def run(self) -> None:
        self.silent_causes()
        model_cause: CauseEntry | None = None
        stopped: CauseEntry | None = None
        for cell in self.facts.cells:
            if stopped is not None and cell["status"] == "not_run":
                self.follows(cell, stopped)  # what it would have done was never recorded
                continue
            if cell["status"] in ("timeout", "died"):
                stopped = self.stop_cause(cell)
                self.follows(cell, stopped)
                continue
            if cell["status"] != "error" or not cell.get("error"):
                continue
            cause = self.error_cause(cell, model_cause)
            if cause is None:
                continue
            self.follows(cell, cause)
            error = cell.get("error")
            unread = error is not None and error["ename"] in ("SyntaxError", "IndentationError", "TabError")
            self.poison(cell, None if unread or error is None else error.get("line"), cause)  # unread: nothing ran
            if any(word in cell["source"] for word in EVIDENCE_WORDS["model"]) and model_cause is None:
                model_cause = cause

    def stop_cause(self, cell: CellOutcome) -> CauseEntry:
        """The cell where execution stopped: out of time, or the kernel died."""
        if cell["status"] == "timeout":
            return self.add(cell["index"], None, "timeout", "A cell ran out of time",
                            f"{stopped_sentence(self.facts)} The cells after it never ran, so nothing they "
                            "would have done could be graded.",
                            "Find what keeps that cell running (a loop that never ends, waiting for input, "
                            f"too many epochs), fix it, {RESTART}.")
        return self.add(cell["index"], None, "kernel-died", "The Python kernel died",
                        f"{stopped_sentence(self.facts)}", f"Remove what ends or exhausts the process in that cell "
                        f"(os._exit, sys.exit, a very large array), {RESTART}.")

    def cause_of_cells(self, words: tuple[str, ...]) -> CauseEntry | None:
        """The cause of the first failing cell whose code has one of the words."""
        for cell in self.facts.cells:
            cause = self.cell_cause.get(cell["index"])
            if cause is not None and any(word in cell["source"] for word in words):
                return cause
        return None

    def cause_of_call(self, call: RecordedCall | None) -> CauseEntry | None:
        if call is None or call["finished"] is not False or call["cell"] is None:
            return None
        return self.cell_cause.get(call["cell"])

    def build_failure(self) -> CauseEntry | None:
        """The cause of the graded model's build cell failing before its last layer was added, if it did:
        the layers from the line that raised on were never added."""
        build = self.reading.build
        cell = self.facts.cell(build)
        cause = self.cell_cause.get(build) if build is not None else None
        error = cell.get("error") if cell else None
        if cause is None or cell is None or error is None:
            return None
        stopped = error.get("line")
        if error["ename"] in ("SyntaxError", "IndentationError", "TabError") or stopped is None:
            return cause  # nothing in the cell ran
        layer_lines = [n for word in LAYER_WORDS for n in lines_with(cell["source"], word)]
        return cause if any(n >= stopped for n in layer_lines) else None

    def _only_problem(self, cause: CauseEntry) -> bool:
        """Whether a model finding is all that is wrong with the model's layers (model.architecture)."""
        from .checks.model import found_layers, sequence_problems

        structure = self.facts.graded_structure
        if structure is None:
            return False
        found = found_layers(structure, self.exercise)
        if cause["kind"] == "missing-flatten":
            return [diagnosis for _, diagnosis in sequence_problems(found, self.exercise)] == ["Flatten missing"]
        dense = [layer for layer in found if layer.type == "Dense"]
        if cause["kind"] != "output-units" or not dense:
            return False
        dense[-1].units = self.exercise.output_units  # with the output fixed, nothing else would differ
        return not sequence_problems(found, self.exercise)

    def explain(self, check: CheckEntry, decided: dict[str, CauseEntry | None]) -> CauseEntry | None:
        """The cause that explains one failed check, or None when its own message is the explanation."""
        facts = self.facts
        structure = facts.graded_structure
        fit_cause = self.cause_of_call(facts.main_fit) or \
            (self.cause_of_cells(EVIDENCE_WORDS["fit"]) if facts.main_fit is None else None)
        model_cause = self.cause_of_cells(EVIDENCE_WORDS["model"])
        no_model = structure is None or not structure["layers"]
        family = check["id"].split(".")[0]
        for cause in self.causes:
            if check["id"] in self.explains.get(id(cause), ()):
                return cause
        if check["id"] == "data.load":
            return self.by_kind("download") or self.cause_of_cells(EVIDENCE_WORDS["data.load"])
        if check["id"] == "data.reshape":
            return self.by_kind("unflattened-input", "flattened-input", "wrong-flattening") or \
                self.cause_of_cells(EVIDENCE_WORDS["data.reshape"]) or self.cause_of_cells(EVIDENCE_WORDS["data.load"])
        if family == "model":
            built = self.build_failure()
            if built is not None:
                return built  # the layers after the line that raised were never added
            if check["id"] == "model.input_shape" and self.by_kind("wrong-input-shape"):
                return self.by_kind("wrong-input-shape")
            if check["id"] == "model.architecture":
                finding = self.by_kind("missing-flatten", "output-units")
                if finding is not None and self._only_problem(finding):
                    return finding
            return model_cause if no_model else None
        if check["id"] == "compile.loss" and self.by_kind("loss-does-not-fit-labels"):
            return self.by_kind("loss-does-not-fit-labels")
        if family == "compile":
            if structure is None or no_model:
                return model_cause
            if structure["compiled"]:
                return None
            return self.cause_of_cells(EVIDENCE_WORDS["compile"]) or self.by_kind("never-compiled")
        if check["id"] == "fit.called":
            return fit_cause or (self.by_kind("model-replaced") if facts.main_fit is None else None)
        if family == "fit":
            return decided.get("fit.called") if facts.main_fit is None or not facts.main_fit["finished"] else None
        if check["id"] == "evaluate.called":
            evaluation = facts.main_evaluation
            if evaluation is None:
                return self.cause_of_cells(EVIDENCE_WORDS["evaluate"]) or decided.get("fit.called")
            return self.cause_of_call(evaluation)
        if check["id"] == "accuracy.threshold":
            if facts.test_accuracy is None:
                return self.build_failure() or model_cause or fit_cause
            fit = facts.main_fit
            return fit_cause if fit is None or not fit["finished"] else None
        return None

    def model_replaced(self) -> None:
        """A model trained earlier whose variable was then bound to a new, untrained one."""
        facts = self.facts
        if facts.main_fit is not None:
            return
        trained = [c for c in facts.calls if c["kind"] == "fit" and c["finished"] and c["model"] != facts.graded_model]
        graded = facts.graded
        if not trained or graded is None or not graded["names"]:
            return
        fit = trained[-1]
        name = graded["names"][0]
        for cell in facts.cells:
            names = self.flow.cells[cell["index"]]
            if fit["cell"] is not None and cell["index"] > fit["cell"] and name in names.defined:
                line = names.defined[name]
                self.add(cell["index"], line, "model-replaced", f"`{name}` is replaced by a new model after training",
                         f"{upper_first(self.where(cell['index'], line))} binds `{name}` to a new model after "
                         f"{self.where(fit['cell'], fit['line'])} trained the old one; the new one is never trained, "
                         "and it is the one graded.",
                         f"Build the model once, before `fit`: remove or move that line, {RESTART}.")
                return


def analyse(facts: Facts, results: list[CheckEntry], exercise: Exercise | None = None,
            headings: dict[int, str] | None = None) -> tuple[list[CauseEntry], dict[str, str | None]]:
    """The root causes, most upstream first, as the result's entries, each with the failed checks it
    explains, and the cause id of every check (None for a passed check or one no cause explains).
    `headings` maps code cells' indexes to the markdown heading above them (for `where`)."""
    analysis = _Analysis(facts, exercise or _default_exercise(facts), headings or {})
    analysis.run()
    analysis.model_replaced()
    analysis.causes.sort(key=lambda c: (c["cell"] if c["cell"] is not None else 10**9, c["line"] or 0))
    decided: dict[str, CauseEntry | None] = {}
    for check in results:
        decided[check["id"]] = None if check["passed"] else analysis.explain(check, decided)
    kept = [c for c in analysis.causes if any(cause is c for cause in decided.values())]
    for number, cause in enumerate(kept, start=1):
        cause["id"] = f"c{number}"
        cause["checks"] = [check_id for check_id, explained in decided.items() if explained is cause]
        cause["error"] = cause["error"][:MAX_EVALUE]
    return kept, {check_id: (cause["id"] if cause is not None else None) for check_id, cause in decided.items()}


def check_notes(facts: Facts, results: list[CheckEntry], exercise: Exercise | None = None) -> dict[str, str]:
    """For each failed check a root cause explains, the sentence that sends the student to it: the
    self-check shows it in place of the check's own next step, as `check` lists the check under
    its cause ("this follows from the load cell failing; fix that first")."""
    found, explained = analyse(facts, results, exercise)
    by_id = {cause["id"]: cause for cause in found}
    notes = {}
    for check_id, cause_id in explained.items():
        cause = by_id.get(cause_id or "")
        if cause is None:
            continue
        where = location(facts, cause["cell"], cause["line"])
        origin = f"{where} failing" if cause["error"] else f"a mistake in {where}"
        notes[check_id] = f"This follows from {origin} ({cause['title']}); fix that first: {cause['next_step']}"
    return notes
