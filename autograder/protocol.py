"""What the sandboxed runner and probe tell the grader, named once.

The probe (inside the student's kernel), the runner, the reader of their records
(sandbox/readback.py) and the facts stage all use these names. The probe imports this
module inside the sandbox, so it imports nothing but the standard library.
"""
from __future__ import annotations

import re

#: Keras model methods the probe records, each as a `<kind>_start` and a `<kind>_end` event.
CALL_KINDS = ("compile", "fit", "evaluate", "predict")
CALL_PHASES = ("start", "end")
CALL_EVENTS = tuple(f"{kind}_{phase}" for kind in CALL_KINDS for phase in CALL_PHASES)
#: Every other event the probe writes.
OTHER_EVENTS = ("probe_ready", "load", "model", "saved", "save_failed", "namespace", "export_done", "epoch",
                "probe_error")
EVENT_KINDS = frozenset(CALL_EVENTS + OTHER_EVENTS)

#: How one code cell ended, as the runner reports it.
CELL_STATUSES = ("ok", "error", "timeout", "died", "empty", "not_run")
#: How a whole run ended.
RUN_STATUSES = ("completed", "timeout", "kernel_died", "error")

#: The lesson's 28x28x1 image as one flat row, as the dense exercises feed it to a model.
FLAT_SIZE = 784

#: Models the probe keeps a saved copy of (the most recent ones).
MAX_MODELS = 8
#: The name of the lesson's data file in the notebook's working folder.
DATA_NAME = "fashion.npz"
#: The name of a saved model file, by the model's serial number.
MODEL_FILE = re.compile(r"model-(\d{1,6})\.keras")

#: Terminal colour codes, which Keras puts in its messages and tracebacks.
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
