"""The course's policy: batch/desk/policy.py, shared with `grade` (kept here for the service's imports)."""
from __future__ import annotations

from ..batch.desk.policy import DAY_S, HOUR_S, cutoff, days_late, due, epoch, late_fraction, retry_after

__all__ = ["DAY_S", "HOUR_S", "cutoff", "days_late", "due", "epoch", "late_fraction", "retry_after"]
