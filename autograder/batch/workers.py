"""What a batch keeps warm on the grading machine: the fork server's slot and the evaluator.

Kept apart from run.py, and light to import, so that `grade` can start both before it
imports the rest of the grader and reads the class: the fork server's TensorFlow import is
the one wait before the first notebook can run, and it starts a second earlier this way.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..grading.evaluation import Evaluator
from ..sandbox import run_notebook

if TYPE_CHECKING:
    from ..sandbox import RunRecord
    from ..sandbox.slots import Slot


class Workers:
    """What the batch keeps warm: one slot (a fork server whose jobs run side by side, each
    isolated) started at once in the background, and one evaluator shared by every notebook
    (it replaces its own process after a failure, see evaluation.Evaluator)."""

    def __init__(self, warm: bool, jobs: int):
        self.warm = warm
        self.jobs = jobs
        self.slot: Slot | None = None
        self.slot_ready = threading.Event()
        self.closing = threading.Event()
        self.closed = False
        self.keeper: threading.Thread | None = None
        if warm:  # first: the notebooks wait for the slot, the first measurement comes seconds later
            self.keeper = threading.Thread(target=self._keep_slot, daemon=True)
            self.keeper.start()
        try:
            self.evaluator = Evaluator()
        except BaseException:
            self.closing.set()  # the slot, still starting, is abandoned with its folder
            if self.keeper is not None:
                self.keeper.join()
            raise

    @classmethod
    def started_early(cls, jobs: int) -> Workers | None:
        """Warm workers started before the class is read, when this machine has the warm path;
        None when it does not (the batch then decides, as without them)."""
        from ..sandbox.slots import warm_path_available

        return cls(True, jobs) if warm_path_available() else None

    def _keep_slot(self) -> None:
        # bubblewrap's --die-with-parent follows the *thread* that started it, so the
        # thread that starts the slot lives until the batch ends, and closes it.
        from ..sandbox.slots import Slot, SlotError

        try:
            self.slot = Slot(capacity=self.jobs, abandon=self.closing)
        except (SlotError, OSError):
            self.slot = None  # grade cold
        except BaseException:
            self.slot_ready.set()  # nobody may wait for a slot that will never come
            raise
        self.slot_ready.set()
        self.closing.wait()
        if self.slot is not None:
            self.slot.close()

    def run(self, on_cells_over: Callable[[], None] | None = None) -> Callable[..., RunRecord]:
        """The notebook runner: the warm slot, or a fresh sandbox per notebook. A warm run calls
        `on_cells_over` once its cells are over (Slot.run); a cold one never does."""
        if not self.warm:
            return run_notebook
        from ..sandbox.slots import SlotError

        def run_in_slot(*args, **kwargs):
            self.slot_ready.wait()
            slot = self.slot
            if slot is not None:
                over = threading.Event()

                def cells_over() -> None:
                    over.set()
                    if on_cells_over is not None:
                        on_cells_over()

                try:
                    return slot.run(*args, **{**kwargs, "on_cells_over": cells_over})
                except SlotError:
                    if over.is_set():
                        # Its cells ran, and its turn went to the next notebook: running it again
                        # cold would run it twice, beside as many others as --jobs allows.
                        raise
                    # The server stopped: this notebook, and the rest, are graded cold.
            return run_notebook(*args, **kwargs)

        return run_in_slot

    def shared_evaluator(self) -> Evaluator:
        return self.evaluator

    def close(self) -> None:
        """Stop the evaluator and the slot, even one still starting: no folder or process is
        left. Closing again does nothing (the caller that started them early closes them too)."""
        if self.closed:
            return
        self.closed = True
        self.closing.set()
        if self.keeper is not None:
            self.keeper.join()
        self.evaluator.close()
