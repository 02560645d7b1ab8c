"""The event store: append to a stream at an expected version, read streams, read and follow all.

One append-only table (migrations/0002_events.sql) holds every event. Appends
are optimistic: the caller says which version it expects the stream to be at,
and UNIQUE (stream, version) turns a race into a WrongExpectedVersion instead of
a lost write. Retrying a batch with the same event ids is recognised by
UNIQUE (event_id) and answered with the original positions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final, Literal, TypeVar, cast
from uuid import UUID, uuid4

import orjson
import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool

from events import lookups
from events.canonical import Envelope, canonical_json
from events.catalogue import NUL_IN_JSON, NUL_PROBLEM, Catalogue, CheckedEvent, Event, Metadata
from events.collector import paused_collector
from events.cursor import MAX_POSITION as MAX_POSITION
from events.cursor import MAX_TX_ID as MAX_TX_ID
from events.cursor import START as START
from events.cursor import Cursor as Cursor
from events.cursor import cursor_condition, cursor_params
from events.errors import (
    EventTooLarge,
    InvalidEvent,
    LedgerError,
    PartialRetry,
    WrongExpectedVersion,
)
from events.lookups import CheckpointSummary, EventQuery, StoredEvent
from events.merkle import leaf_hash
from events.notify import CHANNEL, Waker
from events.retry import DEFAULT_RETRY_SECONDS, disconnected, retrying
from events.streams import category, validate_stream
from events.verifications import Verification, latest_verification
from events.vocabulary import CATALOGUE

T = TypeVar("T")
_new_object = object.__new__

ANY: Final = "any"
NO_STREAM: Final = "no_stream"
ExpectedVersion = int | Literal["any", "no_stream"]

DEFAULT_MAX_EVENT_BYTES = 1024 * 1024
# Rows per chunk when a read streams its page (read_all): small enough that decoding
# starts soon after the server starts sending, even on the projector's pages of 1000,
# large enough that the per-chunk cost (one result object in libpq and psycopg) stays
# negligible. Measured against 1000 per chunk: 1.16 x on pages of 1000, 1.01 x on
# pages of 10,000 (docs/benchmarks.md).
_STREAM_CHUNK = 250
_ANY_RETRIES = 100


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as the ledger holds it, its payload decoded into its catalogue class."""

    position: int
    tx_id: int
    stream: str
    version: int
    event_id: UUID
    type_name: str
    schema_version: int
    data: Event
    metadata: Metadata
    recorded_at: datetime
    hash: bytes

    @property
    def cursor(self) -> Cursor:
        """This event's place in the subscription order."""
        return Cursor(self.tx_id, self.position)


# The slot setters of RecordedEvent, in field order, for _decode (one call each, no loop).
(
    _put_position, _put_tx_id, _put_stream, _put_version, _put_event_id, _put_type,
    _put_schema_version, _put_data, _put_metadata, _put_recorded_at, _put_hash,
) = (getattr(RecordedEvent, name).__set__ for name in RecordedEvent.__slots__)  # fmt: skip


@dataclass(frozen=True)
class EventPage:
    """A page of stored events and the cursor to continue after (None: no more yet)."""

    events: list[StoredEvent]
    next: Cursor | None


# tx_id comes back as int: events/pg.py registers the loader, and says why.
EVENT_COLUMNS = (
    "position, tx_id, stream, version, event_id, type, schema_version, "
    "data::text, metadata::text, recorded_at, hash"
)

