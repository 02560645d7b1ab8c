"""Subscribers under faults: a killed listener, writers that never notify, a stalled reader.

NOTIFY is only a wake-up (docs/decisions/0001): every event must still reach every
subscriber once, in commit order, by polling from its cursor.
"""

from __future__ import annotations

import threading
import uuid

import psycopg

from app.database import Database
from events.catalogue import Metadata
from events.store import ANY, EventStore, RecordedEvent
from events.vocabulary import StepSkipped
from tests.support.runs import wait_until

META = Metadata(actor="writer", source="test")


def append_one(store: EventStore, n: int) -> None:
    """One event in a stream of its own."""
    store.append(f"run-{uuid.uuid4()}", [StepSkipped(step=f"s{n}", reason="x")], ANY, META)


def listeners(database: Database) -> list[int]:
    """Backend pids of this database's connections that LISTEN for the ledger."""
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'LISTEN shiplog_events%%' AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows]


def kill(database: Database, pids: list[int]) -> None:
    """Terminate those backends, as an administrator (or a failing network) would."""
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        for pid in pids:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def assert_once_in_order(seen: list[RecordedEvent], count: int) -> None:
    assert len(seen) == count
    assert len({event.event_id for event in seen}) == count
    assert [event.cursor for event in seen] == sorted(event.cursor for event in seen)


def test_a_killed_listener_and_writers_that_never_notify_cost_a_subscriber_no_event(
    store: EventStore, database: Database
) -> None:
    seen: list[RecordedEvent] = []
    stop = threading.Event()
    reader = threading.Thread(
        target=lambda: seen.extend(store.subscribe(stop=stop, poll_seconds=0.2)), daemon=True
    )
    reader.start()
    wait_until(lambda: listeners(database), timeout=30, what="the subscriber to listen")
    with EventStore(database.app_url, wake_subscribers=False) as quiet:  # never NOTIFYs
        for n in range(40):
            append_one(quiet, n)
            if n == 20:
                kill(database, listeners(database))
    wait_until(lambda: len(seen) >= 40, timeout=60, what="every event, by polling")
    stop.set()
    reader.join(timeout=10)
    assert_once_in_order(seen, 40)


def test_appends_go_on_while_a_subscriber_stalls_and_it_catches_up_after(
    store: EventStore, database: Database
) -> None:
    append_one(store, 0)
    stalled = store.subscribe(poll_seconds=0.2)
    first = next(stalled)  # it read one event and then stopped reading
    with EventStore(database.app_url) as writer:
        for n in range(1, 301):  # each append returns: nothing waits for the subscriber
            append_one(writer, n)
    rest = [next(stalled) for _ in range(300)]
    stalled.close()
    assert_once_in_order([first, *rest], 301)
