"""`GET /environments` and `/environments/{name}`: what runs where, and what happened there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import StoreDep
from app.inputs import CleanStr
from app.queries.environments import environment_names
from app.web.templating import render
from app.web.views.environments import environment_page

router = APIRouter(tags=["pages"], include_in_schema=False)
LISTED = 1000  # environments listed on the page


@router.get("/environments", response_class=HTMLResponse)
def environments_html(request: Request, store: StoreDep) -> HTMLResponse:
    """Every environment that has seen a deployment."""
    names = environment_names(store)
    context = {"title": "Environments", "names": names[:LISTED], "more": len(names) > LISTED}
    return render(request, "environments.html", context)


@router.get("/environments/{name}", response_class=HTMLResponse)
def environment_html(request: Request, store: StoreDep, name: CleanStr) -> HTMLResponse:
    """One environment: services now, deployment history, rollbacks and incidents."""
    view = environment_page(store, name)
    return render(request, "environment.html", {"title": f"Environment {name}", "view": view})
