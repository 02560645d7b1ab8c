"""POST and GET /api/cdevents over a real PostgreSQL: CDEvents 0.5.1 in and out."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from packageurl import PackageURL

from app.cdevents import exports, imports, schemas
from app.projections import projector
from events.catalogue import Metadata
from events.store import ANY, EventStore, RecordedEvent
from events.vocabulary import (
    Commit,
    CommitsPushed,
    ImageBuilt,
    ImagePushed,
    RunCancelled,
    RunClaimed,
    RunFailed,
    RunSucceeded,
    StepFinished,
    StepSkipped,
)
from tests.paths import PROJECT_ROOT
from tests.support.factories import queued, step_finished, step_started

DIGEST = "sha256:" + "ab" * 32
OTHER_DIGEST = "sha256:" + "cd" * 32
TOOL = "https://ci.example.com/argo"
CE_JSON = {"Content-Type": "application/cloudevents+json"}
RUNNER = Metadata(actor="runner:r1", source="runner")
T = "dev.cdevents."


def cloudevent(
    kind: str, subject: dict[str, Any], *, event_id: str = "ev-1", source: str = TOOL
) -> dict[str, Any]:
    """A structured-mode CloudEvent carrying a CDEvent of `kind` about `subject`."""
    event_type = T + kind
    when = "2026-03-01T10:00:00Z"
    context = {
        "specversion": "0.5.1",
        "id": event_id,
        "source": source,
        "type": event_type,
        "timestamp": when,
    }
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": when,
        "datacontenttype": "application/json",
        "data": {"context": context, "subject": subject},
    }


def image(digest: str = DIGEST) -> str:
    """An OCI purl of `digest` in registry.example.com/acme/web."""
    return str(
        PackageURL(
            type="oci",
            name="web",
            version=digest,
            qualifiers={"repository_url": "registry.example.com/acme/web"},
        )
    )


def deployed(kind: str = "service.deployed.0.3.0", **changes: Any) -> dict[str, Any]:
    """A service.* CloudEvent: web in production runs `image()`."""
    content = {"environment": {"id": "production"}, "artifactId": image()}
    return cloudevent(kind, {"id": "web", "content": content}, **changes)


def detected(**changes: Any) -> dict[str, Any]:
    """An incident.detected CloudEvent for incident INC-7 of web in production."""
    content = {
        "environment": {"id": "production"},
        "service": {"id": "web"},
        "description": "checkout returns 502",
    }
    changes.setdefault("event_id", "ev-inc")
    return cloudevent("incident.detected.0.3.0", {"id": "INC-7", "content": content}, **changes)


def resolved(**changes: Any) -> dict[str, Any]:
    """An incident.resolved CloudEvent for incident INC-7."""
    content = {"environment": {"id": "production"}, "description": "rolled back"}
    return cloudevent(
        "incident.resolved.0.3.0", {"id": "INC-7", "content": content}, event_id="ev-2", **changes
    )


def post(client: TestClient, body: Any, headers: dict[str, str] | None = None) -> Any:
    """POST `body` as JSON to /api/cdevents as a CloudEvent, as the client's token."""
    content = json.dumps(body).encode()  # ASCII: a lone surrogate travels as a \uXXXX escape
    return client.post("/api/cdevents", content=content, headers={**CE_JSON, **(headers or {})})


def data(event: RecordedEvent) -> dict[str, Any]:
    """The event's payload as JSON."""
    return event.data.model_dump(mode="json")


def validates(cloudevent_json: dict[str, Any]) -> list[str]:
    """The schema's complaints about an exported CloudEvent's CDEvent (empty: valid)."""
    assert cloudevent_json["specversion"] == "1.0"
    assert cloudevent_json["type"] == cloudevent_json["data"]["context"]["type"]
    assert cloudevent_json["id"] == cloudevent_json["data"]["context"]["id"]
    problems = schemas.validate(cloudevent_json["type"], cloudevent_json["data"])
    return [str(problem) for problem in problems]


# --- the vendored schemas ----------------------------------------------------------------


def official_directory() -> Path | None:
    """/work/shared/standards/cdevents-0.5.1 (found above the project root), if present."""
    for parent in PROJECT_ROOT.parents:
        candidate = parent / "shared" / "standards" / "cdevents-0.5.1"
        if candidate.is_dir():
            return candidate
    return None


