"""Pages of events read back: binary fetch, big transaction ids, the collector left as found."""

from __future__ import annotations

import gc

import psycopg

from app.database import Database
from events.collector import paused_collector
from events.store import _STREAM_CHUNK, NO_STREAM, EventStore
from events.vocabulary import RunCancelled
from tests.support.factories import ALICE


def test_xid8_loads_the_same_in_binary_and_in_text_beyond_32_and_63_bits(
    database: Database,
) -> None:
    values = ["0", "4294967296", "9223372036854775807", "18446744073709551615"]
    with psycopg.connect(database.app_url) as conn:
        for value in values:
            query = "SELECT %s::text::xid8"
            text = conn.execute(query, (value,)).fetchone()
            binary = conn.execute(query, (value,), binary=True).fetchone()
            assert text == binary == (int(value),)


def test_read_all_in_binary_gives_what_read_stream_gives(database: Database) -> None:
    with EventStore(database.app_url) as store:
        store.append("run-1", [RunCancelled(reason="a")], NO_STREAM, ALICE)
        store.append("run-1", [RunCancelled(reason="b")], 0, ALICE)
        assert store.read_all() == store.read_stream("run-1")
        assert [e.tx_id for e in store.read_all()] == [e.tx_id for e in store.read_stream("run-1")]


def test_read_all_streamed_in_chunks_gives_every_event_in_order(database: Database) -> None:
    with EventStore(database.app_url) as store:
        # More events than one streamed chunk, in two streams whose transactions interleave.
        for version in range(_STREAM_CHUNK + 50):
            expected = NO_STREAM if version == 0 else version - 1
            for stream in ("run-1", "run-2"):
                store.append(stream, [RunCancelled(reason=f"{version}")], expected, ALICE)
        everything = store.read_all(limit=3 * _STREAM_CHUNK)
        assert len(everything) == 2 * (_STREAM_CHUNK + 50)
        assert [e.cursor for e in everything] == sorted(e.cursor for e in everything)
        one = store.read_all(stream="run-2", limit=_STREAM_CHUNK + 10)
        assert one == store.read_stream("run-2", limit=_STREAM_CHUNK + 10)
        after = store.read_all(everything[_STREAM_CHUNK].cursor, limit=5)
        assert after == everything[_STREAM_CHUNK + 1 : _STREAM_CHUNK + 6]


def test_reading_leaves_the_garbage_collector_as_it_found_it(database: Database) -> None:
    with EventStore(database.app_url) as store:
        store.append("run-1", [RunCancelled(reason="a")], NO_STREAM, ALICE)
        assert gc.isenabled()
        store.read_all()
        assert gc.isenabled()
        gc.disable()
        try:
            store.read_all()
            assert not gc.isenabled()
        finally:
            gc.enable()


def test_a_pause_inside_a_pause_leaves_the_collector_on_only_after_the_outer_one() -> None:
    with paused_collector():
        with paused_collector():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
