"""CDEvents in and out: import a CloudEvent into the ledger, export the ledger as CloudEvents.

Import: app/cdevents/imports.py checks the CloudEvent against the official schema
and plans what to record; deployments and incidents then go through the same
services as POST /api/deployments and /api/incidents (with metadata source
`cdevents`), everything else is appended here. The ids of the events a
CloudEvent becomes are uuid5 of its identity (`imports.key(source, id)`) and the
event type, so a resend writes nothing and answers the original positions, and
the same identity with other content is a Conflict. Incidents are the exception:
their events are keyed by the incident (one IncidentOpened, one IncidentResolved
per incident), as for POST /api/incidents.

Export: the ledger types that have a CDEvents counterpart, in subscription order
after a cursor (GET /api/events' keyset pagination), mapped by
app/cdevents/exports.py.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from app.api.services.audit import AuditEvent, AuditQuery, list_events
from app.api.services.deployments import (
    Conflict,
    Deployment,
    Written,
    event_id_for,
    record_deployment,
    recorded,
    same_or_conflict,
)
from app.api.services.incidents import Incident, record_incident
from app.cdevents import exports
from app.cdevents.imports import (
    Append,
    CloudEvent,
    DeploymentReport,
    IncidentReport,
    Plan,
    parse,
    plan,
)
from events.catalogue import Event, Metadata
from events.store import ANY, Cursor, EventStore
from events.vocabulary import (
    ArtifactPublished,
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
    if isinstance(planned, DeploymentReport):
        deployment = Deployment(
            environment=planned.environment,
            service=planned.service,
            image_digest=planned.image_digest,
            status="succeeded",
            deployment_id=planned.deployment_id,
            strategy=UNKNOWN,
            started_at=planned.at,
            finished_at=planned.at,
        )
        written = record_deployment(store, deployment, actor, source=SOURCE)
        stream = f"env-{planned.environment}"
    elif isinstance(planned, IncidentReport):
        written = _incident(store, planned, actor)
        stream = f"incident-{planned.incident_id}"
    else:
        planned = _link_rollback(store, planned)
        written = _append(store, planned, actor, f"CloudEvent {event.id!r} from {event.source!r}")
        stream = planned.stream
    return Imported(event.type, stream, written.positions, written.replayed)


def _refuse_reuse(store: EventStore, event: CloudEvent, planned: Plan) -> None:
    """Conflict if this CloudEvent's identity was imported before as something else."""
    ids = {event_id_for(event.key, cls): cls for cls in KEYED}
    mine: set[UUID] = set()
    if isinstance(planned, DeploymentReport):
        mine = {
            event_id_for(event.key, DeploymentStarted),
            event_id_for(event.key, DeploymentSucceeded),
        }
    elif isinstance(planned, Append):
        mine = {event_id_for(planned.id_key, type(item)) for item in planned.events}
    for found in recorded(store, list(ids)).values():
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
    earlier = recorded(store, [own_id]).get(own_id)
    if earlier is not None:
        target = earlier.data.get("deployment_id")
    else:
        with store.connection() as conn:
            row = conn.execute(
                "SELECT data->>'deployment_id' FROM events WHERE stream = %s "
                "AND type = 'DeploymentSucceeded' AND data->>'service' = %s "
                "ORDER BY version DESC LIMIT 1",
                (planned.stream, rolled.service),
            ).fetchone()
        target = None if row is None else row[0]
    if not isinstance(target, str):
        return planned
    linked = rolled.model_copy(update={"deployment_id": target})
    return replace(planned, events=(linked,))


def _incident(store: EventStore, report: IncidentReport, actor: str) -> Written:
    """IncidentOpened for incident.detected; IncidentResolved for incident.resolved."""
    if not report.resolved:
        incident = Incident(
            incident_id=report.incident_id,
            environment=report.environment,
            service=report.service or UNKNOWN,
            summary=report.summary,
            opened_at=report.at,
        )
        return record_incident(store, incident, actor, source=SOURCE)
    if not recorded(store, [event_id_for(report.incident_id, IncidentOpened)]):
        raise Conflict(
            f"incident {report.subject!r} was never detected here: send its "
            "incident.detected first (shiplog resolves only incidents it has opened)"
        )
    incident = Incident(
        incident_id=report.incident_id,
        environment=report.environment,
        service=report.service,
        resolved=True,
        resolution=report.description,
        resolved_at=report.at,
    )
    return record_incident(store, incident, actor, source=SOURCE)


