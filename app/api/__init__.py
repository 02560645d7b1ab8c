"""The HTTP API: JSON (and CSV) over the ledger, one router per resource under routes/.

Handlers parse the request, call a command in app/services or a question in
app/queries with the actor app/deps.py bound, and shape the answer with a model
from schemas/. `install_api(app)` adds the routers and the API's error handlers.
"""

from __future__ import annotations

from fastapi import FastAPI

from app.api.errors import install_api_errors
from app.api.routes import (
    affected,
    cdevents,
    delivery,
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

ROUTERS = (
    health,
    events,
    whoami,
    deployments,
    delivery,
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
    for module in ROUTERS:
        app.include_router(module.router)
