"""`GET /environments` and `/environments/{name}`: what runs where, and what happened there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.api.deps import StoreDep
from app.web.services.environments import environment_list, environment_view
from app.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/environments", response_class=HTMLResponse)
def environments_page(request: Request, store: StoreDep) -> HTMLResponse:
    """Every environment that has seen a deployment."""
    names = environment_list(store)
    return render(request, "environments.html", {"title": "Environments", "names": names})


@router.get("/environments/{name}", response_class=HTMLResponse)
def environment_page(request: Request, store: StoreDep, name: str) -> HTMLResponse:
    """One environment: services now, deployment history, rollbacks and incidents."""
    view = environment_view(store, name)
    return render(request, "environment.html", {"title": f"Environment {name}", "view": view})
