"""`GET /metrics`: Prometheus exposition of runs, steps, queue, projections and the ledger."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from app.deps import StoreDep
from app.web.views.metrics import exposition

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
def metrics(store: StoreDep) -> Response:
    """Runs by status, step durations, queue depth, projection lag, append rate, checkpoint age."""
    return Response(exposition(store), media_type=CONTENT_TYPE_LATEST)
