"""How the grader puts things into words: the student's names, cells and lines, shapes
and arrays, why something was never done, and plain-language readings of the errors
students meet in this lesson. The checks, the result document and the reports share it."""
from __future__ import annotations

import re
from collections.abc import Sequence

from ..protocol import ANSI_ESCAPE, FLAT_SIZE
from .facts import ArrayInfo, CellOutcome, Facts, RecordedCall

#: Said when a call's images had other values than fashion.npz's but were recognised by their labels.
TRANSFORMED_NOTE = ("Note: the images you used have values that differ from fashion.npz's (were they "
                    "scaled again? The pixels are already between 0 and 1); the grader measures "
                    "accuracy on the images as the file holds them.")

IMPORT_HINTS = {
    "np": "import numpy as np",
    "numpy": "import numpy as np",
    "keras": "import keras (or from tensorflow import keras)",
    "tf": "import tensorflow as tf",
    "Sequential": "from keras.models import Sequential",
    "Dense": "from keras.layers import Dense",
    "Input": "from keras import Input",
    "Model": "from keras.models import Model",
    "layers": "from keras import layers",
    "to_categorical": "from keras.utils import to_categorical",
}


#: The lesson's data, instead of a download (grading has no internet).
DOWNLOAD_HINT = ("Load the lesson's file instead of downloading: `fashion = np.load('fashion.npz')`, then "
                 "`train_data = fashion['train_data']`, and the same for train_labels, test_data and test_labels.")
#: Words of errors that a download raises without a network.
NETWORK_WORDS = re.compile(r"URL fetch failure|name resolution|Name or service not known|getaddrinfo|"
                           r"Network is unreachable|Connection refused|Max retries exceeded|urlopen error|"
                           r"No route to host|Failed to establish a new connection|nodename nor servname", re.I)
NETWORK_ERRORS = ("URLError", "HTTPError", "ConnectionError", "gaierror", "ConnectionRefusedError", "ProxyError",
                  "MaxRetryError", "NewConnectionError", "SSLError", "ReadTimeout", "ConnectTimeout")


def is_network_error(ename: str, evalue: str) -> bool:
    """Whether an error is a download failing for want of a network."""
    return ename in NETWORK_ERRORS or bool(NETWORK_WORDS.search(evalue or ""))


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def shape_text(shape: Sequence[int | None] | None) -> str:
    if shape is None:
        return "(unknown)"
    items = ["None" if d is None else str(d) for d in shape]
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def code_cell_number(facts: Facts, index: int | None) -> int | None:
    """The cell's number among the code cells (1-based), as a student counts the cells they wrote:
    markdown cells do not count."""
    for number, cell in enumerate(facts.cells, start=1):
        if cell["index"] == index:
            return number
    return None


def cell_name(facts: Facts, index: int | None) -> str:
    """'code cell 5', counting code cells only; in a live self-check, where only the order of
    execution is known, 'the cell In [12]' as Jupyter labels it."""
    cell = facts.cell(index) if isinstance(index, int) else None
    label = cell.get("label") if cell else None
    if label:
        return f"the cell {label}"
    number = code_cell_number(facts, index)
    return f"code cell {number}" if number is not None else "a cell"


def location(facts: Facts, index: int | None, line: int | None) -> str:
    """'cell 7, line 2: `model.fit(train_data, ...)`': where the student can look."""
    if index is None:
        return "in code run from a cell"
    text = cell_name(facts, index)
    if line:
        text += f", line {line}"
        source = facts.source_line(index, line)
        if source:
            text += f": `{source if len(source) <= 90 else source[:87] + '...'}`"
    return text


def call_location(facts: Facts, call: RecordedCall) -> str:
    return location(facts, call["cell"], call["line"])


def array_name(info: ArrayInfo | None, fallback: str = "the array") -> str:
    if not info:
        return fallback
    names = info["names"]
    return f"`{names[0]}`" if names else fallback


def array_phrase(info: ArrayInfo | None, fallback: str = "an array") -> str:
    """'`train_data` of shape (600, 28, 28, 1)'."""
    if not info:
        return "nothing"
    if "shape" not in info:
        return f"{array_name(info, fallback)} (a {info['type']})"
    return f"{array_name(info, fallback)} of shape {shape_text(info['shape'])}"


def model_name(facts: Facts, serial: int | None) -> str:
    model = facts.models.get(str(serial)) if serial is not None else None
    names = model["names"] if model else []
    return f"`{names[0]}`" if names else "your model"


def model_subject(facts: Facts, serial: int | None) -> str:
    """model_name for the start of a sentence: '`net`' or 'Your model'."""
    name = model_name(facts, serial)
    return "Your model" if name == "your model" else name


def errors(facts: Facts) -> list[CellOutcome]:
    return [c for c in facts.cells if c["status"] == "error" and c.get("error")]


