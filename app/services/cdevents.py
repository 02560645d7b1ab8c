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
POST /api/incidents. All of these ids are namespaced by the reporter
(app/services/idempotency.py): an integration's CloudEvent identities are its own.
The CloudEvent's timestamp is checked as every reported time is
(app/services/reported_times.py); a problem with it is answered at its JSON path.
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
    Refused,
    parse,
    plan,
)
from app.cdevents.schemas import SchemaProblem
from app.services.deployments import DeploymentReport, Reporter, record_deployment
from app.services.errors import Conflict, FieldProblem
from app.services.idempotency import Namespace, Written, append_once
from app.services.incidents import IncidentReport, record_incident
from events.catalogue import Event
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


TIMESTAMP_PATH = "$.data.context.timestamp"


def import_cloudevent(store: EventStore, body: Any, by: Reporter) -> Imported:
    """Check, map and record one CloudEvent as `by.actor`; Refused, FieldProblem or Conflict."""
    event = parse(body)
    try:
        by.times.check("timestamp", event.timestamp)
    except FieldProblem as problem:
        raise Refused([SchemaProblem(TIMESTAMP_PATH, str(problem))]) from None
    by = replace(by, source=SOURCE, cloudevent=(event.source, event.id))
    planned = plan(event, by.namespace.owner)
    _refuse_reuse(store, event, planned, by.namespace)
    try:
        return _record(store, event, planned, by)
    except FieldProblem as problem:
        if problem.field not in TIME_FIELDS:
            raise
        raise Refused([SchemaProblem(TIMESTAMP_PATH, str(problem))]) from None


# The report fields a CloudEvent's timestamp fills: their problems are the timestamp's.
TIME_FIELDS = ("started_at", "finished_at", "opened_at", "resolved_at")


def _record(store: EventStore, event: CloudEvent, planned: Plan, by: Reporter) -> Imported:
    """Record what `planned` says; where its events are."""
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
        written = record_deployment(store, report, by)
        stream = f"env-{planned.environment}"
    elif isinstance(planned, IncidentPlan):
        written = _incident(store, planned, by)
        stream = f"incident-{by.namespace.ident(planned.incident_id)}"
    else:
        planned = _link_rollback(store, planned, by.namespace)
        what = f"CloudEvent {event.id!r} from {event.source!r}"
        ns = by.namespace
        ids = [(item, ns.event_id(planned.id_key, type(item))) for item in planned.events]
        metadata = by.metadata()
        written = append_once(store, planned.stream, ids, metadata, what)
        stream = planned.stream
    return Imported(event.type, stream, written.positions, written.replayed)


def _refuse_reuse(store: EventStore, event: CloudEvent, planned: Plan, ns: Namespace) -> None:
    """Conflict if this CloudEvent's identity was imported before as something else."""
    ids = {ns.event_id(event.key, cls): cls for cls in KEYED}
    mine: set[UUID] = set()
    if isinstance(planned, DeploymentPlan):
        mine = {
            ns.event_id(event.key, DeploymentStarted),
            ns.event_id(event.key, DeploymentSucceeded),
        }
    elif isinstance(planned, Append):
        mine = {ns.event_id(planned.id_key, type(item)) for item in planned.events}
    for found in store.find(list(ids)).values():
        if found.event_id not in mine:
            raise Conflict(
                f"CloudEvent {event.id!r} from {event.source!r} was already imported as "
                f"{found.type} at position {found.position}; the ledger is immutable, so "
                "send a new CloudEvent id"
            )


def _link_rollback(store: EventStore, planned: Append, ns: Namespace) -> Append:
    """A RolledBack names the rollout it undoes: the service's last succeeded deployment.

    CDEvents does not say which rollout a rollback undoes. The service's last
    DeploymentSucceeded in the environment is taken when the rollback is first
    recorded; a resend keeps what was recorded then, so it stays a replay. With no
    deployment to name, the CloudEvent's key stands in (the planned value).
    """
    rolled = planned.events[0]
    if not isinstance(rolled, RolledBack):
        return planned
    own_id = ns.event_id(planned.id_key, RolledBack)
    earlier = store.find([own_id]).get(own_id)
    if earlier is not None:
        target = earlier.data.get("deployment_id")
    else:
        (last,) = store.preceding(
            [(planned.stream, 2**62, rolled.service)], [DeploymentSucceeded.type_name], "service"
        )
        target = None if last is None else last.data.get("deployment_id")
    if not isinstance(target, str):
        target = ns.ident(rolled.deployment_id)  # the CloudEvent's key, as the reporter's
    linked = rolled.model_copy(update={"deployment_id": target})
    return replace(planned, events=(linked,))


def _incident(store: EventStore, planned: IncidentPlan, by: Reporter) -> Written:
    """IncidentOpened for incident.detected; IncidentResolved for incident.resolved."""
    if not planned.resolved:
        report = IncidentReport(
            incident_id=planned.incident_id,
            environment=planned.environment,
            service=planned.service or UNKNOWN,
            summary=planned.summary,
            opened_at=planned.at,
        )
        return record_incident(store, report, by)
    opened_id = by.namespace.event_id(planned.incident_id, IncidentOpened)
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
    return record_incident(store, report, by)
