"""Instrumentation that runs inside the student's kernel.

It is installed by the kernel launcher before the student's first cell and
records, as JSON lines, what the checks need: which arrays were loaded from
fashion.npz, every compile/fit/evaluate/predict call on a Keras model (what
data went in, with which settings, and whether it finished), and a saved copy
of every model the student compiled or trained.

Everything here lives in the student's process, so it is evidence, not proof:
the grader treats all of it as untrusted data and grounds the model checks and
the accuracy on the saved model file, which it reads itself. Events are
written as they happen, so a timeout or a dead kernel loses nothing recorded
before it.
"""
from __future__ import annotations

import builtins
import contextlib
import functools
import hashlib
import inspect
import json
import math
import operator
import os
import sys
import threading
import time
import types
import warnings
import weakref
from typing import Any

from ..protocol import FLAT_SIZE, MAX_MODELS

# References captured before any student code runs: a cell that breaks
# builtins or patches these modules must not break the recording.
_BUILTINS = dict(vars(builtins))
_BUILTINS_DICT = vars(builtins)
_update = dict.update
_dumps = json.dumps
_write = os.write
_replace = os.replace
_getframe = sys._getframe
_monotonic = time.monotonic

MAX_EVENTS = 5000
MAX_NAMES = 3
MAX_ROWS_MATCHED = 20000
CHECKPOINT_AFTER = ("compile", "fit")

_probe: Probe | None = None


