"""A registry that is down during a push: retried, then a clear failure; a push is recorded
only with the digest the registry confirmed.

The registries are Debian's docker-registry on loopback ports of the test's own.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.config import Settings
from app.database import Database
from app.engine import LocalRegistry
from app.executor.runner import Runner
from app.executor.runs import RunLedger
from app.queries.logs import read_log
from events.store import EventStore
from events.vocabulary import ImagePushed, RunFailed, StepFinished
from tests.support.invariant import assert_run_closed
from tests.support.runs import (
    fast_settings,
    hello_app,
    of_type,
    one,
    queue_detached,
    unique_name,
    wait_until,
    working,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def push_pipeline(tag: str, repository: str) -> str:
    return f"""\
name: push
steps:
  - name: build
    build:
      context: .
      tags: ["{tag}"]
  - name: push
    push:
      image: {tag}
      repository: {repository}
      tags: ["1"]
"""


def run_to_end(
    cli: CliRunner, store: EventStore, runner: Runner, repo: Path, during: Callable[[str], None]
) -> str:
    """Queue a run of `repo`, let `runner` execute it, call `during(run_id)` meanwhile."""
    run_id = queue_detached(cli, repo)
    with working(runner):
        during(run_id)
        wait_until(lambda: RunLedger(store).state(run_id).finished, timeout=120, what="the run")
    return run_id


def log_text(database: Database, run_id: str, step: str) -> str:
    return "\n".join(line.text for line in read_log(database.app_url, run_id, step))


def test_a_registry_that_stays_down_fails_the_push_clearly_after_its_attempts(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: Callable[[Settings, str], Runner],
    tmp_path: Path,
) -> None:
    repository = f"127.0.0.1:{free_port()}/{unique_name('down')}"  # nothing listens there
    repo = hello_app(tmp_path / "repo", push_pipeline(f"{unique_name()}:1", repository))
    settings = fast_settings(tmp_path / "home", database, push_attempts=3, push_retry_delay=0.2)
    run_id = run_to_end(cli, store, runners(settings, "worker"), repo, lambda run_id: None)

    events = assert_run_closed(store, run_id, engines=[docker_client])
    assert of_type(events, ImagePushed) == []
    assert one(events, StepFinished, step="push").exit_code == 1
    assert events[-1].data == RunFailed(reason="step 'push' failed", step="push")
    log = log_text(database, run_id, "push")
    assert "could not be reached (attempt 1 of 3)" in log
    assert "could not be reached (attempt 2 of 3)" in log
    assert f"push of {repository}:1 failed (tried 3 times)" in log


def test_a_registry_back_within_the_attempts_gets_the_push_recorded_with_its_digest(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    runners: Callable[[Settings, str], Runner],
    tmp_path: Path,
) -> None:
    port = free_port()
    path = unique_name("back")
    repository = f"127.0.0.1:{port}/{path}"
    repo = hello_app(tmp_path / "repo", push_pipeline(f"{unique_name()}:1", repository))
    settings = fast_settings(tmp_path / "home", database, push_attempts=6, push_retry_delay=1.0)
    registry = LocalRegistry(tmp_path / "registry", port=port)

    def restart_after_a_failed_attempt(run_id: str) -> None:
        wait_until(
            lambda: "attempt 1 of 6" in log_text(database, run_id, "push"),
            timeout=120,
            what="a push attempt to fail",
        )
        registry.start()

    try:
        run_id = run_to_end(
            cli, store, runners(settings, "worker"), repo, restart_after_a_failed_attempt
        )
        events = assert_run_closed(store, run_id, engines=[docker_client])
        (pushed,) = of_type(events, ImagePushed)
        assert pushed.digest == registry.manifest_digest(path, "1")
        assert RunLedger(store).state(run_id).status == "succeeded"
    finally:
        registry.stop()
