"""`GET /search?q=`: go to the page a digest, commit, run id or tag names."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.deps import StoreDep
from app.inputs import CleanStr
from app.queries.search import SearchHit, search
from app.web import params
from app.web.errors import BadParameter
from app.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)
PAGES = {"run": "/runs/", "image": "/images/"}


@dataclass(frozen=True)
class Found:
    """One search hit as the page lists it: its kind, its label and the page it leads to."""

    kind: str
    label: str
    url: str


def found(match: SearchHit) -> Found:
    """The hit with the URL of its page."""
    return Found(match.kind, match.label, PAGES[match.subject] + match.key)


@router.get("/search", response_class=HTMLResponse)
def search_html(request: Request, store: StoreDep, q: CleanStr = "") -> Response:
    """One match: a redirect to its page; several: a list; none: 404 saying what was sought."""
    query = params.text({"q": q}, "q")
    if not query:
        raise BadParameter("q", "type a digest, a commit sha, a run id or a tag")
    matches = [found(match) for match in search(store, query)]
    if len(matches) == 1:
        return RedirectResponse(matches[0].url, status_code=303)
    status = 200 if matches else 404
    context = {"title": f"Search: {q.strip()}", "matches": matches, "query": q.strip()}
    return render(request, "search.html", context, status_code=status)
