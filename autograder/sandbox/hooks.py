"""The hooks: Keras' Model methods and numpy's loader, replaced in the student's kernel by
wrappers that tell the recorder (recorder.py) what the student's code did.

`compile`, `fit`, `evaluate` and `predict` record the call (its data, with provenance.py's
account of which lesson rows it holds, and its settings), run the original, record how it
ended, and save the model after `compile` and `fit`. `numpy.load` and `NpzFile.__getitem__`
record which arrays were read from the lesson file, and read a lesson file the notebook
names by a path that does not exist here from the sandbox's copy. A wrapper never raises
into the student's call: if recording fails, the original runs as if it were not there.
"""
from __future__ import annotations

import functools
import inspect
import os
import time
from collections.abc import Callable
from typing import Any

from . import provenance
from .recorder import Recorder, jsonable

# Captured before any student code runs (see recorder.py).
_monotonic = time.monotonic

CHECKPOINT_AFTER = ("compile", "fit")
#: Keras' own methods, before the hooks replace them, and their signatures.
ORIGINAL: dict[str, Callable[..., Any]] = {}
SIGNATURES: dict[str, inspect.Signature] = {}
_EpochRecorder: Any = None  # a keras Callback class, made once keras is imported

#: What each wrapped method records at its start: (recorder, model, args, kwargs, bound arguments,
#: the student's frame) -> (fields, args, kwargs to call the original with).
Start = Callable[[Recorder, Any, tuple, dict, "dict[str, Any] | None", Any], tuple[dict, tuple, dict]]


def describe_callable(obj: object) -> Any:
    """How the student named a loss, optimizer or metric: a string, function or object."""
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj
    if isinstance(obj, (list, tuple)):
        return [describe_callable(o) for o in list(obj)[:20]]
    if isinstance(obj, dict):
        return {str(k): describe_callable(v) for k, v in list(obj.items())[:20]}
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return getattr(obj, "__name__", "function")
    return type(obj).__name__


# --- Keras' Model methods ---------------------------------------------------------

def wrap(recorder: Recorder, name: str, start: Start) -> Callable[..., Any]:
    """Wrap a Model method: record the call, run it, record how it ended.

    Recording never raises into the student's call: if it fails, the
    original method runs as if the hooks were not there.
    """
    original = ORIGINAL[name]

    @functools.wraps(original)
    def wrapper(model, *args, **kwargs):
        if recorder.nested():
            return original(model, *args, **kwargs)
        try:
            site, frame = recorder.call_site()
            try:
                bound = SIGNATURES[name].bind(model, *args, **kwargs)
                bound.apply_defaults()
                arguments = dict(bound.arguments)
                arguments.update(arguments.pop("kwargs", {}) or {})
            except TypeError:
                arguments = None
            serial = recorder.serial(model)
            fields, args, kwargs = start(recorder, model, args, kwargs, arguments, frame)
            recorder.emit(f"{name}_start", model=serial, **site,
                          model_names=recorder.names_of(model, frame), **fields)
        except Exception as error:  # noqa: BLE001
            recorder.emit("probe_error", where=name, error=f"{type(error).__name__}: {error}"[:500])
            return original(model, *args, **kwargs)
        return run(recorder, original, model, args, kwargs, name, serial)

    return wrapper


def start_compile(recorder, model, args, kwargs, arguments, frame):
    settings = {}
    if arguments is not None:
        settings = {key: describe_callable(arguments.get(key)) for key in ("loss", "optimizer", "metrics")}
    # The count before this compile: steps taken since the last one beyond its fits show here.
    return {"settings": settings, **optimizer_steps(recorder, model, "compile")}, args, kwargs


def start_fit(recorder, model, args, kwargs, arguments, frame):
    if arguments is None:
        return {}, args, kwargs
    x = recorder.describe_array(arguments.get("x"), frame)
    y = recorder.describe_array(arguments.get("y"), frame, images=x)
    validation = arguments.get("validation_data")
    validation_info = None
    if isinstance(validation, (tuple, list)) and len(validation) >= 2:
        vx = recorder.describe_array(validation[0], frame)
        validation_info = {"x": vx, "y": recorder.describe_array(validation[1], frame, images=vx)}
    elif validation is not None:
        validation_info = {"type": type(validation).__name__}
    fields = {
        "x": x, "y": y, "validation_data": validation_info,
        "settings": {key: jsonable(arguments.get(key)) for key in (
            "epochs", "batch_size", "validation_split", "shuffle", "initial_epoch",
            "steps_per_epoch")},
    }
    bound = SIGNATURES["fit"].bind(model, *args, **kwargs)
    bound.arguments["callbacks"] = list(arguments.get("callbacks") or []) + [
        _EpochRecorder(recorder, recorder.serial(model))]
    return provenance.strip_index(fields), bound.args[1:], bound.kwargs


def start_evaluate(recorder, model, args, kwargs, arguments, frame):
    if arguments is None:
        return {}, args, kwargs
    x = recorder.describe_array(arguments.get("x"), frame)
    fields = {"x": x, "y": recorder.describe_array(arguments.get("y"), frame, images=x),
              "settings": {"batch_size": jsonable(arguments.get("batch_size"))}}
    return provenance.strip_index(fields), args, kwargs


def start_predict(recorder, model, args, kwargs, arguments, frame):
    if arguments is None:
        return {}, args, kwargs
    return provenance.strip_index({"x": recorder.describe_array(arguments.get("x"), frame)}), args, kwargs


