"""`GET /images/{digest}?as_of=`: provenance, SBOM, scan, reproductions and deployments."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import AsOfDep, DeskDep, StoreDep
from app.inputs import CleanStr
from app.web.templating import render
from app.web.views.delivery import deploy_targets, environments_problem
from app.web.views.images import image_page

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/images/{digest}", response_class=HTMLResponse)
def image_html(
    request: Request, store: StoreDep, desk: DeskDep, digest: CleanStr, as_of: AsOfDep
) -> HTMLResponse:
    """The image page (a manifest digest or an engine image id), as of `as_of` if given.

    With its deploy buttons: what the environments file names as targets.
    """
    view = image_page(store, digest, as_of)
    problem = environments_problem(desk)
    targets = [] if problem else deploy_targets(desk)
    context = {"title": f"Image {digest[:14]}…", "view": view, "targets": targets,
               "as_of_text": request.query_params.get("as_of", "").strip(),
               "delivery_problem": problem}  # fmt: skip
    return render(request, "image.html", context)
