"""The projection runtime and the runs projection, against a real PostgreSQL."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from app.database import Database
from app.projections.runs import RELATIONS, RunsProjection
from events.catalogue import Metadata
from events.projections import (
    ProjectionError,
    Projector,
    Write,
    current_tables,
    current_version,
    fold_as_of,
    table_checksums,
)
from events.store import NO_STREAM, Cursor, EventStore, RecordedEvent
from events.vocabulary import (
    DeploymentStarted,
    RunClaimed,
)

# --- a generated, mixed history -----------------------------------------------------------
from tests.support.run_history import (
    RunPlan,
    append_interleaved,
    fold_while_appending,
    history,
    plan_run,
)

ALICE = Metadata(actor="alice")

# --- helpers --------------------------------------------------------------------------------


@pytest.fixture
def projector(store: EventStore) -> Projector:
    """A projector of version 1 of the runs projection."""
    return Projector(store, [RunsProjection()])


def rows(database: Database, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of `query`, run as the owner."""
    with psycopg.connect(database.owner_url) as conn:
        return conn.execute(query, params).fetchall()


def checksums(database: Database, version: int = 1) -> list[str]:
    """Checksums of every table of the runs projection's `version`, in relation order."""
    with psycopg.connect(database.app_url) as conn:
        return list(table_checksums(conn, RunsProjection(version)).values())


def create_tables(database: Database, version: int) -> None:
    """What the migration of a new version of the runs projection would do."""
    with psycopg.connect(database.owner_url) as conn:
        for relation in RELATIONS:
            new, old = f"proj_{relation}_v{version}", f"proj_{relation}_v1"
            conn.execute(f"CREATE TABLE {new} (LIKE {old} INCLUDING ALL)")
            conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {new} TO shiplog_app")


@pytest.fixture
def app_conn(database: Database) -> Iterator[psycopg.Connection[Any]]:
    """A reader's autocommit connection as the application role."""
    with psycopg.connect(database.app_url, autocommit=True) as conn:
        yield conn


def assert_rows_match(database: Database, plans: list[RunPlan]) -> None:
    """The runs projection holds what the plans say, computed without shiplog's code."""
    runs = {
        r[0]: r[1:]
        for r in rows(
            database,
            "SELECT run_id, status, runner, commit, queue_wait_ms IS NOT NULL, reason "
            "FROM proj_runs_v1",
        )
    }
    assert sorted(runs) == sorted(p.run_id for p in plans)
    for plan in plans:
        status, runner, commit, has_wait, reason = runs[plan.run_id]
        assert status == plan.outcome, plan.run_id
        assert runner == plan.runner
        assert commit == f"{int(plan.run_id[1:]):040x}"
        assert has_wait == (plan.runner is not None)
        assert (reason is not None) == (plan.outcome in ("failed", "cancelled"))
    steps = rows(database, "SELECT run_id, step, status FROM proj_steps_v1")
    assert sorted(steps) == sorted((p.run_id, s, st) for p in plans for s, st in p.steps.items())
    images = rows(database, "SELECT run_id, count(*) FROM proj_run_images_v1 GROUP BY run_id")
    assert dict(images) == {p.run_id: p.images for p in plans if p.images}
    pushes = rows(database, "SELECT run_id, count(*) FROM proj_run_pushes_v1 GROUP BY run_id")
    assert dict(pushes) == {p.run_id: p.pushes for p in plans if p.pushes}


# --- tests ----------------------------------------------------------------------------------


