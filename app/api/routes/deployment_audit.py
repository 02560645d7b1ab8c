"""`GET /api/audit/deployments`: who deployed what, where, when, from which commit."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.api.csv_bodies import deployments_csv
from app.api.params import NEXT_HEADER
from app.api.schemas.deployments import DeploymentAuditPageOut, DeploymentOut
from app.deps import AsOfDep, StoreDep
from app.inputs import CleanStr, UtcMoment
from app.queries.deployments import MAX_LIMIT
from app.queries.environments import DeploymentAudit, audit_deployments

router = APIRouter(prefix="/api", tags=["audit"])


@router.get(
    "/audit/deployments",
    response_model=DeploymentAuditPageOut,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv."}},
)
def get_deployment_audit(
    store: StoreDep,
    as_of: AsOfDep,
    env: Annotated[CleanStr | None, Query(description="Only this environment.")] = None,
    service: Annotated[CleanStr | None, Query(description="Only this service.")] = None,
    since: Annotated[
        UtcMoment | None, Query(description="Started at or after (ISO 8601; naive is UTC).")
    ] = None,
    until: Annotated[
        UtcMoment | None, Query(description="Started before (ISO 8601; naive is UTC).")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="`next` of a previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response | DeploymentAuditPageOut:
    """Deployments by start time, with actor, image, commit and outcome; keyset pages."""
    query = DeploymentAudit(env, service, since, until, as_of, limit, after)
    page = audit_deployments(store, query)
    following = None if page.next is None else str(page.next)
    if output == "csv":
        headers = {} if following is None else {NEXT_HEADER: following}
        return Response(
            deployments_csv(page.deployments),
            media_type="text/csv; charset=utf-8",
            headers=headers,
        )
    return DeploymentAuditPageOut(
        deployments=[DeploymentOut.model_validate(d) for d in page.deployments], next=following
    )
