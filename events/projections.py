"""The projection runtime: fold the ledger into read tables, batch by batch, exactly once.

A projection (app/projections/) has a name, a version, its own tables (created by
a migration, named `proj_<relation>_v<version>`) and a pure handler that turns
one event into SQL writes. The Projector feeds it the ledger in subscription
order and keeps its checkpoint in projection_checkpoints
(migrations/0011_projection_checkpoints.sql).

WHY THE CHECKPOINT IS WRITTEN IN THE SAME TRANSACTION AS THE TABLES
------------------------------------------------------------------
A projector that committed its writes and then, separately, its cursor could
crash in between: on restart it would fold the same events again (a count
counted twice, a duration added twice). One that committed the cursor first
could crash before its writes and lose those events for good. Handlers could be
made idempotent to survive the first case, but not every fold can be (counters,
"first seen", anything that depends on what came before), and nothing survives
the second. With the writes and the cursor in one transaction both commit or
neither does: each event's effect is in the tables exactly once, whatever
crashes when. So handlers need not be idempotent; they must be deterministic
(their writes depend on the event and the rows, never on the clock or chance),
or a rebuild would not reproduce what the live projection holds.

WHY SUBSCRIPTION ORDER
----------------------
Positions are handed out at INSERT and become visible at COMMIT, so a projector
reading "position > cursor" can pass an event that a slower transaction commits
later, and never see it. Reading in (tx_id, position) order below
pg_snapshot_xmin (EventStore.read_all, docs/decisions/0001) only ever returns a
prefix that can no longer change, so a cursor never passes an event. A long open
writing transaction anywhere holds every projection back until it ends;
`status()` shows that as lag.

WHY A ROW LOCK ON THE CHECKPOINT
--------------------------------
Any number of processes may run a projector. Each batch locks its checkpoint row
(FOR NO KEY UPDATE: it conflicts with itself, so two projectors never apply the
same batch, yet lets projection_current's foreign key check through). The second
waits, and under READ COMMITTED then reads the cursor the first committed and
carries on from there.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg

from events.errors import LedgerError
from events.notify import CHANNEL
from events.store import START, Cursor, EventStore, RecordedEvent

log = logging.getLogger(__name__)

DEFAULT_BATCH = 1000
# A rebuild holds one transaction anyway, so it reads bigger pages: fewer round
# trips and COPY set-ups per event.
REBUILD_BATCH = 5000


@dataclass(frozen=True)
class Insert:
    """A plain INSERT of one row into `columns` of `table`: what a batch may send by COPY."""

    table: str
    columns: tuple[str, ...]

    @property
    def sql(self) -> str:
        """The INSERT statement, parameters in column order."""
        marks = ", ".join(["%s"] * len(self.columns))
        return f"INSERT INTO {self.table} ({', '.join(self.columns)}) VALUES ({marks})"

    @property
    def copy_sql(self) -> str:
        """The COPY statement that loads many such rows at once."""
        return f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN"


# One SQL statement (or an Insert) and its parameters. Table names are the
# projection's own, unqualified, so that as-of folds can shadow them (fold_as_of).
Write = tuple[str | Insert, Sequence[Any]]

_IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")


class Projection(Protocol):
    """A fold of the ledger into read tables."""

    @property
    def name(self) -> str:
        """The projection's name, e.g. `runs`; its checkpoint's key with the version."""
        ...

    @property
    def version(self) -> int:
        """Bumped whenever what the handler writes changes; a new version is built anew."""
        ...

    @property
    def relations(self) -> tuple[str, ...]:
        """Its tables without prefix and version: `steps` is table `proj_steps_v<version>`."""
        ...

    def handle(self, event: RecordedEvent) -> Iterable[Write]:
        """The writes that fold `event` in; pure and deterministic, nothing for other events."""
        ...


def writes_commute(projection: Projection) -> bool:
    """True if the projection declares that its different statements may be reordered.

    A projection sets `writes_commute = True` when the outcome of a batch does not
    depend on the order between writes of *different* statements (rows of one
    statement still go in event order): insert-only history tables, or upserts
    written to accept their events in any order. `apply` then groups a batch by
    statement, sending each group with executemany and each Insert group by COPY,
    which is several times faster than one round of the pipeline per write.
    tests/test_projection_rebuild.py checks the claim: live folding in small
    batches and a rebuild in large ones must give identical tables.
    """
    return bool(getattr(projection, "writes_commute", False))


def settle_writes(projection: Projection, events: Sequence[RecordedEvent]) -> Iterable[Write]:
    """The writes a projection makes once a batch's own writes are done (may be none).

    A projection may define `settle(events)` to derive rows from what a whole batch
    wrote (totals recomputed from a run's rows, say): those writes run after every
    write of the batch, so they see its rows whichever order the batch was sent in.
    To keep a rebuild equal to a live fold, they must depend on the rows alone, not
    on how the ledger was cut into batches.
    """
    settle = getattr(projection, "settle", None)
    return () if settle is None else settle(events)


class ProjectionError(LedgerError):
    """A projection cannot be used as asked (unknown, or not built yet)."""


def table_name(relation: str, version: int) -> str:
    """The table that holds `relation` in a projection's `version`: proj_<relation>_v<version>."""
    if not _IDENTIFIER.fullmatch(relation) or version < 1:
        raise ValueError(f"bad projection relation {relation!r} or version {version}")
    return f"proj_{relation}_v{version}"


def tables(projection: Projection, version: int | None = None) -> list[str]:
    """The tables of `projection` at `version` (default: the projection's own)."""
    v = projection.version if version is None else version
    return [table_name(relation, v) for relation in projection.relations]


@dataclass(frozen=True)
class ProjectionStatus:
    """Where one version of a projection is: its cursor, how far behind, and its state."""

    name: str
    version: int
    cursor: Cursor
    lag_events: int
    state: str  # new (never run) | building | live | retired
    current: bool  # readers use this version


@dataclass(frozen=True)
class BatchResult:
    """What one batch did: events folded, the cursor after it, and whether it caught up."""

    applied: int
    cursor: Cursor
    caught_up: bool
    switched: bool


# --- readers --------------------------------------------------------------------------


def current_version(conn: psycopg.Connection[Any], name: str) -> int | None:
    """The version of projection `name` readers use, or None while none has caught up."""
    row = conn.execute("SELECT version FROM projection_current WHERE name = %s", (name,)).fetchone()
    return None if row is None else int(row[0])


def current_tables(conn: psycopg.Connection[Any], projection: Projection) -> dict[str, str]:
    """Relation → table of the version readers use now, e.g. {"runs": "proj_runs_v1"}.

    Why a pointer table and not a view re-pointed with CREATE OR REPLACE VIEW:
    replacing a view needs its ownership, and the projector works as shiplog_app,
    which owns nothing. The pointer row moves in the transaction that marks the
    new version live, so a reader resolves to complete tables either side of the
    switch; the old tables stay (frozen, still whole) until a migration drops
    them, so a reader that resolved just before the switch still reads a complete
    projection. Resolve once per request and use the names for all its queries.
    """
    version = current_version(conn, projection.name)
    if version is None:
        raise ProjectionError(
            f"projection {projection.name!r} has not caught up with the ledger yet; "
            "run `shiplog projections status`"
        )
    return {relation: table_name(relation, version) for relation in projection.relations}


def table_checksums(
    conn: psycopg.Connection[Any], projection: Projection, version: int | None = None
) -> dict[str, str]:
    """Table → md5 over its rows' text, sorted: equal sums mean equal contents."""
    sums: dict[str, str] = {}
    for table in tables(projection, version):
        row = conn.execute(
            f"SELECT md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')), count(*) "
            f"FROM {table} AS t"
        ).fetchone()
        assert row is not None
        sums[table] = f"{row[0]}:{row[1]}"
    return sums


# --- the projector ----------------------------------------------------------------------


class Projector:
    """Keeps projections up to date with the ledger; one short transaction per batch."""

    def __init__(self, store: EventStore, projections: Sequence[Projection] = ()) -> None:
        self.store = store
        self.projections = list(projections)
        names = [p.name for p in self.projections]
        if len(set(names)) != len(names):
            raise ValueError(f"projection names must be distinct: {names}")

    def projection(self, name: str) -> Projection:
        """The registered projection called `name`."""
        for projection in self.projections:
            if projection.name == name:
                return projection
        known = ", ".join(p.name for p in self.projections) or "none"
        raise ProjectionError(f"no projection named {name!r} (known: {known})")

    def step(
        self, projection: Projection, *, batch: int = DEFAULT_BATCH, until: Cursor | None = None
    ) -> BatchResult:
        """Fold at most `batch` events after the checkpoint in one transaction."""
        with self._connect() as conn:
            return self._step(conn, projection, batch, until)

    def catch_up(
        self, projection: Projection, *, batch: int = DEFAULT_BATCH, until: Cursor | None = None
    ) -> int:
        """Fold batch after batch until no event is left (or `until` is reached); count them.

        With `until`, events after that cursor are left for later and the
        version is not switched to (it has not caught up with the ledger).
        """
        total = 0
        with self._connect() as conn:
            while True:
                result = self._step(conn, projection, batch, until)
                total += result.applied
                if result.applied < batch:  # caught up, or reached `until`
                    return total

    def catch_up_all(self, *, batch: int = DEFAULT_BATCH) -> dict[str, int]:
        """Catch every registered projection up; name → events folded."""
        return {p.name: self.catch_up(p, batch=batch) for p in self.projections}

    def rebuild(self, name: str | None = None, *, batch: int = REBUILD_BATCH) -> dict[str, int]:
        """Empty the projection (all when `name` is None) and fold it again from position zero.

        The reset and the whole re-fold are one transaction: readers keep seeing
        the old rows until it commits, then the rebuilt ones, never an empty or
        half-built projection, and live projectors of it wait meanwhile. The
        transaction holds a transaction id, so for its duration every ledger
        reader's horizon stays below it: the rebuild folds what was committed when
        it began and stops, other readers (sealer, other projections) lag but lose
        nothing, and the events appended meanwhile are folded in ordinary batches
        right after. For a very large ledger, bumping the version instead builds
        beside the live tables in short batches.
        """
        chosen = self.projections if name is None else [self.projection(name)]
        chosen = sorted(chosen, key=lambda p: p.name)  # one lock order for every process
        with self._connect() as conn, conn.transaction():
            for projection in chosen:
                self._lock(conn, projection)
                for table in tables(projection):
                    conn.execute(f"DELETE FROM {table}")
            # One pass over the ledger feeds every chosen projection: reading and
            # decoding is a large part of folding, so it is not repeated per projection,
            # and the next pages are read while this connection waits on the writes.
            cursor, total = START, 0
            # Streams met so far, per projection: the tables held no row of any other
            # stream when the rebuild began, so a projection folding whole streams
            # (`fold_stream`) may insert a new stream's rows instead of upserting them.
            met: dict[str, set[str]] = {projection.name: set() for projection in chosen}
            for page in _pages_ahead(self.store, batch):
                for projection in chosen:
                    apply(conn, projection, page, new_streams_of=met[projection.name])
                total += len(page)
                cursor = page[-1].cursor
            for projection in chosen:
                self._save(conn, projection, cursor)
                self._maybe_switch(conn, projection)
        return {p.name: total + self.catch_up(p, batch=batch) for p in chosen}

    def status(self) -> list[ProjectionStatus]:
        """Every projection version's cursor, lag (events after it, below the horizon) and state."""
        with psycopg.connect(self.store.conninfo, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT c.name, c.version, c.tx_id, c.position, c.status, "
                "       (p.version IS NOT NULL) "
                "FROM projection_checkpoints c "
                "LEFT JOIN projection_current p ON p.name = c.name AND p.version = c.version "
                "ORDER BY c.name, c.version"
            ).fetchall()
            seen = {(row[0], row[1]) for row in rows}
            found = [
                (name, version, Cursor(int(tx_id), position), state, bool(current))
                for name, version, tx_id, position, state, current in rows
            ]
            found += [
                (p.name, p.version, START, "new", False)
                for p in self.projections
                if (p.name, p.version) not in seen
            ]
            return [
                ProjectionStatus(name, version, cursor, _lag(conn, cursor), state, current)
                for name, version, cursor, state, current in sorted(found, key=lambda f: f[:2])
            ]

    def follow(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 1.0,
        batch: int = DEFAULT_BATCH,
        retry_seconds: float = 5.0,
    ) -> None:
        """Keep every projection caught up until `stop` is set: on each NOTIFY, or each poll.

        A lost database connection (a restart, a terminated backend) does not end
        the follower: it logs the error, waits `retry_seconds` and connects again.
        Nothing is lost meanwhile: each batch's checkpoint commits with its writes,
        so the next batch starts where the last committed one ended.
        """
        while not stop.is_set():
            try:
                with psycopg.connect(self.store.conninfo, autocommit=True) as listener:
                    listener.execute(f"LISTEN {CHANNEL}")
                    while not stop.is_set():
                        self.catch_up_all(batch=batch)
                        for _ in listener.notifies(timeout=poll_seconds, stop_after=1):
                            pass
            except psycopg.OperationalError as error:
                log.warning(
                    "projections: lost the database (%s); connecting again in %.1f s",
                    str(error).strip(),
                    retry_seconds,
                )
                stop.wait(retry_seconds)

    # --- one batch ----------------------------------------------------------------------

    def _connect(self) -> psycopg.Connection[Any]:
        """A connection as the store's role, in READ COMMITTED as the row locking needs."""
        conn = psycopg.connect(self.store.conninfo)
        conn.isolation_level = psycopg.IsolationLevel.READ_COMMITTED
        return conn

    def _step(
        self,
        conn: psycopg.Connection[Any],
        projection: Projection,
        batch: int,
        until: Cursor | None,
    ) -> BatchResult:
        """Lock the checkpoint, fold the next batch, move the checkpoint, maybe switch; commit."""
        if batch < 1:
            raise ValueError("batch must be at least 1")
        with conn.transaction():
            cursor = self._lock(conn, projection)
            applied, cursor, caught_up = self._fold(conn, projection, cursor, batch, until)
            if applied:
                self._save(conn, projection, cursor)
            switched = caught_up and until is None and self._maybe_switch(conn, projection)
        return BatchResult(applied, cursor, caught_up, switched)

    def _lock(self, conn: psycopg.Connection[Any], projection: Projection) -> Cursor:
        """Create the checkpoint row if need be, lock it and return its cursor."""
        conn.execute(
            "INSERT INTO projection_checkpoints (name, version) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING",
            (projection.name, projection.version),
        )
        row = conn.execute(
            "SELECT tx_id, position FROM projection_checkpoints "
            "WHERE name = %s AND version = %s FOR NO KEY UPDATE",
            (projection.name, projection.version),
        ).fetchone()
        assert row is not None
        return Cursor(int(row[0]), int(row[1]))

    def _fold(
        self,
        conn: psycopg.Connection[Any],
        projection: Projection,
        after: Cursor,
        batch: int,
        until: Cursor | None,
    ) -> tuple[int, Cursor, bool]:
        """Apply the next events after `after` on `conn`; (count, new cursor, caught up)."""
        page = self.store.read_all(after, batch)
        caught_up = len(page) < batch
        if until is not None:
            kept = [event for event in page if event.cursor <= until]
            caught_up = caught_up and len(kept) == len(page)
            page = kept
        apply(conn, projection, page)
        return len(page), (page[-1].cursor if page else after), caught_up

    def _save(self, conn: psycopg.Connection[Any], projection: Projection, cursor: Cursor) -> None:
        """Move the checkpoint (locked by this transaction) to `cursor`."""
        conn.execute(
            "UPDATE projection_checkpoints SET tx_id = %s::text::xid8, position = %s, "
            "updated_at = now() WHERE name = %s AND version = %s",
            (str(cursor.tx_id), cursor.position, projection.name, projection.version),
        )

    def _maybe_switch(self, conn: psycopg.Connection[Any], projection: Projection) -> bool:
        """Point readers at this version if it is newer than theirs; it has just caught up.

        Runs in the batch's transaction, so readers move exactly when the tables
        hold everything up to the horizon. An older version catching up (an old
        process still running) never takes readers back.
        """
        current = current_version(conn, projection.name)
        if current is not None and current >= projection.version:
            return False
        row = conn.execute(
            "SELECT version FROM projection_current WHERE name = %s FOR UPDATE",
            (projection.name,),
        ).fetchone()
        if row is not None and row[0] >= projection.version:
            return False  # another projector of this version switched meanwhile
        conn.execute(
            "UPDATE projection_checkpoints SET status = 'retired', updated_at = now() "
            "WHERE name = %s AND version <> %s AND status = 'live'",
            (projection.name, projection.version),
        )
        conn.execute(
            "UPDATE projection_checkpoints SET status = 'live', updated_at = now() "
            "WHERE name = %s AND version = %s",
            (projection.name, projection.version),
        )
        conn.execute(
            "INSERT INTO projection_current (name, version) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, switched_at = now()",
            (projection.name, projection.version),
        )
        return True


def _pages_ahead(store: EventStore, batch: int, depth: int = 2) -> Iterator[list[RecordedEvent]]:
    """Every page of the ledger in order, each read by a helper thread ahead of its use.

    Decoding a page is Python work and applying one is mostly waiting on the
    server (the GIL is released while psycopg waits on the socket), so reading
    page n+1 while page n is applied overlaps the two. At most `depth` pages wait
    in memory. The reader stops at the horizon like any read_all loop; an error
    it meets is raised here, in the consumer.
    """
    pages: queue.Queue[list[RecordedEvent] | BaseException | None] = queue.Queue(depth)
    stop = threading.Event()

    def read() -> None:
        cursor = START
        try:
            while not stop.is_set():
                page = store.read_all(cursor, batch)
                if page:
                    pages.put(page)
                    cursor = page[-1].cursor
                if len(page) < batch:
                    break
        except BaseException as error:  # handed to the consumer, which raises it
            pages.put(error)
        pages.put(None)

    reader = threading.Thread(target=read, name="shiplog-rebuild-reader", daemon=True)
    reader.start()
    try:
        while (item := pages.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting to put, then let it end
            with contextlib.suppress(queue.Empty):
                pages.get_nowait()
            reader.join(timeout=0.05)


def fold_streams(
    projection: Projection, events: Sequence[RecordedEvent], met: set[str]
) -> Iterator[Write]:
    """The writes of `events`, each stream not in `met` folded whole (then added to `met`).

    A projection whose rows for a stream depend on that stream's events alone may
    define `fold_stream(events)`: the writes that fold one stream's events, given in
    subscription order, into tables holding no row of that stream yet (an insert of
    each final row instead of one upsert per event). Only a rebuild knows that: it
    emptied the tables and remembers the streams it met (`met`). A stream's events
    in later pages go through `handle` as usual, onto the rows already written;
    projections without `fold_stream` get `handle` for every event.
    """
    fold = getattr(projection, "fold_stream", None)
    if fold is None:
        for event in events:
            yield from projection.handle(event)
        return
    new: dict[str, list[RecordedEvent]] = {}
    for event in events:
        if event.stream in met:
            yield from projection.handle(event)
        else:
            new.setdefault(event.stream, []).append(event)
    met.update(new)
    for its_events in new.values():
        yield from fold(its_events)


def apply(
    conn: psycopg.Connection[Any],
    projection: Projection,
    events: Sequence[RecordedEvent],
    *,
    new_streams_of: set[str] | None = None,
) -> None:
    """Run the writes of `events` on `conn`: pipelined in order, or grouped (writes_commute).

    `new_streams_of` (a rebuild's streams met so far) lets a projection with grouped
    writes fold each newly met stream whole (`fold_streams`).
    """
    if not events:
        return
    if not writes_commute(projection):
        with conn.pipeline():
            for event in events:
                for statement, params in projection.handle(event):
                    conn.execute(
                        statement.sql if isinstance(statement, Insert) else statement, params
                    )
            for statement, params in settle_writes(projection, events):
                conn.execute(statement.sql if isinstance(statement, Insert) else statement, params)
        return
    writes: Iterable[Write] = (
        (write for event in events for write in projection.handle(event))
        if new_streams_of is None
        else fold_streams(projection, events, new_streams_of)
    )
    grouped: dict[str | Insert, list[Sequence[Any]]] = {}
    for statement, params in writes:
        grouped.setdefault(statement, []).append(params)
    with conn.cursor() as cur:
        for statement, rows in grouped.items():
            if isinstance(statement, Insert):
                with cur.copy(statement.copy_sql) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                cur.executemany(statement, rows)
        for statement, params in settle_writes(projection, events):
            cur.execute(statement.sql if isinstance(statement, Insert) else statement, params)


def _lag(conn: psycopg.Connection[Any], cursor: Cursor) -> int:
    """How many events a reader at `cursor` has yet to fold (below the horizon)."""
    row = conn.execute(
        "SELECT count(*) FROM events WHERE (tx_id, position) > (%s::text::xid8, %s) "
        "AND tx_id < pg_snapshot_xmin(pg_current_snapshot())",
        (str(cursor.tx_id), cursor.position),
    ).fetchone()
    assert row is not None
    return int(row[0])


# --- as of a past cursor -----------------------------------------------------------------


def fold_as_of(
    conn: psycopg.Connection[Any],
    store: EventStore,
    projection: Projection,
    until: Cursor,
    *,
    batch: int = DEFAULT_BATCH,
    stream: str | None = None,
) -> Mapping[str, str]:
    """Fold the events up to `until` into temporary copies of the tables; relation → table.

    With `stream`, only that stream's events are folded: the copies then hold the
    rows that stream makes, which is exact for a projection whose rows for a
    stream depend on that stream's events alone (the runs projection and a run),
    and costs one stream's events instead of the ledger's.

    How `as_of` queries use it (app/queries/runs.py): the query opens its own connection, calls
    this with the projection version readers use and the cursor (a timestamp is
    first turned into the cursor of the last event recorded at or before it),
    then runs its usual SQL with the returned names on the same connection.
    The copies are session-local temporary tables with the live tables' names:
    PostgreSQL searches pg_temp first, so unqualified names (which handlers use)
    resolve to them on this connection and to the live tables everywhere else.
    No checkpoint is involved; the copies vanish with the connection. Cost: a
    fold from position zero, which is fine for audits; faster paths (starting
    from a stored snapshot) can come later without changing this interface.
    """
    names = tables(projection)
    with conn.transaction():
        for table in names:
            conn.execute(f"DROP TABLE IF EXISTS pg_temp.{table}")
            conn.execute(f"CREATE TEMPORARY TABLE {table} (LIKE public.{table} INCLUDING ALL)")
    if stream is not None:
        kept = [event for event in store.read_stream(stream) if event.cursor <= until]
        kept.sort(key=lambda event: event.cursor)  # subscription order, as a live fold sees it
        with conn.transaction():
            apply(conn, projection, kept)
        return dict(zip(projection.relations, names, strict=True))
    cursor = START
    while True:
        page = store.read_all(cursor, batch)
        kept = [event for event in page if event.cursor <= until]
        with conn.transaction():
            apply(conn, projection, kept)
        if len(kept) < batch:
            break
        cursor = kept[-1].cursor
    return dict(zip(projection.relations, names, strict=True))
