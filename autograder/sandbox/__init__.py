"""Execute a notebook in a sandbox and read back what it left, as untrusted data.

Two paths run a notebook, with the same result, a RunRecord:

- the cold path, `run_notebook` (cold.py): a fresh sandbox, runner and kernel per notebook;
- the warm path, `slots.Slot.run` (slots.py): a job of a fork server (forkserver.py)
  that imported TensorFlow once, for a batch.

On both, the grader gives the runner (runner.py) a RunnerJob (job.py), confines it
as `Limits` says (isolation.py), watches it from outside (supervision.py), and reads
back what it left, bounded and rebuilt field by field (records.py, readback.py). In the
student's kernel (kernel.py), the probe (probe.py) records the Keras calls: its hooks (hooks.py)
tell its recorder (recorder.py), which says where each array's rows come from (provenance.py).
"""
from .cold import run_notebook
from .isolation import Limits
from .job import RunnerJob
from .records import RunRecord

__all__ = ["Limits", "RunRecord", "RunnerJob", "run_notebook"]