def test_vendored_schemas_are_byte_identical_to_the_official_release() -> None:
    official = official_directory()
    if official is None:
        pytest.skip("the official CDEvents 0.5.1 schemas are not on this machine")
    vendored = Path(str(schemas.SCHEMA_FILES))
    files = sorted(path for path in vendored.rglob("*") if path.is_file())
    assert len(files) == 54  # 45 event schemas, 8 link schemas, the LICENSE
    for path in files:
        relative = path.relative_to(vendored)
        assert path.read_bytes() == (official / relative).read_bytes(), relative


def test_every_imported_and_exported_type_has_a_vendored_schema() -> None:
    supported = set(schemas.supported_types())
    assert set(imports.MAPPED_TYPES) <= supported == set(imports.imported_types())
    exported = {v for name, v in vars(exports).items() if name.isupper() and name[0] != "_"}
    assert {t for t in exported if isinstance(t, str) and t.startswith(T)} <= supported


# --- import ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["service.deployed.0.3.0", "service.upgraded.0.3.0"])
def test_a_deployed_or_upgraded_service_is_recorded_as_a_succeeded_deployment(
    client: TestClient, store: EventStore, kind: str
) -> None:
    response = post(client, deployed(kind))
    assert response.status_code == 201, response.text
    events = store.read_stream("env-production")
    assert [event.type_name for event in events] == ["DeploymentStarted", "DeploymentSucceeded"]
    assert response.json() == {
        "type": T + kind,
        "stream": "env-production",
        "positions": [event.position for event in events],
        "replayed": False,
    }
    started, succeeded = (data(event) for event in events)
    assert started["image_digest"] == succeeded["image_digest"] == DIGEST
    assert started["service"] == succeeded["service"] == "web"
    assert started["started_at"] == succeeded["finished_at"] == "2026-03-01T10:00:00Z"
    assert started["deployment_id"] == imports.key(TOOL, "ev-1")
    for event in events:
        assert event.metadata.actor == "admin"  # the client's token
        assert event.metadata.source == "cdevents"


def test_a_rolled_back_service_is_recorded_as_rolled_back(
    client: TestClient, store: EventStore
) -> None:
    response = post(client, deployed("service.rolledback.0.3.0"))
    assert response.status_code == 201, response.text
    (event,) = store.read_stream("env-production")
    assert event.type_name == "RolledBack"
    assert data(event)["image_digest"] == DIGEST
    assert data(event)["finished_at"] == "2026-03-01T10:00:00Z"


def test_a_rollback_names_the_services_last_deployment_and_a_resend_stays_a_replay(
    client: TestClient, store: EventStore
) -> None:
    upgrade = deployed(event_id="ev-up")
    upgrade["data"]["subject"]["content"]["artifactId"] = image(OTHER_DIGEST)
    rollback = deployed("service.rolledback.0.3.0", event_id="ev-back")
    for body in (deployed(), upgrade, rollback):
        assert post(client, body).status_code == 201
    rolled = store.read_stream("env-production")[-1]
    assert rolled.type_name == "RolledBack"
    assert data(rolled)["deployment_id"] == imports.key(TOOL, "ev-up")
    assert data(rolled)["image_digest"] == DIGEST
    assert post(client, deployed(event_id="ev-later")).status_code == 201
    again = post(client, rollback)
    assert again.status_code == 201, again.text
    assert again.json()["replayed"] is True
    assert again.json()["positions"] == [rolled.position]


def test_incidents_detected_then_resolved_open_and_resolve_one_incident(
    client: TestClient, store: EventStore
) -> None:
    opened = post(client, detected())
    closed = post(client, resolved())
    assert opened.status_code == closed.status_code == 201, (opened.text, closed.text)
    stream = opened.json()["stream"]
    assert stream == closed.json()["stream"] == "incident-" + imports.subject_key(TOOL, "INC-7")
    first, second = store.read_stream(stream)
    assert first.type_name == "IncidentOpened"
    assert data(first)["summary"] == "checkout returns 502"
    assert data(first)["environment"] == "production"
    assert data(first)["service"] == "web"
    assert data(first)["opened_at"] == "2026-03-01T10:00:00Z"
    assert second.type_name == "IncidentResolved"
    assert data(second)["resolution"] == "rolled back"


def test_an_incident_resolved_before_it_was_detected_is_a_conflict_and_writes_nothing(
    client: TestClient, store: EventStore
) -> None:
    response = post(client, resolved())
    assert response.status_code == 409, response.text
    assert "INC-7" in response.json()["detail"]
    assert store.read_all() == []


