"""A deployment whose driver is SIGKILLed mid-rollout is failed by a reaper, traffic on the
last good version: a real `shiplog deploy` process, a real swarm and HAProxy."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.config import Settings
from app.delivery.desk import Desk
from app.delivery.haproxy import ProxyHandle, weights_of
from app.services.delivery import deploy, reap_lost_drivers, reaper_identity
from events.store import EventStore
from events.vocabulary import CanaryStepStarted, DeploymentFailed, RolledBack
from tests.support.delivery import build_app, get, proxied, write_environments
from tests.support.runs import SHIPLOG, wait_until

pytestmark = pytest.mark.usefixtures("leftover_guard", "osv_advisories")

SLOW_CANARY = {
    "steps": [50, 100],
    "pause": "120s",  # the driver is killed long before the first step ends
    "analysis": {"interval": "1s", "failure_limit": 1000},
}
HEARTBEAT = {"SHIPLOG_HEARTBEAT_INTERVAL": "0.5", "SHIPLOG_HEARTBEAT_TIMEOUT": "3"}


def test_a_canary_whose_driver_is_killed_is_failed_by_the_reaper_with_traffic_on_the_old_digest(
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
    config, public, _ = proxied(namespace, "canary", canary=SLOW_CANARY)
    write_environments(settings, config)
    reaper = dataclasses.replace(desks(), heartbeat_interval=0.5, heartbeat_timeout=3)
    assert deploy(reaper, "staging", "web", images["v1"], "alice").request.status == "succeeded"

    with subprocess.Popen(
        [str(SHIPLOG), "deploy", "staging", "web", images["v2"]],
        env={**os.environ, **HEARTBEAT},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as driver:
        try:
            wait_until(
                lambda: any(isinstance(e.data, CanaryStepStarted) for e in stream(store)),
                timeout=120,
                what="the canary's first step",
            )
            assert reap_lost_drivers(reaper) == []  # its heartbeat is fresh: not lost
            driver.send_signal(signal.SIGKILL)  # no chance to record anything
            driver.wait()
        finally:
            if driver.poll() is None:
                driver.kill()

    (deployment_id,) = {e.data.deployment_id for e in stream(store)[-2:]}
    wait_until(
        lambda: reap_lost_drivers(reaper) == [deployment_id],
        timeout=30,
        what="the reaper to fail the deployment",
        interval=0.5,
    )
    failed, rolled = stream(store)[-2:]
    assert isinstance(failed.data, DeploymentFailed)
    assert failed.data.reason.startswith(f"driver lost: {socket.gethostname()}:{driver.pid} ")
    assert failed.metadata.actor == rolled.metadata.actor == reaper_identity(reaper)
    assert isinstance(rolled.data, RolledBack)
    assert (rolled.data.image_digest, rolled.data.from_digest) == (images["v1"], images["v2"])
    # The last good version serves everything again; the canary's colour is scaled away.
    web = config["environments"][0]["services"]["web"]
    handle = ProxyHandle("127.0.0.1", web["proxy"]["admin_port"], 0, None, public)
    assert weights_of(handle, "app") == {"blue": 100, "green": 0}
    assert {get(public) for _ in range(10)} == {"version v1"}
    green = swarm.services.get(f"{namespace}-stg-web-green")
    assert green.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 0
    state = reaper.state("staging").request(deployment_id)
    assert state is not None and state.status == "failed"
    assert reap_lost_drivers(reaper) == []  # once


def stream(store: EventStore) -> list[Any]:
    """Staging's events."""
    return store.read_stream("env-staging")
