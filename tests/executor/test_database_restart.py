"""PostgreSQL restarted while a step runs: the run goes on and completes, nothing lost or doubled.

`shiplog run` works on the embedded server under a home of the test's own; while its
step runs, `shiplog db stop` stops that server (disconnecting the run's connections)
and the test starts it again a few seconds later. The step's log lines, its
StepFinished and the run's outcome are stored once the server is back.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.database import EMBEDDED_DATABASE, embedded_app_password, embedded_pid, login_as
from events.store import EventStore
from events.vocabulary import RunSucceeded, StepFinished
from tests.support.invariant import assert_run_closed
from tests.support.private_postgres import PrivateServer
from tests.support.runs import (
    BUSYBOX,
    SHIPLOG,
    commands_pipeline,
    make_repo,
    one,
    step_running,
    wait_until,
)
from tests.support.servers import with_dbname

pytestmark = pytest.mark.usefixtures("docker_client")

PIPELINE = commands_pipeline(
    f"  - name: work\n    image: {BUSYBOX}\n    commands: [echo before, sleep 8, echo after]\n",
    f"  - name: next\n    image: {BUSYBOX}\n    commands: [echo next]\n",
)


@pytest.fixture
def server() -> Iterator[PrivateServer]:
    """An embedded PostgreSQL under a home of this test's own."""
    private = PrivateServer().start()
    yield private
    private.close()


def shiplog(home: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    """`shiplog ARGS` on the embedded server under `home`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SHIPLOG_")}
    env.update(SHIPLOG_HOME=str(home), SHIPLOG_DATABASE_RETRY="60")
    return subprocess.Popen(
        [str(SHIPLOG), *args],
        env=env,
        cwd=home,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def test_a_database_restart_mid_step_costs_the_run_nothing(
    server: PrivateServer, docker_client: Any, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path / "repo", {".shiplog.yml": PIPELINE})
    with shiplog(server.home, "run", str(repo)) as run:
        try:
            wait_until(lambda: "queued run" in (run.stdout.readline() if run.stdout else ""),
                       timeout=60, what="the run to be queued")  # fmt: skip
            owner_url = with_dbname(server.admin_url, EMBEDDED_DATABASE)
            app_url = login_as(owner_url, "shiplog_app", embedded_app_password(server.home))
            with EventStore(app_url) as store:
                (run_id,) = [e.stream[4:] for e in store.read_all() if e.type_name == "RunQueued"]
            wait_until(
                lambda: step_running(docker_client, run_id, "work"),
                timeout=60,
                what="the step to run",
            )
            time.sleep(1)  # the step has logged its first line
            with shiplog(server.home, "db", "stop") as stop:
                said, _ = stop.communicate(timeout=60)
            assert stop.returncode == 0, said
            assert said.strip().splitlines()[-1] == "embedded server stopped"
            assert embedded_pid(server.home) is None  # stopped, truly, clients and all
            time.sleep(3)
            server.start()
            output, _ = run.communicate(timeout=120)
        finally:
            if run.poll() is None:
                run.kill()

    assert run.returncode == 0, output
    assert output.strip().splitlines()[-1] == f"run {run_id} succeeded"
    with EventStore(app_url) as store:
        events = assert_run_closed(store, run_id, engines=[docker_client], cli_output=output)
        ids = [event.event_id for event in events]
    assert len(ids) == len(set(ids))
    assert [event.version for event in events] == list(range(len(events)))
    assert isinstance(events[-1].data, RunSucceeded)
    assert one(events, StepFinished, step="work").exit_code == 0
    with shiplog(server.home, "logs", run_id, "work", "--verify") as verify:
        said, _ = verify.communicate(timeout=60)
    assert verify.returncode == 0, said
    with shiplog(server.home, "logs", run_id, "work") as logs:
        lines, _ = logs.communicate(timeout=60)
    assert [line for line in lines.splitlines() if not line.startswith("shiplog:")] == [
        "+ echo before", "before", "+ sleep 8", "+ echo after", "after",
    ]  # fmt: skip
