"""Reads of the ledger beyond streams and subscriptions, for the application's read side.

The application never writes SQL against the `events` table: what it asks of the
ledger is here, behind EventStore methods. Three kinds of question:

- **pages** of events as stored (not upcast) in subscription order, filtered:
  the audit API, the web timeline and the CDEvents export (`EventQuery`);
- **events by id**, for idempotent writers that recognise a retry (`find`);
- **set questions** about streams: the first event of each stream, the latest
  event per value of a data field (or every such event up to a cursor), runs still
  waiting or still open.

Like `EventStore.read_all`, every read that walks the subscription order stops at
the ledger's horizon: only events whose writing transaction is older than every
running one (tx_id below pg_snapshot_xmin), so a page a reader has passed never
gains an event later and keyset pagination on (tx_id, position) has no gaps or
repeats.

Indexes: the cursor and the order use events_tx_id_position_idx, `stream`
events_stream_version_key (migrations/0002_events.sql); `actor`, `correlation`
and `since`/`until` have theirs in migrations/0013_events_audit_indexes.sql,
`type` and `category` in 0016_events_order_indexes.sql, the pushed digest in
0017_events_image_digest_index.sql. Each key index continues in subscription
order, so a filtered page walks it in the order it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

import psycopg
from psycopg import sql

from events.cursor import START, Cursor, cursor_condition, cursor_params
from events.streams import validate_stream

MAX_PAGE: Final = 1000
HORIZON: Final = "tx_id < pg_snapshot_xmin(pg_current_snapshot())"
STORED_COLUMNS: Final = (
    "position, tx_id, stream, version, event_id, type, schema_version, "
    "data, metadata, recorded_at, hash"
)


@dataclass(frozen=True)
class StoredEvent:
    """One event exactly as stored: payload and metadata as recorded, not upcast."""

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
class EventQuery:
    """Which events a page holds: every filter is optional and they combine with AND.

    With `descending` the order is newest first: `after` is then the last cursor of
    the previous (newer) page, and START means "from the newest event".
    """

    stream: str | None = None
    streams: Sequence[str] = ()
    category: str | None = None
    types: Sequence[str] = ()
    actor: str | None = None
    correlation: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: Cursor = START
    limit: int = 100
    descending: bool = False


@dataclass(frozen=True)
class StoredPage:
    """A page of stored events and whether more matched beyond it."""

    events: list[StoredEvent] = field(default_factory=list)
    more: bool = False


def utc(moment: datetime) -> datetime:
    """`moment` with a time zone; a naive one is taken to be UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def page_sql(query: EventQuery) -> tuple[str, list[Any]]:
    """The SELECT for `query` and its parameters (one row more than the limit)."""
    where = [HORIZON]
    params: list[Any] = []
    if not query.descending:
        where.append(cursor_condition(">"))
        params += cursor_params(query.after)
    elif query.after != START:
        where.append(cursor_condition("<"))
        params += cursor_params(query.after)
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
        params.append(utc(query.since))
    if query.until is not None:
        where.append("recorded_at < %s")
        params.append(utc(query.until))
    params.append(query.limit + 1)
    order = "tx_id DESC, position DESC" if query.descending else "tx_id, position"
    text = f"SELECT {STORED_COLUMNS} FROM events WHERE {' AND '.join(where)} ORDER BY {order}"
    return text + " LIMIT %s", params


def page(conn: psycopg.Connection[Any], query: EventQuery) -> StoredPage:
    """Up to `query.limit` matching events after `query.after`, in subscription order."""
    if not 1 <= query.limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, not {query.limit}")
    text, params = page_sql(query)
    rows = conn.execute(text, params).fetchall()
    return StoredPage([stored(row) for row in rows[: query.limit]], len(rows) > query.limit)


def find(conn: psycopg.Connection[Any], ids: Sequence[UUID]) -> dict[UUID, StoredEvent]:
    """The events among `ids` that the ledger holds, by id (whatever their transaction)."""
    rows = conn.execute(
        f"SELECT {STORED_COLUMNS} FROM events WHERE event_id = ANY(%s)", (list(ids),)
    ).fetchall()
    return {event.event_id: event for event in map(stored, rows)}


