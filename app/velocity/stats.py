"""Quantiles of durations: the median and the 90th percentile, by linear interpolation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile of `values` (0 <= q <= 1), interpolating between closest ranks.

    The sorted values x[0..n-1] put the quantile at rank h = (n - 1) * q; between
    x[floor(h)] and x[ceil(h)] it is interpolated linearly (type 7 of Hyndman and
    Fan, the default of R, NumPy and `statistics.quantiles(method="inclusive")`).
    None for no values.
    """
    if not 0 <= q <= 1:
        raise ValueError(f"quantile must be between 0 and 1, not {q}")
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Summary:
    """How many samples, their median and their 90th percentile (None without samples)."""

    count: int
    median: float | None
    p90: float | None


def summarize(values: Sequence[float]) -> Summary:
    """The Summary of `values`."""
    return Summary(len(values), quantile(values, 0.5), quantile(values, 0.9))
