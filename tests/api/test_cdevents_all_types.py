"""Every CDEvents 0.5.1 type is recorded, sent by the CloudEvents SDK in both HTTP modes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cloudevents.core.bindings.http import (
    HTTPMessage,
    from_http_event,
    to_binary_event,
    to_structured_event,
)
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from fastapi.testclient import TestClient

from app.cdevents import imports, schemas
from app.web.views.timeline import row_of
from events.lookups import EventQuery
from events.store import EventStore
from tests.support.html_tree import parse

TOOL = "https://ci.example.com/tekton"
WHEN = "2026-03-01T10:00:00Z"
UNMAPPED = sorted(set(imports.imported_types()) - set(imports.MAPPED_TYPES))


def example(schema: dict[str, Any]) -> Any:
    """The smallest value `schema` accepts: required members only, first enum values."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {name: example(properties[name]) for name in schema.get("required", ())}
    if kind == "array":
        return [example(schema["items"]) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    formats = {"uri": "https://tool.example/x", "uri-reference": "/x", "date-time": WHEN}
    return formats.get(schema.get("format", ""), "x-1")


def cdevent(event_type: str, event_id: str = "ev-1") -> dict[str, Any]:
    """A minimal valid CDEvent of `event_type`, made from its official schema."""
    schema = next(
        s for s in schemas.schema_documents().values() if schemas.event_type_of(s) == event_type
    )
    data: dict[str, Any] = example(schema)
    data["context"].update(
        specversion="0.5.1", id=event_id, source=TOOL, type=event_type, timestamp=WHEN
    )
    data["subject"]["id"] = "subject-7"
    assert schemas.validate(event_type, data) == []
    return data


def sdk_event(data: dict[str, Any], *, content_type: str | None = None) -> SdkCloudEvent:
    """The CloudEvents SDK's event for a CDEvent (no datacontenttype unless given)."""
    attributes = {
        "specversion": "1.0",
        "id": data["context"]["id"],
        "source": data["context"]["source"],
        "type": data["context"]["type"],
    }
    if content_type:
        attributes["datacontenttype"] = content_type
    return SdkCloudEvent(attributes=attributes, data=data)


def send(client: TestClient, message: HTTPMessage) -> Any:
    """POST an SDK-made HTTP message to /api/cdevents as it is."""
    return client.post("/api/cdevents", content=message.body, headers=dict(message.headers))


def test_cdevents_0_5_1_has_45_types_ten_mapped_and_35_kept_whole() -> None:
    assert len(imports.imported_types()) == 45
    assert set(imports.MAPPED_TYPES) <= set(imports.imported_types())
    assert len(UNMAPPED) == 35


@pytest.mark.parametrize("event_type", UNMAPPED)
def test_every_other_valid_cdevent_is_recorded_whole_and_exported_as_it_came(
    client: TestClient, store: EventStore, event_type: str
) -> None:
    data = cdevent(event_type)
    data["customData"] = {"ratio": 1.5, "big": 12345678901234567890, "text": "ü"}
    response = send(client, to_structured_event(sdk_event(data)))
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["type"] == event_type and answer["stream"].startswith("cdevent-")
    (recorded,) = store.read_all()
    assert recorded.type_name == "CDEventImported"
    assert recorded.metadata.cloudevent_source == TOOL
    assert recorded.metadata.cloudevent_id == "ev-1"
    exported = client.get("/api/cdevents").json()["events"]
    assert [(e["id"], e["source"], e["type"]) for e in exported] == [("ev-1", TOOL, event_type)]
    assert exported[0]["data"] == data  # whole: custom data, big numbers and all


def test_a_cdevent_kept_whole_is_shown_on_the_timeline_by_type_subject_and_source(
    client: TestClient, store: EventStore
) -> None:
    event_type = "dev.cdevents.testcaserun.finished.0.3.0"
    assert send(client, to_structured_event(sdk_event(cdevent(event_type)))).status_code == 201
    (stored,) = store.page(EventQuery(types=["CDEventImported"])).events
    row = row_of(stored)
    assert row.imported and row.stream_href == f"/?stream={stored.stream}"
    words = parse(f"<p>{row.sentence}</p>").text
    assert words.startswith(f"CDEvent {event_type} from {TOOL} about subject-7")
    page = client.get("/")
    assert page.status_code == 200
    assert "CDEventImported" in page.text and event_type in page.text


def test_the_sdk_in_binary_mode_without_a_datacontenttype_sends_no_content_type_and_is_accepted(
    client: TestClient, store: EventStore
) -> None:
    data = cdevent("dev.cdevents.build.finished.0.3.0")
    message = to_binary_event(sdk_event(data))
    assert "content-type" not in {name.lower() for name in message.headers}
    response = send(client, message)
    assert response.status_code == 201, response.text
    assert response.json()["replayed"] is False
    again = send(client, to_structured_event(sdk_event(data)))  # the same CloudEvent
    assert again.json() == response.json() | {"replayed": True}
    assert len(store.read_all()) == 1


def test_the_sdk_in_binary_mode_with_a_json_datacontenttype_is_accepted(
    client: TestClient,
) -> None:
    data = cdevent("dev.cdevents.ticket.created.0.2.0")
    message = to_binary_event(sdk_event(data, content_type="application/json; charset=utf-8"))
    assert message.headers["content-type"].startswith("application/json")
    assert send(client, message).status_code == 201


def test_binary_mode_with_a_datacontenttype_that_is_not_json_is_refused_naming_it(
    client: TestClient, store: EventStore
) -> None:
    data = cdevent("dev.cdevents.ticket.created.0.2.0")
    message = to_binary_event(sdk_event(data))
    headers = {**dict(message.headers), "content-type": "application/xml"}
    response = client.post("/api/cdevents", content=message.body, headers=headers)
    assert response.status_code == 415, response.text
    assert "application/xml" in response.text
    assert store.read_all() == []


def test_percent_encoded_binary_mode_headers_are_decoded(client: TestClient) -> None:
    data = cdevent("dev.cdevents.branch.created.0.3.0", event_id="ev 1 ü")
    message = to_binary_event(sdk_event(data))
    assert message.headers["ce-id"] != "ev 1 ü"  # the SDK percent-encodes it
    response = send(client, message)
    assert response.status_code == 201, response.text
    exported = client.get("/api/cdevents").json()["events"]
    assert exported[0]["id"] == "ev 1 ü"


def test_an_invalid_cdevent_of_any_type_is_refused_with_the_schema_complaint(
    client: TestClient, store: EventStore
) -> None:
    data = cdevent("dev.cdevents.testsuiterun.started.0.3.0")
    data["subject"]["content"]["unexpected"] = 1
    response = send(client, to_structured_event(sdk_event(data)))
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["path"] == "$.data.subject.content"
    assert "Additional properties are not allowed" in detail["msg"]
    assert store.read_all() == []


def test_the_export_is_read_by_the_cloudevents_sdk_with_the_imported_identity(
    client: TestClient,
) -> None:
    content = {
        "environment": {"id": "production"},
        "artifactId": "pkg:oci/web@sha256%3A" + "ab" * 32,
    }
    data = cdevent("dev.cdevents.environment.created.0.3.0")
    deployed = {
        "context": {
            "specversion": "0.5.1",
            "id": "deploy-9",
            "source": TOOL,
            "type": "dev.cdevents.service.deployed.0.3.0",
            "timestamp": WHEN,
        },
        "subject": {"id": "web", "content": content},
    }
    for body in (data, deployed):
        assert send(client, to_binary_event(sdk_event(body))).status_code == 201
    exported = client.get("/api/cdevents").json()["events"]
    parsed = [
        from_http_event(
            HTTPMessage(
                headers={"content-type": "application/cloudevents+json"},
                body=json.dumps(item).encode(),
            )
        )
        for item in exported
    ]
    assert [(e.get_id(), e.get_source(), e.get_type()) for e in parsed] == [
        ("ev-1", TOOL, "dev.cdevents.environment.created.0.3.0"),
        ("deploy-9", TOOL, "dev.cdevents.service.deployed.0.3.0"),
    ]
    assert exported[1]["data"]["context"]["id"] == "deploy-9"
    assert schemas.validate(exported[1]["type"], exported[1]["data"]) == []
