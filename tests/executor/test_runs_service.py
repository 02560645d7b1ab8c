"""Runs queued and cancelled as an actor, claimed, and found by the leases as queued or lost."""

from __future__ import annotations

import time

import pytest

from app.executor import leases
from app.executor.runs import RunInterrupted, RunLedger
from app.services.runs import RunFinished, cancel_run, queue_run
from events.catalogue import Metadata
from events.store import EventStore
from events.vocabulary import RunCancelled, RunClaimed, RunSucceeded
from tests.support.factories import queued

CAROL = Metadata(actor="carol", source="test")
RUNNER = Metadata(actor="runner:r1", source="runner")
CLAIM = RunClaimed(runner="r1", runner_version="test", docker_version="test")


def test_a_queued_run_is_waiting_until_claimed_and_the_actor_is_recorded(store: EventStore) -> None:
    first = queue_run(store, queued("1" * 40), CAROL)
    second = queue_run(store, queued("2" * 40), CAROL)
    assert leases.queued_runs(store, 10) == [first, second]
    assert leases.queued_runs(store, 1) == [first]

    (event,) = store.read_stream(f"run-{first}")
    assert (event.metadata.actor, event.metadata.correlation_id) == ("carol", first)
    ledger = RunLedger(store)
    assert ledger.claim(first, CLAIM, RUNNER) is not None
    assert ledger.claim(first, CLAIM, RUNNER) is None  # the stream is the lock
    assert leases.queued_runs(store, 10) == [second]
    assert ledger.state(first).status == "running"


def test_a_cancel_moves_the_stream_so_the_runners_next_append_fails(store: EventStore) -> None:
    run_id = queue_run(store, queued(), CAROL)
    recorder = RunLedger(store).claim(run_id, CLAIM, RUNNER)
    assert recorder is not None

    state = cancel_run(store, run_id, CAROL, "changed my mind")
    assert (state.status, state.reason) == ("cancelled", "changed my mind")
    last = store.read_stream(f"run-{run_id}")[-1]
    assert last.data == RunCancelled(reason="changed my mind")
    assert last.metadata.actor == "carol"
    with pytest.raises(RunInterrupted):
        recorder.record(RunSucceeded(duration_ms=1))
    with pytest.raises(RunFinished):
        cancel_run(store, run_id, CAROL)


def test_a_claimed_run_without_a_fresh_heartbeat_is_lost_until_it_ends(store: EventStore) -> None:
    timeout = 0.5
    beating, silent = queue_run(store, queued("1" * 40), CAROL), queue_run(store, queued(), CAROL)
    recorders = {
        run_id: RunLedger(store).claim(run_id, CLAIM, RUNNER) for run_id in (beating, silent)
    }
    assert leases.lost_runs(store, timeout) == []  # claims younger than the timeout
    time.sleep(timeout * 2)
    with store.connection() as conn:
        leases.take(conn, beating, "r1")
    assert leases.lost_runs(store, timeout) == [silent]

    recorder = recorders[silent]
    assert recorder is not None
    recorder.record(RunSucceeded(duration_ms=1))
    assert leases.lost_runs(store, timeout) == []
