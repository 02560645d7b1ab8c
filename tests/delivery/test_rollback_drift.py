"""Rollbacks that pin, and drift between the swarm and the ledger, on a real swarm."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.delivery.rollbacks import CannotRollBack
from app.projections import projector
from app.services.access import Role
from events.store import EventStore
from events.vocabulary import (
    DeploymentRequested,
    DriftDetected,
    DriftResolved,
    EnvironmentPinned,
    EnvironmentUnpinned,
    PromotionRefused,
    RolledBack,
)
from tests.support.delivery import (
    as_principal,
    build_app,
    environments,
    swarm_image,
    write_environments,
)

pytestmark = pytest.mark.usefixtures("leftover_guard", "osv_advisories")


def deploy(cli: CliRunner, digest: str) -> str:
    """`shiplog deploy staging web DIGEST`; its output (the deployment must succeed)."""
    result = cli.invoke(app, ["deploy", "staging", "web", digest])
    assert result.exit_code == 0, result.output
    return result.output


def docker(*args: str) -> None:
    """The docker CLI, as a person at the swarm would use it."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_a_rollback_returns_the_previous_digest_and_pins_it_until_someone_unpins(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    client: TestClient,
    registry: Any,
    swarm: Any,
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(cli, store, tmp_path / "a", registry, {"v1": "good", "v2": "good"})
    write_environments(settings, environments(namespace))
    v1, v2 = images["v1"], images["v2"]
    deploy(cli, v1)
    deploy(cli, v2)
    v2_deployment = next(
        e.data.deployment_id
        for e in store.read_stream("env-staging")
        if isinstance(e.data, DeploymentRequested) and e.data.image_digest == v2
    )

    nowhere = cli.invoke(app, ["rollback", "staging", "web", "--reason", "x", "--to", v2])
    assert isinstance(nowhere.exception, CannotRollBack)
    assert f"earlier digests: {v1}" in str(nowhere.exception)

    result = cli.invoke(app, ["rollback", "staging", "web", "--reason", "v2 breaks checkout"])
    assert result.exit_code == 0, result.output
    assert f"{v2} -> {v1}: converged" in result.output
    assert swarm_image(swarm, f"{namespace}-stg-web") == f"{images.repository}@{v1}"
    pinned, rolled = (e.data for e in store.read_stream("env-staging")[-2:])
    assert isinstance(pinned, EnvironmentPinned) and pinned.image_digest == v1
    assert isinstance(rolled, RolledBack)
    assert (rolled.from_digest, rolled.image_digest) == (v2, v1)
    assert rolled.deployment_id == v2_deployment and rolled.reason == "v2 breaks checkout"

    again = cli.invoke(app, ["deploy", "staging", "web", v2])
    assert again.exit_code != 0
    refused = store.read_stream("env-staging")[-1].data
    assert isinstance(refused, PromotionRefused) and refused.policy == "pinned"
    assert "pinned at" in refused.reason and "v2 breaks checkout" in refused.reason

    projector(store).catch_up_all()
    history = client.get("/api/environments/staging").json()
    assert history["running"][0]["image_digest"] == v1
    page = client.get("/environments/staging").text
    assert 'id="pin-web"' in page and "v2 breaks checkout" in page

    as_principal(client, "bob", Role.DEPLOYER)
    unpinned = client.post(
        "/environments/staging/unpin",
        data={"service": "web", "reason": "fixed in v2.1"},
        follow_redirects=False,
    )
    assert unpinned.status_code == 303
    last = store.read_stream("env-staging")[-1]
    assert isinstance(last.data, EnvironmentUnpinned) and last.metadata.actor == "bob"
    deploy(cli, v2)
    assert swarm_image(swarm, f"{namespace}-stg-web") == f"{images.repository}@{v2}"


def test_drift_made_by_hand_with_the_docker_cli_is_detected_listed_and_resolved(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    client: TestClient,
    registry: Any,
    swarm: Any,
    busybox_image: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(cli, store, tmp_path / "a", registry, {"v1": "good", "v2": "good"})
    write_environments(settings, environments(namespace))
    v1, v2 = images["v1"], images["v2"]
    deploy(cli, v1)
    calm = cli.invoke(app, ["drift", "staging"])
    assert calm.exit_code == 0 and "the swarm runs what the ledger says" in calm.output
    name, stray = f"{namespace}-stg-web", f"{namespace}-stg-stray"

    docker("service", "update", "--detach", "--image", f"{images.repository}@{v2}",
           "--replicas", "2", name)  # fmt: skip
    docker("service", "create", "--detach", "--name", stray, "--label", "io.shiplog.test=1",
           busybox_image, "sleep", "600")  # fmt: skip
    drifted = cli.invoke(app, ["drift", "staging"])
    assert drifted.exit_code == 1, drifted.output
    assert f"web: image, replicas: runs {v2} x2; should run {v1} x1" in drifted.output
    assert f"{stray}: unknown" in drifted.output
    found = [e.data for e in store.read_stream("env-staging") if isinstance(e.data, DriftDetected)]
    assert [(d.service, d.differences) for d in found] == [
        ("web", ("image", "replicas")),
        (stray, ("unknown",)),
    ]
    web = found[0]
    assert web.observed is not None and web.intended is not None
    assert (web.observed.image_digest, web.intended.image_digest) == (v2, v1)
    before = len(store.read_stream("env-staging"))
    assert cli.invoke(app, ["drift", "staging"]).exit_code == 1
    assert len(store.read_stream("env-staging")) == before  # the same drift is recorded once

    projector(store).catch_up_all()
    page = client.get("/environments/staging").text
    assert 'id="drift-web"' in page and stray in page
    as_principal(client, "otto", Role.OPERATOR)
    listed = client.get("/api/environments/staging/drift").json()
    assert {d["service"] for d in listed} == {"web", stray}

    docker("service", "update", "--detach", "--image", f"{images.repository}@{v1}",
           "--replicas", "1", name)  # fmt: skip
    docker("service", "rm", stray)
    checked = client.post("/api/environments/staging/drift-checks")
    assert checked.status_code == 200 and checked.json() == []
    resolved = [e for e in store.read_stream("env-staging") if isinstance(e.data, DriftResolved)]
    assert {(e.data.service, e.data.how) for e in resolved} == {("web", "matches"), (stray, "gone")}
    assert {e.metadata.actor for e in resolved} == {"otto"}
