"""The HTTP API: JSON (and CSV) over the ledger, one router per resource under routes/.

Handlers parse the request, call a command in app/services or a question in
app/queries with the principal app/deps.py bound, and shape the answer with a model
from schemas/. `install_api(app)` adds the routers and the API's error handlers.
Every router but the probes' and whoami's reads behind `read_access` (the `viewer` role, unless
public read is on); each write names the roles it needs with `require`.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.api.errors import install_api_errors
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
from app.deps import READ_ACCESS

ROUTERS = (
    events,
    deployments,
    incidents,
    images,
    runs,
    environments,
    deployment_audit,
    velocity,
    cdevents,
    reproductions,
    provenance,
    sboms,
    affected,
)


def install_api(app: FastAPI) -> None:
    """Add the API's routers and error handlers to `app`."""
    install_api_errors(app)
    app.include_router(health.router)  # probes answer anyone
    app.include_router(whoami.router)  # anyone may ask who they are
    for module in ROUTERS:
        app.include_router(module.router, dependencies=READ_ACCESS)
