"""`GET /images/{digest}?as_of=`: provenance, SBOM, scan, reproductions and deployments."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import AsOfDep, StoreDep
from app.inputs import CleanStr
from app.web.templating import render
from app.web.views.images import image_page

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/images/{digest}", response_class=HTMLResponse)
def image_html(request: Request, store: StoreDep, digest: CleanStr, as_of: AsOfDep) -> HTMLResponse:
    """The image page (a manifest digest or an engine image id), as of `as_of` if given."""
    view = image_page(store, digest, as_of)
    context = {"title": f"Image {digest[:14]}…", "view": view,
               "as_of_text": request.query_params.get("as_of", "").strip()}  # fmt: skip
    return render(request, "image.html", context)
