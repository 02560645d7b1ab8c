"""`GET /runs/{run_id}`: one run, its steps as a Gantt chart, logs, tests and images."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.deps import StoreDep
from app.inputs import CleanStr
from app.web.templating import render
from app.web.views.runs import run_page

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_html(request: Request, store: StoreDep, run_id: CleanStr) -> HTMLResponse:
    """The run page; while the run is going, scripts keep it current."""
    view = run_page(store, run_id)
    return render(request, "run.html", {"title": f"Run {view.run.run_id[:8]}", "view": view})


@router.get("/runs/{run_id}/summary", response_class=HTMLResponse)
def run_summary_html(request: Request, store: StoreDep, run_id: CleanStr) -> HTMLResponse:
    """The run's header and Gantt chart alone: what the live run page swaps in."""
    view = run_page(store, run_id, with_logs=False)
    return render(request, "_run_summary.html", {"view": view})