# An append is one statement, so one round trip, atomic on its own. It inserts the
# batch at versions expected+1, expected+2, ... provided the stream's event at the
# expected version exists (or, for a new stream, trivially). Everything else is left
# to the unique indexes: if the stream has moved past the expected version, the first
# version collides with UNIQUE (stream, version); if an event id was recorded before,
# it collides with UNIQUE (event_id). Either way the statement fails as a whole,
# writes nothing, and _explain_refusal works out which case it was. A concurrent
# writer at the same version blocks on the index entry until it commits or aborts,
# so exactly one of them succeeds.
#
# Both statements are deliberately plain (point lookups only): prepared statements
# then get a cheap generic plan that stays right however the table grows, instead
# of being re-planned on every execution.
_APPEND_ONE_SQL = """
INSERT INTO events
    (stream, version, event_id, type, schema_version, data, metadata, recorded_at, hash)
SELECT %(stream)s, %(version)s, %(event_id)s, %(type)s, %(schema_version)s, %(data)s::jsonb,
       %(metadata)s::jsonb, %(recorded_at)s, %(hash)s
WHERE %(expected)s::bigint < 0
   OR EXISTS (SELECT 1 FROM events WHERE stream = %(stream)s AND version = %(expected)s::bigint)
RETURNING position
"""

_APPEND_MANY_SQL = """
INSERT INTO events
    (stream, version, event_id, type, schema_version, data, metadata, recorded_at, hash)
SELECT %(stream)s, b.version, b.event_id, b.type, b.schema_version, b.data::jsonb,
       %(metadata)s::jsonb, %(recorded_at)s, b.hash
FROM unnest(%(versions)b::bigint[], %(ids)b::uuid[], %(types)b::text[],
            %(schema_versions)b::int[], %(data)b::text[], %(hashes)b::bytea[])
        WITH ORDINALITY AS b(version, event_id, type, schema_version, data, hash, n)
WHERE %(expected)s::bigint < 0
   OR EXISTS (SELECT 1 FROM events WHERE stream = %(stream)s AND version = %(expected)s::bigint)
ORDER BY b.n
RETURNING position
"""


