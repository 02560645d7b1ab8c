"""POST /api/deployments and /api/incidents over a real PostgreSQL: events from outside."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.services.access import Role
from events.store import EventStore, RecordedEvent

DIGEST = "sha256:" + "ab" * 32


def deployment(**changes: Any) -> dict[str, Any]:
    """A valid POST /api/deployments body, with `changes`."""
    body: dict[str, Any] = {
        "environment": "production",
        "service": "web",
        "image_digest": DIGEST,
        "status": "succeeded",
        "deployment_id": "dep-1",
    }
    body.update(changes)
    return body


def incident(**changes: Any) -> dict[str, Any]:
    """A valid POST /api/incidents body that opens incident inc-1, with `changes`."""
    body: dict[str, Any] = {
        "incident_id": "inc-1",
        "environment": "production",
        "service": "web",
        "summary": "checkout returns 502",
        "caused_by_deployment": "dep-1",
    }
    body.update(changes)
    return body


def everything(store: EventStore) -> list[RecordedEvent]:
    return store.read_all()


def data(event: RecordedEvent) -> dict[str, Any]:
    """The event's payload as JSON."""
    return event.data.model_dump(mode="json")


def field_named(response: Any) -> list[str]:
    """The last element of each error location of a 422 response."""
    assert response.status_code == 422, response.text
    return [str(error["loc"][-1]) for error in response.json()["detail"]]


# --- deployments -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "types"),
    [
        ("started", ["DeploymentStarted"]),
        ("succeeded", ["DeploymentStarted", "DeploymentSucceeded"]),
        ("failed", ["DeploymentStarted", "DeploymentFailed"]),
    ],
)
def test_each_status_writes_its_events_with_the_token_name_as_actor_and_source_api(
    client: TestClient, store: EventStore, status: str, types: list[str]
) -> None:
    extra = {"reason": "health check failed"} if status == "failed" else {}
    response = client.post(
        "/api/deployments", json=deployment(status=status, run_id="run-9", **extra)
    )
    assert response.status_code == 201, response.text
    body = response.json()
    events = store.read_stream("env-production")
    assert [event.type_name for event in events] == types
    assert body == {
        "deployment_id": "dep-1",
        "positions": [event.position for event in events],
        "replayed": False,
    }
    assert len({event.recorded_at for event in events}) == 1  # one append, one transaction
    for event in events:
        assert event.metadata.actor == "admin"  # the client's token
        assert event.metadata.source == "api"
        assert data(event)["deployment_id"] == "dep-1"
        assert data(event)["service"] == "web"
    assert data(events[0])["image_digest"] == DIGEST
    assert data(events[0])["run_id"] == "run-9"
    if status == "failed":
        assert data(events[1])["reason"] == "health check failed"


def test_an_identical_retry_returns_the_original_positions_and_writes_nothing(
    client: TestClient, store: EventStore
) -> None:
    first = client.post("/api/deployments", json=deployment())
    before = everything(store)
    again = client.post("/api/deployments", json=deployment())
    assert again.status_code == 201, again.text
    assert again.json()["positions"] == first.json()["positions"]
    assert again.json()["replayed"] is True
    assert everything(store) == before


def test_a_started_deployment_can_later_be_reported_finished_under_the_same_id(
    client: TestClient, store: EventStore
) -> None:
    started = client.post("/api/deployments", json=deployment(status="started"))
    finished = client.post("/api/deployments", json=deployment(status="succeeded"))
    assert finished.status_code == 201, finished.text
    types = [event.type_name for event in store.read_stream("env-production")]
    assert types == ["DeploymentStarted", "DeploymentSucceeded"]
    assert finished.json()["positions"][0] == started.json()["positions"][0]


