"""Query parameters the API reads by hand, and the 422 that names one it cannot use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Response
from fastapi.exceptions import RequestValidationError

from app.inputs import CleanStr
from events.lookups import MAX_PAGE
from events.store import START, Cursor

DEFAULT_LIMIT = 100
MAX_LIMIT = MAX_PAGE
NEXT_HEADER = "X-Shiplog-Next"
"""The answer's header carrying the `after` of the next page, when one follows."""

KEYSET_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {"description": f"A page; when more follow, `{NEXT_HEADER}` is `after`."}
}
"""The documented answer of a list paged by name."""

T = TypeVar("T")


@dataclass(frozen=True)
class KeysetQuery:
    """Which page of a list ordered by a name: the names after `after`, at most `limit`."""

    after: str | None
    limit: int


def keyset_query(
    after: Annotated[
        CleanStr | None,
        Query(description=f"The next page: what `{NEXT_HEADER}` said, the last name shown."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="How many a page.")] = 100,
) -> KeysetQuery:
    """The `after` and `limit` query parameters of a list paged by name."""
    return KeysetQuery(after, limit)


KeysetDep = Annotated[KeysetQuery, Depends(keyset_query)]


def keyset_page(found: list[T], limit: int, response: Response, key: Callable[[T], str]) -> list[T]:
    """The first `limit` of `found` (read with one more); `NEXT_HEADER` set when more follow."""
    if len(found) <= limit:
        return found
    page = found[:limit]
    response.headers[NEXT_HEADER] = key(page[-1])
    return page


def invalid_query(
    parameter: str, message: str, value: Any = None, *, where: str = "query"
) -> RequestValidationError:
    """The 422 FastAPI gives for a query (or `where`) parameter, naming it and saying why."""
    detail = {"type": "value_error", "loc": (where, parameter), "msg": message, "input": value}
    return RequestValidationError([detail])


def parse_cursor(text: str | None, parameter: str) -> Cursor:
    """The cursor in query parameter `parameter` (START when absent), or a 422 naming it."""
    if text is None:
        return START
    try:
        return Cursor.parse(text)
    except ValueError as error:
        raise invalid_query(parameter, str(error), text) from None
