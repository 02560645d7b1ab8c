"""`POST /api/incidents`: open and/or resolve an incident reported by another tool."""

from __future__ import annotations

from fastapi import APIRouter, status

from app.api.schemas.writes import IncidentIn, IncidentRecordedOut
from app.deps import IncidentReporterDep, SettingsDep, StoreDep, reporter_of
from app.services.incidents import IncidentReport, record_incident

router = APIRouter(prefix="/api", tags=["events from outside"])


@router.post(
    "/incidents",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "Already resolved otherwise, or opened otherwise."}},
)
def post_incident(
    body: IncidentIn, store: StoreDep, settings: SettingsDep, who: IncidentReporterDep
) -> IncidentRecordedOut:
    """Record IncidentOpened and/or IncidentResolved in `incident-<id>`, as the token's name.

    An integration's incident ids are its own: recorded as `<integration>/<incident_id>`.
    """
    by = reporter_of(who, settings)
    written = record_incident(store, IncidentReport(**body.model_dump()), by)
    return IncidentRecordedOut(
        incident_id=by.namespace.ident(body.incident_id),
        positions=written.positions,
        replayed=written.replayed,
    )