def test_catch_up_folds_a_mixed_history_into_runs_steps_images_and_pushes(
    store: EventStore, projector: Projector, database: Database
) -> None:
    plans, streams = history(runs=60, seed=1)
    total = append_interleaved(store, streams, seed=2)

    assert projector.catch_up(RunsProjection(), batch=50) == total
    assert_rows_match(database, plans)

    plan = next(p for p in plans if p.outcome == "succeeded")
    (run,) = rows(
        database,
        "SELECT repository, actor, duration_ms, queue_wait_ms >= 0, finished_at >= claimed_at "
        "FROM proj_runs_v1 WHERE run_id = %s",
        plan.run_id,
    )
    assert run[0].startswith("https://git.example/acme/svc") and run[1] == "alice"
    assert run[2] == 5000 + int(plan.run_id[1:]) and run[3] and run[4]
    (step,) = rows(
        database,
        "SELECT exit_code, duration_ms, log_sha256, started_at <= finished_at "
        "FROM proj_steps_v1 WHERE run_id = %s AND step = 'push'",
        plan.run_id,
    )
    assert step == (0, 100 + int(plan.run_id[1:]), "b" * 64, True)
    tags = rows(database, "SELECT tags FROM proj_run_images_v1 WHERE run_id = %s", plan.run_id)
    assert tags == [(["app:latest", f"app:{int(plan.run_id[1:])}"],)]
    assert projector.catch_up(RunsProjection()) == 0


def test_incremental_catch_up_while_appending_equals_a_one_shot_fold(
    store: EventStore, projector: Projector, database: Database
) -> None:
    for part in range(4):
        _, streams = history(runs=15, seed=10 + part, first=part * 15)
        append_interleaved(store, streams, seed=20 + part)
        projector.catch_up(RunsProjection(), batch=7)
    create_tables(database, 2)

    Projector(store, [RunsProjection(2)]).catch_up(RunsProjection(2), batch=100_000)

    assert checksums(database, 1) == checksums(database, 2)
    assert rows(database, "SELECT count(*) FROM proj_runs_v1") == [(60,)]


def test_a_rebuilt_projection_holds_exactly_what_the_live_one_held(
    store: EventStore, projector: Projector, database: Database
) -> None:
    plans, streams = history(runs=300, seed=3)
    live_batches = fold_while_appending(
        store, streams, projector, [RunsProjection()], batch=40, seed=4
    )
    assert live_batches > 3  # it really was folded live, in many transactions
    assert_rows_match(database, plans)
    live = checksums(database)

    folded = projector.rebuild("runs", batch=250)

    assert folded == {"runs": sum(len(events) for events in streams.values())}
    assert checksums(database) == live
    assert_rows_match(database, plans)


def test_two_projectors_racing_never_apply_an_event_twice(
    store: EventStore, database: Database
) -> None:
    plans, streams = history(runs=80, seed=5)
    total = append_interleaved(store, streams, seed=6)
    barrier = threading.Barrier(2)
    applied: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        mine = Projector(store, [RunsProjection()])
        barrier.wait()
        try:
            applied.append(mine.catch_up(RunsProjection(), batch=5))
        except BaseException as error:  # surfaces a duplicate key from a double apply
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(applied) == total
    assert_rows_match(database, plans)


def test_a_slower_open_writing_transaction_is_not_passed(
    store: EventStore, projector: Projector, database: Database
) -> None:
    _, streams = history(runs=2, seed=7, first=100)
    slow_run, fast_run = sorted(streams)
    with store.transaction() as slow:
        slow.append(slow_run, streams[slow_run][:1], NO_STREAM, Metadata(actor="slow"))
        store.append(fast_run, streams[fast_run][:1], NO_STREAM, Metadata(actor="fast"))
        assert projector.catch_up(RunsProjection()) == 0  # the fast one waits for the slow one
        (state,) = projector.status()
        assert state.cursor == Cursor(0, 0)
    assert projector.catch_up(RunsProjection()) == 2
    actors = rows(database, "SELECT actor FROM proj_runs_v1 ORDER BY last_position")
    assert actors == [("slow",), ("fast",)]


