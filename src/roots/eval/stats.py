"""Confidence intervals for small-sample comparisons (scipy.stats): is a gap between two arms real?

An ablation trains each arm with a few seeds. `mean_interval` gives the mean and its Student-t interval;
`paired_difference` compares two arms seed by seed (the same seed in both arms shares its data order
and initialisation noise, so pairing removes that noise from the comparison).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Interval:
    """A mean with its two-sided confidence interval; `low`/`high` are NaN with fewer than 2 values."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @property
    def defined(self) -> bool:
        return not (math.isnan(self.low) or math.isnan(self.high))

    def excludes(self, value: float = 0.0) -> bool:
        """True when the whole interval lies on one side of `value` (an undefined interval excludes nothing)."""
        return self.defined and (self.low > value or self.high < value)

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}

    def __str__(self) -> str:
        if not self.defined:
            return f"{self.mean:.4f} (n={self.n}, no interval)"
        return f"{self.mean:.4f} [{self.low:.4f}, {self.high:.4f}]"


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> Interval:
    """The mean of `values` and its Student-t confidence interval."""
    from scipy import stats

    n = len(values)
    if n == 0:
        raise ValueError("mean_interval of no values")
    mean = math.fsum(values) / n
    if n < 2:
        return Interval(mean, math.nan, math.nan, n, confidence)
    sem = stats.sem(values)
    if sem == 0 or math.isnan(sem):  # identical values: the interval is the point itself
        return Interval(mean, mean, mean, n, confidence)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), n, confidence)


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> Interval:
    """Mean of `a[i] - b[i]` with its t interval (a paired t-test's interval)."""
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    return mean_interval([x - y for x, y in zip(a, b)], confidence)
