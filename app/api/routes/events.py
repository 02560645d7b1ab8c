"""`GET /api/events`: the audit query over the ledger, as JSON or CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.api.csv_bodies import events_csv
from app.api.params import DEFAULT_LIMIT, MAX_LIMIT, NEXT_HEADER, parse_cursor
from app.api.schemas.events import EventPageOut
from app.deps import StoreDep
from app.inputs import CleanStr, UtcMoment
from events.lookups import EventQuery

router = APIRouter(prefix="/api", tags=["audit"])


@router.get(
    "/events",
    response_model=EventPageOut,
    responses={
        200: {
            "content": {"text/csv": {}},
            "description": f"JSON, or CSV with `format=csv` (next cursor in `{NEXT_HEADER}`).",
        }
    },
)
def get_events(
    store: StoreDep,
    stream: Annotated[CleanStr | None, Query(description="Exact stream, e.g. `run-<id>`.")] = None,
    category: Annotated[
        CleanStr | None,
        Query(pattern=r"^[a-z][a-z0-9_]*$", description="Stream prefix before the first dash."),
    ] = None,
    types: Annotated[
        list[CleanStr], Query(alias="type", description="Event type; repeat for several.")
    ] = [],  # noqa: B006  (FastAPI copies query defaults)
    actor: Annotated[CleanStr | None, Query(description="`metadata.actor` equals this.")] = None,
    correlation: Annotated[
        CleanStr | None, Query(description="`metadata.correlation_id` equals this.")
    ] = None,
    since: Annotated[
        UtcMoment | None, Query(description="Recorded at or after (ISO 8601; naive is UTC).")
    ] = None,
    until: Annotated[
        UtcMoment | None, Query(description="Recorded before (ISO 8601; naive is UTC).")
    ] = None,
    after: Annotated[
        CleanStr | None, Query(description="Cursor `tx_id:position` from a previous page's `next`.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response | EventPageOut:
    """List events in subscription order, filtered, with keyset pagination."""
    query = EventQuery(
        stream=stream,
        category=category,
        types=tuple(types),
        actor=actor,
        correlation=correlation,
        since=since,
        until=until,
        after=parse_cursor(after, "after"),
        limit=limit,
    )
    page = store.page(query)
    if output == "csv":
        headers = {} if page.next is None else {NEXT_HEADER: str(page.next)}
        return Response(events_csv(page), media_type="text/csv; charset=utf-8", headers=headers)
    return EventPageOut.of(page)