def test_out_of_version_order_events_of_one_stream_still_fold_to_the_right_run(
    store: EventStore, projector: Projector, database: Database
) -> None:
    # A transaction that took its id early (it wrote elsewhere first) appends a
    # run's claim after the run was queued by a later transaction: in
    # subscription order the claim comes first.
    queued = plan_run(200, random.Random(0)).events[0]
    claimed = RunClaimed(runner="runner-x", runner_version="0.1.0")
    deploying = DeploymentStarted(deployment_id="d", service="web", image_digest="sha256:1")
    with store.transaction() as early:
        early.append("env-staging", [deploying], NO_STREAM, ALICE)
        store.append("run-r0200", [queued], NO_STREAM, ALICE)
        early.append("run-r0200", [claimed], 0, ALICE)
    order = rows(database, "SELECT type FROM events ORDER BY tx_id, position")
    assert order == [("DeploymentStarted",), ("RunClaimed",), ("RunQueued",)]

    projector.catch_up(RunsProjection())

    ((status, runner, wait, repository),) = rows(
        database, "SELECT status, runner, queue_wait_ms, repository FROM proj_runs_v1"
    )
    assert (status, runner, repository is not None) == ("running", "runner-x", True)
    assert wait is not None and wait >= 0


def test_a_new_version_is_built_beside_the_old_and_readers_switch_once_it_caught_up(
    store: EventStore, projector: Projector, database: Database, app_conn: psycopg.Connection[Any]
) -> None:
    _, streams = history(runs=40, seed=9)
    append_interleaved(store, streams, seed=10)
    with pytest.raises(ProjectionError, match="has not caught up"):
        current_tables(app_conn, RunsProjection())
    projector.catch_up(RunsProjection())
    assert current_tables(app_conn, RunsProjection())["runs"] == "proj_runs_v1"
    create_tables(database, 2)
    v2 = Projector(store, [RunsProjection(2)])

    first = v2.step(RunsProjection(2), batch=25)  # half-built: readers stay on v1
    assert first.applied == 25 and not first.switched
    assert current_version(app_conn, "runs") == 1
    assert current_tables(app_conn, RunsProjection(2))["steps"] == "proj_steps_v1"
    states = {(s.version, s.state, s.current) for s in v2.status()}
    assert states == {(1, "live", True), (2, "building", False)}

    v2.catch_up(RunsProjection(2), batch=25)

    assert current_version(app_conn, "runs") == 2
    assert current_tables(app_conn, RunsProjection(2))["steps"] == "proj_steps_v2"
    assert checksums(database, 2) == checksums(database, 1)
    states = {(s.version, s.state, s.current) for s in v2.status()}
    assert states == {(1, "retired", False), (2, "live", True)}
    projector.catch_up(RunsProjection())  # an old process still folding v1 takes nobody back
    assert current_version(app_conn, "runs") == 2


def test_status_shows_the_lag_before_and_none_after_catching_up(
    store: EventStore, projector: Projector
) -> None:
    (new,) = projector.status()
    assert (new.name, new.version, new.state, new.lag_events) == ("runs", 1, "new", 0)
    _, streams = history(runs=10, seed=11)
    total = append_interleaved(store, streams, seed=12)

    (before,) = projector.status()
    assert before.lag_events == total

    projector.catch_up(RunsProjection(), batch=30)

    (after,) = projector.status()
    assert (after.lag_events, after.state, after.current) == (0, "live", True)
    assert after.cursor == store.read_last(1)[0].cursor


