"""Runners end to end: claims, heartbeats, runner-lost, cancellation, with real processes.

Runs are queued with `shiplog run --detach` and executed by `shiplog runner`
subprocesses or by in-process Runner instances, against a real PostgreSQL and a real
Docker engine, with heartbeats short enough for a test (interval 0.3 s, timeout 2-3 s).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import astuple
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.database import Database
from app.executor.runner import Runner
from app.executor.runs import RunLedger
from app.queries.logs import log_digest
from app.services.runs import RunFinished, cancel_run
from events.catalogue import Metadata
from events.store import EventStore
from events.vocabulary import (
    RunCancelled,
    RunClaimed,
    RunFailed,
    StepFinished,
    StepStarted,
)
from tests.support.invariant import assert_run_closed
from tests.support.runs import (
    BUSYBOX,
    SHIPLOG,
    RunnerProcess,
    all_run_ids,
    commands_pipeline,
    fast_settings,
    leases,
    leftovers,
    make_repo,
    of_type,
    one,
    queue_detached,
    run_events,
    running_containers,
    step_running,
    type_names,
    wait_until,
    working,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")  # nothing left on the engine

MakeRunner = Callable[[Settings, str], Runner]
StartProcess = Callable[[str, Settings, Path], RunnerProcess]


def step(name: str, *commands: str) -> str:
    lines = "".join(f"      - {command}\n" for command in commands)
    return f"  - name: {name}\n    image: {BUSYBOX}\n    commands:\n{lines}"


def test_two_runners_execute_each_of_six_queued_runs_exactly_once_and_keep_them_alive(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runner_processes: StartProcess,
    tmp_path: Path,
) -> None:
    # Each run outlasts the heartbeat timeout, and each runner also reaps while it polls:
    # a runner whose heartbeats did not hold would see its run failed as runner-lost.
    settings = fast_settings(
        tmp_path / "home", database, heartbeat_timeout=2.0, runner_concurrency=2
    )
    pipeline = commands_pipeline(
        step("work", "sleep 2.5", "echo worked"), step("after", "echo after")
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    fleet = [
        runner_processes(name, settings.model_copy(update={"home": tmp_path / name}), tmp_path)
        for name in ("runner-a", "runner-b")
    ]
    for process in fleet:
        process.wait_ready()

    run_ids = [queue_detached(cli, repo) for _ in range(6)]
    ledger = RunLedger(store)
    wait_until(
        lambda: all(ledger.state(run_id).finished for run_id in run_ids),
        timeout=120,
        what="six runs to finish",
        interval=0.5,
    )
    for process in fleet:
        assert process.stop() == 0, process.output()

    claims: Counter[str] = Counter()
    for run_id in run_ids:
        events = run_events(store, run_id)
        state = ledger.state(run_id)
        assert state.status == "succeeded", (run_id, state, type_names(events))
        (claimed,) = of_type(events, RunClaimed)
        claims[claimed.runner] += 1
        assert Counter(s.step for s in of_type(events, StepStarted)) == {"work": 1, "after": 1}
        assert Counter(s.step for s in of_type(events, StepFinished)) == {"work": 1, "after": 1}
        assert not of_type(events, RunFailed)
        assert leftovers(docker_client, run_id) == []
    assert set(claims) == {"runner-a", "runner-b"}  # both took part, neither took a run twice
    assert sum(claims.values()) == 6
    assert leases(database) == []


def test_a_runner_killed_mid_step_leaves_its_run_runner_lost_and_nothing_running(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: MakeRunner,
    runner_processes: StartProcess,
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path / "home", database)
    pipeline = commands_pipeline(
        step("long", "echo working", "sleep 300"), step("after", "echo never")
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    run_id = queue_detached(cli, repo)
    doomed = runner_processes("doomed", settings, tmp_path)
    wait_until(
        lambda: log_digest(database.app_url, run_id, "long").lines >= 2,
        timeout=60,
        what="the step to log that it works",
    )

    doomed.kill()  # SIGKILL: no chance to clean up or to record anything
    killed_at = time.monotonic()
    assert doomed.process.returncode == -signal.SIGKILL

    reaper = runners(settings, "reaper")
    assert reaper.reap() == []  # the heartbeat is still fresh: nobody declares it lost yet
    assert step_running(docker_client, run_id, "long")  # the orphan keeps running...
    wait_until(
        lambda: reaper.reap() == [run_id],
        timeout=settings.heartbeat_timeout + 15,
        what="the reaper to fail the run",
        interval=0.2,
    )
    waited = time.monotonic() - killed_at
    assert waited >= settings.heartbeat_timeout - 1.0  # it waited for the heartbeat to go stale

    # ...until the reaper fails the run as runner-lost and removes its containers
    assert leftovers(docker_client, run_id) == []
    ledger = RunLedger(store)
    state = ledger.state(run_id)
    assert (state.status, state.reason) == ("failed", "runner-lost")
    events = assert_run_closed(store, run_id, engines=[docker_client])
    assert type_names(events) == [
        "RunQueued", "RunClaimed", "StepStarted", "StepFinished", "RunFailed",
    ]  # fmt: skip
    assert one(events, RunClaimed).runner == "doomed"
    closed = one(events, StepFinished, step="long")
    assert (closed.exit_code, closed.duration_ms, closed.reason) == (None, None, "runner lost")
    # The reaper sealed the log as the lost runner left it.
    assert (closed.log_sha256, closed.log_lines) == astuple(
        log_digest(database.app_url, run_id, "long")
    )
    assert closed.log_lines is not None and closed.log_lines >= 2
    assert events[-1].data == RunFailed(reason="runner-lost", step="long")
    for event in events[-2:]:
        assert (event.metadata.actor, event.metadata.source) == ("runner:reaper", "runner")
    assert leases(database) == []

    # A lost run is never run again: a live runner polling for work leaves it alone.
    with working(reaper):
        time.sleep(settings.poll_interval * 5)
    assert run_events(store, run_id) == events
    assert leftovers(docker_client, run_id) == []


def test_shiplog_cancel_records_run_cancelled_and_the_runs_containers_stop_within_10_seconds(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: MakeRunner,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pipeline = commands_pipeline(
        step("long", "echo working", "sleep 300"),
        step("after", "echo never"),
        header=f"""\
