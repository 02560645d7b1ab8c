"""The audit query: events in subscription order, filtered, a page at a time.

Reads stop at the ledger's horizon, like EventStore.read_all: only events whose
writing transaction is older than every running one (tx_id below
pg_snapshot_xmin), so a page a reader has passed never gains an event later and
keyset pagination on (tx_id, position) has no gaps or repeats.

Indexes: the cursor and the order use events_tx_id_position_idx and `stream`
events_stream_version_key (migrations/0002_events.sql); `actor`, `correlation` and
`since`/`until` have theirs in migrations/0013_events_audit_indexes.sql, `type` and
`category` in 0016_events_order_indexes.sql. Each key index continues in
subscription order, so a filtered page walks it in the order it returns.
Latencies at a million events: docs/benchmarks.md (bench/projections.py).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from events.store import START, Cursor, EventStore
from events.streams import validate_stream

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100

CSV_COLUMNS = (
    "position",
    "cursor",
    "stream",
    "version",
    "event_id",
    "type",
    "schema_version",
    "recorded_at",
    "hash",
    "data",
    "metadata",
)


@dataclass(frozen=True)
class AuditQuery:
    """Which events to list: every filter is optional and they combine with AND."""

    stream: str | None = None
    category: str | None = None
    types: Sequence[str] = ()
    actor: str | None = None
    correlation: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: Cursor = START
    limit: int = DEFAULT_LIMIT
    # Any of these exact streams (empty: any stream); the web timeline's repository filter.
    streams: Sequence[str] = ()
    # Newest first: `after` is then the last cursor of the previous (newer) page, and
    # START means "from the newest event".
    descending: bool = False


@dataclass(frozen=True)
class AuditEvent:
    """One event as stored: payload and metadata exactly as recorded, not upcast."""

    position: int
    tx_id: int
    stream: str
    version: int
    event_id: UUID
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    hash: bytes

    @property
    def cursor(self) -> Cursor:
        """This event's place in the subscription order."""
        return Cursor(self.tx_id, self.position)


@dataclass(frozen=True)
class AuditPage:
    """A page of events and the cursor to continue from (None: no more events yet)."""

    events: list[AuditEvent] = field(default_factory=list)
    next: Cursor | None = None


def _utc(moment: datetime) -> datetime:
    """`moment` with a time zone; a naive one is taken to be UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def build_sql(query: AuditQuery) -> tuple[str, list[Any]]:
    """The SELECT for `query` and its parameters (one row more than the limit)."""
    where = ["tx_id < pg_snapshot_xmin(pg_current_snapshot())"]
    params: list[Any] = []
    if not query.descending:
        where.append("(tx_id, position) > (%s::text::xid8, %s)")
        params += [str(query.after.tx_id), query.after.position]
    elif query.after != START:
        where.append("(tx_id, position) < (%s::text::xid8, %s)")
        params += [str(query.after.tx_id), query.after.position]
    if query.stream is not None:
        where.append("stream = %s")
        params.append(validate_stream(query.stream))
    if query.streams:
        where.append("stream = ANY(%s)")
        params.append([validate_stream(stream) for stream in query.streams])
    if query.category is not None:
        where.append("split_part(stream, '-', 1) = %s")  # matches events_category_order_idx
        params.append(query.category)
    if len(query.types) == 1:  # equality lets a page walk events_type_order_idx in order
        where.append("type = %s")
        params.append(query.types[0])
    elif query.types:
        where.append("type = ANY(%s)")
        params.append(list(query.types))
    if query.actor is not None:
        where.append("metadata->>'actor' = %s")
        params.append(query.actor)
    if query.correlation is not None:
        # `metadata ? 'correlation_id'` is the partial index's own predicate
        # (migrations/0013): without it the planner cannot use that index.
        where.append("metadata ? 'correlation_id' AND metadata->>'correlation_id' = %s")
        params.append(query.correlation)
    if query.since is not None:
        where.append("recorded_at >= %s")
        params.append(_utc(query.since))
    if query.until is not None:
        where.append("recorded_at < %s")
        params.append(_utc(query.until))
    params.append(query.limit + 1)
    text = (
        "SELECT position, tx_id, stream, version, event_id, type, schema_version, "
        "data, metadata, recorded_at, hash FROM events WHERE "
        + " AND ".join(where)
        + (
            " ORDER BY tx_id DESC, position DESC"
            if query.descending
            else " ORDER BY tx_id, position"
        )
        + " LIMIT %s"
    )
    return text, params


def list_events(store: EventStore, query: AuditQuery) -> AuditPage:
    """Up to `query.limit` matching events after `query.after`, in subscription order.

    With `query.descending` the order is reversed (newest first) and the page holds the
    events before `query.after`.
    """
    if not 1 <= query.limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, not {query.limit}")
    text, params = build_sql(query)
    with store.connection() as conn:
        rows = conn.execute(text, params).fetchall()
    events = [_event(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return AuditPage(events, events[-1].cursor if more else None)


def _event(row: tuple[Any, ...]) -> AuditEvent:
    (position, tx_id, stream, version, event_id, type_name, schema_version,
     data, metadata, recorded_at, leaf) = row  # fmt: skip
    return AuditEvent(
        position=position,
        tx_id=int(tx_id),
        stream=stream,
        version=version,
        event_id=event_id,
        type=type_name,
        schema_version=schema_version,
        data=data,
        metadata=metadata,
        recorded_at=recorded_at.astimezone(UTC),
        hash=bytes(leaf),
    )


def to_csv(page: AuditPage) -> str:
    """The page as CSV: a header row, then one row per event (data and metadata as JSON)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for event in page.events:
        writer.writerow(
            (
                event.position,
                str(event.cursor),
                event.stream,
                event.version,
                str(event.event_id),
                event.type,
                event.schema_version,
                event.recorded_at.isoformat(),
                event.hash.hex(),
                json.dumps(event.data, separators=(",", ":"), ensure_ascii=False),
                json.dumps(event.metadata, separators=(",", ":"), ensure_ascii=False),
            )
        )
    return out.getvalue()
