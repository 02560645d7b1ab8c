"""Deployment queries in a real PostgreSQL: image stretches, commits from runs, stages, CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app as cli_app
from app.projections import projector
from app.queries.deployments import DeployedImage, deployed_images
from events.catalogue import Event, Metadata
from events.store import ANY, Cursor, EventStore
from events.vocabulary import (
    DeploymentStarted,
    DeploymentSucceeded,
    ImagePushed,
    RolledBack,
    RunClaimed,
    RunSucceeded,
    StepFinished,
    StepStarted,
    TestsReported,
)
from tests.support.factories import queued

X, Y = "sha256:" + "1" * 64, "sha256:" + "2" * 64
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
BOB = Metadata(actor="bob@example.com")


def append(store: EventStore, stream: str, *events: Event) -> Cursor:
    """Append `events` to `stream` as Bob; the cursor of the last one."""
    store.append(stream, list(events), ANY, BOB)
    return store.read_stream(stream)[-1].cursor


def rollout(
    store: EventStore, env: str, ident: str, digest: str, at: datetime, **started: str
) -> Cursor:
    """A rollout of `digest` to service web of `env` that succeeded ten minutes after `at`."""
    return append(
        store,
        f"env-{env}",
        DeploymentStarted(
            deployment_id=ident, service="web", image_digest=digest, started_at=at, **started
        ),
        DeploymentSucceeded(
            deployment_id=ident,
            service="web",
            image_digest=digest,
            finished_at=at + timedelta(minutes=10),
        ),
    )


def test_deployed_images_gives_each_stretch_an_image_ran_in_each_environment(
    store: EventStore,
) -> None:
    rollout(store, "production", "d1", X, T0)
    rollout(store, "staging", "s1", X, T0 + timedelta(hours=1))
    before_rollback = rollout(store, "production", "d2", Y, T0 + timedelta(days=1))
    back = T0 + timedelta(days=1, hours=2)
    append(
        store,
        "env-production",
        RolledBack(deployment_id="d2", service="web", image_digest=X, finished_at=back),
    )
    projector(store).catch_up_all()
    with store.connection() as conn:
        now = deployed_images(conn, [X, Y])
        then = deployed_images(conn, [Y], as_of=before_rollback)
        nothing = deployed_images(conn, ["sha256:" + "9" * 64])
    ten = timedelta(minutes=10)
    assert now == [
        DeployedImage(X, "production", "web", T0 + ten, T0 + timedelta(days=1) + ten, "d1"),
        DeployedImage(X, "production", "web", back, None, "d2"),
        DeployedImage(X, "staging", "web", T0 + timedelta(hours=1) + ten, None, "s1"),
        DeployedImage(Y, "production", "web", T0 + timedelta(days=1) + ten, back, "d2"),
    ]
    assert then == [DeployedImage(Y, "production", "web", T0 + timedelta(days=1) + ten, None, "d2")]
    assert then[0].running and not now[0].running
    assert nothing == []


def test_a_deployment_without_a_commit_gets_the_commit_of_the_run_that_pushed_its_image(
    store: EventStore, client: TestClient
) -> None:
    commit = "c" * 40
    append(
        store,
        "run-r1",
        queued(commit),
        ImagePushed(step="push", repository="registry.local/web", tag="1", digest=X),
    )
    rollout(store, "production", "by-image", X, T0)
    rollout(store, "production", "by-run", Y, T0 + timedelta(days=1), run_id="r1")
    rollout(store, "production", "unknown", Y, T0 + timedelta(days=2))
    projector(store).catch_up_all()
    rows = client.get("/api/audit/deployments", params={"env": "production"}).json()["deployments"]
    commits = {row["deployment_id"]: (row["repository"], row["commit"]) for row in rows}
    repository = queued(commit).repository
    assert commits == {
        "by-image": (repository, commit),
        "by-run": (repository, commit),
        "unknown": (None, None),
    }
    assert {row["actor"] for row in rows} == {"bob@example.com"}


def run_events(*steps: tuple[str, str, int, bool]) -> list[Event]:
    """A run's events: queued, claimed, then (step, image, duration ms, reported tests) each."""
    events: list[Event] = [queued(), RunClaimed(runner="r", runner_version="1")]
    for step, image, duration, tested in steps:
        events.append(StepStarted(step=step, image=image, commands_digest="sha256:" + "a" * 64))
        if tested:
            events.append(
                TestsReported(step=step, passed=3, failed=0, skipped=0, report_sha256="d" * 64)
            )
        events.append(
            StepFinished(
                step=step, exit_code=0, duration_ms=duration, log_sha256="b" * 64, log_lines=1
            )
        )
    events.append(RunSucceeded(duration_ms=sum(s[2] for s in steps)))
    return events


def test_stage_timing_classifies_steps_by_kind_and_reported_tests(
    store: EventStore, client: TestClient
) -> None:
    append(
        store,
        "run-a",
        *run_events(
            ("build", "docker build", 4000, False),
            ("unit", "busybox", 1000, True),
            ("lint", "busybox", 700, False),  # not a test: this run reports tests elsewhere
            ("push", "docker push", 300, False),
        ),
    )
    append(
        store,
        "run-b",
        *run_events(
            ("build", "docker build", 6000, False),
            ("check", "busybox", 2000, False),  # no step reported tests: command steps are tests
            ("smoke", "busybox", 500, False),
            ("push", "docker push", 500, False),
        ),
    )
    projector(store).catch_up_all()
    stages = client.get("/api/velocity").json()["stages_ms"]
    assert stages["build"] == {"count": 2, "median": 5000.0, "p90": pytest.approx(5800.0)}
    assert stages["test"] == {"count": 2, "median": 1750.0, "p90": pytest.approx(2350.0)}
    assert stages["push"] == {"count": 2, "median": 400.0, "p90": pytest.approx(480.0)}
    with store.connection() as conn:
        waits = [r[0] for r in conn.execute("SELECT queue_wait_ms FROM proj_runs_v1").fetchall()]
    assert stages["queue"]["count"] == 2
    assert stages["queue"]["median"] == pytest.approx(sum(waits) / 2)


def test_cli_velocity_prints_a_table_and_bad_options_end_in_one_line_naming_them(
    store: EventStore, cli: CliRunner
) -> None:
    now = datetime.now(UTC)
    for day in range(1, 8):
        rollout(store, "production", f"d{day}", X, now - timedelta(days=day))
    result = cli.invoke(cli_app, ["velocity", "--service", "web", "--since", "30d"])
    assert result.exit_code == 0, result.output
    assert "web" in result.output and "production" in result.output
    assert "0.23" in result.output  # 7 deployments in 30 days
    for args, expected in (
        (["--since", "a month"], "--since: invalid time 'a month'"),
        (["--service", "nonesuch"], "--service: no deployment of service 'nonesuch'"),
        (["--env", "staging"], "--env: 'staging' is not a production environment"),
        (["--as-of", "now"], "--as-of: invalid as_of 'now'"),
    ):
        done = subprocess.run(
            [sys.executable, "-c", "from app.cli import main; main()", "velocity", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("shiplog: " + expected), done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