class EventStore:
    """Append to and read from the ledger through a small connection pool."""

    def __init__(
        self,
        conninfo: str,
        *,
        catalogue: Catalogue = CATALOGUE,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        pool_size: int = 8,
        wake_subscribers: bool = True,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
    ) -> None:
        self.conninfo = conninfo
        self.retry_seconds = retry_seconds
        self.catalogue = catalogue
        self.max_event_bytes = max_event_bytes
        self._pool = ConnectionPool(
            conninfo,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True},
            configure=_configure,
            open=True,
            name="shiplog-events",
        )
        self._waker = Waker(self._notify if wake_subscribers else lambda: None)

    def _notify(self) -> None:
        self._on_connection(lambda conn: conn.execute(f"NOTIFY {CHANNEL}"), "wake-up")

    def _on_connection(self, work: Callable[[psycopg.Connection[Any]], T], what: str) -> T:
        """`work` on a pooled connection, repeated while the database is away (up to
        `retry_seconds`): every caller's work is a read, or an append with fixed ids."""

        def attempt() -> T:
            with self._pool.connection(timeout=self.retry_seconds) as conn:
                return work(conn)

        return retrying(attempt, self.retry_seconds, what=what)

    def close(self) -> None:
        """Send any pending wake-up and close the connection pool."""
        self._waker.close()
        self._pool.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------

    def append(
        self,
        stream: str,
        events: Sequence[Event],
        expected_version: ExpectedVersion,
        metadata: Metadata,
        *,
        event_ids: Sequence[UUID] | None = None,
    ) -> list[int]:
        """Append `events` to `stream` if it is at `expected_version`; return their positions.

        `expected_version` is ANY, NO_STREAM or the stream's last version (0-based).
        Passing the `event_ids` of an earlier attempt makes the call idempotent:
        if that batch is already recorded its positions are returned and nothing
        is written again. The events are committed when this returns.
        """
        batch = self._prepare(stream, events, metadata, event_ids)
        # A retry after a lost connection sends the same event ids: if the first try
        # committed, the ledger answers with its positions instead of writing again.
        positions = self._on_connection(
            lambda conn: batch.write(conn, expected_version, nested=False), f"append to {stream}"
        )
        self._waker.poke()
        return positions

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled autocommit connection as the store's role, for read queries of others."""
        with self._pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A database transaction in which several appends commit together, or not at all."""
        with self._pool.connection() as conn, conn.transaction():
            yield Transaction(self, conn)
        self._waker.poke()  # committed: wake subscribers

    def _prepare(
        self,
        stream: str,
        events: Sequence[Event],
        metadata: Metadata,
        event_ids: Sequence[UUID] | None,
    ) -> _Batch:
        validate_stream(stream)
        if not events:
            raise ValueError("append needs at least one event")
        ids = list(event_ids) if event_ids is not None else [uuid4() for _ in events]
        if len(ids) != len(events) or len(set(ids)) != len(ids):
            raise ValueError("event_ids must hold one distinct id per event")
        checked = [self.catalogue.check(event, category(stream)) for event in events]
        meta_text, meta_canonical = _metadata_forms(metadata)
        return _Batch(stream, ids, checked, meta_text, meta_canonical, self.max_event_bytes)

    # --- reading -----------------------------------------------------------------------

    def stream_version(self, stream: str) -> int | None:
        """The stream's last version, or None when it has no events."""
        name = validate_stream(stream)
        head = self._on_connection(lambda conn: _head(conn, name), "stream version")
        return None if head < 0 else head

    def read_stream(
        self, stream: str, from_version: int = 0, limit: int | None = None
    ) -> list[RecordedEvent]:
        """The events of one stream from `from_version` on, in version order."""
        validate_stream(stream)
        rows = self._on_connection(
            lambda conn: conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events WHERE stream = %s AND version >= %s "
                "ORDER BY version LIMIT %s",
                (stream, from_version, limit),
            ).fetchall(),
            "read stream",
        )
        return self._decode_all(rows)

    def read_all(
        self,
        after: Cursor = START,
        limit: int = 1000,
        *,
        stream: str | None = None,
        types: Sequence[str] = (),
    ) -> list[RecordedEvent]:
        """Up to `limit` events after `after`, in subscription order, optionally filtered.

        Only events whose writing transaction is older than every transaction
        still running are returned (tx_id below the snapshot's xmin). Positions
        are handed out at INSERT time but become visible at COMMIT, so a
        transaction that started early can commit a *lower* position after a
        reader has already passed it; ordering by (tx_id, position) and stopping
        at xmin means everything a reader passes is final. The price: one long
        open writing transaction anywhere in the database holds every reader back
        until it ends (docs/decisions/0001-ledger-ordering-and-sealing.md).
        """
        where, params = _filters(stream, types)
        query = (
            f"SELECT {EVENT_COLUMNS} FROM events WHERE {cursor_condition('>')} "
            f"AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) {where} "
            "ORDER BY tx_id, position LIMIT %s"
        )
        arguments = (*cursor_params(after), *params, limit)
        return self._on_connection(
            lambda conn: self._decode_streamed(conn, query, arguments), "read all"
        )

    def read_last(
        self, limit: int, *, stream: str | None = None, types: Sequence[str] = ()
    ) -> list[RecordedEvent]:
        """The last `limit` events in subscription order (oldest first), optionally filtered."""
        where, params = _filters(stream, types)
        rows = self._on_connection(
            lambda conn: conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM events "
                f"WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot()) {where} "
                "ORDER BY tx_id DESC, position DESC LIMIT %s",
                (*params, limit),
            ).fetchall(),
            "read last",
        )
        rows.reverse()
        return self._decode_all(rows)

    def subscribe(
        self,
        after: Cursor = START,
        *,
        batch: int = 1000,
        poll_seconds: float = 1.0,
        stop: threading.Event | None = None,
        stream: str | None = None,
        types: Sequence[str] = (),
        on_idle: Callable[[], None] | None = None,
    ) -> Iterator[RecordedEvent]:
        """Yield every event after `after`, catching up first and then following live.

        NOTIFY only shortens the wait: after each wake-up, or after `poll_seconds`
        without one, the subscriber re-selects from its cursor, so a lost
        notification delays an event and never drops it. A lost connection (a
        database restart) is reconnected for up to `retry_seconds`, from the cursor.
        `on_idle` is called each time the subscriber has caught up and starts
        waiting. The generator ends when `stop` is set.
        """
        cursor, lost_since = after, None
        while stop is None or not stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    lost_since = None
                    while stop is None or not stop.is_set():
                        page = self.read_all(cursor, batch, stream=stream, types=types)
                        for event in page:
                            yield event
                            cursor = event.cursor
                        if len(page) < batch and not (stop is not None and stop.is_set()):
                            if on_idle is not None:
                                on_idle()
                            for _ in listener.notifies(timeout=poll_seconds, stop_after=1):
                                pass
            except psycopg.OperationalError as error:
                # The server went away (a restart): listen again once it is back, and
                # carry on from the cursor, so nothing is missed and nothing repeated.
                lost_since = lost_since or time.monotonic()
                if not disconnected(error) or time.monotonic() - lost_since > self.retry_seconds:
                    raise
                time.sleep(min(poll_seconds, 1.0))

    # --- lookups for the read side (events/lookups.py holds the SQL) -------------------

    def page(self, query: EventQuery) -> EventPage:
        """A page of events as stored (not upcast), filtered, in subscription order.

        The audit API, the web timeline and the CDEvents export read through this.
        `next` is the cursor to continue after, None when nothing more matched.
        """
        found = self._on_connection(lambda conn: lookups.page(conn, query), "page")
        last = found.events[-1] if found.events and found.more else None
        return EventPage(found.events, None if last is None else last.cursor)

    def find(self, event_ids: Sequence[UUID]) -> dict[UUID, StoredEvent]:
        """The events among `event_ids` the ledger holds, by id: how a retry is recognised."""
        return self._on_connection(lambda conn: lookups.find(conn, event_ids), "find")

    def head(self) -> Cursor:
        """The cursor of the newest event below the horizon (START for an empty ledger)."""
        return self._on_connection(lambda conn: lookups.head(conn), "head")

    def cursor_at(self, moment: datetime) -> Cursor:
        """The end of the longest subscription-order prefix recorded by `moment`."""
        return self._on_connection(lambda conn: lookups.cursor_at(conn, moment), "cursor_at")

    def count_since(self, moment: datetime) -> int:
        """How many events were recorded after `moment`."""
        return self._on_connection(lambda conn: lookups.count_since(conn, moment), "count_since")

    def first_events(self, streams: Sequence[str]) -> dict[str, RecordedEvent]:
        """The first event of each of `streams` that has one, decoded, by stream."""
        found = self._on_connection(lambda conn: lookups.first_events(conn, streams), "first")
        return {event.stream: self.upcast(event) for event in found}

    def by_data_field(
        self,
        types: Sequence[str],
        name: str,
        values: Sequence[str] | None = None,
        *,
        first: bool = False,
        present: str | None = None,
    ) -> dict[str, StoredEvent]:
        """Per value of data field `name`, the latest (or first) event of `types` holding it."""
        return self._on_connection(
            lambda conn: lookups.by_data_field(
                conn, types, name, values, first=first, present=present
            ),
            "by_data_field",
        )

    def with_data_field(
        self,
        types: Sequence[str],
        name: str,
        values: Sequence[str],
        *,
        until: Cursor | None = None,
        limit: int = 100,
    ) -> list[StoredEvent]:
        """Events of `types` whose data field `name` is one of `values`, at or before
        `until` (None: up to the horizon), newest first."""
        with self._pool.connection() as conn:
            return lookups.with_data_field(conn, types, name, values, until=until, limit=limit)

    def preceding(
        self, points: Sequence[tuple[str, int, str]], types: Sequence[str], name: str
    ) -> list[StoredEvent | None]:
        """For each (stream, version, value), the stream's last event of `types` before that
        version whose data field `name` equals the value, or None."""
        return self._on_connection(
            lambda conn: lookups.preceding(conn, points, types, name), "preceding"
        )

    def waiting_streams(self, type_name: str, limit: int) -> list[str]:
        """Streams whose only event is a `type_name`, oldest first (runs not yet claimed)."""
        return self._on_connection(
            lambda conn: lookups.waiting_streams(conn, type_name, limit), "waiting_streams"
        )

    def open_streams(
        self, opened_by: str, closed_by: Sequence[str], opened_before: datetime
    ) -> list[str]:
        """Streams opened by an `opened_by` event before `opened_before` and not yet closed
        by one of `closed_by` (runs claimed and unfinished)."""
        return self._on_connection(
            lambda conn: lookups.open_streams(conn, opened_by, closed_by, opened_before),
            "open_streams",
        )

    def latest_checkpoint(self) -> CheckpointSummary | None:
        """The newest signed checkpoint, as stored (None before the first seal)."""
        return self._on_connection(
            lambda conn: lookups.latest_checkpoint_summary(conn), "latest_checkpoint_summary"
        )

    def latest_verification(self) -> Verification | None:
        """The most recent `shiplog verify` verdict recorded, None if never verified."""
        return self._on_connection(lambda conn: latest_verification(conn), "latest_verification")

    def upcast(self, event: StoredEvent) -> RecordedEvent:
        """A stored event with its payload decoded into its catalogue class (upcast)."""
        return RecordedEvent(
            position=event.position,
            tx_id=event.tx_id,
            stream=event.stream,
            version=event.version,
            event_id=event.event_id,
            type_name=event.type,
            schema_version=event.schema_version,
            data=self.catalogue.decode(event.type, event.schema_version, json.dumps(event.data)),
            metadata=Metadata.model_validate(event.metadata),
            recorded_at=event.recorded_at,
            hash=event.hash,
        )

    def _decode_all(self, rows: list[tuple[Any, ...]]) -> list[RecordedEvent]:
        """Decode a page of rows, with the cyclic garbage collector paused meanwhile.

        Every event's objects survive (the page keeps them) and form no cycle, so the
        collector's repeated runs while a page is built would find nothing; they cost
        half of the decoding's CPU (events/collector.py).
        """
        with paused_collector():
            return [self._decode(row) for row in rows]

    def _decode_streamed(
        self, conn: psycopg.Connection[Any], query: str, arguments: Sequence[Any]
    ) -> list[RecordedEvent]:
        """Run `query` and decode its rows chunk by chunk as the server sends them.

        Fetching the whole page first and decoding it afterwards leaves the server
        idle while Python decodes, and Python idle while the server reads and sends:
        streamed, the server produces the next rows (on the other CPU) while this
        thread decodes the ones that arrived. Binary rows: integers, uuids and times
        come as they are, with fewer bytes to parse. The collector is paused as in
        `_decode_all`.
        """
        decode = self._decode
        with paused_collector(), conn.cursor(binary=True) as cur:
            # psycopg types it as an Iterator; it is a generator, and closing it matters.
            rows = cast(
                Generator[tuple[Any, ...]], cur.stream(query, arguments, size=_STREAM_CHUNK)
            )
            try:
                return [decode(row) for row in rows]
            finally:
                # A row that cannot be decoded stops the stream midway: closing it now
                # (not when the traceback lets go of it) cancels the query and drains
                # what was sent, so the connection goes back to the pool usable.
                rows.close()

    def _decode(self, row: tuple[Any, ...]) -> RecordedEvent:
        (position, tx_id, stream, version, event_id, type_name, schema_version,
         data, metadata, recorded_at, leaf) = row  # fmt: skip
        # Filled in slot by slot rather than through the frozen __init__, whose eleven
        # object.__setattr__ calls cost more than decoding the payload: reads decode
        # every event of the ledger. Slots (no __dict__ per event) also leave the
        # garbage collector less to walk on large pages. The instance is as frozen
        # as any other.
        event = _new_object(RecordedEvent)
        _put_position(event, position)
        _put_tx_id(event, int(tx_id))
        _put_stream(event, stream)
        _put_version(event, version)
        _put_event_id(event, event_id)
        _put_type(event, type_name)
        _put_schema_version(event, schema_version)
        _put_data(event, self.catalogue.decode(type_name, schema_version, data))
        _put_metadata(event, _metadata(metadata))
        _put_recorded_at(event, recorded_at)
        _put_hash(event, bytes(leaf))
        return event


