"""Each integration's ids are its own: no tool can claim another's deployment or CloudEvent.

Before namespacing, a caller who knew another tool's deployment id (or CloudEvent
source and id) could report it first, and the real report then got 409.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.services.access import Role
from events.store import EventStore

DIGEST, OTHER = "sha256:" + "ab" * 32, "sha256:" + "cd" * 32
TOOL = "https://argo.example/api"


def deployment(**changes: Any) -> dict[str, Any]:
    """A valid POST /api/deployments body for rollout dep-1."""
    body = {"environment": "production", "service": "web", "image_digest": DIGEST,
            "status": "succeeded", "deployment_id": "dep-1"}  # fmt: skip
    return body | changes


def deployed(digest: str) -> dict[str, Any]:
    """A service.deployed CloudEvent `ev-1` from TOOL: web in production runs `digest`."""
    kind = "dev.cdevents.service.deployed.0.3.0"
    identity = {"id": "ev-1", "source": TOOL, "type": kind}
    purl = "pkg:oci/web@" + digest.replace(":", "%3A")
    subject = {"id": "web", "content": {"environment": {"id": "production"}, "artifactId": purl}}
    context = identity | {"specversion": "0.5.1", "timestamp": "2026-03-01T10:00:00Z"}
    data = {"context": context, "subject": subject}
    return identity | {"specversion": "1.0", "datacontenttype": "application/json", "data": data}


def post_cloudevent(client: TestClient, body: dict[str, Any]) -> Any:
    """POST a CloudEvent in structured mode."""
    headers = {"Content-Type": "application/cloudevents+json"}
    return client.post("/api/cdevents", content=json.dumps(body), headers=headers)


def test_an_integrations_deployment_ids_are_recorded_under_its_name(
    client_as: Callable[..., TestClient], store: EventStore
) -> None:
    argo = client_as(Role.INTEGRATION, name="argo")
    response = argo.post("/api/deployments", json=deployment())
    assert response.status_code == 201, response.text
    assert response.json()["deployment_id"] == "argo/dep-1"
    events = store.read_stream("env-production")
    assert {event.data.deployment_id for event in events} == {"argo/dep-1"}  # type: ignore[attr-defined]
    again = argo.post("/api/deployments", json=deployment())
    assert again.json()["replayed"] is True  # a retry is still a retry


def test_another_tool_reporting_the_same_id_first_does_not_block_the_real_report(
    client_as: Callable[..., TestClient], store: EventStore
) -> None:
    squatter = client_as(Role.INTEGRATION, name="squatter")
    first = squatter.post("/api/deployments", json=deployment(image_digest=OTHER))
    assert first.status_code == 201, first.text
    shared = client_as(Role.DEPLOYER, name="carol")
    assert shared.post("/api/deployments", json=deployment(status="failed")).status_code == 201
    real = client_as(Role.INTEGRATION, name="argo").post("/api/deployments", json=deployment())
    assert real.status_code == 201, real.text
    assert real.json()["replayed"] is False
    ids = {e.data.deployment_id for e in store.read_stream("env-production")}  # type: ignore[attr-defined]
    assert ids == {"squatter/dep-1", "dep-1", "argo/dep-1"}


def test_an_integration_reports_only_its_own_incidents_and_causes(
    client_as: Callable[..., TestClient], store: EventStore
) -> None:
    pager = client_as(Role.INTEGRATION, name="pager")
    body = {"incident_id": "inc-1", "environment": "production", "service": "web",
            "summary": "errors", "caused_by_deployment": "dep-1"}  # fmt: skip
    response = pager.post("/api/incidents", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["incident_id"] == "pager/inc-1"
    [opened] = store.read_stream("incident-pager/inc-1")
    assert opened.data.caused_by_deployment == "pager/dep-1"  # type: ignore[attr-defined]
    ops = client_as(Role.OPERATOR, name="ops")
    resolving = {"incident_id": "inc-1", "resolved": True}
    assert ops.post("/api/incidents", json=resolving).status_code == 422  # ops' inc-1: not open
    assert len(store.read_stream("incident-pager/inc-1")) == 1


def test_a_cloudevent_identity_claimed_by_another_tool_first_is_still_the_real_tools(
    client_as: Callable[..., TestClient], store: EventStore
) -> None:
    squatter = client_as(Role.INTEGRATION, name="squatter")
    assert post_cloudevent(squatter, deployed(OTHER)).status_code == 201
    argo = client_as(Role.INTEGRATION, name="argo")
    real = post_cloudevent(argo, deployed(DIGEST))
    assert real.status_code == 201, real.text
    assert real.json()["replayed"] is False
    assert post_cloudevent(argo, deployed(DIGEST)).json()["replayed"] is True
    by_tool = {
        event.metadata.actor: event.data.deployment_id  # type: ignore[attr-defined]
        for event in store.read_stream("env-production")
    }
    assert by_tool["argo"].startswith("argo/") and by_tool["squatter"].startswith("squatter/")
    # One CloudEvent identity, two owners: each tool's copy is its own.
    assert by_tool["argo"].removeprefix("argo/") == by_tool["squatter"].removeprefix("squatter/")


def test_an_integrations_cloudevents_keep_their_identity_in_its_own_namespace(
    client_as: Callable[..., TestClient], store: EventStore
) -> None:
    tested = {"id": "ev-2", "source": TOOL, "type": "dev.cdevents.testcaserun.finished.0.3.0"}
    content = {"outcome": "success", "environment": {"id": "production"}}
    data = {
        "context": tested | {"specversion": "0.5.1", "timestamp": "2026-03-01T10:00:00Z"},
        "subject": {"id": "case-1", "content": content},
    }
    kept_whole = tested | {"specversion": "1.0", "data": data}
    streams: dict[str, str] = {}
    for name in ("squatter", "argo"):
        tool = client_as(Role.INTEGRATION, name=name)
        for body in (deployed(DIGEST), kept_whole):
            answer = post_cloudevent(tool, body)
            assert answer.status_code == 201, answer.text
            assert answer.json()["replayed"] is False  # the other tool's copy claims nothing
            assert post_cloudevent(tool, body).json()["replayed"] is True
        streams[name] = answer.json()["stream"]
    assert streams["argo"].startswith("cdevent-argo/")
    assert streams["argo"].removeprefix("cdevent-argo/") == streams["squatter"].removeprefix(
        "cdevent-squatter/"
    )
    recorded = store.read_all()
    assert len(recorded) == 6  # a deployment (started, succeeded) and a test run, per tool
    identities = {(e.metadata.cloudevent_source, e.metadata.cloudevent_id) for e in recorded}
    assert identities == {(TOOL, "ev-1"), (TOOL, "ev-2")}
