"""A rebuild folds each run in memory and inserts its rows: the same rows as event-by-event
upserts, whatever the page size and however a stream's events arrive."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from app.database import Database
from app.projections.runs import RunsProjection, _interval_ms
from app.projections.sql import interval_ms
from events import vocabulary as v
from events.catalogue import Event, Metadata
from events.projections import Projector, Write, table_checksums
from events.store import NO_STREAM, EventStore, RecordedEvent
from tests.support.run_history import append_interleaved, history

ALICE = Metadata(actor="alice")


class CountingRuns(RunsProjection):
    """The runs projection, counting the streams it was asked to fold whole."""

    def __init__(self) -> None:
        super().__init__()
        self.folded: list[str] = []

    def fold_stream(self, events: Sequence[RecordedEvent]) -> Iterator[Write]:
        """RunsProjection.fold_stream, noted."""
        self.folded.append(events[0].stream)
        return super().fold_stream(events)


def queued(n: int) -> v.RunQueued:
    return v.RunQueued(
        repository="https://git.example/acme/app.git",
        commit=f"{n:040x}",
        ref="refs/heads/main",
        trigger="push",
        pipeline_path=".shiplog.yml",
        pipeline_digest="sha256:" + "c" * 64,
    )


def finished(step: str, exit_code: int) -> v.StepFinished:
    return v.StepFinished(
        step=step, exit_code=exit_code, duration_ms=1200, log_sha256="b" * 64, log_lines=3
    )


def started(step: str, image: str = "debian:bookworm") -> v.StepStarted:
    return v.StepStarted(step=step, image=image, image_digest=None, commands_digest="a" * 64)


def append_out_of_order(store: EventStore, run: str, first: list[Event], rest: list[Event]) -> None:
    """Append `rest` of a run in a transaction that took its id before `first` was appended,
    so in subscription order `rest` comes before `first`."""
    with store.transaction() as early:
        deploying = v.DeploymentStarted(deployment_id=run, service="web", image_digest="sha256:1")
        early.append(f"env-{run}", [deploying], NO_STREAM, ALICE)
        store.append(run, first, NO_STREAM, ALICE)
        early.append(run, rest, len(first) - 1, ALICE)


def checksums(database: Database, projection: RunsProjection) -> dict[str, str]:
    with psycopg.connect(database.app_url) as conn:
        return table_checksums(conn, projection)


def test_a_rebuild_folding_whole_runs_gives_the_rows_of_event_by_event_upserts(
    store: EventStore, database: Database
) -> None:
    _, streams = history(runs=40, seed=5)
    append_interleaved(store, streams, seed=6)
    # A claim, steps and the outcome committed before the run's queueing.
    append_out_of_order(
        store,
        "run-late-queue",
        [queued(1)],
        [v.RunClaimed(runner="r", runner_version="1"), started("build"), finished("build", 0),
         v.RunSucceeded(duration_ms=10)],
    )  # fmt: skip
    # A step retried: its second start arrives last, after its finish and the outcome.
    append_out_of_order(
        store,
        "run-retried-step",
        [queued(2), v.RunClaimed(runner="r", runner_version="1"), started("test", "old")],
        [finished("test", 1), started("test", "new"), finished("test", 0),
         v.StepSkipped(step="push", reason="no"), v.RunFailed(reason="late", step="test")],
    )  # fmt: skip
    runs = CountingRuns()
    projector = Projector(store, [runs])
    projector.catch_up(runs, batch=7)  # event by event: handle()'s upserts
    live = checksums(database, runs)
    assert all(not value.endswith(":0") for value in live.values()), live

    # Pages of one event (every later event of a stream upserts onto its folded rows),
    # of a few, and of the whole ledger (each run folded whole in memory).
    for batch in (1, 3, 50, 10_000):
        runs.folded.clear()
        projector.rebuild(batch=batch)
        assert checksums(database, runs) == live, f"rebuild in pages of {batch}"
        assert "run-retried-step" in runs.folded
        assert len(runs.folded) == len(set(runs.folded))  # each stream folded whole once


@pytest.mark.parametrize(
    "micros",
    [0, 1, 499, 500, 501, 1499, 1500, 2500, -1, -499, -500, -501, -1500, 86_400_000_123, None],
)
def test_the_queue_wait_folded_in_python_equals_the_sql_one(
    database: Database, micros: int | None
) -> None:
    earlier = datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC)
    later = None if micros is None else earlier + timedelta(microseconds=micros)
    with psycopg.connect(database.app_url) as conn:
        row = conn.execute(
            f"SELECT {interval_ms('%(later)s::timestamptz - %(earlier)s::timestamptz')}",
            {"later": later, "earlier": earlier},
        ).fetchone()
    assert row is not None
    assert _interval_ms(later, earlier) == row[0]
