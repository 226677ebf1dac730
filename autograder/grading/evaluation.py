"""Measure the student's model on the grader's own copy of the test data.

The evaluator is a separate process that never runs student code: it imports
Keras, says it is ready, then waits for requests naming model files the grader
has already screened, loads each with Keras' safe mode, and returns its
predictions on the pristine test images. `check` starts one at the beginning so
that its TensorFlow import overlaps the notebook's execution; `grade` keeps one
warm for the whole class.

Each request has a budget of its own (EVALUATION_BUDGET_S, counted from the
moment a ready process receives it, and the process's memory cap): a model that
exceeds it gets the verdict "could not be measured within N s", and its process
is replaced for the next request. A process that dies under a request is
replaced and the request sent once more, so one model's failure never becomes
another's; a second death is a fault of the grader (EvaluatorError), which a
re-run grades again.

    python -m autograder.grading.evaluation   (a JSON request per line on stdin, a reply per line on stdout)
"""
from __future__ import annotations

import gc
import json
import os
import queue
import resource
import subprocess
import sys
import threading
from typing import IO, Any

from .. import processes
from ..errors import GraderFault
from ..modelfile import TrainingEvidence

EVALUATOR_MEMORY = 6 * 2**30
#: Seconds one request (one submission's model, on one set of images) may take once sent.
EVALUATION_BUDGET_S = 120.0
#: Seconds a fresh process may take to import Keras and say it is ready.
STARTUP_TIMEOUT = 300.0
MAX_REPLY_BYTES = 64 * 2**20
#: Scores per image the evaluator returns at most: more is a verdict, not a reply to carry.
MAX_OUTPUT_COLUMNS = 256
READY = b"ready\n"


class EvaluatorError(GraderFault):
    """The evaluator failed, not the model: grading reports it, and a re-run grades it again."""


def over_budget(seconds: float) -> str:
    """The verdict for a model whose measurement ran out of its budget."""
    return (f"it could not be measured within {seconds:g} s (predicting the test images took longer than "
            f"the grader allows for one model)")


