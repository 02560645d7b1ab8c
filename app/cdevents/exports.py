"""Ledger events as CDEvents 0.5.1 in CloudEvents (structured mode JSON); pure.

`to_cloudevent` maps one event, with the little it needs from elsewhere in the
ledger (an `Exportable`), to a CloudEvent, or to None for a type with no CDEvents
counterpart. The CloudEvent's `id` is the ledger event's id and its `source` the
configured shiplog source URI, except for events imported from a CloudEvent,
which keep that CloudEvent's `source` and `id` (a link back, not a new identity);
its time is the event's own time field when it has one, else when it was
recorded. A CDEventImported goes out as the CDEvent it kept. docs/cdevents.md has
the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from packageurl import PackageURL

from events.catalogue import Event
from events.vocabulary import (
    ArtifactPublished,
    CDEventImported,
    ChangeMerged,
    CommitsPushed,
    DeploymentSucceeded,
    ExternalRunFinished,
    ExternalRunQueued,
    ExternalRunStarted,
    ImagePushed,
    IncidentOpened,
    IncidentResolved,
    RolledBack,
    RunCancelled,
    RunClaimed,
    RunFailed,
    RunQueued,
    RunSucceeded,
    StepFinished,
    StepStarted,
)

CDEVENTS_VERSION = "0.5.1"
_T = "dev.cdevents."
PIPELINE_QUEUED = _T + "pipelinerun.queued.0.3.0"
PIPELINE_STARTED = _T + "pipelinerun.started.0.3.0"
PIPELINE_FINISHED = _T + "pipelinerun.finished.0.3.0"
TASK_STARTED = _T + "taskrun.started.0.3.0"
TASK_FINISHED = _T + "taskrun.finished.0.3.0"
ARTIFACT_PUBLISHED = _T + "artifact.published.0.3.0"
SERVICE_DEPLOYED = _T + "service.deployed.0.3.0"
SERVICE_UPGRADED = _T + "service.upgraded.0.3.0"
SERVICE_ROLLEDBACK = _T + "service.rolledback.0.3.0"
INCIDENT_DETECTED = _T + "incident.detected.0.3.0"
INCIDENT_RESOLVED = _T + "incident.resolved.0.3.0"
CHANGE_MERGED = _T + "change.merged.0.3.0"

# The ledger types that have a CDEvents counterpart; every other type is skipped.
EXPORTED: tuple[type[Event], ...] = (
    RunQueued,
    RunClaimed,
    RunSucceeded,
    RunFailed,
    RunCancelled,
    StepStarted,
    StepFinished,
    ImagePushed,
    DeploymentSucceeded,
    RolledBack,
    IncidentOpened,
    IncidentResolved,
    CommitsPushed,
    ExternalRunQueued,
    ExternalRunStarted,
    ExternalRunFinished,
    ArtifactPublished,
    ChangeMerged,
    CDEventImported,
)
EXPORTED_TYPES = tuple(cls.type_name for cls in EXPORTED)

# The ledger types that need the first event of their stream (RunQueued, IncidentOpened).
NEEDS_OPENER = ("RunClaimed", "RunSucceeded", "RunFailed", "RunCancelled", "IncidentResolved")

Json = dict[str, Any]


@dataclass(frozen=True)
class Exportable:
    """A ledger event and what its CDEvent needs from the rest of the ledger."""

    event_id: UUID
    stream: str
    recorded_at: datetime
    event: Event
    opener: Event | None = None  # the stream's first event (RunQueued, IncidentOpened)
    upgraded: bool = False  # DeploymentSucceeded: the service ran another image before
    image_repository: str | None = None  # where an ImagePushed pushed this digest, if any
    origin: tuple[str, str] | None = None  # (source, id) of the CloudEvent it was imported from

    @property
    def ident(self) -> str:
        """The id part of the event's stream (`<id>` of `run-<id>`)."""
        return self.stream.split("-", 1)[1]


def timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with a `Z`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def image_purl(digest: str, repository: str | None, fallback_name: str, tag: str | None) -> str:
    """`pkg:oci/<name>@<digest>?repository_url=...`: the name is the repository's last part."""
    name = (repository or fallback_name).rstrip("/").rsplit("/", 1)[-1].lower() or "image"
    qualifiers = {"repository_url": repository} if repository else {}
    if tag:
        qualifiers["tag"] = tag
    return str(PackageURL(type="oci", name=name, version=digest, qualifiers=qualifiers))


def run_uri(run_id: str) -> str:
    """An absolute URI naming a shiplog run: `urn:uuid:<id>` (or `urn:shiplog:run:<id>`)."""
    try:
        return UUID(run_id).urn
    except ValueError:
        return f"urn:shiplog:run:{run_id}"


def to_cloudevent(item: Exportable, origin: str) -> Json | None:
    """The CloudEvent for `item`, with `origin` as its source; None if it has no counterpart.

    An event imported from a CloudEvent keeps that CloudEvent's source and id instead.
    """
    if isinstance(item.event, CDEventImported):
        return _kept(item.event)
    mapped = _map(item, origin)
    if mapped is None:
        return None
    event_type, subject, when, extra = mapped
    moment = timestamp(when or item.recorded_at)
    source, event_id = item.origin or (origin, str(item.event_id))
    context = {
        "specversion": CDEVENTS_VERSION,
        "id": event_id,
        "source": source,
        "type": event_type,
        "timestamp": moment,
    }
    data: Json = {"context": context, "subject": subject, **extra}
    return _envelope(event_id, source, event_type, moment, data)


def _envelope(event_id: str, source: str, event_type: str, moment: str, data: Json) -> Json:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": event_type,
        "time": moment,
        "datacontenttype": "application/json",
        "data": data,
    }


def _kept(event: CDEventImported) -> Json:
    """A CDEvent recorded whole goes out as it came, under its own CloudEvent identity."""
    data: Json = json.loads(event.cdevent_document)
    moment = str(data.get("context", {}).get("timestamp") or timestamp(event.timestamp))
    return _envelope(event.id, event.source, event.cdevent_type, moment, data)


Mapped = tuple[str, Json, datetime | None, Json]


def _map(item: Exportable, origin: str) -> Mapped | None:
    event = item.event
    if isinstance(event, RunQueued | RunClaimed | RunSucceeded | RunFailed | RunCancelled):
        return _run(item, origin)
    if isinstance(event, StepStarted | StepFinished):
        return _step(item, event, origin)
    if isinstance(event, ImagePushed):
        purl = image_purl(event.digest, event.repository, event.repository, event.tag)
        return ARTIFACT_PUBLISHED, {"id": purl, "source": origin, "content": {}}, None, {}
    if isinstance(event, DeploymentSucceeded | RolledBack):
        return _service(item, event, origin)
    if isinstance(event, IncidentOpened | IncidentResolved):
        return _incident(item, event, origin)
    if isinstance(event, CommitsPushed):
        head = event.commits[-1].sha if event.commits else event.ref
        commits = [commit.model_dump(mode="json") for commit in event.commits]
        subject = {
            "id": head,
            "source": origin,
            "content": {"repository": {"id": event.repository}},
        }
        return CHANGE_MERGED, subject, None, {"customData": {"ref": event.ref, "commits": commits}}
    return _imported(event)


def _run(item: Exportable, origin: str) -> Mapped:
    event = item.event
    queued = event if isinstance(event, RunQueued) else item.opener
    name = "unknown"
    if isinstance(queued, RunQueued):
        name = f"{queued.repository}#{queued.pipeline_path}"
    content: Json = {"pipelineName": name, "uri": run_uri(item.ident)}
    subject = {"id": item.ident, "source": origin, "content": content}
    if isinstance(event, RunQueued):
        return PIPELINE_QUEUED, subject, None, {}
    if isinstance(event, RunClaimed):
        return PIPELINE_STARTED, subject, None, {}
    if isinstance(event, RunSucceeded):
        content["outcome"] = "success"
    elif isinstance(event, RunFailed):
        content.update(outcome="failure", errors=event.reason)
    elif isinstance(event, RunCancelled):
        content["outcome"] = "cancel"
        if event.reason:
            content["errors"] = event.reason
    return PIPELINE_FINISHED, subject, None, {}


