"""Times other tools report: refused when they cannot be true; never deciding what is current.

A reported time is kept in its own field; what a service runs now follows the
ledger's order. Events with impossible times that reached the ledger before these
rules (appended here straight through the store) must not keep a rollout "running".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.projections import projector
from app.queries.deployments import deployed_images
from events.catalogue import Metadata
from events.store import ANY, EventStore
from events.vocabulary import DeploymentStarted, DeploymentSucceeded

OLD, NEW = "sha256:" + "01" * 32, "sha256:" + "02" * 32
TOOL = "https://ci.example/argo"


def iso(moment: datetime) -> str:
    """`moment` as RFC 3339 UTC text."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def deployment(**changes: Any) -> dict[str, Any]:
    """A valid POST /api/deployments body (a rollout of NEW that succeeded)."""
    body = {"environment": "production", "service": "web", "image_digest": NEW,
            "status": "succeeded", "deployment_id": "dep-1"}  # fmt: skip
    return body | changes


def problem(response: Any) -> tuple[str, str]:
    """The field a 422 names and its message."""
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    return str(detail["loc"][-1]), detail["msg"]


NOW = datetime.now(UTC)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"finished_at": iso(NOW + timedelta(days=365 * 70))}, "finished_at", "in the future"),
        ({"started_at": iso(NOW + timedelta(hours=1))}, "started_at", "in the future"),
        ({"started_at": "1970-01-01T00:00:00Z"}, "started_at", "before 2000"),
        (
            {
                "started_at": iso(NOW - timedelta(hours=1)),
                "finished_at": iso(NOW - timedelta(hours=2)),
            },
            "finished_at",
            "before started_at",
        ),
    ],
    ids=["finished in 2096", "started in an hour", "started in 1970", "finished before started"],
)
def test_a_deployment_time_that_cannot_be_true_is_refused_naming_the_field(
    client: TestClient, store: EventStore, changes: dict[str, Any], field: str, words: str
) -> None:
    named, message = problem(client.post("/api/deployments", json=deployment(**changes)))
    assert named == field and words in message
    assert store.read_stream("env-production") == []


def test_a_little_clock_skew_is_allowed(client: TestClient) -> None:
    ahead = iso(NOW + timedelta(seconds=60))
    response = client.post("/api/deployments", json=deployment(finished_at=ahead))
    assert response.status_code == 201, response.text


def test_a_finish_reported_later_cannot_come_before_the_recorded_start(
    client: TestClient,
) -> None:
    start = NOW - timedelta(hours=1)
    began = client.post(
        "/api/deployments", json=deployment(status="started", started_at=iso(start))
    )
    assert began.status_code == 201, began.text
    early = iso(start - timedelta(minutes=5))
    named, message = problem(
        client.post("/api/deployments", json=deployment(started_at=iso(start), finished_at=early))
    )
    assert named == "finished_at" and "before" in message


def test_an_incident_cannot_be_resolved_before_it_was_opened(client: TestClient) -> None:
    opened_at = NOW - timedelta(hours=2)
    opened = client.post(
        "/api/incidents",
        json={"incident_id": "inc-1", "environment": "production", "service": "web",
              "summary": "errors", "opened_at": iso(opened_at)},
    )  # fmt: skip
    assert opened.status_code == 201, opened.text
    resolving = {"incident_id": "inc-1", "resolved": True,
                 "resolved_at": iso(opened_at - timedelta(minutes=1))}  # fmt: skip
    named, message = problem(client.post("/api/incidents", json=resolving))
    assert named == "resolved_at" and "before opened_at" in message


def cloudevent(kind: str, subject: dict[str, Any], at: str, event_id: str) -> dict[str, Any]:
    """A CloudEvent carrying a CDEvent of `kind` (e.g. `incident.detected`) at time `at`."""
    kind = f"dev.cdevents.{kind}.0.3.0"
    identity = {"id": event_id, "source": TOOL, "type": kind}
    context = identity | {"specversion": "0.5.1", "timestamp": at}
    data = {"context": context, "subject": subject}
    return identity | {"specversion": "1.0", "datacontenttype": "application/json", "data": data}