@pytest.mark.parametrize(
    "changes",
    [{"image_digest": "sha256:" + "cd" * 32}, {"status": "failed"}, {"environment": "staging"}],
)
def test_the_same_deployment_id_with_other_content_is_a_conflict_and_writes_nothing(
    client: TestClient, store: EventStore, changes: dict[str, Any]
) -> None:
    client.post("/api/deployments", json=deployment())
    before = everything(store)
    response = client.post("/api/deployments", json=deployment(**changes))
    assert response.status_code == 409, response.text
    assert "dep-1" in response.json()["detail"]
    assert everything(store) == before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"image_digest": "sha256:ABC"}, "image_digest"),
        ({"image_digest": "ab" * 32}, "image_digest"),
        ({"status": "rolled-back"}, "status"),
        ({"environment": "prod env!"}, "environment"),
        ({"environment": "-prod"}, "environment"),
        ({"environment": ""}, "environment"),
        ({"service": None}, "service"),
        ({"service": "w\x00b"}, "service"),
        ({"run_id": "run\x00"}, "run_id"),
        ({"reason": "why not"}, "reason"),
        ({"deployed_by": "someone"}, "deployed_by"),
    ],
)
def test_bad_deployment_fields_are_refused_naming_the_field_and_write_nothing(
    client: TestClient, store: EventStore, changes: dict[str, Any], field: str
) -> None:
    response = client.post("/api/deployments", json=deployment(**changes))
    assert field in field_named(response)
    assert everything(store) == []


def test_deployment_times_commit_and_repository_are_recorded_as_reported(
    client: TestClient, store: EventStore
) -> None:
    body = deployment(
        started_at="2026-01-01T10:00:00Z",
        finished_at="2026-01-01T11:30:00+01:00",
        repository="https://git.example.com/acme/web",
        commit="c" * 40,
    )
    response = client.post("/api/deployments", json=body)
    assert response.status_code == 201, response.text
    started, succeeded = (data(event) for event in store.read_stream("env-production"))
    assert started["started_at"] == "2026-01-01T10:00:00Z"
    assert started["commit"] == "c" * 40
    assert started["repository"] == "https://git.example.com/acme/web"
    assert succeeded["finished_at"] == "2026-01-01T10:30:00Z"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"started_at": "2026-01-01T10:00:00"}, "started_at"),  # no time zone: ambiguous
        ({"finished_at": "yesterday"}, "finished_at"),
        ({"finished_at": "2026-01-01T10:00:00Z", "status": "started"}, "finished_at"),
        ({"commit": "abc123"}, "commit"),
    ],
)
def test_bad_deployment_times_and_commits_are_refused_naming_the_field(
    client: TestClient, store: EventStore, changes: dict[str, Any], field: str
) -> None:
    response = client.post("/api/deployments", json=deployment(**changes))
    assert response.status_code == 422, response.text
    assert field in field_named(response)
    assert everything(store) == []


def test_a_deployment_without_an_id_gets_a_new_one_each_time(
    client: TestClient, store: EventStore
) -> None:
    body = deployment()
    del body["deployment_id"]
    first = client.post("/api/deployments", json=body).json()
    second = client.post("/api/deployments", json=body).json()
    assert first["deployment_id"] != second["deployment_id"]
    assert len(store.read_stream("env-production")) == 4


# --- incidents -------------------------------------------------------------------------


def test_an_incident_is_opened_then_resolved_and_resolving_again_is_a_conflict(
    client: TestClient, store: EventStore
) -> None:
    opened = client.post("/api/incidents", json=incident())
    assert opened.status_code == 201, opened.text
    resolved = client.post(
        "/api/incidents",
        json={"incident_id": "inc-1", "resolved": True, "resolution": "rolled back"},
    )
    assert resolved.status_code == 201, resolved.text
    events = store.read_stream("incident-inc-1")
    assert [event.type_name for event in events] == ["IncidentOpened", "IncidentResolved"]
    assert resolved.json()["positions"] == [event.position for event in events]
    assert data(events[0])["caused_by_deployment"] == "dep-1"
    assert data(events[1])["resolution"] == "rolled back"
    assert {event.metadata.actor for event in events} == {"admin"}

    again = client.post(
        "/api/incidents", json={"incident_id": "inc-1", "resolved": True, "resolution": "fixed"}
    )
    assert again.status_code == 409, again.text
    assert "already resolved" in again.json()["detail"]
    assert len(store.read_stream("incident-inc-1")) == 2


