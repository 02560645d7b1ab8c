"""`POST /api/deployments`: record a deployment another tool made."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.api.schemas.writes import DeploymentIn, DeploymentRecordedOut
from app.deps import DeployerDep, StoreDep
from app.services.deployments import DeploymentReport, record_deployment

router = APIRouter(prefix="/api", tags=["events from outside"])


@router.post(
    "/deployments",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "The deployment id is recorded with other content."}},
)
def post_deployment(body: DeploymentIn, store: StoreDep, who: DeployerDep) -> DeploymentRecordedOut:
    """Record DeploymentStarted and its outcome in `env-<environment>`, as the actor."""
    report = DeploymentReport(**body.model_dump())
    written = record_deployment(store, report, who.actor)
    return DeploymentRecordedOut(
        deployment_id=body.deployment_id, positions=written.positions, replayed=written.replayed
    )
