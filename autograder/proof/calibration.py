"""Calibration: how the solution's accuracy spreads over seeds, and what that says of the threshold.

The solution is trained once per seed; each run's accuracy is what the grader measured (on
the holdout when there is one, since accuracy.threshold is decided there). A correct
student's notebook is another draw of the same spread: it starts from other random weights,
and often applies its layers in another order, which reshuffles them again. The proof's
equivalents are such notebooks, each graded with a seed of its own (`others`): their
accuracies join the solution's runs in every figure below, so that a proof at a small
`--runs` still estimates the spread from several correct notebooks.

The chance that such a notebook fails the threshold (`false_fail_rate`) is read from a
normal model of the correct notebooks: their mean, and the spread a new one has around a
mean estimated from n of them, sd * sqrt(1 + 1/n), never less than one test image (an
accuracy on 100 images moves in steps of 0.01, and two runs that happen to agree do not make
a spread of 0).
Accuracies are multiples of 1/N on N images, so a notebook fails when it is at least half
an image below the threshold. `suggested_threshold` is the highest threshold, in
hundredths, that keeps this chance at or below `level` and that every run reached.

The calibration holds when that chance is at most `level` and no run fell below the threshold.

The other side of the threshold is an untrained model (built and compiled, never fitted), run
with the same seeds: its accuracy is luck, and on the lesson's 100 images luck spreads widely
(an untrained CNN measured 0.03 to 0.81 over eight seeds of the real data). The threshold
protects when no untrained run reaches it and the same normal model gives an untrained one a
chance of at most `untrained_level` to (a looser level: untrained runs are few and spread wide,
and one that passes still fails fit.called).
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from statistics import NormalDist

#: The largest chance that a correct notebook fails which the proof accepts: one in a hundred.
FALSE_FAIL_LEVEL = 0.01
#: The largest chance that an untrained model reaches the threshold which the proof accepts.
UNTRAINED_LEVEL = 0.05
#: How many runs `exercise prove` trains by default.
DEFAULT_RUNS = 8


@dataclass(frozen=True)
class Calibration:
    """The spread of the solution's accuracy over `runs` seeds, against `threshold`."""

    #: The solution's accuracy in each run, seed by seed.
    accuracies: tuple[float, ...]
    threshold: float
    #: Images the accuracy is measured on (the test images, or the holdout).
    images: int
    level: float = FALSE_FAIL_LEVEL
    #: The accuracy of the untrained model with the same seeds (none measured: empty).
    untrained: tuple[float, ...] = ()
    untrained_level: float = UNTRAINED_LEVEL
    #: The accuracy of other correct notebooks (the equivalents), each with another seed.
    others: tuple[float, ...] = ()

    @property
    def correct(self) -> tuple[float, ...]:
        """Every correct notebook's accuracy: the solution's runs and the others."""
        return self.accuracies + self.others

    @property
    def runs(self) -> int:
        return len(self.accuracies)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.correct) if self.correct else 0.0

    @property
    def sd(self) -> float:
        """The sample standard deviation of the correct notebooks (0 for a single one)."""
        return statistics.stdev(self.correct) if len(self.correct) > 1 else 0.0

    @property
    def lowest(self) -> float:
        return min(self.correct, default=0.0)

    @property
    def highest(self) -> float:
        return max(self.correct, default=0.0)

    @property
    def step(self) -> float:
        """One image's worth of accuracy."""
        return 1.0 / max(self.images, 1)

    @property
    def spread(self) -> float:
        """The spread of a new run around the estimated mean, at least one image."""
        n = max(len(self.correct), 1)
        return max(self.sd * math.sqrt(1 + 1 / n), self.step)

    @property
    def below(self) -> int:
        """How many correct notebooks fell below the threshold."""
        return sum(1 for accuracy in self.correct if accuracy < self.threshold - 1e-9)

    @property
    def false_fail_rate(self) -> float:
        """The chance that a correct notebook's accuracy falls below the threshold."""
        if not self.accuracies:
            return 1.0
        return chance_below(self.threshold, self.mean, self.spread, self.step)

    @property
    def suggested_threshold(self) -> float:
        """The highest threshold in hundredths that every run reached and that fails a correct
        notebook with a chance of at most `level`."""
        if not self.accuracies:
            return 0.0
        z = NormalDist().inv_cdf(1 - self.level)
        highest = self.mean + self.step / 2 - z * self.spread
        candidate = math.floor(min(highest, self.lowest) * 100 + 1e-9) / 100
        while candidate > 0 and chance_below(candidate, self.mean, self.spread, self.step) > self.level:
            candidate = round(candidate - 0.01, 2)
        return max(candidate, 0.0)

    @property
    def holds(self) -> bool:
        return bool(self.accuracies) and self.below == 0 and self.false_fail_rate <= self.level

    # --- the untrained side ---------------------------------------------------------------

    def _untrained_spread(self) -> tuple[float, float]:
        values = self.untrained
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return statistics.fmean(values), max(sd * math.sqrt(1 + 1 / len(values)), self.step)

    def untrained_chance(self, threshold: float) -> float:
        """The chance that an untrained model reaches `threshold` (0 when none was measured)."""
        if not self.untrained:
            return 0.0
        mean, spread = self._untrained_spread()
        return 1.0 - chance_below(threshold, mean, spread, self.step)

    @property
    def untrained_reached(self) -> int:
        """How many untrained runs reached the threshold."""
        return sum(1 for accuracy in self.untrained if accuracy >= self.threshold - 1e-9)

    @property
    def untrained_pass_rate(self) -> float:
        return self.untrained_chance(self.threshold)

    @property
    def lowest_protecting_threshold(self) -> float:
        """The lowest threshold in hundredths that no untrained run reached and that an untrained
        model reaches with a chance of at most `untrained_level`."""
        candidate = math.floor(max(self.untrained, default=0.0) * 100 + 1e-9) / 100 + 0.01
        while candidate < 1 and self.untrained_chance(candidate) > self.untrained_level:
            candidate = round(candidate + 0.01, 2)
        return round(min(candidate, 1.0), 2)

    @property
    def protects(self) -> bool:
        """Does the threshold keep untrained models out?"""
        return self.untrained_reached == 0 and self.untrained_pass_rate <= self.untrained_level

    def to_dict(self) -> dict[str, object]:
        return {"runs": self.runs, "accuracies": [round(a, 4) for a in self.accuracies],
                "other_accuracies": [round(a, 4) for a in self.others], "notebooks": len(self.correct),
                "threshold": self.threshold, "false_fail_rate": round(self.false_fail_rate, 6),
                "suggested_threshold": self.suggested_threshold, "level": self.level,
                "mean": round(self.mean, 4), "sd": round(self.sd, 4), "lowest": round(self.lowest, 4),
                "highest": round(self.highest, 4), "below_threshold": self.below, "images": self.images,
                "ok": self.holds, "untrained_accuracies": [round(a, 4) for a in self.untrained],
                "untrained_pass_rate": round(self.untrained_pass_rate, 6), "untrained_level": self.untrained_level,
                "untrained_reached": self.untrained_reached,
                "lowest_protecting_threshold": self.lowest_protecting_threshold if self.untrained else None,
                "protects": self.protects}


def chance_below(threshold: float, mean: float, spread: float, step: float) -> float:
    """P(accuracy < threshold) for accuracies in steps of `step`: at least half a step below."""
    return NormalDist(mean, spread).cdf(threshold - step / 2)