@pytest.mark.parametrize(
    ("kind", "content", "expected"),
    [
        (
            "pipelinerun.queued.0.3.0",
            {"pipelineName": "nightly"},
            {"type": "ExternalRunQueued", "pipeline_name": "nightly", "uri": None},
        ),
        (
            "pipelinerun.started.0.3.0",
            {"pipelineName": "nightly", "uri": "https://ci.example.com/runs/42"},
            {"type": "ExternalRunStarted", "uri": "https://ci.example.com/runs/42"},
        ),
        (
            "pipelinerun.finished.0.3.0",
            {"outcome": "failure", "errors": "tests failed"},
            {"type": "ExternalRunFinished", "outcome": "failure", "errors": "tests failed"},
        ),
    ],
)
def test_pipeline_runs_of_other_tools_go_to_their_own_extrun_stream_never_to_run_streams(
    client: TestClient,
    store: EventStore,
    kind: str,
    content: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    response = post(client, cloudevent(kind, {"id": "42", "content": content}))
    assert response.status_code == 201, response.text
    (event,) = store.read_all()
    assert event.stream == "extrun-" + imports.subject_key(TOOL, "42")
    assert event.type_name == expected.pop("type")
    recorded = data(event)
    assert recorded["run"] == "42"
    assert recorded["source"] == TOOL
    for field, value in expected.items():
        assert recorded[field] == value


def test_an_artifact_published_records_its_purl_digest_and_repository(
    client: TestClient, store: EventStore
) -> None:
    subject = {"id": image(), "content": {"user": "ci-bot", "sbom": {"uri": "sbom/web.json"}}}
    response = post(client, cloudevent("artifact.published.0.3.0", subject))
    assert response.status_code == 201, response.text
    (event,) = store.read_all()
    assert event.type_name == "ArtifactPublished"
    assert event.stream.startswith("artifact-")
    assert data(event) | {"published_at": None} == {
        "source": TOOL,
        "artifact_id": image(),
        "digest": DIGEST,
        "repository": "registry.example.com/acme/web",
        "sbom_uri": "sbom/web.json",
        "user": "ci-bot",
        "published_at": None,
    }


@pytest.mark.parametrize(
    "repository",
    [
        {"id": "https://github.com/Acme/Web.git"},
        {"id": "git@github.com:acme/web.git"},
        {"id": "acme/web", "source": "https://github.com"},
    ],
)
def test_a_merged_change_goes_to_the_canonical_repository_stream(
    client: TestClient, store: EventStore, repository: dict[str, str]
) -> None:
    subject = {"id": "PR-12", "content": {"repository": repository}}
    response = post(client, cloudevent("change.merged.0.3.0", subject))
    assert response.status_code == 201, response.text
    (event,) = store.read_stream("repo-github.com/acme/web")
    assert data(event)["repository"] == repository["id"]  # as the tool named it


def test_a_merged_change_is_recorded_in_its_repository_stream(
    client: TestClient, store: EventStore
) -> None:
    subject = {"id": "PR-12", "content": {"repository": {"id": "acme.web"}}}
    response = post(client, cloudevent("change.merged.0.3.0", subject))
    assert response.status_code == 201, response.text
    (event,) = store.read_stream("repo-acme.web")
    assert event.type_name == "ChangeMerged"
    assert data(event)["change"] == "PR-12"
    assert data(event)["merged_at"] == "2026-03-01T10:00:00Z"


def test_resending_the_same_cloudevent_writes_nothing_and_answers_the_same_positions(
    client: TestClient, store: EventStore
) -> None:
    bodies = [
        deployed(),
        detected(),
        cloudevent("pipelinerun.queued.0.3.0", {"id": "1", "content": {}}, event_id="ev-3"),
    ]
    first = [post(client, body).json() for body in bodies]
    before = store.read_all()
    again = [post(client, body) for body in bodies]
    for original, response in zip(first, again, strict=True):
        assert response.status_code == 201, response.text
        assert response.json()["positions"] == original["positions"]
        assert response.json()["replayed"] is True
    assert store.read_all() == before


def test_binary_mode_ce_headers_with_the_cdevent_as_body_is_the_same_cloudevent(
    client: TestClient, store: EventStore
) -> None:
    body = deployed()
    headers = {"Content-Type": "application/json"}
    headers |= {f"ce-{name}": body[name] for name in ("specversion", "id", "source", "type")}
    binary = client.post("/api/cdevents", json=body["data"], headers=headers)
    assert binary.status_code == 201, binary.text
    assert binary.json()["replayed"] is False
    structured = post(client, body)
    assert structured.json() == binary.json() | {"replayed": True}
    assert len(store.read_all()) == 2
    headers["ce-id"] = "ev-other"  # the CDEvent's context.id still says ev-1
    refused = client.post("/api/cdevents", json=body["data"], headers=headers)
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"][0]["path"] == "$.data.context.id"


def other_service() -> dict[str, Any]:
    """The CloudEvent of deployed(), with another service named."""
    body = deployed()
    body["data"]["subject"]["id"] = "api"
    return body


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(other_service, id="other service"),
        pytest.param(lambda: deployed("service.rolledback.0.3.0"), id="other type"),
        pytest.param(lambda: detected(event_id="ev-1"), id="an incident after a deployment"),
    ],
)
def test_the_same_cloudevent_id_with_other_content_is_a_conflict_and_writes_nothing(
    client: TestClient, store: EventStore, second: Any
) -> None:
    assert post(client, deployed()).status_code == 201
    before = store.read_all()
    response = post(client, second())
    assert response.status_code == 409, response.text
    assert "already" in response.json()["detail"]
    assert store.read_all() == before


