"""Measure the student's model on the grader's own copy of the test data.

The evaluator is a separate process that never runs student code: it imports
Keras, then waits for requests naming model files the grader has already
screened, loads each with Keras' safe mode, and returns its predictions on
the pristine test images. `check` starts one at the beginning so that its
TensorFlow import overlaps the notebook's execution; `grade` keeps one warm
for the whole class.

    python -m autograder.evaluation   (a JSON request per line on stdin, a reply per line on stdout)
"""
from __future__ import annotations

import json
import os
import queue
import resource
import subprocess
import sys
import threading
from typing import Any

from . import processes
from .errors import GraderFault

EVALUATOR_MEMORY = 6 * 2**30
EVALUATOR_TIMEOUT = 120.0
MAX_REPLY_BYTES = 8 * 2**20


class EvaluatorError(GraderFault):
    """The evaluator process failed; grading reports it instead of crashing."""


def _confine() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (EVALUATOR_MEMORY, EVALUATOR_MEMORY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Its TensorFlow import is not urgent: the first model comes seconds later. Lower
    # priority lets the kernels (and a batch's fork server) start first on a busy machine.
    os.nice(5)


class Evaluator:
    """A warm evaluation process: start it early, ask it as often as needed (one request at a time)."""

    def __init__(self) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("AUTOGRADER_")}
        env.update(TF_CPP_MIN_LOG_LEVEL="3", PYTHONHASHSEED="0", CUDA_VISIBLE_DEVICES="",
                   OMP_NUM_THREADS="1", TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "autograder.evaluation"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, preexec_fn=_confine,
            start_new_session=True)
        processes.started(self.process)
        self.requests, self.output = processes.pipes(self.process)
        self.lock = threading.Lock()
        self.replies: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            line = self.output.readline(MAX_REPLY_BYTES + 1)
            self.replies.put(line)
            if not line:
                return

    def evaluate(self, models: dict[int, str], test_images: str, timeout: float = EVALUATOR_TIMEOUT) -> dict:
        """Predictions of each model on the test images: {serial: {"predictions"|"error": ...}}."""
        request = json.dumps({"models": {str(k): v for k, v in models.items()}, "test": test_images})
        with self.lock:
            try:
                self.requests.write(request.encode() + b"\n")
                self.requests.flush()
                line = self.replies.get(timeout=timeout)
            except (BrokenPipeError, OSError, ValueError):
                line = b""
            except queue.Empty:
                self.close()
                raise EvaluatorError(f"the evaluator did not answer within {timeout:.0f} s") from None
        if len(line) > MAX_REPLY_BYTES:
            self.close()
            raise EvaluatorError("the evaluator's reply was too large")
        try:
            reply = json.loads(line.decode() or "null")
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise EvaluatorError(f"the evaluator failed (exit status {self.process.poll()})")
        return {int(k): v for k, v in reply.get("models", {}).items()}

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        processes.finished(self.process)

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc) -> None:
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


def read_iterations(path: str) -> int | None:
    from .modelfile import read_iterations as from_bytes

    try:
        with open(path, "rb") as handle:
            return from_bytes(handle.read())
    except OSError:
        return None


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
        try:
            model = keras.saving.load_model(path, custom_objects=aliases, compile=False, safe_mode=True)
        except Exception as error:  # noqa: BLE001 - every failure is a verdict, not a crash
            results[serial] = {"error": f"{type(error).__name__}: {error}"[:500]}
            continue
        batch, problem = _input_for(model, images)
        if problem:
            results[serial] = {"error": problem}
            continue
        try:
            predictions = np.asarray(model.predict(batch, batch_size=100, verbose=0), dtype=np.float64)
        except Exception as error:  # noqa: BLE001
            results[serial] = {"error": f"predicting failed: {type(error).__name__}: {error}"[:500]}
            continue
        if predictions.ndim != 2 or len(predictions) != len(images):
            results[serial] = {"error": f"the model's output has shape {predictions.shape}, "
                                        f"not one row of class scores per image"}
            continue
        predictions = np.where(np.isfinite(predictions), predictions, 0.0)
        results[serial] = {"predictions": np.round(predictions, 6).tolist()}
    for serial, path in models.items():
        results.setdefault(serial, {})["iterations"] = read_iterations(path)
    return results


def main() -> None:
    import keras  # noqa: F401 - imported before the first request arrives, so the wait is spent here
    import tensorflow as tf

    # As in the kernels (sandbox/kernel.py): no graph rewriting for predict's one-off graphs.
    tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": True})

    for line in sys.stdin:
        request = json.loads(line)
        reply = {"models": predict_all(request["models"], request["test"])}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