def _append(store: EventStore, planned: Append, actor: str, what: str) -> Written:
    """Append the planned events once: a resend answers the recorded positions."""
    ids = [event_id_for(planned.id_key, type(item)) for item in planned.events]
    known = recorded(store, ids)
    new = [(item, i) for item, i in zip(planned.events, ids, strict=True) if i not in known]
    for item, i in zip(planned.events, ids, strict=True):
        if i in known:
            same_or_conflict(store, planned.stream, item, known[i], what)
    if new:
        metadata = Metadata(actor=actor, source=SOURCE)
        with store.transaction() as tx:
            events = [item for item, _ in new]
            tx.append(planned.stream, events, ANY, metadata, event_ids=[i for _, i in new])
    after = recorded(store, ids)
    for item, i in new:  # a concurrent request may have recorded these ids first
        same_or_conflict(store, planned.stream, item, after[i], what)
    return Written([after[i].position for i in ids], replayed=not new)


# --- export ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportPage:
    """CloudEvents, the cursor to continue after, and whether more were there already."""

    events: list[dict[str, Any]]
    next: Cursor
    more: bool


def export_page(store: EventStore, after: Cursor, limit: int, origin: str) -> ExportPage:
    """Up to `limit` CloudEvents for the exportable ledger events after `after`."""
    page = list_events(store, AuditQuery(types=exports.EXPORTED_TYPES, after=after, limit=limit))
    decoded = [_decode(store, row) for row in page.events]
    openers = _openers(
        store, [row.stream for row in page.events if row.type in exports.NEEDS_OPENER]
    )
    digests = [getattr(event, "image_digest", "") for event in decoded]
    repositories = _image_repositories(store, [digest for digest in digests if digest])
    upgraded = _upgraded(store, list(zip(page.events, decoded, strict=True)))
    out = []
    for row, event in zip(page.events, decoded, strict=True):
        digest = getattr(event, "image_digest", None)
        item = exports.Exportable(
            event_id=row.event_id,
            stream=row.stream,
            recorded_at=row.recorded_at,
            event=event,
            opener=openers.get(row.stream),
            upgraded=row.event_id in upgraded,
            image_repository=repositories.get(digest) if digest else None,
        )
        cloudevent = exports.to_cloudevent(item, origin)
        if cloudevent is not None:
            out.append(cloudevent)
    last = page.events[-1].cursor if page.events else after
    return ExportPage(out, last, more=page.next is not None)


def _decode(store: EventStore, row: AuditEvent) -> Event:
    """The stored payload as its catalogue class, upcast to the current schema version."""
    return store.catalogue.decode(row.type, row.schema_version, json.dumps(row.data))


def _openers(store: EventStore, streams: Sequence[str]) -> dict[str, Event]:
    """The first event of each of `streams` (RunQueued, IncidentOpened), decoded."""
    if not streams:
        return {}
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT stream, type, schema_version, data::text FROM events "
            "WHERE stream = ANY(%s) AND version = 0",
            (sorted(set(streams)),),
        ).fetchall()
    return {
        stream: store.catalogue.decode(kind, version, data) for stream, kind, version, data in rows
    }


def _image_repositories(store: EventStore, digests: Sequence[str]) -> dict[str, str]:
    """For each digest, the repository it was first pushed or published to, if known.

    Uses events_image_digest_idx (migrations/0017_events_image_digest_index.sql).
    """
    if not digests:
        return {}
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (data->>'digest') data->>'digest', data->>'repository' "
            "FROM events WHERE type IN ('ImagePushed', 'ArtifactPublished') "  # partial index
            "AND data->>'digest' = ANY(%s) AND data->>'repository' IS NOT NULL "
            "ORDER BY data->>'digest', position",
            (sorted(set(digests)),),
        ).fetchall()
    return {digest: repository for digest, repository in rows}


def _upgraded(store: EventStore, rows: Sequence[tuple[AuditEvent, Event]]) -> set[UUID]:
    """The DeploymentSucceeded among `rows` after which the service runs another image.

    That is: before it in its environment's stream, the last DeploymentSucceeded or
    RolledBack of the same service had another digest. One query for the whole page.
    """
    wanted: list[tuple[AuditEvent, DeploymentSucceeded]] = []
    for row, event in rows:
        if isinstance(event, DeploymentSucceeded):
            wanted.append((row, event))
    if not wanted:
        return set()
    with store.connection() as conn:
        found = conn.execute(
            "SELECT q.n, (SELECT e.data->>'image_digest' FROM events e "
            "WHERE e.stream = q.stream AND e.version < q.version "
            "AND e.type IN ('DeploymentSucceeded', 'RolledBack') "
            "AND e.data->>'service' = q.service ORDER BY e.version DESC LIMIT 1) "
            "FROM unnest(%s::text[], %s::bigint[], %s::text[]) WITH ORDINALITY "
            "AS q(stream, version, service, n)",
            (
                [row.stream for row, _ in wanted],
                [row.version for row, _ in wanted],
                [event.service for _, event in wanted],
            ),
        ).fetchall()
    before = {int(n): digest for n, digest in found}
    return {
        row.event_id
        for n, (row, event) in enumerate(wanted, start=1)
        if before.get(n) is not None and before[n] != event.image_digest
    }
