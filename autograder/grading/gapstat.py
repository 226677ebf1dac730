"""Is a model significantly better on the visible test images than on the hidden holdout?

A model that learned the test images themselves scores higher on them than on images it
never saw. A fixed gap cannot tell that from chance: with 100 test images a gap of 0.08 can
be luck or a memoriser, depending on the accuracies. A one-sided two-proportion z-test asks
how likely a gap this large is if both sets were drawn from the same distribution.
"""
from __future__ import annotations

import math

#: Below this p-value the gap is flagged: about one honest student in a hundred would be.
SUSPICIOUS_P = 0.01


def gap_p_value(visible: float, visible_size: int, hidden: float, hidden_size: int) -> float:
    """One-sided p-value of `visible - hidden` under "both accuracies are the same"."""
    if visible_size <= 0 or hidden_size <= 0:
        return 1.0
    pooled = (visible * visible_size + hidden * hidden_size) / (visible_size + hidden_size)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / visible_size + 1 / hidden_size))
    if spread == 0:  # both perfect or both zero: no gap, or every image the same way
        return 0.0 if visible > hidden else 1.0
    z = (visible - hidden) / spread
    return 0.5 * math.erfc(z / math.sqrt(2))


def suspicious(visible: float, visible_size: int, hidden: float, hidden_size: int) -> bool:
    return gap_p_value(visible, visible_size, hidden, hidden_size) < SUSPICIOUS_P
