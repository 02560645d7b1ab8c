"""DORA performance levels (elite, high, medium, low) for the four key metrics.

Thresholds from the performance clusters of the Accelerate State of DevOps
Report 2023 (DORA, Google Cloud), table "Software delivery performance":

| level  | deploy frequency | lead time       | failure rate | recovery time   |
|--------|------------------|-----------------|--------------|-----------------|
| elite  | on demand        | under a day     | 5%           | under an hour   |
| high   | daily-weekly     | a day-a week    | 10%          | under a day     |
| medium | weekly-monthly   | a week-a month  | 15%          | a day-a week    |
| low    | (below medium)   | (beyond medium) | 64%          | 1-6 months      |

The report gives clusters, not cut-offs: a value is put in the best level whose
bound it meets (frequency at least once a day / week / month; lead time under
a day / week / month; failure rate at most 5 / 10 / 15%; recovery under an
hour / a day / a week); anything worse is low.
"""

from __future__ import annotations

from typing import Literal

Level = Literal["elite", "high", "medium", "low"]

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY

# Deployments per day at or above which each level starts.
FREQUENCY: tuple[tuple[Level, float], ...] = (("elite", 1.0), ("high", 1 / 7), ("medium", 1 / 30))
# Seconds under which each level's lead time lies.
LEAD_TIME: tuple[tuple[Level, float], ...] = (("elite", DAY), ("high", WEEK), ("medium", MONTH))
# Change failure rate at or below which each level lies.
FAILURE_RATE: tuple[tuple[Level, float], ...] = (("elite", 0.05), ("high", 0.10), ("medium", 0.15))
# Seconds under which each level's recovery time lies.
RECOVERY: tuple[tuple[Level, float], ...] = (("elite", HOUR), ("high", DAY), ("medium", WEEK))


def frequency_level(per_day: float | None) -> Level | None:
    """The level of a deployment frequency in deployments per day (None: no window)."""
    if per_day is None:
        return None
    return next((lvl for lvl, bound in FREQUENCY if per_day >= bound), "low")


def lead_time_level(seconds: float | None) -> Level | None:
    """The level of a (median) lead time for changes in seconds (None: no samples)."""
    return _below(seconds, LEAD_TIME)


def recovery_level(seconds: float | None) -> Level | None:
    """The level of a (median) failed-deployment recovery time in seconds (None: no samples)."""
    return _below(seconds, RECOVERY)


def failure_rate_level(rate: float | None) -> Level | None:
    """The level of a change failure rate between 0 and 1 (None: no deployments)."""
    if rate is None:
        return None
    return next((lvl for lvl, bound in FAILURE_RATE if rate <= bound), "low")


def _below(seconds: float | None, bounds: tuple[tuple[Level, float], ...]) -> Level | None:
    """The first level whose bound `seconds` lies under, else low."""
    if seconds is None:
        return None
    return next((lvl for lvl, bound in bounds if seconds < bound), "low")
