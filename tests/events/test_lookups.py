"""Contract tests of the read-side lookups of the event store, against a real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.database import Database
from events.catalogue import Metadata
from events.lookups import EventQuery
from events.store import NO_STREAM, START, Cursor, EventStore
from events.vocabulary import (
    DeploymentSucceeded,
    RolledBack,
    RunClaimed,
    RunQueued,
    RunSucceeded,
)
from tests.support.factories import ALICE, queued, step_finished, step_started

BOB = Metadata(actor="bob", source="test")


def succeeded(service: str, digest: str, deployment: str = "d1") -> DeploymentSucceeded:
    return DeploymentSucceeded(deployment_id=deployment, service=service, image_digest=digest)


def claimed() -> RunClaimed:
    return RunClaimed(runner="host:1", runner_version="0.1.0")


def test_page_filters_combine_and_continue_after_the_last_event(store: EventStore) -> None:
    store.append("run-1", [queued(), step_started(), step_finished()], NO_STREAM, ALICE)
    store.append("run-2", [queued()], NO_STREAM, BOB)

    first = store.page(EventQuery(category="run", limit=2))
    assert [(e.stream, e.version) for e in first.events] == [("run-1", 0), ("run-1", 1)]
    assert first.next == first.events[-1].cursor
    rest = store.page(EventQuery(category="run", after=first.next, limit=10))
    assert [(e.stream, e.version) for e in rest.events] == [("run-1", 2), ("run-2", 0)]
    assert rest.next is None

    by_bob = store.page(EventQuery(actor="bob"))
    assert [e.stream for e in by_bob.events] == ["run-2"]
    typed = store.page(EventQuery(types=["StepStarted", "StepFinished"], streams=["run-1"]))
    assert [e.type for e in typed.events] == ["StepStarted", "StepFinished"]


def test_page_descending_walks_back_from_the_newest(store: EventStore) -> None:
    store.append("run-1", [queued(), step_started(), step_finished()], NO_STREAM, ALICE)
    newest = store.page(EventQuery(descending=True, limit=2))
    assert [e.version for e in newest.events] == [2, 1]
    assert newest.next is not None
    older = store.page(EventQuery(descending=True, after=newest.next, limit=2))
    assert [e.version for e in older.events] == [0]
    assert older.next is None


def test_page_returns_the_payload_as_stored(store: EventStore) -> None:
    store.append("run-1", [queued()], NO_STREAM, ALICE)
    (event,) = store.page(EventQuery()).events
    assert event.data["repository"] == "https://git.example/acme/web.git"
    assert event.metadata["actor"] == "alice"
    assert event.recorded_at.tzinfo is not None and len(event.hash) == 32


def test_page_refuses_a_limit_out_of_range(store: EventStore) -> None:
    with pytest.raises(ValueError, match="limit must be between 1 and 1000"):
        store.page(EventQuery(limit=0))


def test_find_answers_only_the_recorded_ids(store: EventStore) -> None:
    known = uuid.uuid4()
    store.append("run-1", [queued()], NO_STREAM, ALICE, event_ids=[known])
    found = store.find([known, uuid.uuid4()])
    assert list(found) == [known]
    assert found[known].stream == "run-1" and found[known].type == "RunQueued"


def test_head_is_the_newest_event_and_start_for_an_empty_ledger(store: EventStore) -> None:
    assert store.head() == START
    store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE)
    assert store.head() == store.read_stream("run-1")[-1].cursor


def test_cursor_at_a_time_is_the_prefix_recorded_by_then(
    store: EventStore, database: Database
) -> None:
    store.append("run-1", [queued()], NO_STREAM, ALICE)
    store.append("run-2", [queued()], NO_STREAM, ALICE)
    first, second = store.read_all()
    with psycopg.connect(database.owner_url) as conn:
        # Back-date the first event only; the immutability trigger is the owner's to lift.
        conn.execute("ALTER TABLE events DISABLE TRIGGER ALL")
        conn.execute(
            "UPDATE events SET recorded_at = recorded_at - interval '1 hour' WHERE position = %s",
            (first.position,),
        )
        conn.execute("ALTER TABLE events ENABLE TRIGGER ALL")
    assert store.cursor_at(datetime.now(UTC) - timedelta(minutes=30)) == first.cursor
    assert store.cursor_at(datetime.now(UTC)) == second.cursor
    assert store.cursor_at(datetime(2000, 1, 1, tzinfo=UTC)) == START


def test_count_since_counts_recent_events(store: EventStore) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE)
    assert store.count_since(before) == 2
    assert store.count_since(datetime.now(UTC) + timedelta(seconds=5)) == 0


def test_first_events_decodes_the_opener_of_each_stream(store: EventStore) -> None:
    store.append("run-1", [queued(), step_started()], NO_STREAM, ALICE)
    store.append("run-2", [queued("1" * 40)], NO_STREAM, ALICE)
    openers = store.first_events(["run-1", "run-2", "run-3"])
    assert sorted(openers) == ["run-1", "run-2"]
    assert isinstance(openers["run-2"].data, RunQueued)
    assert openers["run-2"].data.commit == "1" * 40


def test_by_data_field_keeps_the_latest_or_first_per_value(store: EventStore) -> None:
    store.append("env-staging", [succeeded("web", "sha256:a")], NO_STREAM, ALICE)
    store.append("env-staging", [succeeded("web", "sha256:b", "d2")], 0, ALICE)
    store.append("env-staging", [succeeded("api", "sha256:c", "d3")], 1, ALICE)
    latest = store.by_data_field(["DeploymentSucceeded"], "service")
    assert {k: v.data["image_digest"] for k, v in latest.items()} == {
        "web": "sha256:b",
        "api": "sha256:c",
    }
    first = store.by_data_field(["DeploymentSucceeded"], "service", ["web"], first=True)
    assert {k: v.data["image_digest"] for k, v in first.items()} == {"web": "sha256:a"}
    assert store.by_data_field(["DeploymentSucceeded"], "service", []) == {}
    assert store.by_data_field(["DeploymentSucceeded"], "service", present="reason") == {}


def test_with_data_field_lists_events_with_any_of_the_values_newest_first(
    store: EventStore,
) -> None:
    store.append("env-staging", [succeeded("web", "sha256:a")], NO_STREAM, ALICE)
    store.append("env-prod", [succeeded("web", "sha256:b", "d2")], NO_STREAM, ALICE)
    cut = store.head()
    store.append("env-prod", [succeeded("api", "sha256:c", "d3")], 0, ALICE)
    found = store.with_data_field(["DeploymentSucceeded"], "service", ["web"])
    assert [(e.stream, e.data["image_digest"]) for e in found] == [
        ("env-prod", "sha256:b"),
        ("env-staging", "sha256:a"),
    ]
    both = store.with_data_field(["DeploymentSucceeded"], "service", ["web", "api"], until=cut)
    assert [e.data["image_digest"] for e in both] == ["sha256:b", "sha256:a"]
    assert len(store.with_data_field(["DeploymentSucceeded"], "service", ["web"], limit=1)) == 1
    assert store.with_data_field(["RolledBack"], "service", ["web"]) == []


def test_preceding_finds_the_earlier_event_of_the_same_value(store: EventStore) -> None:
    events = [
        succeeded("web", "sha256:a"),
        succeeded("api", "sha256:x", "d2"),
        RolledBack(deployment_id="d3", service="web", image_digest="sha256:r"),
        succeeded("web", "sha256:b", "d4"),
    ]
    store.append("env-prod", events, NO_STREAM, ALICE)
    found = store.preceding(
        [("env-prod", 3, "web"), ("env-prod", 1, "api"), ("env-prod", 0, "web")],
        ["DeploymentSucceeded", "RolledBack"],
        "service",
    )
    assert [None if e is None else e.data["image_digest"] for e in found] == [
        "sha256:r",
        None,
        None,
    ]


def test_waiting_and_open_streams_follow_a_run_through_its_life(store: EventStore) -> None:
    store.append("run-a", [queued()], NO_STREAM, ALICE)
    store.append("run-b", [queued(), claimed()], NO_STREAM, ALICE)
    store.append("run-c", [queued(), claimed(), RunSucceeded(duration_ms=5)], NO_STREAM, ALICE)
    assert store.waiting_streams("RunQueued", 10) == ["run-a"]
    later = datetime.now(UTC) + timedelta(seconds=5)
    assert store.open_streams("RunClaimed", ["RunSucceeded", "RunFailed"], later) == ["run-b"]
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    assert store.open_streams("RunClaimed", ["RunSucceeded"], earlier) == []


def test_latest_checkpoint_is_none_before_the_first_seal(store: EventStore) -> None:
    assert store.latest_checkpoint() is None
    assert store.latest_verification() is None


def test_page_after_a_cursor_past_every_event_is_empty(store: EventStore) -> None:
    store.append("run-1", [queued()], NO_STREAM, ALICE)
    far = Cursor(2**63, 2**62)
    assert store.page(EventQuery(after=far)).events == []
