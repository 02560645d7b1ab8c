"""Finding an image's runs in the ledger, and reading a run as of a past cursor.

The digest → runs lookup is this one small function (`runs_with_image`), so the
projection it reads can change without touching its callers. What a time or a
cursor given as `as_of` stands for is decided by the shared parser
(app/queries/as_of.py); here a run's events are cut at that cursor.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from app.projections.images import ImagesProjection
from events.projections import current_tables
from events.store import Cursor, RecordedEvent

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def runs_with_image(conn: psycopg.Connection[Any], digest: str) -> list[str]:
    """Ids of the runs that built (image id) or pushed (manifest digest) `digest`, first first."""
    tables = current_tables(conn, ImagesProjection())
    query = sql.SQL(
        "SELECT run_id, tx_id, position FROM {images} WHERE image_id = %(d)s "
        "UNION ALL SELECT run_id, tx_id, position FROM {pushes} WHERE digest = %(d)s "
        "ORDER BY 2, 3"
    ).format(images=sql.Identifier(tables["images"]), pushes=sql.Identifier(tables["image_pushes"]))
    rows = conn.execute(query, {"d": digest}).fetchall()
    return list(dict.fromkeys(row[0] for row in rows))


def until(events: Sequence[RecordedEvent], cursor: Cursor) -> list[RecordedEvent]:
    """The events at or before `cursor` in subscription order."""
    return [event for event in events if event.cursor <= cursor]
