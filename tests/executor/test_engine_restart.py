"""dockerd stopped and started again while a step runs: the step and the run end cleanly.

The engine is a private dockerd of this module (tests/support/engines.py), never the
shared one. `shiplog run` runs against it as a subprocess, as a user would; the test
stops dockerd while the step's container runs and starts it again.

The policy: an engine restart fails the run. The step it interrupted ends with exit
code unknown and reason `engine restarted` (or `engine unavailable` when the engine
was not back within SHIPLOG_ENGINE_WAIT), no further step starts, and the run's
containers, network and workspace are removed as soon as the engine answers again:
by the runner itself, or, if it gave up waiting, by the next runner that reaps.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.database import Database
from app.executor.runner import Runner
from events.store import EventStore
from events.vocabulary import RunFailed, StepFinished
from tests.support.engines import PrivateEngine, start_private_engine
from tests.support.invariant import assert_run_closed
from tests.support.runs import (
    BUSYBOX,
    SHIPLOG,
    all_run_ids,
    commands_pipeline,
    fast_settings,
    leases,
    leftovers,
    logged_lines,
    make_repo,
    of_type,
    one,
    step_running,
    wait_until,
)

PIPELINE = commands_pipeline(
    f"  - name: long\n    image: {BUSYBOX}\n    commands: [echo working, sleep 300]\n",
    f"  - name: after\n    image: {BUSYBOX}\n    commands: [echo never]\n",
)


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateEngine]:
    """A private dockerd with the busybox image, for this module's tests to restart.

    The shared engine's default bridge must outlive it: every later build needs it.
    """
    shared_bridge = Path("/sys/class/net/docker0")
    had_bridge = shared_bridge.exists()
    private, _ = start_private_engine()
    yield private
    private.close()
    assert shared_bridge.exists() or not had_bridge, "the private dockerd removed docker0"


@pytest.fixture
def engine_client(engine: PrivateEngine) -> Iterator[Any]:
    """A client of the private engine."""
    client = engine.client()
    yield client
    client.close()


def start_run(
    repo: Path, database: Database, home: Path, engine: PrivateEngine, wait: float
) -> subprocess.Popen[str]:
    """`shiplog run REPO` on the private engine, waiting `wait` s for a lost engine."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHIPLOG_")}
    env.update(
        DOCKER_HOST=engine.url,
        SHIPLOG_DATABASE_URL=database.app_url,
        SHIPLOG_OWNER_DATABASE_URL=database.owner_url or "",
        SHIPLOG_HOME=str(home),
        SHIPLOG_ENGINE_WAIT=str(wait),
    )
    return subprocess.Popen(
        [str(SHIPLOG), "run", str(repo)],
        env=env,
        cwd=repo.parent,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def running_step(process: subprocess.Popen[str], database: Database, client: Any, step: str) -> str:
    """Wait until the run's `step` container runs; return the run id."""
    wait_until(lambda: all_run_ids(database), timeout=60, what="the run to be queued")
    (run_id,) = all_run_ids(database)
    wait_until(
        lambda: process.poll() is None and step_running(client, run_id, step),
        timeout=60,
        what=f"step {step} to run",
    )
    return run_id


def test_dockerd_restarted_mid_step_ends_the_step_engine_restarted_and_fails_the_run_cleanly(
    store: EventStore,
    database: Database,
    engine: PrivateEngine,
    engine_client: Any,
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": PIPELINE})
    home = tmp_path / "home"
    with start_run(repo, database, home, engine, wait=60) as process:
        try:
            run_id = running_step(process, database, engine_client, "long")
            # The container runs before its first lines reach the ledger; the seal is
            # only checkable once they have.
            wait_until(
                lambda: len(logged_lines(database, run_id, "long")) >= 2,
                timeout=60,
                what="step long's first lines to be stored",
            )
            engine.stop()
            time.sleep(1)
            engine.start()
            output, _ = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()

    assert process.returncode == 1, output
    events = assert_run_closed(store, run_id, engines=[engine_client], cli_output=output)
    closed = one(events, StepFinished, step="long")
    assert (closed.exit_code, closed.reason) == (None, "engine restarted")
    assert closed.log_lines is not None and closed.log_lines >= 2  # sealed by its runner
    message = "the Docker engine restarted during step 'long'"
    assert events[-1].data == RunFailed(reason=message, step="long")
    assert not [s for s in of_type(events, StepFinished) if s.step == "after"]
    assert output.strip().splitlines()[-1] == f"run {run_id} failed: {message}"
    assert not (home / "work" / run_id).exists()
    assert leases(database) == []


def test_dockerd_away_longer_than_the_wait_fails_the_run_and_a_reaper_cleans_up_once_it_is_back(
    store: EventStore,
    database: Database,
    engine: PrivateEngine,
    engine_client: Any,
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": PIPELINE})
    home = tmp_path / "home"
    with start_run(repo, database, home, engine, wait=1) as process:
        try:
            run_id = running_step(process, database, engine_client, "long")
            engine.stop()
            output, _ = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
            engine.start()

    assert process.returncode == 1, output
    assert "Traceback" not in output
    message = "the Docker engine stopped answering during step 'long'"
    assert output.strip().splitlines()[-1] == f"run {run_id} failed: {message}"
    events = assert_run_closed(store, run_id)
    assert one(events, StepFinished, step="long").reason == "engine unavailable"
    assert leftovers(engine_client, run_id)  # the runner could not remove them...
    assert [run for run, _ in leases(database)] == [run_id]  # ...so its lease stays

    # Once the engine is back, the next runner on this host that reaps removes them.
    settings: Settings = fast_settings(home, database, heartbeat_timeout=1.0)
    with EventStore(database.app_url) as reaper_store:
        reaper = Runner(
            settings=settings,
            store=reaper_store,
            app_url=database.app_url,
            client=engine_client,
            name="reaper",
        )
        wait_until(
            lambda: (reaper.reap(), not leftovers(engine_client, run_id))[1],
            timeout=30,
            what="the reaper to remove the run's containers",
            interval=0.5,
        )
    assert_run_closed(store, run_id, engines=[engine_client])
    assert leases(database) == []
