"""The recorder: the event log the grader reads back, written from inside the student's kernel.

It writes what the hooks (hooks.py) see as JSON lines, as they happen, so a timeout or a
dead kernel loses nothing recorded before it: the calls on Keras models, where in the
notebook they were made and with which names, a saved copy of every model the student
compiled or trained, and, after each cell, the images arrays the notebook's names refer
to (where their rows come from is provenance.py's).

Everything here lives in the student's process, so it is evidence, not proof: the grader
treats all of it as untrusted data and grounds the model checks and the accuracy on the
saved model file, which it reads itself.
"""
from __future__ import annotations

import builtins
import contextlib
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
from collections.abc import Callable, Iterator
from typing import Any

from ..protocol import FLAT_SIZE, MAX_MODELS
from . import provenance

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


def jsonable(value: Any, depth: int = 0) -> Any:
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
        return {str(k)[:200]: jsonable(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, depth + 1) for v in list(value)[:1000]]
    return repr(value)[:200]


class Recorder:
    """One kernel's event log, its models' serial numbers and saved files, and the lesson's rows."""

    def __init__(self, out_dir: str, events_fd: int, data_path: str, keras: Any, numpy: Any):
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
        #: Keras' own Model.save, set by the hooks before they replace anything.
        self.save_model: Callable[[Any, str], Any] | None = None
        self.pristine = self.load_pristine(data_path)

    # --- recording ---------------------------------------------------------

    def emit(self, kind: str, **fields: Any) -> None:
        with self.lock:
            if self.events >= self.max_events:
                return
            self.events += 1
            self.seq += 1
            fields.update(kind=kind, seq=self.seq, t=round(_monotonic(), 3))
            try:
                line = _dumps(jsonable(fields), allow_nan=False) + "\n"
                _write(self.fd, line.encode("utf-8", "replace"))
            except Exception:  # noqa: BLE001 - the record is best effort; the student's code must go on
                pass

    def call_site(self) -> tuple[dict[str, int | None], types.FrameType | None]:
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

    def names_of(self, obj: object, frame: types.FrameType | None) -> list[str]:
        """Variable names that refer to `obj` where the student's call was made."""
        if frame is None:
            return []
        found: list[str] = []
        for scope in (frame.f_locals, frame.f_globals):
            for name, value in list(scope.items()):
                if value is obj and not name.startswith("_") and name not in found:
                    found.append(name)
                    if len(found) >= MAX_NAMES:
                        return found
        return found

    # --- the data set ------------------------------------------------------

    def load_pristine(self, data_path: str) -> provenance.Pristine | None:
        return provenance.load_lesson(data_path)

    def describe_array(self, value: object, frame: types.FrameType | None,
                       images: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Shape, dtype, variable names and, for images, which lesson rows they hold."""
        if value is None:
            return None
        return provenance.describe(value, self.names_of(value, frame), self.pristine, images)

    # --- models ------------------------------------------------------------

    def serial(self, model: Any) -> int:
        with self.lock:
            serial = self.serial_of.get(model)
            if serial is None:
                serial = len(self.model_refs) + 1
                self.serial_of[model] = serial
                self.model_refs[serial] = weakref.ref(model)
                self.emit("model", model=serial, cls=type(model).__name__)
            return serial

    def checkpoint(self, model: Any, stage: str) -> None:
        """Save the model now, so a later crash or timeout cannot lose it."""
        serial = self.serial(model)
        final = os.path.join(self.out_dir, f"model-{serial}.keras")
        temporary = os.path.join(self.out_dir, f"partial-{serial}.keras")
        started = _monotonic()
        self.local.depth = getattr(self.local, "depth", 0) + 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.save_model(model, temporary)  # type: ignore[misc]  # set by the hooks before any call
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

    # --- the grader's own calls ----------------------------------------------

    def nested(self) -> bool:
        return getattr(self.local, "depth", 0) > 0

    @contextlib.contextmanager
    def unrecorded(self) -> Iterator[None]:
        """Calls made inside are the grader's own (a live self-check reading the data), not the student's."""
        self.local.depth = getattr(self.local, "depth", 0) + 1
        try:
            yield
        finally:
            self.local.depth -= 1

    # --- the cells -----------------------------------------------------------

    def attach(self, shell: Any) -> None:
        """Hook into the kernel's shell once it exists: after every cell, repair and take note."""
        self.shell = shell
        self.noted: dict = {}
        shell.events.register("pre_run_cell", self.before_cell)
        shell.events.register("post_run_cell", self.after_cell)

    def before_cell(self, info: object = None) -> None:
        # Seed just before the first cell, not at kernel start: the kernel's own
        # start-up draws from Python's `random` a varying number of times, and
        # Keras derives its default seeds from that generator.
        if not self.seeded:
            self.seeded = True
            self.keras.utils.set_random_seed(self.seed)

    def after_cell(self, result: object = None) -> None:
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
                    info = provenance.strip_index(self.describe_array(value, None))
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
