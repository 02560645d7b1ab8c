"""`POST /api/incidents`: open and/or resolve an incident reported by another tool."""

from __future__ import annotations

from uuid import uuid4

from fastapi import APIRouter, status
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ActorDep, StoreDep
from app.api.routes.deployments import Name, Recorded, Text, UtcTime
from app.api.services.incidents import Incident, record_incident

router = APIRouter(prefix="/api", tags=["events from outside"])


class IncidentIn(BaseModel):
    """An incident as another tool reports it: opened, resolved, or both."""

    model_config = ConfigDict(extra="forbid")

    incident_id: Name = Field(
        default_factory=lambda: str(uuid4()),
        description="Identifies the incident (default: a new uuid); its stream is "
        "`incident-<id>`. Resend it to resolve the incident or to retry safely.",
    )
    environment: Name | None = Field(
        default=None, description="The environment affected (needed to open)."
    )
    service: Name | None = Field(default=None, description="The service affected (to open).")
    summary: Text | None = Field(default=None, description="What went wrong (needed to open).")
    caused_by_deployment: Name | None = Field(
        default=None, description="The `deployment_id` of the rollout that caused it."
    )
    resolved: bool = Field(default=False, description="True to record that it is resolved.")
    resolution: Text | None = Field(default=None, description="How it was resolved.")
    opened_at: UtcTime | None = Field(
        default=None, description="When it began (default: when it is recorded)."
    )
    resolved_at: UtcTime | None = Field(
        default=None,
        description="When it ended, with `resolved: true` (default: when it is recorded).",
    )


class IncidentOut(Recorded):
    incident_id: str


@router.post(
    "/incidents",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Already resolved otherwise, or opened otherwise."}},
)
def post_incident(body: IncidentIn, store: StoreDep, actor: ActorDep) -> IncidentOut:
    """Record IncidentOpened and/or IncidentResolved in `incident-<id>`, as the actor."""
    incident = Incident(
        incident_id=body.incident_id,
        environment=body.environment,
        service=body.service,
        summary=body.summary,
        caused_by_deployment=body.caused_by_deployment,
        resolved=body.resolved,
        resolution=body.resolution,
        opened_at=body.opened_at,
        resolved_at=body.resolved_at,
    )
    written = record_incident(store, incident, actor)
    return IncidentOut(
        incident_id=body.incident_id, positions=written.positions, replayed=written.replayed
    )
