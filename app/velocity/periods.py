"""Reading report periods: a relative age (`90d`, `12w`, `36h`, `30m`) or an ISO 8601 time.

`age_length` is the one reader of ages: token expiries and the CLI's `--older-than`
and `--keep-recent` take the same forms.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from app.inputs import TimeOutOfRange, parse_time, utc_moment

_AGE = re.compile(r"(\d{1,5})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def age_length(text: str) -> timedelta | None:
    """The length an age like `90d` / `12w` / `36h` / `30m` names; None if `text` is not one."""
    age = _AGE.fullmatch(text.strip())
    if age is None:
        return None
    return timedelta(**{_UNITS[age.group(2)]: int(age.group(1))})


def parse_moment(text: str, now: datetime) -> datetime:
    """`now` minus an age like `90d` / `12w` / `36h`, or an ISO 8601 time (naive means UTC)."""
    value = text.strip()
    age = age_length(value)
    if age is not None:
        try:
            moment = now - age
        except OverflowError:
            raise ValueError(
                f"invalid time {text!r}: {value} before {now:%Y-%m-%d} is before year 1"
            ) from None
        return utc_moment(moment)
    try:
        return parse_time(value)
    except TimeOutOfRange as error:
        raise ValueError(f"invalid time {text!r}: {error}") from None
    except ValueError:
        raise ValueError(
            f"invalid time {text!r}: expected an age such as 90d, 12w or 36h, "
            "or an ISO 8601 time such as 2026-01-31T00:00:00Z"
        ) from None
