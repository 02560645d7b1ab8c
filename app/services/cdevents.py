"""CDEvents in: check a CloudEvent, map it to ledger events and record them once.

app/cdevents/imports.py checks the CloudEvent against the official schema and
plans what to record; deployments and incidents then go through the same commands
as POST /api/deployments and /api/incidents (with metadata source `cdevents`),
everything else is appended here: the types shiplog maps to its own events, and
CDEventImported for every other valid CDEvent. Every event written carries the
CloudEvent's `source` and `id` in its metadata, so the export gives them back.
The ids of the events a CloudEvent becomes are uuid5 of its identity
(`imports.key(source, id)`) and the event type, so a resend writes nothing and
answers the original positions, and the same identity with other content is a
Conflict. Incidents are the exception: their events are keyed
by the incident (one IncidentOpened, one IncidentResolved per incident), as for
POST /api/incidents.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from app.cdevents.imports import (
    Append,
    CloudEvent,
    DeploymentPlan,
    IncidentPlan,
    Plan,
    parse,
    plan,
)
from app.services.deployments import DeploymentReport, record_deployment
from app.services.errors import Conflict
from app.services.idempotency import Written, append_once, event_id_for
from app.services.incidents import IncidentReport, record_incident
from events.catalogue import Event, Metadata
from events.store import EventStore
from events.vocabulary import (
    ArtifactPublished,
    CDEventImported,
    ChangeMerged,
    DeploymentStarted,
    DeploymentSucceeded,
    ExternalRunFinished,
    ExternalRunQueued,
    ExternalRunStarted,
    IncidentOpened,
    RolledBack,
)

SOURCE = "cdevents"
# Every type whose event ids are derived from a CloudEvent's identity.
KEYED: tuple[type[Event], ...] = (
    DeploymentStarted,
    DeploymentSucceeded,
    RolledBack,
    ExternalRunQueued,
    ExternalRunStarted,
    ExternalRunFinished,
    ArtifactPublished,
    ChangeMerged,
    CDEventImported,
)
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Imported:
    """Where an imported CloudEvent's events are, and whether this request wrote them."""

    type: str
    stream: str
    positions: list[int]
    replayed: bool


def import_cloudevent(store: EventStore, body: Any, actor: str) -> Imported:
    """Check, map and record one CloudEvent as `actor`; Refused, FieldProblem or Conflict."""
    event = parse(body)
    planned = plan(event)
    _refuse_reuse(store, event, planned)
    origin = (event.source, event.id)
    if isinstance(planned, DeploymentPlan):
        report = DeploymentReport(
            environment=planned.environment,
            service=planned.service,
            image_digest=planned.image_digest,
            status="succeeded",
            deployment_id=planned.deployment_id,
            strategy=UNKNOWN,
            started_at=planned.at,
            finished_at=planned.at,
        )
        written = record_deployment(store, report, actor, source=SOURCE, cloudevent=origin)
        stream = f"env-{planned.environment}"
    elif isinstance(planned, IncidentPlan):
        written = _incident(store, planned, actor, origin)
        stream = f"incident-{planned.incident_id}"
    else:
        planned = _link_rollback(store, planned)
        what = f"CloudEvent {event.id!r} from {event.source!r}"
        ids = [(item, event_id_for(planned.id_key, type(item))) for item in planned.events]
        metadata = Metadata(
            actor=actor, source=SOURCE, cloudevent_source=event.source, cloudevent_id=event.id
        )
        written = append_once(store, planned.stream, ids, metadata, what)
        stream = planned.stream
    return Imported(event.type, stream, written.positions, written.replayed)


def _refuse_reuse(store: EventStore, event: CloudEvent, planned: Plan) -> None:
    """Conflict if this CloudEvent's identity was imported before as something else."""
    ids = {event_id_for(event.key, cls): cls for cls in KEYED}
    mine: set[UUID] = set()
    if isinstance(planned, DeploymentPlan):
        mine = {
            event_id_for(event.key, DeploymentStarted),
            event_id_for(event.key, DeploymentSucceeded),
        }
    elif isinstance(planned, Append):
        mine = {event_id_for(planned.id_key, type(item)) for item in planned.events}
    for found in store.find(list(ids)).values():
        if found.event_id not in mine:
            raise Conflict(
                f"CloudEvent {event.id!r} from {event.source!r} was already imported as "
                f"{found.type} at position {found.position}; the ledger is immutable, so "
                "send a new CloudEvent id"
            )


def _link_rollback(store: EventStore, planned: Append) -> Append:
    """A RolledBack names the rollout it undoes: the service's last succeeded deployment.

    CDEvents does not say which rollout a rollback undoes. The service's last
    DeploymentSucceeded in the environment is taken when the rollback is first
    recorded; a resend keeps what was recorded then, so it stays a replay. With no
    deployment to name, the CloudEvent's key stands in (the planned value).
    """
    rolled = planned.events[0]
    if not isinstance(rolled, RolledBack):
        return planned
    own_id = event_id_for(planned.id_key, RolledBack)
    earlier = store.find([own_id]).get(own_id)
    if earlier is not None:
        target = earlier.data.get("deployment_id")
    else:
        (last,) = store.preceding(
            [(planned.stream, 2**62, rolled.service)], [DeploymentSucceeded.type_name], "service"
        )
        target = None if last is None else last.data.get("deployment_id")
    if not isinstance(target, str):
        return planned
    linked = rolled.model_copy(update={"deployment_id": target})
    return replace(planned, events=(linked,))


def _incident(
    store: EventStore, planned: IncidentPlan, actor: str, origin: tuple[str, str]
) -> Written:
    """IncidentOpened for incident.detected; IncidentResolved for incident.resolved."""
    if not planned.resolved:
        report = IncidentReport(
            incident_id=planned.incident_id,
            environment=planned.environment,
            service=planned.service or UNKNOWN,
            summary=planned.summary,
            opened_at=planned.at,
        )
        return record_incident(store, report, actor, source=SOURCE, cloudevent=origin)
    opened_id = event_id_for(planned.incident_id, IncidentOpened)
    if not store.find([opened_id]):
        raise Conflict(
            f"incident {planned.subject!r} was never detected here: send its "
            "incident.detected first (shiplog resolves only incidents it has opened)"
        )
    report = IncidentReport(
        incident_id=planned.incident_id,
        environment=planned.environment,
        service=planned.service,
        resolved=True,
        resolution=planned.description,
        resolved_at=planned.at,
    )
    return record_incident(store, report, actor, source=SOURCE, cloudevent=origin)
