"""Deployments made by other tools, recorded as DeploymentStarted and its outcome.

`record_deployment` appends DeploymentStarted and, for a finished rollout,
DeploymentSucceeded or DeploymentFailed to `env-<environment>` in one transaction,
with the caller's actor in the metadata. A retry is recognised and answered with
the original positions (app/services/idempotency.py). A rollout reported as
`started` can later be reported `succeeded` or `failed` under the same id, by
the same namespace (an integration reports only its own rollouts). Reported
times are checked (app/services/reported_times.py): none in the future, none
absurdly early, and a finish not before the start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from app.services.errors import Conflict, FieldProblem
from app.services.idempotency import (
    SHARED,
    Namespace,
    Written,
    append_once,
    cloudevent_metadata,
    valid_stream,
)
from app.services.reported_times import TimeRules, stored_time
from events.catalogue import Event, Metadata
from events.store import EventStore
from events.vocabulary import DeploymentFailed, DeploymentStarted, DeploymentSucceeded

SOURCE = "api"
NO_REASON = "no reason given"

DeploymentStatus = Literal["started", "succeeded", "failed"]


@dataclass(frozen=True)
class DeploymentReport:
    """What a caller reports about one rollout; times default to when they are recorded."""

    environment: str
    service: str
    image_digest: str
    status: DeploymentStatus
    deployment_id: str
    run_id: str | None = None
    reason: str | None = None
    strategy: str = "rolling"
    repository: str | None = None
    commit: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


def planned_events(report: DeploymentReport, namespace: Namespace = SHARED) -> list[Event]:
    """DeploymentStarted, then the outcome event the status names (if finished)."""
    if report.reason is not None and report.status != "failed":
        raise FieldProblem("reason", "a reason is recorded only for status 'failed'")
    if report.finished_at is not None and report.status == "started":
        raise FieldProblem("finished_at", "a finish time is recorded only for a finished status")
    deployment_id = namespace.ident(report.deployment_id)
    events: list[Event] = [
        DeploymentStarted(
            deployment_id=deployment_id,
            service=report.service,
            image_digest=report.image_digest,
            strategy=report.strategy,
            run_id=report.run_id,
            started_at=report.started_at,
            repository=report.repository,
            commit=report.commit,
        )
    ]
    if report.status == "succeeded":
        events.append(
            DeploymentSucceeded(
                deployment_id=deployment_id,
                service=report.service,
                image_digest=report.image_digest,
                finished_at=report.finished_at,
            )
        )
    elif report.status == "failed":
        events.append(
            DeploymentFailed(
                deployment_id=deployment_id,
                service=report.service,
                reason=report.reason or NO_REASON,
                finished_at=report.finished_at,
            )
        )
    return events


@dataclass(frozen=True)
class Reporter:
    """Who reports: the actor events record, the namespace of its ids, the time rules.

    `cloudevent` is the (source, id) of the CloudEvent a report came in, kept in the
    metadata of the events it becomes.
    """

    actor: str
    namespace: Namespace = SHARED
    times: TimeRules = field(default_factory=TimeRules)
    source: str = SOURCE
    cloudevent: tuple[str, str] | None = None

    def metadata(self) -> Metadata:
        """The metadata of the events this reporter's report becomes."""
        return cloudevent_metadata(self.actor, self.source, self.cloudevent)


def record_deployment(store: EventStore, report: DeploymentReport, by: Reporter) -> Written:
    """Record `report` in `env-<environment>` as `by.actor`; see the module docstring."""
    stream = valid_stream("env", report.environment, "environment")
    by.times.check("started_at", report.started_at)
    by.times.check("finished_at", report.finished_at)
    by.times.check_order("finished_at", report.finished_at, "started_at", report.started_at)
    events = planned_events(report, by.namespace)
    key = report.deployment_id
    ids: dict[type[Event], UUID] = {
        cls: by.namespace.event_id(key, cls)
        for cls in (DeploymentStarted, DeploymentSucceeded, DeploymentFailed)
    }
    known = store.find(list(ids.values()))
    outcomes = (DeploymentSucceeded, DeploymentFailed)
    finished = [known[ids[cls]] for cls in outcomes if ids[cls] in known]
    recorded = by.namespace.ident(key)
    if finished and len(events) == 2 and finished[0].type != events[1].type_name:
        raise Conflict(
            f"deployment {recorded!r} already finished ({finished[0].type} at position "
            f"{finished[0].position}); it cannot now be reported as {report.status!r}"
        )
    started = known.get(ids[DeploymentStarted])
    if started is not None and len(events) == 2:
        began = stored_time(started.data, "started_at", started.recorded_at)
        by.times.check_order("finished_at", report.finished_at, "its recorded start", began)
    planned = [(event, ids[type(event)]) for event in events]
    return append_once(store, stream, planned, by.metadata(), f"deployment {recorded!r}")
