"""Generators behind the live feeds: re-select after each wake-up (or each second), never trust it.

Like EventStore.subscribe, a notification only shortens the wait; each round
re-selects from the last cursor, so a lost notification delays a row, never
drops it. Blocking reads run in a worker thread on the store's pooled
connections; the wake-ups come from the process's one shared listener
(app/web/live_feeds.py). A read that fails because the database went away (a
restart) is tried again on the next round from the same cursor, so the page sees
every row once. A feed that has sent nothing for the idle time-out ends.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TypeVar

import psycopg
from anyio import to_thread

from app.queries.logs import LogLine, log_page
from app.web.live_feeds import Feed
from app.web.templating import templates
from app.web.views.timeline import EventRow, TimelineFilters, rows_after
from events.retry import disconnected
from events.store import Cursor, EventStore

LOG_BATCH = 1000
"""Log lines read per round of a live log."""

logger = logging.getLogger(__name__)

T = TypeVar("T")


async def _read_round(read: Callable[[], list[T]]) -> list[T] | None:
    """`read()` in a worker thread; None when the database is away for now."""
    try:
        return await to_thread.run_sync(read)
    except psycopg.OperationalError as error:
        if not disconnected(error):
            raise
        logger.warning("live feed: lost the database (%s); trying again", str(error).strip())
        return None


async def timeline_rows(
    feed: Feed, store: EventStore, filters: TimelineFilters, after: Cursor
) -> AsyncIterator[dict[str, str]]:
    """SSE messages `row` (a rendered <tr>) for each matching event after `after`."""
    row_template = templates.get_template("_event_row.html")
    cursor = after
    while not feed.idle:
        rows: list[EventRow] | None = await _read_round(partial(rows_after, store, filters, cursor))
        for row in rows or ():
            html = row_template.render(row=row, live=True)
            yield {"event": "row", "id": row.cursor, "data": html}
            cursor = row.event.cursor
        if rows:
            feed.sent()
        else:
            await feed.wait()


async def log_lines(
    feed: Feed, store: EventStore, run_id: str, step: str, after: int
) -> AsyncIterator[dict[str, str]]:
    """SSE messages `line` for each log line after line `after`; `run_id` is a checked UUID."""
    run = uuid.UUID(run_id)
    cursor = after
    while not feed.idle:
        read = partial(log_page, store, run, step, after_line=cursor, limit=LOG_BATCH)
        lines: list[LogLine] | None = await _read_round(read)
        for line in lines or ():
            yield {"event": "line", "id": str(line.line_no), "data": line.text}
            cursor = line.line_no
        if lines:
            feed.sent()
        else:
            await feed.wait()
