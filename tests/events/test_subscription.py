"""Subscriptions never skip, repeat or reorder events, even when commits land out of order."""

from __future__ import annotations

import random
import threading
import time

import psycopg

from app.database import Database
from events.store import NO_STREAM, EventStore, RecordedEvent
from tests.support.factories import ALICE, step_finished

WRITERS = 8
PER_WRITER = 500


def test_subscriber_receives_every_event_once_in_cursor_order_despite_slow_commits(
    store: EventStore, database: Database
) -> None:
    received: list[RecordedEvent] = []
    stop = threading.Event()
    caught_up = threading.Event()

    def subscriber() -> None:
        for event in store.subscribe(batch=200, poll_seconds=0.2, stop=stop):
            received.append(event)
            if len(received) == WRITERS * PER_WRITER:
                caught_up.set()

    def writer(index: int) -> None:
        # Each append sits in its transaction for a random while before COMMIT,
        # so positions are handed out in one order and become visible in another:
        # exactly the case in which reading by position alone skips events.
        chance = random.Random(index)
        stream = f"run-writer{index}"
        for n in range(PER_WRITER):
            with store.transaction() as tx:
                tx.append(stream, [step_finished(n=n)], NO_STREAM if n == 0 else n - 1, ALICE)
                time.sleep(chance.uniform(0, 0.004))

    follower = threading.Thread(target=subscriber)
    follower.start()
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    delivered = caught_up.wait(timeout=60)
    stop.set()
    follower.join(timeout=10)

    assert delivered, f"subscriber received {len(received)} of {WRITERS * PER_WRITER}"
    with psycopg.connect(database.owner_url) as conn:
        table = conn.execute("SELECT position FROM events ORDER BY tx_id, position").fetchall()
    assert [e.position for e in received] == [row[0] for row in table]
    cursors = [e.cursor for e in received]
    assert cursors == sorted(cursors)
    assert len(set(cursors)) == len(cursors) == WRITERS * PER_WRITER


def test_readers_wait_for_a_slower_transaction_instead_of_passing_its_event(
    store: EventStore,
) -> None:
    with store.transaction() as slow:
        (early,) = slow.append("run-slow", [step_finished()], NO_STREAM, ALICE)
        (late,) = store.append("run-fast", [step_finished()], NO_STREAM, ALICE)
        assert early < late  # the slow transaction holds the lower position...
        # ...so nothing may be handed out yet: a reader that took `late` now would
        # move its cursor past `early`, which commits afterwards.
        assert store.read_all() == []
    assert [e.position for e in store.read_all()] == [early, late]


def test_subscriber_finds_new_events_without_any_notification(database: Database) -> None:
    stop = threading.Event()
    got: list[RecordedEvent] = []
    with EventStore(database.app_url, wake_subscribers=False) as silent:

        def follow() -> None:
            for event in silent.subscribe(poll_seconds=0.1, stop=stop):
                got.append(event)
                break

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        silent.append("run-quiet", [step_finished()], NO_STREAM, ALICE)
        follower.join(timeout=20)
        stop.set()
    assert [e.stream for e in got] == ["run-quiet"]


def test_appends_wake_a_waiting_subscriber_long_before_its_poll(store: EventStore) -> None:
    stop = threading.Event()
    got: list[RecordedEvent] = []
    listening = threading.Event()

    def follow() -> None:
        for event in store.subscribe(poll_seconds=60, stop=stop, on_idle=listening.set):
            got.append(event)
            break

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    assert listening.wait(timeout=20)
    store.append("run-loud", [step_finished()], NO_STREAM, ALICE)
    follower.join(timeout=30)  # a poll alone would take 60 s: only the NOTIFY ends this sooner
    stop.set()
    assert not follower.is_alive()
    assert [e.stream for e in got] == ["run-loud"]
