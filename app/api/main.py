"""The FastAPI application: `create_app()` builds it; `shiplog serve` runs it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from app.api.routes import (
    affected,
    cdevents,
    deployment_audit,
    deployments,
    environments,
    events,
    health,
    images,
    incidents,
    provenance,
    reproductions,
    runs,
    sboms,
    velocity,
    whoami,
)
from app.api.services.deployments import Conflict, FieldProblem
from app.config import Settings, get_settings
from app.context import prepare
from app.projections import projector
from app.queries.velocity import BadParameter
from app.web import install as install_web
from events.errors import LedgerError
from events.projections import ProjectionError
from events.store import EventStore


def _version() -> str:
    try:
        return version("shiplog")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0"


async def ledger_error(request: Request, error: Exception) -> JSONResponse:
    """A ledger error a caller caused: 400 with its message, never a 500."""
    return JSONResponse({"detail": str(error)}, status_code=400)


async def projection_not_ready(request: Request, error: Exception) -> JSONResponse:
    """A query whose projection has not caught up yet: 503, retry shortly."""
    return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "5"})


async def field_problem(request: Request, error: Exception) -> JSONResponse:
    """A request field that cannot be recorded: the same 422 FastAPI gives, naming the field."""
    assert isinstance(error, FieldProblem)
    detail = {
        "type": "value_error",
        "loc": ("body", error.field),
        "msg": str(error),
        "input": error.value,
    }
    return await request_validation_exception_handler(request, RequestValidationError([detail]))


async def bad_parameter(request: Request, error: Exception) -> JSONResponse:
    """A query parameter that names nothing known: the same 422 FastAPI gives, naming it."""
    assert isinstance(error, BadParameter)
    detail = {"type": "value_error", "loc": ("query", error.parameter), "msg": str(error)}
    return await request_validation_exception_handler(request, RequestValidationError([detail]))


async def conflict(request: Request, error: Exception) -> JSONResponse:
    """A request the ledger already contradicts: 409 with the reason."""
    return JSONResponse({"detail": str(error)}, status_code=409)


def create_app(settings: Settings | None = None, *, follow: bool = False) -> FastAPI:
    """The shiplog HTTP API over the database `settings` name (migrated on start).

    With `follow`, a background thread keeps every projection caught up with the
    ledger while the application runs (what `shiplog serve` does); without it,
    projections move only when something else folds them (tests, `shiplog
    projections catch-up`, another server).
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = prepare(settings)
        store = EventStore(
            context.database.app_url, max_event_bytes=context.settings.max_event_bytes
        )
        app.state.database = context.database
        app.state.store = store
        stop = threading.Event()
        follower = threading.Thread(
            target=projector(store).follow,
            args=(stop,),
            kwargs={"poll_seconds": settings.poll_interval},
            name="shiplog-projections",
            daemon=True,
        )
        if follow:
            follower.start()
        try:
            yield
        finally:
            stop.set()
            if follow:
                follower.join(timeout=10)
            store.close()

    app = FastAPI(
        title="shiplog",
        summary="Container delivery pipelines, recorded as an immutable, tamper-evident ledger.",
        version=_version(),
        docs_url="/docs",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_exception_handler(ProjectionError, projection_not_ready)
    app.add_exception_handler(LedgerError, ledger_error)
    app.add_exception_handler(FieldProblem, field_problem)
    app.add_exception_handler(Conflict, conflict)
    app.add_exception_handler(BadParameter, bad_parameter)
    app.include_router(health.router)
    app.include_router(events.router)
    app.include_router(whoami.router)
    app.include_router(deployments.router)
    app.include_router(incidents.router)
    app.include_router(images.router)
    app.include_router(runs.router)
    app.include_router(environments.router)
    app.include_router(deployment_audit.router)
    app.include_router(velocity.router)
    app.include_router(cdevents.router)
    app.include_router(reproductions.router)
    app.include_router(provenance.router)
    app.include_router(sboms.router)
    app.include_router(affected.router)
    install_web(app)
    return app