def _confine() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (EVALUATOR_MEMORY, EVALUATOR_MEMORY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Its TensorFlow import is not urgent: the first model comes seconds later. Lower
    # priority lets the kernels (and a batch's fork server) start first on a busy machine.
    os.nice(5)


class _Process:
    """One evaluator process and the thread reading its replies."""

    def __init__(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AUTOGRADER_")}
        env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="",
                   OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "autograder.grading.evaluation"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, preexec_fn=_confine,
            start_new_session=True)
        processes.started(self.popen)
        self.requests, output = processes.pipes(self.popen)
        self.replies: queue.Queue[bytes] = queue.Queue()
        self.ready = False
        threading.Thread(target=self._read, args=(output,), daemon=True).start()

    def _read(self, output: IO[bytes]) -> None:
        while True:
            line = output.readline(MAX_REPLY_BYTES + 1)
            self.replies.put(line)
            if not line:
                return

    def wait_ready(self) -> None:
        if self.ready:
            return
        try:
            line = self.replies.get(timeout=STARTUP_TIMEOUT)
        except queue.Empty:
            line = b""
        if line != READY:
            self.close()
            raise EvaluatorError(f"the evaluator did not start (exit status {self.popen.poll()})")
        self.ready = True

    def ask(self, request: bytes, budget: float) -> bytes | None:
        """The reply line; b"" if the process died; None if the budget ran out (the process is ended)."""
        try:
            self.requests.write(request + b"\n")
            self.requests.flush()
            line = self.replies.get(timeout=budget)
        except (BrokenPipeError, OSError, ValueError):
            line = b""
        except queue.Empty:
            self.close()
            return None
        if not line:
            self.close()
        return line

    def close(self) -> None:
        if self.popen.poll() is None:  # once reaped, its id may be another process's
            processes.kill(self.popen)
        self.popen.wait()
        processes.finished(self.popen)


class Evaluator:
    """A warm evaluation service: start it early, ask it as often as needed, from any thread.

    Requests are served one at a time, each by a live process (a fresh one after a
    failure), within `budget` seconds each."""

    def __init__(self, budget: float | None = None) -> None:
        self.budget = EVALUATION_BUDGET_S if budget is None else budget
        self.lock = threading.Lock()
        self.current = _Process()
        self.closed = False

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The latest process: the one serving requests, or the one that failed last (ended)."""
        return self.current.popen

    def _live(self) -> _Process:
        if self.closed:
            raise EvaluatorError("the evaluator was closed")
        if self.current.popen.poll() is not None:  # it failed, or ended on its own: start afresh
            self.current.close()
            self.current = _Process()
        self.current.wait_ready()
        return self.current

    def evaluate(self, models: dict[int, str], test_images: str) -> dict[int, dict[str, Any]]:
        """Predictions of each model on the test images: {serial: {"predictions"|"error": ...}}.

        A request over budget is each of its models' verdict; a process that dies is
        replaced and the request sent once more; raises EvaluatorError if it dies again."""
        request = json.dumps({"models": {str(k): v for k, v in models.items()}, "test": test_images}).encode()
        status: int | None = None
        with self.lock:
            for _attempt in range(2):
                process = self._live()
                line = process.ask(request, self.budget)
                if line is None:
                    return {serial: {"error": over_budget(self.budget)} for serial in models}
                if line:
                    break
                status = process.popen.poll()
            else:
                raise EvaluatorError(f"the evaluator stopped twice while measuring this model "
                                     f"(exit status {status})")
            if len(line) > MAX_REPLY_BYTES:  # the rest of the line is still in the pipe
                process.close()
                raise EvaluatorError("the evaluator's reply was too large")
        try:
            reply = json.loads(line.decode() or "null")
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise EvaluatorError("the evaluator's reply was not readable")
        return {int(k): v for k, v in reply.get("models", {}).items()}

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.current.close()

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _input_for(model, images):
    """The test images in the shape the model takes, when it can take them at all."""
    import numpy as np

    shape = model.inputs[0].shape if getattr(model, "inputs", None) else None
    if shape is None:
        return None, "the model has no defined input"
    dims = [d for d in list(shape)[1:]]
    if any(d is None for d in dims):
        return None, f"the model's input shape {tuple(shape)} is not fixed"
    if int(np.prod(dims)) != int(np.prod(images.shape[1:])):
        return None, (f"the model takes inputs of shape {tuple(shape)}, which the "
                      f"{images.shape[1]}x{images.shape[2]} test images cannot be given as")
    return images.reshape((len(images), *dims)), None


def read_evidence(path: str) -> TrainingEvidence:
    """What the model file's weights say about its training (modelfile.read_training_evidence)."""
    from ..modelfile import read_training_evidence

    try:
        with open(path, "rb") as handle:
            return read_training_evidence(handle.read())
    except OSError:
        return TrainingEvidence(iterations=None, slots_zero=None, as_initialised=None)


def _predict(keras, model, images, batch_size: int = 100):
    """What `model.predict(images, batch_size)` returns (the same numbers: both call the model with
    training=False, batch by batch), without the tf.function predict() traces for every new model:
    that tracing took three times the prediction itself (0.2 s against 0.07 s CPU per model)."""
    import numpy as np

    parts = [keras.tree.map_structure(keras.ops.convert_to_numpy, model(images[start:start + batch_size],
                                                                         training=False))
             for start in range(0, len(images), batch_size)]
    return keras.tree.map_structure(lambda *batches: np.concatenate(batches), *parts)


def _predict_one(keras, path: str, images, aliases: dict[str, Any]) -> dict[str, Any]:
    """One model's predictions on the images, or why there are none."""
    import numpy as np

    try:
        model = keras.saving.load_model(path, custom_objects=aliases, compile=False, safe_mode=True)
    except Exception as error:  # noqa: BLE001 - every failure is a verdict, not a crash
        return {"error": f"{type(error).__name__}: {error}"[:500]}
    batch, problem = _input_for(model, images)
    if problem:
        return {"error": problem}
    try:
        predictions = np.asarray(_predict(keras, model, batch), dtype=np.float64)
    except Exception as error:  # noqa: BLE001
        return {"error": f"predicting failed: {type(error).__name__}: {error}"[:500]}
    if predictions.ndim != 2 or len(predictions) != len(images):
        return {"error": f"the model's output has shape {predictions.shape}, not one row of class scores per image"}
    if predictions.shape[1] > MAX_OUTPUT_COLUMNS:
        return {"error": f"the model gives {predictions.shape[1]} scores per image; the grader measures models "
                         f"with at most {MAX_OUTPUT_COLUMNS}, one per class"}
    predictions = np.where(np.isfinite(predictions), predictions, 0.0)
    reply: dict[str, Any] = {"predictions": np.round(predictions, 6).tolist()}
    first = _first_convolution(keras, model, batch)
    if first is not None:
        reply["first_layer"] = first
    return reply


def _first_convolution(keras, model, images) -> dict[str, Any] | None:
    """What the report pictures of a first Conv2D layer: its filters (on the first input channel)
    and the feature maps they make of the first test image, at most MAX_PICTURED_FILTERS of each.

    None when the model's first layer is not a Conv2D applied to the images."""
    import numpy as np

    from .facts import MAX_PICTURED_FILTERS, MAX_PICTURED_KERNEL, MAX_PICTURED_MAP

    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    if not layers or type(layers[0]).__name__ != "Conv2D":
        return None
    layer = layers[0]
    kernel = keras.ops.convert_to_numpy(layer.kernel)  # (height, width, input channels, filters)
    if kernel.ndim != 4 or max(kernel.shape[:2]) > MAX_PICTURED_KERNEL or \
            getattr(layer, "data_format", "channels_last") != "channels_last":
        return None
    try:
        maps = keras.ops.convert_to_numpy(layer(images[:1]))  # (1, height, width, filters), after its activation
    except Exception:  # noqa: BLE001 - a layer that cannot take the images directly is not pictured
        return None
    if maps.ndim != 4 or max(maps.shape[1:3]) > MAX_PICTURED_MAP:
        return None
    count = min(kernel.shape[3], maps.shape[3], MAX_PICTURED_FILTERS)

    def finite(values):
        return np.round(np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0), 4).tolist()

    return {"image": 0, "kernels": finite(kernel[:, :, 0, :count].transpose(2, 0, 1)),
            "maps": finite(maps[0, :, :, :count].transpose(2, 0, 1))}