def _filters(stream: str | None, types: Sequence[str]) -> tuple[str, list[Any]]:
    """SQL conditions (starting with AND) and their parameters for optional read filters."""
    where, params = "", list[Any]()
    if stream is not None:
        where += " AND stream = %s"
        params.append(validate_stream(stream))
    if types:
        where += " AND type = ANY(%s)"
        params.append(list(types))
    return where, params


class Transaction:
    """Appends that commit together when the `EventStore.transaction()` block ends."""

    def __init__(self, store: EventStore, conn: psycopg.Connection[Any]) -> None:
        self._store = store
        self._conn = conn

    @property
    def connection(self) -> psycopg.Connection[Any]:
        """The transaction's connection, for rows of side tables that commit with the events."""
        return self._conn

    def append(
        self,
        stream: str,
        events: Sequence[Event],
        expected_version: ExpectedVersion,
        metadata: Metadata,
        *,
        event_ids: Sequence[UUID] | None = None,
    ) -> list[int]:
        """Like EventStore.append, but committed only when the transaction commits."""
        batch = self._store._prepare(stream, events, metadata, event_ids)
        return batch.write(self._conn, expected_version, nested=True)


@dataclass
class _Batch:
    """Validated events bound for one stream, ready to be written at some version."""

    stream: str
    ids: list[UUID]
    checked: list[CheckedEvent]
    metadata_text: str
    metadata_canonical: bytes
    max_event_bytes: int

    def write(
        self, conn: psycopg.Connection[Any], expected_version: ExpectedVersion, *, nested: bool
    ) -> list[int]:
        """Insert the batch at `expected_version` on `conn`; return positions or raise.

        With `nested`, the insert runs in a savepoint so that a refused append
        leaves the caller's transaction usable.
        """
        for _ in range(_ANY_RETRIES):
            params = self._params(_expected(conn, self.stream, expected_version))
            try:
                statement = _APPEND_ONE_SQL if len(self.ids) == 1 else _APPEND_MANY_SQL
                if nested:
                    with conn.transaction():
                        rows = conn.execute(statement, params).fetchall()
                else:
                    rows = conn.execute(statement, params).fetchall()
            except pg_errors.UniqueViolation:
                rows = []  # a concurrent append won the race; find out which way below
            if rows:
                return [row[0] for row in rows]
            positions = self._explain_refusal(conn, expected_version)
            if positions is not None:
                return positions
            # expected ANY and another writer moved the stream meanwhile: try again
        raise LedgerError(f"stream {self.stream!r}: gave up after {_ANY_RETRIES} contended appends")

    def _params(self, expected: int) -> dict[str, Any]:
        recorded_at = datetime.now(UTC)
        envelope = Envelope(self.stream, self.metadata_canonical, recorded_at)
        versions, types, schema_versions, data, hashes = [], [], [], [], []
        for offset, ((cls, _, text, payload), event_id) in enumerate(
            zip(self.checked, self.ids, strict=True)
        ):
            version = expected + 1 + offset
            canonical = envelope.canonical(
                data=payload,
                event_id=event_id,
                type_name=cls.type_name,
                schema_version=cls.schema_version,
                version=version,
            )
            if len(canonical) > self.max_event_bytes:
                raise EventTooLarge(cls.type_name, len(canonical), self.max_event_bytes)
            versions.append(version)
            types.append(cls.type_name)
            schema_versions.append(cls.schema_version)
            data.append(text)
            hashes.append(leaf_hash(canonical))
        if len(versions) == 1:
            return {
                "stream": self.stream,
                "expected": expected,
                "version": versions[0],
                "event_id": self.ids[0],
                "type": types[0],
                "schema_version": schema_versions[0],
                "data": data[0],
                "hash": hashes[0],
                "metadata": self.metadata_text,
                "recorded_at": recorded_at,
            }
        return {
            "stream": self.stream,
            "expected": expected,
            "versions": versions,
            "ids": self.ids,
            "types": types,
            "schema_versions": schema_versions,
            "data": data,
            "hashes": hashes,
            "metadata": self.metadata_text,
            "recorded_at": recorded_at,
        }

    def _explain_refusal(
        self, conn: psycopg.Connection[Any], expected_version: ExpectedVersion
    ) -> list[int] | None:
        """After an append wrote nothing: the original positions of a retry, or raise.

        Returns None only when `expected_version` is ANY and the stream simply
        moved under us, so the caller should try again.
        """
        known = conn.execute(
            "SELECT event_id, position, stream FROM events WHERE event_id = ANY(%s)",
            (self.ids,),
        ).fetchall()
        if known:
            by_id = {row[0]: (row[1], row[2]) for row in known}
            new = [str(i) for i in self.ids if i not in by_id]
            if new or any(s != self.stream for _, s in by_id.values()):
                raise PartialRetry(self.stream, [str(i) for i in self.ids if i in by_id], new)
            return sorted(by_id[i][0] for i in self.ids)
        if expected_version == ANY:
            return None
        actual = _head(conn, self.stream)
        raise WrongExpectedVersion(self.stream, expected_version, None if actual < 0 else actual)


