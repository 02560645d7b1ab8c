"""Incidents reported from outside: IncidentOpened, then IncidentResolved, in `incident-<id>`.

A request opens the incident (environment, service and summary are needed for
that), resolves it (`resolved`), or both at once. Event ids are deterministic
(app/services/idempotency.py): resending a request whose events are recorded with
the same payloads answers their original positions and writes nothing. Resolving
an incident that is already resolved, with another resolution, is a Conflict; an
identical resolve cannot be told from a retry of the first, so it is answered as one.
An integration's incident ids (and the deployments it names as causes) are its own:
recorded as `<integration>/<id>`. The reported times are checked as a deployment's
are, and an incident cannot be resolved before it was opened.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from app.services.deployments import Reporter
from app.services.errors import Conflict, FieldProblem
from app.services.idempotency import Written, payload, same_or_conflict, valid_stream
from app.services.reported_times import stored_time
from events.catalogue import Event
from events.store import NO_STREAM, EventStore, ExpectedVersion
from events.vocabulary import IncidentOpened, IncidentResolved


@dataclass(frozen=True)
class IncidentReport:
    """What a caller reports about one incident; times default to when they are recorded."""

    incident_id: str
    environment: str | None = None
    service: str | None = None
    summary: str | None = None
    caused_by_deployment: str | None = None
    resolved: bool = False
    resolution: str | None = None
    opened_at: datetime | None = None
    resolved_at: datetime | None = None


def record_incident(store: EventStore, report: IncidentReport, by: Reporter) -> Written:
    """Open and/or resolve the incident in `incident-<id>` as `by.actor`; see the module doc."""
    ns = by.namespace
    if report.caused_by_deployment is not None:
        report = replace(report, caused_by_deployment=ns.ident(report.caused_by_deployment))
    ident = ns.ident(report.incident_id)
    stream = valid_stream("incident", ident, "incident_id")
    if report.environment is not None:
        valid_stream("env", report.environment, "environment")
    if report.resolution is not None and not report.resolved:
        raise FieldProblem("resolution", "a resolution is recorded only with resolved: true")
    if report.resolved_at is not None and not report.resolved:
        raise FieldProblem("resolved_at", "a resolution time is recorded only with resolved: true")
    by.times.check("opened_at", report.opened_at)
    by.times.check("resolved_at", report.resolved_at)
    opened_id = ns.event_id(report.incident_id, IncidentOpened)
    resolved_id = ns.event_id(report.incident_id, IncidentResolved)
    known = store.find([opened_id, resolved_id])
    what = f"incident {ident!r}"
    opened = known.get(opened_id)
    new: list[Event] = []
    if opened is None:
        new.append(opening(report))
        began = report.opened_at
    else:
        check_opening(report, opened.data, what)
        began = stored_time(opened.data, "opened_at", opened.recorded_at)
    by.times.check_order("resolved_at", report.resolved_at, "opened_at", began)
    if report.resolved:
        resolving = IncidentResolved(resolution=report.resolution, resolved_at=report.resolved_at)
        earlier = known.get(resolved_id)
        if earlier is None:
            new.append(resolving)
        elif earlier.data != payload(store, resolving, stream):
            raise Conflict(
                f"{what} is already resolved (IncidentResolved at position {earlier.position}, "
                f"resolution {earlier.data.get('resolution')!r}); an incident is resolved once"
            )
    if new:
        ids = [ns.event_id(report.incident_id, type(event)) for event in new]
        expected: ExpectedVersion = NO_STREAM if opened is None else 0
        metadata = by.metadata()
        with store.transaction() as tx:
            tx.append(stream, new, expected, metadata, event_ids=ids)
    wanted = [opened_id, resolved_id] if report.resolved else [opened_id]
    after = store.find(wanted)
    for event in new:  # a concurrent request may have recorded these ids first
        found = after[ns.event_id(report.incident_id, type(event))]
        same_or_conflict(store, stream, event, found, what)
    return Written([after[i].position for i in wanted], replayed=not new)


def opening(report: IncidentReport) -> IncidentOpened:
    """The IncidentOpened for a new incident, or a FieldProblem naming what it lacks."""
    for field in ("environment", "service", "summary"):
        if getattr(report, field) is None:
            raise FieldProblem(
                field, f"required to open incident {report.incident_id!r} (it is not open)"
            )
    assert report.environment and report.service and report.summary
    return IncidentOpened(
        environment=report.environment,
        service=report.service,
        summary=report.summary,
        caused_by_deployment=report.caused_by_deployment,
        opened_at=report.opened_at,
    )


def check_opening(report: IncidentReport, data: dict[str, object], what: str) -> None:
    """Conflict if the request gives opening fields that differ from the recorded ones."""
    for field in ("environment", "service", "summary", "caused_by_deployment", "opened_at"):
        given = getattr(report, field)
        stored = data.get(field)
        if isinstance(given, datetime) and isinstance(stored, str):
            stored = datetime.fromisoformat(stored)
        if given is not None and given != stored:
            raise Conflict(
                f"{what} was opened with {field} {data.get(field)!r}, not {given!r}; "
                "the ledger is immutable"
            )
