"""Ledger benchmark: shiplog's event store beside a raw INSERT and the eventsourcing library.

    .venv/bin/python -m bench.ledger [--quick] [--events N] [--reps 3]

All cases run against one PostgreSQL server: the one SHIPLOG_BENCH_DATABASE_URL names
(an admin URL allowed to create databases), else shiplog's embedded server under
.bench-home/ in the checkout. Each run gets a fresh database copied from a template
migrated with shiplog's schema (eventsourcing gets an empty one and creates its own
table). Figures are medians of --reps runs; the systems take turns within each
repetition, so drift hits them alike. Every writer appends consecutive versions of its
own new `run-<uuid>` stream. The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from time import perf_counter
from typing import Any
from uuid import UUID, uuid4

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from app.database import login_as
from app.resources import migrations_dir
from bench.paths import PROJECT_ROOT
from bench.server import bench_admin_url
from events.canonical import canonical_json, event_document
from events.catalogue import Metadata
from events.cursor import Cursor, cursor_condition, cursor_params
from events.merkle import leaf_hash
from events.migrations import migrate
from events.store import EVENT_COLUMNS, NO_STREAM, START, EventStore, ExpectedVersion
from events.vocabulary import StepFinished

TEMPLATE = "shiplog_bench_template"
APP_ROLE = "shiplog_app"
COLUMNS = "stream, version, event_id, type, schema_version, data, metadata, recorded_at, hash"
RAW_INSERT = (
    f"INSERT INTO raw_events ({COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s) RETURNING position"
)
COPY_EVENTS = f"COPY events ({COLUMNS}) FROM STDIN"
SEP = (",", ":")
BACKSLASH = "\\"
STEPS = ("checkout", "build", "unit-tests", "push", "scan", "deploy")
WARMUP = 20  # transactions per writer before the clock starts
Row = tuple[Any, ...]  # values for COLUMNS, in order
Figures = Mapping[str, list[float] | None]  # events/s of each run, by system


@dataclass(frozen=True)
class Item:
    """One event in each system's form: catalogue object, raw row, eventsourcing record."""

    event: StepFinished
    row: Row
    stored: StoredEvent


@dataclass(frozen=True)
class Txn:
    """One transaction: `items` appended to `stream` at versions first, first + 1, ..."""

    stream: str
    first: int
    meta: Metadata
    items: tuple[Item, ...]


Write = Callable[[Txn], None]


@dataclass(frozen=True)
class Plan:
    """How much work each case does."""

    events: int  # single-event and 4-writer cases, and the prefilled append case
    batch_events: int
    copy_events: int
    read_events: int
    seal_events: int
    prefill: int
    reps: int


