"""Evidence gates: signed provenance, the latest scan, the tests; waivers granted by approvers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from app.config import Settings
from app.delivery.decisions import InvalidDecision
from app.delivery.desk import Desk
from app.delivery.errors import DeploymentRefused
from app.services.access import Role
from app.services.delivery import deploy
from events.store import EventStore
from events.vocabulary import DeploymentRequested, PromotionRefused, WaiverGranted
from tests.support.delivery import as_principal, build_app, environments, write_environments

pytestmark = pytest.mark.usefixtures("leftover_guard", "osv_advisories")


def refused(desk: Desk, digest: str, actor: str = "alice") -> DeploymentRefused:
    """The refusal of deploying `digest` to staging's web as `actor`."""
    with pytest.raises(DeploymentRefused) as caught:
        deploy(desk, "staging", "web", digest, actor, wait=False)
    return caught.value


def test_gates_refuse_a_vulnerable_an_untested_and_a_foreign_signed_digest_and_record_why(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    registry: Any,
    desks: Callable[[], Desk],
    namespace: str,
    tmp_path: Path,
) -> None:
    vulnerable = build_app(cli, store, tmp_path / "a", registry, {"v": "good"}, vulnerable=True)
    untested = build_app(cli, store, tmp_path / "b", registry, {"u": "good"}, tests=False)
    foreign = build_app(
        cli, store, tmp_path / "c", registry, {"f": "good"}, home=tmp_path / "another-shiplog"
    )
    write_environments(settings, environments(namespace))
    desk = desks()

    scan = refused(desk, vulnerable["v"])
    assert [r.policy for r in scan.refusals] == ["scan"]
    assert "at or above critical" in scan.refusals[0].reason
    assert "CVE" in scan.refusals[0].reason or "DSA" in scan.refusals[0].reason

    tests = refused(desk, untested["u"])
    assert [r.policy for r in tests.refusals] == ["tests"]
    assert "reported no tests" in tests.refusals[0].reason

    provenance = refused(desk, foreign["f"])
    assert [r.policy for r in provenance.refusals] == ["provenance"]
    assert "which this shiplog does not trust" in provenance.refusals[0].reason

    recorded = [e for e in store.read_stream("env-staging")]
    assert [type(e.data) for e in recorded] == [PromotionRefused] * 3
    assert all(e.metadata.actor == "alice" for e in recorded)
    first = recorded[0].data
    assert isinstance(first, PromotionRefused)
    assert (first.policy, first.image_digest) == ("scan", vulnerable["v"])
    kinds = [item.kind for item in first.evidence]
    assert kinds == ["provenance", "scan", "tests"]
    assert all(item.digest.startswith("sha256:") for item in first.evidence)


def test_an_approvers_waiver_lets_one_digest_pass_one_gate_for_others_until_it_expires(
    cli: CliRunner,
    store: EventStore,
    settings: Settings,
    client: TestClient,
    registry: Any,
    desks: Callable[[], Desk],
    namespace: str,
    tmp_path: Path,
) -> None:
    images = build_app(
        cli, store, tmp_path / "a", registry, {"v": "good", "w": "good"}, vulnerable=True
    )
    write_environments(settings, environments(namespace))
    waiver = {"image_digest": images["v"], "gate": "scan", "reason": "not reachable", "lasts": "2h"}

    as_principal(client, "bob", Role.DEPLOYER)
    assert client.post("/api/environments/staging/waivers", json=waiver).status_code == 403
    as_principal(client, "carol", Role.APPROVER)
    bad = client.post("/api/environments/staging/waivers", json={**waiver, "gate": "luck"})
    assert bad.status_code == 422
    granted = client.post("/api/environments/staging/waivers", json=waiver)
    assert granted.status_code == 201, granted.text
    assert granted.json()["granted_by"] == "carol"
    recorded = store.read_stream("env-staging")[-1]
    assert isinstance(recorded.data, WaiverGranted) and recorded.metadata.actor == "carol"

    desk = desks()
    assert refused(desk, images["v"], actor="carol").refusals[0].policy == "scan"  # her own
    assert refused(desk, images["w"]).refusals[0].policy == "scan"  # another digest
    later = dataclasses.replace(desk, now=lambda: desk.now() + timedelta(hours=3))
    assert refused(later, images["v"]).refusals[0].policy == "scan"  # expired

    progress = deploy(desk, "staging", "web", images["v"], "alice")
    assert progress.request.status == "succeeded", progress.request.reason
    requested = [e.data for e in store.read_stream("env-staging")]
    asked = [e for e in requested if isinstance(e, DeploymentRequested)]
    assert len(asked) == 1 and asked[0].waived == ("scan",)


def test_shiplog_waive_records_a_waiver_as_the_os_user_and_refuses_a_bad_one(
    cli: CliRunner, store: EventStore, settings: Settings, namespace: str
) -> None:
    write_environments(settings, environments(namespace))
    digest = "sha256:" + "c" * 64
    args = ["waive", "staging", digest, "--gate", "tests", "--reason", "flaky suite", "--for", "7d"]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"waived tests for {digest} in staging until" in result.output
    recorded = store.read_stream("env-staging")[-1]
    assert isinstance(recorded.data, WaiverGranted) and recorded.data.reason == "flaky suite"
    assert recorded.metadata.actor == settings.whoami()
    for bad, why in (
        (["--for", "40d"], "--for: a period must be between 0 seconds and 30d"),
        (["--gate", "luck"], "not one of"),
    ):
        refused_cli = cli.invoke(app, [*args, *bad])
        assert isinstance(refused_cli.exception, InvalidDecision) and why in str(
            refused_cli.exception
        )
