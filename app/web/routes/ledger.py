"""`GET /ledger`: the latest signed checkpoint and the last verification's verdict."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import StoreDep
from app.queries.ledger import ledger_status
from app.web.templating import render

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, store: StoreDep) -> HTMLResponse:
    """The tamper-evidence summary of the ledger."""
    return render(request, "ledger.html", {"title": "Ledger", "view": ledger_status(store)})
