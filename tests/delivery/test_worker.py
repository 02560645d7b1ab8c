"""`shiplog worker` does the delivery work `shiplog serve` does: due deployments, lost
drivers, drift (one pass with `--once`, on a schedule without it), on a real swarm."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings, get_settings
from app.delivery.desk import Desk
from app.delivery.requests import DeployAsk
from app.services.delivery import deploy, request_only
from events.store import EventStore
from events.vocabulary import (
    DeploymentFailed,
    DeploymentStarted,
    DeploymentSucceeded,
    DriftDetected,
    DriftResolved,
    RolledBack,
)
from tests.support.delivery import build_app, environments, swarm_image, write_environments
from tests.support.runs import SHIPLOG, wait_until

pytestmark = pytest.mark.usefixtures("leftover_guard", "osv_advisories")


def test_the_worker_advances_due_deployments_fails_lost_ones_and_checks_drift(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    registry: Any,
    swarm: Any,
    desks: Callable[[], Desk],
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(cli, store, tmp_path / "a", registry, {"v1": "good", "v2": "good"})
    write_environments(settings, environments(namespace))
    desk = desks()
    assert deploy(desk, "staging", "web", images["v1"], "alice").request.status == "succeeded"
    web = f"{namespace}-stg-web"
    swarm.services.get(web).scale(2)  # by hand: drift
    # Due: asked for and recorded, but nobody drives it.
    due = request_only(desk, DeployAsk("production", "web", images["v1"]), "alice").request
    # Lost: its driver appended the start, had Swarm update the service, and died before
    # its first heartbeat.
    lost = request_only(desk, DeployAsk("staging", "web", images["v2"]), "alice").request
    long_ago = desk.now() - timedelta(hours=1)
    started = DeploymentStarted(
        deployment_id=lost.deployment_id,
        service="web",
        image_digest=lost.image_digest,
        strategy=lost.strategy,
        started_at=long_ago,
    )
    desk.record("staging", [started], "alice")
    v2 = f"{images.repository}@{images['v2']}"
    subprocess.run(
        ["docker", "service", "update", "--image", v2, web], check=True, capture_output=True
    )

    get_settings.cache_clear()
    result = cli.invoke(app, ["worker", "--once"], env={"SHIPLOG_HEARTBEAT_TIMEOUT": "5"})
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert (
        "worker: 1 deployment(s) whose driver was lost failed, "
        "1 waiting deployment(s) advanced, 0 standby(s) retired"
    ) in result.output
    assert "worker: 2 environment(s) checked for drift, 1 drifting" in result.output

    staging = store.read_stream("env-staging")
    (failed,) = [e for e in staging if isinstance(e.data, DeploymentFailed)]
    assert failed.data.deployment_id == lost.deployment_id
    assert failed.data.reason.startswith("driver lost: no driver held its lease")
    assert failed.metadata.actor.startswith("reaper:")
    # Swarm's rollback returned the service to the last good digest, recorded as the reaper.
    (rolled,) = [e for e in staging if isinstance(e.data, RolledBack)]
    assert (rolled.data.image_digest, rolled.data.from_digest) == (images["v1"], images["v2"])
    assert rolled.metadata.actor == failed.metadata.actor
    assert swarm_image(swarm, web) == f"{images.repository}@{images['v1']}"
    (drift,) = [e.data for e in staging if isinstance(e.data, DriftDetected)]
    assert drift.differences == ("replicas",) and drift.observed and drift.observed.replicas == 2
    production = [e.data for e in store.read_stream("env-production")]
    assert any(
        isinstance(e, DeploymentSucceeded) and e.deployment_id == due.deployment_id
        for e in production
    )

    # Without --once it keeps at it: the drift undone by hand is seen resolved.
    swarm.services.get(web).scale(1)
    with subprocess.Popen(
        [str(SHIPLOG), "worker"],
        env={**os.environ, "SHIPLOG_DRIFT_INTERVAL": "0.5"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as worker:
        try:
            wait_until(
                lambda: any(
                    isinstance(e.data, DriftResolved) for e in store.read_stream("env-staging")
                ),
                timeout=60,
                what="the worker to see the drift resolved",
            )
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
    assert worker.returncode == 0
