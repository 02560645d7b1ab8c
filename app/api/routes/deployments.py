"""`POST /api/deployments`: record a deployment another tool made."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.api.schemas.writes import DeploymentIn, DeploymentRecordedOut
from app.deps import DeployerDep, SettingsDep, StoreDep, reporter_of
from app.services.deployments import DeploymentReport, record_deployment

router = APIRouter(prefix="/api", tags=["events from outside"])


@router.post(
    "/deployments",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "The deployment id is recorded with other content."}},
)
def post_deployment(
    body: DeploymentIn, store: StoreDep, settings: SettingsDep, who: DeployerDep
) -> DeploymentRecordedOut:
    """Record DeploymentStarted and its outcome in `env-<environment>`, as the token's name.

    An integration's deployment ids are its own: recorded (and answered) as
    `<integration>/<deployment_id>`.
    """
    report = DeploymentReport(**body.model_dump())
    by = reporter_of(who, settings)
    written = record_deployment(store, report, by)
    return DeploymentRecordedOut(
        deployment_id=by.namespace.ident(body.deployment_id),
        positions=written.positions,
        replayed=written.replayed,
    )
