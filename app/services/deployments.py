"""Deployments made by other tools, recorded as DeploymentStarted and its outcome.

`record_deployment` appends DeploymentStarted and, for a finished rollout,
DeploymentSucceeded or DeploymentFailed to `env-<environment>` in one transaction,
with the caller's actor in the metadata. A retry is recognised and answered with
the original positions (app/services/idempotency.py). A rollout reported as
`started` can later be reported `succeeded` or `failed` under the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from app.services.errors import Conflict, FieldProblem
from app.services.idempotency import (
    Written,
    append_once,
    cloudevent_metadata,
    event_id_for,
    valid_stream,
)
from events.catalogue import Event
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


def planned_events(report: DeploymentReport) -> list[Event]:
    """DeploymentStarted, then the outcome event the status names (if finished)."""
    if report.reason is not None and report.status != "failed":
        raise FieldProblem("reason", "a reason is recorded only for status 'failed'")
    if report.finished_at is not None and report.status == "started":
        raise FieldProblem("finished_at", "a finish time is recorded only for a finished status")
    events: list[Event] = [
        DeploymentStarted(
            deployment_id=report.deployment_id,
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
                deployment_id=report.deployment_id,
                service=report.service,
                image_digest=report.image_digest,
                finished_at=report.finished_at,
            )
        )
    elif report.status == "failed":
        events.append(
            DeploymentFailed(
                deployment_id=report.deployment_id,
                service=report.service,
                reason=report.reason or NO_REASON,
                finished_at=report.finished_at,
            )
        )
    return events


def record_deployment(
    store: EventStore,
    report: DeploymentReport,
    actor: str,
    source: str = SOURCE,
    *,
    cloudevent: tuple[str, str] | None = None,
) -> Written:
    """Record `report` in `env-<environment>` as `actor`; see the module docstring."""
    stream = valid_stream("env", report.environment, "environment")
    events = planned_events(report)
    key = report.deployment_id
    outcomes = (DeploymentSucceeded, DeploymentFailed)
    ids: dict[type[Event], UUID] = {cls: event_id_for(key, cls) for cls in outcomes}
    finished = list(store.find(list(ids.values())).values())
    if finished and len(events) == 2 and finished[0].type != events[1].type_name:
        raise Conflict(
            f"deployment {key!r} already finished ({finished[0].type} at position "
            f"{finished[0].position}); it cannot now be reported as {report.status!r}"
        )
    planned = [(event, event_id_for(key, type(event))) for event in events]
    metadata = cloudevent_metadata(actor, source, cloudevent)
    return append_once(store, stream, planned, metadata, f"deployment {key!r}")
