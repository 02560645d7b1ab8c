"""Generators behind the live feeds: re-select after each NOTIFY (or each second), never trust it.

Like EventStore.subscribe, a notification only shortens the wait; each round
re-selects from the last cursor, so a lost notification delays a row, never
drops it. Blocking reads run in a worker thread; the wait is an async LISTEN.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio
import psycopg
from anyio import to_thread
from fastapi import Request

from app.queries.logs import LogLine, read_log
from app.steplogs import NOTIFY_CHANNEL
from app.web.templating import templates
from app.web.views.timeline import EventRow, TimelineFilters, rows_after
from events.notify import CHANNEL
from events.retry import disconnected
from events.store import Cursor, EventStore

WAIT_SECONDS = 1.0
logger = logging.getLogger(__name__)


async def _wait(listener: psycopg.AsyncConnection[Any]) -> None:
    """Until a notification arrives on `listener`, or WAIT_SECONDS pass."""
    async for _ in listener.notifies(timeout=WAIT_SECONDS, stop_after=1):
        pass


async def timeline_rows(
    request: Request, store: EventStore, filters: TimelineFilters, after: Cursor
) -> AsyncIterator[dict[str, str]]:
    """SSE messages `row` (a rendered <tr>) for each matching event after `after`."""
    row_template = templates.get_template("_event_row.html")
    cursor = after
    while not await request.is_disconnected():
        try:
            async with await _listen(store.conninfo, CHANNEL) as listener:
                while not await request.is_disconnected():
                    rows: list[EventRow] = await to_thread.run_sync(
                        rows_after, store, filters, cursor
                    )
                    for row in rows:
                        html = row_template.render(row=row, live=True)
                        yield {"event": "row", "id": row.cursor, "data": html}
                        cursor = row.event.cursor
                    if not rows:
                        await _wait(listener)
        except psycopg.OperationalError as error:
            await _wait_for_database(error)


async def log_lines(
    request: Request, store: EventStore, run_id: str, step: str, after: int
) -> AsyncIterator[dict[str, str]]:
    """SSE messages `line` for each log line after line `after`; `run_id` is a checked UUID."""
    run = uuid.UUID(run_id)
    conninfo = store.conninfo
    cursor = after
    while not await request.is_disconnected():
        try:
            async with await _listen(conninfo, NOTIFY_CHANNEL) as listener:
                while not await request.is_disconnected():
                    lines: list[LogLine] = await to_thread.run_sync(
                        _read_lines, conninfo, run, step, cursor
                    )
                    for line in lines:
                        yield {"event": "line", "id": str(line.line_no), "data": line.text}
                        cursor = line.line_no
                    if not lines:
                        await _wait(listener)
        except psycopg.OperationalError as error:
            await _wait_for_database(error)


async def _listen(conninfo: str, channel: str) -> psycopg.AsyncConnection[Any]:
    """A new connection LISTENing on `channel`."""
    conn = await psycopg.AsyncConnection.connect(conninfo, autocommit=True)
    await conn.execute(f"LISTEN {channel}")
    return conn


async def _wait_for_database(error: psycopg.OperationalError) -> None:
    """After a lost server (a restart), pause before the feed listens again from its cursor,
    so the page sees every row once; any other database error ends the feed."""
    if not disconnected(error):
        raise error
    logger.warning("live feed: lost the database (%s); reconnecting", str(error).strip())
    await anyio.sleep(WAIT_SECONDS)


def _read_lines(conninfo: str, run: uuid.UUID, step: str, after: int) -> list[LogLine]:
    """Up to 1000 lines of the log after line `after`."""
    return read_log(conninfo, run, step, after_line=after, limit=1000)
