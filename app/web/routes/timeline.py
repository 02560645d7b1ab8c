"""`GET /`: the timeline page (`/timeline` is the same page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.deps import StoreDep
from app.inputs import CleanStr
from app.web import params
from app.web.templating import render
from app.web.views.timeline import TimelineFilters, timeline_page

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
@router.get("/timeline", response_class=HTMLResponse)
def timeline(
    request: Request,
    store: StoreDep,
    types: Annotated[list[CleanStr], Query(alias="type")] = [],  # noqa: B006
) -> HTMLResponse:
    """Every event, newest first, filtered by the query string; live on the first page."""
    filters = TimelineFilters.parse(request.query_params, types)
    page = timeline_page(store, filters, params.cursor(request.query_params, "after"))
    return render(request, "timeline.html", {"title": "Timeline", "page": page})