def post_cloudevent(client: TestClient, body: dict[str, Any]) -> Any:
    """POST a CloudEvent in structured mode."""
    headers = {"Content-Type": "application/cloudevents+json"}
    return client.post("/api/cdevents", content=json.dumps(body), headers=headers)


def test_a_cdevent_from_the_future_is_refused_at_its_timestamp(client: TestClient) -> None:
    subject = {"id": "web", "content": {"environment": {"id": "production"},
               "artifactId": "pkg:oci/web@" + NEW.replace(":", "%3A")}}  # fmt: skip
    body = cloudevent("service.deployed", subject, "2099-01-01T00:00:00Z", "ev-1")
    response = post_cloudevent(client, body)
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["path"] == "$.data.context.timestamp"
    assert "in the future" in detail["msg"]


def test_a_cdevent_incident_resolved_before_it_was_detected_is_refused(
    client: TestClient,
) -> None:
    content = {"environment": {"id": "production"}, "service": {"id": "web"},
               "description": "errors"}  # fmt: skip
    detected = cloudevent("incident.detected", {"id": "INC-1", "content": content},
                          iso(NOW - timedelta(hours=1)), "ev-1")  # fmt: skip
    assert post_cloudevent(client, detected).status_code == 201
    resolved = cloudevent("incident.resolved", {"id": "INC-1", "content": content},
                          iso(NOW - timedelta(hours=2)), "ev-2")  # fmt: skip
    response = post_cloudevent(client, resolved)
    assert response.status_code == 422, response.text
    [detail] = response.json()["detail"]
    assert detail["path"] == "$.data.context.timestamp" and "before" in detail["msg"]


# --- the read side: ledger order decides what is current ---------------------------------


def legacy_rollout(store: EventStore, ident: str, digest: str, finished: datetime) -> None:
    """A rollout recorded with whatever finish time it claims (as before the time rules)."""
    store.append(
        "env-production",
        [DeploymentStarted(deployment_id=ident, service="web", image_digest=digest,
                           started_at=finished - timedelta(minutes=1)),
         DeploymentSucceeded(deployment_id=ident, service="web", image_digest=digest,
                             finished_at=finished)],
        ANY,
        Metadata(actor="legacy", source="test"),
    )  # fmt: skip


def test_a_rollout_claiming_to_finish_in_2099_does_not_stay_running_over_later_ones(
    client: TestClient, store: EventStore
) -> None:
    legacy_rollout(store, "dep-future", OLD, datetime(2099, 1, 1, tzinfo=UTC))
    legacy_rollout(store, "dep-now", NEW, NOW - timedelta(minutes=1))
    projector(store).catch_up_all()
    running = client.get("/api/environments/production").json()["running"]
    assert [(r["service"], r["image_digest"], r["deployment_id"]) for r in running] == [
        ("web", NEW, "dep-now")
    ]
    # Listed with its own times: the claim is kept as reported, not believed.
    history = client.get("/api/environments/production").json()["history"]
    finished = {d["deployment_id"]: d["finished_at"] for d in history}
    assert finished["dep-future"].startswith("2099-01-01")


def test_where_an_image_ran_follows_the_ledger_not_the_reported_times(
    store: EventStore,
) -> None:
    legacy_rollout(store, "dep-future", OLD, datetime(2099, 1, 1, tzinfo=UTC))
    legacy_rollout(store, "dep-now", NEW, NOW - timedelta(minutes=1))
    projector(store).catch_up_all()
    with store.connection() as conn:
        stretches = {s.image_digest: s for s in deployed_images(conn, [OLD, NEW])}
    assert stretches[NEW].running
    assert not stretches[OLD].running