def make_plan(quick: bool, events: int | None, reps: int) -> Plan:
    """Sizes for a full run (minutes) or a --quick one (about a minute)."""
    n = events or (1000 if quick else 5000)
    prefill = 200_000 if quick else 2_000_000
    return Plan(n, max(100, n // 10 * 100), n * 20, n * 20, n * 10, prefill, reps)


# --- workload ------------------------------------------------------------------------------


def payload(n: int) -> dict[str, Any]:
    """A realistic StepFinished payload, varied by `n`."""
    return {
        "step": STEPS[n % len(STEPS)],
        "exit_code": 1 if n % 13 == 0 else 0,
        "duration_ms": 250 + (n * 7919) % 600_000,
        "log_sha256": hashlib.sha256(n.to_bytes(8, "big")).hexdigest(),
        "log_lines": 10 + n % 5000,
    }


def metadata(run_id: UUID, writer: int) -> Metadata:
    """Metadata as a runner records it: who, and which run (correlation id)."""
    return Metadata(actor=f"runner-{writer}@ci-host-1", correlation_id=str(run_id))


def make_row(
    stream: str,
    version: int,
    data: dict[str, Any],
    meta: Metadata,
    *,
    type_name: str = "StepFinished",
    schema_version: int = 1,
    at: datetime | None = None,
) -> tuple[Row, bytes]:
    """A valid `events` row (leaf hash of the canonical form) and its canonical bytes."""
    event_id, meta_json = uuid4(), meta.to_json()
    at = at or datetime.now(UTC)
    document = event_document(
        stream=stream, version=version, event_id=event_id, type_name=type_name,
        schema_version=schema_version, data=data, metadata=meta_json, recorded_at=at,
    )  # fmt: skip
    canonical = canonical_json(document)
    text = json.dumps(data, separators=SEP), json.dumps(meta_json, separators=SEP)
    row = (stream, version, event_id, type_name, schema_version, *text, at, leaf_hash(canonical))
    return row, canonical


def make_lanes(writers: int, txns: int, batch: int, warmup: int = WARMUP) -> list[list[Txn]]:
    """Per writer, `warmup + txns` transactions of `batch` events on its own new stream."""
    lanes = []
    for writer in range(writers):
        run_id = uuid4()
        stream, meta, lane = f"run-{run_id}", metadata(run_id, writer), []
        for first in range(0, (warmup + txns) * batch, batch):
            items = []
            for version in range(first, first + batch):
                event = StepFinished(**payload(version))
                row, canonical = make_row(stream, version, event.model_dump(mode="json"), meta)
                items.append(
                    Item(event, row, StoredEvent(run_id, version, "StepFinished", canonical))
                )
            lane.append(Txn(stream, first, meta, tuple(items)))
        lanes.append(lane)
    return lanes


def generate_rows(total: int, per_stream: int = 10, group: int = 1000) -> Iterator[Row]:
    """`total` rows in streams of `per_stream` events, `group` runs interleaved at a time."""
    streams = max(1, total // per_stream)
    for start in range(0, streams, group):
        runs = [uuid4() for _ in range(min(group, streams - start))]
        metas = [metadata(run, i % 8) for i, run in enumerate(runs)]
        for version in range(per_stream):
            for i, run in enumerate(runs):
                n = (start + i) * per_stream + version
                yield make_row(f"run-{run}", version, payload(n), metas[i])[0]


def copy_text(rows: Iterable[Row]) -> bytes:
    """Rows in COPY text format (JSON escapes tabs and newlines; backslashes are doubled)."""
    lines = []
    for s, v, i, t, sv, data, meta, at, h in rows:
        data, meta = data.replace(BACKSLASH, BACKSLASH * 2), meta.replace(BACKSLASH, BACKSLASH * 2)
        lines.append(
            f"{s}\t{v}\t{i}\t{t}\t{sv}\t{data}\t{meta}\t{at.isoformat()}\t\\\\x{h.hex()}\n"
        )
    return "".join(lines).encode()


def prefill(owner_url: str, total: int) -> None:
    """COPY `total` valid StepFinished rows into `events` as the owner, 10 per stream."""
    rows = generate_rows(total)
    with psycopg.connect(owner_url) as conn, conn.cursor().copy(COPY_EVENTS) as copy:
        while chunk := [row for _, row in zip(range(10_000), rows, strict=False)]:
            copy.write(copy_text(chunk))


def settle(owner_url: str) -> None:
    """After a bulk load: VACUUM ANALYZE (so autovacuum stays quiet), then a checkpoint."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) events")
        with suppress(psycopg.Error):
            conn.execute("CHECKPOINT")


# --- the server and its databases ----------------------------------------------------------


class Server:
    """One PostgreSQL server; hands out fresh databases and drops them afterwards."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", TEMPLATE)
        self._admin("CREATE DATABASE {}", TEMPLATE)
        migrate(self.url(TEMPLATE), migrations_dir())

    def _admin(self, statement: str, *names: str) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL(statement).format(*map(sql.Identifier, names)))

    def url(self, dbname: str) -> str:
        """The admin URL pointed at database `dbname`."""
        return make_conninfo(self.admin_url, dbname=dbname)

    @contextmanager
    def database(self, *, migrated: bool = True) -> Iterator[str]:
        """A new database (with shiplog's schema unless not `migrated`); yields its URL."""
        name = f"shiplog_bench_{uuid4().hex[:10]}"
        self._admin("CREATE DATABASE {} TEMPLATE {}", name, TEMPLATE if migrated else "template1")
        try:
            yield self.url(name)
        finally:
            self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)

    def facts(self) -> dict[str, str]:
        """The server's version and durability settings."""
        names = ("server_version", "fsync", "synchronous_commit", "full_page_writes",
                 "wal_sync_method", "shared_buffers", "max_wal_size")  # fmt: skip
        with psycopg.connect(self.admin_url) as conn:
            return {n: str(conn.execute(f"SHOW {n}").fetchall()[0][0]) for n in names}

    def close(self) -> None:
        """Drop the template database."""
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", TEMPLATE)