def test_incident_retries_are_answered_with_the_original_positions(
    client: TestClient, store: EventStore
) -> None:
    body = incident(resolved=True, resolution="rolled back")
    first = client.post("/api/incidents", json=body)
    before = everything(store)
    again = client.post("/api/incidents", json=body)
    assert again.status_code == 201, again.text
    assert again.json()["positions"] == first.json()["positions"]
    assert again.json()["replayed"] is True
    assert everything(store) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"incident_id": "inc 1"}, "incident_id"),
        ({"environment": "prod env"}, "environment"),
        ({"summary": None}, "summary"),
        ({"summary": "a\x00b"}, "summary"),
        ({"resolution": "not resolved yet"}, "resolution"),
        ({"resolved_at": "2026-01-01T10:00:00Z"}, "resolved_at"),  # not resolved: true
        ({"opened_at": "2026-01-01 10:00"}, "opened_at"),
    ],
)
def test_bad_incident_fields_are_refused_naming_the_field_and_write_nothing(
    client: TestClient, store: EventStore, body: dict[str, Any], field: str
) -> None:
    response = client.post("/api/incidents", json=incident(**body))
    assert field in field_named(response)
    assert everything(store) == []


def test_incident_times_are_recorded_as_reported(client: TestClient, store: EventStore) -> None:
    body = incident(
        opened_at="2026-01-01T10:00:00Z", resolved=True, resolved_at="2026-01-01T12:00:00Z"
    )
    response = client.post("/api/incidents", json=body)
    assert response.status_code == 201, response.text
    opened, resolved = (data(event) for event in store.read_stream("incident-inc-1"))
    assert opened["opened_at"] == "2026-01-01T10:00:00Z"
    assert resolved["resolved_at"] == "2026-01-01T12:00:00Z"
    again = client.post("/api/incidents", json=incident(opened_at="2026-01-01T09:00:00Z"))
    assert again.status_code == 409, again.text
    assert "opened_at" in again.json()["detail"]


def test_an_incident_cannot_be_reopened_with_other_details(
    client: TestClient, store: EventStore
) -> None:
    client.post("/api/incidents", json=incident())
    response = client.post("/api/incidents", json=incident(summary="something else"))
    assert response.status_code == 409
    assert "summary" in response.json()["detail"]
    assert len(store.read_stream("incident-inc-1")) == 1


# --- the audit query sees them ---------------------------------------------------------


def test_written_events_appear_in_the_audit_query_filtered_by_actor(
    client: TestClient, client_as: Callable[..., TestClient]
) -> None:
    carol = client_as(Role.DEPLOYER, Role.OPERATOR, name="carol@example.com")
    carol.post("/api/deployments", json=deployment())
    client.post("/api/deployments", json=deployment(deployment_id="dep-2", status="started"))
    carol.post("/api/incidents", json=incident(resolved=True))
    response = client.get("/api/events", params={"actor": "carol@example.com"})
    assert response.status_code == 200, response.text
    listed = [(event["stream"], event["type"]) for event in response.json()["events"]]
    assert listed == [
        ("env-production", "DeploymentStarted"),
        ("env-production", "DeploymentSucceeded"),
        ("incident-inc-1", "IncidentOpened"),
        ("incident-inc-1", "IncidentResolved"),
    ]
    assert all(event["metadata"]["source"] == "api" for event in response.json()["events"])


def test_resolving_an_incident_that_was_never_opened_asks_for_the_opening_fields(
    client: TestClient, store: EventStore
) -> None:
    response = client.post("/api/incidents", json={"incident_id": "inc-9", "resolved": True})
    assert field_named(response) == ["environment"]
    assert "not open" in response.json()["detail"][0]["msg"]
    assert everything(store) == []