def head(conn: psycopg.Connection[Any]) -> Cursor:
    """The cursor of the newest event below the horizon, START for an empty ledger.

    The cast column is renamed: named `tx_id`, it would be what ORDER BY sorts (as
    text, by a full scan) instead of the indexed column.
    """
    row = conn.execute(
        f"SELECT tx_id::text AS tx, position FROM events WHERE {HORIZON} "
        "ORDER BY tx_id DESC, position DESC LIMIT 1"
    ).fetchone()
    return START if row is None else Cursor(int(row[0]), int(row[1]))


def cursor_at(conn: psycopg.Connection[Any], moment: datetime) -> Cursor:
    """The end of the longest prefix of the subscription order recorded by `moment`.

    START when no event belongs to that prefix. See app/queries/as_of.py for why a
    prefix and not "every event recorded by then".
    """
    # The first event recorded after the time, in subscription order; the planner
    # picks the recorded_at index for recent times and the order's index for old ones.
    first_after = conn.execute(
        f"SELECT tx_id::text, position FROM events WHERE recorded_at > %s AND {HORIZON} "
        "ORDER BY tx_id, position LIMIT 1",
        (utc(moment),),
    ).fetchone()
    if first_after is None:
        return head(conn)
    before = conn.execute(
        "SELECT tx_id::text AS tx, position FROM events "
        "WHERE (tx_id, position) < (%s::text::xid8, %s) "
        "ORDER BY tx_id DESC, position DESC LIMIT 1",
        (first_after[0], first_after[1]),
    ).fetchone()
    return START if before is None else Cursor(int(before[0]), int(before[1]))


def count_since(conn: psycopg.Connection[Any], moment: datetime) -> int:
    """How many events were recorded after `moment`."""
    row = conn.execute("SELECT count(*) FROM events WHERE recorded_at > %s", (utc(moment),))
    found = row.fetchone()
    return 0 if found is None else int(found[0])


def first_events(conn: psycopg.Connection[Any], streams: Sequence[str]) -> list[StoredEvent]:
    """The first event (version 0) of each of `streams` that has one."""
    if not streams:
        return []
    rows = conn.execute(
        f"SELECT {STORED_COLUMNS} FROM events WHERE stream = ANY(%s) AND version = 0",
        (sorted({validate_stream(stream) for stream in streams}),),
    ).fetchall()
    return [stored(row) for row in rows]


def _data_field(name: str) -> sql.Composable:
    """`data->>'name'` with the name as a literal, so expression indexes match it."""
    return sql.SQL("data->>{}").format(sql.Literal(name))


def by_data_field(
    conn: psycopg.Connection[Any],
    types: Sequence[str],
    name: str,
    values: Sequence[str] | None = None,
    *,
    first: bool = False,
    present: str | None = None,
) -> dict[str, StoredEvent]:
    """Per value of data field `name`: the latest (or `first`) event of `types` holding it.

    Only events below the horizon count; `values` narrows to those values and
    `present` to events where that other data field is set.
    """
    if values is not None and not values:
        return {}
    key = _data_field(name)
    where: list[sql.Composable] = [
        sql.SQL("type = ANY({})").format(sql.Literal(list(types))),
        sql.SQL(HORIZON),
    ]
    params: list[Any] = []
    if values is not None:
        where.append(sql.SQL("{} = ANY(%s)").format(key))
        params.append(sorted(set(values)))
    if present is not None:
        where.append(sql.SQL("{} IS NOT NULL").format(_data_field(present)))
    order = sql.SQL("position") if first else sql.SQL("position DESC")
    statement = sql.SQL(
        "SELECT DISTINCT ON ({key}) {columns} FROM events WHERE {where} ORDER BY {key}, {order}"
    ).format(
        key=key,
        columns=sql.SQL(STORED_COLUMNS),
        where=sql.SQL(" AND ").join(where),
        order=order,
    )
    rows = conn.execute(statement, params).fetchall()
    return {str(event.data[name]): event for event in map(stored, rows)}