# --- the three writers ---------------------------------------------------------------------


@contextmanager
def shiplog_writer(owner_url: str, writers: int) -> Iterator[Write]:
    """shiplog's EventStore as the application role, shared by all writer threads."""
    with EventStore(login_as(owner_url, APP_ROLE), pool_size=max(2, writers)) as store:

        def write(txn: Txn) -> None:
            expected: ExpectedVersion = txn.first - 1 if txn.first else NO_STREAM
            store.append(txn.stream, [item.event for item in txn.items], expected, txn.meta)

        yield write


@contextmanager
def raw_writer(owner_url: str, writers: int) -> Iterator[Write]:
    """Plain psycopg INSERTs of precomputed rows into a trigger-less copy of `events`."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
    kwargs = {"autocommit": True}
    with ConnectionPool(owner_url, min_size=writers, kwargs=kwargs, open=True) as pool:
        pool.wait()

        def write(txn: Txn) -> None:
            with pool.connection() as conn:
                if len(txn.items) == 1:
                    conn.execute(RAW_INSERT, txn.items[0].row).fetchall()
                    return
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(RAW_INSERT, [item.row for item in txn.items], returning=True)

        yield write


@contextmanager
def eventsourcing_writer(owner_url: str, writers: int) -> Iterator[Write]:
    """eventsourcing's PostgresApplicationRecorder.insert_events with StoredEvent objects."""
    url = {k: str(v) for k, v in conninfo_to_dict(owner_url).items()}
    datastore = PostgresDatastore(
        url["dbname"], url.get("host", "localhost"), url.get("port", "5432"),
        url.get("user", "postgres"), url.get("password", ""), pool_size=writers,
    )  # fmt: skip
    try:
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        yield lambda txn: recorder.insert_events([item.stored for item in txn.items])
    finally:
        datastore.close()


SYSTEMS = {"shiplog": shiplog_writer, "raw": raw_writer, "eventsourcing": eventsourcing_writer}


# --- measuring -----------------------------------------------------------------------------


def timed_run(write: Write, lanes: list[list[Txn]], warmup: int = WARMUP) -> float:
    """Run each lane in its own thread; events/s over the transactions after the warm-up."""
    gate = threading.Barrier(len(lanes) + 1)
    errors: list[BaseException] = []

    def run(lane: list[Txn]) -> None:
        try:
            for txn in lane[:warmup]:
                write(txn)
            gate.wait()  # warmed up
            gate.wait()  # go
            for txn in lane[warmup:]:
                write(txn)
        except BaseException as error:
            errors.append(error)
            gate.abort()

    threads = [threading.Thread(target=run, args=(lane,)) for lane in lanes]
    for thread in threads:
        thread.start()
    start = perf_counter()
    with suppress(threading.BrokenBarrierError):
        gate.wait()
        start = perf_counter()
        gate.wait()
    for thread in threads:
        thread.join()
    elapsed = perf_counter() - start
    if errors:
        raise errors[0]
    return sum(len(txn.items) for lane in lanes for txn in lane[warmup:]) / elapsed