services:
  - name: sidecar
    image: {BUSYBOX}
    commands: [sleep 300]
""",
    )
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    monkeypatch.setenv("SHIPLOG_ACTOR", "bob")
    run_id = queue_detached(cli, repo)
    runner = runners(fast_settings(tmp_path / "home", database), "worker")
    with working(runner):
        wait_until(
            lambda: step_running(docker_client, run_id, "long"),
            timeout=60,
            what="the step container to run",
        )
        assert len(running_containers(docker_client, run_id)) == 2  # the step and the service

        cancelled_at = time.monotonic()
        result = cli.invoke(app, ["cancel", run_id, "--reason", "not needed any more"])
        assert result.exit_code == 0, result.output
        assert f"run {run_id} cancelled" in result.output
        wait_until(
            lambda: not running_containers(docker_client, run_id),
            timeout=10,
            what="the run's containers to stop",
        )
        stopped_after = time.monotonic() - cancelled_at
        wait_until(lambda: not runner.active(), timeout=30, what="the runner to let go of the run")

    assert stopped_after < 10
    events = assert_run_closed(store, run_id, engines=[docker_client])
    assert type_names(events) == [
        "RunQueued", "RunClaimed", "StepStarted", "StepFinished", "RunCancelled",
    ]  # fmt: skip
    closed = one(events, StepFinished, step="long")
    assert (closed.exit_code, closed.reason, closed.log_sha256) == (None, "cancelled", None)
    assert events[-1].data == RunCancelled(reason="not needed any more")
    for event in events[-2:]:
        assert (event.metadata.actor, event.metadata.source) == ("bob", "cli")
    assert RunLedger(store).state(run_id).status == "cancelled"
    assert leases(database) == []

    again = cli.invoke(app, ["cancel", run_id])
    assert isinstance(again.exception, RunFinished)
    assert str(again.exception) == f"run {run_id} already cancelled"
    assert len(run_events(store, run_id)) == len(events)


def test_a_run_cancelled_while_queued_is_never_claimed(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    runners: MakeRunner,
    tmp_path: Path,
) -> None:
    pipeline = commands_pipeline(step("one", "echo one"))
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    cancelled = queue_detached(cli, repo)
    kept = queue_detached(cli, repo)
    cancel_run(store, cancelled, Metadata(actor="carol", source="test"), "changed my mind")

    runner = runners(fast_settings(tmp_path / "home", database), "worker")
    with working(runner):
        wait_until(lambda: RunLedger(store).state(kept).finished, timeout=60, what="the other run")

    assert type_names(run_events(store, cancelled)) == ["RunQueued", "RunCancelled"]
    assert RunLedger(store).state(kept).status == "succeeded"


def test_a_runner_claims_a_run_when_it_is_queued_and_the_next_when_its_slot_frees_not_at_a_poll(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    runners: MakeRunner,
    tmp_path: Path,
) -> None:
    # A poll interval far longer than the test: only the wake-ups can start these runs.
    settings = fast_settings(
        tmp_path / "home", database, poll_interval=3600.0, runner_concurrency=1
    )
    repo = make_repo(
        tmp_path / "repo", {".shiplog.yml": commands_pipeline(step("one", "echo one"))}
    )
    ledger = RunLedger(store)
    runner = runners(settings, "worker")
    with working(runner):
        # One slot: the second waits for the first to end, then its slot's wake-up.
        first, second = queue_detached(cli, repo), queue_detached(cli, repo)
        wait_until(lambda: ledger.state(second).finished, timeout=60, what="the second run")
        # Idle now, long past its first look: only the queue's wake-up can start this one.
        third = queue_detached(cli, repo)
        wait_until(lambda: ledger.state(third).finished, timeout=60, what="the third run")

    for run_id in (first, second, third):
        assert ledger.state(run_id).status == "succeeded"
        assert one(run_events(store, run_id), RunClaimed).runner == "worker"


def test_ctrl_c_on_shiplog_run_records_run_cancelled_and_removes_its_containers(
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    tmp_path: Path,
) -> None:
    pipeline = commands_pipeline(step("long", "echo working", "sleep 300"))
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHIPLOG_")}
    env.update(SHIPLOG_DATABASE_URL=database.app_url, SHIPLOG_HOME=str(tmp_path / "home"))
    with subprocess.Popen(
        [str(SHIPLOG), "run", str(repo)],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as foreground:
        try:
            wait_until(lambda: all_run_ids(database), timeout=60, what="the run to be queued")
            (run_id,) = all_run_ids(database)
            wait_until(
                lambda: step_running(docker_client, run_id, "long"),
                timeout=60,
                what="the step container to run",
            )
            foreground.send_signal(signal.SIGINT)
            output, _ = foreground.communicate(timeout=30)
        finally:
            if foreground.poll() is None:
                foreground.kill()

    assert foreground.returncode != 0
    assert "long │ working" in output
    events = assert_run_closed(store, run_id, engines=[docker_client], cli_output=output)
    assert type_names(events) == [
        "RunQueued", "RunClaimed", "StepStarted", "StepFinished", "RunCancelled",
    ]  # fmt: skip
    closed = one(events, StepFinished, step="long")
    assert (closed.exit_code, closed.reason) == (None, "interrupted")
    assert closed.log_lines is not None  # the runner sealed its own log
    assert events[-1].data == RunCancelled(reason="interrupted: the runner was stopped (Ctrl-C)")
    assert leftovers(docker_client, run_id) == []
    assert leases(database) == []


@contextlib.contextmanager
def revoked(database: Database, privilege: str, table: str) -> Iterator[None]:
    """For the block, the application role lacks `privilege` on `table`: a real database fault."""
    names = {"privilege": sql.SQL(privilege), "table": sql.Identifier(table)}
    role = sql.Identifier("shiplog_app")
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("REVOKE {privilege} ON {table} FROM {role}").format(**names, role=role)
        )
        try:
            yield
        finally:
            conn.execute(
                sql.SQL("GRANT {privilege} ON {table} TO {role}").format(**names, role=role)
            )


def test_heartbeats_go_on_after_one_fails_so_a_live_run_is_not_declared_lost(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: MakeRunner,
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path / "home", database)
    pipeline = commands_pipeline(step("long", "sleep 6", "echo still here"))
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    run_id = queue_detached(cli, repo)
    worker, watcher = runners(settings, "worker"), runners(settings, "watcher")
    with working(worker):
        wait_until(
            lambda: step_running(docker_client, run_id, "long"),
            timeout=60,
            what="the step container to run",
        )
        with revoked(
            database, "UPDATE", "run_leases"
        ):  # heartbeats fail for a second, well within the timeout
            time.sleep(1)
        with working(watcher):  # reaps at every poll
            wait_until(
                lambda: RunLedger(store).state(run_id).finished, timeout=60, what="the run to end"
            )

    state = RunLedger(store).state(run_id)
    assert (state.status, state.reason) == ("succeeded", None)


def test_a_runner_keeps_polling_after_the_database_refused_it_for_a_moment(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    runners: MakeRunner,
    tmp_path: Path,
) -> None:
    pipeline = commands_pipeline(step("one", "echo one"))
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    runner = runners(fast_settings(tmp_path / "home", database), "worker")
    with working(runner) as loop:
        with revoked(database, "SELECT", "run_leases"):  # looking for lost runs fails for a second
            time.sleep(1)
        assert loop.is_alive()
        run_id = queue_detached(cli, repo)
        wait_until(
            lambda: RunLedger(store).state(run_id).finished, timeout=60, what="the run to end"
        )
    assert RunLedger(store).state(run_id).status == "succeeded"


def test_a_cancel_is_noticed_even_after_the_database_failed_the_runs_watcher_for_a_moment(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: MakeRunner,
    tmp_path: Path,
) -> None:
    pipeline = commands_pipeline(step("long", "sleep 300"))
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    run_id = queue_detached(cli, repo)
    runner = runners(fast_settings(tmp_path / "home", database), "worker")
    with working(runner):
        wait_until(
            lambda: step_running(docker_client, run_id, "long"),
            timeout=60,
            what="the step container to run",
        )
        with revoked(database, "SELECT", "events"):  # reading the run's state fails meanwhile
            time.sleep(2.5)
        result = cli.invoke(app, ["cancel", run_id])
        assert result.exit_code == 0, result.output
        wait_until(
            lambda: not running_containers(docker_client, run_id),
            timeout=10,
            what="the run's containers to stop",
        )
    assert type_names(run_events(store, run_id))[-1] == "RunCancelled"
    assert_run_closed(store, run_id, engines=[docker_client])


def test_sigterm_makes_a_runner_finish_its_active_run_claim_nothing_more_and_exit_0(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runner_processes: StartProcess,
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path / "home", database)
    pipeline = commands_pipeline(step("work", "sleep 2", "echo done"))
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": pipeline})
    first = queue_detached(cli, repo)
    process = runner_processes("leaving", settings, tmp_path)
    wait_until(
        lambda: step_running(docker_client, first, "work"),
        timeout=60,
        what="the step container to run",
    )
    process.process.send_signal(signal.SIGTERM)
    wait_until(
        lambda: "stopping: finishing the active runs" in process.output(),
        timeout=30,
        what="the runner to acknowledge SIGTERM",
    )
    second = queue_detached(cli, repo)
    assert process.process.wait(timeout=60) == 0, process.output()

    ledger = RunLedger(store)
    assert ledger.state(first).status == "succeeded"
    assert type_names(run_events(store, second)) == ["RunQueued"]  # left for other runners
    assert leftovers(docker_client, first) == []
    assert leases(database) == []