def first_error(facts: Facts) -> CellOutcome | None:
    """The first failing cell that is not an untouched NotImplementedError placeholder."""
    real = [c for c in errors(facts) if not _placeholder(c)]
    return real[0] if real else None


def _placeholder(cell: CellOutcome) -> bool:
    error = cell.get("error")
    return error is not None and error["ename"] == "NotImplementedError"


def unfinished_sentence(facts: Facts) -> str:
    """Cells that still raise the release's NotImplementedError placeholder."""
    cells = [c for c in errors(facts) if _placeholder(c)]
    if not cells:
        return ""
    numbers = [c.get("label") or str(code_cell_number(facts, c["index"])) for c in cells]
    listed = numbers[0] if len(numbers) == 1 else ", ".join(numbers[:-1]) + " and " + numbers[-1]
    return (f"{'Code cell' if len(cells) == 1 else 'Code cells'} {listed} still "
            f"raise{'s' if len(cells) == 1 else ''} NotImplementedError: "
            "the step is not done yet (replace `raise NotImplementedError()` with your code).")


#: "(3003030937.py, line 4)": the kernel's name for a cell, in a syntax error's message.
KERNEL_FILE = re.compile(r"\s*\(\d+\.py, line \d+\)")
NOISE = ("Exception encountered when calling", "Arguments received by", "•", "Call arguments received")


def key_line(evalue: str) -> str:
    """The line of an error message that says what went wrong (Keras wraps it in boilerplate)."""
    lines = [line.strip() for line in ANSI_ESCAPE.sub("", evalue or "").splitlines()]
    useful = [line for line in lines if line and not line.startswith(NOISE)]
    return clip_words((useful or [""])[0], 300)