def _jsonable(value, depth=0):
    """Plain JSON data from numbers, strings, lists and dicts; NaN becomes None."""
    if depth > 6:
        return None
    if value is None or isinstance(value, (bool, str)):
        return value[:2000] if isinstance(value, str) else value
    if isinstance(value, int):
        return value
    try:
        return operator.index(value)  # numpy's integers stay integers: batch_size=np.int64(10) is 10
    except TypeError:
        pass
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is not None and not isinstance(value, (list, tuple, dict)):
        return number if math.isfinite(number) else None
    if isinstance(value, dict):
        return {str(k)[:200]: _jsonable(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in list(value)[:1000]]
    return repr(value)[:200]


def _ranges(indices):
    """[0, 1, 2, 5] -> [[0, 3], [5, 6]]: compact half-open runs of row numbers."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][1] == index:
            runs[-1][1] = index + 1
        else:
            runs.append([index, index + 1])
    return runs


def _describe_callable(obj):
    """How the student named a loss, optimizer or metric: a string, function or object."""
    if obj is None:
        return None
    if isinstance(obj, str):
        return obj
    if isinstance(obj, (list, tuple)):
        return [_describe_callable(o) for o in list(obj)[:20]]
    if isinstance(obj, dict):
        return {str(k): _describe_callable(v) for k, v in list(obj.items())[:20]}
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return getattr(obj, "__name__", "function")
    return type(obj).__name__


class Probe:
    def __init__(self, out_dir: str, events_fd: int, data_path: str, keras, numpy):
        self.out_dir = out_dir  # where model files are saved
        self.keras = keras
        self.np = numpy
        self.fd = events_fd
        self.data_path = data_path
        self.events = 0
        self.max_events = MAX_EVENTS  # a live self-check session raises it
        self.seq = 0
        self.lock = threading.RLock()
        self.local = threading.local()
        self.serial_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.model_refs: dict[int, weakref.ref] = {}
        self.saved_order: list[int] = []
        self.seed = 0  # set by install
        self.seeded = False  # the seed is set again just before the first cell
        self.pristine = self._load_pristine(data_path)

    # --- recording ---------------------------------------------------------

    def emit(self, kind: str, **fields) -> None:
        with self.lock:
            if self.events >= self.max_events:
                return
            self.events += 1
            self.seq += 1
            fields.update(kind=kind, seq=self.seq, t=round(_monotonic(), 3))
            try:
                line = _dumps(_jsonable(fields), allow_nan=False) + "\n"
                _write(self.fd, line.encode("utf-8", "replace"))
            except Exception:  # noqa: BLE001 - the record is best effort; the student's code must go on
                pass

    def call_site(self):
        """(execution count, line) of the innermost frame that is a notebook cell."""
        try:
            from IPython import get_ipython

            shell = get_ipython()
            names = shell.compile._filename_map if shell is not None else {}
        except Exception:  # noqa: BLE001 - in the student's kernel: anything may be broken
            names = {}
        frame: types.FrameType | None = _getframe(1)
        while frame is not None:
            count = names.get(frame.f_code.co_filename)
            if count is not None:
                return {"exec": count, "line": frame.f_lineno}, frame
            frame = frame.f_back
        return {"exec": None, "line": None}, None

    def names_of(self, obj, frame):
        """Variable names that refer to `obj` where the student's call was made."""
        if frame is None:
            return []
        found = []
        for scope in (frame.f_locals, frame.f_globals):
            for name, value in list(scope.items()):
                if value is obj and not name.startswith("_") and name not in found:
                    found.append(name)
                    if len(found) >= MAX_NAMES:
                        return found
        return found

    # --- the data set ------------------------------------------------------

    def _load_pristine(self, data_path):
        np = self.np
        try:
            with np.load(data_path, allow_pickle=False) as npz:
                arrays = {key: npz[key] for key in npz.files}
        except Exception:  # noqa: BLE001 - in the student's kernel: anything may be broken
            return None
        rows: dict[bytes, tuple[str, int]] = {}
        for split in ("train", "test"):
            images = arrays.get(f"{split}_data")
            if images is None:
                continue
            flat = np.ascontiguousarray(images.reshape(len(images), -1), dtype=np.float32)
            for index, row in enumerate(flat):
                rows.setdefault(self._row_key(row), (split, index))
        return {"rows": rows, "train_labels": arrays.get("train_labels"),
                "test_labels": arrays.get("test_labels")}

    @staticmethod
    def _row_key(row) -> bytes:
        return hashlib.blake2b(row.tobytes(), digest_size=12).digest()

    def describe_array(self, value, frame, images=None):
        """Shape, dtype, variable names and, for images, which lesson rows they hold."""
        np = self.np
        if value is None:
            return None
        info = {"type": type(value).__name__, "names": self.names_of(value, frame)}
        try:
            array = np.asarray(value)
        except Exception:  # noqa: BLE001 - in the student's kernel: anything may be broken
            return info
        if array.dtype == object:
            return info
        info.update(shape=list(array.shape), dtype=str(array.dtype))
        if self.pristine is None or array.ndim == 0:
            return info
        if images is None:
            if array.ndim >= 2 and int(np.prod(array.shape[1:])) == FLAT_SIZE:
                info["rows"] = self._match_rows(array)
        else:
            info["labels"] = self._match_labels(array, images)
        return info

    def _match_rows(self, array):
        np = self.np
        if len(array) > MAX_ROWS_MATCHED or not np.issubdtype(array.dtype, np.number):
            return None
        flat = np.ascontiguousarray(array.reshape(len(array), FLAT_SIZE), dtype=np.float32)
        found: dict[str, list[int]] = {"train": [], "test": []}
        unknown = 0
        for row in flat:
            where = self.pristine["rows"].get(self._row_key(row))
            if where is None:
                unknown += 1
            else:
                found[where[0]].append(where[1])
        return {"train": _ranges(found["train"]), "test": _ranges(found["test"]),
                "unknown": unknown, "_index": found}

    def _match_labels(self, array, images):
        """Do these labels belong to the images they were given with?"""
        np = self.np
        result: dict[str, Any] = {"form": "other"}
        if array.ndim == 2 and array.shape[1] == 3:
            result["form"] = "one-hot"
        elif (array.ndim == 1 or (array.ndim == 2 and array.shape[1] == 1)) and np.issubdtype(array.dtype, np.number):
            result["form"] = "class-ids"
        rows = (images or {}).get("rows") or {}
        index = rows.get("_index") or {}
        if result["form"] == "other":
            return result
        for split in ("train", "test"):
            labels = self.pristine.get(f"{split}_labels")
            if labels is None:
                continue
            if index.get(split) and len(index[split]) == len(array):
                expected = labels[index[split]]  # the labels of exactly those images
            elif not any(index.values()) and len(labels) == len(array):
                expected = labels  # images of unknown origin: compare with the whole set
            else:
                continue
            if result["form"] == "class-ids":
                expected, got = expected.argmax(axis=1), array.reshape(-1)
            else:
                got = array
            try:
                matches = bool(np.array_equal(got.astype(np.float64), expected.astype(np.float64)))
            except Exception:  # noqa: BLE001
                matches = False
            if matches or "split" not in result:
                result.update(matches=matches, split=split)
        return result

    # --- models ------------------------------------------------------------

    def serial(self, model) -> int:
        with self.lock:
            serial = self.serial_of.get(model)
            if serial is None:
                serial = len(self.model_refs) + 1
                self.serial_of[model] = serial
                self.model_refs[serial] = weakref.ref(model)
                self.emit("model", model=serial, cls=type(model).__name__)
            return serial

    def checkpoint(self, model, stage: str) -> None:
        """Save the model now, so a later crash or timeout cannot lose it."""
        serial = self.serial(model)
        final = os.path.join(self.out_dir, f"model-{serial}.keras")
        temporary = os.path.join(self.out_dir, f"partial-{serial}.keras")
        started = _monotonic()
        self.local.depth = getattr(self.local, "depth", 0) + 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _ORIGINAL["save"](model, temporary)
            _replace(temporary, final)
        except BaseException as error:  # noqa: BLE001 - never break the student's run
            self.emit("save_failed", model=serial, stage=stage,
                      error=f"{type(error).__name__}: {error}"[:500])
            return
        finally:
            self.local.depth -= 1
        with self.lock:
            if serial in self.saved_order:
                self.saved_order.remove(serial)
            self.saved_order.append(serial)
            while len(self.saved_order) > MAX_MODELS:
                dropped = self.saved_order.pop(0)
                try:
                    os.unlink(os.path.join(self.out_dir, f"model-{dropped}.keras"))
                except OSError:
                    pass
        self.emit("saved", model=serial, stage=stage, file=f"model-{serial}.keras",
                  seconds=round(_monotonic() - started, 3))

    # --- the wrappers --------------------------------------------------------

    def nested(self) -> bool:
        return getattr(self.local, "depth", 0) > 0

    @contextlib.contextmanager
    def unrecorded(self):
        """Calls made inside are the grader's own (a live self-check reading the data), not the student's."""
        self.local.depth = getattr(self.local, "depth", 0) + 1
        try:
            yield
        finally:
            self.local.depth -= 1

    def wrap(self, name, start):
        """Wrap a Model method: record the call, run it, record how it ended.

        Recording never raises into the student's call: if it fails, the
        original method runs as if the probe were not there.
        """
        original = _ORIGINAL[name]

        @functools.wraps(original)
        def wrapper(model, *args, **kwargs):
            if self.nested():
                return original(model, *args, **kwargs)
            try:
                site, frame = self.call_site()
                try:
                    bound = _SIGNATURES[name].bind(model, *args, **kwargs)
                    bound.apply_defaults()
                    arguments = dict(bound.arguments)
                    arguments.update(arguments.pop("kwargs", {}) or {})
                except TypeError:
                    arguments = None
                serial = self.serial(model)
                fields, args, kwargs = start(model, args, kwargs, arguments, frame)
                self.emit(f"{name}_start", model=serial, **site,
                          model_names=self.names_of(model, frame), **fields)
            except Exception as error:  # noqa: BLE001
                self.emit("probe_error", where=name, error=f"{type(error).__name__}: {error}"[:500])
                return original(model, *args, **kwargs)
            return self._run(original, model, args, kwargs, name, serial)

        return wrapper

    def start_compile(self, model, args, kwargs, arguments, frame):
        settings = {}
        if arguments is not None:
            settings = {key: _describe_callable(arguments.get(key))
                        for key in ("loss", "optimizer", "metrics")}
        # The count before this compile: steps taken since the last one beyond its fits show here.
        return {"settings": settings, **self.optimizer_steps(model, "compile")}, args, kwargs

    def start_fit(self, model, args, kwargs, arguments, frame):
        if arguments is None:
            return {}, args, kwargs
        x = self.describe_array(arguments.get("x"), frame)
        y = self.describe_array(arguments.get("y"), frame, images=x)
        validation = arguments.get("validation_data")
        validation_info = None
        if isinstance(validation, (tuple, list)) and len(validation) >= 2:
            vx = self.describe_array(validation[0], frame)
            validation_info = {"x": vx, "y": self.describe_array(validation[1], frame, images=vx)}
        elif validation is not None:
            validation_info = {"type": type(validation).__name__}
        fields = {
            "x": x, "y": y, "validation_data": validation_info,
            "settings": {key: _jsonable(arguments.get(key)) for key in (
                "epochs", "batch_size", "validation_split", "shuffle", "initial_epoch",
                "steps_per_epoch")},
        }
        bound = _SIGNATURES["fit"].bind(model, *args, **kwargs)
        bound.arguments["callbacks"] = list(arguments.get("callbacks") or []) + [
            _EpochRecorder(self, self.serial(model))]
        return _strip_index(fields), bound.args[1:], bound.kwargs

    def start_evaluate(self, model, args, kwargs, arguments, frame):
        if arguments is None:
            return {}, args, kwargs
        x = self.describe_array(arguments.get("x"), frame)
        fields = {"x": x, "y": self.describe_array(arguments.get("y"), frame, images=x),
                  "settings": {"batch_size": _jsonable(arguments.get("batch_size"))}}
        return _strip_index(fields), args, kwargs

    def start_predict(self, model, args, kwargs, arguments, frame):
        if arguments is None:
            return {}, args, kwargs
        return _strip_index({"x": self.describe_array(arguments.get("x"), frame)}), args, kwargs

    def optimizer_steps(self, model, kind) -> dict:
        """After a compile, raised or not, the steps its optimizer has counted: the count the
        saved one goes on from (0 for a new optimizer, more for one used before, which Keras 3
        may have put in place before raising). corroboration.py reads it."""
        if kind != "compile":
            return {}
        try:
            return {"optimizer_steps": int(self.np.asarray(model.optimizer.iterations))}
        except Exception:  # noqa: BLE001 - no optimizer, or none yet: nothing said
            return {}

    def _run(self, original, model, args, kwargs, kind, serial):
        self.local.depth = getattr(self.local, "depth", 0) + 1
        started = _monotonic()
        try:
            result = original(model, *args, **kwargs)
        except BaseException as error:
            self.local.depth -= 1
            self.emit(f"{kind}_end", model=serial, ok=False,
                      seconds=round(_monotonic() - started, 3),
                      error={"ename": type(error).__name__, "evalue": str(error)[:2000]},
                      **self.optimizer_steps(model, kind))
            if kind in CHECKPOINT_AFTER:
                self.checkpoint(model, kind)
            raise
        self.local.depth -= 1
        outcome = {}
        try:
            if kind == "fit":
                history = getattr(result, "history", None)
                if isinstance(history, dict):
                    outcome["history"] = {str(k): list(v)[:1000] for k, v in list(history.items())[:20]}
            elif kind == "evaluate":
                outcome["returned"] = _jsonable(result)
        except Exception:  # noqa: BLE001
            pass
        outcome.update(self.optimizer_steps(model, kind))
        self.emit(f"{kind}_end", model=serial, ok=True, seconds=round(_monotonic() - started, 3),
                  **outcome)
        if kind in CHECKPOINT_AFTER:
            self.checkpoint(model, kind)
        return result

    # --- numpy's loader ----------------------------------------------------

    def redirect(self, file):
        """A path to a fashion.npz that does not exist here (a Colab drive, a laptop's
        Downloads folder) is read from the sandbox's copy instead; the load event says so."""
        if isinstance(file, (str, os.PathLike)):
            path = os.fspath(file)
            if isinstance(path, str) and os.path.basename(path) == os.path.basename(self.data_path) \
                    and not os.path.exists(path) and os.path.exists(self.data_path):
                return self.data_path, path
        return file, None

    def record_npz_open(self, result, file, requested=None):
        try:
            name = os.path.basename(os.fspath(file))
        except TypeError:
            name = os.path.basename(str(getattr(file, "name", "")))
        result._autograder_source = name
        result._autograder_requested = requested
        if self.pristine is None and name == os.path.basename(self.data_path):
            # A live self-check started before the data file was there: the
            # lesson's rows are known from the first copy the student opens.
            path = os.fspath(file) if isinstance(file, (str, os.PathLike)) else None
            if path is not None:
                self.pristine = self._load_pristine(path)
                if self.pristine is not None:
                    self.data_path = os.path.abspath(path)

    def record_npz_key(self, npz, key, array):
        source = getattr(npz, "_autograder_source", None)
        if source is None or self.nested():
            return
        site, _ = self.call_site()
        self.emit("load", file=source, key=str(key)[:100], shape=list(getattr(array, "shape", [])),
                  dtype=str(getattr(array, "dtype", "")), requested=getattr(npz, "_autograder_requested", None),
                  **site)

    # --- the end of the run ------------------------------------------------

    def attach(self, shell) -> None:
        """Hook into the kernel's shell once it exists: after every cell, repair and take note."""
        self.shell = shell
        self.noted: dict = {}
        shell.events.register("pre_run_cell", self.before_cell)
        shell.events.register("post_run_cell", self.after_cell)

    def before_cell(self, info=None) -> None:
        # Seed just before the first cell, not at kernel start: the kernel's own
        # start-up draws from Python's `random` a varying number of times, and
        # Keras derives its default seeds from that generator.
        if not self.seeded:
            self.seeded = True
            self.keras.utils.set_random_seed(self.seed)

    def after_cell(self, result=None) -> None:
        # A cell that breaks builtins would otherwise break the kernel itself,
        # which needs them to send its reply; the next cell finds them restored.
        _update(_BUILTINS_DICT, _BUILTINS)
        try:
            self.note_namespace(final=False)
        except Exception:  # noqa: BLE001 - never disturb the student's run
            pass

    def note_namespace(self, final: bool) -> None:
        """Record the images arrays (and, at the end, the models) the student's names refer to.

        After each cell only arrays of images are noted, and only when they
        changed, so a timeout or dead kernel later still leaves the evidence
        that the images were flattened.
        """
        keras, np = self.keras, self.np
        namespace = dict(self.shell.user_ns) if getattr(self, "shell", None) is not None else {}
        arrays: list[dict] = []
        model_names: dict[int, list[str]] = {}
        for name, value in list(namespace.items()):
            if name.startswith("_"):
                continue
            if isinstance(value, keras.Model):
                model_names.setdefault(self.serial(value), []).append(name)
            elif isinstance(value, np.ndarray) and len(arrays) < 50 and value.ndim >= 1:
                if not final and (value.ndim < 2 or int(np.prod(value.shape[1:])) != FLAT_SIZE):
                    continue
                key = (name, id(value), value.shape)
                info = self.noted.get(key) if not final else None
                if info is None:
                    info = _strip_index(self.describe_array(value, None))
                    info["names"] = [name]
                    self.noted[key] = info
                arrays.append(info)
        if final:
            self.emit("namespace", models={str(k): v[:MAX_NAMES] for k, v in model_names.items()},
                      arrays=arrays, final=True)
            return
        signature = [(a["names"][0], a.get("shape")) for a in arrays]
        if signature != getattr(self, "last_noted", None):
            self.last_noted = signature
            self.emit("namespace", models={}, arrays=arrays, final=False)

    def export(self) -> None:
        """Save the final state of every model and what the namespace holds."""
        _update(_BUILTINS_DICT, _BUILTINS)  # a cell may have broken builtins
        try:
            self.note_namespace(final=True)
        except Exception as error:  # noqa: BLE001
            self.emit("probe_error", where="export", error=f"{type(error).__name__}: {error}"[:500])
        live = [ref() for ref in list(self.model_refs.values())]
        for model in [m for m in live if m is not None][-MAX_MODELS:]:
            self.checkpoint(model, "final")
        self.emit("export_done")


def _strip_index(info):
    """Drop the row-index lists the probe keeps for matching labels; runs stay."""
    if isinstance(info, dict):
        return {k: _strip_index(v) for k, v in info.items() if k != "_index"}
    return info


_EpochRecorder: Any = None  # a keras Callback class, made once keras is imported
_ORIGINAL: dict = {}
_SIGNATURES: dict[str, inspect.Signature] = {}


def install(out_dir: str, events_fd: int, data_path: str, seed: int) -> Probe:
    """Patch numpy and Keras in this process; called once, before any cell runs."""
    global _probe, _EpochRecorder
    import keras
    import numpy

    probe = Probe(out_dir, events_fd, data_path, keras, numpy)

    class EpochRecorder(keras.callbacks.Callback):
        def __init__(self, probe, serial):
            super().__init__()
            self._probe, self._serial = probe, serial

        def on_epoch_end(self, epoch, logs=None):
            self._probe.emit("epoch", model=self._serial, epoch=epoch, logs=dict(logs or {}))

    _EpochRecorder = EpochRecorder
    model_class = keras.Model
    for name in ("compile", "fit", "evaluate", "predict", "save"):
        _ORIGINAL[name] = getattr(model_class, name)
        _SIGNATURES[name] = inspect.signature(_ORIGINAL[name])
    model_class.compile = probe.wrap("compile", probe.start_compile)
    model_class.fit = probe.wrap("fit", probe.start_fit)
    model_class.evaluate = probe.wrap("evaluate", probe.start_evaluate)
    model_class.predict = probe.wrap("predict", probe.start_predict)

    npz_class = numpy.lib.npyio.NpzFile
    original_load, original_getitem = numpy.load, npz_class.__getitem__

    @functools.wraps(original_load)
    def load(file, *args, **kwargs):
        requested = None
        try:
            file, requested = probe.redirect(file)
        except Exception:  # noqa: BLE001
            pass
        result = original_load(file, *args, **kwargs)
        try:
            if isinstance(result, npz_class):
                probe.record_npz_open(result, file, requested)
        except Exception:  # noqa: BLE001 - recording must not break loading
            pass
        return result

    @functools.wraps(original_getitem)
    def getitem(self, key):
        array = original_getitem(self, key)
        try:
            probe.record_npz_key(self, key, array)
        except Exception:  # noqa: BLE001
            pass
        return array

    numpy.load = load
    npz_class.__getitem__ = getitem  # type: ignore[method-assign]  # the probe's whole point

    keras.utils.set_random_seed(seed)
    probe.seed = seed
    _probe = probe
    probe.emit("probe_ready", keras=keras.__version__, numpy=numpy.__version__, seed=seed)
    return probe


def attach(shell) -> None:
    if _probe is not None:
        _probe.attach(shell)


def export() -> None:
    if _probe is not None:
        _probe.export()
