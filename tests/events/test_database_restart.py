"""PostgreSQL restarted (fast shutdown, a few seconds down) while writers append and readers follow.

The server is the test's own (tests/support/private_postgres.py). Four writers append
one event at a time, each at the version it wrote last, while a subscriber and the
projection follower read; the server is stopped mid-way and started again. Appends
in flight are retried with the same event ids once the server is back: nothing is
lost, nothing is written twice, every stream's versions stay gap-free, and the
subscriber and the projections carry on from where they were.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from app.projections import projector
from events.catalogue import Metadata
from events.store import NO_STREAM, EventStore, RecordedEvent
from events.vocabulary import StepSkipped
from tests.support.private_postgres import PrivateServer
from tests.support.runs import wait_until

WRITERS = 4
EACH = 60
ACTOR = Metadata(actor="writer", source="test")


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    """An embedded PostgreSQL of this module's own."""
    private = PrivateServer().start()
    yield private
    private.close()


def write(store: EventStore, stream: str, appended: list[int], errors: list[BaseException]) -> None:
    """Append EACH events to `stream`, one at a time, each at the version written last."""
    try:
        for n in range(EACH):
            event = StepSkipped(step=f"step-{n}", reason="written while the server restarts")
            expected = NO_STREAM if n == 0 else n - 1
            appended += store.append(stream, [event], expected, ACTOR)
    except BaseException as error:
        errors.append(error)


def test_appends_in_flight_during_a_restart_are_retried_once_and_readers_resume_in_order(
    server: PrivateServer,
) -> None:
    database = server.database("restart_appends")
    streams = [f"run-{uuid.uuid4()}" for _ in range(WRITERS)]
    seen: list[RecordedEvent] = []
    stop = threading.Event()
    with EventStore(database.app_url, retry_seconds=60) as store:
        subscriber = threading.Thread(
            target=lambda: seen.extend(store.subscribe(stop=stop, poll_seconds=0.2)), daemon=True
        )
        follower = threading.Thread(
            target=projector(store).follow,
            args=(stop,),
            kwargs={"poll_seconds": 0.2, "retry_seconds": 0.5},
            daemon=True,
        )
        subscriber.start()
        follower.start()
        appended: list[int] = []
        errors: list[BaseException] = []
        writers = [
            threading.Thread(target=write, args=(store, stream, appended, errors))
            for stream in streams
        ]
        for writer in writers:
            writer.start()
        wait_until(lambda: len(appended) >= WRITERS * EACH // 3, timeout=60, what="appends")
        url = server.admin_url
        server.restart(down_seconds=3)
        assert server.admin_url == url  # the same server, back where it was
        for writer in writers:
            writer.join(timeout=120)
        assert errors == []
        total = WRITERS * EACH
        wait_until(lambda: len(seen) >= total, timeout=60, what="the subscriber to catch up")
        wait_until(
            lambda: steps_projected(database.owner_url) == total,
            timeout=60,
            what="the projections to catch up",
        )
        stop.set()
        subscriber.join(timeout=10)
        follower.join(timeout=10)

        for stream in streams:
            assert [e.version for e in store.read_stream(stream)] == list(range(EACH))
    assert len(appended) == len(set(appended)) == total
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM events").fetchone()
    assert row == (total, total)  # nothing lost, nothing written twice
    assert len(seen) == total
    assert len({event.event_id for event in seen}) == total  # each delivered once...
    assert [e.cursor for e in seen] == sorted(e.cursor for e in seen)  # ...in commit order


def steps_projected(owner_url: str) -> int:
    """How many step rows the runs projection holds."""
    with psycopg.connect(owner_url) as conn:
        row = conn.execute("SELECT count(*) FROM proj_steps_v1").fetchone()
    assert row is not None
    return int(row[0])
