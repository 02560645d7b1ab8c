"""Blue/green and canary deployments behind a locally built HAProxy, on a real one-node swarm."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.delivery.desk import Desk
from app.delivery.haproxy import ProxyHandle, runtime_command
from app.delivery.proxied import retire_standbys
from app.services.delivery import deploy
from events.store import EventStore
from events.vocabulary import (
    AnalysisMeasured,
    CanaryAborted,
    CanaryPromoted,
    CanaryStepStarted,
    DeploymentFailed,
    DriftDetected,
    DriftResolved,
    RolledBack,
    StandbyRetired,
    TrafficSwitched,
)
from tests.support.delivery import build_app, env_events, get, proxied, traffic, write_environments

pytestmark = pytest.mark.usefixtures("leftover_guard", "osv_advisories")


def test_blue_green_switches_in_one_proxy_change_and_rolls_back_to_the_standby_instantly(
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
    config, public, preview = proxied(namespace, "blue-green")
    write_environments(settings, config)
    desk = desks()
    assert deploy(desk, "staging", "web", images["v1"], "alice").request.status == "succeeded"
    assert get(public) == "version v1"
    assert deploy(desk, "staging", "web", images["v2"], "alice").request.status == "succeeded"
    assert get(public) == get(preview) == "version v2"
    switches = [e for e in env_events(store) if isinstance(e, TrafficSwitched)]
    assert [(s.from_colour, s.to_colour) for s in switches] == [(None, "blue"), ("blue", "green")]
    assert switches[1].from_digest == images["v1"] and switches[1].image_digest == images["v2"]
    blue = swarm.services.get(f"{namespace}-stg-web-blue")
    assert blue.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 1  # the standby runs on
    proxy = swarm.services.get(f"{namespace}-stg-web-proxy").attrs["Spec"]["TaskTemplate"]
    assert proxy["ContainerSpec"]["StopSignal"] == "SIGUSR1"  # HAProxy ignores SIGTERM as PID 1

    result = cli.invoke(app, ["rollback", "staging", "web", "--reason", "v2 is slow"])
    assert result.exit_code == 0, result.output
    assert get(public) == "version v1"
    back, rolled = (e for e in env_events(store)[-2:])
    assert isinstance(back, TrafficSwitched) and (back.from_colour, back.to_colour) == (
        "green",
        "blue",
    )
    assert isinstance(rolled, RolledBack) and rolled.from_digest == images["v2"]

    later = dataclasses.replace(desk, now=lambda: desk.now() + timedelta(minutes=11))
    assert retire_standbys(later, "shiplog") == ["staging/web"]
    retired = env_events(store)[-1]
    assert isinstance(retired, StandbyRetired) and retired.colour == "green"
    green = swarm.services.get(f"{namespace}-stg-web-green")
    assert green.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 0
    assert get(public) == "version v1"

    # Drift compares what the proxy serves with the ledger: a weight set by hand is drift.
    assert cli.invoke(app, ["drift", "staging"]).exit_code == 0
    admin = config["environments"][0]["services"]["web"]["proxy"]["admin_port"]
    by_hand = ProxyHandle("127.0.0.1", admin, 0, None, public)
    runtime_command(by_hand, "set server app/green1 weight 50")
    assert cli.invoke(app, ["drift", "staging"]).exit_code == 1
    drift = env_events(store)[-1]
    assert isinstance(drift, DriftDetected) and drift.differences == ("weights",)
    assert drift.intended and drift.intended.weights == {
        "app": {"blue": 100, "green": 0},
        "preview": {"blue": 100, "green": 0},
    }
    assert drift.observed and drift.observed.weights
    assert drift.observed.weights["app"] == {
        "blue": 100,
        "green1": 50,
        **{f"green{n}": 0 for n in range(2, 11)},
    }
    runtime_command(by_hand, "set server app/green1 weight 0")
    assert cli.invoke(app, ["drift", "staging"]).exit_code == 0
    resolved = env_events(store)[-1]
    assert isinstance(resolved, DriftResolved) and resolved.how == "matches"

    # The retired colour (scaled to zero) takes the next digest: its tasks start afresh.
    assert cli.invoke(app, ["unpin", "staging", "web", "--reason", "v2.1"]).exit_code == 0
    assert deploy(desk, "staging", "web", images["v2"], "alice").request.status == "succeeded"
    assert get(public) == "version v2"


CANARY = {
    "steps": [50, 100],
    "pause": "4s",
    "analysis": {"max_error_rate": 0.05, "interval": "2s", "failure_limit": 0,
                 "probes": ["/healthz"]},
}  # fmt: skip


def test_a_canary_is_promoted_step_by_step_when_its_analysis_passes(
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
    config, public, _ = proxied(namespace, "canary", canary=CANARY)
    write_environments(settings, config)
    desk = desks()
    assert deploy(desk, "staging", "web", images["v1"], "alice").request.status == "succeeded"
    with traffic(public):
        done = deploy(desk, "staging", "web", images["v2"], "alice")
    assert done.request.status == "succeeded", done.request.reason
    assert get(public) == "version v2"
    events = env_events(store)
    steps = [(e.step, e.weight) for e in events if isinstance(e, CanaryStepStarted)]
    assert steps == [(1, 50), (2, 100)]
    measured = [e for e in events if isinstance(e, AnalysisMeasured)]
    assert len(measured) == 4 and all(m.passed for m in measured)
    assert all(m.requests > 0 and m.errors == 0 for m in measured)
    assert all(p.status == 200 for m in measured for p in m.probes)
    promoted = [e for e in events if isinstance(e, CanaryPromoted)]
    assert len(promoted) == 1 and promoted[0].image_digest == images["v2"]


def test_a_canary_that_answers_errors_is_aborted_and_traffic_returns_to_the_old_digest(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    registry: Any,
    swarm: Any,
    desks: Callable[[], Desk],
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(cli, store, tmp_path / "a", registry, {"v1": "good", "bad": "errors"})
    config, public, _ = proxied(namespace, "canary", canary=CANARY)
    write_environments(settings, config)
    desk = desks()
    assert deploy(desk, "staging", "web", images["v1"], "alice").request.status == "succeeded"
    with traffic(public):
        done = deploy(desk, "staging", "web", images["bad"], "alice")
    assert done.request.status == "failed"
    assert get(public) == "version v1"
    events = env_events(store)
    measured = [e for e in events if isinstance(e, AnalysisMeasured)]
    assert len(measured) == 1 and not measured[0].passed
    assert measured[0].errors > 0 and measured[0].error_rate_bp > 500
    assert "error rate" in measured[0].reasons[0]
    aborted, failed, rolled = events[-3:]
    assert isinstance(aborted, CanaryAborted) and aborted.step == 1
    assert isinstance(failed, DeploymentFailed) and "canary aborted at step 1" in failed.reason
    assert isinstance(rolled, RolledBack) and rolled.image_digest == images["v1"]
    canary = swarm.services.get(f"{namespace}-stg-web-green")
    assert canary.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] == 0
