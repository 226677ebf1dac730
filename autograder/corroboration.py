"""Does the model file confirm the training the kernel recorded?

`fit.called`, `fit.settings` and `fit.validation` read the probe's record of `fit`, which
comes from inside the student's kernel and can be forged there. The model file is read by the
grader itself (modelfile.read_training_evidence, in the evaluator), and three of its facts must
agree with the record:

- **The optimizer's step count.** Keras counts every step it applies (`fit`, `train_on_batch`,
  `optimizer.apply_gradients` in a custom loop). Each recorded fit implies
  `epochs_run * ceil(floor(n * (1 - validation_split)) / batch_size)` steps (or
  `steps_per_epoch`), summed over the graded model's fits. Fewer steps in the file: the record
  is not about the model handed in. More: the model was also trained some other way, which the
  record does not show (the usual way to slip test images into the weights).
  A later `compile` with a new optimizer (a name, or another object than the model's: the
  probe records which) restarts the count, so only the steps since it are accepted; a compile
  after the last fit, then `train_on_batch` on the test images, once passed as the fits' count.
  Epochs are those the probe saw end, not the history's length, which a callback can pad.
- **The optimizer's state.** A step builds the optimizer's slots and leaves them non-zero
  (Adam's moment estimates, SGD's momentum); an iteration count with no slots or all-zero
  ones was assigned, not stepped (plain SGD, which keeps none, is exempt).
- **The weights moved.** Keras initialises biases to zero and kernels uniformly within
  sqrt(6 / (fan_in + fan_out)) (GlorotUniform). Trained weights leave that range and their
  biases move; weights still inside it with zero biases were never trained, whatever the
  record says. This needs no digest of the initial weights from the kernel (which would be as
  forgeable as the record): the range follows from the architecture alone.

What cannot be corroborated: which images and labels went into the steps (a student who
forges the record and takes exactly the recorded number of steps on other data is caught
only by the accuracy measured on unseen images, leakage.py), and anything about `evaluate`,
which leaves no trace in the model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .facts import Facts, RecordedCall

CONFIRM_FAILED = "The training record could not be confirmed"
#: Optimizers that may keep no slot variables at all (SGD without momentum).
STATELESS_OPTIMIZERS = {"sgd"}


@dataclass(frozen=True)
class StepRange:
    """Optimizer steps a list of fit calls implies: at least `low`, at most `high` (None: unknown)."""

    low: int
    high: int | None

    def holds(self, steps: int) -> bool:
        return steps >= self.low and (self.high is None or steps <= self.high)


def steps_per_epoch(fit: RecordedCall) -> int | None:
    """Optimizer steps one epoch of this fit takes, when its settings and data say."""
    settings = fit["settings"]
    given = settings.get("steps_per_epoch")
    if isinstance(given, int) and not isinstance(given, bool) and given > 0:
        return given
    shape = fit["x"].get("shape") if fit["x"] else None
    batch = settings.get("batch_size")
    batch = 32 if batch is None else batch  # Keras' default
    if isinstance(batch, float) and batch.is_integer():
        batch = int(batch)  # recorded as a float (a numpy integer once was): the same batches
    split = settings.get("validation_split") or 0.0
    if not shape or not isinstance(batch, int) or isinstance(batch, bool) or batch <= 0 \
            or not isinstance(split, (int, float)) or not 0 <= split < 1:
        return None
    samples = math.floor(shape[0] * (1.0 - split))  # as Keras' train_validation_split cuts
    return math.ceil(samples / batch)


def implied_steps(fits: list[RecordedCall]) -> StepRange:
    """The steps these fits took: completed epochs exactly; an epoch cut short, up to one more."""
    low, high = 0, 0
    for fit in fits:
        per_epoch = steps_per_epoch(fit)
        if per_epoch is None:
            return StepRange(low, None)
        low += fit["epochs_run"] * per_epoch
        high += (fit["epochs_run"] + (0 if fit["finished"] else 1)) * per_epoch
    return StepRange(low, high)


def _count_starts(compiles: list[RecordedCall]) -> list[int | None]:
    """Where the saved optimizer's step count may have started: after the last compile known to
    have given the model a new optimizer (a name, or another object than the model's: it starts
    from zero), None for before every fit; and after each later compile that may or may not have
    (one that raised, or one recorded without saying), so an honest record is never refused."""
    known = [c["seq"] for c in compiles if c["finished"] and c["settings"].get("optimizer_kept") is False]
    start = known[-1] if known else None
    unsure = [c["seq"] for c in compiles if (start is None or c["seq"] > start)
              and (not c["finished"] or not isinstance(c["settings"].get("optimizer_kept"), bool))]
    return [start, *unsure]


def contradiction(facts: Facts) -> str | None:
    """Why the graded model's file contradicts its recorded training, or None when it agrees
    (or was not read: a model the grader may not load has no evidence, and fails elsewhere)."""
    graded = facts.graded
    evidence = graded.get("evidence") if graded else None
    fits = facts.calls_of("fit", facts.graded_model)
    if evidence is None or not fits:
        return None
    compiles = facts.calls_of("compile", facts.graded_model)
    claimed = implied_steps(fits)
    counts = [implied_steps([f for f in fits if begin is None or f["seq"] > begin])
              for begin in _count_starts(compiles)]
    latest = counts[-1]
    steps = evidence["iterations"]
    if claimed.low == 0:
        return None  # nothing recorded ran to the end of an epoch: no claim to confirm
    if steps is None:
        return (f"{CONFIRM_FAILED}: the saved model holds no optimizer step count, so the {claimed.low} "
                "training steps on record cannot have been taken by it.")
    structure = facts.graded_structure
    compiled = structure["optimizer"] if structure else None
    optimizer = compiled["name"] if compiled else None
    stateless = optimizer in STATELESS_OPTIMIZERS  # plain SGD keeps no slots, even after steps
    if steps > 0 and (evidence["slots_zero"] or (evidence["slots_zero"] is None and not stateless)):
        return (f"{CONFIRM_FAILED}: the saved model's optimizer claims {steps} steps, but its state is "
                "exactly as before any step (its step count was set, not counted by training).")
    if evidence["as_initialised"] and latest.low > 0:
        return (f"{CONFIRM_FAILED}: the saved model's weights are still as Keras initialises them "
                "(every bias zero), so it was never trained, whatever the record says.")
    if any(count.holds(steps) for count in counts):
        return None
    expected = latest.low if latest.high == latest.low else f"{latest.low} or more"
    if steps < latest.low:
        return (f"{CONFIRM_FAILED}: the saved model took {steps} optimizer steps, fewer than the "
                f"{expected} training steps the recorded `fit` calls imply; the training on record is not that of the "
                "model handed in.")
    return (f"{CONFIRM_FAILED}: the saved model took {steps} optimizer steps, {steps - (latest.high or 0)} "
            f"more than the {expected} its recorded `fit` calls take. It was also trained another way "
            "(`train_on_batch`, or a loop applying gradients), on data the grader cannot check.")
