"""Liveness and readiness probes."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.deps import DatabaseDep, SettingsDep, StoreDep
from app.queries.health import MAX_PROJECTION_LAG, pending_migrations, projections_behind

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready: the reason is given."}})
def readyz(store: StoreDep, database: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """The database answers, every migration is applied and the projections are near the head."""
    try:
        pending = pending_migrations(store, database, settings.migrations_dir)
        behind = {} if pending else projections_behind(store)
    except psycopg.Error as error:
        return JSONResponse(
            {"status": "unavailable", "detail": f"database unreachable: {error}"}, 503
        )
    if pending:
        return JSONResponse(
            {"status": "unavailable", "detail": "pending migrations", "pending": pending}, 503
        )
    if behind:
        detail = f"projections more than {MAX_PROJECTION_LAG} events behind the ledger"
        return JSONResponse({"status": "unavailable", "detail": detail, "behind": behind}, 503)
    return JSONResponse({"status": "ready"})
