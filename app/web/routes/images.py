"""`GET /images/{digest}`: an image's provenance summary, tests, pushes and deployments."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import StoreDep
from app.inputs import CleanStr
from app.web.templating import render
from app.web.views.images import image_page

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/images/{digest}", response_class=HTMLResponse)
def image_html(request: Request, store: StoreDep, digest: CleanStr) -> HTMLResponse:
    """The image page (a manifest digest or an engine image id)."""
    view = image_page(store, digest)
    return render(request, "image.html", {"title": f"Image {digest[:19]}", "view": view})
