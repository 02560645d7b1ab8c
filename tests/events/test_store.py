"""Contract tests of the event store, against a real PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest

from app.database import Database
from events.catalogue import Metadata
from events.errors import PartialRetry, WrongExpectedVersion
from events.store import ANY, NO_STREAM, START, Cursor, EventStore
from events.vocabulary import RunFailed, RunQueued, StepFinished
from tests.support.factories import ALICE, queued, step_finished, step_started


def count_events(database: Database) -> int:
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
    assert row is not None
    return int(row[0])


def test_append_returns_positions_and_reads_back_typed_events(store: EventStore) -> None:
    positions = store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE)
    more = store.append("run-1", [step_finished()], 1, ALICE)

    events = store.read_stream("run-1")
    assert [e.position for e in events] == positions + more
    assert [e.version for e in events] == [0, 1, 2]
    assert isinstance(events[0].data, RunQueued)
    assert events[0].data == queued()
    assert isinstance(events[2].data, StepFinished)
    assert events[2].metadata == ALICE
    assert len(events[0].hash) == 32


def test_read_stream_starts_at_the_requested_version(store: EventStore) -> None:
    store.append("run-1", [step_finished(n=i) for i in range(5)], NO_STREAM, ALICE)
    assert [e.version for e in store.read_stream("run-1", from_version=3)] == [3, 4]
    assert store.stream_version("run-1") == 4
    assert store.stream_version("run-2") is None


def test_no_stream_refuses_an_existing_stream_naming_its_version(store: EventStore) -> None:
    store.append("run-1", [queued()], NO_STREAM, ALICE)
    with pytest.raises(WrongExpectedVersion) as caught:
        store.append("run-1", [queued()], NO_STREAM, ALICE)
    assert caught.value.stream == "run-1"
    assert caught.value.expected == NO_STREAM
    assert caught.value.actual == 0
    assert "run-1" in str(caught.value) and "version 0" in str(caught.value)


def test_exact_expected_version_refuses_a_moved_stream(store: EventStore) -> None:
    store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE)
    with pytest.raises(WrongExpectedVersion) as caught:
        store.append("run-1", [step_finished()], 0, ALICE)
    assert (caught.value.expected, caught.value.actual) == (0, 1)
    with pytest.raises(WrongExpectedVersion) as missing:
        store.append("run-2", [step_finished()], 3, ALICE)
    assert missing.value.actual is None


def test_any_appends_after_whatever_is_there(store: EventStore) -> None:
    store.append("run-1", [queued()], ANY, ALICE)
    store.append("run-1", [step_started()], ANY, ALICE)
    assert [e.version for e in store.read_stream("run-1")] == [0, 1]


def test_concurrent_appends_at_one_expected_version_admit_exactly_one_each(
    store: EventStore,
) -> None:
    writers, rounds = 8, 12
    outcomes: dict[int, list[str]] = {v: [] for v in range(rounds)}
    barrier = threading.Barrier(writers)
    lock = threading.Lock()

    def writer(index: int) -> None:
        for version in range(rounds):
            expected = NO_STREAM if version == 0 else version - 1
            barrier.wait()
            try:
                store.append("run-race", [step_finished(n=index)], expected, ALICE)
                result = "ok"
            except WrongExpectedVersion as error:
                assert error.actual == version
                result = "wrong-version"
            with lock:
                outcomes[version].append(result)
            barrier.wait()  # everyone has tried this version before the next round

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for version, results in outcomes.items():
        assert results.count("ok") == 1, (version, results)
        assert results.count("wrong-version") == writers - 1
    assert [e.version for e in store.read_stream("run-race")] == list(range(rounds))


def test_retry_with_the_same_event_ids_returns_original_positions(
    store: EventStore, database: Database
) -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    first = store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE, event_ids=ids)
    again = store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE, event_ids=ids)
    any_again = store.append("run-1", [queued(), step_started()], ANY, ALICE, event_ids=ids)
    assert first == again == any_again
    assert count_events(database) == 2


def test_a_batch_with_only_some_known_ids_is_refused_and_writes_nothing(
    store: EventStore, database: Database
) -> None:
    known = uuid.uuid4()
    store.append("run-1", [queued()], NO_STREAM, ALICE, event_ids=[known])
    with pytest.raises(PartialRetry) as caught:
        store.append(
            "run-1", [queued(), step_started()], ANY, ALICE, event_ids=[known, uuid.uuid4()]
        )
    assert caught.value.known == [str(known)]
    assert count_events(database) == 1


def test_appends_in_one_transaction_commit_together(store: EventStore) -> None:
    with store.transaction() as tx:
        tx.append("run-1", [queued()], NO_STREAM, ALICE)
        tx.append("run-2", [queued()], NO_STREAM, ALICE)
    assert store.stream_version("run-1") == 0 and store.stream_version("run-2") == 0

    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.append("run-3", [queued()], NO_STREAM, ALICE)
        raise RuntimeError("abandon the transaction")
    assert store.stream_version("run-3") is None


def test_a_refused_append_leaves_the_transaction_usable(store: EventStore) -> None:
    store.append("run-1", [queued()], NO_STREAM, ALICE)
    with store.transaction() as tx:
        with pytest.raises(WrongExpectedVersion):
            tx.append("run-1", [queued()], NO_STREAM, ALICE)
        tx.append("run-1", [RunFailed(reason="second thoughts")], 0, ALICE)
    assert store.stream_version("run-1") == 1


def test_read_all_follows_subscription_order_and_filters(store: EventStore) -> None:
    store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE)
    store.append("run-2", [queued()], NO_STREAM, ALICE)
    everything = store.read_all()
    assert [(e.stream, e.version) for e in everything] == [
        ("run-1", 0), ("run-1", 1), ("run-2", 0)]  # fmt: skip
    cursors = [e.cursor for e in everything]
    assert cursors == sorted(cursors)
    assert [e.stream for e in store.read_all(everything[0].cursor)] == ["run-1", "run-2"]
    assert [e.type_name for e in store.read_all(types=["RunQueued"])] == ["RunQueued"] * 2
    assert [e.version for e in store.read_all(stream="run-1")] == [0, 1]
    assert [e.stream for e in store.read_last(2)] == ["run-1", "run-2"]


def test_cursor_round_trips_through_text() -> None:
    assert Cursor.parse(str(Cursor(812, 40))) == Cursor(812, 40)
    with pytest.raises(ValueError, match="TX_ID:POSITION"):
        Cursor.parse("40")


def test_metadata_defaults_are_recorded(store: EventStore) -> None:
    store.append("run-1", [queued()], NO_STREAM, Metadata(actor="bob"))
    (event,) = store.read_all(START)
    assert event.metadata == Metadata(actor="bob", source="shiplog")