def test_the_same_id_from_another_source_is_another_cloudevent(
    client: TestClient, store: EventStore
) -> None:
    first = post(client, deployed())
    second = post(client, deployed(source="https://other.example.com/flux"))
    assert first.status_code == second.status_code == 201, second.text
    assert second.json()["replayed"] is False
    assert len(store.read_stream("env-production")) == 4


def mutated(path: str, value: Any) -> dict[str, Any]:
    """deployed() with the value at dotted `path` replaced (or removed when value is ...)."""
    body = deployed()
    *parents, last = path.split(".")
    target = body
    for name in parents:
        target = target[name]
    if value is ...:
        del target[last]
    else:
        target[last] = value
    return body


@pytest.mark.parametrize(
    ("path", "value", "where", "complaint"),
    [
        (
            "data.subject.content.artifactId",
            ...,
            "$.data.subject.content",
            "'artifactId' is a required property",
        ),
        (
            "data.subject.content.environment",
            "production",
            "$.data.subject.content.environment",
            "is not of type 'object'",
        ),
        (
            "data.subject.content.color",
            "blue",
            "$.data.subject.content",
            "Additional properties are not allowed ('color' was unexpected)",
        ),
        ("data.subject.id", "", "$.data.subject.id", "should be non-empty"),
        ("data.context.type", T + "service.upgraded.0.3.0", "$.data.context.type", "is not one of"),
        ("data.context.id", "ev-9", "$.data.context.id", "differs from the CloudEvent's id"),
        (
            "data.context.timestamp",
            "yesterday",
            "$.data.context.timestamp",
            "not an RFC 3339 date-time",
        ),
        (
            "data.context.timestamp",
            "2026-03-01T10:00:00",
            "$.data.context.timestamp",
            "no time zone",
        ),
        (
            "data.context.timestamp",
            "0001-01-01T00:00:00+01:00",
            "$.data.context.timestamp",
            "out of range",
        ),
        (
            "data.subject.content.artifactId",
            "web:latest",
            "$.data.subject.content.artifactId",
            "not a package URL",
        ),
        (
            "data.subject.content.artifactId",
            "pkg:oci/web@latest",
            "$.data.subject.content.artifactId",
            "with its digest",
        ),
        (
            "data.subject.content.environment.id",
            "prod env",
            "$.data.subject.content.environment.id",
            "not usable as a shiplog stream id",
        ),
        ("specversion", "0.3", "$.specversion", "must be '1.0'"),
        ("id", ..., "$.id", "required"),
        ("data", "e30=", "$.data", "the CDEvent, a JSON object"),
        ("data.subject.id", "w\x00b", "$.data.subject.id", "NUL"),
        ("data.subject.id", "\ud800", "$.data.subject.id", "lone surrogate (U+D800)"),
        ("data.customData", json.loads("[" * 80 + "]" * 80), "$", "nested more than 64"),
    ],
)
def test_an_invalid_cdevent_is_refused_with_the_schema_complaint_and_path_and_writes_nothing(
    client: TestClient, store: EventStore, path: str, value: Any, where: str, complaint: str
) -> None:
    response = post(client, mutated(path, value))
    assert response.status_code == 422, response.text
    details = response.json()["detail"]
    assert any(d["path"] == where and complaint in d["msg"] for d in details), details
    assert store.read_all() == []


