"""Did test images reach the weights? Measured from outside: visible test set against holdout.

Whatever path carried them (`fit` on a concatenation, `train_on_batch`, a custom
`GradientTape` loop, a tf.data pipeline), test images a model was trained on are images it
is sure about. The grader compares the model on the visible test images with the same model
on the hidden holdout, which no notebook ever saw and which is drawn like the test set:

- accuracy: is the visible accuracy significantly above the holdout's (gapstat.py)?
- confidence: is the share of images whose true class gets at least facts.CONFIDENT (0.9)
  significantly larger on the visible images? Memorising lifts this share much more than the
  accuracy (on an easy data set an honest model is already right on ~95% of images, so a
  memoriser gains little accuracy but becomes sure of every test image). The same one-sided
  two-proportion test answers it.

An honest model's two sets differ only by chance, so a flag on an honest student is a
false alarm at the test's level: LEAK_P is kept small because the verdict costs the
`accuracy.threshold` points.
"""
from __future__ import annotations

import numpy as np

from . import gapstat
from .facts import Facts, HoldoutComparison, confident_fraction

#: Below this p-value (either test) the model fails accuracy.threshold even when it reaches the
#: threshold on the holdout: about one honest student in a thousand per test would be flagged.
LEAK_P = 0.001


def suspicious(comparison: HoldoutComparison) -> bool:
    """Worth a flag: either gap is unlikely by chance (gapstat's level for accuracy)."""
    return comparison["accuracy_p"] < gapstat.SUSPICIOUS_P or comparison["confidence_p"] < LEAK_P


def decisive(comparison: HoldoutComparison) -> bool:
    """Strong enough to fail a model that reaches the threshold on the holdout."""
    return min(comparison["accuracy_p"], comparison["confidence_p"]) < LEAK_P


def compare(facts: Facts) -> HoldoutComparison | None:
    """Visible against hidden for the graded model; None without a measured holdout. The facts stage
    computes it once (pipeline.assess, into facts.holdout_comparison): read it there."""
    if facts.test_accuracy is None or facts.holdout_accuracy is None or facts.probabilities is None \
            or facts.holdout_confident is None or not facts.holdout_size:
        return None
    visible_size = len(facts.data["test_classes"])
    visible = confident_fraction(np.asarray(facts.probabilities), facts.data["test_classes"])
    return HoldoutComparison(
        accuracy_p=gapstat.gap_p_value(facts.test_accuracy, visible_size, facts.holdout_accuracy, facts.holdout_size),
        confident_visible=visible, confident_hidden=facts.holdout_confident,
        confidence_p=gapstat.gap_p_value(visible, visible_size, facts.holdout_confident, facts.holdout_size))
