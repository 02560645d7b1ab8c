"""`GET /environments` and `/environments/{name}`: what runs where, and what happened there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import AsOfDep, DeskDep, StoreDep
from app.inputs import CleanStr
from app.queries.environments import environment_names
from app.web.templating import render
from app.web.views.delivery import delivery_panel, environments_problem
from app.web.views.environments import environment_page

router = APIRouter(tags=["pages"], include_in_schema=False)
LISTED = 1000  # environments listed on the page


@router.get("/environments", response_class=HTMLResponse)
def environments_html(request: Request, store: StoreDep, desk: DeskDep) -> HTMLResponse:
    """Every configured environment in delivery order, then any other that saw a deployment."""
    configured = [] if environments_problem(desk) else desk.config.names
    names = configured + [n for n in environment_names(store) if n not in configured]
    context = {"title": "Environments", "names": names[:LISTED], "more": len(names) > LISTED}
    return render(request, "environments.html", context)


@router.get("/environments/{name}", response_class=HTMLResponse)
def environment_html(
    request: Request, store: StoreDep, desk: DeskDep, name: CleanStr, as_of: AsOfDep
) -> HTMLResponse:
    """One environment: delivery, services, on whose word and evidence, deployment history,
    rollbacks and incidents; as of `as_of` if given (then without the delivery controls)."""
    problem = environments_problem(desk)
    panel = None if problem or as_of is not None else delivery_panel(desk, name)
    configured = panel is not None or (problem is None and name in desk.config.names)
    view = environment_page(store, name, configured=configured, as_of=as_of)
    context = {
        "title": f"Environment {name}",
        "view": view,
        "delivery": panel,
        "delivery_problem": problem,
        "as_of_text": request.query_params.get("as_of", "").strip(),
    }
    return render(request, "environment.html", context)
