"""Time windows written as crontab schedules: the minutes a schedule matches are the window.

`* 18-23 * * 5` is every minute of Friday evening, `* * 24-31 12 *` the end of December.
The five fields and their syntax are crontab(5)'s (minute, hour, day of month, month,
day of week; `*`, numbers, ranges `a-b`, steps `*/n` and `a-b/n`, lists `a,b`, month
and day names, 0 or 7 for Sunday), including its rule that when both day fields are
restricted a day matches if either does. Times are read in the window's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# name, lowest, highest, names (numbered from `lowest`)
_FIELDS: tuple[tuple[str, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)
LOOKAHEAD = timedelta(days=31)
"""How far `window_end` and `window_start` look ahead, minute by minute."""


class WindowError(ValueError):
    """A schedule that is not five valid crontab fields; the message says which and why."""


@dataclass(frozen=True)
class CronWindow:
    """One crontab schedule: the sets of values each field allows, and which day fields are '*'."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    def matches(self, moment: datetime) -> bool:
        """True if the minute `moment` falls in (already in the window's time zone)."""
        if moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        if moment.month not in self.months:
            return False
        day = moment.day in self.days
        weekday = (moment.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return day and weekday
        return day or weekday


def _value(text: str, low: int, names: tuple[str, ...], field: str) -> int:
    """One number or name of a field."""
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + (1 if names is MONTHS else 0)
    if not text.isdigit():
        raise WindowError(f"{field}: {text!r} is not a number" + (" or a name" if names else ""))
    return int(text)


def _field(text: str, field: str, low: int, high: int, names: tuple[str, ...]) -> frozenset[int]:
    """The values one crontab field allows."""
    allowed: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise WindowError(f"{field}: step {step_text!r} must be a whole number above 0")
            step = int(step_text)
        if span == "*":
            first, last = low, high
        elif "-" in span:
            a, _, b = span.partition("-")
            first, last = _value(a, low, names, field), _value(b, low, names, field)
        else:
            first = _value(span, low, names, field)
            last = high if step_text else first
        if not (low <= first <= high and low <= last <= high) or first > last:
            raise WindowError(f"{field}: {part!r} is outside {low}-{high} or runs backwards")
        allowed.update(range(first, last + 1, step))
    return frozenset(allowed)


def parse_window(text: str) -> CronWindow:
    """A crontab schedule as a CronWindow; WindowError names the field that is wrong."""
    parts = text.split()
    if len(parts) != 5:
        raise WindowError(
            f"{text!r} has {len(parts)} fields; a window is five crontab fields: "
            "minute hour day-of-month month day-of-week, e.g. '* 18-23 * * 5'"
        )
    values = [
        _field(part, name, low, high, names)
        for part, (name, low, high, names) in zip(parts, _FIELDS, strict=True)
    ]
    weekdays = frozenset(day % 7 for day in values[4])
    return CronWindow(
        text=text,
        minutes=values[0],
        hours=values[1],
        days=values[2],
        months=values[3],
        weekdays=weekdays,
        any_day=parts[2].startswith("*"),
        any_weekday=parts[4].startswith("*"),
    )


def in_windows(
    windows: Sequence[CronWindow], moment: datetime, zone: ZoneInfo
) -> CronWindow | None:
    """The first window `moment` falls in, if any."""
    local = moment.astimezone(zone)
    return next((window for window in windows if window.matches(local)), None)


def window_end(windows: Sequence[CronWindow], moment: datetime, zone: ZoneInfo) -> datetime | None:
    """The first whole minute after `moment` outside every window; None if none soon."""
    minute = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = moment + LOOKAHEAD
    while minute < end:
        if in_windows(windows, minute, zone) is None:
            return minute
        minute += timedelta(minutes=1)
    return None


def window_start(
    windows: Sequence[CronWindow], moment: datetime, zone: ZoneInfo
) -> datetime | None:
    """The first whole minute at or after `moment` inside a window; None if none soon."""
    minute = moment.replace(second=0, microsecond=0)
    end = moment + LOOKAHEAD
    while minute < end:
        if in_windows(windows, minute, zone) is not None:
            return max(minute, moment)
        minute += timedelta(minutes=1)
    return None
