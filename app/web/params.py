"""Query parameters of the pages, read by hand so that every mistake names its parameter.

An HTML form sends empty fields as `name=`; those mean "no filter" here, not an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from app.inputs import parse_time, text_problem
from app.web.errors import BadParameter
from events.store import START, Cursor


def text(params: Mapping[str, str], name: str, *, pattern: str | None = None) -> str | None:
    """The stripped value of `name`, None when absent or empty; checked against `pattern`."""
    value = params.get(name, "").strip()
    if not value:
        return None
    problem = text_problem(value)
    if problem is not None:
        raise BadParameter(name, problem)
    if len(value) > 200:
        raise BadParameter(name, "longer than 200 characters")
    if any(ord(ch) < 32 for ch in value):
        raise BadParameter(name, "contains a control character")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise BadParameter(name, f"{value!r} is not of the form {pattern}")
    return value


def moment(params: Mapping[str, str], name: str) -> datetime | None:
    """An ISO 8601 time (`2026-11-27T18:00`, naive is UTC) in UTC, or None when absent."""
    value = text(params, name)
    if value is None:
        return None
    try:
        return parse_time(value)
    except ValueError as error:
        raise BadParameter(name, str(error)) from None


def integer(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """A whole number between `low` and `high`, `default` when absent."""
    value = text(params, name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise BadParameter(name, f"{value!r} is not a whole number") from None
    if not low <= number <= high:
        raise BadParameter(name, f"{number} is not between {low} and {high}")
    return number


def cursor(params: Mapping[str, str], name: str) -> Cursor:
    """A `tx_id:position` cursor, START when absent."""
    value = text(params, name)
    if value is None:
        return START
    try:
        return Cursor.parse(value)
    except ValueError as error:
        raise BadParameter(name, str(error)) from None
