"""Live feeds as server-sent events: new timeline rows and the lines of a running step's log.

Each feed takes a place among the process's live feeds (app/web/live_feeds.py)
before it streams: over a cap, it is a 503 with Retry-After instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response
from sse_starlette import EventSourceResponse
from starlette.types import Receive, Scope, Send

from app.deps import StoreDep
from app.inputs import CleanStr
from app.steplogs import NOTIFY_CHANNEL as LOG_CHANNEL
from app.web import params
from app.web.live_feeds import RETRY_AFTER_SECONDS, Feed, FeedsFull, LiveFeeds
from app.web.templating import render
from app.web.views.live import log_lines, timeline_rows
from app.web.views.runs import parse_run_id
from app.web.views.timeline import TimelineFilters
from events.notify import CHANNEL as LEDGER_CHANNEL

router = APIRouter(tags=["pages"], include_in_schema=False)
LAST_EVENT_ID = "Last-Event-ID"
PING_SECONDS = 15
SEND_TIMEOUT_SECONDS = 30  # a client that stops reading for this long is dropped

LastEventId = Annotated[
    CleanStr | None,
    Header(alias=LAST_EVENT_ID, description="The id of the last message a browser got."),
]


class FeedResponse(EventSourceResponse):
    """A server-sent event stream that gives its feed's place back however it ends."""

    def __init__(self, feed: Feed, content: AsyncIterator[dict[str, str]]) -> None:
        super().__init__(content, ping=PING_SECONDS, send_timeout=SEND_TIMEOUT_SECONDS)
        self.feed = feed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.feed.close()


def live_feeds(request: Request) -> LiveFeeds:
    """The process's live feeds, opened by the lifespan."""
    feeds: LiveFeeds = request.app.state.live_feeds
    return feeds


def _open(request: Request, channel: str) -> Feed | Response:
    """A feed for this request's client, or the 503 page saying which cap is full."""
    client = request.client.host if request.client is not None else "unknown"
    try:
        return live_feeds(request).open(client, channel)
    except FeedsFull as error:
        context = {"status": 503, "message": str(error), "title": "Too many live feeds"}
        response = render(request, "error.html", context, status_code=503)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response


@router.get("/live/timeline")
async def live_timeline(
    request: Request,
    store: StoreDep,
    last_event_id: LastEventId = None,
    types: Annotated[list[CleanStr], Query(alias="type")] = [],  # noqa: B006
) -> Response:
    """Rows of events after `after` that match the filters, as they are appended.

    A browser that reconnects sends the id of the last row it got (Last-Event-ID);
    the feed then resumes after that row instead of `after`.
    """
    filters = TimelineFilters.parse(request.query_params, types)
    after = params.cursor(request.query_params, "after")
    resumed = params.cursor({LAST_EVENT_ID: last_event_id or ""}, LAST_EVENT_ID)
    feed = _open(request, LEDGER_CHANNEL)
    if isinstance(feed, Response):
        return feed
    return FeedResponse(feed, timeline_rows(feed, store, filters, max(after, resumed)))


@router.get("/live/runs/{run_id}/steps/{step}/log")
async def live_log(
    request: Request,
    store: StoreDep,
    run_id: CleanStr,
    step: CleanStr,
    last_event_id: LastEventId = None,
) -> Response:
    """Lines of a step's log after line `after` (or after Last-Event-ID), as they are written."""
    after = params.integer(request.query_params, "after", 0, 0, 2**31 - 1)
    last = {LAST_EVENT_ID: last_event_id or ""}
    after = max(after, params.integer(last, LAST_EVENT_ID, 0, 0, 2**31 - 1))
    params.text({"step": step}, "step")  # refuses control characters before streaming
    parse_run_id(run_id)
    feed = _open(request, LOG_CHANNEL)
    if isinstance(feed, Response):
        return feed
    return FeedResponse(feed, log_lines(feed, store, run_id, step, after))
