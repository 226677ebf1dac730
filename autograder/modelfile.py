"""Read a saved Keras model file as data: screen it, then describe its structure.

A `.keras` file is a zip holding config.json (the architecture and compile
settings as JSON) and model.weights.h5. Everything here is pure Python on
that JSON, so it runs in the grader without TensorFlow and without ever
deserialising an object: the screen refuses Lambda layers, lambdas and any
class from outside Keras before anything loads the file.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from typing import Any, NotRequired, TypedDict, cast

# Bounds on what is read from a config, so that reading one is linear in its size and small.
MAX_CONFIG_BYTES = 4 * 2**20
#: Layers a model may have (nested models opened up); the lesson's have a handful.
MAX_LAYERS = 1000
#: Units a Dense layer may have before the file is not loaded at all.
MAX_UNITS = 100_000
#: The largest count or size read from a model file's config: a student's get_config can save
#: any integer (10**1000 once), and the report's arithmetic and printing of it failed.
MAX_SIZE = 2**31 - 1
#: Metrics recorded from a compile config; more are ignored.
MAX_METRICS = 100
#: Items the screen looks at before calling a config too large.
MAX_SCREENED_ITEMS = 200_000
MAX_ZIP_ENTRIES = 16
MAX_WEIGHTS_BYTES = 64 * 2**20
# Markers Keras writes inside configs for tensors and tuples; they carry no code.
SERIALIZATION_TOKENS = {"__keras_tensor__", "__tuple__", "__tensor__", "__numpy__", "__bytes__",
                        "__slice__", "__ellipsis__", "__typespec__"}
ACTIVATION_LAYERS = {"ReLU": "relu", "Softmax": "softmax", "LeakyReLU": "leaky_relu", "ELU": "elu",
                     "PReLU": "prelu"}
# Layers that do not change what a Dense stack computes at inference time.
PASS_THROUGH = {"Dropout", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization"}
RESHAPING = {"Flatten", "Reshape"}
LOSS_ALIASES = {
    "mse": "mean_squared_error", "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
    "msle": "mean_squared_logarithmic_error", "kld": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence", "cosine_proximity": "cosine_similarity",
    "categorical_cross_entropy": "categorical_crossentropy",
    "sparse_categorical_cross_entropy": "sparse_categorical_crossentropy",
    "binary_cross_entropy": "binary_crossentropy",
}
METRIC_ALIASES = {"acc": "accuracy"}
# tf.nn's functions are serialised under their TensorFlow names.
ACTIVATION_ALIASES = {"softmax_v2": "softmax", "log_softmax_v2": "log_softmax"}


class ModelFileError(ValueError):
    """The file is not a Keras model we can read safely; the message says why."""


class BlockRecord(TypedDict):
    """A Block as recorded in the facts."""

    #: The Dense layer's name.
    name: str
    #: Its units.
    units: int | None
    #: The activation it ends up applying ("linear" for none).
    activation: str
    #: The Activation/ReLU/Softmax layer that supplied it, if any.
    via: str | None


#: One layer of the model, in order ("class" is a Python keyword, hence this form).
LayerRecord = TypedDict("LayerRecord", {
    #: The layer's Keras class name.
    "class": str,
    #: Its name.
    "name": str,
    #: Its units, for a Dense layer.
    "units": NotRequired[int | None],
    #: The activation it applies, for Dense, Conv2D and activation layers.
    "activation": NotRequired[str],
    #: Its number of filters, for a convolution.
    "filters": NotRequired[int | None],
    #: Its kernel's (height, width), for a convolution.
    "kernel_size": NotRequired[list[int] | None],
    #: Its window's (height, width), for a pooling layer.
    "pool_size": NotRequired[list[int] | None],
    #: Its step (height, width), for a convolution or pooling layer (the report's output shapes).
    "strides": NotRequired[list[int] | None],
    #: "valid" or "same", for a convolution or pooling layer (the report's output shapes).
    "padding": NotRequired[str | None],
    #: The fraction of inputs it drops while training, for a Dropout layer.
    "rate": NotRequired[float | None],
    #: Its batch shape, for an InputLayer.
    "shape": NotRequired[list[int | None] | None],
})


class LossRecord(TypedDict):
    """The compiled loss."""

    #: Its canonical snake_case name ("multiple" for a loss per output).
    name: str
    #: As the student wrote it: a string, a class name, or the list of losses.
    as_written: object
    #: Whether the loss takes raw scores (logits).
    from_logits: NotRequired[bool]


class OptimizerRecord(TypedDict):
    """The compiled optimizer."""

    #: Its lower-case name ("adam").
    name: str
    #: As the student wrote it: a string or a class name.
    as_written: object
    #: Its learning rate, when given as a number.
    learning_rate: NotRequired[float | int | None]


class StructureRecord(TypedDict):
    """A ModelStructure as recorded in the facts (ModelStructure.to_dict)."""

    #: The model's Keras class name.
    model_class: str
    #: Its input shape, batch axis first (None for any size); None when it was never built.
    input_shape: list[int | None] | None
    #: Its Dense layers, in order.
    blocks: list[BlockRecord]
    #: Every layer, in order.
    layers: list[LayerRecord]
    #: Layers that are neither Dense, activations, reshaping nor harmless.
    other_layers: list[str]
    #: Its Flatten/Reshape layers.
    reshaping: list[str]
    #: Whether it was compiled.
    compiled: bool
    #: Its loss, when compiled with one.
    loss: LossRecord | None
    #: Its optimizer, when compiled with one.
    optimizer: OptimizerRecord | None
    #: Its metrics' canonical names.
    metrics: list[str]
    #: The class names of metrics given as objects.
    metric_objects: list[str]


@dataclass
class Block:
    """One Dense layer with the activation it ends up applying (its own, or a following layer's)."""

    name: str
    units: int | None
    activation: str
    via: str | None = None  # the Activation/ReLU/Softmax layer that supplied it, if any


@dataclass
class ModelStructure:
    model_class: str
    input_shape: list[int | None] | None
    blocks: list[Block]
    layers: list[LayerRecord]  # every layer: class, name, and units/activation/shape where set
    other_layers: list[str] = field(default_factory=list)  # layers that are neither Dense nor harmless
    reshaping: list[str] = field(default_factory=list)
    compiled: bool = False
    loss: LossRecord | None = None
    optimizer: OptimizerRecord | None = None
    metrics: list[str] = field(default_factory=list)
    metric_objects: list[str] = field(default_factory=list)

    def to_dict(self) -> StructureRecord:
        return cast(StructureRecord, asdict(self))

    @property
    def units(self) -> list[int | None]:
        return [block.units for block in self.blocks]


def read_config(raw: bytes) -> dict:
    """config.json from the bytes of a .keras file, bounded in every dimension."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except (zipfile.BadZipFile, ValueError):
        raise ModelFileError("the model file is not a .keras archive") from None
    infos = archive.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise ModelFileError(f"the model file has {len(infos)} entries, more than a Keras model has")
    by_name = {info.filename: info for info in infos}
    info = by_name.get("config.json")
    if info is None:
        raise ModelFileError("the model file has no config.json")
    if info.file_size > MAX_CONFIG_BYTES:
        raise ModelFileError("the model's config.json is too large")
    try:
        config = json.loads(archive.read(info).decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError, zipfile.BadZipFile, OSError):
        raise ModelFileError("the model's config.json is not valid JSON") from None
    if not isinstance(config, dict):
        raise ModelFileError("the model's config.json is not a model configuration")
    return config


class TrainingEvidence(TypedDict):
    """What a saved model's weights say about its training, read by the grader itself.

    The record of `fit` comes from inside the student's kernel; these come from the file the
    grader reads (grading/corroboration.py compares the two)."""

    #: Optimizer steps the file records (its `iterations` variable); None when it has none.
    iterations: int | None
    #: Whether every optimizer slot (Adam's moment estimates, SGD's momentum) is exactly zero, as
    #: before any step; None when the optimizer keeps no slots or the file holds none.
    slots_zero: bool | None
    #: Whether the weights are still as Keras initialises them (every bias zero, every kernel
    #: within the Glorot-uniform range); None when a layer uses other initialisers.
    as_initialised: bool | None


def evidence_of(value: object) -> TrainingEvidence | None:
    """The evaluator's TrainingEvidence, field by field; None when it sent none."""
    if not isinstance(value, dict):
        return None
    iterations, slots, initial = value.get("iterations"), value.get("slots_zero"), value.get("as_initialised")
    return TrainingEvidence(
        iterations=iterations if isinstance(iterations, int) and not isinstance(iterations, bool) else None,
        slots_zero=slots if isinstance(slots, bool) else None,
        as_initialised=initial if isinstance(initial, bool) else None)


#: Layers whose weights are a kernel and a bias with Keras' default initialisers.
_KERNEL_LAYERS = {"Dense", "Conv1D", "Conv2D", "Conv3D"}


def _default_initialisers(config: dict) -> bool:
    """Whether every layer holding weights is a Dense or convolution layer with Keras' default
    initialisers (GlorotUniform kernel, Zeros bias): then a fresh copy's range is known."""
    inner = config.get("config") or {}
    layers = _flatten_layers(inner.get("layers") or []) if isinstance(inner, dict) else []
    for layer in layers:
        cls = layer.get("class_name")
        given = layer.get("config")
        settings: dict[str, Any] = given if isinstance(given, dict) else {}
        if cls in _KERNEL_LAYERS:
            kernel, bias = settings.get("kernel_initializer"), settings.get("bias_initializer")
            if not (isinstance(kernel, dict) and kernel.get("class_name") == "GlorotUniform"
                    and (bias is None or isinstance(bias, dict) and bias.get("class_name") == "Zeros")):
                return False
        elif cls not in ("InputLayer", "Activation", "Flatten", "Reshape", "MaxPooling2D", "MaxPool2D",
                         "Dropout", *ACTIVATION_LAYERS):
            return False  # a layer with weights of another kind (BatchNormalization, Embedding, ...)
    return bool(layers)


def _as_initialised(arrays: list) -> bool:
    """Every bias zero and every kernel inside sqrt(6 / (fan_in + fan_out)), as GlorotUniform draws."""
    import numpy as np

    for array in arrays:
        if array.ndim == 1:
            if np.any(array != 0):
                return False
        elif array.ndim >= 2:
            receptive = int(np.prod(array.shape[:-2]))
            fan_in, fan_out = array.shape[-2] * receptive, array.shape[-1] * receptive
            limit = np.sqrt(6.0 / (fan_in + fan_out)) * (1 + 1e-6)
            if np.any(np.abs(array) > limit):
                return False
    return True


def read_training_evidence(raw: bytes) -> TrainingEvidence:
    """What the saved weights say about training: optimizer steps, slots, weights moved or not.

    This parses HDF5, which C code does: only the evaluator process calls it, so a file
    crafted to crash that code cannot crash the grader. A file it cannot read has no evidence
    (every field None), which corroboration treats as a record it cannot confirm."""
    evidence = TrainingEvidence(iterations=None, slots_zero=None, as_initialised=None)
    try:
        import h5py
        import numpy as np

        archive = zipfile.ZipFile(io.BytesIO(raw))
        info = archive.getinfo("model.weights.h5")
        if info.file_size > MAX_WEIGHTS_BYTES:
            return evidence
        defaults = _default_initialisers(read_config(raw))
        with h5py.File(io.BytesIO(archive.read(info)), "r") as weights:
            value = weights.get("optimizer/vars/0")
            if value is not None and value.shape == () and value.dtype.kind in "iu":
                evidence["iterations"] = int(value[()])
            arrays: dict[str, list] = {"layers": [], "optimizer": []}

            def collect(name: str, item: object) -> None:
                if isinstance(item, h5py.Dataset) and item.ndim > 0 and name.split("/")[0] in arrays:
                    arrays[name.split("/")[0]].append(np.asarray(item[()]))

            weights.visititems(collect)
        if arrays["optimizer"]:
            evidence["slots_zero"] = not any(np.any(slot != 0) for slot in arrays["optimizer"])
        if defaults and arrays["layers"]:
            evidence["as_initialised"] = _as_initialised(arrays["layers"])
    except Exception:  # noqa: BLE001 - an odd file simply gives no evidence
        return TrainingEvidence(iterations=None, slots_zero=None, as_initialised=None)
    return evidence


def screen(config) -> list[str]:
    """Reasons the config may not be loaded; empty when only Keras' own classes appear."""
    problems: list[str] = []
    stack, seen = [config], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_SCREENED_ITEMS:
            return ["the model configuration is too large"]
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        stack.extend(item.values())
        name = item.get("class_name")
        if not isinstance(name, str):
            code = item.get("value")
            if item.get("function_type") == "lambda" or (
                    isinstance(code, list) and code and isinstance(code[0], str) and len(code[0]) > 16):
                problems.append("it uses a Python lambda")  # marshalled bytecode, as Keras saves a lambda
            continue
        module = item.get("module")
        units = item.get("config", {}).get("units") if isinstance(item.get("config"), dict) else None
        if isinstance(units, int) and not isinstance(units, bool) and units > MAX_UNITS:
            count = f"{units}" if units <= MAX_SIZE else "over 2**31"
            problems.append(f"a layer has {count} units, more than the grader loads ({MAX_UNITS})")
        if name in ("Lambda", "__lambda__"):
            problems.append("it has a Lambda layer or lambda function" if name == "Lambda"
                            else "it uses a Python lambda")
        elif name in SERIALIZATION_TOKENS:
            continue
        elif module == "builtins" and name == "function" and isinstance(item.get("config"), str):
            continue  # a Keras function such as keras.losses.categorical_crossentropy, by name
        elif not isinstance(module, str) or not (module == "keras" or module.startswith("keras.")):
            problems.append(f"it uses the custom class {name!r}")
        elif item.get("registered_name") not in (None, name, "function"):
            problems.append(f"it uses the registered custom object {item.get('registered_name')!r}")
    return sorted(set(problems))


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _name_of(value) -> str | None:
    """The plain name of an activation, loss or metric, however Keras serialised it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("class_name") == "function" and isinstance(value.get("config"), str):
            return value["config"]
        config = value.get("config")
        if isinstance(config, dict) and isinstance(config.get("name"), str) and \
                str(value.get("module") or "").startswith("keras.metrics"):
            return config["name"]
        if isinstance(value.get("class_name"), str):
            return _snake(value["class_name"])
    return None


def activation_name(value) -> str:
    if value is None:
        return "linear"
    name = (_name_of(value) or "unknown").lower()
    return ACTIVATION_ALIASES.get(name, name)


def canonical_loss(value) -> LossRecord | None:
    """{'name': 'categorical_crossentropy', 'from_logits': False, 'as_written': ...}."""
    if value is None:
        return None
    if isinstance(value, (list, dict)) and not (isinstance(value, dict) and "class_name" in value):
        items = list(value.values()) if isinstance(value, dict) else list(value)
        return canonical_loss(items[0]) if len(items) == 1 else {"name": "multiple", "as_written": items}
    name = _name_of(value) or "unknown"
    snake = _snake(name) if not name.islower() else name
    snake = LOSS_ALIASES.get(snake, snake)
    from_logits = bool(value.get("config", {}).get("from_logits")) if isinstance(value, dict) \
        and isinstance(value.get("config"), dict) else False
    written = value if isinstance(value, str) else (value.get("class_name") if value.get("class_name") != "function"
                                                     else value.get("config"))
    return {"name": snake, "from_logits": from_logits, "as_written": written}


def canonical_optimizer(value) -> OptimizerRecord | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {"name": value.lower(), "as_written": value}
    if isinstance(value, dict):
        name = value.get("class_name")
        given = value.get("config")
        config: dict[str, Any] = given if isinstance(given, dict) else {}
        rate = config.get("learning_rate")
        return {"name": str(name).lower(), "as_written": name,
                "learning_rate": rate if isinstance(rate, (int, float)) else None}
    return {"name": "unknown", "as_written": None}


def metric_names(value) -> tuple[list[str], list[str]]:
    """(names, object classes) of the metrics in a compile config's metrics, in order, at most
    MAX_METRICS of each. Linear in the size of `value`: a depth-first walk with one stack."""
    names: list[str] = []
    objects: list[str] = []
    stack = [value]
    while stack and len(names) < MAX_METRICS and len(objects) < MAX_METRICS:
        item = stack.pop()
        if item is None:
            continue
        if isinstance(item, list):
            stack.extend(reversed(item))
        elif isinstance(item, dict) and "class_name" not in item:
            stack.extend(reversed(list(item.values())))
        else:
            name = _name_of(item)
            if name:
                names.append(METRIC_ALIASES.get(name.lower(), name.lower()))
            if isinstance(item, dict) and item.get("class_name") not in (None, "function"):
                objects.append(str(item["class_name"]))
    return names, objects


def _flatten_layers(layers: list, depth: int = 0) -> list[dict]:
    """Layer configs in order, with nested Sequential/Functional models opened up."""
    flat: list[dict] = []
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        if layer.get("class_name") in ("Sequential", "Functional", "Model") and depth < 4:
            inner = (layer.get("config") or {}).get("layers") or []
            flat.extend(inner_layer for inner_layer in _flatten_layers(inner, depth + 1)
                        if not (inner_layer.get("class_name") == "InputLayer" and flat))
        else:
            flat.append(layer)
    return flat


CONVOLUTIONS = {"Conv2D", "Conv1D", "Conv3D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose"}
POOLINGS = {"MaxPooling2D", "AveragePooling2D", "MaxPooling1D", "AveragePooling1D", "MaxPooling3D",
            "AveragePooling3D"}


def _size(value, least: int = 0) -> int | None:
    """An integer from a config, if it is one a real layer could have (least..MAX_SIZE)."""
    if isinstance(value, int) and not isinstance(value, bool) and least <= value <= MAX_SIZE:
        return value
    return None


def _window(value) -> list[int] | None:
    """A kernel, pool or stride size as Keras saves it ([3, 3]), or an int written as one; at
    least 1 (a stride of 0 divided the report's output shapes by zero)."""
    if _size(value, 1) is not None:
        return [value, value]
    if isinstance(value, list) and 0 < len(value) <= 3 and all(_size(v, 1) is not None for v in value):
        return list(value)
    return None


def _layer_settings(cls: str, settings: dict[str, Any], entry: LayerRecord) -> None:
    """The settings of convolution, pooling and Dropout layers that an exercise may declare, and the
    strides and padding the report needs for their output shapes."""
    if cls in CONVOLUTIONS:
        filters = settings.get("filters")
        entry["filters"] = _size(filters)
        entry["kernel_size"] = _window(settings.get("kernel_size"))
        entry["activation"] = activation_name(settings.get("activation"))
    elif cls in POOLINGS:
        entry["pool_size"] = _window(settings.get("pool_size"))
    elif cls == "Dropout":
        rate = settings.get("rate")
        entry["rate"] = float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None
    if cls in CONVOLUTIONS or cls in POOLINGS:
        padding = settings.get("padding")
        entry["strides"] = _window(settings.get("strides"))
        entry["padding"] = padding if padding in ("valid", "same", "causal") else None


def _shape(value) -> list | None:
    if isinstance(value, list) and all(v is None or _size(v) is not None for v in value):
        return value
    return None


def input_shape(config: dict, layers: list[dict]) -> list | None:
    for layer in layers:
        if layer.get("class_name") == "InputLayer":
            inner = layer.get("config") or {}
            shape = _shape(inner.get("batch_shape")) or _shape(inner.get("batch_input_shape"))
            if shape is not None:
                return shape
        else:
            break
    build = config.get("build_config") or {}
    shape = _shape(build.get("input_shape")) if isinstance(build, dict) else None
    if shape is None:
        shape = _shape((config.get("config") or {}).get("build_input_shape"))
    if shape is None and layers:
        first = layers[0]
        first_build = first.get("build_config") or {}
        shape = _shape(first_build.get("input_shape")) if isinstance(first_build, dict) else None
    return shape


def describe(config: dict) -> ModelStructure:
    """The structure and compile settings of a screened model configuration."""
    inner = config.get("config") or {}
    layers = _flatten_layers(inner.get("layers") or []) if isinstance(inner, dict) else []
    if len(layers) > MAX_LAYERS:
        raise ModelFileError(f"the model has {len(layers)} layers, more than the grader reads ({MAX_LAYERS})")
    blocks: list[Block] = []
    summary: list[LayerRecord] = []
    others: list[str] = []
    reshaping: list[str] = []
    for layer in layers:
        cls = str(layer.get("class_name"))
        given = layer.get("config")
        settings: dict[str, Any] = given if isinstance(given, dict) else {}
        name = str(settings.get("name", cls))
        entry: LayerRecord = {"class": cls, "name": name}
        if cls == "Dense":
            units = _size(settings.get("units"))
            blocks.append(Block(name, units, activation_name(settings.get("activation"))))
            entry["units"] = units
            entry["activation"] = blocks[-1].activation
        elif cls == "Activation" or cls in ACTIVATION_LAYERS:
            applied = activation_name(settings.get("activation")) if cls == "Activation" else ACTIVATION_LAYERS[cls]
            entry["activation"] = applied
            if blocks and blocks[-1].activation == "linear" and blocks[-1].via is None:
                blocks[-1].activation, blocks[-1].via = applied, cls
            elif blocks:
                others.append(f"{cls}({applied}) after {blocks[-1].name}, which already applies "
                              f"{blocks[-1].activation}")
            else:
                others.append(f"{cls}({applied}) before any Dense layer")
        elif cls == "InputLayer":
            entry["shape"] = _shape(settings.get("batch_shape"))
        elif cls in RESHAPING:
            reshaping.append(cls)
        elif cls not in PASS_THROUGH:
            others.append(cls)
        _layer_settings(cls, settings, entry)
        summary.append(entry)
    structure = ModelStructure(model_class=str(config.get("class_name")),
                               input_shape=input_shape(config, layers), blocks=blocks, layers=summary,
                               other_layers=others, reshaping=reshaping)
    compiled = config.get("compile_config")
    if isinstance(compiled, dict) and compiled:  # an uncompiled model saves {}
        structure.compiled = True
        structure.loss = canonical_loss(compiled.get("loss"))
        structure.optimizer = canonical_optimizer(compiled.get("optimizer"))
        structure.metrics, structure.metric_objects = metric_names(compiled.get("metrics"))
    return structure
