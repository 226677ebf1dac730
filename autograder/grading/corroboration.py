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
  A `compile` may restart the count (a new optimizer) or not (the model's own, or one used
  before; Keras 3 may replace it before raising): the probe reads the count when each compile
  begins and ends, raised or not. Between two compiles the count must grow by the steps of the
  fits between them, and the file must hold the last compile's count plus the steps of the
  fits after it. (Accepting any count from any compile on let a compile after the last fit,
  then `train_on_batch` on the test images, pass as the fits' count.) Epochs are those the
  probe saw end, not the history's length, which a callback can pad.
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


def accepted_counts(fits: list[RecordedCall], compiles: list[RecordedCall]) -> list[StepRange]:
    """The step counts the saved optimizer may hold: what it had counted when the last compile
    ended (the probe reads it: 0 for a new optimizer, more for one used before, whether the
    compile raised or not), plus the steps of the fits after that compile. A record without that
    count (made before the probe read it) may count from the first fit or after any compile."""
    last = compiles[-1] if compiles else None
    base = last.get("optimizer_steps") if last is not None else None
    if last is not None and isinstance(base, int):
        after = implied_steps([f for f in fits if f["seq"] > last["seq"]])
        return [StepRange(after.low + base, None if after.high is None else after.high + base)]
    return [implied_steps([f for f in fits if begin is None or f["seq"] > begin])
            for begin in [None, *(c["seq"] for c in compiles)]]


def unrecorded_steps(fits: list[RecordedCall], compiles: list[RecordedCall]) -> int | None:
    """Steps the optimizer took between two compiles that the fits between them do not take
    (negative: fewer), where the probe read its count when the first ended and the second began.
    A compile may replace the optimizer and so its count, but not before the probe read it."""
    for earlier, later in zip(compiles, compiles[1:]):
        base, before = earlier.get("optimizer_steps"), later.get("steps_before")
        if not isinstance(base, int) or not isinstance(before, int):
            continue
        between = implied_steps([f for f in fits if earlier["seq"] < f["seq"] < later["seq"]])
        if not StepRange(between.low + base, None if between.high is None else between.high + base).holds(before):
            return before - base - between.low
    return None


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
    counts = accepted_counts(fits, compiles)
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
    unrecorded = unrecorded_steps(fits, compiles)
    if unrecorded is not None and unrecorded > 0:
        return (f"{CONFIRM_FAILED}: the model's optimizer took {unrecorded} steps between two of its `compile` "
                "calls that no recorded `fit` took. It was also trained another way (`train_on_batch`, or a "
                "loop applying gradients), on data the grader cannot check.")
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