def _expected(conn: psycopg.Connection[Any], stream: str, expected: ExpectedVersion) -> int:
    """The concrete last version an append expects: -1 for no stream."""
    if expected == ANY:
        return _head(conn, stream)
    if expected == NO_STREAM:
        return -1
    if isinstance(expected, int) and not isinstance(expected, bool) and expected >= 0:
        return expected
    raise ValueError(
        f"expected_version must be 'any', 'no_stream' or a version >= 0, not {expected!r}"
    )


def _head(conn: psycopg.Connection[Any], stream: str) -> int:
    """The stream's last version, -1 when it has no events."""
    row = conn.execute(
        "SELECT coalesce(max(version), -1) FROM events WHERE stream = %s", (stream,)
    ).fetchone()
    assert row is not None
    return int(row[0])


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Settings for every pooled connection.

    Every statement the store runs is an index lookup or an index range. But psycopg
    prepares a statement after a few executions, and PostgreSQL may then cache a
    generic plan; if that plan was made while `events` was empty (a new ledger, every
    test database), it is a sequential scan, and it stays cached until autovacuum
    re-analyzes the table, so appends slow down as the young ledger grows. Telling
    the planner that sequential scans are expensive keeps the index plans from the
    first append on. Connections of other code (verify, the sealer) are not affected.
    """
    conn.execute("SET enable_seqscan = off")


@lru_cache(maxsize=1024)
def _metadata_forms(metadata: Metadata) -> tuple[str, bytes]:
    """Metadata as stored (JSON text) and in canonical form; a run repeats one object."""
    text = orjson.dumps(metadata.to_json()).decode()
    if NUL_IN_JSON in text:
        raise InvalidEvent("Metadata", [NUL_PROBLEM])
    return text, canonical_json(metadata.to_json())


@lru_cache(maxsize=4096)
def _metadata(text: str) -> Metadata:
    """Decode stored metadata; runs repeat it event after event, and Metadata is frozen."""
    return Metadata.model_validate_json(text, strict=True)