def clip_words(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word boundary, with an ellipsis when cut."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def explain_error(ename: str, evalue: str) -> str:
    """One plain sentence for errors this lesson produces, or the error's key line."""
    text = ANSI_ESCAPE.sub("", evalue or "")
    first = key_line(text)
    match = re.search(r"[Ee]xpected shape \(None, (\d+)\), but input has incompatible shape \(([^)]*)\)", text)
    if match:
        expected, got = match.group(1), match.group(2)
        dims = [d.strip() for d in got.split(",") if d.strip()]
        given = (f"whole images, in batches of shape ({got})" if len(dims) >= 3 else
                 f"rows of {dims[-1]} values (batches of shape ({got}))" if len(dims) == 2 else
                 f"data of shape ({got})")
        return (f"the model expects each image as {expected} number{'s' if expected != '1' else ''} "
                f"(its input shape is (None, {expected})), but it was given {given}; the data and "
                f"the model's input_shape must agree, (n, {FLAT_SIZE}) and ({FLAT_SIZE},)")
    if is_network_error(ename, text):
        return ("the download failed: notebooks are graded without internet access; the lesson's data is "
                "fashion.npz, beside the notebook: np.load('fashion.npz')")
    if ename == "NameError":
        name = re.search(r"name '([^']+)' is not defined", text)
        if name:
            hint = IMPORT_HINTS.get(name.group(1))
            return (f"`{name.group(1)}` is not defined" +
                    (f" (did you run `{hint}`?)" if hint else
                     " (is it spelled the same where you created it, and did that cell run?)"))
    if ename == "SyntaxError" or ename == "IndentationError":
        return "Python could not read the code: " + KERNEL_FILE.sub("", first)
    if "is not a file in the archive" in text:
        key = re.search(r"(\S+) is not a file in the archive", text)
        return (f"fashion.npz has no array named {key.group(1) if key else 'like that'}; its arrays are "
                "train_data, train_labels, test_data and test_labels")
    if ename in ("FileNotFoundError",) and "fashion" in text:
        return "fashion.npz was not found: load it by its plain name, np.load('fashion.npz')"
    if "Arguments `target` and `output` must have the same shape" in text or \
            "must have the same rank" in text or "Shapes" in text and "are incompatible" in text:
        return ("the labels and the model's output do not fit together: one-hot labels (n, 3) need "
                "3 outputs and categorical_crossentropy")
    sizes = re.search(r"Data cardinality is ambiguous.*?'x' sizes: (\d+)\s*'y' sizes: (\d+)", text, re.S)
    if sizes:
        return (f"the images and the labels have different numbers of rows ({sizes.group(1)} and "
                f"{sizes.group(2)}); each image must be one row, as reshape((n, -1)) gives")
    if "Received a label value of" in text or "labels must be" in text.lower():
        return ("sparse_categorical_crossentropy expects class numbers (0, 1, 2), but the labels "
                "are one-hot rows; use categorical_crossentropy")
    if ename == "NotImplementedError" and not first:
        return "this step is not done yet: replace `raise NotImplementedError()` with your code"
    if ename == "MemoryError" or "Unable to allocate" in text:
        return "the notebook ran out of memory"
    if ename == "KeyboardInterrupt":
        return "the cell was interrupted when it ran out of time"
    return first or "(no message)"


def error_sentence(facts: Facts, cell: CellOutcome) -> str:
    error = cell.get("error")
    if error is None:
        return f"{upper_first(location(facts, cell['index'], None))} raised an error: (no message)."
    explained = name_error_words(facts, cell) if error["ename"] == "NameError" else ""
    return (f"{upper_first(location(facts, cell['index'], error.get('line')))} raised "
            f"{error['ename']}: {explained or explain_error(error['ename'], error['evalue'])}.")


def name_error_words(facts: Facts, cell: CellOutcome) -> str:
    """Why a name a cell uses is not defined, from where the notebook defines it: the cell that
    defines it failed first, or defines it under another spelling. '' when neither."""
    from .dataflow import flow_of

    error = cell.get("error")
    match = re.search(r"name '([^']+)' is not defined", error["evalue"] or "") if error else None
    if error is None or not match or match.group(1) in IMPORT_HINTS:
        return ""
    name, index, line = match.group(1), cell["index"], error.get("line")
    if unfinished_sentence(facts):
        return (f"`{name}` is not defined: a step above it is not done yet (its cell still raises "
                "NotImplementedError)")
    flow = flow_of(facts.cells)
    defined = flow.defined_before(name, index, line)
    if defined is not None:
        source = facts.cell(defined.cell)
        stopped = source.get("error") if source is not None else None
        failed = source is not None and source["status"] in ("error", "timeout", "died")
        unread = stopped is not None and stopped["ename"] in ("SyntaxError", "IndentationError", "TabError")
        stopped_line = stopped.get("line") if stopped is not None else None
        if failed and (unread or stopped_line is None or defined.cell == index or stopped_line <= defined.line):
            return (f"`{name}` is not defined because {cell_name(facts, defined.cell)}, which defines it, failed "
                    "before defining it: fix that cell first")
        return ""
    misspelt = flow.misspelling(name, index, line)
    if misspelt is not None and misspelt.at_definition:
        return (f"`{name}` is not defined: {location(facts, misspelt.definition.cell, misspelt.definition.line)} "
                f"defines `{misspelt.defined}` instead; rename that definition `{name}`")
    if misspelt is not None:
        return f"`{name}` is not defined: did you mean `{misspelt.defined}`?"
    return ""


def stopped_sentence(facts: Facts) -> str:
    """Why execution stopped early, if it did."""
    if facts.status == "timeout":
        cell = next((c for c in facts.cells if c["status"] == "timeout"), None)
        if cell is not None:
            whole = cell.get("notebook_limit_reached") or not cell.get("limit")
            limit = facts.limits.get("timeout_s") if whole else cell.get("limit")
            scope = "the notebook's time limit" if whole else "the time limit for one cell"
            return (f"Execution stopped in {cell_name(facts, cell['index'])}: it was still running when "
                    f"{scope} ({limit:.0f} s) ran out.")
        limit = facts.limits.get("timeout_s")
        return f"The notebook did not finish within its time limit ({limit:.0f} s)." if limit else \
            "The notebook did not finish within its time limit."
    if facts.status in ("kernel_died", "error") and (facts.runner_error or "").startswith("the notebook wrote"):
        return f"Execution was stopped because {facts.runner_error}; cells after that did not run."
    if facts.status in ("kernel_died", "error"):
        cell = next((c for c in facts.cells if c["status"] == "died"), None)
        where = f" while running {cell_name(facts, cell['index'])}" if cell else ""
        return (f"The Python kernel died{where} (the code may have exhausted memory, or exited the "
                "process); cells after it did not run.")
    return ""


def related_error(facts: Facts, keywords: tuple[str, ...]) -> str:
    """The first error in a cell that mentions one of the keywords, as a sentence, or ''."""
    for cell in errors(facts):
        if any(word in cell["source"] for word in keywords):
            return error_sentence(facts, cell)
    return ""


def why_missing(facts: Facts, keywords: tuple[str, ...]) -> str:
    """The most likely reason something was never done: an error, a timeout or a dead kernel."""
    reasons = []
    related = related_error(facts, keywords)
    unfinished = unfinished_sentence(facts)
    if related:
        reasons.append(related)
    elif unfinished:
        reasons.append(unfinished)  # later NameErrors are most likely its consequence
    elif (first := first_error(facts)) is not None:
        reasons.append(error_sentence(facts, first))
    stopped = stopped_sentence(facts)
    if stopped:
        reasons.append(stopped)
    return " ".join(reasons)


def join(*parts: str) -> str:
    return " ".join(p.strip() for p in parts if p and p.strip())