def optimizer_steps(recorder: Recorder, model: Any, kind: str) -> dict:
    """After a compile, raised or not, the steps its optimizer has counted: the count the
    saved one goes on from (0 for a new optimizer, more for one used before, which Keras 3
    may have put in place before raising). grading/corroboration.py reads it."""
    if kind != "compile":
        return {}
    try:
        return {"optimizer_steps": int(recorder.np.asarray(model.optimizer.iterations))}
    except Exception:  # noqa: BLE001 - no optimizer, or none yet: nothing said
        return {}


def run(recorder: Recorder, original: Callable[..., Any], model: Any, args: tuple, kwargs: dict, kind: str,
        serial: int) -> Any:
    """The student's call itself, unrecorded inside, then how it ended; the model is saved after
    `compile` and `fit` whether they finished or raised."""
    recorder.local.depth = getattr(recorder.local, "depth", 0) + 1
    started = _monotonic()
    try:
        result = original(model, *args, **kwargs)
    except BaseException as error:
        recorder.local.depth -= 1
        recorder.emit(f"{kind}_end", model=serial, ok=False,
                      seconds=round(_monotonic() - started, 3),
                      error={"ename": type(error).__name__, "evalue": str(error)[:2000]},
                      **optimizer_steps(recorder, model, kind))
        if kind in CHECKPOINT_AFTER:
            recorder.checkpoint(model, kind)
        raise
    recorder.local.depth -= 1
    outcome = {}
    try:
        if kind == "fit":
            history = getattr(result, "history", None)
            if isinstance(history, dict):
                outcome["history"] = {str(k): list(v)[:1000] for k, v in list(history.items())[:20]}
        elif kind == "evaluate":
            outcome["returned"] = jsonable(result)
    except Exception:  # noqa: BLE001
        pass
    outcome.update(optimizer_steps(recorder, model, kind))
    recorder.emit(f"{kind}_end", model=serial, ok=True, seconds=round(_monotonic() - started, 3),
                  **outcome)
    if kind in CHECKPOINT_AFTER:
        recorder.checkpoint(model, kind)
    return result


# --- numpy's loader ----------------------------------------------------------------

def redirect(recorder: Recorder, file: Any) -> tuple[Any, str | None]:
    """A path to a fashion.npz that does not exist here (a Colab drive, a laptop's
    Downloads folder) is read from the sandbox's copy instead; the load event says so."""
    if isinstance(file, (str, os.PathLike)):
        path = os.fspath(file)
        if isinstance(path, str) and os.path.basename(path) == os.path.basename(recorder.data_path) \
                and not os.path.exists(path) and os.path.exists(recorder.data_path):
            return recorder.data_path, path
    return file, None


def record_npz_open(recorder: Recorder, result: Any, file: Any, requested: str | None = None) -> None:
    try:
        name = os.path.basename(os.fspath(file))
    except TypeError:
        name = os.path.basename(str(getattr(file, "name", "")))
    result._autograder_source = name
    result._autograder_requested = requested
    if recorder.pristine is None and name == os.path.basename(recorder.data_path):
        # A live self-check started before the data file was there: the
        # lesson's rows are known from the first copy the student opens.
        path = os.fspath(file) if isinstance(file, (str, os.PathLike)) else None
        if path is not None:
            recorder.pristine = recorder.load_pristine(path)
            if recorder.pristine is not None:
                recorder.data_path = os.path.abspath(path)


def record_npz_key(recorder: Recorder, npz: Any, key: Any, array: Any) -> None:
    source = getattr(npz, "_autograder_source", None)
    if source is None or recorder.nested():
        return
    site, _ = recorder.call_site()
    recorder.emit("load", file=source, key=str(key)[:100], shape=list(getattr(array, "shape", [])),
                  dtype=str(getattr(array, "dtype", "")), requested=getattr(npz, "_autograder_requested", None),
                  **site)


# --- putting them in place -----------------------------------------------------------

def install(recorder: Recorder, keras: Any, numpy: Any) -> None:
    """Replace Keras' Model methods and numpy's loader with the wrappers; once, before any cell runs."""
    global _EpochRecorder

    class EpochRecorder(keras.callbacks.Callback):
        def __init__(self, recorder, serial):
            super().__init__()
            self._probe, self._serial = recorder, serial

        def on_epoch_end(self, epoch, logs=None):
            self._probe.emit("epoch", model=self._serial, epoch=epoch, logs=dict(logs or {}))

    _EpochRecorder = EpochRecorder
    model_class = keras.Model
    for name in ("compile", "fit", "evaluate", "predict", "save"):
        ORIGINAL[name] = getattr(model_class, name)
        SIGNATURES[name] = inspect.signature(ORIGINAL[name])
    recorder.save_model = ORIGINAL["save"]
    model_class.compile = wrap(recorder, "compile", start_compile)
    model_class.fit = wrap(recorder, "fit", start_fit)
    model_class.evaluate = wrap(recorder, "evaluate", start_evaluate)
    model_class.predict = wrap(recorder, "predict", start_predict)

    npz_class = numpy.lib.npyio.NpzFile
    original_load, original_getitem = numpy.load, npz_class.__getitem__

    @functools.wraps(original_load)
    def load(file, *args, **kwargs):
        requested = None
        try:
            file, requested = redirect(recorder, file)
        except Exception:  # noqa: BLE001
            pass
        result = original_load(file, *args, **kwargs)
        try:
            if isinstance(result, npz_class):
                record_npz_open(recorder, result, file, requested)
        except Exception:  # noqa: BLE001 - recording must not break loading
            pass
        return result

    @functools.wraps(original_getitem)
    def getitem(self, key):
        array = original_getitem(self, key)
        try:
            record_npz_key(recorder, self, key, array)
        except Exception:  # noqa: BLE001
            pass
        return array

    numpy.load = load
    npz_class.__getitem__ = getitem  # the hooks' whole point
