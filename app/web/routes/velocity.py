"""`GET /velocity`: the four DORA figures, weekly charts and the per-stage breakdown."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import SettingsDep, StoreDep
from app.web.templating import render
from app.web.views.velocity import VelocityFilters, velocity_view

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/velocity", response_class=HTMLResponse)
def velocity_page(request: Request, store: StoreDep, settings: SettingsDep) -> HTMLResponse:
    """Release velocity for the chosen service, environment and window."""
    filters = VelocityFilters.parse(request.query_params)
    view = velocity_view(store, settings.production_environments, filters)
    return render(request, "velocity.html", {"title": "Velocity", "view": view})
