"""Rolling deployments on a real one-node swarm: `shiplog deploy` and `shiplog promote`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from events.store import EventStore
from events.vocabulary import (
    DeploymentFailed,
    DeploymentRequested,
    DeploymentStarted,
    DeploymentSucceeded,
    RolledBack,
)
from tests.support.delivery import build_app, environments, swarm_image, write_environments

pytestmark = pytest.mark.usefixtures("leftover_guard", "osv_advisories")


def env_types(store: EventStore, environment: str) -> list[str]:
    """The type names of an environment's events, in order."""
    return [event.type_name for event in store.read_stream(f"env-{environment}")]


def test_a_digest_rolls_out_and_a_failing_one_is_rolled_back_by_swarm_and_recorded(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    registry: Any,
    swarm: Any,
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(cli, store, tmp_path / "app", registry, {"v1": "good", "broken": "broken"})
    write_environments(settings, environments(namespace))

    result = cli.invoke(app, ["deploy", "staging", "web", images["v1"]])
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.output
    name = f"{namespace}-stg-web"
    assert swarm_image(swarm, name) == f"{images.repository}@{images['v1']}"
    spec = swarm.services.get(name).attrs["Spec"]
    update, rollback = spec["UpdateConfig"], spec["RollbackConfig"]
    assert update["Order"] == rollback["Order"] == "start-first"
    assert update["FailureAction"] == "rollback"
    assert update["Monitor"] == 2_000_000_000 and update["Parallelism"] == 1
    assert update["MaxFailureRatio"] == 0
    assert env_types(store, "staging") == [
        "DeploymentRequested",
        "DeploymentStarted",
        "DeploymentSucceeded",
    ]

    result = cli.invoke(app, ["deploy", "staging", "web", images["broken"]])
    assert result.exit_code == 1, result.output
    events = store.read_stream("env-staging")
    assert [e.type_name for e in events[3:]] == [
        "DeploymentRequested",
        "DeploymentStarted",
        "DeploymentFailed",
        "RolledBack",
    ]
    requested, started, failed, rolled = (e.data for e in events[3:])
    assert isinstance(requested, DeploymentRequested) and isinstance(started, DeploymentStarted)
    assert requested.previous_digest == started.previous_digest == images["v1"]
    assert isinstance(failed, DeploymentFailed) and "Swarm rolled it back" in failed.reason
    assert isinstance(rolled, RolledBack)
    assert (rolled.from_digest, rolled.image_digest) == (images["broken"], images["v1"])
    assert rolled.reason is not None and rolled.reason.startswith("automatic:")
    assert {e.metadata.actor for e in events} == {settings.whoami()}
    assert swarm_image(swarm, name) == f"{images.repository}@{images['v1']}"

    result = cli.invoke(app, ["promote", "web", "--from", "staging", "--to", "production"])
    assert result.exit_code == 0, result.output
    done = store.read_stream("env-production")
    assert isinstance(done[-1].data, DeploymentSucceeded)
    assert done[-1].data.image_digest == images["v1"]
    assert isinstance(done[0].data, DeploymentRequested)
    assert done[0].data.from_environment == "staging"
    assert swarm_image(swarm, f"{namespace}-prd-web") == f"{images.repository}@{images['v1']}"


def test_an_update_that_never_converges_is_rolled_back_by_shiplog_at_its_timeout(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    registry: Any,
    swarm: Any,
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(
        cli, store, tmp_path / "app", registry, {"v1": "good", "broken": "broken"}, scan=False
    )
    config = environments(namespace)
    staging = config["environments"][0]
    staging["gates"] = {"scan": None}
    web = staging["services"]["web"]
    # Failures during a long start period do not count: the broken task never turns healthy
    # and never fails, so Swarm's update waits for it until shiplog's timeout.
    web["health"] = {**web["health"], "start_period": "10m"}
    write_environments(settings, config)
    assert cli.invoke(app, ["deploy", "staging", "web", images["v1"]]).exit_code == 0
    # A short timeout only for the update that cannot converge: the first one may start
    # slowly on a busy machine.
    web["rolling"] = {**web["rolling"], "timeout": "8s"}
    write_environments(settings, config)

    result = cli.invoke(app, ["deploy", "staging", "web", images["broken"]])
    assert result.exit_code == 1, result.output
    failed, rolled = (e.data for e in store.read_stream("env-staging")[-2:])
    assert isinstance(failed, DeploymentFailed)
    assert failed.reason == "the update did not converge within 8 s; shiplog rolled it back"
    assert isinstance(rolled, RolledBack) and rolled.image_digest == images["v1"]
    assert swarm_image(swarm, f"{namespace}-stg-web") == f"{images.repository}@{images['v1']}"
