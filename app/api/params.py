"""Query parameters the API reads by hand, and the 422 that names one it cannot use."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

from events.lookups import MAX_PAGE
from events.store import START, Cursor

DEFAULT_LIMIT = 100
MAX_LIMIT = MAX_PAGE


def invalid_query(parameter: str, message: str, value: Any = None) -> RequestValidationError:
    """The 422 FastAPI gives for a query parameter, naming `parameter` and saying why."""
    detail = {"type": "value_error", "loc": ("query", parameter), "msg": message, "input": value}
    return RequestValidationError([detail])


def parse_cursor(text: str | None, parameter: str) -> Cursor:
    """The cursor in query parameter `parameter` (START when absent), or a 422 naming it."""
    if text is None:
        return START
    try:
        return Cursor.parse(text)
    except ValueError as error:
        raise invalid_query(parameter, str(error), text) from None
