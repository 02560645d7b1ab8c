"""Generators behind the live feeds: re-select after each wake-up (or each second), never trust it.

Like EventStore.subscribe, a notification only shortens the wait; each round
re-selects from the last cursor, so a lost notification delays a row, never
drops it. Blocking reads run in a worker thread on the store's pooled
connections; the wake-ups come from the process's one shared listener
(app/web/live_feeds.py). A feed that has sent nothing for the idle time-out ends.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from functools import partial

from anyio import to_thread

from app.queries.logs import LogLine, log_page
from app.web.live_feeds import Feed
from app.web.templating import templates
from app.web.views.timeline import EventRow, TimelineFilters, rows_after
from events.store import Cursor, EventStore

LOG_BATCH = 1000
"""Log lines read per round of a live log."""


async def timeline_rows(
    feed: Feed, store: EventStore, filters: TimelineFilters, after: Cursor
) -> AsyncIterator[dict[str, str]]:
    """SSE messages `row` (a rendered <tr>) for each matching event after `after`."""
    row_template = templates.get_template("_event_row.html")
    cursor = after
    while not feed.idle:
        rows: list[EventRow] = await to_thread.run_sync(rows_after, store, filters, cursor)
        for row in rows:
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
        lines: list[LogLine] = await to_thread.run_sync(read)
        for line in lines:
            yield {"event": "line", "id": str(line.line_no), "data": line.text}
            cursor = line.line_no
        if lines:
            feed.sent()
        else:
            await feed.wait()
