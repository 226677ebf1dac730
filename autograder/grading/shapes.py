"""The shapes flowing through a network: each layer with its output shape and weight count,
worked out from its settings (the exercise's declared layers and the student's recorded ones
alike), and two networks' layers paired up with what differs between them.

The cause analysis reads them to find where a model's shapes go wrong (a Dense layer on
feature maps with no Flatten before it, maps a kernel no longer fits in); the reports draw
them as the model table.
"""
from __future__ import annotations

from dataclasses import asdict

from ..exercise.model import Exercise
from ..modelfile import StructureRecord

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


#: Differences said in words above the model table, at most.
MAX_LAYER_NOTES = 6


def _shape_words(shape) -> str:
    if not shape:
        return "(unknown)"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _listed(kinds: list[str]) -> str:
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]


def difference_notes(rows: list[dict]) -> list[str]:
    """The differences of compare_layers' rows in words, upstream first: missing and extra layers,
    another layer or activation, where the shapes first part (the later shapes follow from it), and
    the output."""
    notes: list[str] = []
    shapes_said = False
    last = len(rows) - 1
    position = 0
    previous_yours, previous_expected = "the input", "the input"
    while position < len(rows):
        row = rows[position]
        yours, expected, differs = row["yours"], row["expected"], row["differs"]
        if "layer" in differs:
            side = "expected" if yours is None else "yours"
            run = [position]
            while run[-1] + 1 < len(rows) and "layer" in rows[run[-1] + 1]["differs"] and \
                    (rows[run[-1] + 1]["yours"] is None) == (yours is None):
                run.append(run[-1] + 1)
            kinds = _listed([str(rows[i][side]["kind"]) for i in run])
            if yours is None:
                notes.append(f"Missing after {previous_expected}: {kinds} (the exercise has "
                             f"{'it' if len(run) == 1 else 'them'}; your model does not).")
                previous_expected = str(rows[run[-1]]["expected"]["kind"])
            else:
                notes.append(f"Extra after {previous_yours}: {kinds} (your model has "
                             f"{'it' if len(run) == 1 else 'them'}; the exercise does not).")
                previous_yours = str(rows[run[-1]]["yours"]["kind"])
            position = run[-1] + 1
            continue
        if position == 0 and "shape" in differs:
            shapes_said = True
            notes.append(f"Input: your model takes {_shape_words(yours['shape'])}, the exercise's takes "
                         f"{_shape_words(expected['shape'])}.")
        elif position:
            if "kind" in differs:
                notes.append(f"Layer {position}: yours is {yours['kind']}, the exercise's is {expected['kind']}.")
            if "activation" in differs:
                notes.append(f"Layer {position}, {yours['kind']}: yours applies {yours['activation'] or 'none'}, "
                             f"the exercise's applies {expected['activation'] or 'none'}.")
            if "shape" in differs and not shapes_said and position != last:
                shapes_said = True
                notes.append(f"From layer {position} on the shapes differ: your {yours['kind']} gives "
                             f"{_shape_words(yours['shape'])}, the exercise's {expected['kind']} gives "
                             f"{_shape_words(expected['shape'])}.")
            previous_yours, previous_expected = str(yours["kind"]), str(expected["kind"])
        position += 1
    final_yours = next((row["yours"] for row in reversed(rows) if row["yours"] is not None), None)
    final_expected = next((row["expected"] for row in reversed(rows) if row["expected"] is not None), None)
    if final_yours and final_expected and final_yours["shape"] != final_expected["shape"]:
        notes.append(f"Output: yours is {_shape_words(final_yours['shape'])}, the exercise's is "
                     f"{_shape_words(final_expected['shape'])}, one score per class for each image.")
    if len(notes) > MAX_LAYER_NOTES:
        notes = notes[:MAX_LAYER_NOTES - 1] + [f"… and {len(notes) - MAX_LAYER_NOTES + 1} more differences in the "
                                               "table below."]
    return notes
