"""Finding an image's run in the ledger, and reading that run as of a past moment.

Both are kept to one small function each so they can be swapped: the digest →
runs lookup (`runs_with_image`) reads the runs projection today and may move to
an images projection; `as_of_cursor` stands in for a shared as_of parser.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from app.projections.runs import RunsProjection
from events.projections import current_tables
from events.store import START, Cursor, RecordedEvent

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CURSOR = re.compile(r"\d+:\d+")


def runs_with_image(conn: psycopg.Connection[Any], digest: str) -> list[str]:
    """Ids of the runs that built (image id) or pushed (manifest digest) `digest`, first first."""
    tables = current_tables(conn, RunsProjection())
    query = sql.SQL(
        "SELECT run_id FROM ("
        " SELECT run_id, position FROM {images} WHERE image_id = %(d)s"
        " UNION ALL SELECT run_id, position FROM {pushes} WHERE digest = %(d)s"
        ") AS found GROUP BY run_id ORDER BY min(position)"
    ).format(
        images=sql.Identifier(tables["run_images"]), pushes=sql.Identifier(tables["run_pushes"])
    )
    return [row[0] for row in conn.execute(query, {"d": digest}).fetchall()]


def parse_as_of(text: str) -> Cursor | datetime:
    """An as_of value: a cursor `TX_ID:POSITION`, or an ISO 8601 time (naive is UTC).

    ValueError, saying what is accepted, for anything else.
    """
    if _CURSOR.fullmatch(text):
        return Cursor.parse(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"invalid as_of {text!r}: expected a ledger cursor TX_ID:POSITION (e.g. 812:40) "
            "or an ISO 8601 time (e.g. 2026-05-01T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def as_of_cursor(conn: psycopg.Connection[Any], as_of: Cursor | datetime) -> Cursor:
    """The cursor an as_of stands for: itself, or the last event recorded at or before a time."""
    if isinstance(as_of, Cursor):
        return as_of
    row = conn.execute(
        "SELECT tx_id, position FROM events WHERE recorded_at <= %s "
        "ORDER BY recorded_at DESC, tx_id DESC, position DESC LIMIT 1",
        (as_of,),
    ).fetchone()
    return START if row is None else Cursor(int(row[0]), int(row[1]))


def until(events: Sequence[RecordedEvent], cursor: Cursor) -> list[RecordedEvent]:
    """The events at or before `cursor` in subscription order."""
    return [event for event in events if event.cursor <= cursor]
