"""Runners on hosts whose clocks disagree: the ledger's order, never a wall clock, decides.

Two `shiplog runner` processes run under libfaketime (Debian's faketime), one an hour
ahead, one an hour behind, each executing one run that this process queued on the
true clock. Every event's recorded_at is its host's time (docs/decisions/0001), so
the times disagree with the order; the order of the ledger, the durations (each
measured by one host's monotonic clock) and the read side stay right, and a duration
that only two skewed clocks could give is unknown rather than wrong.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.config import Settings
from app.database import Database
from app.executor.runs import RunLedger
from app.projections import projector
from app.services.access import Role
from events.store import EventStore
from events.vocabulary import RunSucceeded, StepFinished
from tests.support.access import bearer
from tests.support.invariant import assert_run_closed
from tests.support.runs import (
    BUSYBOX,
    SHIPLOG,
    commands_pipeline,
    fast_settings,
    make_repo,
    one,
    queue_detached,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")

FAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")
PIPELINE = commands_pipeline(
    f"  - name: wait\n    image: {BUSYBOX}\n    commands: [sleep 1]\n",
    f"  - name: after\n    image: {BUSYBOX}\n    commands: [echo done]\n",
)


def skewed_runner(
    name: str, offset: str, settings: Settings, directory: Path
) -> subprocess.Popen[bytes]:
    """`shiplog runner` whose clock is `offset` (e.g. `+1h`) off the true time."""
    if not FAKETIME.exists():
        pytest.fail(f"{FAKETIME} is missing: apt-get install faketime (.ci/run does)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHIPLOG_")}
    env.update(
        LD_PRELOAD=str(FAKETIME),
        FAKETIME=offset,
        FAKETIME_DONT_FAKE_MONOTONIC="1",
        SHIPLOG_DATABASE_URL=settings.database_url or "",
        SHIPLOG_HOME=str(directory / name),
        SHIPLOG_RUNNER_NAME=name,
        SHIPLOG_POLL_INTERVAL="0.2",
        SHIPLOG_HEARTBEAT_INTERVAL="0.3",
    )
    log = (directory / f"{name}.log").open("wb")
    return subprocess.Popen(
        [str(SHIPLOG), "runner"], env=env, cwd=directory, stdout=log, stderr=subprocess.STDOUT
    )


@pytest.fixture
def stop_after() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.terminate()
        process.wait(timeout=60)


def test_runs_on_skewed_hosts_keep_the_ledgers_order_and_true_durations(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    settings: Settings,
    busybox_image: str,
    docker_client: Any,
    stop_after: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": PIPELINE})
    config = fast_settings(tmp_path / "home", database)
    ledger = RunLedger(store)
    run_ids = []
    for name, offset in (("ahead", "+1h"), ("behind", "-1h")):  # one after the other
        stop_after.append(skewed_runner(name, offset, config, tmp_path))
        run_ids.append(queue_detached(cli, repo))
        wait_until(lambda: ledger.state(run_ids[-1]).finished, timeout=120, what=f"run by {name}")
        runner = stop_after.pop()
        runner.terminate()  # it finishes the run (removing what it made) and exits
        assert runner.wait(timeout=60) == 0

    first, second = (assert_run_closed(store, r, engines=[docker_client]) for r in run_ids)
    # The clocks were off: the runners' times are an hour off the queueing CLI's...
    assert first[1].recorded_at - first[0].recorded_at > timedelta(minutes=50)
    assert second[0].recorded_at - second[1].recorded_at > timedelta(minutes=50)
    # ...and the second run's events carry times two hours before the first run's.
    assert second[-1].recorded_at < first[-1].recorded_at - timedelta(minutes=100)
    # Yet the ledger keeps them in the order they happened, and so does every reader.
    positions = [e.position for e in first] + [e.position for e in second]
    assert positions == sorted(positions)
    everything = [e.event_id for e in store.read_all(limit=100)]
    assert everything == [e.event_id for e in first] + [e.event_id for e in second]
    for events in (first, second):  # durations come from one host's monotonic clock
        assert one(events, StepFinished, step="wait").duration_ms >= 1000  # type: ignore[operator]
        assert isinstance(events[-1].data, RunSucceeded)
        assert events[-1].data.duration_ms >= 1000

    projector(store).catch_up_all()
    with TestClient(_app(settings), headers=bearer(store, "viewer", Role.VIEWER)) as client:
        for run_id in run_ids:
            body = client.get(f"/api/runs/{run_id}").json()
            assert body["run"]["status"] == "succeeded"
            # Queue wait spans two hosts' clocks: unknown under skew, never negative.
            wait = body["run"]["queue_wait_ms"]
            assert wait is None or wait >= 0
            assert [step["step"] for step in body["steps"]] == ["wait", "after"]
            assert body["steps"][0]["duration_ms"] >= 1000
        listed = client.get("/api/runs").json()
    assert [run["run_id"] for run in listed][:2] == run_ids[::-1]  # newest first


def _app(settings: Settings) -> Any:
    from app.server import create_app

    return create_app(settings)