def _step(item: Exportable, event: StepStarted | StepFinished, origin: str) -> Mapped:
    content: Json = {"taskName": event.step, "pipelineRun": {"id": item.ident, "source": origin}}
    subject = {"id": f"{item.ident}/{event.step}", "source": origin, "content": content}
    if isinstance(event, StepStarted):
        return TASK_STARTED, subject, None, {}
    content["outcome"] = "success" if event.exit_code == 0 else "failure"
    if event.exit_code != 0:
        exit_code = "unknown" if event.exit_code is None else event.exit_code
        reason = event.reason or ("timed out" if event.timed_out else None)
        why = f" ({reason})" if reason else ""
        content["errors"] = f"exit code {exit_code}{why}"
    return TASK_FINISHED, subject, None, {}


def _service(item: Exportable, event: DeploymentSucceeded | RolledBack, origin: str) -> Mapped:
    purl = image_purl(event.image_digest, item.image_repository, event.service, None)
    content = {"environment": {"id": item.ident, "source": origin}, "artifactId": purl}
    subject = {"id": event.service, "source": origin, "content": content}
    if isinstance(event, RolledBack):
        event_type = SERVICE_ROLLEDBACK
    else:
        event_type = SERVICE_UPGRADED if item.upgraded else SERVICE_DEPLOYED
    return event_type, subject, event.finished_at, {}


def _incident(
    item: Exportable, event: IncidentOpened | IncidentResolved, origin: str
) -> Mapped | None:
    opened = event if isinstance(event, IncidentOpened) else item.opener
    if not isinstance(opened, IncidentOpened):
        return None  # no environment to name: never the case for incidents shiplog records
    content: Json = {
        "environment": {"id": opened.environment, "source": origin},
        "service": {"id": opened.service, "source": origin},
    }
    subject = {"id": item.ident, "source": origin, "content": content}
    if isinstance(event, IncidentOpened):
        content["description"] = event.summary
        return INCIDENT_DETECTED, subject, event.opened_at, {}
    if event.resolution:
        content["description"] = event.resolution
    return INCIDENT_RESOLVED, subject, event.resolved_at, {}


def _imported(event: Event) -> Mapped | None:
    """What was imported from CDEvents goes out as it came in, with the tool's source."""
    if isinstance(event, ExternalRunQueued | ExternalRunStarted | ExternalRunFinished):
        content: Json = {"pipelineName": event.pipeline_name, "uri": event.uri}
        if isinstance(event, ExternalRunFinished):
            content.update(outcome=event.outcome, errors=event.errors)
        subject = {"id": event.run, "source": event.source, "content": _present(content)}
        if isinstance(event, ExternalRunQueued):
            return PIPELINE_QUEUED, subject, event.queued_at, {}
        if isinstance(event, ExternalRunStarted):
            return PIPELINE_STARTED, subject, event.started_at, {}
        return PIPELINE_FINISHED, subject, event.finished_at, {}
    if isinstance(event, ArtifactPublished):
        content = {"user": event.user}
        if event.sbom_uri:
            content["sbom"] = {"uri": event.sbom_uri}
        subject = {"id": event.artifact_id, "source": event.source, "content": _present(content)}
        return ARTIFACT_PUBLISHED, subject, event.published_at, {}
    if isinstance(event, ChangeMerged):
        content = {"repository": {"id": event.repository}}
        subject = {"id": event.change, "source": event.source, "content": content}
        return CHANGE_MERGED, subject, event.merged_at, {}
    return None


def _present(content: Json) -> Json:
    """`content` without the keys whose value is None."""
    return {name: value for name, value in content.items() if value is not None}