def compare(server: Server, writers: int, events: int, batch: int, reps: int) -> dict[str, Any]:
    """events/s of every system on the same workload, each run in a fresh database."""
    rates: dict[str, list[float]] = {name: [] for name in SYSTEMS}
    warmup = max(2, WARMUP // batch)
    for _ in range(reps):
        for name, writer in SYSTEMS.items():
            lanes = make_lanes(writers, events // writers // batch, batch, warmup)
            migrated = name != "eventsourcing"
            with server.database(migrated=migrated) as url, writer(url, writers) as write:
                rates[name].append(timed_run(write, lanes, warmup))
    return rates


def copy_rates(server: Server, plan: Plan) -> list[float]:
    """events/s of one COPY of precomputed rows into the raw table (the upper bound)."""
    rates = []
    for _ in range(plan.reps):
        data = copy_text(generate_rows(plan.copy_events))
        with server.database() as url, psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE raw_events (LIKE events INCLUDING ALL)")
            start = perf_counter()
            with (
                conn.transaction(),
                conn.cursor().copy(COPY_EVENTS.replace("events", "raw_events", 1)) as copy,
            ):
                copy.write(data)
            rates.append(plan.copy_events / (perf_counter() - start))
    return rates


def read_rates(server: Server, plan: Plan) -> tuple[list[float], list[float]]:
    """events/s of EventStore.read_all in pages of 10k, decoded into catalogue objects,
    and of the same pages' rows fetched without decoding (the bound), taking turns."""
    decoded: list[float] = []
    fetched: list[float] = []
    with server.database() as url:
        prefill(url, plan.read_events)
        settle(url)
        with EventStore(login_as(url, APP_ROLE)) as store:
            for _ in range(plan.reps):
                for rates, read in ((decoded, store.read_all), (fetched, _bare_page(store))):
                    cursor, count, start = START, 0, perf_counter()
                    while page := read(cursor, 10_000):
                        count, cursor = count + len(page), page[-1].cursor
                    rates.append(count / (perf_counter() - start))
    return decoded, fetched


@dataclass(frozen=True)
class _Fetched:
    cursor: Cursor


def _bare_page(store: EventStore) -> Callable[[Cursor, int], list[_Fetched]]:
    """read_all's statement and rows, its decoding left out: rows become bare cursors."""
    query = (
        f"SELECT {EVENT_COLUMNS} FROM events WHERE {cursor_condition('>')} "
        "AND tx_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY tx_id, position LIMIT %s"
    )

    def read(after: Cursor, limit: int) -> list[_Fetched]:
        with store.connection() as conn:
            rows = conn.execute(query, (*cursor_params(after), limit)).fetchall()
        return [_Fetched(Cursor(rows[-1][1], rows[-1][0]))] * len(rows) if rows else []

    return read


def seal_rates(server: Server, plan: Plan) -> list[float] | None:
    """events/s of events.sealer.seal_all over a prefilled ledger; None without a sealer."""
    try:
        from events.sealer import seal_all
        from events.signing import CheckpointSigner
    except ImportError:
        return None
    rates = []
    for _ in range(plan.reps):
        with server.database() as url:
            prefill(url, plan.seal_events)
            settle(url)
            signer = CheckpointSigner.generate("shiplog")
            start = perf_counter()
            seal_all(login_as(url, APP_ROLE), signer, batch=10_000)
            elapsed = perf_counter() - start
            with psycopg.connect(url) as conn:
                sealed = conn.execute("SELECT count(*) FROM ledger_leaves").fetchall()[0][0]
            if sealed != plan.seal_events:
                raise RuntimeError(f"sealer sealed {sealed} of {plan.seal_events} events")
            rates.append(sealed / elapsed)
    return rates


def prefilled_rates(server: Server, plan: Plan) -> tuple[list[float], list[float]]:
    """Single-event append events/s on an empty ledger and on one holding `plan.prefill`."""
    empty: list[float] = []
    full: list[float] = []
    with server.database() as big:
        prefill(big, plan.prefill)
        settle(big)
        for _ in range(plan.reps):
            with server.database() as small:
                settle(small)
                for url, rates in ((small, empty), (big, full)):
                    with shiplog_writer(url, 1) as write:
                        rates.append(timed_run(write, make_lanes(1, plan.events, 1)))
    return empty, full


# --- report --------------------------------------------------------------------------------


def case(label: str, runs: Figures, versus: str | None, target: float | None,
         target_text: str) -> dict[str, Any]:  # fmt: skip
    """One result: medians, ratio shiplog / `versus`, the target and whether it was met."""
    medians = {name: statistics.median(v) if v else None for name, v in runs.items()}
    ratio = None
    if versus and medians.get("shiplog") and medians.get(versus):
        ratio = medians["shiplog"] / medians[versus]  # type: ignore[operator]
    met = None if ratio is None or target is None else ratio >= target
    return {"label": label, **medians, "ratio": ratio, "target": target,
            "target_text": target_text, "met": met, "runs": runs}  # fmt: skip


def print_table(cases: dict[str, dict[str, Any]]) -> None:
    """The results as a fixed-width table."""

    def num(value: float | None, spec: str = ",.0f") -> str:
        return "—" if value is None else format(value, spec)

    head = ("case", "shiplog", "raw", "eventsourcing", "ratio", "target", "met?")
    rows = [head]
    for c in cases.values():
        figures = [num(c.get(name)) for name in SYSTEMS]
        verdict = {True: "yes", False: "NO"}.get(c["met"], "—")
        rows.append((c["label"], *figures, num(c["ratio"], ".2f"), c["target_text"], verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    for row in rows:
        cells = zip(row, widths, strict=True)
        print(
            "  ".join(t.ljust(w) if i in (0, 5) else t.rjust(w) for i, (t, w) in enumerate(cells))
        )


def run(plan: Plan, server: Server) -> dict[str, dict[str, Any]]:
    """Every case in turn, with a progress line before each."""

    def say(text: str) -> None:
        print(f"... {text}", flush=True)

    say(f"1. single-event appends, {plan.events} per run")
    single = compare(server, 1, plan.events, 1, plan.reps)
    say(f"2. 100-event appends, {plan.batch_events} events per run")
    batch = compare(server, 1, plan.batch_events, 100, plan.reps)
    say(f"3. 4 writers of single-event appends, {plan.events} per run")
    four = compare(server, 4, plan.events, 1, plan.reps)
    say(f"4. COPY of {plan.copy_events} rows")
    copied = copy_rates(server, plan)
    say(f"5. read_all of {plan.read_events} events")
    read, fetched = read_rates(server, plan)
    say(f"6. sealing {plan.seal_events} events")
    sealed = seal_rates(server, plan)
    if sealed is None:
        print("sealer: not available")
    say(f"7. single-event appends with {plan.prefill:,} events stored")
    empty, full = prefilled_rates(server, plan)
    empty_label = f"7. append, {plan.prefill:,} stored (empty {statistics.median(empty):,.0f}/s)"
    reading = {"shiplog": read, "raw": fetched, "goal": [1e5]}
    sealing = {"shiplog": sealed, "four": four["shiplog"]}
    growing = {"shiplog": full, "empty": empty}
    specs: list[
        tuple[str, str, Figures, str | None, float | None, str]
    ] = [  # key, label, figures, ratio of shiplog to, target, target as text
        ("single", "1. single-event tx", single, "raw", 0.8, ">= 0.8 x raw"),
        ("batch100", "2. 100-event tx", batch, "eventsourcing", 1.2, ">= 1.2 x es"),
        ("writers4", "3. 4 writers", four, "eventsourcing", 2.0, ">= 2.0 x es"),
        ("copy", "4. COPY (reference)", {"raw": copied}, None, None, "reference"),
        ("read", "5. read_all, decoded", reading, "goal", 1.0, ">= 100,000/s"),
        ("seal", "6. sealer", sealing, "four", 3.0, ">= 3 x case 3"),
        ("prefilled", empty_label, growing, "empty", 0.9, ">= 0.9 x empty"),
    ]
    return {spec[0]: case(*spec[1:]) for spec in specs}


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run every case against one server, print the table and the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.ledger", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, about a minute")
    parser.add_argument("--events", type=int, help="events per single-event run (5000)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (>= 3)")
    args = parser.parse_args(argv)
    if args.reps < 3:
        parser.error("--reps must be at least 3: figures are medians")
    plan = make_plan(args.quick, args.events, args.reps)
    admin_url = bench_admin_url()
    started, load_before = perf_counter(), os.getloadavg()
    server = Server(admin_url)
    try:
        facts = server.facts()
        cases = run(plan, server)
    finally:
        server.close()
    print()
    print_table(cases)
    store_py = (PROJECT_ROOT / "events" / "store.py").read_bytes()
    report = {
        "plan": asdict(plan), "server": facts, "cpus": os.cpu_count(),
        "python": platform.python_version(), "seconds": round(perf_counter() - started, 1),
        "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
        "store_py_sha256": hashlib.sha256(store_py).hexdigest()[:12], "cases": cases,
    }  # fmt: skip
    print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
