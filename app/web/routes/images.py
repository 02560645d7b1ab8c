"""`GET /images/{digest}`: an image's provenance summary, tests, pushes and deployments."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import DeskDep, StoreDep
from app.web.templating import render
from app.web.views.delivery import deploy_targets, environments_problem
from app.web.views.images import image_page

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/images/{digest}", response_class=HTMLResponse)
def image_html(request: Request, store: StoreDep, desk: DeskDep, digest: str) -> HTMLResponse:
    """The image page (a manifest digest or an engine image id), with its deploy buttons."""
    view = image_page(store, digest)
    problem = environments_problem(desk)
    targets = [] if problem else deploy_targets(desk)
    context = {"title": f"Image {digest[:19]}", "view": view, "targets": targets}
    context["delivery_problem"] = problem
    return render(request, "image.html", context)
