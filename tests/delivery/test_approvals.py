"""Approvals, rejections, expiry, soak and freeze windows: deployments that wait, on a swarm."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.delivery.desk import Desk
from app.delivery.rollout import advance
from app.projections import projector
from app.services.access import Role
from app.services.delivery import advance_waiting, deploy, promote
from events.store import EventStore
from events.vocabulary import (
    ApprovalGranted,
    ApprovalRejected,
    DeploymentStarted,
    DeploymentTimedOut,
)
from tests.support.delivery import (
    as_principal,
    build_app,
    environments,
    swarm_image,
    write_environments,
)
from tests.support.html_tree import parse

pytestmark = pytest.mark.usefixtures("leftover_guard", "osv_advisories")


def production_types(store: EventStore) -> list[str]:
    """The type names of production's events, in order."""
    return [e.type_name for e in store.read_stream("env-production")]


def test_a_protected_deployment_waits_for_an_approval_by_someone_else_in_the_group(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    client: TestClient,
    registry: Any,
    swarm: Any,
    desks: Callable[[], Desk],
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(cli, store, tmp_path / "a", registry, {"v1": "good", "v2": "good"})
    write_environments(
        settings, environments(namespace, approvals={"count": 1, "groups": ["release"]})
    )
    desk = desks()
    assert deploy(desk, "staging", "web", images["v1"], "alice").request.status == "succeeded"
    waiting = promote(desk, "web", "staging", "production", "alice", wait=False)
    request = waiting.request
    assert request.status == "waiting" and [w.rule for w in waiting.waits] == ["approvals"]
    assert "0 of 1 approval(s) from release, not by alice" in waiting.waits[0].reason

    projector(store).catch_up_all()
    page = client.get("/environments/production").text
    assert f'id="decide-{request.deployment_id}"' in page and request.evidence_sha256 in page

    url = f"/api/environments/production/deployments/{request.deployment_id}/approvals"
    seen = {"image_digest": request.image_digest, "evidence_sha256": request.evidence_sha256}
    as_principal(client, "alice", Role.APPROVER)
    own = client.post(url, json=seen)
    assert own.status_code == 403 and "may not approve it" in own.json()["detail"]
    as_principal(client, "erin", Role.APPROVER)
    outsider = client.post(url, json=seen)
    assert outsider.status_code == 403 and "not a member of release" in outsider.json()["detail"]
    as_principal(client, "carol", Role.DEPLOYER)
    assert client.post(url, json=seen).status_code == 403  # not an approver
    as_principal(client, "carol", Role.APPROVER)
    other_digest = client.post(url, json={**seen, "image_digest": images["v2"]})
    assert other_digest.status_code == 409 and images["v1"] in other_digest.json()["detail"]
    other_evidence = client.post(url, json={**seen, "evidence_sha256": "0" * 64})
    assert other_evidence.status_code == 409
    assert production_types(store) == ["DeploymentRequested"]

    approved = client.post(url, json={**seen, "comment": "looks good"})
    assert approved.status_code == 201, approved.text
    state = client.get(f"/api/environments/production/deployments/{request.deployment_id}")
    assert state.json()["status"] == "succeeded" and state.json()["approved_by"] == ["carol"]
    events = store.read_stream("env-production")
    assert [e.type_name for e in events] == [
        "DeploymentRequested",
        "ApprovalGranted",
        "DeploymentStarted",
        "DeploymentSucceeded",
    ]
    granted = events[1]
    assert isinstance(granted.data, ApprovalGranted) and granted.metadata.actor == "carol"
    assert (granted.data.image_digest, granted.data.evidence_sha256) == (
        images["v1"],
        request.evidence_sha256,
    )
    assert isinstance(events[2].data, DeploymentStarted)
    assert events[2].metadata.actor == "alice"  # who asked for it
    projector(store).catch_up_all()
    (now,) = client.get("/api/environments/production").json()["delivered"]
    assert (now["image_digest"], now["requested_by"], now["approved_by"]) == (
        images["v1"],
        "alice",
        ["carol"],
    )
    assert now["evidence_sha256"] == request.evidence_sha256
    assert [item["kind"] for item in now["evidence"]][:3] == ["provenance", "scan", "tests"]
    before = client.get("/api/environments/production", params={"as_of": str(events[1].cursor)})
    assert before.json()["delivered"] == []  # approved, not yet delivered, at that moment
    delivered_now = parse(client.get("/environments/production").text).by_id("delivered").text
    assert "carol" in delivered_now and "alice" in delivered_now and "provenance" in delivered_now
    then = client.get("/environments/production", params={"as_of": str(events[1].cursor)}).text
    assert "Nothing shiplog delivered runs here as of then" in then
    assert 'id="decide-' not in then  # the past is shown without the controls
    assert swarm_image(swarm, f"{namespace}-prd-web") == f"{images.repository}@{images['v1']}"


def test_a_waiting_deployment_can_be_rejected_or_expire_and_then_never_starts(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    client: TestClient,
    registry: Any,
    swarm: Any,
    desks: Callable[[], Desk],
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(cli, store, tmp_path / "a", registry, {"v1": "good"})
    write_environments(settings, environments(namespace, approvals={"count": 1}))
    desk = desks()
    assert deploy(desk, "staging", "web", images["v1"], "alice").request.status == "succeeded"

    first = promote(desk, "web", "staging", "production", "alice", wait=False).request
    as_principal(client, "dave", Role.APPROVER)
    rejected = client.post(
        f"/environments/production/deployments/{first.deployment_id}/reject",
        data={"reason": "not during the audit"},
        follow_redirects=False,
    )
    assert rejected.status_code == 303
    after = advance(desk, "production", first.deployment_id).request
    assert after.status == "rejected" and after.reason == "rejected by dave: not during the audit"
    last = store.read_stream("env-production")[-1]
    assert isinstance(last.data, ApprovalRejected) and last.metadata.actor == "dave"

    second = promote(desk, "web", "staging", "production", "alice", wait=False).request
    tomorrow = dataclasses.replace(desk, now=lambda: datetime.now(UTC) + timedelta(days=1, hours=1))
    expired = advance(tomorrow, "production", second.deployment_id).request
    assert expired.status == "expired" and expired.reason == "timed out waiting for approvals"
    timed_out = store.read_stream("env-production")[-1].data
    assert isinstance(timed_out, DeploymentTimedOut) and timed_out.waiting_for == ("approvals",)
    assert timed_out.waited_ms >= 86_400_000

    third = promote(desk, "web", "staging", "production", "alice", wait=False).request
    result = cli.invoke(app, ["approve", "production", third.deployment_id])  # as the OS user
    assert result.exit_code == 0, result.output
    assert f"(evidence {third.evidence_sha256})" in result.output and "succeeded" in result.output
    assert "DeploymentStarted" not in production_types(store)[:-3]  # only the approved one ran


def next_friday_evening(after: datetime) -> datetime:
    """20:00 UTC on the first Friday at least two days after `after`."""
    day = (after + timedelta(days=2)).replace(hour=20, minute=0, second=0, microsecond=0)
    return day + timedelta(days=(4 - day.weekday()) % 7)


def test_soak_time_and_freeze_windows_hold_a_promotion_until_they_pass(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    registry: Any,
    swarm: Any,
    desks: Callable[[], Desk],
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(cli, store, tmp_path / "a", registry, {"v1": "good"})
    write_environments(
        settings, environments(namespace, soak="1h", freeze=["* 18-23 * * fri"], wait_timeout="7d")
    )
    desk = desks()
    assert deploy(desk, "staging", "web", images["v1"], "alice").request.status == "succeeded"
    soaking = promote(desk, "web", "staging", "production", "alice", wait=False)
    assert [w.rule for w in soaking.waits] == ["soak"]
    assert "must run 3600 s in staging first" in soaking.waits[0].reason
    assert soaking.waits[0].until is not None

    friday = next_friday_evening(datetime.now(UTC))
    frozen = advance(dataclasses.replace(desk, now=lambda: friday), "production",
                     soaking.request.deployment_id)  # fmt: skip
    assert [w.rule for w in frozen.waits] == ["freeze"]
    assert frozen.waits[0].until == friday.replace(hour=0) + timedelta(days=1)
    assert production_types(store) == ["DeploymentRequested"]

    saturday = friday + timedelta(hours=4, minutes=5)
    (done,) = advance_waiting(dataclasses.replace(desk, now=lambda: saturday))  # serve's worker
    assert done.request.deployment_id == soaking.request.deployment_id
    assert done.request.status == "succeeded"
    assert swarm_image(swarm, f"{namespace}-prd-web") == f"{images.repository}@{images['v1']}"
