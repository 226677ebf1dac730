"""The holdout gap is judged by a significance test for the sample sizes, not a fixed margin."""
from __future__ import annotations

import pytest

from autograder.grading.gapstat import SUSPICIOUS_P, gap_p_value, suspicious


@pytest.mark.parametrize("visible, hidden, hidden_size, flagged", [
    (1.00, 0.92, 100, True),    # a memoriser 0.08 above the holdout: the old 0.10 margin missed it
    (1.00, 0.90, 1000, True),
    (0.92, 0.84, 100, False),   # the same 0.08 gap for an honest model is within chance on 100 images
    (0.90, 0.90, 100, False),
    (0.85, 0.95, 100, False),   # better on the holdout is never suspicious
    (1.00, 1.00, 100, False),
])
def test_the_flag_depends_on_the_sample_sizes_not_a_fixed_gap(visible, hidden, hidden_size, flagged):
    assert suspicious(visible, 100, hidden, hidden_size) is flagged


def test_p_values_shrink_with_more_holdout_images_for_the_same_gap():
    small, large = gap_p_value(0.99, 100, 0.93, 100), gap_p_value(0.99, 100, 0.93, 5000)
    assert 0 < large < small < 1 and large < SUSPICIOUS_P < small


def test_no_images_means_no_evidence():
    assert gap_p_value(1.0, 100, 0.0, 0) == 1.0