def with_data_field(
    conn: psycopg.Connection[Any],
    types: Sequence[str],
    name: str,
    values: Sequence[str],
    *,
    until: Cursor | None = None,
    limit: int = 100,
) -> list[StoredEvent]:
    """Events of `types` whose data field `name` is one of `values`, newest first.

    Only events below the horizon count, and with `until` only those at or before
    that cursor: what a page shown "as of" a past point of the ledger may see.
    """
    if not values:
        return []
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
    where: list[sql.Composable] = [
        sql.SQL("type = ANY({})").format(sql.Literal(list(types))),
        sql.SQL(HORIZON),
        sql.SQL("{} = ANY(%s)").format(_data_field(name)),
    ]
    params: list[Any] = [sorted(set(values))]
    if until is not None:
        where.append(sql.SQL("(tx_id, position) <= (%s::text::xid8, %s)"))
        params += [str(until.tx_id), until.position]
    statement = sql.SQL(
        "SELECT {columns} FROM events WHERE {where} ORDER BY tx_id DESC, position DESC LIMIT %s"
    ).format(columns=sql.SQL(STORED_COLUMNS), where=sql.SQL(" AND ").join(where))
    rows = conn.execute(statement, [*params, limit]).fetchall()
    return [stored(row) for row in rows]


def preceding(
    conn: psycopg.Connection[Any],
    points: Sequence[tuple[str, int, str]],
    types: Sequence[str],
    name: str,
) -> list[StoredEvent | None]:
    """For each (stream, version, value): the stream's last event of `types` before
    `version` whose data field `name` equals `value`, or None. One query for all."""
    if not points:
        return []
    statement = sql.SQL(
        "SELECT q.n, e.* FROM unnest(%s::text[], %s::bigint[], %s::text[]) WITH ORDINALITY "
        "AS q(stream, version, value, n) LEFT JOIN LATERAL ("
        " SELECT {columns} FROM events WHERE stream = q.stream AND version < q.version"
        " AND type = ANY(%s) AND {key} = q.value ORDER BY version DESC LIMIT 1) e ON true "
        "ORDER BY q.n"
    ).format(columns=sql.SQL(STORED_COLUMNS), key=_data_field(name))
    rows = conn.execute(
        statement,
        (
            [validate_stream(stream) for stream, _, _ in points],
            [version for _, version, _ in points],
            [value for _, _, value in points],
            list(types),
        ),
    ).fetchall()
    return [None if row[1] is None else stored(row[1:]) for row in rows]


def waiting_streams(conn: psycopg.Connection[Any], type_name: str, limit: int) -> list[str]:
    """Streams whose only event so far is a `type_name` (e.g. runs queued, not claimed),
    oldest first."""
    rows = conn.execute(
        "SELECT q.stream FROM events q WHERE q.type = %s AND q.version = 0 AND NOT EXISTS "
        "(SELECT 1 FROM events later WHERE later.stream = q.stream AND later.version > 0) "
        "ORDER BY q.position LIMIT %s",
        (type_name, limit),
    ).fetchall()
    return [row[0] for row in rows]


def open_streams(
    conn: psycopg.Connection[Any],
    opened_by: str,
    closed_by: Sequence[str],
    opened_before: datetime,
) -> list[str]:
    """Streams with an `opened_by` event recorded before `opened_before` and no event of
    `closed_by` types (e.g. runs claimed and not finished), oldest opening first."""
    rows = conn.execute(
        "SELECT o.stream FROM events o WHERE o.type = %s AND o.recorded_at < %s AND NOT EXISTS "
        "(SELECT 1 FROM events c WHERE c.stream = o.stream AND c.type = ANY(%s)) "
        "ORDER BY o.position",
        (opened_by, utc(opened_before), list(closed_by)),
    ).fetchall()
    return [row[0] for row in rows]


def stored(row: Sequence[Any]) -> StoredEvent:
    """A StoredEvent from a row of STORED_COLUMNS."""
    (position, tx_id, stream, version, event_id, type_name, schema_version,
     data, metadata, recorded_at, leaf) = row  # fmt: skip
    return StoredEvent(
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


@dataclass(frozen=True)
class CheckpointSummary:
    """The newest signed checkpoint as the ledger page shows it (not re-verified)."""

    tree_size: int
    root: str
    origin: str
    key_id: str
    signed_at: datetime


def latest_checkpoint_summary(conn: psycopg.Connection[Any]) -> CheckpointSummary | None:
    """The checkpoint with the largest tree size, None before the first seal."""
    row = conn.execute(
        "SELECT tree_size, encode(root, 'hex'), origin, key_id, signed_at "
        "FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    return None if row is None else CheckpointSummary(*row)
