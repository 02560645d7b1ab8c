"""What shiplog accepts from a caller: text it can store, and times it can compute with.

Two kinds of input fail deep inside instead of where they enter, unless refused there:

- text with U+0000 (PostgreSQL's text and jsonb cannot hold it) or a lone
  surrogate, U+D800..U+DFFF outside a pair (it has no UTF-8 encoding, so neither
  the database nor a JSON answer can carry it);
- times near the ends of Python's datetime (years 1 and 9999), which overflow when
  moved to UTC or by a few days of window arithmetic.

Every adapter checks both with the functions here (the API and the pages through
the `CleanStr` and `UtcMoment` types or the plain functions), so a mistake is a
4xx naming the field and never a 500. `printable` makes anything a caller sent
safe to echo back in an error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest time accepted anywhere (included)."""
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
"""The end of the times accepted anywhere (excluded): a year short of datetime's end."""


class TimeOutOfRange(ValueError):
    """A well-formed time outside EARLIEST..LATEST, with the range in its message."""


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored or echoed as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character (U+0000)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"contains a lone surrogate (U+{ord(value[error.start]):04X})"
    return None


def clean_text(value: str) -> str:
    """`value` unchanged if it can be stored as text; else ValueError saying why."""
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def utc_moment(value: datetime) -> datetime:
    """`value` in UTC (naive means UTC) if between EARLIEST and LATEST; else TimeOutOfRange."""
    try:
        moment = value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    except OverflowError:
        moment = None
    if moment is None or not EARLIEST <= moment < LATEST:
        raise TimeOutOfRange(
            f"{value.isoformat()} is out of range: times must lie between "
            f"{EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)"
        )
    return moment


def parse_time(text: str) -> datetime:
    """An ISO 8601 time (naive means UTC) in UTC, in range; else ValueError saying why.

    The ValueError is a TimeOutOfRange when `text` is a time, but outside the range.
    """
    value = clean_text(text.strip())
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not an ISO 8601 time such as 2026-01-31T12:00:00Z"
        ) from None
    return utc_moment(parsed)


def printable(value: Any) -> Any:
    """`value` with each lone surrogate in its strings written out as `\\udXXX` text.

    Lists, tuples and dicts are copied with their strings made printable; anything
    else is returned as it is.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {printable(key): printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(printable(item) for item in value)
    return value


CleanStr = Annotated[str, AfterValidator(clean_text)]
"""A string without NUL or lone surrogates (a 422 naming the field otherwise)."""
UtcMoment = Annotated[datetime, AfterValidator(utc_moment)]
"""A time in range, in UTC; naive means UTC (a 422 naming the field otherwise)."""
