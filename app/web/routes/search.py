"""`GET /search?q=`: go to the page a digest, commit, run id or tag names."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.api.deps import StoreDep
from app.web.services.search import search
from app.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/search", response_class=HTMLResponse)
def search_page(request: Request, store: StoreDep, q: str = "") -> Response:
    """One match: a redirect to its page; several: a list; none: 404 saying what was sought."""
    matches = search(store, q)
    if len(matches) == 1:
        return RedirectResponse(matches[0].url, status_code=303)
    status = 200 if matches else 404
    context = {"title": f"Search: {q.strip()}", "matches": matches, "query": q.strip()}
    return render(request, "search.html", context, status_code=status)