def test_fold_as_of_answers_from_the_events_up_to_a_cursor_only(
    store: EventStore, projector: Projector, database: Database
) -> None:
    plans, streams = history(runs=20, seed=13)
    append_interleaved(store, streams, seed=14)
    projector.catch_up(RunsProjection())
    events = store.read_all(limit=100_000)
    cut = events[len(events) // 2].cursor
    expected_runs = {e.stream.removeprefix("run-") for e in events[: len(events) // 2 + 1]}
    create_tables(database, 2)
    Projector(store, [RunsProjection(2)]).catch_up(RunsProjection(2), until=cut)

    with psycopg.connect(database.app_url, autocommit=True) as conn:
        names = fold_as_of(conn, store, RunsProjection(), cut, batch=33)
        as_of = conn.execute(f"SELECT run_id FROM {names['runs']}").fetchall()
        sums = list(table_checksums(conn, RunsProjection()).values())  # the temporary copies

    assert {r[0] for r in as_of} == expected_runs & {p.run_id for p in plans}
    assert sums == checksums(database, 2)  # the same fold as a checkpointed one to `cut`
    assert rows(database, "SELECT count(*) FROM proj_runs_v1") == [(20,)]  # live rows untouched


def test_a_checkpointed_catch_up_can_stop_at_a_cursor_without_going_live(
    store: EventStore, projector: Projector, app_conn: psycopg.Connection[Any]
) -> None:
    _, streams = history(runs=10, seed=15)
    total = append_interleaved(store, streams, seed=16)
    cut = store.read_all(limit=total)[29].cursor

    assert projector.catch_up(RunsProjection(), batch=8, until=cut) == 30
    assert current_version(app_conn, "runs") is None
    assert projector.catch_up(RunsProjection(), batch=8) == total - 30
    assert current_version(app_conn, "runs") == 1


def test_the_application_role_cannot_delete_checkpoints(
    store: EventStore, projector: Projector, app_conn: psycopg.Connection[Any]
) -> None:
    projector.catch_up(RunsProjection())
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app_conn.execute("DELETE FROM projection_checkpoints")


class Gated(RunsProjection):
    """The runs projection, pausing before the event at `position` until released."""

    def __init__(self, position: int) -> None:
        super().__init__()
        self.position = position
        self.reached = threading.Event()
        self.release = threading.Event()

    def handle(self, event: RecordedEvent) -> Iterator[Write]:
        """Pause at the gate, then fold as usual."""
        if event.position == self.position:
            self.reached.set()
            assert self.release.wait(timeout=30)
        return super().handle(event)


def test_readers_see_the_old_rows_while_a_rebuild_runs_never_a_half_built_projection(
    store: EventStore, projector: Projector, app_conn: psycopg.Connection[Any]
) -> None:
    _, streams = history(runs=30, seed=17)
    append_interleaved(store, streams, seed=18)
    projector.catch_up(RunsProjection())
    before = app_conn.execute("SELECT count(*) FROM proj_steps_v1").fetchone()
    gated = Gated(store.read_all(limit=10_000)[-20].position)
    rebuilding = threading.Thread(target=Projector(store, [gated]).rebuild, kwargs={"batch": 10})
    rebuilding.start()
    try:
        assert gated.reached.wait(timeout=30)  # the rebuild has emptied and half refilled
        during = app_conn.execute("SELECT count(*) FROM proj_steps_v1").fetchone()
    finally:
        gated.release.set()
        rebuilding.join()
    after = app_conn.execute("SELECT count(*) FROM proj_steps_v1").fetchone()
    assert before == during == after


def test_a_follower_whose_connection_is_killed_connects_again_and_folds_what_came_since(
    store: EventStore, database: Database
) -> None:
    following = Projector(store, [RunsProjection()])
    stop = threading.Event()
    thread = threading.Thread(
        target=following.follow,
        args=(stop,),
        kwargs={"poll_seconds": 0.1, "retry_seconds": 0.1},
        daemon=True,
    )
    thread.start()
    try:
        first, first_streams = history(runs=3, seed=41)
        append_interleaved(store, first_streams, seed=42)
        wait_for_runs(database, len(first))
        with psycopg.connect(database.owner_url, autocommit=True) as owner:
            killed = owner.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN%%' "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
        assert killed == (1,), "the follower's listening connection was found and ended"
        more, more_streams = history(runs=4, seed=43, first=100)
        append_interleaved(store, more_streams, seed=44)
        wait_for_runs(database, len(first) + len(more))
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(timeout=10)


def wait_for_runs(database: Database, count: int) -> None:
    """Wait (a bounded time, not a speed claim) until the runs projection holds `count` runs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if rows(database, "SELECT count(*) FROM proj_runs_v1") == [(count,)]:
            return
        time.sleep(0.05)
    assert rows(database, "SELECT count(*) FROM proj_runs_v1") == [(count,)]
