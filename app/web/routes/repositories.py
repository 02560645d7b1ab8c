"""`GET /repositories`: the registered repositories and their latest webhook deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import DatabaseDep, SettingsDep
from app.queries.repositories import list_repositories, recent_deliveries
from app.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
LISTED = 1000  # repositories listed on the page


@router.get("/repositories", response_class=HTMLResponse)
def repositories_html(
    request: Request, database: DatabaseDep, settings: SettingsDep
) -> HTMLResponse:
    """The registered repositories (no secrets) and what their webhooks delivered lately."""
    repositories = list_repositories(database.app_url, limit=LISTED + 1)
    context = {
        "title": "Repositories",
        "repositories": repositories[:LISTED],
        "more": len(repositories) > LISTED,
        "deliveries": recent_deliveries(database.app_url),
        "public_url": settings.public_url.rstrip("/"),
    }
    return render(request, "repositories.html", context)
