"""Live feeds as server-sent events: new timeline rows and the lines of a running step's log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sse_starlette import EventSourceResponse

from app.deps import StoreDep
from app.web import params
from app.web.views.live import log_lines, timeline_rows
from app.web.views.runs import parse_run_id
from app.web.views.timeline import TimelineFilters

router = APIRouter(tags=["pages"], include_in_schema=False)
LAST_EVENT_ID = "last-event-id"


@router.get("/live/timeline")
def live_timeline(
    request: Request,
    store: StoreDep,
    types: Annotated[list[str], Query(alias="type")] = [],  # noqa: B006
) -> EventSourceResponse:
    """Rows of events after `after` that match the filters, as they are appended.

    A browser that reconnects sends the id of the last row it got (Last-Event-ID);
    the feed then resumes after that row instead of `after`.
    """
    filters = TimelineFilters.parse(request.query_params, types)
    after = params.cursor(request.query_params, "after")
    resumed = params.cursor({"Last-Event-ID": request.headers.get(LAST_EVENT_ID, "")},
                            "Last-Event-ID")  # fmt: skip
    after = max(after, resumed)
    return EventSourceResponse(timeline_rows(request, store, filters, after), ping=15)


@router.get("/live/runs/{run_id}/steps/{step}/log")
def live_log(request: Request, store: StoreDep, run_id: str, step: str) -> EventSourceResponse:
    """Lines of a step's log after line `after` (or after Last-Event-ID), as they are written."""
    after = params.integer(request.query_params, "after", 0, 0, 2**31 - 1)
    last = {"Last-Event-ID": request.headers.get(LAST_EVENT_ID, "")}
    after = max(after, params.integer(last, "Last-Event-ID", 0, 0, 2**31 - 1))
    params.text({"step": step}, "step")  # refuses control characters before streaming
    parse_run_id(run_id)
    return EventSourceResponse(log_lines(request, store, run_id, step, after), ping=15)
