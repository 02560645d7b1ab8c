"""Liveness and readiness probes."""

from __future__ import annotations

import psycopg
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from app.api.deps import DatabaseDep, SettingsDep, StoreDep
from app.api.services.health import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready: the reason is given."}})
def readyz(store: StoreDep, database: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """The database answers and every migration is applied."""
    try:
        pending = readiness(store, database, settings.migrations_dir)
    except psycopg.Error as error:
        return JSONResponse(
            {"status": "unavailable", "detail": f"database unreachable: {error}"}, 503
        )
    if pending:
        return JSONResponse(
            {"status": "unavailable", "detail": "pending migrations", "pending": pending}, 503
        )
    return JSONResponse({"status": "ready"})
