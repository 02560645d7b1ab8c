"""`GET /api/velocity`: DORA metrics per service and production environment, and stage timing."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from app.api.schemas.velocity import SummaryOut, VelocityOut, VelocityReportOut
from app.deps import AsOfDep, SettingsDep, StoreDep
from app.inputs import CleanStr
from app.queries.velocity import velocity_report
from app.velocity.render import to_csv

router = APIRouter(prefix="/api", tags=["velocity"])


@router.get(
    "/velocity",
    response_model=VelocityReportOut,
    responses={200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv."}},
)
def get_velocity(
    store: StoreDep,
    settings: SettingsDep,
    as_of: AsOfDep,
    service: Annotated[CleanStr | None, Query(description="Only this service.")] = None,
    env: Annotated[
        CleanStr | None, Query(description="Only this one of the production environments.")
    ] = None,
    since: Annotated[
        CleanStr | None,
        Query(description="Window start: an age (`90d`, `12w`, `36h`) or ISO time."),
    ] = None,
    until: Annotated[
        CleanStr | None,
        Query(description="Window end (excluded): an age or ISO time; default now."),
    ] = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
) -> Response | VelocityReportOut:
    """Deployment frequency, lead time, change failure rate and recovery time, with levels."""
    found = velocity_report(
        store,
        settings.production_environments,
        since=since,
        until=until,
        environment=env,
        service=service,
        as_of=as_of,
    )
    if output == "csv":
        return Response(to_csv(found.groups), media_type="text/csv; charset=utf-8")
    return VelocityReportOut(
        since=found.window.since,
        until=found.window.until,
        environments=list(found.environments),
        as_of=None if found.as_of is None else str(found.as_of),
        services=[VelocityOut.model_validate(v) for v in found.groups],
        stages_ms={stage: SummaryOut.model_validate(s) for stage, s in found.stages.items()},
    )