def test_a_type_outside_cdevents_0_5_1_is_refused_naming_it_and_listing_the_45(
    client: TestClient, store: EventStore
) -> None:
    body = cloudevent("ticket.created.0.1.0", {"id": "T-1", "content": {}})
    response = post(client, body)
    assert response.status_code == 422, response.text
    (detail,) = response.json()["detail"]
    assert detail["type"] == "unsupported_type"
    assert T + "ticket.created.0.1.0" in detail["msg"]
    assert detail["supported"] == imports.imported_types()
    assert len(detail["supported"]) == 45 and T + "ticket.created.0.2.0" in detail["supported"]
    assert store.read_all() == []


@pytest.mark.parametrize(
    ("content", "headers", "status", "words"),
    [
        (b"{not json", CE_JSON, 400, "not JSON"),
        (b"\xff\xfe", CE_JSON, 400, "not JSON"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "text/plain"),
        (b"[]", {"Content-Type": "application/cloudevents-batch+json"}, 415, "batch mode"),
        (b"{}", {}, 415, "(none)"),
        (b"[1, 2]", CE_JSON, 422, "a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, CE_JSON, 400, "nested too deeply"),
        (b"{" + b" " * (1024 * 1024) + b"}", CE_JSON, 413, "larger than 1048576 bytes"),
    ],
)
def test_what_is_not_a_cloudevent_in_json_gets_a_clear_4xx_and_writes_nothing(
    client: TestClient,
    store: EventStore,
    content: bytes,
    headers: dict[str, str],
    status: int,
    words: str,
) -> None:
    response = client.post("/api/cdevents", content=content, headers=headers)
    assert response.status_code == status, response.text
    assert words in response.text
    assert store.read_all() == []


# --- export ------------------------------------------------------------------------------


def run_history(store: EventStore) -> None:
    """Four runs (succeeded, failed, cancelled, still going) with steps, a push, skips."""
    for n, last in enumerate(
        (
            RunSucceeded(duration_ms=5),
            RunFailed(reason="step 'test' failed", step="test"),
            RunCancelled(reason="not needed"),
            None,
        )
    ):
        stream = f"run-{uuid4()}"
        events: list[Any] = [
            queued(str(n) * 40),
            RunClaimed(runner="r1", runner_version="1.0"),
            step_started("build"),
            ImageBuilt(
                step="build",
                image_id=DIGEST,
                base_images=(),
                dockerfile_sha256="e" * 64,
                context_digest=DIGEST,
                build_args={},
                labels={},
            ),
            step_finished("build"),
            StepFinished(
                step="test",
                exit_code=137,
                duration_ms=9,
                log_sha256="b" * 64,
                log_lines=0,
                timed_out=True,
            ),
            StepSkipped(step="notify", reason="its `when` does not match"),
        ]
        if n == 0:
            events.append(
                ImagePushed(
                    step="push",
                    repository="registry.example.com/acme/web",
                    tag="1.0",
                    digest=DIGEST,
                )
            )
        if last is not None:
            events.append(last)
        store.append(stream, events, ANY, RUNNER)
    pushed = CommitsPushed(
        repository="acme.web",
        ref="refs/heads/main",
        commits=(
            Commit(sha="1" * 40, authored_at=datetime(2026, 2, 1, 9, tzinfo=UTC)),
            Commit(sha="2" * 40, authored_at=datetime(2026, 2, 1, 10, tzinfo=UTC)),
        ),
    )  # type: ignore[arg-type]
    store.append("repo-acme.web", [pushed], ANY, RUNNER)


def export_all(client: TestClient, limit: int = 100) -> list[dict[str, Any]]:
    """Every CloudEvent GET /api/cdevents gives, page by page."""
    out: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
        response = client.get("/api/cdevents", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        out.extend(page["events"])
        after = page["next"]
        if not page["more"]:
            return out


def imported_history(client: TestClient) -> None:
    """One of each importable CDEvent, and a second deployment of another image."""
    upgrade = deployed(event_id="ev-up")
    upgrade["data"]["subject"]["content"]["artifactId"] = image(OTHER_DIGEST)
    for body in (
        deployed(),
        upgrade,
        deployed("service.rolledback.0.3.0", event_id="ev-back"),
        detected(),
        resolved(),
        cloudevent(
            "pipelinerun.queued.0.3.0", {"id": "9", "content": {"pipelineName": "ci"}}, event_id="q"
        ),
        cloudevent(
            "pipelinerun.started.0.3.0",
            {"id": "9", "content": {"pipelineName": "ci", "uri": "https://ci.example.com/9"}},
            event_id="s",
        ),
        cloudevent(
            "pipelinerun.finished.0.3.0",
            {"id": "9", "content": {"outcome": "success"}},
            event_id="f",
        ),
        cloudevent("artifact.published.0.3.0", {"id": image(), "content": {}}, event_id="a"),
        cloudevent(
            "change.merged.0.3.0",
            {"id": "PR-1", "content": {"repository": {"id": "acme.web"}}},
            event_id="m",
        ),
    ):
        assert post(client, body).status_code == 201


def test_export_of_a_mixed_history_validates_every_item_and_maps_each_type(
    client: TestClient, store: EventStore
) -> None:
    run_history(store)
    imported_history(client)
    exported = export_all(client)
    imported = {event.metadata.cloudevent_id for event in store.read_all()} - {None}
    for item in exported:
        assert validates(item) == [], item
        # shiplog's own events are its own CloudEvents; imported ones keep their identity
        assert item["source"] == (TOOL if item["id"] in imported else "shiplog")
    assert len([item for item in exported if item["source"] == TOOL]) == 10  # one each
    by_type: dict[str, list[dict[str, Any]]] = {}
    for item in exported:
        by_type.setdefault(item["type"].removeprefix(T).rsplit(".", 3)[0], []).append(item)
    counts = {kind: len(items) for kind, items in by_type.items()}
    assert counts == {
        "pipelinerun.queued": 4 + 1,
        "pipelinerun.started": 4 + 1,
        "pipelinerun.finished": 3 + 1,
        "taskrun.started": 4,
        "taskrun.finished": 8,
        "artifact.published": 1 + 1,
        "service.deployed": 1,
        "service.upgraded": 1,
        "service.rolledback": 1,
        "incident.detected": 1,
        "incident.resolved": 1,
        "change.merged": 1 + 1,
    }
    ids = {str(event.event_id) for event in store.read_all()}
    own = {item["id"] for item in exported if item["source"] == "shiplog"}
    assert own <= ids  # CloudEvent id = the ledger event id
    skipped = {"DeploymentStarted", "ImageBuilt", "StepSkipped"}
    assert len(exported) == len([e for e in store.read_all() if e.type_name not in skipped])

    outcomes = sorted(
        (i["data"]["subject"]["content"]["outcome"], i["data"]["subject"]["content"].get("errors"))
        for i in by_type["pipelinerun.finished"]
    )
    assert outcomes == [
        ("cancel", "not needed"),
        ("failure", "step 'test' failed"),
        ("success", None),
        ("success", None),
    ]
    started = by_type["pipelinerun.started"][0]["data"]["subject"]
    assert started["content"]["uri"] == f"urn:uuid:{started['id']}"
    assert started["content"]["pipelineName"] == "https://git.example/acme/web.git#.shiplog.yml"
    failed_step = [
        i
        for i in by_type["taskrun.finished"]
        if i["data"]["subject"]["content"]["outcome"] == "failure"
    ]
    assert failed_step[0]["data"]["subject"]["content"]["errors"] == "exit code 137 (timed out)"
    pushed = PackageURL.from_string(by_type["artifact.published"][0]["data"]["subject"]["id"])
    assert (pushed.type, pushed.name, pushed.version) == ("oci", "web", DIGEST)
    assert pushed.qualifiers == {"repository_url": "registry.example.com/acme/web", "tag": "1.0"}
    merged = by_type["change.merged"][0]["data"]
    assert merged["subject"]["id"] == "2" * 40
    assert [c["sha"] for c in merged["customData"]["commits"]] == ["1" * 40, "2" * 40]
    resolved_incident = by_type["incident.resolved"][0]["data"]["subject"]
    assert resolved_incident["content"]["environment"]["id"] == "production"
    opened = by_type["incident.detected"][0]["data"]["subject"]["content"]
    assert opened == {
        "environment": {"id": "production", "source": "shiplog"},
        "service": {"id": "web", "source": "shiplog"},
        "description": "checkout returns 502",
    }
    rolled = by_type["service.rolledback"][0]["data"]["subject"]
    assert rolled["id"] == "web"
    assert PackageURL.from_string(rolled["content"]["artifactId"]).version == DIGEST
    task = by_type["taskrun.started"][0]["data"]["subject"]
    assert task["id"] == f"{task['content']['pipelineRun']['id']}/build"
    assert task["content"]["taskName"] == "build"
    external = by_type["pipelinerun.queued"][-1]["data"]["subject"]
    assert (external["id"], external["source"]) == ("9", TOOL)


def test_a_redeploy_of_the_same_image_is_deployed_and_another_image_is_upgraded(
    client: TestClient, store: EventStore
) -> None:
    upgrade = deployed(event_id="ev-3")
    upgrade["data"]["subject"]["content"]["artifactId"] = image(OTHER_DIGEST)
    for body in (deployed(), deployed(event_id="ev-2"), upgrade):
        assert post(client, body).status_code == 201
    kinds = [item["type"] for item in export_all(client)]
    assert kinds == [T + "service.deployed.0.3.0"] * 2 + [T + "service.upgraded.0.3.0"]


def test_export_pages_with_after_visit_every_event_once_in_ledger_order(
    client: TestClient, store: EventStore
) -> None:
    run_history(store)
    imported_history(client)
    everything = export_all(client, limit=1000)
    paged = export_all(client, limit=3)
    assert [item["id"] for item in paged] == [item["id"] for item in everything]
    first = client.get("/api/cdevents", params={"limit": 3}).json()
    assert len(first["events"]) == 3
    assert first["more"] is True
    rest = client.get("/api/cdevents", params={"after": first["next"], "limit": 1000}).json()
    assert [i["id"] for i in first["events"] + rest["events"]] == [i["id"] for i in everything]
    assert rest["more"] is False
    end = client.get("/api/cdevents", params={"after": rest["next"]}).json()
    assert end == {"events": [], "next": rest["next"], "more": False}


@pytest.mark.parametrize("after", ["yesterday", "1:2:3", "-1:4"])
def test_a_bad_export_cursor_is_refused_naming_after(client: TestClient, after: str) -> None:
    response = client.get("/api/cdevents", params={"after": after})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", "after"]


def test_an_imported_deployment_exports_as_a_valid_cdevent_with_the_same_digest(
    client: TestClient, store: EventStore
) -> None:
    published = cloudevent("artifact.published.0.3.0", {"id": image(), "content": {}}, event_id="a")
    assert post(client, published).status_code == 201
    assert post(client, deployed()).status_code == 201
    (item,) = [i for i in export_all(client) if i["type"] == T + "service.deployed.0.3.0"]
    assert validates(item) == []
    content = item["data"]["subject"]["content"]
    artifact = PackageURL.from_string(content["artifactId"])
    assert artifact.version == DIGEST
    assert artifact.qualifiers == {"repository_url": "registry.example.com/acme/web"}
    assert content["environment"]["id"] == "production"
    assert item["time"] == "2026-03-01T10:00:00Z"
    again = copy.deepcopy(item)  # the exported CloudEvent imports back as a deployment
    response = post(client, again)
    assert response.status_code == 201, response.text
    assert data(store.read_stream("env-production")[-1])["image_digest"] == DIGEST


def test_imported_deployments_and_incidents_reach_the_audit_environment_and_velocity_queries(
    client: TestClient, store: EventStore
) -> None:
    imported_history(client)
    projector(store).catch_up_all()
    audit = client.get("/api/audit/deployments", params={"env": "production"})
    assert audit.status_code == 200, audit.text
    digests = {row["image_digest"] for row in audit.json()["deployments"]}
    assert {DIGEST, OTHER_DIGEST} <= digests
    environment = client.get("/api/environments/production")
    assert environment.status_code == 200, environment.text
    assert DIGEST in environment.text  # the rollback left web on the first image
    velocity = client.get("/api/velocity", params={"since": "2026-01-01T00:00:00Z"})
    assert velocity.status_code == 200, velocity.text
    (web,) = velocity.json()["services"]
    assert (web["deployments"], web["failed_changes"]) == (2, 1)  # the upgrade was rolled back
