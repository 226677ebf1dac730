"""Instrumentation that runs inside the student's kernel, in three parts:

- provenance.py: which of the lesson's rows an array holds (pure numpy);
- recorder.py: the event log, the models' saved copies, the namespace after each cell;
- hooks.py: Keras' Model methods and numpy's loader, wrapped to tell the recorder.

The kernel launcher (kernel.py) and a live self-check (grading/live.py) call `install` before the
student's first cell, then `attach` once the shell exists; the runner calls `export` at the
end. Everything here lives in the student's process, so it is evidence, not proof: the grader
treats all of it as untrusted data (readback.py) and grounds the model checks and the
accuracy on the saved model file, which it reads itself.
"""
from __future__ import annotations

from . import hooks
from .recorder import Recorder

_probe: Recorder | None = None


def install(out_dir: str, events_fd: int, data_path: str, seed: int) -> Recorder:
    """Patch numpy and Keras in this process; called once, before any cell runs."""
    global _probe
    import keras
    import numpy

    recorder = Recorder(out_dir, events_fd, data_path, keras, numpy)
    hooks.install(recorder, keras, numpy)
    keras.utils.set_random_seed(seed)
    recorder.seed = seed
    _probe = recorder
    recorder.emit("probe_ready", keras=keras.__version__, numpy=numpy.__version__, seed=seed)
    return recorder


def attach(shell) -> None:
    if _probe is not None:
        _probe.attach(shell)


def export() -> None:
    if _probe is not None:
        _probe.export()