def predict_all(models: dict[str, str], test_path: str) -> dict[str, dict[str, Any]]:
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    # tf.nn.softmax is saved under its TensorFlow name; map it to Keras' own function
    # (a name lookup, not code from the file).
    aliases = {"softmax_v2": keras.activations.softmax, "log_softmax_v2": keras.activations.log_softmax}
    with np.load(test_path, allow_pickle=False) as data:
        images = data["test_data"]
    results: dict[str, dict[str, Any]] = {}
    for serial, path in models.items():
        results[serial] = _predict_one(keras, path, images, aliases)
        keras.backend.clear_session()  # what one model built is not carried into the next one's memory
        gc.collect()
        results[serial]["evidence"] = read_evidence(path)
    return results


def main() -> None:
    import keras  # noqa: F401 - imported before the first request arrives, so the wait is spent here
    import tensorflow as tf

    # As in the kernels (sandbox/kernel.py): no graph rewriting for predict's one-off graphs.
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})
    # Keras and TensorFlow leave hundreds of thousands of objects that live as long as this
    # process: frozen, the collection after each model (below) no longer walks them all, which
    # took 0.34 s of CPU per request, four times the measurement itself.
    gc.collect()
    gc.freeze()
    sys.stdout.buffer.write(READY)  # the grader starts a request's budget only now
    sys.stdout.flush()

    for line in sys.stdin:
        request = json.loads(line)
        reply = {"models": predict_all(request["models"], request["test"])}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
