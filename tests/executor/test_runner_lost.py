"""A runner SIGKILLed in the middle of a push: the run is lost, and every recorded push is real.

The runner is a `shiplog runner` subprocess killed the moment its push step starts; a
reaper in this process then fails the run as `runner-lost`. A push the dead runner
finished is recorded with the digest the registry holds, one it did not finish is not
recorded at all: never an ImagePushed the registry does not confirm.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.config import Settings
from app.database import Database
from app.executor.runner import Runner
from events.store import EventStore
from events.vocabulary import ImagePushed, RunFailed, StepFinished, StepStarted
from tests.support.invariant import assert_run_closed
from tests.support.runs import (
    RunnerProcess,
    fast_settings,
    hello_app,
    of_type,
    one,
    queue_detached,
    run_events,
    unique_name,
    wait_until,
)

pytestmark = pytest.mark.usefixtures("leftover_guard")

TAGS = tuple(f"v{n}" for n in range(8))


def push_pipeline(tag: str, repository: str) -> str:
    """Build the hello image, then push it under many tags (a push that takes a while)."""
    tags = ", ".join(f'"{t}"' for t in TAGS)
    return f"""\
name: pushy
steps:
  - name: build
    build:
      context: .
      tags: ["{tag}"]
  - name: push
    push:
      image: {tag}
      repository: {repository}
      tags: [{tags}]
"""


def test_a_runner_killed_mid_push_is_lost_and_only_pushes_the_registry_confirms_are_recorded(
    cli: CliRunner,
    store: EventStore,
    database: Database,
    busybox_image: str,
    docker_client: Any,
    registry: Any,
    runners: Callable[[Settings, str], Runner],
    runner_processes: Callable[[str, Settings, Path], RunnerProcess],
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path / "home", database)
    name = unique_name()
    repository = f"{registry.address}/{unique_name('lost')}"
    repo = hello_app(tmp_path / "repo", push_pipeline(f"{name}:1", repository))
    run_id = queue_detached(cli, repo)
    doomed = runner_processes("doomed", settings, tmp_path)

    def push_started() -> bool:
        events = run_events(store, run_id)
        return any(isinstance(e.data, StepStarted) and e.data.step == "push" for e in events)

    wait_until(push_started, timeout=120, what="the push step to start", interval=0.02)
    doomed.kill()

    reaper = runners(settings, "reaper")
    wait_until(
        lambda: reaper.reap() == [run_id],
        timeout=settings.heartbeat_timeout + 15,
        what="the reaper to fail the run",
        interval=0.2,
    )
    events = assert_run_closed(store, run_id, engines=[docker_client])
    assert events[-1].data == RunFailed(reason="runner-lost", step="push")
    assert one(events, StepFinished, step="push").reason == "runner lost"
    pushed = of_type(events, ImagePushed)
    for push in pushed:  # recorded only with the digest the registry holds for that tag
        path = push.repository.removeprefix(f"{registry.address}/")
        assert push.digest == registry.manifest_digest(path, push.tag)
    assert len({push.tag for push in pushed}) == len(pushed) < len(TAGS)
